package memreturn

import "runtime/debug"

func debugFree() { debug.FreeOSMemory() }

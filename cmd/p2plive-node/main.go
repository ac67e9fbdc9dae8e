// Command p2plive-node is a headless relay for P2P-Live-web live-streaming trees.
package main

import (
	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/signaling"
)

// Exit codes: 2 for usage errors, 3 when the id is taken, 1 otherwise.
// The one signal handler of the process is here (drainSignals): every
// command gets its context (cancelled by the second signal) and its drain
// (closed by the first).
func main() {
	ctx, drain, stop := drainSignals()
	defer stop()
	cli.MainContext(ctx, "p2plive-node", newRootCmd(drain), cli.ExitCode{Err: signaling.ErrIDTaken, Code: 3})
}

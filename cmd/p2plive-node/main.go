// Command p2plive-node is a headless relay for P2P-Live-web live-streaming trees.
package main

import (
	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/signaling"
)

// Exit codes: 2 for usage errors, 3 when the id is taken, 1 otherwise.
func main() {
	cli.Main("p2plive-node", newRootCmd(), cli.ExitCode{Err: signaling.ErrIDTaken, Code: 3})
}

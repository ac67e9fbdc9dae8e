// Command p2plive-bench measures what a relay costs per child: the Go
// relay (a p2plive-node binary, run as a process of its own) against
// headless Chromium relaying as the P2P-Live-web pages do, over loopback,
// and prints one table (see internal/bench and the README's Benchmark
// section). It is a development tool, kept out of the daemon so that
// p2plive-node links neither the test rig nor chromedp; run it with
// scripts/bench, which builds both binaries.
package main

import "github.com/p2plive/p2plive-node/internal/cli"

// main exits 2 on bad flags or arguments, as p2plive-node does, else 1 on
// an error.
func main() {
	cli.Main("p2plive-bench", newBenchCmd())
}

// Command p2plive-bench measures what a relay costs per child: the Go
// relay (a p2plive-node binary, run as a process of its own) against
// headless Chromium relaying as the P2P-Live-web pages do, over loopback,
// and prints one table (see internal/bench and the README's Benchmark
// section). It is a development tool, kept out of the daemon so that
// p2plive-node links neither the test rig nor chromedp; run it with
// scripts/bench, which builds both binaries.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newBenchCmd().ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "p2plive-bench: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

// usageError marks bad flags or arguments: exit 2, as p2plive-node does.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

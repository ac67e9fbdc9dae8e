// Command p2plive-node is a headless relay for P2P-Live-web live-streaming trees.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/p2plive/p2plive-node/signaling"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "p2plive-node: %v\n", err)
	os.Exit(exitCode(err))
}

// Exit codes: 2 for usage errors, 3 when the id is taken, 1 otherwise.
func exitCode(err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, signaling.ErrIDTaken):
		return 3
	default:
		return 1
	}
}

// usageError marks errors in flags or arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

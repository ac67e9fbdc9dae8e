package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// drainSignals is the process's one signal handler, with two stages: the
// first SIGINT or SIGTERM closes drain (a planned departure: a relay or
// host tells its children to move and exits 0 once they have or after
// --drain-timeout; the index root stops), the second cancels ctx (stop at
// once). systemd's stop sends SIGTERM, then SIGKILL after TimeoutStopSec:
// set that above --drain-timeout.
func drainSignals() (ctx context.Context, drain <-chan struct{}, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	d := make(chan struct{})
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			close(d)
		case <-done:
			return
		}
		select {
		case <-ch:
			cancel()
		case <-done:
		}
	}()
	return ctx, d, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

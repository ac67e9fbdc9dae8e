package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/internal/memreturn"
	"github.com/p2plive/p2plive-node/node"
)

// debugServer serves Go's pprof handlers and, for a tree node, its counters
// as JSON at /debug/stats (--debug-addr). It is a diagnostic port: bind it
// to loopback.
type debugServer struct {
	srv *http.Server
	ln  net.Listener
}

func startDebug(addr string, stats func() (node.Stats, bool), log *zap.Logger) (*debugServer, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, cli.UsageError{Err: errors.New("--debug-addr: " + err.Error())}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		st, ok := stats()
		if !ok {
			http.Error(w, "node stopped", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	// Timeouts: a client that never reads or never finishes its request
	// costs one goroutine for a bounded time.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug server stopped", zap.Error(err))
		}
	}()
	log.Info("debug server listening", zap.String("addr", ln.Addr().String()))
	return &debugServer{srv: srv, ln: ln}, nil
}

func (d *debugServer) close() {
	if d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = d.srv.Shutdown(ctx)
}

// startMemReturn runs memreturn for the life of the command: the relay's
// memory follows its children, and a burst of them must not leave the
// process at its peak RSS. stop ends it and waits.
func startMemReturn(log *zap.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		memreturn.Run(ctx, log.Named("mem"))
	}()
	return func() { cancel(); <-done }
}

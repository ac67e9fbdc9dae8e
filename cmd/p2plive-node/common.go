package main

import (
	"fmt"
	"net"

	"github.com/spf13/pflag"

	"github.com/p2plive/p2plive-node/internal/cli"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/signaling"
)

// commonFlags binds the flags every networked command shares: most go
// straight into node.Common (c), the rest are parsed into it by common.
type commonFlags struct {
	c         node.Common
	server    string
	key       string
	ice       []string
	logLevel  string
	logFormat string
	debugAddr string
	// id is join's and host's --id (the root's is a list: rootFlags).
	id    string
	drain <-chan struct{}
}

func (cf *commonFlags) register(pf *pflag.FlagSet) {
	pf.StringVar(&cf.server, "server", signaling.DefaultServerURL, "PeerServer URL (scheme, host, port, path), like the PeerJS client options")
	pf.StringVar(&cf.key, "key", signaling.DefaultKey, "PeerServer API key")
	pf.StringSliceVar(&cf.ice, "ice", defaultICE(), `ICE server URLs; TURN credentials as turn:user:pass@host:port; "none" for host candidates only`)
	pf.StringVar(&cf.logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&cf.logFormat, "log-format", "auto", "console, json, or auto (console on a terminal, json otherwise)")
	pf.IntVar(&cf.c.MaxMessageSize, "max-message-size", node.DefaultMaxMessageSize,
		fmt.Sprintf("largest message accepted from a peer, in bytes (%d to %d)", node.MinMaxMessageSize, node.MaxMaxMessageSize))
	pf.IntVar(&cf.c.MaxPendingBytes, "max-pending-bytes", node.DefaultMaxPendingBytes,
		"bytes held in unfinished chunked messages across all connections; at least 2 × --max-message-size (raised to that when not given)")
	pf.IntVar(&cf.c.MaxConnsPerPeer, "max-conns-per-peer", node.DefaultMaxConnsPerPeer, "data connections one peer id may hold open or opening at once (≥ 1)")
	pf.IntVar(&cf.c.MaxConns, "max-conns", node.DefaultMaxConns, "incoming data connections, open or opening, in all (≥ 1)")
	// A CPU profile of a running node: /debug/pprof/profile here
	// (p2plive-bench --relay-cpuprofile reads it).
	pf.StringVar(&cf.debugAddr, "debug-addr", "", "serve Go pprof and /debug/stats (JSON counters) on this address, e.g. 127.0.0.1:6060 (diagnostics; keep it on loopback)")
}

// registerID adds --id to a join or host command (a persistent --id could
// not be the root's list).
func (cf *commonFlags) registerID(f *pflag.FlagSet) {
	f.StringVar(&cf.id, "id", "", "peer id to claim (default: assigned by the server, like the browser)")
}

// common parses the flags that are not node fields as given (the server
// URL, the ICE list, the logger's settings, the debug address) and returns
// the node.Common of the command, with its logger; the values that are
// node fields are checked by the role's Validate (see validate). Every
// check runs before anything connects, so bad input costs no network
// traffic and always ends the same way: one line, exit 2.
func (cf *commonFlags) common(fs *pflag.FlagSet) (node.Common, error) {
	c := cf.c
	if cf.key == "" {
		// ParseServer would quietly use "peerjs"; an empty key given on
		// purpose is more likely a broken deployment template.
		return c, cli.BadValue(fs, "key", "must not be empty (leave it out for the default, "+signaling.DefaultKey+")")
	}
	srv, err := signaling.ParseServer(cf.server, cf.key)
	if err != nil {
		return c, cli.UsageError{Err: fmt.Errorf("%s: %w", cli.FlagLabel(fs, "server"), err)}
	}
	ice, err := parseICE(cf.ice)
	if err != nil {
		return c, cli.UsageError{Err: fmt.Errorf("%s: %w", cli.FlagLabel(fs, "ice"), err)}
	}
	if cf.debugAddr != "" {
		if _, _, err := net.SplitHostPort(cf.debugAddr); err != nil {
			return c, cli.UsageError{Err: fmt.Errorf("%s %q: %w", cli.FlagLabel(fs, "debug-addr"), cf.debugAddr, err)}
		}
	}
	c.Server, c.ID, c.ICEServers, c.Drain = srv, cf.id, ice, cf.drain
	// Not given: 0, which node raises to hold two messages of the size.
	if !cli.Given(fs, "max-pending-bytes") {
		c.MaxPendingBytes = 0
	}
	typedZero(fs, "max-message-size", &c.MaxMessageSize)
	typedZero(fs, "max-pending-bytes", &c.MaxPendingBytes)
	typedZero(fs, "max-conns-per-peer", &c.MaxConnsPerPeer)
	typedZero(fs, "max-conns", &c.MaxConns)
	return c, nil
}

// logger builds the command's logger and the sd_notify hook that uses it.
func (cf *commonFlags) logger(fs *pflag.FlagSet, c *node.Common) error {
	log, err := newLogger(fs, cf.logLevel, cf.logFormat)
	if err != nil {
		return err
	}
	c.Logger, c.Ready = log, notifyReady(log)
	return nil
}

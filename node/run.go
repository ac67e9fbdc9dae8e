package node

import (
	"context"

	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs"

	"github.com/p2plive/p2plive-node/tree"
)

// Node is a running node of any role: a relay (StartJoin), a host
// (StartHost) or an index root (StartRoot).
type Node struct {
	id   string
	done chan struct{}
	err  error // set before done is closed
	// stats asks the node's owner loop(s) for a snapshot; it gives up when
	// done is closed.
	stats func() (Stats, bool)
}

// ID is the node's peer id (an index root's first id).
func (n *Node) ID() string { return n.id }

// Wait blocks until the node has stopped and returns why.
func (n *Node) Wait() error {
	<-n.done
	return n.err
}

// Done is closed once the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.done }

// Stats asks the owner loop for a snapshot (ok false once the node stopped).
func (n *Node) Stats() (Stats, bool) { return n.stats() }

// Stats is a snapshot of a node's state and counters. A relay and a host
// fill every field; an index root fills Tree (summed over its ids), Rooms,
// Conns and ConnTotals.
type Stats struct {
	Parent   string       // parent peer id, "" when not connected
	Children []tree.Child // in join order
	Tree     tree.Stats
	// Rooms is the number of rooms an index root lists (over every id).
	Rooms int
	// Conns are the counters of each data connection by peer id.
	Conns map[string]peerjs.ConnStats
	// ConnTotals sums the counters of every data connection the node has
	// had, closed ones included: a peer that sends garbage and leaves is
	// still counted.
	ConnTotals peerjs.ConnStats
	Media      MediaStats
	// ParentLosses counts parents lost (vanished, or given up on by the
	// media watchdog), each followed by a re-join.
	ParentLosses uint64
	// WatchdogFirings counts parents given up on for silent media.
	WatchdogFirings uint64
	// ParentSilent counts parents given up on because their link and their
	// media were silent (the fast path of ParentLosses).
	ParentSilent uint64
	// Stalls counts ticks of the owner loop that came late enough to mean
	// the process was stalled (each one suspends the parent watch briefly).
	Stalls uint64
	// Peer counts incoming connections refused by the caps.
	Peer peerjs.PeerStats
	// Reconnects counts registrations again with the PeerServer after
	// losing the socket to it.
	Reconnects uint64
}

// askStats posts evStats to a loop and waits for its answer, giving up
// when done is closed.
func askStats(in inbox, done <-chan struct{}) (Stats, bool) {
	reply := make(chan Stats, 1)
	select {
	case in <- evStats{reply: reply}:
	case <-done:
		return Stats{}, false
	}
	select {
	case st := <-reply:
		return st, true
	case <-done:
		return Stats{}, false
	}
}

// RunJoin is StartJoin, then Wait: it registers, joins under cfg.Parent and
// relays the tree protocol until ctx ends. Registration errors (id taken,
// bad key, server unreachable) are returned at once.
func RunJoin(ctx context.Context, cfg JoinConfig) error { return wait(StartJoin(ctx, cfg)) }

// wait waits for a node a Start function started, or returns why it did
// not start.
func wait(n *Node, err error) error {
	if err != nil {
		return err
	}
	return n.Wait()
}

// StartJoin registers and starts relaying in the background; Wait for the end.
func StartJoin(ctx context.Context, cfg JoinConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	name := cfg.name()
	return startTreeNode(ctx, cfg.Common, role{
		upstream:     cfg.Parent,
		heal:         true,
		name:         name,
		mediaTimeout: cfg.MediaTimeout,
		machine: func(self string) tree.Machine {
			l := cfg.ChildLimits
			return tree.NewRelay(tree.RelayConfig{
				Self: self, Name: name, Greeting: cfg.Greeting, MaxChildren: l.MaxChildren,
				RateLimit: l.RateLimit, RateBurst: l.RateBurst,
				MaxReportNodes: l.MaxReportNodes, MaxReportDepth: l.MaxReportDepth,
				MaxReportBytes: l.MaxReportBytes, GuestTimeout: l.GuestTimeout,
			})
		},
	})
}

// role is what differs between a relay and a host.
type role struct {
	upstream string // the parent (relay) or the index root (host); "" for none
	heal     bool   // re-join elsewhere when the upstream is lost (relay)
	name     string
	machine  func(self string) tree.Machine
	// mediaTimeout is the media watchdog (relay); 0 disables it.
	mediaTimeout time.Duration
	// feed, if set, publishes a local stream into the source (host).
	feed func(ctx context.Context, src *media.Source) error
}

// startTreeNode registers and runs a tree node (relay or host) in the
// background: the owner loop, and beside it the upstream, the connection
// acceptor with its readers, the media watcher and the feed, all of which
// it waits for before the node counts as stopped.
func startTreeNode(ctx context.Context, cfg Common, r role) (*Node, error) {
	log := cfg.logger()
	pcfg, err := cfg.peerConfig()
	if err != nil {
		return nil, err
	}
	// Calls arrive before the node exists: park them for the owner loop.
	in := make(inbox, eventQueue)
	pcfg.OnCall = func(o peerjs.MediaOffer) {
		select {
		case in <- evCall{offer: o}:
		default:
			log.Warn("dropping a media call: node busy", zap.String("from", o.Peer))
		}
	}
	src, err := media.NewSource(cfg.mediaConfig(log))
	if err != nil {
		return nil, err
	}
	p, err := peerjs.New(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("register with %s: %w", cfg.Server, err)
	}
	log = log.With(zap.String("self", p.ID()))
	log.Info("node registered", zap.String("id", p.ID()), zap.String("name", r.name),
		zap.Stringer("server", cfg.Server), zap.String("upstream", r.upstream))
	if cfg.Ready != nil {
		cfg.Ready()
	}
	move := make(chan struct{}, 1)
	n := &treeNode{
		log:          log,
		tree:         r.machine(p.ID()),
		conns:        map[tree.ConnID]*peerjs.DataConn{},
		in:           in,
		move:         move,
		drain:        cfg.Drain,
		drainTimeout: cfg.drainTimeout(),
		mediaTimeout: r.mediaTimeout,
		peer:         p,
	}
	h := &Node{id: p.ID(), done: make(chan struct{})}
	h.stats = func() (Stats, bool) { return askStats(in, h.done) }
	go func() {
		defer close(h.done)
		defer p.Close()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n.ctx = ctx
		n.media = newMediaNode(log, p, src, func(e event) bool { return in.post(ctx, e) })
		defer n.media.close()
		var wg sync.WaitGroup
		run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
		if r.upstream != "" {
			up := &upstream{log: log, p: p, in: in, first: r.upstream, heal: r.heal, move: move}
			run(func() { up.run(ctx) })
		}
		run(func() { acceptConns(ctx, p, in, log) })
		run(func() { watchMedia(ctx, src, in) })
		if r.feed != nil {
			run(func() {
				if err := r.feed(ctx, src); err != nil && ctx.Err() == nil {
					log.Error("local stream ended", zap.Error(err))
				}
			})
		}
		h.err = n.loop(ctx, p)
		cancel()
		wg.Wait()
		n.logStats()
	}()
	return h, nil
}

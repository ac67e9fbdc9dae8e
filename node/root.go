package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// rootTick is how often the index checks for unreachable hosts.
const rootTick = time.Second

// Bounds of the --wait retry while a root id is taken.
const (
	waitRetryMin = 2 * time.Second
	waitRetryMax = 30 * time.Second
)

// RunRoot is StartRoot, then Wait.
func RunRoot(ctx context.Context, cfg RootConfig) error { return wait(StartRoot(ctx, cfg)) }

// StartRoot stands as the index root under every id of cfg.IDs (one
// independent room list per id: generations A and B/C use different ids and
// never meet), each with its own owner loop. Every id is claimed before
// anything serves: an id that is taken fails at once, unless cfg.Wait. It
// runs until ctx ends or cfg.Drain closes: the root has no children to
// move, so a departure is a stop.
func StartRoot(ctx context.Context, cfg RootConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	ids := cfg.ids()
	ctx, cancel := context.WithCancel(ctx)
	// A departure (Drain) is a stop; watchDrain ends with ctx.
	watchDrain := make(chan struct{})
	go func() {
		defer close(watchDrain)
		select {
		case <-cfg.Drain: // nil: never
			cancel()
		case <-ctx.Done():
		}
	}()
	// Claim every id first, so a taken id fails before anything serves.
	peers := make([]*peerjs.Peer, len(ids))
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			peers[i], errs[i] = claim(ctx, cfg, id)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, p := range peers {
			if p != nil {
				p.Close()
			}
		}
		cancel()
		<-watchDrain
		return nil, err
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	h := &Node{id: ids[0], done: make(chan struct{})}
	inboxes := make([]inbox, len(ids))
	for i := range inboxes {
		inboxes[i] = make(inbox, eventQueue)
	}
	h.stats = func() (Stats, bool) {
		total := Stats{Tree: tree.Stats{Rejected: map[tree.Reason]uint64{}}, Conns: map[string]peerjs.ConnStats{}}
		for _, in := range inboxes {
			st, ok := askStats(in, h.done)
			if !ok {
				return Stats{}, false
			}
			total.Rooms += st.Rooms
			total.Tree.Forwarded += st.Tree.Forwarded
			for r, c := range st.Tree.Rejected {
				total.Tree.Rejected[r] += c
			}
			maps.Copy(total.Conns, st.Conns)
			total.ConnTotals = addConnStats(total.ConnTotals, st.ConnTotals)
		}
		return total, true
	}
	runErrs := make([]error, len(ids))
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.Close()
			runErrs[i] = serveIndex(ctx, cfg, p, inboxes[i])
			cancel() // one index failing stops the daemon: systemd restarts it whole
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		<-watchDrain
		h.err = errors.Join(runErrs...)
		close(h.done)
	}()
	return h, nil
}

// claim registers id, retrying while it is taken if cfg.Wait.
func claim(ctx context.Context, cfg RootConfig, id string) (*peerjs.Peer, error) {
	log := cfg.logger().With(zap.String("root", id))
	pcfg, err := cfg.peerConfig()
	if err != nil {
		return nil, err
	}
	pcfg.Signaling.ID = id
	// Index clients are pages reading the room list and hosts registering:
	// each costs a PeerConnection, so the index caps them like a relay
	// caps its connections.
	pcfg.MaxConns = cfg.maxClients()
	delay := waitRetryMin
	for {
		p, err := peerjs.New(ctx, pcfg)
		if err == nil {
			log.Info("index root registered", zap.Stringer("server", cfg.Server))
			return p, nil
		}
		if !cfg.Wait || !errors.Is(err, signaling.ErrIDTaken) {
			return nil, fmt.Errorf("root %q: %w", id, err)
		}
		log.Warn("root id is taken; waiting for it to be free", zap.Duration("retry_in", delay))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, waitRetryMax)
	}
}

// serveIndex runs one index: the owner loop of a tree.Index. The
// acceptor and its readers post on in; only this loop touches the index and
// the connections (it carries out the index's outputs with a treeNode's
// executor, which for an index only sends and closes).
func serveIndex(ctx context.Context, cfg RootConfig, p *peerjs.Peer, in inbox) error {
	log := cfg.logger().With(zap.String("root", p.ID()))
	ix := tree.NewIndex(tree.IndexConfig{RoomTimeout: cfg.RoomTimeout})
	n := &treeNode{log: log, conns: map[tree.ConnID]*peerjs.DataConn{}, in: in}
	var closedTotals peerjs.ConnStats
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { acceptConns(ctx, p, in, log); close(done) }()
	defer func() { cancel(); <-done }()

	tick := time.NewTicker(rootTick)
	defer tick.Stop()
	for {
		var out []tree.Output
		select {
		case <-ctx.Done():
			st := ix.Stats()
			log.Info("index root stopping", zap.Int("rooms", len(ix.List())), zap.Uint64("sent", st.Forwarded))
			return nil
		case <-p.Done():
			if err := p.Signaling().Err(); err != nil {
				return fmt.Errorf("root %q: peer server session ended: %w", p.ID(), err)
			}
			return nil
		case now := <-tick.C:
			for id, c := range n.conns {
				ix.LinkState(id, c.Connected(), now)
			}
			out = ix.Tick(now)
			if len(out) > 0 {
				log.Info("dropped rooms of unreachable hosts", zap.Int("rooms", len(ix.List())))
			}
		case e := <-in:
			switch e := e.(type) {
			case evOpen:
				id := connID(e.conn)
				n.conns[id] = e.conn
				out = ix.Opened(id, e.conn.Peer(), time.Now())
			case evClosed:
				id := connID(e.conn)
				delete(n.conns, id)
				closedTotals = addConnStats(closedTotals, e.conn.Stats())
				before := len(ix.List())
				out = ix.Closed(id)
				if after := len(ix.List()); after != before {
					log.Info("room closed", zap.String("host", e.conn.Peer()), zap.Int("rooms", after))
				}
			case evMsg:
				before := len(ix.List())
				out = ix.Receive(connID(e.conn), e.v, time.Now())
				if after := len(ix.List()); after != before {
					log.Info("room registered", zap.String("host", e.conn.Peer()), zap.Int("rooms", after))
				}
			case evStats:
				st := Stats{Tree: ix.Stats(), Rooms: len(ix.List()), Conns: map[string]peerjs.ConnStats{}, ConnTotals: closedTotals}
				for _, c := range n.conns {
					cs := c.Stats()
					st.Conns[c.Peer()] = cs
					st.ConnTotals = addConnStats(st.ConnTotals, cs)
				}
				e.reply <- st
			}
		}
		n.apply(out)
	}
}

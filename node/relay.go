package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// event is something that happened on a connection, posted by the reader
// goroutines to the one loop that owns the tree state.
type event struct {
	kind eventKind
	conn *peerjs.DataConn
	v    any
}

type eventKind int

const (
	evParentOpen eventKind = iota
	evParentClosed
	evOpen
	evClosed
	evMsg
)

// eventQueue bounds events waiting for the owner loop. Readers block when it
// is full, which pushes back on their own connection's receive queue (where
// PeerJS messages are dropped and counted per connection), not on others'.
const eventQueue = 256

// connID is the tree's name for a data connection.
func connID(c *peerjs.DataConn) tree.ConnID {
	return tree.ConnID(c.Peer() + "/" + c.ConnectionID())
}

// RunJoin registers, joins under cfg.Parent and relays the tree protocol
// (package tree decides, this loop does the I/O) until ctx ends.
// Registration errors (id taken, bad key, server unreachable) are returned at once.
func RunJoin(ctx context.Context, cfg Config) error {
	j, err := StartJoin(ctx, cfg)
	if err != nil {
		return err
	}
	return j.Wait()
}

// Join is a running relay node.
type Join struct {
	n    *relayNode
	p    *peerjs.Peer
	done chan struct{}
	err  error
}

// StartJoin registers and starts relaying in the background; Wait for the end.
func StartJoin(ctx context.Context, cfg Config) (*Join, error) {
	if cfg.Parent == "" {
		return nil, errors.New("join: no parent id")
	}
	if !signaling.ValidID(cfg.Parent) {
		return nil, fmt.Errorf("join: parent %q: %w", cfg.Parent, signaling.ErrInvalidID)
	}
	log := cfg.logger()
	pcfg, err := cfg.peerConfig()
	if err != nil {
		return nil, err
	}
	p, err := peerjs.New(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("register with %s: %w", cfg.Server, err)
	}
	name := cfg.Relay.Name
	if name == "" {
		name = DefaultName()
	}
	log = log.With(zap.String("self", p.ID()))
	log.Info("node registered", zap.String("id", p.ID()), zap.String("name", name),
		zap.Stringer("server", cfg.Server), zap.String("parent", cfg.Parent))
	if cfg.Ready != nil {
		cfg.Ready()
	}
	n := &relayNode{
		log: log,
		relay: tree.NewRelay(tree.RelayConfig{
			Self: p.ID(), Name: name, Greeting: cfg.Relay.Greeting, MaxChildren: cfg.Relay.MaxChildren,
			RateLimit: cfg.Relay.RateLimit, RateBurst: cfg.Relay.RateBurst,
		}),
		conns:  map[tree.ConnID]*peerjs.DataConn{},
		events: make(chan event, eventQueue),
		stats:  make(chan chan JoinStats),
	}
	j := &Join{n: n, p: p, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		defer p.Close()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan struct{}, 2)
		go func() { n.holdParent(ctx, p, cfg.Parent); done <- struct{}{} }()
		go func() { n.acceptLoop(ctx, p); done <- struct{}{} }()
		j.err = n.loop(ctx, p)
		cancel()
		<-done
		<-done
		n.logStats()
	}()
	return j, nil
}

// ID is the node's peer id.
func (j *Join) ID() string { return j.p.ID() }

// Wait blocks until the node has stopped and returns why.
func (j *Join) Wait() error {
	<-j.done
	return j.err
}

// JoinStats is a snapshot of a relay node's state and counters.
type JoinStats struct {
	Parent   string       // parent peer id, "" when not connected
	Children []tree.Child // in join order
	Tree     tree.Stats
	// Conns are the counters of each data connection by peer id.
	Conns map[string]peerjs.ConnStats
}

// Stats asks the owner loop for a snapshot (ok false once the node stopped).
func (j *Join) Stats() (JoinStats, bool) {
	reply := make(chan JoinStats, 1)
	select {
	case j.n.stats <- reply:
		return <-reply, true
	case <-j.done:
		return JoinStats{}, false
	}
}

// relayNode owns a tree.Relay: only loop touches relay and conns.
type relayNode struct {
	log    *zap.Logger
	relay  *tree.Relay
	conns  map[tree.ConnID]*peerjs.DataConn
	parent *peerjs.DataConn
	events chan event
	stats  chan chan JoinStats

	sendErrors, mediaRequests uint64
}

func (n *relayNode) post(ctx context.Context, e event) bool {
	select {
	case n.events <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// loop is the only goroutine that touches the tree state.
func (n *relayNode) loop(ctx context.Context, p *peerjs.Peer) error {
	for {
		select {
		case <-ctx.Done():
			n.log.Info("node stopping")
			return nil
		case <-p.Done():
			if err := p.Signaling().Err(); err != nil {
				return fmt.Errorf("peer server session ended: %w", err)
			}
			return nil
		case e := <-n.events:
			n.handle(e, time.Now())
		case reply := <-n.stats:
			reply <- n.snapshot()
		}
	}
}

func (n *relayNode) handle(e event, now time.Time) {
	id := connID(e.conn)
	var out []tree.Output
	switch e.kind {
	case evParentOpen:
		n.parent = e.conn
		n.conns[id] = e.conn
		out = n.relay.ParentOpened(id, e.conn.Peer(), now)
	case evParentClosed:
		if n.parent == e.conn {
			n.parent = nil
		}
		delete(n.conns, id)
		out = n.relay.ParentClosed(id)
	case evOpen:
		n.conns[id] = e.conn
		out = n.relay.Opened(id, e.conn.Peer(), now)
	case evClosed:
		delete(n.conns, id)
		out = n.relay.Closed(id)
	case evMsg:
		n.log.Debug("message", zap.String("from", e.conn.Peer()), zap.String("value", peerjs.Describe(e.v, 256)))
		out = n.relay.Receive(id, e.v, now)
	}
	n.apply(out)
}

// apply carries out the tree's decisions.
func (n *relayNode) apply(out []tree.Output) {
	// One Outgoing per distinct message: a flood to many children packs once.
	var shared map[any]*peerjs.Outgoing
	for _, o := range out {
		switch o := o.(type) {
		case tree.Send:
			c := n.conns[o.To]
			if c == nil {
				continue
			}
			og := n.outgoing(&shared, o.Msg)
			if ce := n.log.Check(zap.DebugLevel, "send"); ce != nil {
				ce.Write(zap.String("to", c.Peer()), zap.String("value", peerjs.Describe(o.Msg, 96)))
			}
			if err := c.SendOutgoing(og); err != nil {
				n.sendErrors++
				n.log.Debug("send failed", zap.String("to", c.Peer()), zap.Error(err))
			}
		case tree.MediaRequest:
			// The seam for the media layer: a child to (re)call with our stream.
			n.mediaRequests++
			n.log.Info("media request (no media layer yet)", zap.String("child", o.Peer), zap.Stringer("reason", o.Reason))
		case tree.CloseConn:
			if c := n.conns[o.Conn]; c != nil {
				n.log.Info("closing connection", zap.String("peer", c.Peer()), zap.Stringer("reason", o.Reason))
				c.Close()
			}
		case tree.ParentNotice:
			n.log.Info("parent announces it is going away", zap.String("msg", peerjs.Describe(o.Msg, 128)))
		case tree.UpstreamChanged:
			n.log.Info("upstream has a new stream")
		case tree.Reject:
			if o.First {
				n.log.Warn("rejected message (further ones of this kind from this peer are only counted)",
					zap.String("peer", o.Peer), zap.Stringer("reason", o.Reason), zap.String("detail", o.Detail))
			}
		}
	}
}

// outgoing returns the shared wrapper for msg. Messages are compared by
// identity of their backing array, which is what the tree hands out when it
// sends one message to many connections.
func (n *relayNode) outgoing(shared *map[any]*peerjs.Outgoing, msg any) *peerjs.Outgoing {
	a, ok := msg.([]any)
	if !ok || len(a) == 0 {
		return peerjs.NewOutgoing(msg)
	}
	if *shared == nil {
		*shared = map[any]*peerjs.Outgoing{}
	}
	key := &a[0]
	if og, ok := (*shared)[key]; ok {
		return og
	}
	og := peerjs.NewOutgoing(msg)
	(*shared)[key] = og
	return og
}

func (n *relayNode) snapshot() JoinStats {
	st := JoinStats{Children: n.relay.Children(), Tree: n.relay.Stats(), Conns: map[string]peerjs.ConnStats{}}
	if n.parent != nil {
		st.Parent = n.parent.Peer()
	}
	for _, c := range n.conns {
		st.Conns[c.Peer()] = c.Stats()
	}
	return st
}

func (n *relayNode) logStats() {
	st := n.relay.Stats()
	fields := []zap.Field{zap.Uint64("forwarded", st.Forwarded), zap.Uint64("send_errors", n.sendErrors),
		zap.Uint64("media_requests", n.mediaRequests)}
	for r, c := range st.Rejected {
		fields = append(fields, zap.Uint64("rejected_"+r.String(), c))
	}
	n.log.Info("node stopped", fields...)
}

// holdParent keeps one data connection to the parent open, re-dialing it
// when it drops (healing the tree properly is a later issue).
func (n *relayNode) holdParent(ctx context.Context, p *peerjs.Peer, parent string) {
	log := n.log.With(zap.String("parent", parent))
	delay := parentRetryMin
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := p.Connect(dctx, parent, peerjs.ConnectOptions{})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("cannot connect to parent; retrying", zap.Duration("in", delay), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, parentRetryMax)
			continue
		}
		delay = parentRetryMin
		log.Info("connected to parent", zap.String("conn", c.ConnectionID()))
		if !n.post(ctx, event{kind: evParentOpen, conn: c}) {
			c.Close()
			return
		}
		err = n.read(ctx, c)
		c.Close()
		if !n.post(ctx, event{kind: evParentClosed, conn: c}) {
			return
		}
		log.Warn("parent connection closed; re-dialing", zap.Error(err))
	}
}

func (n *relayNode) acceptLoop(ctx context.Context, p *peerjs.Peer) {
	for {
		c, err := p.Accept(ctx)
		if err != nil {
			return
		}
		n.log.Info("accepted data connection", zap.String("peer", c.Peer()), zap.String("conn", c.ConnectionID()),
			zap.String("serialization", c.Serialization()))
		if !n.post(ctx, event{kind: evOpen, conn: c}) {
			c.Close()
			return
		}
		go func() {
			err := n.read(ctx, c)
			c.Close()
			n.log.Info("data connection closed", zap.String("peer", c.Peer()), zap.Error(err), zap.Any("stats", c.Stats()))
			n.post(ctx, event{kind: evClosed, conn: c})
		}()
	}
}

// read posts c's messages to the owner loop until c closes or ctx ends.
func (n *relayNode) read(ctx context.Context, c *peerjs.DataConn) error {
	for {
		v, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		if !n.post(ctx, event{kind: evMsg, conn: c, v: v}) {
			return ctx.Err()
		}
	}
}

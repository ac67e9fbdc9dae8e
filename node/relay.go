package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// machine is the tree logic a node runs, a relay's or a host's. The
// upstream connection is the parent for a relay, the index root for a host.
type machine interface {
	ParentOpened(c tree.ConnID, peer string, now time.Time) []tree.Output
	ParentClosed(c tree.ConnID) []tree.Output
	// ParentLost: the parent vanished; lastAlive is its last sign of life.
	ParentLost(c tree.ConnID, lastAlive time.Time) []tree.Output
	Opened(c tree.ConnID, peer string, now time.Time) []tree.Output
	Closed(c tree.ConnID) []tree.Output
	Receive(c tree.ConnID, v any, now time.Time) []tree.Output
	// StreamReady: we have a stream (new or changed) to give children.
	StreamReady(now time.Time) []tree.Output
	Children() []tree.Child
	Stats() tree.Stats
	RoomMap() tree.RoomMap
	// Leave: we are going away; tell the children.
	Leave() []tree.Output
	// Tick: paced reports and room maps go out, guests past their
	// deadline are closed. Called every watchEvery.
	Tick(now time.Time) []tree.Output
}

type relayMachine struct{ *tree.Relay }

func (r relayMachine) StreamReady(time.Time) []tree.Output { return r.SetStream(true) }

type hostMachine struct{ *tree.Host }

func (h hostMachine) ParentOpened(c tree.ConnID, peer string, _ time.Time) []tree.Output {
	return h.RootOpened(c, peer)
}
func (h hostMachine) ParentClosed(c tree.ConnID) []tree.Output { return h.RootClosed(c) }
func (h hostMachine) ParentLost(c tree.ConnID, _ time.Time) []tree.Output {
	return h.RootClosed(c)
}
func (h hostMachine) StreamReady(now time.Time) []tree.Output { return h.SetStreaming(true, now) }

// event is something that happened on a connection, posted by the reader
// goroutines to the one loop that owns the tree state.
type event struct {
	kind  eventKind
	conn  *peerjs.DataConn
	v     any
	offer peerjs.MediaOffer // evCall
	peer  string            // evCallEnded
	call  *peerjs.MediaConn // evCallEnded
	fn    func()            // evQuery
	lost  bool              // evParentClosed: the parent vanished (not a planned move)
}

type eventKind int

const (
	evParentOpen eventKind = iota
	evParentClosed
	evOpen
	evClosed
	evMsg
	evCall         // a media call offered to us
	evCallEnded    // a call to a child ended
	evMediaChanged // the relayed stream appeared or changed
	evQuery        // run fn in the owner loop
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
	name := cfg.Relay.Name
	if name == "" {
		name = DefaultName()
	}
	return startTreeNode(ctx, cfg, treeNode{
		upstream: cfg.Parent,
		heal:     true,
		name:     name,
		machine: func(self string) machine {
			return relayMachine{tree.NewRelay(tree.RelayConfig{
				Self: self, Name: name, Greeting: cfg.Relay.Greeting, MaxChildren: cfg.Relay.MaxChildren,
				RateLimit: cfg.Relay.RateLimit, RateBurst: cfg.Relay.RateBurst,
				MaxReportNodes: cfg.Relay.MaxReportNodes, MaxReportDepth: cfg.Relay.MaxReportDepth,
				MaxReportBytes: cfg.Relay.MaxReportBytes, GuestTimeout: cfg.Relay.GuestTimeout,
			})}
		},
	})
}

// treeNode is what differs between a relay and a host.
type treeNode struct {
	upstream string // the parent (relay) or the index root (host); "" for none
	heal     bool   // re-join elsewhere when the upstream is lost (relay)
	name     string
	machine  func(self string) machine
	// feed, if set, publishes a local stream into the source (host).
	feed func(ctx context.Context, src *media.Source) error
}

// startTreeNode registers and runs a tree node (relay or host) in the
// background.
func startTreeNode(ctx context.Context, cfg Config, tn treeNode) (*Join, error) {
	log := cfg.logger()
	pcfg, err := cfg.peerConfig()
	if err != nil {
		return nil, err
	}
	// Calls arrive before the node exists: park them for the owner loop.
	events := make(chan event, eventQueue)
	pcfg.OnCall = func(o peerjs.MediaOffer) {
		select {
		case events <- event{kind: evCall, offer: o}:
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
	log.Info("node registered", zap.String("id", p.ID()), zap.String("name", tn.name),
		zap.Stringer("server", cfg.Server), zap.String("upstream", tn.upstream))
	if cfg.Ready != nil {
		cfg.Ready()
	}
	n := &relayNode{
		log:          log,
		tree:         tn.machine(p.ID()),
		conns:        map[tree.ConnID]*peerjs.DataConn{},
		events:       events,
		stats:        make(chan chan JoinStats),
		move:         make(chan struct{}, 1),
		drain:        cfg.Drain,
		drainTimeout: cfg.drainTimeout(),
		mediaTimeout: cfg.Relay.MediaTimeout,
		peer:         p,
	}
	j := &Join{n: n, p: p, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		defer p.Close()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n.ctx = ctx
		n.media = newMediaNode(log, p, src, func(e event) bool { return n.post(ctx, e) })
		defer n.media.close()
		var wg sync.WaitGroup
		run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
		if tn.upstream != "" {
			run(func() { n.holdParent(ctx, p, tn.upstream, tn.heal) })
		}
		run(func() { n.acceptLoop(ctx, p) })
		run(func() { n.watchMedia(ctx, src) })
		if tn.feed != nil {
			run(func() {
				if err := tn.feed(ctx, src); err != nil && ctx.Err() == nil {
					log.Error("local stream ended", zap.Error(err))
				}
			})
		}
		j.err = n.loop(ctx, p)
		cancel()
		wg.Wait()
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
	tree   machine
	conns  map[tree.ConnID]*peerjs.DataConn
	parent *peerjs.DataConn
	events chan event
	stats  chan chan JoinStats

	sendErrors, mediaRequests     uint64
	parentLosses, watchdogFirings uint64
	parentLostICE                 uint64
	closedTotals                  peerjs.ConnStats // counters of closed connections

	pwatch parentWatch

	peer      *peerjs.Peer
	ctx       context.Context // the node's lifetime (set before the loop starts)
	media     *mediaNode      // nil on the root
	streamGen uint64          // the source generation the tree was told of

	// drain starts a planned departure; drainTimeout bounds it.
	drain        <-chan struct{}
	drainTimeout time.Duration
	draining     bool
	mediaTimeout time.Duration

	// move asks holdParent to find a new parent (ours is leaving).
	move chan struct{}
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
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	drain := n.drain
	var drainEnd time.Time
	for {
		select {
		case <-ctx.Done():
			n.log.Info("node stopping")
			return nil
		case <-drain:
			drain = nil
			drainEnd = time.Now().Add(n.drainTimeout)
			n.draining = true
			kids := len(n.tree.Children())
			n.log.Info("leaving: telling children to re-join elsewhere", zap.Int("children", kids), zap.Duration("grace", n.drainTimeout))
			n.apply(n.tree.Leave())
		case <-tick.C:
			// The time of handling, not of the tick: after a stall the
			// buffered tick carries the time it was due.
			now := time.Now()
			if n.draining {
				if kids := len(n.tree.Children()); kids == 0 || now.After(drainEnd) {
					n.log.Info("left", zap.Int("children_remaining", kids))
					return nil
				}
			}
			n.watchParent(now)
			n.watchdog(now)
			n.apply(n.tree.Tick(now))
			if n.media != nil {
				n.media.tick(n.ctx, now)
			}
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
	if e.conn == nil {
		n.handleMedia(e)
		return
	}
	id := connID(e.conn)
	var out []tree.Output
	switch e.kind {
	case evParentOpen:
		n.parent = e.conn
		n.conns[id] = e.conn
		out = n.tree.ParentOpened(id, e.conn.Peer(), now)
	case evParentClosed:
		if n.parent == e.conn {
			n.parent = nil
		}
		delete(n.conns, id)
		n.closedTotals = addConnStats(n.closedTotals, e.conn.Stats())
		if e.lost {
			n.parentLosses++
			out = n.tree.ParentLost(id, n.lastAlive(now))
		} else {
			out = n.tree.ParentClosed(id)
		}
	case evOpen:
		if n.draining {
			n.log.Info("refusing a connection: leaving", zap.String("peer", e.conn.Peer()))
			e.conn.Close()
			return
		}
		n.conns[id] = e.conn
		out = n.tree.Opened(id, e.conn.Peer(), now)
	case evClosed:
		delete(n.conns, id)
		n.closedTotals = addConnStats(n.closedTotals, e.conn.Stats())
		out = n.tree.Closed(id)
		if n.media != nil && !n.hasConn(e.conn.Peer()) {
			n.media.hangUp(e.conn.Peer())
		}
	case evMsg:
		n.log.Debug("message", zap.String("from", e.conn.Peer()), zap.String("value", peerjs.Describe(e.v, 256)))
		out = n.tree.Receive(id, e.v, now)
	}
	n.apply(out)
}

// handleMedia runs media events in the owner loop.
func (n *relayNode) handleMedia(e event) {
	switch e.kind {
	case evCall:
		parent := ""
		if n.parent != nil {
			parent = n.parent.Peer()
		}
		n.media.onCall(e.offer, parent)
	case evCallEnded:
		n.media.ended(e.peer, e.call, n.isChild(e.peer), time.Now())
	case evQuery:
		e.fn()
	case evMediaChanged:
		if ready, gen := n.media.src.Ready(); ready && gen != n.streamGen {
			n.streamGen = gen
			n.apply(n.tree.StreamReady(time.Now()))
		}
		n.media.changed(n.ctx, n.tree.Children())
	}
}

// watchMedia posts evMediaChanged once at the start and whenever the source
// changes. The channel is taken before each post: a change made before this
// goroutine ran (a host's feed is often ready at once) or while the owner
// loop handles the post is never missed.
func (n *relayNode) watchMedia(ctx context.Context, src *media.Source) {
	for {
		changed := src.Changed()
		if !n.post(ctx, event{kind: evMediaChanged}) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// apply carries out the tree's decisions.
func (n *relayNode) apply(out []tree.Output) {
	for _, o := range out {
		switch o := o.(type) {
		case tree.Send:
			// One Send is one message for all of its connections: encoded
			// once per serialization (packed once for binary ones).
			og := peerjs.NewPackedOutgoing(o.Msg)
			for _, to := range o.To {
				n.send(to, og)
			}
		case tree.MediaRequest:
			n.mediaRequests++
			if n.media != nil {
				n.media.request(n.ctx, o.Peer, o.Reason)
			}
		case tree.CloseConn:
			if c := n.conns[o.Conn]; c != nil {
				n.log.Info("closing connection", zap.String("peer", c.Peer()), zap.Stringer("reason", o.Reason))
				c.Close()
			}
		case tree.ParentNotice:
			n.log.Info("parent announces it is going away; moving", zap.String("msg", peerjs.Describe(o.Msg, 128)))
			select {
			case n.move <- struct{}{}:
			default:
			}
		case tree.ChatReceived:
			n.log.Info("chat", zap.String("from", o.Peer), zap.String("name", clipText(o.Msg.Name(), 64)),
				zap.String("text", clipText(o.Msg.Text(), 256)))
		case tree.UpstreamChanged:
			// We asked the parent for it; its call will be spliced into our
			// tracks, so children keep their calls.
			n.log.Info("upstream has a new stream")
		case tree.Reject:
			if o.First {
				n.log.Warn("rejected message (further ones of this kind from this peer are only counted)",
					zap.String("peer", o.Peer), zap.Stringer("reason", o.Reason), zap.String("detail", o.Detail))
			}
		}
	}
}

// send sends og on connection to, if it is still there; a failure is
// counted and logged at debug (the connection's own close reports why).
func (n *relayNode) send(to tree.ConnID, og *peerjs.Outgoing) {
	c := n.conns[to]
	if c == nil {
		return
	}
	if ce := n.log.Check(zap.DebugLevel, "send"); ce != nil {
		ce.Write(zap.String("to", c.Peer()), zap.String("value", peerjs.Describe(og.V, 96)))
	}
	if err := c.SendOutgoing(og); err != nil {
		n.sendErrors++
		n.log.Debug("send failed", zap.String("to", c.Peer()), zap.Error(err))
	}
}

func (n *relayNode) snapshot() JoinStats {
	st := JoinStats{Children: n.tree.Children(), Tree: n.tree.Stats(), Conns: map[string]peerjs.ConnStats{}}
	if n.parent != nil {
		st.Parent = n.parent.Peer()
	}
	st.ConnTotals = n.closedTotals
	for _, c := range n.conns {
		cs := c.Stats()
		st.Conns[c.Peer()] = cs
		st.ConnTotals = addConnStats(st.ConnTotals, cs)
	}
	if n.media != nil {
		st.Media = n.media.snapshot()
	}
	st.ParentLosses, st.WatchdogFirings = n.parentLosses, n.watchdogFirings
	st.ParentSilent, st.Stalls = n.parentLostICE, n.pwatch.stalls
	if n.peer != nil {
		st.Peer = n.peer.Stats()
	}
	return st
}

func addConnStats(a, b peerjs.ConnStats) peerjs.ConnStats {
	a.Received += b.Received
	a.Dropped += b.Dropped
	a.Malformed += b.Malformed
	a.TooBig += b.TooBig
	a.Sent += b.Sent
	a.Reordered += b.Reordered
	return a
}

// isChild reports whether peer is one of our children now.
func (n *relayNode) isChild(peer string) bool {
	for _, c := range n.tree.Children() {
		if c.ID == peer {
			return true
		}
	}
	return false
}

// hasConn reports whether any data connection to peer is open.
func (n *relayNode) hasConn(peer string) bool {
	for _, c := range n.conns {
		if c.Peer() == peer {
			return true
		}
	}
	return false
}

func (n *relayNode) logStats() {
	st := n.tree.Stats()
	fields := []zap.Field{zap.Uint64("forwarded", st.Forwarded), zap.Uint64("send_errors", n.sendErrors),
		zap.Uint64("media_requests", n.mediaRequests)}
	for r, c := range st.Rejected {
		fields = append(fields, zap.Uint64("rejected_"+r.String(), c))
	}
	n.log.Info("node stopped", fields...)
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

// clipText shortens untrusted text for a log line.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// watchEvery is how often the owner loop checks the drain and the media
// watchdog.
const watchEvery = 250 * time.Millisecond

// watchdog: upstream media stopped for longer than MediaTimeout while the
// call that carried it is still up means a parent that is stuck (or a
// relay upstream that lost its own parent and is not recovering): treat it
// as lost, and heal.
func (n *relayNode) watchdog(now time.Time) {
	if n.media == nil || n.mediaTimeout <= 0 || n.parent == nil {
		return
	}
	if n.media.stalled(now, n.mediaTimeout) {
		n.watchdogFirings++
		n.log.Warn("no upstream media; treating the parent as lost", zap.String("parent", n.parent.Peer()),
			zap.Duration("silent_for", n.mediaTimeout))
		n.parent.Close()
	}
}

// Parent loss. The upstream link reports "disconnected" after
// peerjs.UpstreamICE.Disconnected without a packet, but it never fails by
// itself in that time (a stall of ours must not cost a heal), so the loop
// decides: the parent is lost when its data connection is disconnected,
// the media it sends us (if it sends any) is silent as long, and we were
// not stalled ourselves lately. A stall shows as a late tick: our loop did
// not run, so neither did pion's readers, and silence we measure across it
// is ours, not the parent's.
const (
	// stallSlack: a tick this much later than due means we were stalled.
	stallSlack = 750 * time.Millisecond
	// stallGrace: after a stall, the parent has this long to show life
	// (packets queued in the socket are read, ICE reconnects).
	stallGrace = 2 * time.Second
)

// parentWatch is the decision of watchParent, apart from the I/O so that it
// can be tested with a fake clock. Only the owner loop uses it.
type parentWatch struct {
	lastTick, graceUntil, downSince time.Time
	stalls                          uint64
}

// parentVerdict is what one observation concluded.
type parentVerdict struct {
	stall time.Duration // > 0: this tick came late by a stall this long
	lost  bool          // the parent is lost: close it and heal
	down  time.Duration // how long its link has been down, when lost
}

// observe takes one tick: now, whether we have a parent, whether its data
// link is up (ICE connected; it goes down after peerjs.UpstreamICE.Disconnected
// without a packet), and how long its media has been silent.
func (w *parentWatch) observe(now time.Time, hasParent, linkUp bool, mediaSilence time.Duration) parentVerdict {
	var v parentVerdict
	last := w.lastTick
	w.lastTick = now
	if !last.IsZero() && now.Sub(last) > watchEvery+stallSlack {
		w.stalls++
		w.graceUntil = now.Add(stallGrace)
		v.stall = now.Sub(last)
	}
	if !hasParent || linkUp || now.Before(w.graceUntil) {
		w.downSince = time.Time{}
		return v
	}
	if w.downSince.IsZero() {
		w.downSince = now
	}
	if mediaSilence < peerjs.UpstreamICE.Disconnected {
		return v // media still flows: the data link is not the whole story
	}
	v.lost = true
	v.down = now.Sub(w.downSince) + peerjs.UpstreamICE.Disconnected
	w.downSince = time.Time{}
	return v
}

// watchParent runs on every tick of the owner loop. It closes a parent that
// is lost (see above); serveParent then heals.
func (n *relayNode) watchParent(now time.Time) {
	silence := time.Duration(1<<63 - 1)
	if n.media != nil {
		silence = n.media.upSilence(now)
	}
	v := n.pwatch.observe(now, n.parent != nil, n.parent != nil && n.parent.Connected(), silence)
	if v.stall > 0 {
		n.log.Warn("the node was stalled; not judging the parent until it has had time to answer",
			zap.Duration("stall", v.stall), zap.Duration("grace", stallGrace))
	}
	if v.lost {
		n.parentLostICE++
		n.log.Warn("parent silent: treating it as lost", zap.String("parent", n.parent.Peer()),
			zap.Duration("silent_for", v.down))
		n.parent.Close()
	}
}

// lastAlive is the last sign of life of a lost parent: its last media
// packet, but no earlier than the upstream's "disconnected" timeout ago
// (what we sent before that, while it was answering ICE, most likely
// arrived).
func (n *relayNode) lastAlive(now time.Time) time.Time {
	t := now.Add(-peerjs.UpstreamICE.Disconnected)
	if n.media != nil {
		for _, tr := range n.media.src.Tracks() {
			if at := tr.LastPacket(); at.After(t) {
				t = at
			}
		}
	}
	return t
}

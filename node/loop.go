package node

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/tree"
)

// treeNode is a running relay or host: its owner loop and the state the
// loop alone touches. Every field below is owned by the goroutine running
// loop (and, before it starts, by startTreeNode); other goroutines reach it
// only by posting an event on in.
type treeNode struct {
	log    *zap.Logger
	tree   tree.Machine
	conns  map[tree.ConnID]*peerjs.DataConn // every open data connection, ours to the parent included
	parent *peerjs.DataConn
	in     inbox

	sendErrors, callsDecided      uint64
	parentLosses, watchdogFirings uint64
	parentLostICE                 uint64
	closedTotals                  peerjs.ConnStats // counters of closed connections

	pwatch parentWatch

	peer  *peerjs.Peer
	ctx   context.Context // the node's lifetime, for calls placed by apply
	media *mediaNode      // nil on the root

	// drain starts a planned departure; drainTimeout bounds it.
	drain        <-chan struct{}
	drainTimeout time.Duration
	draining     bool
	mediaTimeout time.Duration

	// move wakes the upstream to find a new parent (ours is leaving);
	// buffered, 1.
	move chan struct{}
}

// loop is the owner loop: the only goroutine that touches the node's
// state. It handles one event, one tick, or the drain at a time.
func (n *treeNode) loop(ctx context.Context, p *peerjs.Peer) error {
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
		case <-p.Done():
			if err := p.Signaling().Err(); err != nil {
				return fmt.Errorf("peer server session ended: %w", err)
			}
			return nil
		case e := <-n.in:
			n.handle(e, time.Now())
		}
	}
}

// handle turns one event into a call of the machine (or of the media
// executor) and carries out what it returns.
func (n *treeNode) handle(e event, now time.Time) {
	switch e := e.(type) {
	case evParentOpen:
		id := connID(e.conn)
		n.parent = e.conn
		n.conns[id] = e.conn
		n.apply(n.tree.ParentOpened(id, e.conn.Peer(), now))
		if e.greeting != nil {
			n.apply(n.tree.Receive(id, e.greeting, now))
		}
		if e.taken != nil {
			close(e.taken)
		}
	case evParentClosed:
		id := connID(e.conn)
		if n.parent == e.conn {
			n.parent = nil
		}
		delete(n.conns, id)
		n.closedTotals = addConnStats(n.closedTotals, e.conn.Stats())
		if e.lost {
			n.parentLosses++
			n.apply(n.tree.ParentLost(id, n.lastAlive(now)))
		} else {
			n.apply(n.tree.ParentClosed(id))
		}
	case evOpen:
		if n.draining {
			n.log.Info("refusing a connection: leaving", zap.String("peer", e.conn.Peer()))
			e.conn.Close()
			return
		}
		id := connID(e.conn)
		n.conns[id] = e.conn
		n.apply(n.tree.Opened(id, e.conn.Peer(), now))
	case evClosed:
		id := connID(e.conn)
		delete(n.conns, id)
		n.closedTotals = addConnStats(n.closedTotals, e.conn.Stats())
		n.apply(n.tree.Closed(id))
	case evMsg:
		n.log.Debug("message", zap.String("from", e.conn.Peer()), zap.String("value", peerjs.Describe(e.v, 256)))
		n.apply(n.tree.Receive(connID(e.conn), e.v, now))
	case evRoomMap:
		e.reply <- n.tree.RoomMap()
	case evCall:
		parent := ""
		if n.parent != nil {
			parent = n.parent.Peer()
		}
		n.media.onCall(e.offer, parent)
	case evCallEnded:
		if id, ok := n.media.ended(e.peer, e.call); ok {
			n.apply(n.tree.CallEnded(id, tree.CallClosed, now))
		}
	case evMediaChanged:
		ready, gen := n.media.src.Ready()
		n.apply(n.tree.StreamChanged(ready, gen, now))
	case evStats:
		e.reply <- n.snapshot()
	}
}

// watchMedia posts evMediaChanged once at the start and whenever the source
// changes. The channel is taken before each post: a change made before this
// goroutine ran (a host's feed is often ready at once) or while the owner
// loop handles the post is never missed.
func watchMedia(ctx context.Context, src *media.Source, in inbox) {
	for {
		changed := src.Changed()
		if !in.post(ctx, evMediaChanged{}) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

func (n *treeNode) snapshot() Stats {
	st := Stats{Children: n.tree.Children(), Tree: n.tree.Stats(), Conns: map[string]peerjs.ConnStats{}}
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
		st.Media.Recalls = st.Tree.Recalls
	}
	st.ParentLosses, st.WatchdogFirings = n.parentLosses, n.watchdogFirings
	st.ParentSilent, st.Stalls = n.parentLostICE, n.pwatch.stalls
	if n.peer != nil {
		st.Peer = n.peer.Stats()
		st.Reconnects = n.peer.Signaling().Stats().Reconnects
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

func (n *treeNode) logStats() {
	st := n.tree.Stats()
	fields := []zap.Field{zap.Uint64("forwarded", st.Forwarded), zap.Uint64("send_errors", n.sendErrors),
		zap.Uint64("calls_decided", n.callsDecided)}
	for r, c := range st.Rejected {
		fields = append(fields, zap.Uint64("rejected_"+r.String(), c))
	}
	n.log.Info("node stopped", fields...)
}

package node

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/tree"
)

const (
	// retireFlush bounds the wait for a left parent's send buffer to drain.
	retireFlush = 2 * time.Second
	// dialTimeout bounds one attempt to open a data connection upstream.
	dialTimeout = 10 * time.Second
	// greetingTimeout bounds the wait for a host's greeting (its room map)
	// on a guest connection.
	greetingTimeout = 3 * time.Second
)

// holdParent keeps us attached upstream. It dials first; when heal is set
// and the parent is lost (its connection closed, ICE failed, its PeerServer
// session ended, or the media watchdog gave up on it), it re-joins the tree
// as the pages' auto-join does — the host if it has room, else the
// shallowest node with room, never in our own subtree or the lost parent's —
// asking the host for a fresh room map first. When the parent announces its
// departure (type 3), it moves make-before-break. Our children are never
// told anything: their connections to us stay up, and the new upstream's
// media is spliced into the tracks they already receive.
//
// Without heal (a host's link to the index root) it just re-dials.
func (n *relayNode) holdParent(ctx context.Context, p *peerjs.Peer, first string, heal bool) {
	target := first
	lost := ""
	delay := parentRetryMin
	for ctx.Err() == nil {
		var c *peerjs.DataConn
		var greeting any
		if heal && lost != "" {
			c, greeting = n.rejoin(ctx, p, lost)
		}
		if c == nil {
			var err error
			if c, err = n.dial(ctx, p, target); err != nil {
				if ctx.Err() != nil {
					return
				}
				n.log.Warn("cannot connect upstream; retrying", zap.String("to", target), zap.Duration("in", delay), zap.Error(err))
				select {
				case <-ctx.Done():
					return
				case <-time.After(delay):
				}
				delay = min(delay*2, parentRetryMax)
				continue
			}
		}
		delay = parentRetryMin
		target = c.Peer()
		// A move hands over the next parent with the greeting read from it
		// and retire, which closes the old one once the next is attached.
		var retire func()
		for c != nil {
			ok := n.attach(ctx, c, greeting)
			if retire != nil {
				retire()
				retire = nil
			}
			if !ok {
				c.Close()
				return
			}
			var next *peerjs.DataConn
			var err error
			next, greeting, retire, err = n.serveParent(ctx, p, c, heal)
			if next == nil {
				n.log.Warn("parent lost", zap.String("parent", c.Peer()), zap.Error(err))
				lost = c.Peer()
			} else {
				target = next.Peer()
			}
			c = next
		}
	}
}

// attach hands c to the owner loop as our parent, with the greeting we
// already read from it, if any.
func (n *relayNode) attach(ctx context.Context, c *peerjs.DataConn, greeting any) bool {
	n.log.Info("connected to parent", zap.String("parent", c.Peer()), zap.String("conn", c.ConnectionID()))
	if !n.post(ctx, event{kind: evParentOpen, conn: c}) {
		return false
	}
	if greeting != nil {
		return n.post(ctx, event{kind: evMsg, conn: c, v: greeting})
	}
	return true
}

// serveParent reads c until it closes (returns nil and why) or the parent
// announces its departure and we found a new parent: then it returns the
// new one, the greeting read from it, and retire, which the caller runs
// once the new parent is attached. retire waits until the owner loop has switched (so nothing more
// is sent on c), lets what was sent on c drain (a chat typed during the
// move would otherwise die in c's send buffer), then closes c.
func (n *relayNode) serveParent(ctx context.Context, p *peerjs.Peer, c *peerjs.DataConn, heal bool) (next *peerjs.DataConn, greeting any, retire func(), err error) {
	done := make(chan error, 1)
	go func() { done <- n.read(ctx, c) }()
	for {
		select {
		case err := <-done:
			c.Close()
			n.post(ctx, event{kind: evParentClosed, conn: c, lost: true})
			return nil, nil, nil, err
		case <-n.move:
			if !heal {
				continue
			}
			next, greeting := n.rejoin(ctx, p, c.Peer())
			if next == nil {
				n.log.Warn("parent is leaving and no new parent was found; staying until it goes", zap.String("parent", c.Peer()))
				continue
			}
			old := c
			retire := func() {
				n.query(ctx, func() {}) // the loop has taken next as its parent
				fctx, cancel := context.WithTimeout(ctx, retireFlush)
				if err := old.Flush(fctx); err != nil {
					n.log.Debug("old parent's send buffer not drained", zap.Error(err))
				}
				cancel()
				old.Close()
				<-done
				n.post(ctx, event{kind: evParentClosed, conn: old})
				n.log.Info("moved to a new parent before the old one left", zap.String("from", old.Peer()), zap.String("to", next.Peer()))
			}
			return next, greeting, retire, nil
		case <-ctx.Done():
			c.Close()
			<-done
			return nil, nil, nil, ctx.Err()
		}
	}
}

// rejoin finds a new parent after losing (or leaving) lost. It returns the
// open connection and the greeting read from it, or nil.
func (n *relayNode) rejoin(ctx context.Context, p *peerjs.Peer, lost string) (*peerjs.DataConn, any) {
	var m tree.RoomMap
	if !n.query(ctx, func() { m = n.tree.RoomMap() }) {
		return nil, nil
	}
	host := m.HostID()
	self := p.ID()
	if host == "" || host == lost || host == self {
		return nil, nil
	}
	log := n.log.With(zap.String("lost", lost), zap.String("host", host))
	if m.Layout() == tree.LayoutSingle {
		return n.rejoinSingle(ctx, p, m, lost, log), nil
	}
	// The pages' way to a fresh map: a guest connection to the host, whose
	// greeting is its current room map.
	guest, err := n.dial(ctx, p, host)
	if err != nil {
		log.Warn("cannot reach the host for a fresh room map", zap.Error(err))
		if choice, ok := tree.ChooseParent(m, self, lost); ok && choice != host {
			if c, err := n.dial(ctx, p, choice); err == nil {
				return c, nil
			}
		}
		return nil, nil
	}
	log.Debug("guest connection to the host open; waiting for its greeting")
	gctx, cancel := context.WithTimeout(ctx, greetingTimeout)
	greeting, err := guest.Recv(gctx)
	cancel()
	if err != nil {
		log.Warn("no greeting from the host; using the map we have", zap.Error(err))
	}
	if err == nil {
		if a, ok := greeting.([]any); ok && tree.RoomMap(a).HostID() == host {
			m = tree.RoomMap(a)
		}
	}
	choice, ok := tree.ChooseParent(m, self, lost)
	if !ok || choice == host {
		log.Info("re-joining under the host")
		return guest, greeting
	}
	guest.Close()
	c, err := n.dial(ctx, p, choice)
	if err != nil {
		log.Warn("cannot join the chosen parent; joining the host", zap.String("chosen", choice), zap.Error(err))
		if c, err = n.dial(ctx, p, host); err != nil {
			return nil, nil
		}
		return c, nil
	}
	log.Info("re-joining under the shallowest node with room", zap.String("parent", choice))
	return c, nil
}

// rejoinSingle is rejoin in a single-page tree. Its root sends no greeting
// (a guest connection would wait in vain), but it sends its map down on
// every change, so the map we hold is as fresh as the host's greeting would
// be: choose from it directly, and fall back to the root.
func (n *relayNode) rejoinSingle(ctx context.Context, p *peerjs.Peer, m tree.RoomMap, lost string, log *zap.Logger) *peerjs.DataConn {
	root := m.HostID()
	choice, ok := tree.ChooseParent(m, p.ID(), lost)
	if !ok {
		log.Warn("single-page tree: no node with room outside our subtree; trying the root")
		choice = root
	}
	c, err := n.dial(ctx, p, choice)
	if err == nil {
		log.Info("re-joining the single-page tree", zap.String("parent", choice))
		return c
	}
	if choice == root {
		log.Warn("cannot join the single-page tree's root", zap.Error(err))
		return nil
	}
	log.Warn("cannot join the chosen parent; joining the root", zap.String("chosen", choice), zap.Error(err))
	if c, err = n.dial(ctx, p, root); err != nil {
		return nil
	}
	return c
}

func (n *relayNode) dial(ctx context.Context, p *peerjs.Peer, id string) (*peerjs.DataConn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return p.Connect(dctx, id, peerjs.ConnectOptions{})
}

// query runs f in the owner loop and waits for it.
func (n *relayNode) query(ctx context.Context, f func()) bool {
	done := make(chan struct{})
	if !n.post(ctx, event{kind: evQuery, fn: func() { f(); close(done) }}) {
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

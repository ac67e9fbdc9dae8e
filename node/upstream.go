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

// upstream keeps a tree node attached upstream: to its parent (a relay) or
// to the index root (a host). It runs on its own goroutine (run) and owns
// only its fields. It reaches the node's state only through events: it
// hands the loop each connection it opened (evParentOpen) and each that
// closed (evParentClosed), and asks for the room map (evRoomMap); the loop
// wakes it through move when the parent announces its departure.
type upstream struct {
	log   *zap.Logger
	p     *peerjs.Peer
	in    inbox
	first string // the parent (or index root) we are told to join
	heal  bool   // re-join elsewhere when the parent is lost (relay)
	// move is signalled by the loop (buffered, 1) when our parent says it
	// is going away.
	move <-chan struct{}
}

// run keeps us attached upstream. It dials first; when heal is set
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
func (u *upstream) run(ctx context.Context) {
	target := u.first
	lost := ""
	delay := parentRetryMin
	for ctx.Err() == nil {
		var c *peerjs.DataConn
		var greeting any
		if u.heal && lost != "" {
			c, greeting = u.rejoin(ctx, lost)
		}
		if c == nil {
			var err error
			if c, err = u.dial(ctx, target); err != nil {
				if ctx.Err() != nil {
					return
				}
				u.log.Warn("cannot connect upstream; retrying", zap.String("to", target), zap.Duration("in", delay), zap.Error(err))
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
		// A move hands over the next parent with the greeting read from it;
		// the old one is retired once the loop has taken the next.
		var old *moved
		for c != nil {
			taken := make(chan struct{})
			ok := u.attach(ctx, c, greeting, taken)
			if old != nil {
				u.retire(ctx, old, c, taken)
				old = nil
			}
			if !ok {
				c.Close()
				return
			}
			var next *peerjs.DataConn
			var err error
			next, greeting, old, err = u.serve(ctx, c)
			if next == nil {
				u.log.Warn("parent lost", zap.String("parent", c.Peer()), zap.Error(err))
				lost = c.Peer()
			} else {
				target = next.Peer()
			}
			c = next
		}
	}
}

// attach hands c to the owner loop as our parent, with the greeting we
// already read from it, if any; the loop closes taken once it has switched.
func (u *upstream) attach(ctx context.Context, c *peerjs.DataConn, greeting any, taken chan<- struct{}) bool {
	u.log.Info("connected to parent", zap.String("parent", c.Peer()), zap.String("conn", c.ConnectionID()))
	return u.in.post(ctx, evParentOpen{conn: c, greeting: greeting, taken: taken})
}

// moved is a parent we moved away from: its connection and its reader.
type moved struct {
	conn *peerjs.DataConn
	read <-chan error // the reader's end
}

// serve reads c until it closes (returns nil and why) or the parent
// announces its departure and we found a new parent: then it returns the
// new one, the greeting read from it, and the old one, which the caller
// retires once the new parent is attached.
func (u *upstream) serve(ctx context.Context, c *peerjs.DataConn) (next *peerjs.DataConn, greeting any, old *moved, err error) {
	done := make(chan error, 1)
	go func() { done <- readConn(ctx, c, u.in) }()
	for {
		select {
		case err := <-done:
			c.Close()
			u.in.post(ctx, evParentClosed{conn: c, lost: true})
			return nil, nil, nil, err
		case <-u.move:
			if !u.heal {
				continue
			}
			next, greeting := u.rejoin(ctx, c.Peer())
			if next == nil {
				u.log.Warn("parent is leaving and no new parent was found; staying until it goes", zap.String("parent", c.Peer()))
				continue
			}
			return next, greeting, &moved{conn: c, read: done}, nil
		case <-ctx.Done():
			c.Close()
			<-done
			return nil, nil, nil, ctx.Err()
		}
	}
}

// retire closes the parent we moved away from: once the loop has switched
// to next (taken), so nothing more is sent on it, and what was sent on it
// has drained (a chat typed during the move would otherwise die in its send
// buffer), at most retireFlush.
func (u *upstream) retire(ctx context.Context, old *moved, next *peerjs.DataConn, taken <-chan struct{}) {
	select {
	case <-taken:
	case <-ctx.Done():
	}
	fctx, cancel := context.WithTimeout(ctx, retireFlush)
	if err := old.conn.Flush(fctx); err != nil {
		u.log.Debug("old parent's send buffer not drained", zap.Error(err))
	}
	cancel()
	old.conn.Close()
	<-old.read
	u.in.post(ctx, evParentClosed{conn: old.conn})
	u.log.Info("moved to a new parent before the old one left", zap.String("from", old.conn.Peer()), zap.String("to", next.Peer()))
}

// rejoin finds a new parent after losing (or leaving) lost. It returns the
// open connection and the greeting read from it, or nil.
func (u *upstream) rejoin(ctx context.Context, lost string) (*peerjs.DataConn, any) {
	m, ok := u.roomMap(ctx)
	if !ok {
		return nil, nil
	}
	host := m.HostID()
	self := u.p.ID()
	if host == "" || host == lost || host == self {
		return nil, nil
	}
	log := u.log.With(zap.String("lost", lost), zap.String("host", host))
	if m.Layout() == tree.LayoutSingle {
		return u.rejoinSingle(ctx, m, lost, log), nil
	}
	// The pages' way to a fresh map: a guest connection to the host, whose
	// greeting is its current room map.
	guest, err := u.dial(ctx, host)
	if err != nil {
		log.Warn("cannot reach the host for a fresh room map", zap.Error(err))
		if choice, ok := tree.ChooseParent(m, self, lost); ok && choice != host {
			if c, err := u.dial(ctx, choice); err == nil {
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
	c, err := u.dial(ctx, choice)
	if err != nil {
		log.Warn("cannot join the chosen parent; joining the host", zap.String("chosen", choice), zap.Error(err))
		if c, err = u.dial(ctx, host); err != nil {
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
func (u *upstream) rejoinSingle(ctx context.Context, m tree.RoomMap, lost string, log *zap.Logger) *peerjs.DataConn {
	root := m.HostID()
	choice, ok := tree.ChooseParent(m, u.p.ID(), lost)
	if !ok {
		log.Warn("single-page tree: no node with room outside our subtree; trying the root")
		choice = root
	}
	c, err := u.dial(ctx, choice)
	if err == nil {
		log.Info("re-joining the single-page tree", zap.String("parent", choice))
		return c
	}
	if choice == root {
		log.Warn("cannot join the single-page tree's root", zap.Error(err))
		return nil
	}
	log.Warn("cannot join the chosen parent; joining the root", zap.String("chosen", choice), zap.Error(err))
	if c, err = u.dial(ctx, root); err != nil {
		return nil
	}
	return c
}

func (u *upstream) dial(ctx context.Context, id string) (*peerjs.DataConn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return u.p.Connect(dctx, id, peerjs.ConnectOptions{})
}

// roomMap asks the owner loop for the room map it holds.
func (u *upstream) roomMap(ctx context.Context) (tree.RoomMap, bool) {
	reply := make(chan tree.RoomMap, 1)
	if !u.in.post(ctx, evRoomMap{reply: reply}) {
		return nil, false
	}
	select {
	case m := <-reply:
		return m, true
	case <-ctx.Done():
		return nil, false
	}
}

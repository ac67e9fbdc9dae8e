package node

import (
	"context"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/tree"
)

// event is something that happened, posted to the one owner loop that
// holds a node's state. The set is closed (only this file implements
// isEvent): every goroutine that is not the loop reaches the node's state
// by posting one of these, and the loop handles each in one place (handle
// in loop.go, serveIndex in root.go).
type event interface{ isEvent() }

// Events from the connection readers (conns.go).
type (
	// evOpen: a peer opened a data connection to us.
	evOpen struct{ conn *peerjs.DataConn }
	// evClosed: an incoming data connection closed.
	evClosed struct{ conn *peerjs.DataConn }
	// evMsg: a decoded message arrived on conn.
	evMsg struct {
		conn *peerjs.DataConn
		v    any
	}
)

// Events from the upstream (upstream.go).
type (
	// evParentOpen: our upstream connection (parent, or the index root for
	// a host) is open. greeting, if not nil, is the first message already
	// read from it (a moved-to parent's room map); taken, if not nil, is
	// closed once the loop has switched to conn, so nothing more is sent
	// on the previous parent.
	evParentOpen struct {
		conn     *peerjs.DataConn
		greeting any
		taken    chan<- struct{}
	}
	// evParentClosed: our upstream connection closed; lost when it
	// vanished (rather than being left in a planned move).
	evParentClosed struct {
		conn *peerjs.DataConn
		lost bool
	}
	// evRoomMap asks the loop for the room map it holds (a re-join
	// chooses a new parent from it).
	evRoomMap struct{ reply chan<- tree.RoomMap }
)

// Media events (media.go, the peer's OnCall, watchMedia).
type (
	// evCall: a media call offered to us.
	evCall struct{ offer peerjs.MediaOffer }
	// evCallEnded: a call we placed to a child is over.
	evCallEnded struct {
		peer string
		call *peerjs.MediaConn
	}
	// evMediaChanged: the relayed stream appeared or changed.
	evMediaChanged struct{}
)

// evStats asks the loop for a snapshot of its state and counters.
type evStats struct{ reply chan<- Stats }

func (evOpen) isEvent()         {}
func (evClosed) isEvent()       {}
func (evMsg) isEvent()          {}
func (evParentOpen) isEvent()   {}
func (evParentClosed) isEvent() {}
func (evRoomMap) isEvent()      {}
func (evCall) isEvent()         {}
func (evCallEnded) isEvent()    {}
func (evMediaChanged) isEvent() {}
func (evStats) isEvent()        {}

// eventQueue bounds events waiting for the owner loop. Readers block when it
// is full, which pushes back on their own connection's receive queue (where
// PeerJS messages are dropped and counted per connection), not on others'.
const eventQueue = 256

// inbox is the owner loop's event channel as the other goroutines see it.
type inbox chan event

// post hands e to the loop; false once ctx ended (the loop is gone).
func (in inbox) post(ctx context.Context, e event) bool {
	select {
	case in <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// connID is the tree's name for a data connection.
func connID(c *peerjs.DataConn) tree.ConnID {
	return tree.ConnID(c.Peer() + "/" + c.ConnectionID())
}

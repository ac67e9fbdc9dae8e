package tree

import "time"

// Machine is what a tree node's owner drives: a Relay (under a parent) or a
// Host (under the index root, if any). Both name the same events the same
// way, so the owner needs no adapter; the index root (Index) is a different
// kind of node and has its own, smaller set.
//
// Upstream is the connection we dialed: the parent for a Relay, the index
// root for a Host.
type Machine interface {
	// ParentOpened: our upstream connection opened.
	ParentOpened(c ConnID, peer string, now time.Time) []Output
	// ParentClosed: it closed (we closed it, or moved away from it).
	ParentClosed(c ConnID) []Output
	// ParentLost: it vanished; lastAlive is its last sign of life.
	ParentLost(c ConnID, lastAlive time.Time) []Output
	// Opened, Closed, Receive: an incoming connection opened, closed, or
	// delivered a decoded message.
	Opened(c ConnID, peer string, now time.Time) []Output
	Closed(c ConnID) []Output
	Receive(c ConnID, v any, now time.Time) []Output
	// StreamChanged: the stream we can give children is generation gen
	// (ready false: none). Children get Calls (calls.go).
	StreamChanged(ready bool, gen uint64, now time.Time) []Output
	// CallStarted and CallEnded report what became of a Call.
	CallStarted(id CallID, gen uint64)
	CallEnded(id CallID, how CallEnd, now time.Time) []Output
	// Tick: paced reports and room maps go out, guests past their deadline
	// are closed, re-calls that are due are placed. About every 250 ms.
	Tick(now time.Time) []Output
	// Leave: we are going away; tell the children.
	Leave() []Output

	Children() []Child
	Stats() Stats
	RoomMap() RoomMap
}

var (
	_ Machine = (*Relay)(nil)
	_ Machine = (*Host)(nil)
)

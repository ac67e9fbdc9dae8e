package tree

import (
	"cmp"
	"slices"
	"time"
)

// coalescer spaces out sends of a piece of state (our report, the room
// map): reports are state, not events, so only the latest matters and a
// child that changes its report 50 times a second must not make us rebuild
// and re-send ours (or the whole room map to every member) 50 times a second.
// A change marks it dirty; the first change after a quiet interval goes out
// at once (a join is seen without delay), later ones when the interval has
// passed, from Tick. Joins and leaves are changes like any other: coalesced,
// never lost.
type coalescer struct {
	interval time.Duration // ≤ 0: every change at once
	last     time.Time     // last send
	sent     bool          // last is set
	dirty    bool
}

func (c *coalescer) mark() { c.dirty = true }

// reset forgets the last send: the next change goes out at once (a new link).
func (c *coalescer) reset() { c.sent = false }

// due reports whether a pending change may be sent now, and if so records
// the send.
func (c *coalescer) due(now time.Time) bool {
	if !c.dirty || c.sent && c.interval > 0 && now.Sub(c.last) < c.interval {
		return false
	}
	c.dirty, c.sent, c.last = false, true, now
	return true
}

// expireGuests closes the connections that have been guests (no report)
// for timeout since Opened: a Reject (counted; First, so logged once) and a
// CloseConn each. They are forgotten at once, so a late message or Closed
// finds nothing. Guests that ask for a stream (type 2 or 4) are still
// guests: the deadline counts from Opened.
func expireGuests(out *[]Output, conns map[ConnID]*connState, timeout time.Duration, now time.Time, total *Stats) {
	if timeout <= 0 {
		return
	}
	var late []*connState
	for _, cs := range conns {
		if cs.role == roleGuest && now.Sub(cs.opened) >= timeout {
			late = append(late, cs)
		}
	}
	slices.SortFunc(late, func(a, b *connState) int { // a stable order for the caller and tests
		return cmp.Or(a.opened.Compare(b.opened), cmp.Compare(a.id, b.id))
	})
	for _, cs := range late {
		delete(conns, cs.id)
		*out = append(*out, cs.reject(total, RejectGuestTimeout, "no report within "+timeout.String()),
			CloseConn{Conn: cs.id, Reason: RejectGuestTimeout})
	}
}

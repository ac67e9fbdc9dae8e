package tree

import "time"

// upstreamMargin is the part of our own per-connection limit that we allow
// ourselves towards our parent. The parent (a Go relay or host with the same
// defaults) runs the bucket we run for a child, but on arrival times: sends
// that leave us spread out can arrive bunched. The rest of the margin is
// room for what we never drop (reports, type 4).
const upstreamMargin = 0.9

// upstream shares what we may send to our parent among our children, so
// that a child that floods costs only itself. Without it one child's burst
// of 500 chats (its whole bucket at our door) went up at once, the parent's
// bucket for us overflowed, and a sibling's chat that followed was lost.
//
// The budget is a token bucket at upstreamMargin of our own limit per child
// (RateLimit, RateBurst). Its upper half is first come, first served; its
// lower half is a reserve split evenly among the children: each child has a
// share bucket (rate/n, reserve/n for n children) and may draw on the
// reserve only with a token of its own share. A flooder empties the upper
// half and its own share; every sibling still has its share, which the
// reserve is large enough to honour (the shares refill no faster than the
// bucket does).
//
// Reports and type 4 requests are never refused: they take a token anyway
// (the bucket may go into debt, which chat then repays), so what we send up
// in any window never exceeds the bucket.
type upstream struct {
	rate, burst, reserve float64
	b                    bucket
}

func newUpstream(rate float64, burst int, now time.Time) upstream {
	if rate <= 0 {
		return upstream{} // no limit per child: none upstream either
	}
	u := upstream{rate: rate * upstreamMargin, burst: float64(burst) * upstreamMargin}
	u.reserve = u.burst / 2
	u.b = bucket{rate: u.rate, burst: u.burst, tokens: u.burst, last: now}
	return u
}

// refill adds the tokens earned since the bucket's last use.
func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt*b.rate)
		b.last = now
	}
}

// admit decides whether a message from child cs (one of n children) may go
// up, and takes its tokens if so.
func (u *upstream) admit(cs *connState, n int, now time.Time) bool {
	if u.rate <= 0 {
		return true
	}
	u.b.refill(now)
	if u.b.tokens < 1 {
		return false
	}
	n = max(n, 1)
	s := &cs.share
	if s.rate != u.rate/float64(n) {
		// The number of children changed: reshape the share, keeping
		// what is left of it (a new child starts with a full share).
		if s.last.IsZero() {
			s.tokens, s.last = u.reserve/float64(n), now
		}
		s.refill(now)
		s.rate, s.burst = u.rate/float64(n), u.reserve/float64(n)
		s.tokens = min(s.tokens, s.burst)
	}
	s.refill(now)
	if u.b.tokens-1 >= u.reserve {
		u.b.tokens--
		return true
	}
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	u.b.tokens--
	return true
}

// force takes a token for something we send up whatever the budget (a
// report, a type 4); the debt is bounded by one burst.
func (u *upstream) force(now time.Time) {
	if u.rate <= 0 {
		return
	}
	u.b.refill(now)
	u.b.tokens = max(u.b.tokens-1, -u.burst)
}

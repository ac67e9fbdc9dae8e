package serial

import "sync/atomic"

// Budget bounds the bytes held by half-received chunked messages across many
// codecs (all the data connections of a node). Options.MaxPendingBytes bounds
// one connection; without a shared bound, N hostile connections could each
// hold their full MaxPendingBytes at once, so memory would grow with the
// number of connections instead of staying under one configured figure.
//
// A Budget is safe for concurrent use. The nil *Budget is valid and
// unlimited: Reserve always succeeds and nothing is counted, so codecs need
// not test for it.
type Budget struct {
	max     int64
	held    atomic.Int64
	refused atomic.Uint64
}

// NewBudget returns a budget of max bytes. max <= 0 fits nothing: every
// chunked message of more than one piece is then refused, which is what a
// zero bound means (use a nil *Budget for no shared bound).
func NewBudget(max int) *Budget {
	return &Budget{max: int64(max)}
}

// Reserve takes n bytes from the budget if they fit and reports whether they
// did. A refusal is counted (Refused) and takes nothing. n <= 0 always fits.
func (b *Budget) Reserve(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		h := b.held.Load()
		if h+int64(n) > b.max {
			b.refused.Add(1)
			return false
		}
		if b.held.CompareAndSwap(h, h+int64(n)) {
			return true
		}
	}
}

// Release gives back n bytes taken by Reserve. Giving back more than is held
// is a bug in the caller; the count then stops at 0 rather than going
// negative (which would let later reservations exceed the bound).
func (b *Budget) Release(n int) {
	if b == nil || n <= 0 {
		return
	}
	for {
		h := b.held.Load()
		next := max(h-int64(n), 0)
		if b.held.CompareAndSwap(h, next) {
			return
		}
	}
}

// Held is the number of bytes reserved and not yet released.
func (b *Budget) Held() int {
	if b == nil {
		return 0
	}
	return int(b.held.Load())
}

// Refused counts the reservations that did not fit, each of which dropped a
// chunked message: a figure for /debug/stats, since a healthy node should
// rarely refuse.
func (b *Budget) Refused() uint64 {
	if b == nil {
		return 0
	}
	return b.refused.Load()
}

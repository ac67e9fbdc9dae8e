package tree

import (
	"maps"
	"slices"
	"time"
)

// CallID names one media call a machine decided to place. The owner echoes
// it back (CallStarted, CallEnded) so that news of an old call is never
// taken for the current one.
type CallID uint64

// Call asks the owner to call a child (or a guest that asked us to lend)
// with our stream, generation Gen. It replaces the peer's previous call: the
// owner hangs that up first (generation C pages blank the video when an old
// call closes, and a call left open is a PeerConnection wasted on both
// sides). If the call cannot be placed the owner says so with CallEnded.
type Call struct {
	ID     CallID
	To     ConnID
	Peer   string
	Reason MediaReason
	Gen    uint64
}

// HangUp asks the owner to end a call and forget it: its peer has no data
// connection left to us.
type HangUp struct {
	ID   CallID
	Peer string
}

func (Call) isOutput()   {}
func (HangUp) isOutput() {}

// CallEnd is how a call ended, as the owner reports it.
type CallEnd int

const (
	// CallClosed: the call ended by itself (the page hung up, ICE failed,
	// nobody answered) after it was placed.
	CallClosed CallEnd = iota
	// CallNoStream: it could not be placed because the stream went away
	// between the decision and the call; it waits for the stream again.
	CallNoStream
	// CallFailed: it could not be placed (the call was refused or timed
	// out); it is not retried until the peer asks again.
	CallFailed
)

// Re-call back-off: a child whose call ended by itself while its data
// connection stayed up is called again after RecallMin, doubling per call
// that ends again within RecallHealthy, at most RecallMax apart. A call that
// lasted RecallHealthy was a good one and resets the back-off. A page whose
// call died has no way to ask for a new one but a refresh its user may
// never press.
const (
	RecallMin     = time.Second
	RecallMax     = 30 * time.Second
	RecallHealthy = 30 * time.Second
)

// calls is the media call policy every tree machine shares: which stream
// generation we can give, which call each peer holds and what it carries,
// who waits for the stream and why, and who is due to be called again. It is
// part of its machine's state (one goroutine owns both) and is keyed by peer
// id, as media calls are: a peer has at most one call from us, whatever
// number of data connections it holds during a swap.
type calls struct {
	gen   uint64 // the stream generation we can give; 0: no stream
	seq   CallID
	peers map[string]*peerCall
	// recalls counts calls placed again after ending by themselves.
	recalls uint64
}

// peerCall is one peer's media state.
type peerCall struct {
	conn ConnID // where the last request came from

	call   CallID      // the live call, 0 when none
	gen    uint64      // the generation it carries
	reason MediaReason // why it was placed
	start  time.Time

	want MediaReason // != MediaUnknown: waits for the stream

	recallDue time.Time // zero: no re-call pending
	attempts  int       // calls that ended early in a row
}

func newCalls() calls { return calls{peers: map[string]*peerCall{}} }

func (cs *calls) peer(id string, conn ConnID) *peerCall {
	p := cs.peers[id]
	if p == nil {
		p = &peerCall{}
		cs.peers[id] = p
	}
	if conn != "" {
		p.conn = conn
	}
	return p
}

// request: peer (on conn) should have our stream, for why. Without a
// stream it waits for one. A peer that asked (refresh, lend) gets a new call
// even if it has one; one that is merely joining, or that the stream's
// arrival concerns, keeps a call that already carries the current stream.
func (cs *calls) request(out *[]Output, conn ConnID, peer string, why MediaReason, now time.Time) {
	p := cs.peer(peer, conn)
	if cs.gen == 0 {
		p.want = why
		return
	}
	if p.call != 0 && p.gen == cs.gen && (why == MediaJoined || why == MediaStreamArrived) {
		return
	}
	cs.place(out, peer, p, why, now)
}

func (cs *calls) place(out *[]Output, peer string, p *peerCall, why MediaReason, now time.Time) {
	cs.seq++
	p.call, p.gen, p.reason, p.start, p.want = cs.seq, cs.gen, why, now, MediaUnknown
	*out = append(*out, Call{ID: cs.seq, To: p.conn, Peer: peer, Reason: why, Gen: cs.gen})
}

// streamChanged: the stream we can give is now generation gen (0: none).
// When a new one appears, every waiting peer is called for the reason it
// waits, and every child whose call carries an older stream is called
// again (children in the order given).
func (cs *calls) streamChanged(out *[]Output, gen uint64, children []*connState, now time.Time) {
	if gen == cs.gen {
		return
	}
	cs.gen = gen
	if gen == 0 {
		return
	}
	done := map[string]bool{}
	for _, c := range children {
		if done[c.peer] {
			continue
		}
		done[c.peer] = true
		p := cs.peer(c.peer, c.id)
		why := MediaStreamArrived
		if p.want != MediaUnknown {
			why = p.want
		} else if p.call != 0 && p.gen == gen {
			continue
		}
		cs.place(out, c.peer, p, why, now)
	}
	for _, peer := range slices.Sorted(maps.Keys(cs.peers)) {
		if p := cs.peers[peer]; !done[peer] && p.want != MediaUnknown {
			cs.place(out, peer, p, p.want, now)
		}
	}
}

// calledWithin reports whether peer holds a call placed less than d ago.
func (cs *calls) calledWithin(peer string, d time.Duration, now time.Time) bool {
	p := cs.peers[peer]
	return p != nil && p.call != 0 && now.Sub(p.start) < d
}

// waiting reports whether peer waits for the stream for why.
func (cs *calls) waiting(peer string, why MediaReason) bool {
	p := cs.peers[peer]
	return p != nil && p.want == why
}

// anyWaiting reports whether some peer waits for the stream for why.
func (cs *calls) anyWaiting(why MediaReason) bool {
	for _, p := range cs.peers {
		if p.want == why {
			return true
		}
	}
	return false
}

// unwant stops peer from waiting for why (it was told the host is not
// live); it is still called as a child when the stream arrives.
func (cs *calls) unwant(peer string, why MediaReason) {
	if p := cs.peers[peer]; p != nil && p.want == why {
		p.want = MediaUnknown
	}
}

// started: call id carries generation gen (the source may have moved on
// between the decision and the call).
func (cs *calls) started(id CallID, gen uint64) {
	for _, p := range cs.peers {
		if p.call == id {
			p.gen = gen
			return
		}
	}
}

// ended: call id is over (how). A child's call that ended by itself is
// placed again with back-off (isChild says whether peer still is one).
func (cs *calls) ended(id CallID, how CallEnd, isChild func(string) bool, now time.Time) {
	for peer, p := range cs.peers {
		if p.call != id {
			continue
		}
		p.call = 0
		switch how {
		case CallNoStream:
			p.want = p.reason
		case CallClosed:
			if isChild(peer) {
				cs.scheduleRecall(p, now)
			}
		}
		return
	}
}

// scheduleRecall sets when p, whose call ended now, is called again.
func (cs *calls) scheduleRecall(p *peerCall, now time.Time) {
	if now.Sub(p.start) >= RecallHealthy {
		p.attempts = 0
	}
	p.recallDue = now.Add(min(RecallMin<<min(p.attempts, 5), RecallMax))
	p.attempts++
}

// tick places the re-calls that are due, in peer order.
func (cs *calls) tick(out *[]Output, now time.Time) {
	for _, peer := range slices.Sorted(maps.Keys(cs.peers)) {
		p := cs.peers[peer]
		if p.recallDue.IsZero() || now.Before(p.recallDue) {
			continue
		}
		p.recallDue = time.Time{} // the back-off is kept until a healthy call
		if p.call != 0 {
			continue
		}
		cs.recalls++
		if cs.gen == 0 {
			p.want = MediaRecall
			continue
		}
		cs.place(out, peer, p, MediaRecall, now)
	}
}

// forget: peer has no data connection left; its call is hung up.
func (cs *calls) forget(out *[]Output, peer string) {
	p := cs.peers[peer]
	if p == nil {
		return
	}
	delete(cs.peers, peer)
	if p.call != 0 {
		*out = append(*out, HangUp{ID: p.call, Peer: peer})
	}
}

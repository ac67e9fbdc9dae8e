package tree

import (
	"hash/maphash"
	"maps"
	"time"
)

// ConnID names one data connection. The caller picks it (peer id plus PeerJS
// connection id); the tree binds all state to it, never to ids found inside
// messages.
type ConnID string

// RelayConfig configures a Relay. Zero values take the defaults noted.
type RelayConfig struct {
	Self string // our peer id
	Name string // our display name (default: Self)
	// Greeting chooses how the greeting marks a room map as provisional.
	Greeting GreetingStyle
	// MaxChildren caps children; 0 means unlimited.
	MaxChildren int
	// DedupeWindow and DedupeEntries bound the loop guard; 0 means 5 s and 4096.
	DedupeWindow  time.Duration
	DedupeEntries int
	// RateLimit is messages per second per child or guest, with RateBurst
	// saved up; 0 means 50/s and 500. Negative disables the limit.
	RateLimit float64
	RateBurst int
	// MaxReportNodes, MaxReportDepth and MaxReportBytes bound what a
	// child's report may claim: nodes in its subtree (the child included),
	// nesting of arrays (the report is level 1, a leaf report 2) and its
	// estimated packed size; 0 means 2000, 64 and 512 KiB. A report over a
	// bound is refused and the child's previous report stays. Our own
	// report keeps within the same bounds (see fitChildren).
	MaxReportNodes, MaxReportDepth, MaxReportBytes int
	// ReportInterval spaces out our report to the parent: at most one per
	// interval, the first change after a quiet interval at once, the rest
	// by Tick; 0 means 500 ms, negative sends every change at once.
	ReportInterval time.Duration
	// GuestTimeout closes an incoming connection that has not reported
	// this long after Opened (Tick); 0 means 30 s, negative never.
	GuestTimeout time.Duration
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.Name == "" {
		c.Name = c.Self
	}
	if c.DedupeWindow <= 0 {
		c.DedupeWindow = 5 * time.Second
	}
	if c.DedupeEntries <= 0 {
		c.DedupeEntries = 4096
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst <= 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.ReportInterval == 0 {
		c.ReportInterval = DefaultReportInterval
	}
	if c.GuestTimeout == 0 {
		c.GuestTimeout = DefaultGuestTimeout
	}
	return c
}

// searchLimit bounds how many nodes of a room map from upstream we walk
// (member lists, parent choice): maps are nested arrays from a peer.
const searchLimit = 100000

// refreshRetry is how long we wait before asking upstream again for the
// stream on behalf of newly waiting children.
const refreshRetry = 5 * time.Second

type role int

const (
	roleGuest  role = iota // incoming, has not reported yet
	roleChild              // incoming, has reported
	roleParent             // the connection we opened to our parent
)

type connState struct {
	id     ConnID
	peer   string
	role   role
	joined uint64 // join order of children
	name   string
	report Report
	cost   reportCost // of report: bounds, fingerprint
	opened time.Time  // for the guest deadline
	bucket bucket
	share  bucket          // this child's share of the upstream reserve
	logged map[Reason]bool // reasons already reported as first
	stats  ConnStats
}

// ConnStats counts one connection's messages.
type ConnStats struct {
	Accepted uint64
	Rejected map[Reason]uint64
}

// Relay is the tree logic of an audience/relay node: who our parent and
// children are, what we forward where, what we report up. It does no I/O:
// every method returns the Outputs for the caller to carry out, in order.
// It is not safe for concurrent use; one goroutine owns it.
//
// The caller calls Tick about every 250 ms (paced reports, guest deadline).
// Methods that take no time (Closed, SetName) act at the time of the latest
// event they know of (Receive, Opened, ParentOpened, Tick).
type Relay struct {
	cfg    RelayConfig
	parent *connState
	conns  map[ConnID]*connState // incoming: guests and children
	seq    uint64

	roomMap     RoomMap // last authoritative map from the parent (either MapLayout)
	provisional RoomMap // last greeting (A/B −1 members, C −1 mark), until a real map arrives

	lim    reportLimits
	seed   maphash.Seed // report fingerprints: random per node
	report coalescer    // our report to the parent
	up     upstream     // what we may send to the parent, shared among children

	// calls is who gets our stream: the live call of each peer, who waits
	// for the stream (a child that asked with type 4 while we had none is
	// the one told "not live"), who is due a re-call.
	calls   calls
	askedUp time.Time

	// upHeld keeps messages bound upstream while we have no parent (it
	// died, we are re-joining): sent to the next parent, bounded.
	upHeld []heldMsg
	// sentUp remembers what we sent up lately, so that what a parent that
	// died may never have received can be re-sent to the next one.
	sentUp []heldMsg

	dedupe *dedupe
	at     time.Time // time of the latest event (methods without a time use it)
	stats  Stats
}

type heldMsg struct {
	msg *Message // packed at most once, however often it is re-sent
	at  time.Time
}

// Messages bound upstream are held at most this many and this long while we
// have no parent: a re-join takes about a second; older chat is stale.
const (
	upHeldMax = 64
	upHeldAge = 10 * time.Second
)

// Stats are the relay's counters.
type Stats struct {
	Forwarded uint64
	// HeldDropped counts upstream-bound messages dropped while we had no
	// parent (too many, or too old when a parent came back).
	HeldDropped uint64
	// Recalls counts media calls placed again to a child whose call had
	// ended by itself while its data connection stayed up.
	Recalls  uint64
	Rejected map[Reason]uint64
}

// NewRelay returns a relay with no connections.
func NewRelay(cfg RelayConfig) *Relay {
	cfg = cfg.withDefaults()
	return &Relay{
		cfg:    cfg,
		conns:  map[ConnID]*connState{},
		calls:  newCalls(),
		lim:    newReportLimits(cfg.MaxReportNodes, cfg.MaxReportDepth, cfg.MaxReportBytes),
		seed:   maphash.MakeSeed(),
		report: coalescer{interval: cfg.ReportInterval},
		up:     newUpstream(cfg.RateLimit, cfg.RateBurst, time.Time{}),
		dedupe: newDedupe(cfg.DedupeWindow, cfg.DedupeEntries),
		stats:  Stats{Rejected: map[Reason]uint64{}},
	}
}

// clock advances the relay's notion of now (never backwards).
func (r *Relay) clock(now time.Time) {
	if now.After(r.at) {
		r.at = now
	}
}

// Stats returns a copy of the counters.
func (r *Relay) Stats() Stats { return r.stats.clone() }

// ConnStats returns a copy of one connection's counters.
func (r *Relay) ConnStats(c ConnID) (ConnStats, bool) { return r.lookup(c).statsCopy() }

// clone copies s (the caller may keep it while the owner goes on).
func (s Stats) clone() Stats {
	s.Rejected = maps.Clone(s.Rejected)
	if s.Rejected == nil {
		s.Rejected = map[Reason]uint64{}
	}
	return s
}

// statsCopy copies a connection's counters; false for no connection.
func (cs *connState) statsCopy() (ConnStats, bool) {
	if cs == nil {
		return ConnStats{}, false
	}
	out := cs.stats
	out.Rejected = maps.Clone(out.Rejected)
	if out.Rejected == nil {
		out.Rejected = map[Reason]uint64{}
	}
	return out, true
}

// RoomMap is the last authoritative room map from upstream (nil if none).
func (r *Relay) RoomMap() RoomMap { return r.roomMap }

// Children lists our children in join order.
func (r *Relay) Children() []Child {
	var kids []*connState
	for _, cs := range r.conns {
		if cs.role == roleChild {
			kids = append(kids, cs)
		}
	}
	sortByJoin(kids)
	out := make([]Child, 0, len(kids))
	for _, cs := range kids {
		out = append(out, Child{ID: cs.peer, Name: cs.name, Report: cs.report})
	}
	return out
}

// Report is our current report as we send it: the children's reports, cut
// to fit the report bounds if they must be (fitChildren).
func (r *Relay) Report() []any {
	return BuildReport(r.cfg.Self, r.cfg.Name, fitChildren(r.sortedConns(roleChild), r.cfg.Self, r.cfg.Name, r.lim))
}

func (r *Relay) lookup(c ConnID) *connState {
	if r.parent != nil && r.parent.id == c {
		return r.parent
	}
	return r.conns[c]
}

// ParentOpened records the connection to our parent and sends our report.
func (r *Relay) ParentOpened(c ConnID, peer string, now time.Time) []Output {
	r.clock(now)
	r.parent = &connState{id: c, peer: peer, role: roleParent}
	r.sentUp = nil
	var out []Output
	// A new parent needs our report at once, whatever we sent the last one,
	// and the first change after it (a child that joins as we do) too: this
	// send is ours, paced by how often we join, not by our children.
	r.report.reset()
	r.reportUp(&out)
	r.report.reset()
	for _, h := range r.upHeld {
		if now.Sub(h.at) <= upHeldAge {
			out = append(out, Send{To: []ConnID{c}, Msg: h.msg})
			r.stats.Forwarded++
		} else {
			r.stats.HeldDropped++
		}
	}
	r.upHeld = nil
	if r.calls.anyWaiting(MediaRefresh) {
		r.sendUpForced(&out, []any{int64(TypeRefresh), r.cfg.Self})
		r.askedUp = now
	}
	return out
}

// ParentClosed forgets the parent connection. Children stay: re-joining is
// the caller's decision (they are served again once a new parent opens).
func (r *Relay) ParentClosed(c ConnID) []Output {
	if r.parent != nil && r.parent.id == c {
		r.parent = nil
	}
	return nil
}

// ParentLost is ParentClosed for a parent that vanished: what we sent up
// after lastAlive (the last sign of life we had from it, e.g. its last
// media packet) may never have arrived, and goes to the next parent.
func (r *Relay) ParentLost(c ConnID, lastAlive time.Time) []Output {
	if r.parent == nil || r.parent.id != c {
		return nil
	}
	r.parent = nil
	var requeue []heldMsg
	for _, h := range r.sentUp {
		if h.at.After(lastAlive) {
			requeue = append(requeue, h)
		}
	}
	r.sentUp = nil
	r.upHeld = append(requeue, r.upHeld...)
	if n := len(r.upHeld) - upHeldMax; n > 0 {
		r.upHeld = r.upHeld[n:]
		r.stats.HeldDropped += uint64(n)
	}
	return nil
}

// Opened records a new incoming connection and greets it with a copy of the
// room map, as every page does on `open`.
func (r *Relay) Opened(c ConnID, peer string, now time.Time) []Output {
	r.clock(now)
	r.seq++
	r.conns[c] = &connState{id: c, peer: peer, role: roleGuest, joined: r.seq, opened: now,
		bucket: newBucket(r.cfg.RateLimit, r.cfg.RateBurst, now)}
	m := r.roomMap
	if m == nil {
		m = r.provisional
	}
	if m == nil {
		return nil
	}
	return []Output{sendTo(c, Greeting(m, r.cfg.Greeting))}
}

// Closed forgets an incoming connection; a child's departure is reported up.
func (r *Relay) Closed(c ConnID) []Output {
	cs, ok := r.conns[c]
	if !ok {
		return nil
	}
	delete(r.conns, c)
	var out []Output
	if !r.hasPeer(cs.peer) {
		r.calls.forget(&out, cs.peer)
	}
	if cs.role == roleChild {
		r.reportUp(&out)
	}
	return out
}

// hasPeer reports whether any connection to peer remains, the parent's
// included.
func (r *Relay) hasPeer(peer string) bool {
	return (r.parent != nil && r.parent.peer == peer) || hasPeer(r.conns, peer, roleAny)
}

// isChild reports whether peer is one of our children.
func (r *Relay) isChild(peer string) bool { return hasPeer(r.conns, peer, roleChild) }

// roleAny matches every role in hasPeer.
const roleAny role = -1

// hasPeer reports whether conns holds a connection to peer of role ro
// (roleAny: of any role).
func hasPeer(conns map[ConnID]*connState, peer string, ro role) bool {
	for _, cs := range conns {
		if cs.peer == peer && (ro == roleAny || cs.role == ro) {
			return true
		}
	}
	return false
}

// SetName changes our display name and re-reports.
func (r *Relay) SetName(name string) []Output {
	if name == "" {
		name = r.cfg.Self
	}
	if name == r.cfg.Name {
		return nil
	}
	r.cfg.Name = name
	var out []Output
	r.reportUp(&out)
	return out
}

// Tick is the relay's timer; the caller calls it about every 250 ms. It
// sends our report if it changed and was held back by ReportInterval, and
// closes guests past GuestTimeout (a Reject, First once, then CloseConn):
// a connection that only reads the room map is not meant to stay.
func (r *Relay) Tick(now time.Time) []Output {
	r.clock(now)
	var out []Output
	r.flushReport(&out)
	expireGuests(&out, r.conns, r.cfg.GuestTimeout, now, &r.stats)
	r.calls.tick(&out, now)
	r.stats.Recalls = r.calls.recalls
	return out
}

// StreamChanged tells the tree which stream we can give children: gen is
// the source's generation (it changes with the stream's tracks or codecs),
// 0 or ready false for none. When a new one appears, every child whose call
// carries an older one, and every peer waiting for it, gets a Call.
func (r *Relay) StreamChanged(ready bool, gen uint64, now time.Time) []Output {
	r.clock(now)
	if !ready {
		gen = 0
	}
	var out []Output
	r.calls.streamChanged(&out, gen, r.sortedConns(roleChild), now)
	return out
}

// hasStream reports whether we have a stream to give.
func (r *Relay) hasStream() bool { return r.calls.gen != 0 }

// CallStarted: the owner placed call id, which carries generation gen.
func (r *Relay) CallStarted(id CallID, gen uint64) { r.calls.started(id, gen) }

// CallEnded: call id is over. A child whose call ended by itself is called
// again, with back-off (RecallMin ... RecallMax), from Tick.
func (r *Relay) CallEnded(id CallID, how CallEnd, now time.Time) []Output {
	r.clock(now)
	r.calls.ended(id, how, r.isChild, now)
	return nil
}

// Receive routes one decoded message that arrived on connection c.
func (r *Relay) Receive(c ConnID, v any, now time.Time) []Output {
	cs := r.lookup(c)
	if cs == nil {
		return nil
	}
	r.clock(now)
	var out []Output
	if cs.role != roleParent && !cs.bucket.allow(now) {
		r.reject(&out, cs, RejectRate, "")
		return out
	}
	a, isArray := v.([]any)
	typ, ok := Type(v)
	if !isArray || !ok {
		r.reject(&out, cs, RejectMalformed, "not a typed array")
		return out
	}
	switch typ {
	case TypeChat:
		r.flood(&out, cs, NewMessage(Chat(a).ForwardedBy(r.cfg.Self)))
	case TypeTree:
		r.onTree(&out, cs, a, now)
	case TypeLend:
		r.onLend(&out, cs)
	case TypeLeaving:
		if cs.role != roleParent {
			r.reject(&out, cs, RejectUnexpected, "type 3 from below")
			break
		}
		// Never forwarded: C children close their parent (us) on it.
		out = append(out, ParentNotice{Msg: a})
		cs.stats.Accepted++
	case TypeRefresh:
		r.onRefresh(&out, cs, a, now)
	case TypeHostBye:
		r.onFive(&out, cs, a)
	default:
		// Game messages (6–8) and anything newer: flooded like chat,
		// unchanged, with the loop guard.
		r.flood(&out, cs, NewMessage(a))
	}
	return out
}

// flood sends msg to the parent and every child except the link it came
// on, in one Send: the bytes the loop guard packed are the bytes sent.
func (r *Relay) flood(out *[]Output, from *connState, msg *Message) {
	if from.role == roleGuest {
		r.reject(out, from, RejectNotChild, "")
		return
	}
	if !r.firstTime(out, from, msg) {
		return
	}
	if from.role == roleChild && !r.up.admit(from, r.countRole(roleChild), r.at) {
		// Dropped, not only kept from the parent: passed down alone it
		// would reach part of the tree, and siblings would pay for the
		// flood they cannot see the end of. The flooder pays alone.
		r.reject(out, from, RejectUpstreamShare, "")
		return
	}
	from.stats.Accepted++
	to := make([]ConnID, 0, 1+len(r.conns))
	switch {
	case r.parent != nil && r.parent != from:
		to = append(to, r.parent.id)
		if len(r.sentUp) == upHeldMax {
			r.sentUp = r.sentUp[1:]
		}
		r.sentUp = append(r.sentUp, heldMsg{msg, r.at})
	case r.parent == nil && from.role == roleChild:
		if len(r.upHeld) == upHeldMax {
			r.upHeld = r.upHeld[1:]
			r.stats.HeldDropped++
		}
		r.upHeld = append(r.upHeld, heldMsg{msg, r.at})
	}
	r.forward(out, msg, appendIDs(to, r.sortedConns(roleChild), from))
}

// forward sends msg to the connections to (if any), counted as forwarded.
func (r *Relay) forward(out *[]Output, msg *Message, to []ConnID) {
	if len(to) == 0 {
		return
	}
	*out = append(*out, Send{To: to, Msg: msg})
	r.stats.Forwarded += uint64(len(to))
}

func (r *Relay) onTree(out *[]Output, cs *connState, a []any, now time.Time) {
	mark := num(a, 1, -99)
	switch {
	case cs.role == roleParent && mark == MarkRoomMap && RoomMap(a).Authoritative():
		msg := NewMessage(a)
		if !r.firstTime(out, cs, msg) {
			return
		}
		cs.stats.Accepted++
		r.roomMap = a
		r.provisional = nil
		r.forward(out, msg, appendIDs(nil, r.sortedConns(roleChild), nil))
	case cs.role == roleParent && (mark == MarkRoomMap || mark == MarkProvisional):
		// A greeting: keep it only until the real map arrives; never forward.
		cs.stats.Accepted++
		if r.roomMap == nil {
			r.provisional = a
		}
	case cs.role != roleParent && mark == MarkReport:
		r.onReport(out, cs, Report(a))
	case cs.role != roleParent && (mark == MarkRoomMap || mark == MarkProvisional):
		// The pages accept maps from children and push them to siblings:
		// any child could rewrite everyone's view of the room.
		r.reject(out, cs, RejectFromBelow, "room map from a child")
	default:
		r.reject(out, cs, RejectUnexpected, "type 1 with unknown mark")
	}
}

func (r *Relay) onReport(out *[]Output, cs *connState, rep Report) {
	if rep.ID() != cs.peer {
		r.reject(out, cs, RejectImpostor, "report [4]="+clip(rep.ID())+" on the connection of "+cs.peer)
		return
	}
	parent := ""
	if r.parent != nil {
		parent = r.parent.peer
	}
	// One walk: bounds, cycle (we or our parent in the subtree), packability.
	w := newWalker(r.seed, r.lim, r.cfg.Self, parent)
	cost, ok := w.walkReport(rep)
	if !ok {
		r.reject(out, cs, w.why, w.detail)
		return
	}
	first := cs.role == roleGuest
	if !first && cost.sum == cs.cost.sum {
		cs.stats.Accepted++ // the same report again: nothing changed
		return
	}
	if first && r.cfg.MaxChildren > 0 && r.countRole(roleChild) >= r.cfg.MaxChildren {
		r.reject(out, cs, RejectTooManyChildren, "")
		*out = append(*out, CloseConn{Conn: cs.id, Reason: RejectTooManyChildren})
		return
	}
	cs.stats.Accepted++
	cs.role = roleChild
	cs.name = rep.Name()
	cs.report = rep
	cs.cost = cost
	if first {
		// The pages call a child on its first report.
		r.calls.request(out, cs.id, cs.peer, MediaJoined, r.at)
	}
	r.reportUp(out)
}

// reportUp notes that our report changed and sends it if the interval
// allows; otherwise Tick will.
func (r *Relay) reportUp(out *[]Output) {
	r.report.mark()
	r.flushReport(out)
}

// flushReport sends our report if it changed and may go now. Without a
// parent it stays pending: ParentOpened sends it.
func (r *Relay) flushReport(out *[]Output) {
	if r.parent == nil || !r.report.due(r.at) {
		return
	}
	r.sendUpForced(out, r.Report())
}

// sendUpForced sends what may not be refused (our report, type 4) to the
// parent, counted against the upstream budget.
func (r *Relay) sendUpForced(out *[]Output, msg []any) {
	r.up.force(r.at)
	*out = append(*out, sendTo(r.parent.id, msg))
}

func (r *Relay) onLend(out *[]Output, cs *connState) {
	if cs.role == roleParent {
		r.reject(out, cs, RejectUnexpected, "type 2 from the parent")
		return
	}
	cs.stats.Accepted++
	// The pages ask a human to confirm; a relay lends what it relays. The
	// requester is the connection's peer, whatever [1] claims.
	r.calls.request(out, cs.id, cs.peer, MediaLend, r.at)
}

func (r *Relay) onRefresh(out *[]Output, cs *connState, a []any, now time.Time) {
	if cs.role == roleParent {
		cs.stats.Accepted++
		if x := at(a, 1); x == nil || isZero(x) {
			// [4] or [4, 0]: the host is not live. Tell every waiting child,
			// in the form both A/B ("any 4") and C ("[4, 0]") read that way.
			for _, c := range r.sortedConns(roleChild) {
				if r.calls.waiting(c.peer, MediaRefresh) {
					*out = append(*out, sendTo(c.id, []any{int64(TypeRefresh), int64(0)}))
					r.calls.unwant(c.peer, MediaRefresh)
				}
			}
			return
		}
		// [4, id] from the parent (C): a new upstream stream. Ask for it;
		// children are re-fed by us when it arrives, not told to ask.
		r.sendUpForced(out, []any{int64(TypeRefresh), r.cfg.Self})
		*out = append(*out, UpstreamChanged{})
		r.askedUp = now
		return
	}
	if cs.role != roleChild {
		r.reject(out, cs, RejectNotChild, "")
		return
	}
	cs.stats.Accepted++
	r.calls.request(out, cs.id, cs.peer, MediaRefresh, now)
	if r.hasStream() {
		return
	}
	if r.parent != nil && (r.askedUp.IsZero() || now.Sub(r.askedUp) >= refreshRetry) {
		r.sendUpForced(out, []any{int64(TypeRefresh), r.cfg.Self})
		r.askedUp = now
	}
}

func (r *Relay) onFive(out *[]Output, cs *connState, a []any) {
	sub, hasSub := asInt(at(a, 1))
	sub2, _ := asInt(at(a, 2))
	down := !hasSub || sub == 1 || (sub == 2 && sub2 == 1) // bare [5], join ok, leave ok
	up := hasSub && (sub == 0 || sub == 3 || (sub == 2 && sub2 == 0))
	switch {
	case cs.role == roleParent && down:
		msg := NewMessage(a)
		if !r.firstTime(out, cs, msg) {
			return
		}
		cs.stats.Accepted++
		if !hasSub {
			*out = append(*out, ParentNotice{Msg: a})
		}
		r.forward(out, msg, appendIDs(nil, r.sortedConns(roleChild), nil))
	case cs.role == roleChild && up:
		msg := NewMessage(a)
		if !r.firstTime(out, cs, msg) {
			return
		}
		if !r.up.admit(cs, r.countRole(roleChild), r.at) {
			r.reject(out, cs, RejectUpstreamShare, "")
			return
		}
		cs.stats.Accepted++
		if r.parent != nil {
			r.forward(out, msg, []ConnID{r.parent.id})
		}
	case cs.role == roleGuest:
		r.reject(out, cs, RejectNotChild, "")
	default:
		r.reject(out, cs, RejectUnexpected, "type 5 in the wrong direction")
	}
}

// firstTime applies the loop guard, counting a duplicate against from.
func (r *Relay) firstTime(out *[]Output, from *connState, msg *Message) bool {
	if r.dedupe.firstTime(msg, r.at) {
		return true
	}
	r.reject(out, from, RejectDuplicate, "")
	return false
}

func (r *Relay) reject(out *[]Output, cs *connState, why Reason, detail string) {
	*out = append(*out, cs.reject(&r.stats, why, detail))
}

// reject counts a dropped message against the node and the connection.
func (cs *connState) reject(total *Stats, why Reason, detail string) Reject {
	total.Rejected[why]++
	if cs.stats.Rejected == nil {
		cs.stats.Rejected = map[Reason]uint64{}
	}
	cs.stats.Rejected[why]++
	if cs.logged == nil {
		cs.logged = map[Reason]bool{}
	}
	first := !cs.logged[why]
	cs.logged[why] = true
	return Reject{Conn: cs.id, Peer: cs.peer, Reason: why, Detail: detail, First: first}
}

func (r *Relay) countRole(ro role) int {
	n := 0
	for _, cs := range r.conns {
		if cs.role == ro {
			n++
		}
	}
	return n
}

// appendIDs appends the ids of cs, but for except, to to.
func appendIDs(to []ConnID, cs []*connState, except *connState) []ConnID {
	if to == nil {
		to = make([]ConnID, 0, len(cs))
	}
	for _, c := range cs {
		if c != except {
			to = append(to, c.id)
		}
	}
	return to
}

func (r *Relay) sortedConns(ro role) []*connState {
	out := make([]*connState, 0, len(r.conns))
	for _, cs := range r.conns {
		if cs.role == ro {
			out = append(out, cs)
		}
	}
	sortByJoin(out)
	return out
}

func isZero(v any) bool {
	n, ok := asInt(v)
	return ok && n == 0
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Leave is what a relay that is going away tells its children: [3, Self, 0,
// false], on which a page with "Automatic Reconnection" (the default) closes
// its connection to us and re-joins the room from the host's map, and one of
// our own relays moves before we go. Generation A/B pages read it the same
// way. After Leave, new children are not welcome (the caller refuses them).
func (r *Relay) Leave() []Output {
	to := appendIDs(nil, r.sortedConns(roleChild), nil)
	if len(to) == 0 {
		return nil
	}
	return []Output{Send{To: to, Msg: NewMessage([]any{int64(TypeLeaving), r.cfg.Self, int64(0), false})}}
}

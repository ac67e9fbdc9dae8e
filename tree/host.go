package tree

import (
	"hash/maphash"
	"reflect"
	"time"
)

// HostConfig configures a Host. Zero values take the defaults noted.
type HostConfig struct {
	Self string // our peer id
	Name string // our display name, the map's [8] (default: Self, as A pages; C pages say "undefined_Name")

	// The room: title [4], summary [5], cover [6] (a URL, a data URL or
	// nil) and type [3] (0 live, 1 FiveOnline game).
	Title, Summary string
	Cover          any
	RoomType       int
	// RootID is the map's [10] until a root connection opens: the index
	// root we register with, "" for a private room.
	RootID string

	// NoStreamNotice leaves out C's stream-start notice [4, Self] to the
	// children (StreamChanged). A/B children read any type 4 from their
	// parent as "host is not live" and pop an alert; C children need the
	// notice to pass the new stream further down.
	NoStreamNotice bool

	// MaxChildren caps children; 0 means unlimited.
	MaxChildren int
	// RateLimit, RateBurst, DedupeWindow and DedupeEntries as for the relay.
	RateLimit     float64
	RateBurst     int
	DedupeWindow  time.Duration
	DedupeEntries int
	// MaxReportNodes, MaxReportDepth, MaxReportBytes and GuestTimeout as
	// for the relay. The room map's host report keeps within the same
	// bounds (fitChildren), so the index root, which applies them too,
	// never refuses our registration.
	MaxReportNodes, MaxReportDepth, MaxReportBytes int
	GuestTimeout                                   time.Duration
	// ReportInterval spaces out room map rebuilds and broadcasts: at most
	// one per interval, the first change after a quiet interval at once,
	// the rest from Tick; 0 means 500 ms, negative every change at once.
	ReportInterval time.Duration
}

func (c HostConfig) withDefaults() HostConfig {
	r := RelayConfig{Self: c.Self, Name: c.Name, DedupeWindow: c.DedupeWindow, DedupeEntries: c.DedupeEntries,
		RateLimit: c.RateLimit, RateBurst: c.RateBurst, ReportInterval: c.ReportInterval, GuestTimeout: c.GuestTimeout}.withDefaults()
	c.Name, c.DedupeWindow, c.DedupeEntries, c.RateLimit, c.RateBurst = r.Name, r.DedupeWindow, r.DedupeEntries, r.RateLimit, r.RateBurst
	c.ReportInterval, c.GuestTimeout = r.ReportInterval, r.GuestTimeout
	return c
}

// mediaCoalesce: a refresh from a child this soon after we asked the media
// layer to call it is the same request again (a C child answers the
// stream-start notice with [4, ownId] twice, and a call takes a moment).
const mediaCoalesce = 2 * time.Second

// notLiveEvery: we answer "not live" to one connection at most this often.
// A C relay passes our [4, 0] down as [4], which its waiting child reads as
// "new stream" and asks again: without this the pages ping-pong about 65
// times a second until the host goes live (docs/protocol.md §9.1), and the rate
// limit would then start dropping that child's reports.
const notLiveEvery = 2 * time.Second

// ChatReceived is a chat message from a child, for local display: Msg is the
// message as it arrived ([1] is the hop, [2] the author's name, [3] the text).
type ChatReceived struct {
	Conn ConnID
	Peer string
	Msg  Chat
}

func (ChatReceived) isOutput() {}

// Host is the tree logic of a room's host, the root of the room's tree: it
// builds the room map from its children's reports, greets every connection
// with it, sends it down and to the index root on every change, floods chat,
// and decides who gets the stream. Like Relay it does no I/O: every method
// returns the Outputs for the caller to carry out, in order. It is not safe
// for concurrent use; one goroutine owns it.
//
// Where the page generations differ it speaks like C (the current pages):
// the greeting is the unmodified map, the map has the conference field [11]
// (false), "not live" is [4, 0], and a stream start is announced with
// [4, Self] (see HostConfig.NoStreamNotice).
//
// The caller calls Tick about every 250 ms (paced room maps, guest
// deadline). Methods that take no time (Closed, SetName, SetRoomInfo) act at
// the time of the latest event they know of.
type Host struct {
	cfg   HostConfig
	conns map[ConnID]*connState // incoming: guests and children
	root  *connState            // our connection to the index root
	seq   uint64

	rootID  string
	roomMap RoomMap  // rebuilt on every change sent, never mutated once handed out
	mapMsg  *Message // roomMap as sent: packed once for every greeting and broadcast of it

	lim       reportLimits
	seed      maphash.Seed // report fingerprints: random per node
	pace      coalescer    // room map rebuilds and broadcasts
	rootFirst bool         // order of the pending broadcast (the page's: root first after a report)
	now       time.Time    // time of the latest event (methods without a time use it)

	// calls is who gets our stream (calls.go); a refresh within
	// mediaCoalesce of a peer's call is not served again.
	calls   calls
	notLive map[ConnID]time.Time // last [4, 0] per connection

	dedupe *dedupe
	stats  Stats
}

// NewHost returns a host with no connections and its initial room map.
func NewHost(cfg HostConfig) *Host {
	cfg = cfg.withDefaults()
	h := &Host{
		cfg:     cfg,
		conns:   map[ConnID]*connState{},
		rootID:  cfg.RootID,
		calls:   newCalls(),
		notLive: map[ConnID]time.Time{},
		lim:     newReportLimits(cfg.MaxReportNodes, cfg.MaxReportDepth, cfg.MaxReportBytes),
		seed:    maphash.MakeSeed(),
		pace:    coalescer{interval: cfg.ReportInterval},
		dedupe:  newDedupe(cfg.DedupeWindow, cfg.DedupeEntries),
		stats:   Stats{Rejected: map[Reason]uint64{}},
	}
	h.rebuild()
	return h
}

// clock advances the host's notion of now (never backwards).
func (h *Host) clock(now time.Time) {
	if now.After(h.now) {
		h.now = now
	}
}

// Tick is the host's timer; the caller calls it about every 250 ms. It
// sends the room map if it changed and was held back by ReportInterval, and
// closes guests past GuestTimeout (a Reject, First once, then CloseConn).
func (h *Host) Tick(now time.Time) []Output {
	h.clock(now)
	var out []Output
	h.flushMap(&out)
	n := len(out)
	expireGuests(&out, h.conns, h.cfg.GuestTimeout, now, &h.stats)
	for _, o := range out[n:] {
		if c, ok := o.(CloseConn); ok {
			delete(h.notLive, c.Conn)
		}
	}
	h.calls.tick(&out, now)
	h.stats.Recalls = h.calls.recalls
	return out
}

// RoomMap is the current room map, as last sent (or about to be, from Tick).
func (h *Host) RoomMap() RoomMap { return h.roomMap }

// Streaming reports whether we have a stream to give.
func (h *Host) Streaming() bool { return h.calls.gen != 0 }

// Children lists our children in the order of their first report.
func (h *Host) Children() []Child {
	kids := h.sortedChildren()
	out := make([]Child, 0, len(kids))
	for _, cs := range kids {
		out = append(out, Child{ID: cs.peer, Name: cs.name, Report: cs.report})
	}
	return out
}

// Stats returns a copy of the counters.
func (h *Host) Stats() Stats { return h.stats.clone() }

// ConnStats returns a copy of one connection's counters.
func (h *Host) ConnStats(c ConnID) (ConnStats, bool) { return h.lookup(c).statsCopy() }

func (h *Host) lookup(c ConnID) *connState {
	if h.root != nil && h.root.id == c {
		return h.root
	}
	return h.conns[c]
}

// Opened records a new incoming connection and greets it with the room map,
// unmodified, as the C host page does (A/B hosts set [2] to −1 first; A/B
// pages read the unmodified map just as well).
func (h *Host) Opened(c ConnID, peer string, now time.Time) []Output {
	h.clock(now)
	h.conns[c] = &connState{id: c, peer: peer, role: roleGuest, opened: now,
		bucket: newBucket(h.cfg.RateLimit, h.cfg.RateBurst, now)}
	return []Output{Send{To: []ConnID{c}, Msg: h.mapMsg}}
}

// Closed forgets a connection. When a child leaves, the new map goes to the
// children and then to the index root, in the host page's order.
func (h *Host) Closed(c ConnID) []Output {
	if h.root != nil && h.root.id == c {
		return h.ParentClosed(c)
	}
	cs, ok := h.conns[c]
	if !ok {
		return nil
	}
	delete(h.conns, c)
	delete(h.notLive, c)
	var out []Output
	if !h.hasPeer(cs.peer) {
		h.calls.forget(&out, cs.peer)
	}
	if cs.role == roleChild {
		h.changed(&out, false)
	}
	return out
}

// hasPeer reports whether any incoming connection to peer remains.
func (h *Host) hasPeer(peer string) bool { return hasPeer(h.conns, peer, roleAny) }

// isChild reports whether peer is one of our children.
func (h *Host) isChild(peer string) bool { return hasPeer(h.conns, peer, roleChild) }

// ParentOpened records our connection upstream, which for a host is the
// index root, and registers the room: the map with [10] set to the root's
// id.
func (h *Host) ParentOpened(c ConnID, peer string, now time.Time) []Output {
	h.clock(now)
	h.root = &connState{id: c, peer: peer, role: roleParent}
	h.rootID = peer
	// Like the page, the children learn the new [10] with the next change.
	// (A pending change goes to everyone from Tick, as it would have.)
	h.rebuild()
	return []Output{Send{To: []ConnID{c}, Msg: h.mapMsg}}
}

// ParentLost is ParentClosed: the index root keeps nothing of ours to
// re-send.
func (h *Host) ParentLost(c ConnID, _ time.Time) []Output { return h.ParentClosed(c) }

// ParentClosed forgets the index root connection. The map keeps the root's
// id, as the page's does.
func (h *Host) ParentClosed(c ConnID) []Output {
	if h.root != nil && h.root.id == c {
		h.root = nil
	}
	return nil
}

// SetName changes our display name ([8] and our report's [5]).
func (h *Host) SetName(name string) []Output {
	if name == "" {
		name = h.cfg.Self
	}
	if name == h.cfg.Name {
		return nil
	}
	h.cfg.Name = name
	var out []Output
	h.changed(&out, false)
	return out
}

// SetRoomInfo changes the title, summary and cover.
func (h *Host) SetRoomInfo(title, summary string, cover any) []Output {
	// An operator's call, not a peer's: comparing the cover (maybe a 1 MiB
	// data URL) here is cheap enough.
	if title == h.cfg.Title && summary == h.cfg.Summary && reflect.DeepEqual(cover, h.cfg.Cover) {
		return nil
	}
	h.cfg.Title, h.cfg.Summary, h.cfg.Cover = title, summary, cover
	var out []Output
	h.changed(&out, false)
	return out
}

// changed notes that the room map must be rebuilt and sent, and does it now
// if the interval allows (otherwise Tick will). rootFirst is the page's
// order: after a report the index root first, after other changes last.
func (h *Host) changed(out *[]Output, rootFirst bool) {
	h.pace.mark()
	h.rootFirst = rootFirst
	h.flushMap(out)
}

// flushMap rebuilds and sends the room map if it changed and may go now.
func (h *Host) flushMap(out *[]Output) {
	if !h.pace.due(h.now) {
		return
	}
	h.rebuild()
	h.sendMap(out, h.rootFirst)
}

// StreamChanged tells the host which stream it has: gen is the source's
// generation (it changes with the stream's tracks or codecs), 0 or ready
// false for none. When a new one starts, each child whose call carries an
// older one gets a Call, and, as C hosts do, the notice [4, Self], which
// makes C relays ask for the new stream for their own children.
func (h *Host) StreamChanged(ready bool, gen uint64, now time.Time) []Output {
	h.clock(now)
	if !ready {
		gen = 0
	}
	if gen == h.calls.gen {
		return nil
	}
	clear(h.notLive)
	kids := h.sortedChildren()
	var out []Output
	if to := appendIDs(nil, kids, nil); gen != 0 && !h.cfg.NoStreamNotice && len(to) > 0 {
		out = append(out, Send{To: to, Msg: NewMessage([]any{int64(TypeRefresh), h.cfg.Self})})
	}
	h.calls.streamChanged(&out, gen, kids, now)
	return out
}

// CallStarted: the owner placed call id, which carries generation gen.
func (h *Host) CallStarted(id CallID, gen uint64) { h.calls.started(id, gen) }

// CallEnded: call id is over. A child whose call ended by itself is called
// again, with back-off (RecallMin ... RecallMax), from Tick.
func (h *Host) CallEnded(id CallID, how CallEnd, now time.Time) []Output {
	h.clock(now)
	h.calls.ended(id, how, h.isChild, now)
	return nil
}

// Chat authors a chat message [0, Self, name, text, image, ""] and sends it
// to every child. Like the page, it needs a text or an image.
func (h *Host) Chat(name, text string, image any, now time.Time) []Output {
	if text == "" && (image == nil || image == "") {
		return nil
	}
	h.clock(now)
	msg := NewMessage([]any{int64(TypeChat), h.cfg.Self, name, text, image, ""})
	h.dedupe.firstTime(msg, now) // so it is not flooded again if it comes back
	if to := appendIDs(nil, h.sortedChildren(), nil); len(to) > 0 {
		return []Output{Send{To: to, Msg: msg}}
	}
	return nil
}

// Leave says goodbye as the host page does on unload: a bare [5] to every
// child. The caller then closes the connections.
func (h *Host) Leave() []Output {
	if to := appendIDs(nil, h.sortedChildren(), nil); len(to) > 0 {
		return []Output{Send{To: to, Msg: NewMessage([]any{int64(TypeHostBye)})}}
	}
	return nil
}

// Receive handles one decoded message that arrived on connection c.
func (h *Host) Receive(c ConnID, v any, now time.Time) []Output {
	cs := h.lookup(c)
	if cs == nil {
		return nil
	}
	h.clock(now)
	if cs == h.root {
		// The index root sends its room list; the host page ignores it.
		cs.stats.Accepted++
		return nil
	}
	var out []Output
	if !cs.bucket.allow(now) {
		h.reject(&out, cs, RejectRate, "")
		return out
	}
	a, isArray := v.([]any)
	typ, ok := Type(v)
	if !isArray || !ok {
		h.reject(&out, cs, RejectMalformed, "not a typed array")
		return out
	}
	switch typ {
	case TypeChat:
		h.onChat(&out, cs, a, now)
	case TypeTree:
		switch mark := num(a, 1, -99); mark {
		case MarkReport:
			h.onReport(&out, cs, Report(a), now)
		case MarkRoomMap, MarkProvisional:
			// The host page would file it as a child's report under the
			// map's title; nobody may send the host a room map.
			h.reject(&out, cs, RejectFromBelow, "room map sent to the host")
		default:
			h.reject(&out, cs, RejectUnexpected, "type 1 with unknown mark")
		}
	case TypeLend:
		// The page asks a human; we lend when we have something to lend,
		// to the connection's peer, whatever [1] claims.
		cs.stats.Accepted++
		if h.Streaming() {
			h.calls.request(&out, cs.id, cs.peer, MediaLend, now)
		}
	case TypeRefresh:
		h.onRefresh(&out, cs, a, now)
	case TypeHostBye:
		// Conference (C) is off in our maps ([11] = false); the C host page
		// would take a join request as switching it on.
		h.reject(&out, cs, RejectUnexpected, "type 5: no conference here")
	default:
		// Type 3 (only ever sent down), games (6–8) and newer types: the
		// host page logs them as unknown.
		h.reject(&out, cs, RejectUnexpected, "type not handled by a host")
	}
	return out
}

func (h *Host) onChat(out *[]Output, cs *connState, a []any, now time.Time) {
	if cs.role != roleChild {
		h.reject(out, cs, RejectNotChild, "")
		return
	}
	// Keyed as we forward it: the bytes hashed are the bytes sent.
	msg := NewMessage(Chat(a).ForwardedBy(h.cfg.Self))
	if !h.dedupe.firstTime(msg, now) {
		h.reject(out, cs, RejectDuplicate, "")
		return
	}
	cs.stats.Accepted++
	if to := appendIDs(nil, h.sortedChildren(), cs); len(to) > 0 {
		*out = append(*out, Send{To: to, Msg: msg})
		h.stats.Forwarded += uint64(len(to))
	}
	*out = append(*out, ChatReceived{Conn: cs.id, Peer: cs.peer, Msg: Chat(a)})
}

func (h *Host) onReport(out *[]Output, cs *connState, rep Report, now time.Time) {
	if rep.ID() != cs.peer {
		h.reject(out, cs, RejectImpostor, "report [4]="+clip(rep.ID())+" on the connection of "+cs.peer)
		return
	}
	// One walk: bounds, cycle (we in the subtree), packability. The report
	// goes into the map everybody gets: one value that does not pack (JS
	// sends ±Infinity and NaN, we cannot) would make the map unsendable
	// for the whole room; the depth bound keeps it packable inside the
	// index root's room list.
	w := newWalker(h.seed, h.lim, h.cfg.Self)
	cost, ok := w.walkReport(rep)
	if !ok {
		h.reject(out, cs, w.why, w.detail)
		return
	}
	first := cs.role == roleGuest
	if !first && cost.sum == cs.cost.sum {
		cs.stats.Accepted++ // the same report again: nothing changed
		return
	}
	if first && h.cfg.MaxChildren > 0 && len(h.sortedChildren()) >= h.cfg.MaxChildren {
		h.reject(out, cs, RejectTooManyChildren, "")
		*out = append(*out, CloseConn{Conn: cs.id, Reason: RejectTooManyChildren})
		return
	}
	cs.stats.Accepted++
	if first {
		h.seq++
		cs.joined = h.seq // the page lists children in the order of their first report
		for _, old := range h.conns {
			if old != cs && old.role == roleChild && old.peer == cs.peer {
				// The same peer on a new connection: the old one is stale.
				// Keep its place in the report, as the page does.
				old.role = roleGuest
				cs.joined = old.joined
			}
		}
	}
	cs.role = roleChild
	cs.name = rep.Name()
	cs.report = rep
	cs.cost = cost
	if first && h.Streaming() {
		// The host page calls a child with its stream on its first report.
		h.calls.request(out, cs.id, cs.peer, MediaJoined, now)
	}
	h.changed(out, true)
}

func (h *Host) onRefresh(out *[]Output, cs *connState, a []any, now time.Time) {
	if cs.role != roleChild {
		h.reject(out, cs, RejectNotChild, "")
		return
	}
	if x := at(a, 1); x == nil || isZero(x) {
		h.reject(out, cs, RejectUnexpected, "type 4 \"not live\" sent to the host")
		return
	}
	cs.stats.Accepted++
	// [1] names the requester; we serve the connection's peer.
	if h.Streaming() {
		if h.calls.calledWithin(cs.peer, mediaCoalesce, now) {
			return
		}
		h.calls.request(out, cs.id, cs.peer, MediaRefresh, now)
		return
	}
	if t, ok := h.notLive[cs.id]; ok && now.Sub(t) < notLiveEvery {
		return
	}
	h.notLive[cs.id] = now
	// C's "not live"; A/B children read any type 4 from the parent that way.
	*out = append(*out, sendTo(cs.id, []any{int64(TypeRefresh), int64(0)}))
}

// rebuild makes the room map from scratch. The pages rebuild on every
// report and re-send even an unchanged map; we rebuild and send only on a
// change (a map carries the whole tree and maybe a 1 MiB cover), and at most
// once per ReportInterval. The host report keeps within the report bounds
// (fitChildren): the index root refuses a larger one.
func (h *Host) rebuild() {
	rep := BuildReport(h.cfg.Self, h.cfg.Name, fitChildren(h.sortedChildren(), h.cfg.Self, h.cfg.Name, h.lim))
	rep[1] = int64(MarkRoomMap) // the host's own report carries mark 1
	limit := searchLimit
	members := memberIDs(rep, nil, &limit)
	members = append(members, h.cfg.Self)
	m := RoomMap{int64(TypeTree), int64(MarkRoomMap), members, int64(h.cfg.RoomType),
		h.cfg.Title, h.cfg.Summary, h.cfg.Cover, h.cfg.Self, h.cfg.Name, rep, h.rootID,
		false} // [11] conference: off (C); A/B pages ignore it
	h.roomMap = m
	h.mapMsg = NewMessage([]any(m))
}

// memberIDs lists the ids in a report's subtree as the pages' room map does:
// at each level the ids of the triples, then each child's subtree in turn.
// Like the pages it skips a triple whose report is not an array with a child
// count, but still walks into it. At most *limit reports are walked.
func memberIDs(rep Report, ids []any, limit *int) []any {
	if *limit <= 0 {
		return ids
	}
	*limit--
	for i := repFirstChild; i+2 < len(rep); i += 3 {
		id, _ := rep[i].(string)
		sub, _ := rep[i+2].([]any)
		if id != "" && len(sub) > repCount {
			ids = append(ids, id)
		}
	}
	for i := repFirstChild + 2; i < len(rep); i += 3 {
		if sub, ok := rep[i].([]any); ok {
			ids = memberIDs(sub, ids, limit)
		}
	}
	if ids == nil {
		ids = []any{}
	}
	return ids
}

// sendMap sends the map to the index root and every child in one Send (the
// map is packed once). The host page registers first on a report and last
// on other changes.
func (h *Host) sendMap(out *[]Output, rootFirst bool) {
	kids := h.sortedChildren()
	to := make([]ConnID, 0, 1+len(kids))
	if rootFirst && h.root != nil {
		to = append(to, h.root.id)
	}
	to = appendIDs(to, kids, nil)
	if !rootFirst && h.root != nil {
		to = append(to, h.root.id)
	}
	if len(to) > 0 {
		*out = append(*out, Send{To: to, Msg: h.mapMsg})
	}
}

func (h *Host) sortedChildren() []*connState {
	out := make([]*connState, 0, len(h.conns))
	for _, cs := range h.conns {
		if cs.role == roleChild {
			out = append(out, cs)
		}
	}
	sortByJoin(out)
	return out
}

func (h *Host) reject(out *[]Output, cs *connState, why Reason, detail string) {
	*out = append(*out, cs.reject(&h.stats, why, detail))
}

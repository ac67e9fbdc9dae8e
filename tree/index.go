package tree

import (
	"hash/maphash"
	"strconv"
	"time"
)

// IndexConfig configures an Index. Zero values take the defaults noted.
type IndexConfig struct {
	// RoomTimeout drops a room whose host connection has been unreachable
	// (ICE disconnected, no data) this long, without waiting for ICE to fail;
	// 0 means 10 s. Quiet rooms are kept: hosts send only on change.
	RoomTimeout time.Duration
	// MaxRooms bounds the list; 0 means 1000.
	MaxRooms int
	// RateLimit and RateBurst per connection, as for the relay.
	RateLimit float64
	RateBurst int
	// MaxReportNodes, MaxReportDepth and MaxReportBytes bound a registered
	// room map as they bound a report at a relay (0: 2000, 64, 512 KiB):
	// its host report [9] in nodes, nesting and size, its member list [2]
	// in ids and size, and everything else but the cover [6] (a data URL
	// of up to 1 MiB, bounded by the message size) in size. The list goes
	// to every index page on each change: without bounds one registration
	// would be the amplification that a report is at a relay.
	MaxReportNodes, MaxReportDepth, MaxReportBytes int
}

// Index is the index root's logic: the room list the index pages show. Like
// the index page that owns the well-known id, it sends the list (a bare array
// of room maps) to every connection on open and after every change, and
// accepts a host's room map only from the host itself (C's rule: [7] must be
// the sender's id). It is not safe for concurrent use.
type Index struct {
	cfg   IndexConfig
	conns map[ConnID]*indexConn
	rooms []*room // in registration order
	seq   uint64
	lim   reportLimits
	seed  maphash.Seed
	stats Stats
}

type indexConn struct {
	state     connState
	host      bool
	downSince time.Time // zero while the link is up
}

type room struct {
	host ConnID
	m    RoomMap
}

// NewIndex returns an empty index.
func NewIndex(cfg IndexConfig) *Index {
	if cfg.RoomTimeout <= 0 {
		cfg.RoomTimeout = DefaultRoomTimeout
	}
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = 1000
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 50
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 500
	}
	return &Index{cfg: cfg, conns: map[ConnID]*indexConn{}, stats: Stats{Rejected: map[Reason]uint64{}},
		lim: newReportLimits(cfg.MaxReportNodes, cfg.MaxReportDepth, cfg.MaxReportBytes), seed: maphash.MakeSeed()}
}

// List is the room list as sent: a bare array of room maps.
func (x *Index) List() []any {
	out := make([]any, 0, len(x.rooms))
	for _, r := range x.rooms {
		out = append(out, []any(r.m))
	}
	return out
}

// Stats returns a copy of the counters.
func (x *Index) Stats() Stats { return x.stats.clone() }

// Opened sends the list to a new connection.
func (x *Index) Opened(c ConnID, peer string, now time.Time) []Output {
	x.seq++
	x.conns[c] = &indexConn{state: connState{id: c, peer: peer, joined: x.seq, bucket: newBucket(x.cfg.RateLimit, x.cfg.RateBurst, now)}}
	return []Output{sendTo(c, x.List())}
}

// Closed forgets a connection and the rooms it hosted.
func (x *Index) Closed(c ConnID) []Output {
	if _, ok := x.conns[c]; !ok {
		return nil
	}
	delete(x.conns, c)
	if x.dropRooms(func(r *room) bool { return r.host == c }) {
		return x.broadcast()
	}
	return nil
}

// LinkState tells the index whether a connection's transport is up (ICE
// connected) or down (disconnected); rooms of hosts down past RoomTimeout go.
func (x *Index) LinkState(c ConnID, up bool, now time.Time) {
	ic, ok := x.conns[c]
	if !ok {
		return
	}
	switch {
	case up:
		ic.downSince = time.Time{}
	case ic.downSince.IsZero():
		ic.downSince = now
	}
}

// Tick drops rooms whose host has been unreachable too long.
func (x *Index) Tick(now time.Time) []Output {
	dropped := x.dropRooms(func(r *room) bool {
		ic := x.conns[r.host]
		return ic == nil || (!ic.downSince.IsZero() && now.Sub(ic.downSince) >= x.cfg.RoomTimeout)
	})
	if dropped {
		return x.broadcast()
	}
	return nil
}

// Receive handles a message from an index client or a host.
func (x *Index) Receive(c ConnID, v any, now time.Time) []Output {
	ic, ok := x.conns[c]
	if !ok {
		return nil
	}
	cs := &ic.state
	var out []Output
	if !cs.bucket.allow(now) {
		x.reject(&out, cs, RejectRate, "")
		return out
	}
	a, isArray := v.([]any)
	typ, ok := Type(v)
	if !isArray || !ok {
		x.reject(&out, cs, RejectMalformed, "not a typed array")
		return out
	}
	if typ != TypeTree || num(a, 1, -99) != MarkRoomMap {
		// Chat and everything else is for rooms, not for the index.
		x.reject(&out, cs, RejectUnexpected, "index takes room maps only")
		return out
	}
	m := RoomMap(a)
	if m.Layout() == LayoutSingle {
		// Single pages never register; index pages cannot read this layout.
		x.reject(&out, cs, RejectUnexpected, "a single page's map is not a room")
		return out
	}
	if m.HostID() != cs.peer {
		x.reject(&out, cs, RejectNotHost, "room map [7]="+clip(m.HostID())+" from "+cs.peer)
		return out
	}
	if why, detail := x.checkMap(m); why != RejectUnknown {
		x.reject(&out, cs, why, detail)
		return out
	}
	cs.stats.Accepted++
	ic.host = true
	found := false
	for _, r := range x.rooms {
		if r.m.HostID() == m.HostID() {
			r.m, r.host, found = m, c, true
			break
		}
	}
	if !found {
		if len(x.rooms) >= x.cfg.MaxRooms {
			x.reject(&out, cs, RejectUnexpected, "room list full")
			return out
		}
		x.rooms = append(x.rooms, &room{host: c, m: m})
	}
	return append(out, x.broadcast()...)
}

// checkMap applies the report bounds to a room map; RejectUnknown means it
// is within them. Each walk stops at its first fault.
func (x *Index) checkMap(m RoomMap) (Reason, string) {
	if rep, ok := at(m, mapReport).([]any); ok {
		// Measured as at a relay, from [9] itself: a Go host fits [9]
		// into the same bounds (fitChildren), so it is never refused.
		w := newWalker(x.seed, x.lim)
		if _, ok := w.walkReport(rep); !ok {
			return w.why, "host report: " + w.detail
		}
	}
	if mems, ok := at(m, mapMembers).([]any); ok && len(mems) > x.lim.nodes+1 {
		return RejectReportTooBig, "member list of " + strconv.Itoa(len(mems)) + " ids"
	}
	// The rest, as plain values (the member list included), within one
	// more MaxReportBytes; the cover is left to the message size.
	w := newWalker(x.seed, x.lim)
	for i, v := range m {
		if i == mapReport || i == 6 {
			continue
		}
		if !w.value(v, 2) {
			return w.why, "room map: " + w.detail
		}
	}
	return RejectUnknown, ""
}

// broadcast sends the list to every connection that is not a room host, in
// one Send: the list (every room's map) is packed once.
func (x *Index) broadcast() []Output {
	var to []ConnID
	for _, ic := range x.sorted() {
		if !ic.host {
			to = append(to, ic.state.id)
		}
	}
	if len(to) == 0 {
		return nil
	}
	x.stats.Forwarded += uint64(len(to))
	return []Output{Send{To: to, Msg: NewMessage(x.List())}}
}

func (x *Index) dropRooms(drop func(*room) bool) bool {
	kept := x.rooms[:0]
	for _, r := range x.rooms {
		if !drop(r) {
			kept = append(kept, r)
		}
	}
	changed := len(kept) != len(x.rooms)
	clear(x.rooms[len(kept):])
	x.rooms = kept
	return changed
}

func (x *Index) sorted() []*indexConn {
	cs := make([]*connState, 0, len(x.conns))
	byState := make(map[*connState]*indexConn, len(x.conns))
	for _, ic := range x.conns {
		cs = append(cs, &ic.state)
		byState[&ic.state] = ic
	}
	sortByJoin(cs)
	out := make([]*indexConn, len(cs))
	for i, s := range cs {
		out[i] = byState[s]
	}
	return out
}

func (x *Index) reject(out *[]Output, cs *connState, why Reason, detail string) {
	*out = append(*out, cs.reject(&x.stats, why, detail))
}

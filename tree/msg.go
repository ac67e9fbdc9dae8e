package tree

import (
	"math"
	"slices"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// The P2P-Live-web messages. Every message is a JS array whose index 0 is
// the type, except the index root's room list (a bare array of room maps).
// Field layouts, as the pages build them (all generations unless noted):
//
//	0 chat        [0, lastHop, name, text, image|null, icon|""]
//	              lastHop is rewritten to the sender's id on every hop.
//	1 report      [1, 0, childCount, [], ownId, ownName, [], (childId, childName, childReport)*]
//	1 room map    [1, 1, memberIds, roomType, title, summary, cover, hostId, hostName,
//	               hostReport, rootId, conference(C only)]
//	1 greeting    a copy of the room map sent on every new incoming connection,
//	              marked provisional: [2] = -1 (generations A/B) or [1] = -1 (C)
//	1 single map  the single-file page's room map (protocol notes §12): the
//	              root's own report with [1] = 1 and [3] = the member ids,
//	              [1, 1, childCount, memberIds, rootId, rootName, [], (childId, childName, childReport)*]
//	              memberIds excludes the root; see MapLayout.
//	2 lend        [2, requesterId, requesterName]   "call me with your stream"
//	3 leaving     [3, originId, hops, keepFirmly]   "I am changing/leaving my parent"
//	4 refresh     up:   [4, requesterId]            "call me with the stream"
//	              down: [4] or [4, 0] "host not live"; [4, id≠0] (C) "new stream, ask again"
//	5 host gone   [5] (A/B/C host unload, ignored by pages);
//	  conference  (C) [5, 0, seat] join ↑, [5, 1, seat] ↓, [5, 2, 0, i, id] leave ↑,
//	              [5, 2, 1, i, id] ↓, [5, 3, i, streamId, icon, name] info ↑
//	6,7,8 game    FiveOnline game messages (room type 1)
const (
	TypeChat    = 0
	TypeTree    = 1
	TypeLend    = 2
	TypeLeaving = 3
	TypeRefresh = 4
	TypeHostBye = 5
)

// Source marks at index 1 of a type-1 message.
const (
	MarkReport      = 0  // a node's report travelling up
	MarkRoomMap     = 1  // the host's authoritative room map
	MarkProvisional = -1 // generation C greeting: a relay's copy, not from the host
)

// Room map indexes.
const (
	mapMembers  = 2
	mapRoomType = 3
	mapTitle    = 4
	mapHostID   = 7
	mapHostName = 8
	mapReport   = 9
	mapRootID   = 10
)

// Report indexes.
const (
	repCount      = 2
	repID         = 4
	repName       = 5
	repFirstChild = 7
)

// Type returns the message type of v, if v is an array starting with an
// integer. JS sends every number as a double, so 1.0 is type 1.
func Type(v any) (int64, bool) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return 0, false
	}
	return asInt(a[0])
}

// asInt reads an integral number.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

// at returns a[i], or nil when the array is too short (the pages drop
// trailing fields freely).
func at(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// str returns a[i] if it is a string.
func str(a []any, i int) string {
	s, _ := at(a, i).(string)
	return s
}

// num returns a[i] as an integer, or def.
func num(a []any, i int, def int64) int64 {
	if n, ok := asInt(at(a, i)); ok {
		return n
	}
	return def
}

// withField returns a copy of a with a[i] = v (extending with nils if short).
// The copy is shallow: nested values are shared, never mutated.
func withField(a []any, i int, v any) []any {
	n := max(len(a), i+1)
	out := make([]any, n)
	copy(out, a)
	out[i] = v
	return out
}

// Report is a node report [1, 0, count, [], id, name, [], triples...].
type Report []any

// ID is the reporting node's id ([4]).
func (r Report) ID() string { return str(r, repID) }

// Name is its display name ([5]).
func (r Report) Name() string { return str(r, repName) }

// Child is one (id, name, report) triple of a report.
type Child struct {
	ID, Name string
	Report   Report
}

// Children returns the triples of the report, skipping malformed ones.
func (r Report) Children() []Child {
	var out []Child
	for i := repFirstChild; i < len(r); i += 3 {
		id, _ := at(r, i).(string)
		name, _ := at(r, i+1).(string)
		sub, _ := at(r, i+2).([]any)
		if id == "" {
			continue
		}
		out = append(out, Child{ID: id, Name: name, Report: Report(sub)})
	}
	return out
}

// BuildReport makes our own report: [1, 0, count, [], id, name, [], triples...].
func BuildReport(id, name string, children []Child) []any {
	out := make([]any, 0, repFirstChild+3*len(children))
	out = append(out, int64(TypeTree), int64(MarkReport), int64(len(children)), []any{}, id, name, []any{})
	for _, c := range children {
		out = append(out, c.ID, c.Name, []any(c.Report))
	}
	return out
}

// Single-page map indexes (the root's report with [1] = 1, [3] = members).
const (
	singleCount   = 2 // the root's child count (a number, where room maps hold the member list)
	singleMembers = 3 // every member id but the root's
	singleRootID  = 4
	singleUnused  = 6 // always [] (room maps hold the cover here: a string or null)
)

// RoomMap is a room map: a host's [1, 1, members, type, title, summary,
// cover, hostId, hostName, hostReport, rootId, conference?], or a single
// page's root report with [1] = 1 (MapLayout). The accessors read either.
type RoomMap []any

// MapLayout is which of the two room-map layouts a type-1 message has. The
// room pages (host, audience, index) build the §2.2 map; the single-file
// page (SingleP2PLiveVersion.html, §12) sends its root's own report with
// [1] = 1 as the map. Both start [1, 1, …], so a node that reads only the
// room layout takes the single map for a greeting (its [2] is not an id
// list) and never passes it down.
type MapLayout int

// Room map layouts.
const (
	LayoutUnknown MapLayout = iota // not a type-1 array
	LayoutRoom                     // the room pages' map (and their greetings)
	LayoutSingle                   // the single page's map
)

var layoutNames = []string{"unknown", "room", "single"}

func (l MapLayout) String() string {
	if int(l) >= 0 && int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return "unknown"
}

// ParseMapLayout is the inverse of String.
func ParseMapLayout(s string) MapLayout {
	if i := slices.Index(layoutNames, s); i >= 0 {
		return MapLayout(i)
	}
	return LayoutUnknown
}

// Layout tells the layouts apart. A single map is [1, 1, n ≥ 0, [ids…],
// "rootId", name, [], …]: the unused array at [6] is what no room map has
// (its cover is a string or null there), and n ≥ 0 is what no A/B greeting
// has ([2] = −1), even when an A/B host's room type at [3] is briefly an id
// list (quirk). Single pages never mark their map provisional, so a −1 at
// [1] is always a room-page greeting.
func (m RoomMap) Layout() MapLayout {
	if typ, ok := Type([]any(m)); !ok || typ != TypeTree {
		return LayoutUnknown
	}
	if num(m, 1, 0) != MarkRoomMap {
		return LayoutRoom
	}
	n, isNum := asInt(at(m, singleCount))
	_, members := at(m, singleMembers).([]any)
	_, unused := at(m, singleUnused).([]any)
	if isNum && n >= 0 && members && unused && str(m, singleRootID) != "" {
		return LayoutSingle
	}
	return LayoutRoom
}

// HostID is the room's host: [7], or the root's id [4] in a single map.
func (m RoomMap) HostID() string {
	if m.Layout() == LayoutSingle {
		return str(m, singleRootID)
	}
	return str(m, mapHostID)
}

// Title is [4] (a single map has no title: "").
func (m RoomMap) Title() string {
	if m.Layout() == LayoutSingle {
		return ""
	}
	return str(m, mapTitle)
}

// Members is every id in the room, host (root) last: [2] when it is an id
// list (not the −1 greeting mark), or a single map's [3] plus its root.
func (m RoomMap) Members() ([]string, bool) {
	single := m.Layout() == LayoutSingle
	idx := mapMembers
	if single {
		idx = singleMembers
	}
	a, ok := at(m, idx).([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(a)+1)
	for _, v := range a {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	if single {
		out = append(out, str(m, singleRootID))
	}
	return out, true
}

// HostReport is [9], or the whole single map: it is its root's report.
func (m RoomMap) HostReport() Report {
	if m.Layout() == LayoutSingle {
		return Report(m)
	}
	a, _ := at(m, mapReport).([]any)
	return Report(a)
}

// Authoritative reports whether m is a host's complete map: mark 1 and a
// member list (A/B greetings carry −1 in place of the list, C greetings
// mark −1 at index 1). Every single map is: single pages send no greeting.
func (m RoomMap) Authoritative() bool {
	if num(m, 1, 0) != MarkRoomMap {
		return false
	}
	_, ok := m.Members()
	return ok
}

// GreetingStyle is how a greeting marks the room map as provisional.
type GreetingStyle int

const (
	// GreetAB sets index 2 (the member list) to −1, like generation A/B
	// pages. C pages read such a map as a normal map with an unknown member
	// list; A/B pages read an index-1 mark as a report, so this is the default.
	GreetAB GreetingStyle = iota
	// GreetC sets index 1 (the source mark) to −1, like generation C pages.
	GreetC
)

// Greeting returns the greeting copy of a stored room map. The stored map is
// never touched (the pages mutate their own copy: quirk).
//
// A single map goes out unchanged, whatever the style: single pages send
// no greeting of their own, store every [1] == 1 map from their parent as
// the room's (and pass it to their children), and drop [1] == −1. Marked
// either way the greeting would be useless (C style: dropped) or harmful
// (A/B style: [2] is the root's child count, which the page's auto-join
// compares; a −1 there sent every re-join to the root and showed members
// as −1); unchanged, the new page holds the root's latest map at once.
func Greeting(m RoomMap, style GreetingStyle) []any {
	if m.Layout() == LayoutSingle {
		return m
	}
	if style == GreetC {
		return withField(m, 1, int64(MarkProvisional))
	}
	return withField(m, mapMembers, int64(-1))
}

// Chat is a chat message [0, lastHop, name, text, image, icon].
type Chat []any

// Hop is [1]: who sent it on this link.
func (c Chat) Hop() string { return str(c, 1) }

// Name is the author's display name.
func (c Chat) Name() string { return str(c, 2) }

// Text is the message text.
func (c Chat) Text() string { return str(c, 3) }

// ForwardedBy returns the copy we forward: [1] set to our id, all else as is.
func (c Chat) ForwardedBy(self string) []any { return withField(c, 1, self) }

// isMap reports whether v is a BinaryPack map (the pages never send one).
func isMap(v any) bool { _, ok := v.(binarypack.Map); return ok }

package tree

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Single-file page trees (SingleP2PLiveVersion.html, protocol notes §12).
// There are no captures of that page in testdata; the messages below are
// built as the page builds them, from the notes and a reading of the page:
// a node's report is [1, 0, count, [], id, name, [], triples…] (its [3]
// holds member ids after a child left, see the replay), and the root's
// room map is its own report with [1] = 1 and [3] = the ids of every member
// but the root, listed level by level within each subtree.

// sRep is a single page's report, as it sends it up.
func sRep(id, name string, kids ...[]any) []any {
	out := []any{int64(1), int64(0), int64(len(kids)), []any{}, id, name, []any{}}
	for _, k := range kids {
		out = append(out, k[repID], k[repName], k)
	}
	return out
}

// sMap is the root's room map: its report with [1] = 1 and [3] = members.
func sMap(rootID, rootName string, members []string, kids ...[]any) []any {
	m := sRep(rootID, rootName, kids...)
	ids := make([]any, len(members))
	for i, s := range members {
		ids[i] = s
	}
	m[1], m[3] = int64(1), ids
	return m
}

func TestMapLayout(t *testing.T) {
	single := sMap("R", "Root", []string{"M", "B"}, sRep("M", "mid", sRep("B", "B")))
	tests := []struct {
		name string
		m    []any
		want MapLayout
	}{
		{"room map", roomMap, LayoutRoom},
		{"A/B greeting", withField(roomMap, mapMembers, int64(-1)), LayoutRoom},
		{"A/B greeting, room type an id list (quirk)", withField(withField(roomMap, mapMembers, int64(-1)), mapRoomType, []any{"R"}), LayoutRoom},
		{"C greeting", withField(roomMap, 1, int64(-1)), LayoutRoom},
		{"room map without cover", withField(roomMap, 6, nil), LayoutRoom},
		{"single map", single, LayoutSingle},
		{"single map of a root alone", sMap("R", "Root", nil), LayoutSingle},
		{"single map with JS doubles", withField(withField(single, 1, 1.0), 2, 1.0), LayoutSingle},
		{"single map marked -1 at [2] (our old greeting)", withField(single, 2, int64(-1)), LayoutRoom},
		{"single map without a root id", withField(single, 4, ""), LayoutRoom},
		{"a report", sRep("M", "mid"), LayoutRoom},
		{"chat", chatFromB, LayoutUnknown},
		{"nothing", nil, LayoutUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RoomMap(tt.m).Layout(); got != tt.want {
				t.Fatalf("Layout = %v, want %v", got, tt.want)
			}
		})
	}
	for _, l := range []MapLayout{LayoutUnknown, LayoutRoom, LayoutSingle} {
		if ParseMapLayout(l.String()) != l {
			t.Errorf("ParseMapLayout(%q) = %v", l.String(), ParseMapLayout(l.String()))
		}
	}
	if MapLayout(99).String() != "unknown" || ParseMapLayout("bogus") != LayoutUnknown {
		t.Error("out-of-range layouts are not unknown")
	}
}

func TestSingleMapAccessors(t *testing.T) {
	m := RoomMap(sMap("R", "Root", []string{"M", "X", "B"}, sRep("M", "mid", sRep("B", "B")), sRep("X", "x")))
	if m.HostID() != "R" || m.Title() != "" || !m.Authoritative() {
		t.Fatalf("host %q title %q authoritative %v", m.HostID(), m.Title(), m.Authoritative())
	}
	if mem, ok := m.Members(); !ok || !reflect.DeepEqual(mem, []string{"M", "X", "B", "R"}) {
		t.Fatalf("members %v %v", mem, ok)
	}
	if hr := m.HostReport(); hr.ID() != "R" || len(hr.Children()) != 2 || hr.Children()[0].Report.Children()[0].ID != "B" {
		t.Fatalf("host report %v", describeJSON(hr))
	}
	// The room layout reads as before.
	rm := RoomMap(roomMap)
	if rm.HostID() != "H" || rm.Title() != "My room" || rm.HostReport().ID() != "H" {
		t.Fatalf("room map: host %q title %q", rm.HostID(), rm.Title())
	}
	if mem, _ := rm.Members(); !reflect.DeepEqual(mem, []string{"R", "B", "H"}) {
		t.Fatalf("room members %v", mem)
	}
	// Greetings: a single map goes out unchanged in both styles (the page
	// drops [1] = -1, and [2] is its child count); room maps are marked.
	for _, style := range []GreetingStyle{GreetAB, GreetC} {
		if g := Greeting(m, style); !reflect.DeepEqual(g, []any(m)) {
			t.Errorf("style %d: single greeting %v", style, describeJSON(g))
		}
	}
	if g := Greeting(rm, GreetAB); num(g, mapMembers, 0) != -1 {
		t.Errorf("room greeting (A/B) %v", describeJSON(g))
	}
	if g := Greeting(rm, GreetC); num(g, 1, 0) != -1 {
		t.Errorf("room greeting (C) %v", describeJSON(g))
	}
}

func TestChooseParentSingle(t *testing.T) {
	leaf := func(id string) []any { return sRep(id, id) }
	full := func(id string, kids ...[]any) []any { // 3 children: full for a single page
		for len(kids) < SingleChildLimit {
			kids = append(kids, leaf(id+"-leaf"+string(rune('a'+len(kids)))))
		}
		return sRep(id, id, kids...)
	}
	tests := []struct {
		name  string
		kids  [][]any // the root R's children
		avoid []string
		want  string
		ok    bool
	}{
		{"root with room", [][]any{sRep("M", "M", leaf("me"))}, []string{"me", "M"}, "R", true},
		{"root with 2 children has room", [][]any{leaf("A"), leaf("B")}, []string{"me"}, "R", true},
		{"root full at 3: shallowest with room", [][]any{full("A"), leaf("B"), leaf("C")}, []string{"me"}, "B", true},
		{"the lost parent's subtree is skipped", [][]any{sRep("M", "M", leaf("me"), leaf("x"), leaf("y")), full("A"), leaf("C")}, []string{"me", "M"}, "C", true},
		{"our own subtree is skipped", [][]any{full("me"), full("A", leaf("deep")), full("B")}, []string{"me"}, "deep", true},
		{"everything full or avoided", [][]any{full("me"), full("A"), full("B")}, []string{"me", "A", "B"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := RoomMap(sMap("R", "Root", nil, tt.kids...))
			got, ok := ChooseParent(m, tt.avoid...)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ChooseParent = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	// The room layout keeps its limit of 4.
	if got, _ := ChooseParent(roomMapOf(rep("H", rep("A"), rep("B"), rep("C")))); got != "H" {
		t.Fatalf("room map with 3 host children: %q", got)
	}
}

// TestIndexRefusesSingleMap: a single page's map is not a room the index
// pages could list.
func TestIndexRefusesSingleMap(t *testing.T) {
	x := NewIndex(IndexConfig{})
	x.Opened("R/dc", "R", t0)
	out := x.Receive("R/dc", sMap("R", "Root", nil), t0)
	if rs := rejects(out); !reflect.DeepEqual(rs, []Reason{RejectUnexpected}) || len(sends(out)) != 0 {
		t.Fatalf("outputs %v", out)
	}
}

// singleStep is one event at the middle node M of a single-page tree
// (root R → M → leaves B, C; G a guest), with what a single page in M's
// place sends and calls, and what our relay does instead where it differs.
type singleStep struct {
	name string
	do   func(r *Relay, now time.Time) []Output
	// page: what the single page sends, in order; calls: whom it calls.
	page  []sent
	calls []string
	// ours, when not nil, replaces page: a deliberate difference (why).
	ours []sent
	why  string
}

// TestReplaySingle stands our relay where a middle single page stood and
// plays it the messages a single-page tree sends it; it must send what the
// page sends, message for message and byte for byte, apart from the
// deliberate differences noted at each step.
func TestReplaySingle(t *testing.T) {
	const up, toB, toC, toG = ConnID("R/dc"), ConnID("B/dc"), ConnID("C/dc"), ConnID("G/dc")
	repM0 := sRep("M", "mid")
	repB := sRep("B", "Bob")
	repC := sRep("C", "Cy")
	repM1 := sRep("M", "mid", repB)
	repM2 := sRep("M", "mid", repB, repC)
	map1 := sMap("R", "Root", []string{"M"}, repM0)
	map2 := sMap("R", "Root", []string{"M", "B"}, repM1)
	map3 := sMap("R", "Root", []string{"M", "B", "C"}, repM2)
	map4 := sMap("R", "Root", []string{"M", "B"}, repM1)
	// After C left, the page's report carries the ids of its stale room map
	// at [3] (its close handler fills [3] whether or not it is the root).
	pageRepM1 := withField(repM1, 3, []any{"M", "B", "C"})
	renamed := sRep("M", "middle", repB)
	recv := func(c ConnID, v any) func(*Relay, time.Time) []Output {
		return func(r *Relay, now time.Time) []Output { return r.Receive(c, v, now) }
	}
	steps := []singleStep{
		{name: "parent opens: our report",
			do:   func(r *Relay, now time.Time) []Output { return r.ParentOpened(up, "R", now) },
			page: []sent{{up, repM0}}},
		{name: "the root's map (we are its child): stored, nobody to pass it to",
			do: recv(up, map1)},
		{name: "B connects",
			do:   func(r *Relay, now time.Time) []Output { return r.Opened(toB, "B", now) },
			ours: []sent{{toB, map1}}, why: "the page greets nobody; we greet with the root's map, unchanged"},
		{name: "B reports: called, our report up",
			do: recv(toB, repB), page: []sent{{up, repM1}}, calls: []string{"B"}},
		{name: "the root's new map goes down unchanged",
			do: recv(up, map2), page: []sent{{toB, map2}}},
		{name: "C connects",
			do:   func(r *Relay, now time.Time) []Output { return r.Opened(toC, "C", now) },
			ours: []sent{{toC, map2}}, why: "greeting, as for B"},
		{name: "C reports",
			do: recv(toC, repC), page: []sent{{up, repM2}}, calls: []string{"C"}},
		{name: "the root's map with C",
			do: recv(up, map3), page: []sent{{toB, map3}, {toC, map3}}},
		{name: "five-field chat from B: up and to C, [1] = our id",
			do:   recv(toB, []any{int64(0), "B", "Bob", "hi from B", nil}),
			page: []sent{{up, []any{int64(0), "M", "Bob", "hi from B", nil}}, {toC, []any{int64(0), "M", "Bob", "hi from B", nil}}}},
		{name: "five-field chat from the root: to both leaves",
			do:   recv(up, []any{int64(0), "R", "Root", "hello", nil}),
			page: []sent{{toB, []any{int64(0), "M", "Root", "hello", nil}}, {toC, []any{int64(0), "M", "Root", "hello", nil}}}},
		{name: "B asks for the stream (type 4), we have none: ask up",
			do: recv(toB, []any{int64(4), "B"}), page: []sent{{up, []any{int64(4), "M"}}}},
		{name: "the root is not live: [4]",
			do: recv(up, []any{int64(4)}), page: []sent{{toB, []any{int64(4)}}},
			ours: []sent{{toB, []any{int64(4), int64(0)}}}, why: "[4, 0] reads as not live in every page generation; a bare [4] makes C pages ask again"},
		{name: "a guest G connects",
			do:   func(r *Relay, now time.Time) []Output { return r.Opened(toG, "G", now) },
			ours: []sent{{toG, map3}}, why: "greeting"},
		{name: "G asks to borrow the stream (type 2): called",
			do: recv(toG, []any{int64(2), "G", "Guest"}), calls: []string{"G"}},
		{name: "C leaves: our report up",
			do:   func(r *Relay, now time.Time) []Output { return r.Closed(toC) },
			page: []sent{{up, pageRepM1}},
			ours: []sent{{up, repM1}}, why: "[3] of a report is unused ([] in every page); the root rebuilds the member list from the triples"},
		{name: "the root's map without C",
			do: recv(up, map4), page: []sent{{toB, map4}}},
		{name: "renamed: our report up",
			do:   func(r *Relay, now time.Time) []Output { return r.SetName("middle") },
			page: []sent{{up, withField(renamed, 3, []any{"M", "B", "C"})}},
			ours: []sent{{up, renamed}}, why: "[3], as above"},
		{name: "the parent changes its parent (type 3)",
			do:   recv(up, []any{int64(3), "R", int64(0), false}),
			page: []sent{{toB, []any{int64(3), "R", int64(1), false}}},
			ours: []sent{}, why: "never forwarded: the node moves by itself (ParentNotice); the page would close its parent and send its children away"},
	}
	r := NewRelay(RelayConfig{Self: "M", Name: "mid"})
	now := t0
	for i, st := range steps {
		now = now.Add(10 * time.Second) // past every dedupe window and report interval
		waited := map[string]bool{}
		for peer := range r.calls.peers {
			waited[peer] = r.calls.waiting(peer, MediaJoined) || r.calls.waiting(peer, MediaLend)
		}
		out := st.do(r, now)
		got := sentOf(out)
		// The page calls with whatever stream it has; we have none here, so
		// a peer the page calls waits for our stream (calls.go) instead.
		var calls []string
		for _, peer := range slices.Sorted(maps.Keys(r.calls.peers)) {
			if !waited[peer] && (r.calls.waiting(peer, MediaJoined) || r.calls.waiting(peer, MediaLend)) {
				calls = append(calls, peer)
			}
		}
		for _, o := range out {
			switch o := o.(type) {
			case Call:
				calls = append(calls, o.Peer)
			case Reject:
				t.Errorf("step %d (%s): rejected %v %s", i, st.name, o.Reason, o.Detail)
			}
		}
		want := st.page
		if st.ours != nil {
			want = st.ours
		}
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("step %d (%s): we sent %s\nwant %s", i, st.name, pendingString(got), pendingString(want))
		}
		if !reflect.DeepEqual(calls, st.calls) {
			t.Fatalf("step %d (%s): we called %v, the page calls %v", i, st.name, calls, st.calls)
		}
	}
	if !reflect.DeepEqual([]any(r.RoomMap()), map4) {
		t.Fatalf("stored map %s", describeJSON(r.RoomMap()))
	}
	if id, ok := ChooseParent(r.RoomMap(), "M", "R"); ok {
		t.Fatalf("with the root lost there is nowhere to go, got %q", id)
	}
}

// TestSingleMapFromBelow: like room maps, a single map from a child is not
// passed to its siblings (the page would).
func TestSingleMapFromBelow(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	g.child("B")
	out := g.from("A", sMap("A", "fake", nil))
	if rs := rejects(out); !reflect.DeepEqual(rs, []Reason{RejectFromBelow}) || len(sends(out)) != 0 {
		t.Fatalf("outputs %v", out)
	}
}

package tree

import (
	"fmt"
	"hash/maphash"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wide is a report of id with n leaf children (n+1 nodes).
func wide(id string, n int) []any {
	kids := make([]Child, n)
	for i := range kids {
		cid := fmt.Sprintf("%s-%06d", id, i)
		kids[i] = Child{ID: cid, Name: cid, Report: Report(leaf(cid))}
	}
	return BuildReport(id, id+"-name", kids)
}

// chain is a report of id with a chain of n descendants (nests n+2 deep).
func chain(id string, n int) []any {
	rep := leaf("X")
	for range n {
		rep = []any{int64(1), int64(0), int64(1), []any{}, "X", "x", []any{}, "Y", "y", rep}
	}
	rep = withField(rep, repID, id)
	return rep
}

func fat(id string, bytes int) []any {
	return withField(leaf(id), 3, []any{strings.Repeat("x", bytes)})
}

// TestReportBounds: a report over a bound is refused (counted, First once
// per connection and reason), nothing is sent, and the child's previous
// report stays in effect, at a relay and at a host.
func TestReportBounds(t *testing.T) {
	cases := []struct {
		name string
		rep  []any
		want Reason
	}{
		{"nodes", wide("A", DefaultMaxReportNodes), RejectReportTooBig},
		{"depth", chain("A", DefaultMaxReportDepth-1), RejectReportTooDeep},
		{"bytes", fat("A", DefaultMaxReportBytes), RejectReportTooBig},
		{"100,000 fake nodes", wide("A", 100000), RejectReportTooBig},
	}
	within := [][]any{wide("A", DefaultMaxReportNodes-1), chain("A", DefaultMaxReportDepth-2), fat("A", DefaultMaxReportBytes-200)}
	for _, tc := range cases {
		t.Run("relay/"+tc.name, func(t *testing.T) {
			g := newRig(t, RelayConfig{})
			g.parent()
			g.child("A")
			before := g.r.Children()
			for i := range 3 {
				out := g.from("A", tc.rep)
				if len(out) != 1 || !reflect.DeepEqual(rejects(out), []Reason{tc.want}) || out[0].(Reject).First != (i == 0) {
					t.Fatalf("try %d: %v", i, out)
				}
			}
			if st, _ := g.r.ConnStats("A/dc"); st.Rejected[tc.want] != 3 {
				t.Fatalf("not counted: %+v", st)
			}
			if !reflect.DeepEqual(g.r.Children(), before) {
				t.Fatal("the previous report was replaced")
			}
		})
		t.Run("host/"+tc.name, func(t *testing.T) {
			g := newHostRig(t, HostConfig{})
			g.child("A")
			before := g.h.RoomMap()
			out := g.from("A", tc.rep)
			if len(out) != 1 || !reflect.DeepEqual(rejects(out), []Reason{tc.want}) || !out[0].(Reject).First {
				t.Fatalf("%v", out)
			}
			g.later()
			if !reflect.DeepEqual(g.h.RoomMap(), before) {
				t.Fatal("the map changed")
			}
		})
	}
	for i, rep := range within {
		g := newRig(t, RelayConfig{})
		g.parent()
		g.open("A")
		if rs := rejects(g.from("A", rep)); len(rs) != 0 {
			t.Fatalf("within bounds %d: %v", i, rs)
		}
	}
}

// TestHostileReportWalkStops: the walk of a 100,000-node report stops at
// the bound, not at the end of the claim.
func TestHostileReportWalkStops(t *testing.T) {
	lim := newReportLimits(0, 0, 0)
	w := newWalker(maphash.MakeSeed(), lim, "R")
	cost, ok := w.walkReport(wide("A", 100000))
	if ok || w.why != RejectReportTooBig || cost.nodes != lim.nodes+1 {
		t.Fatalf("ok %v, why %v, walked %d nodes", ok, w.why, cost.nodes)
	}
	// A 1 MB string is refused on its length, before it is hashed.
	w = newWalker(maphash.MakeSeed(), lim)
	if _, ok := w.walkReport(fat("A", 1<<20)); ok || w.why != RejectReportTooBig {
		t.Fatalf("fat report: %v %v", ok, w.why)
	}
}

// TestWalkEstimateMatchesFit: the size fitChildren counts for our own report
// is the size the parent's walk finds in it, so a parent with the same bounds
// never refuses what we fitted.
func TestWalkEstimateMatchesFit(t *testing.T) {
	g := newRig(t, RelayConfig{MaxReportNodes: 300, MaxReportBytes: 40000})
	g.parent()
	for i, rep := range [][]any{wide("A", 150), wide("B", 120), fat("C", 3000), chain("D", 5), wide("E", 100)} {
		g.open(string(rune('A' + i)))
		if rs := rejects(g.from(string(rune('A'+i)), rep)); len(rs) != 0 {
			t.Fatalf("report %d: %v", i, rs)
		}
	}
	ours := g.r.Report()
	w := newWalker(maphash.MakeSeed(), g.r.lim)
	cost, ok := w.walkReport(ours)
	if !ok {
		t.Fatalf("our report is over our own bounds: %v %s", w.why, w.detail)
	}
	// A (151 nodes) and B (121) do not fit together with the rest: the
	// largest, A, is cut to a leaf; everyone stays in the report.
	kids := Report(ours).Children()
	if len(kids) != 5 || len(kids[0].Report) != repFirstChild || len(kids[1].Report.Children()) != 120 {
		t.Fatalf("fitted: %d children, A %d long, B %d children", len(kids), len(kids[0].Report), len(kids[1].Report.Children()))
	}
	// The estimate: what fitChildren counted equals the walk.
	est := estReportTop + len("R") + len("relay")
	for _, k := range kids {
		kw := newWalker(maphash.MakeSeed(), g.r.lim)
		kc, _ := kw.walkReport(k.Report)
		est += tripleBytes(k.ID, k.Name, kc.bytes)
	}
	if est != cost.bytes {
		t.Fatalf("estimate %d, walk %d", est, cost.bytes)
	}
}

// TestFitChildrenDropsLastJoined: when even leaves do not fit, the
// last-joined children are left out.
func TestFitChildrenDropsLastJoined(t *testing.T) {
	g := newRig(t, RelayConfig{MaxReportNodes: 3})
	g.parent()
	for _, p := range []string{"A", "B", "C", "D"} {
		g.child(p)
	}
	kids := Report(g.r.Report()).Children()
	if len(kids) != 2 || kids[0].ID != "A" || kids[1].ID != "B" {
		t.Fatalf("kids %v", kids)
	}
}

// TestReportPacing: a child that changes its report all the time makes us
// report up at most once per ReportInterval; the latest state always goes
// up (from Tick), joins and leaves too.
func TestReportPacing(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	g.child("B")
	var ups []any
	take := func(out []Output) {
		for _, s := range sentOf(out) {
			if s.To == "H/dc_p" {
				ups = append(ups, s.Msg)
			}
		}
	}
	start := g.now
	for i := range 100 { // 100 changes a second for 2 s, Tick every 250 ms
		g.now = start.Add(time.Duration(i) * 20 * time.Millisecond)
		take(g.from("A", withField(leaf("A"), repName, fmt.Sprint("A", i))))
		if i%12 == 0 {
			take(g.r.Tick(g.now))
		}
	}
	g.r.Closed("B/dc")
	take(g.r.Tick(g.now.Add(time.Second)))
	if len(ups) > 6 {
		t.Fatalf("%d reports up in 3 s", len(ups))
	}
	last := Report(ups[len(ups)-1].([]any)).Children()
	if len(last) != 1 || last[0].Name != "A99" {
		t.Fatalf("last report up: %v", last)
	}
	// Nothing more is pending.
	if out := g.r.Tick(g.now.Add(time.Hour)); len(out) != 0 {
		t.Fatalf("pending: %v", out)
	}
}

// TestHostMapPacing: the same for the host's map: at most one rebuild and
// broadcast per interval, the last state from Tick.
func TestHostMapPacing(t *testing.T) {
	g := newHostRig(t, HostConfig{})
	g.root()
	g.child("A")
	maps := 0
	var last any
	count := func(out []Output) {
		for _, s := range sentOf(out) {
			if s.To == "root/dc" {
				maps++
				last = s.Msg
			}
		}
	}
	start := g.now
	for i := range 100 {
		g.now = start.Add(time.Duration(i) * 10 * time.Millisecond)
		count(g.from("A", withField(leaf("A"), repName, fmt.Sprint("A", i))))
		if i%25 == 0 {
			count(g.h.Tick(g.now))
		}
	}
	count(g.h.Tick(g.now.Add(time.Second)))
	if maps > 4 {
		t.Fatalf("%d maps in 2 s", maps)
	}
	if k := RoomMap(last.([]any)).HostReport().Children(); len(k) != 1 || k[0].Name != "A99" {
		t.Fatalf("last map: %v", k)
	}
}

// TestUpstreamFairness: a child floods (its whole bucket at once, then its
// full rate) while a sibling chats. Everything the sibling says goes up;
// what we send up never overflows a parent that limits us as we limit a
// child (50/s, 500); the flood's excess is dropped and counted against the
// flooder alone.
func TestUpstreamFairness(t *testing.T) {
	g := newRig(t, RelayConfig{})
	parentBucket := newBucket(50, 500, g.now) // the parent's for us
	overflow := 0
	var up []any
	take := func(out []Output) {
		for _, s := range sentOf(out) {
			if s.To == "H/dc_p" {
				if !parentBucket.allow(g.now) {
					overflow++
				}
				up = append(up, s.Msg)
			}
		}
	}
	take(g.parent())
	g.open("F")
	take(g.from("F", leaf("F")))
	g.open("G")
	take(g.from("G", leaf("G")))
	start := g.now
	for i := range 500 {
		take(g.from("F", []any{int64(0), "F", "flood", fmt.Sprint("burst ", i), nil, ""}))
	}
	good := 0
	for ms := 1; ms <= 20000; ms++ {
		g.now = start.Add(time.Duration(ms) * time.Millisecond)
		if ms%20 == 0 { // F at its full 50/s
			take(g.from("F", []any{int64(0), "F", "flood", fmt.Sprint("steady ", ms), nil, ""}))
		}
		if ms%1000 == 1 { // G once a second
			take(g.from("G", []any{int64(0), "G", "good", fmt.Sprint("hello ", ms), nil, ""}))
			good++
		}
		if ms%250 == 0 {
			take(g.r.Tick(g.now))
		}
	}
	if overflow != 0 {
		t.Fatalf("the parent refused %d of our %d messages", overflow, len(up))
	}
	got := 0
	for _, m := range up {
		if Chat(m.([]any)).Name() == "good" {
			got++
		}
	}
	if got != good {
		t.Fatalf("%d of the sibling's %d chats went up", got, good)
	}
	fs, _ := g.r.ConnStats("F/dc")
	gs, _ := g.r.ConnStats("G/dc")
	if fs.Rejected[RejectUpstreamShare] == 0 || len(gs.Rejected) != 0 {
		t.Fatalf("flooder %+v, sibling %+v", fs, gs)
	}
	t.Logf("up: %d messages; flooder: %d accepted, %d over its share", len(up), fs.Accepted, fs.Rejected[RejectUpstreamShare])
}

// TestUpstreamShareFirstOnce: the reject for a refused upstream message is
// First once per connection; refused messages go nowhere.
func TestUpstreamShareFirstOnce(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("F")
	g.child("G")
	firsts, refused := 0, 0
	for i := range 500 {
		out := g.from("F", []any{int64(0), "F", "flood", fmt.Sprint(i), nil, ""})
		for _, o := range out {
			if r, ok := o.(Reject); ok && r.Reason == RejectUpstreamShare {
				refused++
				if r.First {
					firsts++
				}
				if len(sends(out)) != 0 {
					t.Fatalf("refused message sent: %v", out)
				}
			}
		}
	}
	if refused == 0 || firsts != 1 {
		t.Fatalf("refused %d, first %d", refused, firsts)
	}
}

// TestGuestTimeout: a connection that has not reported within GuestTimeout
// of Opened is closed from Tick, once, counted; asking for a stream does not
// make a guest a child.
func TestGuestTimeout(t *testing.T) {
	type machine struct {
		name   string
		open   func(peer string, now time.Time)
		recv   func(peer string, v any, now time.Time) []Output
		tick   func(now time.Time) []Output
		closed func(peer string) []Output
		stats  func() Stats
	}
	relay := func() machine {
		r := NewRelay(RelayConfig{Self: "R"})
		r.ParentOpened("H/dc_p", "H", t0)
		return machine{"relay",
			func(p string, now time.Time) { r.Opened(ConnID(p+"/dc"), p, now) },
			func(p string, v any, now time.Time) []Output { return r.Receive(ConnID(p+"/dc"), v, now) },
			r.Tick, func(p string) []Output { return r.Closed(ConnID(p + "/dc")) }, r.Stats}
	}
	host := func() machine {
		h := NewHost(HostConfig{Self: "H"})
		return machine{"host",
			func(p string, now time.Time) { h.Opened(ConnID(p+"/dc"), p, now) },
			func(p string, v any, now time.Time) []Output { return h.Receive(ConnID(p+"/dc"), v, now) },
			h.Tick, func(p string) []Output { return h.Closed(ConnID(p + "/dc")) }, h.Stats}
	}
	for _, mk := range []func() machine{relay, host} {
		m := mk()
		t.Run(m.name, func(t *testing.T) {
			m.open("C", t0)                             // reports: a child
			m.open("L", t0.Add(time.Second))            // lends and refreshes: still a guest
			m.open("Q", t0.Add(10*time.Second))         // quiet
			m.recv("C", leaf("C"), t0.Add(time.Second)) //
			m.recv("L", []any{int64(2), "L", "l"}, t0.Add(2*time.Second))
			m.recv("L", []any{int64(4), "L"}, t0.Add(3*time.Second))
			if out := m.tick(t0.Add(30*time.Second + 999*time.Millisecond)); len(out) != 0 {
				t.Fatalf("closed too early: %v", out)
			}
			out := m.tick(t0.Add(31 * time.Second))
			want := []Output{
				Reject{Conn: "L/dc", Peer: "L", Reason: RejectGuestTimeout, Detail: "no report within 30s", First: true},
				CloseConn{Conn: "L/dc", Reason: RejectGuestTimeout},
			}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("at 31 s: %v", out)
			}
			if out := m.tick(t0.Add(35 * time.Second)); len(out) != 0 {
				t.Fatalf("closed twice: %v", out)
			}
			if out := m.tick(t0.Add(40 * time.Second)); len(out) != 2 {
				t.Fatalf("Q at 40 s: %v", out)
			}
			if out := m.closed("L"); len(out) != 0 {
				t.Fatalf("Closed after the deadline: %v", out)
			}
			if out := m.recv("L", leaf("L"), t0.Add(41*time.Second)); len(out) != 0 {
				t.Fatalf("late report: %v", out)
			}
			if m.stats().Rejected[RejectGuestTimeout] != 2 {
				t.Fatalf("stats %+v", m.stats())
			}
			if out := m.tick(t0.Add(time.Hour)); len(out) != 0 {
				t.Fatalf("the child was closed: %v", out)
			}
		})
	}
}

// TestIndexBounds: a room map registered by a host is bounded like a report.
func TestIndexBounds(t *testing.T) {
	big := withField(hostMap("H", "t"), mapReport, withField(wide("H", DefaultMaxReportNodes), 1, int64(1)))
	members := make([]any, DefaultMaxReportNodes+2)
	for i := range members {
		members[i] = fmt.Sprint(i)
	}
	for _, tc := range []struct {
		name string
		m    []any
		want Reason
	}{
		{"host report nodes", big, RejectReportTooBig},
		{"host report depth", withField(hostMap("H", "t"), mapReport, chain("H", DefaultMaxReportDepth)), RejectReportTooDeep},
		{"member list", withField(hostMap("H", "t"), mapMembers, members), RejectReportTooBig},
		{"title", hostMap("H", strings.Repeat("t", DefaultMaxReportBytes)), RejectReportTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex(IndexConfig{})
			x.Opened("viewer", "viewer", t0)
			x.Opened("H", "H", t0)
			out := x.Receive("H", tc.m, t0)
			if !reflect.DeepEqual(rejects(out), []Reason{tc.want}) || len(sends(out)) != 0 || len(x.List()) != 0 {
				t.Fatalf("%v", out)
			}
		})
	}
	// A cover of 1 MiB is fine (the message size bounds it).
	x := NewIndex(IndexConfig{})
	x.Opened("H", "H", t0)
	if rs := rejects(x.Receive("H", withField(hostMap("H", "t"), 6, strings.Repeat("c", 1<<20)), t0)); len(rs) != 0 {
		t.Fatalf("cover: %v", rs)
	}
}

func TestReasonNames(t *testing.T) {
	for r := RejectUnknown; r <= RejectGuestTimeout; r++ {
		if ParseReason(r.String()) != r {
			t.Fatalf("%d %q does not round-trip", r, r)
		}
	}
	for r, name := range map[Reason]string{RejectNotHost: "not-host", RejectReportTooBig: "report-too-big",
		RejectReportTooDeep: "report-too-deep", RejectUpstreamShare: "upstream-share", RejectGuestTimeout: "guest-timeout"} {
		if r.String() != name {
			t.Fatalf("%d is %q, want %q", r, r, name)
		}
	}
	if RejectNotHost != 10 {
		t.Fatal("existing reason numbers moved")
	}
}

// BenchmarkReportMaxValid is a child's report at the default bounds (2000
// nodes), accepted by a relay (it alternates two, so each is a change).
func BenchmarkReportMaxValid(b *testing.B) {
	reps := [2][]any{wide("A", DefaultMaxReportNodes-1), withField(wide("A", DefaultMaxReportNodes-1), repName, "other")}
	g := newRig(&testing.T{}, RelayConfig{RateLimit: -1})
	g.parent()
	g.open("A")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.now = g.now.Add(time.Second) // each report may go up
		out := g.from("A", reps[i%2])
		if len(rejects(out)) != 0 {
			b.Fatal(out)
		}
	}
}

// BenchmarkReportHostile100k is a report claiming 100,000 nodes (~1.9 MB
// estimated): refused after walking the bound, not the claim.
func BenchmarkReportHostile100k(b *testing.B) {
	rep := wide("A", 100000)
	g := newRig(&testing.T{}, RelayConfig{RateLimit: -1})
	g.parent()
	g.child("A")
	b.ReportAllocs()
	for b.Loop() {
		if rs := rejects(g.from("A", rep)); len(rs) != 1 || rs[0] != RejectReportTooBig {
			b.Fatal(rs)
		}
	}
}

// BenchmarkHostReportMaxValid: the same valid report at a host (walk,
// rebuild of the room map, broadcast).
func BenchmarkHostReportMaxValid(b *testing.B) {
	reps := [2][]any{wide("A", DefaultMaxReportNodes-1), withField(wide("A", DefaultMaxReportNodes-1), repName, "other")}
	g := newHostRig(&testing.T{}, HostConfig{RateLimit: -1})
	g.open("A")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.now = g.now.Add(time.Second)
		if out := g.from("A", reps[i%2]); len(rejects(out)) != 0 {
			b.Fatal(out)
		}
	}
}

package tree

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Message shapes as the pages send them (docs/protocol.md §6 and §7): B's
// report to its parent A, and the host H's room map.
var (
	reportB = []any{int64(1), int64(0), int64(0), []any{}, "B", "B", []any{}}
	roomMap = []any{int64(1), int64(1), []any{"R", "B", "H"}, int64(0), "My room", "hello", "https://example.org/c.png", "H", "H",
		[]any{int64(1), int64(1), int64(1), []any{}, "H", "H", []any{},
			"R", "relay", []any{int64(1), int64(0), int64(1), []any{}, "R", "relay", []any{}, "B", "B", reportB}},
		"P2P-Live-Web-Default-ID", false}
	chatFromB = []any{int64(0), "B", "Bob", "héllo 👋", nil, ""}
)

// rig is a relay R under parent H, with incoming connections by name.
type rig struct {
	t   *testing.T
	r   *Relay
	now time.Time
}

func newRig(t *testing.T, cfg RelayConfig) *rig {
	if cfg.Self == "" {
		cfg.Self = "R"
	}
	if cfg.Name == "" {
		cfg.Name = "relay"
	}
	return &rig{t: t, r: NewRelay(cfg), now: t0}
}

func (g *rig) parent() []Output { return g.r.ParentOpened("H/dc_p", "H", g.now) }

func (g *rig) open(peer string) []Output { return g.r.Opened(ConnID(peer+"/dc"), peer, g.now) }

func (g *rig) from(peer string, msg any) []Output {
	c := ConnID(peer + "/dc")
	if peer == "H" {
		c = "H/dc_p"
	}
	return g.r.Receive(c, msg, g.now)
}

// child opens peer's connection and has it report.
func (g *rig) child(peer string) {
	g.open(peer)
	g.from(peer, []any{int64(1), int64(0), int64(0), []any{}, peer, peer + "-name", []any{}})
}

// sends lists the Send outputs as "to: msg" for comparison.
func sends(out []Output) map[ConnID]any {
	m := map[ConnID]any{}
	for _, s := range sentOf(out) {
		m[s.To] = s.Msg
	}
	return m
}

func rejects(out []Output) []Reason {
	return collect(out, func(r Reject) Reason { return r.Reason })
}

func TestChatFlood(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	g.child("B")
	g.open("G") // a guest: gets no chat

	out := g.from("B", chatFromB)
	want := map[ConnID]any{
		"H/dc_p": []any{int64(0), "R", "Bob", "héllo 👋", nil, ""},
		"A/dc":   []any{int64(0), "R", "Bob", "héllo 👋", nil, ""},
	}
	if got := sends(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("chat from B went to %v", got)
	}
	// The same chat coming back around a cycle (any hop) is dropped.
	back := []any{int64(0), "H", "Bob", "héllo 👋", nil, ""}
	if out := g.from("H", back); len(sends(out)) != 0 || !reflect.DeepEqual(rejects(out), []Reason{RejectDuplicate}) {
		t.Fatalf("looped chat: %v", out)
	}
	// After the window the same text is a new message.
	g.now = g.now.Add(6 * time.Second)
	if got := sends(g.from("H", back)); len(got) != 2 || got["A/dc"] == nil || got["B/dc"] == nil {
		t.Fatalf("chat from parent after the window went to %v", got)
	}
	// The stored message is not mutated by the rewrite.
	if chatFromB[1] != "B" {
		t.Fatal("input mutated")
	}
	// Guests may not chat; short chats (the single version's five fields) pass.
	if rs := rejects(g.from("G", chatFromB)); !reflect.DeepEqual(rs, []Reason{RejectNotChild}) {
		t.Fatalf("guest chat: %v", rs)
	}
	five := []any{int64(0), "A", "Al", "five fields", nil}
	if got := sends(g.from("A", five)); len(got) != 2 {
		t.Fatalf("five-field chat went to %v", got)
	}
}

func TestReportsAndGreeting(t *testing.T) {
	for _, tc := range []struct {
		style GreetingStyle
		idx   int
	}{{GreetAB, 2}, {GreetC, 1}} {
		g := newRig(t, RelayConfig{Greeting: tc.style})
		g.r.StreamChanged(true, 1, g.now) // so that a new child is called at once (calls_test.go: it waits without one)
		up := sends(g.parent())
		if !reflect.DeepEqual(up["H/dc_p"], []any{int64(1), int64(0), int64(0), []any{}, "R", "relay", []any{}}) {
			t.Fatalf("first report %v", up)
		}
		g.from("H", roomMap)
		greet := sends(g.open("B"))["B/dc"].([]any)
		if num(greet, tc.idx, 0) != -1 || len(greet) != len(roomMap) {
			t.Fatalf("greeting %v", greet)
		}
		if !reflect.DeepEqual([]any(g.r.RoomMap()), roomMap) || num(roomMap, 1, 0) != 1 {
			t.Fatal("stored map mutated by the greeting")
		}
		out := g.from("B", reportB)
		var media []mediaReq
		for _, o := range out {
			if m, ok := o.(Call); ok {
				media = append(media, mediaReq{m.To, m.Peer, m.Reason})
			}
		}
		if len(media) != 1 || media[0].Peer != "B" || media[0].Reason != MediaJoined {
			t.Fatalf("media requests %v", media)
		}
		wantUp := []any{int64(1), int64(0), int64(1), []any{}, "R", "relay", []any{}, "B", "B", reportB}
		if got := sends(out)["H/dc_p"]; !reflect.DeepEqual(got, wantUp) {
			t.Fatalf("report up %v", got)
		}
		// The same report again changes nothing and sends nothing.
		if out := g.from("B", reportB); len(out) != 0 {
			t.Fatalf("repeated report: %v", out)
		}
		// The map from the parent goes down to children unchanged. (Later:
		// past ReportInterval, so B's leave may be reported at once.)
		g.now = g.now.Add(DefaultReportInterval)
		if got := sends(g.from("H", withField(roomMap, 4, "New title"))); got["B/dc"] == nil || str(got["B/dc"].([]any), 4) != "New title" {
			t.Fatalf("map down %v", got)
		}
		// A child leaving is reported up.
		if got := sends(g.r.Closed("B/dc"))["H/dc_p"]; !reflect.DeepEqual(got, []any{int64(1), int64(0), int64(0), []any{}, "R", "relay", []any{}}) {
			t.Fatalf("report after leave %v", got)
		}
	}
}

func TestProvisionalMaps(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	// A/B greeting (members −1) and C greeting (mark −1) from the parent are
	// kept as provisional and never forwarded.
	ab := withField(roomMap, 2, int64(-1))
	c := withField(roomMap, 1, int64(-1))
	for _, m := range [][]any{ab, c} {
		if out := g.from("H", m); len(sends(out)) != 0 || len(rejects(out)) != 0 {
			t.Fatalf("greeting %v: %v", m[:3], out)
		}
	}
	if g.r.RoomMap() != nil {
		t.Fatal("provisional map stored as authoritative")
	}
	// A new guest is greeted from the provisional map.
	if got := sends(g.open("G"))["G/dc"]; got == nil {
		t.Fatal("no greeting from the provisional map")
	}
}

func TestRejections(t *testing.T) {
	cases := []struct {
		name string
		from string
		msg  any
		want Reason
	}{
		{"impostor report", "A", []any{int64(1), int64(0), int64(0), []any{}, "Z", "zed", []any{}}, RejectImpostor},
		{"cycle: we are in the subtree", "A", []any{int64(1), int64(0), int64(1), []any{}, "A", "a", []any{}, "R", "me", []any{int64(1), int64(0), int64(0), []any{}, "R", "me", []any{}}}, RejectCycle},
		{"cycle: our parent is in the subtree", "A", []any{int64(1), int64(0), int64(1), []any{}, "A", "a", []any{}, "H", "host", []any{}}, RejectCycle},
		{"room map from a child", "A", roomMap, RejectFromBelow},
		{"type 3 from a child", "A", []any{int64(3), "A", int64(0), false}, RejectUnexpected},
		{"type 1 unknown mark", "A", []any{int64(1), int64(7)}, RejectUnexpected},
		{"not an array", "A", "hello", RejectMalformed},
		{"empty array", "A", []any{}, RejectMalformed},
		{"string type", "A", []any{"0", "x"}, RejectMalformed},
		{"a map", "A", binarypack.Map{{Key: "a", Value: int64(1)}}, RejectMalformed},
		{"fractional type", "A", []any{1.5}, RejectMalformed},
		{"refresh from a guest", "G", []any{int64(4), "G"}, RejectNotChild},
		{"game move from a guest", "G", []any{int64(7), int64(0), []any{}}, RejectNotChild},
		{"type 2 from the parent", "H", []any{int64(2), "H", "H"}, RejectUnexpected},
		{"type 5 join going down from a child", "A", []any{int64(5), int64(1), []any{}}, RejectUnexpected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, RelayConfig{})
			g.parent()
			g.child("A")
			g.open("G")
			out := g.from(tc.from, tc.msg)
			if rs := rejects(out); !reflect.DeepEqual(rs, []Reason{tc.want}) || len(sends(out)) != 0 {
				t.Fatalf("got %v, want one %v and no sends", out, tc.want)
			}
			if g.r.Stats().Rejected[tc.want] != 1 {
				t.Fatalf("not counted: %+v", g.r.Stats())
			}
			// The child is still served.
			if got := sends(g.from("H", []any{int64(0), "H", "host", "still here", nil, ""})); got["A/dc"] == nil {
				t.Fatal("child not served after the rejection")
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	g := newRig(t, RelayConfig{RateLimit: 10, RateBurst: 5})
	g.parent()
	g.child("A") // uses one token
	g.child("B")
	firsts, rate := 0, 0
	for i := range 100 {
		out := g.from("A", []any{int64(0), "A", "a", strings.Repeat("x", i+1), nil, ""})
		for _, o := range out {
			if r, ok := o.(Reject); ok && r.Reason == RejectRate {
				rate++
				if r.First {
					firsts++
				}
			}
		}
	}
	if rate != 96 || firsts != 1 {
		t.Fatalf("rate rejections %d (first %d), want 96 (1)", rate, firsts)
	}
	st, _ := g.r.ConnStats("A/dc")
	// Of the 5 that pass A's bucket, what is over A's share of the upstream
	// budget (90 % of the same limit, its reserve shared with B) is dropped.
	if st.Rejected[RejectRate] != 96 || st.Accepted+st.Rejected[RejectUpstreamShare] != 5 || st.Accepted < 2 {
		t.Fatalf("conn stats %+v", st)
	}
	// Another child is unaffected; A recovers after a second.
	if got := sends(g.from("B", chatFromB)); got["A/dc"] == nil {
		t.Fatal("B's chat not delivered")
	}
	g.now = g.now.Add(time.Second)
	if rs := rejects(g.from("A", []any{int64(0), "A", "a", "later", nil, ""})); len(rs) != 0 {
		t.Fatalf("A still limited: %v", rs)
	}
}

func TestRefreshAndLend(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	g.child("B")
	ask := []any{int64(4), "A"}
	if got := sends(g.from("A", ask)); !reflect.DeepEqual(got["H/dc_p"], []any{int64(4), "R"}) {
		t.Fatalf("first refresh went %v", got)
	}
	// A second waiting child does not re-ask within the retry interval, but is remembered.
	if got := sends(g.from("B", []any{int64(4), "B"})); len(got) != 0 {
		t.Fatalf("second refresh went %v", got)
	}
	// "Not live" from the parent reaches every waiting child as [4, 0].
	got := sends(g.from("H", []any{int64(4)}))
	if len(got) != 2 || !reflect.DeepEqual(got["A/dc"], []any{int64(4), int64(0)}) || !reflect.DeepEqual(got["B/dc"], []any{int64(4), int64(0)}) {
		t.Fatalf("not-live went %v", got)
	}
	// Both wait again; when the stream arrives both are served.
	g.now = g.now.Add(refreshRetry)
	g.from("A", ask)
	g.from("B", []any{int64(4), "B"})
	var served []string
	for _, o := range g.r.StreamChanged(true, 1, g.now) {
		if m, ok := o.(Call); ok && m.Reason == MediaRefresh {
			served = append(served, m.Peer)
		}
	}
	if !reflect.DeepEqual(served, []string{"A", "B"}) {
		t.Fatalf("served %v", served)
	}
	// With the stream, a refresh is served at once.
	for _, o := range g.from("A", ask) {
		if m, ok := o.(Call); !ok || m.Peer != "A" {
			t.Fatalf("refresh with stream: %v", o)
		}
	}
	// C's "new stream" [4, id] from the parent: ask again, tell the media layer.
	out := g.from("H", []any{int64(4), "H"})
	if len(out) != 2 || !reflect.DeepEqual(sends(out)["H/dc_p"], []any{int64(4), "R"}) {
		t.Fatalf("new-stream notice: %v", out)
	}
	if _, ok := out[1].(UpstreamChanged); !ok {
		t.Fatalf("no UpstreamChanged: %v", out)
	}
	// Type 2 from a guest: lend our stream to the connection's peer.
	g.open("L")
	out = g.from("L", []any{int64(2), "someone-else", "name"})
	if m, ok := out[0].(Call); !ok || m.Peer != "L" || m.Reason != MediaLend {
		t.Fatalf("lend: %v", out)
	}
}

func TestNoticesAndConference(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	// Type 3 from the parent is a notice for us, not forwarded.
	out := g.from("H", []any{int64(3), "H", int64(0), false})
	if len(out) != 1 {
		t.Fatalf("type 3: %v", out)
	}
	if _, ok := out[0].(ParentNotice); !ok {
		t.Fatalf("type 3: %v", out)
	}
	// Bare [5] goes down and is a notice.
	out = g.from("H", []any{int64(5)})
	if sends(out)["A/dc"] == nil {
		t.Fatalf("bare 5: %v", out)
	}
	// Conference: join request up, grant down, info up.
	if got := sends(g.from("A", []any{int64(5), int64(0), []any{nil, "A", "a"}})); got["H/dc_p"] == nil {
		t.Fatalf("5/0 went %v", got)
	}
	if got := sends(g.from("H", []any{int64(5), int64(1), []any{int64(1), "A", "a"}})); got["A/dc"] == nil {
		t.Fatalf("5/1 went %v", got)
	}
	if got := sends(g.from("A", []any{int64(5), int64(2), int64(0), int64(1), "A"})); got["H/dc_p"] == nil {
		t.Fatalf("5/2/0 went %v", got)
	}
	if got := sends(g.from("H", []any{int64(5), int64(2), int64(1), int64(1), "A"})); got["A/dc"] == nil {
		t.Fatalf("5/2/1 went %v", got)
	}
	// Game messages flood unchanged.
	move := []any{int64(7), int64(0), []any{int64(0), int64(12), int64(1), int64(1732000000000)}}
	if got := sends(g.from("A", move)); !reflect.DeepEqual(got["H/dc_p"], move) {
		t.Fatalf("type 7 went %v", got)
	}
}

func TestMaxChildren(t *testing.T) {
	g := newRig(t, RelayConfig{MaxChildren: 1})
	g.parent()
	g.child("A")
	g.open("B")
	out := g.from("B", reportB)
	var closed bool
	for _, o := range out {
		if c, ok := o.(CloseConn); ok && c.Conn == "B/dc" {
			closed = true
		}
	}
	if !closed || len(g.r.Children()) != 1 {
		t.Fatalf("over the cap: %v", out)
	}
}

func TestDeepReportIsBounded(t *testing.T) {
	// A hostile, deeply nested report is refused at MaxReportDepth; the
	// walk stops there.
	var rep []any = []any{int64(1), int64(0), int64(0), []any{}, "X", "x", []any{}}
	for range 2000 {
		rep = []any{int64(1), int64(0), int64(1), []any{}, "X", "x", []any{}, "Y", "y", rep}
	}
	rep[4] = "A"
	g := newRig(t, RelayConfig{})
	g.parent()
	g.open("A")
	if rs := rejects(g.from("A", rep)); !reflect.DeepEqual(rs, []Reason{RejectReportTooDeep}) {
		t.Fatalf("deep report: %v", rs)
	}
}

// TestHeldWhileOrphaned: chat from a child while we have no parent (ours
// died, we are re-joining) goes to the next parent after our report, once;
// what is too old by then is dropped and counted.
func TestHeldWhileOrphaned(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	g.child("B")
	g.r.ParentClosed("H/dc_p")
	chat := []any{int64(0), "A", "Alice", "during the swap", nil, ""}
	out := g.from("A", chat)
	if got := sends(out); len(got) != 1 || got["B/dc"] == nil {
		t.Fatalf("orphaned relay sent %v, want only to B", got)
	}
	g.now = g.now.Add(time.Second)
	out = g.r.ParentOpened("N/dc", "N", g.now)
	var up []any
	for _, s := range sentOf(out) {
		if s.To == "N/dc" {
			up = append(up, s.Msg)
		}
	}
	if len(up) != 2 || !reflect.DeepEqual(up[1], []any{int64(0), "R", "Alice", "during the swap", nil, ""}) {
		t.Fatalf("to the new parent: %v, want our report then the held chat", up)
	}
	if again := g.r.ParentOpened("M/dc", "M", g.now); len(again) != 1 {
		t.Fatalf("held chat sent twice: %v", again)
	}
	// Too old: dropped.
	g.r.ParentClosed("M/dc")
	g.from("B", []any{int64(0), "B", "Bob", "stale", nil, ""})
	g.now = g.now.Add(upHeldAge + time.Second)
	if out := g.r.ParentOpened("P/dc", "P", g.now); len(out) != 1 || g.r.Stats().HeldDropped != 1 {
		t.Fatalf("stale held chat: %v, dropped %d", out, g.r.Stats().HeldDropped)
	}
}

// TestParentLostRequeues: what we sent up after the lost parent's last sign
// of life is re-sent to the next parent; what it had surely received is not.
func TestParentLostRequeues(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	early := []any{int64(0), "A", "Alice", "before", nil, ""}
	g.from("A", early)
	alive := g.now.Add(500 * time.Millisecond)
	g.now = g.now.Add(time.Second)
	late := []any{int64(0), "A", "Alice", "after", nil, ""}
	g.from("A", late)
	g.r.ParentLost("H/dc_p", alive)
	out := g.r.ParentOpened("N/dc", "N", g.now)
	var up []any
	for _, s := range sentOf(out) {
		if s.To == "N/dc" {
			up = append(up, s.Msg)
		}
	}
	if len(up) != 2 || Chat(up[1].([]any)).Text() != "after" {
		t.Fatalf("to the new parent: %v, want our report and only the late chat", up)
	}
}

package tree

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

const testRoot = "P2P-Live-Web-Default-ID"

// hostRig is a host H ("host", room "T"/"S") with connections by peer name;
// the index root's connection is "root/dc".
type hostRig struct {
	t   *testing.T
	h   *Host
	now time.Time
}

func newHostRig(t *testing.T, cfg HostConfig) *hostRig {
	if cfg.Self == "" {
		cfg.Self = "H"
	}
	if cfg.Name == "" {
		cfg.Name = "host"
	}
	if cfg.Title == "" {
		cfg.Title, cfg.Summary, cfg.RootID = "T", "S", testRoot
	}
	return &hostRig{t: t, h: NewHost(cfg), now: t0}
}

func (g *hostRig) open(peer string) []Output { return g.h.Opened(ConnID(peer+"/dc"), peer, g.now) }

func (g *hostRig) from(peer string, msg any) []Output {
	return g.h.Receive(ConnID(peer+"/dc"), msg, g.now)
}

// later moves the clock past ReportInterval with a Tick (node's timer), so
// that the next change goes out at once; it returns what the Tick sent
// (changes held back until then).
func (g *hostRig) later() []Output {
	g.now = g.now.Add(DefaultReportInterval)
	return g.h.Tick(g.now)
}

func (g *hostRig) root() []Output { return g.h.ParentOpened("root/dc", testRoot, g.now) }

// child opens peer's connection and has it report an empty subtree.
func (g *hostRig) child(peer string) []Output {
	g.open(peer)
	return g.from(peer, leaf(peer))
}

func leaf(id string) []any {
	return []any{int64(1), int64(0), int64(0), []any{}, id, id + "-name", []any{}}
}

// hostMapOf is the map host H builds with the given members and report triples.
func hostMapOf(members []any, triples ...any) []any {
	rep := append([]any{int64(1), int64(1), int64(len(triples) / 3), []any{}, "H", "host", []any{}}, triples...)
	return []any{int64(1), int64(1), append(members, "H"), int64(0), "T", "S", nil, "H", "host", rep, testRoot, false}
}

// sendList lists the Send outputs in order as "to" and message.
func sendList(out []Output) []sent { return sentOf(out) }

// mediaReq is a Call without its id and generation: what the tests compare.
type mediaReq struct {
	To     ConnID
	Peer   string
	Reason MediaReason
}

func mediaList(out []Output) []mediaReq {
	var m []mediaReq
	for _, o := range out {
		if r, ok := o.(Call); ok {
			m = append(m, mediaReq{r.To, r.Peer, r.Reason})
		}
	}
	return m
}

// setStreaming starts (a new stream each time) or stops the host's stream.
func setStreaming(h *Host, on bool, now time.Time) []Output {
	if !on {
		return h.StreamChanged(false, 0, now)
	}
	return h.StreamChanged(true, h.calls.gen+1, now)
}

func TestHostGreeting(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  HostConfig
		want []any
	}{
		{"defaults", HostConfig{Self: "H", Title: "T", Summary: "S", RootID: testRoot}, []any{int64(1), int64(1), []any{"H"}, int64(0), "T", "S", nil, "H", "H",
			[]any{int64(1), int64(1), int64(0), []any{}, "H", "H", []any{}}, testRoot, false}},
		{"private game room with cover", HostConfig{Self: "H", Name: "Hana", Title: "T", Cover: "https://c.png", RoomType: 1}, []any{int64(1), int64(1), []any{"H"}, int64(1), "T", "", "https://c.png", "H", "Hana",
			[]any{int64(1), int64(1), int64(0), []any{}, "H", "Hana", []any{}}, "", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHost(tc.cfg)
			if !reflect.DeepEqual([]any(h.RoomMap()), tc.want) {
				t.Fatalf("map %s", describeJSON(h.RoomMap()))
			}
			out := h.Opened("G/dc", "G", t0)
			if got := sendList(out); len(out) != 1 || !reflect.DeepEqual(got, []sent{{"G/dc", tc.want}}) {
				t.Fatalf("greeting %v", out)
			}
			if !RoomMap(out[0].(Send).Msg.V.([]any)).Authoritative() {
				t.Fatal("the host's greeting must read as authoritative")
			}
		})
	}
}

func TestHostReports(t *testing.T) {
	repA := []any{int64(1), int64(0), int64(1), []any{}, "A", "A-name", []any{}, "C", "c", leaf("C")}
	repB := []any{int64(1), int64(0), int64(1), []any{}, "B", "B-name", []any{}, "D", "d", leaf("D")}
	mapA := hostMapOf([]any{"A"}, "A", "A-name", leaf("A"))
	mapAB := hostMapOf([]any{"A", "B", "C", "D"}, "A", "A-name", repA, "B", "B-name", repB)
	for _, tc := range []struct {
		name      string
		streaming bool
		root      bool
	}{{"idle", false, false}, {"streaming", true, false}, {"registered", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newHostRig(t, HostConfig{})
			if tc.root {
				g.root()
			}
			setStreaming(g.h, tc.streaming, g.now)
			g.open("A")
			out := g.from("A", leaf("A"))
			want := []sent{{"A/dc", mapA}}
			if tc.root {
				want = []sent{{"root/dc", mapA}, {"A/dc", mapA}} // a report registers first
			}
			if got := sendList(out); !reflect.DeepEqual(got, want) {
				t.Fatalf("after A's report: %v", got)
			}
			media := mediaList(out)
			if tc.streaming != (len(media) == 1) || tc.streaming && (media[0] != mediaReq{To: "A/dc", Peer: "A", Reason: MediaJoined}) {
				t.Fatalf("media %v", media)
			}
			if tc.streaming {
				if _, ok := out[0].(Call); !ok {
					t.Fatal("the call comes before the map, as in the page")
				}
			}
			// The same report again: nothing changes, nothing is sent.
			if out := g.from("A", leaf("A")); len(out) != 0 {
				t.Fatalf("repeated report: %v", out)
			}
			// Subtrees: members list each level's ids, then each subtree.
			g.from("A", repA) // within ReportInterval of the last map: held back
			g.now = g.now.Add(DefaultReportInterval)
			g.open("B")
			out = g.from("B", repB)
			if !reflect.DeepEqual([]any(g.h.RoomMap()), mapAB) {
				t.Fatalf("map %s", describeJSON(g.h.RoomMap()))
			}
			if got := sendList(out); len(got) != 2+btoi(tc.root) || !reflect.DeepEqual(got[len(got)-1].Msg, mapAB) {
				t.Fatalf("map not sent to all: %v", got)
			}
			// One value for every destination: the caller packs it once.
			for _, s := range sendList(out) {
				if &s.Msg.([]any)[0] != &sendList(out)[0].Msg.([]any)[0] {
					t.Fatal("map copied per destination")
				}
			}
			if mems, _ := g.h.RoomMap().Members(); len(mems) != 5 {
				t.Fatalf("members %v", mems)
			}
			// A new guest is greeted with the current map.
			if got := sendList(g.open("G")); !reflect.DeepEqual(got, []sent{{"G/dc", mapAB}}) {
				t.Fatalf("greeting %v", got)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestHostRejections(t *testing.T) {
	cases := []struct {
		name string
		from string
		msg  any
		want Reason
	}{
		{"impostor report", "A", leaf("Z"), RejectImpostor},
		{"impostor first report", "G", leaf("A"), RejectImpostor},
		{"cycle: the host in the subtree", "A", []any{int64(1), int64(0), int64(1), []any{}, "A", "a", []any{}, "X", "x",
			[]any{int64(1), int64(0), int64(1), []any{}, "X", "x", []any{}, "H", "me", leaf("H")}}, RejectCycle},
		{"room map from a child", "A", hostMapOf(nil), RejectFromBelow},
		{"C greeting from a child", "A", withField(hostMapOf(nil), 1, int64(-1)), RejectFromBelow},
		{"type 1 unknown mark", "A", []any{int64(1), int64(7)}, RejectUnexpected},
		{"type 3", "A", []any{int64(3), "A", int64(0), false}, RejectUnexpected},
		{"conference join", "A", []any{int64(5), int64(0), []any{nil, "A", "a"}}, RejectUnexpected},
		{"bare 5", "A", []any{int64(5)}, RejectUnexpected},
		{"game move", "A", []any{int64(7), int64(0), []any{}}, RejectUnexpected},
		{"unknown type", "A", []any{int64(42)}, RejectUnexpected},
		{"not live sent up", "A", []any{int64(4), int64(0)}, RejectUnexpected},
		{"bare 4 sent up", "A", []any{int64(4)}, RejectUnexpected},
		{"report that does not pack", "A", withField(leaf("A"), 7, math.Inf(-1)), RejectMalformed},
		{"not an array", "A", "hello", RejectMalformed},
		{"empty array", "A", []any{}, RejectMalformed},
		{"a map", "A", binarypack.Map{{Key: "a", Value: int64(1)}}, RejectMalformed},
		{"chat from a guest", "G", chatFromB, RejectNotChild},
		{"refresh from a guest", "G", []any{int64(4), "G"}, RejectNotChild},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newHostRig(t, HostConfig{})
			g.root()
			g.child("A")
			g.open("G")
			before := g.h.RoomMap()
			out := g.from(tc.from, tc.msg)
			if rs := rejects(out); !reflect.DeepEqual(rs, []Reason{tc.want}) || len(out) != 1 {
				t.Fatalf("got %v, want one %v and nothing else", out, tc.want)
			}
			if g.h.Stats().Rejected[tc.want] != 1 {
				t.Fatalf("not counted: %+v", g.h.Stats())
			}
			if st, _ := g.h.ConnStats(ConnID(tc.from + "/dc")); st.Rejected[tc.want] != 1 {
				t.Fatalf("not counted on the connection: %+v", st)
			}
			if !reflect.DeepEqual(g.h.RoomMap(), before) || len(g.h.Children()) != 1 {
				t.Fatal("a rejected message changed the room")
			}
			// The child is still served.
			if got := sendList(g.h.Chat("host", "still here", nil, g.now)); len(got) != 1 || got[0].To != "A/dc" {
				t.Fatalf("child not served after the rejection: %v", got)
			}
		})
	}
}

func TestHostChat(t *testing.T) {
	g := newHostRig(t, HostConfig{})
	g.root()
	for _, p := range []string{"A", "B", "C"} {
		g.child(p)
	}
	g.open("G")

	out := g.from("B", chatFromB)
	fwd := []any{int64(0), "H", "Bob", "héllo 👋", nil, ""}
	if got := sendList(out); !reflect.DeepEqual(got, []sent{{"A/dc", fwd}, {"C/dc", fwd}}) {
		t.Fatalf("chat from B went to %v", got)
	}
	if cr, ok := out[len(out)-1].(ChatReceived); !ok || cr.Peer != "B" || !reflect.DeepEqual([]any(cr.Msg), chatFromB) {
		t.Fatalf("no local delivery: %v", out)
	}
	if chatFromB[1] != "B" {
		t.Fatal("input mutated")
	}
	// Exactly once: the same chat coming back by any path is dropped.
	for _, p := range []string{"A", "C", "B"} {
		back := withField(chatFromB, 1, p)
		if out := g.from(p, back); !reflect.DeepEqual(rejects(out), []Reason{RejectDuplicate}) || len(out) != 1 {
			t.Fatalf("looped chat from %s: %v", p, out)
		}
	}
	// After the window the same text is a new message.
	g.now = g.now.Add(6 * time.Second)
	if got := sendList(g.from("A", chatFromB)); len(got) != 2 {
		t.Fatalf("chat after the window went to %v", got)
	}
	// The host's own chat goes to every child (not the root, not guests)
	// and is not flooded again when it comes back.
	own := []any{int64(0), "H", "Hana", "hi all", nil, ""}
	out = g.h.Chat("Hana", "hi all", nil, g.now)
	if got := sendList(out); !reflect.DeepEqual(got, []sent{{"A/dc", own}, {"B/dc", own}, {"C/dc", own}}) {
		t.Fatalf("host chat went to %v", got)
	}
	if rs := rejects(g.from("A", withField(own, 1, "A"))); !reflect.DeepEqual(rs, []Reason{RejectDuplicate}) {
		t.Fatalf("own chat echoed: %v", rs)
	}
	img := "data:image/png;base64,AAAA"
	if got := sendList(g.h.Chat("", "", img, g.now)); len(got) != 3 || got[0].Msg.([]any)[4] != img {
		t.Fatalf("image chat: %v", got)
	}
	if out := g.h.Chat("Hana", "", nil, g.now); out != nil {
		t.Fatalf("empty chat sent: %v", out)
	}
	if g.h.Stats().Forwarded != 4 {
		t.Fatalf("forwarded %d", g.h.Stats().Forwarded)
	}
}

func TestHostRefresh(t *testing.T) {
	notLive := []any{int64(4), int64(0)}
	for _, tc := range []struct {
		name   string
		notice bool
	}{{"C notice", true}, {"no notice", false}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newHostRig(t, HostConfig{NoStreamNotice: !tc.notice})
			g.root()
			g.child("A")
			g.child("B")
			g.open("L")
			// Not live: [4, 0] to the asker only, whatever id [1] names; then
			// quiet for a while (C relays turn it into a request loop).
			if out := g.from("A", []any{int64(4), "someone"}); !reflect.DeepEqual(sendList(out), []sent{{"A/dc", notLive}}) || len(out) != 1 {
				t.Fatalf("refresh while idle: %v", out)
			}
			g.now = g.now.Add(notLiveEvery / 2)
			if out := g.from("A", []any{int64(4), "A"}); len(out) != 0 {
				t.Fatalf("ping-pong answered: %v", out)
			}
			if got := sendList(g.from("B", []any{int64(4), "B"})); !reflect.DeepEqual(got, []sent{{"B/dc", notLive}}) {
				t.Fatalf("B's refresh: %v", got)
			}
			g.now = g.now.Add(notLiveEvery)
			if got := sendList(g.from("A", []any{int64(4), "A"})); !reflect.DeepEqual(got, []sent{{"A/dc", notLive}}) {
				t.Fatalf("A's later refresh: %v", got)
			}
			// Nothing to lend yet.
			if out := g.from("L", []any{int64(2), "L", "lender"}); len(out) != 0 {
				t.Fatalf("lend while idle: %v", out)
			}

			// The stream starts: every child gets a call, and (C) the notice.
			out := setStreaming(g.h, true, g.now)
			var want []sent
			if tc.notice {
				want = []sent{{"A/dc", []any{int64(4), "H"}}, {"B/dc", []any{int64(4), "H"}}}
			}
			if got := sendList(out); !reflect.DeepEqual(got, want) {
				t.Fatalf("notices %v", got)
			}
			wantMedia := []mediaReq{{"A/dc", "A", MediaStreamArrived}, {"B/dc", "B", MediaStreamArrived}}
			if got := mediaList(out); !reflect.DeepEqual(got, wantMedia) {
				t.Fatalf("media %v", got)
			}
			// C children answer the notice with [4, ownId] (twice): the call
			// is already on its way.
			if out := g.from("A", []any{int64(4), "A"}); len(out) != 0 {
				t.Fatalf("echo of the notice: %v", out)
			}
			g.now = g.now.Add(mediaCoalesce)
			if got := mediaList(g.from("A", []any{int64(4), "A"})); !reflect.DeepEqual(got, []mediaReq{{"A/dc", "A", MediaRefresh}}) {
				t.Fatalf("refresh while streaming: %v", got)
			}
			// Lend to the connection's peer, whatever [1] claims.
			if got := mediaList(g.from("L", []any{int64(2), "X", "x"})); !reflect.DeepEqual(got, []mediaReq{{"L/dc", "L", MediaLend}}) {
				t.Fatalf("lend: %v", got)
			}
			// The stream stops: nothing is said; refreshes are "not live" again.
			if out := setStreaming(g.h, false, g.now); out != nil {
				t.Fatalf("stop: %v", out)
			}
			if got := sendList(g.from("B", []any{int64(4), "B"})); !reflect.DeepEqual(got, []sent{{"B/dc", notLive}}) {
				t.Fatalf("refresh after stop: %v", got)
			}
			if g.h.Streaming() || len(g.h.Stats().Rejected) != 0 {
				t.Fatalf("state %v %+v", g.h.Streaming(), g.h.Stats())
			}
		})
	}
}

func TestHostCloseAndRoot(t *testing.T) {
	g := newHostRig(t, HostConfig{})
	g.child("A")
	g.child("B") // within ReportInterval of A: the map with B goes out from Tick
	if got := sendList(g.later()); len(got) != 2 || got[0].To != "A/dc" || got[1].To != "B/dc" {
		t.Fatalf("held-back map: %v", got)
	}
	g.open("G")
	// The root connection gets the map, [10] set to its id, on open.
	out := g.h.ParentOpened("root/dc", "the-root", g.now)
	wantAB := withField(hostMapOf([]any{"A", "B"}, "A", "A-name", leaf("A"), "B", "B-name", leaf("B")), mapRootID, "the-root")
	if got := sendList(out); !reflect.DeepEqual(got, []sent{{"root/dc", wantAB}}) {
		t.Fatalf("registration %v", got)
	}
	// Whatever the root sends (its room list) is ignored.
	if out := g.h.Receive("root/dc", []any{}, g.now); len(out) != 0 {
		t.Fatalf("root list: %v", out)
	}
	// A guest leaving changes nothing.
	if out := g.h.Closed("G/dc"); out != nil {
		t.Fatalf("guest close: %v", out)
	}
	// A child leaving: the map shrinks; children first, then the root.
	wantA := withField(hostMapOf([]any{"A"}, "A", "A-name", leaf("A")), mapRootID, "the-root")
	g.later()
	if got := sendList(g.h.Closed("B/dc")); !reflect.DeepEqual(got, []sent{{"A/dc", wantA}, {"root/dc", wantA}}) {
		t.Fatalf("after B left: %v", got)
	}
	if out := g.h.Closed("B/dc"); out != nil {
		t.Fatalf("second close: %v", out)
	}
	// Name and room info changes go out the same way; no-op changes don't.
	g.later()
	out = g.h.SetName("Hana")
	if got := sendList(out); len(got) != 2 || got[1].To != "root/dc" || str(got[0].Msg.([]any), mapHostName) != "Hana" {
		t.Fatalf("rename %v", got)
	}
	if out := g.h.SetName("Hana"); out != nil {
		t.Fatalf("same name: %v", out)
	}
	g.later()
	out = g.h.SetRoomInfo("T2", "S2", "data:image/png;base64,AA")
	if m := g.h.RoomMap(); len(sendList(out)) != 2 || m.Title() != "T2" || m[6] != "data:image/png;base64,AA" || m.HostReport().Name() != "Hana" {
		t.Fatalf("modify %v", out)
	}
	// Without the root connection the changes only go down.
	if out := g.h.Closed("root/dc"); out != nil {
		t.Fatalf("root close: %v", out)
	}
	g.later()
	if got := sendList(g.h.Closed("A/dc")); len(got) != 0 {
		t.Fatalf("after A left: %v", got)
	}
	if mems, _ := g.h.RoomMap().Members(); !reflect.DeepEqual(mems, []string{"H"}) || str(g.h.RoomMap(), mapRootID) != "the-root" {
		t.Fatalf("empty room %s", describeJSON(g.h.RoomMap()))
	}
	g.child("C")
	if got := sendList(g.h.Leave()); !reflect.DeepEqual(got, []sent{{"C/dc", []any{int64(5)}}}) {
		t.Fatalf("leave %v", got)
	}
}

func TestHostLimits(t *testing.T) {
	t.Run("max children", func(t *testing.T) {
		g := newHostRig(t, HostConfig{MaxChildren: 1})
		g.child("A")
		out := g.child("B")
		if !reflect.DeepEqual(rejects(out), []Reason{RejectTooManyChildren}) || !slices.Contains(out, Output(CloseConn{Conn: "B/dc", Reason: RejectTooManyChildren})) {
			t.Fatalf("over the cap: %v", out)
		}
		if len(g.h.Children()) != 1 {
			t.Fatal("child over the cap admitted")
		}
	})
	t.Run("rate", func(t *testing.T) {
		g := newHostRig(t, HostConfig{RateLimit: 10, RateBurst: 5})
		g.child("A")
		g.child("B")
		rate := 0
		for i := range 100 {
			rate += len(rejects(g.from("A", []any{int64(0), "A", "a", strings.Repeat("x", i+1), nil, ""})))
		}
		if st, _ := g.h.ConnStats("A/dc"); rate != 96 || st.Rejected[RejectRate] != 96 || st.Accepted != 5 {
			t.Fatalf("rate rejections %d, %+v", rate, st)
		}
		if got := sendList(g.from("B", chatFromB)); len(got) != 1 {
			t.Fatal("B limited by A")
		}
	})
	t.Run("same peer on a new connection", func(t *testing.T) {
		g := newHostRig(t, HostConfig{})
		g.child("A")
		g.child("B")
		g.h.Opened("A/dc2", "A", g.now)
		g.h.Receive("A/dc2", leaf("A"), g.now)
		kids := g.h.Children()
		if len(kids) != 2 || kids[0].ID != "A" {
			t.Fatalf("children %v", kids)
		}
		// The stale connection's close leaves the map alone.
		if out := g.h.Closed("A/dc"); out != nil || len(g.h.Children()) != 2 {
			t.Fatalf("stale close: %v", out)
		}
	})
	t.Run("deep report", func(t *testing.T) {
		// deep(n) nests n+2 deep: n wrappers, the leaf, the leaf's [3].
		deep := func(levels int) []any {
			rep := leaf("X")
			for range levels {
				rep = []any{int64(1), int64(0), int64(1), []any{}, "X", "x", []any{}, "Y", "y", rep}
			}
			rep[4] = "A"
			return rep
		}
		for _, tc := range []struct {
			name  string
			depth int // MaxReportDepth
			max   int // the deepest report accepted, nested max deep
		}{
			{"default", 0, DefaultMaxReportDepth},
			// Set higher than BinaryPack allows, it is capped so that the
			// map still packs inside the index root's room list.
			{"capped", 1 << 20, maxNesting},
		} {
			t.Run(tc.name, func(t *testing.T) {
				g := newHostRig(t, HostConfig{MaxReportDepth: tc.depth})
				g.open("A")
				// One level less than the bound: it fits in our map whole.
				n := tc.max - 3
				if rs := rejects(g.from("A", deep(n))); len(rs) != 0 {
					t.Fatalf("deep report: %v", rs)
				}
				if mems, _ := g.h.RoomMap().Members(); len(mems) != n+2 {
					t.Fatalf("%d members", len(mems))
				}
				if _, err := binarypack.Pack([]any{[]any(g.h.RoomMap())}); err != nil {
					t.Fatalf("room list does not pack: %v", err)
				}
				// At the bound: accepted, but our own report would be one
				// deeper, so the child is cut to a leaf in the map.
				g.later()
				if rs := rejects(g.from("A", deep(n+1))); len(rs) != 0 {
					t.Fatalf("report at the bound: %v", rs)
				}
				if mems, _ := g.h.RoomMap().Members(); len(mems) != 2 {
					t.Fatalf("%d members, want A cut to a leaf", len(mems))
				}
				// Over the bound: refused, the previous report stays.
				if rs := rejects(g.from("A", deep(n+2))); !reflect.DeepEqual(rs, []Reason{RejectReportTooDeep}) {
					t.Fatalf("too deep a report: %v", rs)
				}
				if kids := g.h.Children(); len(kids) != 1 || len(kids[0].Report) != 10 {
					t.Fatalf("previous report lost: %v", kids)
				}
			})
		}
	})
}

// TestReplayHostCaptures stands our host where the host page stood and drives
// it through the captured scenario (testdata/README.md): each message the host
// page sent must come out of our host in the same order, byte for byte,
// apart from the deliberate differences in hostDeliberate.
func TestReplayHostCaptures(t *testing.T) {
	caps := loadHostCaptures(t)
	for _, gen := range []string{"C", "A"} {
		t.Run(gen, func(t *testing.T) {
			ids := caps.IDs[gen]
			// The replay's clock runs 10 s a message; the capture's guests
			// (auto-join probes) lived for less than a second of it.
			cfg := HostConfig{Self: ids["host"], Title: "Test room", Summary: "hello", Cover: "", RootID: ids["root"], GuestTimeout: time.Hour}
			if gen == "C" {
				cfg.Name = "undefined_Name" // what C's getMyName() gives with an empty name box
			} else {
				cfg.NoStreamNotice = true // A pages have no such notice
			}
			h := NewHost(cfg)
			now := t0
			type sentPacked struct {
				sent
				m *Message // what was packed for the wire
			}
			var pending []sentPacked
			var media []mediaReq
			take := func(out []Output) {
				for _, o := range out {
					switch o := o.(type) {
					case Send:
						for _, to := range o.To {
							pending = append(pending, sentPacked{sent{to, o.Msg.V}, o.Msg})
						}
					case Call:
						media = append(media, mediaReq{o.To, o.Peer, o.Reason})
					}
				}
			}
			conn := func(peer string) ConnID {
				if peer == ids["root"] {
					return "root/dc"
				}
				return ConnID(peer + "/dc")
			}
			open := map[string]bool{}
			done := map[string]bool{}
			once := func(what string) bool { first := !done[what]; done[what] = true; return first }
			pageSent := map[int][]any{}
			matched := 0
			for _, m := range caps.Messages {
				if m.Gen != gen || m.From != "host" && m.To != "host" {
					continue
				}
				now = now.Add(10 * time.Second) // past every window
				take(h.Tick(now))               // as node does, every 250 ms
				v := decodeHex(t, m.Hex)
				a, _ := v.([]any)
				// What the people at the pages did, where no received message says so.
				switch {
				case m.Step == "host rename" && once("rename"):
					take(h.SetName("HostH"))
				case m.Step == "host modify room info" && once("modify"):
					take(h.SetRoomInfo("Test room 2", "hello again", ""))
				case gen == "C" && m.Desc == "stream start notice [4,hostId]",
					gen == "A" && m.Step == "B refresh while host live" && once("live"):
					take(setStreaming(h, true, now))
					now = now.Add(10 * time.Second)
				case gen == "C" && m.Step == "close A" && once("close A"),
					gen == "A" && m.Seq == 48:
					take(h.Closed(conn(ids["A"])))
				case m.Desc == "host leaving [5]":
					take(h.Leave())
				case m.From == "host" && m.Desc == "chat":
					take(h.Chat(str(a, 2), str(a, 3), at(a, 4), now))
				}
				other := m.ToID
				if m.To == "host" {
					other = m.FromID
				}
				if !open[other] {
					open[other] = true
					if other == ids["root"] {
						take(h.ParentOpened(conn(other), other, now))
					} else {
						take(h.Opened(conn(other), other, now))
					}
				}
				if m.To == "host" {
					take(h.Receive(conn(other), v, now))
					continue
				}
				want := v
				if d := hostDeliberate[gen][m.Seq]; d != nil {
					want = d(a, pageSent)
				}
				pageSent[m.Seq] = a
				if len(pending) == 0 {
					t.Fatalf("seq %d (%s, %s): the page sent %s; we sent nothing", m.Seq, m.Desc, m.Step, describeJSON(v))
				}
				got := pending[0]
				pending = pending[1:]
				msg := got.Msg
				if gen == "A" {
					msg = withoutConference(msg)
				}
				if got.To != conn(other) || !reflect.DeepEqual(msg, want) {
					t.Fatalf("seq %d (%s, %s): the page sent to %s\n  %s\nwe sent to %s\n  %s", m.Seq, m.Desc, m.Step, m.To, describeJSON(want), got.To, describeJSON(msg))
				}
				if hostDeliberate[gen][m.Seq] == nil && gen == "C" {
					b, err := got.m.Packed() // the bytes every binary connection gets
					if err != nil || hex.EncodeToString(b) != m.Hex {
						t.Fatalf("seq %d: same value, other bytes:\n  %x\n  %s", m.Seq, b, m.Hex)
					}
				}
				matched++
				if m.Desc == "host leaving [5]" {
					break // the rest is the page's unload (A's close-handler quirk)
				}
			}
			if len(pending) != 0 {
				t.Errorf("we sent more than the page: %d more, first %s to %s", len(pending), describeJSON(pending[0].Msg), pending[0].To)
			}
			// The calls the page placed (or, for the stream start, the C
			// children ask for at once): A when the stream starts, A on its
			// refresh, and in A the rejoined B on its report.
			wantMedia := []mediaReq{{conn(ids["A"]), ids["A"], MediaStreamArrived}, {conn(ids["A"]), ids["A"], MediaRefresh}}
			if gen == "A" {
				wantMedia = append(wantMedia, mediaReq{conn(ids["B_after_rejoin"]), ids["B_after_rejoin"], MediaJoined})
			}
			if !reflect.DeepEqual(media, wantMedia) {
				t.Errorf("media requests %v, want %v", media, wantMedia)
			}
			if st := h.Stats(); len(st.Rejected) != 0 {
				t.Errorf("rejected real messages: %v", st.Rejected)
			}
			t.Logf("generation %s: %d messages of the host page reproduced", gen, matched)
		})
	}
}

// hostCaptures is captures.json with the peer ids of each message.
type hostCaptures struct {
	IDs      map[string]map[string]string `json:"ids"`
	Messages []struct {
		Gen, Step, From, To, Desc, Hex string
		Seq                            int
		FromID                         string `json:"fromId"`
		ToID                           string `json:"toId"`
	} `json:"messages"`
}

func loadHostCaptures(t testing.TB) hostCaptures {
	t.Helper()
	b, err := os.ReadFile("testdata/captures.json")
	if err != nil {
		t.Fatal(err)
	}
	var c hostCaptures
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// hostDeliberate lists where our host differs from the host page, by
// generation and sequence number of the page's message: what we send there
// instead, given the page's message and the page's earlier messages. Apart
// from these, generation A maps lack C's conference field [11], which we send
// (false; A/B pages never read it).
//   - C needs none: every message is reproduced byte for byte.
//   - A greetings: the page sets [2] of its stored map to −1 and sends that;
//     we send the map unmodified, as C hosts do (the map the page had
//     registered just before).
//   - A "not live": the page sends a bare [4], which C children read as "new
//     stream, ask again"; we send [4, 0], which A/B and C read as "not live".
//   - A child leaving: the A page writes the member list into [3] (room
//     type), leaves [2] stale, and writes the child count into its report's
//     [3]; the next rebuild repairs the map but not the report. We rebuild.
var hostDeliberate = map[string]map[int]func(page []any, earlier map[int][]any) []any{
	"A": {
		6:  func(_ []any, e map[int][]any) []any { return e[3] },
		39: func([]any, map[int][]any) []any { return []any{int64(4), int64(0)} },
		47: func(_ []any, e map[int][]any) []any { return e[45] },
		48: afterALeft,
		50: afterALeft,
		52: repairedReport,
		53: repairedReport,
	},
}

// afterALeft is the A host's map once A has left (its last map before, seq 45,
// minus A).
func afterALeft(_ []any, e map[int][]any) []any {
	m := withField(e[45], mapMembers, []any{e[45][mapHostID]})
	rep := e[45][mapReport].([]any)
	return withField(m, mapReport, withField(rep[:repFirstChild], repCount, int64(0)))
}

func repairedReport(page []any, _ map[int][]any) []any {
	return withField(page, mapReport, withField(page[mapReport].([]any), 3, []any{}))
}

// withoutConference drops C's [11] from a room map, for comparison with A.
func withoutConference(v any) any {
	a, ok := v.([]any)
	if ok && len(a) == 12 && num(a, 0, -1) == TypeTree && num(a, 1, -1) == MarkRoomMap && a[11] == false {
		return a[:11]
	}
	return v
}

// FuzzHostReceive feeds arbitrary decoded values to a host from a child, a
// guest and the root: nothing may panic, every output names a connection
// that exists, and the map stays well formed.
func FuzzHostReceive(f *testing.F) {
	for _, v := range []any{chatFromB, leaf("A"), reportB, roomMap, []any{int64(4), "A"}, []any{int64(4), int64(0)},
		[]any{int64(2), "A", "a"}, []any{int64(5), int64(0), []any{nil, "A", "a"}}, []any{int64(3), "A", int64(0), false},
		[]any{int64(1), int64(0), int64(1), []any{}, "A", "a", []any{}, "B", nil, []any{int64(1)}, int64(3)}} {
		b, err := binarypack.Pack(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, who uint8, streaming bool) {
		v, err := binarypack.Unpack(b)
		if err != nil {
			return
		}
		g := newHostRig(t, HostConfig{})
		g.root()
		g.child("A")
		g.open("G")
		setStreaming(g.h, streaming, g.now)
		c := []ConnID{"A/dc", "G/dc", "root/dc"}[int(who)%3]
		for _, o := range g.h.Receive(c, v, g.now) {
			switch o := o.(type) {
			case Send:
				for _, to := range o.To {
					if g.h.lookup(to) == nil {
						t.Fatalf("send to unknown %s", to)
					}
				}
			case Call:
				if g.h.lookup(o.To) == nil {
					t.Fatalf("media to unknown %s", o.To)
				}
			}
		}
		m := g.h.RoomMap()
		if !m.Authoritative() || m.HostID() != "H" {
			t.Fatalf("map broken: %s", describeJSON(m))
		}
		if _, err := binarypack.Pack([]any(m)); err != nil {
			t.Fatalf("map does not pack: %v", err)
		}
		g.h.Closed(c)
	})
}

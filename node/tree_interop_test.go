package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/tree"
)

// browserEnv is a PeerServer, the web server for our test pages and one
// headless Chromium.
type browserEnv struct {
	ps  *testrig.PeerServer
	web *testrig.WebServer
	br  *testrig.Browser
}

func newBrowserEnv(t *testing.T) *browserEnv {
	if testing.Short() {
		t.Skip("interop with Chromium skipped in -short mode")
	}
	return &browserEnv{ps: testrig.StartPeerServer(t), web: testrig.StartWebServer(t), br: testrig.StartBrowser(t)}
}

func (e *browserEnv) opts(extra map[string]any) string {
	o := e.ps.ClientOptions()
	for k, v := range extra {
		o[k] = v
	}
	return testrig.JSON(o)
}

// page opens tree.html and starts it in a role ("Host", "Audience", "Index").
func (e *browserEnv) page(t *testing.T, role string, extra map[string]any) (*testrig.Page, string) {
	t.Helper()
	p := e.br.NewPage(t, e.web.PageURL("tree.html"))
	var id string
	p.Eval(t, "P.start"+role+"("+e.opts(extra)+")", &id)
	return p, id
}

type chat struct {
	Hop   any `json:"hop"`
	Name  any `json:"name"`
	Text  any `json:"text"`
	Image any `json:"image"`
}

// chatsWith returns the chats of p whose text is text, which page from
// sent. Once the chat has arrived, from sends a sentinel chat along the
// same path, and p's chats are read once the sentinel has arrived too: the
// data channels are ordered, so a duplicate of the chat would have arrived
// before it. No guessed wait.
func chatsWith(t *testing.T, from, p *testrig.Page, text string) []chat {
	t.Helper()
	has := func(text string) string {
		return fmt.Sprintf("Promise.resolve(P.chats()).then(cs => cs.some(c => c.text === %s))", testrig.JSON(text))
	}
	wait := func(text string) {
		t.Helper()
		if err := pageWaitErr(p, has(text)); err != nil {
			var log any
			p.EvalErr("P.messages().then(ms => ms.map(m => m.kind + ':' + (Array.isArray(m.msg) ? m.msg[0] + '/' + m.msg[1] : typeof m.msg)))", &log)
			t.Fatalf("no chat %q: %v\nmessages received: %s", text, err, testrig.JSON(log))
		}
	}
	wait(text)
	sentinel := "sentinel after " + text
	from.Eval(t, "P.chat("+testrig.JSON(sentinel)+")", nil)
	wait(sentinel)
	var all []chat
	p.Eval(t, "P.chats()", &all)
	var out []chat
	for _, c := range all {
		if c.Text == text {
			out = append(out, c)
		}
	}
	return out
}

// TestRelayChromium: host page → Go relay → 2 audience pages.
func TestRelayChromium(t *testing.T) {
	e := newBrowserEnv(t)
	host, hid := e.page(t, "Host", map[string]any{"name": "Host", "title": "Relay room", "summary": "via Go"})
	j := startRelay(t, e.ps, hid, node.JoinConfig{Name: "go relay"})
	// The relay reports to the host on open; wait until the host has it, so
	// the relay holds the host's map before the audiences join.
	pageWait(t, host, fmt.Sprintf("Promise.resolve(P.children()).then(c => c.includes(%s))", testrig.JSON(j.ID())))

	a1, a1id := e.page(t, "Audience", map[string]any{"parent": j.ID(), "name": "Alice"})
	a2, a2id := e.page(t, "Audience", map[string]any{"parent": j.ID(), "name": "Bob"})

	t.Run("room map", func(t *testing.T) {
		start := time.Now()
		// The host's map: the relay is its child with a report of two children.
		cond := fmt.Sprintf(`Promise.resolve(P.roomMap()).then(m => {
			if (!m || !m[2].includes(%[1]s) || !m[2].includes(%[2]s) || !m[2].includes(%[3]s)) return false;
			const r = m[9]; const i = r.indexOf(%[3]s);
			return i >= 7 && r[i+1] === "go relay" && r[i+2][2] === 2 && r[i+2][7] === %[1]s && r[i+2][10] === %[2]s;
		})`, testrig.JSON(a1id), testrig.JSON(a2id), testrig.JSON(j.ID()))
		pageWait(t, host, cond)
		t.Logf("host map shows the relay with its 2 children %v after the second joined", time.Since(start))
		// The audiences hold the same map (sent down through the relay).
		for _, a := range []*testrig.Page{a1, a2} {
			pageWait(t, a, cond)
		}
	})

	t.Run("chat exactly once", func(t *testing.T) {
		a1.Eval(t, `P.chat("from Alice 👋")`, nil)
		for name, p := range map[string]*testrig.Page{"host": host, "Bob": a2} {
			got := chatsWith(t, a1, p, "from Alice 👋")
			if len(got) != 1 || got[0].Hop != j.ID() || got[0].Name != "Alice" {
				t.Fatalf("%s got %+v", name, got)
			}
		}
		host.Eval(t, `P.chat("from the host")`, nil)
		for name, p := range map[string]*testrig.Page{"Alice": a1, "Bob": a2} {
			if got := chatsWith(t, host, p, "from the host"); len(got) != 1 || got[0].Hop != j.ID() {
				t.Fatalf("%s got %+v", name, got)
			}
		}
		var own []chat
		a1.Eval(t, "P.chats()", &own)
		for _, c := range own {
			if c.Text == "from Alice 👋" {
				t.Fatalf("Alice got her own chat back: %+v", own)
			}
		}
	})

	t.Run("1 MB image", func(t *testing.T) {
		var sent struct {
			Image testrig.BigString `json:"image"`
		}
		start := time.Now()
		host.Eval(t, "P.sendBigChat(20, 1048576, 42)", &sent)
		for name, p := range map[string]*testrig.Page{"Alice": a1, "Bob": a2} {
			cond := fmt.Sprintf("Promise.resolve(P.chats()).then(cs => cs.some(c => c.image && c.image.$bigstring && c.image.$bigstring.sha256 === %s))", testrig.JSON(sent.Image.BigString.SHA256))
			pageWait(t, p, cond)
			t.Logf("%s has the 1 MiB image chat (%d UTF-16 units) after %v", name, sent.Image.BigString.Len, time.Since(start))
		}
		// And up: from an audience page through the relay to the host.
		a2.Eval(t, "P.sendBigChat(20, 1048576, 43)", &sent)
		cond := fmt.Sprintf("Promise.resolve(P.chats()).then(cs => cs.some(c => c.image && c.image.$bigstring && c.image.$bigstring.sha256 === %s))", testrig.JSON(sent.Image.BigString.SHA256))
		pageWait(t, host, cond)
	})

	t.Run("child leaves", func(t *testing.T) {
		a2.Close()
		closed := time.Now()
		cond := fmt.Sprintf("Promise.resolve(P.roomMap()).then(m => m && !m[2].includes(%s) && m[2].includes(%s))", testrig.JSON(a2id), testrig.JSON(a1id))
		pageWait(t, host, cond)
		t.Logf("host map dropped the closed page %v after it closed", time.Since(closed))
	})
}

// TestRelayChromiumBadChild: one child page misbehaves (a report with
// another page's id, an oversized message, a flood of 10 000 messages);
// each is rejected and counted and the other child's chat still flows.
func TestRelayChromiumBadChild(t *testing.T) {
	e := newBrowserEnv(t)
	host, hid := e.page(t, "Host", map[string]any{"name": "Host", "title": "Room"})
	// A rate limit far below the flood's pace on any machine: only the
	// burst is accepted, however long the page takes to send.
	j := startRelay(t, e.ps, hid, node.JoinConfig{Name: "go relay", ChildLimits: node.ChildLimits{RateLimit: 0.01, RateBurst: 500}})
	pageWait(t, host, fmt.Sprintf("Promise.resolve(P.children()).then(c => c.includes(%s))", testrig.JSON(j.ID())))
	good, goodID := e.page(t, "Audience", map[string]any{"parent": j.ID(), "name": "Good"})
	bad, badID := e.page(t, "Audience", map[string]any{"parent": j.ID(), "name": "Bad"})
	relayStats := func() node.Stats {
		st, ok := j.Stats()
		if !ok {
			t.Fatal("relay stopped")
		}
		return st
	}
	waitStats := func(what string, ok func(node.Stats) bool) node.Stats {
		t.Helper()
		deadline := time.Now().Add(waitBound)
		for {
			st := relayStats()
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats %+v, bad conn %+v", what, st.Tree, st.Conns[badID])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitStats("both children", func(st node.Stats) bool { return len(st.Children) == 2 })

	// A report claiming to be the good page.
	var errText *string
	bad.Eval(t, "P.sendTo('parent', "+testrig.JSON([]any{1, 0, 0, []any{}, goodID, "impostor", []any{}})+")", &errText)
	waitStats("impostor counted", func(st node.Stats) bool { return st.Tree.Rejected[tree.RejectImpostor] == 1 })

	// An oversized chat: 4 MiB of text (the limit is 3 MiB), chunked by PeerJS.
	bad.Eval(t, `P.sendTo('parent', [0, P.id(), "bad", "x".repeat(4 << 20), null, ""])`, &errText)
	st := waitStats("oversized counted", func(st node.Stats) bool { return st.Conns[badID].TooBig > 0 })
	t.Logf("oversized message: %d pieces refused", st.Conns[badID].TooBig)

	// A flood of 10 000 chat messages.
	start := time.Now()
	bad.Eval(t, `(async () => { for (let i = 0; i < 10000; i++) { await P.sendTo('parent', [0, P.id(), "bad", "flood " + i, null, ""]); } return null })()`, nil)
	t.Logf("page sent 10 000 messages in %v", time.Since(start))
	st = waitStats("flood counted", func(st node.Stats) bool {
		return st.Tree.Rejected[tree.RejectRate]+st.Conns[badID].Dropped >= 9000
	})
	t.Logf("flood: %d rate-limited by the tree, %d dropped at the connection; accepted from the bad child: %d",
		st.Tree.Rejected[tree.RejectRate], st.Conns[badID].Dropped, st.Conns[badID].Received-st.Tree.Rejected[tree.RejectRate])

	// The good child's chat still reaches the host exactly once.
	good.Eval(t, `P.chat("still flowing")`, nil)
	if got := chatsWith(t, good, host, "still flowing"); len(got) != 1 {
		t.Fatalf("host got %+v", got)
	}
	if len(relayStats().Children) != 2 {
		t.Fatalf("a child was lost: %+v", relayStats().Children)
	}
}

// TestRootChromium: an index page lists a room registered by a host page at
// the Go root; the room goes within 5 s after the host page closes; a second
// root on the id fails.
func TestRootChromium(t *testing.T) {
	e := newBrowserEnv(t)
	rootID := "P2P-Live-Web-Default-ID"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	cfg := node.RootConfig{Common: node.Common{Server: server(e.ps), ICEServers: []webrtc.ICEServer{}, Logger: testrig.Logger(t).Named("root"),
		Ready: func() { close(ready) }}, IDs: []string{rootID}, RoomTimeout: 3 * time.Second}
	rootErr := make(chan error, 1)
	go func() { rootErr <- node.RunRoot(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-rootErr; err != nil {
			t.Errorf("root: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-rootErr:
		t.Fatalf("root: %v", err)
	}

	index, _ := e.page(t, "Index", map[string]any{"rootId": rootID})
	host, hid := e.page(t, "Host", map[string]any{"name": "Host", "title": "Listed room", "rootId": rootID})
	cond := fmt.Sprintf("Promise.resolve(P.rooms()).then(r => Array.isArray(r) && r.length === 1 && r[0][7] === %s && r[0][4] === 'Listed room')", testrig.JSON(hid))
	pageWait(t, index, cond)

	host.Close()
	closed := time.Now()
	pageWait(t, index, "Promise.resolve(P.rooms()).then(r => Array.isArray(r) && r.length === 0)")
	t.Logf("room disappeared %v after the host page closed", time.Since(closed))

	// A browser cannot take the id, and neither can a second Go root.
	claimer := e.br.NewPage(t, e.web.PageURL("tree.html"))
	var res string
	claimer.Eval(t, "P.tryClaim("+e.opts(map[string]any{"id": rootID})+")", &res)
	if res != "unavailable-id" {
		t.Fatalf("page claiming the root id: %q", res)
	}
	err := node.RunRoot(within(waitBound), node.RootConfig{Common: node.Common{Server: server(e.ps), ICEServers: []webrtc.ICEServer{}}, IDs: []string{rootID}})
	if err == nil || !strings.Contains(err.Error(), "id is taken") {
		t.Fatalf("second root: %v", err)
	}
}

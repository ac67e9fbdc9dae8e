package testrig

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// treeChat is one entry of P.chats() in testdata/web/tree.js.
type treeChat struct {
	Hop   any `json:"hop"`
	Name  any `json:"name"`
	Text  any `json:"text"`
	Image any `json:"image"`
}

// treeOpts merges the PeerServer options with extra fields for P.start*.
func treeOpts(ps *PeerServer, extra map[string]any) string {
	o := ps.ClientOptions()
	for k, v := range extra {
		o[k] = v
	}
	return JSON(o)
}

// TestTreePage checks the protocol test page tree.html on its own: a host H,
// an audience A under H and an audience B under A.
func TestTreePage(t *testing.T) {
	start := time.Now()
	ps := StartPeerServer(t)
	web := StartWebServer(t)
	br := StartBrowser(t)

	h := br.NewPage(t, web.PageURL("tree.html"))
	a := br.NewPage(t, web.PageURL("tree.html"))
	b := br.NewPage(t, web.PageURL("tree.html"))

	var hid, aid, bid string
	h.Eval(t, "P.startHost("+treeOpts(ps, map[string]any{"name": "Host", "title": "My room", "summary": "hello"})+")", &hid)
	var hostMap []any
	h.Eval(t, "P.roomMap()", &hostMap)
	if want := []any{1.0, 1.0, []any{hid}, 0.0, "My room", "hello", nil, hid, "Host",
		[]any{1.0, 1.0, 0.0, []any{}, hid, "Host", []any{}}, "", false}; !reflect.DeepEqual(hostMap, want) {
		t.Fatalf("initial host map %s, want %s", JSON(hostMap), JSON(want))
	}

	a.Eval(t, "P.startAudience("+treeOpts(ps, map[string]any{"parent": hid, "name": "Alice"})+")", &aid)
	// A has the host's map (greeting or rebuild) before B joins, so that A
	// greets B with a provisional copy.
	a.Eval(t, "P.waitFor('P.roomMap().then(m => m && m[2].length === 2)', 10000)", nil)
	b.Eval(t, "P.startAudience("+treeOpts(ps, map[string]any{"parent": aid})+")", &bid)
	t.Logf("ids H=%s A=%s B=%s, all open after %v", hid, aid, bid, time.Since(start))

	t.Run("map", func(t *testing.T) {
		t0 := time.Now()
		cond := fmt.Sprintf("P.roomMap().then(m => m && m[2].includes(%s) && m[2].includes(%s))", JSON(aid), JSON(bid))
		h.Eval(t, "P.waitFor("+JSON(cond)+", 15000)", nil)
		t.Logf("host map lists A and B after %v", time.Since(t0))

		bReport := []any{1.0, 0.0, 0.0, []any{}, bid, bid, []any{}}
		aReport := []any{1.0, 0.0, 1.0, []any{}, aid, "Alice", []any{}, bid, bid, bReport}
		want := []any{1.0, 1.0, []any{aid, bid, hid}, 0.0, "My room", "hello", nil, hid, "Host",
			[]any{1.0, 1.0, 1.0, []any{}, hid, "Host", []any{}, aid, "Alice", aReport}, "", false}
		h.Eval(t, "P.roomMap()", &hostMap)
		if !reflect.DeepEqual(hostMap, want) {
			t.Fatalf("host map\n%s\nwant\n%s", JSON(hostMap), JSON(want))
		}
		// The map travels down: A stores it and forwards it to B unchanged.
		for _, p := range []*Page{a, b} {
			p.Eval(t, "P.waitFor("+JSON(fmt.Sprintf("P.roomMap().then(m => m && m[2].includes(%s))", JSON(bid)))+", 15000)", nil)
			var m []any
			p.Eval(t, "P.roomMap()", &m)
			if !reflect.DeepEqual(m, want) {
				t.Errorf("map at a child\n%s\nwant\n%s", JSON(m), JSON(want))
			}
		}
		// A greeted B with a copy of its map marked -1 (C relay), kept
		// as provisional at B; A's stored map is not mutated (checked above).
		var prov []any
		b.Eval(t, "P.provisional()", &prov)
		if len(prov) < 3 || prov[0] != 1.0 || prov[1] != -1.0 {
			t.Errorf("B's provisional greeting: %s", JSON(prov))
		}
		var kids []string
		h.Eval(t, "P.children()", &kids)
		if !reflect.DeepEqual(kids, []string{aid}) {
			t.Errorf("host children %q", kids)
		}
		a.Eval(t, "P.children()", &kids)
		if !reflect.DeepEqual(kids, []string{bid}) {
			t.Errorf("A children %q", kids)
		}
	})

	chats := func(p *Page) []treeChat {
		var c []treeChat
		p.Eval(t, "P.chats()", &c)
		return c
	}
	t.Run("chat", func(t *testing.T) {
		t0 := time.Now()
		b.Eval(t, `P.chat("hello from B")`, nil)
		h.Eval(t, "P.waitChats(1, 15000)", nil)
		a.Eval(t, "P.waitChats(1, 15000)", nil)
		t.Logf("chat B -> A, H in %v", time.Since(t0))

		h.Eval(t, `P.chat("hi all", null)`, nil)
		a.Eval(t, "P.waitChats(2, 15000)", nil)
		b.Eval(t, "P.waitChats(1, 15000)", nil)
		t.Logf("chat H -> A, B after %v", time.Since(t0))
		// Sentinels along the same ordered data channels (B -> A -> H and
		// H -> A -> B): once they are in, a duplicate would be too.
		b.Eval(t, `P.chat("sentinel B")`, nil)
		h.Eval(t, `P.chat("sentinel H", null)`, nil)
		has := func(p *Page, text string) {
			t.Helper()
			p.Eval(t, "P.waitFor("+JSON("Promise.resolve(P.chats()).then(cs => cs.some(c => c.text === "+JSON(text)+"))")+", 15000)", nil)
		}
		has(h, "sentinel B")
		has(a, "sentinel B")
		has(a, "sentinel H")
		has(b, "sentinel H")
		chats := func(p *Page) []treeChat {
			var out []treeChat
			for _, c := range chats(p) {
				if s, _ := c.Text.(string); !strings.HasPrefix(s, "sentinel ") {
					out = append(out, c)
				}
			}
			return out
		}

		fromB := treeChat{Hop: aid, Name: bid, Text: "hello from B"}
		if got := chats(h); !reflect.DeepEqual(got, []treeChat{fromB}) {
			t.Errorf("host chats %s, want %s", JSON(got), JSON([]treeChat{fromB}))
		}
		fromH := treeChat{Hop: hid, Name: "Host", Text: "hi all"}
		if got, want := chats(a), []treeChat{{Hop: bid, Name: bid, Text: "hello from B"}, fromH}; !reflect.DeepEqual(got, want) {
			t.Errorf("A chats %s, want %s", JSON(got), JSON(want))
		}
		if got, want := chats(b), []treeChat{{Hop: aid, Name: "Host", Text: "hi all"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("B chats %s, want %s", JSON(got), JSON(want))
		}
	})

	t.Run("bigchat", func(t *testing.T) {
		t0 := time.Now()
		const n, seed = 1_000_000, 5
		var sent struct {
			Image json.RawMessage `json:"image"`
			Sent  int             `json:"sent"`
		}
		h.Eval(t, fmt.Sprintf("P.sendBigChat(20, %d, %d)", n, seed), &sent)
		wantImg := BigString{DigestOf(MakeString(n, seed))}
		var img BigString
		if err := json.Unmarshal(sent.Image, &img); err != nil || img != wantImg || sent.Sent != 1 {
			t.Fatalf("sendBigChat returned %+v (%s), want image %+v sent to 1", sent, sent.Image, wantImg)
		}
		// B holds "hi all" and "sentinel H" from the chat test before it.
		b.Eval(t, "P.waitChats(3, 15000)", nil)
		got := chats(b)[2]
		if got.Text != MakeString(20, seed+1) || got.Hop != aid {
			t.Errorf("big chat at B: %s", JSON(got))
		}
		if JSON(got.Image) != JSON(wantImg) {
			t.Errorf("big chat image at B %s, want %s", JSON(got.Image), JSON(wantImg))
		}
		t.Logf("1M-unit image chat H -> A -> B in %v", time.Since(t0))
	})

	t.Run("leave", func(t *testing.T) {
		t0 := time.Now()
		b.Close() // tree.js destroys its peer on pagehide: a clean close
		cond := fmt.Sprintf("P.roomMap().then(m => m && !m[2].includes(%s) && m[2].length === 2)", JSON(bid))
		h.Eval(t, "P.waitFor("+JSON(cond)+", 15000)", nil)
		t.Logf("host map dropped B after %v", time.Since(t0))
		var m []any
		h.Eval(t, "P.roomMap()", &m)
		want := []any{1.0, 1.0, []any{aid, hid}, 0.0, "My room", "hello", nil, hid, "Host",
			[]any{1.0, 1.0, 1.0, []any{}, hid, "Host", []any{},
				aid, "Alice", []any{1.0, 0.0, 0.0, []any{}, aid, "Alice", []any{}}}, "", false}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("host map after B left\n%s\nwant\n%s", JSON(m), JSON(want))
		}
		var kids []string
		a.Eval(t, "P.children()", &kids)
		if len(kids) != 0 {
			t.Errorf("A children after B left: %q", kids)
		}
	})

	// A light check of the index-client and root-registration paths, with
	// peer.html's T as a stand-in index root.
	t.Run("index", func(t *testing.T) {
		t0 := time.Now()
		root := br.NewPage(t, web.PageURL("peer.html"))
		ro := ps.ClientOptions()
		ro["id"] = "tree-root"
		root.Eval(t, "T.start("+JSON(ro)+")", nil)
		var claim string
		a.Eval(t, "P.tryClaim("+treeOpts(ps, map[string]any{"id": "tree-root"})+")", &claim)
		if claim != "unavailable-id" {
			t.Errorf("tryClaim of a taken id: %q", claim)
		}

		h2 := br.NewPage(t, web.PageURL("tree.html"))
		var h2id string
		h2.Eval(t, "P.startHost("+treeOpts(ps, map[string]any{"rootId": "tree-root", "title": "R2"})+")", &h2id)
		var k string
		root.Eval(t, "T.waitIncoming(10000)", &k)
		var got [][]any
		root.Eval(t, "T.waitReceived("+JSON(k)+", 1, 10000)", &got)
		if m := got[0]; len(m) != 12 || m[1] != 1.0 || m[4] != "R2" || m[7] != h2id || m[10] != "tree-root" {
			t.Errorf("registration at the root: %s", JSON(got[0]))
		}

		ix := br.NewPage(t, web.PageURL("tree.html"))
		ix.Eval(t, "P.startIndex("+treeOpts(ps, map[string]any{"rootId": "tree-root"})+")", nil)
		var k2 string
		root.Eval(t, "T.waitIncoming(10000)", &k2)
		list := []any{got[0]}
		root.Eval(t, "T.send("+JSON(k2)+", "+JSON(list)+")", nil)
		ix.Eval(t, "P.waitFor('P.rooms().then(r => r && r.length === 1)', 15000)", nil)
		var rooms []any
		ix.Eval(t, "P.rooms()", &rooms)
		if JSON(rooms) != JSON(list) {
			t.Errorf("index rooms %s, want %s", JSON(rooms), JSON(list))
		}
		t.Logf("index checks in %v", time.Since(t0))
	})

	for _, p := range []*Page{h, a} {
		var errs []string
		p.Eval(t, "P.errors()", &errs)
		if len(errs) > 0 {
			t.Logf("page errors: %q", errs)
		}
	}
	t.Logf("total %v", time.Since(start))
}

package node_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/node"
)

// Tests of single-file page trees (SingleP2PLiveVersion.html, protocol
// notes §12) with testdata/web/single.html, our page that behaves on the
// wire as the single page does: no greeting, the root's own report with
// [1] = 1 as the room map, five-field chat.

// singlePage opens single.html and starts its peer.
func (e *browserEnv) singlePage(t *testing.T, name string) (*testrig.Page, string) {
	t.Helper()
	p := e.br.NewPage(t, e.web.PageURL("single.html"))
	var id string
	p.Eval(t, "P.start("+e.opts(map[string]any{"name": name})+")", &id)
	return p, id
}

// connectSingle presses the page's Connect button with parent's id.
func connectSingle(t *testing.T, p *testrig.Page, parent string) {
	t.Helper()
	p.Eval(t, "P.connect("+testrig.JSON(parent)+")", nil)
}

// singleMap is a page's stored room map, decoded from JSON.
func singleMap(t *testing.T, p *testrig.Page) []any {
	t.Helper()
	var raw json.RawMessage
	p.Eval(t, "P.roomMap()", &raw)
	var m []any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("room map %s: %v", raw, err)
	}
	return m
}

// singleMembers is [3] of a single map: every member id but the root's.
func singleMembers(m []any) []string {
	var out []string
	if len(m) > 3 {
		ids, _ := m[3].([]any)
		for _, v := range ids {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// waitSameMap waits until the root's map lists exactly the members want
// (order aside) and every leaf holds a map equal to the root's; it returns
// the root's map. The bound is generous: nothing here waits on a clock of
// ours, only on messages crossing the tree.
func waitSameMap(t *testing.T, root *testrig.Page, want []string, leaves map[string]*testrig.Page) []any {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(waitBound)
	for {
		rm := singleMap(t, root)
		got := slices.Sorted(slices.Values(singleMembers(rm)))
		diff := ""
		if !reflect.DeepEqual(got, want) {
			diff = fmt.Sprintf("the root lists %v, want %v", got, want)
		} else {
			for name, p := range leaves {
				if lm := singleMap(t, p); !reflect.DeepEqual(lm, rm) {
					diff = fmt.Sprintf("%s holds %s; the root %s", name, testrig.JSON(lm), testrig.JSON(rm))
					break
				}
			}
		}
		if diff == "" {
			return rm
		}
		if time.Now().After(deadline) {
			t.Fatal(diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type singleSent struct {
	FrameWidth      int     `json:"frameWidth"`
	FrameHeight     int     `json:"frameHeight"`
	FramesPerSecond float64 `json:"framesPerSecond"`
}

// checkSingleDecoding waits until leaf decodes the relayed stream, from the
// relay, at the size the root sends, and keeps decoding.
func checkSingleDecoding(t *testing.T, name string, root, leaf *testrig.Page, relayID string) testrig.TreeVideo {
	t.Helper()
	v := testrig.WaitTreeVideo(t, leaf, 1, 1, waitBound)
	if v.From == nil || *v.From != relayID {
		t.Fatalf("%s: the stream came from %v, not the relay %s", name, v.From, relayID)
	}
	// The root's encoder may still be ramping up its resolution: compare
	// the sizes until they agree (bounded).
	var sent singleSent
	waitFor(t, name+" decoding at the root's size", func() bool {
		v = testrig.TreeVideoOf(t, leaf)
		root.Eval(t, "P.sentVideo()", &sent)
		return v.FrameWidth == sent.FrameWidth && v.FrameHeight == sent.FrameHeight && v.FrameWidth > 0
	})
	// It keeps decoding.
	v = waitDecoded(t, leaf, v.FramesDecoded+5)
	t.Logf("%s: %s (the root sends %dx%d)", name, v, sent.FrameWidth, sent.FrameHeight)
	return v
}

// TestSingleChromium: single page as root (fake camera) → p2plive-node →
// single pages as leaves, connected to the node by id as a user would.
func TestSingleChromium(t *testing.T) {
	e := newBrowserEnv(t)
	root, rootID := e.singlePage(t, "Root")
	root.Eval(t, "P.startStream()", nil)
	j := startRelay(t, e.ps, rootID, node.JoinConfig{Name: "go relay"})
	waitChild(t, root, j.ID())

	l1, id1 := e.singlePage(t, "Leaf one")
	connectSingle(t, l1, j.ID())
	l2, id2 := e.singlePage(t, "Leaf two")
	connectSingle(t, l2, j.ID())

	t.Run("media", func(t *testing.T) {
		checkSingleDecoding(t, "leaf one", root, l1, j.ID())
		checkSingleDecoding(t, "leaf two", root, l2, j.ID())
	})

	t.Run("chat exactly once", func(t *testing.T) {
		var n int
		l1.Eval(t, `P.chat("from leaf one 👋")`, &n)
		if n != 1 {
			t.Fatalf("leaf one sent its chat on %d links, want 1 (its parent)", n)
		}
		for name, p := range map[string]*testrig.Page{"the root": root, "leaf two": l2} {
			if got := chatsWith(t, l1, p, "from leaf one 👋"); len(got) != 1 || got[0].Hop != j.ID() || got[0].Name != "Leaf one" {
				t.Fatalf("%s got %+v", name, got)
			}
		}
		root.Eval(t, `P.chat("from the root")`, nil)
		for name, p := range map[string]*testrig.Page{"leaf one": l1, "leaf two": l2} {
			if got := chatsWith(t, root, p, "from the root"); len(got) != 1 || got[0].Hop != j.ID() || got[0].Name != "Root" {
				t.Fatalf("%s got %+v", name, got)
			}
		}
		var own []chat
		l1.Eval(t, "P.chats()", &own)
		for _, c := range own {
			if c.Text == "from leaf one 👋" {
				t.Fatalf("leaf one got its own chat back: %+v", own)
			}
		}
		var rootOwn []chat
		root.Eval(t, "P.chats()", &rootOwn)
		for _, c := range rootOwn {
			if c.Text == "from the root" {
				t.Fatalf("the root got its own chat back: %+v", rootOwn)
			}
		}
	})

	t.Run("room map", func(t *testing.T) {
		leaves := map[string]*testrig.Page{"leaf one": l1, "leaf two": l2}
		m := waitSameMap(t, root, []string{j.ID(), id1, id2}, leaves)
		t.Logf("both leaves hold the root's map: %s", testrig.JSON(m))

		l3, id3 := e.singlePage(t, "Leaf three")
		connectSingle(t, l3, j.ID())
		leaves["leaf three"] = l3
		start := time.Now()
		waitSameMap(t, root, []string{j.ID(), id1, id2, id3}, leaves)
		t.Logf("a third leaf joined: all three leaves hold the root's latest map %v after Connect", time.Since(start).Round(time.Millisecond))

		l2.Close()
		delete(leaves, "leaf two")
		start = time.Now()
		waitSameMap(t, root, []string{j.ID(), id1, id3}, leaves)
		t.Logf("a leaf left: the others hold the root's latest map %v after it closed", time.Since(start).Round(time.Millisecond))
	})

	t.Run("lend (type 2)", func(t *testing.T) {
		g, _ := e.singlePage(t, "Borrower")
		g.Eval(t, "P.lend("+testrig.JSON(j.ID())+")", nil)
		v := testrig.WaitTreeVideo(t, g, 5, 1, 20*time.Second)
		if v.From == nil || *v.From != j.ID() {
			t.Fatalf("the borrower's stream came from %v, not the relay", v.From)
		}
		t.Logf("borrower: %s", v)
	})
}

// TestSingleHealChromium: root page → middle page M → p2plive-node → leaf
// page. M closes: the node re-joins by the single map it holds, the root if
// it has room (fewer than 3 children, the single page's own threshold),
// else the shallowest page with room; the leaf keeps its call and decoding,
// and its map is the root's latest again.
func TestSingleHealChromium(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extras int // root children besides M, joined after it
	}{
		{"root has room", 0},
		{"root full: shallowest with room", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newBrowserEnv(t)
			root, rootID := e.singlePage(t, "Root")
			// A small picture: up to five browsers decode and re-encode here.
			root.Eval(t, `P.startStream({video: {width: 320, height: 240, frameRate: 15}, audio: true})`, nil)
			mid, midID := e.singlePage(t, "Middle")
			connectSingle(t, mid, rootID)
			waitChild(t, root, midID)
			var extras []*testrig.Page
			var extraIDs []string
			for i := range tc.extras {
				p, id := e.singlePage(t, fmt.Sprintf("Extra %d", i+1))
				connectSingle(t, p, rootID)
				waitChild(t, root, id)
				extras = append(extras, p)
				extraIDs = append(extraIDs, id)
			}
			j := startRelay(t, e.ps, midID, node.JoinConfig{Name: "go relay"})
			waitChild(t, mid, j.ID())
			leaf, leafID := e.singlePage(t, "Leaf")
			connectSingle(t, leaf, j.ID())
			v := testrig.WaitTreeVideo(t, leaf, 5, 1, 20*time.Second)
			if v.From == nil || *v.From != j.ID() {
				t.Fatalf("the leaf's stream came from %v, not the relay", v.From)
			}
			members := append([]string{midID, j.ID(), leafID}, extraIDs...)
			waitSameMap(t, root, members, map[string]*testrig.Page{"leaf": leaf})

			finish := watch(t, leaf)
			closed := time.Now()
			mid.Close()

			// The new parent: the root, or the first of its children (in
			// its report's order) when it is full.
			parent, parentName := root, "the root"
			if tc.extras > 0 {
				parent, parentName = extras[0], "the first extra page"
			}
			waitChild(t, parent, j.ID())
			moved := time.Since(closed)
			members = append([]string{j.ID(), leafID}, extraIDs...)
			waitSameMap(t, root, members, map[string]*testrig.Page{"leaf": leaf})
			t.Logf("the node is under %s %v after the middle page closed; the leaf holds the root's map %v after", parentName,
				moved.Round(time.Millisecond), time.Since(closed).Round(time.Millisecond))

			// The leaf keeps decoding on the call it has.
			waitDecoded(t, leaf, testrig.TreeVideoOf(t, leaf).FramesDecoded+10)
			gap, _ := finish()
			v = testrig.TreeVideoOf(t, leaf)
			t.Logf("leaf: longest stall %v; %s", gap.Round(time.Millisecond), v)
			if v.Calls != 1 {
				t.Errorf("the leaf received %d calls, want 1 (it must not need a new call)", v.Calls)
			}
		})
	}
}

// TestSingleRefreshChromium: type 4 in a single-page tree whose root has no
// stream: the leaf's Refresh ([4, leafId]) makes the node ask the root
// ([4, nodeId]); the root answers "not live" ([4]) and the leaf hears it
// from the node as [4, 0] (the page's "host is not on live" alert).
func TestSingleRefreshChromium(t *testing.T) {
	e := newBrowserEnv(t)
	root, rootID := e.singlePage(t, "Root")
	j := startRelay(t, e.ps, rootID, node.JoinConfig{Name: "go relay"})
	waitChild(t, root, j.ID())
	leaf, leafID := e.singlePage(t, "Leaf")
	connectSingle(t, leaf, j.ID())
	waitSameMap(t, root, []string{j.ID(), leafID}, map[string]*testrig.Page{"leaf": leaf})

	var sent bool
	leaf.Eval(t, "P.refresh()", &sent)
	if !sent {
		t.Fatal("the leaf did not ask its parent")
	}
	cond := func(from string, want []any) string {
		return fmt.Sprintf("P.messages().some(m => m.from === %s && JSON.stringify(m.msg) === %s)", testrig.JSON(from), testrig.JSON(testrig.JSON(want)))
	}
	root.Eval(t, "P.waitFor("+testrig.JSON(cond(j.ID(), []any{4, j.ID()}))+", 15000)", nil)
	leaf.Eval(t, "P.waitFor("+testrig.JSON(cond(j.ID(), []any{4, 0}))+", 15000)", nil)
	var info struct {
		NotLive int `json:"notLive"`
	}
	leaf.Eval(t, "P.info()", &info)
	if info.NotLive != 1 {
		t.Fatalf("the leaf heard \"not live\" %d times, want 1", info.NotLive)
	}
}

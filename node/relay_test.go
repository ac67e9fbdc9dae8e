package node_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

func server(ps *testrig.PeerServer) signaling.Server {
	return signaling.Server{Host: ps.Host, Port: ps.Port, Path: ps.Path, Key: ps.Key}
}

func goPeer(t *testing.T, ps *testrig.PeerServer) *peerjs.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	p, err := peerjs.New(ctx, peerjs.Config{Signaling: signaling.Config{Server: server(ps)}, ICEServers: []webrtc.ICEServer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// startRelay starts a relay under parent; jc gives the role's knobs, the
// session (Common) and Parent are filled here.
func startRelay(t *testing.T, ps *testrig.PeerServer, parent string, jc node.JoinConfig) *node.Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	jc.Common = node.Common{Server: server(ps), ICEServers: []webrtc.ICEServer{}, Logger: testrig.Logger(t).Named("relay")}
	jc.Parent = parent
	j, err := node.StartJoin(ctx, jc)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := j.Wait(); err != nil {
			t.Errorf("relay ended with %v", err)
		}
	})
	return j
}

func within(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // released when the deadline passes; tests are short
	return ctx
}

// recvUntil reads c until pred accepts a value, failing after waitBound.
func recvUntil(t *testing.T, c *peerjs.DataConn, what string, pred func(any) bool) any {
	t.Helper()
	ctx := within(waitBound)
	for {
		v, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if pred(v) {
			return v
		}
	}
}

func isType(typ int64) func(any) bool {
	return func(v any) bool { n, ok := tree.Type(v); return ok && n == typ }
}

func report(id string) []any {
	return []any{int64(1), int64(0), int64(0), []any{}, id, id + "-name", []any{}}
}

// TestRelayGoPeers: a Go "host" above the relay, Go children below, the
// real PeerServer in between: reports go up, maps and greetings down, chat
// floods once; a bad child is rejected and counted while others are served.
func TestRelayGoPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the PeerServer")
	}
	ps := testrig.StartPeerServer(t)
	host := goPeer(t, ps)
	// A rate limit far below the flood's pace on any machine: beyond the
	// burst nearly everything is rejected, however long the flood takes.
	j := startRelay(t, ps, host.ID(), node.JoinConfig{Name: "go relay", ChildLimits: node.ChildLimits{RateLimit: 0.01, RateBurst: 200}})

	up, err := host.Accept(within(waitBound))
	if err != nil {
		t.Fatal(err)
	}
	if v := recvUntil(t, up, "first report", isType(1)); !reflect.DeepEqual(v, []any{int64(1), int64(0), int64(0), []any{}, j.ID(), "go relay", []any{}}) {
		t.Fatalf("first report %v", peerjs.Describe(v, 300))
	}
	roomMap := []any{int64(1), int64(1), []any{j.ID(), host.ID()}, int64(0), "title", "summary", nil, host.ID(), "host",
		[]any{int64(1), int64(1), int64(1), []any{}, host.ID(), "host", []any{}}, "", false}
	if err := up.Send(roomMap); err != nil {
		t.Fatal(err)
	}

	children := map[string]*peerjs.DataConn{}
	ids := map[string]string{} // child name -> its own peer id
	for _, name := range []string{"A", "B", "Bad"} {
		p := goPeer(t, ps)
		c, err := p.Connect(within(waitBound), j.ID(), peerjs.ConnectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		greet := recvUntil(t, c, "greeting", isType(1)).([]any)
		if n, _ := tree.Type(greet); n != 1 || greet[2] != int64(-1) || greet[4] != "title" {
			t.Fatalf("%s greeting %v", name, peerjs.Describe(greet, 300))
		}
		children[name] = c
		ids[name] = p.ID()
	}
	for _, name := range []string{"A", "B"} {
		if err := children[name].Send(report(ids[name])); err != nil {
			t.Fatal(err)
		}
	}
	// The host sees a report with both children.
	recvUntil(t, up, "report with two children", func(v any) bool {
		a, ok := v.([]any)
		return ok && len(a) == 13 && a[2] == int64(2)
	})

	// Bad child: a report with another peer's id, an oversized message, a flood.
	bad := children["Bad"]
	if err := bad.Send(report(ids["A"])); err != nil {
		t.Fatal(err)
	}
	if err := bad.Send([]any{int64(0), ids["Bad"], "x", strings.Repeat("x", 4<<20), nil, ""}); err != nil {
		t.Fatal(err)
	}
	const flood = 10000
	sent := 0
	for i := range flood {
		if bad.Send([]any{int64(0), ids["Bad"], "flood", "msg " + string(rune('a'+i%26)), nil, ""}) == nil {
			sent++
		}
	}

	// Meanwhile A's chat reaches the host and B exactly once, rewritten.
	chat := []any{int64(0), ids["A"], "Alice", "héllo 👋", nil, ""}
	if err := children["A"].Send(chat); err != nil {
		t.Fatal(err)
	}
	// A sentinel chat after it, along the same ordered channels: a
	// duplicate would arrive before the sentinel.
	if err := children["A"].Send([]any{int64(0), ids["A"], "Alice", "sentinel", nil, ""}); err != nil {
		t.Fatal(err)
	}
	want := []any{int64(0), j.ID(), "Alice", "héllo 👋", nil, ""}
	for who, c := range map[string]*peerjs.DataConn{"host": up, "B": children["B"]} {
		var got [][]any
		recvUntil(t, c, "sentinel chat at "+who, func(v any) bool {
			a, _ := v.([]any)
			if len(a) > 3 && a[3] == "héllo 👋" {
				got = append(got, a)
			}
			return len(a) > 3 && a[3] == "sentinel"
		})
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("%s got %v, want it once", who, peerjs.Describe(got, 400))
		}
	}

	deadline := time.Now().Add(waitBound)
	for {
		st, ok := j.Stats()
		if !ok {
			t.Fatal("relay stopped")
		}
		cs := st.Conns[ids["Bad"]]
		rate := st.Tree.Rejected[tree.RejectRate]
		handled := rate + cs.Dropped + st.Tree.Rejected[tree.RejectNotChild] + st.Tree.Rejected[tree.RejectDuplicate]
		if st.Tree.Rejected[tree.RejectImpostor] == 1 && cs.TooBig > 0 && handled >= uint64(sent)-200 {
			t.Logf("bad child: impostor 1, oversized pieces %d, flood of %d: rate-limited %d, dropped at the connection %d, not-child %d, duplicates %d",
				cs.TooBig, sent, rate, cs.Dropped, st.Tree.Rejected[tree.RejectNotChild], st.Tree.Rejected[tree.RejectDuplicate])
			if len(st.Children) != 2 {
				t.Fatalf("children %v", st.Children)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejections not counted: %+v conn %+v", st.Tree, cs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The good children are still served after the flood.
	if err := children["B"].Send([]any{int64(0), ids["B"], "Bob", "after the flood", nil, ""}); err != nil {
		t.Fatal(err)
	}
	recvUntil(t, children["A"], "chat after the flood", func(v any) bool {
		a, _ := v.([]any)
		return len(a) > 3 && a[3] == "after the flood"
	})
}

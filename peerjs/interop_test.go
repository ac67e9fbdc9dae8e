package peerjs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/peerjs/binarypack"
	"github.com/p2plive/p2plive-node/peerjs/serial"
	"github.com/p2plive/p2plive-node/signaling"
)

// env is one real PeerServer, one headless Chromium page running the real
// peerjs 1.5.4 bundle, and one Go peer, all on 127.0.0.1.
type env struct {
	t      *testing.T
	ps     *testrig.PeerServer
	web    *testrig.WebServer
	br     *testrig.Browser
	page   *testrig.Page
	pageID string
	goPeer *peerjs.Peer
}

func server(ps *testrig.PeerServer) signaling.Server {
	return signaling.Server{Host: ps.Host, Port: ps.Port, Path: ps.Path, Key: ps.Key}
}

func newGoPeer(t *testing.T, ps *testrig.PeerServer, id string) *peerjs.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := peerjs.New(ctx, peerjs.Config{
		Signaling:  signaling.Config{Server: server(ps), ID: id, BackoffMax: time.Second},
		ICEServers: []webrtc.ICEServer{}, // loopback only: no STUN/TURN in tests
		Logger:     testrig.Logger(t).Named("go"),
	})
	if err != nil {
		t.Fatalf("go peer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func startPage(t *testing.T, br *testrig.Browser, web *testrig.WebServer, ps *testrig.PeerServer, id string) (*testrig.Page, string) {
	t.Helper()
	page := br.NewPage(t, web.PageURL("peer.html"))
	opts := ps.ClientOptions()
	if id != "" {
		opts["id"] = id
	}
	var got string
	page.Eval(t, "T.start("+testrig.JSON(opts)+")", &got)
	return page, got
}

func newEnv(t *testing.T) *env {
	if testing.Short() {
		t.Skip("interop with Chromium skipped in -short mode")
	}
	e := &env{t: t}
	e.ps = testrig.StartPeerServer(t)
	e.web = testrig.StartWebServer(t)
	e.br = testrig.StartBrowser(t)
	e.page, e.pageID = startPage(t, e.br, e.web, e.ps, "")
	e.goPeer = newGoPeer(t, e.ps, "")
	return e
}

// chat is the shape of a P2P-Live-web chat message (type 0).
func chat(id string) []any {
	return []any{int64(0), id, "name", "héllo 👋", nil, nil}
}

// roomMap is shaped like the pages' nodes map: numbers, strings, nested
// arrays, booleans and null.
func roomMap(host string) []any {
	return []any{int64(1), int64(1), []any{[]any{"child-1", "kid 🎈", []any{}}, []any{"child-2", "", []any{int64(3), nil}}},
		int64(3), "title — live", true, nil, host, 2.5, int64(-7), int64(300), int64(-100000), []any{false, []any{nil}}}
}

// plain turns a value of the binarypack model into what JSON makes of it,
// so values seen by Go and by the page compare as JSON.
func plain(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case binarypack.Map:
		m := map[string]any{}
		for _, e := range x {
			m[fmt.Sprint(e.Key)] = plain(e.Value)
		}
		return m
	case []byte:
		return testrig.Bin(x)
	}
	return v
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back any
	json.Unmarshal(b, &back)
	b, _ = json.Marshal(back)
	return string(b)
}

func recv(t *testing.T, c *peerjs.DataConn) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("recv: %v (stats %+v)", err, c.Stats())
	}
	return v
}

// open makes a connection in the given direction and returns both ends.
func (e *env) open(t *testing.T, serialization string, browserDials bool) (*peerjs.DataConn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if browserDials {
		var key string
		opts := map[string]any{"serialization": serialization, "metadata": map[string]any{"from": "page", "n": 1}}
		e.page.Eval(t, fmt.Sprintf("T.connect(%q, %s)", e.goPeer.ID(), testrig.JSON(opts)), &key)
		c, err := e.goPeer.Accept(ctx)
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		if c.Peer() != e.pageID || c.Serialization() != serialization || c.Reliable() || !strings.HasPrefix(c.ConnectionID(), "dc_") || c.Label() != c.ConnectionID() {
			t.Fatalf("accepted conn: peer %s ser %s reliable %v id %s label %s", c.Peer(), c.Serialization(), c.Reliable(), c.ConnectionID(), c.Label())
		}
		if asJSON(t, json.RawMessage(c.Metadata())) != `{"from":"page","n":1}` {
			t.Fatalf("metadata %s", c.Metadata())
		}
		return c, key
	}
	c, err := e.goPeer.Connect(ctx, e.pageID, peerjs.ConnectOptions{Serialization: serialization, Metadata: json.RawMessage(`{"from":"go"}`)})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	var key string
	var info struct {
		Open          bool
		Peer          string
		Serialization string
		Reliable      bool
		Label         string
		Metadata      map[string]any
		ConnectionID  string
	}
	// The page queues every incoming connection that opened; under load an
	// earlier one (already closed by its test) can still be queued: skip to
	// ours.
	for i := 0; i < 5; i++ {
		e.page.Eval(t, "T.waitIncoming(15000)", &key)
		e.page.Eval(t, fmt.Sprintf("T.info(%q)", key), &info)
		if info.ConnectionID == c.ConnectionID() {
			break
		}
		t.Logf("skipping an earlier incoming connection %s", info.ConnectionID)
	}
	if !info.Open || info.Peer != e.goPeer.ID() || info.Serialization != serialization || info.ConnectionID != c.ConnectionID() || info.Label != c.ConnectionID() || info.Metadata["from"] != "go" {
		t.Fatalf("page sees %+v", info)
	}
	return c, key
}

// TestInteropMatrix: browser → Go and Go → browser data connections open in
// each serialization, and the pages' message shapes cross exactly, both ways.
func TestInteropMatrix(t *testing.T) {
	e := newEnv(t)
	for _, ser := range []string{"binary", "json", "raw"} {
		for _, browserDials := range []bool{true, false} {
			dir := "go-dials"
			if browserDials {
				dir = "browser-dials"
			}
			t.Run(ser+"/"+dir, func(t *testing.T) {
				c, key := e.open(t, ser, browserDials)
				defer c.Close()
				var values []any
				if ser == "raw" {
					// raw carries strings and bytes as they are (PeerJS hands
					// anything else to RTCDataChannel.send, which stringifies it).
					values = []any{"héllo 👋 raw", []byte{0, 1, 2, 0xff, 'x'}}
				} else {
					values = []any{chat(e.pageID), roomMap(e.pageID)}
				}
				// Go → page.
				for _, v := range values {
					if err := c.Send(v); err != nil {
						t.Fatalf("go send: %v", err)
					}
				}
				var got []any
				e.page.Eval(t, fmt.Sprintf("T.waitReceived(%q, %d, 15000)", key, len(values)), &got)
				for i, v := range values {
					if asJSON(t, got[i]) != asJSON(t, plain(v)) {
						t.Errorf("page received %s, want %s", asJSON(t, got[i]), asJSON(t, plain(v)))
					}
				}
				// Page → Go.
				for _, v := range values {
					var errText *string
					e.page.Eval(t, fmt.Sprintf("T.send(%q, %s)", key, testrig.JSON(plain(v))), &errText)
					if errText != nil {
						t.Fatalf("page send: %s", *errText)
					}
					if r := recv(t, c); !reflect.DeepEqual(r, v) {
						t.Errorf("go received %#v, want %#v", r, v)
					}
				}
			})
		}
	}
}

// TestInteropLargeMessages: a 1.5 MB string (a chat image's data URL) crosses
// both ways under binary, chunked by both sides; json behaves as PeerJS.
func TestInteropLargeMessages(t *testing.T) {
	e := newEnv(t)
	const n, seed = 1_500_000, 7
	big := testrig.MakeString(n, seed)
	want := testrig.DigestOf(big)

	for _, browserDials := range []bool{true, false} {
		t.Run(fmt.Sprintf("binary/browserDials=%v", browserDials), func(t *testing.T) {
			c, key := e.open(t, "binary", browserDials)
			defer c.Close()
			if err := c.Send([]any{int64(0), e.goPeer.ID(), "name", big}); err != nil {
				t.Fatalf("go send: %v", err)
			}
			var dig map[string]map[string]any
			e.page.Eval(t, fmt.Sprintf("T.waitReceived(%q, 1, 30000).then(r => r[0][3])", key), &dig)
			if d := dig["$bigstring"]; d == nil || d["sha256"] != want.SHA256 || int(d["len"].(float64)) != want.Len {
				t.Fatalf("page got %v, want %+v", dig, want)
			}
			var errText *string
			e.page.Eval(t, fmt.Sprintf("T.sendBigString(%q, %d, %d)", key, n, seed), &errText)
			if errText != nil {
				t.Fatalf("page send: %s", *errText)
			}
			r := recv(t, c)
			if s, _ := r.(string); s != big {
				t.Fatalf("go received %d bytes, want the %d-byte string", len(s), len(big))
			}
			t.Logf("%d-byte string crossed both ways; pieces reordered on arrival at Go: %d", len(big), c.Stats().Reordered)

			// PeerJS reassembles pieces in any order: send them last to first.
			if err := peerjs.SendReversed(c, big); err != nil {
				t.Fatalf("go send reversed: %v", err)
			}
			var rev map[string]map[string]any
			e.page.Eval(t, fmt.Sprintf("T.waitReceived(%q, 2, 30000).then(r => r[1])", key), &rev)
			if d := rev["$bigstring"]; d == nil || d["sha256"] != want.SHA256 {
				t.Fatalf("page got %v from reversed pieces, want %+v", rev, want)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		c, key := e.open(t, "json", true)
		defer c.Close()
		// Go refuses what PeerJS refuses: encodings of 16300 bytes or more.
		tooBig := strings.Repeat("x", serial.ChunkMTU) // "…" quotes make it 16302 bytes
		if err := c.Send(tooBig); !errors.Is(err, serial.ErrMessageTooBig) {
			t.Fatalf("go send of %d bytes: %v, want ErrMessageTooBig", len(tooBig)+2, err)
		}
		fits := strings.Repeat("y", serial.ChunkMTU-3) // 16299 bytes encoded
		if err := c.Send(fits); err != nil {
			t.Fatalf("go send of 16299 bytes: %v", err)
		}
		var got []any
		e.page.Eval(t, fmt.Sprintf("T.waitReceived(%q, 1, 15000)", key), &got)
		// The page refuses the same sizes; what it does send arrives whole.
		var errText *string
		e.page.Eval(t, fmt.Sprintf("T.send(%q, %s)", key, testrig.JSON(tooBig)), &errText)
		if errText == nil || !strings.Contains(*errText, "too big") {
			t.Fatalf("page sent a %d-byte JSON message: %v", len(tooBig)+2, errText)
		}
		e.page.Eval(t, fmt.Sprintf("T.send(%q, %s)", key, testrig.JSON(fits)), &errText)
		if errText != nil {
			t.Fatalf("page send: %s", *errText)
		}
		if r := recv(t, c); r != fits {
			t.Fatalf("go received %T of %d bytes", r, len(fmt.Sprint(r)))
		}
	})
}

// TestInteropPeerServerRestart: the PeerServer dies and comes back; the Go
// peer re-registers with the same id, accepts a new browser connection, and
// the established connection works throughout.
func TestInteropPeerServerRestart(t *testing.T) {
	e := newEnv(t)
	c, key := e.open(t, "binary", true)
	defer c.Close()
	id := e.goPeer.ID()

	sent := 0
	roundTrip := func(tag string) {
		t.Helper()
		sent++
		msg := []any{int64(0), id, "name", tag, nil, nil}
		if err := c.Send(msg); err != nil {
			t.Fatalf("%s: go send: %v", tag, err)
		}
		var got []any
		e.page.Eval(t, fmt.Sprintf("T.waitReceived(%q, %d, 15000).then(r => r[r.length-1])", key, sent), &got)
		if asJSON(t, got) != asJSON(t, plain(msg)) {
			t.Fatalf("%s: page received %s", tag, asJSON(t, got))
		}
		var errText *string
		e.page.Eval(t, fmt.Sprintf("T.send(%q, %s)", key, testrig.JSON(plain(msg))), &errText)
		if errText != nil {
			t.Fatalf("%s: page send: %s", tag, *errText)
		}
		if r := recv(t, c); !reflect.DeepEqual(r, msg) {
			t.Fatalf("%s: go received %#v", tag, r)
		}
	}
	roundTrip("before")

	e.ps.Kill()
	killed := time.Now()
	// Bounds on waits for events: generous, never the expected time.
	const waitBound = 30 * time.Second
	deadline := time.Now().Add(waitBound)
	for e.goPeer.Signaling().State() != signaling.StateDisconnected {
		if time.Now().After(deadline) {
			t.Fatalf("go peer did not notice the server died within %v", waitBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	roundTrip("server down")

	restarted := time.Now()
	e.ps.Restart(t)
	up := time.Now()
	for e.goPeer.Signaling().State() != signaling.StateRegistered {
		if time.Since(restarted) > waitBound {
			t.Fatalf("go peer did not re-register within %v", waitBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("re-registered %v after the restart began (server answering after %v; %v after the kill); reconnects: %d",
		time.Since(restarted).Round(time.Millisecond), up.Sub(restarted).Round(time.Millisecond),
		time.Since(killed).Round(time.Millisecond), e.goPeer.Signaling().Stats().Reconnects)
	if e.goPeer.ID() != id {
		t.Fatalf("id changed: %s -> %s", id, e.goPeer.ID())
	}
	roundTrip("server back")

	// A new browser (its own session on the new server) reaches the Go peer.
	page2, page2ID := startPage(t, e.br, e.web, e.ps, "")
	var key2 string
	page2.Eval(t, fmt.Sprintf("T.connect(%q, {})", id), &key2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c2, err := e.goPeer.Accept(ctx)
	if err != nil {
		t.Fatalf("accept after restart: %v", err)
	}
	defer c2.Close()
	if c2.Peer() != page2ID {
		t.Fatalf("accepted %s, want %s", c2.Peer(), page2ID)
	}
	if err := c2.Send(chat(id)); err != nil {
		t.Fatal(err)
	}
	var got []any
	page2.Eval(t, fmt.Sprintf("T.waitReceived(%q, 1, 15000)", key2), &got)
	roundTrip("after new connection")
}

// TestInteropIDTaken: claiming an id a browser holds fails with ErrIDTaken.
func TestInteropIDTaken(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := peerjs.New(ctx, peerjs.Config{Signaling: signaling.Config{Server: server(e.ps), ID: e.pageID}, ICEServers: []webrtc.ICEServer{}})
	if !errors.Is(err, signaling.ErrIDTaken) {
		t.Fatalf("err = %v, want ErrIDTaken", err)
	}
}

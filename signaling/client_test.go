package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeServer is a minimal in-process PeerServer: enough of peer 1.0.2's
// registration rules (id+token, key, ID-TAKEN) to test the client's own logic.
// Interop with the real server is tested in package peerjs.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	tokens  map[string]string // id -> token of the live socket
	socks   map[string]*websocket.Conn
	got     []Message
	hello   func(id string) []Message // what to send right after OPEN
	nextID  int
	refuse  string // if set, reply ERROR with this text
	noOpen  bool   // re-attach silently (no OPEN)
	connect int
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, tokens: map[string]string{}, socks: map[string]*websocket.Conn{}}
	mux := http.NewServeMux()
	// Like peer 1.0.2, /{key}/id answers for any key; the key is checked on the socket.
	mux.HandleFunc("/app/{key}/id", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		f.nextID++
		n := f.nextID
		f.mu.Unlock()
		w.Write([]byte("gen-" + strconv.Itoa(n)))
	})
	mux.HandleFunc("/app/peerjs", f.ws)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) server() Server {
	u, _ := url.Parse(f.srv.URL)
	s, err := ParseServer(u.String()+"/app", "k1")
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fakeServer) ws(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ctx := r.Context()
	send := func(m Message) { b, _ := json.Marshal(m); c.Write(ctx, websocket.MessageText, b) }
	id, token := q.Get("id"), q.Get("token")
	f.mu.Lock()
	f.connect++
	refuse, noOpen := f.refuse, f.noOpen
	old, taken := f.tokens[id]
	f.mu.Unlock()
	if q.Get("key") != "k1" {
		send(Message{Type: TypeError, Payload: json.RawMessage(`{"msg":"Invalid key provided"}`)})
		c.Close(websocket.StatusNormalClosure, "")
		return
	}
	if refuse != "" {
		send(Message{Type: TypeError, Payload: json.RawMessage(`{"msg":"` + refuse + `"}`)})
		c.Close(websocket.StatusNormalClosure, "")
		return
	}
	if taken && old != token {
		send(Message{Type: TypeIDTaken, Payload: json.RawMessage(`{"msg":"ID is taken"}`)})
		c.Close(websocket.StatusNormalClosure, "")
		return
	}
	f.mu.Lock()
	f.tokens[id] = token
	f.socks[id] = c
	hello := f.hello
	f.mu.Unlock()
	if !(taken && noOpen) {
		send(Message{Type: TypeOpen})
	}
	if hello != nil {
		for _, m := range hello(id) {
			send(m)
		}
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			f.mu.Lock()
			if f.socks[id] == c {
				delete(f.tokens, id)
				delete(f.socks, id)
			}
			f.mu.Unlock()
			return
		}
		m, err := DecodeMessage(b)
		if err != nil {
			f.t.Errorf("client sent a bad frame: %v", err)
			continue
		}
		f.mu.Lock()
		f.got = append(f.got, m)
		f.mu.Unlock()
	}
}

// drop closes the socket of id abruptly without forgetting its token, as if
// the network blipped before the server noticed.
func (f *fakeServer) drop(id string, forget bool) {
	f.mu.Lock()
	c := f.socks[id]
	if forget {
		delete(f.tokens, id)
		delete(f.socks, id)
	}
	f.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}

func (f *fakeServer) received(t MessageType) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Message
	for _, m := range f.got {
		if m.Type == t {
			out = append(out, m)
		}
	}
	return out
}

// waitBound bounds every wait for an event: generous, never the expected
// time; it only turns a hang into a failure.
const waitBound = 30 * time.Second

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testConfig(t *testing.T, f *fakeServer) Config {
	return Config{Server: f.server(), Logger: zaptest.NewLogger(t), PingInterval: 50 * time.Millisecond,
		BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}
}

func TestRegisterAssignedID(t *testing.T) {
	f := newFakeServer(t)
	c, err := Connect(context.Background(), testConfig(t, f))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ID() != "gen-1" {
		t.Fatalf("id = %q, want the server-assigned gen-1", c.ID())
	}
	if c.State() != StateRegistered {
		t.Fatalf("state = %v", c.State())
	}
	eventually(t, "heartbeats", func() bool { return len(f.received(TypeHeartbeat)) >= 2 })
}

func TestRegisterVerdicts(t *testing.T) {
	f := newFakeServer(t)
	first, err := Connect(context.Background(), Config{Server: f.server(), ID: "fixed-id"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	cases := []struct {
		name   string
		cfg    func(Config) Config
		refuse string
		want   error
	}{
		{"taken", func(c Config) Config { c.ID = "fixed-id"; return c }, "", ErrIDTaken},
		{"bad key", func(c Config) Config { c.Server.Key = "nope"; return c }, "", ErrInvalidKey},
		{"limit", func(c Config) Config { return c }, "Server has reached its concurrent user limit", ErrServer},
		{"invalid id", func(c Config) Config { c.ID = "bad id!"; return c }, "", ErrInvalidID},
		{"unreachable", func(c Config) Config { c.Server.Port = 1; c.ID = "x"; return c }, "", ErrUnreachable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.mu.Lock()
			f.refuse = tc.refuse
			f.mu.Unlock()
			c, err := Connect(context.Background(), tc.cfg(Config{Server: f.server()}))
			if err == nil {
				c.Close()
				t.Fatal("Connect succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReconnectKeepsIDAndToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forget bool // the server forgot us (restart) vs. still holds our session
		noOpen bool
	}{
		{"server restarted", true, false},
		{"silent re-attach", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.noOpen = tc.noOpen
			var states []State
			var smu sync.Mutex
			cfg := testConfig(t, f)
			cfg.ID = "keep-me"
			cfg.OnState = func(s State) { smu.Lock(); states = append(states, s); smu.Unlock() }
			c, err := Connect(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			f.mu.Lock()
			token := f.tokens["keep-me"]
			f.mu.Unlock()

			f.drop("keep-me", tc.forget)
			eventually(t, "re-registration", func() bool { return c.Stats().Reconnects == 1 && c.State() == StateRegistered })
			f.mu.Lock()
			got := f.tokens["keep-me"]
			f.mu.Unlock()
			if got != token {
				t.Fatalf("token changed across reconnect: %q -> %q", token, got)
			}
			// Messages sent after the reconnect reach the server.
			if err := c.SendPayload(TypeCandidate, "other", CandidatePayload{ConnectionID: "dc_x"}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "candidate relayed", func() bool { return len(f.received(TypeCandidate)) == 1 })
			smu.Lock()
			defer smu.Unlock()
			if !strings.Contains(stateString(states), "disconnected registered") {
				t.Fatalf("states %v", states)
			}
		})
	}
}

func stateString(s []State) string {
	var parts []string
	for _, x := range s {
		parts = append(parts, x.String())
	}
	return strings.Join(parts, " ")
}

func TestRoutingEarlyCandidates(t *testing.T) {
	f := newFakeServer(t)
	f.hello = func(id string) []Message {
		cand := json.RawMessage(`{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0},"type":"data","connectionId":"dc_a"}`)
		return []Message{
			{Type: TypeCandidate, Src: "remote", Payload: cand},
			{Type: TypeOffer, Src: "remote", Payload: json.RawMessage(`{"type":"data","connectionId":"dc_a","sdp":{"type":"offer","sdp":"v=0"}}`)},
			{Type: "BOGUS", Src: "remote"},
			{Type: TypeCandidate, Src: "remote"}, // no connection id
		}
	}
	c, err := Connect(context.Background(), testConfig(t, f))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case m := <-c.Incoming():
		if m.Type != TypeOffer || m.ConnectionID() != "dc_a" || m.Src != "remote" {
			t.Fatalf("incoming %+v", m)
		}
	case <-time.After(waitBound):
		t.Fatal("no OFFER")
	}
	eventually(t, "malformed counted", func() bool { return c.Stats().Malformed == 2 })
	r := c.Route("remote", "dc_a")
	defer r.Close()
	select {
	case m := <-r.C():
		var p CandidatePayload
		if err := json.Unmarshal(m.Payload, &p); err != nil || !strings.Contains(p.Candidate.Candidate, "127.0.0.1") {
			t.Fatalf("candidate %+v %v", m, err)
		}
	case <-time.After(waitBound):
		t.Fatal("early candidate not delivered to the route")
	}
}

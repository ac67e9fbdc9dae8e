package peerjs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/peerjs/serial"
	"github.com/p2plive/p2plive-node/signaling"
)

// goPeerWith is newGoPeer with the caller's bounds.
func goPeerWith(t *testing.T, ps *testrig.PeerServer, id string, tune func(*peerjs.Config)) *peerjs.Peer {
	t.Helper()
	cfg := peerjs.Config{
		Signaling:  signaling.Config{Server: server(ps), ID: id, BackoffMax: time.Second},
		ICEServers: []webrtc.ICEServer{},
		Logger:     testrig.Logger(t).Named(id),
	}
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := peerjs.New(ctx, cfg)
	if err != nil {
		t.Fatalf("go peer %s: %v", id, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitFor polls cond until it holds, failing after a generous bound: it
// waits for an event, never for a guessed time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnCaps: one remote peer may hold at most MaxConnsPerPeer incoming
// connections, all peers together MaxConns; the ones over are refused
// before a PeerConnection exists (counted), and a closed connection frees
// its slot.
func TestConnCaps(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	acc := goPeerWith(t, ps, "caps-acceptor", func(c *peerjs.Config) { c.MaxConnsPerPeer = 2; c.MaxConns = 3 })
	dialer := goPeerWith(t, ps, "caps-dialer", nil)
	other := goPeerWith(t, ps, "caps-other", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var open []*peerjs.DataConn
	for range 2 {
		c, err := dialer.Connect(ctx, acc.ID(), peerjs.ConnectOptions{})
		if err != nil {
			t.Fatalf("connection under the cap: %v", err)
		}
		open = append(open, c)
	}
	// The third from the same peer is refused: it never opens.
	dctx, dcancel := context.WithCancel(ctx)
	refused := make(chan error, 1)
	go func() {
		_, err := dialer.Connect(dctx, acc.ID(), peerjs.ConnectOptions{})
		refused <- err
	}()
	waitFor(t, "a per-peer refusal", func() bool { return acc.Stats().RefusedPerPeer == 1 })
	dcancel()
	if err := <-refused; err == nil {
		t.Fatal("a connection over the per-peer cap opened")
	}
	// Another peer takes the last slot of the total; its second is refused.
	c3, err := other.Connect(ctx, acc.ID(), peerjs.ConnectOptions{})
	if err != nil {
		t.Fatalf("third connection in total: %v", err)
	}
	dctx, dcancel = context.WithCancel(ctx)
	go func() {
		_, err := other.Connect(dctx, acc.ID(), peerjs.ConnectOptions{})
		refused <- err
	}()
	waitFor(t, "a total refusal", func() bool { return acc.Stats().RefusedTotal == 1 })
	dcancel()
	<-refused
	if st := acc.Stats(); st.Incoming != 3 {
		t.Fatalf("incoming %d, want 3 (%+v)", st.Incoming, st)
	}
	// Closing frees a slot: the dialer may connect again.
	open[0].Close()
	waitFor(t, "the slot to be freed", func() bool { return acc.Stats().Incoming == 2 })
	c4, err := dialer.Connect(ctx, acc.ID(), peerjs.ConnectOptions{})
	if err != nil {
		t.Fatalf("connection after a close: %v", err)
	}
	for _, c := range []*peerjs.DataConn{open[1], c3, c4} {
		c.Close()
	}
	waitFor(t, "every slot to be freed", func() bool { return acc.Stats().Incoming == 0 })
}

// connectPair opens a reliable connection from dialer to acc and returns
// a context for the rest of the test (30 s) and both ends of it.
func connectPair(t *testing.T, dialer, acc *peerjs.Peer) (context.Context, *peerjs.DataConn, *peerjs.DataConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	out, err := dialer.Connect(ctx, acc.ID(), peerjs.ConnectOptions{Reliable: true})
	if err != nil {
		t.Fatal(err)
	}
	in, err := acc.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, out, in
}

// TestRecvQueueBytes: values nobody reads are held up to RecvQueueBytes of
// wire bytes per connection; the rest are dropped and counted, and what was
// queued is still delivered in order.
func TestRecvQueueBytes(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	const big = 200 << 10
	acc := goPeerWith(t, ps, "queue-acceptor", func(c *peerjs.Config) { c.RecvQueueBytes = 3*big + big/2 })
	dialer := goPeerWith(t, ps, "queue-dialer", nil)
	ctx, out, in := connectPair(t, dialer, acc)
	const sent = 10
	for i := range sent {
		if err := out.Send([]any{int64(i), strings.Repeat("x", big)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// The last message is small: once it is accounted for (queued or
	// dropped), every big one before it was too (ordered channel).
	if err := out.Send([]any{int64(sent)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message to be received or dropped", func() bool {
		st := in.Stats()
		return st.Received+st.Dropped == sent+1
	})
	st := in.Stats()
	if st.Received != 4 || st.Dropped != sent-3 {
		t.Fatalf("received %d, dropped %d; want 3 big + the small one queued, %d dropped", st.Received, st.Dropped, sent-3)
	}
	for want := range int64(3) {
		v, err := in.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := v.([]any); !ok || a[0] != want {
			t.Fatalf("value %d: %v", want, a[0])
		}
	}
	v, err := in.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := v.([]any); !ok || a[0] != int64(sent) {
		t.Fatalf("last value %v, want [%d]", v, sent)
	}
	// The queue is empty again: a big message fits.
	if err := out.Send([]any{int64(99), strings.Repeat("y", big)}); err != nil {
		t.Fatal(err)
	}
	if v, err := in.Recv(ctx); err != nil || v.([]any)[0] != int64(99) {
		t.Fatalf("after draining: %v %v", v, err)
	}
	out.Close()
	if _, err := in.Recv(ctx); !errors.Is(err, peerjs.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// TestPendingReleasedOnClose: half-received chunked messages are charged to
// the peer's shared budget while they wait and given back when their
// connection closes.
func TestPendingReleasedOnClose(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	budget := serial.NewBudget(8 << 20)
	acc := goPeerWith(t, ps, "pending-acceptor", func(c *peerjs.Config) { c.Serial = serial.Options{Shared: budget} })
	dialer := goPeerWith(t, ps, "pending-dialer", nil)
	ctx, out, in := connectPair(t, dialer, acc)
	for i := range 3 {
		if err := peerjs.SendPartial(out, []any{int64(i), strings.Repeat("z", 100<<10)}, 3); err != nil {
			t.Fatal(err)
		}
	}
	// A whole message after them: once it is here, so are the pieces.
	if err := out.Send([]any{"done"}); err != nil {
		t.Fatal(err)
	}
	if v, err := in.Recv(ctx); err != nil || v.([]any)[0] != "done" {
		t.Fatalf("recv: %v %v", v, err)
	}
	held := acc.Stats().PendingHeld
	if held < 3*3*serial.ChunkMTU {
		t.Fatalf("held %d bytes for 9 pieces", held)
	}
	out.Close()
	waitFor(t, "the pieces to be released", func() bool { return acc.Stats().PendingHeld == 0 })
	t.Logf("held %d bytes for 3 unfinished messages; 0 after the close", held)
}

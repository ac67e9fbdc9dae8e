package node_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
)

// rootConfig fills rc's session (Common) for the test's PeerServer.
func rootConfig(t *testing.T, ps *testrig.PeerServer, rc node.RootConfig) node.RootConfig {
	rc.Common = node.Common{Server: server(ps), ICEServers: []webrtc.ICEServer{}, Logger: testrig.Logger(t).Named("root")}
	return rc
}

// startRoot runs the root of cfg until it is ready (its Ready is set
// here); RunRoot's result arrives on the channel.
func startRoot(t *testing.T, ctx context.Context, cfg node.RootConfig) <-chan error {
	t.Helper()
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	rootErr := make(chan error, 1)
	go func() { rootErr <- node.RunRoot(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-rootErr:
		t.Fatalf("root: %v", err)
	case <-time.After(waitBound):
		t.Fatal("root not ready")
	}
	return rootErr
}

// TestRootGoPeers: the index root on two ids; a host registers, a viewer
// gets the list, a forged registration is refused; a second root on a taken
// id fails at once, or waits with Wait.
func TestRootGoPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the PeerServer")
	}
	ps := testrig.StartPeerServer(t)
	ids := []string{"P2P-Live-Web-Default-ID", "P2P-Live-Web-default-Id"}
	ctx, cancel := context.WithCancel(context.Background())
	rootErr := startRoot(t, ctx, rootConfig(t, ps, node.RootConfig{IDs: ids, RoomTimeout: 2 * time.Second}))

	host, viewer := goPeer(t, ps), goPeer(t, ps)
	hc, err := host.Connect(within(waitBound), ids[0], peerjs.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vc, err := viewer.Connect(within(waitBound), ids[0], peerjs.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*peerjs.DataConn{hc, vc} {
		if v := recvUntil(t, c, "empty list", func(any) bool { return true }); !reflect.DeepEqual(v, []any{}) {
			t.Fatalf("first list %v", peerjs.Describe(v, 200))
		}
	}
	room := []any{int64(1), int64(1), []any{host.ID()}, int64(0), "Go room", "s", nil, host.ID(), "host",
		[]any{int64(1), int64(1), int64(0), []any{}, host.ID(), "host", []any{}}, ids[0], false}
	forged := append([]any(nil), room...)
	forged[7] = "somebody-else"
	if err := hc.Send(forged); err != nil {
		t.Fatal(err)
	}
	if err := hc.Send(room); err != nil {
		t.Fatal(err)
	}
	got := recvUntil(t, vc, "list with the room", func(v any) bool { a, _ := v.([]any); return len(a) == 1 })
	if !reflect.DeepEqual(got, []any{room}) {
		t.Fatalf("list %v", peerjs.Describe(got, 300))
	}
	// The other id is a separate list: empty.
	other, err := viewer.Connect(within(waitBound), ids[1], peerjs.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := recvUntil(t, other, "other list", func(any) bool { return true }); !reflect.DeepEqual(v, []any{}) {
		t.Fatalf("second id's list %v", peerjs.Describe(v, 200))
	}
	// The host leaves: the room goes.
	hc.Close()
	recvUntil(t, vc, "empty list after the host left", func(v any) bool { a, ok := v.([]any); return ok && len(a) == 0 })

	// A second root on the same id fails clearly, at once.
	err = node.RunRoot(within(waitBound), rootConfig(t, ps, node.RootConfig{IDs: ids[:1]}))
	if !errors.Is(err, signaling.ErrIDTaken) {
		t.Fatalf("second root: %v", err)
	}
	// With Wait it takes over once the first root stops.
	waitReady := make(chan struct{})
	wcfg := rootConfig(t, ps, node.RootConfig{IDs: ids[:1], Wait: true})
	wcfg.Ready = func() { close(waitReady) }
	// Its log tells when its first claim was refused: wait for that, not
	// a guessed while.
	obs, logs := observer.New(zap.InfoLevel)
	wcfg.Logger = zap.New(zapcore.NewTee(wcfg.Logger.Core(), obs))
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	waitErr := make(chan error, 1)
	go func() { waitErr <- node.RunRoot(wctx, wcfg) }()
	waitFor(t, "the waiting root to be refused the taken id", func() bool {
		return logs.FilterMessageSnippet("root id is taken").Len() > 0
	})
	select {
	case <-waitReady:
		t.Fatal("waiting root claimed a taken id")
	case err := <-waitErr:
		t.Fatalf("waiting root: %v", err)
	default:
	}
	cancel()
	if err := <-rootErr; err != nil {
		t.Fatalf("first root: %v", err)
	}
	select {
	case <-waitReady:
	case err := <-waitErr:
		t.Fatalf("waiting root: %v", err)
	case <-time.After(2 * waitBound): // it retries after 2 s, 4 s, 8 s...
		t.Fatal("waiting root did not take over")
	}
	wcancel()
	if err := <-waitErr; err != nil {
		t.Fatalf("waiting root: %v", err)
	}
}

// TestRootStopsOnDrain: the root has no children to move, so the first
// stage of a departure (Common.Drain) stops it, cleanly.
func TestRootStopsOnDrain(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	drain := make(chan struct{})
	cfg := rootConfig(t, ps, node.RootConfig{IDs: []string{"drain-root"}})
	cfg.Drain = drain
	rootErr := startRoot(t, context.Background(), cfg)
	close(drain)
	select {
	case err := <-rootErr:
		if err != nil {
			t.Fatalf("root after drain: %v", err)
		}
	case <-time.After(waitBound):
		t.Fatal("root still running after drain")
	}
}

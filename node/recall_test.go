package node_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/node"
)

// TestRecallAfterCallEnds: a child whose media call ends (here it hangs up;
// in the field ICE fails under churn) while its data connection stays up is
// called again by the relay, and media flows again; the re-call is counted.
func TestRecallAfterCallEnds(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := node.Common{Server: server(ps), ICEServers: []webrtc.ICEServer{}}
	hc := node.HostConfig{Common: base, Title: "recall"}
	hc.Logger = testrig.Logger(t).Named("host")
	h, err := node.StartHost(ctx, hc)
	if err != nil {
		t.Fatal(err)
	}
	j := startRelay(t, ps, h.ID(), node.JoinConfig{Name: "relay"})
	var packets atomic.Int64
	vc := node.ViewerConfig{Common: base, Parent: j.ID(), Name: "viewer", OnPacket: func(webrtc.RTPCodecType, *rtp.Packet, time.Time) {
		packets.Add(1)
	}}
	vc.Logger = testrig.Logger(t).Named("viewer")
	v, err := node.StartViewer(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				st, _ := j.Stats()
				t.Fatalf("timed out waiting for %s (calls %d, packets %d, relay media %+v)", what, v.Calls(), packets.Load(), st.Media)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("media", func() bool { return packets.Load() > 50 })
	for round := 1; round <= 2; round++ {
		calls := v.Calls()
		v.HangUp()
		wait("a new call", func() bool { return v.Calls() > calls })
		before := packets.Load()
		wait("media on the new call", func() bool { return packets.Load() > before+50 })
		st, ok := j.Stats()
		if !ok || st.Media.Recalls != uint64(round) {
			t.Fatalf("round %d: recalls %d", round, st.Media.Recalls)
		}
		if len(st.Children) != 1 {
			t.Fatalf("round %d: children %+v", round, st.Children)
		}
	}
}

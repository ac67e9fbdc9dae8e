package node

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs"
)

// TestStalledOncePerStall drives the media watchdog's decision with fake
// times (the owner loop passes its ticker's time): it never fires while
// packets arrive however far apart the checks are, fires once when they
// stop for the limit, not again for the same stall (nor after a new
// upstream call that brings nothing), and again after media resumed and
// stopped once more. TestMediaWatchdog checks the same end to end, with
// nothing that depends on the machine's speed.
func TestStalledOncePerStall(t *testing.T) {
	src, err := media.NewSource(media.Config{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.Expect(webrtc.RTPCodecTypeVideo)
	pub, err := src.Publish(webrtc.RTPCodecTypeVideo, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, 96)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint16(0)
	packet := func() {
		seq++
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
			Payload: []byte{0x10, 0x00, 1}}
		if err := pub.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
	}
	const limit = time.Second
	m := &mediaNode{log: zap.NewNop(), src: src}
	now := time.Unix(1e9, 0)
	check := func(step time.Duration, want bool, what string) {
		t.Helper()
		now = now.Add(step)
		if got := m.stalled(now, limit); got != want {
			t.Fatalf("%s: stalled = %v, want %v", what, got, want)
		}
	}
	check(0, false, "no upstream call")
	m.up = &peerjs.MediaConn{} // a call that is up (its Done never closes)
	check(5*limit, false, "a call, no packet yet")
	packet()
	check(0, false, "first packet")
	for i := 0; i < 10; i++ {
		packet()
		check(3*limit, false, "packets between checks far apart")
	}
	check(limit/2, false, "silent for half the limit")
	check(limit/2, true, "silent for the limit")
	for i := 0; i < 10; i++ {
		check(limit, false, "still silent, same stall")
	}
	m.up = &peerjs.MediaConn{} // re-joined: a new call, still no media
	check(5*limit, false, "a new call, same stall")
	packet()
	check(limit/4, false, "media resumed")
	check(limit, true, "a second stall")
}

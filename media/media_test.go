package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
)

// loopback limits ICE to lo: the tests' peers are in this process.
var loopback = peerjs.APIOptions{InterfaceFilter: func(n string) bool { return n == "lo" }}

var vp8 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
var opus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}

// connect negotiates offerer → answerer in process (no trickle: waits for
// gathering), bounded by ctx.
func connect(ctx context.Context, t testing.TB, off, ans *webrtc.PeerConnection) {
	t.Helper()
	o, err := off.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(off)
	if err := off.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g:
	case <-ctx.Done():
		t.Fatal("offer gathering timed out")
	}
	if err := ans.SetRemoteDescription(*off.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	a, err := ans.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g = webrtc.GatheringCompletePromise(ans)
	if err := ans.SetLocalDescription(a); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g:
	case <-ctx.Done():
		t.Fatal("answer gathering timed out")
	}
	if err := off.SetRemoteDescription(*ans.LocalDescription()); err != nil {
		t.Fatal(err)
	}
}

// vp8Payload is a fake VP8 payload: descriptor with S/PID 0 on the first
// packet of a frame, payload header P bit clear for keyframes, then a
// recognisable body.
func vp8Payload(frame, part int, key bool) []byte {
	b := []byte{0x00, 0x01}
	if part == 0 {
		b[0] = 0x10 // S
		if key {
			b[1] = 0x00
		}
	}
	return append(b, []byte(fmt.Sprintf("frame %d part %d", frame, part))...)
}

// newReceiver is a child's end, as a page receives a call: every codec,
// pion's default interceptors.
func newReceiver(t testing.TB) *webrtc.PeerConnection {
	return newPC(t)(peerjs.NewUpstreamMediaAPI(loopback))
}

// newChild is our end of a child's call, built as node builds it: for
// exactly codecs (those the source reports).
func newChild(t testing.TB, codecs []webrtc.RTPCodecCapability) *webrtc.PeerConnection {
	return newPC(t)(peerjs.NewDownstreamMediaAPI(loopback, codecs))
}

// newPC returns a function that makes a PeerConnection on the API it is
// given (straight from a constructor's results), closed when t ends.
func newPC(t testing.TB) func(*webrtc.API, error) *webrtc.PeerConnection {
	return func(api *webrtc.API, err error) *webrtc.PeerConnection {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		return pc
	}
}

// TestForwardUnchanged publishes synthetic VP8 and Opus through a Source to
// a child PeerConnection and checks that every packet's payload arrives
// byte for byte, in order, with the published sequence numbers and
// timestamps (only SSRC and payload type are the child's).
func TestForwardUnchanged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	src, err := NewSource(Config{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.Expect(webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio)
	vpub, err := src.Publish(webrtc.RTPCodecTypeVideo, vp8, 100)
	if err != nil {
		t.Fatal(err)
	}
	apub, err := src.Publish(webrtc.RTPCodecTypeAudio, opus, 109)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing is ready before both kinds published... Publish creates the
	// tracks, so the source is ready now.
	if ok, _ := src.Ready(); !ok {
		t.Fatal("source not ready after publishing both kinds")
	}
	gen, codecs, err := src.Codecs()
	if err != nil {
		t.Fatal(err)
	}
	pc := newChild(t, codecs)
	sub, err := src.Subscribe(pc, gen, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	recv := newReceiver(t)
	type got struct {
		kind webrtc.RTPCodecType
		pkt  *rtp.Packet
	}
	arrived := make(chan got, 4096)
	recv.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			arrived <- got{tr.Kind(), p}
		}
	})
	connect(ctx, t, pc, recv)
	// Children get exactly our codecs and no interceptors of pion's (no
	// TWCC, no per-child NACK buffer: the shared cache answers NACKs).
	if sdp := pc.LocalDescription().SDP; strings.Contains(sdp, "transport-wide-cc") || strings.Contains(sdp, "VP9") {
		t.Errorf("child offer carries pion's defaults:\n%s", sdp)
	}

	// Publish until the child has its first packet (it must start at a
	// keyframe), then a known sequence.
	var sent []*rtp.Packet
	seq, ts := uint16(65000), uint32(1000) // wraps during the test
	aseq := uint16(7)
	publish := func(frame int, key bool) {
		for part := 0; part < 3; part++ {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: seq, Timestamp: ts,
				SSRC: 1234, Marker: part == 2}, Payload: vp8Payload(frame, part, key)}
			if err := vpub.WriteRTP(p); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, p)
			seq++
		}
		ts += 3000
		ap := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 109, SequenceNumber: aseq, Timestamp: uint32(frame) * 960,
			SSRC: 99}, Payload: []byte(fmt.Sprintf("opus %d", frame))}
		if err := apub.WriteRTP(ap); err != nil {
			t.Fatal(err)
		}
		aseq++
	}
	// Before the child is connected: delta frames only. They must not
	// reach the child (it starts at a keyframe).
	for f := 0; f < 3; f++ {
		publish(f, false)
	}
	// Wait for the event itself: both of the child's bindings attached to
	// their tracks (bound by pion and the connection up).
	waitFor(t, "the child attached to both tracks", func() bool {
		return vpub.Track().Stats().Children == 1 && apub.Track().Stats().Children == 1
	})
	// Connected, attached, no keyframe yet: these deltas are skipped.
	for f := 3; f < 6; f++ {
		publish(f, false)
	}
	sent = sent[:0]
	// From the keyframe on, publish a frame once the previous one has
	// arrived: no guessed pacing, and never more than a frame in flight
	// for the loopback socket's buffer.
	var video []*rtp.Packet
	audio := 0
	next := func(what string) {
		select {
		case g := <-arrived:
			if g.kind == webrtc.RTPCodecTypeVideo {
				video = append(video, g.pkt)
			} else {
				audio++
			}
		case <-ctx.Done():
			t.Fatalf("%s: only %d of %d video packets and %d audio packets arrived", what, len(video), len(sent), audio)
		}
	}
	for f := 6; f < 60; f++ {
		publish(f, f == 6 || f == 40)
		for len(video) < len(sent) {
			next(fmt.Sprintf("frame %d", f))
		}
	}
	for audio == 0 {
		next("audio")
	}
	for i, p := range video {
		w := sent[i]
		if !bytes.Equal(p.Payload, w.Payload) || p.SequenceNumber != w.SequenceNumber || p.Timestamp != w.Timestamp || p.Marker != w.Marker {
			t.Fatalf("packet %d: got seq %d ts %d m %v %q, want seq %d ts %d m %v %q", i,
				p.SequenceNumber, p.Timestamp, p.Marker, p.Payload, w.SequenceNumber, w.Timestamp, w.Marker, w.Payload)
		}
	}
	if audio == 0 {
		t.Error("no audio arrived")
	}
	st := sub.Stats()
	t.Logf("child stats %+v; video track %+v", st, vpub.Track().Stats())
	if st.Skipped != 9 {
		t.Errorf("skipped %d packets before the first keyframe, want the 9 of 3 delta frames", st.Skipped)
	}
}

// TestSubscribeStale: a child's PeerConnection is built for the codecs
// Codecs reported; if the stream changes codec before Subscribe, the
// subscription is refused (ErrStale, an ErrNoStream) instead of binding
// tracks the connection cannot carry.
func TestSubscribeStale(t *testing.T) {
	src, err := NewSource(Config{Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, _, err := src.Codecs(); !errors.Is(err, ErrNoStream) {
		t.Fatalf("Codecs before a stream: %v, want ErrNoStream", err)
	}
	src.Expect(webrtc.RTPCodecTypeVideo)
	if _, err := src.Publish(webrtc.RTPCodecTypeVideo, vp8, 100); err != nil {
		t.Fatal(err)
	}
	gen, codecs, err := src.Codecs()
	if err != nil || len(codecs) != 1 || codecs[0].MimeType != webrtc.MimeTypeVP8 {
		t.Fatalf("Codecs = %d %v %v, want VP8", gen, codecs, err)
	}
	pc := newChild(t, codecs)
	vp9 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000}
	if _, err := src.Publish(webrtc.RTPCodecTypeVideo, vp9, 98); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Subscribe(pc, gen, zap.NewNop()); !errors.Is(err, ErrStale) || !errors.Is(err, ErrNoStream) {
		t.Fatalf("Subscribe after a codec change: %v, want ErrStale (an ErrNoStream)", err)
	}
}

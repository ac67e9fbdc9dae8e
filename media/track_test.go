package media

import (
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// fakeWriter records what a child's transport would send; gate, if set,
// blocks every write until it is closed (a stuck child).
type fakeWriter struct {
	mu   sync.Mutex
	seqs []uint16
	gate chan struct{}
}

func (w *fakeWriter) WriteRTP(h *rtp.Header, _ []byte) (int, error) {
	if w.gate != nil {
		<-w.gate
	}
	w.mu.Lock()
	w.seqs = append(w.seqs, h.SequenceNumber)
	w.mu.Unlock()
	return 0, nil
}
func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *fakeWriter) got() []uint16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]uint16(nil), w.seqs...)
}

// waitFor waits for cond, polling every 10 ms. The bound is generous, far
// above what any machine needs: it only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out (%v) waiting for %s", waitBound, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const waitBound = 30 * time.Second

// testNow is the fixed time the track tests ingest and attach at: whether a
// cached keyframe is recent enough to replay (keyframeReuse) and whether a
// keyframe request is throttled (DefaultKeyframeInterval) must not depend
// on how fast the machine runs the test.
var testNow = time.Unix(1e9, 0)

// testChild subscribes a fake child to tr, without a PeerConnection.
func testChild(t *testing.T, tr *Track, qlen int, w *fakeWriter) (*Subscriber, *binding) {
	s := &Subscriber{log: zap.NewNop(), done: make(chan struct{})}
	s.q.init(qlen)
	b := &binding{t: tr, s: s, id: tr.id, ws: w, ssrc: 7, pt: 96, hdr: rtp.Header{Version: 2, PayloadType: 96, SSRC: 7}}
	s.bindings = []*binding{b}
	s.wg.Add(1)
	go s.writer()
	t.Cleanup(s.Close)
	tr.attach(b, testNow)
	return s, b
}

// feeder publishes VP8-shaped frames of 4 packets into a track.
type feeder struct {
	tr    *Track
	in    *input
	seq   uint16
	ts    uint32
	frame int
}

func newFeeder(tr *Track, keyframes *int) *feeder {
	in := &input{pt: 96, clock: 90000, keyframe: func() error { *keyframes++; return nil }}
	tr.setInput(in)
	return &feeder{tr: tr, in: in, seq: 1000}
}

func (f *feeder) frames(n int, key bool) {
	for i := 0; i < n; i++ {
		for part := 0; part < 4; part++ {
			payload := []byte{0x00, 0x01, byte(f.frame)}
			if part == 0 {
				payload[0] = 0x10
				if key && i == 0 {
					payload[1] = 0
				}
			}
			pk := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: f.seq, Timestamp: f.ts, Marker: part == 3}, Payload: payload}
			p := getPacket()
			m, err := pk.MarshalTo(p.buf[:])
			if err != nil {
				panic(err)
			}
			f.tr.ingest(f.in, p, m, testNow)
			f.seq++
		}
		f.ts += 3600
		f.frame++
	}
}

func newVideoTrack() *Track {
	return newTrack(webrtc.RTPCodecTypeVideo, vp8, "s", DefaultKeyframeInterval, zap.NewNop())
}

// TestSlowChildIsolated: one child's transport is stuck; the reader never
// blocks, the other child gets every packet, the stuck child drops (to the
// next frame start) and resumes on a frame boundary.
func TestSlowChildIsolated(t *testing.T) {
	tr := newVideoTrack()
	defer tr.close()
	var keys int
	f := newFeeder(tr, &keys)
	f.frames(1, true)
	good := &fakeWriter{}
	stuck := &fakeWriter{gate: make(chan struct{})}
	_, gb := testChild(t, tr, 1024, good)
	_, sb := testChild(t, tr, 16, stuck)
	var unstick sync.Once
	release := func() { unstick.Do(func() { close(stuck.gate) }) }
	t.Cleanup(release) // runs before the children's Close
	// The cached keyframe (4 packets, replayed at attach), then 1 keyframe
	// and 199 deltas: 804 packets, far beyond the stuck queue.
	f.frames(1, true)
	f.frames(199, false)
	waitFor(t, "the good child to get all 804 packets", func() bool { return len(good.got()) == 804 })
	if d := gb.dropped.Load(); d != 0 {
		t.Errorf("good child dropped %d", d)
	}
	if d := sb.dropped.Load(); d < 700 {
		t.Errorf("stuck child dropped only %d", d)
	}
	release()
	waitFor(t, "the stuck child to drain", func() bool { return sb.s.q.free() == 16 && len(stuck.got()) >= 16 })
	n := len(stuck.got())
	f.frames(3, false)
	waitFor(t, "the stuck child to resume", func() bool { return len(stuck.got()) == n+12 })
	// It resumes at the first packet of a frame: frames start at 1000+4k.
	resumed := stuck.got()[n]
	if (resumed-1000)%4 != 0 {
		t.Errorf("stuck child resumed mid-frame at seq %d", resumed)
	}
}

// TestNewChildStartsAtKeyframe: a recent cached keyframe is replayed to a
// new child at once; without one the child waits, and upstream is asked
// for a keyframe (throttled).
func TestNewChildStartsAtKeyframe(t *testing.T) {
	tr := newVideoTrack()
	defer tr.close()
	var keys int
	f := newFeeder(tr, &keys)
	f.frames(1, true)
	f.frames(4, false)
	w := &fakeWriter{}
	testChild(t, tr, 64, w)
	waitFor(t, "the replayed GOP", func() bool { return len(w.got()) == 20 })
	if got := w.got(); got[0] != 1000 {
		t.Errorf("replay starts at %d, want the keyframe at 1000", got[0])
	}
	if keys != 0 {
		t.Errorf("asked upstream for %d keyframes with a recent one cached", keys)
	}

	// Make the cached keyframe old: the next child waits for a new one.
	tr.mu.Lock()
	tr.lastKey.at = testNow.Add(-2 * keyframeReuse)
	tr.mu.Unlock()
	w2 := &fakeWriter{}
	_, b2 := testChild(t, tr, 64, w2)
	if keys != 1 {
		t.Fatalf("keyframe requests = %d, want 1", keys)
	}
	testChild(t, tr, 64, &fakeWriter{}) // within the throttle: merged
	if keys != 1 || tr.st.keySuppressed.Load() != 1 {
		t.Fatalf("keyframe requests = %d (suppressed %d), want 1 (1)", keys, tr.st.keySuppressed.Load())
	}
	f.frames(2, false)
	f.frames(1, true)
	waitFor(t, "the new keyframe", func() bool { return len(w2.got()) == 4 })
	if got := w2.got(); got[0] != 1000+7*4 {
		t.Errorf("second child starts at %d, want the new keyframe at %d", got[0], 1000+7*4)
	}
	if b2.skipped.Load() != 8 {
		t.Errorf("second child skipped %d, want the 8 packets of 2 delta frames", b2.skipped.Load())
	}
}

// TestNACKFromCache: a child's NACK is answered from the shared cache,
// bounded per RTCP packet; what fell out of the cache is counted missing.
func TestNACKFromCache(t *testing.T) {
	tr := newVideoTrack()
	defer tr.close()
	var keys int
	f := newFeeder(tr, &keys)
	w := &fakeWriter{}
	s, b := testChild(t, tr, 4096, w)
	f.frames(1, true)
	f.frames(ringSize/4+10, false) // the first 40 packets fell out of the ring
	n := 4 * (ringSize/4 + 11)
	waitFor(t, "the live packets", func() bool { return len(w.got()) == n })
	s.answerNACK(b, &rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 1000 + 100, LostPackets: 0b101}}})
	waitFor(t, "retransmissions", func() bool { return len(w.got()) == n+3 })
	if got := w.got()[n:]; got[0] != 1100 || got[1] != 1101 || got[2] != 1103 {
		t.Errorf("retransmitted %v, want [1100 1101 1103]", got)
	}
	s.answerNACK(b, &rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 1000}}})
	if tr.st.nackMissing.Load() != 1 {
		t.Errorf("missing = %d, want 1", tr.st.nackMissing.Load())
	}
	// A lying child asks for everything: at most maxNACKPerPacket answers.
	var pairs []rtcp.NackPair
	for i := 0; i < 100; i++ {
		pairs = append(pairs, rtcp.NackPair{PacketID: uint16(1200 + 17*i), LostPackets: 0xffff})
	}
	before := tr.st.nackServed.Load() + tr.st.nackMissing.Load()
	s.answerNACK(b, &rtcp.TransportLayerNack{Nacks: pairs})
	if asked := tr.st.nackServed.Load() + tr.st.nackMissing.Load() - before; asked != maxNACKPerPacket {
		t.Errorf("one NACK made us look up %d packets, want %d", asked, maxNACKPerPacket)
	}
}

// TestSplice: a new upstream input continues the output sequence numbers
// and timestamps, so children need no new call.
func TestSplice(t *testing.T) {
	tr := newVideoTrack()
	defer tr.close()
	var keys int
	f := newFeeder(tr, &keys)
	w := &fakeWriter{}
	testChild(t, tr, 256, w)
	f.frames(1, true)
	f.frames(2, false)
	// A new upstream with unrelated numbering.
	f2 := newFeeder(tr, &keys)
	f2.seq, f2.ts = 50000, 777
	f2.frames(1, true)
	// The old input is ignored from now on.
	f.frames(1, false)
	waitFor(t, "spliced packets", func() bool { return len(w.got()) == 16 })
	got := w.got()
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("output sequence not continuous across the splice: %v", got)
		}
	}
}

// scriptedReader plays back reads, then EOF.
type scriptedReader struct {
	reads [][]byte
	errs  []error
}

func (r *scriptedReader) Read(b []byte) (int, interceptor.Attributes, error) {
	if len(r.reads) == 0 {
		return 0, nil, io.EOF
	}
	d, err := r.reads[0], r.errs[0]
	r.reads, r.errs = r.reads[1:], r.errs[1:]
	return copy(b, d), nil, err
}

// TestReadLoopSurvivesBadPackets: garbage, an oversized datagram and a
// foreign payload type from upstream are counted and dropped; the packets
// around them are forwarded.
func TestReadLoopSurvivesBadPackets(t *testing.T) {
	src, err := NewSource(Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr := newVideoTrack()
	defer tr.close()
	in := &input{pt: 96, clock: 90000}
	tr.setInput(in)
	w := &fakeWriter{}
	good := func(seq uint16) []byte {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Marker: true}, Payload: []byte{0x10, 0x00, 1}}
		b, _ := p.Marshal()
		return b
	}
	foreign, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 97, SequenceNumber: 2}, Payload: []byte{1}}).Marshal()
	r := &scriptedReader{
		reads: [][]byte{good(1), {0xff, 0x00}, make([]byte, 10), foreign, good(3)},
		errs:  []error{nil, nil, io.ErrShortBuffer, nil, nil},
	}
	testChild(t, tr, 64, w)
	src.readLoop(tr, in, r)
	waitFor(t, "the two good packets", func() bool { return len(w.got()) == 2 })
	st := tr.Stats()
	if st.Malformed != 2 || st.Foreign != 1 || st.Packets != 2 {
		t.Fatalf("stats %+v, want 2 malformed, 1 foreign, 2 forwarded", st)
	}
}

// ingestRaw publishes one hand-made packet.
func ingestRaw(tr *Track, in *input, seq uint16, ts uint32, marker bool, payload []byte) {
	pk := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: in.pt, SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}
	p := getPacket()
	n, err := pk.MarshalTo(p.buf[:])
	if err != nil {
		panic(err)
	}
	tr.ingest(in, p, n, testNow)
}

// TestDuplicatesAndLateRepairs: Chrome's bandwidth probes resend recent
// packets; copies are not forwarded, and an old packet arriving late does
// not make the packet after it look like a frame (or keyframe) start. Seen
// with H.264: a probe of the previous frame's last packet between the SPS
// and the IDR made children start at the IDR, without SPS/PPS.
func TestDuplicatesAndLateRepairs(t *testing.T) {
	h264 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}
	tr := newTrack(webrtc.RTPCodecTypeVideo, h264, "s", DefaultKeyframeInterval, zap.NewNop())
	defer tr.close()
	in := &input{pt: 102, clock: 90000}
	tr.setInput(in)
	w := &fakeWriter{}
	testChild(t, tr, 64, w)
	stapSPS := []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}
	fuIDRStart := []byte{0x7c, 0x85, 0x88}
	fuEnd := []byte{0x7c, 0x45, 0x00}
	ingestRaw(tr, in, 10, 1000, false, stapSPS)
	ingestRaw(tr, in, 11, 1000, false, fuIDRStart)
	ingestRaw(tr, in, 12, 1000, true, fuEnd)
	ingestRaw(tr, in, 13, 4000, false, stapSPS) // next keyframe: SPS...
	ingestRaw(tr, in, 12, 1000, true, fuEnd)    // a probe copy of the last frame's end
	ingestRaw(tr, in, 14, 4000, false, fuIDRStart)
	ingestRaw(tr, in, 15, 4000, true, fuEnd)
	// A sentinel after them: the child's queue is FIFO, so once the
	// sentinel is written a forwarded duplicate would have been too.
	ingestRaw(tr, in, 16, 7000, true, fuEnd)
	waitFor(t, "the sentinel", func() bool { g := w.got(); return len(g) > 0 && g[len(g)-1] == 16 })
	if got := w.got(); !reflect.DeepEqual(got, []uint16{10, 11, 12, 13, 14, 15, 16}) {
		t.Fatalf("child got %v, want each packet once, in order", got)
	}
	tr.mu.Lock()
	key := tr.lastKey.seq
	tr.mu.Unlock()
	if key != 13 {
		t.Errorf("last keyframe starts at %d, want 13 (the SPS), not the IDR after the probe", key)
	}
	if st := tr.Stats(); st.Duplicates != 1 || st.Keyframes != 2 {
		t.Errorf("stats %+v, want 1 duplicate and 2 keyframes", st)
	}
}

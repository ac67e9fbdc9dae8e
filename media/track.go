package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

const (
	// ringSize is the per-track packet cache, for NACK answers and the
	// keyframe replay to new children: ~4 s of a 2.5 Mbit/s stream.
	ringSize = 1024
	ringMask = ringSize - 1

	// keyframeReuse is how old the cached keyframe may be for a new child to
	// start from it (the packets from it to now are replayed at once);
	// older, we ask upstream for a fresh one instead.
	keyframeReuse = time.Second

	// DefaultKeyframeInterval is the least time between two keyframe
	// requests we send upstream for one track: children's PLI/FIR and new
	// children are merged into at most one request per interval.
	DefaultKeyframeInterval = 500 * time.Millisecond
)

// Track is one relayed track (one per kind): the output sequence-number and
// timestamp space every child shares, the packet cache and the children
// bound to it. Its upstream input can change (a new call from the parent):
// the output stays continuous, so children need no new call.
//
// mu guards everything below it; the upstream reader is the only writer of
// packets, child writers only read published packets.
type Track struct {
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecCapability
	c        Codec
	id       string
	streamID string
	log      *zap.Logger
	keyEvery time.Duration

	mu      sync.Mutex
	ring    [ringSize]*packet
	have    bool   // newest is valid
	newest  uint16 // highest output seq published
	lastTS  uint32 // output timestamp of newest
	lastAt  time.Time
	lastKey struct {
		ok  bool
		seq uint16
		at  time.Time
	}
	subs    []*binding
	in      *input
	pending *input // video: the next upstream, waiting for its first keyframe
	lastPLI time.Time
	closed  bool

	st trackCounters
}

type trackCounters struct {
	packets, bytes, malformed, foreign, keyframes, duplicates atomic.Uint64
	keyRequests, keySuppressed, nackServed, nackMissing       atomic.Uint64
}

// TrackStats are a track's counters.
type TrackStats struct {
	Kind                       string
	Codec                      string
	Packets, Bytes             uint64
	Malformed, Foreign         uint64 // unparsable; payload type not the track's codec
	Keyframes                  uint64
	Duplicates                 uint64 // copies of packets we had (probes, crossed repairs): not forwarded
	KeyRequests, KeySuppressed uint64 // sent upstream; merged by the throttle
	NACKServed, NACKMissing    uint64 // retransmissions from the cache; asked but gone
	Children                   int
}

// input is one upstream track feeding a Track.
type input struct {
	// keyframe asks this input for a keyframe (an RTCP PLI upstream); nil
	// for local inputs that cannot be asked.
	keyframe func() error
	ssrc     uint32
	pt       uint8
	clock    uint32
	primed   bool // offsets computed from the first packet
	seqOff   uint16
	tsOff    uint32
	prevTS   uint32
	prevM    bool
}

func newTrack(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, streamID string, keyEvery time.Duration, log *zap.Logger) *Track {
	id := kind.String() + "-" + randomID()
	return &Track{
		kind: kind, codec: codec, c: CodecOf(codec.MimeType),
		id: id, streamID: streamID, keyEvery: keyEvery,
		log: log.With(zap.String("track", id), zap.String("codec", codec.MimeType)),
	}
}

// Kind is audio or video.
func (t *Track) Kind() webrtc.RTPCodecType { return t.kind }

// Codec is the codec every packet of this track carries.
func (t *Track) Codec() webrtc.RTPCodecCapability { return t.codec }

// LastPacket is when the newest packet arrived (zero before any).
func (t *Track) LastPacket() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastAt
}

// Stats returns the track's counters.
func (t *Track) Stats() TrackStats {
	t.mu.Lock()
	n := len(t.subs)
	t.mu.Unlock()
	return TrackStats{
		Kind: t.kind.String(), Codec: t.codec.MimeType,
		Packets: t.st.packets.Load(), Bytes: t.st.bytes.Load(),
		Malformed: t.st.malformed.Load(), Foreign: t.st.foreign.Load(), Keyframes: t.st.keyframes.Load(), Duplicates: t.st.duplicates.Load(),
		KeyRequests: t.st.keyRequests.Load(), KeySuppressed: t.st.keySuppressed.Load(),
		NACKServed: t.st.nackServed.Load(), NACKMissing: t.st.nackMissing.Load(),
		Children: n,
	}
}

// setInput makes in the track's upstream. A video track keeps forwarding
// its current input until the new one delivers a keyframe (children could
// not decode the new input's delta frames, and the old one may still be
// flowing during a planned parent swap); audio switches at once. Packets of
// a replaced input are ignored.
func (t *Track) setInput(in *input) {
	t.mu.Lock()
	if t.kind == webrtc.RTPCodecTypeVideo && t.in != nil && t.have {
		t.pending = in
	} else {
		t.in, t.pending = in, nil
	}
	t.mu.Unlock()
}

// ingest publishes one upstream packet (read into p.buf[:n]) to the cache
// and to every child. Called only by in's reader goroutine. It never
// blocks on a child: queues that are full drop.
func (t *Track) ingest(in *input, p *packet, n int, now time.Time) (stale bool) {
	h, err := parseRTP(p.buf[:n])
	if err != nil {
		t.st.malformed.Add(1)
		p.release()
		return false
	}
	if h.pt != in.pt {
		// RTX is unwrapped by pion; anything else (a codec switch, FEC) is
		// not what this track carries.
		t.st.foreign.Add(1)
		p.release()
		return false
	}
	t.mu.Lock()
	if in == t.pending && !t.closed {
		if !KeyframeStart(t.c, h.payload) {
			t.mu.Unlock()
			p.release()
			return false // not yet: wait for the new input's keyframe
		}
		t.in, t.pending = in, nil
	}
	if t.in != in || t.closed {
		t.mu.Unlock()
		p.release()
		return true
	}
	if !in.primed {
		in.primed = true
		if t.have {
			// Splice: continue the output right after what children last
			// got, the timestamp advanced by the wall time since.
			in.seqOff = t.newest + 1 - h.seq
			adv := uint32(now.Sub(t.lastAt).Seconds()*float64(in.clock)) + 1
			in.tsOff = t.lastTS + adv - h.ts
			t.log.Info("upstream spliced", zap.Uint32("ssrc", h.ssrc))
		}
		in.prevM = true
	}
	p.inSeq = h.seq
	p.seq = h.seq + in.seqOff
	p.ts = h.ts + in.tsOff
	p.marker = h.marker
	p.payload = h.payload
	newer := !t.have || int16(p.seq-t.newest) > 0
	if !newer {
		if c := t.ring[p.seq&ringMask]; c != nil && c.seq == p.seq {
			// A copy of what we have: Chrome probes bandwidth by resending
			// recent packets (RTX), and a NACK answer may cross the
			// original. Our children got it; forwarding it would multiply
			// the probe by the number of children.
			t.st.duplicates.Add(1)
			t.mu.Unlock()
			p.release()
			return false
		}
	}
	// Frame boundaries are read from packets in order only: a late repair
	// of an older frame says nothing about where the current one starts.
	if newer {
		p.frameStart = in.prevM || h.ts != in.prevTS
		in.prevM, in.prevTS = h.marker, h.ts
	} else {
		p.frameStart = false
	}
	// A keyframe starts a frame: for H.264 that is the packet with the SPS
	// (the IDR slice that follows it in the same frame is no place to start).
	p.keyStart = t.kind == webrtc.RTPCodecTypeVideo && p.frameStart && KeyframeStart(t.c, h.payload)
	t.st.packets.Add(1)
	t.st.bytes.Add(uint64(len(h.payload)))

	if newer {
		t.have, t.newest, t.lastTS, t.lastAt = true, p.seq, p.ts, now
		if p.keyStart {
			t.st.keyframes.Add(1)
			t.lastKey.ok, t.lastKey.seq, t.lastKey.at = true, p.seq, now
		}
	}
	// Cache unless it is older than the ring reaches (a very late repair).
	if int16(t.newest-p.seq) >= 0 && t.newest-p.seq < ringSize {
		slot := &t.ring[p.seq&ringMask]
		if old := *slot; old != nil {
			old.release()
		}
		*slot = p // the packet's first reference is the cache's
	} else {
		defer p.release()
	}
	for _, b := range t.subs {
		b.offer(p)
	}
	t.mu.Unlock()
	return false
}

// lookup returns the cached packet with output sequence number seq,
// retained, or nil.
func (t *Track) lookup(seq uint16) *packet {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.ring[seq&ringMask]
	if p == nil || p.seq != seq {
		return nil
	}
	p.retain()
	return p
}

// attach binds a child to the track. A video child starts at a keyframe:
// the cached one if recent (everything from it to now is queued at once),
// else the next one, which we ask upstream for.
func (t *Track) attach(b *binding, now time.Time) {
	t.mu.Lock()
	t.subs = append(t.subs, b)
	replay := false
	if t.kind == webrtc.RTPCodecTypeVideo {
		b.needKey = true
		if k := t.lastKey; k.ok && now.Sub(k.at) <= keyframeReuse {
			if n := int(t.newest-k.seq) + 1; n <= ringSize && n <= b.s.q.free() {
				replay = true
				for s := k.seq; ; s++ {
					if p := t.ring[s&ringMask]; p != nil && p.seq == s {
						b.offer(p)
					}
					if s == t.newest {
						break
					}
				}
			}
		}
	}
	t.mu.Unlock()
	if t.kind == webrtc.RTPCodecTypeVideo && !replay {
		t.requestKeyframe(now, "new child")
	}
}

func (t *Track) detach(b *binding) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, s := range t.subs {
		if s == b {
			last := len(t.subs) - 1
			t.subs[i] = t.subs[last]
			t.subs[last] = nil
			t.subs = t.subs[:last]
			return
		}
	}
}

// requestKeyframe asks the current upstream for a keyframe, at most once per
// keyEvery: every child's PLI/FIR and every new child merge into it.
func (t *Track) requestKeyframe(now time.Time, why string) {
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	t.mu.Lock()
	in := t.in
	if t.pending != nil {
		in = t.pending // the new upstream must start with one
	}
	if in == nil || in.keyframe == nil || now.Sub(t.lastPLI) < t.keyEvery {
		t.mu.Unlock()
		t.st.keySuppressed.Add(1)
		return
	}
	t.lastPLI = now
	t.mu.Unlock()
	t.st.keyRequests.Add(1)
	if err := in.keyframe(); err != nil {
		t.log.Debug("keyframe request upstream failed", zap.Error(err))
		return
	}
	t.log.Debug("keyframe requested upstream", zap.String("why", why))
}

func (t *Track) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for i, p := range t.ring {
		if p != nil {
			p.release()
			t.ring[i] = nil
		}
	}
}

package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/media"
)

// window is the measurement window all subscribers share, as UnixNano;
// end is MaxInt64 while it is open, start 0 before it opens.
type window struct {
	start, end atomic.Int64
}

func (w *window) open(t time.Time) {
	w.end.Store(1<<63 - 1)
	w.start.Store(t.UnixNano())
}

func (w *window) close(t time.Time) { w.end.Store(t.UnixNano()) }

func (w *window) contains(ns int64) bool {
	s := w.start.Load()
	return s != 0 && ns >= s && ns < w.end.Load()
}

// subscriber is one Go viewer's measurements, fed by node.ViewerConfig's
// OnPacket. With a sendLog (Go relay, payloads unchanged) the window is on
// send time: loss is against what the source sent, latency is receive
// minus send. Without one (a browser relay re-encodes, so sequence numbers
// and payloads are its own) the window is on arrival time and loss comes
// from gaps in the sequence numbers.
type subscriber struct {
	log   *sendLog // nil for a browser relay
	win   *window
	start time.Time // when the viewer started joining

	mu sync.Mutex // guards the fields below
	// Whole-life counters.
	packets    uint64
	firstAt    time.Time // first packet of any kind
	firstFrame time.Time // first complete keyframe
	key        keyframe
	// Window counters (reset by openWindow).
	winPackets, winBytes uint64
	got                  [2][1 << 16 / 64]uint64 // by sequence number (with log)
	lat                  []int32                 // µs (with log), first receipt only
	gaps                 [2]seqGaps              // without log
}

func newSubscriber(log *sendLog, win *window) *subscriber {
	return &subscriber{log: log, win: win, start: time.Now()}
}

// onPacket runs on the viewer's track goroutines; it must be quick.
func (s *subscriber) onPacket(kind webrtc.RTPCodecType, p *rtp.Packet, at time.Time) {
	k := kindIndex(kind)
	now := at.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets++
	if s.firstAt.IsZero() {
		s.firstAt = at
	}
	if k == kVideo && s.firstFrame.IsZero() && s.key.add(p) {
		s.firstFrame = at
	}
	if s.log == nil {
		if s.win.contains(now) {
			s.winPackets++
			s.winBytes += uint64(len(p.Payload))
			s.gaps[k].add(p.SequenceNumber)
		}
		return
	}
	sent := s.log.at[k][p.SequenceNumber].Load()
	if !s.win.contains(sent) {
		return
	}
	w, bit := p.SequenceNumber/64, uint64(1)<<(p.SequenceNumber%64)
	if s.got[k][w]&bit != 0 {
		return // a duplicate (a NACK answer that crossed the original)
	}
	s.got[k][w] |= bit
	s.winPackets++
	s.winBytes += uint64(len(p.Payload))
	s.lat = append(s.lat, int32(min((now-sent)/1000, 1<<31-1)))
}

// openWindow clears the window counters; call it before window.open.
func (s *subscriber) openWindow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.winPackets, s.winBytes = 0, 0
	s.got = [2][1 << 16 / 64]uint64{}
	s.lat = s.lat[:0]
	s.gaps = [2]seqGaps{}
}

// result is one subscriber's share of a window.
type subResult struct {
	received, expected uint64 // distinct packets of the window; what was sent (or spanned)
	packets, bytes     uint64
	lat                []int32
}

// collect reads the window's counters. sent is what the source sent in the
// window (with log).
func (s *subscriber) collect(sent [2][]uint16) subResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := subResult{packets: s.winPackets, bytes: s.winBytes, lat: append([]int32(nil), s.lat...)}
	if s.log == nil {
		for k := range s.gaps {
			r.received += s.gaps[k].distinct
			r.expected += s.gaps[k].span()
		}
		return r
	}
	for k := range sent {
		r.expected += uint64(len(sent[k]))
		for _, seq := range sent[k] {
			if s.got[k][seq/64]&(1<<(seq%64)) != 0 {
				r.received++
			}
		}
	}
	return r
}

func (s *subscriber) firstPacket() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstAt, !s.firstAt.IsZero()
}

// firstFrameAfter is the time from the viewer's start to its first
// complete keyframe, or false.
func (s *subscriber) firstFrameAfter() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstFrame.IsZero() {
		return 0, false
	}
	return s.firstFrame.Sub(s.start), true
}

// keyframe finds the first complete VP8 keyframe: its first packet (a
// keyframe start) through the packet with the marker, with every sequence
// number in between.
type keyframe struct {
	active   bool
	ts       uint32
	first    uint16
	have     [4]uint64 // by seq - first, up to 256 packets
	end      int       // seq - first of the marker packet, -1 unknown
	complete bool
}

// add reports whether p completes the first keyframe.
func (k *keyframe) add(p *rtp.Packet) bool {
	if media.KeyframeStart(media.CodecVP8, p.Payload) && (!k.active || p.Timestamp != k.ts) {
		*k = keyframe{active: true, ts: p.Timestamp, first: p.SequenceNumber, end: -1}
	}
	if !k.active || p.Timestamp != k.ts {
		return false
	}
	d := int(p.SequenceNumber - k.first)
	if d >= 256 {
		return false
	}
	k.have[d/64] |= 1 << (d % 64)
	if p.Marker {
		k.end = d
	}
	if k.end < 0 {
		return false
	}
	for i := 0; i <= k.end; i++ {
		if k.have[i/64]&(1<<(i%64)) == 0 {
			return false
		}
	}
	return true
}

// seqGaps counts distinct sequence numbers and the span they cover, for
// loss from gaps. It unwraps 16-bit sequence numbers; a window must stay
// under 65536 packets.
type seqGaps struct {
	started  bool
	base     int64 // extended seq of the first packet
	last     int64 // extended seq of the latest packet
	lo, hi   int64
	distinct uint64
	seen     [1 << 16 / 64]uint64 // by extended seq - base (mod 65536)
}

func (g *seqGaps) add(seq uint16) {
	var ext int64
	if !g.started {
		g.started = true
		ext = int64(seq)
		g.base, g.lo, g.hi = ext, ext, ext
	} else {
		ext = g.last + int64(int16(seq-uint16(g.last)))
	}
	g.last = ext
	d := ext - g.base
	if d < 0 || d >= 1<<16 {
		return
	}
	w, bit := d/64, uint64(1)<<(d%64)
	if g.seen[w]&bit != 0 {
		return
	}
	g.seen[w] |= bit
	g.distinct++
	g.lo, g.hi = min(g.lo, ext), max(g.hi, ext)
}

func (g *seqGaps) span() uint64 {
	if !g.started {
		return 0
	}
	return uint64(g.hi - g.lo + 1)
}

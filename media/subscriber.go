package media

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// DefaultQueue is a child's queue in packets (all its tracks together):
// about 1.5 s of a 2.5 Mbit/s stream, room for a keyframe replay.
const DefaultQueue = 512

// maxNACKPerPacket bounds the retransmissions one RTCP NACK from a child
// can ask for: a lying child cannot make us queue the whole cache.
const maxNACKPerPacket = 64

// Subscriber is one child's share of a Source: a local track per relayed
// track on the child's PeerConnection, one bounded queue, and one writer
// goroutine, so that a slow or dead child delays nobody else.
type Subscriber struct {
	src      *Source
	log      *zap.Logger
	pc       *webrtc.PeerConnection
	q        queue
	bindings []*binding
	gen      uint64

	// startMu guards connected and each binding's bound: a binding is
	// attached to its track once it is bound AND the connection is up
	// (pion silently drops what is written before SRTP is ready, which
	// would waste the keyframe a new child starts from).
	startMu   sync.Mutex
	connected bool
	closed    bool

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// SubscriberStats are one child's counters, summed over its tracks.
type SubscriberStats struct {
	Sent, Bytes   uint64 // packets and payload bytes written
	Dropped       uint64 // queue full (congested child)
	Skipped       uint64 // waited for a keyframe or the next frame
	Retransmitted uint64 // NACK answers queued
	WriteErrors   uint64
	KeyRequests   uint64 // PLI/FIR received from the child
}

// binding is one Track bound to one child: pion's TrackLocal for the
// child's sender.
type binding struct {
	t  *Track
	s  *Subscriber
	id string

	// Set by Bind before the binding is attached, read by the writer.
	ws   webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
	hdr  rtp.Header // the writer's reusable header: no allocation per packet

	bound, attached bool // under Subscriber.startMu

	// Owned by the track's ingest, under Track.mu.
	needKey  bool // video: wait for a keyframe start
	skipping bool // video: congested, drop until the next frame

	sent, bytes, dropped, skipped, retrans, writeErrs, keyReqs atomic.Uint64
}

var _ webrtc.TrackLocal = (*binding)(nil)

func (b *binding) ID() string                { return b.id }
func (b *binding) RID() string               { return "" }
func (b *binding) StreamID() string          { return b.t.streamID }
func (b *binding) Kind() webrtc.RTPCodecType { return b.t.kind }
func (b *binding) Unbind(webrtc.TrackLocalContext) error {
	b.t.detach(b)
	return nil
}

// Bind picks the child's payload type for our codec and starts delivery.
func (b *binding) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	c, ok := matchCodec(b.t.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("%w: child did not accept %s", webrtc.ErrUnsupportedCodec, b.t.codec.MimeType)
	}
	b.ws = ctx.WriteStream()
	b.ssrc = uint32(ctx.SSRC())
	b.pt = uint8(c.PayloadType)
	b.hdr = rtp.Header{Version: 2, PayloadType: b.pt, SSRC: b.ssrc}
	b.s.startMu.Lock()
	b.bound = true
	b.s.startMu.Unlock()
	b.s.start()
	return c, nil
}

// matchCodec finds our codec among the child's: same MIME type and clock
// rate, the same fmtp if offered, else the first of that MIME type.
func matchCodec(want webrtc.RTPCodecCapability, have []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var loose *webrtc.RTPCodecParameters
	for i, c := range have {
		if !strings.EqualFold(c.MimeType, want.MimeType) || c.ClockRate != want.ClockRate {
			continue
		}
		if c.SDPFmtpLine == want.SDPFmtpLine {
			return c, true
		}
		if loose == nil {
			loose = &have[i]
		}
	}
	if loose != nil {
		return *loose, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// offer queues p for this child. Called by the track's ingest under
// Track.mu; never blocks.
func (b *binding) offer(p *packet) {
	if b.needKey {
		if !p.keyStart {
			b.skipped.Add(1)
			return
		}
		b.needKey = false
	}
	if b.skipping {
		if !p.frameStart {
			b.dropped.Add(1)
			return
		}
		b.skipping = false
	}
	if !b.s.q.push(b, p) {
		b.dropped.Add(1)
		if b.t.kind == webrtc.RTPCodecTypeVideo {
			// A partial frame is useless: drop the rest of it. The child
			// sees the gap, NACKs it, and we repair from the cache if the
			// congestion was brief.
			b.skipping = true
		}
	}
}

// write sends one packet to the child. Only the subscriber's writer calls it.
func (b *binding) write(p *packet) {
	b.hdr.Marker = p.marker
	b.hdr.SequenceNumber = p.seq
	b.hdr.Timestamp = p.ts
	if _, err := b.ws.WriteRTP(&b.hdr, p.payload); err != nil {
		b.writeErrs.Add(1)
		return
	}
	b.sent.Add(1)
	b.bytes.Add(uint64(len(p.payload)))
}

// newSubscriber adds a local track for each of tracks to pc and starts the
// child's writer. Delivery of a track begins when pion binds it, once the
// child has answered.
func newSubscriber(src *Source, pc *webrtc.PeerConnection, tracks []*Track, gen uint64, queueLen int, log *zap.Logger) (*Subscriber, error) {
	s := &Subscriber{src: src, log: log, pc: pc, gen: gen, done: make(chan struct{})}
	s.q.init(queueLen)
	for _, t := range tracks {
		b := &binding{t: t, s: s, id: t.id}
		sender, err := pc.AddTrack(b)
		if err != nil {
			return nil, fmt.Errorf("media: add %s track: %w", t.kind, err)
		}
		s.bindings = append(s.bindings, b)
		s.wg.Add(1)
		go s.readRTCP(b, sender)
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			s.startMu.Lock()
			s.connected = true
			s.startMu.Unlock()
			s.start()
		}
	})
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// start attaches every binding that is bound, once the connection is up.
func (s *Subscriber) start() {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if !s.connected || s.closed {
		return
	}
	now := time.Now()
	for _, b := range s.bindings {
		if b.bound && !b.attached {
			b.attached = true
			b.t.attach(b, now)
		}
	}
}

// Generation is the Source generation whose tracks this child has; when
// the Source's generation moves on, the child needs a new call.
func (s *Subscriber) Generation() uint64 { return s.gen }

// Close stops delivery, closes the child's PeerConnection and waits for
// the subscriber's goroutines.
func (s *Subscriber) Close() {
	s.closeOnce.Do(func() {
		s.startMu.Lock()
		s.closed = true
		s.startMu.Unlock()
		for _, b := range s.bindings {
			b.t.detach(b)
		}
		close(s.done)
		s.q.close()
		if s.pc != nil {
			_ = s.pc.Close()
		}
	})
	s.wg.Wait()
}

// Stats sums the child's counters.
func (s *Subscriber) Stats() SubscriberStats {
	var st SubscriberStats
	for _, b := range s.bindings {
		st.Sent += b.sent.Load()
		st.Bytes += b.bytes.Load()
		st.Dropped += b.dropped.Load()
		st.Skipped += b.skipped.Load()
		st.Retransmitted += b.retrans.Load()
		st.WriteErrors += b.writeErrs.Load()
		st.KeyRequests += b.keyReqs.Load()
	}
	return st
}

// writer drains the queue in batches and writes to the child's transport.
func (s *Subscriber) writer() {
	defer s.wg.Done()
	var batch [64]qitem
	for {
		n, ok := s.q.pop(batch[:])
		if !ok {
			return
		}
		for i := range batch[:n] {
			it := &batch[i]
			it.b.write(it.p)
			it.p.release()
			*it = qitem{}
		}
	}
}

// readRTCP serves the child's feedback for one track: NACKs from the cache,
// PLI/FIR merged upstream. It ends when the sender stops.
func (s *Subscriber) readRTCP(b *binding, sender *webrtc.RTPSender) {
	defer s.wg.Done()
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
				s.log.Debug("child RTCP read ended", zap.Error(err))
			}
			return
		}
		for _, pk := range pkts {
			switch pk := pk.(type) {
			case *rtcp.TransportLayerNack:
				s.answerNACK(b, pk)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				b.keyReqs.Add(1)
				b.t.requestKeyframe(time.Now(), "child asked")
			}
		}
	}
}

func (s *Subscriber) answerNACK(b *binding, n *rtcp.TransportLayerNack) {
	budget := maxNACKPerPacket
	for _, pair := range n.Nacks {
		for _, seq := range pair.PacketList() {
			if budget == 0 {
				return
			}
			budget--
			p := b.t.lookup(seq)
			if p == nil {
				b.t.st.nackMissing.Add(1)
				continue
			}
			b.t.st.nackServed.Add(1)
			if s.q.push(b, p) {
				b.retrans.Add(1)
			} else {
				b.dropped.Add(1)
			}
			p.release() // push retained its own reference
		}
	}
}

// qitem is one queued packet for one of a child's tracks.
type qitem struct {
	b *binding
	p *packet
}

// queue is a child's bounded FIFO. The track's ingest pushes (never
// blocking), the child's writer pops; mu guards the ring.
type queue struct {
	mu     sync.Mutex
	items  []qitem
	head   int
	n      int
	closed bool
	wake   chan struct{}
}

func (q *queue) init(n int) {
	if n <= 0 {
		n = DefaultQueue
	}
	q.items = make([]qitem, n)
	q.wake = make(chan struct{}, 1)
}

// push queues p (retaining it) unless the queue is full or closed.
func (q *queue) push(b *binding, p *packet) bool {
	q.mu.Lock()
	if q.closed || q.n == len(q.items) {
		q.mu.Unlock()
		return false
	}
	p.retain()
	q.items[(q.head+q.n)%len(q.items)] = qitem{b, p}
	q.n++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *queue) free() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.n
}

// pop waits for items and moves up to len(out) of them to out. It returns
// false once the queue is closed (remaining items are released).
func (q *queue) pop(out []qitem) (int, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			for q.n > 0 {
				q.items[q.head].p.release()
				q.items[q.head] = qitem{}
				q.head = (q.head + 1) % len(q.items)
				q.n--
			}
			q.mu.Unlock()
			return 0, false
		}
		if q.n > 0 {
			k := 0
			for k < len(out) && q.n > 0 {
				out[k] = q.items[q.head]
				q.items[q.head] = qitem{}
				q.head = (q.head + 1) % len(q.items)
				q.n--
				k++
			}
			q.mu.Unlock()
			return k, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

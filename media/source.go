package media

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Config tunes a Source.
type Config struct {
	Logger *zap.Logger
	// KeyframeInterval throttles keyframe requests upstream (default 500 ms).
	KeyframeInterval time.Duration
	// Queue is each child's queue length in packets (default DefaultQueue).
	Queue int
	// SettleTime is how long after the first track of a new stream we wait
	// for its other tracks before declaring it ready (default 1 s); a stream
	// whose expected kinds have all arrived is ready at once.
	SettleTime time.Duration
}

// Source is the stream a node relays: one Track per kind fed by upstream
// (the parent's call, or a local clip), and the children subscribed to it.
//
// The set of tracks has a generation: it moves on when a track appears or is
// replaced by one with another codec. A child whose subscription is of an
// older generation needs a new call; a new upstream with the same codecs is
// spliced into the existing tracks and needs none.
//
// A Source makes no PeerConnections: it binds its tracks to ones it is
// given (BindUpstream for the parent's call, Subscribe for a child's),
// which the caller builds with the pion settings it chooses.
type Source struct {
	cfg Config
	log *zap.Logger

	mu       sync.Mutex // guards the fields below
	tracks   []*Track   // at most one per kind
	gen      uint64
	ready    bool
	expect   []webrtc.RTPCodecType // kinds the current upstream offer carries
	settle   *time.Timer
	changed  chan struct{}
	streamID string
	closed   bool
}

// NewSource builds an empty source. It returns no error today; the error
// is kept for configurations that may be refused.
func NewSource(cfg Config) (*Source, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.KeyframeInterval <= 0 {
		cfg.KeyframeInterval = DefaultKeyframeInterval
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.SettleTime <= 0 {
		cfg.SettleTime = time.Second
	}
	s := &Source{
		cfg: cfg, log: cfg.Logger,
		changed:  make(chan struct{}),
		streamID: "p2plive-" + randomID(),
	}
	return s, nil
}

// BindUpstream feeds the source from pc, a PeerConnection about to
// receive the parent's call (built by the caller, for example with
// peerjs.NewUpstreamMediaAPI): every track it receives becomes an input.
// expect is the kinds the call's offer carries; the stream is ready once
// each has a track (or after Config.SettleTime). It sets pc's OnTrack.
func (s *Source) BindUpstream(pc *webrtc.PeerConnection, expect []webrtc.RTPCodecType) {
	s.mu.Lock()
	s.expect = expect
	s.mu.Unlock()
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		s.ingestRemote(pc, remote)
	})
}

// Changed is closed when the generation or readiness changes.
func (s *Source) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Ready reports whether the source has a stream to give children, and its
// generation.
func (s *Source) Ready() (bool, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready, s.gen
}

// Tracks are the current tracks.
func (s *Source) Tracks() []*Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Track(nil), s.tracks...)
}

// Codecs reports the stream a child would get now: its generation and its
// tracks' codecs, as received from upstream. A child's PeerConnection must
// offer exactly these (peerjs.NewDownstreamMediaAPI), so that the child
// can only accept what we forward; the generation goes to Subscribe.
func (s *Source) Codecs() (uint64, []webrtc.RTPCodecCapability, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.ready {
		return 0, nil, ErrNoStream
	}
	codecs := make([]webrtc.RTPCodecCapability, len(s.tracks))
	for i, t := range s.tracks {
		codecs[i] = t.codec
	}
	return s.gen, codecs, nil
}

// Subscribe adds the tracks of generation gen (see Codecs) to a child's
// PeerConnection pc; the caller makes the call with it (peerjs.Peer.Call)
// and closes the subscriber, which closes pc, when the call ends. On error
// pc is the caller's to close. If the stream moved on since Codecs, pc was
// built for other codecs: Subscribe fails with ErrStale, and the change
// that made it stale is announced by Changed.
func (s *Source) Subscribe(pc *webrtc.PeerConnection, gen uint64, log *zap.Logger) (*Subscriber, error) {
	s.mu.Lock()
	if s.closed || !s.ready {
		s.mu.Unlock()
		return nil, ErrNoStream
	}
	if gen != s.gen {
		s.mu.Unlock()
		return nil, ErrStale
	}
	tracks := append([]*Track(nil), s.tracks...)
	s.mu.Unlock()
	return newSubscriber(s, pc, tracks, gen, s.cfg.Queue, log)
}

// ErrNoStream: nothing to relay yet.
var ErrNoStream = errors.New("media: no stream yet")

// ErrStale: the stream changed between Codecs and Subscribe. It is an
// ErrNoStream: the caller waits for the change, as for a first stream.
var ErrStale = fmt.Errorf("%w: the stream changed", ErrNoStream)

// Close ends every track.
func (s *Source) Close() {
	s.mu.Lock()
	s.closed = true
	tracks := s.tracks
	if s.settle != nil {
		s.settle.Stop()
	}
	s.mu.Unlock()
	for _, t := range tracks {
		t.close()
	}
}

// trackFor returns the track that a new input of this kind and codec feeds:
// the existing one when the codec is the same (splice), else a new one (a
// new generation).
func (s *Source) trackFor(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability) (*Track, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	for i, t := range s.tracks {
		if t.kind != kind {
			continue
		}
		if sameCodec(t.codec, codec) {
			return t, nil
		}
		t.close()
		nt := newTrack(kind, codec, s.streamID, s.cfg.KeyframeInterval, s.log)
		s.tracks[i] = nt
		s.log.Info("upstream codec changed; children need a new call",
			zap.String("from", t.codec.MimeType), zap.String("to", codec.MimeType))
		s.bumpLocked()
		return nt, nil
	}
	nt := newTrack(kind, codec, s.streamID, s.cfg.KeyframeInterval, s.log)
	s.tracks = append(s.tracks, nt)
	s.log.Info("new upstream track", zap.Stringer("kind", kind), zap.String("codec", codec.MimeType),
		zap.String("fmtp", codec.SDPFmtpLine))
	s.bumpLocked()
	return nt, nil
}

// ErrClosed: the source was closed.
var ErrClosed = errors.New("media: source closed")

// bumpLocked moves to a new generation and decides readiness. s.mu held.
func (s *Source) bumpLocked() {
	s.gen++
	have := map[webrtc.RTPCodecType]bool{}
	for _, t := range s.tracks {
		have[t.kind] = true
	}
	all := len(s.expect) > 0
	for _, k := range s.expect {
		all = all && have[k]
	}
	switch {
	case all:
		s.setReadyLocked()
	case s.settle == nil:
		s.settle = time.AfterFunc(s.cfg.SettleTime, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.closed && !s.ready && len(s.tracks) > 0 {
				s.log.Info("stream ready without all expected tracks", zap.Int("tracks", len(s.tracks)))
				s.setReadyLocked()
			}
		})
	}
	if s.ready {
		s.notifyLocked()
	}
}

func (s *Source) setReadyLocked() {
	if s.settle != nil {
		s.settle.Stop()
		s.settle = nil
	}
	if !s.ready {
		s.log.Info("stream ready", zap.Int("tracks", len(s.tracks)), zap.Uint64("generation", s.gen))
	}
	s.ready = true
	s.notifyLocked()
}

func (s *Source) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func sameCodec(a, b webrtc.RTPCodecCapability) bool {
	return strings.EqualFold(a.MimeType, b.MimeType) && a.ClockRate == b.ClockRate &&
		a.Channels == b.Channels && a.SDPFmtpLine == b.SDPFmtpLine
}

// ingestRemote feeds one upstream track until it ends.
func (s *Source) ingestRemote(pc *webrtc.PeerConnection, remote *webrtc.TrackRemote) {
	codec := remote.Codec()
	t, err := s.trackFor(remote.Kind(), codec.RTPCodecCapability)
	if err != nil {
		return
	}
	ssrc := uint32(remote.SSRC())
	in := &input{ssrc: ssrc, pt: uint8(codec.PayloadType), clock: codec.ClockRate, keyframe: func() error {
		return pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}}
	t.setInput(in)
	t.requestKeyframe(time.Now(), "new upstream")
	s.readLoop(t, in, remote)
}

// reader is what readLoop reads packets from: an upstream TrackRemote.
type reader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// readLoop is the forwarding path: read into a pooled packet, publish.
func (s *Source) readLoop(t *Track, in *input, r reader) {
	for {
		p := getPacket()
		n, _, err := r.Read(p.buf[:])
		if errors.Is(err, io.ErrShortBuffer) {
			// Larger than any browser sends: the packet is consumed,
			// dropped and counted; the track goes on.
			t.st.malformed.Add(1)
			p.release()
			continue
		}
		if err != nil {
			p.release()
			if !errors.Is(err, io.EOF) {
				t.log.Debug("upstream track ended", zap.Error(err))
			}
			return
		}
		if t.ingest(in, p, n, time.Now()) {
			return // superseded by a newer upstream
		}
	}
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

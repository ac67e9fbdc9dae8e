package media

import (
	"fmt"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Publisher feeds a Source from a local producer (a clip, a test) instead of
// a parent's call. One Publisher is one input track; it is not safe for
// concurrent use.
type Publisher struct {
	t  *Track
	in *input
}

// Expect declares which kinds a local stream will have, so that the source
// is ready as soon as each has published once.
func (s *Source) Expect(kinds ...webrtc.RTPCodecType) {
	s.mu.Lock()
	s.expect = kinds
	s.mu.Unlock()
}

// Publish starts a local input of the given kind and codec; pt is the
// payload type its packets carry.
func (s *Source) Publish(kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, pt uint8) (*Publisher, error) {
	t, err := s.trackFor(kind, codec)
	if err != nil {
		return nil, err
	}
	in := &input{pt: pt, clock: codec.ClockRate}
	t.setInput(in)
	return &Publisher{t: t, in: in}, nil
}

// WriteRTP publishes one packet; it is copied, p may be reused.
func (pb *Publisher) WriteRTP(p *rtp.Packet) error {
	pk := getPacket()
	n, err := p.MarshalTo(pk.buf[:])
	if err != nil {
		pk.release()
		return fmt.Errorf("media: publish: %w", err)
	}
	if pb.t.ingest(pb.in, pk, n, time.Now()) {
		return ErrClosed
	}
	return nil
}

// Track is the track this publisher feeds.
func (pb *Publisher) Track() *Track { return pb.t }

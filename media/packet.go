package media

import (
	"errors"
	"sync"
	"sync/atomic"
)

// maxPacket bounds one RTP packet. Browsers send at most ~1200 bytes; a
// larger datagram is truncated by the read and dropped as malformed.
const maxPacket = 1500

// packet is one upstream RTP packet, read once and shared by every child's
// queue and the track's cache. Fields are written by the track's reader
// before the packet is published and never change afterwards; refs counts
// the holders (cache slot, child queues, NACK answers in flight), and the
// last release returns it to the pool, so forwarding allocates nothing.
type packet struct {
	refs atomic.Int32

	seq, inSeq uint16 // output and upstream sequence numbers
	ts         uint32 // output timestamp
	marker     bool
	keyStart   bool // first packet of a keyframe
	frameStart bool // first packet of a frame (the previous one had the marker, or the timestamp moved)
	payload    []byte
	buf        [maxPacket]byte
}

var packetPool = sync.Pool{New: func() any { return new(packet) }}

func getPacket() *packet {
	p := packetPool.Get().(*packet)
	p.refs.Store(1)
	return p
}

func (p *packet) retain() { p.refs.Add(1) }

func (p *packet) release() {
	if p.refs.Add(-1) == 0 {
		p.payload = nil
		packetPool.Put(p)
	}
}

// rtpHeader is what we read of an upstream packet's header.
type rtpHeader struct {
	marker bool
	pt     uint8
	seq    uint16
	ts     uint32
	ssrc   uint32
	// payload is the packet without header, extensions and padding.
	payload []byte
}

// Errors from parseRTP.
var (
	ErrShortPacket = errors.New("media: RTP packet too short")
	ErrNotRTP      = errors.New("media: not RTP version 2")
)

// parseRTP reads an RTP packet's fixed header and skips CSRCs, header
// extensions and padding (RFC 3550 §5.1). It does not allocate.
func parseRTP(b []byte) (rtpHeader, error) {
	var h rtpHeader
	if len(b) < 12 {
		return h, ErrShortPacket
	}
	if b[0]>>6 != 2 {
		return h, ErrNotRTP
	}
	pad, ext, cc := b[0]&0x20 != 0, b[0]&0x10 != 0, int(b[0]&0x0f)
	h.marker = b[1]&0x80 != 0
	h.pt = b[1] & 0x7f
	h.seq = uint16(b[2])<<8 | uint16(b[3])
	h.ts = uint32(b[4])<<24 | uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7])
	h.ssrc = uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	off := 12 + 4*cc
	if ext {
		if len(b) < off+4 {
			return h, ErrShortPacket
		}
		off += 4 + 4*(int(b[off+2])<<8|int(b[off+3]))
	}
	end := len(b)
	if pad {
		if end == 0 || int(b[end-1]) > end-off {
			return h, ErrShortPacket
		}
		end -= int(b[end-1])
	}
	if off > end {
		return h, ErrShortPacket
	}
	h.payload = b[off:end]
	return h, nil
}

package media

import "strings"

// Codec is what the forwarding path needs to know about a video codec:
// whether a packet starts a keyframe. Everything else is forwarded blind.
type Codec uint8

// Codecs we recognise. CodecOther is forwarded, but its keyframes are not
// found, so a new child waits for one requested upstream.
const (
	CodecOther Codec = iota
	CodecOpus
	CodecVP8
	CodecVP9
	CodecH264
	CodecAV1
)

var codecNames = [...]string{"other", "opus", "vp8", "vp9", "h264", "av1"}

func (c Codec) String() string {
	if int(c) < len(codecNames) {
		return codecNames[c]
	}
	return "other"
}

// CodecOf maps a MIME type ("video/VP8") to a Codec.
func CodecOf(mime string) Codec {
	switch strings.ToLower(mime) {
	case "audio/opus":
		return CodecOpus
	case "video/vp8":
		return CodecVP8
	case "video/vp9":
		return CodecVP9
	case "video/h264":
		return CodecH264
	case "video/av1":
		return CodecAV1
	}
	return CodecOther
}

// KeyframeStart reports whether an RTP payload of codec c is the first
// packet of a keyframe: the point from which a new receiver can decode. It
// reads only the payload descriptor (a few bytes) and never allocates.
func KeyframeStart(c Codec, payload []byte) bool {
	switch c {
	case CodecVP8:
		return vp8KeyframeStart(payload)
	case CodecVP9:
		return vp9KeyframeStart(payload)
	case CodecH264:
		return h264KeyframeStart(payload)
	case CodecAV1:
		return av1KeyframeStart(payload)
	}
	return false
}

// vp8KeyframeStart: RFC 7741 §4.2 descriptor with S=1 and PID=0, then the
// VP8 payload header whose P bit (inverse key frame flag) is 0.
func vp8KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x07
	if !s || pid != 0 {
		return false
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id, M bit selects 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// vp9KeyframeStart: RFC 9628 descriptor I|P|L|F|B|E|V|Z; a keyframe starts
// with B=1 and P=0 (not inter-predicted). With layers (L=1) only spatial
// layer 0 starts a keyframe.
func vp9KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x08 == 0 || b0&0x40 != 0 { // B unset or P set
		return false
	}
	if b0&0x20 == 0 { // no layer indices
		return true
	}
	i := 1
	if b0&0x80 != 0 { // I: picture id
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if len(p) <= i {
		return false
	}
	return (p[i]>>1)&0x07 == 0 // SID == 0
}

// h264KeyframeStart: an IDR slice or SPS, alone, first in a STAP-A, or at
// the start of an FU-A (RFC 6184).
func h264KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case 5, 7:
		return true
	case 24: // STAP-A: 16-bit size, NAL...
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if nt := p[i] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += size
		}
		return false
	case 28: // FU-A: indicator, header S|E|R|type
		if len(p) < 2 {
			return false
		}
		nt := p[1] & 0x1f
		return p[1]&0x80 != 0 && (nt == 5 || nt == 7)
	}
	return false
}

// av1KeyframeStart: the aggregation header Z|Y|W(2)|N; N=1 marks the first
// packet of a coded video sequence, which starts with a keyframe.
func av1KeyframeStart(p []byte) bool {
	return len(p) >= 1 && p[0]&0x08 != 0 && p[0]&0x80 == 0
}

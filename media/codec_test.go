package media

import (
	"errors"
	"testing"
)

// Golden payload prefixes, built by hand from the RFCs' bit layouts.
func TestKeyframeStart(t *testing.T) {
	tests := []struct {
		name  string
		codec Codec
		p     []byte
		want  bool
	}{
		{"vp8 key, short descriptor", CodecVP8, []byte{0x10, 0x00}, true},
		{"vp8 delta", CodecVP8, []byte{0x10, 0x01}, false},
		{"vp8 key, not start of partition", CodecVP8, []byte{0x00, 0x00}, false},
		{"vp8 key, partition 1", CodecVP8, []byte{0x11, 0x00}, false},
		{"vp8 key, X+I 15-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 delta, X+I 7-bit picture id", CodecVP8, []byte{0x90, 0x80, 0x23, 0x01}, false},
		{"vp8 key, X+I+L+T", CodecVP8, []byte{0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x00}, true},
		{"vp8 truncated after X", CodecVP8, []byte{0x90}, false},
		{"vp8 truncated picture id", CodecVP8, []byte{0x90, 0x80}, false},
		{"vp8 empty", CodecVP8, nil, false},
		{"vp9 key, B set P clear, no layers", CodecVP9, []byte{0x88, 0x80, 0x01}, true},
		{"vp9 inter frame", CodecVP9, []byte{0xc8, 0x80, 0x01}, false},
		{"vp9 key, not beginning", CodecVP9, []byte{0x80, 0x80, 0x01}, false},
		{"vp9 key, layers, spatial 0", CodecVP9, []byte{0xa8, 0x81, 0x00, 0x00}, true},
		{"vp9 key, layers, spatial 1", CodecVP9, []byte{0xa8, 0x81, 0x00, 0x02}, false},
		{"h264 IDR", CodecH264, []byte{0x65, 0x88}, true},
		{"h264 SPS", CodecH264, []byte{0x67, 0x42}, true},
		{"h264 non-IDR slice", CodecH264, []byte{0x41, 0x9a}, false},
		{"h264 STAP-A SPS+PPS", CodecH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 STAP-A with a bad size", CodecH264, []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"h264 FU-A start of IDR", CodecH264, []byte{0x7c, 0x85, 0x88}, true},
		{"h264 FU-A middle of IDR", CodecH264, []byte{0x7c, 0x05, 0x88}, false},
		{"h264 FU-A start of non-IDR", CodecH264, []byte{0x7c, 0x81, 0x88}, false},
		{"av1 new coded video sequence", CodecAV1, []byte{0x18, 0x0a}, true},
		{"av1 continuation", CodecAV1, []byte{0x90, 0x0a}, false},
		{"av1 not N", CodecAV1, []byte{0x10, 0x0a}, false},
		{"opus is never a keyframe", CodecOpus, []byte{0x10, 0x00}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyframeStart(tt.codec, tt.p); got != tt.want {
				t.Fatalf("KeyframeStart(%s, % x) = %v, want %v", tt.codec, tt.p, got, tt.want)
			}
		})
	}
}

func TestCodecOf(t *testing.T) {
	for mime, want := range map[string]Codec{"video/VP8": CodecVP8, "video/vp9": CodecVP9, "video/H264": CodecH264,
		"video/AV1": CodecAV1, "audio/opus": CodecOpus, "video/rtx": CodecOther} {
		if got := CodecOf(mime); got != want {
			t.Errorf("CodecOf(%q) = %s, want %s", mime, got, want)
		}
	}
}

func TestParseRTP(t *testing.T) {
	base := []byte{0x80, 0xe0, 0x12, 0x34, 0x00, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef}
	tests := []struct {
		name    string
		b       []byte
		payload string
		err     error
	}{
		{"plain", append(append([]byte{}, base...), "hi"...), "hi", nil},
		{"one CSRC", append([]byte{0x81, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}, "x"...), "x", nil},
		{"extension", append([]byte{0x90, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0}, "y"...), "y", nil},
		{"padding", []byte{0xa0, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 'z', 0, 0, 3}, "z", nil},
		{"padding larger than the packet", []byte{0xa0, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 'z', 9}, "", ErrShortPacket},
		{"extension past the end", []byte{0x90, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 0xbe, 0xde, 0, 9}, "", ErrShortPacket},
		{"too short", base[:11], "", ErrShortPacket},
		{"version 1", append([]byte{0x40}, base[1:]...), "", ErrNotRTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseRTP(tt.b)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if string(h.payload) != tt.payload || h.seq != 0x1234 || h.ts != 0x1000 || h.ssrc != 0xdeadbeef || !h.marker || h.pt != 0x60 {
				t.Fatalf("got %+v", h)
			}
		})
	}
}

func FuzzParseRTP(f *testing.F) {
	f.Add([]byte{0x90, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0})
	f.Add([]byte{0xa0, 0xe0, 0x12, 0x34, 0, 0, 0x10, 0, 0xde, 0xad, 0xbe, 0xef, 'z', 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseRTP(b)
		if err == nil {
			for c := CodecOther; c <= CodecAV1; c++ {
				KeyframeStart(c, h.payload)
			}
		}
	})
}

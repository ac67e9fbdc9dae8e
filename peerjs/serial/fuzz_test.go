package serial

import (
	"errors"
	"testing"
)

// FuzzDecodeBinary feeds random frames to one binary decoder (so chunk
// state carries over between inputs): it must never panic, and a completed
// value is never larger than MaxMessageSize allows.
func FuzzDecodeBinary(f *testing.F) {
	for _, c := range loadGolden(f) {
		if c.Serialization != "binary" {
			continue
		}
		for _, fr := range c.Frames {
			// Full 16 KB chunk frames are left out: minimizing inputs
			// derived from them stalls the fuzzer; the small chunk frames
			// below exercise the same paths.
			if b := goldenBytes(f, fr.Hex); len(b) <= 4096 {
				f.Add(b, fr.Text)
			}
		}
	}
	f.Add(chunkFrame(f, 1, 0, 2, []byte{0xb1}).Data, false)
	f.Add(chunkFrame(f, 1, 1, 2, []byte{'a'}).Data, false)
	f.Add(chunkFrame(f, 2, 0, 1, []byte{0x81, 0xa1, 'x', 0x01}).Data, false)
	f.Add(chunkFrame(f, 3, 2, 3, []byte("tail")).Data, true)
	const limit = 1 << 16
	codec := mustNew(f, "binary", Options{MaxMessageSize: limit, MaxPending: 4})
	f.Fuzz(func(t *testing.T, data []byte, text bool) {
		v, ok, err := codec.Decode(Frame{Data: data, Text: text})
		if err != nil {
			if ok || v != nil {
				t.Fatalf("error %v with value %v, ok %v", err, v, ok)
			}
			for _, known := range []error{ErrMalformed, ErrMessageTooBig, ErrTooManyPending} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		if bc := codec.(*binaryCodec); len(bc.pending) > 4 {
			t.Fatalf("%d pending messages", len(bc.pending))
		} else {
			for _, p := range bc.pending {
				if p.size > limit {
					t.Fatalf("pending message of %d bytes", p.size)
				}
			}
		}
	})
}

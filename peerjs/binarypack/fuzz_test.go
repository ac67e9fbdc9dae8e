package binarypack

import (
	"errors"
	"testing"
)

// maxSeed leaves the few huge golden vectors (64 KiB strings and arrays) out
// of the corpus: the fuzzer minimizes every new input derived from a seed,
// and minimizing one that large stalls fuzzing for up to -fuzzminimizetime
// (60 s by default). TestGolden covers them.
const maxSeed = 4096

func FuzzUnpack(f *testing.F) {
	for _, c := range loadGolden(f) {
		for _, h := range []string{c.Hex, c.GoHex} {
			if b := goldenBytes(f, h); len(b) > 0 && len(b) <= maxSeed {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Unpack(in)
		if err != nil {
			return
		}
		b, err := Pack(v)
		if err != nil {
			// The JS float64 reader turns the all-ones exponent into ±Inf,
			// which cannot be packed again; nothing else may fail.
			if errors.Is(err, ErrInvalidNumber) {
				return
			}
			t.Fatalf("Pack(Unpack(%x)): %v", in, err)
		}
		w, err := Unpack(b)
		if err != nil {
			t.Fatalf("Unpack(Pack(Unpack(%x))) = %x: %v", in, b, err)
		}
		if !sameValue(v, w) {
			t.Fatalf("round trip of %x: %#v became %#v", in, v, w)
		}
	})
}

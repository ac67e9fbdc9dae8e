package binarypack

import (
	"encoding/binary"
	"runtime"
	"testing"
)

// nestedDeclared builds size bytes of arrays (array32 or map32) nested depth
// deep, each declaring as many items as the bytes left after its header
// could hold, the innermost filled with fixint zeros: every declared length
// passes the "no more than the input left" check, yet the outer arrays can
// never be completed.
func nestedDeclared(size, depth int, tag byte) []byte {
	b := make([]byte, 0, size)
	for i := range depth {
		left := size - len(b) - 5 - 5*(depth-i-1) // bytes after this header and the inner ones
		n := left
		if tag == tagMap32 {
			n = left / 2
		}
		b = append(b, tag)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	for len(b) < size {
		b = append(b, 0)
	}
	return b
}

// TestUnpackAllocationBound: what Unpack allocates must stay proportional
// to its input, whatever lengths the input declares. A receiver accepts
// frames (and reassembled chunked messages) of up to its MaxMessageSize,
// so an input that makes Unpack allocate depth x 16 bytes per input byte
// turns an 8 MiB message into a 64 GiB allocation.
func TestUnpackAllocationBound(t *testing.T) {
	const size = 64 << 10
	// Generous: an item costs a 16-byte interface (a map entry 32 bytes for
	// two input bytes), growing a slice by appending allocates about twice
	// its final size along the way, and values may be boxed. What matters
	// is no factor of depth (before unpack.go bounded its preallocation, this
	// input cost 1024x at depth 64).
	const perByte = 128
	tests := []struct {
		name  string
		depth int
		tag   byte
	}{
		{"one array", 1, tagArray32},
		{"arrays 64 deep", 64, tagArray32},
		{"arrays MaxDepth deep", MaxDepth, tagArray32},
		{"maps 64 deep", 64, tagMap32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := nestedDeclared(size, tt.depth, tt.tag)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, _ = Unpack(in)
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > perByte*size {
				t.Fatalf("Unpack of %d bytes allocated %d bytes (%dx)", size, got, got/size)
			}
		})
	}
}

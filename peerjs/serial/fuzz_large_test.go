package serial

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// The fuzz targets below use the largest limits a node accepts. The older
// FuzzDecodeBinary uses a 64 KiB limit, under which a claimed piece count
// is refused before anything is stored; that is why no fuzzer found the
// piece table sized by a claimed total (issue 9).
const (
	largeMessage = 64 << 20
	largePending = 256 << 20
)

// knownErr reports whether err is one of the package's classified errors.
func knownErr(err error) bool {
	for _, known := range []error{ErrMalformed, ErrMessageTooBig, ErrTooManyPending, ErrReleased} {
		if errors.Is(err, known) {
			return true
		}
	}
	return false
}

// addGoldenBinarySeeds seeds f with the golden binary frames of at most
// maxLen bytes: the fuzzer minimizes every new input derived from a seed,
// and minimizing a large one stalls fuzzing (up to -fuzzminimizetime).
func addGoldenBinarySeeds(f *testing.F, maxLen int, add func([]byte)) {
	for _, c := range loadGolden(f) {
		if c.Serialization != "binary" {
			continue
		}
		for _, fr := range c.Frames {
			if b := goldenBytes(f, fr.Hex); len(b) <= maxLen {
				add(b)
			}
		}
	}
}

// FuzzDecodeBinaryLarge decodes one frame with a fresh codec (so a failure
// reproduces from its input alone) at the largest limits, charging a shared
// budget: no panic, classified errors, held bytes within both bounds and
// equal between codec and budget, and nothing held after Release.
func FuzzDecodeBinaryLarge(f *testing.F) {
	addGoldenBinarySeeds(f, 4096, func(b []byte) { f.Add(b, false) })
	f.Add(chunkFrame(f, 1, 5, int64(6e9), []byte("0123456789")).Data, false)
	f.Add(chunkFrame(f, 1, 0, int64(maxPieces(largeMessage)), []byte{0xb1}).Data, false)
	f.Add(chunkFrame(f, 1.5, 0, 2, []byte{0xb1}).Data, true)
	f.Fuzz(func(t *testing.T, data []byte, text bool) {
		b := NewBudget(largePending)
		c := mustNew(t, "binary", Options{MaxMessageSize: largeMessage, MaxPendingBytes: largePending, Shared: b}).(*binaryCodec)
		v, ok, err := c.Decode(Frame{Data: data, Text: text})
		if err != nil {
			if ok || v != nil {
				t.Fatalf("error %v with value %v, ok %v", err, v, ok)
			}
			if !knownErr(err) {
				t.Fatalf("unclassified error %v", err)
			}
		}
		checkShared(t, b, c)
		if held := c.Held(); held > len(data)+PieceOverhead+MessageOverhead {
			t.Fatalf("holds %d bytes after a frame of %d", held, len(data))
		}
		c.Release()
		if c.Held() != 0 || b.Held() != 0 {
			t.Fatalf("after Release: codec %d, shared %d", c.Held(), b.Held())
		}
	})
}

// seqReader hands out the fuzz input a few bytes at a time; past the end it
// yields zeros, so every input is a valid program.
type seqReader struct{ b []byte }

func (r *seqReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	x := r.b[0]
	r.b = r.b[1:]
	return x
}

func (r *seqReader) bytes(n int) []byte {
	n = min(n, len(r.b))
	out := bytes.Clone(r.b[:n])
	r.b = r.b[n:]
	return out
}

// seqChunk is the program step sending piece n of total (1 to 6) with id
// seqIDs[id] to codec c for the first time, with its data.
func seqChunk(c, id, total, n int, data []byte) []byte {
	return append(seqRepeat(c, id, total, n), append([]byte{byte(len(data))}, data...)...)
}

// seqRepeat is the step sending a piece again: its data is already chosen.
func seqRepeat(c, id, total, n int) []byte {
	return []byte{byte(c&1 | (id&7)<<1), byte(total - 1), byte(n)}
}

// seqProgram concatenates program steps.
func seqProgram(steps ...[]byte) []byte { return bytes.Join(steps, nil) }

// seqIDs are the chunk ids a program picks from: few, so messages
// interleave and collide; 2.0 is the same id as 2, 2.5 another one.
var seqIDs = []any{int64(1), int64(2), float64(2), float64(2.5), int64(-1), int64(math.MaxInt64), float64(1e300), int64(3)}

// seqTotals are the out-of-the-ordinary piece counts a program may claim.
var seqTotals = []int64{0, -1, 1, int64(maxPieces(largeMessage)), int64(maxPieces(largeMessage)) + 1, 6e9, 1 << 62, math.MaxInt64}

// FuzzChunkSequence reads its input as a program of chunk frames sent to
// two codecs that share a budget: one with the largest limits, one with
// small ones (MaxPending 2, so eviction happens too; eviction by bytes
// needs more data than a program carries and is left to the unit tests),
// the budget small enough to refuse. Each step picks a codec, an id, a total, an index and (the first
// time that piece of that message is sent) its data; a step may instead
// release a codec or send a whole frame of its own. After every step: no panic,
// classified errors, held bytes within every bound and equal between the
// codecs and the budget; a message is reassembled only after all its pieces
// were sent since it last completed, and is their concatenation. At the
// end, releasing both codecs leaves the budget at 0.
//
// Programs stop after maxSteps steps: a cheap execution keeps minimizing
// a new input (which the fuzzer does before going on) short.
func FuzzChunkSequence(f *testing.F) {
	const maxSteps = 48
	// Seeds: programs for in-order, reverse and interleaved delivery, a
	// duplicate, a huge total, a release.
	hello := packed(f, "hello") // 6 bytes: 3 pieces of 2
	part := func(n int) []byte { return hello[2*n : 2*n+2] }
	f.Add(seqProgram(seqChunk(0, 0, 3, 0, part(0)), seqChunk(0, 0, 3, 1, part(1)), seqChunk(0, 0, 3, 2, part(2))))
	f.Add(seqProgram(seqChunk(1, 0, 3, 2, part(2)), seqChunk(1, 0, 3, 1, part(1)), seqChunk(1, 0, 3, 0, part(0))))
	f.Add(seqProgram(
		seqChunk(0, 1, 3, 0, part(0)), seqChunk(0, 3, 3, 2, part(2)), seqChunk(0, 2, 3, 1, part(1)),
		seqChunk(0, 3, 3, 1, part(1)), seqChunk(0, 1, 3, 2, part(2)), seqChunk(0, 3, 3, 0, part(0))))
	f.Add(seqProgram(seqChunk(1, 0, 3, 0, part(0)), seqRepeat(1, 0, 3, 0), seqChunk(1, 0, 3, 1, part(1)), seqChunk(1, 0, 3, 2, part(2))))
	f.Add(seqProgram([]byte{0x00, 0xf8 | 5, 5, 10}, []byte("0123456789"), seqChunk(0, 0, 3, 0, part(0))))
	f.Add(seqProgram(seqChunk(1, 0, 3, 0, part(0)), []byte{0xf1}, seqChunk(1, 0, 3, 1, part(1)), seqChunk(1, 0, 3, 2, part(2))))
	// Each golden binary case becomes one program of whole frames, so
	// the real chunk sequences (in order, reversed, duplicated) are seeds.
	for _, c := range loadGolden(f) {
		if c.Serialization != "binary" && c.Serialization != "binary-utf8" {
			continue
		}
		var prog []byte
		for _, fr := range c.Frames {
			if b := goldenBytes(f, fr.Hex); len(b) <= 255 {
				prog = append(append(prog, 0xe0, byte(len(b))), b...)
			}
		}
		f.Add(prog)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := NewBudget(4 << 10) // a few small messages: refusals happen
		codecs := []*binaryCodec{
			mustNew(t, "binary", Options{MaxMessageSize: largeMessage, MaxPendingBytes: largePending, Shared: b}).(*binaryCodec),
			mustNew(t, "binary", Options{MaxMessageSize: 3 * ChunkMTU, MaxPendingBytes: 1, MaxPending: 2, Shared: b}).(*binaryCodec),
		}
		type key struct {
			codec int
			id    any
			total int64
		}
		type pieceKey struct {
			key
			n int64
		}
		datas := map[pieceKey][]byte{}   // the one content of each piece
		sent := map[key]map[int64]bool{} // pieces sent since the message last completed
		// A whole frame may itself be a chunk piece whose content the model
		// did not choose; after one, completions are no longer checked.
		tainted := false
		r := &seqReader{b: in}
		for step := 0; len(r.b) > 0 && step < maxSteps; step++ {
			op := r.byte()
			ci := int(op & 1)
			c := codecs[ci]
			var f Frame
			var k key
			var n int64
			switch {
			case op&0xf0 == 0xf0:
				c.Release()
				checkShared(t, b, codecs...)
				continue
			case op&0xf0 == 0xe0: // a whole frame, as received
				f = Frame{Data: r.bytes(int(r.byte())), Text: op&2 != 0}
				if v, err := binarypack.Unpack(f.Data); err == nil {
					if m, ok := v.(binarypack.Map); ok {
						if pd, ok := m.Get("__peerData"); ok && truthy(pd) {
							tainted = true
						}
					}
				}
			default:
				id := seqIDs[(op>>1)&7]
				tb := r.byte()
				total := int64(tb%6) + 1
				if tb >= 0xf8 {
					total = seqTotals[tb&7]
				}
				nb := r.byte()
				n = int64(nb) % max(total, 1)
				if nb >= 0xf0 { // out of range on purpose
					n = total + int64(nb&0x0f) - 8
				}
				if id2, ok := chunkID(id); ok {
					k = key{ci, id2, total}
				}
				pk := pieceKey{k, n}
				data, ok := datas[pk]
				if !ok {
					data = r.bytes(int(r.byte()))
					datas[pk] = data
				}
				f = chunkFrame(t, id, n, total, data)
				if sent[k] == nil {
					sent[k] = map[int64]bool{}
				}
				sent[k][n] = true
			}
			v, ok, err := c.Decode(f)
			if err != nil {
				if ok || v != nil {
					t.Fatalf("step %d: error %v with value %v, ok %v", step, err, v, ok)
				}
				if !knownErr(err) {
					t.Fatalf("step %d: unclassified error %v", step, err)
				}
			}
			checkShared(t, b, codecs...)
			if k.id == nil || !ok || k.total == 1 || tainted {
				continue
			}
			// A chunked message completed: all its pieces were sent, and
			// it is their concatenation.
			var whole []byte
			for i := range k.total {
				if !sent[k][i] {
					t.Fatalf("step %d: message %v completed without piece %d of %d", step, k.id, i, k.total)
				}
				whole = append(whole, datas[pieceKey{k, i}]...)
			}
			delete(sent, k)
			want, werr := binarypack.Unpack(whole)
			if werr != nil {
				t.Fatalf("step %d: completed message does not unpack: %v", step, werr)
			}
			if _, isClose := v.(CloseRequest); !isClose && !sameValue(v, want) {
				t.Fatalf("step %d: reassembled %#v, pieces make %#v", step, v, want)
			}
		}
		for _, c := range codecs {
			c.Release()
		}
		checkShared(t, b, codecs...)
		if b.Held() != 0 {
			t.Fatalf("shared budget holds %d after releasing every codec", b.Held())
		}
	})
}

package serial

import (
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

func TestBudget(t *testing.T) {
	type op struct {
		reserve int // > 0: Reserve; < 0: Release(-n)
		wantOK  bool
	}
	tests := []struct {
		name        string
		max         int
		ops         []op
		wantHeld    int
		wantRefused uint64
	}{
		{"fits exactly", 10, []op{{4, true}, {6, true}}, 10, 0},
		{"refused takes nothing", 10, []op{{4, true}, {7, false}, {6, true}}, 10, 1},
		{"release makes room", 10, []op{{10, true}, {1, false}, {-3, true}, {3, true}}, 10, 1},
		{"zero always fits", 0, []op{{0, true}, {1, false}}, 0, 1},
		{"over-release stops at zero", 10, []op{{2, true}, {-5, true}, {10, true}}, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(tt.max)
			for i, o := range tt.ops {
				if o.reserve < 0 {
					b.Release(-o.reserve)
					continue
				}
				if got := b.Reserve(o.reserve); got != o.wantOK {
					t.Fatalf("op %d: Reserve(%d) = %v", i, o.reserve, got)
				}
			}
			if b.Held() != tt.wantHeld || b.Refused() != tt.wantRefused {
				t.Fatalf("held %d refused %d, want %d %d", b.Held(), b.Refused(), tt.wantHeld, tt.wantRefused)
			}
		})
	}
	var nilBudget *Budget
	if !nilBudget.Reserve(math.MaxInt) || nilBudget.Held() != 0 || nilBudget.Refused() != 0 {
		t.Fatal("nil budget is not unlimited")
	}
	nilBudget.Release(1)
}

// TestBudgetConcurrent: reservations from many goroutines never exceed the
// bound, and all given back leaves 0.
func TestBudgetConcurrent(t *testing.T) {
	const max, workers, rounds = 100, 8, 2000
	b := NewBudget(max)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				n := 1 + (w*rounds+i)%17
				if b.Reserve(n) {
					if h := b.Held(); h > max {
						t.Errorf("held %d over %d", h, max)
					}
					b.Release(n)
				}
			}
		})
	}
	wg.Wait()
	if b.Held() != 0 {
		t.Fatalf("held %d after all released", b.Held())
	}
}

// recount is what a binary codec should be charged for its pending state,
// computed from the state itself.
func recount(c *binaryCodec) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	sum := 0
	for _, p := range c.pending {
		sum += MessageOverhead
		for _, pc := range p.pieces {
			sum += len(pc.data) + PieceOverhead
		}
	}
	return sum
}

// checkShared asserts the accounting invariants of codecs sharing b.
func checkShared(t testing.TB, b *Budget, codecs ...*binaryCodec) {
	t.Helper()
	sum := 0
	for i, c := range codecs {
		held, want := c.Held(), recount(c)
		if held != want {
			t.Fatalf("codec %d: held %d, its pending state is %d bytes", i, held, want)
		}
		if held > c.opts.MaxPendingBytes {
			t.Fatalf("codec %d: held %d over MaxPendingBytes %d", i, held, c.opts.MaxPendingBytes)
		}
		sum += held
	}
	if b != nil && b.Held() != sum {
		t.Fatalf("shared budget holds %d, codecs %d", b.Held(), sum)
	}
	if b != nil && int64(b.Held()) > b.max {
		t.Fatalf("shared budget holds %d over %d", b.Held(), b.max)
	}
}

// TestSharedBudget runs sequences over two codecs sharing one budget: every
// way a pending message ends gives back exactly what it took, so the shared
// count always equals the codecs' and returns to 0.
func TestSharedBudget(t *testing.T) {
	msg := packed(t, strings.Repeat("m", 3*ChunkMTU)) // 4 pieces
	pieceOf := func(n int) []byte { return msg[n*ChunkMTU : min(len(msg), (n+1)*ChunkMTU)] }
	one := len(pieceOf(0)) + PieceOverhead + MessageOverhead // first piece of a message
	type step struct {
		codec   int
		f       Frame
		wantErr error
		wantOK  bool
	}
	tests := []struct {
		name      string
		sharedMax int
		opts      Options
		steps     func(t *testing.T) []step
		release   bool // Release both codecs at the end instead of expecting 0 already
	}{
		{"two codecs complete", 10 << 20, Options{}, func(t *testing.T) []step {
			var s []step
			for n := range 4 {
				s = append(s, step{0, chunkFrame(t, 1, n, 4, pieceOf(n)), nil, n == 3})
				s = append(s, step{1, chunkFrame(t, 1, 3-n, 4, pieceOf(3-n)), nil, n == 3})
			}
			return s
		}, false},
		{"shared refusal drops the message", one + 10, Options{}, func(t *testing.T) []step {
			return []step{
				{0, chunkFrame(t, 1, 0, 4, pieceOf(0)), nil, false},
				{1, chunkFrame(t, 1, 0, 4, pieceOf(0)), ErrTooManyPending, false},
				{0, chunkFrame(t, 1, 1, 4, pieceOf(1)), ErrTooManyPending, false},
				// Both dropped: the budget is free again.
				{1, chunkFrame(t, 1, 0, 4, pieceOf(0)), nil, false},
			}
		}, true},
		{"mismatch, too big and duplicate", 10 << 20, Options{MaxMessageSize: 3*ChunkMTU + 10}, func(t *testing.T) []step {
			big := make([]byte, ChunkMTU+20)
			return []step{
				{0, chunkFrame(t, 1, 0, 4, big), nil, false},
				{0, chunkFrame(t, 1, 0, 4, big), ErrMalformed, false},
				{0, chunkFrame(t, 1, 1, 3, big), ErrMalformed, false},
				{1, chunkFrame(t, 1, 0, 4, big), nil, false},
				{1, chunkFrame(t, 1, 1, 4, big), nil, false},
				{1, chunkFrame(t, 1, 2, 4, big), ErrMessageTooBig, false},
			}
		}, false},
		{"eviction by count and bytes", 10 << 20, Options{MaxPending: 2, MaxMessageSize: 3 * ChunkMTU, MaxPendingBytes: 1}, func(t *testing.T) []step {
			three := packed(t, strings.Repeat("t", 2*ChunkMTU)) // 3 pieces
			p := func(n int) []byte { return three[n*ChunkMTU : min(len(three), (n+1)*ChunkMTU)] }
			return []step{
				{0, chunkFrame(t, 1, 0, 3, p(0)), nil, false},
				{0, chunkFrame(t, 2, 0, 3, p(0)), nil, false},
				// Over MaxPending: 1 goes.
				{0, chunkFrame(t, 3, 0, 3, p(0)), ErrTooManyPending, false},
				// Over MaxPendingBytes (the floor, one whole message): 2 goes.
				{0, chunkFrame(t, 3, 1, 3, p(1)), ErrTooManyPending, false},
				{0, chunkFrame(t, 3, 2, 3, p(2)), nil, true},
			}
		}, false},
		{"single-piece messages hold nothing", 1, Options{}, func(t *testing.T) []step {
			return []step{{0, chunkFrame(t, 1, 0, 1, packed(t, "x")), nil, true}}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(tt.sharedMax)
			o := tt.opts
			o.Shared = b
			codecs := []*binaryCodec{mustNew(t, "binary", o).(*binaryCodec), mustNew(t, "binary", o).(*binaryCodec)}
			for i, s := range tt.steps(t) {
				_, ok, err := codecs[s.codec].Decode(s.f)
				if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
				if ok != s.wantOK {
					t.Fatalf("step %d: ok = %v, want %v", i, ok, s.wantOK)
				}
				checkShared(t, b, codecs...)
			}
			if tt.release {
				for _, c := range codecs {
					c.Release()
				}
				checkShared(t, b, codecs...)
			}
			if b.Held() != 0 {
				t.Fatalf("shared budget holds %d at the end", b.Held())
			}
		})
	}
}

func TestRelease(t *testing.T) {
	b := NewBudget(1 << 20)
	c := mustNew(t, "binary", Options{Shared: b})
	r, ok := c.(Releaser)
	if !ok {
		t.Fatal("binary codec is not a Releaser")
	}
	msg := packed(t, "hello")
	if _, _, err := c.Decode(chunkFrame(t, 1, 0, 2, msg[:3])); err != nil {
		t.Fatal(err)
	}
	if r.Held() == 0 || b.Held() != r.Held() {
		t.Fatalf("held %d, shared %d", r.Held(), b.Held())
	}
	r.Release()
	r.Release() // idempotent
	if r.Held() != 0 || b.Held() != 0 {
		t.Fatalf("after Release: held %d, shared %d", r.Held(), b.Held())
	}
	// A piece arriving during close is not kept, a whole frame still decodes.
	if _, ok, err := c.Decode(chunkFrame(t, 1, 1, 2, msg[3:])); ok || !errors.Is(err, ErrReleased) {
		t.Fatalf("piece after Release: ok %v, err %v", ok, err)
	}
	if v, ok, err := c.Decode(Frame{Data: msg}); v != "hello" || !ok || err != nil {
		t.Fatalf("whole frame after Release: %v %v %v", v, ok, err)
	}
	if b.Held() != 0 {
		t.Fatalf("shared %d", b.Held())
	}
	for _, name := range []string{"json", "raw"} {
		if _, ok := mustNew(t, name, Options{}).(Releaser); ok {
			t.Errorf("%s codec holds nothing between frames but is a Releaser", name)
		}
	}
}

// TestHugeTotal is the regression test for issue 9: a 40-byte chunk frame
// claiming 6e9 pieces made the reassembler allocate a 6e9-entry piece table
// ("fatal error: out of memory"). Now it is refused when the limit rules it
// out, and otherwise kept at the cost of what actually arrived.
func TestHugeTotal(t *testing.T) {
	const total = int64(6e9)
	tests := []struct {
		name     string
		limit    int
		wantErr  error
		wantHeld bool
	}{
		{"64 MiB limit refuses", 64 << 20, ErrMessageTooBig, false},
		{"huge limit keeps it lazily", 1 << 50, nil, true},
		{"largest limit keeps it lazily", math.MaxInt, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, "binary", Options{MaxMessageSize: tt.limit}).(*binaryCodec)
			// Ids 1..frames, fewer than MaxPending, so nothing is evicted
			// and each frame's cost stays in the codec.
			const frames = DefaultMaxPending
			in := make([]Frame, frames)
			for i := range in {
				in[i] = chunkFrame(t, i+1, 5, total, []byte("0123456789"))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for _, f := range in {
				if _, ok, err := c.Decode(f); ok || !errors.Is(err, tt.wantErr) {
					t.Fatalf("ok %v, err %v, want %v", ok, err, tt.wantErr)
				}
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / frames; per > 4<<10 {
				t.Fatalf("%d bytes allocated per frame", per)
			}
			if held := c.Held(); (held > 0) != tt.wantHeld || held > frames*(10+PieceOverhead+MessageOverhead) {
				t.Fatalf("held %d", held)
			}
			checkShared(t, nil, c)
		})
	}
}

// TestReverseOrder: pieces arriving last to first, interleaved with another
// message's pieces in order, reassemble; each reversed piece but the first
// counts as reordered.
func TestReverseOrder(t *testing.T) {
	in := strings.Repeat("abcdefghij", 5*ChunkMTU/10)
	enc := mustNew(t, "binary", Options{})
	a, _ := enc.Encode(in)
	b, _ := enc.Encode(in + "!")
	dec := mustNew(t, "binary", Options{})
	var got []any
	for i := len(a) - 1; i >= 0; i-- {
		for _, f := range []Frame{a[i], b[len(b)-1-i]} {
			v, ok, err := dec.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				got = append(got, v)
			}
		}
	}
	if len(got) != 2 || got[0] != in || got[1] != in+"!" {
		t.Fatalf("reassembled %d values", len(got))
	}
	if r, want := dec.(Reorderer).Reordered(), uint64(len(a)-1); r != want {
		t.Fatalf("reordered %d, want %d", r, want)
	}
	if h := dec.(Releaser).Held(); h != 0 {
		t.Fatalf("held %d after completion", h)
	}
}

func TestPendingFloor(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want int
	}{
		{"default is twice the message size", Options{}, 2 * DefaultMaxMessageSize},
		{"raised to one whole message", Options{MaxMessageSize: 3 * ChunkMTU, MaxPendingBytes: 1}, 3*ChunkMTU + 3*PieceOverhead + MessageOverhead},
		{"no overflow", Options{MaxMessageSize: math.MaxInt}, math.MaxInt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.withDefaults().MaxPendingBytes; got != tt.want {
				t.Fatalf("MaxPendingBytes %d, want %d", got, tt.want)
			}
		})
	}
}

// TestChargeCoversMemory: what a codec is charged is at least the heap its
// pending messages really hold (measured after a GC, so no timing), for
// the shapes that cost the most overhead per data byte: empty pieces, and
// piece counts just past a doubling of the index.
func TestChargeCoversMemory(t *testing.T) {
	tests := []struct {
		name   string
		pieces int // received of each message, out of pieces+1
		data   int // bytes per piece
	}{
		{"one empty piece", 1, 0},
		{"five empty pieces", 5, 0},
		{"nine small pieces", 9, 3},
		{"three 100-byte pieces", 3, 100},
	}
	const messages = 2000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, "binary", Options{MaxPending: messages, MaxPendingBytes: 1 << 30}).(*binaryCodec)
			frames := make([]Frame, 0, messages*tt.pieces)
			for id := range messages {
				for n := range tt.pieces {
					frames = append(frames, chunkFrame(t, id+1, n, tt.pieces+1, make([]byte, tt.data)))
				}
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for _, f := range frames {
				if _, _, err := c.Decode(f); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(frames)
			live := int(after.HeapAlloc) - int(before.HeapAlloc)
			if held := c.Held(); live > held {
				t.Fatalf("pending messages hold %d bytes of heap, charged %d", live, held)
			} else {
				t.Logf("heap %d bytes, charged %d (%.0f%%)", live, held, 100*float64(live)/float64(held))
			}
		})
	}
}

// TestChargeFor: a shared budget of exactly ChargeFor(size) lets a message
// of that size, as the encoder cuts it, complete; one byte less refuses it.
func TestChargeFor(t *testing.T) {
	frames, err := mustNew(t, "binary", Options{}).Encode(strings.Repeat("c", 4*ChunkMTU))
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, f := range frames {
		v, _ := binarypack.Unpack(f.Data)
		d, _ := v.(binarypack.Map).Get("data")
		size += len(d.([]byte))
	}
	tests := []struct {
		name   string
		budget int
		wantOK bool
	}{
		{"exactly", ChargeFor(size), true},
		{"one byte short", ChargeFor(size) - 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(tt.budget)
			c := mustNew(t, "binary", Options{MaxMessageSize: size, MaxPendingBytes: 1, Shared: b})
			var ok bool
			for _, f := range frames {
				_, ok, _ = c.Decode(f)
			}
			if ok != tt.wantOK || b.Held() != 0 {
				t.Fatalf("completed %v, want %v; budget holds %d", ok, tt.wantOK, b.Held())
			}
		})
	}
}

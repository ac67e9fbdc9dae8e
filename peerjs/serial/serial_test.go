package serial

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

func mustNew(t testing.TB, name string, o Options) Codec {
	t.Helper()
	c, err := New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func chunkFrame(t testing.TB, id, n, total, data any) Frame {
	t.Helper()
	b, err := binarypack.Pack(binarypack.Map{
		{Key: "__peerData", Value: id}, {Key: "n", Value: n},
		{Key: "data", Value: data}, {Key: "total", Value: total},
	})
	if err != nil {
		t.Fatal(err)
	}
	return Frame{Data: b}
}

func packed(t testing.TB, v any) []byte {
	t.Helper()
	b, err := binarypack.Pack(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNew(t *testing.T) {
	for _, name := range []string{"binary", "binary-utf8", "default", "json", "raw"} {
		c := mustNew(t, name, Options{})
		if c.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, c.Name())
		}
	}
	for _, name := range []string{"", "MsgPack", "none", "Binary"} {
		if _, err := New(name, Options{}); !errors.Is(err, ErrUnknownSerialization) {
			t.Errorf("New(%q) err = %v", name, err)
		}
	}
}

func TestBinaryLargeRoundTrip(t *testing.T) {
	in := strings.Repeat("0123456789abcdefé", 1_500_000/18) // about 1.5 MB
	enc := mustNew(t, "binary", Options{})
	dec := mustNew(t, "binary", Options{})
	frames, err := enc.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(in) + 5 + ChunkMTU - 1) / ChunkMTU; len(frames) != want {
		t.Fatalf("%d frames, want %d", len(frames), want)
	}
	// Deliver out of order: odd pieces first, then even ones.
	order := []int{}
	for i := 1; i < len(frames); i += 2 {
		order = append(order, i)
	}
	for i := 0; i < len(frames); i += 2 {
		order = append(order, i)
	}
	for k, i := range order {
		if frames[i].Text || len(frames[i].Data) > ChunkMTU+64 {
			t.Fatalf("frame %d: text %v, %d bytes", i, frames[i].Text, len(frames[i].Data))
		}
		v, ok, err := dec.Decode(frames[i])
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if last := k == len(order)-1; ok != last {
			t.Fatalf("frame %d: ok = %v", i, ok)
		}
		if ok && v != in {
			t.Fatal("reassembled value differs")
		}
	}
	// The next chunked message takes the next id.
	frames, _ = enc.Encode(in)
	v, _ := binarypack.Unpack(frames[0].Data)
	if id, _ := v.(binarypack.Map).Get("__peerData"); id != int64(2) {
		t.Fatalf("second chunked message id = %v", id)
	}
}

func TestBinaryChunkErrors(t *testing.T) {
	msg := packed(t, strings.Repeat("m", 3*ChunkMTU))
	piece := func(n int) []byte { return msg[n*ChunkMTU : min(len(msg), (n+1)*ChunkMTU)] }
	type step struct {
		f       Frame
		wantErr error // nil: no error
		wantOK  bool
	}
	tests := []struct {
		name  string
		opts  Options
		steps func(t *testing.T) []step
	}{
		{"duplicate kept", Options{}, func(t *testing.T) []step {
			return []step{
				{chunkFrame(t, 1, 0, 4, piece(0)), nil, false},
				{chunkFrame(t, 1, 0, 4, piece(0)), ErrMalformed, false},
				{chunkFrame(t, 1, 1, 4, piece(1)), nil, false},
				{chunkFrame(t, 1, 2, 4, piece(2)), nil, false},
				{chunkFrame(t, 1, 3, 4, piece(3)), nil, true},
			}
		}},
		{"inconsistent total drops message", Options{}, func(t *testing.T) []step {
			return []step{
				{chunkFrame(t, 1, 0, 4, piece(0)), nil, false},
				{chunkFrame(t, 1, 1, 5, piece(1)), ErrMalformed, false},
				// Starts over: the old pieces are gone.
				{chunkFrame(t, 1, 1, 4, piece(1)), nil, false},
				{chunkFrame(t, 1, 2, 4, piece(2)), nil, false},
				{chunkFrame(t, 1, 3, 4, piece(3)), nil, false},
				{chunkFrame(t, 1, 0, 4, piece(0)), nil, true},
			}
		}},
		{"n out of range", Options{}, func(t *testing.T) []step {
			return []step{
				{chunkFrame(t, 1, 4, 4, piece(0)), ErrMalformed, false},
				{chunkFrame(t, 1, -1, 4, piece(0)), ErrMalformed, false},
			}
		}},
		{"total zero", Options{}, func(t *testing.T) []step {
			return []step{{chunkFrame(t, 1, 0, 0, piece(0)), ErrMalformed, false}}
		}},
		{"wrong field types", Options{}, func(t *testing.T) []step {
			return []step{
				{chunkFrame(t, 1, "0", 4, piece(0)), ErrMalformed, false},
				{chunkFrame(t, 1, 0, 4.5, piece(0)), ErrMalformed, false},
				{chunkFrame(t, 1, 0, 4, "text"), ErrMalformed, false},
				{chunkFrame(t, "id", 0, 4, piece(0)), ErrMalformed, false},
				{chunkFrame(t, true, 0, 4, piece(0)), ErrMalformed, false},
			}
		}},
		{"declared total too big, rejected early", Options{MaxMessageSize: 3 * ChunkMTU}, func(t *testing.T) []step {
			return []step{
				{chunkFrame(t, 1, 0, 4, piece(0)), ErrMessageTooBig, false},
				{chunkFrame(t, 2, 0, 1<<40, []byte{1}), ErrMessageTooBig, false},
			}
		}},
		{"accumulated size too big", Options{MaxMessageSize: 3*ChunkMTU + 10}, func(t *testing.T) []step {
			big := bytes.Repeat([]byte{0xb0}, ChunkMTU+20) // pieces bigger than PeerJS sends
			return []step{
				{chunkFrame(t, 1, 0, 4, big), nil, false},
				{chunkFrame(t, 1, 1, 4, big), nil, false},
				{chunkFrame(t, 1, 2, 4, big), ErrMessageTooBig, false},
				// The message was dropped; its pieces start a new one.
				{chunkFrame(t, 1, 3, 4, piece(3)), nil, false},
			}
		}},
		{"float id equals int id", Options{}, func(t *testing.T) []step {
			return []step{
				{chunkFrame(t, 7, 0, 2, packed(t, "ab")[:1]), nil, false},
				{chunkFrame(t, 7.0, 1, 2, packed(t, "ab")[1:]), nil, true},
			}
		}},
		{"chunk inside reassembled message", Options{}, func(t *testing.T) []step {
			inner := chunkFrame(t, 9, 0, 2, []byte{1}).Data
			return []step{{chunkFrame(t, 1, 0, 1, inner), ErrMalformed, false}}
		}},
		{"garbage in reassembled message", Options{}, func(t *testing.T) []step {
			return []step{{chunkFrame(t, 1, 0, 1, []byte{0xd9, 0xff}), ErrMalformed, false}}
		}},
		{"frame over MaxMessageSize", Options{MaxMessageSize: 100}, func(t *testing.T) []step {
			return []step{{Frame{Data: packed(t, strings.Repeat("a", 100))}, ErrMessageTooBig, false}}
		}},
		{"not binarypack", Options{}, func(t *testing.T) []step {
			return []step{{Frame{Data: []byte{0x93, 1}}, ErrMalformed, false}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, "binary", tt.opts)
			for i, s := range tt.steps(t) {
				_, ok, err := c.Decode(s.f)
				if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
				if ok != s.wantOK {
					t.Fatalf("step %d: ok = %v, want %v", i, ok, s.wantOK)
				}
			}
		})
	}
}

func TestBinaryMaxPending(t *testing.T) {
	c := mustNew(t, "binary", Options{MaxPending: 2})
	msg := packed(t, "hello")
	half := func(id, n int) Frame { return chunkFrame(t, id, n, 2, msg[n*3:min(len(msg), n*3+3)]) }
	for _, id := range []int{1, 2} {
		if _, ok, err := c.Decode(half(id, 0)); ok || err != nil {
			t.Fatalf("id %d: %v %v", id, ok, err)
		}
	}
	// A third message evicts the oldest (1) but is itself kept.
	if _, ok, err := c.Decode(half(3, 0)); ok || !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("third message: ok %v, err %v", ok, err)
	}
	for _, id := range []int{2, 3} {
		v, ok, err := c.Decode(half(id, 1))
		if !ok || err != nil || v != "hello" {
			t.Fatalf("id %d: %v %v %v", id, v, ok, err)
		}
	}
	// Message 1 starts over and so does not complete with its second half.
	if _, ok, err := c.Decode(half(1, 1)); ok || err != nil {
		t.Fatalf("evicted message: ok %v, err %v", ok, err)
	}
}

// TestBinaryPendingBytes: half-received messages cannot hold more than
// MaxPendingBytes between them; the oldest goes first, and reordered pieces
// are counted.
func TestBinaryPendingBytes(t *testing.T) {
	const piece = ChunkMTU
	c := mustNew(t, "binary", Options{MaxMessageSize: 3*piece - 1, MaxPendingBytes: 3*piece - 1})
	big := packed(t, strings.Repeat("a", 3*piece-10))
	pieceOf := func(id, n int) Frame {
		return chunkFrame(t, id, n, 3, big[n*piece:min(len(big), (n+1)*piece)])
	}
	// Message 1 holds two pieces (2 * 16300 bytes), received out of order.
	for _, n := range []int{1, 0} {
		if _, ok, err := c.Decode(pieceOf(1, n)); ok || err != nil {
			t.Fatalf("message 1 piece %d: %v %v", n, ok, err)
		}
	}
	if r := c.(Reorderer).Reordered(); r != 1 {
		t.Fatalf("reordered = %d, want 1", r)
	}
	// Message 2's first piece needs room: message 1 is dropped.
	if _, ok, err := c.Decode(pieceOf(2, 0)); ok || !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("message 2 piece 0: ok %v, err %v", ok, err)
	}
	for _, n := range []int{2, 1} {
		v, ok, err := c.Decode(pieceOf(2, n))
		if n == 1 && (!ok || err != nil || len(v.(string)) != 3*piece-10) {
			t.Fatalf("message 2 did not complete: %v %v", ok, err)
		}
	}
	// Message 1's last piece starts a new entry that cannot complete.
	if _, ok, _ := c.Decode(pieceOf(1, 2)); ok {
		t.Fatal("evicted message completed")
	}
}

func TestBinaryPeerData(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"close", binarypack.Map{{Key: "__peerData", Value: binarypack.Map{{Key: "type", Value: "close"}}}}, CloseRequest{}},
		{"falsy 0 is data", binarypack.Map{{Key: "__peerData", Value: 0}}, binarypack.Map{{Key: "__peerData", Value: int64(0)}}},
		{"falsy empty string is data", binarypack.Map{{Key: "__peerData", Value: ""}}, binarypack.Map{{Key: "__peerData", Value: ""}}},
		{"falsy null is data", binarypack.Map{{Key: "__peerData", Value: nil}}, binarypack.Map{{Key: "__peerData", Value: nil}}},
		{"null", nil, nil},
		{"array", []any{"__peerData"}, []any{"__peerData"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, "binary", Options{})
			v, ok, err := c.Decode(Frame{Data: packed(t, tt.in)})
			if err != nil || !ok || !sameValue(v, tt.want) {
				t.Fatalf("got %#v, %v, %v; want %#v", v, ok, err, tt.want)
			}
		})
	}
	// A close message inside a chunked message is still a close.
	c := mustNew(t, "binary", Options{})
	v, ok, err := c.Decode(chunkFrame(t, 1, 0, 1, packed(t, closeMessage())))
	if v != (CloseRequest{}) || !ok || err != nil {
		t.Fatalf("chunked close: %#v %v %v", v, ok, err)
	}
	// A text frame is unpacked from its bytes.
	v, ok, err = c.Decode(Frame{Data: packed(t, "hi"), Text: true})
	if v != "hi" || !ok || err != nil {
		t.Fatalf("text frame: %#v %v %v", v, ok, err)
	}
}

func TestBinaryEncodeErrors(t *testing.T) {
	c := mustNew(t, "binary", Options{})
	if _, err := c.Encode(struct{}{}); !errors.Is(err, ErrUnsupportedType) || !errors.Is(err, binarypack.ErrUnsupportedType) {
		t.Fatalf("struct: %v", err)
	}
	if _, err := c.Encode(1.0 / zero()); !errors.Is(err, binarypack.ErrInvalidNumber) {
		t.Fatalf("Inf: %v", err)
	}
}

func zero() float64 { return 0 }

func TestJSONSizeLimit(t *testing.T) {
	c := mustNew(t, "json", Options{})
	// A string of n bytes is n+2 bytes of JSON.
	frames, err := c.Encode(strings.Repeat("a", ChunkMTU-3))
	if err != nil || len(frames) != 1 || len(frames[0].Data) != ChunkMTU-1 || frames[0].Text {
		t.Fatalf("16299 bytes: %v", err)
	}
	_, err = c.Encode(strings.Repeat("a", ChunkMTU-2))
	if !errors.Is(err, ErrMessageTooBig) || !strings.Contains(err.Error(), "message too big for JSON channel") {
		t.Fatalf("16300 bytes: %v", err)
	}
	// Receiving has no such limit, only MaxMessageSize.
	big := `"` + strings.Repeat("a", 100_000) + `"`
	if v, ok, err := c.Decode(Frame{Data: []byte(big)}); !ok || err != nil || len(v.(string)) != 100_000 {
		t.Fatalf("decode 100 kB: %v %v", ok, err)
	}
	small := mustNew(t, "json", Options{MaxMessageSize: 10})
	if _, _, err := small.Decode(Frame{Data: []byte(`"0123456789"`)}); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("over MaxMessageSize: %v", err)
	}
}

func TestJSONEncode(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
		err  error
	}{
		{"map[string]any sorted", map[string]any{"b": 1, "a": []string{"x"}}, `{"a":["x"],"b":1}`, nil},
		{"Map order", binarypack.Map{{Key: "z", Value: 1}, {Key: "a", Value: nil}}, `{"z":1,"a":null}`, nil},
		{"ints", []any{int8(-1), uint64(1 << 63), []int{1, 2}}, `[-1,9223372036854775808,[1,2]]`, nil},
		{"float32", float32(0.5), `0.5`, nil},
		{"invalid utf-8", "a\xffb", "\"a\uFFFDb\"", nil},
		{"bytes", []byte{1}, "", ErrUnsupportedType},
		{"bytes nested", []any{[]byte{1}}, "", ErrUnsupportedType},
		{"non-string key", binarypack.Map{{Key: int64(1), Value: 1}}, "", ErrUnsupportedType},
		{"top-level undefined", binarypack.Undefined{}, "", ErrUnsupportedType},
		{"struct", struct{}{}, "", ErrUnsupportedType},
	}
	c := mustNew(t, "json", Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := c.Encode(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || string(frames[0].Data) != tt.want {
				t.Fatalf("got %q, %v; want %q", frames[0].Data, err, tt.want)
			}
		})
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	c := mustNew(t, "json", Options{})
	for _, in := range []string{"", "{", `{"a":}`, "1 2", "[1,]", "nul", strings.Repeat("[", 600) + strings.Repeat("]", 600), "\xff"} {
		if _, ok, err := c.Decode(Frame{Data: []byte(in)}); ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("%.20q: ok %v, err %v", in, ok, err)
		}
	}
	// Duplicate keys are kept in order; Get sees the last, like JSON.parse.
	v, _, err := c.Decode(Frame{Data: []byte(`{"a":1,"a":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := v.(binarypack.Map).Get("a"); got != int64(2) || len(v.(binarypack.Map)) != 2 {
		t.Fatalf("duplicate keys: %#v", v)
	}
}

func TestRaw(t *testing.T) {
	c := mustNew(t, "raw", Options{MaxMessageSize: 8})
	frames, err := c.Encode("héllo")
	if err != nil || len(frames) != 1 || !frames[0].Text || string(frames[0].Data) != "héllo" {
		t.Fatalf("string: %+v %v", frames, err)
	}
	in := []byte{0, 1, 2}
	frames, err = c.Encode(in)
	if err != nil || len(frames) != 1 || frames[0].Text || !bytes.Equal(frames[0].Data, in) {
		t.Fatalf("bytes: %+v %v", frames, err)
	}
	in[0] = 9
	if frames[0].Data[0] != 0 {
		t.Fatal("Encode aliases its input")
	}
	for _, v := range []any{1, nil, []any{}, binarypack.Map{}} {
		if _, err := c.Encode(v); !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("Encode(%#v): %v", v, err)
		}
	}
	if _, err := c.EncodeClose(); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("EncodeClose: %v", err)
	}
	data := []byte("hi")
	v, ok, err := c.Decode(Frame{Data: data, Text: true})
	if v != "hi" || !ok || err != nil {
		t.Fatalf("text: %#v %v %v", v, ok, err)
	}
	v, ok, err = c.Decode(Frame{Data: data})
	if !bytes.Equal(v.([]byte), data) || !ok || err != nil {
		t.Fatalf("binary: %#v %v %v", v, ok, err)
	}
	data[0] = 'X'
	if v.([]byte)[0] != 'h' {
		t.Fatal("Decode aliases the frame")
	}
	// The close message is just data to raw.
	closeBytes := packed(t, closeMessage())
	if v, _, _ := mustNew(t, "raw", Options{}).Decode(Frame{Data: closeBytes}); !bytes.Equal(v.([]byte), closeBytes) {
		t.Fatal("raw decoded a close request")
	}
	if _, _, err := c.Decode(Frame{Data: make([]byte, 9)}); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("over MaxMessageSize: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	enc := mustNew(t, "binary", Options{})
	dec := mustNew(t, "binary", Options{})
	in := strings.Repeat("z", 3*ChunkMTU)
	done := make(chan error, 8)
	for range 8 {
		go func() {
			frames, err := enc.Encode(in)
			if err != nil {
				done <- err
				return
			}
			for _, f := range frames {
				if _, _, err := dec.Decode(f); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

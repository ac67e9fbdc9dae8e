package peerjs

import (
	"bytes"
	"testing"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
	"github.com/p2plive/p2plive-node/peerjs/serial"
)

// countingPacker is a Packer that counts its packs.
type countingPacker struct {
	v     any
	packs int
}

func (p *countingPacker) Value() any { return p.v }
func (p *countingPacker) Packed() ([]byte, error) {
	p.packs++
	return binarypack.Pack(p.v)
}

// TestOutgoingEncodesOnce: one Outgoing sent on many connections packs once
// (through its Packer) and makes the frames of each other serialization
// once, whatever the number of connections of that serialization.
func TestOutgoingEncodesOnce(t *testing.T) {
	v := []any{int64(0), "R", "Alice", "hello", nil, ""}
	p := &countingPacker{v: v}
	o := NewPackedOutgoing(p)
	for range 3 {
		b, err := o.binary()
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := binarypack.Pack(v); !bytes.Equal(b, want) {
			t.Fatalf("packed %x, want %x", b, want)
		}
	}
	if p.packs != 1 {
		t.Fatalf("packed %d times for 3 binary connections, want 1", p.packs)
	}
	for _, name := range []string{"json", "raw"} {
		var first []serial.Frame
		var firstErr error
		for i := range 3 {
			enc, err := serial.New(name, serial.Options{})
			if err != nil {
				t.Fatal(err)
			}
			frames, err := o.framesFor(enc) // a new codec each time: another connection
			if i == 0 {
				first, firstErr = frames, err
				continue
			}
			if (err == nil) != (firstErr == nil) || len(frames) != len(first) || len(frames) > 0 && &frames[0] != &first[0] {
				t.Fatalf("%s: connection %d got other frames than the first: encoded again", name, i)
			}
		}
	}
	enc, _ := serial.New("json", serial.Options{})
	want, _ := enc.Encode(v)
	got, _ := o.framesFor(enc)
	if len(got) != 1 || !bytes.Equal(got[0].Data, want[0].Data) {
		t.Fatalf("json frame %s, want %s", got[0].Data, want[0].Data)
	}
}

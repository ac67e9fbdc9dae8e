package tree

import (
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// FuzzReceive feeds arbitrary decoded values to a relay and an index from
// every kind of connection: nothing may panic, and every output must name a
// connection that exists.
func FuzzReceive(f *testing.F) {
	for _, v := range []any{chatFromB, reportB, roomMap, []any{int64(4), "A"}, []any{int64(5), int64(2), int64(0)},
		[]any{int64(3), "H", int64(0), false}, []any{int64(7), int64(0), []any{}}, hostMap("H", "t")} {
		b, err := binarypack.Pack(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, who uint8) {
		v, err := binarypack.Unpack(b)
		if err != nil {
			return
		}
		g := newRig(t, RelayConfig{})
		g.parent()
		g.child("A")
		g.open("G")
		from := []string{"H", "A", "G"}[int(who)%3]
		for _, o := range g.from(from, v) {
			switch o := o.(type) {
			case Send:
				for _, to := range o.To {
					if g.r.lookup(to) == nil {
						t.Fatalf("send to unknown %s", to)
					}
				}
			case Call:
				if g.r.lookup(o.To) == nil {
					t.Fatalf("media to unknown %s", o.To)
				}
			}
		}
		x := NewIndex(IndexConfig{})
		x.Opened("H", "H", t0)
		x.Receive("H", v, t0.Add(time.Second))
	})
}

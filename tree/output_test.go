package tree

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// sent is one message to one connection: a Send spread over its To.
type sent struct {
	To  ConnID
	Msg any
}

// sentOf spreads the Send outputs of out over their connections, in order.
func sentOf(out []Output) (s []sent) {
	for _, m := range outputsOf[Send](out) {
		for _, to := range m.To {
			s = append(s, sent{to, m.Msg.V})
		}
	}
	return s
}

// outputsOf lists the outputs of type T, in order.
func outputsOf[T Output](out []Output) []T { return collect(out, func(t T) T { return t }) }

// collect lists f of each output of type T, in order.
func collect[T Output, U any](out []Output, f func(T) U) (us []U) {
	for _, o := range out {
		if t, ok := o.(T); ok {
			us = append(us, f(t))
		}
	}
	return us
}

// TestFloodIsOneSend: a forwarded chat is one Send to the parent and the
// other children, already packed by the loop guard: the bytes it hashed
// are the bytes sent, and nothing packs it again.
func TestFloodIsOneSend(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.child("A")
	g.child("B")
	g.child("C")
	ss := outputsOf[Send](g.from("B", chatFromB))
	if len(ss) != 1 || !reflect.DeepEqual(ss[0].To, []ConnID{"H/dc_p", "A/dc", "C/dc"}) {
		t.Fatalf("sends %v, want one to the parent, A and C", ss)
	}
	m := ss[0].Msg
	if !m.done {
		t.Fatal("the forwarded chat was not packed by the loop guard")
	}
	want, err := binarypack.Pack(Chat(chatFromB).ForwardedBy("R"))
	if got, _ := m.Packed(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("packed %x, want %x (%v)", got, want, err)
	}
	// The same line again, on another link: the guard's key is those bytes.
	if rs := rejects(g.from("A", withField(chatFromB, 1, "A"))); !reflect.DeepEqual(rs, []Reason{RejectDuplicate}) {
		t.Fatalf("the same chat from A: rejects %v, want a duplicate", rs)
	}
}

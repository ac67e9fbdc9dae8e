package tree

import "testing"

// execute carries out the Sends of out for binary connections as node's
// apply does (one peerjs.Outgoing per Send: Message.Packed, once for all of
// its connections) and returns how many connections were sent to.
func execute(b *testing.B, out []Output) int {
	n := 0
	for _, o := range out {
		if s, ok := o.(Send); ok {
			if _, err := s.Msg.Packed(); err != nil {
				b.Fatal(err)
			}
			n += len(s.To)
		}
	}
	return n
}

package tree

import "github.com/p2plive/p2plive-node/peerjs/binarypack"

// Message is one message a machine sends, shared by every connection it
// goes to (Send.To). It carries its BinaryPack encoding, made at most once:
// the loop guard hashes the bytes a forwarded message is sent as (so a
// flooded chat is packed once per hop, not once to hash it and again to
// send it), and a message the guard never saw is packed by the first
// binary connection that sends it. The owner hands it to every connection
// of the Send instead of re-encoding per connection.
//
// A Message belongs to the goroutine that owns the machine (like the
// machine itself): Packed fills a cache and is not safe for concurrent use.
// V is never mutated once the Message is handed out.
type Message struct {
	V any

	packed []byte // V in BinaryPack, once done
	err    error  // why V does not pack, once done
	done   bool
}

// packHint is the first buffer Packed packs into: a chat line or a control
// message fits, so the common message is one allocation, not one per
// doubling; a report or room map grows from there.
const packHint = 256

// NewMessage wraps v, not yet packed.
func NewMessage(v any) *Message { return &Message{V: v} }

// Value is the message as a value, for serializations other than BinaryPack.
func (m *Message) Value() any { return m.V }

// Packed returns V in BinaryPack, packing it on the first call only. The
// bytes are shared: the caller must not modify them.
func (m *Message) Packed() ([]byte, error) {
	if !m.done {
		m.packed, m.err = binarypack.AppendPack(make([]byte, 0, packHint), m.V)
		m.done = true
	}
	return m.packed, m.err
}

package tree

import (
	"hash/maphash"
	"time"
)

// dedupe remembers what we forwarded recently so a message that comes back
// (the tree has a cycle: a stale map, a click on one's own descendant, a
// bridge) is not forwarded again. The pages have no message ids, so the key
// is a hash of the content. It is bounded in time (window) and count
// (entries); the oldest entries go first.
//
// The key is the hash of the message as we send it in BinaryPack
// (Message.Packed), so the bytes hashed are the bytes sent on binary
// connections: packed once per hop. A chat is keyed as we forward it, [1]
// set to our own id: everything but the hop, the same at every hop of ours.
//
// The cost: the same content from the same author within the window is
// forwarded once. For chat that means an identical line (same name, text,
// image and icon) repeated within the window; the window is short for that reason.
type dedupe struct {
	window  time.Duration
	entries int
	seed    maphash.Seed // random per node: a peer cannot aim collisions at us
	seen    map[uint64]time.Time
	order   []dedupeEntry // FIFO of insertions, for expiry
}

type dedupeEntry struct {
	key uint64
	at  time.Time
}

func newDedupe(window time.Duration, entries int) *dedupe {
	return &dedupe{window: window, entries: entries, seed: maphash.MakeSeed(), seen: make(map[uint64]time.Time, entries)}
}

// firstTime records m and reports whether it was not seen within the window.
func (d *dedupe) firstTime(m *Message, now time.Time) bool {
	d.expire(now)
	b, err := m.Packed()
	if err != nil {
		// Unpackable means it did not come off the wire; never suppress it.
		return true
	}
	k := maphash.Bytes(d.seed, b)
	if _, ok := d.seen[k]; ok {
		return false
	}
	if len(d.order) >= d.entries {
		old := d.order[0]
		d.order = d.order[1:]
		if d.seen[old.key] == old.at {
			delete(d.seen, old.key)
		}
	}
	d.seen[k] = now
	d.order = append(d.order, dedupeEntry{k, now})
	return true
}

func (d *dedupe) expire(now time.Time) {
	i := 0
	for i < len(d.order) && now.Sub(d.order[i].at) > d.window {
		e := d.order[i]
		if d.seen[e.key] == e.at {
			delete(d.seen, e.key)
		}
		i++
	}
	if i > 0 {
		d.order = append(d.order[:0], d.order[i:]...)
	}
}

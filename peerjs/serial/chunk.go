package serial

import (
	"fmt"
	"math"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// partial is a chunked message being reassembled.
type partial struct {
	total  int
	pieces [][]byte // by index; nil until received
	count  int
	size   int
	seq    uint64 // when it started, for evicting the oldest
	maxN   int    // highest piece index seen
}

// chunkID turns a __peerData value into a map key the way a JS object key
// would identify it: 1 and 1.0 are the same id.
func chunkID(pd any) (any, bool) {
	switch x := pd.(type) {
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) && x >= -1<<63 && x < 1<<63 {
			return int64(x), true
		}
		return x, true
	}
	return nil, false
}

// addChunk is PeerJS's _handleChunk, with the checks PeerJS lacks: it
// rejects pieces with an index outside [0, total), a total that disagrees
// with earlier pieces, duplicates (PeerJS counts a duplicate and then fails
// on the hole it leaves), and messages larger than MaxMessageSize, before
// storing anything.
func (c *binaryCodec) addChunk(pd any, m binarypack.Map) (any, bool, error) {
	id, ok := chunkID(pd)
	if !ok {
		return nil, false, fmt.Errorf("__peerData %T is neither a close request nor a chunk id: %w", pd, ErrMalformed)
	}
	nv, _ := m.Get("n")
	tv, _ := m.Get("total")
	dv, _ := m.Get("data")
	n, okN := nv.(int64)
	total, okT := tv.(int64)
	data, okD := dv.([]byte)
	if !okN || !okT || !okD {
		return nil, false, fmt.Errorf("chunk %v: n %T, total %T, data %T: %w", id, nv, tv, dv, ErrMalformed)
	}
	if total < 1 || n < 0 || n >= total {
		return nil, false, fmt.Errorf("chunk %v: piece %d of %d: %w", id, n, total, ErrMalformed)
	}
	limit := c.opts.MaxMessageSize
	// A PeerJS sender fills every piece but the last, so total pieces
	// carry more than (total-1)*ChunkMTU bytes.
	if total-1 > int64((limit-1)/ChunkMTU) || len(data) > limit {
		return nil, false, fmt.Errorf("chunk %v: %d pieces, limit %d bytes: %w", id, total, limit, ErrMessageTooBig)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[id]
	var evicted error
	if p == nil {
		if total == 1 {
			return c.complete([][]byte{data})
		}
		if len(c.pending) >= c.opts.MaxPending {
			evicted = c.evictOldest()
		}
		if c.held+len(data) > c.opts.MaxPendingBytes {
			evicted = c.evictUntil(len(data))
		}
		c.seq++
		p = &partial{total: int(total), pieces: make([][]byte, total), seq: c.seq}
		c.pending[id] = p
	}
	if p.total != int(total) {
		c.drop(id, p)
		return nil, false, fmt.Errorf("chunk %v: total %d, earlier pieces said %d; message dropped: %w", id, total, p.total, ErrMalformed)
	}
	if p.pieces[n] != nil {
		return nil, false, fmt.Errorf("chunk %v: duplicate piece %d: %w", id, n, ErrMalformed)
	}
	if p.size+len(data) > limit {
		c.drop(id, p)
		return nil, false, fmt.Errorf("chunk %v: more than %d bytes; message dropped: %w", id, limit, ErrMessageTooBig)
	}
	if c.held+len(data) > c.opts.MaxPendingBytes {
		// Make room from other messages; this one stays (it is not the oldest
		// only if older ones exist, and those go first).
		delete(c.pending, id)
		evicted = c.evictUntil(len(data))
		c.pending[id] = p
		if c.held+len(data) > c.opts.MaxPendingBytes {
			c.drop(id, p)
			return nil, false, fmt.Errorf("chunk %v: pending chunks over %d bytes; message dropped: %w", id, c.opts.MaxPendingBytes, ErrTooManyPending)
		}
	}
	if int(n) < p.maxN {
		c.reorder++
	}
	p.maxN = max(p.maxN, int(n))
	p.pieces[n] = data // Unpack never aliases the frame, so keeping it is safe
	p.count++
	p.size += len(data)
	c.held += len(data)
	if p.count < p.total {
		return nil, false, evicted
	}
	c.drop(id, p)
	return c.complete(p.pieces)
}

// evictOldest drops the pending message that started first.
func (c *binaryCodec) evictOldest() error {
	var oldID any
	var old *partial
	for id, p := range c.pending {
		if old == nil || p.seq < old.seq {
			oldID, old = id, p
		}
	}
	c.drop(oldID, old)
	return fmt.Errorf("dropped chunked message %v (%d of %d pieces): %w", oldID, old.count, old.total, ErrTooManyPending)
}

// evictUntil drops the oldest pending messages until need more bytes fit.
func (c *binaryCodec) evictUntil(need int) error {
	var err error
	for len(c.pending) > 0 && c.held+need > c.opts.MaxPendingBytes {
		err = c.evictOldest()
	}
	return err
}

// drop forgets a pending message and releases its bytes.
func (c *binaryCodec) drop(id any, p *partial) {
	delete(c.pending, id)
	c.held -= p.size
}

// Reordered implements Reorderer.
func (c *binaryCodec) Reordered() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reorder
}

// complete unpacks the concatenated pieces of a message.
func (c *binaryCodec) complete(pieces [][]byte) (any, bool, error) {
	size := 0
	for _, p := range pieces {
		size += len(p)
	}
	whole := make([]byte, 0, size)
	for _, p := range pieces {
		whole = append(whole, p...)
	}
	v, err := binarypack.Unpack(whole)
	if err != nil {
		return nil, false, fmt.Errorf("reassembled message: %w: %w", ErrMalformed, err)
	}
	return c.handle(v, true)
}

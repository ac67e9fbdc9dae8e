package serial

import (
	"fmt"
	"math"
	"slices"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// What the reassembler charges, besides piece data, to MaxPendingBytes and
// to a shared Budget, so that "pending bytes" is the memory a sender can
// make us hold and not just the payload. The figures are upper bounds for a
// 64-bit platform:
const (
	// PieceOverhead is charged per stored piece: its index entry (an int
	// and a slice header, 32 bytes) counted twice, because the entries
	// live in a slice grown by doubling, whose spare capacity is at most
	// the length.
	PieceOverhead = 64
	// MessageOverhead is charged per pending message: the partial struct,
	// its entry in the pending map (the id boxed as an interface, the
	// pointer, the map's slack) and the first few index entries' capacity.
	MessageOverhead = 512
)

// maxPieces is the most pieces a message of at most limit bytes may have:
// a PeerJS sender fills every piece but the last, so total pieces carry
// more than (total-1)*ChunkMTU bytes.
func maxPieces(limit int) int { return (limit-1)/ChunkMTU + 1 }

// ChargeFor is what a message of size bytes, cut by a PeerJS sender, is
// charged to the pending budgets just before it completes: its data plus
// the overhead of its pieces and of the message. ChargeFor(MaxMessageSize)
// is the floor of MaxPendingBytes, so that any message within the limit can
// complete; a shared Budget smaller than that refuses the largest messages.
func ChargeFor(size int) int {
	pieces := maxPieces(max(size, 1))
	if pieces > (math.MaxInt-MessageOverhead)/PieceOverhead {
		return math.MaxInt
	}
	return satAdd(max(size, 0), pieces*PieceOverhead+MessageOverhead)
}

// satAdd is a + b for non-negative a and b, stopping at math.MaxInt: a
// MaxMessageSize near math.MaxInt must not wrap the derived bounds negative
// (which would refuse everything).
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// piece is one received piece of a chunked message.
type piece struct {
	n    int
	data []byte
}

// partial is a chunked message being reassembled. Pieces are stored as they
// come, sorted by index, never in a table sized by the claimed total: a
// frame of 40 bytes may claim billions of pieces, and only what has arrived
// may cost memory.
type partial struct {
	total  int
	pieces []piece // sorted by n; grown by doubling (see PieceOverhead)
	size   int     // data bytes received
	charge int     // bytes charged to the codec and the shared budget
	seq    uint64  // when it started, for evicting the oldest
	maxN   int     // highest piece index seen
}

// find returns where piece n is or would go, and whether it is there.
// PeerJS sends pieces in order, so the common case is an append.
func (p *partial) find(n int) (int, bool) {
	if k := len(p.pieces); k == 0 || p.pieces[k-1].n < n {
		return k, false
	}
	return slices.BinarySearchFunc(p.pieces, n, func(e piece, n int) int { return e.n - n })
}

// insert stores a piece at position i (from find). Growth is explicit
// doubling so that spare capacity never exceeds what PieceOverhead covers.
func (p *partial) insert(i, n int, data []byte) {
	if len(p.pieces) == cap(p.pieces) {
		grown := make([]piece, len(p.pieces), max(4, 2*cap(p.pieces)))
		copy(grown, p.pieces)
		p.pieces = grown
	}
	p.pieces = slices.Insert(p.pieces, i, piece{n: n, data: data})
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
// storing anything. Every byte it keeps is charged to MaxPendingBytes and
// to Options.Shared, and released when the message completes or is dropped.
func (c *binaryCodec) addChunk(pd any, m binarypack.Map) (any, bool, error) {
	id, ok := chunkID(pd)
	if !ok {
		return nil, false, fmt.Errorf("__peerData %T is neither a close request nor a chunk id: %w", pd, ErrMalformed)
	}
	nv, _ := m.Get("n")
	tv, _ := m.Get("total")
	dv, _ := m.Get("data")
	n64, okN := nv.(int64)
	total64, okT := tv.(int64)
	data, okD := dv.([]byte)
	if !okN || !okT || !okD {
		return nil, false, fmt.Errorf("chunk %v: n %T, total %T, data %T: %w", id, nv, tv, dv, ErrMalformed)
	}
	if total64 < 1 || n64 < 0 || n64 >= total64 {
		return nil, false, fmt.Errorf("chunk %v: piece %d of %d: %w", id, n64, total64, ErrMalformed)
	}
	limit := c.opts.MaxMessageSize
	if total64 > int64(maxPieces(limit)) || len(data) > limit {
		return nil, false, fmt.Errorf("chunk %v: %d pieces, limit %d bytes: %w", id, total64, limit, ErrMessageTooBig)
	}
	n, total := int(n64), int(total64) // both below maxPieces, so they fit

	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[id]
	var evicted error
	if p == nil {
		if total == 1 {
			return c.complete([][]byte{data})
		}
		if c.released {
			return nil, false, fmt.Errorf("chunk %v: %w", id, ErrReleased)
		}
		if len(c.pending) >= c.opts.MaxPending {
			evicted = c.evictOldest()
		}
		c.seq++
		p = &partial{total: total, seq: c.seq}
		c.pending[id] = p
	}
	if p.total != total {
		c.drop(id, p)
		return nil, false, fmt.Errorf("chunk %v: total %d, earlier pieces said %d; message dropped: %w", id, total, p.total, ErrMalformed)
	}
	at, dup := p.find(n)
	if dup {
		return nil, false, fmt.Errorf("chunk %v: duplicate piece %d: %w", id, n, ErrMalformed)
	}
	if p.size+len(data) > limit {
		c.drop(id, p)
		return nil, false, fmt.Errorf("chunk %v: more than %d bytes; message dropped: %w", id, limit, ErrMessageTooBig)
	}
	need := len(data) + PieceOverhead
	if p.charge == 0 {
		need += MessageOverhead
	}
	if c.held+need > c.opts.MaxPendingBytes {
		// Make room from other messages, oldest first; this one stays
		// (its own bytes remain charged while the others go).
		delete(c.pending, id)
		if err := c.evictUntil(need); err != nil {
			evicted = err
		}
		c.pending[id] = p
		if c.held+need > c.opts.MaxPendingBytes {
			c.drop(id, p)
			return nil, false, fmt.Errorf("chunk %v: pending chunks over %d bytes; message dropped: %w", id, c.opts.MaxPendingBytes, ErrTooManyPending)
		}
	}
	if !c.opts.Shared.Reserve(need) {
		c.drop(id, p)
		return nil, false, fmt.Errorf("chunk %v: shared pending budget full (%d bytes held); message dropped: %w", id, c.opts.Shared.Held(), ErrTooManyPending)
	}
	p.charge += need
	c.held += need
	if n < p.maxN {
		c.reorder++
	}
	p.maxN = max(p.maxN, n)
	p.insert(at, n, data) // Unpack never aliases the frame, so keeping it is safe
	p.size += len(data)
	if len(p.pieces) < p.total {
		return nil, false, evicted
	}
	c.drop(id, p)
	whole := make([][]byte, len(p.pieces))
	for i, pc := range p.pieces {
		whole[i] = pc.data
	}
	return c.complete(whole)
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
	return fmt.Errorf("dropped chunked message %v (%d of %d pieces): %w", oldID, len(old.pieces), old.total, ErrTooManyPending)
}

// evictUntil drops the oldest pending messages until need more bytes fit.
func (c *binaryCodec) evictUntil(need int) error {
	var err error
	for len(c.pending) > 0 && c.held+need > c.opts.MaxPendingBytes {
		err = c.evictOldest()
	}
	return err
}

// drop forgets a pending message and releases exactly what it was charged,
// here and in the shared budget. It is the only place charges are given
// back, so every way a message ends (completion, eviction, a bad piece,
// Release) keeps the two counts equal.
func (c *binaryCodec) drop(id any, p *partial) {
	delete(c.pending, id)
	c.held -= p.charge
	c.opts.Shared.Release(p.charge)
	p.charge = 0
}

// Release implements Releaser: it drops every pending message and gives
// its bytes back. Chunk pieces of more than one that arrive afterwards
// are refused with ErrReleased, so a frame delivered during Close cannot
// charge the shared budget with nobody left to release it.
func (c *binaryCodec) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = true
	for id, p := range c.pending {
		c.drop(id, p)
	}
}

// Held implements Releaser.
func (c *binaryCodec) Held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
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

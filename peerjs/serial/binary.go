package serial

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// binaryCodec is PeerJS's BinaryPack serialization ("binary", also chosen
// by "binary-utf8" and "default" in PeerJS 1.5.4).
type binaryCodec struct {
	name string
	opts Options

	// dataCount is PeerJS's BinaryPackChunker._dataCount: the id of the
	// last chunked message sent. PeerJS starts at 1 and increments once per
	// chunked message (small messages do not use an id).
	dataCount atomic.Int64

	mu       sync.Mutex
	pending  map[any]*partial // by __peerData id
	seq      uint64           // arrival order of pending messages, for eviction
	held     int              // bytes charged for pending messages (data and overhead), bounded by MaxPendingBytes
	reorder  uint64           // pieces that arrived after a higher-numbered piece of their message
	released bool             // Release was called: chunk pieces are refused
}

func newBinary(name string, o Options) *binaryCodec {
	return &binaryCodec{name: name, opts: o, pending: make(map[any]*partial)}
}

func (c *binaryCodec) Name() string { return c.name }

func (c *binaryCodec) Encode(v any) ([]Frame, error) {
	b, err := binarypack.Pack(v)
	if err != nil {
		return nil, packErr(err)
	}
	if len(b) <= ChunkMTU {
		return []Frame{{Data: b}}, nil
	}
	return c.chunk(b), nil
}

// EncodePacked implements PackedEncoder.
func (c *binaryCodec) EncodePacked(b []byte) []Frame {
	if len(b) <= ChunkMTU {
		return []Frame{{Data: b}}
	}
	return c.chunk(b)
}

// chunk cuts a packed message the way BinaryPackChunker.chunk does: pieces
// of ChunkMTU bytes (the last one shorter), each wrapped in a map whose
// keys come in PeerJS's order: __peerData, n, data, total.
func (c *binaryCodec) chunk(b []byte) []Frame {
	id := c.dataCount.Add(1)
	total := (len(b) + ChunkMTU - 1) / ChunkMTU
	frames := make([]Frame, 0, total)
	for n := 0; n < total; n++ {
		piece := b[n*ChunkMTU : min(len(b), (n+1)*ChunkMTU)]
		m := binarypack.Map{
			{Key: "__peerData", Value: id},
			{Key: "n", Value: int64(n)},
			{Key: "data", Value: piece},
			{Key: "total", Value: int64(total)},
		}
		out, err := binarypack.AppendPack(make([]byte, 0, len(piece)+64), m)
		if err != nil {
			panic("serial: packing a chunk map: " + err.Error()) // all fields are plain ints and bytes
		}
		frames = append(frames, Frame{Data: out})
	}
	return frames
}

// closeMessage is what DataConnection.close({flush: true}) sends.
func closeMessage() binarypack.Map {
	return binarypack.Map{{Key: "__peerData", Value: binarypack.Map{{Key: "type", Value: "close"}}}}
}

func (c *binaryCodec) EncodeClose() ([]Frame, error) { return c.Encode(closeMessage()) }

// Decode unpacks one frame. PeerJS-internal maps (a truthy __peerData key)
// are consumed: the polite close becomes CloseRequest, chunks are collected
// until their message is complete. A text frame is unpacked from its bytes.
func (c *binaryCodec) Decode(f Frame) (any, bool, error) {
	if err := checkSize(f, c.opts); err != nil {
		return nil, false, err
	}
	v, err := binarypack.Unpack(f.Data)
	if err != nil {
		return nil, false, fmt.Errorf("binary frame: %w: %w", ErrMalformed, err)
	}
	return c.handle(v, false)
}

// handle is PeerJS's BinaryPack._handleDataMessage for an unpacked value.
// reassembled is true for the content of a completed chunked message, which
// PeerJS would feed back through the same path; a chunk there is malformed.
func (c *binaryCodec) handle(v any, reassembled bool) (any, bool, error) {
	m, ok := v.(binarypack.Map)
	if !ok {
		return v, true, nil
	}
	pd, ok := m.Get("__peerData")
	if !ok || !truthy(pd) {
		return v, true, nil
	}
	if isClose(pd) {
		return CloseRequest{}, true, nil
	}
	if reassembled {
		return nil, false, fmt.Errorf("chunk inside a reassembled message: %w", ErrMalformed)
	}
	return c.addChunk(pd, m)
}

// truthy is JavaScript truthiness for the value model.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, binarypack.Undefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0 && x == x // NaN is falsy
	case string:
		return x != ""
	}
	return true // []byte (ArrayBuffer), arrays and maps are objects
}

// isClose reports whether a __peerData value is {type: "close"}.
func isClose(pd any) bool {
	m, ok := pd.(binarypack.Map)
	if !ok {
		return false
	}
	t, _ := m.Get("type")
	return t == "close"
}

// packErr classifies a binarypack.Pack error for callers of Encode.
func packErr(err error) error {
	if errors.Is(err, binarypack.ErrUnsupportedType) {
		return fmt.Errorf("binary serialization: %w: %w", ErrUnsupportedType, err)
	}
	return fmt.Errorf("binary serialization: %w", err)
}

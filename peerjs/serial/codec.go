package serial

import "fmt"

// ChunkMTU is PeerJS's chunkedMTU: the largest packed binary message sent
// as one frame, the largest piece of a chunked one, and (exclusive) the JSON
// size limit.
const ChunkMTU = 16300

// DefaultMaxMessageSize is the MaxMessageSize used when Options leaves it 0.
const DefaultMaxMessageSize = 8 << 20

// DefaultMaxPending is the MaxPending used when Options leaves it 0. PeerJS
// senders finish one chunked message before the next, so a handful in flight
// covers a burst of chat images.
const DefaultMaxPending = 8

// Frame is one RTCDataChannel message.
type Frame struct {
	Data []byte
	Text bool // true: a text (string) message; false: binary (ArrayBuffer)
}

// CloseRequest is the value a decoder returns for PeerJS's polite close
// {__peerData:{type:"close"}}.
type CloseRequest struct{}

// Codec is one DataConnection serialization. Its methods may be called
// concurrently.
type Codec interface {
	// Name is the serialization string as it appears in the OFFER.
	Name() string
	// Encode returns the frames to send for one value, in order (several for chunked binary).
	Encode(v any) ([]Frame, error)
	// EncodeClose returns the frames of the polite close message.
	EncodeClose() ([]Frame, error)
	// Decode takes one received frame. ok is true when a whole value is complete.
	Decode(f Frame) (v any, ok bool, err error)
}

// Options bound what a decoder accepts. The zero value gives the defaults.
type Options struct {
	// MaxMessageSize is the largest whole message accepted (reassembled
	// size for chunked binary; frame size otherwise); 0 means
	// DefaultMaxMessageSize.
	MaxMessageSize int
	// MaxPendingBytes bounds the bytes held by all half-received chunked
	// messages of one codec: piece data plus PieceOverhead per piece and
	// MessageOverhead per message. 0 means 2 * MaxMessageSize; any value is
	// raised to ChargeFor(MaxMessageSize), so that every message within the
	// limit can complete. When a piece would
	// exceed it, the oldest pending messages are dropped (ErrTooManyPending).
	MaxPendingBytes int
	// MaxPending is how many chunked messages may be reassembled at once;
	// 0 means DefaultMaxPending. When exceeded, the oldest is dropped and
	// Decode returns ErrTooManyPending wrapped (the new chunk is still
	// kept).
	MaxPending int
	// Shared, when not nil, is charged the same bytes as MaxPendingBytes
	// by every codec made with these Options, so that all connections
	// together stay under one bound; it should be at least
	// ChargeFor(MaxMessageSize). When it cannot fit a piece, that
	// piece's message is dropped and Decode returns ErrTooManyPending
	// wrapped (other connections' messages are not evicted: one
	// connection must not be able to push out another's). A codec holding
	// shared bytes must be released when its connection closes (see
	// Releaser), or those bytes stay charged for good.
	Shared *Budget
}

func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = satAdd(o.MaxMessageSize, o.MaxMessageSize)
	}
	if floor := ChargeFor(o.MaxMessageSize); o.MaxPendingBytes < floor {
		o.MaxPendingBytes = floor
	}
	return o
}

// New returns the codec for a serialization string from an OFFER:
// "binary", "binary-utf8" (the same as binary in PeerJS 1.5.4), "default"
// (binary), "json" or "raw".
func New(serialization string, o Options) (Codec, error) {
	o = o.withDefaults()
	switch serialization {
	case "binary", "binary-utf8", "default":
		return newBinary(serialization, o), nil
	case "json":
		return &jsonCodec{opts: o}, nil
	case "raw":
		return &rawCodec{opts: o}, nil
	}
	return nil, fmt.Errorf("%q: %w", serialization, ErrUnknownSerialization)
}

// checkSize enforces MaxMessageSize on one received frame.
func checkSize(f Frame, o Options) error {
	if len(f.Data) > o.MaxMessageSize {
		return fmt.Errorf("frame of %d bytes, limit %d: %w", len(f.Data), o.MaxMessageSize, ErrMessageTooBig)
	}
	return nil
}

// Reorderer is implemented by codecs that reassemble chunked messages: it
// counts pieces that arrived after a higher-numbered piece of the same
// message (PeerJS channels are unordered, so this happens on real networks).
type Reorderer interface {
	Reordered() uint64
}

// PackedEncoder is implemented by the binary codec: it frames a value
// already packed with binarypack.Pack, so a message sent to many
// connections is packed once (only the chunk ids differ per connection).
// The frames may share memory with b. The other codecs (json, raw) make
// frames from the value alone, so their frames of one value may be sent on
// every connection of that serialization (peerjs.Outgoing does).
type PackedEncoder interface {
	EncodePacked(b []byte) []Frame
}

// Releaser is implemented by codecs that hold received bytes between frames
// (the binary codec, for half-received chunked messages). The owner of the
// connection must call Release on the decoding codec when the connection
// closes: the pending pieces of a connection that goes away would otherwise
// stay charged to Options.Shared for the life of the process.
type Releaser interface {
	// Release drops every pending message and gives its bytes back to
	// the shared budget. It is idempotent; afterwards the codec refuses
	// chunk pieces (ErrReleased) but still decodes whole frames.
	Release()
	// Held is the bytes currently charged for pending messages (data and
	// overhead), the codec's share of Options.Shared.
	Held() int
}

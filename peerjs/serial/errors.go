package serial

import "errors"

// Errors returned (wrapped, with context) by New and the codecs.
var (
	// ErrUnknownSerialization: New was given a serialization PeerJS 1.5.4
	// does not have as a buffered DataConnection.
	ErrUnknownSerialization = errors.New("serial: unknown serialization")
	// ErrMessageTooBig: a received message (or a chunked message's
	// declared or accumulated size) exceeds Options.MaxMessageSize, or a
	// JSON encoding reaches ChunkMTU bytes ("message too big for JSON
	// channel", as PeerJS says).
	ErrMessageTooBig = errors.New("serial: message too big")
	// ErrMalformed: a frame that does not decode, or a chunk that breaks
	// the chunking rules (bad index, inconsistent total, duplicate piece,
	// chunk inside a reassembled message).
	ErrMalformed = errors.New("serial: malformed message")
	// ErrTooManyPending: more chunked messages were being reassembled than
	// Options.MaxPending allows; the oldest was dropped.
	ErrTooManyPending = errors.New("serial: too many chunked messages pending")
	// ErrReleased: a chunk piece arrived after Releaser.Release; it is not
	// kept, since nobody would release it again.
	ErrReleased = errors.New("serial: codec released")
	// ErrUnsupportedType: the value cannot be sent with this serialization.
	ErrUnsupportedType = errors.New("serial: unsupported type")
)

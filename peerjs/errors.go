package peerjs

import "errors"

// Sentinel errors of data connections.
var (
	// ErrPeerUnavailable: the server expired our offer; the remote peer is not registered.
	ErrPeerUnavailable = errors.New("peer unavailable")
	// ErrOpenTimeout: the connection did not open in time.
	ErrOpenTimeout = errors.New("connection did not open in time")
	// ErrClosed: the connection (or peer) is closed.
	ErrClosed = errors.New("connection closed")
	// ErrNotOpen: Send before the channel opened.
	ErrNotOpen = errors.New("connection not open yet")
	// ErrBufferFull: the channel holds more unsent data than PeerJS's 8 MiB backpressure mark.
	ErrBufferFull = errors.New("send buffer full")
	// ErrNegotiation: SDP or ICE handling failed.
	ErrNegotiation = errors.New("negotiation failed")
	// ErrRemoteLeft: the server says the remote peer left.
	ErrRemoteLeft = errors.New("remote peer left")
)

// ErrTooManyConns: an incoming connection was refused by a cap
// (Config.MaxConnsPerPeer, Config.MaxConns).
var ErrTooManyConns = errors.New("too many connections")

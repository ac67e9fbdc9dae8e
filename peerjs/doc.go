// Package peerjs is a Go peer that the PeerJS browser client (peerjs 1.5.4)
// and the PeerServer take for one of their own: it registers through package
// signaling, dials and accepts PeerJS data connections in every serialization
// PeerJS negotiates, and hands media OFFERs to whoever handles media. The
// wire it speaks is summarised in docs/protocol.md §3; the serializations
// are in package serial, BinaryPack in package binarypack.
//
// # What it owns
//
// A Peer is one PeerJS identity: its signaling.Client, the pion APIs for
// the connections it dials (upstream) and accepts (downstream), and every
// data connection (DataConn) and media connection (MediaConn) it has, by
// remote peer and PeerJS connection id. Peer.mu guards those maps and the
// admission counters that enforce Config.MaxConnsPerPeer and
// Config.MaxConns; an OFFER over a cap is refused before a PeerConnection
// is made. api.go holds every pion knob of the node (loopback candidates,
// our SCTP message size, ICE timers by direction, codecs, interceptors)
// behind one constructor per purpose: NewDataAPI, NewUpstreamMediaAPI (a
// parent's call) and NewDownstreamMediaAPI (a call to a child);
// DefaultICEServers are those of `new Peer()`.
//
// # How a connection and its messages flow
//
// One goroutine (Peer.run) reads the session's Incoming: a data OFFER is
// admitted and answered (accept), a media OFFER is passed to Config.OnCall
// as a MediaOffer, LEAVE closes everything with that peer, EXPIRE the
// connections to it still opening. Each connection negotiates on a goroutine
// of its own (its ANSWER and candidates come through a signaling.Route); an
// accepted connection is handed out by Accept once its channel is open, and
// Connect returns a dialed one once open. A connection closes when its data
// channel closes, ICE fails, the remote sends PeerJS's polite close, or it
// is closed here; Done and Err tell the owner.
//
// Received frames are decoded on pion's read goroutine (DataConn.onMessage)
// with the connection's serial.Codec, chunked messages reassembled within
// Config.Serial's bounds (the pending bytes shared by every connection), and
// each value is queued for Recv. The queue is bounded in values and bytes,
// per connection and for the whole peer; what does not fit is dropped and
// counted on that connection, never blocking the reader. Send and
// SendOutgoing encode (chunking binary above 16300 bytes) and refuse with
// ErrBufferFull above PeerJS's 8 MiB backpressure mark instead of waiting.
//
// Media: Answer and Call do PeerJS's signaling for a PeerConnection the
// caller built (package node, with the media constructors of api.go; package
// media binds its tracks to it); the MediaConn tracks its life.
package peerjs

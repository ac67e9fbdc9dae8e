// Package signaling is a client of the PeerServer (npm peer 1.0.2) as the
// PeerJS 1.5.4 browser client speaks to it: it obtains or claims a peer id,
// registers it over one WebSocket, keeps it registered, and carries the
// OFFER, ANSWER and CANDIDATE messages that set up WebRTC connections. It
// knows nothing of WebRTC or of the tree protocol (docs/protocol.md §3).
//
// # What it owns
//
// A Client is one session: the id and the token it was registered with
// (kept for life, so a reconnect re-attaches the same session), the
// WebSocket of the moment, the queue of messages for the server (bounded;
// it survives reconnects), and the routes that deliver relayed messages to
// the connection they belong to (by remote peer and PeerJS connection id).
// Server parses and prints the PeerJS client's host/port/path/key options;
// wire.go describes every message type and payload.
//
// # How a message flows
//
// Connect fetches an id if none was given, registers, and starts one
// goroutine (run) that owns the session: for each socket it runs a reader
// that dispatches frames and a writer that owns every write (queued
// messages, the 5 s HEARTBEAT, WebSocket pings that catch a half-open TCP
// connection). When the socket fails, run re-registers with the same id
// and token with capped exponential backoff; queued messages wait and go
// out after re-registration, and established WebRTC connections are never
// touched.
//
// Incoming frames go one of two ways: messages for a connection that has a
// Route (its ANSWER and CANDIDATEs) are delivered to that Route; the rest
// (a new OFFER, LEAVE, EXPIRE) come out of Incoming for the owner of the
// peer (package peerjs). Messages for a route that does not exist yet are
// kept briefly, so candidates that overtake their OFFER are not lost. The
// routes and that waiting room are guarded by Client.mu; a consumer that
// does not keep up loses messages, counted in Stats, and never blocks the
// reader.
//
// Errors the server gives (ID-TAKEN, a bad key) are *ServerError values
// matching ErrIDTaken, ErrInvalidKey and ErrServer; ErrUnreachable means
// the server could not be reached at all.
package signaling

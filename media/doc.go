// Package media forwards a parent's RTP to any number of children without
// decoding or re-encoding: one read loop per upstream track, one packet
// cache per track shared by every child, and per-child writers that drop
// instead of blocking. It knows nothing of the tree protocol; package node
// decides who is called and drives it.
//
// # What it owns
//
// A Source is the stream a node relays: at most one Track per kind (video,
// audio), fed by the parent's call or by a local Publisher (a clip, a
// test). It makes no PeerConnections and knows no pion settings: it binds
// to ones it is given, the parent's call's (BindUpstream) and each child's
// (Subscribe, for a PeerConnection built for exactly the codecs Codecs
// reports); package node builds them with peerjs's constructors.
// Source.mu guards the set of tracks and its generation: the generation
// moves on when a track appears or changes codec, and a child subscribed to
// an older generation needs a new call; a new upstream with the same codecs
// is spliced into the existing tracks (sequence numbers and timestamps
// continue), so children keep their calls. Changed and Ready tell the owner.
//
// A Track owns one output sequence-number and timestamp space, the ring of
// the last 1024 packets (answers to NACKs, the keyframe replay for a new
// child) and the children bound to it; Track.mu guards them. The upstream
// reader is the only writer of packets.
//
// A Subscriber is one child: a local track per relayed track on the child's
// PeerConnection, one bounded queue (DefaultQueue packets, all its tracks
// together) and one writer goroutine.
//
// # How a packet flows
//
//  1. readLoop (one goroutine per upstream track) reads a packet into a
//     pooled, reference-counted buffer, rewrites it into the track's output
//     space, notes keyframe starts (codec.go) and publishes it in the ring.
//  2. Publishing hands the same packet to every bound child's queue, without
//     copying; a full queue drops for that child alone (video up to the next
//     frame start), counted.
//  3. Each child's writer takes packets from its queue, sets the child's
//     SSRC and payload type, and writes them; the last reference returns the
//     buffer to the pool.
//
// Feedback goes the other way: a child's NACK is answered from the ring (at
// most 64 packets per NACK); PLI/FIR from children and new children are
// merged into at most one keyframe request upstream per track per
// DefaultKeyframeInterval. A new child starts at the cached keyframe when it
// is under a second old, else asks for a fresh one.
package media

// Package tree is the P2P-Live-web tree protocol (docs/protocol.md) as pure
// state machines: it decides, package node carries the decisions out. It
// does no I/O, starts no goroutine and reads no clock: the time comes with
// every event, so tests replay minutes of protocol without sleeping.
//
// # What it owns
//
// One machine per role, each holding all the protocol state of its node:
//
//   - Relay, an audience node (p2plive-node join): the parent link, the
//     guests and children with their reports, the last room map from
//     upstream, our own report, the messages held for the next parent.
//   - Host, a room's root (p2plive-node host): the children, the room map
//     built from their reports, the link to the index root, which child was
//     told "not live".
//   - Index, the index root (p2plive-node root): the room list and the
//     connection that hosts each room.
//
// Relay and Host are both a Machine (machine.go), so their owner drives
// them the same way, and both decide media calls with one policy (calls.go):
// the stream generation we can give, each peer's call and the generation it
// carries, who waits for the stream and why, who is due a re-call and its
// back-off.
//
// The rules they share live beside them: message layouts and the greeting
// copy (msg.go), report bounds and the cutting of our own report (bounds.go),
// the dedupe window (dedupe.go), token buckets (ratelimit.go), the upstream
// fair share (upstream.go), report pacing and the guest deadline (pace.go),
// and ChooseParent, where a relay that lost its parent re-joins (heal.go).
//
// A machine is not safe for concurrent use: one goroutine owns it. What its
// accessors return (Children, RoomMap, the Stats methods) is a copy or a
// value the machine never mutates later, so it may be kept.
//
// # How an event flows
//
// The owner turns what happens on the network into one method call each:
//
//   - an incoming connection opened: Opened (it is a guest until it
//     reports); the connection we dialed opened: ParentOpened (for a
//     Host, the index root);
//   - a decoded message arrived: Receive;
//   - a connection closed: Closed; our upstream closed: ParentClosed, or
//     ParentLost when it vanished;
//   - our stream appeared or changed: StreamChanged; a call we placed
//     started (CallStarted, with the generation it carries) or ended
//     (CallEnded);
//   - a link went up or down: LinkState (Index);
//   - the operator: SetName, Leave, and the host's Chat and SetRoomInfo;
//   - about every 250 ms: Tick (paced reports and room maps, the guest
//     deadline, re-calls, the index's unreachable hosts).
//
// The machine updates its own state and returns the Outputs (output.go) the
// owner must carry out, in order: Send a message to one or many
// connections (one shared Message: the owner encodes it once for all of
// them, and its BinaryPack bytes are the ones the loop guard hashed), Call
// a child with our stream (replacing its previous call) or HangUp,
// CloseConn, ParentNotice (our parent is
// leaving: move), UpstreamChanged, ChatReceived (the host's display), and
// Reject for every dropped message (count it; log it when First). A message
// the rules refuse produces a Reject and nothing else.
//
// Connections are named by ConnID, which the owner chooses; every piece of
// state is bound to it, never to an id found inside a message.
//
// # Tests
//
// The machines are table-tested without sockets (relay_test.go,
// host_test.go, index_test.go, heal_test.go, bounds_test.go) and fuzzed
// (fuzz_test.go). TestReplayCaptures feeds a Relay what the original
// generation A and C pages received (testdata/captures.json) and checks
// that it sends what they sent, except for the deliberate differences.
package tree

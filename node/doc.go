// Package node runs a p2plive-node: it owns the lifetimes (contexts and
// goroutines) of a running node, its PeerJS peer, its media source and
// calls, and it carries out what the tree machines decide. It is the only
// package that wires signaling, peerjs, media and tree together; cmd only
// fills a Config.
//
// # Roles
//
//   - StartJoin / RunJoin: a relay under a parent (tree.Relay), with healing
//     (parent.go) and a planned departure on Config.Drain.
//   - StartHost / RunHost: a headless room host (tree.Host) publishing a
//     local stream (the committed clip), registered with an index root.
//   - RunRoot: the index root (tree.Index), one peer and one loop per id.
//   - StartViewer: a leaf that only watches, for tests and the benchmark.
//
// # How an event flows (relay and host)
//
// One owner loop (relayNode.loop in relay.go) holds the tree machine, the
// map of open data connections and the media calls to children (mediaNode,
// media.go). Other goroutines never touch that state; they post events on
// one bounded channel (eventQueue):
//
//   - acceptLoop: a data connection a peer opened to us (evOpen), then one
//     reader goroutine per connection: each decoded value (evMsg), and the
//     close (evClosed);
//   - holdParent (parent.go): the connection to our parent, or to the index
//     root for a host, opened (evParentOpen) or closed or lost
//     (evParentClosed); it dials, re-joins after a loss and moves when the
//     parent announces its departure; it hears from the loop through the
//     move channel and reads the loop's state by posting a function to run
//     there (evQuery); the greeting it read from a new parent reaches the
//     loop as an ordinary evMsg right after evParentOpen;
//   - peerjs's OnCall callback: a media call offered to us (evCall);
//   - one goroutine per call to a child, waiting for its end (evCallEnded);
//   - watchMedia: the relayed stream appeared or changed (evMediaChanged).
//
// The loop calls the machine for each event and passes the returned
// tree.Outputs to apply, which executes them in order: Send (one message to
// the connections in its To list: one peerjs.Outgoing per Send, so the
// message is packed once, with the bytes the tree's loop guard hashed, and
// encoded once per other serialization), MediaRequest (mediaNode places the
// call, hanging up the previous one), CloseConn, ParentNotice (wake
// holdParent to move), Reject (counted by the machine, logged here when
// First). A ticker (watchEvery, 250 ms) drives the machine's Tick, the
// parent watch (link state and media silence decide a lost parent), the
// media watchdog and re-calls. Stats are read by asking the loop over a
// channel, so they are a consistent snapshot.
//
// Back-pressure stays per connection: when the event channel is full a
// reader blocks, and that connection's own receive queue in peerjs fills and
// drops (counted), not anyone else's.
//
// The index root (root.go) is the same shape with a tree.Index: acceptLoop
// and the readers post events, one loop per id owns the index.
package node

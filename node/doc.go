// Package node runs a p2plive-node: it owns the lifetimes (contexts and
// goroutines) of a running node, its PeerJS peer, its media source and
// calls, and it carries out what the tree machines decide. It is the only
// package that wires signaling, peerjs, media and tree together; cmd only
// fills a role's config (config.go: JoinConfig, HostConfig, RootConfig,
// ViewerConfig, each with Common), whose zero values are usable and whose
// Validate is the one place a value is checked.
//
// # Roles
//
// Every role runs as a *Node (run.go): ID, Wait, Done and Stats.
//
//   - StartJoin / RunJoin: a relay under a parent (tree.Relay), with healing
//     (upstream.go) and a planned departure on Common.Drain.
//   - StartHost / RunHost: a headless room host (tree.Host) publishing a
//     local stream (the committed clip), registered with an index root.
//   - StartRoot / RunRoot: the index root (tree.Index), one peer and one
//     loop per id (root.go).
//   - StartViewer: a leaf that only watches, for tests and the benchmark.
//
// # Who owns what (relay and host)
//
// One owner loop (treeNode.loop, loop.go) owns every field of treeNode:
// the tree.Machine, the open data connections, the parent connection, the
// counters, the parent watch (watch.go) and the media executor (mediaNode,
// media.go, with the upstream call and the calls to children). No other
// goroutine touches them; they post events (events.go, a closed set) on the
// node's inbox, one bounded channel:
//
//   - acceptConns (conns.go): a data connection a peer opened to us (evOpen),
//     then one reader per connection: each decoded value (evMsg), and the
//     close (evClosed). acceptConns waits for its readers before it returns;
//   - upstream (upstream.go), on its own goroutine with its own fields: the
//     connection to our parent, or to the index root for a host, opened
//     (evParentOpen, with the greeting already read from a moved-to parent)
//     or closed or lost (evParentClosed). It dials, re-joins after a loss
//     and moves when the parent announces its departure; it asks the loop
//     for the room map (evRoomMap) and hears from it only through the move
//     channel;
//   - peerjs's OnCall callback: a media call offered to us (evCall);
//   - one goroutine per call to a child, waiting for its end (evCallEnded);
//   - watchMedia: the relayed stream appeared or changed (evMediaChanged);
//   - Node.Stats: a snapshot, answered in the loop (evStats).
//
// The loop (handle) calls the machine for each event and passes the
// returned tree.Outputs to apply (exec.go), which executes them in order:
// Send (one message to the connections in its To list: one peerjs.Outgoing
// per Send, so the message is packed once, with the bytes the tree's loop
// guard hashed, and encoded once per other serialization), Call (mediaNode
// hangs up the child's previous call and places the new one; the machine
// hears CallStarted, or CallEnded when it could not be placed), HangUp,
// CloseConn, ParentNotice (wake the upstream to move), Reject (counted by
// the machine, logged here when First). A ticker (watchEvery, 250 ms) drives
// the machine's Tick (paced reports, guest deadlines, re-calls), the parent
// watch (link state and media silence decide a lost parent) and the media
// watchdog.
//
// startTreeNode (run.go) starts the loop and the goroutines beside it, and
// waits for all of them before the Node counts as stopped.
//
// Back-pressure stays per connection: when the inbox is full a reader
// blocks, and that connection's own receive queue in peerjs fills and drops
// (counted), not anyone else's.
//
// The index root (root.go) is the same shape with a tree.Index: acceptConns
// and the readers post events, one loop per id owns the index.
package node

// Package bench measures what a relay costs per child: the Go relay
// (`p2plive-node join`, a child process) against a browser relaying as the
// P2P-Live-web pages do (headless Chromium with testdata/web/tree.html),
// fed by the same source and read by the same Go children.
//
// One process runs the PeerServer, the source (a node.Host) and every child
// (node.Viewer); the relay runs alone in its own process (tree), so that
// its CPU time (/proc/PID/stat) and memory (VmRSS) are its own. Each row
// starts a fresh source and relay, waits until the relay streams, reads its
// idle memory, joins N children (a few at a time), lets them settle, and
// measures over a window: relay CPU, memory, loss, the one-hop latency
// (the source logs each packet's send time by sequence number; the Go
// relay forwards sequence numbers and payloads unchanged, so a child looks
// its packets up on the same clock), then times a late child's first
// complete keyframe. Report.WriteTable prints one table.
//
// Only cmd/p2plive-bench imports it: the relay daemon links neither this
// package nor internal/rig. scripts/bench builds both binaries and runs
// p2plive-bench in a loopback-only network namespace; the README has the
// table.
package bench

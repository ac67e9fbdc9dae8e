// Package tree is the P2P-Live-web tree protocol (message types 0–8, the room
// map, node reports) as a pure state machine: it takes decoded messages and
// ticks and returns what to send, with no I/O. Package node drives it.
package tree

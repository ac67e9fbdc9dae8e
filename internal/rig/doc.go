// Package rig starts the real components that tests and benchmarks run
// against, without package testing: the PeerJS signaling server (npm
// "peer"), a web server for our own test pages with the PeerJS browser
// client (npm "peerjs"), headless Chromium driven over the DevTools
// protocol, and child processes in their own process group that die with
// us.
//
// Every start is bounded in time and returns an error instead of hanging;
// a missing component (node, node_modules, chromium) is a *MissingError, so
// that tests can skip (internal/testrig) and the benchmark can say what to
// install. Every component has a Close or Kill that is safe to call twice.
package rig

// Package testrig starts real components for integration tests: the PeerJS
// signaling server (npm "peer"), a web server for our own test pages with
// the PeerJS browser client (npm "peerjs"), and headless Chromium driven
// over the DevTools protocol. The components themselves live in
// internal/rig (which the benchmark uses too); testrig ties them to a
// test.
//
// Every component is bounded in time and stopped by t.Cleanup. A missing
// component (node, node_modules, chromium) skips the test, or fails it
// when CI=true; see [Require]. scripts/test installs what is missing and
// runs the tests inside a private network namespace ([InNetns]).
package testrig

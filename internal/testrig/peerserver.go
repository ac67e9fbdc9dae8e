package testrig

import (
	"testing"

	"github.com/p2plive/p2plive-node/internal/rig"
)

// PeerServerConfig tunes the PeerServer (see rig.PeerServerConfig).
type PeerServerConfig = rig.PeerServerConfig

// PeerServer is a running PeerJS signaling server (rig.PeerServer) owned by
// a test.
type PeerServer struct {
	*rig.PeerServer
}

// StartPeerServer starts a PeerServer on a free port of 127.0.0.1 with path
// /p2ptest and key testkey, and waits (at most 10 s) until
// GET /p2ptest/testkey/id answers 200. t.Cleanup kills it.
func StartPeerServer(t testing.TB) *PeerServer {
	t.Helper()
	return StartPeerServerWith(t, PeerServerConfig{})
}

// StartPeerServerWith is StartPeerServer with timeouts or extra flags.
func StartPeerServerWith(t testing.TB, cfg PeerServerConfig) *PeerServer {
	t.Helper()
	s, err := rig.StartPeerServer(cfg)
	check(t, err)
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("testrig: PeerServer output:\n%s", s.Output())
		}
	})
	return &PeerServer{s}
}

// Restart starts the server again on the same port (after Kill, or kills it
// first). While the port is still busy it retries, bounded by 10 s.
func (s *PeerServer) Restart(t testing.TB) {
	t.Helper()
	if err := s.PeerServer.Restart(); err != nil {
		t.Fatalf("testrig: %v", err)
	}
}

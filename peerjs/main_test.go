package peerjs

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Peer and
// DataConn start goroutines per connection (negotiation, accept hand-off,
// close), and one that never ends is a leak per connection in a long-lived
// node.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

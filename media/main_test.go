package media

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (a
// subscriber's writer or RTCP reader, a source's read loop or settle timer).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

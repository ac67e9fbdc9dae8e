package node_test

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/p2plive/p2plive-node/internal/testrig"
)

// TestMain fails the package if a test leaves a goroutine behind (a node's
// loops, a call's watcher, a pending upstream-overlap timer).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitBound bounds every wait for an event in these tests. It is generous,
// far above what any machine needs, never the expected time: it only turns
// a hang into a failure.
const waitBound = 30 * time.Second

// waitFor polls cond every 20 ms until it holds, failing after waitBound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out (%v) waiting for %s", waitBound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pageWaitErr waits, in page p, for the JavaScript promise expression cond
// to resolve true (P.waitFor), bounded by waitBound.
func pageWaitErr(p *testrig.Page, cond string) error {
	old := p.Timeout
	p.Timeout = waitBound + 5*time.Second // the page's own bound fires first
	defer func() { p.Timeout = old }()
	return p.EvalErr(fmt.Sprintf("P.waitFor(%s, %d)", testrig.JSON(cond), waitBound.Milliseconds()), nil)
}

// pageWait is pageWaitErr failing the test.
func pageWait(t *testing.T, p *testrig.Page, cond string) {
	t.Helper()
	if err := pageWaitErr(p, cond); err != nil {
		t.Fatalf("page waiting for %s: %v\nconsole:\n%s", cond, err, p.Console())
	}
}

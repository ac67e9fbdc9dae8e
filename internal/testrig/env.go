package testrig

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Require stops the test when a component it needs is missing (err != nil).
// With CI=true the test fails loudly, since CI must run everything; else it
// is skipped with the reason.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("testrig: %s is missing (CI=true, so this is a failure; run scripts/test): %v", what, err)
	}
	t.Skipf("testrig: %s is missing, skipping (run scripts/test to install it): %v", what, err)
}

// InNetns reports whether the tests run inside the private network
// namespace that scripts/test creates (P2PLIVE_TEST_NETNS=1).
func InNetns() bool {
	return os.Getenv("P2PLIVE_TEST_NETNS") == "1"
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// findRepoRoot walks up from the working directory to the directory that
// holds go.mod.
func findRepoRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("no go.mod in the working directory or above")
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

// RepoRoot returns the directory of go.mod above the test's working
// directory. It fails the test when there is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := findRepoRoot()
	if err != nil {
		t.Fatalf("testrig: %v", err)
	}
	return dir
}

// requireFile stops the test (see Require) when path does not exist.
func requireFile(t testing.TB, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Require(t, what, fmt.Errorf("%s: %w (run npm ci, or scripts/test)", path, err))
	}
}

// JSON returns v as a JSON literal, to put Go values into JavaScript
// expressions: p.Eval(t, "T.start("+testrig.JSON(cfg)+")", &id).
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("testrig.JSON: %v", err))
	}
	return string(b)
}

// syncBuffer is a bytes buffer safe for concurrent writers, bounded so that
// a chatty process cannot eat the memory: it keeps the first half and the
// last half of max bytes.
type syncBuffer struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte
	dropped int
	max     int
}

func newSyncBuffer(max int) *syncBuffer { return &syncBuffer{max: max} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	half := b.max / 2
	if room := half - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	b.tail = append(b.tail, p...)
	if over := len(b.tail) - half; over > 0 {
		b.dropped += over
		b.tail = append(b.tail[:0], b.tail[over:]...)
	}
	return n, nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.head) + string(b.tail)
	}
	return fmt.Sprintf("%s\n[... %d bytes dropped ...]\n%s", b.head, b.dropped, b.tail)
}

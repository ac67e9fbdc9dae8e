package rig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// MissingError says that a component is not installed: node, an npm
// package, chromium, a file of the repository.
type MissingError struct {
	What string // e.g. "chromium", "npm package peer (node_modules)"
	Err  error
}

func (e *MissingError) Error() string { return "rig: " + e.What + " is missing: " + e.Err.Error() }
func (e *MissingError) Unwrap() error { return e.Err }

func missing(what string, err error) error { return &MissingError{What: what, Err: err} }

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the directory of go.mod at or above the working
// directory: where node_modules and testdata/web are.
func RepoRoot() (string, error) {
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
				rootErr = errors.New("rig: no go.mod in the working directory or above (run from the repository)")
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

// requireFile returns a *MissingError when path does not exist.
func requireFile(what, path string) error {
	if _, err := os.Stat(path); err != nil {
		return missing(what, fmt.Errorf("%s: %w (run npm ci, or scripts/test)", path, err))
	}
	return nil
}

// Buffer is a bytes buffer safe for concurrent writers, bounded so that a
// chatty process cannot eat the memory: it keeps the first half and the
// last half of max bytes.
type Buffer struct {
	mu      sync.Mutex // guards the fields below
	head    []byte
	tail    []byte
	dropped int
	max     int
}

// NewBuffer returns a Buffer that keeps at most max bytes.
func NewBuffer(max int) *Buffer { return &Buffer{max: max} }

func (b *Buffer) Write(p []byte) (int, error) {
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

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.head) + string(b.tail)
	}
	return fmt.Sprintf("%s\n[... %d bytes dropped ...]\n%s", b.head, b.dropped, b.tail)
}

// teeWriter writes to two buffers.
type teeWriter struct{ a, b *Buffer }

func (w *teeWriter) Write(p []byte) (int, error) {
	w.a.Write(p)
	return w.b.Write(p)
}

// Package clitest runs a command's binary in its tests: TestMain builds
// it, Run runs it, CheckUsageError checks how it refuses bad input.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary is a binary to build: the package Pkg (a path as go build takes
// it, relative to the test's directory) as the file Name.
type Binary struct{ Name, Pkg string }

// Main is a TestMain: it builds bins into a new temporary directory
// (pattern as os.MkdirTemp takes it), sets *binary to the path of the
// first, runs the tests, removes the directory and exits with the tests'
// code. A failed build exits 1.
func Main(m *testing.M, pattern string, binary *string, bins ...Binary) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		panic(err)
	}
	for _, b := range bins {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b.Name), b.Pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.Pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	*binary = filepath.Join(dir, bins[0].Name)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Result is how a run ended: its exit code and stderr.
type Result struct {
	Code   int
	Stderr string
}

// Run runs bin with args and env added to the environment, with a
// deadline of 30 s, and returns its exit code and stderr.
func Run(t *testing.T, bin string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return Result{code, stderr.String()}
}

// CheckUsageError: bad input gets exit 2 and exactly one line, which
// starts with "<name>: ", says what is wrong and contains every string
// of want.
func CheckUsageError(t *testing.T, r Result, name string, want ...string) {
	t.Helper()
	if r.Code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", r.Code, r.Stderr)
	}
	if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
		t.Errorf("want one line, got:\n%s", r.Stderr)
	}
	if !strings.HasPrefix(r.Stderr, name+": ") {
		t.Errorf("stderr %q: want the %s: prefix", r.Stderr, name)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr %q lacks %q", r.Stderr, w)
		}
	}
}

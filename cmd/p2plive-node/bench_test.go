package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/internal/testrig"
)

// TestBenchSmoke keeps `p2plive-node bench` working: the smallest run (the
// Go relay as a child process, one child, a 1 s window) must print the
// table with a row for it. Timing is not checked: CI machines vary.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PeerServer and a relay process")
	}
	_, err := exec.LookPath("node")
	testrig.Require(t, "node (Node.js)", err)
	script := filepath.Join(testrig.RepoRoot(t), "node_modules", "peer", "dist", "bin", "peerjs.js")
	_, err = os.Stat(script)
	testrig.Require(t, "npm package peer (node_modules)", err)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "--parts", "synthetic", "--n", "1",
		"--window", "1s", "--settle", "200ms")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("bench output:\n%s", out)
	if !strings.Contains(out, "µs/pkt") || !strings.Contains(out, "machine:") {
		t.Fatalf("no table in the output")
	}
	var row []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[0] == "go" && f[1] == "synthetic" {
			row = f
		}
	}
	if row == nil {
		t.Fatalf("no row for the Go relay")
	}
	if row[2] != "1" || row[3] != "1" {
		t.Errorf("row %q: want N 1 and 1 child joined", row)
	}
	if strings.Contains(out, "failed") {
		t.Errorf("a row failed")
	}
}

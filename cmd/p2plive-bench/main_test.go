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

	"github.com/p2plive/p2plive-node/internal/cli/clitest"
	"github.com/p2plive/p2plive-node/internal/testrig"
)

// binary is p2plive-bench, built beside a p2plive-node (its default
// relay), as scripts/bench builds them.
var binary string

func TestMain(m *testing.M) {
	clitest.Main(m, "p2plive-bench", &binary,
		clitest.Binary{Name: "p2plive-bench", Pkg: "."}, clitest.Binary{Name: "p2plive-node", Pkg: "../p2plive-node"})
}

var run = clitest.Run

// checkUsageError: bad input gets exit 2 and exactly one line, which
// says what is wrong and contains every string of want.
func checkUsageError(t *testing.T, r clitest.Result, want ...string) {
	t.Helper()
	clitest.CheckUsageError(t, r, "p2plive-bench", want...)
}

func TestCLIUsageErrors(t *testing.T) {
	checkUsageError(t, run(t, binary, nil, "extra"), `p2plive-bench: unexpected argument "extra"`)
	checkUsageError(t, run(t, binary, nil, "--bogus"), "unknown flag: --bogus")
	checkUsageError(t, run(t, binary, []string{"P2PLIVE_N=many"}), "P2PLIVE_N")

	// Without --relay-bin the relay is the p2plive-node beside the
	// binary; alone, the bench says so before it starts anything. The
	// direct and browser parts run no Go relay and need none.
	alone := filepath.Join(t.TempDir(), "p2plive-bench")
	exe, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	checkUsageError(t, run(t, alone, nil, "--parts", "synthetic"), "--relay-bin", "no p2plive-node next to")
	checkUsageError(t, run(t, alone, nil, "--parts", "heal", "--window", "0"), "--window")
}

// TestCLIBadFlagValues: each bad value, on the command line and as
// P2PLIVE_<FLAG>, is refused before the benchmark starts its PeerServer,
// with exit 2 and one line naming the flag (and the variable).
func TestCLIBadFlagValues(t *testing.T) {
	cases := []struct {
		flag, value string
		want        string
	}{
		{"parts", "", "empty list"},
		{"parts", "direct,bogus", `unknown part "bogus"`},
		{"n", "0", "want 1 to 1000"},
		{"n", "1001", "want 1 to 1000"},
		{"browser-n", "-1", "want 1 to 1000"},
		{"heal-runs", "0", "want 1 to 50"},
		{"heal-runs", "51", "want 1 to 50"},
		{"window", "0", "positive duration up to 2m0s"},
		{"window", "3m", "up to 2m0s"},
		{"settle", "0", "positive duration"},
		{"settle", "-1s", "positive duration"},
		{"join-parallel", "0", "at least 1"},
		{"video-bitrate", "0", "want 1 to 20000000"},
		{"video-bitrate", "20000001", "want 1 to 20000000"},
		{"relay-bin", "", "must not be empty"},
		{"log-level", "loud", "unrecognized level"},
	}
	for _, tc := range cases {
		name := "--" + tc.flag + "=" + tc.value
		t.Run(name, func(t *testing.T) {
			checkUsageError(t, run(t, binary, nil, name), "--"+tc.flag, tc.want)
		})
		env := "P2PLIVE_" + strings.ToUpper(strings.ReplaceAll(tc.flag, "-", "_"))
		t.Run(name+" (env)", func(t *testing.T) {
			checkUsageError(t, run(t, binary, []string{env + "=" + tc.value}), "--"+tc.flag, env, tc.want)
		})
	}
}

// TestBenchSmoke keeps p2plive-bench working: the smallest run (the Go
// relay as a child process, one child, a 1 s window) must print the table
// with a row for it, and the relay's CPU profile over the window must be
// written. Timing is not checked: CI machines vary.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PeerServer and a relay process")
	}
	_, err := exec.LookPath("node")
	testrig.Require(t, "node (Node.js)", err)
	script := filepath.Join(testrig.RepoRoot(t), "node_modules", "peer", "dist", "bin", "peerjs.js")
	_, err = os.Stat(script)
	testrig.Require(t, "npm package peer (node_modules)", err)

	prof := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--parts", "synthetic", "--n", "1",
		"--window", "1s", "--settle", "200ms", "--relay-cpuprofile", prof)
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
	if fi, err := os.Stat(filepath.Join(prof, "relay-synthetic-1.prof")); err != nil || fi.Size() == 0 {
		t.Errorf("relay CPU profile: %v (stderr:\n%s)", err, stderr.String())
	}
}

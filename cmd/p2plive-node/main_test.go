package main

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

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/signaling"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "p2plive-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "p2plive-node")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code   int
	stderr string
}

// run runs the binary with a deadline and returns its exit code and stderr.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
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
	return result{code, stderr.String()}
}

// lastLine is the line the user reads: the final error line.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestCLIUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"join", "--parent", "p", "--bogus"}, "unknown flag: --bogus"},
		{"no parent", nil, []string{"join"}, "--parent is required"},
		{"bad parent id", nil, []string{"join", "--parent", "a..b"}, "invalid id"},
		{"bad server", nil, []string{"join", "--parent", "p", "--server", "ftp://x"}, "--server"},
		{"bad id", nil, []string{"join", "--parent", "p", "--id", "-x"}, "--id"},
		{"bad ice", nil, []string{"join", "--parent", "p", "--ice", "http://x"}, "--ice"},
		{"bad log level", nil, []string{"join", "--parent", "p", "--log-level", "loud"}, "--log-level"},
		{"bad env", []string{"P2PLIVE_LOG_FORMAT=xml"}, []string{"join", "--parent", "p"}, "--log-format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, tc.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
				t.Errorf("want one line, got:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
			}
		})
	}
}

func TestCLIUnreachableServer(t *testing.T) {
	// Port 1 on loopback refuses at once.
	r := run(t, nil, "join", "--parent", "p", "--server", "http://127.0.0.1:1/", "--ice", "none", "--log-format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if l := lastLine(r.stderr); !strings.HasPrefix(l, "p2plive-node: ") || !strings.Contains(l, "server unreachable") {
		t.Fatalf("last line %q", l)
	}
}

func TestCLIVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "p2plive-node ") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// TestCLIIDTaken: a fixed --id that is already registered on the real
// PeerServer gives a clear error and exit code 3. The flags come from the
// environment, which also checks P2PLIVE_<FLAG>.
func TestCLIIDTaken(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	srv := signaling.Server{Host: ps.Host, Port: ps.Port, Path: ps.Path, Key: ps.Key}
	holder, err := signaling.Connect(context.Background(), signaling.Config{Server: srv, ID: "taken-id"})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	env := []string{"P2PLIVE_SERVER=" + ps.URL(), "P2PLIVE_KEY=" + ps.Key, "P2PLIVE_ID=taken-id", "P2PLIVE_ICE=none"}
	r := run(t, env, "join", "--parent", "someone")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3; stderr:\n%s", r.code, r.stderr)
	}
	if l := lastLine(r.stderr); !strings.Contains(l, "id is taken") || !strings.Contains(l, "ID is taken") {
		t.Fatalf("last line %q", l)
	}
	// A wrong key is refused clearly too.
	r = run(t, []string{"P2PLIVE_SERVER=" + ps.URL(), "P2PLIVE_ICE=none"}, "join", "--parent", "someone", "--key", "wrong")
	if r.code != 1 || !strings.Contains(lastLine(r.stderr), "invalid key") {
		t.Fatalf("wrong key: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/p2plive/p2plive-node/internal/cli/clitest"
	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/signaling"
)

var binary string

func TestMain(m *testing.M) {
	clitest.Main(m, "p2plive-cli", &binary, clitest.Binary{Name: "p2plive-node", Pkg: "."})
}

type result = clitest.Result

// run runs the binary with a deadline and returns its exit code and stderr.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return clitest.Run(t, binary, env, args...)
}

// lastLine is the line the user reads: the final error line.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// checkUsageError: bad input gets exit 2 and exactly one line, which
// says what is wrong and contains every string of want.
func checkUsageError(t *testing.T, r result, want ...string) {
	t.Helper()
	clitest.CheckUsageError(t, r, "p2plive-node", want...)
}

// TestCLIUsageErrors: input that is not about one flag's value.
func TestCLIUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"join", "--parent", "p", "--bogus"}, "unknown flag: --bogus"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown command with flags", nil, []string{"frobnicate", "--ice", "none"}, `unknown command "frobnicate"`},
		{"stray argument to join", nil, []string{"join", "--parent", "p", "extra"}, `join: unexpected argument "extra"`},
		{"stray argument to host", nil, []string{"host", "extra"}, `host: unexpected argument "extra"`},
		{"stray argument to root", nil, []string{"root", "extra"}, `root: unexpected argument "extra"`},
		{"stray argument to version", nil, []string{"version", "extra"}, `version: unexpected argument "extra"`},
		{"no parent", nil, []string{"join"}, "--parent is required"},
		{"root and parent", nil, []string{"join", "--root", "--parent", "p"}, "exclude each other"},
		{"bad env syntax", []string{"P2PLIVE_MAX_CHILDREN=many"}, []string{"join", "--parent", "p"}, "P2PLIVE_MAX_CHILDREN"},
		{"bad flag syntax", nil, []string{"join", "--parent", "p", "--max-children", "many"}, "--max-children"},
		{"bad env duration", []string{"P2PLIVE_DRAIN_TIMEOUT=soon"}, []string{"join", "--parent", "p"}, "--drain-timeout"},
		// The benchmark is cmd/p2plive-bench, and a relay's CPU profile
		// comes from --debug-addr.
		{"no bench command", nil, []string{"bench"}, `unknown command "bench"`},
		{"no cpuprofile flag", nil, []string{"join", "--parent", "p", "--cpuprofile", "x"}, "unknown flag: --cpuprofile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkUsageError(t, run(t, tc.env, tc.args...), tc.want)
		})
	}
}

// TestCLIBadFlagValues: every flag's bad values, each given on the command
// line and as P2PLIVE_<FLAG>, is refused before anything connects with
// exit 2 and one line that names the flag (and the variable, if that is
// where the value came from).
func TestCLIBadFlagValues(t *testing.T) {
	join := []string{"join", "--parent", "p"}
	host := []string{"host"}
	root := []string{"root"}
	cases := []struct {
		cmd         []string
		flag, value string
		want        string
	}{
		// Common flags (every networked command).
		{join, "server", "", "--server"},
		{join, "server", "ftp://x", "scheme"},
		{join, "key", "", "must not be empty"},
		{host, "key", "", "must not be empty"},
		{root, "key", "", "must not be empty"},
		{join, "id", "-x", "invalid id"},
		{join, "ice", "", "empty list"},
		{join, "ice", "stun:127.0.0.1:3478,,stun:127.0.0.1:3479", "empty element"},
		{join, "ice", "http://x", "unknown scheme"},
		{join, "ice", "turn:127.0.0.1:3478", "TURN needs credentials"},
		{join, "ice", "turns:127.0.0.1:5349", "TURN needs credentials"},
		{join, "ice", "turn:user@127.0.0.1:3478", "user:pass@"},
		{join, "ice", "turn::pass@127.0.0.1:3478", "user:pass@"},
		{join, "ice", "turn:user:@127.0.0.1:3478", "user:pass@"},
		{join, "ice", "none,stun:127.0.0.1:3478", `"none" must be the only entry`},
		{root, "ice", "turn:127.0.0.1:3478", "TURN needs credentials"},
		{join, "log-level", "loud", "unrecognized level"},
		{join, "log-format", "xml", "want console, json or auto"},
		{join, "max-message-size", "65535", "want 65536 (64 KiB) to 67108864 (64 MiB)"},
		{join, "max-message-size", "67108865", "want 65536 (64 KiB) to 67108864 (64 MiB)"},
		{join, "max-message-size", "-1", "want 65536"},
		{host, "max-message-size", "1000000000", "64 MiB"},
		{root, "max-message-size", "0", "64 KiB"},
		{join, "max-pending-bytes", "6291455", "at least 2 × --max-message-size = 6291456"},
		{join, "max-pending-bytes", "0", "at least 2 × --max-message-size"},
		{join, "max-pending-bytes", "-1", "at least 2 × --max-message-size"},
		{join, "max-conns-per-peer", "0", "at least 1"},
		{join, "max-conns-per-peer", "-1", "at least 1"},
		{join, "max-conns", "0", "at least 1"},
		{host, "max-conns", "-5", "at least 1"},
		{join, "debug-addr", "nonsense", "--debug-addr"},
		// join.
		{[]string{"join"}, "parent", "a..b", "invalid id"},
		{join, "greeting", "x", "want ab or c"},
		{join, "drain-timeout", "-1s", "positive duration"},
		{join, "drain-timeout", "0", "positive duration"},
		{join, "media-timeout", "-1s", "must not be negative (0 disables"},
		// Relay flags, on join and host alike.
		{join, "max-children", "-3", "must not be negative"},
		{host, "max-children", "-3", "must not be negative"},
		{join, "rate-limit", "NaN", "finite"},
		{join, "rate-limit", "Inf", "finite"},
		{join, "rate-limit", "-Inf", "finite"},
		{join, "rate-limit", "0", "above 0"},
		{join, "rate-limit", "-1", "above 0"},
		{host, "rate-limit", "NaN", "finite"},
		{host, "rate-limit", "0", "above 0"},
		{join, "rate-burst", "0", "at least 1"},
		{join, "rate-burst", "-1", "at least 1"},
		{host, "rate-burst", "0", "at least 1"},
		{join, "max-report-nodes", "0", "at least 1"},
		{host, "max-report-nodes", "-1", "at least 1"},
		{join, "max-report-depth", "0", "at least 1"},
		{host, "max-report-depth", "-1", "at least 1"},
		{join, "max-report-bytes", "0", "at least 1"},
		{host, "max-report-bytes", "-1", "at least 1"},
		{join, "guest-timeout", "0", "positive duration"},
		{host, "guest-timeout", "-1s", "positive duration"},
		// host.
		{host, "index", "", "use --unlisted"},
		{host, "index", "a..b", "invalid id"},
		// root (and join --root).
		{root, "id", "", "invalid id"},
		{root, "id", "a..b", "invalid id"},
		{root, "room-timeout", "0", "positive duration"},
		{root, "room-timeout", "-1s", "positive duration"},
		{root, "max-clients", "0", "at least 1"},
		{root, "max-clients", "-1", "at least 1"},
		{[]string{"join", "--root"}, "max-clients", "0", "at least 1"},
		{[]string{"join", "--root"}, "room-timeout", "-1s", "positive duration"},
	}
	// Should a bad value slip through, the node fails fast on a refused
	// port (exit 1) instead of reaching out to the public PeerServer; a
	// case's own P2PLIVE_SERVER comes later and wins.
	base := []string{"P2PLIVE_SERVER=http://127.0.0.1:1/"}
	for _, tc := range cases {
		name := strings.Join(tc.cmd[:1], " ") + " --" + tc.flag + "=" + tc.value
		t.Run(name, func(t *testing.T) {
			args := append(append([]string(nil), tc.cmd...), "--"+tc.flag+"="+tc.value)
			checkUsageError(t, run(t, base, args...), "--"+tc.flag, tc.want)
		})
		env := envPrefixForTest + strings.ToUpper(strings.ReplaceAll(tc.flag, "-", "_"))
		t.Run(name+" (env)", func(t *testing.T) {
			checkUsageError(t, run(t, append(base, env+"="+tc.value), tc.cmd...), "--"+tc.flag, env, tc.want)
		})
	}
}

// envPrefixForTest is envPrefix, spelled out so that a change of the
// documented prefix breaks this test.
const envPrefixForTest = "P2PLIVE_"

// TestCLIGoodFlagValues: values at the edges of what is allowed pass
// validation; the node then fails to reach the server (port 1 on loopback
// refuses at once), exit 1, which proves the flags were accepted.
func TestCLIGoodFlagValues(t *testing.T) {
	unreachable := []string{"--server", "http://127.0.0.1:1/", "--log-format", "json"}
	cases := []struct {
		name string
		env  []string
		args []string
	}{
		{"join at the lower bounds", nil, []string{"join", "--parent", "p", "--ice", "none",
			"--max-message-size", "65536", "--max-pending-bytes", "131072", "--max-conns-per-peer", "1", "--max-conns", "1",
			"--max-children", "0", "--rate-limit", "0.5", "--rate-burst", "1",
			"--max-report-nodes", "1", "--max-report-depth", "1", "--max-report-bytes", "1", "--guest-timeout", "1ms",
			"--drain-timeout", "1ms", "--media-timeout", "0"}},
		{"join at the upper message size", nil, []string{"join", "--parent", "p", "--ice", "none", "--max-message-size", "67108864"}},
		{"join with TURN credentials", nil, []string{"join", "--parent", "p", "--ice", "stun:127.0.0.1:3478,turn:u:p@127.0.0.1:3478,turns:u:p@127.0.0.1:5349"}},
		{"join from the environment", []string{"P2PLIVE_ICE=none", "P2PLIVE_RATE_LIMIT=1e3", "P2PLIVE_RATE_BURST=1",
			"P2PLIVE_MAX_PENDING_BYTES=1000000000", "P2PLIVE_MAX_CONNS=5", "P2PLIVE_GUEST_TIMEOUT=1m", "P2PLIVE_MEDIA_TIMEOUT=0s"},
			[]string{"join", "--parent", "p"}},
		{"host", nil, []string{"host", "--ice", "none", "--max-children", "2", "--rate-limit", "10", "--rate-burst", "10",
			"--max-report-nodes", "10", "--max-report-depth", "3", "--max-report-bytes", "1024", "--guest-timeout", "5s"}},
		{"host unlisted with an empty index", nil, []string{"host", "--ice", "none", "--unlisted", "--index", ""}},
		{"root", nil, []string{"root", "--ice", "none", "--max-clients", "1", "--room-timeout", "1ms"}},
		{"join --root from the environment", []string{"P2PLIVE_ICE=none", "P2PLIVE_MAX_CLIENTS=3"}, []string{"join", "--root"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, append(tc.args, unreachable...)...)
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", r.Code, r.Stderr)
			}
			if l := lastLine(r.Stderr); !strings.Contains(l, "server unreachable") {
				t.Fatalf("last line %q: want server unreachable", l)
			}
		})
	}
}

// TestNoTestRigInTheDaemon: the daemon links neither the benchmark nor
// the test rig that drives Chromium (cmd/p2plive-bench does).
func TestNoTestRigInTheDaemon(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "chromedp") || strings.HasSuffix(pkg, "/internal/rig") || strings.HasSuffix(pkg, "/internal/bench") {
			t.Errorf("p2plive-node depends on %s", pkg)
		}
	}
}

func TestCLIUnreachableServer(t *testing.T) {
	// Port 1 on loopback refuses at once.
	r := run(t, nil, "join", "--parent", "p", "--server", "http://127.0.0.1:1/", "--ice", "none", "--log-format", "json")
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.Code, r.Stderr)
	}
	if l := lastLine(r.Stderr); !strings.HasPrefix(l, "p2plive-node: ") || !strings.Contains(l, "server unreachable") {
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
	if r.Code != 3 {
		t.Fatalf("exit %d, want 3; stderr:\n%s", r.Code, r.Stderr)
	}
	if l := lastLine(r.Stderr); !strings.Contains(l, "id is taken") || !strings.Contains(l, "ID is taken") {
		t.Fatalf("last line %q", l)
	}
	// A wrong key is refused clearly too.
	r = run(t, []string{"P2PLIVE_SERVER=" + ps.URL(), "P2PLIVE_ICE=none"}, "join", "--parent", "someone", "--key", "wrong")
	if r.Code != 1 || !strings.Contains(lastLine(r.Stderr), "invalid key") {
		t.Fatalf("wrong key: exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
}

package node_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/node"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// cli builds the p2plive-node binary once per test process.
func cli(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "p2plive-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "p2plive-node")
		out, err := exec.Command("go", "build", "-o", cliPath, filepath.Join(testrig.RepoRoot(t), "cmd", "p2plive-node")).CombinedOutput()
		if err != nil {
			cliErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// relayProcess runs `p2plive-node join` as its own process (so that it can
// be killed like a real one) and returns it with its peer id.
type relayProcess struct {
	cmd    *exec.Cmd
	id     string
	done   chan error    // its exit status, once
	exited chan struct{} // closed once it has exited

	mu    sync.Mutex
	lines []string // its log so far
}

// logged reports whether the relay has logged a line containing all of subs.
func (rp *relayProcess) logged(subs ...string) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
next:
	for _, l := range rp.lines {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		return true
	}
	return false
}

// waitLogged waits for the relay to log a line containing all of subs.
func (rp *relayProcess) waitLogged(t *testing.T, subs ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("relay A to log %q", subs), func() bool { return rp.logged(subs...) })
}

func startRelayProcess(t *testing.T, ps *testrig.PeerServer, parent string, extra ...string) *relayProcess {
	t.Helper()
	id := fmt.Sprintf("relayA-%d", time.Now().UnixNano()%1e9)
	args := append([]string{"join", "--parent", parent, "--id", id, "--name", "relay A",
		"--server", fmt.Sprintf("http://%s:%d%s", ps.Host, ps.Port, ps.Path), "--key", ps.Key,
		"--ice", "none", "--log-format", "console", "--log-level", "info"}, extra...)
	cmd := exec.Command(cli(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rp := &relayProcess{cmd: cmd, id: id, done: make(chan error, 1), exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			rp.mu.Lock()
			rp.lines = append(rp.lines, line)
			rp.mu.Unlock()
			if strings.Contains(line, "node registered") {
				once.Do(func() { close(ready) })
			}
			t.Log("relay A: " + line)
		}
		rp.done <- cmd.Wait()
		close(rp.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-rp.exited:
		case <-time.After(waitBound):
			t.Errorf("relay A still running %v after SIGKILL", waitBound)
		}
	})
	select {
	case <-ready:
	case err := <-rp.done:
		t.Fatalf("relay A exited before registering: %v", err)
	case <-time.After(waitBound):
		t.Fatalf("relay A did not register in %v", waitBound)
	}
	return rp
}

// watchDecoding samples a page's framesDecoded every 50 ms until stop and
// returns the longest time it did not move (logged, never asserted: it
// measures the machine as much as the relay). started is closed after the
// first sample.
func watchDecoding(t *testing.T, p *testrig.Page, started chan<- struct{}, stop <-chan struct{}) (gap time.Duration, calls int) {
	last, lastAt := -1, time.Now()
	for {
		select {
		case <-stop:
			return gap, calls
		default:
		}
		v := testrig.TreeVideoOf(t, p)
		now := time.Now()
		calls = v.Calls
		if v.FramesDecoded != last {
			if last >= 0 && now.Sub(lastAt) > gap {
				gap = now.Sub(lastAt)
			}
			if last < 0 && started != nil {
				close(started)
			}
			last, lastAt = v.FramesDecoded, now
		}
		time.Sleep(50 * time.Millisecond) // a sampling period, not a wait for an event
	}
}

// watch starts watchDecoding on p and returns once it has its first
// sample; finish stops it and returns its result (also run at cleanup, so
// that a failing test does not leave it sampling a closed page).
func watch(t *testing.T, p *testrig.Page) (finish func() (gap time.Duration, calls int)) {
	stop, started, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var gap time.Duration
	var calls int
	go func() { defer close(done); gap, calls = watchDecoding(t, p, started, stop) }()
	var once sync.Once
	finish = func() (time.Duration, int) {
		once.Do(func() { close(stop) })
		<-done
		return gap, calls
	}
	t.Cleanup(func() { finish() })
	select {
	case <-started:
	case <-done:
	}
	return finish
}

// waitDecoded waits until page p has decoded more than n frames.
func waitDecoded(t *testing.T, p *testrig.Page, n int) testrig.TreeVideo {
	t.Helper()
	var v testrig.TreeVideo
	waitFor(t, fmt.Sprintf("more than %d frames decoded", n), func() bool {
		v = testrig.TreeVideoOf(t, p)
		return v.FramesDecoded > n
	})
	return v
}

// TestHealChromium: host page → relay A (a process) → relay B (Go) →
// audience page. A crashes (kill -9) or leaves (SIGTERM): B re-attaches to
// the host and the page keeps decoding on the call it already has.
func TestHealChromium(t *testing.T) {
	for _, mode := range []string{"crash", "sigterm"} {
		t.Run(mode, func(t *testing.T) {
			e := newBrowserEnv(t)
			host, hid := e.page(t, "Host", map[string]any{"name": "Host", "title": "Heal room", "stream": true})
			a := startRelayProcess(t, e.ps, hid, "--drain-timeout", "5s")
			waitChild(t, host, a.id)
			b := startRelay(t, e.ps, a.id, node.JoinConfig{Name: "relay B"})
			aud, _ := e.page(t, "Audience", map[string]any{"parent": b.ID(), "name": "viewer"})
			checkDecoding(t, "viewer", host, aud, b.ID())

			finish := watch(t, aud)
			t0 := time.Now()
			switch mode {
			case "crash":
				_ = a.cmd.Process.Signal(syscall.SIGKILL)
			case "sigterm":
				_ = a.cmd.Process.Signal(syscall.SIGTERM)
			}
			// Chat typed at the page during the swap reaches the host
			// exactly once. After a crash it must be typed after A's last
			// media packets reached B: B re-sends what it forwarded after
			// its parent's last sign of life, and a chat forwarded before
			// A's last in-flight packet counts as delivered. So wait until
			// B's upstream packet count has stood still for a while (A is
			// dead: nothing more comes); typed later than that, after B
			// noticed, it still must arrive once.
			if mode == "crash" {
				waitUpstreamQuiet(t, b, 500*time.Millisecond)
			}
			text := "typed during the swap (" + mode + ")"
			aud.Eval(t, "P.chat("+testrig.JSON(text)+")", nil)
			// B is under the host again.
			waitChild(t, host, b.ID())
			attached := time.Since(t0)
			if got := chatsWith(t, aud, host, text); len(got) != 1 {
				t.Errorf("the host got the chat typed during the swap %d times, want once: %+v", len(got), got)
			}
			if mode == "sigterm" {
				select {
				case err := <-a.done:
					if err != nil {
						t.Errorf("relay A exited with %v after SIGTERM, want 0", err)
					}
					t.Logf("relay A exited 0 %v after SIGTERM", time.Since(t0).Round(time.Millisecond))
				case <-time.After(waitBound):
					t.Errorf("relay A still running %v after SIGTERM (grace 5 s)", waitBound)
				}
			}
			// Let the page decode a while on the spliced stream: 75 frames,
			// 3 s of the host's camera.
			before := testrig.TreeVideoOf(t, aud).FramesDecoded
			waitDecoded(t, aud, before+75)
			gap, _ := finish()
			v := testrig.TreeVideoOf(t, aud)
			t.Logf("%s: B under the host %v after the signal; longest stall at the page %v; page %s",
				mode, attached.Round(time.Millisecond), gap.Round(time.Millisecond), v)
			if v.Calls != 1 {
				t.Errorf("the page received %d calls, want 1 (it must not need a new call)", v.Calls)
			}
			// And it keeps decoding (waitDecoded fails if it stopped).
			waitDecoded(t, aud, v.FramesDecoded+5)
			if st, ok := b.Stats(); ok {
				t.Logf("relay B: parent %s, upstream calls %d, tracks %+v", st.Parent, st.Media.UpCalls, st.Media.Tracks)
			}
		})
	}
}

// waitUpstreamQuiet waits until relay n's upstream tracks have received no
// packet for quiet (measured between polls of its stats), or n has already
// noticed the loss of its parent (its new parent's packets then flow).
func waitUpstreamQuiet(t *testing.T, n *node.Node, quiet time.Duration) {
	t.Helper()
	poll := func() (packets, losses uint64) {
		st, _ := n.Stats()
		for _, tr := range st.Media.Tracks {
			packets += tr.Packets
		}
		return packets, st.ParentLosses
	}
	last, lost0 := poll()
	since := time.Now()
	waitFor(t, "the relay's upstream packets to stop", func() bool {
		p, lost := poll()
		if lost > lost0 {
			return true
		}
		if p != last {
			last, since = p, time.Now()
		}
		return time.Since(since) >= quiet
	})
}

// TestDrainSignals: the first SIGTERM starts a planned departure that waits
// for children (here a viewer that never moves, so until --drain-timeout);
// a second SIGTERM exits at once.
func TestDrainSignals(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := node.HostConfig{Common: node.Common{Server: server(ps), ICEServers: []webrtc.ICEServer{}, Logger: testrig.Logger(t).Named("host")},
		Title: "drain"}
	h, err := node.StartHost(ctx, hc)
	if err != nil {
		t.Fatal(err)
	}
	a := startRelayProcess(t, ps, h.ID(), "--drain-timeout", "30s")
	vc := node.ViewerConfig{Common: node.Common{Server: server(ps), ICEServers: []webrtc.ICEServer{}, Logger: testrig.Logger(t).Named("viewer")},
		Parent: a.id, Name: "stubborn"}
	// Relay A may not accept children before it has a parent: retry until
	// it does (bounded, generously).
	var v *node.Viewer
	deadline := time.Now().Add(waitBound)
	for {
		if v, err = node.StartViewer(ctx, vc); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("viewer cannot join relay A: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The viewer is A's child once A reports it to the host.
	waitStats(t, h, "the viewer under relay A in the host's tree", func(st node.Stats) bool {
		for _, c := range st.Children {
			if c.ID != a.id {
				continue
			}
			for _, g := range c.Report.Children() {
				if g.ID == v.ID() {
					return true
				}
			}
		}
		return false
	})
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	// The first signal starts the departure with the child attached...
	a.waitLogged(t, "leaving: telling children", `"children": 1`)
	// ...and a second one stops the relay at once: it exits through
	// "node stopping", never through "left" (a departure that ended by
	// itself, which with a child that never moves takes --drain-timeout).
	// The relay may not have exited before the second signal: then it
	// would have logged "left" first.
	t0 := time.Now()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		t.Logf("second signal: exited after %v (%v)", time.Since(t0).Round(time.Millisecond), err)
	case <-time.After(waitBound):
		t.Fatalf("relay still running %v after the second signal", waitBound)
	}
	if a.logged("left", "children_remaining") {
		t.Errorf("relay A ended its departure by itself with a child attached (30 s drain timeout)")
	}
	if !a.logged("node stopping") {
		t.Errorf("relay A did not stop on the second signal")
	}
}

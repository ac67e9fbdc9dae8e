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
	cmd  *exec.Cmd
	id   string
	done chan error
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
	rp := &relayProcess{cmd: cmd, id: id, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "node registered") {
				once.Do(func() { close(ready) })
			}
			t.Log("relay A: " + line)
		}
		rp.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-rp.done:
		case <-time.After(5 * time.Second):
		}
	})
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("relay A did not register in 15 s")
	}
	return rp
}

// watchDecoding samples a page's framesDecoded every 50 ms until stop and
// returns the longest time it did not move.
func watchDecoding(t *testing.T, p *testrig.Page, stop <-chan struct{}) (gap time.Duration, calls int) {
	last, lastAt := -1, time.Now()
	for i := 0; i < 2000; i++ {
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
			last, lastAt = v.FramesDecoded, now
		}
		time.Sleep(50 * time.Millisecond)
	}
	return gap, calls
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
			b := startRelay(t, e.ps, a.id, node.RelayConfig{Name: "relay B"})
			aud, _ := e.page(t, "Audience", map[string]any{"parent": b.ID(), "name": "viewer"})
			checkDecoding(t, "viewer", host, aud, b.ID())

			stop := make(chan struct{})
			type result struct {
				gap   time.Duration
				calls int
			}
			res := make(chan result, 1)
			go func() { g, c := watchDecoding(t, aud, stop); res <- result{g, c} }()
			time.Sleep(500 * time.Millisecond)
			t0 := time.Now()
			switch mode {
			case "crash":
				_ = a.cmd.Process.Signal(syscall.SIGKILL)
			case "sigterm":
				_ = a.cmd.Process.Signal(syscall.SIGTERM)
			}
			// Chat typed at the page during the swap (B has not noticed a
			// crash yet) reaches the host exactly once.
			time.Sleep(300 * time.Millisecond)
			text := "typed during the swap (" + mode + ")"
			aud.Eval(t, "P.chat("+testrig.JSON(text)+")", nil)
			// B is under the host again.
			waitChild(t, host, b.ID())
			attached := time.Since(t0)
			if got := chatsWith(t, host, text); len(got) != 1 {
				t.Errorf("the host got the chat typed during the swap %d times, want once: %+v", len(got), got)
			}
			if mode == "sigterm" {
				select {
				case err := <-a.done:
					if err != nil {
						t.Errorf("relay A exited with %v after SIGTERM, want 0", err)
					}
					t.Logf("relay A exited 0 %v after SIGTERM", time.Since(t0).Round(time.Millisecond))
				case <-time.After(8 * time.Second):
					t.Errorf("relay A still running 8 s after SIGTERM (grace 5 s)")
				}
			}
			// Let the page decode a while on the spliced stream.
			time.Sleep(3 * time.Second)
			close(stop)
			r := <-res
			v := testrig.TreeVideoOf(t, aud)
			t.Logf("%s: B under the host %v after the signal; longest stall at the page %v; page %s",
				mode, attached.Round(time.Millisecond), r.gap.Round(time.Millisecond), v)
			if v.Calls != 1 {
				t.Errorf("the page received %d calls, want 1 (it must not need a new call)", v.Calls)
			}
			before := v.FramesDecoded
			time.Sleep(time.Second)
			if after := testrig.TreeVideoOf(t, aud).FramesDecoded; after <= before+5 {
				t.Fatalf("the page stopped decoding after the swap: %d → %d", before, after)
			}
			if st, ok := b.Stats(); ok {
				t.Logf("relay B: parent %s, upstream calls %d, tracks %+v", st.Parent, st.Media.UpCalls, st.Media.Tracks)
			}
		})
	}
}

// TestDrainSignals: the first SIGTERM starts a planned departure that waits
// for children (here a viewer that never moves, so until --drain-timeout);
// a second SIGTERM exits at once.
func TestDrainSignals(t *testing.T) {
	ps := testrig.StartPeerServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := node.Config{Server: server(ps), ICEServers: []webrtc.ICEServer{}, Logger: testrig.Logger(t).Named("host"),
		Host: node.HostConfig{Title: "drain"}}
	h, err := node.StartHost(ctx, hc)
	if err != nil {
		t.Fatal(err)
	}
	a := startRelayProcess(t, ps, h.ID(), "--drain-timeout", "30s")
	vc := node.Config{Server: server(ps), ICEServers: []webrtc.ICEServer{}, Parent: a.id, Logger: testrig.Logger(t).Named("viewer")}
	var v *node.Viewer
	for i := 0; i < 50; i++ {
		if v, err = node.StartViewer(ctx, vc, node.ViewerConfig{Name: "stubborn"}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = v
	time.Sleep(500 * time.Millisecond)
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		t.Fatalf("relay exited (%v) on the first signal with a child still attached", err)
	case <-time.After(time.Second):
	}
	t0 := time.Now()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		t.Logf("second signal: exited after %v (%v)", time.Since(t0).Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		t.Fatal("relay still running 5 s after the second signal")
	}
}

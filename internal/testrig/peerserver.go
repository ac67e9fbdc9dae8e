package testrig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PeerServerConfig tunes the PeerServer. Zero values keep the CLI defaults
// (expire_timeout 5000 ms, alive_timeout 60000 ms).
type PeerServerConfig struct {
	ExpireTimeout time.Duration // --expire_timeout
	AliveTimeout  time.Duration // --alive_timeout
	ExtraArgs     []string      // more CLI flags, e.g. "--allow_discovery"
}

// PeerServer is a running PeerJS signaling server: npm "peer" 1.0.2 through
// its own CLI (node node_modules/peer/dist/bin/peerjs.js).
type PeerServer struct {
	Host string // 127.0.0.1
	Port int
	Path string // /p2ptest
	Key  string // testkey

	cfg    PeerServerConfig
	node   string
	script string
	root   string
	log    *syncBuffer // output of every run, in order

	mu   sync.Mutex
	proc *serverProc
}

type serverProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer // output of this run only
	done chan struct{}
}

const peerServerStartTimeout = 10 * time.Second

// StartPeerServer starts a PeerServer on a free port of 127.0.0.1 with path
// /p2ptest and key testkey, and waits (at most 10 s) until
// GET /p2ptest/testkey/id answers 200. t.Cleanup kills it.
func StartPeerServer(t testing.TB) *PeerServer {
	t.Helper()
	return StartPeerServerWith(t, PeerServerConfig{})
}

// StartPeerServerWith is StartPeerServer with timeouts or extra flags.
func StartPeerServerWith(t testing.TB, cfg PeerServerConfig) *PeerServer {
	t.Helper()
	node, err := exec.LookPath("node")
	Require(t, "node (Node.js)", err)
	root := RepoRoot(t)
	script := filepath.Join(root, "node_modules", "peer", "dist", "bin", "peerjs.js")
	requireFile(t, "npm package peer (node_modules)", script)

	s := &PeerServer{
		Host: "127.0.0.1", Path: "/p2ptest", Key: "testkey",
		cfg: cfg, node: node, script: script, root: root, log: newSyncBuffer(1 << 20),
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("testrig: PeerServer output:\n%s", s.log.String())
		}
	})
	// A free port can be taken between our probe and node's listen: try a
	// few ports.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testrig: no free port: %v", err)
		}
		s.Port = port
		if lastErr = s.start(time.Now().Add(peerServerStartTimeout)); lastErr == nil {
			return s
		}
		if !errors.Is(lastErr, errAddrInUse) {
			break
		}
	}
	t.Fatalf("testrig: PeerServer did not start: %v\noutput:\n%s", lastErr, s.log.String())
	return nil
}

// URL returns the base URL of the server, http://127.0.0.1:P/p2ptest/.
func (s *PeerServer) URL() string {
	return fmt.Sprintf("http://%s/%s/", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), strings.Trim(s.Path, "/"))
}

// IDURL returns the URL that hands out ids, http://127.0.0.1:P/p2ptest/testkey/id.
func (s *PeerServer) IDURL() string { return s.URL() + s.Key + "/id" }

// ClientOptions returns the options for the test page's T.start:
// {host, port, path, key}.
func (s *PeerServer) ClientOptions() map[string]any {
	return map[string]any{"host": s.Host, "port": s.Port, "path": s.Path, "key": s.Key}
}

// Output returns what the server printed so far, over all its runs.
func (s *PeerServer) Output() string { return s.log.String() }

// Kill stops the server with SIGKILL (its whole process group) and waits
// until it is gone. It is safe to call twice.
func (s *PeerServer) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Restart starts the server again on the same port (after Kill, or kills it
// first). While the port is still busy it retries, bounded by 10 s.
func (s *PeerServer) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	deadline := time.Now().Add(peerServerStartTimeout)
	for {
		err := s.start(deadline)
		if err == nil {
			return
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			t.Fatalf("testrig: PeerServer restart on port %d failed: %v\noutput:\n%s", s.Port, err, s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errAddrInUse = errors.New("address in use")

// start runs one server process on s.Port and waits until it answers, or
// until deadline.
func (s *PeerServer) start(deadline time.Time) error {
	args := []string{s.script,
		"--host", s.Host,
		"--port", strconv.Itoa(s.Port),
		"--path", s.Path,
		"--key", s.Key,
	}
	if d := s.cfg.ExpireTimeout; d > 0 {
		args = append(args, "--expire_timeout", strconv.FormatInt(d.Milliseconds(), 10))
	}
	if d := s.cfg.AliveTimeout; d > 0 {
		args = append(args, "--alive_timeout", strconv.FormatInt(d.Milliseconds(), 10))
	}
	args = append(args, s.cfg.ExtraArgs...)

	cmd := exec.Command(s.node, args...)
	cmd.Dir = s.root
	out := newSyncBuffer(256 << 10)
	w := &teeWriter{a: out, b: s.log}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	fmt.Fprintf(s.log, "--- testrig: %s %s\n", s.node, strings.Join(args, " "))

	p := &serverProc{cmd: cmd, out: out, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked dies: keep this
		// goroutine on its thread for the life of the process.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		fmt.Fprintf(s.log, "--- testrig: PeerServer exited: %v\n", err)
		close(p.done)
	}()
	if err := <-started; err != nil {
		return err
	}

	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.done:
			if strings.Contains(out.String(), "EADDRINUSE") {
				return errAddrInUse
			}
			return errors.New("the PeerServer process exited")
		default:
		}
		// The CLI catches uncaught exceptions, so a failed listen leaves
		// the process running: look for the error in its output.
		if strings.Contains(out.String(), "EADDRINUSE") {
			p.kill()
			return errAddrInUse
		}
		if strings.Contains(out.String(), "Started PeerServer") && s.answers(client) {
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("no answer from %s within %v", s.IDURL(), peerServerStartTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *PeerServer) answers(client *http.Client) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.IDURL(), nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (p *serverProc) kill() {
	if p.cmd.Process != nil {
		// The negative pid is the process group (Setpgid).
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type teeWriter struct{ a, b *syncBuffer }

func (w *teeWriter) Write(p []byte) (int, error) {
	w.a.Write(p)
	return w.b.Write(p)
}

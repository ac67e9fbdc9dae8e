package rig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	log    *Buffer // output of every run, in order

	mu   sync.Mutex // guards proc
	proc *serverProc
}

type serverProc struct {
	p   *Proc
	out *Buffer // output of this run only
}

// Generous: node starts in well under a second, but on a starved machine
// (a loaded CI runner) it has taken over 10 s.
const peerServerStartTimeout = 60 * time.Second

// StartPeerServer starts a PeerServer on a free port of 127.0.0.1 with path
// /p2ptest and key testkey, and waits (at most 10 s) until
// GET /p2ptest/testkey/id answers 200. Kill stops it. A missing node or
// node_modules is a *MissingError.
func StartPeerServer(cfg PeerServerConfig) (*PeerServer, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, missing("node (Node.js)", err)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "node_modules", "peer", "dist", "bin", "peerjs.js")
	if err := requireFile("npm package peer (node_modules)", script); err != nil {
		return nil, err
	}
	s := &PeerServer{
		Host: "127.0.0.1", Path: "/p2ptest", Key: "testkey",
		cfg: cfg, node: node, script: script, root: root, log: NewBuffer(1 << 20),
	}
	// A free port can be taken between our probe and node's listen: try a
	// few ports.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("rig: no free port: %w", err)
		}
		s.Port = port
		if lastErr = s.start(time.Now().Add(peerServerStartTimeout)); lastErr == nil {
			return s, nil
		}
		if !errors.Is(lastErr, errAddrInUse) {
			break
		}
	}
	return nil, fmt.Errorf("rig: PeerServer did not start: %w\noutput:\n%s", lastErr, s.log.String())
}

// URL returns the base URL of the server, http://127.0.0.1:P/p2ptest/.
func (s *PeerServer) URL() string {
	return fmt.Sprintf("http://%s/%s/", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), strings.Trim(s.Path, "/"))
}

// IDURL returns the URL that hands out ids, http://127.0.0.1:P/p2ptest/testkey/id.
func (s *PeerServer) IDURL() string { return s.URL() + s.Key + "/id" }

// ClientOptions returns the options for the test pages' start functions:
// {host, port, path, key}.
func (s *PeerServer) ClientOptions() map[string]any {
	return map[string]any{"host": s.Host, "port": s.Port, "path": s.Path, "key": s.Key}
}

// Output returns what the server printed so far, over all its runs.
func (s *PeerServer) Output() string { return s.log.String() }

// Pid is the server process's id, 0 when it is not running.
func (s *PeerServer) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.p.Pid()
}

// Kill stops the server with SIGKILL (its whole process group) and waits
// until it is gone. It is safe to call twice.
func (s *PeerServer) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		_ = p.p.Stop(0)
	}
}

// Restart starts the server again on the same port (after Kill, or kills it
// first). While the port is still busy it retries, bounded by 10 s.
func (s *PeerServer) Restart() error {
	s.Kill()
	deadline := time.Now().Add(peerServerStartTimeout)
	for {
		err := s.start(deadline)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			return fmt.Errorf("rig: PeerServer restart on port %d failed: %w\noutput:\n%s", s.Port, err, s.log.String())
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
	out := NewBuffer(256 << 10)
	w := &teeWriter{a: out, b: s.log}
	cmd.Stdout, cmd.Stderr = w, w
	fmt.Fprintf(s.log, "--- rig: %s %s\n", s.node, strings.Join(args, " "))

	p, err := StartProc(cmd)
	if err != nil {
		return err
	}
	sp := &serverProc{p: p, out: out}
	go func() {
		<-p.Done()
		fmt.Fprintf(s.log, "--- rig: PeerServer exited: %v\n", p.Err())
	}()

	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.Done():
			if strings.Contains(out.String(), "EADDRINUSE") {
				return errAddrInUse
			}
			return errors.New("the PeerServer process exited")
		default:
		}
		// The CLI catches uncaught exceptions, so a failed listen leaves
		// the process running: look for the error in its output.
		if strings.Contains(out.String(), "EADDRINUSE") {
			_ = p.Stop(0)
			return errAddrInUse
		}
		if strings.Contains(out.String(), "Started PeerServer") && s.answers(client) {
			s.mu.Lock()
			s.proc = sp
			s.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			_ = p.Stop(0)
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

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

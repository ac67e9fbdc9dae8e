package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/p2plive/p2plive-node/internal/rig"
	"github.com/p2plive/p2plive-node/node"
)

// relayUnderTest is the relay whose cost is measured: a process (tree) of
// its own, so that its CPU time and memory are its alone.
type relayUnderTest interface {
	peerID() string
	usage() (usage, error)
	pids() []int // the relay's processes
	stop() error
	output() string // for errors
}

// goRelay is `p2plive-node join` as a child process.
type goRelay struct {
	p   *rig.Proc
	id  string
	out *rig.Buffer
	// debugAddr is the relay's --debug-addr (loopback), "" when it serves
	// none; cpuProfile reads /debug/pprof/profile there.
	debugAddr string
}

// startGoRelay runs the relay command: argv + join flags, logging at warn
// (so that logging costs nothing per packet), host candidates only. With
// debug, the relay also serves its debug port on a free loopback port, so
// that its CPU profile can be taken (goRelay.cpuProfile).
func startGoRelay(argv []string, ps *rig.PeerServer, parent, id string, debug bool) (*goRelay, error) {
	args := append(append([]string(nil), argv[1:]...), "join",
		"--parent", parent, "--id", id, "--name", "bench relay",
		"--server", ps.URL(), "--key", ps.Key, "--ice", "none",
		"--log-level", "warn", "--log-format", "json")
	var debugAddr string
	if debug {
		var err error
		if debugAddr, err = freeLoopbackAddr(); err != nil {
			return nil, fmt.Errorf("bench: a port for the relay's debug server: %w", err)
		}
		args = append(args, "--debug-addr", debugAddr)
	}
	cmd := exec.Command(argv[0], args...)
	// Only our flags: no P2PLIVE_* from the caller's environment.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "P2PLIVE_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out := rig.NewBuffer(256 << 10)
	cmd.Stdout, cmd.Stderr = out, out
	p, err := rig.StartProc(cmd)
	if err != nil {
		return nil, fmt.Errorf("bench: start relay %s: %w", argv[0], err)
	}
	return &goRelay{p: p, id: id, out: out, debugAddr: debugAddr}, nil
}

// freeLoopbackAddr is a TCP port on 127.0.0.1 that was free a moment ago.
// Another process could take it before the relay binds it; the relay then
// exits at once, and the row fails with the relay's output.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// profilePart is the longest CPU profile asked of the relay in one
// request: its debug server ends every response after 60 s
// (cmd/p2plive-node/debug.go), and pprof refuses a longer profile.
const profilePart = 50 * time.Second

// cpuProfile takes the relay's CPU profile over d from its debug server
// and writes it to path. A d over profilePart is taken as consecutive
// parts, the second written to path with ".2" before the extension and so
// on; `go tool pprof` merges the files it is given.
func (r *goRelay) cpuProfile(ctx context.Context, d time.Duration, path string) error {
	if r.debugAddr == "" {
		return fmt.Errorf("bench: relay %s serves no debug port", r.id)
	}
	for part := 1; d > 0; part++ {
		span := min(d, profilePart)
		d -= span
		name := path
		if part > 1 {
			ext := filepath.Ext(path)
			name = fmt.Sprintf("%s.%d%s", strings.TrimSuffix(path, ext), part, ext)
		}
		if err := r.profilePart(ctx, span, name); err != nil {
			return err
		}
	}
	return nil
}

func (r *goRelay) profilePart(ctx context.Context, d time.Duration, path string) error {
	secs := int(math.Ceil(d.Seconds()))
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+15*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", r.debugAddr, secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench: relay CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("bench: relay CPU profile: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 256<<20)); err != nil {
		f.Close()
		return fmt.Errorf("bench: relay CPU profile: %w", err)
	}
	return f.Close()
}

func (r *goRelay) peerID() string { return r.id }

func (r *goRelay) usage() (usage, error) {
	select {
	case <-r.p.Done():
		return usage{}, fmt.Errorf("bench: the relay exited: %v\n%s", r.p.Err(), r.out.String())
	default:
	}
	return treeUsage(r.p.Pid(), false)
}

func (r *goRelay) pids() []int { return []int{r.p.Pid()} }

// stop ends the relay cleanly: SIGTERM, and SIGTERM again after a moment (a node that drains on the first signal
// exits at once on the second), then SIGKILL after 5 s.
func (r *goRelay) stop() error {
	_ = r.p.Signal(syscall.SIGTERM)
	select {
	case <-r.p.Done():
	case <-time.After(200 * time.Millisecond):
	}
	return r.p.Stop(5 * time.Second)
}

func (r *goRelay) output() string { return r.out.String() }

// browserRelay is headless Chromium with one tree.html page that joins as
// an audience: it answers the host's call, shows the stream, and calls
// each child that reports with the stream it receives, as the P2P-Live-web
// pages do.
type browserRelay struct {
	b    *rig.Browser
	page *rig.Page
	id   string
}

func startBrowserRelay(ps *rig.PeerServer, web *rig.WebServer, parent string) (*browserRelay, error) {
	b, err := rig.StartBrowser()
	if err != nil {
		return nil, err
	}
	r := &browserRelay{b: b}
	r.page, err = b.NewPage(web.PageURL("tree.html"))
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	o := ps.ClientOptions()
	o["parent"], o["name"] = parent, "browser relay"
	if err := r.page.EvalErr("P.startAudience("+jsonString(o)+")", &r.id); err != nil {
		_ = r.stop()
		return nil, fmt.Errorf("bench: browser relay: %w\nconsole:\n%s", err, r.page.Console())
	}
	return r, nil
}

// waitDecoding waits until the page decodes the host's stream: only then
// does it call children that report (tree.js calls a new child at once
// with the stream it holds, and never later unless asked).
func (r *browserRelay) waitDecoding(ctx context.Context, timeout time.Duration) error {
	r.page.Timeout = timeout + 5*time.Second
	defer func() { r.page.Timeout = 0 }()
	return r.page.EvalErr(fmt.Sprintf("P.waitVideo(1, %d)", timeout.Milliseconds()), nil)
}

func (r *browserRelay) peerID() string { return r.id }

func (r *browserRelay) usage() (usage, error) {
	pid := r.b.Pid()
	if pid == 0 {
		return usage{}, fmt.Errorf("bench: chromium is not running")
	}
	return treeUsage(pid, true)
}

func (r *browserRelay) pids() []int {
	if pid := r.b.Pid(); pid != 0 {
		return processTree(pid)
	}
	return nil
}

func (r *browserRelay) stop() error {
	if r.page != nil {
		_ = r.page.EvalErr("P.destroy()", nil)
		r.page.Close()
	}
	return r.b.Close()
}

func (r *browserRelay) output() string {
	if r.page == nil {
		return r.b.Output()
	}
	return "console:\n" + r.page.Console()
}

// relayDelays are Chrome's own cumulative delays on a relaying page
// (P.relayDelay in tree.js): the receive side (first packet of a frame →
// frame decoded, including the jitter buffer) and, over every child call,
// the encoder and the pacer.
type relayDelays struct {
	Processing float64 `json:"processing"` // s, inbound video totalProcessingDelay
	Decoded    float64 `json:"decoded"`    // frames
	Encode     float64 `json:"encode"`     // s, outbound totalEncodeTime, all calls
	Encoded    float64 `json:"encoded"`    // frames
	SendDelay  float64 `json:"sendDelay"`  // s, outbound totalPacketSendDelay, all calls
	Sent       float64 `json:"sent"`       // packets
}

func (r *browserRelay) delays() (relayDelays, error) {
	var d relayDelays
	err := r.page.EvalErr("P.relayDelay()", &d)
	return d, err
}

// meanDelay is the mean time a frame spends in Chrome between a and b:
// receive→decoded + encode + pacer, each a mean over the window; 0 if
// there were no frames.
func meanDelay(a, b relayDelays) time.Duration {
	per := func(t1, t0, n1, n0 float64) float64 {
		if n1 <= n0 {
			return 0
		}
		return (t1 - t0) / (n1 - n0)
	}
	s := per(b.Processing, a.Processing, b.Decoded, a.Decoded) +
		per(b.Encode, a.Encode, b.Encoded, a.Encoded) +
		per(b.SendDelay, a.SendDelay, b.Sent, a.Sent)
	return time.Duration(s * float64(time.Second))
}

// waitHostFeeds waits until the host sends media to child id.
func waitHostFeeds(ctx context.Context, h *node.Node, id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if st, ok := h.Stats(); ok {
			if c, ok := st.Media.Children[id]; ok && c.Sent > 0 {
				return nil
			}
		} else {
			return fmt.Errorf("bench: the host stopped")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the host does not feed relay %s within %v", id, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

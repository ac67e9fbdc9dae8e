package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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
}

// startGoRelay runs the relay command: argv + join flags, logging at warn
// (so that logging costs nothing per packet), host candidates only.
func startGoRelay(argv []string, ps *rig.PeerServer, parent, id, cpuprofile string) (*goRelay, error) {
	args := append(append([]string(nil), argv[1:]...), "join",
		"--parent", parent, "--id", id, "--name", "bench relay",
		"--server", ps.URL(), "--key", ps.Key, "--ice", "none",
		"--log-level", "warn", "--log-format", "json")
	if cpuprofile != "" {
		args = append(args, "--cpuprofile", cpuprofile)
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
	return &goRelay{p: p, id: id, out: out}, nil
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

// stop ends the relay cleanly, so that it writes its CPU profile: SIGTERM,
// and SIGTERM again after a moment (a node that drains on the first signal
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
func waitHostFeeds(ctx context.Context, h *node.Join, id string, timeout time.Duration) error {
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

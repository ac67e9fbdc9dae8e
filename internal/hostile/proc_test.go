package hostile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/internal/rig"
	"github.com/p2plive/p2plive-node/internal/testrig"
)

// nodeProc is a p2plive-node process (host or relay) with its debug port.
type nodeProc struct {
	name  string
	id    string
	debug string // host:port of --debug-addr
	p     *rig.Proc
	out   *rig.Buffer
	http  *http.Client
}

// freeAddr returns a free 127.0.0.1 port (it may be taken before use; the
// process then fails to start and says so).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hostile: no free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNode runs the binary with args (a subcommand and its flags), the
// common flags for ps, and --debug-addr; t.Cleanup stops it.
func startNode(t testing.TB, name, id string, ps *testrig.PeerServer, args ...string) *nodeProc {
	t.Helper()
	n := &nodeProc{name: name, id: id, debug: freeAddr(t), out: rig.NewBuffer(1 << 20),
		http: &http.Client{Timeout: 3 * time.Second}}
	full := append(append([]string(nil), args...), "--id", id, "--server", ps.URL(), "--key", ps.Key,
		"--ice", "none", "--debug-addr", n.debug, "--log-level", "warn", "--log-format", "console")
	cmd := exec.Command(binPath, full...)
	for _, e := range os.Environ() { // only our flags: no P2PLIVE_* from the environment
		if !strings.HasPrefix(e, "P2PLIVE_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Stdout, cmd.Stderr = n.out, n.out
	p, err := rig.StartProc(cmd)
	if err != nil {
		t.Fatalf("hostile: start %s: %v", name, err)
	}
	n.p = p
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGCONT) // in case a test stopped it
		_ = p.Stop(0)
		if t.Failed() {
			t.Logf("hostile: %s output:\n%s", name, rig.Shorten(n.out.String(), 20000))
		}
	})
	t.Logf("hostile: %s %s (pid %d): %s", name, id, p.Pid(), strings.Join(full, " "))
	return n
}

// alive reports whether the process still runs.
func (n *nodeProc) alive() bool {
	select {
	case <-n.p.Done():
		return false
	default:
		return true
	}
}

// rss is VmRSS of the process, in bytes.
func (n *nodeProc) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", n.p.Pid()))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func (n *nodeProc) get(path string) ([]byte, error) {
	resp, err := n.http.Get("http://" + n.debug + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 256<<20))
}

// goroutines reads "goroutine profile: total N" from /debug/pprof/goroutine?debug=1.
func (n *nodeProc) goroutines() (int, error) {
	resp, err := n.http.Get("http://" + n.debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, err
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("unexpected first line %q", line)
	}
	return strconv.Atoi(v)
}

// stats is the part of /debug/stats (node.Stats as JSON) the tests
// read; raw keeps all of it for counters whose names we do not know.
type stats struct {
	Parent   string
	Children []struct{ ID, Name string }
	Tree     struct {
		Forwarded uint64
		Rejected  map[string]uint64
	}
	Media struct {
		Ready        bool
		Upstream     string
		Calls        uint64
		CallFailures uint64
		Children     map[string]json.RawMessage
	}
	ParentLosses uint64
	raw          map[string]any
}

func (n *nodeProc) stats() (stats, error) {
	b, err := n.get("/debug/stats")
	if err != nil {
		return stats{}, err
	}
	var s stats
	if err := json.Unmarshal(b, &s); err != nil {
		return s, err
	}
	err = json.Unmarshal(b, &s.raw)
	return s, err
}

func (s stats) hasChild(id string) bool {
	for _, c := range s.Children {
		if c.ID == id {
			return true
		}
	}
	return false
}

func (s stats) rejectedTotal() uint64 {
	var n uint64
	for _, v := range s.Tree.Rejected {
		n += v
	}
	return n
}

// counters flattens the numeric leaves of the stats to path → value
// ("Tree.Rejected.rate", "Conns.<peer>.TooBig"). Per-connection counters
// are summed over connections as "Conns.*.TooBig", so that they survive in
// a sum while the connections come and go; arrays are skipped (Children
// carry whole reports).
func (s stats) counters() map[string]float64 {
	out := map[string]float64{}
	var walk func(prefix string, v any, depth int)
	walk = func(prefix string, v any, depth int) {
		if depth > 6 {
			return
		}
		switch x := v.(type) {
		case float64:
			out[prefix] += x
		case map[string]any:
			for k, c := range x {
				p := prefix + "." + k
				if prefix == "" {
					p = k
				}
				if prefix == "Conns" || prefix == "Media.Children" {
					p = prefix + ".*"
				}
				walk(p, c, depth+1)
			}
		}
	}
	walk("", s.raw, 0)
	return out
}

// waitFor polls cond every 100 ms until it is true or timeout passes; it
// reports whether cond became true. Every wait in this package is bounded.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampler polls a process's RSS and goroutines until stopped, keeping the peaks.
type sampler struct {
	n      *nodeProc
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	rssMax int64
	gorMax int
	polls  int
}

func startSampler(n *nodeProc) *sampler {
	s := &sampler{n: n, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; i < 100000; i++ { // bounded: 100000 × 200 ms
			if r, err := n.rss(); err == nil {
				s.mu.Lock()
				s.rssMax = max(s.rssMax, r)
				s.mu.Unlock()
			}
			if g, err := n.goroutines(); err == nil {
				s.mu.Lock()
				s.gorMax = max(s.gorMax, g)
				s.polls++
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return s
}

// seed counts u as a sample.
func (s *sampler) seed(u usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rssMax, s.gorMax = max(s.rssMax, u.rss), max(s.gorMax, u.gor)
}

// peaks stops the sampler and returns the peaks.
func (s *sampler) peaks() (rss int64, gor int) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rssMax, s.gorMax
}

// usage is one RSS + goroutines reading.
type usage struct {
	rss int64
	gor int
}

func (n *nodeProc) usage() (usage, error) {
	r, err := n.rss()
	if err != nil {
		return usage{}, err
	}
	g, err := n.goroutines()
	return usage{rss: r, gor: g}, err
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// sortedKeys for stable logs.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ctxFor is a context bounded by d and by the test.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitRecovered waits (at most recoverWithin) until cond holds for the
// process's usage. Every 5 s it asks for a GC (/debug/pprof/heap?gc=1):
// Go returns freed memory to the OS only after a GC has lowered its heap
// goal, and an idle relay allocates too little to start one soon (the
// runtime forces one every 2 minutes). It returns the last usage read.
func (n *nodeProc) waitRecovered(cond func(usage) bool) usage {
	var u usage
	deadline := time.Now().Add(recoverWithin)
	nudge := time.Now()
	for i := 0; i < 10000; i++ { // bounded by the deadline too
		var err error
		if u, err = n.usage(); err == nil && cond(u) || err != nil && !n.alive() {
			return u
		}
		if time.Now().After(deadline) {
			return u
		}
		if time.Since(nudge) >= 5*time.Second {
			_, _ = n.get("/debug/pprof/heap?gc=1")
			nudge = time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return u
}

// heap summarizes runtime.MemStats from /debug/pprof/heap?debug=1 after a
// GC (gc=1): live heap vs. memory the runtime holds but does not use,
// which tells a leak from memory not yet returned to the OS.
func (n *nodeProc) heap() string {
	b, err := n.get("/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		return "heap: " + err.Error()
	}
	want := []string{"HeapAlloc", "HeapInuse", "HeapIdle", "HeapReleased", "Sys"}
	vals := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
		if !ok {
			continue
		}
		if x, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			vals[k] = fmt.Sprintf("%.1f", mib(x))
		}
	}
	var out []string
	for _, k := range want {
		out = append(out, k+" "+vals[k])
	}
	return "MiB " + strings.Join(out, ", ")
}

// heapTop logs the top of the relay's in-use heap (go tool pprof -top).
func (n *nodeProc) heapTop(t testing.TB) {
	b, err := n.get("/debug/pprof/heap?gc=1")
	if err != nil {
		t.Logf("heap profile: %v", err)
		return
	}
	f := filepath.Join(t.TempDir(), "heap.pb.gz")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		return
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", "-sample_index=inuse_space", binPath, f).CombinedOutput()
	t.Logf("relay in-use heap (go tool pprof -top):\n%s%v", out, err)
}

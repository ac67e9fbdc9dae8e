package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/internal/rig"
	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/signaling"
)

// Parts of the benchmark.
const (
	PartDirect    = "direct"    // synthetic stream, one viewer on the host itself: the floor of the latency
	PartSynthetic = "synthetic" // synthetic 2.5 Mbit/s stream through the Go relay, Config.N
	PartClip      = "clip"      // the real clip through the Go relay, Config.BrowserN
	PartBrowser   = "browser"   // the real clip through the Chromium relay, Config.BrowserN
)

// AllParts is the default: every part.
var AllParts = []string{PartDirect, PartSynthetic, PartClip, PartBrowser, PartHeal}

// Config is one benchmark run. The zero value of each field means its
// default.
type Config struct {
	// RelayCommand runs the Go relay: RelayCommand[0] is the p2plive-node
	// binary, more elements are arguments before "join". Required for the
	// synthetic, clip and heal parts.
	RelayCommand []string
	// Parts to run; nil means AllParts.
	Parts []string
	// N are the children of the Go relay on the synthetic stream
	// (default 1, 10, 50, 100, 200).
	N []int
	// BrowserN are the children of each relay on the real clip (default
	// 1, 2, 4, 8).
	BrowserN []int
	// Window is how long each measurement lasts (default 10 s).
	Window time.Duration
	// Settle is the pause between the last child's first packet and the
	// window (default 2 s), for the joins' keyframes and repairs to pass.
	Settle time.Duration
	// JoinParallel bounds the children joining at once (default 8).
	JoinParallel int
	// VideoBitrate of the synthetic stream in bit/s (default 2.5 Mbit/s).
	VideoBitrate int
	// Burst sends each synthetic frame in one burst instead of pacing its
	// packets at 2.5 times the bitrate as Chrome does.
	Burst bool
	// CPUProfileDir, if set, is where a CPU profile of each Go relay over
	// its row's window is written (relay-<source>-<N>.prof), taken from the
	// relay's own debug port (--debug-addr, /debug/pprof/profile).
	CPUProfileDir string
	// HealRuns is how many times each heal case runs (default 5).
	HealRuns int
	// Progress receives one line per step; nil means none.
	Progress io.Writer
	// Logger is for the benchmark's own nodes (host, viewers); nil means
	// none.
	Logger *zap.Logger
}

func (c *Config) defaults() error {
	if len(c.Parts) == 0 {
		c.Parts = AllParts
	}
	for _, p := range c.Parts {
		if !slices.Contains(AllParts, p) {
			return fmt.Errorf("bench: unknown part %q (want %v)", p, AllParts)
		}
	}
	if len(c.N) == 0 {
		c.N = []int{1, 10, 50, 100, 200}
	}
	if c.HealRuns <= 0 {
		c.HealRuns = 5
	}
	if c.HealRuns > 50 {
		return fmt.Errorf("bench: --heal-runs %d: at most 50", c.HealRuns)
	}
	if len(c.BrowserN) == 0 {
		c.BrowserN = []int{1, 2, 4, 8}
	}
	for _, n := range append(slices.Clone(c.N), c.BrowserN...) {
		if n < 1 || n > maxChildren {
			return fmt.Errorf("bench: %d children: want 1..%d", n, maxChildren)
		}
	}
	if c.Window <= 0 {
		c.Window = 10 * time.Second
	}
	if c.Window > maxWindow {
		return fmt.Errorf("bench: window %v: at most %v (sequence numbers must not wrap)", c.Window, maxWindow)
	}
	if c.Settle <= 0 {
		c.Settle = 2 * time.Second
	}
	if c.JoinParallel <= 0 {
		c.JoinParallel = 8
	}
	if c.VideoBitrate <= 0 {
		c.VideoBitrate = 2_500_000
	}
	if c.VideoBitrate > 20_000_000 {
		return fmt.Errorf("bench: video bitrate %d: at most 20 Mbit/s", c.VideoBitrate)
	}
	if c.NeedsRelay() && len(c.RelayCommand) == 0 {
		return errors.New("bench: no relay command")
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

func (c *Config) has(part string) bool { return slices.Contains(c.Parts, part) }

// NeedsRelay reports whether the parts run the Go relay (RelayCommand);
// nil Parts means every part.
func (c *Config) NeedsRelay() bool {
	return len(c.Parts) == 0 || c.has(PartSynthetic) || c.has(PartClip) || c.has(PartHeal)
}

// Bounds of every loop and wait.
const (
	maxChildren        = 1000
	maxWindow          = 2 * time.Minute
	relayReadyTimeout  = 30 * time.Second
	viewerStartTimeout = 30 * time.Second
	firstFrameTimeout  = 10 * time.Second
	// lateChildren join one after another, lateSpacing apart: together
	// they cover one 2 s keyframe interval.
	lateChildren = 5
	lateSpacing  = 400 * time.Millisecond
	// lateGrace is how long after the window packets sent in it may still
	// arrive (a NACK repair) and count as received.
	lateGrace = time.Second
	// idleTime: the relay streams this long with no children before its
	// idle memory is read.
	idleTime = time.Second
)

// Report is the outcome of a run.
type Report struct {
	Machine  Machine
	Chromium string // version, if the browser part ran
	Config   Config
	Rows     []Row
	Heal     []HealRow
}

// Row is one measurement: a relay, a source, N children.
type Row struct {
	Relay  string // "go", "browser", "none" (children on the host)
	Source string // "synthetic", "clip"
	N      int
	Joined int // children that received media
	Err    error

	Window               time.Duration
	PacketRate           float64 // packets/s each child received (mean)
	Bitrate              float64 // payload bit/s each child received (mean)
	RelayCPU             time.Duration
	CPUPercent           float64 // of one core
	USPerPacket          float64 // relay CPU µs per packet forwarded to a child
	Forwarded            uint64
	RSSIdle              int64 // relay RSS streaming with no children
	RSSPerChild          float64
	Loss                 float64 // fraction of the window's packets not received
	LatP50               time.Duration
	LatP99               time.Duration
	LatEstimate          bool          // latency is Chrome's mean internal delay, not measured end to end
	FirstFrame           time.Duration // median over the late children
	FirstFrameMax        time.Duration
	LateChildren         int  // late children that got a keyframe
	NoFirstFrame         bool // some late child got none within firstFrameTimeout
	ChildrenPerCPUSecond float64
	Ratio                float64 // Go ÷ browser children per CPU-second at this N (clip rows)
	MachineBusy          float64 // % of all cores, whole machine, during the window
	Steal                float64 // % of all cores taken by the hypervisor
	// Others is the share of all cores busy with processes that are not
	// part of the benchmark (machine busy - relay - this process - the
	// PeerServer): another job on the machine makes a row unreliable.
	Others float64
	// Datagrams the kernel dropped at full socket receive buffers during
	// the window and its grace time: at the relay's sockets, and at this
	// process's (the children's, and the source's).
	RelayDrops, ChildDrops int64
}

// Run runs the benchmark. It returns the rows measured so far along with
// an error that stopped it (ctx, a missing component).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, rep: &Report{Machine: readMachine(), Config: cfg}}
	err := b.run(ctx)
	return b.rep, err
}

type bench struct {
	cfg Config
	rep *Report
	ps  *rig.PeerServer
	web *rig.WebServer
	seq int
}

func (b *bench) progress(f string, a ...any) {
	fmt.Fprintf(b.cfg.Progress, "bench: "+f+"\n", a...)
}

func (b *bench) run(ctx context.Context) error {
	ps, err := rig.StartPeerServer(rig.PeerServerConfig{})
	if err != nil {
		return err
	}
	b.ps = ps
	defer ps.Kill()
	if b.cfg.has(PartBrowser) {
		web, err := rig.StartWebServer()
		if err != nil {
			return err
		}
		b.web = web
		defer web.Close()
		b.rep.Chromium = chromiumVersion()
	}
	type spec struct {
		part, relay, source string
		n                   int
	}
	var specs []spec
	if b.cfg.has(PartDirect) {
		specs = append(specs, spec{PartDirect, "none", "synthetic", 1})
	}
	if b.cfg.has(PartSynthetic) {
		for _, n := range b.cfg.N {
			specs = append(specs, spec{PartSynthetic, "go", "synthetic", n})
		}
	}
	for _, n := range b.cfg.BrowserN {
		if b.cfg.has(PartClip) {
			specs = append(specs, spec{PartClip, "go", "clip", n})
		}
		if b.cfg.has(PartBrowser) {
			specs = append(specs, spec{PartBrowser, "browser", "clip", n})
		}
	}
	for _, s := range specs {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.progress("%s relay, %s source, %d children ...", s.relay, s.source, s.n)
		row := b.phase(ctx, s.relay, s.source, s.n)
		if row.Err != nil {
			b.progress("  failed: %v", row.Err)
			var me *rig.MissingError
			if errors.As(row.Err, &me) {
				return row.Err
			}
		} else {
			b.progress("  %s", row.summary())
		}
		b.rep.Rows = append(b.rep.Rows, row)
	}
	b.rep.ratios()
	if b.cfg.has(PartHeal) {
		b.runHeal(ctx)
	}
	return ctx.Err()
}

// ratios fills Row.Ratio of the Go clip rows that have a browser row with
// the same N.
func (r *Report) ratios() {
	for i := range r.Rows {
		g := &r.Rows[i]
		if g.Relay != "go" || g.Source != "clip" || g.Err != nil || g.ChildrenPerCPUSecond == 0 {
			continue
		}
		for _, br := range r.Rows {
			if br.Relay == "browser" && br.N == g.N && br.Err == nil && br.ChildrenPerCPUSecond > 0 {
				g.Ratio = g.ChildrenPerCPUSecond / br.ChildrenPerCPUSecond
			}
		}
	}
}

func (row Row) summary() string {
	return fmt.Sprintf("joined %d/%d, relay CPU %.1f%%, %.2f µs/pkt, RSS/child %.2f MiB, loss %.3f%%, p50 %v p99 %v, first frame %v (max %v), machine busy %.0f%% (others %.0f%%, steal %.0f%%), UDP drops: relay %d, children %d",
		row.Joined, row.N, row.CPUPercent, row.USPerPacket, row.RSSPerChild/(1<<20), 100*row.Loss, row.LatP50, row.LatP99, row.FirstFrame, row.FirstFrameMax, row.MachineBusy, row.Others, row.Steal, row.RelayDrops, row.ChildDrops)
}

func (b *bench) nodeConfig(name string) node.Common {
	return node.Common{
		Server:     signaling.Server{Host: b.ps.Host, Port: b.ps.Port, Path: b.ps.Path, Key: b.ps.Key},
		ICEServers: []webrtc.ICEServer{},
		Logger:     b.cfg.Logger.Named(name),
	}
}

// phase measures one row: a fresh host, a fresh relay process, n children.
func (b *bench) phase(ctx context.Context, relayKind, source string, n int) (row Row) {
	row = Row{Relay: relayKind, Source: source, N: n}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup // the host and the viewers
	defer func() {
		cancel()
		if !waitBounded(&wg, 15*time.Second) {
			b.progress("  warning: nodes still stopping after 15 s")
		}
	}()
	fail := func(err error) Row {
		row.Err = err
		return row
	}

	// The source.
	log := new(sendLog)
	feed := syntheticFeed(log, b.cfg.VideoBitrate, !b.cfg.Burst)
	if source == "clip" {
		feed = clipFeed(log)
	}
	hc := node.HostConfig{Common: b.nodeConfig("host"), Name: "bench host", Title: "bench", NoStreamNotice: true, Feed: feed}
	host, err := node.StartHost(ctx, hc)
	if err != nil {
		return fail(fmt.Errorf("bench: host: %w", err))
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = host.Wait() }()

	// The relay under test.
	parent := host.ID()
	var relay relayUnderTest
	switch relayKind {
	case "go":
		b.seq++
		id := fmt.Sprintf("bench-relay-%d-%d", os.Getpid(), b.seq)
		r, err := startGoRelay(b.cfg.RelayCommand, b.ps, parent, id, b.cfg.CPUProfileDir != "")
		if err != nil {
			return fail(err)
		}
		relay = r
	case "browser":
		r, err := startBrowserRelay(b.ps, b.web, parent)
		if err != nil {
			return fail(err)
		}
		relay = r
	}
	if relay != nil {
		defer func() {
			if err := relay.stop(); err != nil {
				b.progress("  warning: stopping the relay: %v", err)
			}
		}()
		parent = relay.peerID()
		if err := waitHostFeeds(ctx, host, parent, relayReadyTimeout); err != nil {
			return fail(fmt.Errorf("%w\nrelay output:\n%s", err, relay.output()))
		}
		if br, ok := relay.(*browserRelay); ok {
			if err := br.waitDecoding(ctx, relayReadyTimeout); err != nil {
				return fail(fmt.Errorf("bench: the browser relay does not decode: %w\n%s", err, relay.output()))
			}
		}
		if err := sleep(ctx, idleTime); err != nil {
			return fail(err)
		}
		idle, err := relay.usage()
		if err != nil {
			return fail(err)
		}
		row.RSSIdle = idle.rss
	}

	// The children: Go viewers in this process.
	var sl *sendLog
	if relayKind != "browser" {
		sl = log // payloads and sequence numbers arrive unchanged
	}
	win := new(window)
	subs := make([]*subscriber, n)
	sem := make(chan struct{}, b.cfg.JoinParallel)
	var joinWG sync.WaitGroup
	var errMu sync.Mutex
	var joinErr error
	for i := range subs {
		subs[i] = newSubscriber(sl, win)
		sem <- struct{}{}
		joinWG.Add(1)
		go func(s *subscriber, name string) {
			defer joinWG.Done()
			defer func() { <-sem }()
			s.start = time.Now()
			if err := b.startViewer(ctx, &wg, parent, name, s); err != nil {
				errMu.Lock()
				joinErr = err
				errMu.Unlock()
			}
		}(subs[i], fmt.Sprintf("viewer-%d", i))
	}
	joinWG.Wait()
	deadline := time.Now().Add(relayReadyTimeout + time.Duration(n)*100*time.Millisecond)
	for {
		row.Joined = 0
		for _, s := range subs {
			if _, ok := s.firstPacket(); ok {
				row.Joined++
			}
		}
		if row.Joined == n || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if row.Joined == 0 {
		if joinErr == nil {
			joinErr = errors.New("no child received media")
		}
		out := ""
		if relay != nil {
			out = "\nrelay output:\n" + relay.output()
		}
		return fail(fmt.Errorf("bench: children: %w%s", joinErr, out))
	}
	if row.Joined < n {
		b.progress("  only %d of %d children receive (last error: %v)", row.Joined, n, joinErr)
	}
	if err := sleep(ctx, b.cfg.Settle); err != nil {
		return fail(err)
	}

	// The window.
	for _, s := range subs {
		s.openWindow()
	}
	var u0, u1 usage
	var d0, d1 relayDelays
	br, isBrowser := relay.(*browserRelay)
	if isBrowser {
		d0, _ = br.delays()
	}
	m0, _ := readMachineCPU()
	udp0 := udpDrops()
	own0 := b.ownCPU()
	if relay != nil {
		if u0, err = relay.usage(); err != nil {
			return fail(err)
		}
	}
	var profDone chan error
	if gr, ok := relay.(*goRelay); ok && b.cfg.CPUProfileDir != "" {
		path := filepath.Join(b.cfg.CPUProfileDir, fmt.Sprintf("relay-%s-%d.prof", source, n))
		profDone = make(chan error, 1)
		go func() { profDone <- gr.cpuProfile(ctx, b.cfg.Window, path) }()
	}
	t0 := time.Now()
	win.open(t0)
	if err := sleep(ctx, b.cfg.Window); err != nil {
		return fail(err)
	}
	t1 := time.Now()
	win.close(t1)
	if relay != nil {
		if u1, err = relay.usage(); err != nil {
			return fail(err)
		}
	}
	own1 := b.ownCPU()
	m1, _ := readMachineCPU()
	if isBrowser {
		d1, _ = br.delays()
	}
	if err := sleep(ctx, lateGrace); err != nil {
		return fail(err)
	}
	udp1 := udpDrops()
	if profDone != nil {
		if err := <-profDone; err != nil {
			b.progress("  warning: %v", err)
		}
	}
	row.ChildDrops = dropsOf(udp0, udp1, socketInodes([]int{os.Getpid()}))
	if relay != nil {
		row.RelayDrops = dropsOf(udp0, udp1, socketInodes(relay.pids()))
	}

	// Results of the window.
	row.Window = t1.Sub(t0)
	secs := row.Window.Seconds()
	row.MachineBusy = busyPercent(m0, m1)
	row.Steal = stealPercent(m0, m1)
	cores := float64(b.rep.Machine.Cores)
	ours := own1 - own0 + u1.cpu - u0.cpu
	row.Others = max(0, row.MachineBusy-100*ours.Seconds()/secs/cores)
	sent := log.inWindow(t0, t1)
	var received, expected, packets, bytes uint64
	var lat []int32
	for _, s := range subs {
		if _, ok := s.firstPacket(); !ok {
			continue // never joined: counted in Joined, not as loss
		}
		r := s.collect(sent)
		received += r.received
		expected += r.expected
		packets += r.packets
		bytes += r.bytes
		lat = append(lat, r.lat...)
	}
	row.PacketRate = float64(packets) / float64(row.Joined) / secs
	row.Bitrate = 8 * float64(bytes) / float64(row.Joined) / secs
	if expected > 0 {
		row.Loss = 1 - float64(received)/float64(expected)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		row.LatP50 = time.Duration(lat[len(lat)/2]) * time.Microsecond
		row.LatP99 = time.Duration(lat[min(len(lat)-1, len(lat)*99/100)]) * time.Microsecond
	}
	if isBrowser {
		row.LatP50 = meanDelay(d0, d1)
		row.LatEstimate = true
	}
	if relay != nil {
		row.RelayCPU = u1.cpu - u0.cpu
		row.CPUPercent = 100 * row.RelayCPU.Seconds() / secs
		// What the relay was asked to forward: with the Go relay every
		// packet the source sent, to every child; a browser relay sends
		// its own packets, counted where they arrive.
		row.Forwarded = packets
		if sl != nil {
			row.Forwarded = uint64(len(sent[kVideo])+len(sent[kAudio])) * uint64(row.Joined)
		}
		if row.Forwarded > 0 {
			row.USPerPacket = float64(row.RelayCPU.Microseconds()) / float64(row.Forwarded)
		}
		row.RSSPerChild = float64(u1.rss-row.RSSIdle) / float64(n)
		if row.RelayCPU > 0 {
			row.ChildrenPerCPUSecond = float64(row.Joined) / (row.RelayCPU.Seconds() / secs)
		}
	}

	// Late children, one at a time, spread over one keyframe interval (the
	// wait for a keyframe depends on where in it a child arrives): from
	// each one's start to its first complete keyframe. Each leaves again
	// once it has it.
	var firsts []time.Duration
	for i := range lateChildren {
		if i > 0 {
			if err := sleep(ctx, lateSpacing); err != nil {
				return fail(err)
			}
		}
		lctx, lcancel := context.WithCancel(ctx)
		late := newSubscriber(sl, new(window))
		err := b.startViewer(lctx, &wg, parent, fmt.Sprintf("late viewer %d", i), late)
		deadline := time.Now().Add(firstFrameTimeout)
		for err == nil {
			if d, ok := late.firstFrameAfter(); ok {
				firsts = append(firsts, d)
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		lcancel()
		if err != nil {
			b.progress("  late child: %v", err)
		}
	}
	row.LateChildren = len(firsts)
	if len(firsts) > 0 {
		slices.Sort(firsts)
		row.FirstFrame = firsts[len(firsts)/2]
		row.FirstFrameMax = firsts[len(firsts)-1]
	}
	if len(firsts) < lateChildren {
		row.NoFirstFrame = true
	}
	return row
}

// ownCPU is the CPU time of this process (source and children) and of the
// PeerServer.
func (b *bench) ownCPU() time.Duration {
	self, _, _ := procCPU(os.Getpid())
	var ps time.Duration
	if pid := b.ps.Pid(); pid != 0 {
		ps, _, _ = procCPU(pid)
	}
	return self + ps
}

// startViewer starts a Go viewer under parent and waits at most
// viewerStartTimeout for it to be connected; it runs until ctx ends, and
// wg tracks it (also one whose start we gave up waiting for).
func (b *bench) startViewer(ctx context.Context, wg *sync.WaitGroup, parent, name string, s *subscriber) error {
	started := make(chan error, 1)
	cfg := node.ViewerConfig{Common: b.nodeConfig("viewer"), Parent: parent, Name: name, OnPacket: s.onPacket}
	wg.Add(1)
	go func() {
		defer wg.Done()
		v, err := node.StartViewer(ctx, cfg)
		started <- err
		if err == nil {
			<-v.Done() // the viewer ends with ctx (or when its parent drops it)
		}
	}()
	select {
	case err := <-started:
		return err
	case <-time.After(viewerStartTimeout):
		return fmt.Errorf("viewer %s: not started within %v", name, viewerStartTimeout)
	}
}

// chromiumVersion is `chromium --version`, or "" (bounded to 10 s).
func chromiumVersion() string {
	p, err := rig.ChromiumPath()
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitBounded waits for wg at most d.
func waitBounded(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/node"
)

// PartHeal: host → relay A → relay B → viewer (a grandchild of A's
// children); A crashes (SIGKILL) or leaves (SIGTERM); the media gap at the
// viewer, Config.HealRuns times each.
const PartHeal = "heal"

// HealRow is the gap at a grandchild after its grandparent relay went away.
type HealRow struct {
	Mode string // "crash" (SIGKILL) or "leave" (SIGTERM, planned departure)
	Gaps []time.Duration
	Err  error
}

// Median of the runs' gaps.
func (h HealRow) Median() time.Duration {
	if len(h.Gaps) == 0 {
		return 0
	}
	g := slices.Clone(h.Gaps)
	slices.Sort(g)
	return g[len(g)/2]
}

// healAfter is how long the viewer is watched after the signal.
const healAfter = 6 * time.Second

// gapWatch records video arrival times at the viewer.
type gapWatch struct {
	mu   sync.Mutex
	last time.Time
	from time.Time // gaps ending before this are not counted
	max  time.Duration
	n    int
}

func (g *gapWatch) onPacket(kind webrtc.RTPCodecType, _ *rtp.Packet, at time.Time) {
	if kind != webrtc.RTPCodecTypeVideo {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	if !g.from.IsZero() && !g.last.IsZero() && at.After(g.from) && at.Sub(g.last) > g.max {
		g.max = at.Sub(g.last)
	}
	g.last = at
}

func (g *gapWatch) arm(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.from, g.max = now, 0
}

func (g *gapWatch) result() (time.Duration, int, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max, g.n, g.last
}

// heal measures one run: the longest stall of video at the viewer from the
// signal to A until healAfter later.
func (b *bench) heal(ctx context.Context, mode string) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var log sendLog
	hc := node.HostConfig{Common: b.nodeConfig("host"), Title: "heal bench", Feed: syntheticFeed(&log, b.cfg.VideoBitrate, !b.cfg.Burst)}
	host, err := node.StartHost(ctx, hc)
	if err != nil {
		return 0, err
	}
	b.seq++
	a, err := startGoRelay(b.cfg.RelayCommand, b.ps, host.ID(), fmt.Sprintf("heal-a-%d", b.seq), false)
	if err != nil {
		return 0, err
	}
	defer func() { _ = a.stop() }()
	if err := waitHostFeeds(ctx, host, a.id, relayReadyTimeout); err != nil {
		return 0, err
	}
	rb, err := startGoRelay(b.cfg.RelayCommand, b.ps, a.id, fmt.Sprintf("heal-b-%d", b.seq), false)
	if err != nil {
		return 0, err
	}
	defer func() { _ = rb.stop() }()
	var g gapWatch
	vc := node.ViewerConfig{Common: b.nodeConfig("viewer"), Parent: rb.id, Name: "grandchild", OnPacket: g.onPacket}
	var v *node.Viewer
	for i := 0; i < 50; i++ { // B registers in the background: retry the join
		if v, err = node.StartViewer(ctx, vc); err == nil {
			break
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return 0, err
		}
	}
	if err != nil {
		return 0, fmt.Errorf("bench: viewer under relay B: %w", err)
	}
	_ = v
	deadline := time.Now().Add(relayReadyTimeout)
	for {
		if _, n, _ := g.result(); n > 100 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench: no video at the grandchild within %v\nrelay A:\n%s\nrelay B:\n%s", relayReadyTimeout, a.output(), rb.output())
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return 0, err
		}
	}
	if err := sleep(ctx, time.Second); err != nil {
		return 0, err
	}
	sig := syscall.SIGKILL
	if mode == "leave" {
		sig = syscall.SIGTERM
	}
	t0 := time.Now()
	g.arm(t0)
	_ = a.p.Signal(sig)
	if err := sleep(ctx, healAfter); err != nil {
		return 0, err
	}
	gap, _, last := g.result()
	if time.Since(last) > time.Second {
		return 0, fmt.Errorf("bench: video did not come back at the grandchild within %v\nrelay B:\n%s", healAfter, rb.output())
	}
	return gap, nil
}

func (b *bench) runHeal(ctx context.Context) {
	for _, mode := range []string{"crash", "leave"} {
		row := HealRow{Mode: mode}
		for i := 0; i < b.cfg.HealRuns && ctx.Err() == nil; i++ {
			b.progress("heal: %s, run %d/%d ...", mode, i+1, b.cfg.HealRuns)
			gap, err := b.heal(ctx, mode)
			if err != nil {
				row.Err = err
				b.progress("  failed: %v", err)
				break
			}
			b.progress("  gap %v", gap.Round(time.Millisecond))
			row.Gaps = append(row.Gaps, gap)
		}
		b.rep.Heal = append(b.rep.Heal, row)
	}
}

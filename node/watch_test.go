package node

import (
	"testing"
	"time"
)

// TestParentWatch plays tick sequences through the parent watch with a fake
// clock: a parent is lost only when its link is down and its media silent,
// never across a stall of our own, and detection stays within 2 s of the
// parent's last packet.
func TestParentWatch(t *testing.T) {
	const never = time.Duration(1<<63 - 1)
	type tick struct {
		at      time.Duration // since the start
		parent  bool
		linkUp  bool
		silence time.Duration
		lost    bool // expected
		stall   bool // expected; also: no ticks ran since the previous step
		late    bool // no ticks ran since the previous step
	}
	cases := []struct {
		name  string
		ticks []tick
	}{
		{"healthy parent", []tick{
			{at: 0, parent: true, linkUp: true, silence: 20 * time.Millisecond},
			{at: 250 * time.Millisecond, parent: true, linkUp: true, silence: 20 * time.Millisecond},
		}},
		{"crash: link down, media silent, lost at once", []tick{
			{at: 0, parent: true, linkUp: true, silence: 0},
			// the link reports down 1.5 s after the last packet
			{at: 1500 * time.Millisecond, parent: true, linkUp: false, silence: 1500 * time.Millisecond, lost: true},
		}},
		{"no media call: the link alone decides", []tick{
			{at: 0, parent: true, linkUp: false, silence: never, lost: true},
		}},
		{"link down but media flows: not lost", []tick{
			{at: 0, parent: true, linkUp: false, silence: 100 * time.Millisecond},
			{at: 250 * time.Millisecond, parent: true, linkUp: false, silence: 50 * time.Millisecond},
			{at: 500 * time.Millisecond, parent: true, linkUp: false, silence: 2 * time.Second, lost: true},
		}},
		{"our stall: no verdict until the parent had time to answer", []tick{
			{at: 0, parent: true, linkUp: true},
			// 5 s stopped (SIGSTOP, a starved machine): everything looks silent
			{at: 5 * time.Second, parent: true, linkUp: false, silence: 5 * time.Second, stall: true},
			{at: 5250 * time.Millisecond, parent: true, linkUp: false, silence: 5 * time.Second},
			// the queued packets are read, ICE comes back: never lost
			{at: 5500 * time.Millisecond, parent: true, linkUp: true, silence: 10 * time.Millisecond},
			{at: 7500 * time.Millisecond, parent: true, linkUp: true, silence: 0},
		}},
		{"parent dead during our stall: lost after the grace", []tick{
			{at: 0, parent: true, linkUp: true},
			{at: 4 * time.Second, parent: true, linkUp: false, silence: 4 * time.Second, stall: true},
			{at: 5750 * time.Millisecond, parent: true, linkUp: false, silence: 5750 * time.Millisecond},
			{at: 6 * time.Second, parent: true, linkUp: false, silence: 6 * time.Second, lost: true},
		}},
		{"slightly late ticks are not a stall", []tick{
			{at: 0, parent: true, linkUp: true},
			{at: 900 * time.Millisecond, parent: true, linkUp: true, late: true},
			{at: 1100 * time.Millisecond, parent: false, linkUp: false},
		}},
	}
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w parentWatch
			for i, tk := range tc.ticks {
				// Regular ticks between steps, with the previous step's
				// inputs (media silence growing), none of them a verdict.
				if i > 0 && !tk.stall && !tk.late {
					prev := tc.ticks[i-1]
					for at := prev.at + watchEvery; at < tk.at; at += watchEvery {
						silence := prev.silence
						if silence != never {
							silence += at - prev.at
						}
						if v := w.observe(t0.Add(at), prev.parent, prev.linkUp, silence); v.lost || v.stall > 0 {
							t.Fatalf("between steps %d and %d at %v: %+v", i-1, i, at, v)
						}
					}
				}
				v := w.observe(t0.Add(tk.at), tk.parent, tk.linkUp, tk.silence)
				if v.lost != tk.lost || (v.stall > 0) != tk.stall {
					t.Fatalf("tick %d at %v: lost %v stall %v, want lost %v stall %v", i, tk.at, v.lost, v.stall, tk.lost, tk.stall)
				}
			}
		})
	}
}

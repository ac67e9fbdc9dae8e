package hostile

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/node"
)

const (
	soakRounds   = 6
	soakPerRound = 50
	// soakFirstPacket: every child of every round gets media this soon
	// after it joined (issue 9).
	soakFirstPacket = 10 * time.Second
	// soakGorSlack: after each round's children left, the relay's
	// goroutines are back within this of the baseline (as gorAfterSlack).
	soakGorSlack = gorAfterSlack
	// soakRSSSlack: RSS after the last round within 30 MiB of the baseline (issue 9).
	soakRSSSlack = 30 << 20
	soakParallel = 10 // children joining at once
)

// TestHostileChurnSoak: 300 children join and leave the relay in rounds of 50.
func TestHostileChurnSoak(t *testing.T) {
	r := newRoom(t, false)
	base, err := r.relay.usage()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		round              int
		gotMedia, joinFail int
		peak, after        usage
		children           int
	}
	var rows []row
	for round := 1; round <= soakRounds; round++ {
		s := startSampler(r.relay)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var gotMedia, joinFail atomic.Int64
		var vmu sync.Mutex
		var viewers []*node.Viewer
		sem := make(chan struct{}, soakParallel)
		for i := range soakPerRound {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				first := make(chan struct{})
				var once sync.Once
				joined := time.Now()
				v, err := node.StartViewer(ctx, node.Config{Server: server(r.ps), Parent: r.relay.id, ICEServers: []webrtc.ICEServer{}, Logger: zap.NewNop()},
					node.ViewerConfig{Name: fmt.Sprintf("soak %d.%d", round, i), OnPacket: func(webrtc.RTPCodecType, *rtp.Packet, time.Time) {
						once.Do(func() { close(first) })
					}})
				<-sem
				if err != nil {
					joinFail.Add(1)
					t.Logf("round %d viewer %d: %v", round, i, err)
					return
				}
				vmu.Lock()
				viewers = append(viewers, v)
				vmu.Unlock()
				select {
				case <-first:
					gotMedia.Add(1)
				case <-time.After(soakFirstPacket - time.Since(joined)):
				}
			}()
		}
		wg.Wait()
		var st stats
		waitFor(5*time.Second, func() bool { var err error; st, err = r.relay.stats(); return err == nil })
		cancel()
		for _, v := range viewers {
			select {
			case <-v.Done():
			case <-time.After(15 * time.Second):
			}
		}
		waitFor(recoverWithin, func() bool {
			u, err := r.relay.usage()
			return err != nil || u.gor <= base.gor+soakGorSlack
		})
		var x row
		x.round, x.gotMedia, x.joinFail, x.children = round, int(gotMedia.Load()), int(joinFail.Load()), len(st.Children)
		x.peak.rss, x.peak.gor = s.peaks()
		x.after, _ = r.relay.usage()
		rows = append(rows, x)
		if !r.relay.alive() {
			t.Fatalf("round %d: the relay died: %v", round, r.relay.p.Err())
		}
		if x.gotMedia != soakPerRound {
			t.Errorf("round %d: %d of %d children got media within %v (%d could not join)", round, x.gotMedia, soakPerRound, soakFirstPacket, x.joinFail)
		}
		if x.after.gor > base.gor+soakGorSlack {
			t.Errorf("round %d: %d goroutines after the children left, over baseline %d + %d", round, x.after.gor, base.gor, soakGorSlack)
		}
	}
	final := rows[len(rows)-1].after
	if final.rss > base.rss+soakRSSSlack {
		// Go returns memory lazily: give it the bounded recovery time.
		waitFor(recoverWithin, func() bool { u, err := r.relay.usage(); return err != nil || u.rss <= base.rss+soakRSSSlack })
		final, _ = r.relay.usage()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT soak: baseline RSS %.1f MiB, %d goroutines\n", mib(base.rss), base.gor)
	fmt.Fprintf(&b, "round  children  media≤10s  RSS peak  RSS after  gor peak  gor after\n")
	for _, x := range rows {
		fmt.Fprintf(&b, "%5d  %8d  %9d  %8.1f  %9.1f  %8d  %9d\n", x.round, x.children, x.gotMedia, mib(x.peak.rss), mib(x.after.rss), x.peak.gor, x.after.gor)
	}
	fmt.Fprintf(&b, "final RSS %.1f MiB (bound %.1f), goroutines %d", mib(final.rss), mib(base.rss+soakRSSSlack), final.gor)
	t.Log(b.String())
	if final.rss > base.rss+soakRSSSlack {
		t.Errorf("RSS after the last round %.1f MiB, over baseline %.1f + %.1f MiB", mib(final.rss), mib(base.rss), mib(soakRSSSlack))
	}
}

package hostile

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/internal/rig"
)

const (
	soakRounds   = 6
	soakPerRound = 50
	// soakFirstPacket: every child of every round gets media this soon
	// after it started joining (issue 9).
	soakFirstPacket = 10 * time.Second
	// soakGorSlack: after each round's children left, the relay's
	// goroutines are back within this of the baseline (as gorAfterSlack).
	soakGorSlack = gorAfterSlack
	// soakRSSSlack: RSS after the last round within 30 MiB of the baseline (issue 9).
	soakRSSSlack = 30 << 20
	soakParallel = 10 // children joining at once
	// soakJoinWithin bounds one round's joining: 50 viewers, 10 at a time,
	// each joined or given up within soakFirstPacket, plus registration.
	soakJoinWithin = 3 * time.Minute
)

// viewerProc is one round of soak viewers: a process of
// ./internal/hostile/viewers.
type viewerProc struct {
	p     *rig.Proc
	stdin *os.File
	lines chan string
	err   *rig.Buffer
}

func startViewers(t *testing.T, r *room, round int) *viewerProc {
	t.Helper()
	cmd := exec.Command(viewersPath, "--server", r.ps.URL(), "--key", r.ps.Key, "--parent", r.relay.id,
		"--n", strconv.Itoa(soakPerRound), "--parallel", strconv.Itoa(soakParallel),
		"--first", soakFirstPacket.String(), "--name", fmt.Sprintf("soak%d", round))
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	v := &viewerProc{stdin: inW, lines: make(chan string, 4*soakPerRound), err: rig.NewBuffer(256 << 10)}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, v.err
	v.p, err = rig.StartProc(cmd)
	inR.Close()
	outW.Close()
	if err != nil {
		t.Fatalf("hostile: start viewers: %v", err)
	}
	t.Cleanup(func() {
		_ = v.stdin.Close()
		_ = v.p.Stop(0)
	})
	go func() {
		defer close(v.lines)
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			v.lines <- sc.Text()
		}
	}()
	return v
}

// next returns the next line, false at the end or after timeout.
func (v *viewerProc) next(timeout time.Duration) (string, bool) {
	select {
	case l, ok := <-v.lines:
		return l, ok
	case <-time.After(timeout):
		return "", false
	}
}

// TestHostileChurnSoak: 300 children join and leave the relay in rounds of
// 50. The children run in a viewers process per round (built without the
// race detector; in the test process under -race 50 viewers' media
// starved and failed ICE, a false failure).
func TestHostileChurnSoak(t *testing.T) {
	r := newRoom(t, false)
	base, err := r.relay.usage()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		round             int
		gotMedia, noMedia int
		medianMs, maxMs   int
		peak, after       usage
		children          int
	}
	var rows []row
	for round := 1; round <= soakRounds; round++ {
		s := startSampler(r.relay)
		s.seed(base)
		v := startViewers(t, r, round)
		x := row{round: round}
		var ms []int
		deadline := time.Now().Add(soakJoinWithin)
		for joined := false; !joined && time.Now().Before(deadline); {
			l, ok := v.next(time.Until(deadline))
			switch f := strings.Fields(l); {
			case !ok:
				t.Fatalf("round %d: the viewers process ended or hung: %v\n%s", round, v.p.Err(), v.err.String())
			case len(f) == 3 && f[0] == "media":
				n, _ := strconv.Atoi(f[2])
				ms = append(ms, n)
				x.gotMedia++
			case len(f) > 0 && f[0] == "nomedia":
				x.noMedia++
				t.Logf("round %d: %s", round, l)
			case l == "joined":
				joined = true
			}
		}
		if len(ms) > 0 {
			slices.Sort(ms)
			x.medianMs, x.maxMs = ms[len(ms)/2], ms[len(ms)-1]
		}
		var st stats
		waitFor(5*time.Second, func() bool { var err error; st, err = r.relay.stats(); return err == nil })
		x.children = len(st.Children)
		_ = v.stdin.Close() // the viewers leave
		left := false
		for i := 0; i < 4*soakPerRound && !left; i++ {
			l, ok := v.next(30 * time.Second)
			left = l == "left"
			if !ok {
				break
			}
		}
		select {
		case <-v.p.Done():
		case <-time.After(20 * time.Second):
		}
		_ = v.p.Stop(0)
		waitFor(recoverWithin, func() bool {
			u, err := r.relay.usage()
			return err != nil || u.gor <= base.gor+soakGorSlack
		})
		x.peak.rss, x.peak.gor = s.peaks()
		x.after, _ = r.relay.usage()
		rows = append(rows, x)
		if !r.relay.alive() {
			t.Fatalf("round %d: the relay died: %v", round, r.relay.p.Err())
		}
		if x.gotMedia != soakPerRound {
			t.Errorf("round %d: %d of %d children got media within %v", round, x.gotMedia, soakPerRound, soakFirstPacket)
		}
		if x.after.gor > base.gor+soakGorSlack {
			t.Errorf("round %d: %d goroutines after the children left, over baseline %d + %d", round, x.after.gor, base.gor, soakGorSlack)
		}
	}
	final := rows[len(rows)-1].after
	if final.rss > base.rss+soakRSSSlack {
		// Go returns memory lazily: give it the bounded recovery time
		// (with GCs, see waitRecovered).
		r.relay.waitRecovered(func(u usage) bool { return u.rss <= base.rss+soakRSSSlack })
		final, _ = r.relay.usage()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT soak: baseline RSS %.1f MiB, %d goroutines\n", mib(base.rss), base.gor)
	fmt.Fprintf(&b, "round  children  media≤10s  first pkt median/max ms  RSS peak  RSS after  gor peak  gor after\n")
	for _, x := range rows {
		fmt.Fprintf(&b, "%5d  %8d  %9d  %14d/%-8d  %8.1f  %9.1f  %8d  %9d\n", x.round, x.children, x.gotMedia,
			x.medianMs, x.maxMs, mib(x.peak.rss), mib(x.after.rss), x.peak.gor, x.after.gor)
	}
	fmt.Fprintf(&b, "final heap: %s\n", r.relay.heap())
	fmt.Fprintf(&b, "final RSS %.1f MiB (bound %.1f), goroutines %d (bound %d)", mib(final.rss), mib(base.rss+soakRSSSlack), final.gor, base.gor+soakGorSlack)
	t.Log(b.String())
	if final.rss > base.rss+soakRSSSlack {
		t.Errorf("RSS after the last round %.1f MiB, over baseline %.1f + %.1f MiB", mib(final.rss), mib(base.rss), mib(soakRSSSlack))
		r.relay.heapTop(t)
	}
}

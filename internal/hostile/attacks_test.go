package hostile

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/tree"
)

// pieceSize is the data of one hostile chunk: a full PeerJS piece packs to
// just under serial.ChunkMTU with its map around it.
const pieceSize = 16000

// Attack 1a: one chunk frame claims 6e9 pieces (and 63 more pieces of the
// same message follow) while the relay accepts messages up to 64 MiB.
func TestHostile1aHugeChunkTotal(t *testing.T) {
	r := newRoom(t, true, "--max-message-size", strconv.Itoa(64<<20))
	var g *gang
	r.runAttack(attack{
		name: "1a chunk total 6e9 (max-message-size 64 MiB)",
		run: func() time.Time {
			g = newGang(t, r.ps, 1, 15*time.Second)
			start := time.Now()
			conns := g.connectAll(r.relay.id, 1, 1)
			if len(conns) != 1 {
				t.Fatalf("hostile: the attacker could not connect")
			}
			data := make([]byte, pieceSize)
			for n := int64(0); n < 64; n++ {
				if err := sendPatiently(conns[0], chunkFrame(7, n, 6e9, data)); err != nil {
					t.Logf("attacker: send: %v", err)
					break
				}
			}
			// And the last piece of another such message.
			_ = sendPatiently(conns[0], chunkFrame(8, 6e9-1, 6e9, data))
			return start
		},
		leave:   func() { g.leave() },
		reject:  regexp.MustCompile(`toobig|too-big|malformed|reject`),
		rssPeak: 48 << 20, // nothing may be allocated for the claimed size: pion's buffers and GC headroom only
		gorPeak: 1*gorPerConn + gorPeakSlack,
		during:  allRates, after: allRates,
	})
}

// Attack 1b: 40 connections each hold an unfinished chunked message of
// 120 of 190 pieces (1.9 MB each, 77 MB in all); the relay's global
// budget --max-pending-bytes is 16 MiB. Bytes held (Peer.PendingHeld in
// /debug/stats, polled) stay within the budget, and RSS with it.
func TestHostile1bPendingChunks(t *testing.T) {
	const budget = 16 << 20
	r := newRoom(t, true, relayFlag(t, "max-pending-bytes", strconv.Itoa(budget))...)
	const conns, total, sent = 40, 190, 120
	var g *gang
	var heldMax float64
	heldSeen := false
	stopPoll := make(chan struct{})
	polled := make(chan struct{})
	r.runAttack(attack{
		name: fmt.Sprintf("1b %d connections × %d/%d pieces pending (budget %d MiB)", conns, sent, total, budget>>20),
		run: func() time.Time {
			g = newGang(t, r.ps, conns, 15*time.Second)
			start := time.Now()
			cs := g.connectAll(r.relay.id, 1, 10)
			t.Logf("attacker: %d of %d connections open", len(cs), conns)
			go func() { // the budget's fill, while the attack lasts
				defer close(polled)
				for i := 0; i < 100000; i++ {
					if s, err := r.relay.stats(); err == nil {
						if v, ok := s.counters()["Peer.PendingHeld"]; ok {
							heldSeen = true
							heldMax = max(heldMax, v)
						}
					}
					select {
					case <-stopPoll:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
			data := make([]byte, pieceSize)
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := int64(0); n < sent; n++ {
						if err := sendPatiently(c, chunkFrame(1, n, total, data)); err != nil {
							return
						}
					}
				}()
			}
			wg.Wait()
			return start
		},
		leave: func() {
			close(stopPoll)
			<-polled
			g.leave()
		},
		reject: regexp.MustCompile(`toobig|too-big|malformed|pendingrefused|evict|budget|reject`),
		// Bytes held are bounded by the budget; the heap may double them
		// before a GC, plus 40 connections' pion buffers.
		rssPeak: 2*budget + 48<<20,
		gorPeak: conns*gorPerConn + gorPeakSlack,
		during:  allRates, after: allRates,
		check: func(result) {
			t.Logf("RESULT 1b: pending bytes held at most %.1f MiB (budget %d MiB; reported: %v)", heldMax/(1<<20), budget>>20, heldSeen)
			if !heldSeen {
				t.Errorf("/debug/stats has no Peer.PendingHeld: cannot see the bytes held")
			} else if heldMax > budget {
				t.Errorf("pending bytes held peaked at %.0f, over the budget %d", heldMax, budget)
			}
		},
	})
}

// fakeReport is a valid report of id listing n fake children (~11 bytes each packed).
func fakeReport(id string, n int) []any {
	kids := make([]tree.Child, n)
	for i := range kids {
		kids[i] = tree.Child{ID: fmt.Sprintf("%s%06d", fakePrefix, i), Report: tree.Report{}}
	}
	return tree.BuildReport(id, "x", kids)
}

// Attack 2: a child sends valid reports listing 100,000 fake descendants
// (~1.1 MB each), two a second for 8 s (within --rate-limit).
func TestHostile2HugeReports(t *testing.T) {
	r := newRoom(t, true)
	x := startKid(t, r.ps, r.relay.id, "kidX", 0)
	if !waitFor(15*time.Second, func() bool { s, err := r.relay.stats(); return err == nil && s.hasChild(x.ID()) }) {
		t.Fatalf("hostile: the attacker did not become a child")
	}
	const fakes, reports, every = 100000, 16, 500 * time.Millisecond
	rep := peerjs.NewOutgoing(fakeReport(x.ID(), fakes))
	sentN := 0
	r.runAttack(attack{
		name: fmt.Sprintf("2 reports of %d fake descendants, %d × every %v", fakes, reports, every),
		run: func() time.Time {
			start := time.Now()
			for i := range reports {
				if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
					time.Sleep(d) // the attack's own schedule
				}
				if err := sendOutgoingPatiently(x.dc, rep); err != nil {
					t.Logf("attacker: send: %v", err)
					break
				}
				sentN++
			}
			return start
		},
		leave:   x.close,
		reject:  regexp.MustCompile(`rejected\..*(report|big|size|node|depth)`),
		rssPeak: 64 << 20, // a rejected report is garbage at once; a few in flight at 1.1 MB each
		gorPeak: gorPeakSlack,
		during:  allRates, after: allRates,
		check: func(result) {
			for _, k := range []*kid{r.a, r.b} {
				all, fake := k.roomMaps()
				t.Logf("RESULT 2: %s received %d room maps, %d naming fake ids (attacker sent %d reports)", k.name, all, fake, sentN)
				if fake > 0 {
					t.Errorf("%s received %d room maps naming the attacker's fake descendants", k.name, fake)
				}
			}
		},
	})
}

// Attack 3a: one peer id opens 300 data connections (50 at a time).
func TestHostile3aConnsPerPeer(t *testing.T) {
	const perPeerCap = 4 // --max-conns-per-peer default (node.DefaultMaxConnsPerPeer)
	r := newRoom(t, true)
	const n = 300
	var g *gang
	var opened int
	r.runAttack(attack{
		name: fmt.Sprintf("3a one peer opens %d connections", n),
		run: func() time.Time {
			g = newGang(t, r.ps, 1, 5*time.Second)
			start := time.Now()
			opened = len(g.connectAll(r.relay.id, n, 50))
			// The relay closes what is over the cap: wait for it.
			waitFor(10*time.Second, func() bool { return g.open.Load() <= perPeerCap })
			return start
		},
		leave:   func() { g.leave() },
		reject:  regexp.MustCompile(`refus|limit|toomany|too-many-conn|perpeer|per-peer|cap|overload`),
		gorPeak: perPeerCap*gorPerConn + gorPeakSlack,
		during:  allRates, after: allRates,
		check: func(result) {
			t.Logf("RESULT 3a: %d of %d connections opened, at most %d open at once, %d still open after the attempts, %d failed to open",
				opened, n, g.most.Load(), g.open.Load(), g.failed.Load())
			if o := g.open.Load(); o > perPeerCap {
				t.Errorf("one peer holds %d connections open, over --max-conns-per-peer %d", o, perPeerCap)
			}
		},
	})
}

// Attack 3b: 100 peer ids each open a connection and never report; the
// relay runs with --guest-timeout 3s.
func TestHostile3bSilentGuests(t *testing.T) {
	const guestTimeout = 3 * time.Second
	r := newRoom(t, true, relayFlag(t, "guest-timeout", guestTimeout.String())...)
	const n = 100
	var g *gang
	var opened, closed int
	r.runAttack(attack{
		name: fmt.Sprintf("3b %d silent guests (guest-timeout %v)", n, guestTimeout),
		run: func() time.Time {
			g = newGang(t, r.ps, n, 15*time.Second)
			start := time.Now()
			g.connectAll(r.relay.id, 1, 25)
			waitFor(guestTimeout+20*time.Second, func() bool { c, o := g.closedCount(); return c == o })
			closed, opened = g.closedCount()
			return start
		},
		leave:   func() { g.leave() },
		reject:  regexp.MustCompile(`guest|timeout|idle|expire`),
		gorPeak: n*gorPerConn + gorPeakSlack,
		during:  allRates, after: allRates,
		check: func(result) {
			t.Logf("RESULT 3b: %d of %d guests connected; the relay closed %d of them within %v", opened, n, closed, guestTimeout+20*time.Second)
			if closed != opened {
				t.Errorf("the relay left %d of %d silent guests open %v after they connected (--guest-timeout %v)", opened-closed, opened, guestTimeout+20*time.Second, guestTimeout)
			}
		},
	})
}

// Attack 4: a child bursts 500 chats. The host must reject nothing from
// the relay, and every chat of the good child A must reach an observer
// that is a child of the host.
func TestHostile4ChatBurst(t *testing.T) {
	r := newRoom(t, true)
	obs := startKid(t, r.ps, r.host.id, "observer", 0)
	x := startKid(t, r.ps, r.relay.id, "kidX", 0)
	if !waitFor(15*time.Second, func() bool { s, err := r.relay.stats(); return err == nil && s.hasChild(x.ID()) }) {
		t.Fatalf("hostile: the attacker did not become a child")
	}
	if !waitFor(15*time.Second, func() bool { return len(obs.chatTimes("kidA")) >= 10 }) {
		t.Fatalf("hostile: the observer under the host does not receive A's chat")
	}
	h0, err := r.host.stats()
	if err != nil {
		t.Fatal(err)
	}
	const burst = 500
	r.runAttack(attack{
		name: fmt.Sprintf("4 burst of %d chats", burst),
		run: func() time.Time {
			start := time.Now()
			for i := range burst {
				msg := []any{int64(tree.TypeChat), x.ID(), "kidX", "kidX #" + strconv.Itoa(i), nil, ""}
				if err := sendPatiently(x.dc, msg); err != nil {
					t.Logf("attacker: send: %v", err)
					break
				}
			}
			return start
		},
		leave:   x.close,
		rssPeak: 32 << 20,
		gorPeak: gorPeakSlack,
		during:  allRates, after: allRates,
		check: func(res result) {
			h1, err := r.host.stats()
			if err != nil {
				t.Errorf("host stats: %v", err)
				return
			}
			var rj []string
			for _, k := range sortedKeys(h1.Tree.Rejected) {
				if d := h1.Tree.Rejected[k] - h0.Tree.Rejected[k]; d > 0 {
					rj = append(rj, fmt.Sprintf("%s+%d", k, d))
				}
			}
			want := r.a.sentBetween(res.before.from, res.during.to)
			last := -1
			if len(want) > 0 {
				last = want[len(want)-1]
			}
			waitFor(15*time.Second, func() bool { return obs.chatSeqs("kidA")[last] })
			got := obs.chatSeqs("kidA")
			var missing []int
			for _, s := range want {
				if !got[s] {
					missing = append(missing, s)
				}
			}
			xs := len(obs.chatTimes("kidX"))
			t.Logf("RESULT 4: host rejected %v; A sent %d chats in the windows, the observer under the host missed %d; the observer got %d of %d burst chats",
				rj, len(want), len(missing), xs, burst)
			if d := h1.rejectedTotal() - h0.rejectedTotal(); d > 0 {
				t.Errorf("the host rejected %d messages (%v) from the relay", d, rj)
			}
			if len(missing) > 0 {
				t.Errorf("%d of A's %d chats never reached the host's observer: seqs %v", len(missing), len(want), first(missing, 20))
			}
		},
	})
}

func first(a []int, n int) []int { return a[:min(n, len(a))] }

// Attack 5: A's media call ends while its data connection stays up; the
// relay must call it again.
func TestHostile5CallEnds(t *testing.T) {
	r := newRoom(t, true)
	var calls0, calls1 int
	var recalledAt time.Time
	r.runAttack(attack{
		name: "5 a child's call ends, its data connection stays",
		run: func() time.Time {
			start := time.Now()
			calls0 = r.a.callCount()
			if err := r.a.dropCall(); err != nil {
				t.Fatalf("hostile: %v", err)
			}
			dropped := time.Now()
			if waitFor(15*time.Second, func() bool {
				return r.a.callCount() > calls0 && countAfter(r.a.packets(webrtc.RTPCodecTypeAudio), dropped) > 0
			}) {
				recalledAt = time.Now()
			}
			calls1 = r.a.callCount()
			return start
		},
		gorPeak: gorPeakSlack,
		rssPeak: 32 << 20,
		during:  rateCheck{chatA: true, chatB: true, mediaB: true}, // A's own media is what the attack cut
		after:   allRates,
		check: func(result) {
			t.Logf("RESULT 5: calls at A before %d, after %d (media again: %v); A's data connection open: %v",
				calls0, calls1, !recalledAt.IsZero(), r.a.connected())
			if calls1 <= calls0 || recalledAt.IsZero() {
				t.Errorf("A was not called again (with media) within 15 s of its call ending: calls %d → %d", calls0, calls1)
			}
			if !r.a.connected() {
				t.Errorf("A's data connection closed")
			}
		},
	})
}

// Attack 6: the relay stalls (SIGSTOP) for 5 s. Its children must still be
// its children afterwards and their media must resume.
func TestHostile6Stall(t *testing.T) {
	const stall = 5 * time.Second
	r := newRoom(t, true)
	var resumed bool
	r.runAttack(attack{
		name: fmt.Sprintf("6 SIGSTOP for %v", stall),
		run: func() time.Time {
			start := time.Now()
			if err := r.relay.p.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			time.Sleep(stall) // the attack itself
			if err := r.relay.p.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			cont := time.Now()
			resumed = waitFor(15*time.Second, func() bool {
				return countAfter(r.a.packets(webrtc.RTPCodecTypeAudio), cont) > 50 && countAfter(r.b.packets(webrtc.RTPCodecTypeAudio), cont) > 50
			})
			return start
		},
		gorPeak: gorPeakSlack,
		rssPeak: 32 << 20,
		during:  rateCheck{}, // nothing flows through a stopped process
		after:   allRates,
		check: func(result) {
			s, err := r.relay.stats()
			if err != nil {
				t.Errorf("relay stats: %v", err)
				return
			}
			t.Logf("RESULT 6: media resumed at A and B: %v; A connected %v, B connected %v; relay children %d (A %v, B %v); parent losses %d, parent %s",
				resumed, r.a.connected(), r.b.connected(), len(s.Children), s.hasChild(r.a.ID()), s.hasChild(r.b.ID()), s.ParentLosses, s.Parent)
			for _, k := range []*kid{r.a, r.b} {
				if !k.connected() || !s.hasChild(k.ID()) {
					t.Errorf("%s is no longer the relay's child after the stall (connected %v, in the relay's children %v)", k.name, k.connected(), s.hasChild(k.ID()))
				}
			}
			if !resumed {
				t.Errorf("media did not resume at both children within 15 s of SIGCONT")
			}
		},
	})
}

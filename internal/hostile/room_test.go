package hostile

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/internal/testrig"
)

// Bounds shared by the attacks. The baseline is the relay with its parent
// and two good children, media and chat flowing.
const (
	// rateTolerance: the good children's chat and media rates during and
	// after an attack stay within 10 % of their rate before it (issue 9).
	rateTolerance = 0.10
	// videoTolerance: the clip's video packet rate varies with its content
	// over a few seconds' window (key frames), so video is held to 25 %;
	// audio (Opus, one packet per 20 ms) carries the 10 % media check.
	videoTolerance = 0.25
	// window is the length of the before and after measurement windows,
	// and the least length of the during window.
	window = 5 * time.Second
	// chatEvery: each good child chats at 10/s.
	chatEvery = 100 * time.Millisecond
	// rssAfterSlack: after the attacker left, RSS comes back within 32 MiB
	// of the baseline (Go returns freed memory to the OS lazily; 32 MiB is
	// a few times the relay's live heap with two children).
	rssAfterSlack = 32 << 20
	// gorAfterSlack: after the attacker left, goroutines come back within
	// 40 of the baseline (timers, a pending HTTP keep-alive, pion's
	// closing goroutines of the last connection).
	gorAfterSlack = 40
	// gorPerConn: goroutines one incoming data connection costs the relay
	// while open (a pion PeerConnection: ICE agent, DTLS, SCTP, our
	// reader, timers; measured 20–30 on pion v4). Peak bounds are
	// baseline + allowed connections × gorPerConn + gorPeakSlack.
	gorPerConn   = 40
	gorPeakSlack = 100
	// recoverWithin bounds the wait for RSS and goroutines to come back.
	recoverWithin = 45 * time.Second
	// rejectWithin bounds the wait for the rejection counter to grow.
	rejectWithin = 10 * time.Second
	// overrun bounds the wait for the first event after a window (media
	// and chat flow every 20–100 ms when they flow at all).
	overrun = 8 * time.Second
)

// room is a host process, a relay process under it, and two good children
// A and B of the relay that chat at 10/s and receive media.
type room struct {
	t     *testing.T
	ps    *testrig.PeerServer
	host  *nodeProc
	relay *nodeProc
	a, b  *kid
}

var idSeq = time.Now().UnixNano() % 1e9

func newID(prefix string) string {
	idSeq++
	return fmt.Sprintf("%s-%d", prefix, idSeq)
}

// relayFlag returns []string{"--name", value} if this build's join knows
// --name; else it reports an error (the fix is missing) and returns nil,
// and the relay runs with its default.
func relayFlag(t *testing.T, name, value string) []string {
	t.Helper()
	gate(t)
	if hasFlag(joinHelp, name) {
		return []string{"--" + name, value}
	}
	t.Errorf("hostile: this build's join has no --%s (the fix is missing); running without it", name)
	return nil
}

// newRoom starts the PeerServer, the host, the relay (with extra join
// flags) and, if kids, the good children A and B; it waits until the relay
// has the host's stream and A and B each receive media and the other's
// chat.
func newRoom(t *testing.T, kids bool, relayArgs ...string) *room {
	t.Helper()
	gate(t)
	r := &room{t: t}
	r.ps = testrig.StartPeerServer(t)
	hostID, relayID := newID("host"), newID("relay")
	r.host = startNode(t, "host", hostID, r.ps, "host", "--unlisted", "--name", "hostile host")
	if !waitFor(20*time.Second, func() bool { _, err := r.host.stats(); return err == nil || !r.host.alive() }) || !r.host.alive() {
		t.Fatalf("hostile: the host did not start")
	}
	args := append([]string{"join", "--parent", hostID, "--name", "relay under test"}, relayArgs...)
	r.relay = startNode(t, "relay", relayID, r.ps, args...)
	if !waitFor(30*time.Second, func() bool {
		s, err := r.relay.stats()
		return (err == nil && s.Parent == hostID && s.Media.Ready) || !r.relay.alive()
	}) || !r.relay.alive() {
		t.Fatalf("hostile: the relay did not join the host with its stream within 30 s")
	}
	if !kids {
		return r
	}
	r.a = startKid(t, r.ps, relayID, "kidA", chatEvery)
	r.b = startKid(t, r.ps, relayID, "kidB", chatEvery)
	if !waitFor(30*time.Second, func() bool {
		return len(r.a.chatTimes("kidB")) >= 20 && len(r.b.chatTimes("kidA")) >= 20 &&
			len(r.a.packets(webrtc.RTPCodecTypeAudio)) >= 100 && len(r.b.packets(webrtc.RTPCodecTypeAudio)) >= 100
	}) {
		t.Fatalf("hostile: the good children are not steady within 30 s: A has %d chats %d audio, B %d chats %d audio",
			len(r.a.chatTimes("kidB")), len(r.a.packets(webrtc.RTPCodecTypeAudio)),
			len(r.b.chatTimes("kidA")), len(r.b.packets(webrtc.RTPCodecTypeAudio)))
	}
	return r
}

// rates are the good children's receive rates over a window, per second.
type rates struct {
	from, to     time.Time
	chatA, chatB float64 // at A (B's chat), at B (A's chat)
	audA, audB   float64
	vidA, vidB   float64
}

func (r *room) rates(from, to time.Time) rates {
	return rates{from: from, to: to,
		chatA: rate(r.a.chatTimes("kidB"), from, to), chatB: rate(r.b.chatTimes("kidA"), from, to),
		audA: rate(r.a.packets(webrtc.RTPCodecTypeAudio), from, to), audB: rate(r.b.packets(webrtc.RTPCodecTypeAudio), from, to),
		vidA: rate(r.a.packets(webrtc.RTPCodecTypeVideo), from, to), vidB: rate(r.b.packets(webrtc.RTPCodecTypeVideo), from, to)}
}

func (x rates) String() string {
	return fmt.Sprintf("chat A/B %.1f/%.1f, audio A/B %.1f/%.1f, video A/B %.1f/%.1f",
		x.chatA, x.chatB, x.audA, x.audB, x.vidA, x.vidB)
}

// measure waits until the window [from, to) is over — both children have
// received a chat and an audio packet after it, or overrun more passed (the
// media may have stopped: the rates then show it) — and returns its rates.
func (r *room) measure(from, to time.Time) rates {
	if d := time.Until(to); d > 0 {
		time.Sleep(d) // the window itself, not a guess
	}
	waitFor(overrun, func() bool {
		return countAfter(r.a.chatTimes("kidB"), to) > 0 && countAfter(r.b.chatTimes("kidA"), to) > 0 &&
			countAfter(r.a.packets(webrtc.RTPCodecTypeAudio), to) > 0 && countAfter(r.b.packets(webrtc.RTPCodecTypeAudio), to) > 0
	})
	return r.rates(from, to)
}

// steadyWithin: two consecutive baseline windows agreeing this closely
// make a baseline (the machine is shared: one window can catch a hiccup).
const steadyWithin = 0.05

// baseline measures windows until two consecutive ones agree within
// steadyWithin on every chat and audio rate (at most 4 windows), and
// returns the last.
func (r *room) baseline() rates {
	close := func(a, b float64) bool { return math.Abs(a-b) <= steadyWithin*max(a, b) }
	var prev rates
	for i := 0; i < 4; i++ {
		w0 := time.Now()
		cur := r.measure(w0, w0.Add(window))
		if i > 0 && close(prev.chatA, cur.chatA) && close(prev.chatB, cur.chatB) &&
			close(prev.audA, cur.audA) && close(prev.audB, cur.audB) {
			return cur
		}
		if i > 0 {
			r.t.Logf("baseline window %d not steady (%v after %v); measuring again", i+1, cur, prev)
		}
		prev = cur
	}
	r.t.Logf("baseline not steady in 4 windows; using the last")
	return prev
}

// within checks got against base ± tol, naming what.
func within(t *testing.T, what string, base, got, tol float64) {
	t.Helper()
	if base <= 0 {
		t.Errorf("%s: no baseline rate (%.1f/s)", what, base)
		return
	}
	if math.Abs(got-base) > tol*base {
		t.Errorf("%s: %.1f/s, baseline %.1f/s: off by %.0f %% (allowed %.0f %%)", what, got, base, 100*math.Abs(got-base)/base, 100*tol)
	}
}

// which rates an attack holds to the baseline.
type rateCheck struct {
	chatA, chatB, mediaA, mediaB bool
}

var allRates = rateCheck{true, true, true, true}

func (r *room) checkRates(label string, base, got rates, c rateCheck) {
	t := r.t
	t.Helper()
	if c.chatA {
		within(t, label+" chat at A (from B)", base.chatA, got.chatA, rateTolerance)
	}
	if c.chatB {
		within(t, label+" chat at B (from A)", base.chatB, got.chatB, rateTolerance)
	}
	if c.mediaA {
		within(t, label+" audio packets at A", base.audA, got.audA, rateTolerance)
		within(t, label+" video packets at A", base.vidA, got.vidA, videoTolerance)
	}
	if c.mediaB {
		within(t, label+" audio packets at B", base.audB, got.audB, rateTolerance)
		within(t, label+" video packets at B", base.vidB, got.vidB, videoTolerance)
	}
}

// attack describes one hostile run against the room's relay.
type attack struct {
	name string
	// run carries out the attack and returns when its traffic is sent (the
	// attacker still connected); it returns when the attack started.
	run func() (start time.Time)
	// leave makes the attacker go away (nil: nothing to do).
	leave func()
	// reject, if set, matches (case-insensitive) the /debug/stats counter
	// paths of which one must grow by the attack, read while the attacker
	// is still connected.
	reject *regexp.Regexp
	// rssPeak and gorPeak bound the relay's RSS and goroutines above the
	// baseline during the attack.
	rssPeak int64
	gorPeak int
	// during and after: which rates must hold (after: measured once RSS
	// and goroutines came back).
	during, after rateCheck
	// check runs more assertions after the after window.
	check func(res result)
}

// result is what an attack measured.
type result struct {
	base, peak, after usage
	before, during    rates
	afterRates        rates
	rejections        map[string]float64
}

// runAttack measures the baseline, runs the attack, checks the rejection,
// lets the attacker leave, waits for recovery, and asserts and logs
// everything.
func (r *room) runAttack(a attack) result {
	t := r.t
	t.Helper()
	var res result
	res.before = r.baseline()
	base, err := r.relay.usage()
	if err != nil {
		t.Fatalf("hostile: baseline usage: %v", err)
	}
	res.base = base
	st0, err := r.relay.stats()
	if err != nil {
		t.Fatalf("hostile: baseline stats: %v", err)
	}
	c0 := st0.counters()

	s := startSampler(r.relay)
	s.seed(base)
	start := a.run()
	end := time.Now()
	if end.Sub(start) < window {
		end = start.Add(window)
	}
	res.during = r.measure(start, end)

	// The rejection, while the attacker is still connected (per-connection
	// counters leave with their connection).
	res.rejections = map[string]float64{}
	counted := false
	waitFor(rejectWithin, func() bool {
		st, err := r.relay.stats()
		if err != nil {
			return !r.relay.alive()
		}
		for p, v := range st.counters() {
			if d := v - c0[p]; d > 0 && !strings.HasPrefix(p, "Media.") && !strings.Contains(p, "Forwarded") &&
				!strings.Contains(p, "Received") && !strings.Contains(p, "Sent") {
				res.rejections[p] = d
				if a.reject != nil && a.reject.MatchString(strings.ToLower(p)) {
					counted = true
				}
			}
		}
		return counted || a.reject == nil
	})
	if a.leave != nil {
		a.leave()
	}
	r.relay.waitRecovered(func(u usage) bool { return u.gor <= base.gor+gorAfterSlack && u.rss <= base.rss+rssAfterSlack })
	res.peak.rss, res.peak.gor = s.peaks()
	res.after, _ = r.relay.usage()
	w1 := time.Now()
	res.afterRates = r.measure(w1, w1.Add(window))

	t.Logf("RESULT %s: (test process race detector: %v)", a.name, raceEnabled)
	t.Logf("RESULT %s: relay alive %v; RSS MiB before/peak/after %.1f/%.1f/%.1f; goroutines before/peak/after %d/%d/%d",
		a.name, r.relay.alive(), mib(res.base.rss), mib(res.peak.rss), mib(res.after.rss), res.base.gor, res.peak.gor, res.after.gor)
	t.Logf("RESULT %s: relay heap after: %s", a.name, r.relay.heap())
	t.Logf("RESULT %s: rates/s before: %v", a.name, res.before)
	t.Logf("RESULT %s: rates/s during: %v", a.name, res.during)
	t.Logf("RESULT %s: rates/s after:  %v", a.name, res.afterRates)
	var rj []string
	for _, k := range sortedKeys(res.rejections) {
		rj = append(rj, fmt.Sprintf("%s+%.0f", k, res.rejections[k]))
	}
	t.Logf("RESULT %s: counters grown during the attack: %s", a.name, strings.Join(rj, " "))

	if !r.relay.alive() {
		t.Fatalf("%s: the relay process died: %v", a.name, r.relay.p.Err())
	}
	r.checkRates("during", res.before, res.during, a.during)
	r.checkRates("after", res.before, res.afterRates, a.after)
	if a.rssPeak > 0 && res.peak.rss > base.rss+a.rssPeak {
		t.Errorf("%s: RSS peaked at %.1f MiB, over the bound baseline %.1f + %.1f MiB", a.name, mib(res.peak.rss), mib(base.rss), mib(a.rssPeak))
	}
	if a.gorPeak > 0 && res.peak.gor > base.gor+a.gorPeak {
		t.Errorf("%s: goroutines peaked at %d, over the bound baseline %d + %d", a.name, res.peak.gor, base.gor, a.gorPeak)
	}
	if res.after.rss > base.rss+rssAfterSlack {
		t.Errorf("%s: RSS %.1f MiB %v after the attacker left, over baseline %.1f + %.1f MiB", a.name, mib(res.after.rss), recoverWithin, mib(base.rss), mib(rssAfterSlack))
	}
	if res.after.gor > base.gor+gorAfterSlack {
		t.Errorf("%s: %d goroutines %v after the attacker left, over baseline %d + %d", a.name, res.after.gor, recoverWithin, base.gor, gorAfterSlack)
	}
	if a.reject != nil && !counted {
		t.Errorf("%s: no counter matching %q grew in /debug/stats (grown: %v)", a.name, a.reject, rj)
	}
	if a.check != nil {
		a.check(res)
	}
	return res
}

package tree

import (
	"reflect"
	"testing"
	"time"
)

// callsOf lists the Call outputs as "peer:reason:gen" and HangUp as
// "hangup:peer", in order.
func callsOf(out []Output) []string {
	var s []string
	for _, o := range out {
		switch o := o.(type) {
		case Call:
			s = append(s, o.Peer+":"+o.Reason.String()+":"+string(rune('0'+o.Gen)))
		case HangUp:
			s = append(s, "hangup:"+o.Peer)
		}
	}
	return s
}

// lastCall is the id of the last Call in out (0 if none).
func lastCall(out []Output) CallID {
	var id CallID
	for _, o := range out {
		if c, ok := o.(Call); ok {
			id = c.ID
		}
	}
	return id
}

// TestCallPolicy walks a relay through the life of its children's calls:
// who waits without a stream, who is called when it arrives or changes,
// who keeps a current call, a failed call, a lost child.
func TestCallPolicy(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	report := func(peer string) []Output {
		return g.from(peer, []any{int64(1), int64(0), int64(0), []any{}, peer, peer + "-name", []any{}})
	}
	steps := []struct {
		name string
		do   func() []Output
		want []string
	}{
		{"A joins without a stream: it waits", func() []Output { g.open("A"); return report("A") }, nil},
		{"B joins and asks (type 4): it waits, we ask up", func() []Output {
			g.open("B")
			report("B")
			return g.from("B", []any{int64(4), "B"})
		}, nil},
		{"the stream arrives: each called for the reason it waits", func() []Output { return g.r.StreamChanged(true, 1, g.now) },
			[]string{"A:joined:1", "B:refresh:1"}},
		{"the same generation again: nothing", func() []Output { return g.r.StreamChanged(true, 1, g.now) }, nil},
		{"C joins with a stream: called at once", func() []Output { g.open("C"); return report("C") }, []string{"C:joined:1"}},
		{"A asks: a new call, though its call is current", func() []Output { return g.from("A", []any{int64(4), "A"}) },
			[]string{"A:refresh:1"}},
		{"the stream changes: every child called again", func() []Output { return g.r.StreamChanged(true, 2, g.now) },
			[]string{"A:stream-arrived:2", "B:stream-arrived:2", "C:stream-arrived:2"}},
		{"B's data connection closes: its call is hung up", func() []Output { return g.r.Closed("B/dc") },
			[]string{"hangup:B"}},
		{"a guest lends (type 2): called", func() []Output { g.open("L"); return g.from("L", []any{int64(2), "L", "l"}) },
			[]string{"L:lend:2"}},
		{"the stream goes: nothing to do", func() []Output { return g.r.StreamChanged(false, 0, g.now) }, nil},
		{"D joins without a stream: it waits", func() []Output { g.open("D"); return report("D") }, nil},
		{"a stream again: D for joining, the rest for the new stream", func() []Output { return g.r.StreamChanged(true, 3, g.now) },
			[]string{"A:stream-arrived:3", "C:stream-arrived:3", "D:joined:3"}},
	}
	for i, st := range steps {
		g.now = g.now.Add(time.Second)
		if got := callsOf(st.do()); !reflect.DeepEqual(got, st.want) {
			t.Fatalf("step %d (%s): %v, want %v", i, st.name, got, st.want)
		}
	}
}

// TestCallFeedback: what the owner reports back about a call.
func TestCallFeedback(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.r.StreamChanged(true, 1, g.now)
	g.open("A")
	id := lastCall(g.from("A", []any{int64(1), int64(0), int64(0), []any{}, "A", "A", []any{}}))
	if id == 0 {
		t.Fatal("no call")
	}
	// The source moved on before the call was placed: the call carries
	// generation 2, so the change to 2 does not call A again.
	g.r.CallStarted(id, 2)
	if got := callsOf(g.r.StreamChanged(true, 2, g.now)); got != nil {
		t.Fatalf("A's call already carries 2: %v", got)
	}
	// The stream went away as the call was placed: A waits for it again,
	// for the reason it was called.
	id = lastCall(g.from("A", []any{int64(4), "A"}))
	g.r.CallEnded(id, CallNoStream, g.now)
	if !g.r.calls.waiting("A", MediaRefresh) {
		t.Fatal("A does not wait after no stream")
	}
	if got := callsOf(g.r.StreamChanged(true, 3, g.now)); !reflect.DeepEqual(got, []string{"A:refresh:3"}) {
		t.Fatalf("after no stream: %v", got)
	}
	// A call that failed is not retried: the page asks again if it wants.
	id = lastCall(g.from("A", []any{int64(4), "A"}))
	g.r.CallEnded(id, CallFailed, g.now)
	g.now = g.now.Add(RecallMax)
	if got := callsOf(g.r.Tick(g.now)); got != nil {
		t.Fatalf("failed call retried: %v", got)
	}
	// News of an old call changes nothing.
	g.from("A", []any{int64(4), "A"})
	g.r.CallEnded(id, CallClosed, g.now)
	g.now = g.now.Add(RecallMax)
	if got := callsOf(g.r.Tick(g.now)); got != nil {
		t.Fatalf("stale end re-called: %v", got)
	}
}

// TestRecallBackoff: a child whose call keeps ending is called again after
// 1, 2, 4 ... s, at most 30 s apart; a call that lasted resets the back-off,
// and a peer that is not (or no longer) a child is not called.
func TestRecallBackoff(t *testing.T) {
	g := newRig(t, RelayConfig{})
	g.parent()
	g.r.StreamChanged(true, 1, g.now)
	g.open("A")
	id := lastCall(g.from("A", []any{int64(1), int64(0), int64(0), []any{}, "A", "A", []any{}}))
	// recall ends id at once and returns how long until the re-call.
	recall := func(id CallID, lasted time.Duration) (time.Duration, CallID) {
		t.Helper()
		g.now = g.now.Add(lasted)
		g.r.CallEnded(id, CallClosed, g.now)
		start := g.now
		for range 200 { // 50 s of 250 ms ticks: past RecallMax
			g.now = g.now.Add(250 * time.Millisecond)
			if out := g.r.Tick(g.now); len(callsOf(out)) > 0 {
				if got := callsOf(out); !reflect.DeepEqual(got, []string{"A:recall:1"}) {
					t.Fatalf("re-call %v", got)
				}
				return g.now.Sub(start), lastCall(out)
			}
		}
		return -1, 0
	}
	var delays []time.Duration
	for range 8 {
		var d time.Duration
		d, id = recall(id, 0) // the call ended at once
		delays = append(delays, d)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range want {
		if delays[i] != want[i]*time.Second {
			t.Fatalf("delays %v, want %v s", delays, want)
		}
	}
	if st := g.r.Stats(); st.Recalls != 8 {
		t.Fatalf("recalls counted %d", st.Recalls)
	}
	// A call that lasted 30 s was a good one.
	if d, _ := recall(id, RecallHealthy); d != time.Second {
		t.Fatalf("after a healthy call: %v, want 1 s", d)
	}
	// A guest's call (a lend) that ends is not placed again.
	g.open("L")
	lid := lastCall(g.from("L", []any{int64(2), "L", "l"}))
	g.r.CallEnded(lid, CallClosed, g.now)
	for range 200 {
		g.now = g.now.Add(250 * time.Millisecond)
		for _, c := range callsOf(g.r.Tick(g.now)) {
			if c[0] == 'L' {
				t.Fatalf("guest re-called: %v", c)
			}
		}
	}
}

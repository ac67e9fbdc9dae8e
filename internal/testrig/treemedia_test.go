package testrig

import (
	"fmt"
	"testing"
	"time"
)

// TestTreeMedia checks media on the tree test page, browsers only: a host H
// with camera+mic, an audience A under H and an audience B under A that
// gets the video from A (A relays by calling B with the stream it
// receives, as the pages do); a late audience C under H; a refresh; and a
// second room whose host starts its stream after its audiences joined
// (type 4 flow of generation C).
func TestTreeMedia(t *testing.T) {
	start := time.Now()
	ps := StartPeerServer(t)
	web := StartWebServer(t)
	br := StartBrowser(t)

	open := func(role string, extra map[string]any) (*Page, string) {
		t.Helper()
		p := br.NewPage(t, web.PageURL("tree.html"))
		var id string
		p.Eval(t, "P.start"+role+"("+treeOpts(ps, extra)+")", &id)
		return p, id
	}
	// waitChild waits until page p has child id registered.
	waitChild := func(p *Page, id string) {
		t.Helper()
		p.Eval(t, "P.waitFor("+JSON(fmt.Sprintf("P.children().includes(%s)", JSON(id)))+", 10000)", nil)
	}
	from := func(v TreeVideo) string {
		if v.From == nil {
			return ""
		}
		return *v.From
	}

	h, hid := open("Host", map[string]any{"name": "Host", "stream": true})
	a, aid := open("Audience", map[string]any{"parent": hid, "name": "A"})
	va := WaitTreeVideo(t, a, 1, 1, 15*time.Second)
	t.Logf("A decodes after %v: %v", time.Since(start), va)
	b, bid := open("Audience", map[string]any{"parent": aid, "name": "B"})
	vb := WaitTreeVideo(t, b, 1, 1, 15*time.Second)
	t.Logf("B decodes after %v: %v", time.Since(start), vb)
	if from(va) != hid || from(vb) != aid {
		t.Errorf("callers: A got its call from %q (want H %s), B from %q (want A %s)", from(va), hid, from(vb), aid)
	}

	t.Run("flow", func(t *testing.T) {
		// Wait (bounded, generously) for both to decode more frames, not a
		// guessed second.
		a1, b1 := TreeVideoOf(t, a), TreeVideoOf(t, b)
		a2, b2 := a1, b1
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if a2, b2 = TreeVideoOf(t, a), TreeVideoOf(t, b); a2.FramesDecoded > a1.FramesDecoded && b2.FramesDecoded > b1.FramesDecoded {
				break
			}
		}
		for _, x := range []struct {
			name   string
			v1, v2 TreeVideo
		}{{"A", a1, a2}, {"B", b1, b2}} {
			d := x.v2.FramesDecoded - x.v1.FramesDecoded
			t.Logf("%s: %d more frames decoded; %v", x.name, d, x.v2)
			if d <= 0 {
				t.Errorf("%s: framesDecoded did not rise (%d -> %d)", x.name, x.v1.FramesDecoded, x.v2.FramesDecoded)
			}
			if x.v2.Audio.PacketsReceived == 0 {
				t.Errorf("%s: no audio packets", x.name)
			}
			if x.v2.Calls != 1 {
				t.Errorf("%s: %d calls received, want 1", x.name, x.v2.Calls)
			}
		}
	})

	t.Run("size", func(t *testing.T) {
		// The encoder may start below the capture size and ramp up: wait
		// (bounded) until both receivers decode what H encodes.
		deadline := time.Now().Add(30 * time.Second)
		for {
			sent := TreeSentOf(t, h)
			va, vb := TreeVideoOf(t, a), TreeVideoOf(t, b)
			ok := sent.FramesEncoded > 0 &&
				va.FrameWidth == sent.FrameWidth && va.FrameHeight == sent.FrameHeight &&
				vb.FrameWidth == sent.FrameWidth && vb.FrameHeight == sent.FrameHeight
			if ok || time.Now().After(deadline) {
				t.Logf("H sends %dx%d (track %+v, %d frames encoded, codec %v, limited by %v); A decodes %dx%d, B %dx%d",
					sent.FrameWidth, sent.FrameHeight, sent.Track, sent.FramesEncoded, deref(sent.Codec), deref(sent.QualityLimitationReason),
					va.FrameWidth, va.FrameHeight, vb.FrameWidth, vb.FrameHeight)
				if !ok {
					t.Errorf("frame sizes differ after 30 s")
				}
				if sent.Track == nil || sent.Track.Width != 640 || sent.Track.Height != 480 {
					t.Errorf("host's track settings %+v, want 640x480", sent.Track)
				}
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	})

	t.Run("late", func(t *testing.T) {
		t0 := time.Now()
		c, _ := open("Audience", map[string]any{"parent": hid, "name": "C"})
		v := WaitTreeVideo(t, c, 1, 1, 15*time.Second)
		if v.FirstFrameMs == nil || from(v) != hid {
			t.Fatalf("late audience C: %v", v)
		}
		t.Logf("C: first frame %.0f ms after the call arrived, %v after page open; %v", *v.FirstFrameMs, time.Since(t0), v)
	})

	t.Run("refresh", func(t *testing.T) {
		// B asks A again: A holds the stream, hangs up its old call to B and
		// calls B anew.
		t0 := time.Now()
		var sent bool
		b.Eval(t, "P.refresh()", &sent)
		if !sent {
			t.Fatal("B's refresh was not sent")
		}
		v := WaitTreeVideo(t, b, 1, 2, 15*time.Second)
		t.Logf("B decodes its second call after %v (first frame %v ms)", time.Since(t0), derefF(v.FirstFrameMs))
		if from(v) != aid {
			t.Errorf("B's second call from %q, want A", from(v))
		}
		var m struct {
			OutCalls []string `json:"outCalls"`
		}
		a.Eval(t, "P.waitFor('P.media().outCalls.length === 1', 5000)", nil)
		a.Eval(t, "P.media()", &m)
		if len(m.OutCalls) != 1 || m.OutCalls[0] != bid {
			t.Errorf("A's calls after the refresh: %q, want only B", m.OutCalls)
		}
	})

	t.Run("startlater", func(t *testing.T) {
		h2, h2id := open("Host", map[string]any{"name": "H2"})
		a2, a2id := open("Audience", map[string]any{"parent": h2id, "name": "A2"})
		waitChild(h2, a2id)
		b2, b2id := open("Audience", map[string]any{"parent": a2id, "name": "B2"})
		waitChild(a2, b2id)

		// Not live yet: a refresh from B2 goes up through A2 and comes
		// back as [4, 0] ("not live") at both.
		b2.Eval(t, "P.refresh()", nil)
		a2.Eval(t, "P.waitFor('P.media().notLive >= 1', 5000)", nil)
		b2.Eval(t, "P.waitFor('P.media().notLive >= 1', 5000)", nil)

		t0 := time.Now()
		var told int
		h2.Eval(t, "P.startStream()", &told)
		if told != 1 {
			t.Errorf("startStream told %d children, want 1", told)
		}
		va := WaitTreeVideo(t, a2, 1, 1, 15*time.Second)
		da := time.Since(t0)
		vb := WaitTreeVideo(t, b2, 1, 1, 15*time.Second)
		t.Logf("stream started after the audiences joined: A2 decodes after %v, B2 after %v", da, time.Since(t0))
		t.Logf("A2: %v", va)
		t.Logf("B2: %v", vb)
		if from(va) != h2id || from(vb) != a2id {
			t.Errorf("callers: A2 from %q, B2 from %q", from(va), from(vb))
		}
		time.Sleep(500 * time.Millisecond) // a duplicate call would show up by now
		if va, vb := TreeVideoOf(t, a2), TreeVideoOf(t, b2); va.Calls != 1 || vb.Calls != 1 {
			t.Errorf("calls received: A2 %d, B2 %d, want 1 each", va.Calls, vb.Calls)
		}
	})

	for name, p := range map[string]*Page{"H": h, "A": a, "B": b} {
		var errs []string
		p.Eval(t, "P.errors()", &errs)
		if len(errs) > 0 {
			t.Logf("%s page errors: %q", name, errs)
		}
	}
	t.Logf("total %v", time.Since(start))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefF(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

package clip

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// fakeClock is a clock that only moves when Play sleeps or a test moves it.
// Play calls it from one goroutine, so it needs no lock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.now = c.now.Add(d)
	return nil
}

type sent struct {
	kind Kind
	p    *rtp.Packet
	at   time.Duration // since Play started
}

// record returns a sink that appends to *out and calls hook, if not nil,
// after each packet.
func record(clock *fakeClock, out *[]sent, hook func(n int)) Sink {
	start := clock.now
	return SinkFunc(func(kind Kind, p *rtp.Packet) error {
		*out = append(*out, sent{kind, p, clock.now.Sub(start)})
		if hook != nil {
			hook(len(*out))
		}
		return nil
	})
}

// TestPlay plays the default clip twice on a fake clock and checks both
// streams packet by packet.
func TestPlay(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	const loops = 2
	tests := []struct {
		name  string
		stall time.Duration // the clock jumps this far after audio packet 300
		skip  bool          // whether the timestamps skip the stall
	}{
		{name: "on time"},
		{name: "short stall, catch up", stall: 300 * time.Millisecond},
		{name: "long stall, skip", stall: 5 * time.Second, skip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			var got []sent
			audioSent := 0
			sink := record(clock, &got, func(n int) {
				if got[n-1].kind == KindAudio {
					if audioSent++; audioSent == 300 {
						clock.now = clock.now.Add(tt.stall)
					}
				}
			})
			o := PlayOptions{Loops: loops, Now: clock.Now, Sleep: clock.Sleep}
			if err := c.Play(t.Context(), sink, o); err != nil {
				t.Fatalf("Play: %v", err)
			}
			var video, audio []sent
			for _, s := range got {
				if s.kind == KindVideo {
					video = append(video, s)
				} else {
					audio = append(audio, s)
				}
			}
			vShift := checkStream(t, c, video, loops, tt.stall, tt.skip)
			aShift := checkStream(t, c, audio, loops, tt.stall, tt.skip)
			if vShift != aShift {
				t.Errorf("video skipped %v, audio %v: out of sync", vShift, aShift)
			}
			checkVP8(t, c, video, loops)
		})
	}
}

// checkStream checks one track's packets and returns how far its
// timestamps skipped.
func checkStream(t *testing.T, c *Clip, got []sent, loops int, stall time.Duration, skip bool) time.Duration {
	t.Helper()
	if len(got) == 0 {
		t.Fatal("no packets")
	}
	kind := got[0].kind
	rate, n, ts := uint64(VideoClockRate), len(c.video), func(i int) uint32 { return c.video[i].Timestamp }
	if kind == KindAudio {
		rate, n, ts = AudioClockRate, len(c.audio), func(i int) uint32 { return c.audio[i].Timestamp }
	}
	first := got[0].p
	item := -1 // index of the current frame or packet over all loops
	var shift, maxLate time.Duration
	for j, s := range got {
		p := s.p
		if p.SSRC != first.SSRC || p.PayloadType != first.PayloadType {
			t.Fatalf("%v packet %d: ssrc %d pt %d, want %d %d", kind, j, p.SSRC, p.PayloadType, first.SSRC, first.PayloadType)
		}
		if want := first.SequenceNumber + uint16(j); p.SequenceNumber != want {
			t.Fatalf("%v packet %d: seq %d, want %d", kind, j, p.SequenceNumber, want)
		}
		if j == 0 || p.Timestamp != got[j-1].p.Timestamp {
			item++
		} else if kind == KindAudio {
			t.Fatalf("audio packet %d: repeats the timestamp", j)
		}
		// The media time of the packet, and where it should be without
		// a skip.
		media := ticksToDuration(uint64(p.Timestamp-first.Timestamp), rate)
		want := ticksToDuration(uint64(item/n)*c.period(rate)+uint64(ts(item%n)), rate)
		if d := media - want; d < shift || d > 0 && !skip {
			t.Fatalf("%v packet %d: media time %v, want %v (+ skip %v)", kind, j, media, want, shift)
		} else {
			shift = d
		}
		// Never early; late only after a short stall.
		if late := s.at - media; late < 0 || late > 0 && (skip || late > stall) {
			t.Fatalf("%v packet %d: sent at %v, due %v", kind, j, s.at, media)
		} else {
			maxLate = max(maxLate, late)
		}
	}
	if item+1 != loops*n {
		t.Errorf("%v: %d frames or packets, want %d", kind, item+1, loops*n)
	}
	// The skip is the lateness of the next item after the stall, up to one
	// frame less than the stall.
	if skip && (shift < stall-40*time.Millisecond || shift > stall+time.Millisecond) {
		t.Errorf("%v: timestamps skipped %v, want about the stall (%v)", kind, shift, stall)
	}
	if !skip && stall > 0 && maxLate == 0 {
		t.Errorf("%v: no packet late after a stall of %v", kind, stall)
	}
	return shift
}

// checkVP8 checks the VP8 payload descriptors (RFC 7741 section 4.2):
// frames start with S=1 and partition 0, and the first frame of every loop
// is a keyframe (P bit 0 in the payload header); picture IDs count frames;
// the marker is on the last packet of each frame.
func checkVP8(t *testing.T, c *Clip, got []sent, loops int) {
	t.Helper()
	frame := -1
	var firstID uint16
	for j, s := range got {
		var vp8 codecs.VP8Packet
		if _, err := vp8.Unmarshal(s.p.Payload); err != nil {
			t.Fatalf("video packet %d: %v", j, err)
		}
		start := j == 0 || s.p.Timestamp != got[j-1].p.Timestamp
		end := j == len(got)-1 || s.p.Timestamp != got[j+1].p.Timestamp
		if s.p.Marker != end {
			t.Fatalf("video packet %d: marker %v, want %v", j, s.p.Marker, end)
		}
		if (vp8.S == 1) != start || vp8.PID != 0 || vp8.I != 1 {
			t.Fatalf("video packet %d: S=%d PID=%d I=%d, frame start %v", j, vp8.S, vp8.PID, vp8.I, start)
		}
		if !start {
			continue
		}
		frame++
		if frame == 0 {
			firstID = vp8.PictureID
		}
		if want := (firstID + uint16(frame)) & 0x7fff; vp8.PictureID != want {
			t.Fatalf("frame %d: picture id %d, want %d", frame, vp8.PictureID, want)
		}
		key := vp8.Payload[0]&0x01 == 0
		if want := c.video[frame%len(c.video)].Keyframe; key != want {
			t.Fatalf("frame %d: keyframe %v, want %v", frame, key, want)
		}
		if frame%len(c.video) == 0 && !key {
			t.Fatalf("frame %d, first of loop %d: not a keyframe", frame, frame/len(c.video))
		}
	}
	if frame+1 != loops*len(c.video) {
		t.Errorf("%d video frames, want %d", frame+1, loops*len(c.video))
	}
}

func TestPlayOptions(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		o                PlayOptions
		videoPT, audioPT uint8
		videoSSRC        uint32 // 0: random, nonzero and not the audio one
		audioSSRC        uint32
	}{
		{"defaults", PlayOptions{}, 96, 111, 0, 0},
		{"set", PlayOptions{VideoPT: 100, AudioPT: 101, VideoSSRC: 1234, AudioSSRC: 5678}, 100, 101, 1234, 5678},
		{"same ssrc kept", PlayOptions{VideoSSRC: 7, AudioSSRC: 7}, 96, 111, 7, 7},
		{"audio ssrc set", PlayOptions{AudioSSRC: 42}, 96, 111, 0, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			o := tt.o
			o.Loops, o.Now, o.Sleep = 1, clock.Now, clock.Sleep
			var pt [3]uint8
			var ssrc [3]uint32
			err := c.Play(t.Context(), SinkFunc(func(k Kind, p *rtp.Packet) error {
				pt[k], ssrc[k] = p.PayloadType, p.SSRC
				return nil
			}), o)
			if err != nil {
				t.Fatal(err)
			}
			if pt[KindVideo] != tt.videoPT || pt[KindAudio] != tt.audioPT {
				t.Errorf("payload types %d, %d; want %d, %d", pt[KindVideo], pt[KindAudio], tt.videoPT, tt.audioPT)
			}
			for _, k := range []Kind{KindVideo, KindAudio} {
				want := map[Kind]uint32{KindVideo: tt.videoSSRC, KindAudio: tt.audioSSRC}[k]
				if want != 0 && ssrc[k] != want || want == 0 && (ssrc[k] == 0 || ssrc[k] == ssrc[3-k]) {
					t.Errorf("%v ssrc %d, want %d (0: random)", k, ssrc[k], want)
				}
			}
		})
	}
}

// TestPlayRealTime plays on the wall clock (the default Now and Sleep) and
// cancels from the sink once the second video frame (due at 40 ms) is out.
// Nothing here depends on the machine's speed: which packets are sent
// before that frame follows from their due times alone, a packet is never
// sent before it is due (timers do not fire early), and a slow machine only
// makes every packet later.
func TestPlayRealTime(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var frames, packets int
	var first [3]uint32 // first RTP timestamp per kind
	var seen [3]bool
	begin := time.Now()
	err = c.Play(ctx, SinkFunc(func(k Kind, p *rtp.Packet) error {
		elapsed := time.Since(begin)
		rate := uint64(VideoClockRate)
		if k == KindAudio {
			rate = AudioClockRate
		}
		if !seen[k] {
			seen[k], first[k] = true, p.Timestamp
		}
		// The media time since the track's first packet is a lower bound
		// of when the packet is due after Play started.
		if media := ticksToDuration(uint64(p.Timestamp-first[k]), rate); elapsed < media {
			t.Errorf("%v packet at media time %v sent %v after Play started: early", k, media, elapsed)
		}
		if k == KindVideo && p.Marker {
			if frames++; frames == 2 {
				cancel()
			}
		} else if k == KindAudio {
			packets++
		}
		return nil
	}), PlayOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Play: %v, want context.Canceled", err)
	}
	// Sent before the second frame: the audio packets due before it (at
	// 0 and 20 ms; on a tie video goes first, so not the one at 40 ms).
	second := ticksToDuration(uint64(c.video[1].Timestamp), VideoClockRate)
	var wantPackets int
	for _, a := range c.audio {
		if ticksToDuration(uint64(a.Timestamp), AudioClockRate) < second {
			wantPackets++
		}
	}
	if frames != 2 || packets != wantPackets {
		t.Errorf("%d frames and %d audio packets before the cancel, want 2 and %d", frames, packets, wantPackets)
	}
}

// TestSleepCanceled: the wall-clock sleep returns the context's error as
// soon as the context is done, not when the timer fires (an hour: the
// test would time out), and nil when the timer fires first.
func TestSleepCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep on a canceled context: %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	go func() {
		// Cancel while sleep waits: no guessed delay, the cancel races
		// the start of sleep and either order must give context.Canceled.
		cancel()
	}()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep canceled while waiting: %v, want context.Canceled", err)
	}
	if err := sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("sleep(1ms): %v, want nil", err)
	}
}

func TestPlayStops(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	errSink := errors.New("sink failed")
	tests := []struct {
		name  string
		after int // packets the sink takes before it acts
		act   func(cancel context.CancelFunc) error
		want  error
	}{
		{"sink error", 5, func(context.CancelFunc) error { return errSink }, errSink},
		{"cancel", 5, func(cancel context.CancelFunc) error { cancel(); return nil }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			n := 0
			err := c.Play(ctx, SinkFunc(func(Kind, *rtp.Packet) error {
				if n++; n == tt.after {
					return tt.act(cancel)
				}
				return nil
			}), PlayOptions{Now: clock.Now, Sleep: clock.Sleep})
			if !errors.Is(err, tt.want) {
				t.Errorf("Play: %v, want %v", err, tt.want)
			}
			if n != tt.after {
				t.Errorf("sink called %d times, want %d", n, tt.after)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindUnknown: "unknown", KindVideo: "video", KindAudio: "audio", 9: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

// BenchmarkPlayLoop measures packetizing one 10 s loop of the default clip
// (about 750 frames and packets), without pacing.
func BenchmarkPlayLoop(b *testing.B) {
	c, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	sink := SinkFunc(func(Kind, *rtp.Packet) error { return nil })
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Play(b.Context(), sink, PlayOptions{Loops: 1, Now: clock.Now, Sleep: clock.Sleep}); err != nil {
			b.Fatal(err)
		}
	}
}

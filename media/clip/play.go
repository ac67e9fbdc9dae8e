package clip

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// Kind tells a Sink which track a packet belongs to.
type Kind uint8

// The kinds of track.
const (
	KindUnknown Kind = iota
	KindVideo
	KindAudio
)

func (k Kind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	}
	return "unknown"
}

// A Sink receives the packets of a playing clip. Each packet is new and
// belongs to the sink. WriteRTP is called from the goroutine that runs Play,
// one packet at a time; it should not block for long, since the clip waits
// for it (late packets are sent at once, see Clip.Play).
type Sink interface {
	WriteRTP(kind Kind, p *rtp.Packet) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(kind Kind, p *rtp.Packet) error

// WriteRTP calls f(kind, p).
func (f SinkFunc) WriteRTP(kind Kind, p *rtp.Packet) error { return f(kind, p) }

// PlayOptions configures Clip.Play. The zero value plays forever in real
// time with the default payload types and random SSRCs.
type PlayOptions struct {
	VideoPT   uint8  // RTP payload type of VP8; 0 means DefaultVideoPT
	AudioPT   uint8  // RTP payload type of Opus; 0 means DefaultAudioPT
	VideoSSRC uint32 // 0 means random
	AudioSSRC uint32 // 0 means random
	Loops     int    // how many times to play the clip; 0 means forever

	// Now and Sleep replace the wall clock, for tests and benchmarks; nil
	// means time.Now and a timer. Sleep must return ctx.Err() once ctx is
	// done.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Default payload types, the ones Chrome and pion offer for VP8 and Opus.
const (
	DefaultVideoPT = 96
	DefaultAudioPT = 111
)

const (
	// mtu bounds an RTP packet (header + payload) well below the 1280-byte
	// IPv6 minimum after UDP, SRTP and TURN overhead, like pion's default.
	mtu = 1200
	// maxLag is how late a packet may be before Play gives up catching up:
	// after a longer stall (a suspended machine, a debugger) it moves the
	// schedule forward instead of bursting the backlog, and skips the RTP
	// timestamps of both tracks by the same amount, so receivers see a
	// pause, not a flood.
	maxLag = time.Second
)

// Play sends the clip to sink as two RTP streams, VP8 and Opus, paced by
// the clock, until ctx is done (it returns ctx.Err()), o.Loops loops are
// played (it returns nil) or sink fails (it returns that error).
//
// Each loop continues the streams: sequence numbers run on without a gap,
// and the first frame of a loop, a keyframe, comes one frame duration after
// the previous loop's last frame, so a receiver sees one continuous stream.
// Both tracks loop with the same period (Duration), so they stay in sync.
// Packets are due at the start time plus their media time, never at the
// previous packet plus a sleep, so timer overshoot does not accumulate; a
// late packet is sent at once, up to maxLag late.
//
// Play runs in the caller's goroutine and starts none.
func (c *Clip) Play(ctx context.Context, sink Sink, o PlayOptions) error {
	o = o.withDefaults()
	video := &track{
		kind:   KindVideo,
		rate:   VideoClockRate,
		period: c.period(VideoClockRate),
		n:      len(c.video),
		item:   func(i int) ([]byte, uint32) { return c.video[i].Data, c.video[i].Timestamp },
		pz: rtp.NewPacketizer(mtu, o.VideoPT, o.VideoSSRC, &codecs.VP8Payloader{EnablePictureID: true},
			rtp.NewRandomSequencer(), VideoClockRate),
	}
	audio := &track{
		kind:   KindAudio,
		rate:   AudioClockRate,
		period: c.period(AudioClockRate),
		n:      len(c.audio),
		item:   func(i int) ([]byte, uint32) { return c.audio[i].Data, c.audio[i].Timestamp },
		pz: rtp.NewPacketizer(mtu, o.AudioPT, o.AudioSSRC, &codecs.OpusPayloader{},
			rtp.NewRandomSequencer(), AudioClockRate),
	}

	start := o.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The track due first; a finished track is due after every loop.
		// On a tie video goes first, as its frames take longer to send.
		t := video
		if audio.due() < video.due() {
			t = audio
		}
		if o.Loops > 0 && t.loop >= o.Loops {
			return nil
		}
		due := start.Add(t.due())
		if late := o.Now().Sub(due); late > maxLag {
			// Whole milliseconds are whole ticks in both clock rates.
			skip := late.Truncate(time.Millisecond) + time.Millisecond
			start = start.Add(skip)
			due = due.Add(skip)
			video.pz.SkipSamples(uint32(skip / time.Millisecond * VideoClockRate / 1000))
			audio.pz.SkipSamples(uint32(skip / time.Millisecond * AudioClockRate / 1000))
		}
		if wait := due.Sub(o.Now()); wait > 0 {
			if err := o.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		if err := t.send(sink); err != nil {
			return err
		}
	}
}

// A track is the playing state of one of a clip's tracks.
type track struct {
	kind   Kind
	rate   uint64 // clock rate
	period uint64 // loop period in ticks
	n      int    // frames or packets per loop
	item   func(i int) (data []byte, ts uint32)
	pz     rtp.Packetizer

	loop, i int // the next item to send is item(i) of loop
}

// due returns when the next item is due after the start of Play.
func (t *track) due() time.Duration {
	_, ts := t.item(t.i)
	return ticksToDuration(uint64(t.loop)*t.period+uint64(ts), t.rate)
}

// send packetizes the next item, passes its packets to sink and advances.
// The packetizer advances its timestamp by the gap to the next item; after
// the last item that is the rest of the loop period.
func (t *track) send(sink Sink) error {
	data, ts := t.item(t.i)
	next := uint32(t.period)
	if t.i+1 < t.n {
		_, next = t.item(t.i + 1)
	}
	for _, p := range t.pz.Packetize(data, next-ts) {
		if err := sink.WriteRTP(t.kind, p); err != nil {
			return err
		}
	}
	if t.i++; t.i == t.n {
		t.i = 0
		t.loop++
	}
	return nil
}

func (o PlayOptions) withDefaults() PlayOptions {
	if o.VideoPT == 0 {
		o.VideoPT = DefaultVideoPT
	}
	if o.AudioPT == 0 {
		o.AudioPT = DefaultAudioPT
	}
	if o.VideoSSRC == 0 {
		o.VideoSSRC = randomSSRC(o.AudioSSRC)
	}
	if o.AudioSSRC == 0 {
		o.AudioSSRC = randomSSRC(o.VideoSSRC)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

// randomSSRC returns a random SSRC other than 0 and other.
func randomSSRC(other uint32) uint32 {
	for {
		if s := rand.Uint32(); s != 0 && s != other {
			return s
		}
	}
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

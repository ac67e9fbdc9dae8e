// Package clip holds a short VP8 + Opus clip in memory and plays it as RTP,
// looped forever in real time: the headless stream source of
// `p2plive-node host` and the input of the media benchmarks.
//
// The committed default clip (testdata/, made by scripts/make-clip) is 10 s
// of ffmpeg's testsrc2 pattern, VP8 640x360 at 25 fps with a keyframe every
// 2 s (about 200 kbit/s), and a beeping sine, Opus mono in 20 ms packets
// (about 32 kbit/s).
package clip

import (
	_ "embed"
	"fmt"
	"os"
	"sync"
	"time"
)

// Clock rates of the RTP timestamps (RFC 7741 for VP8, RFC 7587 for Opus).
const (
	VideoClockRate = 90000
	AudioClockRate = 48000
)

// unitRate is the finest time step that is a whole number of ticks in both
// clock rates (gcd(90000, 48000) = 6000 Hz): the loop period is a multiple
// of it, so both tracks loop in step and never drift apart.
const unitRate = 6000

// A VideoFrame is one VP8 frame of a clip.
type VideoFrame struct {
	Data      []byte // the VP8 frame as the encoder wrote it
	Keyframe  bool
	Timestamp uint32 // in 90 kHz ticks from the clip's first frame
}

// An AudioPacket is one Opus packet of a clip.
type AudioPacket struct {
	Data      []byte // the Opus packet, TOC byte first
	Timestamp uint32 // in 48 kHz samples from the clip's first packet
	Duration  uint32 // in 48 kHz samples, from the TOC byte
}

// A Clip is a VP8 video track and an Opus audio track held in memory. It is
// immutable, so one Clip can be played by any number of goroutines at once.
type Clip struct {
	width, height int
	video         []VideoFrame
	audio         []AudioPacket
	// periodUnits is the loop period in 1/unitRate s: the longer track's
	// length (last item's timestamp plus its duration) rounded up.
	periodUnits uint64
}

var (
	//go:embed testdata/clip.ivf
	defaultIVF []byte
	//go:embed testdata/clip.ogg
	defaultOgg []byte

	defaultClip = sync.OnceValues(func() (*Clip, error) { return Parse(defaultIVF, defaultOgg) })
)

// Default returns the committed clip embedded in the binary. Every call
// returns the same Clip.
func Default() (*Clip, error) { return defaultClip() }

// Load reads a clip from an IVF file (VP8) and an Ogg file (Opus, one packet
// per page), for example ones made like scripts/make-clip makes its clip.
func Load(ivfPath, oggPath string) (*Clip, error) {
	ivf, err := os.ReadFile(ivfPath)
	if err != nil {
		return nil, fmt.Errorf("clip: load: %w", err)
	}
	ogg, err := os.ReadFile(oggPath)
	if err != nil {
		return nil, fmt.Errorf("clip: load: %w", err)
	}
	return Parse(ivf, ogg)
}

// Parse builds a clip from the contents of an IVF file and an Ogg file. The
// clip keeps references to the slices, which must not be modified later.
//
// The clip's length is its video's: audio packets that start after the last
// video frame ends are dropped (Opus encoders pad the end of the audio).
// Errors wrap ErrInvalidClip or ErrUnsupportedCodec.
func Parse(ivf, ogg []byte) (*Clip, error) {
	c := &Clip{}
	var err error
	if c.video, c.width, c.height, err = parseIVF(ivf); err != nil {
		return nil, err
	}
	if c.audio, err = parseOgg(ogg); err != nil {
		return nil, err
	}

	// The last frame lasts as long as the one before it.
	n := len(c.video)
	videoEnd := uint64(c.video[n-1].Timestamp)*2 - uint64(c.video[n-2].Timestamp)
	videoEndAudio := videoEnd * AudioClockRate / VideoClockRate
	for len(c.audio) > 1 && uint64(c.audio[len(c.audio)-1].Timestamp) >= videoEndAudio {
		c.audio = c.audio[:len(c.audio)-1]
	}
	last := c.audio[len(c.audio)-1]
	audioEnd := uint64(last.Timestamp) + uint64(last.Duration)

	c.periodUnits = max(ceilDiv(videoEnd, VideoClockRate/unitRate), ceilDiv(audioEnd, AudioClockRate/unitRate))
	if c.periodUnits*(VideoClockRate/unitRate) > 1<<31 {
		// RTP timestamps are compared modulo 2^32; keep well clear of that.
		return nil, fmt.Errorf("%w: clip longer than %v", ErrInvalidClip, ticksToDuration(1<<31, VideoClockRate))
	}
	return c, nil
}

// VideoSize returns the picture size from the IVF header.
func (c *Clip) VideoSize() (width, height int) { return c.width, c.height }

// VideoFrames returns the video frames, first a keyframe, in order. The
// slice and the frames' data must not be modified.
func (c *Clip) VideoFrames() []VideoFrame { return c.video }

// AudioPackets returns the Opus packets in order. The slice and the
// packets' data must not be modified.
func (c *Clip) AudioPackets() []AudioPacket { return c.audio }

// Duration returns the loop period: the longer track's length, rounded up
// to 1/6000 s.
func (c *Clip) Duration() time.Duration { return ticksToDuration(c.periodUnits, unitRate) }

// Bitrate returns the average bit rates in bit/s of the VP8 and Opus
// payloads over one loop (without RTP, UDP or IP overhead).
func (c *Clip) Bitrate() (video, audio int) {
	var v, a uint64
	for _, f := range c.video {
		v += uint64(len(f.Data))
	}
	for _, p := range c.audio {
		a += uint64(len(p.Data))
	}
	return int(v * 8 * unitRate / c.periodUnits), int(a * 8 * unitRate / c.periodUnits)
}

// period returns the loop period in ticks of the given clock rate.
func (c *Clip) period(rate uint64) uint64 { return c.periodUnits * (rate / unitRate) }

// ticksToDuration converts ticks of a clock rate to a duration without
// overflowing for any realistic running time.
func ticksToDuration(ticks, rate uint64) time.Duration {
	return time.Duration(ticks/rate)*time.Second + time.Duration(ticks%rate*uint64(time.Second)/rate)
}

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }

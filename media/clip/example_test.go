package clip_test

import (
	"context"
	"fmt"
	"time"

	"github.com/p2plive/p2plive-node/media/clip"
	"github.com/pion/rtp"
)

func ExampleDefault() {
	c, err := clip.Default()
	if err != nil {
		panic(err)
	}
	w, h := c.VideoSize()
	fmt.Printf("%dx%d, %v, %d video frames, %d audio packets\n", w, h, c.Duration(), len(c.VideoFrames()), len(c.AudioPackets()))
	// Output: 640x360, 10s, 250 video frames, 500 audio packets
}

func ExampleLoad() {
	c, err := clip.Load("testdata/clip.ivf", "testdata/clip.ogg")
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Duration())
	// Output: 10s
}

// Play the clip twice as fast as possible (a clock whose sleeps return at
// once), counting what a receiver gets. A real source leaves Now and Sleep
// nil and Loops 0, and writes the packets to two
// webrtc.TrackLocalStaticRTP.
func ExampleClip_Play() {
	c, err := clip.Default()
	if err != nil {
		panic(err)
	}
	now := time.Now()
	o := clip.PlayOptions{
		Loops: 2,
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil },
	}
	count := map[clip.Kind]int{}
	err = c.Play(context.Background(), clip.SinkFunc(func(kind clip.Kind, p *rtp.Packet) error {
		if p.Marker { // the last packet of a video frame; every audio packet
			count[kind]++
		}
		return nil
	}), o)
	fmt.Println(err, count[clip.KindVideo], "frames,", count[clip.KindAudio], "audio packets")
	// Output: <nil> 500 frames, 1000 audio packets
}

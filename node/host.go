package node

import (
	"context"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/media/clip"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// HostConfig tunes a headless room host (`p2plive-node host`).
type HostConfig struct {
	// Name is the host's display name; empty means DefaultName().
	Name string
	// Title and Summary describe the room in the index.
	Title, Summary string
	// RootID is the index root to register the room with; "" keeps the
	// room unlisted.
	RootID string
	// NoStreamNotice: do not send C's [4, hostId] stream-start notice (A/B
	// audiences show a "not live" alert on any type 4 from their parent).
	NoStreamNotice bool
	// MaxChildren caps children; 0 means unlimited.
	MaxChildren int
	// Feed publishes the stream; nil plays the committed test clip, looped.
	Feed func(ctx context.Context, src *media.Source) error
}

// StartHost registers and serves a room whose stream is published locally.
func StartHost(ctx context.Context, cfg Config) (*Node, error) {
	hc := cfg.Host
	if hc.RootID != "" && !signaling.ValidID(hc.RootID) {
		return nil, fmt.Errorf("host: root %q: %w", hc.RootID, signaling.ErrInvalidID)
	}
	name := hc.Name
	if name == "" {
		name = DefaultName()
	}
	feed := hc.Feed
	if feed == nil {
		feed = PlayClip
	}
	return startTreeNode(ctx, cfg, role{
		upstream: hc.RootID,
		name:     name,
		machine: func(self string) tree.Machine {
			return tree.NewHost(tree.HostConfig{
				Self: self, Name: name, Title: hc.Title, Summary: hc.Summary, RootID: hc.RootID,
				NoStreamNotice: hc.NoStreamNotice, MaxChildren: hc.MaxChildren,
				RateLimit: cfg.Relay.RateLimit, RateBurst: cfg.Relay.RateBurst,
				MaxReportNodes: cfg.Relay.MaxReportNodes, MaxReportDepth: cfg.Relay.MaxReportDepth,
				MaxReportBytes: cfg.Relay.MaxReportBytes, GuestTimeout: cfg.Relay.GuestTimeout,
			})
		},
		feed: feed,
	})
}

// RunHost runs a host until ctx ends.
func RunHost(ctx context.Context, cfg Config) error {
	h, err := StartHost(ctx, cfg)
	if err != nil {
		return err
	}
	return h.Wait()
}

// PlayClip publishes the committed test clip (VP8 + Opus), looped, until
// ctx ends.
func PlayClip(ctx context.Context, src *media.Source) error {
	return PlayClipWith(ctx, src, nil)
}

// PlayClipWith is PlayClip with a hook called (from the playing goroutine)
// before each packet is published: benchmarks log send times with it.
func PlayClipWith(ctx context.Context, src *media.Source, onSend func(clip.Kind, *rtp.Packet)) error {
	c, err := clip.Default()
	if err != nil {
		return err
	}
	video, audio, err := PublishVP8Opus(src, clip.DefaultVideoPT, clip.DefaultAudioPT)
	if err != nil {
		return err
	}
	err = c.Play(ctx, clip.SinkFunc(func(k clip.Kind, p *rtp.Packet) error {
		if onSend != nil {
			onSend(k, p)
		}
		if k == clip.KindVideo {
			return video.WriteRTP(p)
		}
		return audio.WriteRTP(p)
	}), clip.PlayOptions{})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// PublishVP8Opus declares a local VP8 + Opus stream on src (the codecs
// Chrome sends by default) and returns its two inputs.
func PublishVP8Opus(src *media.Source, videoPT, audioPT uint8) (video, audio *media.Publisher, err error) {
	src.Expect(webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio)
	video, err = src.Publish(webrtc.RTPCodecTypeVideo,
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: clip.VideoClockRate}, videoPT)
	if err != nil {
		return nil, nil, err
	}
	audio, err = src.Publish(webrtc.RTPCodecTypeAudio,
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: clip.AudioClockRate, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, audioPT)
	if err != nil {
		return nil, nil, err
	}
	return video, audio, nil
}

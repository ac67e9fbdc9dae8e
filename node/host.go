package node

import (
	"context"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/media/clip"
	"github.com/p2plive/p2plive-node/tree"
)

// StartHost registers and serves a room whose stream is published locally.
func StartHost(ctx context.Context, cfg HostConfig) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	name := cfg.name()
	return startTreeNode(ctx, cfg.Common, role{
		upstream: cfg.RootID,
		name:     name,
		machine: func(self string) tree.Machine {
			l := cfg.ChildLimits
			return tree.NewHost(tree.HostConfig{
				Self: self, Name: name, Title: cfg.Title, Summary: cfg.Summary, RootID: cfg.RootID,
				NoStreamNotice: cfg.NoStreamNotice, MaxChildren: l.MaxChildren,
				RateLimit: l.RateLimit, RateBurst: l.RateBurst,
				MaxReportNodes: l.MaxReportNodes, MaxReportDepth: l.MaxReportDepth,
				MaxReportBytes: l.MaxReportBytes, GuestTimeout: l.GuestTimeout,
			})
		},
		feed: cfg.feed(),
	})
}

// RunHost is StartHost, then Wait.
func RunHost(ctx context.Context, cfg HostConfig) error { return wait(StartHost(ctx, cfg)) }

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

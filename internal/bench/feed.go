package bench

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/media/clip"
	"github.com/p2plive/p2plive-node/node"
)

// Track indexes: video and audio.
const (
	kVideo = 0
	kAudio = 1
)

func kindIndex(k webrtc.RTPCodecType) int {
	if k == webrtc.RTPCodecTypeAudio {
		return kAudio
	}
	return kVideo
}

// sendLog is the source's record of when it published each packet, by
// track and RTP sequence number. A Go relay forwards sequence numbers and
// payloads unchanged, so a subscriber in the same process looks its packet
// up here and gets the one-hop latency on one clock, and the loss against
// exactly what was sent. (A table instead of a timestamp inside the
// payload: it works for the real clip too, whose payloads must stay
// decodable.) Written by the feed goroutine, read by every subscriber.
type sendLog struct {
	at [2][1 << 16]atomic.Int64 // UnixNano of the send; 0: not sent
	// sent counts packets per track; first is the first sequence number.
	sent  [2]atomic.Uint64
	first [2]atomic.Uint32
}

// record notes that packet seq of track k is sent now.
func (l *sendLog) record(k int, seq uint16, now time.Time) {
	if l.sent[k].Load() == 0 {
		l.first[k].Store(uint32(seq))
	}
	l.at[k][seq].Store(now.UnixNano())
	l.sent[k].Add(1)
}

// inWindow lists, per track, the sequence numbers whose send time is in
// [from, to). The window must be shorter than a sequence-number cycle
// (65536 packets: 3 minutes of the synthetic stream).
func (l *sendLog) inWindow(from, to time.Time) [2][]uint16 {
	var out [2][]uint16
	f, t := from.UnixNano(), to.UnixNano()
	for k := range out {
		n := l.sent[k].Load()
		first := uint16(l.first[k].Load())
		// Every sequence number sent so far, newest first, at most one cycle.
		for i := uint64(0); i < min(n, 1<<16); i++ {
			seq := first + uint16(n-1-i)
			at := l.at[k][seq].Load()
			if at < f {
				break // older than the window: so is everything before
			}
			if at < t {
				out[k] = append(out[k], seq)
			}
		}
	}
	return out
}

// syntheticFeed publishes a VP8-shaped video track and an Opus-shaped audio
// track: video at bitrate bit/s, 25 frames/s, a keyframe every 2 s (50
// frames) four times the size of a delta frame, packets of 1100 bytes;
// audio 50 packets/s of 80 bytes (32 kbit/s).
//
// With paced set, video packets leave at most at 2.5 times the bitrate, as
// Chrome's pacer sends them (a keyframe takes ~60 ms); audio is not
// delayed. Without it each frame leaves in one burst, the worst case for a
// relay's fan-out.
//
// Like a real encoder it answers keyframe requests: when the source's
// video track counts a new request (a relay's PLI), the next frame is a
// keyframe. A browser host does this; without it a late child would wait
// for the next periodic keyframe.
func syntheticFeed(log *sendLog, bitrate int, paced bool) func(ctx context.Context, src *media.Source) error {
	const (
		fps         = 25
		gop         = 50 // frames per periodic keyframe
		keyWeight   = 4  // keyframe size in delta frames
		payloadSize = 1100
		audioSize   = 80
		audioEvery  = 20 * time.Millisecond
		frameEvery  = time.Second / fps
		// pacingFactor is Chrome's: the pacer sends at 2.5x the target.
		pacingFactor = 2.5
	)
	// One GOP of bytes in delta-frame units: (gop-1) deltas and a keyframe.
	unit := float64(bitrate) / 8 * gop / fps / float64(gop-1+keyWeight)
	deltaPkts := max(1, int(unit/payloadSize+0.5))
	keyPkts := max(1, int(keyWeight*unit/payloadSize+0.5))
	gap := time.Duration(0)
	if paced {
		gap = time.Duration(float64(time.Second) * payloadSize * 8 / (pacingFactor * float64(bitrate)))
	}
	return func(ctx context.Context, src *media.Source) error {
		video, audio, err := node.PublishVP8Opus(src, 96, 111)
		if err != nil {
			return err
		}
		buf := make([]byte, payloadSize)
		for i := range buf {
			buf[i] = byte(i*7 + 3)
		}
		abuf := make([]byte, audioSize)
		vp := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 0x5eed0001, SequenceNumber: 1000}}
		ap := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 0x5eed0002, SequenceNumber: 5000}}

		// The schedule: audio packet a is due at start + a·20 ms, video
		// frame f at start + f·40 ms; a frame's packets queue in the
		// pacer (pending), each due gap after the one before. Absolute
		// due times: timer lateness does not accumulate.
		type vpkt struct {
			due        time.Time
			frame, idx int
			key, last  bool
		}
		var pending []vpkt // bounded: a frame is queued every 40 ms, drained by then at 2.5x
		var keyReqs uint64
		sinceKey := gop // the first frame is a keyframe
		start := time.Now()
		nextAudio, nextFrame := 0, 0
		timer := time.NewTimer(0)
		defer timer.Stop()
		for {
			audioAt := start.Add(time.Duration(nextAudio) * audioEvery)
			frameAt := start.Add(time.Duration(nextFrame) * frameEvery)
			due := audioAt
			if frameAt.Before(due) {
				due = frameAt
			}
			if len(pending) > 0 && pending[0].due.Before(due) {
				due = pending[0].due
			}
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return nil
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return nil
			}
			now := time.Now()
			if !audioAt.After(now) {
				ap.Timestamp = uint32(nextAudio) * 960
				ap.Payload = abuf
				log.record(kAudio, ap.SequenceNumber, now)
				if err := audio.WriteRTP(ap); err != nil {
					return err
				}
				ap.SequenceNumber++
				nextAudio++
			}
			if !frameAt.After(now) {
				st := video.Track().Stats()
				asked := st.KeyRequests + st.KeySuppressed
				key := sinceKey >= gop || asked != keyReqs
				keyReqs = asked
				pkts := deltaPkts
				if key {
					pkts, sinceKey = keyPkts, 0
				}
				sinceKey++
				at := frameAt
				if n := len(pending); n > 0 && pending[n-1].due.Add(gap).After(at) {
					at = pending[n-1].due.Add(gap)
				}
				for i := range pkts {
					pending = append(pending, vpkt{due: at.Add(time.Duration(i) * gap), frame: nextFrame, idx: i, key: key, last: i == pkts-1})
				}
				nextFrame++
			}
			// Every video packet that is due (all of a frame when not
			// paced).
			for len(pending) > 0 && !pending[0].due.After(now) {
				q := pending[0]
				pending = pending[1:]
				// RFC 7741 descriptor: S=1 and PID 0 on the first packet;
				// then the VP8 payload header, whose P bit is 0 on a
				// keyframe.
				buf[0], buf[1] = 0x00, 0x01
				if q.idx == 0 {
					buf[0] = 0x10
					if q.key {
						buf[1] = 0x00
					}
				}
				vp.Timestamp = uint32(q.frame) * (90000 / fps)
				vp.Payload = buf
				vp.Marker = q.last
				log.record(kVideo, vp.SequenceNumber, time.Now())
				if err := video.WriteRTP(vp); err != nil {
					return err
				}
				vp.SequenceNumber++
			}
		}
	}
}

// clipFeed plays the committed VP8+Opus clip, looped, as node.PlayClip
// does, and records every packet in log.
func clipFeed(log *sendLog) func(ctx context.Context, src *media.Source) error {
	return func(ctx context.Context, src *media.Source) error {
		return node.PlayClipWith(ctx, src, func(k clip.Kind, p *rtp.Packet) {
			if k == clip.KindVideo {
				log.record(kVideo, p.SequenceNumber, time.Now())
			} else {
				log.record(kAudio, p.SequenceNumber, time.Now())
			}
		})
	}
}

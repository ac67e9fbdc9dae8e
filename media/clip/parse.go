package clip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// parseIVF reads the VP8 frames of an IVF file.
//
// pion's IVFFrameHeader.Timestamp is pts*den/num, not a time in a known
// unit, so the raw pts is read back from the 12-byte frame header that
// ivfreader has just parsed (bytes 4-11, little endian) and converted with
// the IVF timebase: seconds = pts * num / den.
func parseIVF(data []byte) (frames []VideoFrame, width, height int, err error) {
	r := bytes.NewReader(data)
	ivf, hdr, err := ivfreader.NewWith(r)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: ivf: %v", ErrInvalidClip, err)
	}
	if hdr.FourCC != "VP80" {
		return nil, 0, 0, fmt.Errorf("%w: ivf: codec %q, want VP80", ErrUnsupportedCodec, hdr.FourCC)
	}
	var pts0 uint64
	for i := 0; ; i++ {
		off := len(data) - r.Len()
		// ivfreader allocates the frame's size before reading it; refuse
		// sizes past the end of the data instead of allocating up to 4 GiB.
		if r.Len() >= 4 && uint64(binary.LittleEndian.Uint32(data[off:])) > uint64(r.Len()) {
			return nil, 0, 0, fmt.Errorf("%w: ivf frame %d: truncated", ErrInvalidClip, i)
		}
		payload, _, err := ivf.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: ivf frame %d: %v", ErrInvalidClip, i, err)
		}
		pts := binary.LittleEndian.Uint64(data[off+4 : off+12])
		if i == 0 {
			pts0 = pts
		}
		key, err := vp8Keyframe(payload)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: ivf frame %d: %v", ErrInvalidClip, i, err)
		}
		if i == 0 && !key {
			return nil, 0, 0, fmt.Errorf("%w: ivf: first frame is not a keyframe", ErrInvalidClip)
		}
		ts, ok := scale(pts-pts0, VideoClockRate*uint64(hdr.TimebaseNumerator), uint64(hdr.TimebaseDenominator))
		if pts < pts0 || !ok || ts >= 1<<31 {
			return nil, 0, 0, fmt.Errorf("%w: ivf frame %d: pts %d out of range", ErrInvalidClip, i, pts)
		}
		if i > 0 && uint32(ts) <= frames[i-1].Timestamp {
			return nil, 0, 0, fmt.Errorf("%w: ivf frame %d: timestamp does not increase", ErrInvalidClip, i)
		}
		frames = append(frames, VideoFrame{Data: payload, Keyframe: key, Timestamp: uint32(ts)})
	}
	if len(frames) < 2 {
		return nil, 0, 0, fmt.Errorf("%w: ivf: %d frames, need at least 2", ErrInvalidClip, len(frames))
	}
	return frames, int(hdr.Width), int(hdr.Height), nil
}

// vp8Keyframe reads the frame tag (RFC 6386 section 9.1): bit 0 of the first
// byte is 0 on keyframes, bit 4 is show_frame; a keyframe's tag is followed
// by the start code 9d 01 2a and the picture size.
func vp8Keyframe(frame []byte) (bool, error) {
	if len(frame) < 3 {
		return false, fmt.Errorf("vp8 frame of %d bytes", len(frame))
	}
	if frame[0]&0x10 == 0 {
		// Alt-ref frames; scripts/make-clip turns them off. Each RTP frame
		// must be one shown picture with its own timestamp.
		return false, errors.New("invisible vp8 frame")
	}
	if frame[0]&0x01 != 0 {
		return false, nil
	}
	if len(frame) < 10 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return false, errors.New("vp8 keyframe without start code")
	}
	return true, nil
}

// parseOgg reads the Opus packets of an Ogg file. pion's oggreader returns
// whole pages, so each page must hold exactly one packet: the granule
// position (samples at the end of the page) must grow by the packet's
// duration, except on the last page, where it may grow less (end trim).
func parseOgg(data []byte) ([]AudioPacket, error) {
	if !bytes.HasPrefix(data, []byte("OggS")) {
		return nil, fmt.Errorf("%w: ogg: not an Ogg file", ErrInvalidClip)
	}
	ogg, err := oggreader.NewWithOptions(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: ogg: %v", ErrInvalidClip, err)
	}
	payload, page, err := ogg.ParseNextPage()
	if err != nil {
		return nil, fmt.Errorf("%w: ogg: %v", ErrInvalidClip, err)
	}
	if t, ok := page.HeaderType(payload); !ok || t != oggreader.HeaderOpusID {
		return nil, fmt.Errorf("%w: ogg: first page is not OpusHead", ErrUnsupportedCodec)
	}
	head, err := oggreader.ParseOpusHead(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: ogg: %v", ErrInvalidClip, err)
	}
	if head.Channels < 1 || head.Channels > 2 {
		return nil, fmt.Errorf("%w: ogg: opus with %d channels, want 1 or 2", ErrUnsupportedCodec, head.Channels)
	}
	serial := page.Serial

	var packets []AudioPacket
	var ts, granule uint64 // ts: samples so far; granule: of the last page
	short := -1            // index of a page whose granule grew less than its packet
	for i := 1; ; i++ {
		payload, page, err := ogg.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: ogg page %d: %v", ErrInvalidClip, i, err)
		}
		if page.Serial != serial {
			return nil, fmt.Errorf("%w: ogg page %d: second logical stream", ErrInvalidClip, i)
		}
		if len(packets) == 0 && page.GranulePosition == 0 {
			continue // OpusTags, possibly over several pages
		}
		if short >= 0 {
			return nil, fmt.Errorf("%w: ogg page %d: granule position grows less than its opus packet", ErrInvalidClip, short)
		}
		dur, err := opusDuration(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: ogg page %d: %v", ErrInvalidClip, i, err)
		}
		step := page.GranulePosition - granule
		switch {
		case page.GranulePosition == ^uint64(0):
			return nil, fmt.Errorf("%w: ogg page %d: opus packet spans pages", ErrInvalidClip, i)
		case page.GranulePosition < granule || step > uint64(dur):
			return nil, fmt.Errorf("%w: ogg page %d: granule position grows by %d, packet lasts %d: more than one packet per page (make the file with ffmpeg -page_duration 20000)", ErrInvalidClip, i, step, dur)
		case step < uint64(dur):
			short = i
		}
		if ts+uint64(dur) >= 1<<31 {
			return nil, fmt.Errorf("%w: ogg: longer than %v", ErrInvalidClip, ticksToDuration(1<<31, AudioClockRate))
		}
		packets = append(packets, AudioPacket{Data: payload, Timestamp: uint32(ts), Duration: dur})
		ts += uint64(dur)
		granule = page.GranulePosition
	}
	if len(packets) == 0 {
		return nil, fmt.Errorf("%w: ogg: no opus packets", ErrInvalidClip)
	}
	return packets, nil
}

// opusDuration returns the duration of an Opus packet in 48 kHz samples
// from its TOC byte (RFC 6716 section 3.1): the configuration (top 5 bits)
// gives the frame size, the code (low 2 bits) the number of frames.
func opusDuration(packet []byte) (uint32, error) {
	if len(packet) < 1 {
		return 0, errors.New("empty opus packet")
	}
	toc := packet[0]
	config := toc >> 3
	var frame uint32 // samples per frame at 48 kHz
	switch {
	case config < 12: // SILK-only: 10, 20, 40, 60 ms
		frame = [4]uint32{480, 960, 1920, 2880}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		frame = [2]uint32{480, 960}[config%2]
	default: // CELT-only: 2.5, 5, 10, 20 ms
		frame = [4]uint32{120, 240, 480, 960}[config%4]
	}
	var count uint32
	switch toc & 0x03 {
	case 0:
		count = 1
	case 1, 2:
		count = 2
	case 3:
		if len(packet) < 2 {
			return 0, errors.New("opus code 3 packet without frame count")
		}
		count = uint32(packet[1] & 0x3f)
	}
	if d := frame * count; d > 0 && d <= 5760 { // at most 120 ms per packet
		return d, nil
	}
	return 0, fmt.Errorf("opus packet of %d frames of %d samples", count, frame)
}

// scale returns x*mul/div, and false if div is 0 or the result overflows.
func scale(x, mul, div uint64) (uint64, bool) {
	hi, lo := bits.Mul64(x, mul)
	if div == 0 || hi >= div {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, div)
	return q, true
}

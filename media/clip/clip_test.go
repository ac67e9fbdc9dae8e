package clip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDefault(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := Default(); c2 != c {
		t.Error("Default returned a different clip the second time")
	}
	if w, h := c.VideoSize(); w != 640 || h != 360 {
		t.Errorf("VideoSize = %dx%d, want 640x360", w, h)
	}
	if d := c.Duration(); d != 10*time.Second {
		t.Errorf("Duration = %v, want 10s", d)
	}
	video, audio := c.VideoFrames(), c.AudioPackets()
	if len(video) != 250 || len(audio) != 500 {
		t.Errorf("%d video frames, %d audio packets; want 250, 500", len(video), len(audio))
	}
	for i, f := range video {
		if want := uint32(i) * VideoClockRate / 25; f.Timestamp != want {
			t.Fatalf("frame %d: timestamp %d, want %d", i, f.Timestamp, want)
		}
		if want := i%50 == 0; f.Keyframe != want {
			t.Errorf("frame %d: keyframe %v, want %v (one every 2 s)", i, f.Keyframe, want)
		}
	}
	for i, p := range audio {
		if p.Duration != 960 || p.Timestamp != uint32(i)*960 {
			t.Fatalf("audio packet %d: timestamp %d, duration %d; want %d, 960", i, p.Timestamp, p.Duration, i*960)
		}
	}
	v, a := c.Bitrate()
	t.Logf("bitrate: video %d bit/s, audio %d bit/s", v, a)
	if v < 150_000 || v > 300_000 || a < 24_000 || a > 48_000 {
		t.Errorf("Bitrate = %d, %d bit/s; want about 200k, 32k", v, a)
	}
}

func TestLoad(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "clip.ivf"), filepath.Join("testdata", "clip.ogg"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VideoFrames()) != 250 {
		t.Errorf("%d frames, want 250", len(c.VideoFrames()))
	}
	_, err = Load(filepath.Join("testdata", "missing.ivf"), filepath.Join("testdata", "clip.ogg"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// Hand-made VP8 frames: only the frame tag and the keyframe start code
// matter to Parse.
var (
	key       = []byte{0x10, 0, 0, 0x9d, 0x01, 0x2a, 64, 0, 48, 0}
	inter     = []byte{0x11, 0, 0, 1, 2, 3}
	invisible = []byte{0x01, 0, 0, 1, 2, 3}
	opus20ms  = []byte{0xf8, 1, 2, 3} // CELT fullband 20 ms, one frame
)

func TestParse(t *testing.T) {
	goodIVF := ivfFile("VP80", 0, key, 1, inter, 2, inter)
	goodOgg := oggFile(opusHead(2), tagsPage(), audioPages(10, 960*10))
	tests := []struct {
		name     string
		ivf, ogg []byte
		err      error
	}{
		{"ok", goodIVF, goodOgg, nil},
		{"ok end-trimmed and tags over two pages", goodIVF, oggFile(opusHead(1), append(tagsPage(), tagsPage()...), audioPages(4, 960*3+100)), nil},
		{"default clip", defaultIVF, defaultOgg, nil},

		{"ivf vp9", ivfFile("VP90", 0, key, 1, inter), goodOgg, ErrUnsupportedCodec},
		{"ivf garbage", []byte("not an ivf file, clearly not one"), goodOgg, ErrInvalidClip},
		{"ivf empty", nil, goodOgg, ErrInvalidClip},
		{"ivf truncated", defaultIVF[:len(defaultIVF)-100], goodOgg, ErrInvalidClip},
		{"ivf starts with interframe", ivfFile("VP80", 0, inter, 1, key), goodOgg, ErrInvalidClip},
		{"ivf invisible frame", ivfFile("VP80", 0, key, 1, invisible, 2, inter), goodOgg, ErrInvalidClip},
		{"ivf one frame", ivfFile("VP80", 0, key), goodOgg, ErrInvalidClip},
		{"ivf repeated pts", ivfFile("VP80", 0, key, 1, inter, 1, inter), goodOgg, ErrInvalidClip},
		{"ivf empty frame", ivfFile("VP80", 0, key, 1, []byte{}), goodOgg, ErrInvalidClip},

		{"ogg is ivf", goodIVF, goodIVF, ErrInvalidClip},
		{"ogg vorbis", goodIVF, oggFile([]byte("\x01vorbis\x00\x00\x00\x00\x02\x44\xac\x00\x00"), tagsPage(), audioPages(2, 1920)), ErrUnsupportedCodec},
		{"ogg 6 channels", goodIVF, oggFile(opusHead(6), tagsPage(), audioPages(2, 1920)), ErrUnsupportedCodec},
		{"ogg no packets", goodIVF, oggFile(opusHead(2), tagsPage()), ErrInvalidClip},
		{"ogg two packets a page", goodIVF, oggFile(opusHead(2), tagsPage(), page(2, 1920, opus20ms, opus20ms)), ErrInvalidClip},
		{"ogg short page not last", goodIVF, oggFile(opusHead(2), tagsPage(), page(2, 900, opus20ms), page(3, 1860, opus20ms)), ErrInvalidClip},
		{"ogg empty packet", goodIVF, oggFile(opusHead(2), tagsPage(), page(2, 960, nil)), ErrInvalidClip},
		{"ogg bad checksum", goodIVF, flip(defaultOgg, len(defaultOgg)/2), ErrInvalidClip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.ivf, tt.ogg)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("Parse: %v, want %v", err, tt.err)
			}
			if err != nil {
				t.Log(err)
				return
			}
			if !c.VideoFrames()[0].Keyframe {
				t.Error("first frame is not a keyframe")
			}
		})
	}
}

// TestParseTiming checks the timestamps and the loop period of a small clip
// whose audio is longer than its video: packets starting after the video
// ends are dropped.
func TestParseTiming(t *testing.T) {
	c, err := Parse(ivfFile("VP80", 7, key, 8, inter, 9, inter), oggFile(opusHead(2), tagsPage(), audioPages(10, 960*10)))
	if err != nil {
		t.Fatal(err)
	}
	var ts []uint32
	for _, f := range c.VideoFrames() {
		ts = append(ts, f.Timestamp)
	}
	if want := []uint32{0, 3600, 7200}; !slices.Equal(ts, want) {
		t.Errorf("video timestamps %v, want %v", ts, want)
	}
	// The video lasts 3 frames, 120 ms: audio packets starting at 0, 20,
	// ... 100 ms remain.
	if n := len(c.AudioPackets()); n != 6 {
		t.Errorf("%d audio packets, want 6", n)
	}
	if d := c.Duration(); d != 120*time.Millisecond {
		t.Errorf("Duration = %v, want 120ms", d)
	}
}

func TestOpusDuration(t *testing.T) {
	tests := []struct {
		packet []byte
		want   uint32 // 0: error
	}{
		{[]byte{0<<3 | 0}, 480},            // SILK NB 10 ms
		{[]byte{1<<3 | 0}, 960},            // SILK NB 20 ms
		{[]byte{3<<3 | 0}, 2880},           // SILK NB 60 ms
		{[]byte{11<<3 | 1}, 5760},          // SILK WB 60 ms, two frames
		{[]byte{12<<3 | 0}, 480},           // hybrid SWB 10 ms
		{[]byte{15<<3 | 2}, 1920},          // hybrid FB 20 ms, two frames
		{[]byte{16<<3 | 0}, 120},           // CELT NB 2.5 ms
		{[]byte{31<<3 | 0}, 960},           // CELT FB 20 ms
		{[]byte{31<<3 | 3, 3}, 2880},       // CELT FB 20 ms, three frames
		{[]byte{16<<3 | 3, 48}, 5760},      // 48 frames of 2.5 ms
		{[]byte{31<<3 | 3, 7}, 0},          // 140 ms: too long
		{[]byte{31<<3 | 3, 0}, 0},          // no frames
		{[]byte{31<<3 | 3}, 0},             // no frame count
		{nil, 0},                           // empty
		{[]byte{3<<3 | 3, 0x80 | 2}, 5760}, // VBR flag, 2 frames of 60 ms
	}
	for _, tt := range tests {
		got, err := opusDuration(tt.packet)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("opusDuration(%x) = %d, %v; want %d", tt.packet, got, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(ivfFile("VP80", 0, key, 1, inter, 2, inter), oggFile(opusHead(2), tagsPage(), audioPages(3, 2880)))
	f.Add(defaultIVF[:2000], defaultOgg[:2000])
	f.Fuzz(func(t *testing.T, ivf, ogg []byte) {
		c, err := Parse(ivf, ogg)
		if err != nil {
			if !errors.Is(err, ErrInvalidClip) && !errors.Is(err, ErrUnsupportedCodec) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		if !c.VideoFrames()[0].Keyframe || len(c.AudioPackets()) == 0 || c.Duration() <= 0 {
			t.Fatalf("bad clip accepted: %d frames, %d packets, %v", len(c.VideoFrames()), len(c.AudioPackets()), c.Duration())
		}
	})
}

// ivfFile returns an IVF file (timebase 1/25 s) of pts, frame pairs.
func ivfFile(fourcc string, frames ...any) []byte {
	b := make([]byte, 32)
	copy(b, "DKIF")
	binary.LittleEndian.PutUint16(b[6:], 32)
	copy(b[8:], fourcc)
	binary.LittleEndian.PutUint16(b[12:], 64)
	binary.LittleEndian.PutUint16(b[14:], 48)
	binary.LittleEndian.PutUint32(b[16:], 25) // timebase denominator
	binary.LittleEndian.PutUint32(b[20:], 1)  // timebase numerator
	binary.LittleEndian.PutUint32(b[24:], uint32(len(frames)/2))
	for i := 0; i < len(frames); i += 2 {
		data := frames[i+1].([]byte)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = binary.LittleEndian.AppendUint64(b, uint64(frames[i].(int)))
		b = append(b, data...)
	}
	return b
}

// opusHead returns an OpusHead packet (RFC 7845 section 5.1).
func opusHead(channels byte) []byte {
	b := append([]byte("OpusHead"), 1, channels)
	b = binary.LittleEndian.AppendUint16(b, 312)   // pre-skip
	b = binary.LittleEndian.AppendUint32(b, 48000) // input sample rate
	return append(b, 0, 0, 0)                      // gain, mapping family 0
}

func tagsPage() []byte { return page(1, 0, []byte("OpusTags\x00\x00\x00\x00\x00\x00\x00\x00")) }

// audioPages returns n pages of one 20 ms packet each; the last page's
// granule position is end.
func audioPages(n int, end uint64) []byte {
	var b []byte
	for i := range n {
		g := uint64(i+1) * 960
		if i == n-1 {
			g = end
		}
		b = append(b, page(uint32(2+i), g, opus20ms)...)
	}
	return b
}

// oggFile returns the head page followed by pages.
func oggFile(head []byte, pages ...[]byte) []byte {
	b := page(0, 0, head)
	b[5] = 0x02 // beginning of stream
	setOggCRC(b)
	for _, p := range pages {
		b = append(b, p...)
	}
	return b
}

// page returns an Ogg page (RFC 3533) of stream 1 holding the packets.
func page(seq uint32, granule uint64, packets ...[]byte) []byte {
	b := []byte("OggS\x00\x00")
	b = binary.LittleEndian.AppendUint64(b, granule)
	b = binary.LittleEndian.AppendUint32(b, 1) // serial
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = append(b, 0, 0, 0, 0) // CRC, set below
	var lacing, body []byte
	for _, p := range packets {
		n := len(p)
		for ; n >= 255; n -= 255 {
			lacing = append(lacing, 255)
		}
		lacing = append(lacing, byte(n))
		body = append(body, p...)
	}
	b = append(b, byte(len(lacing)))
	b = append(append(b, lacing...), body...)
	setOggCRC(b)
	return b
}

// setOggCRC sets the checksum of the page b: CRC-32, polynomial 0x04c11db7,
// not reflected, over the page with the checksum field zero.
func setOggCRC(b []byte) {
	clear(b[22:26])
	var crc uint32
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	binary.LittleEndian.PutUint32(b[22:], crc)
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0xff
	return b
}

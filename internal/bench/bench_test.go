package bench

import (
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestSeqGaps(t *testing.T) {
	cases := []struct {
		name           string
		seqs           []uint16
		distinct, span uint64
	}{
		{"none", nil, 0, 0},
		{"in order", []uint16{10, 11, 12}, 3, 3},
		{"gap", []uint16{10, 11, 14}, 3, 5},
		{"duplicate", []uint16{10, 11, 11, 12}, 3, 3},
		{"reordered", []uint16{10, 12, 11}, 3, 3},
		{"wrap", []uint16{65534, 65535, 0, 2}, 4, 5},
	}
	for _, c := range cases {
		var g seqGaps
		for _, s := range c.seqs {
			g.add(s)
		}
		if g.distinct != c.distinct || g.span() != c.span {
			t.Errorf("%s: distinct %d span %d, want %d %d", c.name, g.distinct, g.span(), c.distinct, c.span)
		}
	}
}

func vp8(seq uint16, ts uint32, start, key, marker bool) *rtp.Packet {
	p := []byte{0x00, 0x01, 0xaa}
	if start {
		p[0] = 0x10
		if key {
			p[1] = 0x00
		}
	}
	return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: p}
}

func TestKeyframe(t *testing.T) {
	var k keyframe
	steps := []struct {
		p    *rtp.Packet
		want bool
	}{
		{vp8(99, 1, false, false, true), false},   // the end of a frame before any keyframe
		{vp8(100, 2, true, false, false), false},  // a delta frame start
		{vp8(101, 2, false, false, true), false},  // its end
		{vp8(65535, 3, true, true, false), false}, // a keyframe start, across the wrap
		{vp8(1, 3, false, false, true), false},    // its end, with seq 0 missing
		{vp8(0, 3, false, false, false), true},    // the repair completes it
		{vp8(2, 4, true, true, true), true},       // later packets: still complete (caller stops asking)
	}
	for i, s := range steps {
		if got := k.add(s.p); got != s.want {
			t.Fatalf("step %d: complete %v, want %v", i, got, s.want)
		}
	}
}

func TestSendLogWindow(t *testing.T) {
	var l sendLog
	base := time.Unix(1000, 0)
	for i := range 10 {
		l.record(kVideo, uint16(65530+i), base.Add(time.Duration(i)*time.Second)) // wraps
	}
	// Sent at 3, 4 and 5 s: 65533, 65534, 65535.
	got := l.inWindow(base.Add(3*time.Second), base.Add(6*time.Second))
	if len(got[kVideo]) != 3 || len(got[kAudio]) != 0 {
		t.Fatalf("window: %v", got)
	}
	seen := map[uint16]bool{}
	for _, s := range got[kVideo] {
		seen[s] = true
	}
	for _, s := range []uint16{65533, 65534, 65535} {
		if !seen[s] {
			t.Errorf("seq %d (sent in the window) missing from %v", s, got[kVideo])
		}
	}
}

func TestProcReadings(t *testing.T) {
	u, err := treeUsage(os.Getpid(), true)
	if err != nil || u.rss <= 0 || u.procs < 1 {
		t.Fatalf("usage of this process: %+v, %v", u, err)
	}
	a, err := readMachineCPU()
	if err != nil || a.total <= 0 {
		t.Fatalf("machine CPU: %+v, %v", a, err)
	}
	if m := readMachine(); m.Cores < 1 {
		t.Errorf("machine: %+v", m)
	}
	_ = udpDrops() // must not fail without UDP sockets
}

func TestSlope(t *testing.T) {
	r := Report{Rows: []Row{
		{Relay: "go", Source: "clip", N: 1, CPUPercent: 3},
		{Relay: "go", Source: "clip", N: 3, CPUPercent: 4},
		{Relay: "browser", Source: "clip", N: 1, CPUPercent: 20},
	}}
	if s, ok := r.slope("go", "clip"); !ok || s != 0.5 {
		t.Errorf("go slope %v %v, want 0.5", s, ok)
	}
	if _, ok := r.slope("browser", "clip"); ok {
		t.Errorf("one browser row has no slope")
	}
}

package tree

import (
	"fmt"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// The benchmarks measure one hop as node runs it: unpack what arrived, let
// the machine decide, and encode what it sends for binary connections the
// way node's apply does (execute, bench_exec_test.go). The clock moves 6 s
// per iteration: past the dedupe window and the rate and report pacing, so
// every iteration is a message that is forwarded, never a duplicate.

const benchChildren = 8

// benchSubtree is a child's report with n leaf grandchildren, its name
// being name.
func benchSubtree(id, name string, n int) []any {
	r := []any{int64(1), int64(0), int64(n), []any{}, id, name, []any{}}
	for i := range n {
		g := fmt.Sprintf("%s-%d", id, i)
		r = append(r, g, g+"-name", []any{int64(1), int64(0), int64(0), []any{}, g, g + "-name", []any{}})
	}
	return r
}

func mustPack(b *testing.B, v any) []byte {
	p, err := binarypack.Pack(v)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchRelay is relay R under H with benchChildren children A0..A7, each
// with a subtree of 4.
func benchRelay(b *testing.B) (*Relay, time.Time) {
	r := NewRelay(RelayConfig{Self: "R", Name: "relay", ReportInterval: -1, RateLimit: -1})
	now := t0
	r.ParentOpened("H/dc_p", "H", now)
	for i := range benchChildren {
		id := fmt.Sprintf("A%d", i)
		c := ConnID(id + "/dc")
		r.Opened(c, id, now)
		r.Receive(c, benchSubtree(id, id+"-name", 4), now)
	}
	return r, now
}

// BenchmarkForwardChat: a chat from one child, flooded to the parent and
// the 7 other children.
func BenchmarkForwardChat(b *testing.B) {
	r, now := benchRelay(b)
	wire := make([][]byte, 256)
	for i := range wire {
		wire[i] = mustPack(b, []any{int64(0), "A0", "Alice", fmt.Sprintf("hello number %d, with some text", i), nil, ""})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(6 * time.Second)
		v, err := binarypack.Unpack(wire[i%len(wire)])
		if err != nil {
			b.Fatal(err)
		}
		if n := execute(b, r.Receive("A0/dc", v, now)); n != benchChildren {
			b.Fatalf("sent to %d connections, want %d", n, benchChildren)
		}
	}
}

// BenchmarkReportHop: a child's report changes (its name) and our report
// goes up to the parent.
func BenchmarkReportHop(b *testing.B) {
	r, now := benchRelay(b)
	wire := [2][]byte{mustPack(b, benchSubtree("A0", "Alice", 4)), mustPack(b, benchSubtree("A0", "Alicia", 4))}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(6 * time.Second)
		v, err := binarypack.Unpack(wire[i%2])
		if err != nil {
			b.Fatal(err)
		}
		if n := execute(b, r.Receive("A0/dc", v, now)); n != 1 {
			b.Fatalf("sent to %d connections, want 1", n)
		}
	}
}

// BenchmarkHostMapHop: at the host, a child's report changes and the room
// map goes to the index root and every child.
func BenchmarkHostMapHop(b *testing.B) {
	h := NewHost(HostConfig{Self: "H", Name: "host", Title: "T", Summary: "S", ReportInterval: -1, RateLimit: -1})
	now := t0
	h.RootOpened("root/dc", "root")
	for i := range benchChildren {
		id := fmt.Sprintf("A%d", i)
		c := ConnID(id + "/dc")
		h.Opened(c, id, now)
		h.Receive(c, benchSubtree(id, id+"-name", 4), now)
	}
	wire := [2][]byte{mustPack(b, benchSubtree("A0", "Alice", 4)), mustPack(b, benchSubtree("A0", "Alicia", 4))}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(6 * time.Second)
		v, err := binarypack.Unpack(wire[i%2])
		if err != nil {
			b.Fatal(err)
		}
		if n := execute(b, h.Receive("A0/dc", v, now)); n != benchChildren+1 {
			b.Fatalf("sent to %d connections, want %d", n, benchChildren+1)
		}
	}
}

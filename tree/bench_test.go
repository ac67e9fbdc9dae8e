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
func benchRelay() *Relay {
	r := NewRelay(RelayConfig{Self: "R", Name: "relay", ReportInterval: -1, RateLimit: -1})
	r.ParentOpened("H/dc_p", "H", t0)
	for i := range benchChildren {
		id := fmt.Sprintf("A%d", i)
		r.Opened(ConnID(id+"/dc"), id, t0)
		r.Receive(ConnID(id+"/dc"), benchSubtree(id, id+"-name", 4), t0)
	}
	return r
}

// benchHop runs one hop per iteration: wire[i%len(wire)] unpacked, handed to
// step, its outputs executed; they must send to want connections.
func benchHop(b *testing.B, wire [][]byte, want int, step func(v any, now time.Time) []Output) {
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now = now.Add(6 * time.Second)
		v, err := binarypack.Unpack(wire[i%len(wire)])
		if err != nil {
			b.Fatal(err)
		}
		if n := execute(b, step(v, now)); n != want {
			b.Fatalf("sent to %d connections, want %d", n, want)
		}
	}
}

// BenchmarkForwardChat: a chat from one child, flooded to the parent and
// the 7 other children.
func BenchmarkForwardChat(b *testing.B) {
	r := benchRelay()
	wire := make([][]byte, 256)
	for i := range wire {
		wire[i] = mustPack(b, []any{int64(0), "A0", "Alice", fmt.Sprintf("hello number %d, with some text", i), nil, ""})
	}
	benchHop(b, wire, benchChildren, func(v any, now time.Time) []Output { return r.Receive("A0/dc", v, now) })
}

// benchRename is a child's report changing back and forth (its name).
func benchRename(b *testing.B) [][]byte {
	return [][]byte{mustPack(b, benchSubtree("A0", "Alice", 4)), mustPack(b, benchSubtree("A0", "Alicia", 4))}
}

// BenchmarkReportHop: a child's report changes and our report goes up to
// the parent.
func BenchmarkReportHop(b *testing.B) {
	r := benchRelay()
	benchHop(b, benchRename(b), 1, func(v any, now time.Time) []Output { return r.Receive("A0/dc", v, now) })
}

// BenchmarkHostMapHop: at the host, a child's report changes and the room
// map goes to the index root and every child.
func BenchmarkHostMapHop(b *testing.B) {
	h := NewHost(HostConfig{Self: "H", Name: "host", Title: "T", Summary: "S", ReportInterval: -1, RateLimit: -1})
	h.ParentOpened("root/dc", "root", t0)
	for i := range benchChildren {
		id := fmt.Sprintf("A%d", i)
		h.Opened(ConnID(id+"/dc"), id, t0)
		h.Receive(ConnID(id+"/dc"), benchSubtree(id, id+"-name", 4), t0)
	}
	benchHop(b, benchRename(b), benchChildren+1, func(v any, now time.Time) []Output { return h.Receive("A0/dc", v, now) })
}

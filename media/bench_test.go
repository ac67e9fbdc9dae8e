package media

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// countWriter counts writes; the cheapest transport, so the benchmark
// measures our fan-out (parse, cache, queues, writers), not SRTP and UDP.
type countWriter struct{ n atomic.Uint64 }

func (w *countWriter) WriteRTP(*rtp.Header, []byte) (int, error) { w.n.Add(1); return 0, nil }
func (w *countWriter) Write(b []byte) (int, error)               { return len(b), nil }

// BenchmarkFanout: one upstream packet to N children through the real
// ingest, queues and writer goroutines. Reports ns and allocations per
// upstream packet; the forwarding path must not allocate.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			tr := newVideoTrack()
			defer tr.close()
			in := &input{pt: 96, clock: 90000}
			tr.setInput(in)
			ws := make([]*countWriter, n)
			for i := range ws {
				ws[i] = &countWriter{}
				s := &Subscriber{done: make(chan struct{})}
				s.q.init(DefaultQueue)
				bd := &binding{t: tr, s: s, id: tr.id, ws: ws[i], ssrc: 7, pt: 96, hdr: rtp.Header{Version: 2, PayloadType: 96, SSRC: 7}}
				s.bindings = []*binding{bd}
				s.wg.Add(1)
				go s.writer()
				defer s.Close()
				tr.attach(bd, time.Now())
			}
			pk := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, Marker: true}, Payload: make([]byte, 1100)}
			pk.Payload[0] = 0x10 // S, keyframe (P bit clear in byte 1)
			raw, _ := pk.Marshal()
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				raw[2], raw[3] = byte(i>>8), byte(i)
				p := getPacket()
				m := copy(p.buf[:], raw)
				tr.ingest(in, p, m, now)
				// Let the writers keep up (a real stream is paced): no child
				// more than half a queue behind, so nothing is dropped.
				if i%64 == 63 {
					for _, w := range ws {
						for j := 0; j < 1e6 && w.n.Load()+DefaultQueue/2 < uint64(i); j++ {
							runtime.Gosched()
						}
					}
				}
			}
			b.StopTimer()
			var dropped uint64
			for _, s := range tr.subs {
				dropped += s.dropped.Load()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/child-pkt")
			if dropped > 0 {
				b.ReportMetric(float64(dropped), "dropped")
			}
		})
	}
}

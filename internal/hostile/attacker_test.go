package hostile

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// gang is a set of hostile peers and the data connections they opened.
type gang struct {
	mu     sync.Mutex
	peers  []*peerjs.Peer
	conns  []*peerjs.DataConn
	open   atomic.Int64 // connections open now
	most   atomic.Int64 // most open at once
	failed atomic.Int64 // connects that failed
	wg     sync.WaitGroup
}

// newGang registers n hostile peers (in parallel, at most 20 at once).
func newGang(t testing.TB, ps *testrig.PeerServer, n int, openTimeout time.Duration) *gang {
	t.Helper()
	g := &gang{peers: make([]*peerjs.Peer, n)}
	t.Cleanup(g.leave)
	errs := make(chan error, n)
	sem := make(chan struct{}, 20)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := newPeer(ctx, ps, "", zap.NewNop(), nil, openTimeout)
			if err != nil {
				errs <- err
				return
			}
			g.mu.Lock()
			g.peers[i] = p
			g.mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("hostile: attacker peer: %v", err)
	}
	return g
}

// connect opens one connection from peer i to target; it returns nil if
// the connection did not open.
func (g *gang) connect(i int, target string) *peerjs.DataConn {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := g.peers[i].Connect(ctx, target, peerjs.ConnectOptions{})
	if err != nil {
		g.failed.Add(1)
		return nil
	}
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
	n := g.open.Add(1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		<-c.Done()
		g.open.Add(-1)
	}()
	return c
}

// connectAll opens one connection from every peer to target, at most
// parallel at once, and returns the ones that opened.
func (g *gang) connectAll(target string, perPeer, parallel int) []*peerjs.DataConn {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var out []*peerjs.DataConn
	for i := range g.peers {
		for range perPeer {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				if c := g.connect(i, target); c != nil {
					mu.Lock()
					out = append(out, c)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return out
}

// closedCount is how many opened connections have closed.
func (g *gang) closedCount() (closed, opened int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		select {
		case <-c.Done():
			closed++
		default:
		}
	}
	return closed, len(g.conns)
}

// leave closes every peer (and so every connection). Safe to call twice.
func (g *gang) leave() {
	g.mu.Lock()
	peers := g.peers
	g.peers = nil
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range peers {
		if p != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = p.Close() }()
		}
	}
	wg.Wait()
	g.wg.Wait()
}

// sendPatiently sends v, waiting out a full send buffer (bounded: 30 s).
func sendPatiently(c *peerjs.DataConn, v any) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Send(v)
		if !errors.Is(err, peerjs.ErrBufferFull) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendOutgoingPatiently is sendPatiently for a shared packed value.
func sendOutgoingPatiently(c *peerjs.DataConn, o *peerjs.Outgoing) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.SendOutgoing(o)
		if !errors.Is(err, peerjs.ErrBufferFull) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// chunkFrame is one raw PeerJS chunk {__peerData: id, n, data, total}. It
// packs to less than serial.ChunkMTU when data does, so Send puts it on
// the wire as one frame, as it is.
func chunkFrame(id, n, total int64, data []byte) binarypack.Map {
	return binarypack.Map{
		{Key: "__peerData", Value: id},
		{Key: "n", Value: n},
		{Key: "data", Value: data},
		{Key: "total", Value: total},
	}
}

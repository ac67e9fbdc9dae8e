package node

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
)

// acceptConns posts every data connection a peer opens to us (evOpen) and
// starts one reader per connection, which posts its messages (evMsg) and
// its close (evClosed). It returns once ctx ended and every reader it
// started has returned. It touches no node state: all of it goes through
// the inbox.
func acceptConns(ctx context.Context, p *peerjs.Peer, in inbox, log *zap.Logger) {
	var readers sync.WaitGroup
	defer readers.Wait()
	for {
		c, err := p.Accept(ctx)
		if err != nil {
			return
		}
		log.Info("accepted data connection", zap.String("peer", c.Peer()), zap.String("conn", c.ConnectionID()),
			zap.String("serialization", c.Serialization()))
		if !in.post(ctx, evOpen{conn: c}) {
			c.Close()
			return
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			err := readConn(ctx, c, in)
			c.Close()
			log.Info("data connection closed", zap.String("peer", c.Peer()), zap.Error(err), zap.Any("stats", c.Stats()))
			in.post(ctx, evClosed{conn: c})
		}()
	}
}

// readConn posts c's messages to the owner loop until c closes or ctx ends.
func readConn(ctx context.Context, c *peerjs.DataConn, in inbox) error {
	for {
		v, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		if !in.post(ctx, evMsg{conn: c, v: v}) {
			return ctx.Err()
		}
	}
}

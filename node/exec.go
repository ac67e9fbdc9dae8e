package node

import (
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/tree"
)

// apply carries out the tree's decisions, in order. It runs in the owner
// loop; what it learns while doing so (a call placed or not) goes straight
// back to the machine.
func (n *treeNode) apply(out []tree.Output) {
	for _, o := range out {
		switch o := o.(type) {
		case tree.Send:
			// One Send is one message for all of its connections: encoded
			// once per serialization (packed once for binary ones).
			og := peerjs.NewPackedOutgoing(o.Msg)
			for _, to := range o.To {
				n.send(to, og)
			}
		case tree.Call:
			n.callsDecided++
			if n.media == nil {
				continue
			}
			if gen, how, ok := n.media.place(n.ctx, o); ok {
				n.tree.CallStarted(o.ID, gen)
			} else {
				n.apply(n.tree.CallEnded(o.ID, how, time.Now()))
			}
		case tree.HangUp:
			if n.media != nil {
				n.media.hangUp(o.Peer, o.ID)
			}
		case tree.CloseConn:
			if c := n.conns[o.Conn]; c != nil {
				n.log.Info("closing connection", zap.String("peer", c.Peer()), zap.Stringer("reason", o.Reason))
				c.Close()
			}
		case tree.ParentNotice:
			n.log.Info("parent announces it is going away; moving", zap.String("msg", peerjs.Describe(o.Msg, 128)))
			select {
			case n.move <- struct{}{}:
			default:
			}
		case tree.ChatReceived:
			n.log.Info("chat", zap.String("from", o.Peer), zap.String("name", clipText(o.Msg.Name(), 64)),
				zap.String("text", clipText(o.Msg.Text(), 256)))
		case tree.UpstreamChanged:
			// We asked the parent for it; its call will be spliced into our
			// tracks, so children keep their calls.
			n.log.Info("upstream has a new stream")
		case tree.Reject:
			if o.First {
				n.log.Warn("rejected message (further ones of this kind from this peer are only counted)",
					zap.String("peer", o.Peer), zap.Stringer("reason", o.Reason), zap.String("detail", o.Detail))
			}
		}
	}
}

// send sends og on connection to, if it is still there; a failure is
// counted and logged at debug (the connection's own close reports why).
func (n *treeNode) send(to tree.ConnID, og *peerjs.Outgoing) {
	c := n.conns[to]
	if c == nil {
		return
	}
	if ce := n.log.Check(zap.DebugLevel, "send"); ce != nil {
		ce.Write(zap.String("to", c.Peer()), zap.String("value", peerjs.Describe(og.V, 96)))
	}
	if err := c.SendOutgoing(og); err != nil {
		n.sendErrors++
		n.log.Debug("send failed", zap.String("to", c.Peer()), zap.Error(err))
	}
}

// clipText shortens untrusted text for a log line.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

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
	// One Outgoing per distinct message: a flood to many children packs once.
	var shared map[any]*peerjs.Outgoing
	for _, o := range out {
		switch o := o.(type) {
		case tree.Send:
			c := n.conns[o.To]
			if c == nil {
				continue
			}
			og := n.outgoing(&shared, o.Msg)
			if ce := n.log.Check(zap.DebugLevel, "send"); ce != nil {
				ce.Write(zap.String("to", c.Peer()), zap.String("value", peerjs.Describe(o.Msg, 96)))
			}
			if err := c.SendOutgoing(og); err != nil {
				n.sendErrors++
				n.log.Debug("send failed", zap.String("to", c.Peer()), zap.Error(err))
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

// outgoing returns the shared wrapper for msg. Messages are compared by
// identity of their backing array, which is what the tree hands out when it
// sends one message to many connections.
func (n *treeNode) outgoing(shared *map[any]*peerjs.Outgoing, msg any) *peerjs.Outgoing {
	a, ok := msg.([]any)
	if !ok || len(a) == 0 {
		return peerjs.NewOutgoing(msg)
	}
	if *shared == nil {
		*shared = map[any]*peerjs.Outgoing{}
	}
	key := &a[0]
	if og, ok := (*shared)[key]; ok {
		return og
	}
	og := peerjs.NewOutgoing(msg)
	(*shared)[key] = og
	return og
}

// clipText shortens untrusted text for a log line.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

package node

import (
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
)

// watchEvery is how often the owner loop checks the drain and the media
// watchdog.
const watchEvery = 250 * time.Millisecond

// watchdog: upstream media stopped for longer than MediaTimeout while the
// call that carried it is still up means a parent that is stuck (or a
// relay upstream that lost its own parent and is not recovering): treat it
// as lost, and heal.
func (n *treeNode) watchdog(now time.Time) {
	if n.media == nil || n.mediaTimeout <= 0 || n.parent == nil {
		return
	}
	if n.media.stalled(now, n.mediaTimeout) {
		n.watchdogFirings++
		n.log.Warn("no upstream media; treating the parent as lost", zap.String("parent", n.parent.Peer()),
			zap.Duration("silent_for", n.mediaTimeout))
		n.parent.Close()
	}
}

// Parent loss. The upstream link reports "disconnected" after
// peerjs.UpstreamICE.Disconnected without a packet, but it never fails by
// itself in that time (a stall of ours must not cost a heal), so the loop
// decides: the parent is lost when its data connection is disconnected,
// the media it sends us (if it sends any) is silent as long, and we were
// not stalled ourselves lately. A stall shows as a late tick: our loop did
// not run, so neither did pion's readers, and silence we measure across it
// is ours, not the parent's.
const (
	// stallSlack: a tick this much later than due means we were stalled.
	stallSlack = 750 * time.Millisecond
	// stallGrace: after a stall, the parent has this long to show life
	// (packets queued in the socket are read, ICE reconnects).
	stallGrace = 2 * time.Second
)

// parentWatch is the decision of watchParent, apart from the I/O so that it
// can be tested with a fake clock. Only the owner loop uses it.
type parentWatch struct {
	lastTick, graceUntil, downSince time.Time
	stalls                          uint64
}

// parentVerdict is what one observation concluded.
type parentVerdict struct {
	stall time.Duration // > 0: this tick came late by a stall this long
	lost  bool          // the parent is lost: close it and heal
	down  time.Duration // how long its link has been down, when lost
}

// observe takes one tick: now, whether we have a parent, whether its data
// link is up (ICE connected; it goes down after peerjs.UpstreamICE.Disconnected
// without a packet), and how long its media has been silent.
func (w *parentWatch) observe(now time.Time, hasParent, linkUp bool, mediaSilence time.Duration) parentVerdict {
	var v parentVerdict
	last := w.lastTick
	w.lastTick = now
	if !last.IsZero() && now.Sub(last) > watchEvery+stallSlack {
		w.stalls++
		w.graceUntil = now.Add(stallGrace)
		v.stall = now.Sub(last)
	}
	if !hasParent || linkUp || now.Before(w.graceUntil) {
		w.downSince = time.Time{}
		return v
	}
	if w.downSince.IsZero() {
		w.downSince = now
	}
	if mediaSilence < peerjs.UpstreamICE.Disconnected {
		return v // media still flows: the data link is not the whole story
	}
	v.lost = true
	v.down = now.Sub(w.downSince) + peerjs.UpstreamICE.Disconnected
	w.downSince = time.Time{}
	return v
}

// watchParent runs on every tick of the owner loop. It closes a parent that
// is lost (see above); upstream.serve then heals.
func (n *treeNode) watchParent(now time.Time) {
	silence := time.Duration(1<<63 - 1)
	if n.media != nil {
		silence = n.media.upSilence(now)
	}
	v := n.pwatch.observe(now, n.parent != nil, n.parent != nil && n.parent.Connected(), silence)
	if v.stall > 0 {
		n.log.Warn("the node was stalled; not judging the parent until it has had time to answer",
			zap.Duration("stall", v.stall), zap.Duration("grace", stallGrace))
	}
	if v.lost {
		n.parentLostICE++
		n.log.Warn("parent silent: treating it as lost", zap.String("parent", n.parent.Peer()),
			zap.Duration("silent_for", v.down))
		n.parent.Close()
	}
}

// lastAlive is the last sign of life of a lost parent: its last media
// packet, but no earlier than the upstream's "disconnected" timeout ago
// (what we sent before that, while it was answering ICE, most likely
// arrived).
func (n *treeNode) lastAlive(now time.Time) time.Time {
	t := now.Add(-peerjs.UpstreamICE.Disconnected)
	if n.media != nil {
		for _, tr := range n.media.src.Tracks() {
			if at := tr.LastPacket(); at.After(t) {
				t = at
			}
		}
	}
	return t
}

package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/tree"
)

// callTimeout bounds how long a call to a child may stay unanswered.
const callTimeout = 20 * time.Second

// upstreamOverlap is how long the previous upstream call is kept after a new
// one was answered: its packets are ignored once the new one's arrive, and
// closing it only then avoids a gap at the children.
const upstreamOverlap = 3 * time.Second

// mediaNode is the media half of a node: the upstream call(s) feeding the
// Source and one call per child. Only the owner loop touches it.
type mediaNode struct {
	log *zap.Logger
	p   *peerjs.Peer
	src *media.Source
	// post hands an event to the owner loop (from call goroutines).
	post func(event) bool

	// The pion APIs of calls (peerjs's media constructors): the parent's
	// call's, built at its first call; the children's, for the codecs of
	// one stream generation (downGen), rebuilt when it moves on.
	pion    peerjs.APIOptions
	upAPI   *webrtc.API
	downAPI *webrtc.API
	downGen uint64

	up    *peerjs.MediaConn
	kids  map[string]*kidCall // by child peer id
	wants map[string]tree.MediaReason
	// recall holds children whose call ended by itself (ICE failed, the
	// page closed it) while their data connection stayed up: they are
	// called again when due, with a back-off per child.
	recall map[string]*recallState

	stats mediaCounters

	// The watchdog's view of upstream packets.
	lastPackets uint64
	lastChange  time.Time
	watchFired  bool
}

type kidCall struct {
	mc    *peerjs.MediaConn
	sub   *media.Subscriber
	gen   uint64
	start time.Time
}

// recallState is a child waiting to be called again.
type recallState struct {
	due      time.Time
	attempts int // calls that ended early in a row
}

// Re-call back-off: the first re-call after recallMin, doubling per call
// that ends again within recallHealthy, at most recallMax apart. A call
// that lasted recallHealthy was a good one and resets the back-off.
const (
	recallMin     = time.Second
	recallMax     = 30 * time.Second
	recallHealthy = 30 * time.Second
)

type mediaCounters struct {
	upCalls, upRefused, calls, callFailures, recalls uint64
}

// MediaStats is the media part of JoinStats.
type MediaStats struct {
	Upstream     string // peer id of the current upstream call, "" if none
	Ready        bool
	Generation   uint64
	Tracks       []media.TrackStats
	Children     map[string]media.SubscriberStats
	UpCalls      uint64 // calls answered from the parent
	UpRefused    uint64 // calls refused (not from our parent)
	Calls        uint64 // calls placed to children
	CallFailures uint64
	// Recalls counts calls placed again to a child whose call had ended by
	// itself while its data connection stayed up.
	Recalls uint64
}

func newMediaNode(log *zap.Logger, p *peerjs.Peer, src *media.Source, post func(event) bool) *mediaNode {
	return &mediaNode{log: log.Named("media"), p: p, src: src, post: post, pion: peerjs.APIOptions{Logger: log},
		kids: map[string]*kidCall{}, wants: map[string]tree.MediaReason{}, recall: map[string]*recallState{}}
}

// onCall answers a call from our parent, receive-only, as the pages do; a
// call from anyone else is refused (the pages accept any: anyone could push
// a stream into the room).
func (m *mediaNode) onCall(o peerjs.MediaOffer, parent string) {
	if o.Peer != parent || parent == "" {
		m.stats.upRefused++
		m.log.Warn("refusing a media call that is not from our parent", zap.String("from", o.Peer), zap.String("parent", parent))
		return
	}
	if m.upAPI == nil {
		api, err := peerjs.NewUpstreamMediaAPI(m.pion)
		if err != nil {
			m.log.Error("cannot receive the parent's call", zap.Error(err))
			return
		}
		m.upAPI = api
	}
	pc, err := m.upAPI.NewPeerConnection(webrtc.Configuration{ICEServers: m.p.ICEServers()})
	if err != nil {
		m.log.Error("cannot receive the parent's call", zap.Error(err))
		return
	}
	m.src.BindUpstream(pc, offeredKinds(o.SDP.SDP))
	mc, err := m.p.Answer(o, pc)
	if err != nil {
		_ = pc.Close()
		m.log.Warn("cannot answer the parent's call", zap.Error(err))
		return
	}
	m.stats.upCalls++
	m.log.Info("answered the parent's call", zap.String("call", mc.ConnectionID()))
	if old := m.up; old != nil {
		time.AfterFunc(upstreamOverlap, func() { _ = old.Close() })
	}
	m.up = mc
}

// offeredKinds lists the kinds an offer sends us (m-lines that are not
// recvonly or inactive).
func offeredKinds(s string) []webrtc.RTPCodecType {
	var d sdp.SessionDescription
	if err := d.Unmarshal([]byte(s)); err != nil {
		return nil
	}
	var kinds []webrtc.RTPCodecType
	for _, md := range d.MediaDescriptions {
		if _, ok := md.Attribute("recvonly"); ok {
			continue
		}
		if _, ok := md.Attribute("inactive"); ok {
			continue
		}
		switch md.MediaName.Media {
		case "video":
			kinds = append(kinds, webrtc.RTPCodecTypeVideo)
		case "audio":
			kinds = append(kinds, webrtc.RTPCodecTypeAudio)
		}
	}
	return kinds
}

// request serves a tree.MediaRequest: call the child now if we have a
// stream, else when it arrives. A child that asked (refresh, lend) gets a
// new call even if it has one; a child merely joining keeps a current one.
func (m *mediaNode) request(ctx context.Context, peer string, why tree.MediaReason) {
	ready, gen := m.src.Ready()
	if !ready {
		m.wants[peer] = why
		m.log.Debug("child waits for the stream", zap.String("child", peer), zap.Stringer("reason", why))
		return
	}
	if k := m.kids[peer]; k != nil && k.gen == gen && (why == tree.MediaJoined || why == tree.MediaStreamArrived) {
		return
	}
	m.call(ctx, peer, why)
}

// changed: the source became ready or its tracks changed. Every child whose
// call carries older tracks, and every waiting child, is called.
func (m *mediaNode) changed(ctx context.Context, children []tree.Child) {
	ready, gen := m.src.Ready()
	if !ready {
		return
	}
	for peer, why := range m.wants {
		delete(m.wants, peer)
		m.call(ctx, peer, why)
	}
	for _, c := range children {
		if k := m.kids[c.ID]; k == nil || k.gen != gen {
			m.call(ctx, c.ID, tree.MediaStreamArrived)
		}
	}
}

// call (re)calls a child with our tracks, hanging up its previous call
// first (generation C pages blank the video when an old call closes, and
// every call left open is a PeerConnection wasted on both sides).
func (m *mediaNode) call(ctx context.Context, peer string, why tree.MediaReason) {
	delete(m.wants, peer)
	m.endCall(peer)
	log := m.log.With(zap.String("child", peer))
	sub, pc, err := m.subscribe(log)
	if err != nil {
		if errors.Is(err, media.ErrNoStream) {
			m.wants[peer] = why
			return
		}
		m.stats.callFailures++
		log.Warn("cannot prepare a call", zap.Error(err))
		return
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	mc, err := m.p.Call(cctx, peer, pc, nil)
	cancel()
	if err != nil {
		sub.Close()
		m.stats.callFailures++
		log.Warn("cannot call child", zap.Error(err))
		return
	}
	m.stats.calls++
	k := &kidCall{mc: mc, sub: sub, gen: sub.Generation(), start: time.Now()}
	m.kids[peer] = k
	log.Info("calling child with the stream", zap.String("call", mc.ConnectionID()), zap.Stringer("reason", why))
	go func() {
		<-mc.Done()
		sub.Close()
		m.post(event{kind: evCallEnded, peer: peer, call: mc})
	}()
}

// subscribe builds a child's PeerConnection for the codecs of the current
// stream and binds the stream's tracks to it. media.ErrNoStream (of which
// media.ErrStale is one): no stream yet, or it changed meanwhile; either
// way an evMediaChanged follows, and the child is called then.
func (m *mediaNode) subscribe(log *zap.Logger) (*media.Subscriber, *webrtc.PeerConnection, error) {
	gen, codecs, err := m.src.Codecs()
	if err != nil {
		return nil, nil, err
	}
	if m.downAPI == nil || m.downGen != gen {
		api, err := peerjs.NewDownstreamMediaAPI(m.pion, codecs)
		if err != nil {
			return nil, nil, err
		}
		m.downAPI, m.downGen = api, gen
	}
	pc, err := m.downAPI.NewPeerConnection(webrtc.Configuration{ICEServers: m.p.ICEServers()})
	if err != nil {
		return nil, nil, fmt.Errorf("child connection: %w", err)
	}
	sub, err := m.src.Subscribe(pc, gen, log)
	if err != nil {
		_ = pc.Close()
		return nil, nil, err
	}
	return sub, pc, nil
}

// ended: a child's call is over (hung up by the child, failed,
// unanswered; ours are forgotten before we close them). A child that is
// still one of ours (its data connection is up) is called again, with
// back-off: a page whose call died has no way to ask for a new one but a
// refresh its user may never press.
func (m *mediaNode) ended(peer string, mc *peerjs.MediaConn, stillChild bool, now time.Time) {
	k := m.kids[peer]
	if k == nil || k.mc != mc {
		return
	}
	delete(m.kids, peer)
	st := k.sub.Stats()
	m.log.Info("child call ended", zap.String("child", peer), zap.Error(mc.Err()),
		zap.Uint64("sent", st.Sent), zap.Uint64("dropped", st.Dropped), zap.Uint64("retransmitted", st.Retransmitted))
	if !stillChild {
		return
	}
	r := m.scheduleRecall(peer, now, k.start)
	m.log.Info("child's call ended while it is still our child; calling it again", zap.String("child", peer),
		zap.Duration("in", r.due.Sub(now)), zap.Int("attempt", r.attempts))
}

// scheduleRecall sets when a child whose call (started at start) ended now
// is called again: recallMin, doubling per early end, at most recallMax.
func (m *mediaNode) scheduleRecall(peer string, now, start time.Time) *recallState {
	r := m.recall[peer]
	if r == nil || now.Sub(start) >= recallHealthy {
		r = &recallState{}
		m.recall[peer] = r
	}
	r.due = now.Add(min(recallMin<<min(r.attempts, 5), recallMax))
	r.attempts++
	return r
}

// tick places the re-calls that are due.
func (m *mediaNode) tick(ctx context.Context, now time.Time) {
	for peer, r := range m.recall {
		if r.due.IsZero() || now.Before(r.due) {
			continue
		}
		r.due = time.Time{} // kept for the back-off until a healthy call
		if m.kids[peer] != nil {
			continue
		}
		m.stats.recalls++
		m.call(ctx, peer, tree.MediaRefresh)
	}
}

// hangUp ends a child's call, if any, and forgets the child.
func (m *mediaNode) hangUp(peer string) {
	delete(m.wants, peer)
	delete(m.recall, peer)
	m.endCall(peer)
}

// endCall closes a child's call; its end is not a reason to call again.
func (m *mediaNode) endCall(peer string) {
	if k := m.kids[peer]; k != nil {
		delete(m.kids, peer)
		_ = k.mc.Close()
	}
}

func (m *mediaNode) snapshot() MediaStats {
	ready, gen := m.src.Ready()
	st := MediaStats{Ready: ready, Generation: gen, Children: map[string]media.SubscriberStats{},
		UpCalls: m.stats.upCalls, UpRefused: m.stats.upRefused, Calls: m.stats.calls, CallFailures: m.stats.callFailures,
		Recalls: m.stats.recalls}
	if m.up != nil {
		st.Upstream = m.up.Peer()
	}
	for _, t := range m.src.Tracks() {
		st.Tracks = append(st.Tracks, t.Stats())
	}
	for peer, k := range m.kids {
		st.Children[peer] = k.sub.Stats()
	}
	return st
}

func (m *mediaNode) close() {
	for peer := range m.kids {
		m.hangUp(peer)
	}
	if m.up != nil {
		_ = m.up.Close()
	}
	m.src.Close()
}

// upSilence is how long the upstream call has sent nothing; a very long
// time when there is no upstream call or it has ended (nothing flows).
func (m *mediaNode) upSilence(now time.Time) time.Duration {
	const never = time.Duration(1<<63 - 1)
	if m.up == nil {
		return never
	}
	select {
	case <-m.up.Done():
		return never
	default:
	}
	var last time.Time
	for _, t := range m.src.Tracks() {
		if at := t.LastPacket(); at.After(last) {
			last = at
		}
	}
	if last.IsZero() {
		return never
	}
	return now.Sub(last)
}

// stalled reports whether upstream packets stopped for longer than limit
// while we have an upstream call. It fires once per stall: a host that
// stopped streaming for good costs one re-join, not one every limit.
func (m *mediaNode) stalled(now time.Time, limit time.Duration) bool {
	var total uint64
	for _, t := range m.src.Tracks() {
		total += t.Stats().Packets
	}
	if total != m.lastPackets || m.up == nil || total == 0 {
		m.lastPackets, m.lastChange, m.watchFired = total, now, false
		return false
	}
	select {
	case <-m.up.Done():
		m.lastChange = now
		return false
	default:
	}
	if m.watchFired || now.Sub(m.lastChange) < limit {
		return false
	}
	m.watchFired = true
	return true
}

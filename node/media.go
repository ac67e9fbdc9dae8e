package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// mediaNode is the media half of a node, an executor: it answers the
// parent's call into the Source and places, tracks and hangs up the calls
// to children that the tree machine decides (tree.Call, tree.HangUp; who
// gets a call, when, and re-calls are tree's, calls.go). Only the owner
// loop touches it.
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

	up   *peerjs.MediaConn
	kids map[string]*kidCall // by child peer id

	stats mediaCounters
	// watchers are the goroutines waiting for a child's call to end (one
	// per call placed); close waits for them. A WaitGroup is safe to share.
	watchers sync.WaitGroup

	// The watchdog's view of upstream packets.
	lastPackets uint64
	lastChange  time.Time
	watchFired  bool
}

// kidCall is a call placed to a child: the tree's id for it, the
// connection and the subscription feeding it.
type kidCall struct {
	id  tree.CallID
	mc  *peerjs.MediaConn
	sub *media.Subscriber
}

type mediaCounters struct {
	upCalls, upRefused, calls, callFailures uint64
}

// MediaStats is the media part of Stats.
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
		kids: map[string]*kidCall{}}
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

// place carries out a tree.Call: it hangs up the child's previous call,
// subscribes a new connection to the source and calls the child. It
// returns the generation the call carries, or why it could not be placed.
func (m *mediaNode) place(ctx context.Context, c tree.Call) (gen uint64, end tree.CallEnd, ok bool) {
	m.endCall(c.Peer)
	log := m.log.With(zap.String("child", c.Peer))
	sub, pc, err := m.subscribe(log)
	if err != nil {
		if errors.Is(err, media.ErrNoStream) {
			return 0, tree.CallNoStream, false
		}
		m.stats.callFailures++
		log.Warn("cannot prepare a call", zap.Error(err))
		return 0, tree.CallFailed, false
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	mc, err := m.p.Call(cctx, c.Peer, pc, nil)
	cancel()
	if err != nil {
		sub.Close()
		m.stats.callFailures++
		log.Warn("cannot call child", zap.Error(err))
		return 0, tree.CallFailed, false
	}
	m.stats.calls++
	m.kids[c.Peer] = &kidCall{id: c.ID, mc: mc, sub: sub}
	log.Info("calling child with the stream", zap.String("call", mc.ConnectionID()), zap.Stringer("reason", c.Reason))
	peer := c.Peer
	m.watchers.Add(1)
	go func() {
		defer m.watchers.Done()
		<-mc.Done()
		sub.Close()
		m.post(evCallEnded{peer: peer, call: mc})
	}()
	return sub.Generation(), 0, true
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

// ended: a child's call is over by itself (hung up by the child, failed,
// unanswered; calls we close are forgotten first). It returns the tree's
// id of the call, false if the call is not the child's current one.
func (m *mediaNode) ended(peer string, mc *peerjs.MediaConn) (tree.CallID, bool) {
	k := m.kids[peer]
	if k == nil || k.mc != mc {
		return 0, false
	}
	delete(m.kids, peer)
	st := k.sub.Stats()
	m.log.Info("child call ended", zap.String("child", peer), zap.Error(mc.Err()),
		zap.Uint64("sent", st.Sent), zap.Uint64("dropped", st.Dropped), zap.Uint64("retransmitted", st.Retransmitted))
	return k.id, true
}

// hangUp carries out a tree.HangUp: the child's call id, if it is still
// the current one, is closed.
func (m *mediaNode) hangUp(peer string, id tree.CallID) {
	if k := m.kids[peer]; k != nil && k.id == id {
		m.endCall(peer)
	}
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
		UpCalls: m.stats.upCalls, UpRefused: m.stats.upRefused, Calls: m.stats.calls, CallFailures: m.stats.callFailures}
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
		m.endCall(peer)
	}
	if m.up != nil {
		_ = m.up.Close()
	}
	m.src.Close()
	m.watchers.Wait() // each ends with its call, closed above
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

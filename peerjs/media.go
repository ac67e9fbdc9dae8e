package peerjs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/signaling"
)

// MediaConn is one PeerJS media call (peer.call / call.answer). The
// RTCPeerConnection belongs to the caller of Answer or Call (the media layer
// decides its API, tracks and handlers); MediaConn does the PeerJS signaling
// and the call's lifetime, and closes the PeerConnection when the call ends.
type MediaConn struct {
	p          *Peer
	peer, id   string
	originator bool
	log        *zap.Logger
	pc         *webrtc.PeerConnection
	route      *signaling.Route

	done      chan struct{}
	closeOnce sync.Once
	err       error

	timerMu   sync.Mutex  // guards openTimer
	openTimer *time.Timer // the unanswered-call deadline; stopped at close
}

// setOpenTimer keeps the call's open deadline so that closing stops it: a
// pending timer holds the call (and its PeerConnection) in memory until it
// fires, which under churn kept tens of MiB of ended calls alive.
func (m *MediaConn) setOpenTimer(t *time.Timer) {
	m.timerMu.Lock()
	defer m.timerMu.Unlock()
	select {
	case <-m.done:
		t.Stop()
	default:
		m.openTimer = t
	}
}

// Peer is the remote peer id.
func (m *MediaConn) Peer() string { return m.peer }

// ConnectionID is PeerJS's call id ("mc_…").
func (m *MediaConn) ConnectionID() string { return m.id }

// Done is closed when the call has ended; Err says why.
func (m *MediaConn) Done() <-chan struct{} { return m.done }

// Err is why the call ended (nil while it lasts).
func (m *MediaConn) Err() error {
	select {
	case <-m.done:
		return m.err
	default:
		return nil
	}
}

// Close hangs up: the PeerConnection closes, and with it the auxiliary data
// channel whose close PeerJS treats as the remote hanging up.
func (m *MediaConn) Close() error {
	m.closeWith(ErrClosed)
	return nil
}

func (m *MediaConn) closeWith(why error) {
	m.closeOnce.Do(func() {
		m.err = why
		close(m.done)
		m.timerMu.Lock()
		if m.openTimer != nil {
			m.openTimer.Stop()
			m.openTimer = nil
		}
		m.timerMu.Unlock()
		m.route.Close()
		m.p.forgetMedia(m)
		_ = m.pc.Close()
		m.log.Debug("media call ended", zap.Error(why))
	})
}

func (p *Peer) newMedia(peer, connID string, pc *webrtc.PeerConnection, originator bool) *MediaConn {
	m := &MediaConn{
		p: p, peer: peer, id: connID, originator: originator, pc: pc,
		log:  p.log.With(zap.String("peer", peer), zap.String("call", connID)),
		done: make(chan struct{}),
	}
	m.route = p.sig.Route(peer, connID)
	p.mu.Lock()
	old := register(p.media, peer, connID, m)
	p.mu.Unlock()
	if old != nil {
		old.closeWith(fmt.Errorf("%w: replaced by a new offer", ErrClosed))
	}
	p.trickle(pc, peer, connID, signaling.ConnMedia, m.log)
	closeOnICEFailure(pc, m.log, m.closeWith)
	// PeerJS's caller opens a data channel with every call; the callee
	// treats its close as hang-up. We do the same on both sides.
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnClose(func() { go m.closeWith(fmt.Errorf("%w: call hung up by remote", ErrClosed)) })
	})
	return m
}

func (p *Peer) forgetMedia(m *MediaConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if mm := p.media[m.peer]; mm != nil && mm[m.id] == m {
		delete(mm, m.id)
		if len(mm) == 0 {
			delete(p.media, m.peer)
		}
	}
}

// Answer answers a media call as `call.answer(null)` does in the pages: pc
// is a fresh PeerConnection with no local tracks, so every m-line of the
// offer is answered receive-only. Set pc's OnTrack before calling.
func (p *Peer) Answer(o MediaOffer, pc *webrtc.PeerConnection) (*MediaConn, error) {
	m := p.newMedia(o.Peer, o.ConnectionID, pc, false)
	err := pc.SetRemoteDescription(o.SDP)
	var answer webrtc.SessionDescription
	if err == nil {
		answer, err = pc.CreateAnswer(nil)
	}
	if err == nil {
		err = pc.SetLocalDescription(answer)
	}
	if err != nil {
		m.closeWith(fmt.Errorf("%w: answer call: %v", ErrNegotiation, err))
		return nil, m.err
	}
	if err := p.sig.SendPayload(signaling.TypeAnswer, o.Peer, signaling.AnswerPayload{
		SDP:          signaling.SessionDescription{Type: "answer", SDP: answer.SDP},
		Type:         signaling.ConnMedia,
		ConnectionID: o.ConnectionID,
	}); err != nil {
		m.closeWith(err)
		return nil, err
	}
	go m.negotiate(true)
	return m, nil
}

// Call calls peer as `peer.call(id, stream)` does: pc already carries the
// local tracks. It returns once the offer is sent; the call is established
// when the remote answers (ctx bounds that wait), and ends on Close, ICE
// failure, or the remote hanging up.
func (p *Peer) Call(ctx context.Context, peer string, pc *webrtc.PeerConnection, metadata json.RawMessage) (*MediaConn, error) {
	connID := "mc_" + signaling.RandomToken()
	m := p.newMedia(peer, connID, pc, true)
	if _, err := pc.CreateDataChannel(connID, nil); err != nil {
		m.closeWith(fmt.Errorf("%w: call data channel: %v", ErrNegotiation, err))
		return nil, m.err
	}
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		m.closeWith(fmt.Errorf("%w: call offer: %v", ErrNegotiation, err))
		return nil, m.err
	}
	if err := p.sig.SendPayload(signaling.TypeOffer, peer, signaling.OfferPayload{
		SDP:          signaling.SessionDescription{Type: "offer", SDP: offer.SDP},
		Type:         signaling.ConnMedia,
		ConnectionID: connID,
		Metadata:     metadata,
	}); err != nil {
		m.closeWith(err)
		return nil, err
	}
	go m.negotiate(false)
	// An unanswered call must not linger: the browser may have refused it.
	deadline, ok := ctx.Deadline()
	wait := p.cfg.OpenTimeout
	if ok {
		wait = time.Until(deadline)
	}
	m.setOpenTimer(time.AfterFunc(wait, func() {
		if pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			m.closeWith(ErrOpenTimeout)
		}
	}))
	return m, nil
}

func (m *MediaConn) negotiate(remoteSet bool) {
	n := negotiator{pc: m.pc, route: m.route, originator: m.originator, remoteSet: remoteSet, log: m.log}
	if err := n.run(m.done); err != nil {
		m.closeWith(err)
	}
}

package peerjs

import (
	"encoding/json"
	"fmt"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/signaling"
)

// negotiator applies a connection's ANSWER and trickled candidates, the same
// for data connections and media calls.
type negotiator struct {
	pc         *webrtc.PeerConnection
	route      *signaling.Route
	originator bool
	remoteSet  bool // true when the remote description is already set (we answered)
	log        *zap.Logger
}

// run handles route messages until done closes or the route ends. A failure
// to apply the answer is returned (the connection cannot work).
func (n *negotiator) run(done <-chan struct{}) error {
	var early []webrtc.ICECandidateInit
	for {
		select {
		case <-done:
			return nil
		case m, ok := <-n.route.C():
			if !ok {
				return nil
			}
			switch m.Type {
			case signaling.TypeAnswer:
				var a signaling.AnswerPayload
				if !n.originator || n.remoteSet || json.Unmarshal(m.Payload, &a) != nil {
					n.log.Warn("ignoring unexpected ANSWER")
					continue
				}
				if err := n.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.SDP.SDP}); err != nil {
					return fmt.Errorf("%w: set answer: %v", ErrNegotiation, err)
				}
				n.remoteSet = true
				for _, cand := range early {
					n.addCandidate(cand)
				}
				early = nil
			case signaling.TypeCandidate:
				var p signaling.CandidatePayload
				if json.Unmarshal(m.Payload, &p) != nil || p.Candidate.Candidate == "" {
					n.log.Debug("ignoring malformed CANDIDATE")
					continue
				}
				cand := webrtc.ICECandidateInit{Candidate: p.Candidate.Candidate, SDPMid: p.Candidate.SDPMid,
					SDPMLineIndex: p.Candidate.SDPMLineIndex, UsernameFragment: p.Candidate.UsernameFragment}
				if !n.remoteSet {
					if len(early) < maxEarlyCandidates {
						early = append(early, cand)
					}
					continue
				}
				n.addCandidate(cand)
			}
		}
	}
}

func (n *negotiator) addCandidate(cand webrtc.ICECandidateInit) {
	if err := n.pc.AddICECandidate(cand); err != nil {
		// A bad candidate is the remote's problem; others may still work.
		n.log.Debug("ignoring unusable ICE candidate", zap.String("candidate", cand.Candidate), zap.Error(err))
	}
}

// trickle sends pc's local candidates to peer as PeerJS CANDIDATE messages.
func (p *Peer) trickle(pc *webrtc.PeerConnection, peer, connID string, typ signaling.ConnectionType, log *zap.Logger) {
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		if err := p.sig.SendPayload(signaling.TypeCandidate, peer, signaling.CandidatePayload{
			Candidate: signaling.ICECandidate{Candidate: init.Candidate, SDPMid: init.SDPMid,
				SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment},
			Type:         typ,
			ConnectionID: connID,
		}); err != nil {
			log.Warn("cannot send ICE candidate", zap.Error(err))
		}
	})
}

package peerjs

// This file holds every pion knob of the node: the setting engine (loopback
// candidates, interface filter, SCTP message size, ICE liveness by
// direction, logging), the media engines' codecs and the interceptor
// registries, behind exactly one constructor per purpose:
//
//   - NewDataAPI: PeerJS data connections (dialled ones with UpstreamICE,
//     accepted ones with DownstreamICE);
//   - NewUpstreamMediaAPI: receiving a parent's call;
//   - NewDownstreamMediaAPI: sending our tracks to a child, for exactly the
//     codecs being forwarded.
//
// It lives in peerjs because every PeerConnection the node makes is one
// side of a PeerJS connection (a data connection, or a call that Call and
// Answer negotiate), and peerjs already depends on pion. Package media
// imports neither peerjs nor this file: it binds its tracks to a
// PeerConnection it is given, so the forwarding core stands alone, and
// package node builds the PeerConnections with these constructors.

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// MaxSCTPMessage is the largest data channel message we accept, advertised in
// our SDP (a=max-message-size) so that a browser refuses to send larger ones
// itself. It equals Chromium's own limit; PeerJS never sends frames above
// 16300 bytes on binary channels, so only raw/json oddities come near it.
const MaxSCTPMessage = 256 << 10

// DefaultICEServers are the ICE servers of `new Peer()` (peerjs 1.5.4).
func DefaultICEServers() []webrtc.ICEServer {
	return []webrtc.ICEServer{
		{URLs: []string{"stun:stun.l.google.com:19302"}},
		{
			URLs:       []string{"turn:eu-0.turn.peerjs.com:3478", "turn:us-0.turn.peerjs.com:3478"},
			Username:   "peerjs",
			Credential: "peerjsp",
		},
	}
}

// ICETimeouts is how fast a silent peer is declared gone: pion sends a
// keepalive when it has sent nothing for Keepalive, calls the connection
// "disconnected" after Disconnected without receiving anything, and
// "failed" after Failed (which closes PeerJS connections, ours included).
type ICETimeouts struct {
	Keepalive, Disconnected, Failed time.Duration
}

// Two kinds of links, two tolerances. Fast failure only pays where we have
// a remedy: when our parent vanishes we heal (re-join elsewhere, children
// kept), so the upstream link reports silence quickly; but it must not
// fail by itself on a stall of ours (a busy machine, a stopped process),
// so "failed" is far off and the node decides about the parent from
// "disconnected" plus its own evidence (media silence, no stall of its own).
// A child or guest has no remedy from us: closing it on a stall orphans a
// page that has no good way back, so downstream links get a browser's
// tolerance. Chromium closes a link after about 30 s without answers
// (PeerJS closes on ICE "failed"), and a leaf that really left closes its
// DTLS/SCTP association, which we see at once.
var (
	UpstreamICE   = ICETimeouts{Keepalive: 250 * time.Millisecond, Disconnected: 1500 * time.Millisecond, Failed: 15 * time.Second}
	DownstreamICE = ICETimeouts{Keepalive: time.Second, Disconnected: 5 * time.Second, Failed: 30 * time.Second}
)

// APIOptions are the knobs every pion API of a node shares.
type APIOptions struct {
	Logger *zap.Logger
	// InterfaceFilter, if set, limits the interfaces ICE gathers on (tests).
	InterfaceFilter func(string) bool
	// ICE is the liveness of the API's connections; zero means the
	// purpose's usual direction: UpstreamICE for data connections and the
	// parent's call, DownstreamICE for calls to children.
	ICE ICETimeouts
}

// NewDataAPI builds the pion API of PeerJS data connections: no media
// codecs beyond pion's defaults (PeerJS data connections negotiate none)
// and no RTP interceptors. A peer uses two, one per direction (see
// UpstreamICE), built once.
func NewDataAPI(o APIOptions) (*webrtc.API, error) {
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("peerjs: register codecs: %w", err)
	}
	// Data channels need no RTP interceptors; without an explicit registry
	// pion would install its media defaults.
	return webrtc.NewAPI(webrtc.WithSettingEngine(newSettingEngine(o, UpstreamICE)), webrtc.WithMediaEngine(&me),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

// NewUpstreamMediaAPI builds the pion API that receives a parent's call:
// every codec a page may send, and pion's default interceptors (NACK
// generator, receiver reports, TWCC feedback, stats), because the parent,
// a browser or another node, repairs and paces its stream by them.
func NewUpstreamMediaAPI(o APIOptions) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("peerjs: register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("peerjs: register interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(newSettingEngine(o, UpstreamICE)), webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(ir)), nil
}

// NewDownstreamMediaAPI builds the pion API that sends our tracks to a
// child: exactly codecs (so the child can only accept what we forward),
// NACK and PLI/FIR feedback on video (package media answers NACKs from its
// shared packet cache and merges keyframe requests), no header extensions,
// and no interceptors. Codecs change rarely (a new upstream codec is a new
// media generation), so callers build one per generation, not per call.
func NewDownstreamMediaAPI(o APIOptions, codecs []webrtc.RTPCodecCapability) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	for _, c := range codecs {
		// The kind is the MIME type's ("video/VP8"); one codec per kind, so
		// the payload types are fixed (Chromium's usual ones).
		kind, pt := webrtc.RTPCodecTypeAudio, webrtc.PayloadType(111)
		c.RTCPFeedback = nil
		if strings.HasPrefix(strings.ToLower(c.MimeType), "video/") {
			kind, pt = webrtc.RTPCodecTypeVideo, 96
			c.RTCPFeedback = fb
		}
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c, PayloadType: pt}, kind); err != nil {
			return nil, fmt.Errorf("peerjs: register %s: %w", c.MimeType, err)
		}
	}
	// An explicit empty registry: without one pion adds its defaults (a NACK
	// responder with a packet copy per child, reports and stats on every
	// write, TWCC), all of which media does once for all children, or not
	// at all.
	return webrtc.NewAPI(webrtc.WithSettingEngine(newSettingEngine(o, DownstreamICE)), webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

// newSettingEngine is the pion setting engine of every API above. Loopback
// candidates are always gathered: a relay may share a host (or a network
// namespace with only lo) with its parent or children, and pion skips
// loopback by default. Our SCTP message limit is advertised; pion's logs go
// through zap. def is the ICE liveness when o.ICE is zero.
func newSettingEngine(o APIOptions, def ICETimeouts) webrtc.SettingEngine {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = zapFactory{log.Named("pion")}
	se.SetIncludeLoopbackCandidate(true)
	se.SetSCTPMaxMessageSize(MaxSCTPMessage)
	// See UpstreamICE and DownstreamICE. pion's "failed" timeout counts from
	// "disconnected".
	ice := o.ICE
	if ice == (ICETimeouts{}) {
		ice = def
	}
	se.SetICETimeouts(ice.Disconnected, ice.Failed-ice.Disconnected, ice.Keepalive)
	if o.InterfaceFilter != nil {
		se.SetInterfaceFilter(o.InterfaceFilter)
	}
	return se
}

// zapFactory adapts zap to pion's logger interface, one level down: pion's
// Info and Warn are routine (every ICE step, pings before candidates
// arrive), its Error is worth a warning; our own logs carry the events that
// matter. Trace is dropped.
type zapFactory struct{ log *zap.Logger }

func (f zapFactory) NewLogger(scope string) logging.LeveledLogger {
	return zapLeveled{f.log.Named(scope).WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

type zapLeveled struct{ s *zap.SugaredLogger }

func (l zapLeveled) Trace(string)                   {}
func (l zapLeveled) Tracef(string, ...any)          {}
func (l zapLeveled) Debug(msg string)               { l.s.Debug(msg) }
func (l zapLeveled) Debugf(format string, a ...any) { l.s.Debugf(format, a...) }
func (l zapLeveled) Info(msg string)                { l.s.Debug(msg) }
func (l zapLeveled) Infof(format string, a ...any)  { l.s.Debugf(format, a...) }
func (l zapLeveled) Warn(msg string)                { l.s.Debug(msg) }
func (l zapLeveled) Warnf(format string, a ...any)  { l.s.Debugf(format, a...) }
func (l zapLeveled) Error(msg string)               { l.s.Warn(msg) }
func (l zapLeveled) Errorf(format string, a ...any) { l.s.Warnf(format, a...) }

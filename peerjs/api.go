package peerjs

import (
	"fmt"
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

// APIOptions tune the pion API shared by every connection of a peer.
type APIOptions struct {
	Logger *zap.Logger
	// InterfaceFilter, if set, limits the interfaces ICE gathers on (tests).
	InterfaceFilter func(string) bool
	// ICE is the liveness of the API's connections; zero means UpstreamICE.
	ICE ICETimeouts
}

// NewAPI builds the one pion API a peer uses. Loopback candidates are always
// gathered: a relay may share a host (or a network namespace with only lo)
// with its parent or children, and pion skips loopback by default.
func NewAPI(o APIOptions) (*webrtc.API, error) {
	se := NewSettingEngine(o)
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("peerjs: register codecs: %w", err)
	}
	// Data channels need no RTP interceptors; without an explicit registry
	// pion would install its media defaults.
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

// NewSettingEngine is the pion setting engine every connection of ours
// uses, data or media: loopback candidates gathered, our SCTP message limit,
// pion's logs through zap.
func NewSettingEngine(o APIOptions) webrtc.SettingEngine {
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
		ice = UpstreamICE
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

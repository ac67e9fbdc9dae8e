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

// ICE liveness: how fast a silent peer is declared gone.
const (
	ICEKeepalive           = 250 * time.Millisecond
	ICEDisconnectedTimeout = 1500 * time.Millisecond
	ICEFailedTimeout       = 2 * time.Second
)

// APIOptions tune the pion API shared by every connection of a peer.
type APIOptions struct {
	Logger *zap.Logger
	// InterfaceFilter, if set, limits the interfaces ICE gathers on (tests).
	InterfaceFilter func(string) bool
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
	// A vanished peer (crash, cable) sends nothing more: with a keepalive
	// every 250 ms, 1.5 s of silence is "disconnected" and 2 s "failed",
	// which closes its connections (pion's defaults: 5 s and 30 s).
	se.SetICETimeouts(ICEDisconnectedTimeout, ICEFailedTimeout-ICEDisconnectedTimeout, ICEKeepalive)
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

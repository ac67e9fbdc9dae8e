package peerjs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs/serial"
	"github.com/p2plive/p2plive-node/signaling"
)

// Config configures a Peer.
type Config struct {
	Signaling signaling.Config
	// API is the pion API for the connections we dial; nil builds one with
	// NewDataAPI (UpstreamICE).
	API *webrtc.API
	// AcceptAPI is the pion API for the connections we accept; nil builds
	// one with NewDataAPI and DownstreamICE.
	AcceptAPI *webrtc.API
	// MaxConnsPerPeer caps the incoming data connections one remote peer
	// may have open or opening at once; 0 means DefaultMaxConnsPerPeer.
	// An OFFER over the cap is refused before anything is allocated for it.
	MaxConnsPerPeer int
	// MaxConns caps all incoming data connections (open or opening); 0
	// means DefaultMaxConns.
	MaxConns int
	// ICEServers; nil means DefaultICEServers (as `new Peer()`), empty means none.
	ICEServers []webrtc.ICEServer
	// Serial bounds decoding (largest message, chunked messages in flight).
	Serial serial.Options
	// OpenTimeout bounds how long a connection may take to open; 0 means 30 s.
	OpenTimeout time.Duration
	// RecvQueue is how many decoded values may wait per connection; 0 means 1024.
	RecvQueue int
	// RecvQueueBytes bounds the wire bytes of the values waiting per
	// connection (a queue of a thousand 3 MB messages would hold gigabytes);
	// 0 means twice the serialization's MaxMessageSize. A value over the
	// bound is dropped and counted, like one over RecvQueue.
	RecvQueueBytes int
	// RecvQueueTotalBytes bounds the same across all connections of the
	// peer (one slow owner loop must not let a thousand connections queue
	// a thousand times the per-connection bound); 0 means 16 ×
	// RecvQueueBytes, at least 64 MiB.
	RecvQueueTotalBytes int
	// OnCall receives media OFFERs (the media layer plugs in here). Nil: calls
	// are logged and left unanswered, which PeerJS callers see as a call that never connects.
	OnCall func(MediaOffer)
	Logger *zap.Logger
}

// MediaOffer is a PeerJS media call (`peer.call`) made to us.
type MediaOffer struct {
	Peer         string
	ConnectionID string
	SDP          webrtc.SessionDescription
	Metadata     json.RawMessage
}

// Defaults of the incoming connection caps. The pages open one connection
// to a parent (two during a swap, plus a short guest connection to read a
// room map); a few more cover reconnects racing the old connection's close.
const (
	DefaultMaxConnsPerPeer = 4
	DefaultMaxConns        = 1024
)

// acceptQueue bounds opened incoming connections nobody has accepted yet.
const acceptQueue = 64

// Peer is our PeerJS identity: one signaling session and its connections.
type Peer struct {
	cfg Config
	log *zap.Logger
	sig *signaling.Client
	api *webrtc.API

	accepted chan *DataConn
	accAPI   *webrtc.API
	// queued is the wire bytes waiting in every connection's receive queue.
	queued atomic.Int64

	mu       sync.Mutex // guards conns, media, incoming and refused
	conns    map[string]map[string]*DataConn
	media    map[string]map[string]*MediaConn
	incoming map[string]int // open or opening incoming data connections by peer
	nIn      int            // their sum
	refused  PeerStats
	logged   map[string]bool // refusal reasons already logged (once each)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New registers with the PeerServer and starts serving connections.
func New(ctx context.Context, cfg Config) (*Peer, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = 30 * time.Second
	}
	if cfg.RecvQueue <= 0 {
		cfg.RecvQueue = 1024
	}
	if cfg.RecvQueueBytes <= 0 {
		m := cfg.Serial.MaxMessageSize
		if m <= 0 {
			m = serial.DefaultMaxMessageSize
		}
		cfg.RecvQueueBytes = 2 * m
	}
	if cfg.RecvQueueTotalBytes <= 0 {
		cfg.RecvQueueTotalBytes = max(16*cfg.RecvQueueBytes, 64<<20)
	}
	cfg.RecvQueueTotalBytes = max(cfg.RecvQueueTotalBytes, cfg.RecvQueueBytes)
	if cfg.ICEServers == nil {
		cfg.ICEServers = DefaultICEServers()
	}
	if cfg.MaxConnsPerPeer <= 0 {
		cfg.MaxConnsPerPeer = DefaultMaxConnsPerPeer
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	api := cfg.API
	if api == nil {
		var err error
		if api, err = NewDataAPI(APIOptions{Logger: cfg.Logger}); err != nil {
			return nil, err
		}
	}
	accAPI := cfg.AcceptAPI
	if accAPI == nil {
		var err error
		if accAPI, err = NewDataAPI(APIOptions{Logger: cfg.Logger, ICE: DownstreamICE}); err != nil {
			return nil, err
		}
	}
	if cfg.Signaling.Logger == nil {
		cfg.Signaling.Logger = cfg.Logger.Named("signaling")
	}
	sig, err := signaling.Connect(ctx, cfg.Signaling)
	if err != nil {
		return nil, err
	}
	p := &Peer{
		cfg:      cfg,
		log:      cfg.Logger.With(zap.String("self", sig.ID())),
		sig:      sig,
		api:      api,
		accAPI:   accAPI,
		accepted: make(chan *DataConn, acceptQueue),
		conns:    map[string]map[string]*DataConn{},
		media:    map[string]map[string]*MediaConn{},
		incoming: map[string]int{},
		logged:   map[string]bool{},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.run()
	return p, nil
}

// ID is our peer id.
func (p *Peer) ID() string { return p.sig.ID() }

// Signaling exposes the session (state, stats) for logs and tests.
func (p *Peer) Signaling() *signaling.Client { return p.sig }

// ICEServers are the ICE servers of the peer's connections (Config's, or
// DefaultICEServers); the PeerConnections of its calls use them too.
func (p *Peer) ICEServers() []webrtc.ICEServer { return p.cfg.ICEServers }

// Done is closed when the peer can no longer signal (closed, or a fatal
// server verdict); established connections may still be up.
func (p *Peer) Done() <-chan struct{} { return p.sig.Done() }

// PeerStats counts incoming data connections refused by the caps.
type PeerStats struct {
	RefusedPerPeer uint64 // over MaxConnsPerPeer
	RefusedTotal   uint64 // over MaxConns
	Incoming       int    // open or opening now
	// PendingHeld and PendingRefused are the shared budget of unfinished
	// chunked messages (Config.Serial.Shared): bytes held now, pieces
	// refused because it was full.
	PendingHeld    int
	PendingRefused uint64
}

// Stats returns the peer's connection counters.
func (p *Peer) Stats() PeerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.refused
	st.Incoming = p.nIn
	if b := p.cfg.Serial.Shared; b != nil {
		st.PendingHeld, st.PendingRefused = b.Held(), b.Refused()
	}
	return st
}

// admit reserves a slot for an incoming connection from peer, or says why
// not. The slot is released by forget.
func (p *Peer) admit(peer string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var why string
	var err error
	switch {
	case p.incoming[peer] >= p.cfg.MaxConnsPerPeer:
		p.refused.RefusedPerPeer++
		why, err = "per-peer", fmt.Errorf("%w: %d connections from this peer already", ErrTooManyConns, p.incoming[peer])
		// Logged once per peer: the peer id says who is at it.
		if !p.logged[why+"/"+peer] && len(p.logged) < 1024 {
			p.logged[why+"/"+peer] = true
			p.log.Warn("refusing data connections over the per-peer cap (further ones are only counted)",
				zap.String("peer", peer), zap.Int("cap", p.cfg.MaxConnsPerPeer))
		}
		return err
	case p.nIn >= p.cfg.MaxConns:
		p.refused.RefusedTotal++
		why, err = "total", fmt.Errorf("%w: %d incoming connections", ErrTooManyConns, p.nIn)
		if !p.logged[why] {
			p.logged[why] = true
			p.log.Warn("refusing data connections over the total cap (further ones are only counted)",
				zap.String("peer", peer), zap.Int("cap", p.cfg.MaxConns))
		}
		return err
	}
	p.incoming[peer]++
	p.nIn++
	return nil
}

// Accept returns the next incoming data connection, once it is open.
func (p *Peer) Accept(ctx context.Context) (*DataConn, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.ctx.Done():
		return nil, ErrClosed
	case c := <-p.accepted:
		return c, nil
	}
}

// Close closes every connection and the signaling session.
func (p *Peer) Close() error {
	p.cancel()
	err := p.sig.Close()
	p.mu.Lock()
	var all []*DataConn
	for _, m := range p.conns {
		for _, c := range m {
			all = append(all, c)
		}
	}
	var calls []*MediaConn
	for _, mm := range p.media {
		for _, m := range mm {
			calls = append(calls, m)
		}
	}
	p.mu.Unlock()
	for _, c := range all {
		c.closeWith(ErrClosed)
	}
	for _, m := range calls {
		m.closeWith(ErrClosed)
	}
	p.wg.Wait()
	for {
		select {
		case c := <-p.accepted:
			c.closeWith(ErrClosed)
		default:
			return err
		}
	}
}

// run handles the peer-level server messages: OFFER, LEAVE, EXPIRE.
func (p *Peer) run() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case m, ok := <-p.sig.Incoming():
			if !ok {
				return
			}
			switch m.Type {
			case signaling.TypeOffer:
				p.handleOffer(m)
			case signaling.TypeLeave:
				p.log.Info("peer left", zap.String("peer", m.Src))
				p.closePeer(m.Src, ErrRemoteLeft, false)
			case signaling.TypeExpire:
				p.log.Info("offer expired: peer unavailable", zap.String("peer", m.Src))
				p.closePeer(m.Src, ErrPeerUnavailable, true)
			}
		}
	}
}

// closePeer closes the connections with peer (only those not yet open when
// pendingOnly: EXPIRE is about offers, not established channels).
func (p *Peer) closePeer(peer string, why error, pendingOnly bool) {
	p.mu.Lock()
	var victims []*DataConn
	for _, c := range p.conns[peer] {
		if !pendingOnly || !c.isOpen() {
			victims = append(victims, c)
		}
	}
	var calls []*MediaConn
	if !pendingOnly {
		for _, m := range p.media[peer] {
			calls = append(calls, m)
		}
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.closeWith(why)
	}
	for _, m := range calls {
		m.closeWith(why)
	}
}

func (p *Peer) handleOffer(m signaling.Message) {
	var o signaling.OfferPayload
	if err := json.Unmarshal(m.Payload, &o); err != nil || o.ConnectionID == "" || o.SDP.SDP == "" {
		p.log.Warn("dropping malformed OFFER", zap.String("peer", m.Src), zap.Error(err))
		return
	}
	switch o.Type {
	case signaling.ConnMedia:
		offer := MediaOffer{Peer: m.Src, ConnectionID: o.ConnectionID, Metadata: o.Metadata,
			SDP: webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP.SDP}}
		if p.cfg.OnCall == nil {
			p.log.Info("media call not handled by this node", zap.String("peer", m.Src), zap.String("conn", o.ConnectionID))
			return
		}
		p.cfg.OnCall(offer)
	case signaling.ConnData:
		if err := p.accept(m.Src, o); err != nil {
			p.log.Warn("refusing data connection", zap.String("peer", m.Src), zap.String("conn", o.ConnectionID), zap.Error(err))
		}
	default:
		p.log.Warn("dropping OFFER of unknown connection type", zap.String("peer", m.Src), zap.String("type", string(o.Type)))
	}
}

// ConnectOptions are the options of `peer.connect(id, options)`. The zero
// value is what the P2P-Live-web pages use: binary, unordered, no metadata.
type ConnectOptions struct {
	Label         string          // default: the connection id
	Serialization string          // default "binary"
	Reliable      bool            // true: ordered channel
	Metadata      json.RawMessage // any JSON, passed to the remote in the OFFER
}

// Connect dials a data connection to peer, as `peer.connect` does, and waits
// until it is open.
func (p *Peer) Connect(ctx context.Context, peer string, o ConnectOptions) (*DataConn, error) {
	if o.Serialization == "" || o.Serialization == "default" {
		o.Serialization = "binary"
	}
	connID := "dc_" + signaling.RandomToken()
	if o.Label == "" {
		o.Label = connID
	}
	c, err := p.newConn(peer, connID, o.Label, o.Serialization, o.Reliable, o.Metadata, true)
	if err != nil {
		return nil, err
	}
	ordered := o.Reliable
	dc, err := c.pc.CreateDataChannel(o.Label, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		c.closeWith(fmt.Errorf("%w: create data channel: %v", ErrNegotiation, err))
		return nil, c.Err()
	}
	c.attach(dc)
	offer, err := c.pc.CreateOffer(nil)
	if err == nil {
		err = c.pc.SetLocalDescription(offer)
	}
	if err != nil {
		c.closeWith(fmt.Errorf("%w: offer: %v", ErrNegotiation, err))
		return nil, c.Err()
	}
	err = p.sig.SendPayload(signaling.TypeOffer, peer, signaling.OfferPayload{
		SDP:           signaling.SessionDescription{Type: "offer", SDP: offer.SDP},
		Type:          signaling.ConnData,
		ConnectionID:  connID,
		Metadata:      o.Metadata,
		Label:         o.Label,
		Reliable:      o.Reliable,
		Serialization: o.Serialization,
	})
	if err != nil {
		c.closeWith(err)
		return nil, err
	}
	go c.negotiate()
	select {
	case <-c.opened:
		return c, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		c.closeWith(ctx.Err())
		return nil, ctx.Err()
	}
}

// accept answers a data OFFER.
func (p *Peer) accept(peer string, o signaling.OfferPayload) error {
	label := o.Label
	if label == "" {
		label = o.ConnectionID
	}
	if err := p.admit(peer); err != nil {
		return err
	}
	c, err := p.newConn(peer, o.ConnectionID, label, o.Serialization, o.Reliable, o.Metadata, false)
	if err != nil {
		p.release(peer)
		return err
	}
	c.pc.OnDataChannel(func(dc *webrtc.DataChannel) { c.attach(dc) })
	err = c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP.SDP})
	var answer webrtc.SessionDescription
	if err == nil {
		answer, err = c.pc.CreateAnswer(nil)
	}
	if err == nil {
		err = c.pc.SetLocalDescription(answer)
	}
	if err != nil {
		c.closeWith(fmt.Errorf("%w: answer: %v", ErrNegotiation, err))
		return c.Err()
	}
	c.remoteSet = true
	if err := p.sig.SendPayload(signaling.TypeAnswer, peer, signaling.AnswerPayload{
		SDP:          signaling.SessionDescription{Type: "answer", SDP: answer.SDP},
		Type:         signaling.ConnData,
		ConnectionID: o.ConnectionID,
	}); err != nil {
		c.closeWith(err)
		return err
	}
	go c.negotiate()
	go func() {
		select {
		case <-c.opened:
		case <-c.done:
			return
		}
		select {
		case p.accepted <- c:
		default:
			p.log.Warn("too many unaccepted connections; closing", zap.String("peer", peer))
			c.closeWith(ErrClosed)
		}
	}()
	return nil
}

// newConn builds the connection object and its RTCPeerConnection and
// registers it; the caller completes the offer or answer.
func (p *Peer) newConn(peer, connID, label, serialization string, reliable bool, metadata json.RawMessage, originator bool) (*DataConn, error) {
	enc, err := serial.New(serialization, p.cfg.Serial)
	if err != nil {
		return nil, err
	}
	dec, _ := serial.New(serialization, p.cfg.Serial)
	api := p.api
	if !originator {
		api = p.accAPI
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: p.cfg.ICEServers})
	if err != nil {
		return nil, fmt.Errorf("%w: new peer connection: %v", ErrNegotiation, err)
	}
	c := &DataConn{
		p: p, peer: peer, id: connID, label: label, serialization: enc.Name(),
		reliable: reliable, metadata: metadata, originator: originator,
		log:    p.log.With(zap.String("peer", peer), zap.String("conn", connID)),
		pc:     pc,
		enc:    enc,
		dec:    dec,
		recv:   make(chan received, p.cfg.RecvQueue),
		opened: make(chan struct{}),
		done:   make(chan struct{}),
	}
	c.route = p.sig.Route(peer, connID)
	p.mu.Lock()
	old := register(p.conns, peer, connID, c)
	p.mu.Unlock()
	if old != nil {
		// PeerJS: an OFFER for an existing connection id replaces it.
		old.closeWith(fmt.Errorf("%w: replaced by a new offer", ErrClosed))
	}
	p.trickle(pc, peer, connID, signaling.ConnData, c.log)
	closeOnICEFailure(pc, c.log, c.closeWith)
	c.setOpenTimer(time.AfterFunc(p.cfg.OpenTimeout, func() {
		if !c.isOpen() {
			c.closeWith(ErrOpenTimeout)
		}
	}))
	return c, nil
}

func (p *Peer) forget(c *DataConn) {
	p.mu.Lock()
	if m := p.conns[c.peer]; m != nil && m[c.id] == c {
		delete(m, c.id)
		if len(m) == 0 {
			delete(p.conns, c.peer)
		}
	}
	p.mu.Unlock()
	if !c.originator {
		p.release(c.peer)
	}
}

// release frees the slot admit reserved.
func (p *Peer) release(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.incoming[peer] <= 1 {
		delete(p.incoming, peer)
	} else {
		p.incoming[peer]--
	}
	p.nIn--
}

// register files v under peer and connection id, returning what it replaces.
func register[T any](m map[string]map[string]T, peer, connID string, v T) T {
	if m[peer] == nil {
		m[peer] = map[string]T{}
	}
	old := m[peer][connID]
	m[peer][connID] = v
	return old
}

// closeOnICEFailure ends a connection when ICE fails or closes. Like
// PeerJS, "disconnected" is left alone: it may recover (and our ICE timeouts
// turn a lasting silence into "failed" within 2 s).
func closeOnICEFailure(pc *webrtc.PeerConnection, log *zap.Logger, closeWith func(error)) {
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		log.Debug("ice state", zap.Stringer("state", s))
		if s == webrtc.ICEConnectionStateFailed || s == webrtc.ICEConnectionStateClosed {
			go closeWith(fmt.Errorf("%w: ice %s", ErrClosed, s))
		}
	})
}

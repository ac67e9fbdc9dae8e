package peerjs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
	"github.com/p2plive/p2plive-node/peerjs/serial"
	"github.com/p2plive/p2plive-node/signaling"
)

// maxBuffered is PeerJS's backpressure mark (DataConnection.MAX_BUFFERED_AMOUNT).
const maxBuffered = 8 << 20

// maxEarlyCandidates bounds candidates that arrive before the answer.
const maxEarlyCandidates = 64

// DataConn is one PeerJS data connection. Received values come out of Recv in
// the value model of package binarypack (nil, bool, int64, float64, string,
// []byte, []any, binarypack.Map, binarypack.Undefined) whatever the serialization.
type DataConn struct {
	p             *Peer
	peer, id      string
	label         string
	serialization string
	reliable      bool
	metadata      json.RawMessage
	originator    bool
	log           *zap.Logger

	pc    *webrtc.PeerConnection
	route *signaling.Route

	// remoteSet is owned by the negotiate goroutine once it runs (set before it starts for answers).
	remoteSet bool

	mu        sync.Mutex // guards dc and openTimer
	dc        *webrtc.DataChannel
	openTimer *time.Timer // the open deadline; stopped at close

	sendMu sync.Mutex // guards enc and keeps one message's frames together
	enc    serial.Codec

	decMu sync.Mutex // guards dec (pion delivers from one goroutine, but do not rely on it)
	dec   serial.Codec

	recv chan received
	// queued is the wire bytes of the values in recv; pending the bytes of
	// frames decoded since the last whole value (the pieces of a chunked
	// message), charged to the value they complete.
	qmu     sync.Mutex // guards queued and qclosed
	queued  int64
	qclosed bool // queued was given back to the peer's total at close
	pending int  // guarded by decMu
	opened  chan struct{}
	open    atomic.Bool

	done      chan struct{}
	closeOnce sync.Once
	err       error // set before done is closed

	stats struct {
		received, dropped, malformed, tooBig, sent atomic.Uint64
	}
	loggedTooBig, loggedMalformed atomic.Bool // each kind is logged once, counted always
}

// ConnStats counts a connection's traffic and rejects.
type ConnStats struct {
	Received  uint64 // whole values delivered to Recv
	Dropped   uint64 // values dropped because Recv lagged
	Malformed uint64 // frames that failed to decode
	TooBig    uint64 // messages over the size limit
	Sent      uint64 // values sent
	// Reordered counts chunk pieces that arrived after a higher-numbered
	// piece of the same message (binary serialization only).
	Reordered uint64
}

// received is a decoded value and the wire bytes it came in.
type received struct {
	v any
	n int
}

// Peer is the remote peer id.
func (c *DataConn) Peer() string { return c.peer }

// ConnectionID is PeerJS's connection id ("dc_…").
func (c *DataConn) ConnectionID() string { return c.id }

// Label is the data channel label.
func (c *DataConn) Label() string { return c.label }

// Serialization is the negotiated serialization ("binary", "json", "raw", ...).
func (c *DataConn) Serialization() string { return c.serialization }

// Reliable reports whether the channel is ordered (PeerJS's `reliable`).
func (c *DataConn) Reliable() bool { return c.reliable }

// Metadata is the metadata of the OFFER, raw JSON (nil if none).
func (c *DataConn) Metadata() json.RawMessage { return c.metadata }

// Done is closed when the connection has closed; Err says why.
func (c *DataConn) Done() <-chan struct{} { return c.done }

// Err is why the connection closed (nil while open).
func (c *DataConn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Stats returns the connection's counters.
func (c *DataConn) Stats() ConnStats {
	return ConnStats{
		Received:  c.stats.received.Load(),
		Dropped:   c.stats.dropped.Load(),
		Malformed: c.stats.malformed.Load(),
		TooBig:    c.stats.tooBig.Load(),
		Sent:      c.stats.sent.Load(),
		Reordered: c.reordered(),
	}
}

func (c *DataConn) reordered() uint64 {
	r, ok := c.dec.(serial.Reorderer)
	if !ok {
		return 0
	}
	return r.Reordered()
}

func (c *DataConn) isOpen() bool { return c.open.Load() }

// Connected reports whether the transport is up now (ICE connected or
// completed). It goes false within seconds of the remote vanishing, long
// before ICE gives up and the channel closes.
func (c *DataConn) Connected() bool {
	switch c.pc.ICEConnectionState() {
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		return true
	}
	return false
}

// Recv returns the next received value. After the connection closes, values
// already received are still returned, then the close reason.
func (c *DataConn) Recv(ctx context.Context) (any, error) {
	select {
	case r := <-c.recv:
		return c.took(r), nil
	default:
	}
	select {
	case r := <-c.recv:
		return c.took(r), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		select {
		case r := <-c.recv:
			return c.took(r), nil
		default:
			return nil, c.err
		}
	}
}

func (c *DataConn) took(r received) any {
	c.qmu.Lock()
	c.queued -= int64(r.n)
	if !c.qclosed {
		c.p.queued.Add(-int64(r.n))
	}
	c.qmu.Unlock()
	return r.v
}

// reserve charges n queued bytes to the connection and the peer, if both
// have room.
func (c *DataConn) reserve(n int64) bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.qclosed || c.queued+n > int64(c.p.cfg.RecvQueueBytes) {
		return false
	}
	if c.p.queued.Add(n) > int64(c.p.cfg.RecvQueueTotalBytes) {
		c.p.queued.Add(-n)
		return false
	}
	c.queued += n
	return true
}

// unqueueAll gives the connection's queued bytes back to the peer at
// close: values nobody will read must not hold the peer's budget.
func (c *DataConn) unqueueAll() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if !c.qclosed {
		c.qclosed = true
		c.p.queued.Add(-c.queued)
	}
}

// Send encodes v in the connection's serialization and sends it (chunked for
// binary above 16300 bytes). It never blocks on the network: above PeerJS's
// 8 MiB backpressure mark it fails with ErrBufferFull and the caller decides.
func (c *DataConn) Send(v any) error {
	dc, err := c.openChannel()
	if err != nil {
		return err
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	frames, err := c.enc.Encode(v)
	if err != nil {
		return fmt.Errorf("peerjs: send to %s: %w", c.peer, err)
	}
	return c.sendFrames(dc, frames)
}

// openChannel is the data channel to send on, or why there is none.
func (c *DataConn) openChannel() (*webrtc.DataChannel, error) {
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	if dc == nil || !c.isOpen() {
		select {
		case <-c.done:
			return nil, fmt.Errorf("peerjs: send to %s: %w", c.peer, c.err)
		default:
			return nil, fmt.Errorf("peerjs: send to %s: %w", c.peer, ErrNotOpen)
		}
	}
	return dc, nil
}

// Packer is a value that carries its own BinaryPack encoding, made at most
// once (tree.Message): the bytes its owner already packed (to hash them,
// say) are the bytes sent.
type Packer interface {
	Value() any
	Packed() ([]byte, error)
}

// Outgoing is one value to be sent on many connections, encoded at most
// once per serialization, on first use: BinaryPack bytes for every binary
// connection (framed, and chunked with each connection's own ids), and the
// frames of json and raw, which depend on the value alone, for every
// connection of that serialization.
type Outgoing struct {
	V    any
	pack func() ([]byte, error) // V's BinaryPack encoding: binarypack.Pack or a Packer's

	mu      sync.Mutex // guards the following: the forms made so far
	packed  []byte
	err     error
	didPack bool
	forms   []outForm
}

// outForm is the frames of one value-only serialization (json, raw).
type outForm struct {
	name   string
	frames []serial.Frame
	err    error
}

// NewOutgoing wraps v for SendOutgoing.
func NewOutgoing(v any) *Outgoing {
	o := &Outgoing{V: v}
	o.pack = o.packValue
	return o
}

// NewPackedOutgoing wraps a value that packs itself: SendOutgoing uses
// p.Packed on binary connections and p.Value for the others.
func NewPackedOutgoing(p Packer) *Outgoing { return &Outgoing{V: p.Value(), pack: p.Packed} }

func (o *Outgoing) packValue() ([]byte, error) { return binarypack.Pack(o.V) }

func (o *Outgoing) binary() ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.didPack {
		o.packed, o.err = o.pack()
		o.didPack = true
	}
	return o.packed, o.err
}

// framesFor returns enc's frames of V, encoding them on the first
// connection of that serialization. enc must not be a PackedEncoder (its
// frames carry per-connection chunk ids).
func (o *Outgoing) framesFor(enc serial.Codec) ([]serial.Frame, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	name := enc.Name()
	for _, f := range o.forms {
		if f.name == name {
			return f.frames, f.err
		}
	}
	frames, err := enc.Encode(o.V)
	o.forms = append(o.forms, outForm{name, frames, err})
	return frames, err
}

// SendOutgoing is Send for a value shared by many connections.
func (c *DataConn) SendOutgoing(o *Outgoing) error {
	dc, err := c.openChannel()
	if err != nil {
		return err
	}
	var frames []serial.Frame
	if pe, ok := c.enc.(serial.PackedEncoder); ok {
		b, err := o.binary()
		if err != nil {
			return fmt.Errorf("peerjs: send to %s: %w", c.peer, err)
		}
		c.sendMu.Lock()
		defer c.sendMu.Unlock()
		return c.sendFrames(dc, pe.EncodePacked(b))
	}
	frames, err = o.framesFor(c.enc)
	if err != nil {
		return fmt.Errorf("peerjs: send to %s: %w", c.peer, err)
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.sendFrames(dc, frames)
}

func (c *DataConn) sendFrames(dc *webrtc.DataChannel, frames []serial.Frame) error {
	total := 0
	for _, f := range frames {
		total += len(f.Data)
	}
	if dc.BufferedAmount()+uint64(total) > maxBuffered {
		return fmt.Errorf("peerjs: send to %s: %w", c.peer, ErrBufferFull)
	}
	for _, f := range frames {
		var err error
		if f.Text {
			err = dc.SendText(string(f.Data))
		} else {
			err = dc.Send(f.Data)
		}
		if err != nil {
			return fmt.Errorf("peerjs: send to %s: %w: %v", c.peer, ErrClosed, err)
		}
	}
	c.stats.sent.Add(1)
	return nil
}

// Close closes the connection (as PeerJS's conn.close(): no message, the
// remote sees the channel close).
func (c *DataConn) Close() error {
	c.closeWith(ErrClosed)
	return nil
}

// CloseGracefully sends PeerJS's polite close message first (conn.close({flush:true})
// on the remote makes it close its side), then closes.
func (c *DataConn) CloseGracefully() error {
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	if dc != nil && c.isOpen() {
		c.sendMu.Lock()
		frames, err := c.enc.EncodeClose()
		if err == nil {
			err = c.sendFrames(dc, frames)
		}
		c.sendMu.Unlock()
		if err != nil && !errors.Is(err, serial.ErrUnsupportedType) {
			c.log.Debug("polite close not sent", zap.Error(err))
		}
	}
	return c.Close()
}

func (c *DataConn) closeWith(why error) {
	c.closeOnce.Do(func() {
		c.err = why
		close(c.done)
		c.mu.Lock()
		if c.openTimer != nil {
			c.openTimer.Stop()
			c.openTimer = nil
		}
		c.mu.Unlock()
		c.unqueueAll()
		// Half-received chunked messages will never complete: give their
		// bytes back to the peer's shared budget.
		if r, ok := c.dec.(serial.Releaser); ok {
			r.Release()
		}
		c.route.Close()
		c.p.forget(c)
		c.mu.Lock()
		dc := c.dc
		c.mu.Unlock()
		if dc != nil {
			_ = dc.Close()
		}
		_ = c.pc.Close()
		c.log.Debug("connection closed", zap.Error(why))
	})
}

// setOpenTimer keeps the open deadline so that closing stops it: a pending
// timer holds the connection (and its PeerConnection) in memory until it
// fires, which under churn kept tens of MiB of closed connections alive.
func (c *DataConn) setOpenTimer(t *time.Timer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		t.Stop()
	default:
		c.openTimer = t
	}
}

// attach wires the data channel: ours when dialing, the remote's when accepting.
func (c *DataConn) attach(dc *webrtc.DataChannel) {
	c.mu.Lock()
	if c.dc != nil {
		c.mu.Unlock()
		// PeerJS opens exactly one channel per data connection; ignore extras.
		c.log.Warn("ignoring extra data channel", zap.String("label", dc.Label()))
		return
	}
	c.dc = dc
	c.mu.Unlock()
	dc.OnOpen(func() {
		if c.open.CompareAndSwap(false, true) {
			close(c.opened)
			c.log.Info("data connection open", zap.String("serialization", c.serialization), zap.Bool("reliable", c.reliable))
		}
	})
	dc.OnClose(func() { go c.closeWith(fmt.Errorf("%w: channel closed by remote", ErrClosed)) })
	dc.OnMessage(c.onMessage)
}

// onMessage decodes one frame. It runs on pion's read goroutine and never
// blocks it: a value the consumer has no room for is dropped and counted.
func (c *DataConn) onMessage(m webrtc.DataChannelMessage) {
	c.decMu.Lock()
	v, ok, err := c.dec.Decode(serial.Frame{Data: m.Data, Text: m.IsString})
	// Clamped: pieces of messages the codec dropped are never charged.
	c.pending = min(c.pending+len(m.Data), c.p.cfg.RecvQueueBytes/2)
	size := c.pending
	if ok || err != nil {
		c.pending = 0
	}
	c.decMu.Unlock()
	if err != nil {
		counter, logged := &c.stats.malformed, &c.loggedMalformed
		if errors.Is(err, serial.ErrMessageTooBig) {
			counter, logged = &c.stats.tooBig, &c.loggedTooBig
		}
		counter.Add(1)
		if !logged.Swap(true) {
			c.log.Warn("dropping undecodable message (further ones are only counted)", zap.Int("bytes", len(m.Data)), zap.Error(err))
		}
	}
	if !ok {
		return
	}
	if _, isClose := v.(serial.CloseRequest); isClose {
		go c.closeWith(fmt.Errorf("%w: remote closed politely", ErrClosed))
		return
	}
	if n := int64(size); c.reserve(n) {
		select {
		case c.recv <- received{v, size}:
			c.stats.received.Add(1)
			return
		default:
			c.took(received{n: size})
		}
	}
	if c.stats.dropped.Add(1) == 1 {
		c.log.Warn("receiver lagging; dropping messages (counted from now on)")
	}
}

// negotiate applies the remote's ANSWER and trickled candidates.
func (c *DataConn) negotiate() {
	n := negotiator{pc: c.pc, route: c.route, originator: c.originator, remoteSet: c.remoteSet, log: c.log}
	if err := n.run(c.done); err != nil {
		c.closeWith(err)
	}
}

// Flush waits until everything sent on the connection has left our send
// buffer (handed to SCTP and acknowledged as sent), or ctx ends. A caller
// that closes a connection it has just sent on flushes first: closing
// drops what is still buffered.
func (c *DataConn) Flush(ctx context.Context) error {
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	if dc == nil {
		return nil
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for dc.BufferedAmount() > 0 {
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return fmt.Errorf("peerjs: flush %s: %d bytes still buffered: %w", c.peer, dc.BufferedAmount(), ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

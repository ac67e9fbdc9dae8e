package signaling

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
)

// Config configures a Client. The zero value of every field but Server works.
type Config struct {
	Server Server
	// ID to claim; empty asks the server for one, as `new Peer()` does.
	ID string
	// PingInterval between heartbeats; 0 means PeerJS's 5 s.
	PingInterval time.Duration
	// RegisterTimeout bounds one dial + registration; 0 means 10 s.
	RegisterTimeout time.Duration
	// BackoffMin and BackoffMax bound the reconnect delay; 0 means 200 ms and 8 s.
	BackoffMin, BackoffMax time.Duration
	// HTTPClient for the id request and the WebSocket handshake; nil means a default one.
	HTTPClient *http.Client
	// OnState, if set, is called (from the client's goroutine) on every state change.
	OnState func(State)
	Logger  *zap.Logger
}

// State is the registration state of a Client.
type State int

// Client states.
const (
	StateUnknown      State = iota
	StateRegistered         // the server knows us under our id
	StateDisconnected       // the socket is gone; reconnecting with the same id and token
	StateClosed             // Close was called or a fatal error ended the client
)

func (s State) String() string {
	switch s {
	case StateRegistered:
		return "registered"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// Stats are counters of a client's life, for logs and tests.
type Stats struct {
	Reconnects   uint64 // successful re-registrations after a lost socket
	Malformed    uint64 // frames from the server we could not parse
	DroppedIn    uint64 // routed messages dropped because their consumer lagged
	DroppedOut   uint64 // outgoing messages dropped because the queue was full
	LostMessages uint64 // messages for unknown connections discarded unclaimed
}

// Tunables with the reason for each value.
const (
	// outQueue holds messages while the socket is down: an offer with trickled
	// candidates for a few connections fits; more means the server is gone for long.
	outQueue = 256
	// inQueue buffers routed messages per consumer; a consumer that lags this far
	// is broken, and we drop rather than stall the socket reader (and every peer).
	inQueue = 128
	// lostLimit and lostTTL bound candidates that arrive before their OFFER is
	// handled (PeerJS keeps them unbounded); a real race lasts milliseconds.
	lostLimit = 64
	lostTTL   = 30 * time.Second
	// attachGrace: a reconnect with our old token may re-attach to a session the
	// server has not dropped yet, and then the server sends no OPEN. A socket that
	// stays open this long without an error frame is registered.
	attachGrace = 2 * time.Second
)

// Client is one registered PeerServer session. It keeps the id (and token) for
// its whole life, reconnecting the WebSocket as needed; WebRTC connections set up
// through it never depend on the socket after they are established.
type Client struct {
	cfg   Config
	log   *zap.Logger
	id    string
	token string

	out      chan Message // to the socket writer; survives reconnects
	incoming chan Message // OFFER, LEAVE, EXPIRE for the owner of the peer

	mu     sync.Mutex // guards the following fields
	routes map[routeKey]*Route
	lost   map[routeKey]*lostQueue
	state  State
	err    error

	stats struct {
		reconnects, malformed, droppedIn, droppedOut, lost atomic.Uint64
	}

	cancel context.CancelFunc
	done   chan struct{}
}

type routeKey struct{ peer, conn string }

type lostQueue struct {
	first time.Time
	msgs  []Message
}

// Connect obtains or claims an id, registers it, and starts the session. It
// returns a *ServerError (ErrIDTaken, ErrInvalidKey, ErrServer) when the server
// refuses us and ErrUnreachable when it cannot be reached.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger,
		id:       cfg.ID,
		token:    randomToken(),
		out:      make(chan Message, outQueue),
		incoming: make(chan Message, inQueue),
		routes:   map[routeKey]*Route{},
		lost:     map[routeKey]*lostQueue{},
		done:     make(chan struct{}),
	}
	if c.id == "" {
		id, err := c.fetchID(ctx)
		if err != nil {
			return nil, err
		}
		c.id = id
	}
	if !ValidID(c.id) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidID, c.id)
	}
	c.log = c.log.With(zap.String("id", c.id))
	conn, err := c.register(ctx, false)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.setState(StateRegistered, nil)
	c.log.Info("registered with peer server", zap.Stringer("server", cfg.Server))
	go c.run(runCtx, conn)
	return c, nil
}

func (cfg Config) withDefaults() Config {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 5 * time.Second
	}
	if cfg.RegisterTimeout <= 0 {
		cfg.RegisterTimeout = 10 * time.Second
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 200 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 8 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Server.Key == "" {
		cfg.Server.Key = DefaultKey
	}
	cfg.Server.Path = normalizePath(cfg.Server.Path)
	return cfg
}

// ID is our peer id, fixed for the life of the client.
func (c *Client) ID() string { return c.id }

// Incoming delivers OFFERs (new connections) and the peer-level LEAVE and
// EXPIRE. It is closed when the client ends.
func (c *Client) Incoming() <-chan Message { return c.incoming }

// Done is closed when the client has ended; Err then says why (nil after Close).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is the fatal error that ended the client, if any.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// State is the current registration state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	return Stats{
		Reconnects:   c.stats.reconnects.Load(),
		Malformed:    c.stats.malformed.Load(),
		DroppedIn:    c.stats.droppedIn.Load(),
		DroppedOut:   c.stats.droppedOut.Load(),
		LostMessages: c.stats.lost.Load(),
	}
}

// Send queues a message for the server. It never blocks: while the socket is
// down messages wait (bounded) and go out after re-registration.
func (c *Client) Send(m Message) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	select {
	case c.out <- m:
		return nil
	default:
		c.stats.droppedOut.Add(1)
		return fmt.Errorf("signaling: send %s to %s: %w", m.Type, m.Dst, ErrQueueFull)
	}
}

// SendPayload builds and queues a message.
func (c *Client) SendPayload(t MessageType, dst string, payload any) error {
	m, err := NewMessage(t, dst, payload)
	if err != nil {
		return err
	}
	return c.Send(m)
}

// Close ends the session: the socket is closed, which makes the server forget
// our id at once. Established WebRTC connections are not touched.
func (c *Client) Close() error {
	c.cancel()
	<-c.done
	return nil
}

func (c *Client) setState(s State, err error) {
	c.mu.Lock()
	changed := c.state != s
	c.state = s
	if err != nil && c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	if changed && c.cfg.OnState != nil {
		c.cfg.OnState(s)
	}
}

// fetchID asks the server for a fresh id, like the PeerJS client's retrieveId.
func (c *Client) fetchID(ctx context.Context) (string, error) {
	u := c.cfg.Server.idURL() + "?ts=" + strconv.FormatInt(time.Now().UnixMilli(), 10) + randomToken() + "&version=" + ClientVersion
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: get id: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", fmt.Errorf("%w: get id: %v", ErrUnreachable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: get id: %s from %s (wrong path or key?)", ErrUnreachable, resp.Status, c.cfg.Server.idURL())
	}
	id := strings.TrimSpace(string(body))
	if !ValidID(id) {
		return "", fmt.Errorf("%w: server gave id %q", ErrInvalidID, id)
	}
	return id, nil
}

// register dials the socket and waits for the server's verdict. On a
// reconnect, silence for attachGrace means the server re-attached our session.
func (c *Client) register(ctx context.Context, reconnect bool) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RegisterTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, c.cfg.Server.socketURL(c.id, c.token), &websocket.DialOptions{HTTPClient: c.cfg.HTTPClient})
	if err != nil {
		status := ""
		if resp != nil {
			status = " (" + resp.Status + ")"
		}
		return nil, fmt.Errorf("%w: websocket %s%s: %v", ErrUnreachable, c.cfg.Server.hostPort(), status, err)
	}
	conn.SetReadLimit(maxFrame)
	readCtx := ctx
	if reconnect {
		var rc context.CancelFunc
		readCtx, rc = context.WithTimeout(ctx, attachGrace)
		defer rc()
	}
	_, b, err := conn.Read(readCtx)
	if err != nil {
		if reconnect && ctx.Err() == nil && readCtx.Err() != nil {
			// Re-attached: the server kept our session and said nothing.
			return conn, nil
		}
		conn.CloseNow()
		return nil, fmt.Errorf("%w: waiting for OPEN: %v", ErrUnreachable, err)
	}
	m, err := DecodeMessage(b)
	if err != nil {
		conn.CloseNow()
		return nil, err
	}
	if err := errorFromMessage(m); err != nil {
		conn.CloseNow()
		return nil, err
	}
	return conn, nil
}

// run owns the session: serve the socket until it fails, then re-register
// with the same id and token, with capped exponential backoff.
func (c *Client) run(ctx context.Context, conn *websocket.Conn) {
	defer func() {
		c.setState(StateClosed, nil)
		close(c.done)
		c.mu.Lock()
		for k, r := range c.routes {
			delete(c.routes, k)
			r.closeLocked()
		}
		c.mu.Unlock()
		close(c.incoming)
	}()
	for {
		err := c.serve(ctx, conn)
		conn.CloseNow()
		if ctx.Err() != nil {
			return
		}
		c.setState(StateDisconnected, nil)
		c.log.Warn("peer server connection lost; reconnecting with the same id", zap.Error(err))
		conn = c.reconnect(ctx)
		if conn == nil {
			return
		}
		c.stats.reconnects.Add(1)
		c.setState(StateRegistered, nil)
		c.log.Info("re-registered with peer server")
	}
}

// reconnect retries registration until it succeeds, the context ends, or the
// server gives a verdict no retry can change (a wrong key).
func (c *Client) reconnect(ctx context.Context) *websocket.Conn {
	delay := c.cfg.BackoffMin
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(jitter(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		conn, err := c.register(ctx, true)
		if err == nil {
			return conn
		}
		if errors.Is(err, ErrInvalidKey) {
			c.log.Error("peer server refuses our key; giving up", zap.Error(err))
			c.setState(StateClosed, err)
			return nil
		}
		lvl := zap.DebugLevel
		if errors.Is(err, ErrIDTaken) || attempt%10 == 0 {
			// Someone else holds our id (with another token): keep trying, it
			// frees when they leave; say so loudly since nobody can reach us.
			lvl = zap.WarnLevel
		}
		c.log.Log(lvl, "re-registration failed", zap.Int("attempt", attempt), zap.Duration("delay", delay), zap.Error(err))
		delay *= 2
		if delay > c.cfg.BackoffMax {
			delay = c.cfg.BackoffMax
		}
	}
}

// serve runs one socket: a reader that dispatches frames and a writer that
// owns every write (queued messages, heartbeats, pings). It returns when
// either side fails or ctx ends.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	go func() {
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			c.dispatch(b)
		}
	}()
	hb := time.NewTicker(c.cfg.PingInterval)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			<-readErr
			return ctx.Err()
		case err := <-readErr:
			return err
		case m := <-c.out:
			if err := c.write(ctx, conn, m); err != nil {
				// Keep the message for the next socket: it was never sent.
				select {
				case c.out <- m:
				default:
					c.stats.droppedOut.Add(1)
				}
				cancel()
				<-readErr
				return err
			}
		case <-hb.C:
			if err := c.write(ctx, conn, Message{Type: TypeHeartbeat}); err != nil {
				cancel()
				<-readErr
				return err
			}
			// A WebSocket ping catches a half-open TCP connection (the server
			// vanished without a FIN) within one interval; heartbeats alone
			// would sit in the kernel buffer and never fail.
			pctx, pcancel := context.WithTimeout(ctx, c.cfg.PingInterval)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				cancel()
				<-readErr
				return fmt.Errorf("ping: %w", err)
			}
		}
	}
}

func (c *Client) write(ctx context.Context, conn *websocket.Conn, m Message) error {
	b, err := EncodeMessage(m)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.PingInterval)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, b)
}

// dispatch routes one frame from the server.
func (c *Client) dispatch(b []byte) {
	m, err := DecodeMessage(b)
	if err != nil {
		c.stats.malformed.Add(1)
		c.log.Warn("dropping malformed peer server frame", zap.Error(err), zap.Int("bytes", len(b)))
		return
	}
	switch m.Type {
	case TypeOffer, TypeLeave, TypeExpire:
		if m.Src == "" {
			c.stats.malformed.Add(1)
			c.log.Warn("dropping server message without src", zap.String("type", string(m.Type)))
			return
		}
		c.deliver(c.incoming, m)
	case TypeAnswer, TypeCandidate:
		c.route(m)
	case TypeOpen:
		// A late OPEN after a re-attach; nothing to do.
	case TypeError, TypeIDTaken, TypeInvalidKey:
		c.log.Warn("peer server error", zap.String("type", string(m.Type)), zap.String("msg", m.ErrorText()))
	default:
		c.stats.malformed.Add(1)
		c.log.Warn("dropping peer server message of unknown type", zap.String("type", string(m.Type)))
	}
}

func (c *Client) deliver(ch chan Message, m Message) {
	select {
	case ch <- m:
	default:
		c.stats.droppedIn.Add(1)
		c.log.Warn("consumer lagging; dropping peer server message", zap.String("type", string(m.Type)), zap.String("src", m.Src))
	}
}

// route hands ANSWER/CANDIDATE to the connection they belong to, or keeps them
// until it registers (candidates can overtake the OFFER's handling).
func (c *Client) route(m Message) {
	cid := m.ConnectionID()
	if m.Src == "" || cid == "" {
		c.stats.malformed.Add(1)
		c.log.Warn("dropping connection message without src or connectionId", zap.String("type", string(m.Type)))
		return
	}
	k := routeKey{m.Src, cid}
	c.mu.Lock()
	if r, ok := c.routes[k]; ok {
		// Deliver under the lock: Route.Close closes r.ch under it too.
		c.deliver(r.ch, m)
		c.mu.Unlock()
		return
	}
	now := time.Now()
	for key, q := range c.lost {
		if now.Sub(q.first) > lostTTL {
			c.stats.lost.Add(uint64(len(q.msgs)))
			delete(c.lost, key)
		}
	}
	q := c.lost[k]
	if q == nil {
		if len(c.lost) >= lostLimit {
			c.mu.Unlock()
			c.stats.lost.Add(1)
			return
		}
		q = &lostQueue{first: now}
		c.lost[k] = q
	}
	if len(q.msgs) < lostLimit {
		q.msgs = append(q.msgs, m)
	} else {
		c.stats.lost.Add(1)
	}
	c.mu.Unlock()
}

// Route receives the ANSWER and CANDIDATE messages of one connection,
// including any that arrived before it was opened.
type Route struct {
	c   *Client
	key routeKey
	ch  chan Message

	closed bool // guarded by c.mu
}

// Route opens the route for connection connID with peer. Opening a route that
// is already open replaces it (PeerJS: an OFFER for an existing connection id
// starts a new connection).
func (c *Client) Route(peer, connID string) *Route {
	r := &Route{c: c, key: routeKey{peer, connID}, ch: make(chan Message, inQueue)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.routes[r.key]; ok {
		old.closeLocked()
	}
	if c.state == StateClosed {
		r.closeLocked()
		return r
	}
	c.routes[r.key] = r
	if q, ok := c.lost[r.key]; ok {
		delete(c.lost, r.key)
		for _, m := range q.msgs {
			select {
			case r.ch <- m:
			default:
			}
		}
	}
	return r
}

// C delivers the connection's messages; it is closed when the route closes.
func (r *Route) C() <-chan Message { return r.ch }

// Close stops routing to r.
func (r *Route) Close() {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if cur, ok := r.c.routes[r.key]; ok && cur == r {
		delete(r.c.routes, r.key)
	}
	r.closeLocked()
}

func (r *Route) closeLocked() {
	if !r.closed {
		r.closed = true
		close(r.ch)
	}
}

// randomToken makes a token like the PeerJS client's (base36, ~11 chars).
func randomToken() string {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 56))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n.Text(36)
}

// RandomToken returns a fresh base36 token, as PeerJS uses for connection ids.
func RandomToken() string { return randomToken() }

func jitter(d time.Duration) time.Duration {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d/4)+1))
	if err != nil {
		return d
	}
	return d - d/8 + time.Duration(n.Int64())
}

package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs/serial"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// This file is the one home of a node's configuration: one config per role
// (JoinConfig, HostConfig, RootConfig, ViewerConfig) sharing Common. As with
// http.Server, the zero value of every field is usable and its meaning is
// written next to it; the defaults are constants here, applied by the
// methods below (or by tree, for the fields passed on to a tree machine),
// and Validate is the only place a value is checked. cmd binds flags and
// the environment to these fields and turns a *FieldError into a line that
// names the flag.

// FieldError says which field of a config holds a bad value and why.
// errors.Is sees through it (to signaling.ErrInvalidID, ErrRequired).
type FieldError struct {
	// Field is the Go name of the field, e.g. "MaxConns" or "Parent"
	// (fields of an embedded Common or ChildLimits are named alone).
	Field string
	Value any
	Err   error
}

func (e *FieldError) Error() string {
	if s, ok := e.Value.(string); ok {
		return fmt.Sprintf("%s %q: %v", e.Field, s, e.Err)
	}
	return fmt.Sprintf("%s %v: %v", e.Field, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// ErrRequired: a field without a usable zero value was left empty.
var ErrRequired = errors.New("is required")

// Problems shared by several fields.
var (
	errAtLeastOne       = errors.New("must be at least 1")
	errPositiveDuration = errors.New("must be a positive duration, like 30s")
)

func fieldErr(field string, v any, err error) error {
	return &FieldError{Field: field, Value: v, Err: err}
}

// checkID refuses an id that the PeerServer would refuse (or that the
// pages could not address).
func checkID(field, id string) error {
	if id == "" {
		return fieldErr(field, id, ErrRequired)
	}
	if !signaling.ValidID(id) {
		return fieldErr(field, id, signaling.ErrInvalidID)
	}
	return nil
}

// notNegative refuses a negative value: the fields whose 0 means a default
// (or "none") have no meaning below it.
func notNegative[T int | time.Duration](field string, v T, problem error) error {
	if v < 0 {
		return fieldErr(field, v, problem)
	}
	return nil
}

// firstErr returns the first non-nil error: Validate lists its checks in
// field order and reports only the first problem, one line.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Common is what every role shares: the PeerServer session, ICE, the
// bounds on what peers can make the node hold, logging and lifetime.
type Common struct {
	// Server is the PeerServer; the zero value is not usable (cmd fills it
	// with signaling.ParseServer; signaling.DefaultServerURL is the public one).
	Server signaling.Server
	// ID to claim; "" means assigned by the server, like the browser. The
	// index root ignores it (RootConfig.IDs).
	ID string
	// ICEServers; nil means PeerJS's defaults, empty means host candidates only.
	ICEServers []webrtc.ICEServer
	// MaxMessageSize is the largest message accepted from a peer, from
	// MinMaxMessageSize to MaxMaxMessageSize; 0 means DefaultMaxMessageSize.
	MaxMessageSize int
	// MaxPendingBytes bounds the bytes held in unfinished chunked messages
	// across all data connections of the node; 0 means
	// DefaultMaxPendingBytes, raised to 2 × MaxMessageSize if that is more.
	// A value given must hold two messages of the largest size, or one
	// peer's chunked message could starve every other connection.
	MaxPendingBytes int
	// MaxConnsPerPeer caps the data connections one remote peer id may hold
	// open or opening at once (the pages open one, two during a swap); 0
	// means DefaultMaxConnsPerPeer.
	MaxConnsPerPeer int
	// MaxConns caps all incoming data connections (open or opening); 0 means
	// DefaultMaxConns.
	MaxConns int
	// Logger; nil means no logging.
	Logger *zap.Logger
	// Ready, if set, is called once the node is registered and serving (sd_notify).
	Ready func()
	// Drain, when closed, starts a planned departure: a relay or host tells
	// its children to re-join elsewhere and stops once they have left or
	// after DrainTimeout; the index root, which has no children, stops.
	// nil means never. Cancelling the context stops at once.
	Drain <-chan struct{}
	// DrainTimeout bounds the departure; 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
}

// Bounds of Common.
const (
	// DefaultMaxMessageSize fits the pages' largest message: a chat with a
	// 1 MiB image and a 1 MiB avatar as data URLs (~2.8 MB), with room to spare.
	DefaultMaxMessageSize = 3 << 20
	// MaxMaxMessageSize is the largest MaxMessageSize we accept: far
	// above any page's message (a chat image as a data URL), small enough
	// that a few messages in flight cannot exhaust memory.
	MaxMaxMessageSize = 64 << 20
	// MinMaxMessageSize is the smallest: a chunk frame plus room.
	MinMaxMessageSize = 64 << 10

	DefaultMaxPendingBytes = 64 << 20
	DefaultMaxConnsPerPeer = 4
	DefaultMaxConns        = 1024

	// DefaultDrainTimeout is how long a leaving node waits for its children.
	DefaultDrainTimeout = 10 * time.Second
)

// Validate checks every field of c; see FieldError.
func (c Common) Validate() error {
	var id, size, pending error
	if c.ID != "" {
		if !signaling.ValidID(c.ID) {
			id = fieldErr("ID", c.ID, fmt.Errorf("%w (letters and digits, single spaces, _ or - between them)", signaling.ErrInvalidID))
		}
	}
	if c.MaxMessageSize != 0 && (c.MaxMessageSize < MinMaxMessageSize || c.MaxMessageSize > MaxMaxMessageSize) {
		size = fieldErr("MaxMessageSize", c.MaxMessageSize,
			fmt.Errorf("want %d (64 KiB) to %d (64 MiB)", MinMaxMessageSize, MaxMaxMessageSize))
	}
	if least := 2 * c.maxMessageSize(); c.MaxPendingBytes != 0 && c.MaxPendingBytes < least {
		pending = fieldErr("MaxPendingBytes", c.MaxPendingBytes, fmt.Errorf("must be at least 2 × MaxMessageSize = %d", least))
	}
	return firstErr(id, size, pending,
		notNegative("MaxConnsPerPeer", c.MaxConnsPerPeer, errAtLeastOne),
		notNegative("MaxConns", c.MaxConns, errAtLeastOne),
		notNegative("DrainTimeout", c.DrainTimeout, errPositiveDuration),
	)
}

func (c Common) logger() *zap.Logger {
	if c.Logger == nil {
		return zap.NewNop()
	}
	return c.Logger
}

func (c Common) maxMessageSize() int {
	if c.MaxMessageSize == 0 {
		return DefaultMaxMessageSize
	}
	return c.MaxMessageSize
}

// maxPendingBytes is the budget for unfinished chunked messages: room for
// at least two whole messages at the size limit.
func (c Common) maxPendingBytes() int {
	pending := c.MaxPendingBytes
	if pending == 0 {
		pending = DefaultMaxPendingBytes
	}
	return max(pending, 2*serial.ChargeFor(c.maxMessageSize()))
}

func (c Common) drainTimeout() time.Duration {
	if c.DrainTimeout == 0 {
		return DefaultDrainTimeout
	}
	return c.DrainTimeout
}

// ChildLimits bound what the children of a relay or host may send and
// make it hold. Each is passed to the tree machine, which applies the
// defaults named here.
type ChildLimits struct {
	// MaxChildren caps children; 0 means unlimited.
	MaxChildren int
	// RateLimit is messages per second accepted from each child or guest,
	// with RateBurst saved up; 0 means tree.DefaultRateLimit and
	// tree.DefaultRateBurst.
	RateLimit float64
	RateBurst int
	// MaxReportNodes and MaxReportDepth bound what a child's report may
	// claim (nodes in its subtree, nesting); MaxReportBytes its size
	// (tree's estimate made while walking it). 0 means
	// tree.DefaultMaxReportNodes, DefaultMaxReportDepth and DefaultMaxReportBytes.
	MaxReportNodes, MaxReportDepth, MaxReportBytes int
	// GuestTimeout: an incoming connection that has not reported (a
	// guest: a page reading the room map, asking for a stream) is closed
	// after this long; 0 means tree.DefaultGuestTimeout.
	GuestTimeout time.Duration
}

// Validate refuses what the tree would silently reinterpret (a negative
// rate or guest timeout switches them off there).
func (l ChildLimits) Validate() error {
	var rate error
	if math.IsNaN(l.RateLimit) || math.IsInf(l.RateLimit, 0) || l.RateLimit < 0 {
		rate = fieldErr("RateLimit", l.RateLimit, errors.New("must be a finite number of messages per second above 0"))
	}
	return firstErr(
		notNegative("MaxChildren", l.MaxChildren, errors.New("must not be negative (0 means unlimited)")),
		rate,
		notNegative("RateBurst", l.RateBurst, errAtLeastOne),
		notNegative("MaxReportNodes", l.MaxReportNodes, errAtLeastOne),
		notNegative("MaxReportDepth", l.MaxReportDepth, errAtLeastOne),
		notNegative("MaxReportBytes", l.MaxReportBytes, errAtLeastOne),
		notNegative("GuestTimeout", l.GuestTimeout, errPositiveDuration),
	)
}

// JoinConfig configures a relay under a parent (StartJoin).
type JoinConfig struct {
	Common
	// Parent to join under; required.
	Parent string
	// Name is our display name in the tree; "" means DefaultName().
	Name string
	ChildLimits
	// Greeting chooses the greeting's provisional mark; the zero value is
	// tree.GreetAB (read as a map by every page generation).
	Greeting tree.GreetingStyle
	// MediaTimeout: upstream media silent this long (while its call is up)
	// is treated as a lost parent; 0 disables the watchdog.
	// DefaultMediaTimeout is the daemon's choice.
	MediaTimeout time.Duration
}

// DefaultMediaTimeout is the media watchdog the daemon runs with
// (JoinConfig.MediaTimeout; the zero value disables it).
const DefaultMediaTimeout = 5 * time.Second

// Validate checks every field of c; see FieldError.
func (c JoinConfig) Validate() error {
	var greeting error
	if c.Greeting != tree.GreetAB && c.Greeting != tree.GreetC {
		greeting = fieldErr("Greeting", c.Greeting, errors.New("unknown greeting style"))
	}
	return firstErr(c.Common.Validate(), checkID("Parent", c.Parent), c.ChildLimits.Validate(), greeting,
		notNegative("MediaTimeout", c.MediaTimeout, errors.New("must not be negative (0 disables the watchdog)")))
}

func (c JoinConfig) name() string { return nameOr(c.Name) }

// HostConfig configures a headless room host (StartHost).
type HostConfig struct {
	Common
	// Name is the host's display name; "" means DefaultName().
	Name string
	// Title and Summary describe the room in the index.
	Title, Summary string
	// RootID is the index root to register the room with; "" keeps the
	// room unlisted.
	RootID string
	// NoStreamNotice: do not send C's [4, hostId] stream-start notice (A/B
	// audiences show a "not live" alert on any type 4 from their parent).
	NoStreamNotice bool
	ChildLimits
	// Feed publishes the stream; nil plays the committed test clip, looped.
	Feed func(ctx context.Context, src *media.Source) error
}

// Validate checks every field of c; see FieldError.
func (c HostConfig) Validate() error {
	var root error
	if c.RootID != "" {
		root = checkID("RootID", c.RootID)
	}
	return firstErr(c.Common.Validate(), root, c.ChildLimits.Validate())
}

func (c HostConfig) name() string { return nameOr(c.Name) }

func (c HostConfig) feed() func(ctx context.Context, src *media.Source) error {
	if c.Feed == nil {
		return PlayClip
	}
	return c.Feed
}

// RootConfig configures the index root (RunRoot).
type RootConfig struct {
	Common
	// IDs to claim, one index per id; empty means DefaultRootIDs.
	IDs []string
	// Wait keeps retrying while an id is taken instead of failing.
	Wait bool
	// RoomTimeout drops a room whose host has been unreachable this long;
	// 0 means tree.DefaultRoomTimeout.
	RoomTimeout time.Duration
	// MaxClients caps the index's connections (hosts and index pages)
	// per id; 0 means DefaultMaxIndexClients.
	MaxClients int
}

// DefaultMaxIndexClients is the index root's default connection cap.
const DefaultMaxIndexClients = 2048

// DefaultRootIDs is the index id of the current pages (generations B and C,
// since 2024-12). Generation A used "P2P-Live-Web-default-Id".
var DefaultRootIDs = []string{"P2P-Live-Web-Default-ID"}

// Validate checks every field of c; see FieldError.
func (c RootConfig) Validate() error {
	var ids error
	for _, id := range c.IDs {
		if !signaling.ValidID(id) { // "" too: an empty list, not an empty id, means the default
			ids = fieldErr("IDs", id, signaling.ErrInvalidID)
			break
		}
	}
	return firstErr(c.Common.Validate(), ids,
		notNegative("RoomTimeout", c.RoomTimeout, errPositiveDuration),
		notNegative("MaxClients", c.MaxClients, errAtLeastOne),
	)
}

func (c RootConfig) ids() []string {
	if len(c.IDs) == 0 {
		return DefaultRootIDs
	}
	return c.IDs
}

func (c RootConfig) maxClients() int {
	if c.MaxClients == 0 {
		return DefaultMaxIndexClients
	}
	return c.MaxClients
}

// ViewerConfig configures a headless viewer (StartViewer): a leaf of the
// tree that joins a parent as an audience page does and receives its
// stream. Benchmarks and monitoring use it.
type ViewerConfig struct {
	Common
	// Parent to join under; required.
	Parent string
	// Name is the viewer's display name; "" means "viewer".
	Name string
	// OnPacket, if set, is called for every RTP packet received, with the
	// arrival time; it must be quick (it runs on the track's read loop) and
	// must not keep p.
	OnPacket func(kind webrtc.RTPCodecType, p *rtp.Packet, at time.Time)
}

// Validate checks every field of c; see FieldError.
func (c ViewerConfig) Validate() error {
	return firstErr(c.Common.Validate(), checkID("Parent", c.Parent))
}

func (c ViewerConfig) name() string {
	if c.Name == "" {
		return "viewer"
	}
	return c.Name
}

func nameOr(name string) string {
	if name == "" {
		return DefaultName()
	}
	return name
}

// DefaultName is a readable display name: "p2plive-node@<host name>".
func DefaultName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "p2plive-node"
	}
	return "p2plive-node@" + h
}

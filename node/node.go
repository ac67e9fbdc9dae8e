package node

import (
	"os"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/peerjs/serial"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// Config is everything a node needs, filled once by cmd from flags and env.
type Config struct {
	Server signaling.Server
	// ID to claim; empty: server-assigned, like the browser.
	ID string
	// ICEServers; nil means PeerJS's defaults, empty means host candidates only.
	ICEServers []webrtc.ICEServer
	// Parent to join under (join).
	Parent string
	// Relay tunes the relay (join).
	Relay RelayConfig
	// Root tunes the index root (root).
	Root RootConfig
	// Host tunes the headless room host (host).
	Host HostConfig
	// MaxMessageSize is the largest message accepted from a peer; 0 means
	// DefaultMaxMessageSize.
	MaxMessageSize int
	Logger         *zap.Logger
	// Ready, if set, is called once the node is registered and serving (sd_notify).
	Ready func()
	// Drain, when closed, starts a planned departure: children are told to
	// re-join elsewhere, and the node stops once they have left or after
	// DrainTimeout (0 means DefaultDrainTimeout). Cancelling the context
	// stops at once.
	Drain        <-chan struct{}
	DrainTimeout time.Duration
	// MaxPendingBytes bounds the bytes held in unfinished chunked messages
	// across all data connections of the node; 0 means
	// DefaultMaxPendingBytes (at least 2 × MaxMessageSize).
	MaxPendingBytes int
	// MaxConnsPerPeer caps the data connections one remote peer id may hold
	// open or opening at once (the pages open one, two during a swap); 0
	// means DefaultMaxConnsPerPeer.
	MaxConnsPerPeer int
	// MaxConns caps all incoming data connections (open or opening); 0 means
	// DefaultMaxConns.
	MaxConns int
}

// Connection and buffer bounds (see Config).
const (
	DefaultMaxPendingBytes = 64 << 20
	DefaultMaxConnsPerPeer = 4
	DefaultMaxConns        = 1024
	// MaxMaxMessageSize is the largest --max-message-size we accept: far
	// above any page's message (a chat image as a data URL), small enough
	// that a few messages in flight cannot exhaust memory.
	MaxMaxMessageSize = 64 << 20
	// MinMaxMessageSize is the smallest: a chunk frame plus room.
	MinMaxMessageSize = 64 << 10
)

// DefaultDrainTimeout is how long a leaving node waits for its children.
const DefaultDrainTimeout = 10 * time.Second

// DefaultMediaTimeout: upstream media silent this long is a lost parent.
const DefaultMediaTimeout = 5 * time.Second

func (c Config) drainTimeout() time.Duration {
	if c.DrainTimeout <= 0 {
		return DefaultDrainTimeout
	}
	return c.DrainTimeout
}

func (c Config) logger() *zap.Logger {
	if c.Logger == nil {
		return zap.NewNop()
	}
	return c.Logger
}

func (c Config) peerConfig() (peerjs.Config, error) {
	log := c.logger()
	api, err := peerjs.NewDataAPI(peerjs.APIOptions{Logger: log, ICE: peerjs.UpstreamICE})
	if err != nil {
		return peerjs.Config{}, err
	}
	accAPI, err := peerjs.NewDataAPI(peerjs.APIOptions{Logger: log, ICE: peerjs.DownstreamICE})
	if err != nil {
		return peerjs.Config{}, err
	}
	size := c.MaxMessageSize
	if size <= 0 {
		size = DefaultMaxMessageSize
	}
	// One budget for the unfinished chunked messages of every connection:
	// room for at least two whole messages at the size limit.
	pending := c.MaxPendingBytes
	if pending <= 0 {
		pending = DefaultMaxPendingBytes
	}
	pending = max(pending, 2*serial.ChargeFor(size))
	return peerjs.Config{
		Signaling:       signaling.Config{Server: c.Server, ID: c.ID, Logger: log.Named("signaling")},
		API:             api,
		AcceptAPI:       accAPI,
		MaxConnsPerPeer: c.MaxConnsPerPeer,
		MaxConns:        c.MaxConns,
		ICEServers:      c.ICEServers,
		Serial:          serial.Options{MaxMessageSize: size, Shared: serial.NewBudget(pending)},
		Logger:          log.Named("peer"),
	}, nil
}

// mediaConfig is the media source's configuration. The source makes no
// PeerConnections: mediaNode builds those of calls with peerjs's media
// constructors and the peer's ICE servers.
func (c Config) mediaConfig(log *zap.Logger) media.Config {
	return media.Config{Logger: log.Named("media")}
}

// DefaultMaxMessageSize fits the pages' largest message: a chat with a
// 1 MiB image and a 1 MiB avatar as data URLs (~2.8 MB), with room to spare.
const DefaultMaxMessageSize = 3 << 20

// RelayConfig tunes a relay node.
type RelayConfig struct {
	// Name is our display name in the tree; empty means DefaultName().
	Name string
	// MaxChildren caps children; 0 means unlimited.
	MaxChildren int
	// RateLimit (messages/s) and RateBurst per child; 0 means tree's defaults.
	RateLimit float64
	RateBurst int
	// Greeting chooses the greeting's provisional mark (A/B or C style).
	Greeting tree.GreetingStyle
	// MediaTimeout: upstream media silent this long (while its call is up)
	// is treated as a lost parent; 0 disables the watchdog.
	MediaTimeout time.Duration
	// MaxReportNodes and MaxReportDepth bound what a child's report may
	// claim (nodes in its subtree, nesting); MaxReportBytes its size
	// (tree's estimate made while walking it). 0 means tree's defaults
	// (2000, 64, 512 KiB). The host reads these too.
	MaxReportNodes, MaxReportDepth, MaxReportBytes int
	// GuestTimeout: an incoming connection that has not reported (a
	// guest: a page reading the room map, asking for a stream) is closed
	// after this long; 0 means tree's default (30 s).
	GuestTimeout time.Duration
}

// RootConfig tunes the index root.
type RootConfig struct {
	// IDs to claim, one index per id; empty means DefaultRootIDs.
	IDs []string
	// Wait keeps retrying while an id is taken instead of failing.
	Wait bool
	// RoomTimeout drops a room whose host has been unreachable this long.
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

// DefaultName is a readable display name: "p2plive-node@<host name>".
func DefaultName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "p2plive-node"
	}
	return "p2plive-node@" + h
}

// parentRetry bounds how fast we re-dial a parent that refused or dropped us.
const (
	parentRetryMin = 500 * time.Millisecond
	parentRetryMax = 15 * time.Second
)

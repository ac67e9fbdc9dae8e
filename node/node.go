package node

import (
	"time"

	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/media"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/peerjs/serial"
	"github.com/p2plive/p2plive-node/signaling"
)

// peerConfig is the PeerJS peer a node of any role runs: data APIs by
// direction, the connection caps, one chunk budget for all connections.
func (c Common) peerConfig() (peerjs.Config, error) {
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
		Serial:          serial.Options{MaxMessageSize: c.maxMessageSize(), Shared: serial.NewBudget(c.maxPendingBytes())},
		Logger:          log.Named("peer"),
	}, nil
}

// mediaConfig is the media source's configuration. The source makes no
// PeerConnections: mediaNode builds those of calls with peerjs's media
// constructors and the peer's ICE servers.
func (c Common) mediaConfig(log *zap.Logger) media.Config {
	return media.Config{Logger: log.Named("media")}
}

// parentRetry bounds how fast we re-dial a parent that refused or dropped us.
const (
	parentRetryMin = 500 * time.Millisecond
	parentRetryMax = 15 * time.Second
)

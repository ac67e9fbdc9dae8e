// Package node is the only place that wires the daemon together: it owns the
// lifetimes (contexts), the pion API, the PeerJS peer, and turns connection
// events into actions for the tree (and, later, media) layers.
package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
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
	Logger *zap.Logger
	// Ready, if set, is called once the node is registered and serving (sd_notify).
	Ready func()
}

func (c Config) logger() *zap.Logger {
	if c.Logger == nil {
		return zap.NewNop()
	}
	return c.Logger
}

func (c Config) peerConfig() (peerjs.Config, error) {
	log := c.logger()
	api, err := peerjs.NewAPI(peerjs.APIOptions{Logger: log})
	if err != nil {
		return peerjs.Config{}, err
	}
	return peerjs.Config{
		Signaling:  signaling.Config{Server: c.Server, ID: c.ID, Logger: log.Named("signaling")},
		API:        api,
		ICEServers: c.ICEServers,
		Logger:     log.Named("peer"),
	}, nil
}

// parentRetry bounds how fast we re-dial a parent that refused or dropped us.
const (
	parentRetryMin = 500 * time.Millisecond
	parentRetryMax = 15 * time.Second
)

// RunJoin registers, holds a data connection to cfg.Parent (re-dialing it
// when it drops), accepts incoming data connections, and logs every message
// until ctx ends. Registration errors (id taken, bad key, server unreachable)
// are returned at once.
func RunJoin(ctx context.Context, cfg Config) error {
	if cfg.Parent == "" {
		return errors.New("join: no parent id")
	}
	if !signaling.ValidID(cfg.Parent) {
		return fmt.Errorf("join: parent %q: %w", cfg.Parent, signaling.ErrInvalidID)
	}
	log := cfg.logger()
	pcfg, err := cfg.peerConfig()
	if err != nil {
		return err
	}
	p, err := peerjs.New(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("register with %s: %w", cfg.Server, err)
	}
	defer p.Close()
	log = log.With(zap.String("self", p.ID()))
	log.Info("node registered", zap.String("id", p.ID()), zap.Stringer("server", cfg.Server), zap.String("parent", cfg.Parent))
	if cfg.Ready != nil {
		cfg.Ready()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{}, 2)
	go func() { holdParent(ctx, p, cfg.Parent, log); done <- struct{}{} }()
	go func() { acceptLoop(ctx, p, log); done <- struct{}{} }()
	select {
	case <-ctx.Done():
	case <-p.Done():
		if err := p.Signaling().Err(); err != nil {
			cancel()
			<-done
			<-done
			return fmt.Errorf("peer server session ended: %w", err)
		}
	}
	cancel()
	<-done
	<-done
	log.Info("node stopped")
	return nil
}

// holdParent keeps one data connection to the parent open.
func holdParent(ctx context.Context, p *peerjs.Peer, parent string, log *zap.Logger) {
	log = log.With(zap.String("parent", parent))
	delay := parentRetryMin
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := p.Connect(dctx, parent, peerjs.ConnectOptions{})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("cannot connect to parent; retrying", zap.Duration("in", delay), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, parentRetryMax)
			continue
		}
		delay = parentRetryMin
		log.Info("connected to parent", zap.String("conn", c.ConnectionID()))
		readLoop(ctx, c, log.With(zap.String("role", "parent")))
		c.Close()
	}
}

func acceptLoop(ctx context.Context, p *peerjs.Peer, log *zap.Logger) {
	for {
		c, err := p.Accept(ctx)
		if err != nil {
			return
		}
		l := log.With(zap.String("role", "incoming"), zap.String("peer", c.Peer()), zap.String("conn", c.ConnectionID()))
		l.Info("accepted data connection", zap.String("serialization", c.Serialization()), zap.Bool("reliable", c.Reliable()), zap.String("label", c.Label()))
		go func() {
			readLoop(ctx, c, l)
			c.Close()
		}()
	}
}

// readLoop logs every decoded message of c until it closes or ctx ends.
// (The tree layer replaces the logging with routing.)
func readLoop(ctx context.Context, c *peerjs.DataConn, log *zap.Logger) {
	for {
		v, err := c.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Info("data connection closed", zap.Error(err), zap.Any("stats", c.Stats()))
			}
			return
		}
		log.Info("message", zap.String("value", peerjs.Describe(v, 512)))
	}
}

package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/tree"
)

// Viewer is a running headless viewer.
type Viewer struct {
	p    *peerjs.Peer
	log  *zap.Logger
	cfg  ViewerConfig
	api  *webrtc.API // receives the parent's calls
	done chan struct{}
	err  error

	mu    sync.Mutex // guards call, calls
	call  *peerjs.MediaConn
	calls int
}

// StartViewer registers, connects to parent, reports as a leaf child and
// answers the parent's calls receive-only, like an audience page.
func StartViewer(ctx context.Context, cfg ViewerConfig) (*Viewer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("viewer: %w", err)
	}
	log := cfg.logger()
	v := &Viewer{log: log, cfg: cfg, done: make(chan struct{})}
	pcfg, err := cfg.peerConfig()
	if err != nil {
		return nil, err
	}
	pcfg.OnCall = v.onCall
	// A page's ICE tolerance (DownstreamICE), not a relay's fast upstream
	// failure: a viewer does not heal, so failing fast gains it nothing.
	if v.api, err = peerjs.NewUpstreamMediaAPI(peerjs.APIOptions{Logger: log, ICE: peerjs.DownstreamICE}); err != nil {
		return nil, err
	}
	p, err := peerjs.New(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("register with %s: %w", cfg.Server, err)
	}
	v.p = p
	name := cfg.name()
	dc, err := p.Connect(ctx, cfg.Parent, peerjs.ConnectOptions{})
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("viewer: connect to %s: %w", cfg.Parent, err)
	}
	if err := dc.Send(tree.BuildReport(p.ID(), name, nil)); err != nil {
		p.Close()
		return nil, fmt.Errorf("viewer: report: %w", err)
	}
	go func() {
		defer close(v.done)
		defer p.Close()
		for {
			if _, err := dc.Recv(ctx); err != nil {
				if ctx.Err() == nil {
					v.err = err
				}
				return
			}
		}
	}()
	return v, nil
}

// ID is the viewer's peer id.
func (v *Viewer) ID() string { return v.p.ID() }

// Calls is how many calls the viewer has received.
func (v *Viewer) Calls() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls
}

// HangUp closes the current call, as a page whose call died would see it;
// the data connection stays up.
func (v *Viewer) HangUp() {
	v.mu.Lock()
	mc := v.call
	v.call = nil
	v.mu.Unlock()
	if mc != nil {
		_ = mc.Close()
	}
}

// Done is closed when the viewer's parent connection ended; Err says why.
func (v *Viewer) Done() <-chan struct{} { return v.done }

// Err is why the viewer stopped (nil while it runs or after ctx ended).
func (v *Viewer) Err() error {
	<-v.done
	return v.err
}

func (v *Viewer) onCall(o peerjs.MediaOffer) {
	pc, err := v.api.NewPeerConnection(webrtc.Configuration{ICEServers: v.p.ICEServers()})
	if err != nil {
		v.log.Warn("viewer: cannot receive call", zap.Error(err))
		return
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := tr.Kind()
		var p rtp.Packet
		buf := make([]byte, 1500)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					v.log.Debug("viewer track ended", zap.Error(err))
				}
				return
			}
			at := time.Now()
			if v.cfg.OnPacket != nil && p.Unmarshal(buf[:n]) == nil {
				v.cfg.OnPacket(kind, &p, at)
			}
		}
	})
	mc, err := v.p.Answer(o, pc)
	if err != nil {
		_ = pc.Close()
		v.log.Warn("viewer: cannot answer", zap.Error(err))
		return
	}
	v.mu.Lock()
	old := v.call
	v.call = mc
	v.calls++
	v.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

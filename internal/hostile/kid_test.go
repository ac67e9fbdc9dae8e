package hostile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/p2plive/p2plive-node/internal/testrig"
	"github.com/p2plive/p2plive-node/peerjs"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// fakePrefix starts every id the hostile reports invent.
const fakePrefix = "fk"

// kid is a good child: it joins a parent as an audience page does
// (connect, report as a leaf, answer calls receive-only), may chat at a
// fixed rate, and records what arrives: chats by sender, RTP packets by
// kind, calls, room maps.
type kid struct {
	name string
	p    *peerjs.Peer
	dc   *peerjs.DataConn
	mapi *webrtc.API
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu       sync.Mutex
	chats    map[string][]chatEvent // by sender name
	sent     []time.Time            // our chats, by seq
	audio    []time.Time
	video    []time.Time
	calls    int
	call     *peerjs.MediaConn
	maps     int
	fakeMaps int // room maps naming a fake id
	recvErr  error
}

type chatEvent struct {
	seq int
	at  time.Time
}

func server(ps *testrig.PeerServer) signaling.Server {
	return signaling.Server{Host: ps.Host, Port: ps.Port, Path: ps.Path, Key: ps.Key}
}

// quiet is a logger for test peers: warnings and errors only (Nop for
// attackers, whose peers complain about everything by design).
func quiet(t testing.TB) *zap.Logger {
	return testrig.Logger(t).WithOptions(zap.IncreaseLevel(zap.WarnLevel))
}

// newPeer registers a Go peer with the PeerServer (host candidates only).
func newPeer(ctx context.Context, ps *testrig.PeerServer, id string, log *zap.Logger, onCall func(peerjs.MediaOffer), openTimeout time.Duration) (*peerjs.Peer, error) {
	api, err := peerjs.NewDataAPI(peerjs.APIOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	return peerjs.New(ctx, peerjs.Config{
		Signaling:   signaling.Config{Server: server(ps), ID: id, Logger: log.Named("signaling")},
		API:         api,
		ICEServers:  []webrtc.ICEServer{},
		OpenTimeout: openTimeout,
		OnCall:      onCall,
		Logger:      log,
	})
}

// startKid joins parent as name; chatEvery > 0 sends a chat that often
// ("name #seq", on a fixed schedule: a late tick sends what is due).
func startKid(t testing.TB, ps *testrig.PeerServer, parent, name string, chatEvery time.Duration) *kid {
	t.Helper()
	log := quiet(t).Named(name)
	k := &kid{name: name, chats: map[string][]chatEvent{}}
	k.ctx, k.stop = context.WithCancel(context.Background())
	mapi, err := peerjs.NewUpstreamMediaAPI(peerjs.APIOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	k.mapi = mapi
	ctx, cancel := context.WithTimeout(k.ctx, 20*time.Second)
	defer cancel()
	p, err := newPeer(ctx, ps, "", log, k.onCall, 15*time.Second)
	if err != nil {
		t.Fatalf("hostile: kid %s: %v", name, err)
	}
	k.p = p
	t.Cleanup(k.close)
	if k.dc, err = p.Connect(ctx, parent, peerjs.ConnectOptions{}); err != nil {
		t.Fatalf("hostile: kid %s: connect to %s: %v", name, parent, err)
	}
	if err := k.dc.Send(tree.BuildReport(p.ID(), name, nil)); err != nil {
		t.Fatalf("hostile: kid %s: report: %v", name, err)
	}
	k.wg.Add(1)
	go k.recvLoop()
	if chatEvery > 0 {
		k.wg.Add(1)
		go k.chatLoop(chatEvery)
	}
	return k
}

func (k *kid) ID() string { return k.p.ID() }

func (k *kid) close() {
	k.stop()
	_ = k.p.Close()
	k.wg.Wait()
}

// maxChats bounds a chat loop (at 10/s: 2.7 hours).
const maxChats = 100000

func (k *kid) chatLoop(every time.Duration) {
	defer k.wg.Done()
	start := time.Now()
	for seq := 0; seq < maxChats; seq++ {
		due := start.Add(time.Duration(seq) * every)
		if d := time.Until(due); d > 0 {
			select {
			case <-k.ctx.Done():
				return
			case <-time.After(d):
			}
		}
		msg := []any{int64(tree.TypeChat), k.p.ID(), k.name, k.name + " #" + strconv.Itoa(seq), nil, ""}
		err := k.dc.Send(msg)
		k.mu.Lock()
		k.sent = append(k.sent, time.Now())
		k.mu.Unlock()
		if err != nil && k.ctx.Err() == nil && errors.Is(err, peerjs.ErrClosed) {
			return
		}
	}
}

func (k *kid) recvLoop() {
	defer k.wg.Done()
	for i := 0; i < 1<<30; i++ { // bounded by the connection's life
		v, err := k.dc.Recv(k.ctx)
		if err != nil {
			k.mu.Lock()
			k.recvErr = err
			k.mu.Unlock()
			return
		}
		a, ok := v.([]any)
		typ, ok2 := tree.Type(v)
		if !ok || !ok2 {
			continue
		}
		now := time.Now()
		switch typ {
		case tree.TypeChat:
			name, _ := at(a, 2).(string)
			text, _ := at(a, 3).(string)
			seq := -1
			if _, s, ok := strings.Cut(text, " #"); ok {
				if n, err := strconv.Atoi(s); err == nil {
					seq = n
				}
			}
			k.mu.Lock()
			if len(k.chats[name]) < 1_000_000 {
				k.chats[name] = append(k.chats[name], chatEvent{seq: seq, at: now})
			}
			k.mu.Unlock()
		case tree.TypeTree:
			m := tree.RoomMap(a)
			if !m.Authoritative() {
				continue
			}
			fake := false
			if ids, ok := m.Members(); ok {
				for _, id := range ids {
					if strings.HasPrefix(id, fakePrefix) {
						fake = true
						break
					}
				}
			}
			budget := 300000
			if !fake && reportHasFake(m.HostReport(), &budget) {
				fake = true
			}
			k.mu.Lock()
			k.maps++
			if fake {
				k.fakeMaps++
			}
			k.mu.Unlock()
		}
	}
}

func at(a []any, i int) any {
	if i < len(a) {
		return a[i]
	}
	return nil
}

// reportHasFake looks for a fake id in a report, visiting at most *budget nodes.
func reportHasFake(r tree.Report, budget *int) bool {
	for _, c := range r.Children() {
		if *budget--; *budget <= 0 {
			return false
		}
		if strings.HasPrefix(c.ID, fakePrefix) || reportHasFake(c.Report, budget) {
			return true
		}
	}
	return false
}

func (k *kid) onCall(o peerjs.MediaOffer) {
	pc, err := k.mapi.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := tr.Kind()
		buf := make([]byte, 1500)
		for i := 0; i < 1<<30; i++ { // bounded by the track's life
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			now := time.Now()
			k.mu.Lock()
			if kind == webrtc.RTPCodecTypeAudio {
				if len(k.audio) < 2_000_000 {
					k.audio = append(k.audio, now)
				}
			} else if len(k.video) < 2_000_000 {
				k.video = append(k.video, now)
			}
			k.mu.Unlock()
		}
	})
	mc, err := k.p.Answer(o, pc)
	if err != nil {
		_ = pc.Close()
		return
	}
	k.mu.Lock()
	old := k.call
	k.call = mc
	k.calls++
	k.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

// dropCall closes the current media call, keeping the data connection.
func (k *kid) dropCall() error {
	k.mu.Lock()
	c := k.call
	k.call = nil
	k.mu.Unlock()
	if c == nil {
		return errors.New("no call")
	}
	return c.Close()
}

func (k *kid) callCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls
}

// chatTimes returns the arrival times of the chats from sender.
func (k *kid) chatTimes(sender string) []time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]time.Time, len(k.chats[sender]))
	for i, e := range k.chats[sender] {
		out[i] = e.at
	}
	return out
}

// chatSeqs returns the seqs received from sender.
func (k *kid) chatSeqs(sender string) map[int]bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[int]bool{}
	for _, e := range k.chats[sender] {
		out[e.seq] = true
	}
	return out
}

func (k *kid) packets(kind webrtc.RTPCodecType) []time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	if kind == webrtc.RTPCodecTypeAudio {
		return append([]time.Time(nil), k.audio...)
	}
	return append([]time.Time(nil), k.video...)
}

// sentBetween returns the seqs of our chats sent in [from, to).
func (k *kid) sentBetween(from, to time.Time) []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []int
	for i, at := range k.sent {
		if !at.Before(from) && at.Before(to) {
			out = append(out, i)
		}
	}
	return out
}

func (k *kid) roomMaps() (all, fake int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maps, k.fakeMaps
}

// connected reports whether the kid's data connection to its parent is open.
func (k *kid) connected() bool {
	select {
	case <-k.dc.Done():
		return false
	default:
		return true
	}
}

// rate is events per second in [from, to).
func rate(ts []time.Time, from, to time.Time) float64 {
	n := 0
	for _, t := range ts {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return float64(n) / to.Sub(from).Seconds()
}

// countAfter is how many events are at or after t.
func countAfter(ts []time.Time, t time.Time) int {
	n := 0
	for _, x := range ts {
		if !x.Before(t) {
			n++
		}
	}
	return n
}

func fmtRate(r float64) string { return fmt.Sprintf("%.1f", r) }

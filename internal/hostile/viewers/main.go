// Command viewers runs n headless viewers (node.StartViewer) under one
// parent, for the churn soak of package hostile: a process of its own,
// built without the race detector, so that 50 viewers' media does not
// starve in the test process.
//
// It prints one line per viewer once its first RTP packet arrived
// ("media I MS", MS from its start) or it gave up ("nomedia I REASON"),
// then "joined"; when its stdin closes it closes every viewer, prints
// "left" and exits.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/signaling"
)

func main() {
	server := flag.String("server", "", "PeerServer URL")
	key := flag.String("key", "", "PeerServer key")
	parent := flag.String("parent", "", "parent peer id")
	n := flag.Int("n", 50, "viewers")
	parallel := flag.Int("parallel", 10, "viewers joining at once")
	first := flag.Duration("first", 10*time.Second, "how long a viewer waits for its first packet")
	prefix := flag.String("name", "soak", "name prefix")
	flag.Parse()
	srv, err := signaling.ParseServer(*server, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var outMu sync.Mutex
	say := func(f string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf(f+"\n", a...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var viewers []*node.Viewer
	var wg sync.WaitGroup
	sem := make(chan struct{}, *parallel)
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			got := make(chan struct{})
			var once sync.Once
			start := time.Now()
			v, err := node.StartViewer(ctx, node.ViewerConfig{Common: node.Common{Server: srv, ICEServers: []webrtc.ICEServer{}},
				Parent: *parent, Name: fmt.Sprintf("%s %d", *prefix, i), OnPacket: func(webrtc.RTPCodecType, *rtp.Packet, time.Time) {
					once.Do(func() { close(got) })
				}})
			<-sem
			if err != nil {
				say("nomedia %d join: %v", i, err)
				return
			}
			mu.Lock()
			viewers = append(viewers, v)
			mu.Unlock()
			select {
			case <-got:
				say("media %d %d", i, time.Since(start).Milliseconds())
			case <-time.After(*first - time.Since(start)):
				say("nomedia %d no packet within %v", i, *first)
			}
		}()
	}
	wg.Wait()
	say("joined")
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin)) // until the test closes stdin
	cancel()
	for _, v := range viewers {
		select {
		case <-v.Done():
		case <-time.After(15 * time.Second):
		}
	}
	say("left")
}

package testrig

import (
	"fmt"
	"testing"
	"time"
)

// TreeVideo is P.video() of testdata/web/tree.js: the inbound RTP stats of
// the latest media call an audience page received.
type TreeVideo struct {
	Calls           int     `json:"calls"`  // calls received so far
	From            *string `json:"from"`   // caller of the latest call
	Closed          bool    `json:"closed"` // the latest call has closed
	FramesDecoded   int     `json:"framesDecoded"`
	FrameWidth      int     `json:"frameWidth"`
	FrameHeight     int     `json:"frameHeight"`
	FramesReceived  int     `json:"framesReceived"`
	FramesDropped   int     `json:"framesDropped"`
	FramesPerSecond float64 `json:"framesPerSecond"`
	PacketsLost     int     `json:"packetsLost"`
	BytesReceived   int64   `json:"bytesReceived"`
	NackCount       int     `json:"nackCount"`
	PliCount        int     `json:"pliCount"`
	// FirstFrameMs: ms from the latest call's arrival to its first decoded
	// frame; nil until then.
	FirstFrameMs *float64 `json:"firstFrameMs"`
	Codec        *string  `json:"codec"` // e.g. "video/VP8"
	Audio        struct {
		PacketsReceived      int   `json:"packetsReceived"`
		TotalSamplesReceived int64 `json:"totalSamplesReceived"`
	} `json:"audio"`
}

// TreeSentCall is the outbound video of one call (P.sentVideo()).
type TreeSentCall struct {
	FrameWidth    int `json:"frameWidth"`
	FrameHeight   int `json:"frameHeight"`
	FramesEncoded int `json:"framesEncoded"`
	FramesSent    int `json:"framesSent"`
	// QualityLimitationReason is why the encoder scales down: "none",
	// "cpu", "bandwidth" or "other".
	QualityLimitationReason *string `json:"qualityLimitationReason"`
	Codec                   *string `json:"codec"`
}

// TreeSent is P.sentVideo(): the outbound video of a page's calls. The
// embedded TreeSentCall is that of the first child (in join order) whose
// call has encoded a frame; To names it.
type TreeSent struct {
	Calls int     `json:"calls"` // calls placed and not closed
	To    *string `json:"to"`
	TreeSentCall
	ByChild map[string]TreeSentCall `json:"byChild"`
	Track   *struct {
		Width     int     `json:"width"`
		Height    int     `json:"height"`
		FrameRate float64 `json:"frameRate"`
	} `json:"track"` // settings of the stream's video track, if any
}

func (v TreeVideo) String() string {
	ff, codec := "-", "-"
	if v.FirstFrameMs != nil {
		ff = fmt.Sprintf("%.0f ms", *v.FirstFrameMs)
	}
	if v.Codec != nil {
		codec = *v.Codec
	}
	return fmt.Sprintf("calls=%d decoded=%d received=%d %dx%d fps=%.0f lost=%d nack=%d pli=%d bytes=%d first=%s codec=%s audio=%d pkts",
		v.Calls, v.FramesDecoded, v.FramesReceived, v.FrameWidth, v.FrameHeight, v.FramesPerSecond,
		v.PacketsLost, v.NackCount, v.PliCount, v.BytesReceived, ff, codec, v.Audio.PacketsReceived)
}

// TreeVideoOf returns P.video() of a tree.js page.
func TreeVideoOf(t testing.TB, p *Page) TreeVideo {
	t.Helper()
	var v TreeVideo
	p.Eval(t, "P.video()", &v)
	return v
}

// TreeSentOf returns P.sentVideo() of a tree.js page.
func TreeSentOf(t testing.TB, p *Page) TreeSent {
	t.Helper()
	var s TreeSent
	p.Eval(t, "P.sentVideo()", &s)
	return s
}

// WaitTreeVideo waits (at most timeout) until the page's latest call has
// decoded at least minFrames frames and at least minCalls calls arrived.
func WaitTreeVideo(t testing.TB, p *Page, minFrames, minCalls int, timeout time.Duration) TreeVideo {
	t.Helper()
	var v TreeVideo
	ms := timeout.Milliseconds()
	old := p.Timeout
	p.Timeout = timeout + 5*time.Second
	defer func() { p.Timeout = old }()
	p.Eval(t, fmt.Sprintf("P.waitVideo(%d, %d, %d)", minFrames, ms, minCalls), &v)
	return v
}

package peerjs

import (
	"slices"

	"github.com/p2plive/p2plive-node/peerjs/serial"
)

// SendReversed sends v with its frames in reverse order: the worst an
// unordered channel can do to a chunked message.
func SendReversed(c *DataConn, v any) error {
	return sendEdited(c, v, func(frames []serial.Frame) []serial.Frame {
		slices.Reverse(frames)
		return frames
	})
}

// SendPartial sends only the first n frames of v: a chunked message that
// never completes.
func SendPartial(c *DataConn, v any, n int) error {
	return sendEdited(c, v, func(frames []serial.Frame) []serial.Frame { return frames[:min(n, len(frames))] })
}

// sendEdited encodes v into frames as Send does and sends edit(frames).
func sendEdited(c *DataConn, v any, edit func([]serial.Frame) []serial.Frame) error {
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	frames, err := c.enc.Encode(v)
	if err != nil {
		return err
	}
	return c.sendFrames(dc, edit(frames))
}

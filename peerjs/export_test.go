package peerjs

import "slices"

// SendReversed sends v with its frames in reverse order: the worst an
// unordered channel can do to a chunked message.
func SendReversed(c *DataConn, v any) error {
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	frames, err := c.enc.Encode(v)
	if err != nil {
		return err
	}
	slices.Reverse(frames)
	return c.sendFrames(dc, frames)
}

// SendPartial sends only the first n frames of v: a chunked message that
// never completes.
func SendPartial(c *DataConn, v any, n int) error {
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	frames, err := c.enc.Encode(v)
	if err != nil {
		return err
	}
	return c.sendFrames(dc, frames[:min(n, len(frames))])
}

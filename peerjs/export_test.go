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

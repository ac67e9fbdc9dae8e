package node

// Reconnects is how many times the node registered again with the
// PeerServer after losing its socket (for tests that restart the server).
func (j *Join) Reconnects() uint64 { return j.p.Signaling().Stats().Reconnects }

package node

// Reconnects is how many times the node registered again with the
// PeerServer after losing its socket (for tests that restart the server).
func (n *Node) Reconnects() uint64 {
	st, _ := n.Stats()
	return st.Reconnects
}

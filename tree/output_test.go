package tree

// sent is one message to one connection: a Send spread over its To.
type sent struct {
	To  ConnID
	Msg any
}

// sentOf spreads the Send outputs of out over their connections, in order.
func sentOf(out []Output) []sent {
	var s []sent
	for _, o := range out {
		if m, ok := o.(Send); ok {
			for _, to := range m.To {
				s = append(s, sent{to, m.Msg.V})
			}
		}
	}
	return s
}

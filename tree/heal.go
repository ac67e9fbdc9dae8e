package tree

// BrowserChildLimit is how many children the pages' auto-join expects a
// node to take: a node with fewer has room.
const BrowserChildLimit = 4

// SingleChildLimit is the same for the single-file page, whose auto-join
// counts a node with 3 children as full.
const SingleChildLimit = 3

// ChooseParent picks where a node that lost its parent should re-join, as
// the pages' auto-join does but never into a subtree that is going away:
// the host if it has room, else the shallowest node with room (breadth
// first, in report order). Nodes in avoid — and their whole subtrees — are
// skipped: pass our own id (our subtree would make a cycle) and the lost
// parent's (its other children are orphans too). ok is false when the map
// has no host report or nothing has room. A single map is read by its own
// layout: its root is the host, and room means fewer than SingleChildLimit.
func ChooseParent(m RoomMap, avoid ...string) (id string, ok bool) {
	limit := BrowserChildLimit
	if m.Layout() == LayoutSingle {
		limit = SingleChildLimit
	}
	host := m.HostReport()
	if host.ID() == "" {
		return "", false
	}
	skip := func(id string) bool {
		for _, a := range avoid {
			if id == a {
				return true
			}
		}
		return false
	}
	if skip(host.ID()) {
		return "", false
	}
	queue := []Report{host}
	budget := searchLimit
	for len(queue) > 0 && budget > 0 {
		r := queue[0]
		queue = queue[1:]
		budget--
		kids := r.Children()
		if len(kids) < limit {
			return r.ID(), true
		}
		for _, c := range kids {
			if c.ID != "" && !skip(c.ID) && len(c.Report) > repID {
				queue = append(queue, c.Report)
			}
		}
	}
	return "", false
}

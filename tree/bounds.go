package tree

import (
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// Defaults of the report bounds and timers (RelayConfig, HostConfig,
// IndexConfig). A report carries its sender's whole subtree and we hold it,
// re-send it up inside our own and, at the host, down to every member inside
// the room map: without bounds one child's fake subtree of 100,000 nodes
// (~1 MB, well inside the message size and rate limits) costs every node on
// the way hundreds of MiB and seconds of CPU per second. The pages' trees are
// a few hundred nodes, a few levels deep (auto-join fills breadth first).
const (
	DefaultMaxReportNodes = 2000
	DefaultMaxReportDepth = 64
	DefaultMaxReportBytes = 512 << 10
	// DefaultReportInterval spaces out our report (relay) and the room map
	// (host): reports are state, only the latest matters.
	DefaultReportInterval = 500 * time.Millisecond
	// DefaultGuestTimeout closes an incoming connection that never reports.
	DefaultGuestTimeout = 30 * time.Second
	// DefaultRateLimit (messages per second) and DefaultRateBurst bound
	// what one child or guest may send: far above a page's chat and
	// reports, far below what would keep a relay busy.
	DefaultRateLimit = 50
	DefaultRateBurst = 500
	// DefaultRoomTimeout is how long the index keeps a room whose host is
	// unreachable (IndexConfig.RoomTimeout).
	DefaultRoomTimeout = 10 * time.Second
)

// maxNesting caps MaxReportDepth so that any report we accept still packs
// inside the index root's room list (list, map, host report) with room for
// the one level a relay adds: BinaryPack refuses deeper values, and one
// unpackable report would make the room map unsendable for the whole room.
const maxNesting = binarypack.MaxDepth - 4

// Estimated sizes, as the walk counts them: close to BinaryPack's worst case
// per value (a float64 is 9 bytes, a string header up to 5), never packed.
const (
	estScalar    = 9 // number, bool, nil
	estHeader    = 5 // string, binary, array or map header
	estReportTop = estHeader + 3*estScalar + 2*estHeader + 2*estHeader
)

// reportLimits bound one report: nodes of the subtree (the reporter
// included), nesting of arrays (the report itself is level 1, so a leaf
// report [1,0,0,[],id,name,[]] is 2 deep), and the estimated packed size.
type reportLimits struct{ nodes, depth, bytes int }

func newReportLimits(nodes, depth, bytes int) reportLimits {
	if nodes <= 0 {
		nodes = DefaultMaxReportNodes
	}
	if depth <= 0 {
		depth = DefaultMaxReportDepth
	}
	if bytes <= 0 {
		bytes = DefaultMaxReportBytes
	}
	return reportLimits{nodes: nodes, depth: min(depth, maxNesting), bytes: bytes}
}

// reportCost is what a validated report claims: its nodes, its nesting, its
// estimated size, and a fingerprint that tells a changed report from a
// repeated one without keeping and comparing the old one.
type reportCost struct {
	nodes, depth, bytes int
	sum                 uint64
}

// walker validates a report in one pass: the bounds, the cycle check (ids
// that must not appear in it) and packability (BinaryPack refuses NaN, ±Inf
// and types the unpacker never makes). It stops at the first fault, so its
// cost is proportional to the bounds, never to what the report claims.
type walker struct {
	lim    reportLimits
	forbid [2]string // ids that make a cycle: ours and our parent's ("" = none)
	cost   reportCost
	h      maphash.Hash
	why    Reason
	detail string
	num    [8]byte
}

func newWalker(seed maphash.Seed, lim reportLimits, forbid ...string) *walker {
	w := &walker{lim: lim}
	w.h.SetSeed(seed)
	copy(w.forbid[:], forbid)
	return w
}

// walkReport validates rep as a whole report. ok is false with w.why and
// w.detail set when it is refused.
func (w *walker) walkReport(rep []any) (reportCost, bool) {
	w.cost = reportCost{nodes: 1}
	w.h.Reset()
	ok := w.report(rep, 1)
	w.cost.sum = w.h.Sum64()
	return w.cost, ok
}

func (w *walker) fail(why Reason, detail string) bool {
	w.why, w.detail = why, detail
	return false
}

// enter accounts one array or map at nesting d.
func (w *walker) enter(d, n int) bool {
	if d > w.lim.depth {
		return w.fail(RejectReportTooDeep, "nested deeper than "+strconv.Itoa(w.lim.depth))
	}
	w.cost.depth = max(w.cost.depth, d)
	w.h.WriteByte('[')
	w.writeInt(int64(n))
	return w.add(estHeader)
}

func (w *walker) add(n int) bool {
	w.cost.bytes += n
	if w.cost.bytes > w.lim.bytes {
		return w.fail(RejectReportTooBig, "over "+strconv.Itoa(w.lim.bytes)+" bytes")
	}
	return true
}

func (w *walker) writeInt(n int64) {
	for i := range w.num {
		w.num[i] = byte(n >> (8 * i))
	}
	w.h.Write(w.num[:])
}

func (w *walker) forbidden(id string) bool {
	return id != "" && (id == w.forbid[0] || id == w.forbid[1])
}

// report walks a report array at nesting d: its fields as values, each
// triple's report as a report, each triple as one node.
func (w *walker) report(r []any, d int) bool {
	if !w.enter(d, len(r)) {
		return false
	}
	if id, _ := at(r, repID).(string); w.forbidden(id) {
		return w.fail(RejectCycle, "id "+clip(id)+" is in the subtree")
	}
	for i, v := range r {
		if i >= repFirstChild && (i-repFirstChild)%3 == 0 {
			w.cost.nodes++
			if w.cost.nodes > w.lim.nodes {
				return w.fail(RejectReportTooBig, "more than "+strconv.Itoa(w.lim.nodes)+" nodes")
			}
			if id, _ := v.(string); w.forbidden(id) {
				return w.fail(RejectCycle, "id "+clip(id)+" is in the subtree")
			}
		}
		if sub, ok := v.([]any); ok && i >= repFirstChild && (i-repFirstChild)%3 == 2 {
			if !w.report(sub, d+1) {
				return false
			}
			continue
		}
		if !w.value(v, d+1) {
			return false
		}
	}
	return true
}

// value walks any other value at nesting d (if it is a container).
func (w *walker) value(v any, d int) bool {
	switch x := v.(type) {
	case string:
		w.h.WriteByte('s')
		if !w.add(estHeader + len(x)) {
			return false
		}
		w.writeInt(int64(len(x)))
		w.h.WriteString(x)
		return true
	case []byte:
		w.h.WriteByte('b')
		if !w.add(estHeader + len(x)) {
			return false
		}
		w.writeInt(int64(len(x)))
		w.h.Write(x)
		return true
	case int64:
		w.h.WriteByte('i')
		w.writeInt(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return w.fail(RejectMalformed, "report does not pack: "+strconv.FormatFloat(x, 'g', -1, 64))
		}
		if n, ok := asInt(x); ok { // JS numbers: 1.0 is 1 on the wire
			w.h.WriteByte('i')
			w.writeInt(n)
		} else {
			w.h.WriteByte('f')
			w.writeInt(int64(math.Float64bits(x)))
		}
	case nil, binarypack.Undefined:
		w.h.WriteByte('n')
	case bool:
		w.h.WriteByte('t')
		if x {
			w.h.WriteByte(1)
		} else {
			w.h.WriteByte(0)
		}
	case []any:
		if !w.enter(d, len(x)) {
			return false
		}
		for _, e := range x {
			if !w.value(e, d+1) {
				return false
			}
		}
		return true
	case binarypack.Map:
		if !w.enter(d, len(x)) {
			return false
		}
		w.h.WriteByte('m')
		for _, e := range x {
			if !w.value(e.Key, d+1) || !w.value(e.Value, d+1) {
				return false
			}
		}
		return true
	default:
		// The unpacker never makes other types; BinaryPack would refuse some.
		return w.fail(RejectMalformed, "report holds a value that does not pack")
	}
	return w.add(estScalar)
}

// tripleBytes is the estimated size a child adds to our report.
func tripleBytes(id, name string, reportBytes int) int {
	return 2*estHeader + len(id) + len(name) + reportBytes
}

// leafBytes is the estimated size of a leaf report [1,0,0,[],id,name,[]].
func leafBytes(id, name string) int { return estReportTop + len(id) + len(name) }

// fitChildren chooses what of our children's reports goes into our own
// report (or the host's room map) so that it stays within lim: we pass on
// at most what we accept, or our parent (a Go relay or the index, with the
// same defaults) would refuse our whole report and the room would lose our
// subtree.
//
// The policy: children in join order, each with its full report, while it
// all fits. Otherwise (the sum of valid reports is over a bound) the largest
// subtrees, measured by their share of the tighter bound, are cut to a leaf
// [1,0,0,[],id,name,[]] one by one until it fits: the child itself stays
// in the map (and in the member list); its descendants are left out until
// they fit again. Cutting the largest first means a child that claims much
// costs its own subtree, not its siblings'. A child whose subtree alone
// would nest too deep is always cut. If even leaves do not fit (thousands of
// direct children), the last-joined are left out.
func fitChildren(kids []*connState, self, name string, lim reportLimits) []Child {
	out := make([]Child, len(kids))
	cn := make([]int, len(kids)) // nodes and bytes each child adds as it stands
	cb := make([]int, len(kids))
	nodes, bytes := 1, estReportTop+len(self)+len(name)
	cut := func(i int) {
		cs := kids[i]
		out[i].Report = Report(BuildReport(cs.peer, cs.name, nil))
		nodes += 1 - cn[i]
		lb := tripleBytes(cs.peer, cs.name, leafBytes(cs.peer, cs.name))
		bytes += lb - cb[i]
		cn[i], cb[i] = 1, lb
	}
	for i, cs := range kids {
		out[i] = Child{ID: cs.peer, Name: cs.name, Report: cs.report}
		cn[i], cb[i] = cs.cost.nodes, tripleBytes(cs.peer, cs.name, cs.cost.bytes)
		nodes += cn[i]
		bytes += cb[i]
		if cs.cost.depth+1 > lim.depth {
			cut(i)
		}
	}
	fits := func() bool { return nodes <= lim.nodes && bytes <= lim.bytes }
	if fits() {
		return out
	}
	// Largest share of the bounds first; among equals the last-joined first.
	weight := func(i int) int64 {
		return max(int64(cn[i])*int64(lim.bytes), int64(cb[i])*int64(lim.nodes))
	}
	order := make([]int, 0, len(kids))
	for i, cs := range kids {
		if cn[i] > 1 || cb[i] > tripleBytes(cs.peer, cs.name, leafBytes(cs.peer, cs.name)) {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch wa, wb := weight(a), weight(b); {
		case wa > wb:
			return -1
		case wa < wb:
			return 1
		}
		return b - a
	})
	for _, i := range order {
		if fits() {
			return out
		}
		cut(i)
	}
	// Leaves alone are over the bounds: leave out the last-joined.
	n := len(out)
	for n > 0 && !fits() {
		n--
		nodes -= cn[n]
		bytes -= cb[n]
	}
	return out[:n]
}

package tree

import "slices"

// Output is one thing the owner of a machine must do, returned in the order
// it must be done. The set is closed (only this package implements
// isOutput): Send and Reject come from every machine; Call, HangUp
// (calls.go) and CloseConn from Relay and Host; ParentNotice and
// UpstreamChanged from Relay; ChatReceived (host.go) from Host. Send is the
// one way to send: to one connection or, with one shared Message, to many.
type Output interface{ isOutput() }

// Send sends one message to every connection in To, in that order. A
// message for many connections (a flood, the room map, the index list) is
// one Send, so the owner encodes it once for all of them: Msg.Packed on
// binary connections (the bytes the loop guard hashed, when it did), and
// each other serialization's form once per Send, not once per connection.
// To is never empty.
type Send struct {
	To  []ConnID
	Msg *Message
}

// sendTo is a Send of v to one connection.
func sendTo(c ConnID, v any) Send { return Send{To: []ConnID{c}, Msg: NewMessage(v)} }

// CloseConn asks the caller to close a connection.
type CloseConn struct {
	Conn   ConnID
	Reason Reason
}

// ParentNotice reports a type 3 ("changing/leaving my parent") or a bare
// type 5 ("host unloading") from our parent: the parent is going away.
type ParentNotice struct{ Msg []any }

// UpstreamChanged: the parent announced a new stream (C's [4, id]); we asked
// for it, and the media layer should re-feed children when it arrives.
type UpstreamChanged struct{}

// Reject reports a message that was dropped. First is true the first time
// this reason occurs on this connection: log those, count all.
type Reject struct {
	Conn   ConnID
	Peer   string
	Reason Reason
	Detail string
	First  bool
}

func (Send) isOutput()            {}
func (CloseConn) isOutput()       {}
func (ParentNotice) isOutput()    {}
func (UpstreamChanged) isOutput() {}
func (Reject) isOutput()          {}

// Reason is why a message was dropped.
type Reason int

// Rejection reasons.
const (
	RejectUnknown         Reason = iota
	RejectMalformed              // not an array with an integer type
	RejectRate                   // over the connection's message rate
	RejectDuplicate              // seen within the dedupe window (a loop)
	RejectImpostor               // a report whose [4] is not the connection's peer
	RejectCycle                  // a report whose subtree contains us or our parent
	RejectNotChild               // tree traffic from a connection that has not reported
	RejectFromBelow              // a room map from a child
	RejectUnexpected             // a type or direction the protocol does not allow
	RejectTooManyChildren        // over --max-children
	RejectNotHost                // index: a room map whose host is not the sender
	RejectReportTooBig           // a report (or registered room map) over MaxReportNodes or MaxReportBytes
	RejectReportTooDeep          // a report nested deeper than MaxReportDepth
	RejectUpstreamShare          // a child's message over its share of what we may send up
	RejectGuestTimeout           // a connection that did not report within GuestTimeout (closed)
)

var reasonNames = []string{"unknown", "malformed", "rate", "duplicate", "impostor", "cycle",
	"not-child", "from-below", "unexpected", "too-many-children", "not-host",
	"report-too-big", "report-too-deep", "upstream-share", "guest-timeout"}

func (r Reason) String() string {
	if int(r) >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// ParseReason is the inverse of String.
func ParseReason(s string) Reason {
	if i := slices.Index(reasonNames, s); i >= 0 {
		return Reason(i)
	}
	return RejectUnknown
}

// MediaReason is why a child should get (or get again) our stream.
type MediaReason int

// Reasons for media requests.
const (
	MediaUnknown       MediaReason = iota
	MediaJoined                    // first report from a new child
	MediaRefresh                   // the child asked (type 4)
	MediaLend                      // type 2 "lend me your stream"
	MediaStreamArrived             // our upstream stream appeared
	MediaRecall                    // its call ended by itself; calling again (calls.go)
)

var mediaNames = []string{"unknown", "joined", "refresh", "lend", "stream-arrived", "recall"}

func (m MediaReason) String() string {
	if int(m) >= 0 && int(m) < len(mediaNames) {
		return mediaNames[m]
	}
	return "unknown"
}

func sortByJoin(cs []*connState) {
	slices.SortFunc(cs, func(a, b *connState) int {
		switch {
		case a.joined < b.joined:
			return -1
		case a.joined > b.joined:
			return 1
		}
		return 0
	})
}

// MarshalText names the reason (JSON map keys, logs).
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

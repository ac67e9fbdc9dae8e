package signaling

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// The PeerServer protocol (npm peer 1.0.2, as spoken by the peerjs 1.5.4 client).
//
// Transport: one WebSocket per peer at
//
//	{ws|wss}://{host}:{port}{path}peerjs?key={key}&id={id}&token={token}&version={v}
//
// carrying JSON text frames {"type": T, "src"?: id, "dst"?: id, "payload"?: {...}}.
// The client never sets "src"; the server stamps it on everything it relays.
//
//	server → client
//	  OPEN         registered under the requested id (not sent when the same id+token re-attaches)
//	  ERROR        payload.msg; the server closes the socket after it (bad params, bad key, limit)
//	  ID-TAKEN     the id is connected with another token; the server closes the socket
//	  INVALID-KEY  legacy servers; the current one sends ERROR "Invalid key provided"
//	  LEAVE        src has gone (or relaying to it failed)
//	  EXPIRE       our queued messages to src were never read (peer-unavailable)
//	  OFFER, ANSWER, CANDIDATE  relayed from src
//	client → server
//	  HEARTBEAT    every 5 s; the server drops clients silent for alive_timeout (60–90 s)
//	  OFFER, ANSWER, CANDIDATE, LEAVE, EXPIRE  relayed to dst; queued ≤ expire_timeout if dst is absent
//
// Payloads (connection-level messages carry payload.connectionId, "dc_…" for data
// and "mc_…" for media, chosen by the side that makes the offer):
//
//	OFFER     {sdp:{type:"offer",sdp}, type:"data"|"media", connectionId, metadata?,
//	           label, reliable, serialization}            (the last three for data only)
//	ANSWER    {sdp:{type:"answer",sdp}, type, connectionId}
//	CANDIDATE {candidate:{candidate, sdpMid, sdpMLineIndex, usernameFragment}, type, connectionId}

// MessageType is the "type" of a PeerServer message.
type MessageType string

// The message types the PeerServer and PeerJS clients exchange.
const (
	TypeOpen       MessageType = "OPEN"
	TypeError      MessageType = "ERROR"
	TypeIDTaken    MessageType = "ID-TAKEN"
	TypeInvalidKey MessageType = "INVALID-KEY"
	TypeLeave      MessageType = "LEAVE"
	TypeExpire     MessageType = "EXPIRE"
	TypeOffer      MessageType = "OFFER"
	TypeAnswer     MessageType = "ANSWER"
	TypeCandidate  MessageType = "CANDIDATE"
	TypeHeartbeat  MessageType = "HEARTBEAT"
)

// ConnectionType tells data connections from media calls in OFFER payloads.
type ConnectionType string

// The two kinds of PeerJS connection.
const (
	ConnData  ConnectionType = "data"
	ConnMedia ConnectionType = "media"
)

// ClientVersion is the peerjs client version we announce; the server ignores it,
// but it keeps our requests indistinguishable from the pages' (which ship 1.5.4).
const ClientVersion = "1.5.4"

// Message is one PeerServer frame. Payload is kept raw so that routing never
// depends on fields a peer may have filled with garbage.
type Message struct {
	Type    MessageType     `json:"type"`
	Src     string          `json:"src,omitempty"`
	Dst     string          `json:"dst,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// SessionDescription is the JSON form of RTCSessionDescription.
type SessionDescription struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

// OfferPayload is the payload of OFFER. Label, Reliable and Serialization are
// present for data connections only.
type OfferPayload struct {
	SDP           SessionDescription `json:"sdp"`
	Type          ConnectionType     `json:"type"`
	ConnectionID  string             `json:"connectionId"`
	Metadata      json.RawMessage    `json:"metadata,omitempty"`
	Label         string             `json:"label,omitempty"`
	Reliable      bool               `json:"reliable"`
	Serialization string             `json:"serialization,omitempty"`
}

// AnswerPayload is the payload of ANSWER.
type AnswerPayload struct {
	SDP          SessionDescription `json:"sdp"`
	Type         ConnectionType     `json:"type"`
	ConnectionID string             `json:"connectionId"`
}

// ICECandidate is the JSON form of RTCIceCandidate (RTCIceCandidateInit).
type ICECandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// CandidatePayload is the payload of CANDIDATE.
type CandidatePayload struct {
	Candidate    ICECandidate   `json:"candidate"`
	Type         ConnectionType `json:"type"`
	ConnectionID string         `json:"connectionId"`
}

// ErrorPayload is the payload of ERROR and ID-TAKEN.
type ErrorPayload struct {
	Msg string `json:"msg"`
}

// connectionIDOnly reads just the routing key of a connection-level payload.
type connectionIDOnly struct {
	ConnectionID string `json:"connectionId"`
}

// idPattern is the id rule of the PeerJS client (validateId): a browser refuses
// any other id, so we refuse it too rather than register an id nobody can dial.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$`)

// ValidID reports whether id is acceptable to the PeerJS client.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// maxFrame bounds one PeerServer frame. SDP offers with many candidates stay
// well under 64 KiB; anything larger is a broken or hostile server.
const maxFrame = 1 << 20

// DecodeMessage parses one server frame. It checks the shape only; payloads are
// decoded by whoever handles the type.
func DecodeMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > maxFrame {
		return m, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, len(b))
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.Type == "" {
		return m, fmt.Errorf("%w: no type", ErrMalformed)
	}
	return m, nil
}

// EncodeMessage is the inverse of DecodeMessage.
func EncodeMessage(m Message) ([]byte, error) { return json.Marshal(m) }

// ConnectionID returns payload.connectionId of a connection-level message, or "".
func (m Message) ConnectionID() string {
	if len(m.Payload) == 0 {
		return ""
	}
	var p connectionIDOnly
	if json.Unmarshal(m.Payload, &p) != nil {
		return ""
	}
	return p.ConnectionID
}

// ErrorText returns payload.msg of ERROR or ID-TAKEN, or "".
func (m Message) ErrorText() string {
	var p ErrorPayload
	if len(m.Payload) == 0 || json.Unmarshal(m.Payload, &p) != nil {
		return ""
	}
	return p.Msg
}

// NewMessage builds a client → server message with a JSON payload.
func NewMessage(t MessageType, dst string, payload any) (Message, error) {
	m := Message{Type: t, Dst: dst}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return m, fmt.Errorf("signaling: encode %s payload: %w", t, err)
		}
		m.Payload = b
	}
	return m, nil
}

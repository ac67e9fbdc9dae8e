package signaling

import (
	"errors"
	"fmt"
)

// Sentinel errors. Registration failures are returned wrapped in *ServerError
// where the server said something; test them with errors.Is.
var (
	// ErrIDTaken: the requested id is registered with another token.
	ErrIDTaken = errors.New("id is taken")
	// ErrInvalidKey: the server refused our API key.
	ErrInvalidKey = errors.New("invalid key")
	// ErrInvalidID: the id does not match the PeerJS id rule.
	ErrInvalidID = errors.New("invalid id")
	// ErrServer: the server sent ERROR (bad parameters, concurrent limit, ...).
	ErrServer = errors.New("server error")
	// ErrUnreachable: no usable answer from the server (HTTP or WebSocket).
	ErrUnreachable = errors.New("server unreachable")
	// ErrMalformed: a frame from the server that is not a PeerServer message.
	ErrMalformed = errors.New("malformed server message")
	// ErrClosed: the client has been closed.
	ErrClosed = errors.New("signaling client closed")
	// ErrQueueFull: too many messages waiting for the server.
	ErrQueueFull = errors.New("send queue full")
)

// ServerError carries the server's own words along with the sentinel that
// classifies them.
type ServerError struct {
	Kind error  // ErrIDTaken, ErrInvalidKey or ErrServer
	Msg  string // payload.msg as the server sent it
}

func (e *ServerError) Error() string {
	if e.Msg == "" {
		return e.Kind.Error()
	}
	return fmt.Sprintf("%v: %s", e.Kind, e.Msg)
}

func (e *ServerError) Unwrap() error { return e.Kind }

// errorFromMessage classifies a registration reply; nil for OPEN.
func errorFromMessage(m Message) error {
	switch m.Type {
	case TypeOpen:
		return nil
	case TypeIDTaken:
		return &ServerError{Kind: ErrIDTaken, Msg: m.ErrorText()}
	case TypeInvalidKey:
		return &ServerError{Kind: ErrInvalidKey, Msg: m.ErrorText()}
	case TypeError:
		msg := m.ErrorText()
		// peer 1.0.2 reports a wrong key as a plain ERROR with this text.
		if msg == "Invalid key provided" {
			return &ServerError{Kind: ErrInvalidKey, Msg: msg}
		}
		return &ServerError{Kind: ErrServer, Msg: msg}
	default:
		return fmt.Errorf("%w: %s before OPEN", ErrMalformed, m.Type)
	}
}

package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// wireSeeds are PeerServer frames as peer 1.0.2 and the peerjs 1.5.4 client
// send them (the shapes documented in wire.go), plus broken ones.
var wireSeeds = []string{
	`{"type":"OPEN"}`,
	`{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}`,
	`{"type":"ERROR","payload":{"msg":"Invalid key provided"}}`,
	`{"type":"ERROR","payload":{"msg":1}}`,
	`{"type":"LEAVE","src":"x"}`,
	`{"type":"EXPIRE","src":"x"}`,
	`{"type":"HEARTBEAT"}`,
	`{"type":"OFFER","src":"a","dst":"b","payload":{"sdp":{"type":"offer","sdp":"v=0\r\n"},"type":"data","connectionId":"dc_1","label":"dc_1","reliable":true,"serialization":"binary","metadata":{"k":[1,null]}}}`,
	`{"type":"OFFER","src":"a","payload":{"sdp":{"type":"offer","sdp":"v=0"},"type":"media","connectionId":"mc_1"}}`,
	`{"type":"ANSWER","src":"b","payload":{"sdp":{"type":"answer","sdp":"v=0"},"type":"data","connectionId":"dc_1"}}`,
	`{"type":"CANDIDATE","src":"x","dst":"y","payload":{"candidate":{"candidate":"candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"u"},"type":"data","connectionId":"dc_1"}}`,
	`{"type":"ANSWER","payload":"not an object"}`,
	`{"type":"OFFER","payload":null}`,
	`{"type":"OPEN","src":"\ud800","payload":{"connectionId":"\u00e9"}}`,
	`{}`, `[1,2]`, `not json`, `{"type":1}`,
}

// FuzzWireRoundTrip: whatever DecodeMessage accepts encodes and decodes
// again to the same message (so a relayed frame means what it meant), and
// every payload reader copes with it. FuzzDecodeMessage covers the error
// classification of the same decoder.
func FuzzWireRoundTrip(f *testing.F) {
	for _, s := range wireSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if m.Type == "" {
			t.Fatal("accepted a message without a type")
		}
		// The typed payloads the handlers use must not panic either.
		var offer OfferPayload
		var answer AnswerPayload
		var cand CandidatePayload
		for _, p := range []any{&offer, &answer, &cand} {
			_ = json.Unmarshal(m.Payload, p)
		}
		enc, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("EncodeMessage(%+v): %v", m, err)
		}
		if len(enc) > maxFrame {
			return // escaping grew it past the frame bound; nothing to compare
		}
		m2, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if m2.Type != m.Type || m2.Src != m.Src || m2.Dst != m.Dst || !samePayload(m.Payload, m2.Payload) {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
		if m2.ConnectionID() != m.ConnectionID() || m2.ErrorText() != m.ErrorText() {
			t.Fatalf("round trip changed the routing: %q %q, then %q %q", m.ConnectionID(), m.ErrorText(), m2.ConnectionID(), m2.ErrorText())
		}
	})
}

// samePayload compares raw payloads as JSON values: encoding/json rewrites
// a RawMessage it writes (no insignificant whitespace, <, > and & escaped),
// which changes the bytes but not what they mean.
func samePayload(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	va, errA := jsonValue(a)
	vb, errB := jsonValue(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

// jsonValue decodes b keeping numbers as written.
func jsonValue(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("payload %q: %w", b, err)
	}
	return v, nil
}

func TestDecodeMessageFrameBound(t *testing.T) {
	msg := `{"type":"OPEN"}`
	tests := []struct {
		name string
		size int
		want error
	}{
		{"at the bound", maxFrame, nil},
		{"one byte over", maxFrame + 1, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(msg + strings.Repeat(" ", tt.size-len(msg)))
			_, err := DecodeMessage(b)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("%d bytes: err %v, want %v", len(b), err, tt.want)
			}
		})
	}
}

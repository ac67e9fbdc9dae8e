package signaling

import (
	"errors"
	"testing"
)

func TestParseServer(t *testing.T) {
	cases := []struct {
		in, key string
		want    Server
		id, ws  string
	}{
		{DefaultServerURL, "", Server{Secure: true, Host: CloudHost, Port: 443, Path: "/", Key: "peerjs"},
			"https://0.peerjs.com:443/peerjs/id", "wss://0.peerjs.com:443/peerjs?id=a&key=peerjs&token=t&version=1.5.4"},
		{"http://127.0.0.1:9000/myapp", "k", Server{Host: "127.0.0.1", Port: 9000, Path: "/myapp/", Key: "k"},
			"http://127.0.0.1:9000/myapp/k/id", "ws://127.0.0.1:9000/myapp/peerjs?id=a&key=k&token=t&version=1.5.4"},
		{"ws://example.org", "", Server{Host: "example.org", Port: 80, Path: "/", Key: "peerjs"},
			"http://example.org:80/peerjs/id", "ws://example.org:80/peerjs?id=a&key=peerjs&token=t&version=1.5.4"},
	}
	for _, tc := range cases {
		got, err := ParseServer(tc.in, tc.key)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got != tc.want {
			t.Errorf("%s: got %+v want %+v", tc.in, got, tc.want)
		}
		if u := got.idURL(); u != tc.id {
			t.Errorf("%s: id url %s want %s", tc.in, u, tc.id)
		}
		if u := got.socketURL("a", "t"); u != tc.ws {
			t.Errorf("%s: ws url %s want %s", tc.in, u, tc.ws)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "0.peerjs.com", "http://h:0/", "http://h:99999/", "http://h/?a=b"} {
		if _, err := ParseServer(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"P2P-Live-Web-Default-ID": true, "P2P-Live-Web-default-Id": true, "a": true, "a b_c-d": true,
		"3f1c2b9e-8a4d-4c1e-9b7a-0d2e5f6a7b8c": true,
		"":                                     false, "-a": false, "a-": false, "a--b": false, "a  b": false, "héllo": false, "a.b": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v", id, got)
		}
	}
}

func TestDecodeMessage(t *testing.T) {
	cases := []struct {
		in      string
		typ     MessageType
		conn    string
		errText string
		bad     bool
	}{
		{`{"type":"OPEN"}`, TypeOpen, "", "", false},
		{`{"type":"ID-TAKEN","payload":{"msg":"ID is taken"}}`, TypeIDTaken, "", "ID is taken", false},
		{`{"type":"CANDIDATE","src":"x","dst":"y","payload":{"candidate":{"candidate":"c"},"type":"data","connectionId":"dc_1"}}`, TypeCandidate, "dc_1", "", false},
		{`{"type":"LEAVE","src":"x"}`, TypeLeave, "", "", false},
		{`{"type":"ANSWER","payload":"not an object"}`, TypeAnswer, "", "", false},
		{`{}`, "", "", "", true},
		{`[1,2]`, "", "", "", true},
		{`not json`, "", "", "", true},
	}
	for _, tc := range cases {
		m, err := DecodeMessage([]byte(tc.in))
		if tc.bad {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err %v, want ErrMalformed", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if m.Type != tc.typ || m.ConnectionID() != tc.conn || m.ErrorText() != tc.errText {
			t.Errorf("%s: got %v %q %q", tc.in, m.Type, m.ConnectionID(), m.ErrorText())
		}
	}
}

func TestErrorFromMessage(t *testing.T) {
	cases := []struct {
		m    Message
		want error
	}{
		{Message{Type: TypeOpen}, nil},
		{Message{Type: TypeIDTaken, Payload: []byte(`{"msg":"ID is taken"}`)}, ErrIDTaken},
		{Message{Type: TypeInvalidKey}, ErrInvalidKey},
		{Message{Type: TypeError, Payload: []byte(`{"msg":"Invalid key provided"}`)}, ErrInvalidKey},
		{Message{Type: TypeError, Payload: []byte(`{"msg":"No id, token, or key supplied to websocket server"}`)}, ErrServer},
		{Message{Type: TypeOffer}, ErrMalformed},
	}
	for _, tc := range cases {
		err := errorFromMessage(tc.m)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%v: %v", tc.m.Type, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.m.Type, err, tc.want)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"type":"OFFER","src":"a","payload":{"connectionId":"dc_1"}}`))
	f.Add([]byte(`{"type":"ERROR","payload":{"msg":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		_ = m.ConnectionID()
		_ = m.ErrorText()
		_ = errorFromMessage(m)
	})
}

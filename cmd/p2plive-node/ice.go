package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/p2plive/p2plive-node/peerjs"
)

// The --ice codec: one URL per ICE server, with TURN credentials written
// user:pass@ after the scheme, so that a list fits one flag or variable.

// defaultICE is peerjs.DefaultICEServers written as --ice takes them.
func defaultICE() []string {
	var out []string
	for _, s := range peerjs.DefaultICEServers() {
		for _, u := range s.URLs {
			if s.Username != "" {
				scheme, rest, _ := strings.Cut(u, ":")
				u = scheme + ":" + s.Username + ":" + s.Credential.(string) + "@" + rest
			}
			out = append(out, u)
		}
	}
	return out
}

// parseICE reads --ice. stun:/turn:/turns: URLs, with TURN credentials
// written user:pass@ after the scheme. An empty list is refused: it would
// silently mean host candidates only, which "none" says on purpose.
func parseICE(urls []string) ([]webrtc.ICEServer, error) {
	if len(urls) == 0 {
		return nil, errors.New(`empty list (give "none" for host candidates only)`)
	}
	if len(urls) == 1 && urls[0] == "none" {
		return []webrtc.ICEServer{}, nil
	}
	out := []webrtc.ICEServer{}
	for _, u := range urls {
		if u == "" {
			return nil, errors.New("empty element in the list")
		}
		if u == "none" {
			return nil, errors.New(`"none" must be the only entry`)
		}
		scheme, rest, ok := strings.Cut(u, ":")
		if !ok || rest == "" {
			return nil, fmt.Errorf("%q: want stun:host:port or turn:user:pass@host:port", u)
		}
		switch scheme {
		case "stun", "stuns":
			out = append(out, webrtc.ICEServer{URLs: []string{u}})
		case "turn", "turns":
			// A TURN server without credentials refuses every allocation,
			// so such an entry could only fail later, quietly.
			cred, host, ok := strings.Cut(rest, "@")
			if !ok {
				return nil, fmt.Errorf("%q: TURN needs credentials: %s:user:pass@host:port", u, scheme)
			}
			user, pass, ok := strings.Cut(cred, ":")
			if !ok || user == "" || pass == "" {
				return nil, fmt.Errorf("%q: credentials must be user:pass@, both not empty", u)
			}
			if host == "" {
				return nil, fmt.Errorf("%q: no host after the credentials", u)
			}
			out = append(out, webrtc.ICEServer{URLs: []string{scheme + ":" + host}, Username: user, Credential: pass})
		default:
			return nil, fmt.Errorf("%q: unknown scheme %q", u, scheme)
		}
	}
	return out, nil
}

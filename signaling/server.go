package signaling

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Server is the address of a PeerServer, in the terms of the PeerJS client options.
type Server struct {
	Secure bool   // https/wss
	Host   string // host name or IP
	Port   int
	Path   string // normalised to begin and end with "/"
	Key    string
}

// Defaults of `new Peer()` in peerjs 1.5.4: the public PeerJS cloud.
const (
	CloudHost  = "0.peerjs.com"
	CloudPort  = 443
	DefaultKey = "peerjs"
)

// DefaultServerURL is the --server default: the PeerJS cloud exactly as the client reaches it.
const DefaultServerURL = "https://0.peerjs.com:443/"

// ParseServer reads a PeerServer URL such as "https://0.peerjs.com:443/" or
// "http://127.0.0.1:9000/myapp". ws/wss are accepted as synonyms of http/https.
// An empty key means DefaultKey.
func ParseServer(raw, key string) (Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Server{}, fmt.Errorf("server url %q: %w", raw, err)
	}
	var s Server
	switch strings.ToLower(u.Scheme) {
	case "https", "wss":
		s.Secure = true
	case "http", "ws":
	default:
		return Server{}, fmt.Errorf("server url %q: scheme must be http or https", raw)
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return Server{}, fmt.Errorf("server url %q: no host", raw)
	}
	if p := u.Port(); p != "" {
		s.Port, err = strconv.Atoi(p)
		if err != nil || s.Port <= 0 || s.Port > 65535 {
			return Server{}, fmt.Errorf("server url %q: bad port", raw)
		}
	} else if s.Secure {
		s.Port = 443
	} else {
		s.Port = 80
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Server{}, fmt.Errorf("server url %q: no query or fragment allowed", raw)
	}
	s.Path = normalizePath(u.Path)
	s.Key = key
	if s.Key == "" {
		s.Key = DefaultKey
	}
	return s, nil
}

// normalizePath does what the PeerJS client does to options.path.
func normalizePath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func (s Server) hostPort() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String is the URL form accepted by ParseServer.
func (s Server) String() string {
	scheme := "http"
	if s.Secure {
		scheme = "https"
	}
	return scheme + "://" + s.hostPort() + s.Path
}

// idURL is where the client asks for a fresh id.
func (s Server) idURL() string {
	return s.String() + url.PathEscape(s.Key) + "/id"
}

// socketURL is the WebSocket address for id and token.
func (s Server) socketURL(id, token string) string {
	scheme := "ws"
	if s.Secure {
		scheme = "wss"
	}
	q := url.Values{}
	q.Set("key", s.Key)
	q.Set("id", id)
	q.Set("token", token)
	q.Set("version", ClientVersion)
	return scheme + "://" + s.hostPort() + s.Path + "peerjs?" + q.Encode()
}

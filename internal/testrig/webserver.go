package testrig

import (
	"testing"

	"github.com/p2plive/p2plive-node/internal/rig"
)

// WebServer serves our test pages (testdata/web/ at /) and the PeerJS
// browser client (node_modules/peerjs/dist/ at /peerjs/); see rig.WebServer.
type WebServer struct {
	*rig.WebServer
}

// StartWebServer starts the web server; t.Cleanup closes it.
func StartWebServer(t testing.TB) *WebServer {
	t.Helper()
	w, err := rig.StartWebServer()
	check(t, err)
	t.Cleanup(w.Close)
	return &WebServer{w}
}

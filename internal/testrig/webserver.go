package testrig

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// WebServer serves our test pages (testdata/web/ at /) and the PeerJS
// browser client (node_modules/peerjs/dist/ at /peerjs/) on 127.0.0.1,
// which browsers treat as a secure context.
type WebServer struct {
	*httptest.Server
}

// StartWebServer starts the web server; t.Cleanup closes it.
func StartWebServer(t testing.TB) *WebServer {
	t.Helper()
	root := RepoRoot(t)
	web := filepath.Join(root, "testdata", "web")
	dist := filepath.Join(root, "node_modules", "peerjs", "dist")
	requireFile(t, "npm package peerjs (node_modules)", filepath.Join(dist, "peerjs.min.js"))
	requireFile(t, "test pages", filepath.Join(web, "peer.html"))

	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(web)))
	mux.Handle("/peerjs/", http.StripPrefix("/peerjs/", http.FileServer(http.Dir(dist))))
	noStore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
	s := httptest.NewServer(noStore) // listens on 127.0.0.1
	t.Cleanup(s.Close)
	return &WebServer{Server: s}
}

// PageURL returns the URL of a page under testdata/web, e.g. "peer.html".
func (w *WebServer) PageURL(name string) string { return w.URL + "/" + name }

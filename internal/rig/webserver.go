package rig

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
)

// WebServer serves our test pages (testdata/web/ at /) and the PeerJS
// browser client (node_modules/peerjs/dist/ at /peerjs/) on 127.0.0.1,
// which browsers treat as a secure context. Close stops it.
type WebServer struct {
	*httptest.Server
}

// StartWebServer starts the web server. Missing pages or node_modules are a
// *MissingError.
func StartWebServer() (*WebServer, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	web := filepath.Join(root, "testdata", "web")
	dist := filepath.Join(root, "node_modules", "peerjs", "dist")
	if err := requireFile("npm package peerjs (node_modules)", filepath.Join(dist, "peerjs.min.js")); err != nil {
		return nil, err
	}
	if err := requireFile("test pages", filepath.Join(web, "peer.html")); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(web)))
	mux.Handle("/peerjs/", http.StripPrefix("/peerjs/", http.FileServer(http.Dir(dist))))
	noStore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
	return &WebServer{Server: httptest.NewServer(noStore)}, nil // listens on 127.0.0.1
}

// PageURL returns the URL of a page under testdata/web, e.g. "peer.html".
func (w *WebServer) PageURL(name string) string { return w.URL + "/" + name }

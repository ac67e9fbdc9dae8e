package node_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/p2plive/p2plive-node/node"
	"github.com/p2plive/p2plive-node/signaling"
	"github.com/p2plive/p2plive-node/tree"
)

// TestConfigZeroValues: every role's zero value (plus the one required
// field) is valid, as an http.Server's is.
func TestConfigZeroValues(t *testing.T) {
	for name, err := range map[string]error{
		"common": node.Common{}.Validate(),
		"join":   node.JoinConfig{Parent: "p"}.Validate(),
		"host":   node.HostConfig{}.Validate(),
		"root":   node.RootConfig{}.Validate(),
		"viewer": node.ViewerConfig{Parent: "p"}.Validate(),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestConfigValidate: each bad value is refused with a *node.FieldError
// naming its field, and errors.Is sees the cause.
func TestConfigValidate(t *testing.T) {
	join := func(f func(*node.JoinConfig)) error {
		c := node.JoinConfig{Parent: "p"}
		f(&c)
		return c.Validate()
	}
	cases := []struct {
		name  string
		err   error
		field string
		is    error
	}{
		{"no parent", node.JoinConfig{}.Validate(), "Parent", node.ErrRequired},
		{"bad parent", node.JoinConfig{Parent: "a..b"}.Validate(), "Parent", signaling.ErrInvalidID},
		{"bad id", join(func(c *node.JoinConfig) { c.ID = "-x" }), "ID", signaling.ErrInvalidID},
		{"small message", join(func(c *node.JoinConfig) { c.MaxMessageSize = 1 }), "MaxMessageSize", nil},
		{"huge message", join(func(c *node.JoinConfig) { c.MaxMessageSize = node.MaxMaxMessageSize + 1 }), "MaxMessageSize", nil},
		{"pending below two messages", join(func(c *node.JoinConfig) { c.MaxPendingBytes = 2*node.DefaultMaxMessageSize - 1 }), "MaxPendingBytes", nil},
		{"negative conns per peer", join(func(c *node.JoinConfig) { c.MaxConnsPerPeer = -1 }), "MaxConnsPerPeer", nil},
		{"negative conns", join(func(c *node.JoinConfig) { c.MaxConns = -1 }), "MaxConns", nil},
		{"negative drain", join(func(c *node.JoinConfig) { c.DrainTimeout = -1 }), "DrainTimeout", nil},
		{"negative children", join(func(c *node.JoinConfig) { c.MaxChildren = -1 }), "MaxChildren", nil},
		{"NaN rate", join(func(c *node.JoinConfig) { c.RateLimit = math.NaN() }), "RateLimit", nil},
		{"infinite rate", join(func(c *node.JoinConfig) { c.RateLimit = math.Inf(1) }), "RateLimit", nil},
		{"negative rate", join(func(c *node.JoinConfig) { c.RateLimit = -1 }), "RateLimit", nil},
		{"negative burst", join(func(c *node.JoinConfig) { c.RateBurst = -1 }), "RateBurst", nil},
		{"negative report nodes", join(func(c *node.JoinConfig) { c.MaxReportNodes = -1 }), "MaxReportNodes", nil},
		{"negative report depth", join(func(c *node.JoinConfig) { c.MaxReportDepth = -1 }), "MaxReportDepth", nil},
		{"negative report bytes", join(func(c *node.JoinConfig) { c.MaxReportBytes = -1 }), "MaxReportBytes", nil},
		{"negative guest timeout", join(func(c *node.JoinConfig) { c.GuestTimeout = -1 }), "GuestTimeout", nil},
		{"unknown greeting", join(func(c *node.JoinConfig) { c.Greeting = tree.GreetC + 1 }), "Greeting", nil},
		{"negative media timeout", join(func(c *node.JoinConfig) { c.MediaTimeout = -1 }), "MediaTimeout", nil},
		{"bad index", node.HostConfig{RootID: "a..b"}.Validate(), "RootID", signaling.ErrInvalidID},
		{"host limits", node.HostConfig{ChildLimits: node.ChildLimits{RateBurst: -1}}.Validate(), "RateBurst", nil},
		{"empty root id", node.RootConfig{IDs: []string{""}}.Validate(), "IDs", signaling.ErrInvalidID},
		{"bad root id", node.RootConfig{IDs: []string{"ok", "a..b"}}.Validate(), "IDs", signaling.ErrInvalidID},
		{"negative room timeout", node.RootConfig{RoomTimeout: -1}.Validate(), "RoomTimeout", nil},
		{"negative clients", node.RootConfig{MaxClients: -1}.Validate(), "MaxClients", nil},
		{"viewer without parent", node.ViewerConfig{}.Validate(), "Parent", node.ErrRequired},
	}
	for _, tc := range cases {
		var fe *node.FieldError
		if !errors.As(tc.err, &fe) {
			t.Errorf("%s: %v, want a *node.FieldError", tc.name, tc.err)
			continue
		}
		if fe.Field != tc.field {
			t.Errorf("%s: field %q, want %q (%v)", tc.name, fe.Field, tc.field, tc.err)
		}
		if tc.is != nil && !errors.Is(tc.err, tc.is) {
			t.Errorf("%s: %v is not %v", tc.name, tc.err, tc.is)
		}
	}
}

// TestStartRefusesInvalidConfig: the entry points validate before
// anything connects (the zero Server would not be reachable).
func TestStartRefusesInvalidConfig(t *testing.T) {
	ctx := context.Background()
	var fe *node.FieldError
	if _, err := node.StartJoin(ctx, node.JoinConfig{Parent: "a..b"}); !errors.As(err, &fe) {
		t.Errorf("StartJoin: %v", err)
	}
	if _, err := node.StartHost(ctx, node.HostConfig{ChildLimits: node.ChildLimits{MaxChildren: -1}}); !errors.As(err, &fe) {
		t.Errorf("StartHost: %v", err)
	}
	if err := node.RunRoot(ctx, node.RootConfig{MaxClients: -1}); !errors.As(err, &fe) {
		t.Errorf("RunRoot: %v", err)
	}
	if _, err := node.StartViewer(ctx, node.ViewerConfig{}); !errors.As(err, &fe) {
		t.Errorf("StartViewer: %v", err)
	}
}

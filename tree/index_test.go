package tree

import (
	"reflect"
	"testing"
	"time"
)

func hostMap(host, title string) []any {
	return []any{int64(1), int64(1), []any{host}, int64(0), title, "", nil, host, host,
		[]any{int64(1), int64(1), int64(0), []any{}, host, host, []any{}}, "P2P-Live-Web-Default-ID", false}
}

func TestIndex(t *testing.T) {
	x := NewIndex(IndexConfig{RoomTimeout: 3 * time.Second})
	now := t0
	// An index client and a host connect: both get the (empty) list.
	for _, peer := range []string{"viewer", "H1"} {
		out := x.Opened(ConnID(peer), peer, now)
		if !reflect.DeepEqual(sends(out), map[ConnID]any{ConnID(peer): []any{}}) {
			t.Fatalf("open %s: %v", peer, out)
		}
	}
	// The host registers: the list goes to every non-host connection.
	out := x.Receive("H1", hostMap("H1", "one"), now)
	if got := sends(out); len(got) != 1 || !reflect.DeepEqual(got["viewer"], []any{hostMap("H1", "one")}) {
		t.Fatalf("after registration: %v", got)
	}
	// Updates replace the room in place.
	x.Opened("H2", "H2", now)
	x.Receive("H2", hostMap("H2", "two"), now)
	out = x.Receive("H1", hostMap("H1", "one, renamed"), now)
	if got := sends(out)["viewer"].([]any); len(got) != 2 || str(got[0].([]any), 4) != "one, renamed" {
		t.Fatalf("update: %v", got)
	}
	// Nobody registers a room for someone else, or sends anything else.
	for _, tc := range []struct {
		msg  any
		want Reason
	}{
		{hostMap("H2", "hijack"), RejectNotHost},
		{[]any{int64(0), "viewer", "v", "hi", nil, ""}, RejectUnexpected},
		{[]any{int64(1), int64(0), int64(0), []any{}, "viewer", "v", []any{}}, RejectUnexpected},
		{"junk", RejectMalformed},
	} {
		out := x.Receive("viewer", tc.msg, now)
		if rs := rejects(out); !reflect.DeepEqual(rs, []Reason{tc.want}) || len(sends(out)) != 0 {
			t.Fatalf("%v: %v", tc.msg, out)
		}
	}
	// A host whose connection closes loses its room at once.
	out = x.Closed("H1")
	if got := sends(out)["viewer"].([]any); len(got) != 1 || RoomMap(got[0].([]any)).HostID() != "H2" {
		t.Fatalf("after H1 closed: %v", got)
	}
	// A host that is unreachable past the timeout loses it on a tick; a
	// quiet but reachable one keeps it.
	x.LinkState("H2", false, now)
	if out := x.Tick(now.Add(2 * time.Second)); len(out) != 0 {
		t.Fatalf("dropped too early: %v", out)
	}
	x.LinkState("H2", true, now.Add(2*time.Second))
	if out := x.Tick(now.Add(time.Hour)); len(out) != 0 {
		t.Fatalf("dropped a reachable host: %v", out)
	}
	x.LinkState("H2", false, now.Add(time.Hour))
	out = x.Tick(now.Add(time.Hour + 3*time.Second))
	if got := sends(out)["viewer"]; !reflect.DeepEqual(got, []any{}) {
		t.Fatalf("after timeout: %v", out)
	}
	if st := x.Stats(); st.Rejected[RejectNotHost] != 1 || st.Rejected[RejectUnexpected] != 2 || st.Rejected[RejectMalformed] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestIndexRateLimit(t *testing.T) {
	x := NewIndex(IndexConfig{RateLimit: 1, RateBurst: 2})
	x.Opened("H", "H", t0)
	var rate int
	for range 10 {
		for _, r := range rejects(x.Receive("H", hostMap("H", "t"), t0)) {
			if r == RejectRate {
				rate++
			}
		}
	}
	if rate != 8 {
		t.Fatalf("rate rejections %d, want 8", rate)
	}
}

package tree

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// captures are real messages of the original pages (generations A and C),
// recorded in Chromium; see testdata/README.md.
type captures struct {
	IDs      map[string]map[string]string `json:"ids"`
	Messages []struct {
		Gen  string `json:"gen"`
		Seq  int    `json:"seq"`
		Step string `json:"step"`
		From string `json:"from"`
		To   string `json:"to"`
		Desc string `json:"desc"`
		Hex  string `json:"hex"`
	} `json:"messages"`
}

func loadCaptures(t testing.TB) captures {
	t.Helper()
	b, err := os.ReadFile("testdata/captures.json")
	if err != nil {
		t.Fatal(err)
	}
	var c captures
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func decodeHex(t testing.TB, h string) any {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	v, err := binarypack.Unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// deliberate lists where our relay answers differently from page A, by
// generation and the sequence number of page A's message, with what we send
// instead (nil: we send nothing there).
//   - "not live" ([4] or [4, 0] from the parent): the pages pass a bare [4]
//     down, which C children read as "new stream, ask again" (an endless
//     loop while the host is not live); we send [4, 0], which A/B and C
//     children all read as "not live".
//   - C's "new stream" [4, hostId]: the page tells its children [4, ownId] so
//     they ask again; we ask upstream ourselves and re-feed the children.
var deliberate = map[string]map[int]func(ids map[string]string) []any{
	"C": {
		40: func(map[string]string) []any { return []any{int64(4), int64(0)} },
		44: func(map[string]string) []any { return []any{int64(4), int64(0)} },
		46: func(map[string]string) []any { return nil },
	},
	"A": {
		40: func(map[string]string) []any { return []any{int64(4), int64(0)} },
	},
}

// TestReplayCaptures stands our relay where page A stood (child of the host,
// parent of B) and feeds it everything page A received; each message page A
// sent must come out of our relay, byte for byte, apart from the deliberate
// differences above.
func TestReplayCaptures(t *testing.T) {
	caps := loadCaptures(t)
	for _, gen := range []string{"C", "A"} {
		t.Run(gen, func(t *testing.T) {
			ids := caps.IDs[gen]
			style := GreetAB
			if gen == "C" {
				style = GreetC
			}
			r := NewRelay(RelayConfig{Self: ids["A"], Name: "Alice", Greeting: style})
			conn := map[string]ConnID{"host": "host/dc", "B": "B/dc"}
			now := t0
			var pending []sent // our sends not yet matched against page A's
			take := func(out []Output) {
				pending = append(pending, sentOf(out)...)
			}
			parentOpen, bOpen := false, false
			matched := 0
			for _, m := range caps.Messages {
				if m.Gen != gen {
					continue
				}
				// Page A itself leaves in generation A's last steps.
				if gen == "A" && m.Step == "close A (B orphaned, auto-rejoin)" {
					break
				}
				if gen == "C" && m.Step == "close B" && bOpen {
					take(r.Closed(conn["B"]))
					bOpen = false
				}
				now = now.Add(10 * time.Second) // past every dedupe window and retry delay
				v := decodeHex(t, m.Hex)
				if !bOpen && (m.From == "B" && m.To == "A" || m.From == "A" && m.To == "B") {
					take(r.Opened(conn["B"], ids["B"], now)) // the greeting is matched like any send
					bOpen = true
				}
				switch {
				case m.To == "A" && (m.From == "host" || m.From == "B"):
					if m.From == "host" && !parentOpen {
						take(r.ParentOpened(conn["host"], ids["host"], now))
						parentOpen = true
					}
					take(r.Receive(conn[m.From], v, now))
				case m.From == "A" && (m.To == "host" || m.To == "B"):
					if m.To == "host" && !parentOpen {
						take(r.ParentOpened(conn["host"], ids["host"], now))
						parentOpen = true
					}
					if m.Desc == "chat (with image and avatar)" {
						continue // authored by page A, not relayed
					}
					want := v
					if d, ok := deliberate[gen][m.Seq]; ok {
						w := d(ids)
						if w == nil {
							continue
						}
						want = w
					}
					i := 0
					for i < len(pending) && !(pending[i].To == conn[m.To] && reflect.DeepEqual(pending[i].Msg, want)) {
						i++
					}
					if i == len(pending) {
						t.Fatalf("seq %d (%s, %s → %s): page A sent %s; we have pending %v", m.Seq, m.Desc, m.From, m.To, describeJSON(v), pendingString(pending))
					}
					pending = append(pending[:i], pending[i+1:]...)
					matched++
				}
			}
			// Whatever we sent on top of page A is only the deliberate [4, ownId]
			// upstream on C's new-stream notice.
			for _, s := range pending {
				if !(gen == "C" && s.To == conn["host"] && reflect.DeepEqual(s.Msg, []any{int64(4), ids["A"]})) {
					t.Errorf("we sent %s to %s that page A did not", describeJSON(s.Msg), s.To)
				}
			}
			if st := r.Stats(); len(st.Rejected) != 0 {
				t.Errorf("rejected real messages: %v", st.Rejected)
			}
			t.Logf("generation %s: %d messages of page A reproduced", gen, matched)
		})
	}
}

// TestCaptureShapes: every captured message decodes and is classified as
// the pages mean it.
func TestCaptureShapes(t *testing.T) {
	caps := loadCaptures(t)
	for _, m := range caps.Messages {
		v := decodeHex(t, m.Hex)
		typ, ok := Type(v)
		a, _ := v.([]any)
		switch {
		case m.From == "root":
			if ok && typ != 1 {
				t.Errorf("%s %d: room list %v", m.Gen, m.Seq, describeJSON(v))
			}
			for _, room := range a {
				rm, _ := room.([]any)
				if RoomMap(rm).HostID() != caps.IDs[m.Gen]["host"] {
					t.Errorf("%s %d: room of %q", m.Gen, m.Seq, RoomMap(rm).HostID())
				}
			}
		case !ok:
			t.Errorf("%s %d: untyped %v", m.Gen, m.Seq, describeJSON(v))
		case m.Desc == "report":
			if Report(a).ID() != caps.IDs[m.Gen][m.From] && m.From != "B" {
				t.Errorf("%s %d: report [4] %q from %s", m.Gen, m.Seq, Report(a).ID(), m.From)
			}
		case m.Desc == "greeting (room map)":
			if RoomMap(a).Authoritative() && m.From != "host" {
				t.Errorf("%s %d: relay greeting reads as authoritative", m.Gen, m.Seq)
			}
		case m.Desc == "room map":
			if !RoomMap(a).Authoritative() {
				t.Errorf("%s %d: room map reads as provisional", m.Gen, m.Seq)
			}
		}
	}
}

func describeJSON(v any) string {
	s := fmtValue(v)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func pendingString(p []sent) string {
	out := "["
	for _, s := range p {
		out += string(s.To) + ": " + describeJSON(s.Msg) + "; "
	}
	return out + "]"
}

func fmtValue(v any) string {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return "?"
	}
	return string(b)
}

func jsonable(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	case binarypack.Map:
		m := map[string]any{}
		for _, e := range x {
			k, _ := e.Key.(string)
			m[k] = jsonable(e.Value)
		}
		return m
	case binarypack.Undefined:
		return "undefined"
	}
	return v
}

// TestReplayIndex stands our index where the index page stood: fed the
// captured registrations, it sends the index client the lists the page sent.
func TestReplayIndex(t *testing.T) {
	caps := loadCaptures(t)
	for _, gen := range []string{"C", "A"} {
		t.Run(gen, func(t *testing.T) {
			ids := caps.IDs[gen]
			x := NewIndex(IndexConfig{})
			now := t0
			var pending []sent
			take := func(out []Output) {
				for _, s := range sentOf(out) {
					if s.To == "index" {
						pending = append(pending, s)
					}
				}
			}
			open := map[string]bool{}
			matched := 0
			for _, m := range caps.Messages {
				if m.Gen != gen {
					continue
				}
				now = now.Add(time.Second)
				v := decodeHex(t, m.Hex)
				switch {
				case m.To == "root" && m.From == "host":
					take(x.Receive("host", v, now))
				case m.From == "root" && m.To == "index":
					if m.Step == "close host" && open["host"] && reflect.DeepEqual(v, []any{}) {
						take(x.Closed("host"))
						open["host"] = false
					}
					if !open["index"] {
						take(x.Opened("index", ids["index"], now))
						open["index"] = true
					}
					if len(pending) == 0 || !reflect.DeepEqual(pending[0].Msg, v) {
						t.Fatalf("seq %d (%s): the root sent %s; we have %s", m.Seq, m.Desc, describeJSON(v), pendingString(pending))
					}
					pending = pending[1:]
					matched++
				case m.From == "root" && m.To == "host":
					x.Opened("host", ids["host"], now)
					open["host"] = true
				}
			}
			if len(pending) != 0 {
				t.Errorf("extra lists: %s", pendingString(pending))
			}
			t.Logf("generation %s: %d lists of the index page reproduced", gen, matched)
		})
	}
}

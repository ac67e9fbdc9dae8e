package testrig_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/p2plive/p2plive-node/internal/testrig"
)

func TestRigMakeString(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 1000} {
		s := testrig.MakeString(n, 7)
		if got := len(utf16.Encode([]rune(s))); got != n {
			t.Errorf("MakeString(%d): %d UTF-16 units", n, got)
		}
	}
	s := testrig.MakeString(5000, 1)
	var ascii, two, three, four int
	for _, r := range s {
		switch n := len(string(r)); n {
		case 1:
			ascii++
		case 2:
			two++
		case 3:
			three++
		case 4:
			four++
		}
	}
	if ascii == 0 || two == 0 || three == 0 || four == 0 {
		t.Errorf("MakeString mixes too little: %d/%d/%d/%d runes of 1/2/3/4 bytes", ascii, two, three, four)
	}
}

func TestRig(t *testing.T) {
	start := time.Now()
	ps := testrig.StartPeerServer(t)
	web := testrig.StartWebServer(t)
	br := testrig.StartBrowser(t)
	t.Logf("netns=%v, started in %v", testrig.InNetns(), time.Since(start))
	if args, err := br.CommandLine(); err == nil {
		t.Logf("chromium command line: %s", strings.Join(args, " "))
	}

	a := br.NewPage(t, web.PageURL("peer.html"))
	b := br.NewPage(t, web.PageURL("peer.html"))
	var idA, idB string
	a.Eval(t, "T.start("+testrig.JSON(ps.ClientOptions())+")", &idA)
	opts := ps.ClientOptions()
	opts["id"] = "rig-b"
	b.Eval(t, "T.start("+testrig.JSON(opts)+")", &idB)
	if idA == "" || idB != "rig-b" {
		t.Fatalf("ids: %q %q", idA, idB)
	}
	t.Logf("peers open after %v", time.Since(start))

	t.Run("generator", func(t *testing.T) {
		for _, c := range [][2]int{{0, 0}, {1, 3}, {2, 4}, {4097, 5}, {100000, -1}, {1 << 20, 123456789}} {
			var got testrig.Digest
			a.Eval(t, fmt.Sprintf("T.digest(%d, %d)", c[0], c[1]), &got)
			if want := testrig.DigestOf(testrig.MakeString(c[0], c[1])); got != want {
				t.Errorf("makeString(%d, %d): page %+v, Go %+v", c[0], c[1], got, want)
			}
		}
	})

	msg := []any{0, "id", "name", "héllo 👋", nil, nil}
	for _, ser := range []string{"binary", "json", "raw"} {
		t.Run(ser, func(t *testing.T) {
			t0 := time.Now()
			var ka, kb string
			a.Eval(t, "T.connect("+testrig.JSON(idB)+", "+testrig.JSON(map[string]any{
				"serialization": ser, "reliable": true, "label": "lbl-" + ser, "metadata": map[string]any{"s": ser},
			})+")", &ka)
			b.Eval(t, "T.waitIncoming(15000)", &kb)
			var info map[string]any
			b.Eval(t, "T.info("+testrig.JSON(kb)+")", &info)
			if info["serialization"] != ser || info["peer"] != idA || info["label"] != "lbl-"+ser || info["open"] != true {
				t.Errorf("incoming info: %v", info)
			}

			// raw hands the value to RTCDataChannel.send, which takes
			// strings and buffers only (an array would arrive as
			// "0,id,name,…"): send the message as JSON text.
			var toSend any = msg
			if ser == "raw" {
				j, _ := json.Marshal(msg)
				toSend = string(j)
			}
			var sendErr *string
			a.Eval(t, "T.send("+testrig.JSON(ka)+", "+testrig.JSON(toSend)+")", &sendErr)
			if sendErr != nil {
				t.Fatalf("send: %s", *sendErr)
			}
			var got []any
			b.Eval(t, "T.waitReceived("+testrig.JSON(kb)+", 1, 10000)", &got)
			want := []any{toSend}
			if ser != "raw" {
				want = []any{[]any{0.0, "id", "name", "héllo 👋", nil, nil}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("received %#v, want %#v", got, want)
			}

			// And back, with binary data where the serialization keeps it.
			back := []any{1, testrig.Bin([]byte{0, 1, 2, 255})}
			if ser == "json" {
				back = []any{1, "no binary in json"}
			}
			if ser == "raw" {
				back = nil
			}
			if back != nil {
				b.Eval(t, "T.send("+testrig.JSON(kb)+", "+testrig.JSON(back)+")", &sendErr)
				if sendErr != nil {
					t.Fatalf("send back: %s", *sendErr)
				}
				var gotBack []any
				a.Eval(t, "T.waitReceived("+testrig.JSON(ka)+", 1, 10000)", &gotBack)
				if j, k := testrig.JSON(gotBack), testrig.JSON([]any{back}); j != k {
					t.Fatalf("received back %s, want %s", j, k)
				}
			} else {
				b.Eval(t, "T.send("+testrig.JSON(kb)+", "+testrig.JSON(testrig.Bin([]byte("raw\x00bytes")))+")", &sendErr)
				var gotBack []any
				a.Eval(t, "T.waitReceived("+testrig.JSON(ka)+", 1, 10000)", &gotBack)
				if j, k := testrig.JSON(gotBack), testrig.JSON([]any{testrig.Bin([]byte("raw\x00bytes"))}); j != k {
					t.Fatalf("received back %s, want %s", j, k)
				}
			}

			if ser == "binary" {
				const n, seed = 1_500_000, 42
				t1 := time.Now()
				a.Eval(t, fmt.Sprintf("T.sendBigString(%s, %d, %d)", testrig.JSON(ka), n, seed), &sendErr)
				if sendErr != nil {
					t.Fatalf("sendBigString: %s", *sendErr)
				}
				var all []json.RawMessage
				b.Eval(t, "T.waitReceived("+testrig.JSON(kb)+", 2, 15000)", &all)
				var big testrig.BigString
				if err := json.Unmarshal(all[1], &big); err != nil {
					t.Fatalf("big string: %s: %v", all[1], err)
				}
				if want := testrig.DigestOf(testrig.MakeString(n, seed)); big.BigString != want {
					t.Fatalf("big string: got %+v, want %+v", big.BigString, want)
				}
				t.Logf("1.5M-unit string (%d UTF-8 bytes) in %v", len(testrig.MakeString(n, seed)), time.Since(t1))
			}

			a.Eval(t, "T.close("+testrig.JSON(ka)+")", nil)
			deadline := time.Now().Add(10 * time.Second)
			for {
				var closed bool
				b.Eval(t, "T.closed("+testrig.JSON(kb)+")", &closed)
				if closed {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("B did not see the close")
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("%s done in %v", ser, time.Since(t0))
		})
	}

	var errs []string
	a.Eval(t, "T.errors", &errs)
	if len(errs) > 0 {
		t.Logf("page A errors: %q", errs)
	}

	t.Run("errors", func(t *testing.T) {
		// A second server with a short expire_timeout, so that an offer to
		// a missing peer comes back quickly as peer-unavailable.
		ps2 := testrig.StartPeerServerWith(t, testrig.PeerServerConfig{ExpireTimeout: time.Second})
		c := br.NewPage(t, web.PageURL("peer.html"))
		var idC string
		c.Eval(t, "T.start("+testrig.JSON(ps2.ClientOptions())+")", &idC)
		err := c.EvalErr(`T.connect("nobody-here")`, nil)
		if err == nil || !strings.Contains(err.Error(), "peer-unavailable") {
			t.Errorf("connect to a missing peer: %v", err)
		}
		if err := c.EvalErr(`T.info("c999")`, nil); err == nil || !strings.Contains(err.Error(), "unknown connection key") {
			t.Errorf("unknown key: %v", err)
		}
		opts := ps2.ClientOptions()
		opts["id"] = idC
		d := br.NewPage(t, web.PageURL("peer.html"))
		if err := d.EvalErr("T.start("+testrig.JSON(opts)+")", nil); err == nil || !strings.Contains(err.Error(), "unavailable-id") {
			t.Errorf("taken id: %v", err)
		}
		var errs []string
		c.Eval(t, "T.errors", &errs)
		t.Logf("page C errors: %q", errs)
	})

	t.Run("restart", func(t *testing.T) {
		get := func() error {
			c := &http.Client{Timeout: 2 * time.Second}
			resp, err := c.Get(ps.IDURL())
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
		port := ps.Port
		ps.Kill()
		if err := get(); err == nil {
			t.Fatalf("GET /id answered after Kill")
		}
		t0 := time.Now()
		ps.Restart(t)
		if ps.Port != port {
			t.Fatalf("port changed: %d -> %d", port, ps.Port)
		}
		if err := get(); err != nil {
			t.Fatalf("GET /id after Restart: %v", err)
		}
		t.Logf("restart took %v", time.Since(t0))
	})
	t.Logf("total %v", time.Since(start))
}

package serial

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// goldenCase is one case of testdata/golden.json; gen-golden.mjs documents
// the fields.
type goldenCase struct {
	Name          string            `json:"name"`
	Kind          string            `json:"kind"`
	Serialization string            `json:"serialization"`
	Values        []json.RawMessage `json:"values"`
	Frames        []goldenFrame     `json:"frames"`
	Errors        []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"errors"`
	Go []struct {
		Value   json.RawMessage `json:"value"`
		Pending bool            `json:"pending"`
		Err     string          `json:"err"`
	} `json:"go"`
	Note string `json:"note"`
}

type goldenFrame struct {
	Text bool   `json:"text"`
	Hex  string `json:"hex"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		PeerJS string       `json:"peerjs"`
		Cases  []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.PeerJS != "1.5.4" {
		t.Fatalf("golden vectors from PeerJS %s", f.PeerJS)
	}
	return f.Cases
}

var runRe = regexp.MustCompile(`\(([0-9a-f]{2})\*(\d+)\)`)

func goldenBytes(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for s != "" {
		loc := runRe.FindStringSubmatchIndex(s)
		lit := s
		if loc != nil {
			lit = s[:loc[0]]
		}
		b, err := hex.DecodeString(lit)
		if err != nil {
			t.Fatalf("hex %q: %v", lit, err)
		}
		out = append(out, b...)
		if loc == nil {
			break
		}
		v, _ := strconv.ParseUint(s[loc[2]:loc[3]], 16, 8)
		n, _ := strconv.Atoi(s[loc[4]:loc[5]])
		out = append(out, bytes.Repeat([]byte{byte(v)}, n)...)
		s = s[loc[1]:]
	}
	return out
}

func (f goldenFrame) frame(t testing.TB) Frame {
	return Frame{Data: goldenBytes(t, f.Hex), Text: f.Text}
}

func goldenValue(t testing.TB, raw json.RawMessage) any {
	t.Helper()
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	v, err := fromTag(generic)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

func fromTag(t any) (any, error) {
	if t == "CLOSE" {
		return CloseRequest{}, nil
	}
	switch x := t.(type) {
	case nil, bool:
		return x, nil
	case map[string]any:
		for k, v := range x {
			switch k {
			case "close":
				return CloseRequest{}, nil
			case "undef":
				return binarypack.Undefined{}, nil
			case "int":
				return strconv.ParseInt(v.(string), 10, 64)
			case "float":
				u, err := strconv.ParseUint(v.(string), 16, 64)
				return math.Float64frombits(u), err
			case "str":
				return v.(string), nil
			case "strRep":
				a := v.([]any)
				return strings.Repeat(a[0].(string), int(a[1].(float64))), nil
			case "strCat":
				var sb strings.Builder
				for _, p := range v.([]any) {
					s, err := fromTag(p)
					if err != nil {
						return nil, err
					}
					sb.WriteString(s.(string))
				}
				return sb.String(), nil
			case "bin":
				b, err := base64.StdEncoding.DecodeString(v.(string))
				if b == nil {
					b = []byte{}
				}
				return b, err
			case "arr":
				out := []any{}
				for _, it := range v.([]any) {
					e, err := fromTag(it)
					if err != nil {
						return nil, err
					}
					out = append(out, e)
				}
				return out, nil
			case "map":
				out := binarypack.Map{}
				for _, p := range v.([]any) {
					kv := p.([]any)
					key, err := fromTag(kv[0])
					if err != nil {
						return nil, err
					}
					val, err := fromTag(kv[1])
					if err != nil {
						return nil, err
					}
					out = append(out, binarypack.Entry{Key: key, Value: val})
				}
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("unknown tag %v", t)
}

var errByName = map[string]error{
	"malformed":       ErrMalformed,
	"message-too-big": ErrMessageTooBig,
}

func TestGoldenEncode(t *testing.T) {
	for _, c := range loadGolden(t) {
		if c.Kind != "encode" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			codec, err := New(c.Serialization, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if codec.Name() != c.Serialization {
				t.Fatalf("Name = %q", codec.Name())
			}
			wantErr := map[int]string{}
			for _, e := range c.Errors {
				wantErr[e.Index] = e.Error
			}
			var got []Frame
			for i, raw := range c.Values {
				v := goldenValue(t, raw)
				var frames []Frame
				var err error
				if _, ok := v.(CloseRequest); ok {
					frames, err = codec.EncodeClose()
				} else {
					frames, err = codec.Encode(v)
				}
				if name, ok := wantErr[i]; ok {
					if !errors.Is(err, errByName[name]) {
						t.Fatalf("value %d: err = %v, want %s", i, err, name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("value %d: %v", i, err)
				}
				got = append(got, frames...)
			}
			if len(got) != len(c.Frames) {
				t.Fatalf("%d frames, want %d", len(got), len(c.Frames))
			}
			for i, gf := range c.Frames {
				want := gf.frame(t)
				if got[i].Text != want.Text || !bytes.Equal(got[i].Data, want.Data) {
					t.Fatalf("frame %d = text %v %.200x, want text %v %.200x", i, got[i].Text, got[i].Data, want.Text, want.Data)
				}
			}
		})
	}
}

func TestGoldenDecode(t *testing.T) {
	for _, c := range loadGolden(t) {
		if c.Kind != "decode" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			codec, err := New(c.Serialization, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Go) != len(c.Frames) {
				t.Fatalf("case has %d expectations for %d frames", len(c.Go), len(c.Frames))
			}
			for i, gf := range c.Frames {
				v, ok, err := codec.Decode(gf.frame(t))
				want := c.Go[i]
				switch {
				case want.Err != "":
					if !errors.Is(err, errByName[want.Err]) || ok {
						t.Fatalf("frame %d: %v, %v, %v; want %s", i, v, ok, err, want.Err)
					}
				case want.Pending:
					if err != nil || ok {
						t.Fatalf("frame %d: %v, %v, %v; want pending", i, v, ok, err)
					}
				default:
					if err != nil || !ok {
						t.Fatalf("frame %d: ok %v, err %v", i, ok, err)
					}
					w := goldenValue(t, want.Value)
					if !sameValue(v, w) {
						t.Fatalf("frame %d: %.300#v, want %.300#v", i, v, w)
					}
				}
			}
		})
	}
}

// sameValue is reflect.DeepEqual except that NaN equals NaN.
func sameValue(a, b any) bool {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok && math.IsNaN(x) && math.IsNaN(y) {
			return true
		}
	}
	return reflect.DeepEqual(a, b)
}

package binarypack

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// goldenCase is one vector of testdata/golden.json; gen-golden.mjs documents
// the fields.
type goldenCase struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Value     json.RawMessage `json:"value"`
	Hex       string          `json:"hex"`
	Decoded   json.RawMessage `json:"decoded"`
	GoHex     string          `json:"goHex"`
	GoSkip    bool            `json:"goSkip"`
	PackError string          `json:"packError"`
	Note      string          `json:"note"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Package string       `json:"package"`
		Cases   []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Package != "peerjs-js-binarypack@2.1.0" {
		t.Fatalf("golden vectors from %s", f.Package)
	}
	return f.Cases
}

var runRe = regexp.MustCompile(`\(([0-9a-f]{2})\*(\d+)\)`)

// goldenBytes expands the generator's hex, where "(hh*n)" is n copies of hh.
func goldenBytes(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.Join(strings.Fields(s), "")
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

// goldenValue rebuilds the Go value a tagged description stands for.
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
	switch x := t.(type) {
	case nil, bool:
		return x, nil
	case map[string]any:
		for k, v := range x {
			switch k {
			case "undef":
				return Undefined{}, nil
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
			case "bin":
				b, err := base64.StdEncoding.DecodeString(v.(string))
				if b == nil {
					b = []byte{}
				}
				return b, err
			case "binRep":
				a := v.([]any)
				return bytes.Repeat([]byte{byte(a[0].(float64))}, int(a[1].(float64))), nil
			case "arr":
				items := v.([]any)
				out := make([]any, len(items))
				for i, it := range items {
					e, err := fromTag(it)
					if err != nil {
						return nil, err
					}
					out[i] = e
				}
				return out, nil
			case "arrRep":
				a := v.([]any)
				e, err := fromTag(a[0])
				if err != nil {
					return nil, err
				}
				out := make([]any, int(a[1].(float64)))
				for i := range out {
					out[i] = e
				}
				return out, nil
			case "map":
				pairs := v.([]any)
				out := make(Map, len(pairs))
				for i, p := range pairs {
					kv := p.([]any)
					key, err := fromTag(kv[0])
					if err != nil {
						return nil, err
					}
					val, err := fromTag(kv[1])
					if err != nil {
						return nil, err
					}
					out[i] = Entry{key, val}
				}
				return out, nil
			case "mapSeq":
				n := int(v.(float64))
				out := make(Map, n)
				for i := range out {
					out[i] = Entry{fmt.Sprintf("k%05d", i), int64(i)}
				}
				return out, nil
			}
		}
	}
	return nil, fmt.Errorf("unknown tag %v", t)
}

// packNormal is what a packed value reads back as: Undefined became null.
func packNormal(v any) any {
	switch x := v.(type) {
	case Undefined:
		return nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = packNormal(e)
		}
		return out
	case Map:
		out := make(Map, len(x))
		for i, e := range x {
			out[i] = Entry{packNormal(e.Key), packNormal(e.Value)}
		}
		return out
	case float64:
		// An integral float64 in int64 range goes on the wire as an integer.
		if x == math.Floor(x) && x >= -two63 && x < two63 {
			return int64(x)
		}
	}
	return v
}

func TestGolden(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			value := goldenValue(t, c.Value)
			if c.Hex != "" {
				want := value
				if c.Kind == "pack" {
					want = packNormal(value)
				}
				if c.Decoded != nil {
					want = goldenValue(t, c.Decoded)
				}
				got, err := Unpack(goldenBytes(t, c.Hex))
				if err != nil {
					t.Fatalf("Unpack: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Unpack = %s, want %s", short(got), short(want))
				}
			}
			if c.Kind != "pack" || c.GoSkip {
				return
			}
			wantHex := c.Hex
			if c.GoHex != "" {
				wantHex = c.GoHex
			}
			want := goldenBytes(t, wantHex)
			got, err := Pack(value)
			if err != nil {
				t.Fatalf("Pack: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Pack = %s, want %s (%s)", shortHex(got), shortHex(want), c.Note)
			}
			back, err := Unpack(got)
			if err != nil {
				t.Fatal(err)
			}
			if !sameValue(value, back) {
				t.Fatalf("Go round trip = %s, want %s", short(back), short(packNormal(value)))
			}
		})
	}
}

func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func shortHex(b []byte) string {
	s := hex.EncodeToString(b)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

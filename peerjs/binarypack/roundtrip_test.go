package binarypack

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// sameValue reports whether b is what packing a and unpacking again should
// give: Undefined becomes nil, an integral float64 becomes an int64, and
// floats below the smallest normal double only stay "tiny", because the JS
// float reader (which Unpack mirrors) has no subnormals.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case Undefined:
		return b == nil
	case float64:
		if x == math.Floor(x) && x >= -two63 && x < two63 {
			return b == int64(x)
		}
		if math.Abs(x) < 0x1p-1022 {
			y, ok := b.(float64)
			return ok && math.Abs(y) < 0x1p-1022
		}
		return b == x
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case Map:
		y, ok := b.(Map)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i].Key, y[i].Key) || !sameValue(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestRoundTripGo(t *testing.T) {
	deep := any([]any{})
	for range MaxDepth - 1 {
		deep = []any{deep}
	}
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"int", 42, int64(42)},
		{"int8", int8(-100), int64(-100)},
		{"int16", int16(-30000), int64(-30000)},
		{"int32", int32(-2e9), int64(-2e9)},
		{"uint", uint(7), int64(7)},
		{"uint8", uint8(200), int64(200)},
		{"uint16", uint16(60000), int64(60000)},
		{"uint32", uint32(4e9), int64(4e9)},
		{"uint64 small", uint64(5), int64(5)},
		{"uint64 big", uint64(math.MaxUint64), 18446744073709551616.0},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64)},
		{"int64 max", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"float32 1.5", float32(1.5), 1.5},
		{"float32 integral", float32(3), int64(3)},
		{"float64 -0", math.Copysign(0, -1), int64(0)},
		{"float64 big integral", 1e300, 1e300},
		{"float64 -2^63", -two63, int64(math.MinInt64)},
		{"float64 below -2^63", -two64, -two64},
		{"string", "héllo 👋", "héllo 👋"},
		{"invalid utf-8 kept", "\xff\xfe", "\xff\xfe"},
		{"bytes", []byte{1, 2, 3}, []byte{1, 2, 3}},
		{"nil bytes", []byte(nil), []byte{}},
		{"[]string", []string{"a", "b"}, []any{"a", "b"}},
		{"[]int", []int{1, -1, 300}, []any{int64(1), int64(-1), int64(300)}},
		{"map[string]any sorted", map[string]any{"b": 1, "a": true, "c": nil},
			Map{{"a", true}, {"b", int64(1)}, {"c", nil}}},
		{"Map order kept", Map{{"z", 1}, {"a", 2}}, Map{{"z", int64(1)}, {"a", int64(2)}}},
		{"Map non-string key", Map{{int64(7), "x"}}, Map{{int64(7), "x"}}},
		{"undefined", Undefined{}, nil},
		{"nested max depth", deep, deep},
		{"big string", strings.Repeat("ab", 40000), strings.Repeat("ab", 40000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Pack(tt.in)
			if err != nil {
				t.Fatalf("Pack: %v", err)
			}
			got, err := Unpack(b)
			if err != nil {
				t.Fatalf("Unpack(%x): %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestPackErrors(t *testing.T) {
	self := []any{nil}
	self[0] = self
	tooDeep := any([]any{})
	for range MaxDepth {
		tooDeep = []any{tooDeep}
	}
	tests := []struct {
		name string
		in   any
		want error
	}{
		{"NaN", math.NaN(), ErrInvalidNumber},
		{"+Inf", math.Inf(1), ErrInvalidNumber},
		{"-Inf in array", []any{1, math.Inf(-1)}, ErrInvalidNumber},
		{"float32 Inf", float32(math.Inf(1)), ErrInvalidNumber},
		{"NaN in map", map[string]any{"x": math.NaN()}, ErrInvalidNumber},
		{"channel", make(chan int), ErrUnsupportedType},
		{"struct", struct{}{}, ErrUnsupportedType},
		{"[]float64", []float64{1}, ErrUnsupportedType},
		{"self-containing slice", self, ErrTooDeep},
		{"too deep", tooDeep, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{0xaa}
			got, err := AppendPack(dst, tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(got, []byte{0xaa}) {
				t.Fatalf("dst after error = %x, want aa", got)
			}
		})
	}
}

func TestUnpackErrors(t *testing.T) {
	// MaxDepth containers nest fine; one more is too deep.
	deep := append(bytes.Repeat([]byte{0x91}, MaxDepth), 0x90)
	okDeep := append(bytes.Repeat([]byte{0x91}, MaxDepth-1), 0x90)
	if _, err := Unpack(okDeep); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"fixarray missing items", []byte{0x93, 0x01}, ErrTruncated},
		{"fixmap missing value", []byte{0x81, 0x01}, ErrTruncated},
		{"fixstr short", []byte{0xb3, 'a'}, ErrTruncated},
		{"fixbin short", []byte{0xa2, 1}, ErrTruncated},
		{"uint16 short", []byte{0xcd, 1}, ErrTruncated},
		{"uint32 short", []byte{0xce, 1, 2, 3}, ErrTruncated},
		{"uint64 short", []byte{0xcf, 1}, ErrTruncated},
		{"int64 short", []byte{0xd3}, ErrTruncated},
		{"float32 short", []byte{0xca, 0, 0}, ErrTruncated},
		{"float64 short", []byte{0xcb, 0}, ErrTruncated},
		{"uint8 missing", []byte{0xcc}, ErrTruncated},
		{"str16 header short", []byte{0xd8, 0}, ErrTruncated},
		{"str32 huge", []byte{0xd9, 0xff, 0xff, 0xff, 0xff}, ErrTruncated},
		{"bin32 huge", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 0}, ErrTruncated},
		{"array32 huge", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0, 0}, ErrTruncated},
		{"array16 count > bytes", []byte{0xdc, 0x00, 0x03, 0, 0}, ErrTruncated},
		{"map32 huge", []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0, 0}, ErrTruncated},
		{"map16 count*2 > bytes", []byte{0xde, 0x00, 0x02, 0, 0, 0}, ErrTruncated},
		{"too deep", deep, ErrTooDeep},
		{"too deep maps", bytes.Repeat([]byte{0x81, 0x00}, MaxDepth+1), ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Unpack(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unpack(%x) = %#v, %v; want %v", tt.in, v, err, tt.want)
			}
		})
	}
}

// A declared length the input cannot hold must fail before allocating.
func TestUnpackHugeCountDoesNotAllocate(t *testing.T) {
	in := []byte{0xdd, 0x7f, 0xff, 0xff, 0xff, 0x00}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Unpack(in); err == nil {
			t.Fatal("no error")
		}
	})
	// Only the error values themselves.
	if allocs > 6 {
		t.Fatalf("%v allocations for a rejected 2^31-item array", allocs)
	}
}

func TestUnpackDoesNotAlias(t *testing.T) {
	in := []byte{0xa2, 1, 2}
	v, err := Unpack(in)
	if err != nil {
		t.Fatal(err)
	}
	in[1] = 9
	if got := v.([]byte); got[0] != 1 {
		t.Fatalf("result aliases input: %v", got)
	}
}

// Every one of the 256 first bytes decodes to something (given enough
// following bytes), as in JS.
func TestEveryTagDecodes(t *testing.T) {
	for tag := range 256 {
		in := append([]byte{byte(tag)}, make([]byte, 64)...)
		if _, err := Unpack(in); err != nil {
			t.Errorf("tag %#02x: %v", tag, err)
		}
	}
}

func TestMapGetLastWins(t *testing.T) {
	m := Map{{"a", 1}, {int64(5), 2}, {"a", 3}}
	if v, ok := m.Get("a"); !ok || v != 3 {
		t.Fatalf("Get(a) = %v, %v", v, ok)
	}
	if _, ok := m.Get("5"); ok {
		t.Fatal("Get matched a non-string key")
	}
	if _, ok := Map(nil).Get("a"); ok {
		t.Fatal("Get on nil map")
	}
}

func TestAppendPackNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	var msg any = []any{int64(0), "3f1c2a4e-8b7d-4c1e-9f2a-5b6c7d8e9f00", "name", "héllo 👋", nil, nil}
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if _, err = AppendPack(buf[:0], msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendPack allocated %v times", allocs)
	}
}

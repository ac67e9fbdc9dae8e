package serial

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// jsonCodec is PeerJS's "json" serialization: JSON.stringify, UTF-8, sent
// as a binary frame; JSON.parse on the way in.
type jsonCodec struct{ opts Options }

func (*jsonCodec) Name() string { return "json" }

// Encode writes v as JSON.stringify would. Messages of ChunkMTU bytes or
// more are refused, as PeerJS refuses them ("Message too big for JSON
// channel"): the JSON serialization never chunks.
func (*jsonCodec) Encode(v any) ([]Frame, error) {
	if _, ok := v.(binarypack.Undefined); ok {
		// JSON.stringify(undefined) is not a string; PeerJS would send an
		// empty frame that no receiver can parse.
		return nil, fmt.Errorf("json serialization of undefined: %w", ErrUnsupportedType)
	}
	b, err := appendJSON(nil, v, 0)
	if err != nil {
		return nil, fmt.Errorf("json serialization: %w", err)
	}
	if len(b) >= ChunkMTU {
		return nil, fmt.Errorf("message too big for JSON channel (%d bytes, limit %d): %w", len(b), ChunkMTU-1, ErrMessageTooBig)
	}
	return []Frame{{Data: b}}, nil
}

func (c *jsonCodec) EncodeClose() ([]Frame, error) { return c.Encode(closeMessage()) }

// appendJSON follows JSON.stringify: Map keys in order, map[string]any keys
// sorted, undefined array items as null and undefined object members
// omitted, NaN and ±Inf as null, numbers in JS's Number#toString form.
func appendJSON(b []byte, v any, depth int) ([]byte, error) {
	if depth > binarypack.MaxDepth {
		return b, fmt.Errorf("nesting deeper than %d: %w", binarypack.MaxDepth, binarypack.ErrTooDeep)
	}
	var err error
	switch x := v.(type) {
	case nil, binarypack.Undefined:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		// Exact digits, even beyond 2^53 where JS would print its double;
		// JS readers round to the same double either way.
		return strconv.AppendInt(b, x, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float32:
		return appendJSNumber(b, float64(x)), nil
	case float64:
		return appendJSNumber(b, x), nil
	case string:
		return appendJSString(b, x), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	case []string:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSString(b, e)
		}
		return append(b, ']'), nil
	case []int:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(e), 10)
		}
		return append(b, ']'), nil
	case binarypack.Map:
		b = append(b, '{')
		first := true
		for _, e := range x {
			k, ok := e.Key.(string)
			if !ok {
				return b, fmt.Errorf("object key of type %T: %w", e.Key, ErrUnsupportedType)
			}
			if _, undef := e.Value.(binarypack.Undefined); undef {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSString(b, k)
			b = append(b, ':')
			if b, err = appendJSON(b, e.Value, depth+1); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		m := make(binarypack.Map, len(keys))
		for i, k := range keys {
			m[i] = binarypack.Entry{Key: k, Value: x[k]}
		}
		return appendJSON(b, m, depth)
	}
	return b, fmt.Errorf("%T: %w", v, ErrUnsupportedType)
}

// appendJSNumber writes f as ECMAScript Number::toString does (shortest
// round-trip digits; plain notation for exponents in [-7, 21), exponent
// form "1.5e+21" otherwise). JSON.stringify writes NaN and ±Inf as null.
func appendJSNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == 0 {
		return append(b, '0') // -0 too
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // d[.ddd]e±xx
	mant, exp := e, 0
	for i, c := range e {
		if c == 'e' {
			mant = e[:i]
			exp, _ = strconv.Atoi(string(e[i+1:]))
			break
		}
	}
	var digits [24]byte
	k := 0
	for _, c := range mant {
		if c != '.' {
			digits[k] = c
			k++
		}
	}
	d := digits[:k]
	n := exp + 1 // the decimal point sits after n digits
	switch {
	case k <= n && n <= 21:
		b = append(b, d...)
		for range n - k {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, d[:n]...)
		b = append(b, '.')
		b = append(b, d[n:]...)
	case -6 < n && n <= 0:
		b = append(b, "0."...)
		for range -n {
			b = append(b, '0')
		}
		b = append(b, d...)
	default:
		b = append(b, d[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, d[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

// appendJSString quotes s as JSON.stringify does: only '"', '\\' and
// control characters are escaped (short forms where JSON has them, else
// \u00xx in lower case); everything else, '<', '&', U+2028 included, is
// written as is. Bytes that are not UTF-8 become U+FFFD, as a browser's
// TextEncoder does for unpaired surrogates.
func appendJSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
		i++
	}
	return append(b, '"')
}

package binarypack

import (
	"fmt"
	"math"
	"sort"
)

// Pack returns the BinaryPack encoding of v. See the package documentation
// for the accepted types.
func Pack(v any) ([]byte, error) {
	return AppendPack(nil, v)
}

// AppendPack appends the encoding of v to dst and returns the extended
// slice. It allocates only when dst lacks capacity (and, for map[string]any,
// to sort the keys). On error it returns dst with its original length.
func AppendPack(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNil), nil
	case Undefined:
		return append(b, tagNil), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int8:
		return appendInt(b, int64(x)), nil
	case int16:
		return appendInt(b, int64(x)), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case uint:
		return appendUint(b, uint64(x)), nil
	case uint8:
		return appendUint(b, uint64(x)), nil
	case uint16:
		return appendUint(b, uint64(x)), nil
	case uint32:
		return appendUint(b, uint64(x)), nil
	case uint64:
		return appendUint(b, x), nil
	case float32:
		return appendFloat(b, float64(x))
	case float64:
		return appendFloat(b, x)
	case string:
		b, err := appendHeader(b, len(x), tagFixStr, tagStr16, tagStr32, "string")
		if err != nil {
			return b, err
		}
		return append(b, x...), nil
	case []byte:
		b, err := appendHeader(b, len(x), tagFixBin, tagBin16, tagBin32, "binary")
		if err != nil {
			return b, err
		}
		return append(b, x...), nil
	}
	// Containers: depth-limited, so a slice that contains itself fails
	// instead of overflowing the stack.
	if depth >= MaxDepth {
		return b, fmt.Errorf("packing %T at depth %d: %w", v, depth, ErrTooDeep)
	}
	var err error
	switch x := v.(type) {
	case []any:
		if b, err = appendHeader(b, len(x), tagFixArray, tagArray16, tagArray32, "array"); err != nil {
			return b, err
		}
		for _, e := range x {
			if b, err = appendValue(b, e, depth+1); err != nil {
				// Not wrapped per level, so error text stays short however
				// deep the value.
				return b, err
			}
		}
		return b, nil
	case []string:
		if b, err = appendHeader(b, len(x), tagFixArray, tagArray16, tagArray32, "array"); err != nil {
			return b, err
		}
		for _, e := range x {
			if b, err = appendValue(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case []int:
		if b, err = appendHeader(b, len(x), tagFixArray, tagArray16, tagArray32, "array"); err != nil {
			return b, err
		}
		for _, e := range x {
			b = appendInt(b, int64(e))
		}
		return b, nil
	case Map:
		if b, err = appendHeader(b, len(x), tagFixMap, tagMap16, tagMap32, "map"); err != nil {
			return b, err
		}
		for _, e := range x {
			if b, err = appendValue(b, e.Key, depth+1); err != nil {
				return b, err
			}
			if b, err = appendValue(b, e.Value, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if b, err = appendHeader(b, len(x), tagFixMap, tagMap16, tagMap32, "map"); err != nil {
			return b, err
		}
		for _, k := range keys {
			b = appendStringRaw(b, k)
			if b, err = appendValue(b, x[k], depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return b, fmt.Errorf("packing %T: %w", v, ErrUnsupportedType)
}

func appendStringRaw(b []byte, s string) []byte {
	b, _ = appendHeader(b, len(s), tagFixStr, tagStr16, tagStr32, "string")
	return append(b, s...)
}

// appendHeader writes the tag and length of a string, binary, array or map,
// choosing the fix form up to 15, then 16-bit, then 32-bit, as JS does.
func appendHeader(b []byte, n int, fix, t16, t32 byte, what string) ([]byte, error) {
	switch {
	case n <= fixMax:
		return append(b, fix|byte(n)), nil
	case n <= math.MaxUint16:
		return append(b, t16, byte(n>>8), byte(n)), nil
	case uint64(n) <= math.MaxUint32:
		return append(b, t32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)), nil
	}
	return b, fmt.Errorf("%s of length %d exceeds 32-bit length: %w", what, n, ErrUnsupportedType)
}

// appendInt writes i in the smallest form, trying the forms in the JS
// packer's order: fixint, uint8, int8, uint16, int16, uint32, int32, int64.
func appendInt(b []byte, i int64) []byte {
	switch {
	case i >= -32 && i <= 127:
		return append(b, byte(i))
	case i >= 0 && i <= math.MaxUint8:
		return append(b, tagUint8, byte(i))
	case i >= math.MinInt8 && i <= math.MaxInt8:
		return append(b, tagInt8, byte(i))
	case i >= 0 && i <= math.MaxUint16:
		return append(b, tagUint16, byte(i>>8), byte(i))
	case i >= math.MinInt16 && i <= math.MaxInt16:
		return append(b, tagInt16, byte(i>>8), byte(i))
	case i >= 0 && i <= math.MaxUint32:
		return append(b, tagUint32, byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		return append(b, tagInt32, byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
	}
	return append64(append(b, tagInt64), uint64(i))
}

// appendUint is appendInt for unsigned values; only values above MaxInt64
// take the uint64 form, which JS tries last.
func appendUint(b []byte, u uint64) []byte {
	if u <= math.MaxInt64 {
		return appendInt(b, int64(u))
	}
	return append64(append(b, tagUint64), u)
}

func append64(b []byte, u uint64) []byte {
	return append(b, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

const (
	two63 = 9223372036854775808.0  // 2^63
	two64 = 18446744073709551616.0 // 2^64
)

// appendFloat follows JS: an integral number (Math.floor(v) === v) is an
// integer on the wire, anything else a float64. -0 is integral and packs as
// 0x00, as in JS.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("packing %v: %w", f, ErrInvalidNumber)
	}
	if f == math.Floor(f) {
		switch {
		case f >= -two63 && f < two63:
			return appendInt(b, int64(f)), nil
		case f >= 0 && f < two64:
			return appendUint(b, uint64(f)), nil
		}
		// JS throws "Invalid integer" here (or writes 0 for exactly 2^64);
		// a float64 is what a JS reader decodes correctly.
	}
	return append64(append(b, tagFloat64), math.Float64bits(f)), nil
}

package binarypack

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Unpack decodes the first BinaryPack value in b. Bytes after that value
// are ignored, as the JS unpacker ignores them.
//
// Unpack never panics and never allocates more than the input can justify:
// every declared length is checked against the remaining input (an array
// item or map entry needs at least one byte each) before anything is
// allocated. The result never aliases b.
func Unpack(b []byte) (any, error) {
	d := decoder{b: b}
	return d.value(0)
}

type decoder struct {
	b []byte
	i int // read position
}

func (d *decoder) remaining() int { return len(d.b) - d.i }

func (d *decoder) take(n int, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, fmt.Errorf("%s: need %d bytes at offset %d, have %d: %w",
			what, n, d.i, d.remaining(), ErrTruncated)
	}
	p := d.b[d.i : d.i+n]
	d.i += n
	return p, nil
}

func (d *decoder) u8(what string) (byte, error) {
	p, err := d.take(1, what)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (d *decoder) u16(what string) (int, error) {
	p, err := d.take(2, what)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint16(p)), nil
}

func (d *decoder) u32(what string) (uint32, error) {
	p, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(p), nil
}

func (d *decoder) u64(what string) (uint64, error) {
	p, err := d.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(p), nil
}

func (d *decoder) value(depth int) (any, error) {
	t, err := d.u8("type byte")
	if err != nil {
		return nil, err
	}
	switch {
	case t < 0x80:
		return int64(t), nil
	case t >= tagNegFix:
		return int64(int8(t)), nil
	case t < tagFixArray:
		return d.mapOf(int(t&fixMax), depth)
	case t < tagFixBin:
		return d.arrayOf(int(t&fixMax), depth)
	case t < tagFixStr:
		return d.binOf(int(t & fixMax))
	case t < tagNil:
		return d.strOf(int(t & fixMax))
	}
	switch t {
	case tagNil:
		return nil, nil
	case tagFalse:
		return false, nil
	case tagTrue:
		return true, nil
	case tagFloat32:
		u, err := d.u32("float32")
		if err != nil {
			return nil, err
		}
		return jsFloat32(u), nil
	case tagFloat64:
		u, err := d.u64("float64")
		if err != nil {
			return nil, err
		}
		return jsFloat64(u), nil
	case tagUint8:
		u, err := d.u8("uint8")
		return int64(u), err
	case tagUint16:
		u, err := d.u16("uint16")
		return int64(u), err
	case tagUint32:
		u, err := d.u32("uint32")
		return int64(u), err
	case tagUint64:
		u, err := d.u64("uint64")
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return jsUint64(u), nil
		}
		return int64(u), nil
	case tagInt8:
		u, err := d.u8("int8")
		return int64(int8(u)), err
	case tagInt16:
		u, err := d.u16("int16")
		return int64(int16(u)), err
	case tagInt32:
		u, err := d.u32("int32")
		return int64(int32(u)), err
	case tagInt64:
		u, err := d.u64("int64")
		return int64(u), err
	case tagStr16, tagBin16, tagArray16, tagMap16:
		n, err := d.u16("length")
		if err != nil {
			return nil, err
		}
		return d.sized(t, n, depth)
	case tagStr32, tagBin32, tagArray32, tagMap32:
		n, err := d.u32("length")
		if err != nil {
			return nil, err
		}
		if uint64(n) > uint64(d.remaining()) {
			// Also keeps the int conversion below safe on 32-bit platforms.
			return nil, fmt.Errorf("declared length %d at offset %d, %d bytes left: %w",
				n, d.i, d.remaining(), ErrTruncated)
		}
		return d.sized(t, int(n), depth)
	}
	// 0xc1, 0xd4-0xd7 are undefined explicitly in JS; 0xc4-0xc9 fall out of
	// its switch and so are undefined too.
	return Undefined{}, nil
}

func (d *decoder) sized(t byte, n int, depth int) (any, error) {
	switch t {
	case tagStr16, tagStr32:
		return d.strOf(n)
	case tagBin16, tagBin32:
		return d.binOf(n)
	case tagArray16, tagArray32:
		return d.arrayOf(n, depth)
	}
	return d.mapOf(n, depth)
}

func (d *decoder) strOf(n int) (any, error) {
	p, err := d.take(n, "string")
	if err != nil {
		return nil, err
	}
	return string(p), nil
}

func (d *decoder) binOf(n int) (any, error) {
	p, err := d.take(n, "binary")
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	copy(out, p)
	return out, nil
}

// maxPrealloc is how many elements of a declared length are allocated
// before they arrive (1 KiB of interface values; at MaxDepth levels, 512 KiB).
const maxPrealloc = 64

func (d *decoder) arrayOf(n int, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, fmt.Errorf("array at offset %d: %w", d.i, ErrTooDeep)
	}
	if n > d.remaining() {
		return nil, fmt.Errorf("array of %d items at offset %d, %d bytes left: %w",
			n, d.i, d.remaining(), ErrTruncated)
	}
	// The declared length is the sender's claim: nested arrays that each
	// claim every remaining byte would cost 16 bytes per input byte per
	// level if allocated up front. Only a bounded head is; the rest grows
	// as elements really arrive.
	out := make([]any, 0, min(n, maxPrealloc))
	for range n {
		v, err := d.value(depth + 1)
		if err != nil {
			// Not wrapped per level: that would make error text grow
			// quadratically with nesting depth.
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *decoder) mapOf(n int, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, fmt.Errorf("map at offset %d: %w", d.i, ErrTooDeep)
	}
	if n > d.remaining()/2 {
		return nil, fmt.Errorf("map of %d entries at offset %d, %d bytes left: %w",
			n, d.i, d.remaining(), ErrTruncated)
	}
	out := make(Map, 0, min(n, maxPrealloc/2)) // as in arrayOf
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{k, v})
	}
	return out, nil
}

// pow2 is JS's 2 ** k for the exponents the float readers use: exact, and 0
// below the smallest subnormal (2 ** -1075 is a tie that rounds to 0).
func pow2(k int) float64 {
	if k < -1074 {
		return 0
	}
	return math.Ldexp(1, k)
}

// jsFloat32 reads a float32 the way the JS unpacker does: always with the
// implicit leading 1, so exponent 0 is not subnormal and the all-ones
// exponent is just 2^128 times the fraction (finite in a double).
func jsFloat32(u uint32) float64 {
	exp := int(u>>23&0xff) - 127
	frac := float64(u&0x7fffff | 0x800000)
	v := frac * pow2(exp-23) // exact: 24-bit mantissa, exponent in double range
	if u>>31 != 0 {
		return -v
	}
	return v
}

// jsFloat64 reads a float64 the way the JS unpacker does:
// sign * (hfrac*2^(exp-20) + l32*2^(exp-52)) in double arithmetic. For
// normal numbers that is the IEEE value; exponent 0 gets an implicit 1, and
// the all-ones exponent overflows to ±Inf (so NaN never comes out).
func jsFloat64(u uint64) float64 {
	h32 := uint32(u >> 32)
	l32 := uint32(u)
	exp := int(h32>>20&0x7ff) - 1023
	hfrac := float64(h32&0xfffff | 0x100000)
	// The explicit conversions keep the compiler from fusing these into an
	// FMA, which would round differently than JS on some architectures.
	hi := float64(hfrac * pow2(exp-20))
	lo := float64(float64(l32) * pow2(exp-52))
	v := hi + lo
	if h32>>31 != 0 {
		return -v
	}
	return v
}

// jsUint64 is the JS unpacker's uint64: ((b0*256 + b1)*256 + ...)*256 + b7,
// rounded to a double at every step. Used only above MaxInt64, where the
// value model is float64 anyway.
func jsUint64(u uint64) float64 {
	var v float64
	for s := 56; s >= 0; s -= 8 {
		v = float64(v*256) + float64(byte(u>>s))
	}
	return v
}

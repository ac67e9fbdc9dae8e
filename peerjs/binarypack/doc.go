// Package binarypack implements BinaryPack as spoken by PeerJS: the
// encoding of npm peerjs-js-binarypack 2.1.0, which PeerJS 1.5.4 uses for
// its default ("binary") data channel serialization.
//
// BinaryPack looks like an early MessagePack draft but is not MessagePack:
// strings use 0xd8/0xd9, binary uses 0xa0-0xaf/0xda/0xdb, and several tags
// that MessagePack later assigned decode to undefined here. The tag table is
// documented next to the tag constants in tags.go.
//
// # Value model
//
// Unpack returns, and Pack accepts, these Go types:
//
//	nil        <- 0xc0
//	Undefined  <- 0xc1, 0xc4-0xc9, 0xd4-0xd7 (Pack writes 0xc0, as JS does for undefined)
//	bool       <- 0xc2, 0xc3
//	int64      <- every integer tag; a uint64 above MaxInt64 decodes to float64
//	float64    <- 0xca, 0xcb
//	string     <- string tags (bytes kept as is, never re-validated)
//	[]byte     <- binary tags (a copy, never aliasing the input)
//	[]any      <- arrays
//	Map        <- maps, entries in wire order
//
// Pack additionally accepts the other Go integer kinds, float32, []string,
// []int and map[string]any (written with sorted keys so output is
// deterministic).
//
// # Fidelity to JavaScript
//
// Encoding follows the JS packer byte for byte for every value the JS packer
// handles correctly: a number that is integral is written as the smallest
// integer form in the JS order (fixint, uint8, int8, uint16, int16, uint32,
// int32, int64, uint64) and every other number as a float64 (0xcb).
// Where the JS packer is broken this package writes the correct bytes
// instead, and says so:
//
//   - JS packs 2^63 as int64 0x8000000000000000 (which reads back as -2^63)
//     and 2^64 as uint64 0; Pack writes uint64 2^63 and float64 2^64.
//   - JS throws "Invalid integer" for integral numbers outside the 64-bit
//     range (1e300 is integral); Pack writes them as float64.
//   - JS's hand-made pack_double mangles subnormal numbers and writes NaN as
//     float64 bits 0; Pack writes IEEE-754 bits and refuses NaN and ±Inf
//     with ErrInvalidNumber.
//
// Decoding mirrors the JS unpacker's arithmetic for floats (its float32 and
// float64 readers ignore the special meaning of exponent 0 and of the
// all-ones exponent, so 0xcb 00.. reads as 2^-1023 and NaN bits read as
// Infinity), so a Go node sees the same number a browser would. Integers are
// kept exact where JS would round (JS reads int64/uint64 through doubles;
// for example int64 -2147483649 reads as -2147483648 in a browser). Unpack
// also reports truncated input as ErrTruncated, where JS would silently read
// missing single bytes as 0.
package binarypack

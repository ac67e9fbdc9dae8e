package testrig

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"unicode/utf16"
)

// Tagged values cross CDP between Go and the test page (testdata/web/peer.js):
// plain JSON, plus {"$bin": base64} for binary data, {"$undef": true} for
// undefined, and, for received strings longer than 4096 UTF-16 units,
// {"$bigstring": {"len", "sha256"}}.

// Bin tags bytes as binary data (an ArrayBuffer / Uint8Array in the page).
func Bin(b []byte) map[string]any {
	return map[string]any{"$bin": base64.StdEncoding.EncodeToString(b)}
}

// Undefined is the tagged JavaScript undefined.
var Undefined = map[string]any{"$undef": true}

// Digest is what the page reports instead of a long string.
type Digest struct {
	Len    int    `json:"len"`    // length in UTF-16 code units
	SHA256 string `json:"sha256"` // hex SHA-256 of the UTF-8 bytes
}

// BigString is the tagged form of a long received string.
type BigString struct {
	BigString Digest `json:"$bigstring"`
}

// DigestOf returns the Digest of s as the page computes it.
func DigestOf(s string) Digest {
	sum := sha256.Sum256([]byte(s))
	return Digest{Len: len(utf16.Encode([]rune(s))), SHA256: hex.EncodeToString(sum[:])}
}

var (
	makeAccents = []rune("éèàçüößñÅØ")
	makeWide    = []rune("€中日語✓")
	makeEmoji   = []rune("👋😀🎉🚀")
)

// MakeString returns the same string as makeString(n, seed) of the test
// page: exactly n UTF-16 code units, mixing ASCII (1 UTF-8 byte), accented
// letters (2 bytes), BMP symbols and CJK (3 bytes) and emoji (4 bytes, a
// surrogate pair). The generator, seeded with seed mod 2^32:
//
//	state = state*1664525 + 1013904223 (mod 2^32); r = state >> 24
//	r < 150: rune 0x20 + r%95
//	r < 200: "éèàçüößñÅØ"[r%10]
//	r < 230: "€中日語✓"[r%5]
//	else:    "👋😀🎉🚀"[r%4], or 'x' when only one unit is left
func MakeString(n, seed int) string {
	state := uint32(seed)
	out := make([]rune, 0, n)
	for units := 0; units < n; {
		state = state*1664525 + 1013904223
		r := state >> 24
		var c rune
		switch {
		case r < 150:
			c = rune(0x20 + r%95)
		case r < 200:
			c = makeAccents[r%10]
		case r < 230:
			c = makeWide[r%5]
		case n-units >= 2:
			c = makeEmoji[r%4]
		default:
			c = 'x'
		}
		out = append(out, c)
		units += utf16.RuneLen(c)
	}
	return string(out)
}

package binarypack

// MaxDepth is how deeply arrays and maps may nest, in Pack and in Unpack.
// It bounds recursion (and so stack use) on hostile input.
const MaxDepth = 512

// The BinaryPack wire format (all multi-byte numbers big-endian):
//
//	first byte   meaning                          payload
//	0x00-0x7f    positive fixint 0..127           -
//	0x80-0x8f    map of 0..15 entries             key, value, key, value...
//	0x90-0x9f    array of 0..15 items             items
//	0xa0-0xaf    binary of 0..15 bytes            bytes
//	0xb0-0xbf    string of 0..15 UTF-8 bytes      bytes
//	0xc0         null (JS undefined packs here)   -
//	0xc1         undefined (decode only)          -
//	0xc2 / 0xc3  false / true                     -
//	0xc4-0xc9    unlisted: undefined (decode)     -
//	0xca / 0xcb  float32 / float64                4 / 8 bytes IEEE-754
//	0xcc-0xcf    uint8 / uint16 / uint32 / uint64 1 / 2 / 4 / 8 bytes
//	0xd0-0xd3    int8 / int16 / int32 / int64     1 / 2 / 4 / 8 bytes
//	0xd4-0xd7    undefined (decode only)          -
//	0xd8 / 0xd9  string, 16- / 32-bit length      length, bytes
//	0xda / 0xdb  binary, 16- / 32-bit length      length, bytes
//	0xdc / 0xdd  array, 16- / 32-bit count        count, items
//	0xde / 0xdf  map, 16- / 32-bit count          count, entries
//	0xe0-0xff    negative fixint -32..-1          -
//
// Every one of the 256 first bytes decodes to something; there is no
// "invalid tag" in BinaryPack.
const (
	tagFixMap   = 0x80
	tagFixArray = 0x90
	tagFixBin   = 0xa0
	tagFixStr   = 0xb0
	tagNil      = 0xc0
	tagUndef    = 0xc1
	tagFalse    = 0xc2
	tagTrue     = 0xc3
	tagFloat32  = 0xca
	tagFloat64  = 0xcb
	tagUint8    = 0xcc
	tagUint16   = 0xcd
	tagUint32   = 0xce
	tagUint64   = 0xcf
	tagInt8     = 0xd0
	tagInt16    = 0xd1
	tagInt32    = 0xd2
	tagInt64    = 0xd3
	tagStr16    = 0xd8
	tagStr32    = 0xd9
	tagBin16    = 0xda
	tagBin32    = 0xdb
	tagArray16  = 0xdc
	tagArray32  = 0xdd
	tagMap16    = 0xde
	tagMap32    = 0xdf
	tagNegFix   = 0xe0

	fixMax = 0x0f // largest length a fix* tag can carry
)

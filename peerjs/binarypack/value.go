package binarypack

// Undefined is JavaScript's undefined. The JS unpacker produces it for 0xc1
// and for the tags it does not list (0xc4-0xc9, 0xd4-0xd7); the JS packer
// writes undefined as null (0xc0), and so does Pack.
type Undefined struct{}

// Entry is one key/value pair of a Map. Keys are usually strings, but the
// wire allows any value as a key, and Unpack keeps whatever was sent.
type Entry struct{ Key, Value any }

// Map is a BinaryPack map with its entries in wire order. A JS object is an
// ordered map too, so keeping the order lets a message be re-encoded with the
// same bytes a browser would produce.
type Map []Entry

// Get returns the value of the last entry whose key is the string key.
// The last one wins because that is what a JS object built from the same
// wire bytes would hold for a duplicated key.
func (m Map) Get(key string) (any, bool) {
	for i := len(m) - 1; i >= 0; i-- {
		if k, ok := m[i].Key.(string); ok && k == key {
			return m[i].Value, true
		}
	}
	return nil, false
}

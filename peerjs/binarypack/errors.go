package binarypack

import "errors"

// Errors returned (wrapped, with context) by Pack and Unpack. Test with
// errors.Is.
var (
	// ErrTruncated means the input ended inside a value, or declared more
	// elements or bytes than the remaining input can hold.
	ErrTruncated = errors.New("binarypack: truncated input")
	// ErrTooDeep means arrays and maps nest deeper than MaxDepth.
	ErrTooDeep = errors.New("binarypack: nesting too deep")
	// ErrUnsupportedType means Pack was given a Go type outside the value
	// model, or a value too long for a 32-bit length.
	ErrUnsupportedType = errors.New("binarypack: unsupported type")
	// ErrInvalidNumber means Pack was given NaN or ±Inf, which the JS packer
	// cannot represent (it throws for ±Inf and silently corrupts NaN).
	ErrInvalidNumber = errors.New("binarypack: invalid number")
)

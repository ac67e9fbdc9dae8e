package clip

import "errors"

var (
	// ErrInvalidClip means the files are not a playable clip: not IVF or
	// Ogg at all, truncated, corrupt, empty, not starting with a keyframe,
	// with invisible frames, or with more than one Opus packet per Ogg page.
	ErrInvalidClip = errors.New("clip: invalid clip")
	// ErrUnsupportedCodec means the IVF file is not VP8 or the Ogg file is
	// not mono or stereo Opus.
	ErrUnsupportedCodec = errors.New("clip: unsupported codec")
)

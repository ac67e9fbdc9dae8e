package peerjs

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// Describe renders a received value as compact JSON-like text for logs, at
// most limit bytes (chat images are megabytes of data URL). Maps keep wire
// order; binary shows as base64; undefined as `undefined`.
func Describe(v any, limit int) string {
	var b strings.Builder
	describe(&b, v, limit, 0)
	s := b.String()
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return s
}

func describe(b *strings.Builder, v any, limit, depth int) {
	if b.Len() > limit || depth > 32 {
		b.WriteString("…")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case binarypack.Undefined:
		b.WriteString("undefined")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		if len(x) > limit {
			x = x[:limit]
		}
		b.WriteString(strconv.Quote(x))
	case []byte:
		if len(x) > limit {
			x = x[:limit]
		}
		b.WriteString("bin:" + base64.StdEncoding.EncodeToString(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			describe(b, e, limit, depth+1)
			if b.Len() > limit {
				break
			}
		}
		b.WriteByte(']')
	case binarypack.Map:
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			describe(b, e.Key, limit, depth+1)
			b.WriteByte(':')
			describe(b, e.Value, limit, depth+1)
			if b.Len() > limit {
				break
			}
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

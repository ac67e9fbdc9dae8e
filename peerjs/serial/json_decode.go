package serial

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

// Decode parses one frame (text or binary) as PeerJS does: TextDecoder
// (which drops a UTF-8 byte order mark) then JSON.parse. Objects become
// binarypack.Map in document order, arrays []any, integer literals that fit
// int64 become int64 and other numbers float64. The polite close becomes
// CloseRequest; any other __peerData is delivered as data, as in PeerJS.
func (c *jsonCodec) Decode(f Frame) (any, bool, error) {
	if err := checkSize(f, c.opts); err != nil {
		return nil, false, err
	}
	data := bytes.TrimPrefix(f.Data, []byte("\xef\xbb\xbf"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseJSON(dec, 0)
	if err != nil {
		return nil, false, fmt.Errorf("json frame: %w: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, fmt.Errorf("json frame: %w: data after the value", ErrMalformed)
	}
	if m, ok := v.(binarypack.Map); ok {
		if pd, ok := m.Get("__peerData"); ok && isClose(pd) {
			return CloseRequest{}, true, nil
		}
	}
	return v, true, nil
}

var errJSONDepth = errors.New("nesting too deep")

func parseJSON(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch x := tok.(type) {
	case nil, bool, string:
		return x, nil
	case json.Number:
		return jsonNumber(string(x)), nil
	case json.Delim:
		if depth >= binarypack.MaxDepth {
			return nil, errJSONDepth
		}
		switch x {
		case '[':
			arr := []any{}
			for dec.More() {
				e, err := parseJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, e)
			}
			_, err := dec.Token() // ']'
			return arr, err
		case '{':
			m := binarypack.Map{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string) // the decoder only yields strings here
				v, err := parseJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m = append(m, binarypack.Entry{Key: k, Value: v})
			}
			_, err := dec.Token() // '}'
			return m, err
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// jsonNumber maps a JSON number literal onto the value model: int64 for an
// integer literal that fits, float64 otherwise (±Inf beyond the double
// range, as JSON.parse gives Infinity).
func jsonNumber(s string) any {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	f, _ := strconv.ParseFloat(s, 64) // syntax already checked by the decoder
	return f
}

package serial

import "fmt"

// rawCodec is PeerJS's "raw" serialization: the value goes to
// RTCDataChannel.send as is, and received data is delivered as is.
type rawCodec struct{ opts Options }

func (*rawCodec) Name() string { return "raw" }

func (*rawCodec) Encode(v any) ([]Frame, error) {
	switch x := v.(type) {
	case string:
		return []Frame{{Data: []byte(x), Text: true}}, nil
	case []byte:
		return []Frame{{Data: append([]byte{}, x...)}}, nil
	}
	return nil, fmt.Errorf("raw serialization sends only string or []byte, not %T: %w", v, ErrUnsupportedType)
}

// EncodeClose fails: PeerJS's Raw.close({flush: true}) hands the object
// {__peerData: {type: "close"}} straight to RTCDataChannel.send, which a
// browser stringifies to "[object Object]"; there is no meaningful raw
// close message, and a raw receiver never looks for one.
func (*rawCodec) EncodeClose() ([]Frame, error) {
	return nil, fmt.Errorf("raw serialization has no close message: %w", ErrUnsupportedType)
}

// Decode returns text frames as string and binary frames as []byte (a
// copy). Raw never decodes a close request.
func (c *rawCodec) Decode(f Frame) (any, bool, error) {
	if err := checkSize(f, c.opts); err != nil {
		return nil, false, err
	}
	if f.Text {
		return string(f.Data), true, nil
	}
	return append([]byte{}, f.Data...), true, nil
}

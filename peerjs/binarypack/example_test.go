package binarypack_test

import (
	"fmt"

	"github.com/p2plive/p2plive-node/peerjs/binarypack"
)

func Example() {
	// A P2P-Live-web chat message: [0, senderID, name, text, null, null].
	b, err := binarypack.Pack([]any{0, "id", "name", "hi", nil, nil})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	v, err := binarypack.Unpack(b)
	if err != nil {
		panic(err)
	}
	msg := v.([]any)
	fmt.Printf("%T %v, %q\n", msg[0], msg[0], msg[3])

	// The polite close PeerJS sends: a map, keys in wire order.
	b, _ = binarypack.Pack(binarypack.Map{{Key: "__peerData", Value: binarypack.Map{{Key: "type", Value: "close"}}}})
	v, _ = binarypack.Unpack(b)
	peerData, _ := v.(binarypack.Map).Get("__peerData")
	typ, _ := peerData.(binarypack.Map).Get("type")
	fmt.Println(typ)
	// Output:
	// 96 00 b2 69 64 b4 6e 61 6d 65 b2 68 69 c0 c0
	// int64 0, "hi"
	// close
}

package binarypack

import "testing"

var chatMessage any = []any{int64(0), "3f1c2a4e-8b7d-4c1e-9f2a-5b6c7d8e9f00", "name", "héllo 👋", nil, nil}

func BenchmarkPackChat(b *testing.B) {
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendPack(buf[:0], chatMessage); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkUnpackChat(b *testing.B) {
	in, err := Pack(chatMessage)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unpack(in); err != nil {
			b.Fatal(err)
		}
	}
}

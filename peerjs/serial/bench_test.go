package serial

import "testing"

var chatMessage any = []any{int64(0), "3f1c2a4e-8b7d-4c1e-9f2a-5b6c7d8e9f00", "name", "héllo 👋", nil, nil}

func benchEncode(b *testing.B, name string) {
	c := mustNew(b, name, Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(chatMessage); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, name string) {
	c := mustNew(b, name, Options{})
	frames, err := c.Encode(chatMessage)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frames[0].Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := c.Decode(frames[0]); !ok || err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeChatBinary(b *testing.B) { benchEncode(b, "binary") }
func BenchmarkDecodeChatBinary(b *testing.B) { benchDecode(b, "binary") }
func BenchmarkEncodeChatJSON(b *testing.B)   { benchEncode(b, "json") }
func BenchmarkDecodeChatJSON(b *testing.B)   { benchDecode(b, "json") }

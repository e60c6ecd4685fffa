package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

// FuzzParsePublicKey: no panic, and what is accepted is 32 bytes that the
// same text, base64 or hex, names.
func FuzzParsePublicKey(f *testing.F) {
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	f.Add(base64.StdEncoding.EncodeToString(pub))
	f.Add(hex.EncodeToString(pub))
	f.Add(base64.RawURLEncoding.EncodeToString(pub))
	f.Add(" " + hex.EncodeToString(pub) + "\n")
	f.Add("")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, text string) {
		k, err := ParsePublicKey(text)
		if err != nil {
			return
		}
		if len(k) != ed25519.PublicKeySize {
			t.Fatalf("%q read as %d bytes", text, len(k))
		}
		again, err := ParsePublicKey(base64.StdEncoding.EncodeToString(k))
		if err != nil || !bytes.Equal(again, k) {
			t.Fatalf("%q: its own base64 reads as %x, %v", text, again, err)
		}
	})
}

// TestReadAllInto reads more than the buffer's capacity: the content comes
// back whole and the outgrown buffer is left cleared.
func TestReadAllInto(t *testing.T) {
	src := bytes.Repeat([]byte("secret!"), 300)
	first := make([]byte, 0, 16)
	got, err := readAllInto(first, bytes.NewReader(src))
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(src))
	}
	if !bytes.Equal(first[:cap(first)], make([]byte, cap(first))) {
		t.Errorf("the outgrown buffer still holds %q", first[:cap(first)])
	}
}

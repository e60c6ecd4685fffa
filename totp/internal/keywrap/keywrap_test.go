package keywrap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The test vectors of RFC 3394 section 4: every KEK size with every key
// data size it can wrap.
var rfc3394 = []struct {
	name, kek, data, wrapped string
}{
	{
		"4.1 128-bit data, 128-bit KEK",
		"000102030405060708090A0B0C0D0E0F",
		"00112233445566778899AABBCCDDEEFF",
		"1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
	},
	{
		"4.2 128-bit data, 192-bit KEK",
		"000102030405060708090A0B0C0D0E0F1011121314151617",
		"00112233445566778899AABBCCDDEEFF",
		"96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D",
	},
	{
		"4.3 128-bit data, 256-bit KEK",
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
		"00112233445566778899AABBCCDDEEFF",
		"64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7",
	},
	{
		"4.4 192-bit data, 192-bit KEK",
		"000102030405060708090A0B0C0D0E0F1011121314151617",
		"00112233445566778899AABBCCDDEEFF0001020304050607",
		"031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2",
	},
	{
		"4.5 192-bit data, 256-bit KEK",
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
		"00112233445566778899AABBCCDDEEFF0001020304050607",
		"A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1",
	},
	{
		"4.6 256-bit data, 256-bit KEK",
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
		"00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
		"28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
	},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRFC3394(t *testing.T) {
	for _, tc := range rfc3394 {
		t.Run(tc.name, func(t *testing.T) {
			kek, data, want := unhex(t, tc.kek), unhex(t, tc.data), unhex(t, tc.wrapped)
			got, err := Wrap(kek, data)
			if err != nil {
				t.Fatalf("Wrap: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Wrap = %X, want %X", got, want)
			}
			back, err := Unwrap(kek, want)
			if err != nil {
				t.Fatalf("Unwrap: %v", err)
			}
			if !bytes.Equal(back, data) {
				t.Fatalf("Unwrap = %X, want %X", back, data)
			}
		})
	}
}

// TestUnwrapMutated changes every byte of every vector's wrapped form, one at
// a time and in a few different ways, and expects each one to be refused.
func TestUnwrapMutated(t *testing.T) {
	for _, tc := range rfc3394 {
		kek, wrapped := unhex(t, tc.kek), unhex(t, tc.wrapped)
		for i := range wrapped {
			for _, mask := range []byte{0x01, 0x80, 0xFF} {
				bad := bytes.Clone(wrapped)
				bad[i] ^= mask
				got, err := Unwrap(kek, bad)
				if !errors.Is(err, ErrIntegrity) {
					t.Errorf("%s: byte %d ^ %#02x: Unwrap error = %v, want ErrIntegrity", tc.name, i, mask, err)
				}
				if got != nil {
					t.Errorf("%s: byte %d ^ %#02x: Unwrap returned data %X with an error", tc.name, i, mask, got)
				}
			}
		}
	}
}

func TestUnwrapWrongKEK(t *testing.T) {
	tc := rfc3394[5]
	kek, wrapped := unhex(t, tc.kek), unhex(t, tc.wrapped)
	for i := range kek {
		bad := bytes.Clone(kek)
		bad[i] ^= 0x01
		if _, err := Unwrap(bad, wrapped); !errors.Is(err, ErrIntegrity) {
			t.Errorf("KEK byte %d flipped: Unwrap error = %v, want ErrIntegrity", i, err)
		}
	}
}

// TestSwappedBlocks checks the property the per-step counter t gives: moving
// whole blocks around is detected even though each block is left intact.
func TestSwappedBlocks(t *testing.T) {
	tc := rfc3394[5]
	kek, wrapped := unhex(t, tc.kek), unhex(t, tc.wrapped)
	bad := bytes.Clone(wrapped)
	copy(bad[8:16], wrapped[16:24])
	copy(bad[16:24], wrapped[8:16])
	if _, err := Unwrap(kek, bad); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Unwrap with blocks 1 and 2 swapped: error = %v, want ErrIntegrity", err)
	}
}

func TestLengths(t *testing.T) {
	kek16 := make([]byte, 16)
	tests := []struct {
		name    string
		fn      func() ([]byte, error)
		wantErr string
	}{
		{"wrap kek 0", func() ([]byte, error) { return Wrap(nil, make([]byte, 16)) }, "key-encryption key is 0 bytes"},
		{"wrap kek 15", func() ([]byte, error) { return Wrap(make([]byte, 15), make([]byte, 16)) }, "key-encryption key is 15 bytes"},
		{"wrap kek 33", func() ([]byte, error) { return Wrap(make([]byte, 33), make([]byte, 16)) }, "key-encryption key is 33 bytes"},
		{"wrap data 0", func() ([]byte, error) { return Wrap(kek16, nil) }, "key data is 0 bytes"},
		{"wrap data 8", func() ([]byte, error) { return Wrap(kek16, make([]byte, 8)) }, "key data is 8 bytes"},
		{"wrap data 17", func() ([]byte, error) { return Wrap(kek16, make([]byte, 17)) }, "key data is 17 bytes"},
		{"unwrap kek 20", func() ([]byte, error) { return Unwrap(make([]byte, 20), make([]byte, 24)) }, "key-encryption key is 20 bytes"},
		{"unwrap data 16", func() ([]byte, error) { return Unwrap(kek16, make([]byte, 16)) }, "wrapped data is 16 bytes"},
		{"unwrap data 25", func() ([]byte, error) { return Unwrap(kek16, make([]byte, 25)) }, "wrapped data is 25 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.fn()
			if err == nil {
				t.Fatalf("got %X, want an error containing %q", got, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "keywrap: ") {
				t.Fatalf("error = %q, want one starting with \"keywrap: \" containing %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrIntegrity) {
				t.Fatalf("a length error must not read as ErrIntegrity: %v", err)
			}
		})
	}
}

func TestRoundTripSizes(t *testing.T) {
	kek := bytes.Repeat([]byte{0x5A}, 32)
	for n := 16; n <= 64; n += 8 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + n)
		}
		w, err := Wrap(kek, data)
		if err != nil {
			t.Fatalf("%d bytes: Wrap: %v", n, err)
		}
		if len(w) != n+BlockSize {
			t.Fatalf("%d bytes: wrapped length %d, want %d", n, len(w), n+BlockSize)
		}
		back, err := Unwrap(kek, w)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("%d bytes: Unwrap = %X, %v; want %X", n, back, err, data)
		}
	}
}

func TestWrapDoesNotAliasInput(t *testing.T) {
	tc := rfc3394[0]
	kek, data := unhex(t, tc.kek), unhex(t, tc.data)
	orig := bytes.Clone(data)
	if _, err := Wrap(kek, data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, orig) {
		t.Fatalf("Wrap changed its input: %X, was %X", data, orig)
	}
	wrapped := unhex(t, tc.wrapped)
	worig := bytes.Clone(wrapped)
	if _, err := Unwrap(kek, wrapped); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wrapped, worig) {
		t.Fatalf("Unwrap changed its input: %X, was %X", wrapped, worig)
	}
}

package hedged

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// rfc8032 are the keys and messages of RFC 8032 section 7.1, TEST 1 to 3
// and TEST SHA(abc), with the deterministic signatures the RFC gives.
var rfc8032 = []struct {
	name                 string
	seed, pub, msg, want string
}{
	{"TEST 1",
		"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		"",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"TEST 2",
		"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		"72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"TEST 3",
		"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		"af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC8032 signs the RFC's messages with the RFC's keys: the public key
// comes out as the RFC's, every signature verifies under crypto/ed25519,
// R differs from the RFC's deterministic R (r is not RFC 8032's), and S
// differs too.
func TestRFC8032(t *testing.T) {
	for _, tc := range rfc8032 {
		t.Run(tc.name, func(t *testing.T) {
			priv := ed25519.NewKeyFromSeed(unhex(t, tc.seed))
			k, err := New(priv)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(k.Public()); got != tc.pub {
				t.Fatalf("public key %s, want %s", got, tc.pub)
			}
			msg := unhex(t, tc.msg)
			want := unhex(t, tc.want)
			if !ed25519.Verify(k.Public(), msg, want) {
				t.Fatal("the RFC's own signature does not verify: bad vector")
			}
			for range 100 {
				var sig [SignatureSize]byte
				if err := k.Sign(rand.Reader, msg, &sig); err != nil {
					t.Fatal(err)
				}
				if !ed25519.Verify(k.Public(), msg, sig[:]) {
					t.Fatalf("signature %x does not verify", sig)
				}
				if bytes.Equal(sig[:32], want[:32]) || bytes.Equal(sig[32:], want[32:]) {
					t.Fatalf("signature %x shares a half with the deterministic one", sig)
				}
			}
		})
	}
}

// TestDistinct signs one P-UTC thousands of times: no two signatures are
// equal, and each verifies.
func TestDistinct(t *testing.T) {
	k, err := New(ed25519.NewKeyFromSeed(unhex(t, rfc8032[0].seed)))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("1767225600")
	const n = 5000
	seen := make(map[[SignatureSize]byte]bool, n)
	for range n {
		var sig [SignatureSize]byte
		if err := k.Sign(rand.Reader, msg, &sig); err != nil {
			t.Fatal(err)
		}
		if seen[sig] {
			t.Fatalf("signature %x given twice", sig)
		}
		seen[sig] = true
		if !ed25519.Verify(k.Public(), msg, sig[:]) {
			t.Fatalf("signature %x does not verify", sig)
		}
	}
}

// TestVector pins the construction: with Z = 00 01 .. 1f, TEST 1's key
// signs "1767225600" into testdata/vector.txt, which testdata/vector.py
// computes with its own arithmetic. Another derivation of r would still
// verify; this catches it.
func TestVector(t *testing.T) {
	k, err := New(ed25519.NewKeyFromSeed(unhex(t, rfc8032[0].seed)))
	if err != nil {
		t.Fatal(err)
	}
	z := make([]byte, randLen)
	for i := range z {
		z[i] = byte(i)
	}
	var sig [SignatureSize]byte
	if err := k.Sign(bytes.NewReader(z), []byte("1767225600"), &sig); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/vector.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sig[:]); got != strings.TrimSpace(string(want)) {
		t.Fatalf("signature %s, want %s", got, want)
	}
	// The same Z gives the same signature; another Z another.
	var again, other [SignatureSize]byte
	k.Sign(bytes.NewReader(z), []byte("1767225600"), &again)
	z[0] ^= 1
	k.Sign(bytes.NewReader(z), []byte("1767225600"), &other)
	if again != sig || other == sig {
		t.Fatalf("Z decides r: same Z %x, other Z %x, first %x", again, other, sig)
	}
}

func TestNewRefuses(t *testing.T) {
	good := ed25519.NewKeyFromSeed(unhex(t, rfc8032[0].seed))
	other := ed25519.NewKeyFromSeed(unhex(t, rfc8032[1].seed))
	mixed := append(append([]byte(nil), good[:32]...), other[32:]...)
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"empty", nil},
		{"seed only", good[:32]},
		{"long", append(append([]byte(nil), good...), 0)},
		{"foreign public half", mixed},
	} {
		if _, err := New(tc.key); !errors.Is(err, ErrKey) {
			t.Errorf("%s: New = %v, want ErrKey", tc.name, err)
		}
	}
}

func TestRandomFails(t *testing.T) {
	k, err := New(ed25519.NewKeyFromSeed(unhex(t, rfc8032[0].seed)))
	if err != nil {
		t.Fatal(err)
	}
	var sig [SignatureSize]byte
	boom := errors.New("boom")
	if err := k.Sign(iotest.ErrReader(boom), []byte("x"), &sig); !errors.Is(err, boom) {
		t.Fatalf("Sign with a failing source = %v, want it wrapped", err)
	}
	if err := k.Sign(bytes.NewReader(make([]byte, 31)), []byte("x"), &sig); err == nil {
		t.Fatal("Sign with 31 random bytes succeeded")
	}
}

// BenchmarkSign compares a hedged signature with crypto/ed25519's
// deterministic one, in one run.
func BenchmarkSign(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	k, err := New(priv)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("1767225600")
	b.Run("hedged", func(b *testing.B) {
		var sig [SignatureSize]byte
		for b.Loop() {
			k.Sign(rand.Reader, msg, &sig)
		}
	})
	b.Run("crypto-ed25519", func(b *testing.B) {
		for b.Loop() {
			ed25519.Sign(priv, msg)
		}
	})
}

package mandate

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfc8032 holds RFC 8032, section 7.1, tests 1 to 3.
var rfc8032 = []struct {
	secret, public, message, signature string
}{
	{
		"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		"",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
	},
	{
		"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		"72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
	},
	{
		"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
		"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
		"af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
	},
}

// TestRFC8032 checks the way Sign and Verify use the standard library: a
// private key built from the RFC's 32-byte secret, the public half taken
// from it, and the signature over the message alone. The RFC's messages are
// not 24 bytes long, so they go through the same calls rather than through
// Token.
func TestRFC8032(t *testing.T) {
	for i, v := range rfc8032 {
		priv := ed25519.NewKeyFromSeed(unhex(t, v.secret))
		pub := priv.Public().(ed25519.PublicKey)
		if hex.EncodeToString(pub) != v.public {
			t.Errorf("test %d: public key %x, want %s", i+1, pub, v.public)
		}
		msg := unhex(t, v.message)
		sig := ed25519.Sign(priv, msg)
		if hex.EncodeToString(sig) != v.signature {
			t.Errorf("test %d: signature %x, want %s", i+1, sig, v.signature)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Errorf("test %d: signature does not verify", i+1)
		}
	}
}

// exampleToken is the token of the package doc.
func exampleToken(t testing.TB) Token {
	var id [IDSize]byte
	for i := range id {
		id[i] = byte(i)
	}
	return Sign(ed25519.NewKeyFromSeed(unhex(t, rfc8032[0].secret)), id)
}

// TestFixedTokens signs fixed auth-ids with the RFC 8032 keys. Ed25519
// signatures are deterministic, so the tokens are too.
func TestFixedTokens(t *testing.T) {
	for _, tc := range []struct {
		key  int
		id   []byte
		want string
	}{
		{0, unhex(t, "000102030405060708090a0b0c0d0e0f1011121314151617"),
			"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a" +
				"bbef8ae7be58ee85ff9cda6bca054b5c42a3bd9e770c82b83040679427e237b9" +
				"2c1f23c6a04725676d386850bd12eff2f8df52095e31757367bf6b6d7f531302" +
				"000102030405060708090a0b0c0d0e0f1011121314151617"},
		{1, bytes.Repeat([]byte{0xff}, IDSize),
			"3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c" +
				"140ce5450dbdb6e87b65f9819e685674bbf17c0c2ee4113f51d195e494c50839" +
				"cfe67200113d9cc7f1e4b9e73c522a4125709735699b3b108d0a9a5f02a62a0f" +
				"ffffffffffffffffffffffffffffffffffffffffffffffff"},
		{2, []byte("powvote mandate test id!"),
			"fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025" +
				"a014332e24b836df7a99cea909b26b72dd980bcd1d5a7d1961af6eac047c35f9" +
				"b4194cd1c613905091bca93f4d8ca5e19ced4c77eedef852d966388d0f528b01" +
				"706f77766f7465206d616e64617465207465737420696421"},
	} {
		priv := ed25519.NewKeyFromSeed(unhex(t, rfc8032[tc.key].secret))
		tok := Sign(priv, [IDSize]byte(tc.id))
		if got := tok.Hex(); got != tc.want {
			t.Errorf("key %d, id %x: token\n%s\nwant\n%s", tc.key+1, tc.id, got, tc.want)
		}
		if hex.EncodeToString(tok.AuthPkey[:]) != rfc8032[tc.key].public {
			t.Errorf("key %d: auth-pkey %x", tc.key+1, tok.AuthPkey)
		}
		if !bytes.Equal(tok.AuthSig[:], ed25519.Sign(priv, tc.id)) {
			t.Errorf("key %d: auth-sig is not the signature of auth-id", tc.key+1)
		}
		if err := tok.Verify(); err != nil {
			t.Errorf("key %d: Verify: %v", tc.key+1, err)
		}
	}
}

// referenceCard is the card of Figure 11 of the design document, issued by
// the public reference deployment, as printed there: labels, tabs and all.
const referenceCard = `1:	Q0C1	E147	7AZR	YM3Q	N
2:	502E	DPKV	YMA6	F7N2	A
3:	29SJ	CG3Q	VDW8	CG2M	R
4:	GRT1	5234	AZCB	5AQP	D
5:	KWCN	GEKZ	HT1J	KRGC	Y
6:	Z1QS	Z1NX	KVXK	NSC8	D
7:	4Z02	3764	53ZN	C8FH	E
8:	7R3K	1PW4	JKZK	ERD4	P
9:	8200	AHPC	7ZB2	YATR	7
10:	KRN5	2S3Y	13NA	7QX8	W
11:	HMQ6	082Z	9MFA	MRPH	R
12:	VA19	166E	46GY	J3C9	H
`

// TestReferenceCard reads the reference deployment's card: the lines and
// their check symbols, the signature and the needle printed beside it must
// all agree with this package.
func TestReferenceCard(t *testing.T) {
	tok, err := ParseCard(referenceCard)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if got, want := tok.Needle(), "EohkV9iyqvafGVg6f46DKe"; got != want {
		t.Errorf("Needle = %q, want %q", got, want)
	}
	lines := tok.Card()
	for i, l := range strings.Split(strings.TrimSpace(referenceCard), "\n") {
		_, printed, _ := strings.Cut(l, ":\t")
		if want := strings.ReplaceAll(printed, "\t", " "); lines[i] != want {
			t.Errorf("Card()[%d] = %q, want %q", i, lines[i], want)
		}
	}
}

func TestIssue(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(unhex(t, rfc8032[1].secret))
	id := bytes.Repeat([]byte{7}, IDSize)
	tok, err := Issue(priv, bytes.NewReader(id))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tok.AuthID[:], id) || tok != Sign(priv, [IDSize]byte(id)) {
		t.Errorf("Issue with id %x = %x", id, tok.Bytes())
	}
	if err := tok.Verify(); err != nil {
		t.Error(err)
	}

	if _, err := Issue(priv, bytes.NewReader(id[:IDSize-1])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Issue with 23 random bytes: %v, want io.ErrUnexpectedEOF", err)
	}
	boom := errors.New("boom")
	if _, err := Issue(priv, iotest.ErrReader(boom)); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "mandate: ") {
		t.Errorf("Issue with failing reader: %v", err)
	}
	if _, err := Issue(priv[:32], bytes.NewReader(id)); err == nil {
		t.Error("Issue with a 32-byte key succeeded")
	}
}

func TestBytes(t *testing.T) {
	tok := exampleToken(t)
	b := tok.Bytes()
	if len(b) != TokenSize {
		t.Fatalf("len(Bytes()) = %d", len(b))
	}
	if !bytes.Equal(b[:32], tok.AuthPkey[:]) || !bytes.Equal(b[32:96], tok.AuthSig[:]) || !bytes.Equal(b[96:], tok.AuthID[:]) {
		t.Fatalf("Bytes() = %x: not pkey || sig || id", b)
	}
	got, err := FromBytes(b)
	if err != nil || got != tok {
		t.Fatalf("FromBytes(Bytes()) = %v, %v", got, err)
	}
	for _, n := range []int{0, 1, 119, 121, 240} {
		if _, err := FromBytes(make([]byte, n)); !errors.Is(err, ErrTokenLength) {
			t.Errorf("FromBytes(%d bytes): %v, want ErrTokenLength", n, err)
		}
	}
}

func TestParseHex(t *testing.T) {
	tok := exampleToken(t)
	h := tok.Hex()
	if h != strings.ToLower(h) || len(h) != 240 {
		t.Fatalf("Hex() = %q", h)
	}
	for _, s := range []string{h, strings.ToUpper(h), "  " + h + "\n", "\t" + h + "\r\n", h[:100] + strings.ToUpper(h[100:])} {
		got, err := ParseHex(s)
		if err != nil || got != tok {
			t.Errorf("ParseHex(%q) = %v, %v", s, got.Hex(), err)
		}
	}
	for _, tc := range []struct {
		s    string
		want error
	}{
		{"", ErrTokenLength},
		{h[:238], ErrTokenLength},
		{h[:239], ErrTokenLength},
		{h + "0", ErrTokenLength},
		{h + "00", ErrTokenLength},
		{h[:120] + " " + h[120:], ErrTokenLength},
		{"0x" + h[2:], ErrHex},
		{h[:239] + "g", ErrHex},
		{h[:10] + "-" + h[11:], ErrHex},
		{h[:10] + "é" + h[12:], ErrHex},
		{strings.Repeat("z", 240), ErrHex},
	} {
		_, err := ParseHex(tc.s)
		if !errors.Is(err, tc.want) {
			t.Errorf("ParseHex(%q): %v, want %v", tc.s, err, tc.want)
		}
		other := ErrHex
		if tc.want == ErrHex {
			other = ErrTokenLength
		}
		if errors.Is(err, other) {
			t.Errorf("ParseHex(%q): %v is also %v", tc.s, err, other)
		}
	}
}

// TestMutations changes each byte of a token in turn and requires that the
// signature no longer verifies: no part of a token is free.
func TestMutations(t *testing.T) {
	tok := exampleToken(t)
	deltas := make([]byte, 0, 255)
	if testing.Short() {
		deltas = append(deltas, 0x01, 0x80, 0xff)
	} else {
		for d := 1; d < 256; d++ {
			deltas = append(deltas, byte(d))
		}
	}
	b := tok.Bytes()
	for i := range b {
		for _, d := range deltas {
			m := bytes.Clone(b)
			m[i] ^= d
			mt, err := FromBytes(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := mt.Verify(); !errors.Is(err, ErrSignature) {
				t.Fatalf("byte %d ^ %#x: Verify = %v, want ErrSignature", i, d, err)
			}
		}
	}
}

func TestNeedleAndCardID(t *testing.T) {
	tok := exampleToken(t)
	if got, want := tok.Needle(), "u++K575Y7oX/nNprygVLXE"; got != want {
		t.Errorf("Needle = %q, want %q", got, want)
	}
	if got, want := tok.CardID(), "000G40R40M30E209185GR38E1W8124GK2GAHC5R"; got != want {
		t.Errorf("CardID = %q, want %q", got, want)
	}
	// The needle depends on auth-sig alone.
	other := tok
	other.AuthID[0] ^= 1
	other.AuthPkey[0] ^= 1
	if other.Needle() != tok.Needle() {
		t.Error("Needle depends on more than auth-sig")
	}
	other.AuthSig[16] ^= 0x80 // bit 128, in the 22nd base64 character
	if other.Needle() == tok.Needle() {
		t.Error("Needle ignores bit 128 of auth-sig")
	}
}

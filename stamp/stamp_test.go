package stamp

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/powvote/powvote/internal/crockford"
)

// The worked example of the package documentation.
var (
	exKey   = []byte("powvote example voter-stamp key!")
	exPUTC  = "1767225600"
	exPSig  = mustB64("Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw==")
	exRand  = mustHex("00112233445566778899aabbccddeeff")
	exVoter = "008J-4CT4-ANK7-F24S-NAXW-SQFE-ZWCA-TH4H"
)

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestWorkedExample(t *testing.T) {
	if got := hex.EncodeToString(exKey); got != "706f77766f7465206578616d706c6520766f7465722d7374616d70206b657921" {
		t.Fatalf("key = %s", got)
	}
	h := hmac.New(sha256.New, exKey)
	h.Write(exRand)
	h.Write([]byte(exPUTC))
	h.Write(exPSig)
	if got := hex.EncodeToString(h.Sum(nil)); got != "18ad449168df04099e18ea746f16c63c20154193a720494cdb3bc0863c7ffab3" {
		t.Fatalf("HMAC = %s", got)
	}
	v, err := NewVoter(exKey, bytes.NewReader(exRand), exPUTC, exPSig)
	if err != nil {
		t.Fatal(err)
	}
	if v != exVoter {
		t.Fatalf("NewVoter = %q, want %q", v, exVoter)
	}
	if err := CheckVoter(exKey, v, exPUTC, exPSig); err != nil {
		t.Fatalf("CheckVoter(worked example) = %v", err)
	}
}

func TestNewVoterRandom(t *testing.T) {
	a, err := NewVoter(exKey, rand.Reader, exPUTC, exPSig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewVoter(exKey, rand.Reader, exPUTC, exPSig)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two stamps are equal: %s", a)
	}
	for _, v := range []string{a, b} {
		if len(v) != VoterLen {
			t.Errorf("%q is %d characters, want %d", v, len(v), VoterLen)
		}
		if err := CheckVoter(exKey, v, exPUTC, exPSig); err != nil {
			t.Errorf("CheckVoter(%q) = %v", v, err)
		}
	}
}

func TestNewVoterErrors(t *testing.T) {
	if _, err := NewVoter(nil, rand.Reader, exPUTC, exPSig); !errors.Is(err, errKey) {
		t.Errorf("empty key: %v, want errKey", err)
	}
	// A short read must not produce a stamp with predictable bytes.
	_, err := NewVoter(exKey, bytes.NewReader(exRand[:15]), exPUTC, exPSig)
	if err == nil || !strings.Contains(err.Error(), "random bytes") {
		t.Errorf("short random read: %v", err)
	}
	if err := CheckVoter(nil, exVoter, exPUTC, exPSig); !errors.Is(err, errKey) {
		t.Errorf("CheckVoter with empty key: %v, want errKey", err)
	}
}

// replace returns s with the byte at i replaced by c.
func replace(s string, i int, c byte) string {
	b := []byte(s)
	b[i] = c
	return string(b)
}

func TestCheckVoterBad(t *testing.T) {
	flipped := bytes.Clone(exPSig)
	flipped[63] ^= 1
	tests := []struct {
		name, voter, putc string
		psig, key         []byte
		want              string // in the error message
	}{
		{"empty", "", exPUTC, exPSig, exKey, "0 characters, want 39"},
		{"one short", exVoter[:38], exPUTC, exPSig, exKey, "38 characters, want 39"},
		{"one long", exVoter + "0", exPUTC, exPSig, exKey, "40 characters, want 39"},
		{"no dashes", strings.ReplaceAll(exVoter, "-", "") + "0000000", exPUTC, exPSig, exKey, `"4" at offset 4, want "-"`},
		{"space for dash", replace(exVoter, 9, ' '), exPUTC, exPSig, exKey, `" " at offset 9, want "-"`},
		{"colon for dash", replace(exVoter, 34, ':'), exPUTC, exPSig, exKey, `":" at offset 34, want "-"`},
		{"dash moved", "008J4-CT4-ANK7-F24S-NAXW-SQFE-ZWCA-TH4H", exPUTC, exPSig, exKey, `"4" at offset 4, want "-"`},
		{"lower case", strings.ToLower(exVoter), exPUTC, exPSig, exKey, `"j" at offset 3 is not an upper-case Crockford symbol`},
		{"O for 0", replace(exVoter, 0, 'O'), exPUTC, exPSig, exKey, `"O" at offset 0 is not`},
		{"I for 1", replace(exVoter, 38, 'I'), exPUTC, exPSig, exKey, `"I" at offset 38 is not`},
		{"L for 1", replace(exVoter, 10, 'L'), exPUTC, exPSig, exKey, `"L" at offset 10 is not`},
		{"check symbol U", replace(exVoter, 5, 'U'), exPUTC, exPSig, exKey, `"U" at offset 5 is not`},
		{"check symbol *", replace(exVoter, 6, '*'), exPUTC, exPSig, exKey, `"*" at offset 6 is not`},
		{"non-ASCII", exVoter[:37] + "é", exPUTC, exPSig, exKey, `"\xc3" at offset 37 is not`},
		{"random part changed", replace(exVoter, 0, '1'), exPUTC, exPSig, exKey, "MAC does not verify"},
		{"MAC part changed", replace(exVoter, 38, 'J'), exPUTC, exPSig, exKey, "MAC does not verify"},
		{"other P-UTC", exVoter, "1767225601", exPSig, exKey, "MAC does not verify"},
		{"P-UTC with leading zero", exVoter, "01767225600", exPSig, exKey, "MAC does not verify"},
		{"other P-SIG", exVoter, exPUTC, flipped, exKey, "MAC does not verify"},
		{"P-SIG as base64", exVoter, exPUTC, []byte(base64.StdEncoding.EncodeToString(exPSig)), exKey, "MAC does not verify"},
		{"other key", exVoter, exPUTC, exPSig, []byte("powvote example voter-stamp key?"), "MAC does not verify"},
	}
	for _, tt := range tests {
		err := CheckVoter(tt.key, tt.voter, tt.putc, tt.psig)
		if !errors.Is(err, ErrVoter) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: CheckVoter(%q) = %v, want ErrVoter with %q", tt.name, tt.voter, err, tt.want)
		}
	}
}

// TestCheckVoterEveryByte changes each character of the worked example to
// every other byte value: nothing but the stamp itself may pass.
func TestCheckVoterEveryByte(t *testing.T) {
	for i := range len(exVoter) {
		for c := range 256 {
			if byte(c) == exVoter[i] {
				continue
			}
			v := replace(exVoter, i, byte(c))
			if err := CheckVoter(exKey, v, exPUTC, exPSig); !errors.Is(err, ErrVoter) {
				t.Fatalf("CheckVoter(%q) = %v, want ErrVoter", v, err)
			}
		}
	}
}

func TestParsePUTC(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"7", 7}, {"10", 10}, {"1767225600", 1767225600}, {"999999999999", 999999999999},
	} {
		got, err := ParsePUTC(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePUTC(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"", "empty"},
		{"00", "leading zero"},
		{"01767225600", "leading zero"},
		{"1000000000000", "13 digits, at most 12"},
		{"-1", `"-" at offset 0 is not a digit`},
		{"+1767225600", `"+" at offset 0 is not a digit`},
		{" 1767225600", `" " at offset 0 is not a digit`},
		{"1767225600 ", `" " at offset 10 is not a digit`},
		{"1767225600\n", `"\n" at offset 10 is not a digit`},
		{"1.5", `"." at offset 1 is not a digit`},
		{"1e9", `"e" at offset 1 is not a digit`},
		{"0x10", "leading zero"},
		{"1x10", `"x" at offset 1 is not a digit`},
		{"１", `"\xef" at offset 0 is not a digit`},
	} {
		_, err := ParsePUTC(tt.in)
		if !errors.Is(err, ErrPUTC) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePUTC(%q) = %v, want ErrPUTC with %q", tt.in, err, tt.want)
		}
	}
}

// refHMAC is crypto/hmac's HMAC-SHA256 of r || putc || psig.
func refHMAC(key, r []byte, putc string, psig []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(r)
	h.Write([]byte(putc))
	h.Write(psig)
	return h.Sum(nil)
}

// TestKeySumIsHMAC compares Key's HMAC with crypto/hmac's on random inputs:
// keys shorter than, as long as and longer than SHA-256's block, every
// P-UTC length the protocol allows, and inputs past the stack buffer.
func TestKeySumIsHMAC(t *testing.T) {
	keyLens := []int{1, 16, 32, 63, 64, 65, 100, 200}
	putcLens := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 40}
	sigLens := []int{64, 0, 1, 63, 65, 200}
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	for _, kl := range keyLens {
		key := random(kl)
		k, err := NewKey(key)
		if err != nil {
			t.Fatal(err)
		}
		for _, pl := range putcLens {
			for _, sl := range sigLens {
				for range 4 {
					r, putc, psig := random(randLen), string(random(pl)), random(sl)
					got := k.sum(r, putc, psig)
					if want := refHMAC(key, r, putc, psig); !bytes.Equal(got[:], want) {
						t.Fatalf("key of %d bytes, P-UTC of %d, P-SIG of %d: sum = %x, crypto/hmac %x", kl, pl, sl, got, want)
					}
					if m := k.mac(r, putc, psig); !bytes.Equal(m[:], got[:macLen]) {
						t.Fatalf("mac = %x, want the first %d bytes of %x", m, macLen, got)
					}
				}
			}
		}
	}
}

// TestKeyWorkedExample makes and checks the worked example with a Key, and
// appends after what dst holds.
func TestKeyWorkedExample(t *testing.T) {
	k, err := NewKey(exKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.AppendVoter([]byte("Voter: "), bytes.NewReader(exRand), exPUTC, exPSig)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "Voter: "+exVoter {
		t.Fatalf("AppendVoter = %q, want %q", got, "Voter: "+exVoter)
	}
	if err := k.CheckVoter(exVoter, exPUTC, exPSig); err != nil {
		t.Fatalf("Key.CheckVoter(worked example) = %v", err)
	}
	if _, err := NewKey(nil); !errors.Is(err, errKey) {
		t.Errorf("NewKey(nil) = %v, want errKey", err)
	}
	// A failed read leaves dst as it was.
	got, err = k.AppendVoter([]byte("x"), bytes.NewReader(exRand[:15]), exPUTC, exPSig)
	if err == nil || string(got) != "x" {
		t.Errorf("AppendVoter with a short read = %q, %v; want %q and an error", got, err, "x")
	}
}

// TestDecodeVoter checks the stamp decoder that CheckVoter uses against
// internal/crockford's on random stamps.
func TestDecodeVoter(t *testing.T) {
	k, err := NewKey(exKey)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		v, err := k.AppendVoter(nil, rand.Reader, exPUTC, exPSig)
		if err != nil {
			t.Fatal(err)
		}
		want, err := crockford.Decode(string(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := decodeVoter(string(v)); !bytes.Equal(got[:], want) {
			t.Fatalf("decodeVoter(%q) = %x, crockford.Decode %x", v, got, want)
		}
	}
}

// TestKeyAllocs: the edge makes a stamp on every GET /stamp and checks one
// on every vote with enough work; neither may allocate.
func TestKeyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's crypto/rand allocates")
	}
	k, err := NewKey(exKey)
	if err != nil {
		t.Fatal(err)
	}
	var psig [64]byte
	copy(psig[:], exPSig)
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"AppendVoter", func() {
			var buf [VoterLen]byte
			if _, err := k.AppendVoter(buf[:0], rand.Reader, exPUTC, psig[:]); err != nil {
				t.Fatal(err)
			}
		}},
		{"CheckVoter, valid", func() {
			if err := k.CheckVoter(exVoter, exPUTC, psig[:]); err != nil {
				t.Fatal(err)
			}
		}},
		{"CheckVoter, wrong MAC", func() {
			if err := k.CheckVoter(exVoter, "1767225601", psig[:]); !errors.Is(err, ErrVoter) {
				t.Fatal(err)
			}
		}},
	} {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}

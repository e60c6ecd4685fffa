package pow_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/powvote/powvote/pow"
)

// The worked example of the package documentation.
const (
	examplePUTC   = "1767225600"
	exampleSig    = "Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw=="
	exampleVoter  = "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ"
	exampleSay    = "Énergie solaire"
	exampleOption = "c3896e657267696520736f6c61697265"
	exampleNonce  = "09a733f6d68415da"
	exampleDigest = "0000024b3eb1cc5dcf554eda5dff74bbd0f923dd00a97a534376082e71f1513d"
	exampleScore  = 22
	// RFC 8032 section 7.1, TEST 1.
	rfc8032Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func exampleWork(t testing.TB) pow.Work {
	t.Helper()
	sig, err := base64.StdEncoding.DecodeString(exampleSig)
	if err != nil {
		t.Fatal(err)
	}
	return pow.Work{PUTC: examplePUTC, PSig: sig, Voter: exampleVoter, Say: exampleSay}
}

// refScore counts leading zero bits one at a time, independently of Score.
func refScore(d [32]byte) int {
	for i := 0; i < 256; i++ {
		if d[i/8]&(0x80>>(i%8)) != 0 {
			return i
		}
	}
	return 256
}

func TestWorkedExample(t *testing.T) {
	w := exampleWork(t)
	nonce := mustHex(t, exampleNonce)

	key := ed25519.NewKeyFromSeed(mustHex(t, rfc8032Seed))
	if !ed25519.Verify(key.Public().(ed25519.PublicKey), []byte(examplePUTC), w.PSig) {
		t.Error("P-SIG is not the TEST 1 key's signature of P-UTC")
	}
	if got := hex.EncodeToString([]byte(w.Say)); got != exampleOption {
		t.Errorf("option bytes %s, want %s", got, exampleOption)
	}

	want := []byte(examplePUTC)
	want = append(want, w.PSig...)
	want = append(want, exampleVoter...)
	want = append(want, mustHex(t, exampleOption)...)
	if got := w.Prefix(); string(got) != string(want) {
		t.Fatalf("Prefix =\n%x\nwant\n%x", got, want)
	}
	if n := len(want) + len(nonce); n != 137 {
		t.Errorf("message is %d bytes, want 137", n)
	}

	d := pow.Digest(w, nonce)
	if got := hex.EncodeToString(d[:]); got != exampleDigest {
		t.Errorf("digest %s, want %s", got, exampleDigest)
	}
	if s := pow.Score(d); s != exampleScore {
		t.Errorf("score %d, want %d", s, exampleScore)
	}
	if s, err := pow.Verify(w, nonce, exampleScore); err != nil || s != exampleScore {
		t.Errorf("Verify at threshold %d = %d, %v", exampleScore, s, err)
	}
	if _, err := pow.Verify(w, nonce, exampleScore+1); !errors.Is(err, pow.ErrBelowThreshold) {
		t.Errorf("Verify at threshold %d: %v, want ErrBelowThreshold", exampleScore+1, err)
	}
}

// TestWorkedExampleDoc keeps the package documentation in step with the
// figures that TestWorkedExample checks.
func TestWorkedExampleDoc(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"P-UTC   " + examplePUTC,
		"P-SIG   " + exampleSig,
		"Voter   " + exampleVoter,
		"Say     " + exampleSay,
		"option  " + exampleOption,
		"nonce   " + exampleNonce,
		"digest  " + exampleDigest,
		"score   22",
		"GET /" + exampleNonce,
	} {
		if !strings.Contains(string(doc), line) {
			t.Errorf("doc.go lacks %q", line)
		}
	}
}

func TestScore(t *testing.T) {
	digest := func(set map[int]byte) [32]byte {
		var d [32]byte
		for i, b := range set {
			d[i] = b
		}
		return d
	}
	tests := []struct {
		name string
		d    [32]byte
		want int
	}{
		{"top bit set", digest(map[int]byte{0: 0x80}), 0},
		{"all ones", digest(map[int]byte{0: 0xff, 31: 0xff}), 0},
		{"second bit", digest(map[int]byte{0: 0x40}), 1},
		{"last bit of first byte", digest(map[int]byte{0: 0x01}), 7},
		{"one zero byte", digest(map[int]byte{1: 0xff}), 8},
		{"end of first word", digest(map[int]byte{7: 0x01}), 63},
		{"start of second word", digest(map[int]byte{8: 0x80}), 64},
		{"first bit of last byte", digest(map[int]byte{31: 0x80}), 248},
		{"only the last bit", digest(map[int]byte{31: 0x01}), 255},
		{"all zero", [32]byte{}, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pow.Score(tt.d); got != tt.want {
				t.Errorf("Score(%x) = %d, want %d", tt.d, got, tt.want)
			}
		})
	}

	// Random digests with a random number of leading zero bits.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var d [32]byte
		for i := range d {
			d[i] = byte(r.Uint32())
		}
		z := r.IntN(257)
		for i := 0; i < z; i++ {
			d[i/8] &^= 0x80 >> (i % 8)
		}
		if got, want := pow.Score(d), refScore(d); got != want {
			t.Fatalf("Score(%x) = %d, want %d", d, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	w := exampleWork(t)
	good := mustHex(t, exampleNonce)
	tests := []struct {
		name      string
		nonce     []byte
		threshold int
		wantScore int
		wantErr   error
	}{
		{"no nonce", nil, 0, 0, pow.ErrNonceLength},
		{"7 bytes", good[:7], 0, 0, pow.ErrNonceLength},
		{"33 bytes", make([]byte, 33), 0, 0, pow.ErrNonceLength},
		{"below threshold", good, exampleScore + 1, exampleScore, pow.ErrBelowThreshold},
		{"far below threshold", good, 256, exampleScore, pow.ErrBelowThreshold},
		{"exactly at threshold", good, exampleScore, exampleScore, nil},
		{"above threshold", good, 10, exampleScore, nil},
		{"negative threshold", good, -1, exampleScore, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			score, err := pow.Verify(w, tt.nonce, tt.threshold)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Verify error %v, want %v", err, tt.wantErr)
			}
			if score != tt.wantScore {
				t.Errorf("Verify score %d, want %d", score, tt.wantScore)
			}
		})
	}

	// Every length from MinNonce to MaxNonce is accepted and scored like
	// the plain hash of the message.
	for n := pow.MinNonce; n <= pow.MaxNonce; n++ {
		nonce := make([]byte, n)
		for i := range nonce {
			nonce[i] = byte(n + i)
		}
		want := refScore(sha256.Sum256(append(w.Prefix(), nonce...)))
		score, err := pow.Verify(w, nonce, 0)
		if err != nil || score != want {
			t.Errorf("%d-byte nonce: Verify = %d, %v; want %d, nil", n, score, err, want)
		}
	}
}

func TestVerifyLongMessage(t *testing.T) {
	// Beyond the stack buffer the digest must not change.
	w := exampleWork(t)
	w.Say = strings.Repeat("Énergie ", 100)
	nonce := mustHex(t, exampleNonce)
	want := sha256.Sum256(append(w.Prefix(), nonce...))
	if got := pow.Digest(w, nonce); got != want {
		t.Errorf("Digest = %x, want %x", got, want)
	}
	if s, err := pow.Verify(w, nonce, 0); err != nil || s != refScore(want) {
		t.Errorf("Verify = %d, %v; want %d, nil", s, err, refScore(want))
	}
}

func TestVerifyAllocs(t *testing.T) {
	w := exampleWork(t)
	nonce := mustHex(t, exampleNonce)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := pow.Verify(w, nonce, exampleScore); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Verify allocates %v times per call, want 0", allocs)
	}
}

func TestPrefixDoesNotAlias(t *testing.T) {
	w := exampleWork(t)
	p := w.Prefix()
	p[len(examplePUTC)] ^= 0xff
	if w.PSig[0] == p[len(examplePUTC)] {
		t.Error("Prefix shares memory with PSig")
	}
}

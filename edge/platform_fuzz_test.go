package edge

import (
	"crypto/ed25519"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzParsePlatform feeds parsePlatform collector answers: it never
// panics, and what it accepts is a pool of exactly Count signatures whose
// first verifies, with two booth codes of six digits.
func FuzzParsePlatform(f *testing.F) {
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	good := ed25519.Sign(priv, []byte("1767225600"))
	f.Add("1767225600", "123456 654321", "1", good)
	f.Add("1767225600", "123456 654321", "2", append(append([]byte(nil), good...), good...))
	f.Add("1767225600", "123456,654321", "1", good)
	f.Add("01767225600", "123456 654321", "1", good)
	f.Add("1767225600", "123456 654321", "3", good)
	f.Add("1767225600", "123456 654321", "-1", []byte{})
	f.Fuzz(func(t *testing.T, putc, codes, count string, body []byte) {
		var h fasthttp.ResponseHeader
		h.Set("P-UTC", putc)
		h.Set("Codes", codes)
		h.Set("Count", count)
		p, err := parsePlatform(&h, body, 4, pub)
		if err != nil {
			return
		}
		n, _ := strconv.Atoi(count)
		if p.size() != n || len(p.pool) != n+1 || len(body) != n*sigLen {
			t.Fatalf("Count %q, %d-byte body: a pool of %d", count, len(body), p.size())
		}
		if !ed25519.Verify(pub, []byte(p.putc), p.pool[0][:]) || p.pool[n] != [sigLen]byte{} {
			t.Fatal("accepted a pool whose first signature does not verify, or whose filler is not zero")
		}
		for _, c := range p.codes {
			if !digits(c[:], 6) {
				t.Fatalf("codes %q", p.codes)
			}
		}
	})
}

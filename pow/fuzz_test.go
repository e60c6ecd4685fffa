package pow_test

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/powvote/powvote/pow"
)

// FuzzVerify checks Verify against the plain reading of PROTOCOL.md 5.3 on
// arbitrary fields: concatenate, hash, count zero bits one by one.
func FuzzVerify(f *testing.F) {
	f.Fuzz(func(t *testing.T, putc string, psig []byte, voter, say string, nonce []byte, threshold int) {
		w := pow.Work{PUTC: putc, PSig: psig, Voter: voter, Say: say}
		score, err := pow.Verify(w, nonce, threshold)

		if len(nonce) < pow.MinNonce || len(nonce) > pow.MaxNonce {
			if !errors.Is(err, pow.ErrNonceLength) || score != 0 {
				t.Fatalf("%d-byte nonce: Verify = %d, %v; want 0, ErrNonceLength", len(nonce), score, err)
			}
			return
		}
		var msg []byte
		msg = append(msg, putc...)
		msg = append(msg, psig...)
		msg = append(msg, voter...)
		msg = append(msg, say...)
		msg = append(msg, nonce...)
		d := sha256.Sum256(msg)
		want := refScore(d)
		if score != want {
			t.Fatalf("Verify score %d, want %d (digest %x)", score, want, d)
		}
		if got := pow.Digest(w, nonce); got != d {
			t.Fatalf("Digest %x, want %x", got, d)
		}
		switch {
		case want >= threshold && err != nil:
			t.Fatalf("score %d, threshold %d: unexpected error %v", want, threshold, err)
		case want < threshold && !errors.Is(err, pow.ErrBelowThreshold):
			t.Fatalf("score %d, threshold %d: error %v, want ErrBelowThreshold", want, threshold, err)
		}
	})
}

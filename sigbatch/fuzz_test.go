package sigbatch

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/powvote/powvote/sigbatch/sigbatchtest"
)

// FuzzVerify builds a batch from the input, whose bytes each say how to
// spoil one signature (none, a small-order component in R, R a point of
// E[8] alone, a flipped bit, S + L, a signature made of the input's own
// bytes), pads it with valid signatures to a batch, and compares every
// decision of Verify with crypto/ed25519's.
func FuzzVerify(f *testing.F) {
	for _, seed := range [][]byte{
		{0},
		{1 | 4<<3, 1 | 4<<3},
		{1 | 1<<3, 1 | 7<<3, 0, 3},
		{2, 2 | 1<<3, 4, 5, 0xff, 0x10},
	} {
		f.Add(seed)
	}
	e8 := sigbatchtest.Torsion()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		s := sigbatchtest.NewSigner(rand.NewChaCha8(sha256.Sum256(data)), nil)
		v := NewVerifier(s.Pub)
		var front []Entry
		for i, b := range data {
			msg := fmt.Appendf(nil, "fuzz %d", i)
			var sig []byte
			switch b % 6 {
			case 0:
				sig = s.Sign(msg, nil)
			case 1:
				sig = s.Sign(msg, &e8[b>>3%8])
			case 2:
				sig = s.SignWithR(msg, sigbatchtest.Compress(&e8[b>>3%8]))
			case 3:
				sig = s.Sign(msg, nil)
				sig[int(b>>3)%64] ^= 1 << (b % 8)
			case 4:
				sig = sigbatchtest.PlusL(s.Sign(msg, nil))
			case 5:
				sig = make([]byte, 64)
				for j := range sig {
					sig[j] = data[(i+j)%len(data)]
				}
			}
			front = append(front, Entry{s.Pub, msg, sig})
		}
		check(t, v, padded(s, MinBatch, front...))
	})
}

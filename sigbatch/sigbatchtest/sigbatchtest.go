// Package sigbatchtest makes the Ed25519 signatures on which verifiers
// disagree ("Taming the many EdDSAs"), for the tests of package sigbatch
// and of its users: the signatures only a key holder can make that a
// cofactored batch verifier accepts and crypto/ed25519 refuses, points of
// the small subgroup E[8], non-canonical encodings of points and scalars.
package sigbatchtest

import (
	"crypto/ed25519"
	"crypto/sha512"
	"math/rand/v2"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/oasisprotocol/curve25519-voi/curve/scalar"
)

// Signer signs as a key holder can, including what no honest signer does:
// with its scalar a and Pub = [a]B (+ a small-order point, if made so), a
// signature of M is R = [r]B + T, S = r + k·a, k = SHA-512(R || Pub || M)
// mod L.
type Signer struct {
	Pub ed25519.PublicKey
	a   scalar.Scalar
	rng *rand.ChaCha8
}

// NewSigner returns a signer with a key drawn from rng, its public key
// [a]B + t (t nil: [a]B, a key of prime order).
func NewSigner(rng *rand.ChaCha8, t *curve.EdwardsPoint) *Signer {
	s := &Signer{rng: rng}
	var wide [64]byte
	rng.Read(wide[:])
	if _, err := s.a.SetBytesModOrderWide(wide[:]); err != nil {
		panic(err)
	}
	var A curve.EdwardsPoint
	A.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, &s.a)
	if t != nil {
		A.Add(&A, t)
	}
	s.Pub = Compress(&A)
	return s
}

// FromKey returns the signer of an ordinary Ed25519 private key: its
// signatures with no small-order part equal crypto/ed25519's in validity
// (not in bytes: r is random, not derived).
func FromKey(priv ed25519.PrivateKey, rng *rand.ChaCha8) *Signer {
	h := sha512.Sum512(priv.Seed())
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	s := &Signer{rng: rng, Pub: append(ed25519.PublicKey(nil), priv.Public().(ed25519.PublicKey)...)}
	if _, err := s.a.SetBytesModOrder(h[:32]); err != nil {
		panic(err)
	}
	return s
}

// WithPub returns a signer whose scalar is 0 and whose public key is the
// encoding pub, for keys of small order or encoded non-canonically.
func WithPub(rng *rand.ChaCha8, pub []byte) *Signer {
	return &Signer{rng: rng, Pub: append(ed25519.PublicKey(nil), pub...)}
}

// Sign signs msg with R = [r]B + t for a random r (t nil: an honest
// signature).
func (s *Signer) Sign(msg []byte, t *curve.EdwardsPoint) []byte {
	var wide [64]byte
	s.rng.Read(wide[:])
	var r scalar.Scalar
	if _, err := r.SetBytesModOrderWide(wide[:]); err != nil {
		panic(err)
	}
	var R curve.EdwardsPoint
	R.MulBasepoint(curve.ED25519_BASEPOINT_TABLE, &r)
	if t != nil {
		R.Add(&R, t)
	}
	return s.sign(msg, &r, Compress(&R))
}

// SignWithR signs msg with the R encoded as rBytes, taken to be [0]B plus
// whatever point it encodes: S = k·a. With rBytes an encoding of a point
// of E[8] or a non-canonical one, this is the signature a verifier may
// accept or refuse by its rules.
func (s *Signer) SignWithR(msg, rBytes []byte) []byte {
	var zero scalar.Scalar
	return s.sign(msg, &zero, rBytes)
}

func (s *Signer) sign(msg []byte, r *scalar.Scalar, rBytes []byte) []byte {
	h := sha512.New()
	h.Write(rBytes)
	h.Write(s.Pub)
	h.Write(msg)
	var k, S scalar.Scalar
	if _, err := k.SetBytesModOrderWide(h.Sum(nil)); err != nil {
		panic(err)
	}
	S.Mul(&k, &s.a)
	S.Add(&S, r)
	sig := make([]byte, 64)
	copy(sig, rBytes)
	if err := S.ToBytes(sig[32:]); err != nil {
		panic(err)
	}
	return sig
}

// Compress returns the canonical encoding of p.
func Compress(p *curve.EdwardsPoint) []byte {
	var c curve.CompressedEdwardsY
	c.SetEdwardsPoint(p)
	return append([]byte(nil), c[:]...)
}

// Torsion returns the eight points of E[8]: [i]T8 at index i, for a point
// T8 of order 8, found as [L]P for points P decoded from fixed bytes.
func Torsion() [8]curve.EdwardsPoint {
	rng := rand.NewChaCha8([32]byte{'e', '8'})
	for range 1000 {
		var b [32]byte
		rng.Read(b[:])
		var c curve.CompressedEdwardsY
		var p curve.EdwardsPoint
		if _, err := c.SetBytes(b[:]); err != nil {
			continue
		}
		if _, err := p.SetCompressedY(&c); err != nil {
			continue
		}
		var t8, t4 curve.EdwardsPoint
		t8.Mul(&p, scalar.BASEPOINT_ORDER)
		t4.Add(&t8, &t8)
		t4.Add(&t4, &t4)
		if t4.IsIdentity() {
			continue // of order 4 at most
		}
		var out [8]curve.EdwardsPoint
		out[0].Identity()
		for i := 1; i < 8; i++ {
			out[i].Add(&out[i-1], &t8)
		}
		return out
	}
	panic("sigbatchtest: no point of order 8 found")
}

// NonCanonical returns encodings of points that crypto/ed25519 never
// writes: y + p for each y below 19 that is on the curve, and x = 0 with
// the sign bit set (the identity and the point of order 2).
func NonCanonical() [][]byte {
	var out [][]byte
	for y := range 19 {
		// p + y = 2^255 - 19 + y, little-endian.
		b := make([]byte, 32)
		b[0] = byte(0xed + y)
		for i := 1; i < 31; i++ {
			b[i] = 0xff
		}
		b[31] = 0x7f
		var c curve.CompressedEdwardsY
		var p curve.EdwardsPoint
		if _, err := c.SetBytes(b); err != nil {
			continue
		}
		if _, err := p.SetCompressedY(&c); err != nil {
			continue
		}
		out = append(out, b)
	}
	one := make([]byte, 32)
	one[0], one[31] = 1, 0x80
	minusOne := make([]byte, 32)
	minusOne[0] = 0xec
	for i := 1; i < 31; i++ {
		minusOne[i] = 0xff
	}
	minusOne[31] = 0xff
	return append(out, one, minusOne)
}

// PlusL returns sig with S replaced by S + L: the same value mod L, in an
// encoding RFC 8032 forbids.
func PlusL(sig []byte) []byte {
	var l [32]byte
	if err := scalar.BASEPOINT_ORDER.ToBytes(l[:]); err != nil {
		panic(err)
	}
	out := append([]byte(nil), sig...)
	carry := 0
	for i := range 32 {
		v := int(out[32+i]) + int(l[i]) + carry
		out[32+i], carry = byte(v), v>>8
	}
	return out
}

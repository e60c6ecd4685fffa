// Package hedged makes Ed25519 signatures whose nonce is drawn from fresh
// randomness as well as from the key and the message, so that two
// signatures of one message by one key differ.
//
// RFC 8032 derives the nonce scalar r from the key's prefix and the message
// alone: signing one message twice gives one signature twice. The platform
// signs the same message, a P-UTC, for every voter of a second, and an
// answer that repeats another's P-SIG tells its requester that both booth
// codes were equally right or wrong (PROTOCOL.md 5.2). Here
//
//	Z = 32 bytes from the random source
//	r = SHA-512(Z || 96 zero bytes || prefix || M) mod L
//
// and the rest is RFC 8032 section 5.1.6 unchanged: R = rB,
// S = (r + SHA-512(R || A || M) s) mod L, signature R || S. The zero bytes
// fill the first 128-byte block of SHA-512 with Z alone, so that the secret
// prefix starts a block of its own. A verifier cannot tell how r was
// chosen: every signature verifies under crypto/ed25519 and any other
// RFC 8032 verifier. A weak random source gives back RFC 8032's guarantee
// (r stays secret while the prefix does), never less; a repeated Z only
// repeats a signature.
//
// The scalar and point arithmetic is filippo.io/edwards25519's.
package hedged

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"

	"github.com/powvote/powvote/internal/entropy"
)

// SignatureSize is the size of a signature: R and S, 32 bytes each.
const SignatureSize = ed25519.SignatureSize

const (
	randLen  = 32  // Z
	blockLen = 128 // SHA-512's block: Z and its zero padding fill one
)

// ErrKey means a private key is not a valid Ed25519 private key: the wrong
// size, or a public half that its seed does not give.
var ErrKey = errors.New("hedged: invalid Ed25519 private key")

// A Signer signs with one Ed25519 key. It is safe for concurrent use.
type Signer struct {
	s      edwards25519.Scalar // the secret scalar, from the seed's hash
	prefix [32]byte            // the second half of the seed's hash
	pub    [32]byte            // A
}

// New expands priv, a crypto/ed25519 private key (seed || public key), into
// a Signer. It refuses a key whose public half does not match its seed.
func New(priv ed25519.PrivateKey) (*Signer, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrKey, len(priv), ed25519.PrivateKeySize)
	}
	h := sha512.Sum512(priv[:ed25519.SeedSize])
	k := &Signer{}
	if _, err := k.s.SetBytesWithClamping(h[:32]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err) // unreachable: the input is 32 bytes
	}
	copy(k.prefix[:], h[32:])
	clear(h[:])
	a := new(edwards25519.Point).ScalarBaseMult(&k.s)
	copy(k.pub[:], a.Bytes())
	if string(k.pub[:]) != string(priv[ed25519.SeedSize:]) {
		return nil, fmt.Errorf("%w: the public half does not match the seed", ErrKey)
	}
	return k, nil
}

// Public returns the public key.
func (k *Signer) Public() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), k.pub[:]...)
}

// Sign signs msg into sig, reading 32 bytes from rand (crypto/rand.Reader
// in production). The error is the random source's.
func (k *Signer) Sign(rand io.Reader, msg []byte, sig *[SignatureSize]byte) error {
	var z [blockLen]byte
	// entropy.Read keeps z on the stack for crypto/rand: a signature per
	// GET /stamp at the edge.
	if err := entropy.Read(rand, z[:randLen]); err != nil {
		return fmt.Errorf("hedged: couldn't read random bytes: %w", err)
	}
	var digest [sha512.Size]byte
	h := sha512.New()
	h.Write(z[:])
	h.Write(k.prefix[:])
	h.Write(msg)
	var r edwards25519.Scalar
	if _, err := r.SetUniformBytes(h.Sum(digest[:0])); err != nil {
		panic(err) // unreachable: the input is 64 bytes
	}
	R := new(edwards25519.Point).ScalarBaseMult(&r)
	copy(sig[:32], R.Bytes())

	h.Reset()
	h.Write(sig[:32])
	h.Write(k.pub[:])
	h.Write(msg)
	var c edwards25519.Scalar
	if _, err := c.SetUniformBytes(h.Sum(digest[:0])); err != nil {
		panic(err) // unreachable: the input is 64 bytes
	}
	var s edwards25519.Scalar
	s.MultiplyAdd(&c, &k.s, &r)
	copy(sig[32:], s.Bytes())
	return nil
}

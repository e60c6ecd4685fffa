// Package keywrap implements the AES key wrap of RFC 3394, which the booth
// code generators use to receive the campaign's TOTP seed: the seed is
// published wrapped under each generator's own key-encryption key (KEK) and
// unwrapped inside the generator's secure element.
//
// Only the default initial value A6A6A6A6A6A6A6A6 of RFC 3394 section 2.2.3.1
// is supported; the padded variant of RFC 5649 is not, because a TOTP seed is
// a whole number of 64-bit blocks. The key data must be at least two blocks
// (16 bytes) long and the wrapped form is always one block (8 bytes) longer.
package keywrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// BlockSize is the size of the semiblocks the algorithm works on, and the
// number of bytes wrapping adds.
const BlockSize = 8

// ErrIntegrity is returned by [Unwrap] when the integrity check value does
// not come out right: the KEK is not the one the data was wrapped with, or
// the wrapped data was altered.
var ErrIntegrity = errors.New("keywrap: integrity check failed")

// defaultIV is the initial value of RFC 3394 section 2.2.3.1.
var defaultIV = [BlockSize]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// Wrap wraps plaintext, a multiple of 8 bytes and at least 16 bytes long,
// under kek, an AES key of 16, 24 or 32 bytes. The result is
// len(plaintext)+8 bytes long.
func Wrap(kek, plaintext []byte) ([]byte, error) {
	b, err := newCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(plaintext) < 2*BlockSize || len(plaintext)%BlockSize != 0 {
		return nil, fmt.Errorf("keywrap: key data is %d bytes, want a multiple of %d of at least %d", len(plaintext), BlockSize, 2*BlockSize)
	}
	n := len(plaintext) / BlockSize
	out := make([]byte, len(plaintext)+BlockSize)
	copy(out[BlockSize:], plaintext)
	// buf holds A in its first half and R[i] in its second, so that one AES
	// block operation covers the concatenation A | R[i] of the RFC.
	var buf [aes.BlockSize]byte
	copy(buf[:BlockSize], defaultIV[:])
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			r := out[i*BlockSize : (i+1)*BlockSize]
			copy(buf[BlockSize:], r)
			b.Encrypt(buf[:], buf[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:BlockSize], binary.BigEndian.Uint64(buf[:BlockSize])^t)
			copy(r, buf[BlockSize:])
		}
	}
	copy(out[:BlockSize], buf[:BlockSize])
	return out, nil
}

// Unwrap reverses [Wrap]. It returns [ErrIntegrity] when the check value does
// not verify, and never returns any part of the key data in that case.
func Unwrap(kek, ciphertext []byte) ([]byte, error) {
	b, err := newCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < 3*BlockSize || len(ciphertext)%BlockSize != 0 {
		return nil, fmt.Errorf("keywrap: wrapped data is %d bytes, want a multiple of %d of at least %d", len(ciphertext), BlockSize, 3*BlockSize)
	}
	n := len(ciphertext)/BlockSize - 1
	out := make([]byte, n*BlockSize)
	copy(out, ciphertext[BlockSize:])
	var buf [aes.BlockSize]byte
	copy(buf[:BlockSize], ciphertext[:BlockSize])
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := out[(i-1)*BlockSize : i*BlockSize]
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(buf[:BlockSize], binary.BigEndian.Uint64(buf[:BlockSize])^t)
			copy(buf[BlockSize:], r)
			b.Decrypt(buf[:], buf[:])
			copy(r, buf[BlockSize:])
		}
	}
	// A constant-time comparison, so that how many bytes of the check value
	// came out right is not visible to whoever submits wrapped data.
	if subtle.ConstantTimeCompare(buf[:BlockSize], defaultIV[:]) != 1 {
		clear(out)
		clear(buf[:])
		return nil, ErrIntegrity
	}
	clear(buf[:])
	return out, nil
}

func newCipher(kek []byte) (cipher.Block, error) {
	switch len(kek) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("keywrap: key-encryption key is %d bytes, want 16, 24 or 32", len(kek))
	}
	b, err := aes.NewCipher(kek)
	if err != nil {
		// Unreachable with the sizes checked above.
		return nil, fmt.Errorf("keywrap: %w", err)
	}
	return b, nil
}

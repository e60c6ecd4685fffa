package mandate

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/powvote/powvote/internal/crockford"
)

const (
	// TokenSize is the size in bytes of a token: auth-pkey, auth-sig and
	// auth-id.
	TokenSize = ed25519.PublicKeySize + ed25519.SignatureSize + IDSize
	// IDSize is the size in bytes of an auth-id.
	IDSize = 24
	// CardLines is the number of lines of a printed card.
	CardLines = 12
)

var (
	// ErrSignature means auth-sig is not a valid signature of auth-id by
	// auth-pkey.
	ErrSignature = errors.New("mandate: signature does not verify")
	// ErrTokenLength means a token does not have TokenSize bytes.
	ErrTokenLength = errors.New("mandate: token is not 120 bytes")
	// ErrHex means a hex token has a character that is not a hex digit.
	ErrHex = errors.New("mandate: token is not hex")
	// ErrLineLength means a card line does not have 17 symbols.
	ErrLineLength = errors.New("mandate: card line does not have 17 symbols")
	// ErrLines means a card does not have 12 lines.
	ErrLines = errors.New("mandate: card does not have 12 lines")
)

// Token is a mandate: an auth-id signed by an authority key.
type Token struct {
	AuthPkey [ed25519.PublicKeySize]byte
	AuthSig  [ed25519.SignatureSize]byte
	AuthID   [IDSize]byte
}

// Issue returns a mandate with an auth-id read from rand, signed with priv.
func Issue(priv ed25519.PrivateKey, rand io.Reader) (Token, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Token{}, fmt.Errorf("mandate: authority key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	var id [IDSize]byte
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return Token{}, fmt.Errorf("mandate: reading a random auth-id: %w", err)
	}
	return Sign(priv, id), nil
}

// Sign returns the mandate with auth-id id signed with priv. Like
// ed25519.Sign, it panics if priv is not ed25519.PrivateKeySize bytes.
func Sign(priv ed25519.PrivateKey, id [IDSize]byte) Token {
	var t Token
	// The public half stored in priv is what ed25519.Sign hashes into the
	// signature, so it is the key the signature verifies under.
	copy(t.AuthPkey[:], priv.Public().(ed25519.PublicKey))
	copy(t.AuthSig[:], ed25519.Sign(priv, id[:]))
	t.AuthID = id
	return t
}

// Bytes returns the 120 bytes of the token: auth-pkey, auth-sig, auth-id.
func (t Token) Bytes() []byte {
	b := make([]byte, 0, TokenSize)
	b = append(b, t.AuthPkey[:]...)
	b = append(b, t.AuthSig[:]...)
	return append(b, t.AuthID[:]...)
}

// FromBytes returns the token whose bytes are b. It does not verify the
// signature.
func FromBytes(b []byte) (Token, error) {
	var t Token
	if len(b) != TokenSize {
		return t, fmt.Errorf("%w: %d bytes", ErrTokenLength, len(b))
	}
	b = b[copy(t.AuthPkey[:], b):]
	b = b[copy(t.AuthSig[:], b):]
	copy(t.AuthID[:], b)
	return t, nil
}

// Hex returns the token as 240 lower-case hex digits.
func (t Token) Hex() string {
	return hex.EncodeToString(t.Bytes())
}

// ParseHex returns the token written as 240 hex digits, in either case,
// with any white space around them. It does not verify the signature.
func ParseHex(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*TokenSize {
		return Token{}, fmt.Errorf("%w: %d hex digits, want %d", ErrTokenLength, len(s), 2*TokenSize)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		var ie hex.InvalidByteError
		if errors.As(err, &ie) {
			return Token{}, fmt.Errorf("%w: invalid character %q", ErrHex, rune(ie))
		}
		return Token{}, fmt.Errorf("%w: %v", ErrHex, err)
	}
	return FromBytes(b)
}

// Verify checks auth-sig. It says nothing about whether a campaign accepts
// auth-pkey: that is the campaign's list of authority keys to decide.
func (t Token) Verify() error {
	if !ed25519.Verify(t.AuthPkey[:], t.AuthID[:], t.AuthSig[:]) {
		return ErrSignature
	}
	return nil
}

// Needle returns the lookup needle: the first 22 characters of the base64
// of auth-sig, which find the mandate's line in the published voters list.
func (t Token) Needle() string {
	return base64.StdEncoding.EncodeToString(t.AuthSig[:])[:needleLen]
}

const needleLen = 22

// CardID returns auth-id in Crockford base32, 39 symbols. It names a card
// without revealing anything that would let a finder of the name vote.
func (t Token) CardID() string {
	return crockford.Encode(t.AuthID[:])
}

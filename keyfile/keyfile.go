// Package keyfile reads and writes the secret files of a campaign and of an
// election authority, so that every secret on disk has one format and one
// permission rule. A secret file holds one line of text (base64 for raw bytes),
// is created with mode 0600 and is refused when group or others may read it.
package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Mode is the permission every secret file is created with.
const Mode fs.FileMode = 0o600

// maxSize bounds what Read accepts: no secret here is longer than a note
// signer key, so anything bigger is not one of ours.
const maxSize = 4096

// Sentinel errors callers branch on.
var (
	// ErrPermissions means the file may be read by group or others.
	ErrPermissions = errors.New("readable by group or others (chmod 600 it)")
	// ErrExists means Write refused to replace an existing secret.
	ErrExists = errors.New("already exists; refusing to overwrite a secret")
	// ErrEncoding means the content is not the expected encoding or size.
	ErrEncoding = errors.New("bad encoding")
)

// WriteText creates path with mode 0600 holding text and a line feed. It
// never replaces an existing file: losing a key loses an election.
func WriteText(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, Mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keyfile: %s: %w", path, ErrExists)
		}
		return fmt.Errorf("keyfile: create %s: %w", path, err)
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("keyfile: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keyfile: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keyfile: close %s: %w", path, err)
	}
	return nil
}

// ReadText returns the trimmed text of a secret file after checking that
// only its owner may read it.
func ReadText(path string) (string, error) {
	b, err := readSecret(path)
	if err != nil {
		return "", err
	}
	defer clear(b)
	return strings.TrimSpace(string(b)), nil
}

// readSecret returns the content of a secret file after checking that only
// its owner may read it. The caller clears it once decoded: Go cannot wipe
// a key for certain (the collector may have copied it, and strings are
// immutable), but the buffers this package fills need not linger.
func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err) // the error names the path
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyfile: stat %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyfile: %s has mode %04o: %w", path, st.Mode().Perm(), ErrPermissions)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("keyfile: %s is not a regular file", path)
	}
	if st.Size() > maxSize {
		return nil, fmt.Errorf("keyfile: %s is %d bytes, more than a secret file holds: %w", path, st.Size(), ErrEncoding)
	}
	b := make([]byte, 0, st.Size()+1)
	b, err = readAllInto(b, io.LimitReader(f, maxSize+1))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("keyfile: read %s: %w", path, err)
	}
	return b, nil
}

// readAllInto is io.ReadAll into b's spare capacity, growing it by
// copying into a fresh buffer and clearing the old one, so that no copy
// of a secret is left behind.
func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), 2*cap(b)+512)
			copy(nb, b)
			clear(b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// Write stores raw secret bytes as base64.
func Write(path string, secret []byte) error {
	return WriteText(path, base64.StdEncoding.EncodeToString(secret))
}

// Read returns the raw bytes of a secret file written by Write, which must be
// exactly size bytes long (size 0 accepts any length).
func Read(path string, size int) ([]byte, error) {
	b, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	text := bytes.TrimSpace(b)
	out := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(out, text)
	if err != nil {
		clear(out)
		return nil, fmt.Errorf("keyfile: %s: not base64: %w", path, ErrEncoding)
	}
	out = out[:n]
	if size > 0 && len(out) != size {
		clear(out)
		return nil, fmt.Errorf("keyfile: %s holds %d bytes, want %d: %w", path, n, size, ErrEncoding)
	}
	return out, nil
}

// WriteEd25519 stores an Ed25519 private key as its 32-byte seed (RFC 8032's
// private key), base64.
func WriteEd25519(path string, key ed25519.PrivateKey) error {
	return Write(path, key.Seed())
}

// ReadEd25519 reads a private key stored as a 32-byte seed, or as the 64-byte
// seed||public form, in base64 or hex. The 64-byte form is refused when its
// public half does not belong to its seed.
func ReadEd25519(path string) (ed25519.PrivateKey, error) {
	b, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	key, err := parsePrivateKey(bytes.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("keyfile: %s: %w", path, err)
	}
	return key, nil
}

// ParsePrivateKey decodes a base64 or hex Ed25519 private key (32-byte seed
// or 64-byte seed||public).
func ParsePrivateKey(text string) (ed25519.PrivateKey, error) {
	return parsePrivateKey([]byte(text))
}

func parsePrivateKey(text []byte) (ed25519.PrivateKey, error) {
	b, err := decodeSecret(text)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		key := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if string(key[ed25519.SeedSize:]) != string(b[ed25519.SeedSize:]) {
			return nil, fmt.Errorf("private key's public half does not match its seed: %w", ErrEncoding)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("private key is %d bytes, want 32 or 64: %w", len(b), ErrEncoding)
	}
}

// ParsePublicKey decodes an Ed25519 public key written in base64 (standard,
// padded) or hex (64 digits, either case).
func ParsePublicKey(text string) (ed25519.PublicKey, error) {
	b, err := decodeBytes(strings.TrimSpace(text))
	if err != nil {
		return nil, err
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, want 32: %w", len(b), ErrEncoding)
	}
	return ed25519.PublicKey(b), nil
}

// decodeBytes accepts hex when the text is all hex digits of even length and
// base64 otherwise; a 32-byte key is 64 hex digits or 44 base64 characters, so
// the two never collide for the sizes we store.
func decodeBytes(text string) ([]byte, error) { return decodeSecret([]byte(text)) }

// decodeSecret decodes hex or base64 into a fresh buffer, cleared again if
// the decoding fails half-way.
func decodeSecret(text []byte) ([]byte, error) {
	if len(text) == 0 {
		return nil, fmt.Errorf("empty: %w", ErrEncoding)
	}
	if isHex(text) {
		b := make([]byte, hex.DecodedLen(len(text)))
		if _, err := hex.Decode(b, text); err == nil {
			return b, nil
		}
		clear(b)
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(b, text)
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("neither hex nor base64: %w", ErrEncoding)
	}
	return b[:n], nil
}

func isHex[T string | []byte](s T) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

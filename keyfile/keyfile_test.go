package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RFC 8032 section 7.1, TEST 1.
const (
	rfcSecret = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPublic = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)

func TestEd25519RoundTripRFC8032(t *testing.T) {
	seed, _ := hex.DecodeString(rfcSecret)
	key := ed25519.NewKeyFromSeed(seed)
	path := filepath.Join(t.TempDir(), "a.key")
	if err := WriteEd25519(path, key); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	got, err := ReadEd25519(path)
	if err != nil {
		t.Fatal(err)
	}
	if pub := hex.EncodeToString(got.Public().(ed25519.PublicKey)); pub != rfcPublic {
		t.Errorf("public key %s, want RFC 8032 %s", pub, rfcPublic)
	}
	// The RFC's signature of the empty message proves the key is used as the RFC means.
	sig := hex.EncodeToString(ed25519.Sign(got, nil))
	const rfcSig = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
	if sig != rfcSig {
		t.Errorf("signature %s, want %s", sig, rfcSig)
	}
}

func TestParsePrivateKeyForms(t *testing.T) {
	seed, _ := hex.DecodeString(rfcSecret)
	key := ed25519.NewKeyFromSeed(seed)
	pub, _ := hex.DecodeString(rfcPublic)
	for _, text := range []string{
		rfcSecret,
		strings.ToUpper(rfcSecret),
		"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
		hex.EncodeToString(key),
	} {
		got, err := ParsePrivateKey(text)
		if err != nil {
			t.Errorf("ParsePrivateKey(%q): %v", text, err)
			continue
		}
		if !bytes.Equal(got.Public().(ed25519.PublicKey), pub) {
			t.Errorf("ParsePrivateKey(%q): wrong key", text)
		}
	}
	mismatched := hex.EncodeToString(append(append([]byte{}, seed...), make([]byte, 32)...))
	for _, text := range []string{"", "zz", rfcSecret[:62], "AAAA", mismatched, "!!!="} {
		if _, err := ParsePrivateKey(text); !errors.Is(err, ErrEncoding) {
			t.Errorf("ParsePrivateKey(%q) error = %v, want ErrEncoding", text, err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	pub, _ := hex.DecodeString(rfcPublic)
	for _, text := range []string{rfcPublic, " 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= "} {
		got, err := ParsePublicKey(text)
		if err != nil || !bytes.Equal(got, pub) {
			t.Errorf("ParsePublicKey(%q) = %x, %v", text, got, err)
		}
	}
	for _, text := range []string{"", rfcPublic + "00", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR==", "not a key"} {
		if _, err := ParsePublicKey(text); !errors.Is(err, ErrEncoding) {
			t.Errorf("ParsePublicKey(%q) error = %v, want ErrEncoding", text, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	if err := Write(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("other")); !errors.Is(err, ErrExists) {
		t.Errorf("overwrite: %v, want ErrExists", err)
	}
	if b, err := Read(path, 0); err != nil || string(b) != "secret" {
		t.Errorf("Read = %q, %v", b, err)
	}
	if _, err := Read(path, 32); !errors.Is(err, ErrEncoding) {
		t.Errorf("wrong size: %v, want ErrEncoding", err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path, 0); !errors.Is(err, ErrPermissions) {
			t.Errorf("mode %04o: %v, want ErrPermissions", mode, err)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path, 0); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), maxSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadText(big); !errors.Is(err, ErrEncoding) {
		t.Errorf("oversized: %v, want ErrEncoding", err)
	}
	notB64 := filepath.Join(dir, "hex")
	if err := os.WriteFile(notB64, []byte("not base64!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(notB64, 0); !errors.Is(err, ErrEncoding) {
		t.Errorf("not base64: %v, want ErrEncoding", err)
	}
	if _, err := ReadText(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

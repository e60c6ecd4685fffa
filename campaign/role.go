package campaign

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/keyfile"
)

// Role is a process of the platform, named for the secrets it needs. A
// campaign directory made by Create holds every secret, which an operator
// keeps offline; Export writes for each machine a directory with only its
// process's secrets and its certificate for the internal links
// (docs/DEPLOY.md), so that a compromised edge machine, say, yields neither
// the genuine stamp signing key, nor the booth code seed, nor the receipt
// and log keys, nor a certificate any collector accepts for GET /sync.
type Role string

// The roles Export knows. Each also holds the internal CA's certificate
// and its own certificate and key (Link).
const (
	// RoleEdge: the UTC-SIGN public key (which stays secret until the
	// close: it tells genuine stamps from decoys), UTC-HOLE (the edge
	// signs every decoy stamp itself, afresh for each answer; a decoy is
	// worth nothing to whoever steals the key: votes carrying one are
	// refused) and the voter-stamp key.
	RoleEdge Role = "edge"
	// RoleCollector: UTC-SIGN, the TOTP seed and the receipt key.
	RoleCollector Role = "collector"
	// RolePublisher: the log key and the public halves of UTC-SIGN,
	// UTC-HOLE and the receipt key, which it publishes at the close.
	RolePublisher Role = "publisher"
)

// Roles are the roles in the order the documentation lists them.
var Roles = []Role{RoleEdge, RoleCollector, RolePublisher}

// ErrRole means a role name is not one of Roles.
var ErrRole = errors.New("unknown role")

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("campaign: %w %q: want one of %s", ErrRole, s, strings.Join(names, ", "))
}

// Public halves, in SecretsDir next to the private keys: UTC-SIGN's must
// stay as secret as the rest until the close, so they share the rules of
// secret files.
const (
	fileUTCSignPub = "utc-sign.pub"
	fileUTCHolePub = "utc-hole.pub"
	fileReceiptPub = "receipt.pub"
)

// roleFiles are the files of SecretsDir each role holds.
var roleFiles = map[Role][]string{
	RoleEdge:      {fileUTCSignPub, fileUTCHole, fileVoterStamp, fileLinkCACert},
	RoleCollector: {fileUTCSign, fileTOTPSeed, fileReceipt, fileLinkCACert},
	RolePublisher: {fileLog, fileUTCSignPub, fileUTCHolePub, fileReceiptPub, fileLinkCACert},
}

// RoleFiles returns the names of the files in SecretsDir that role holds.
func RoleFiles(role Role) []string { return slices.Clone(roleFiles[role]) }

// privateOf names the private key a public half can be derived from, in a
// directory that holds every secret.
var privateOf = map[string]string{
	fileUTCSignPub: fileUTCSign,
	fileUTCHolePub: fileUTCHole,
	fileReceiptPub: fileReceipt,
}

// secretFile reads or writes one file of SecretsDir into or out of a
// Secrets.
type secretFile struct {
	read  func(path string, sec *Secrets) error
	write func(path string, sec *Secrets) error
	held  func(sec *Secrets) bool // sec holds it, well formed
}

func ed25519File(key func(*Secrets) *ed25519.PrivateKey) secretFile {
	return secretFile{
		read: func(p string, sec *Secrets) (err error) {
			*key(sec), err = keyfile.ReadEd25519(p)
			return err
		},
		write: func(p string, sec *Secrets) error { return keyfile.WriteEd25519(p, *key(sec)) },
		held:  func(sec *Secrets) bool { return len(*key(sec)) == ed25519.PrivateKeySize },
	}
}

func bytesFile(b func(*Secrets) *[]byte) secretFile {
	return secretFile{
		read: func(p string, sec *Secrets) (err error) {
			*b(sec), err = keyfile.Read(p, SecretSize)
			return err
		},
		write: func(p string, sec *Secrets) error { return keyfile.Write(p, *b(sec)) },
		held:  func(sec *Secrets) bool { return len(*b(sec)) == SecretSize },
	}
}

func publicFile(key func(*Secrets) *ed25519.PublicKey) secretFile {
	return secretFile{
		read: func(p string, sec *Secrets) error {
			text, err := keyfile.ReadText(p)
			if err != nil {
				return err
			}
			if *key(sec), err = keyfile.ParsePublicKey(text); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			return nil
		},
		write: func(p string, sec *Secrets) error {
			return keyfile.WriteText(p, base64.StdEncoding.EncodeToString(*key(sec)))
		},
		held: func(sec *Secrets) bool { return len(*key(sec)) == ed25519.PublicKeySize },
	}
}

// publicField are the fields of the public halves, by file.
var publicField = map[string]func(*Secrets) *ed25519.PublicKey{
	fileUTCSignPub: func(s *Secrets) *ed25519.PublicKey { return &s.UTCSignPub },
	fileUTCHolePub: func(s *Secrets) *ed25519.PublicKey { return &s.UTCHolePub },
	fileReceiptPub: func(s *Secrets) *ed25519.PublicKey { return &s.ReceiptPub },
}

// secretFiles reads and writes every file SecretsDir may hold.
var secretFiles = map[string]secretFile{
	fileUTCSign:    ed25519File(func(s *Secrets) *ed25519.PrivateKey { return &s.UTCSign }),
	fileUTCHole:    ed25519File(func(s *Secrets) *ed25519.PrivateKey { return &s.UTCHole }),
	fileReceipt:    ed25519File(func(s *Secrets) *ed25519.PrivateKey { return &s.ReceiptKey }),
	fileTOTPSeed:   bytesFile(func(s *Secrets) *[]byte { return &s.TOTPSeed }),
	fileVoterStamp: bytesFile(func(s *Secrets) *[]byte { return &s.VoterStampKey }),
	fileLinkCAKey:  ed25519File(func(s *Secrets) *ed25519.PrivateKey { return &s.LinkCAKey }),
	fileLinkCACert: {
		read: func(p string, sec *Secrets) (err error) {
			text, err := keyfile.ReadText(p)
			if err != nil {
				return err
			}
			if sec.LinkCACert, err = mtls.ParseCertPEM(text); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			return nil
		},
		write: func(p string, sec *Secrets) error {
			return keyfile.WriteText(p, strings.TrimSpace(mtls.CertPEM(sec.LinkCACert)))
		},
		held: func(sec *Secrets) bool { return sec.LinkCACert != nil && sec.LinkCACert.IsCA },
	},
	fileLog: {
		read: func(p string, sec *Secrets) (err error) {
			sec.LogKey, err = keyfile.ReadText(p)
			return err
		},
		write: func(p string, sec *Secrets) error { return keyfile.WriteText(p, sec.LogKey) },
		held:  func(sec *Secrets) bool { return sec.LogKey != "" },
	},
	fileUTCSignPub: publicFile(publicField[fileUTCSignPub]),
	fileUTCHolePub: publicFile(publicField[fileUTCHolePub]),
	fileReceiptPub: publicFile(publicField[fileReceiptPub]),
}

// derivePublic sets the public halves of the private keys sec holds.
func (sec *Secrets) derivePublic() {
	for _, k := range []struct {
		priv ed25519.PrivateKey
		pub  *ed25519.PublicKey
	}{{sec.UTCSign, &sec.UTCSignPub}, {sec.UTCHole, &sec.UTCHolePub}, {sec.ReceiptKey, &sec.ReceiptPub}} {
		if len(k.priv) == ed25519.PrivateKeySize {
			*k.pub = k.priv.Public().(ed25519.PublicKey)
		}
	}
}

// LoadRole reads a campaign's settings and the secrets of one role, from a
// directory that Export wrote for that role or from one that holds every
// secret. In the latter, a public half the role needs is derived from its
// private key, which is then cleared: the process holds the role's
// secrets only.
func LoadRole(dir, name string, role Role) (*Campaign, error) {
	files, ok := roleFiles[role]
	if !ok {
		return nil, fmt.Errorf("campaign: %w %q", ErrRole, role)
	}
	return load(dir, name, files, role)
}

// load reads the settings and the given files of SecretsDir (for role, or
// every secret when role is ""), and checks them.
func load(dir, name string, files []string, role Role) (*Campaign, error) {
	s, err := LoadSettings(dir, name)
	if err != nil {
		return nil, err
	}
	cdir := filepath.Join(dir, name)
	sdir, err := secretsDir(cdir)
	if err != nil {
		return nil, err
	}
	var sec Secrets
	for _, f := range files {
		p := filepath.Join(sdir, f)
		if priv, derived := privateOf[f]; derived {
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				var full Secrets
				if err := secretFiles[priv].read(filepath.Join(sdir, priv), &full); err != nil {
					return nil, fmt.Errorf("campaign: %s for role %s: %w", f, role, err)
				}
				full.derivePublic()
				*publicField[f](&sec) = *publicField[f](&full)
				full.clear()
				continue
			}
		}
		if err := secretFiles[f].read(p, &sec); err != nil {
			if role != "" {
				// A directory exported for another role lacks this file.
				return nil, fmt.Errorf("campaign: role %s needs %s: %w", role, f, err)
			}
			return nil, fmt.Errorf("campaign: %w", err)
		}
	}
	sec.derivePublic()
	if err := sec.validate(name, files, role); err != nil {
		return nil, err
	}
	return &Campaign{Dir: cdir, Settings: s, Secrets: &sec}, nil
}

// clear overwrites the private keys and secrets sec holds, as far as Go
// allows (keyfile's package comment).
func (sec *Secrets) clear() {
	for _, b := range [][]byte{sec.UTCSign, sec.UTCHole, sec.ReceiptKey, sec.TOTPSeed, sec.VoterStampKey, sec.LinkCAKey} {
		clear(b)
	}
}

// secretsDir returns cdir's SecretsDir once it has checked its mode.
func secretsDir(cdir string) (string, error) {
	sdir := filepath.Join(cdir, SecretsDir)
	st, err := os.Stat(sdir)
	if err != nil {
		return "", fmt.Errorf("campaign: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("campaign: %s has mode %04o: %w", sdir, st.Mode().Perm(), keyfile.ErrPermissions)
	}
	return sdir, nil
}

// validate checks that sec holds the secrets of files, each well formed
// (for role, or a whole campaign when role is "").
func (sec *Secrets) validate(name string, files []string, role Role) error {
	for _, f := range files {
		if !secretFiles[f].held(sec) {
			what := "missing or malformed"
			if role != "" {
				what += " for role " + string(role)
			}
			return &FieldError{"secrets/" + f, fmt.Errorf("%s: %w", what, ErrSyntax)}
		}
	}
	if sec.UTCSignPub != nil && sec.UTCSignPub.Equal(sec.UTCHolePub) {
		f := fileUTCHolePub
		if slices.Contains(files, fileUTCHole) {
			f = fileUTCHole
		}
		return &FieldError{"secrets/" + f, errors.New("same key as utc-sign: decoy stamps would be genuine")}
	}
	if c := sec.LinkCACert; c != nil {
		ca := mtls.CA{Cert: c}
		if ca.Campaign() != name {
			return &FieldError{"secrets/" + fileLinkCACert, fmt.Errorf("CA of campaign %q, want %q", ca.Campaign(), name)}
		}
		if pub, ok := c.PublicKey.(ed25519.PublicKey); sec.LinkCAKey != nil && (!ok || !pub.Equal(sec.LinkCAKey.Public())) {
			return &FieldError{"secrets/" + fileLinkCAKey, errors.New("not the key of " + fileLinkCACert)}
		}
	}
	if sec.LogKey != "" {
		signer, err := note.NewSigner(sec.LogKey)
		if err != nil {
			return &FieldError{"secrets/" + fileLog, fmt.Errorf("not a note signer key: %w", ErrSyntax)}
		}
		if signer.Name() != LogKeyName(name) {
			return &FieldError{"secrets/" + fileLog, fmt.Errorf("key name %q, want %q", signer.Name(), LogKeyName(name))}
		}
	}
	return nil
}

// Export writes into dir/<name> the campaign's settings, the secrets of
// one role and a certificate and key for its internal links, issued as o
// says: what one machine of a deployment needs (docs/DEPLOY.md). c must
// hold every secret the role needs and the internal CA's key. It refuses
// to touch an existing campaign directory (RenewLink renews the
// certificate of one).
func Export(c *Campaign, role Role, dir string, o ExportOptions) (*Campaign, error) {
	files, ok := roleFiles[role]
	if !ok {
		return nil, fmt.Errorf("campaign: %w %q", ErrRole, role)
	}
	name := c.Settings.Name
	sec := *c.Secrets
	sec.derivePublic()
	if err := sec.validate(name, files, role); err != nil {
		return nil, fmt.Errorf("campaign: export %s for role %s: %w", name, role, err)
	}
	data, err := c.Settings.Marshal()
	if err != nil {
		return nil, err
	}
	cdir := filepath.Join(dir, name)
	if _, err := os.Stat(filepath.Join(cdir, SettingsFile)); err == nil {
		return nil, fmt.Errorf("campaign: %s already holds campaign %q", dir, name)
	}
	if err := os.MkdirAll(filepath.Join(cdir, SecretsDir), 0o700); err != nil {
		return nil, fmt.Errorf("campaign: create %s: %w", cdir, err)
	}
	cert, err := issueLink(c, role, o)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := secretFiles[f].write(filepath.Join(cdir, SecretsDir, f), &sec); err != nil {
			return nil, fmt.Errorf("campaign: export %s: %w", f, err)
		}
	}
	if err := writeLink(filepath.Join(cdir, SecretsDir), cert); err != nil {
		return nil, err
	}
	// A deployment map names the booths; the edge and the others do not
	// read it, but it is public and travels with the settings.
	if b, err := os.ReadFile(filepath.Join(c.Dir, BoothMapFile)); err == nil {
		if err := writeFileSync(filepath.Join(cdir, BoothMapFile), b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := writeFileSync(filepath.Join(cdir, SettingsFile), data, 0o644); err != nil {
		return nil, err
	}
	return LoadRole(dir, name, role)
}

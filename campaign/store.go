package campaign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/internal/mtls"
)

// Names of the files of a campaign directory.
const (
	SettingsFile     = "campaign.yaml"
	SecretsDir       = "secrets"
	DemoAuthorityKey = "demo-authority.key" // only when init generated the authority
	BoothMapFile     = "booths.yaml"        // public deployment map of booth code generators
)

// Secret file names inside SecretsDir.
const (
	fileUTCSign    = "utc-sign.key"
	fileUTCHole    = "utc-hole.key"
	fileTOTPSeed   = "totp.seed"
	fileVoterStamp = "voter-stamp.key"
	fileLinkCACert = "internal-ca.crt" // the internal links' CA (package mtls), PEM
	fileLinkCAKey  = "internal-ca.key" // its key: the operator's, never on a server
	fileReceipt    = "receipt.key"
	fileLog        = "log.key"
)

// SecretSize is the size of the symmetric secrets (TOTP seed, voter-stamp
// key).
const SecretSize = 32

// Secrets are the platform's secrets for one campaign. None of them may
// reach a log or a client.
type Secrets struct {
	UTCSign       ed25519.PrivateKey // signs genuine platform stamps
	UTCHole       ed25519.PrivateKey // signs decoy stamps
	TOTPSeed      []byte             // booth codes (RFC 6238 secret)
	VoterStampKey []byte             // HMAC key of voter stamps
	ReceiptKey    ed25519.PrivateKey // signs receipts
	LogKey        string             // signs checkpoints; golang.org/x/mod/sumdb/note signer key

	// The certificate authority of the internal links (package mtls):
	// every role holds its certificate, only the operator's directory
	// its key, which issues each process's certificate (Export, Link).
	LinkCACert *x509.Certificate
	LinkCAKey  ed25519.PrivateKey

	// The public halves, set by Load and LoadRole whenever the private
	// key or a public file is at hand. UTCSignPub stays secret until the
	// close.
	UTCSignPub, UTCHolePub, ReceiptPub ed25519.PublicKey
}

// allFiles are the files of SecretsDir that Create writes and Load reads.
var allFiles = []string{fileUTCSign, fileUTCHole, fileReceipt, fileTOTPSeed, fileVoterStamp, fileLinkCACert, fileLinkCAKey, fileLog}

// ErrNoCampaign means a directory holds no campaign of that name.
var ErrNoCampaign = errors.New("no campaign")

// Campaign is a loaded campaign directory.
type Campaign struct {
	Dir      string // D/<name>
	Settings *Settings
	Secrets  *Secrets
}

// LogKeyName is the name inside the checkpoint signing key of a campaign.
func LogKeyName(campaign string) string { return "powvote-" + campaign }

// GenerateSecrets makes fresh platform secrets. rand nil means crypto/rand.
func GenerateSecrets(name string, r io.Reader) (*Secrets, error) {
	if r == nil {
		r = rand.Reader
	}
	var s Secrets
	var err error
	for _, k := range []*ed25519.PrivateKey{&s.UTCSign, &s.UTCHole, &s.ReceiptKey} {
		if _, *k, err = ed25519.GenerateKey(r); err != nil {
			return nil, fmt.Errorf("campaign: generate key: %w", err)
		}
	}
	for _, b := range []*[]byte{&s.TOTPSeed, &s.VoterStampKey} {
		*b = make([]byte, SecretSize)
		if _, err := io.ReadFull(r, *b); err != nil {
			return nil, fmt.Errorf("campaign: generate secret: %w", err)
		}
	}
	if s.LogKey, _, err = note.GenerateKey(r, LogKeyName(name)); err != nil {
		return nil, fmt.Errorf("campaign: generate log key: %w", err)
	}
	ca, err := mtls.NewCA(name, time.Now())
	if err != nil {
		return nil, fmt.Errorf("campaign: generate the internal CA: %w", err)
	}
	s.LinkCACert, s.LinkCAKey = ca.Cert, ca.Key
	return &s, nil
}

// Create writes a new campaign into dir/<name>. It refuses to touch an
// existing campaign: its secrets are irreplaceable.
func Create(dir string, s *Settings, sec *Secrets) (*Campaign, error) {
	data, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	sec.derivePublic()
	if err := sec.validate(s.Name, allFiles, ""); err != nil {
		return nil, err
	}
	cdir := filepath.Join(dir, s.Name)
	if _, err := os.Stat(filepath.Join(cdir, SettingsFile)); err == nil {
		return nil, fmt.Errorf("campaign: %s already holds campaign %q", dir, s.Name)
	}
	if err := os.MkdirAll(filepath.Join(cdir, SecretsDir), 0o700); err != nil {
		return nil, fmt.Errorf("campaign: create %s: %w", cdir, err)
	}
	for _, f := range allFiles {
		if err := secretFiles[f].write(filepath.Join(cdir, SecretsDir, f), sec); err != nil {
			return nil, fmt.Errorf("campaign: %w", err)
		}
	}
	// The secrets' names are durable before the settings file is written:
	// its presence marks a complete campaign.
	if err := durable.SyncDir(filepath.Join(cdir, SecretsDir)); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	if err := writeFileSync(filepath.Join(cdir, SettingsFile), data, 0o644); err != nil {
		return nil, err
	}
	return &Campaign{Dir: cdir, Settings: s, Secrets: sec}, nil
}

// writeFileSync replaces path with data durably (durable.WriteFile).
func writeFileSync(path string, data []byte, mode fs.FileMode) error {
	if err := durable.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	return nil
}

// LoadSettings reads only the public settings of dir/<name>.
func LoadSettings(dir, name string) (*Settings, error) {
	if err := ValidateName(name); err != nil {
		return nil, &FieldError{"name", err}
	}
	path := filepath.Join(dir, name, SettingsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("campaign: %s: %w %q", dir, ErrNoCampaign, name)
		}
		return nil, fmt.Errorf("campaign: read %s: %w", path, err)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Name != name {
		return nil, fmt.Errorf("%s: %w", path, &FieldError{"name", fmt.Errorf("%q does not match its directory %q", s.Name, name)})
	}
	return s, nil
}

// Load reads and checks a campaign's settings and every secret.
func Load(dir, name string) (*Campaign, error) { return load(dir, name, allFiles, "") }

// List returns the names of the campaigns in dir, sorted. A missing dir holds
// none.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("campaign: list %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() || ValidateName(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), SettingsFile)); err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Resolve picks the campaign to act on: name when given, else the only
// campaign in dir.
func Resolve(dir, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	names, err := List(dir)
	if err != nil {
		return "", err
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("campaign: %s: %w (create one with powvote init)", dir, ErrNoCampaign)
	case 1:
		return names[0], nil
	default:
		return "", fmt.Errorf("campaign: %s holds %d campaigns %v: name one with --campaign", dir, len(names), names)
	}
}

// DemoOptions are the nine planets of the reference deployment's ballot, in
// its order and spelling, so that clients written for it work unchanged.
var DemoOptions = []string{
	"Evil Neptune", "Firy Mercury", "Beauty Venus", "Legend Earth", "Warriar Mars",
	"Bold Jupiter", "Shiny Saturn", "Humble Pluto", "Cross Uranus",
}

// Demo returns the settings of the demo campaign "solar": open from a minute
// before now for 30 days, with a threshold low enough that a vote takes
// seconds on a phone.
func Demo(now time.Time, authority ed25519.PublicKey) *Settings {
	return &Settings{
		Name:        "solar",
		Options:     append([]string(nil), DemoOptions...),
		Authorities: []ed25519.PublicKey{authority},
		Threshold:   18,
		BatchSize:   4,
		Start:       now.Add(-time.Minute).Truncate(time.Second).UTC(),
		End:         now.Add(30 * 24 * time.Hour).Truncate(time.Second).UTC(),
		MaxStampAge: 30 * time.Minute,
	}
}

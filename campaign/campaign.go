// Package campaign holds a campaign's public settings and its platform
// secrets, and refuses any that are inconsistent. A campaign lives in
// D/<name>/: campaign.yaml holds the public settings and secrets/ holds one
// file (mode 0600) per platform secret.
//
// The public settings file looks like this (times are RFC 3339 or Unix
// seconds, durations Go durations such as "30m"):
//
//	name: solar
//	options:
//	  - Evil Neptune
//	  - Firy Mercury
//	authorities:
//	  - uBgXBic6v49QdygE5tp79RRnnqIScyZAd9t4hkBUhjQ=
//	threshold: 20
//	batch_size: 10
//	start: 2026-11-22T00:00:00Z
//	end: 2026-12-22T00:00:00Z
//	max_stamp_age: 30m
//	list_max_age: 1h
//
// Every field but list_max_age is required; unknown fields are refused so
// that a misspelt setting never silently falls back to a default.
package campaign

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/powvote/powvote/keyfile"
)

// Limits from the wire protocol.
const (
	MaxOptions      = 99  // Say01..Say99
	MaxOptionLength = 200 // bytes of UTF-8; keeps headers and list lines bounded
	MinThreshold    = 1
	MaxThreshold    = 64
	MaxNameLength   = 63 // one DNS label: the campaign is chosen by the first Host label
)

// DefaultListMaxAge is the Cache-Control max-age of /list when the settings
// do not name one.
const DefaultListMaxAge = time.Hour

// Settings are a campaign's public settings, validated.
type Settings struct {
	Name        string              // DNS label, lower case
	Options     []string            // ballot order
	Authorities []ed25519.PublicKey // mandates signed by these keys are accepted
	Threshold   int                 // proof-of-work bits, 1..64
	BatchSize   int                 // lines per published batch, >= 1
	Start, End  time.Time           // votes are accepted for stamps in [Start, End]
	MaxStampAge time.Duration       // oldest platform stamp a vote may carry
	ListMaxAge  time.Duration       // Cache-Control max-age of /list; zero means DefaultListMaxAge
}

// FieldError names the setting that is wrong and why.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return "campaign: " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Sentinel errors wrapped by FieldError, for callers and tests that branch.
var (
	ErrMissing   = errors.New("missing")
	ErrDuplicate = errors.New("duplicate")
	ErrRange     = errors.New("out of range")
	ErrSyntax    = errors.New("bad syntax")
)

// file is the YAML shape; strings keep the user's spelling so errors can
// quote it.
type file struct {
	Name        string   `yaml:"name"`
	Options     []string `yaml:"options"`
	Authorities []string `yaml:"authorities"`
	Threshold   *int     `yaml:"threshold"`
	BatchSize   *int     `yaml:"batch_size"`
	Start       string   `yaml:"start"`
	End         string   `yaml:"end"`
	MaxStampAge string   `yaml:"max_stamp_age"`
	ListMaxAge  string   `yaml:"list_max_age,omitempty"`
}

// maxSettingsSize bounds what Parse reads: 99 options of 200 bytes and a few
// hundred authority keys fit easily.
const maxSettingsSize = 1 << 20

// Parse decodes and validates public settings.
func Parse(data []byte) (*Settings, error) {
	if len(data) > maxSettingsSize {
		return nil, fmt.Errorf("campaign: settings are %d bytes, more than %d", len(data), maxSettingsSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("campaign: settings are empty")
		}
		return nil, fmt.Errorf("campaign: settings: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("campaign: settings hold more than one YAML document")
	}
	return f.settings()
}

func (f *file) settings() (*Settings, error) {
	s := &Settings{Name: f.Name, Options: f.Options}
	if f.Threshold == nil {
		return nil, &FieldError{"threshold", ErrMissing}
	}
	s.Threshold = *f.Threshold
	if f.BatchSize == nil {
		return nil, &FieldError{"batch_size", ErrMissing}
	}
	s.BatchSize = *f.BatchSize
	for i, a := range f.Authorities {
		k, err := keyfile.ParsePublicKey(a)
		if err != nil {
			return nil, &FieldError{fmt.Sprintf("authorities[%d]", i), fmt.Errorf("%q: %w", a, err)}
		}
		s.Authorities = append(s.Authorities, k)
	}
	var err error
	if s.Start, err = parseTimeField("start", f.Start); err != nil {
		return nil, err
	}
	if s.End, err = parseTimeField("end", f.End); err != nil {
		return nil, err
	}
	if s.MaxStampAge, err = parseDurationField("max_stamp_age", f.MaxStampAge, true); err != nil {
		return nil, err
	}
	if s.ListMaxAge, err = parseDurationField("list_max_age", f.ListMaxAge, false); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func parseTimeField(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, &FieldError{field, ErrMissing}
	}
	t, err := ParseTime(v)
	if err != nil {
		return time.Time{}, &FieldError{field, err}
	}
	return t, nil
}

func parseDurationField(field, v string, required bool) (time.Duration, error) {
	if v == "" {
		if required {
			return 0, &FieldError{field, ErrMissing}
		}
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &FieldError{field, fmt.Errorf("%q is not a duration like 30m: %w", v, ErrSyntax)}
	}
	if d <= 0 {
		return 0, &FieldError{field, fmt.Errorf("%s is not positive: %w", v, ErrRange)}
	}
	return d, nil
}

// ParseTime reads RFC 3339 or Unix seconds.
func ParseTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("%s is not a plausible Unix time: %w", v, ErrRange)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds: %w", v, ErrSyntax)
	}
	return t.UTC(), nil
}

// Validate checks settings built in code the same way Parse checks a file.
func (s *Settings) Validate() error {
	if err := ValidateName(s.Name); err != nil {
		return &FieldError{"name", err}
	}
	if len(s.Options) == 0 {
		return &FieldError{"options", ErrMissing}
	}
	if len(s.Options) > MaxOptions {
		return &FieldError{"options", fmt.Errorf("%d options, at most %d: %w", len(s.Options), MaxOptions, ErrRange)}
	}
	seen := make(map[string]int, len(s.Options))
	for i, o := range s.Options {
		field := fmt.Sprintf("options[%d]", i)
		if err := ValidateOption(o); err != nil {
			return &FieldError{field, err}
		}
		if j, dup := seen[o]; dup {
			return &FieldError{field, fmt.Errorf("%q is also options[%d]: %w", o, j, ErrDuplicate)}
		}
		seen[o] = i
	}
	if len(s.Authorities) == 0 {
		return &FieldError{"authorities", ErrMissing}
	}
	keys := make(map[string]int, len(s.Authorities))
	for i, k := range s.Authorities {
		field := fmt.Sprintf("authorities[%d]", i)
		if len(k) != ed25519.PublicKeySize {
			return &FieldError{field, fmt.Errorf("key is %d bytes, want 32: %w", len(k), ErrSyntax)}
		}
		if j, dup := keys[string(k)]; dup {
			return &FieldError{field, fmt.Errorf("same key as authorities[%d]: %w", j, ErrDuplicate)}
		}
		keys[string(k)] = i
	}
	if s.Threshold < MinThreshold || s.Threshold > MaxThreshold {
		return &FieldError{"threshold", fmt.Errorf("%d is outside %d..%d: %w", s.Threshold, MinThreshold, MaxThreshold, ErrRange)}
	}
	if s.BatchSize < 1 {
		return &FieldError{"batch_size", fmt.Errorf("%d is less than 1: %w", s.BatchSize, ErrRange)}
	}
	if s.Start.IsZero() {
		return &FieldError{"start", ErrMissing}
	}
	if s.End.IsZero() {
		return &FieldError{"end", ErrMissing}
	}
	if !s.End.After(s.Start) {
		return &FieldError{"end", fmt.Errorf("%s is not after start %s: %w", s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339), ErrRange)}
	}
	if s.MaxStampAge <= 0 {
		return &FieldError{"max_stamp_age", fmt.Errorf("%v is not positive: %w", s.MaxStampAge, ErrRange)}
	}
	if s.ListMaxAge < 0 {
		return &FieldError{"list_max_age", fmt.Errorf("%v is negative: %w", s.ListMaxAge, ErrRange)}
	}
	return nil
}

// ValidateName checks that name can be the first label of a Host name.
func ValidateName(name string) error {
	if name == "" {
		return ErrMissing
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("%q is longer than %d characters: %w", name, MaxNameLength, ErrRange)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && i > 0 && i < len(name)-1
		if !ok {
			return fmt.Errorf("%q is not a lower-case DNS label (a-z, 0-9, inner '-'): %w", name, ErrSyntax)
		}
	}
	return nil
}

// ValidateOption checks an option text against what the list format and the
// headers of the protocol can carry: valid UTF-8, no '"', no line break or
// other control character, no surrounding spaces (header values lose them).
func ValidateOption(o string) error {
	if o == "" {
		return fmt.Errorf("empty option: %w", ErrMissing)
	}
	if len(o) > MaxOptionLength {
		return fmt.Errorf("option is %d bytes, at most %d: %w", len(o), MaxOptionLength, ErrRange)
	}
	if !utf8.ValidString(o) {
		return fmt.Errorf("%q is not valid UTF-8: %w", o, ErrSyntax)
	}
	for _, r := range o {
		switch {
		case r == '"':
			return fmt.Errorf("%q contains '\"', which the votes list uses as a delimiter: %w", o, ErrSyntax)
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			return fmt.Errorf("%q contains a line break: %w", o, ErrSyntax)
		case unicode.IsControl(r):
			return fmt.Errorf("%q contains control character %U: %w", o, r, ErrSyntax)
		}
	}
	if strings.TrimSpace(o) != o {
		return fmt.Errorf("%q starts or ends with a space: %w", o, ErrSyntax)
	}
	return nil
}

// Marshal writes the settings in the file format Parse reads.
func (s *Settings) Marshal() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	f := file{
		Name:        s.Name,
		Options:     s.Options,
		Threshold:   &s.Threshold,
		BatchSize:   &s.BatchSize,
		Start:       s.Start.UTC().Format(time.RFC3339),
		End:         s.End.UTC().Format(time.RFC3339),
		MaxStampAge: s.MaxStampAge.String(),
	}
	if s.ListMaxAge != 0 {
		f.ListMaxAge = s.ListMaxAge.String()
	}
	for _, k := range s.Authorities {
		f.Authorities = append(f.Authorities, base64.StdEncoding.EncodeToString(k))
	}
	var buf bytes.Buffer
	buf.WriteString("# powvote campaign: public settings. Secrets live in secrets/, never here.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&f); err != nil {
		return nil, fmt.Errorf("campaign: encode settings: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("campaign: encode settings: %w", err)
	}
	return buf.Bytes(), nil
}

// CacheMaxAge is the /list max-age with the default applied.
func (s *Settings) CacheMaxAge() time.Duration {
	if s.ListMaxAge == 0 {
		return DefaultListMaxAge
	}
	return s.ListMaxAge
}

// MinNonceMemory is the least time the edge keeps a nonce's answer: the
// nonce cache's 300 s of PROTOCOL.md 5.3.
const MinNonceMemory = 300 * time.Second

// NonceMemory is how long the edge keeps a nonce's answer for this
// campaign: MinNonceMemory at least, and as long as a stamp may be used
// and a minute more, so that a vote cannot be replayed under another
// mandate while its stamp is valid.
func (s *Settings) NonceMemory() time.Duration {
	return max(MinNonceMemory, s.MaxStampAge+time.Minute)
}

// CloseDelay is how long after End the publisher waits before it closes
// the campaign: a collector accepts a vote stamped at End for MaxStampAge
// after it, and the minute covers the twins exchanging it.
func (s *Settings) CloseDelay() time.Duration { return s.MaxStampAge + time.Minute }

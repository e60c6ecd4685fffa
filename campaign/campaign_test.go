package campaign

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/keyfile"
)

var update = flag.Bool("update", false, "rewrite golden files")

const goodYAML = `name: solar
options:
  - Evil Neptune
  - Zürich Nord
authorities:
  - 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
  - 3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c
threshold: 25
batch_size: 100
start: 2026-11-22T00:00:00Z
end: 1795392000
max_stamp_age: 30m
`

func TestParseGood(t *testing.T) {
	s, err := Parse([]byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "solar" || len(s.Options) != 2 || s.Options[1] != "Zürich Nord" || len(s.Authorities) != 2 {
		t.Errorf("parsed %+v", s)
	}
	if s.Threshold != 25 || s.BatchSize != 100 || s.MaxStampAge != 30*time.Minute {
		t.Errorf("numbers: %+v", s)
	}
	if !s.Start.Equal(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) || s.End.Unix() != 1795392000 {
		t.Errorf("times: %v %v", s.Start, s.End)
	}
	if s.CacheMaxAge() != time.Hour {
		t.Errorf("default list max-age %v", s.CacheMaxAge())
	}
	// Marshal writes the canonical form; it must parse back to the same settings.
	out, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "solar.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(want) {
		t.Errorf("Marshal:\n%s\nwant (%s):\n%s", out, golden, want)
	}
	s2, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := s2.Marshal()
	if string(out2) != string(out) {
		t.Errorf("second round trip differs:\n%s", out2)
	}
}

// edit replaces the line starting with key (or appends line when key is "").
func edit(key, line string) string {
	var out []string
	for _, l := range strings.Split(goodYAML, "\n") {
		if key != "" && strings.HasPrefix(l, key) {
			if line != "" {
				out = append(out, line)
			}
			continue
		}
		out = append(out, l)
	}
	if key == "" {
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func TestParseBad(t *testing.T) {
	opts := func(o ...string) string {
		return strings.Replace(goodYAML, "  - Evil Neptune\n  - Zürich Nord\n", "  - "+strings.Join(o, "\n  - ")+"\n", 1)
	}
	many := make([]string, 100)
	for i := range many {
		many[i] = "Option " + string(rune('A'+i%26)) + strings.Repeat("x", i/26)
	}
	tests := []struct {
		name, yaml, field string
		err               error
		msg               string // substring of the message
	}{
		{"unknown key", edit("", "colour: blue"), "", nil, "field colour not found"},
		{"misspelt key", edit("batch_size", "batchsize: 10"), "", nil, "field batchsize not found"},
		{"duplicate key", edit("", "threshold: 20"), "", nil, "already defined"},
		{"two documents", goodYAML + "---\nname: x\n", "", nil, "more than one YAML document"},
		{"empty", "", "", nil, "empty"},
		{"no name", edit("name:", ""), "name", ErrMissing, ""},
		{"upper-case name", edit("name:", "name: Solar"), "name", ErrSyntax, ""},
		{"dotted name", edit("name:", "name: so.lar"), "name", ErrSyntax, ""},
		{"duplicate option", opts("Pluto", "Mars", "Pluto"), "options[2]", ErrDuplicate, "options[0]"},
		{"quote in option", opts(`'Say "hi"'`), "options[0]", ErrSyntax, `'"'`},
		{"line break in option", opts(`"a\nb"`), "options[0]", ErrSyntax, "line break"},
		{"CR in option", opts(`"a\rb"`), "options[0]", ErrSyntax, "line break"},
		{"tab in option", opts(`"a\tb"`), "options[0]", ErrSyntax, "control"},
		{"space around option", opts(`" Pluto"`), "options[0]", ErrSyntax, "space"},
		{"empty option", opts(`""`), "options[0]", ErrMissing, ""},
		{"long option", opts(strings.Repeat("x", 201)), "options[0]", ErrRange, ""},
		{"100 options", opts(many...), "options", ErrRange, "at most 99"},
		{"no options", strings.Replace(goodYAML, "  - Evil Neptune\n  - Zürich Nord\n", "", 1), "options", ErrMissing, ""},
		{"bad key base64", strings.Replace(goodYAML, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR!=", 1), "authorities[0]", nil, "neither hex nor base64"},
		{"short key", strings.Replace(goodYAML, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIa", 1), "authorities[0]", nil, "want 32"},
		{"duplicate key", strings.Replace(goodYAML, "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", 1), "authorities[1]", ErrDuplicate, ""},
		{"no authorities", strings.Replace(goodYAML, "authorities:\n  - 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n  - 3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c\n", "", 1), "authorities", ErrMissing, ""},
		{"threshold 0", edit("threshold", "threshold: 0"), "threshold", ErrRange, "outside 1..64"},
		{"threshold 65", edit("threshold", "threshold: 65"), "threshold", ErrRange, "outside 1..64"},
		{"threshold missing", edit("threshold", ""), "threshold", ErrMissing, ""},
		{"threshold text", edit("threshold", "threshold: high"), "", nil, "cannot unmarshal"},
		{"batch 0", edit("batch_size", "batch_size: 0"), "batch_size", ErrRange, ""},
		{"end before start", edit("end:", "end: 2026-11-21T00:00:00Z"), "end", ErrRange, "not after start"},
		{"end equals start", edit("end:", "end: 2026-11-22T00:00:00Z"), "end", ErrRange, "not after start"},
		{"bad start", edit("start:", "start: tomorrow"), "start", ErrSyntax, ""},
		{"missing end", edit("end:", ""), "end", ErrMissing, ""},
		{"bad stamp age", edit("max_stamp_age", "max_stamp_age: 30 minutes"), "max_stamp_age", ErrSyntax, ""},
		{"negative stamp age", edit("max_stamp_age", "max_stamp_age: -5m"), "max_stamp_age", ErrRange, ""},
		{"negative list age", edit("", "list_max_age: -1s"), "list_max_age", ErrRange, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.field != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("error %q does not name field %q", err, tt.field)
				}
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %q is not %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestCreateLoad(t *testing.T) {
	dir := t.TempDir()
	pub, _, _ := ed25519.GenerateKey(nil)
	s := Demo(time.Unix(1_800_000_000, 0), pub)
	if len(s.Options) != 9 {
		t.Fatalf("demo has %d options", len(s.Options))
	}
	sec, err := GenerateSecrets(s.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, s, sec); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, s, sec); err == nil {
		t.Error("second Create over the same campaign: no error")
	}
	c, err := Load(dir, "solar")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Secrets.UTCSign.Equal(sec.UTCSign) || string(c.Secrets.TOTPSeed) != string(sec.TOTPSeed) || c.Secrets.LogKey != sec.LogKey {
		t.Error("loaded secrets differ from created ones")
	}
	if c.Settings.Threshold != s.Threshold || !c.Settings.Start.Equal(s.Start) {
		t.Errorf("loaded settings differ: %+v", c.Settings)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "solar", SecretsDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 8 {
		t.Errorf("%d secret files, want 8", len(entries))
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o", e.Name(), info.Mode().Perm())
		}
	}
	if names, err := List(dir); err != nil || len(names) != 1 || names[0] != "solar" {
		t.Errorf("List = %v, %v", names, err)
	}
	if n, err := Resolve(dir, ""); err != nil || n != "solar" {
		t.Errorf("Resolve = %q, %v", n, err)
	}
}

func TestLoadRefuses(t *testing.T) {
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		pub, _, _ := ed25519.GenerateKey(nil)
		sec, _ := GenerateSecrets("solar", nil)
		if _, err := Create(dir, Demo(time.Now(), pub), sec); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("secret readable by others", func(t *testing.T) {
		dir := setup(t)
		if err := os.Chmod(filepath.Join(dir, "solar", SecretsDir, fileTOTPSeed), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir, "solar")
		if err == nil || !strings.Contains(err.Error(), "totp.seed") || !strings.Contains(err.Error(), "readable by group or others") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("secrets dir open", func(t *testing.T) {
		dir := setup(t)
		if err := os.Chmod(filepath.Join(dir, "solar", SecretsDir), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir, "solar"); err == nil || !strings.Contains(err.Error(), "0755") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("same stamp keys", func(t *testing.T) {
		dir := setup(t)
		p := filepath.Join(dir, "solar", SecretsDir)
		data, _ := os.ReadFile(filepath.Join(p, fileUTCSign))
		os.Remove(filepath.Join(p, fileUTCHole))
		if err := os.WriteFile(filepath.Join(p, fileUTCHole), data, 0o600); err != nil {
			t.Fatal(err)
		}
		var fe *FieldError
		if _, err := Load(dir, "solar"); !errors.As(err, &fe) || fe.Field != "secrets/utc-hole.key" {
			t.Errorf("error %v", err)
		}
	})
	t.Run("internal CA certificate not PEM", func(t *testing.T) {
		dir := setup(t)
		p := filepath.Join(dir, "solar", SecretsDir, fileLinkCACert)
		os.Remove(p)
		if err := os.WriteFile(p, []byte("c2hvcnQ=\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir, "solar"); err == nil || !strings.Contains(err.Error(), fileLinkCACert) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("internal CA key of another CA", func(t *testing.T) {
		dir := setup(t)
		p := filepath.Join(dir, "solar", SecretsDir, fileLinkCAKey)
		os.Remove(p)
		other, _ := GenerateSecrets("solar", nil)
		if err := keyfile.WriteEd25519(p, other.LinkCAKey); err != nil {
			t.Fatal(err)
		}
		var fe *FieldError
		if _, err := Load(dir, "solar"); !errors.As(err, &fe) || fe.Field != "secrets/"+fileLinkCAKey {
			t.Errorf("error %v", err)
		}
	})
	t.Run("internal CA of another campaign", func(t *testing.T) {
		dir := setup(t)
		other, _ := GenerateSecrets("city", nil)
		for f, write := range map[string]func(string) error{
			fileLinkCACert: func(p string) error { return keyfile.WriteText(p, strings.TrimSpace(mtls.CertPEM(other.LinkCACert))) },
			fileLinkCAKey:  func(p string) error { return keyfile.WriteEd25519(p, other.LinkCAKey) },
		} {
			p := filepath.Join(dir, "solar", SecretsDir, f)
			os.Remove(p)
			if err := write(p); err != nil {
				t.Fatal(err)
			}
		}
		var fe *FieldError
		if _, err := Load(dir, "solar"); !errors.As(err, &fe) || fe.Field != "secrets/"+fileLinkCACert {
			t.Errorf("error %v", err)
		}
	})
	t.Run("log key of another campaign", func(t *testing.T) {
		dir := setup(t)
		p := filepath.Join(dir, "solar", SecretsDir, fileLog)
		other, _ := GenerateSecrets("city", nil)
		os.Remove(p)
		if err := os.WriteFile(p, []byte(other.LogKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var fe *FieldError
		if _, err := Load(dir, "solar"); !errors.As(err, &fe) || fe.Field != "secrets/log.key" {
			t.Errorf("error %v", err)
		}
	})
	t.Run("name differs from directory", func(t *testing.T) {
		dir := setup(t)
		if err := os.Rename(filepath.Join(dir, "solar"), filepath.Join(dir, "lunar")); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir, "lunar"); err == nil || !strings.Contains(err.Error(), "does not match its directory") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no campaign", func(t *testing.T) {
		if _, err := Load(t.TempDir(), "solar"); !errors.Is(err, ErrNoCampaign) {
			t.Errorf("error %v", err)
		}
		if _, err := Resolve(t.TempDir(), ""); !errors.Is(err, ErrNoCampaign) {
			t.Errorf("Resolve error %v", err)
		}
	})
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1700000000": 1700000000, "2026-11-22T10:00:00+01:00": 1795338000} {
		got, err := ParseTime(in)
		if err != nil || got.Unix() != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %d", in, got.Unix(), err, want)
		}
	}
	for _, in := range []string{"", "-1", "yesterday", "2026-11-22", "99999999999999"} {
		if _, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q): no error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodYAML))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		// Whatever parses is valid and survives its own canonical form unchanged.
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("parsed settings do not marshal: %v", err)
		}
		s2, err := Parse(out)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, out)
		}
		out2, err := s2.Marshal()
		if err != nil || string(out2) != string(out) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", out, out2)
		}
	})
}

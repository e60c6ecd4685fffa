package campaign

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/powvote/powvote/keyfile"
)

// held reports which secrets sec holds, by file name.
func held(sec *Secrets) []string {
	var names []string
	for _, h := range []struct {
		file string
		has  bool
	}{
		{fileUTCSign, sec.UTCSign != nil}, {fileUTCHole, sec.UTCHole != nil}, {fileReceipt, sec.ReceiptKey != nil},
		{fileTOTPSeed, sec.TOTPSeed != nil}, {fileVoterStamp, sec.VoterStampKey != nil},
		{fileLinkCACert, sec.LinkCACert != nil}, {fileLinkCAKey, sec.LinkCAKey != nil},
		{fileLog, sec.LogKey != ""},
		{fileUTCSignPub, sec.UTCSignPub != nil}, {fileUTCHolePub, sec.UTCHolePub != nil}, {fileReceiptPub, sec.ReceiptPub != nil},
	} {
		if h.has {
			names = append(names, h.file)
		}
	}
	slices.Sort(names)
	return names
}

// wantHeld is what a process of role holds: its files, and the public
// halves of the private keys among them.
func wantHeld(role Role) []string {
	names := RoleFiles(role)
	for pub, priv := range privateOf {
		if slices.Contains(names, priv) && !slices.Contains(names, pub) {
			names = append(names, pub)
		}
	}
	slices.Sort(names)
	return names
}

func TestExportRoles(t *testing.T) {
	full := fullCampaign(t)
	for _, role := range Roles {
		t.Run(string(role), func(t *testing.T) {
			out := t.TempDir()
			x, err := Export(full, role, out, AnyInstance)
			if err != nil {
				t.Fatal(err)
			}
			// The directory holds the role's files and nothing else, each
			// 0600 in a 0700 directory.
			sdir := filepath.Join(out, "solar", SecretsDir)
			if st, err := os.Stat(sdir); err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("secrets dir: %v, mode %v", err, st.Mode().Perm())
			}
			entries, err := os.ReadDir(sdir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
				info, _ := e.Info()
				if info.Mode().Perm() != keyfile.Mode {
					t.Errorf("%s has mode %v, want %v", e.Name(), info.Mode().Perm(), keyfile.Mode)
				}
			}
			// and the role's certificate and key for the internal links.
			want := append(RoleFiles(role), fileLinkCert, fileLinkKey)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("exported %v, want %v", got, want)
			}
			// LoadRole gives back exactly the role's secrets, equal to
			// the originals.
			if h := held(x.Secrets); !slices.Equal(h, wantHeld(role)) {
				t.Errorf("loaded %v, want %v", h, wantHeld(role))
			}
			same(t, x.Secrets, full.Secrets)
			if x.Settings.Name != "solar" || !x.Settings.End.Equal(full.Settings.End) {
				t.Errorf("settings %+v", x.Settings)
			}
			// No other role, and no full Load, starts from it.
			if _, err := Load(out, "solar"); err == nil {
				t.Error("Load of a role directory succeeded")
			}
			for _, other := range Roles {
				if other == role {
					continue
				}
				if _, err := LoadRole(out, "solar", other); err == nil {
					t.Errorf("LoadRole %s of the %s directory succeeded", other, role)
				}
			}
			if _, err := Export(full, role, out, AnyInstance); err == nil {
				t.Error("a second export over the first succeeded")
			}
		})
	}
}

// same checks that every secret got holds equals want's.
func same(t *testing.T, got, want *Secrets) {
	t.Helper()
	for _, k := range []struct {
		name      string
		got, want []byte
	}{
		{"UTCSign", got.UTCSign, want.UTCSign}, {"UTCHole", got.UTCHole, want.UTCHole}, {"ReceiptKey", got.ReceiptKey, want.ReceiptKey},
		{"TOTPSeed", got.TOTPSeed, want.TOTPSeed}, {"VoterStampKey", got.VoterStampKey, want.VoterStampKey},
		{"LinkCAKey", got.LinkCAKey, want.LinkCAKey},
		{"UTCSignPub", got.UTCSignPub, want.UTCSignPub}, {"UTCHolePub", got.UTCHolePub, want.UTCHolePub}, {"ReceiptPub", got.ReceiptPub, want.ReceiptPub},
	} {
		if k.got != nil && string(k.got) != string(k.want) {
			t.Errorf("%s differs from the original", k.name)
		}
	}
	if got.LinkCACert != nil && !got.LinkCACert.Equal(want.LinkCACert) {
		t.Error("LinkCACert differs from the original")
	}
	if got.LogKey != "" && got.LogKey != want.LogKey {
		t.Error("LogKey differs from the original")
	}
}

// fullCampaign creates a campaign with every secret and loads it.
func fullCampaign(t *testing.T) *Campaign {
	t.Helper()
	dir := t.TempDir()
	pub, _, _ := ed25519.GenerateKey(nil)
	sec, err := GenerateSecrets("solar", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, Demo(time.Now(), pub), sec); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir, "solar")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestLoadRoleFromFull loads each role from a directory that holds every
// secret: a public half is derived, and the private key it came from is
// not kept.
func TestLoadRoleFromFull(t *testing.T) {
	full := fullCampaign(t)
	dir := filepath.Dir(full.Dir)
	for _, role := range Roles {
		c, err := LoadRole(dir, "solar", role)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if h := held(c.Secrets); !slices.Equal(h, wantHeld(role)) {
			t.Errorf("%s: loaded %v, want %v", role, h, wantHeld(role))
		}
		same(t, c.Secrets, full.Secrets)
	}
}

func TestLoadRoleRefuses(t *testing.T) {
	full := fullCampaign(t)
	if _, err := ParseRole("root"); !errors.Is(err, ErrRole) {
		t.Errorf("ParseRole(root): %v, want ErrRole", err)
	}
	if _, err := LoadRole(filepath.Dir(full.Dir), "solar", Role("root")); !errors.Is(err, ErrRole) {
		t.Errorf("LoadRole(root): %v, want ErrRole", err)
	}
	for _, tc := range []struct {
		name  string
		role  Role
		spoil func(sdir string) error
		want  error
	}{
		{"public half not a key", RoleEdge, func(sdir string) error {
			return os.WriteFile(filepath.Join(sdir, fileUTCSignPub), []byte("bm90IGEga2V5\n"), 0o600)
		}, keyfile.ErrEncoding},
		{"public half group-readable", RolePublisher, func(sdir string) error {
			return os.Chmod(filepath.Join(sdir, fileReceiptPub), 0o640)
		}, keyfile.ErrPermissions},
		{"secrets dir group-readable", RoleCollector, func(sdir string) error {
			return os.Chmod(sdir, 0o750)
		}, keyfile.ErrPermissions},
		{"file missing", RoleCollector, func(sdir string) error {
			return os.Remove(filepath.Join(sdir, fileTOTPSeed))
		}, os.ErrNotExist},
		{"hole equals sign", RolePublisher, func(sdir string) error {
			b, err := os.ReadFile(filepath.Join(sdir, fileUTCSignPub))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(sdir, fileUTCHolePub), b, 0o600)
		}, nil},
		{"log key of another campaign", RolePublisher, func(sdir string) error {
			other, _ := GenerateSecrets("city", nil)
			return keyfile.WriteText(filepath.Join(sdir, fileLog+".new"), other.LogKey)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			if _, err := Export(full, tc.role, out, AnyInstance); err != nil {
				t.Fatal(err)
			}
			sdir := filepath.Join(out, "solar", SecretsDir)
			if err := tc.spoil(sdir); err != nil {
				t.Fatal(err)
			}
			if tc.name == "log key of another campaign" {
				if err := os.Rename(filepath.Join(sdir, fileLog+".new"), filepath.Join(sdir, fileLog)); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadRole(out, "solar", tc.role)
			if err == nil {
				t.Fatal("loaded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
}

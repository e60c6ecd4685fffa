package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// umaskBits returns the permission bits the umask lets through, found by
// creating a file with mode 0777.
func umaskBits(t *testing.T) fs.FileMode {
	t.Helper()
	p := filepath.Join(t.TempDir(), "probe")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o777)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// names returns the names in dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range entries {
		ns = append(ns, e.Name())
	}
	slices.Sort(ns)
	return ns
}

func TestWriteFile(t *testing.T) {
	allowed := umaskBits(t)
	tests := []struct {
		name   string
		before map[string]fs.FileMode // files present before, by name, with content "old ..."
		data   string
		perm   fs.FileMode
	}{
		{name: "new secret", data: "secret\n", perm: 0o600},
		{name: "new public", data: "public\n", perm: 0o644},
		{name: "empty", data: "", perm: 0o644},
		{name: "replace a longer file", before: map[string]fs.FileMode{"f": 0o644}, data: "new\n", perm: 0o644},
		{name: "replace a public file by a secret", before: map[string]fs.FileMode{"f": 0o644}, data: "secret\n", perm: 0o600},
		{name: "replace a secret by a public file", before: map[string]fs.FileMode{"f": 0o600}, data: "public\n", perm: 0o644},
		{name: "stale temporary file", before: map[string]fs.FileMode{"f.tmp": 0o644}, data: "secret\n", perm: 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, mode := range tt.before {
				old := "old content, longer than the new one: " + strings.Repeat("x", 100) + "\n"
				if err := os.WriteFile(filepath.Join(dir, name), []byte(old), mode); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "f")
			if err := WriteFile(path, []byte(tt.data), tt.perm); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.data {
				t.Errorf("content %q, want %q", got, tt.data)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.perm & allowed; fi.Mode() != want {
				t.Errorf("mode %v, want %v", fi.Mode(), want)
			}
			if ns := names(t, dir); !slices.Equal(ns, []string{"f"}) {
				t.Errorf("directory holds %q, want only the file", ns)
			}
		})
	}
}

func TestWriteFileFails(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) // makes the failure
		path     string                         // inside dir
		step     string                         // in the error
		is       error                          // errors.Is holds for it, if not nil
		wantDir  []string                       // the names in dir afterwards
		wantPath bool                           // whether path still exists, untouched
	}{
		{
			name:    "missing directory",
			setup:   func(*testing.T, string) {},
			path:    "missing/f",
			step:    "create temporary file",
			is:      fs.ErrNotExist,
			wantDir: nil,
		},
		{
			name: "target is a directory",
			setup: func(t *testing.T, dir string) {
				if err := os.MkdirAll(filepath.Join(dir, "f", "inside"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			path:     "f",
			step:     "rename temporary file",
			wantDir:  []string{"f"},
			wantPath: true,
		},
		{
			name: "stale temporary name is a directory",
			setup: func(t *testing.T, dir string) {
				if err := os.MkdirAll(filepath.Join(dir, "f.tmp", "inside"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			path:    "f",
			step:    "remove stale temporary file",
			wantDir: []string{"f.tmp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			path := filepath.Join(dir, tt.path)
			err := WriteFile(path, []byte("data\n"), 0o600)
			if err == nil {
				t.Fatal("WriteFile succeeded")
			}
			// The temporary file's name starts with path, and errors of
			// package os name it: check where path and step stand.
			if want := "write " + path + ": " + tt.step + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if ns := names(t, dir); !slices.Equal(ns, tt.wantDir) {
				t.Errorf("directory holds %q afterwards, want %q", ns, tt.wantDir)
			}
			if tt.wantPath {
				if ns := names(t, path); !slices.Equal(ns, []string{"inside"}) {
					t.Errorf("%s holds %q afterwards, want its old content", path, ns)
				}
			}
		})
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir(%s): %v", dir, err)
	}
	missing := filepath.Join(dir, "missing")
	err := SyncDir(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SyncDir of a missing directory: %v, want fs.ErrNotExist", err)
	}
	if want := "fsync directory " + missing + ": "; err != nil && !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
}

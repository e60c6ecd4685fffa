// Package durable writes files that must survive a crash or a power
// failure.
//
// WriteFile replaces a whole file: it writes path+".tmp" in the same
// directory, created with the caller's permission bits so that a secret is
// never readable by others, not even for its first byte; it fsyncs and
// closes that file, renames it over path and fsyncs the directory. A crash
// at any moment leaves path with its old content or its new one, never a
// mix, and once WriteFile returns nil the new content and its name are on
// disk. SyncDir fsyncs a directory, for callers that create or rename
// files themselves, such as an append-only log opened with O_CREATE.
//
// Errors name the path and the step that failed, and wrap the error of
// package os with %w, so that callers can test them with errors.Is
// (fs.ErrNotExist, fs.ErrPermission, ...). They carry no package prefix:
// callers add their own. When WriteFile fails before its rename it removes
// the temporary file and path is untouched; when the directory fsync after
// the rename fails, path holds the new content, perhaps not durably yet.
//
// Calls that write the same path must not overlap: they share the
// temporary file's name.
package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile atomically and durably replaces path (or creates it) with
// data. A new file gets mode perm (before the umask), whatever mode the
// file it replaces had.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	tmp := path + ".tmp"
	// A temporary file that a crash left behind may have other
	// permissions than perm: remove it rather than write into it.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return writeError(path, "remove stale temporary file", err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return writeError(path, "create temporary file", err)
	}
	step := "write temporary file"
	_, err = f.Write(data)
	if err == nil {
		step, err = "fsync temporary file", f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		step, err = "close temporary file", cerr
	}
	if err == nil {
		step, err = "rename temporary file", os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return writeError(path, step, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return writeError(path, "fsync directory", err)
	}
	return nil
}

// SyncDir fsyncs the directory dir, making durable the names of the files
// created, renamed or removed in it.
func SyncDir(dir string) error {
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeError(path, step string, err error) error {
	return fmt.Errorf("write %s: %s: %w", path, step, err)
}

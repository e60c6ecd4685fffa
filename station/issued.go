package station

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/powvote/powvote/mandate"
)

// IssuedFile is the name, inside the desk's output directory, of the file
// that lists every mandate the desk issued: one token a line, 240 hex
// digits, as `powvote mandates --format tokens` prints them.
const IssuedFile = "issued.txt"

// lineSize is the size of one line of the issued file.
const lineSize = 2*mandate.TokenSize + 1

// issuedLog is the append-only file of issued tokens.
type issuedLog struct {
	f     *os.File
	path  string
	lines int
	// sync makes the file durable; tests replace it to see that an
	// answer waits for it and what happens when it fails.
	sync   func(*os.File) error
	unlock func() error
	closed bool
}

// openIssued opens (or creates) dir/IssuedFile for appending, takes an
// exclusive lock on it, checks every line and counts them. A last line
// without its line feed is cut off: it was being written when the desk
// stopped, before the file was synced, so its card was never shown.
func openIssued(dir string, log *slog.Logger) (*issuedLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("station: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, IssuedFile)
	_, statErr := os.Lstat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("station: open %s: %w", path, err)
	}
	l := &issuedLog{f: f, path: path, sync: (*os.File).Sync}
	ok := false
	defer func() {
		if !ok {
			l.close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("station: stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("station: %s is not a regular file", path)
	}
	// The tokens are voting credentials: anyone who reads one can vote
	// with it.
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("station: %s has mode %04o: readable by group or others (chmod 600 it)", path, perm)
	}
	if l.unlock, err = lockFile(f); err != nil {
		return nil, fmt.Errorf("station: %s is in use by another station desk: %w", path, err)
	}
	if created {
		// The new file's name must survive a crash as well as its lines.
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	}
	if err := l.scan(log); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

// scan checks and counts the lines of the file.
func (l *issuedLog) scan(log *slog.Logger) error {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("station: read %s: %w", l.path, err)
	}
	r := bufio.NewReaderSize(l.f, 64*1024)
	var good int64
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				log.Warn("cutting off an incomplete last line of the issued file: its mandate was never handed out",
					"file", l.path, "line", n, "bytes", len(line))
				if err := l.f.Truncate(good); err != nil {
					return fmt.Errorf("station: truncate %s: %w", l.path, err)
				}
				if err := l.sync(l.f); err != nil {
					return fmt.Errorf("station: sync %s: %w", l.path, err)
				}
			}
			return nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("station: %s line %d is not a mandate token: too long", l.path, n)
		}
		if err != nil {
			return fmt.Errorf("station: read %s: %w", l.path, err)
		}
		tok, err := mandate.ParseHex(string(bytes.TrimSuffix(line, []byte("\n"))))
		if err == nil {
			err = tok.Verify()
		}
		if err != nil {
			// Not ours to repair: a file someone edited may hold
			// mandates that were handed out.
			return fmt.Errorf("station: %s line %d is not a mandate token: %w", l.path, n, err)
		}
		good += int64(len(line))
		l.lines++
	}
}

// add appends the token and syncs the file. On an error the file is cut
// back to its previous size as far as possible; the caller must then stop
// issuing, because after a failed sync nobody can tell what is on disk.
func (l *issuedLog) add(t mandate.Token) error {
	st, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("station: stat %s: %w", l.path, err)
	}
	line := make([]byte, 0, lineSize)
	line = append(append(line, t.Hex()...), '\n')
	if _, err := l.f.Write(line); err != nil {
		l.f.Truncate(st.Size())
		return fmt.Errorf("station: append to %s: %w", l.path, err)
	}
	if err := l.sync(l.f); err != nil {
		l.f.Truncate(st.Size())
		return fmt.Errorf("station: sync %s: %w", l.path, err)
	}
	l.lines++
	return nil
}

// close releases the lock and the file; closing again does nothing.
func (l *issuedLog) close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	if l.unlock != nil {
		l.unlock()
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("station: close %s: %w", l.path, err)
	}
	return nil
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("station: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("station: sync %s: %w", dir, err)
	}
	return nil
}

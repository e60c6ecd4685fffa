package station

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/mandate"
)

// IssuedFile is the name, inside the desk's output directory, of the file
// that lists every mandate the desk issued: one token a line, 240 hex
// digits, as `powvote mandates --format tokens` prints them.
const IssuedFile = "issued.txt"

// lineSize is the size of one line of the issued file.
const lineSize = 2*mandate.TokenSize + 1

var (
	// ErrForeignKey means a line of the issued file holds a mandate that
	// the desk's authority key did not sign. The desk's count of cards
	// handed out is what observers compare with the people seen at the
	// desk; a mandate of another key, even one the campaign accepts, was
	// not issued here and must not be counted as if it were.
	ErrForeignKey = errors.New("station: mandate of another authority key")
	// ErrDuplicate means a line of the issued file holds a mandate (an
	// auth-id under the desk's key) that an earlier line holds already. A
	// mandate counts once, so a repeated line would make the count larger
	// than the number of cards that can vote.
	ErrDuplicate = errors.New("station: mandate listed twice")
)

// issuedLog is the append-only file of issued tokens.
type issuedLog struct {
	f     *os.File
	path  string
	pub   ed25519.PublicKey // the desk's authority key: every line's auth-pkey
	lines int
	// ids maps the auth-id of every line to its line number, to refuse a
	// second card for one mandate: in the file at start, or from a random
	// source that repeats itself.
	ids map[[mandate.IDSize]byte]int
	// sync makes the file durable; tests replace it to see that an
	// answer waits for it and what happens when it fails.
	sync   func(*os.File) error
	unlock func() error
	closed bool
}

// openIssued opens (or creates) dir/IssuedFile for appending, takes an
// exclusive lock on it, checks every line (see [readIssued]; pub is the
// desk's authority key) and counts them. A last line without its line
// feed is cut off: it was being written when the desk stopped, before the
// file was synced, so its card was never shown.
func openIssued(dir string, pub ed25519.PublicKey, log *slog.Logger) (*issuedLog, error) {
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
	l := &issuedLog{f: f, path: path, pub: pub, sync: (*os.File).Sync}
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
		if err := durable.SyncDir(dir); err != nil {
			return nil, fmt.Errorf("station: %w", err)
		}
	}
	if err := l.scan(log); err != nil {
		return nil, err
	}
	ok = true
	return l, nil
}

// scan checks and counts the lines of the file and cuts off an incomplete
// last line.
func (l *issuedLog) scan(log *slog.Logger) error {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("station: read %s: %w", l.path, err)
	}
	ids, good, partial, err := readIssued(l.f, l.path, l.pub)
	if err != nil {
		return err
	}
	if partial > 0 {
		log.Warn("cutting off an incomplete last line of the issued file: its mandate was never handed out",
			"file", l.path, "line", len(ids)+1, "bytes", partial)
		if err := l.f.Truncate(good); err != nil {
			return fmt.Errorf("station: truncate %s: %w", l.path, err)
		}
		if err := l.sync(l.f); err != nil {
			return fmt.Errorf("station: sync %s: %w", l.path, err)
		}
	}
	l.ids = ids
	l.lines = len(ids)
	return nil
}

// readIssued reads an issued file from r (name is for errors) and checks
// every whole line: a token of 240 hex digits (either case), whose
// auth-pkey is pub, whose signature verifies, and whose auth-id no earlier
// line holds. It returns the auth-ids of the whole lines with their line
// numbers, the length of those lines in bytes, and the length of a last
// line without its line feed, which it does not check.
//
// Every whole line is a card that was shown, so a line that fails is not
// repaired but refused: a file someone edited may hold mandates that were
// handed out. A line of another key is [ErrForeignKey], a repeated mandate
// [ErrDuplicate], a line that is no token wraps the mandate package's
// error.
func readIssued(r io.Reader, name string, pub ed25519.PublicKey) (ids map[[mandate.IDSize]byte]int, good int64, partial int, err error) {
	br := bufio.NewReaderSize(r, 64*1024)
	ids = make(map[[mandate.IDSize]byte]int)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) {
			return ids, good, len(line), nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, 0, 0, fmt.Errorf("station: %s line %d is not a mandate token: too long", name, n)
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("station: read %s: %w", name, err)
		}
		tok, err := mandate.ParseHex(string(bytes.TrimSuffix(line, []byte("\n"))))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("station: %s line %d is not a mandate token: %w", name, n, err)
		}
		// The key first: a token of another key is not this desk's,
		// whether or not its signature holds.
		if !bytes.Equal(tok.AuthPkey[:], pub) {
			return nil, 0, 0, fmt.Errorf("station: %s line %d: %w %s, not the desk's %s (was the file written with another --key?)",
				name, n, ErrForeignKey, base64.StdEncoding.EncodeToString(tok.AuthPkey[:]), base64.StdEncoding.EncodeToString(pub))
		}
		if err := tok.Verify(); err != nil {
			return nil, 0, 0, fmt.Errorf("station: %s line %d is not a mandate token: %w", name, n, err)
		}
		if first, ok := ids[tok.AuthID]; ok {
			return nil, 0, 0, fmt.Errorf("station: %s line %d: %w: line %d holds the same mandate", name, n, ErrDuplicate, first)
		}
		ids[tok.AuthID] = n
		good += int64(len(line))
	}
}

// add appends the token and syncs the file. On an error the file is cut
// back to its previous size as far as possible; the caller must then stop
// issuing, because after a failed sync nobody can tell what is on disk.
// A token whose auth-id a line holds already is refused with
// [ErrDuplicate] before anything is written: only a random source that
// repeats itself makes one, and its next ids are no better.
func (l *issuedLog) add(t mandate.Token) error {
	if first, ok := l.ids[t.AuthID]; ok {
		return fmt.Errorf("station: not appending to %s: %w: line %d holds a mandate with the same auth-id (is the random source broken?)", l.path, ErrDuplicate, first)
	}
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
	l.ids[t.AuthID] = l.lines
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

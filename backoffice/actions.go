package backoffice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/powvote/powvote/internal/durable"
)

// LogFile is the name of the action log in the platform directory.
const LogFile = "operator-actions.log"

// LogPath is the action log of the platform directory dir.
func LogPath(dir string) string { return filepath.Join(dir, LogFile) }

// Entry is one line of the action log: who did what, when, and how it
// ended. It never holds a password.
type Entry struct {
	Time    time.Time `json:"time"`             // UTC
	Who     string    `json:"who"`              // the account; for the command line, "cli:" and the system user
	Action  string    `json:"action"`           // login, logout, account-add, account-replace, account-remove, a campaign action, or the path of a refused request
	Target  string    `json:"target,omitempty"` // the account or campaign acted on
	Outcome string    `json:"outcome"`          // "ok", or what went wrong
	From    string    `json:"from,omitempty"`   // the client's address, for actions through the listener
}

// The actions this package writes itself.
const (
	ActionLogin          = "login"
	ActionLogout         = "logout"
	ActionAccountAdd     = "account-add"
	ActionAccountReplace = "account-replace"
	ActionAccountRemove  = "account-remove"
)

// OutcomeOK is the outcome of an action that did what it was asked.
const OutcomeOK = "ok"

// maxField bounds each text field of an entry, in bytes: a line stays
// under 1 KiB whatever a request carried.
const maxField = 160

// maxLine bounds what Tail reads as one line.
const maxLine = 2 << 10

// Log is the append-only action log, one JSON object per line (Entry) in
// a file of mode 0600. Each Append opens the file for appending, writes
// one line in one write, fsyncs and closes it: several processes of one
// platform directory (and the command line) may append to one log at
// once, and a line Append has returned for is on disk. Nothing is created
// before the first Append. Safe for concurrent use.
type Log struct {
	path string
	mu   sync.Mutex // serializes this process's appends
}

// OpenLog returns the log at path; it does not touch the file.
func OpenLog(path string) *Log { return &Log{path: path} }

// Path is the file of the log.
func (l *Log) Path() string { return l.path }

// Append writes e as one line and fsyncs it. Text fields longer than
// maxField bytes are cut, and invalid UTF-8 replaced: JSON escapes every
// control character, so that no field can forge a line.
func (l *Log) Append(e Entry) error {
	e.Time = e.Time.UTC()
	for _, f := range []*string{&e.Who, &e.Action, &e.Target, &e.Outcome, &e.From} {
		*f = clip(*f)
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("action log: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, statErr := os.Stat(l.path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("action log: %w", err)
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && created {
		err = durable.SyncDir(filepath.Dir(l.path))
	}
	if err != nil {
		return fmt.Errorf("action log %s: %w", l.path, err)
	}
	return nil
}

// clip cuts s to maxField bytes on a rune boundary and replaces invalid
// UTF-8.
func clip(s string) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // each invalid byte becomes U+FFFD
	}
	if len(s) <= maxField {
		return s
	}
	cut := maxField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// MaxTail is the most entries Tail returns.
const MaxTail = 1000

// Tail returns the last n entries of the log (at most MaxTail), oldest
// first; none when the log does not exist yet. It reads the file from its
// end, so it also sees what other processes appended, and skips a line
// that does not parse (a torn last line after a crash).
func (l *Log) Tail(n int) ([]Entry, error) {
	n = min(max(n, 0), MaxTail)
	if n == 0 {
		return nil, nil
	}
	f, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("action log: %w", err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("action log %s: %w", l.path, err)
	}
	// n lines take at most n*maxLine bytes; one more byte tells whether
	// the first line read is whole.
	want := min(size, int64(n)*maxLine+1)
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, size-want); err != nil {
		return nil, fmt.Errorf("action log %s: %w", l.path, err)
	}
	if want < size {
		// The first line read may be cut: start after its end.
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil, nil
		}
		buf = buf[i+1:]
	}
	return parseTail(buf, n), nil
}

// parseTail parses the last n lines of buf that are entries.
func parseTail(buf []byte, n int) []Entry {
	lines := bytes.Split(buf, []byte("\n"))
	var out []Entry
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		var e Entry
		if len(lines[i]) == 0 || len(lines[i]) > maxLine || json.Unmarshal(lines[i], &e) != nil {
			continue
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

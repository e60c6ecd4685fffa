package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrCursorGone means a voter cursor names an earlier opening of the
// Store, or sets it no longer holds: the reader must read the voter
// table in full (VoterRecords) and start again from a new cursor.
var ErrCursorGone = errors.New("store: voter cursor unknown or expired")

// journalMax is the most voters the journal holds that no reader has
// taken yet: about 40 MB. Past it the oldest go, and a reader that comes
// back later reads the table in full once; a reader that keeps up never
// gets there (a second of the platform's top rate is a few thousand
// voters).
const journalMax = 1 << 18

// journal hands the voters this Store added since it opened to one reader
// (the publisher), so that the reader need not read the whole voter table
// every round: what a round costs then grows with the votes of the round,
// not with the campaign.
//
// The journal is in memory only: it orders voters by arrival, which the
// disk never does (MIRRORS.md, What a disk reveals), and it forgets
// voters once the reader has asked past them. An answer is sorted by key,
// so it tells the reader which voters came since its last question and
// nothing about their order: what two full reads of the table, one at
// each question, would tell by their difference.
type journal struct {
	epoch string // names this opening of the Store

	mu   sync.Mutex
	base uint64  // number of held[0], from 0 at Open; guarded by mu
	held []Voter // in arrival order; guarded by mu
}

func newJournal() (*journal, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("store: journal epoch: %w", err)
	}
	return &journal{epoch: hex.EncodeToString(b[:])}, nil
}

// add takes the voters of a durable group. Only the writer calls it.
func (j *journal) add(voters []Voter) {
	if len(voters) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.held = append(j.held, voters...)
	if over := len(j.held) - journalMax; over > 0 {
		j.held = slices.Delete(j.held, 0, over)
		j.base += uint64(over)
	}
}

// since returns the voters added from cursor on, sorted by key, and the
// cursor to ask with next. Asking with a cursor tells the journal that
// the voters before it are taken: it forgets them. The empty cursor
// returns no voters and the cursor of the next voter to be added.
func (j *journal) since(cursor string) (voters []Voter, next string, err error) {
	j.mu.Lock()
	end := j.base + uint64(len(j.held))
	if cursor == "" {
		j.mu.Unlock()
		return nil, j.cursor(end), nil
	}
	if !ValidCursor(cursor) {
		j.mu.Unlock()
		return nil, "", fmt.Errorf("%w: malformed", ErrCursorGone)
	}
	epoch, n, _ := strings.Cut(cursor, ".")
	k, err := strconv.ParseUint(n, 10, 64)
	if epoch != j.epoch || err != nil || k < j.base || k > end {
		j.mu.Unlock()
		return nil, "", ErrCursorGone
	}
	j.held = slices.Delete(j.held, 0, int(k-j.base))
	j.base = k
	voters = slices.Clone(j.held)
	j.mu.Unlock()
	slices.SortFunc(voters, func(a, b Voter) int { return bytes.Compare(voterKey(a), voterKey(b)) })
	return voters, j.cursor(end), nil
}

func (j *journal) cursor(n uint64) string { return j.epoch + "." + strconv.FormatUint(n, 10) }

// ValidCursor reports whether c is spelt as a voter cursor: empty, or 16
// lower-case hex digits, a dot and a decimal number of at most 20 digits
// without leading zeros. Servers check it before they ask the Store.
func ValidCursor(c string) bool {
	if c == "" {
		return true
	}
	epoch, n, ok := strings.Cut(c, ".")
	if !ok || len(epoch) != 16 || len(n) == 0 || len(n) > 20 || (len(n) > 1 && n[0] == '0') {
		return false
	}
	for i := range len(epoch) {
		if !('0' <= epoch[i] && epoch[i] <= '9' || 'a' <= epoch[i] && epoch[i] <= 'f') {
			return false
		}
	}
	_, err := strconv.ParseUint(n, 10, 64)
	return err == nil
}

// VotersSince returns the voters this Store added since cursor, sorted by
// key, and the cursor to ask with next (the journal above). The empty
// cursor starts one: read the voter table in full (VoterRecords) after
// taking it, and every voter added since will come by the cursor (some
// both ways: a reader keeps sets). A cursor of an earlier opening, or one
// whose voters were dropped, gets ErrCursorGone.
func (s *Store) VotersSince(cursor string) (voters []Voter, next string, err error) {
	return s.journal.since(cursor)
}

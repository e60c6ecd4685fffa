package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/powvote/powvote/internal/crockford"
)

// Test votes are derived from numbers so that a test (or a crashed child
// process) can name a vote by its number alone.

var testOptions = []string{"Pluto", "Énergie solaire", "none of the above"}

func hashOf(parts ...any) [32]byte {
	return sha256.Sum256(fmt.Append(nil, parts...))
}

// testVoter is mandate i, under one of three authority keys.
func testVoter(i int) Voter {
	var v Voter
	pk := hashOf("pkey", i%3)
	copy(v.Pkey[:], pk[:])
	id := hashOf("id", i)
	copy(v.ID[:], id[:])
	s1, s2 := hashOf("sig", i, 1), hashOf("sig", i, 2)
	copy(v.Sig[:32], s1[:])
	copy(v.Sig[32:], s2[:])
	return v
}

// testStamp is a voter stamp in the form GET /stamp writes.
func testStamp(parts ...any) string {
	h := hashOf(append([]any{"stamp"}, parts...)...)
	return crockford.Group(crockford.Encode(h[:20]), "-", 4)
}

// testVote is attempt try of mandate i: every (i, try) has its own nonce
// and stamp, and P-UTC grows with i.
func testVote(i, try int) Vote {
	v := Vote{
		PUTC:   strconv.Itoa(1767225600 + i),
		Voter:  testStamp(i, try),
		Nonce:  binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, uint32(try)), uint64(i)),
		Option: testOptions[i%len(testOptions)],
	}
	s1, s2 := hashOf("psig", i, try, 1), hashOf("psig", i, try, 2)
	copy(v.PSig[:32], s1[:])
	copy(v.PSig[32:], s2[:])
	return v
}

func openT(t testing.TB, dir string, opt Options) *Store {
	t.Helper()
	s, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logPayloads reads votes.log and fails the test unless every line is a
// good record.
func logPayloads(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.Fatalf("votes.log ends with %q, no line feed", b)
		}
		p, err := unframe(b[:i+1])
		if err != nil {
			t.Fatalf("votes.log line %d: %v", len(out)+1, err)
		}
		out = append(out, string(p))
		b = b[i+1:]
	}
	return out
}

// allRecords returns every durable vote record.
func allRecords(t testing.TB, s *Store) []Record {
	t.Helper()
	var out []Record
	next := uint64(1)
	for {
		recs, n, err := s.VoteRecords(next, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		for i, r := range recs {
			if r.Index != next+uint64(i) {
				t.Fatalf("record index %d, want %d", r.Index, next+uint64(i))
			}
		}
		out = append(out, recs...)
		next = n
	}
}

// liveVotes returns the vote lines that no retraction withdrew, sorted.
func liveVotes(t testing.TB, s *Store) []string {
	t.Helper()
	var lines []string
	var nonces [][]byte
	for _, r := range allRecords(t, s) {
		if r.Vote != nil {
			lines = append(lines, r.Vote.Line())
			nonces = append(nonces, r.Vote.Nonce)
			continue
		}
		found := false
		for i := range lines {
			if nonces[i] != nil && bytes.Equal(nonces[i], r.Retraction.Nonce) {
				lines[i], nonces[i], found = "", nil, true
				break
			}
		}
		if !found {
			t.Fatalf("record %d retracts %x, which is not a live vote", r.Index, r.Retraction.Nonce)
		}
	}
	var out []string
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// allVoters returns the voter table as lines, in key order, paging by a
// small limit so that paging is exercised.
func allVoters(t testing.TB, s *Store) []string {
	t.Helper()
	var out []string
	var after []byte
	for {
		vs, err := s.VoterRecords(after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 0 {
			return out
		}
		for _, v := range vs {
			out = append(out, v.Line())
		}
		after = voterKey(vs[len(vs)-1])
	}
}

// checkProjection checks that votes.log holds exactly the vote records.
func checkProjection(t testing.TB, s *Store) {
	t.Helper()
	log := logPayloads(t, s.dir)
	recs := allRecords(t, s)
	if len(log) != len(recs) || uint64(len(recs)) != s.LastIndex() {
		t.Fatalf("votes.log has %d records, the database %d, LastIndex %d", len(log), len(recs), s.LastIndex())
	}
	for i, r := range recs {
		if want := r.Record.String(); log[i] != want {
			t.Fatalf("votes.log record %d is %q, database %q", i+1, log[i], want)
		}
	}
	checkIndexes(t, s)
}

// checkIndexes checks that the nonce and voter stamp indexes name exactly
// the vote records no retraction withdrew (a retraction withdraws the
// first live record with its nonce).
func checkIndexes(t testing.TB, s *Store) {
	t.Helper()
	wantN, wantS := map[string][]uint64{}, map[string][]uint64{}
	var live []Record
	for _, r := range allRecords(t, s) {
		if r.Vote != nil {
			live = append(live, r)
			continue
		}
		i := slices.IndexFunc(live, func(l Record) bool { return bytes.Equal(l.Vote.Nonce, r.Retraction.Nonce) })
		if i < 0 {
			t.Fatalf("record %d retracts %x, which is not a live vote", r.Index, r.Retraction.Nonce)
		}
		live = slices.Delete(live, i, i+1)
	}
	for _, r := range live {
		k := string(nonceKey(r.Vote.Nonce))
		wantN[k] = append(wantN[k], r.Index)
		k = string(stampKey(r.Vote.Voter))
		wantS[k] = append(wantS[k], r.Index)
	}
	for table, want := range map[byte]map[string][]uint64{tNonce: wantN, tStamp: wantS} {
		got := indexTable(t, s, table)
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("index %q\n got %v\nwant %v", table, got, want)
		}
	}
}

// indexTable reads an index table ('N' or 'S'), each entry's indexes
// sorted.
func indexTable(t testing.TB, s *Store, table byte) map[string][]uint64 {
	t.Helper()
	out := map[string][]uint64{}
	err := s.read(func() error {
		it, err := s.votes.NewIter(&pebble.IterOptions{LowerBound: []byte{table}, UpperBound: []byte{table + 1}})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			idx, err := decodeIndexes(it.Value(), string(table))
			if err != nil {
				return err
			}
			slices.Sort(idx)
			out[string(it.Key())] = idx
		}
		return it.Error()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lockedBuffer is a log destination safe for the writer goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

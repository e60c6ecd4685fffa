package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fillStore accepts votes 0..n-1, one group each, and closes the Store.
func fillStore(t *testing.T, dir string, n int) []string {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range n {
		if _, err := s.Accept(context.Background(), testVoter(i), testVote(i, 0), Receipt{}); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, testVote(i, 0).Line())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// lastRecordStart returns the offset of the last line of b.
func lastRecordStart(b []byte) int {
	return bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
}

func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte // nil: delete the log
		cuts   bool                // recovery must report a cut
	}{
		{"cut in the last record", func(b []byte) []byte { return b[:lastRecordStart(b)+40] }, true},
		{"cut before the last line feed", func(b []byte) []byte { return b[:len(b)-1] }, true},
		{"cut after the checksum", func(b []byte) []byte { return b[:lastRecordStart(b)+9] }, true},
		{"byte flipped in the last record", func(b []byte) []byte { b[lastRecordStart(b)+30] ^= 0x20; return b }, true},
		{"checksum flipped", func(b []byte) []byte { b[lastRecordStart(b)+3] ^= 0x01; return b }, true},
		{"byte flipped in record 5", func(b []byte) []byte {
			at := 0
			for range 4 {
				at += bytes.IndexByte(b[at:], '\n') + 1
			}
			b[at+50] ^= 0x01
			return b
		}, true},
		{"garbage appended", func(b []byte) []byte { return append(b, "00000000 garbage"...) }, true},
		{"long line appended", func(b []byte) []byte { return append(b, bytes.Repeat([]byte("x"), 3*maxRecordLine)...) }, true},
		{"zero bytes appended", func(b []byte) []byte { return append(b, make([]byte, 512)...) }, true},
		{"emptied", func(b []byte) []byte { return nil }, false},
		{"deleted", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want := fillStore(t, dir, 12)
			name := filepath.Join(dir, LogFile)
			if tc.damage == nil {
				if err := os.Remove(name); err != nil {
					t.Fatal(err)
				}
			} else {
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(name, tc.damage(b), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var logged lockedBuffer
			s := openT(t, dir, Options{Logger: newTextLogger(&logged)})
			if got := logPayloads(t, dir); !slices.Equal(got, want) {
				t.Fatalf("votes.log after recovery\n got %q\nwant %q", got, want)
			}
			checkProjection(t, s)
			if cut := strings.Contains(logged.String(), "cut the bad tail"); cut != tc.cuts {
				t.Errorf("recovery log says cut %v, want %v:\n%s", cut, tc.cuts, logged.String())
			}

			// The repaired log takes new records after the old ones.
			if _, err := s.Accept(context.Background(), testVoter(99), testVote(99, 0), Receipt{}); err != nil {
				t.Fatal(err)
			}
			want = append(want, testVote(99, 0).Line())
			if got := logPayloads(t, dir); !slices.Equal(got, want) {
				t.Fatalf("votes.log after a new vote has %d records, want %d", len(got), len(want))
			}
		})
	}
}

// A log that is longer than the database or differs from it is not a torn
// tail: Open refuses it rather than rewriting history.
func TestForeignLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"extra record", func(b []byte) []byte {
			return appendFrame(b, []byte(testVote(50, 0).Line()))
		}},
		{"record replaced", func(b []byte) []byte {
			at := lastRecordStart(b)
			return appendFrame(b[:at:at], []byte(testVote(50, 0).Line()))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fillStore(t, dir, 5)
			name := filepath.Join(dir, LogFile)
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			damaged := tc.damage(b)
			if err := os.WriteFile(name, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, Options{})
			if !errors.Is(err, ErrCorrupt) {
				if err == nil {
					s.Close()
				}
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
			after, _ := os.ReadFile(name)
			if !bytes.Equal(after, damaged) {
				t.Error("Open changed a log it refused")
			}
		})
	}
}

var errInjected = errors.New("injected I/O error")

// faultyLog fails the failAt-th operation (writes and fsyncs counted
// together, from 0) and, like a real file after a failed fsync, every
// later one. A failed write writes half of its bytes.
type faultyLog struct {
	f      *os.File
	mu     sync.Mutex
	ops    int
	failAt int
}

func (l *faultyLog) fail() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops++
	return l.ops-1 >= l.failAt
}

func (l *faultyLog) Write(p []byte) (int, error) {
	if l.fail() {
		n, _ := l.f.Write(p[:len(p)/2])
		return n, errInjected
	}
	return l.f.Write(p)
}

func (l *faultyLog) Sync() error {
	if l.fail() {
		return errInjected
	}
	return l.f.Sync()
}

func (l *faultyLog) Close() error { return l.f.Close() }

// TestFailStop breaks votes.log at operation 0, 1, 2, ... while goroutines
// accept votes, until a run gets through. Every call of the broken group
// must fail, every later one must be refused, and after a reopen every
// acknowledged vote must be there exactly once.
func TestFailStop(t *testing.T) {
	const votes = 60
	for failAt := 0; ; failAt++ {
		dir := t.TempDir()
		s, err := open(dir, Options{MaxBatch: 4}, func(f *os.File) appender {
			return &faultyLog{f: f, failAt: failAt}
		})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu     sync.Mutex
			acked  []int
			failed int
			wg     sync.WaitGroup
		)
		for i := range votes {
			wg.Go(func() {
				_, err := s.Accept(context.Background(), testVoter(i), testVote(i, 0), Receipt{})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					acked = append(acked, i)
				case errors.Is(err, ErrFailed):
					failed++
				default:
					t.Errorf("failAt %d: Accept %d: %v", failAt, i, err)
				}
			})
		}
		wg.Wait()
		if failed > 0 {
			if _, err := s.Accept(context.Background(), testVoter(999), testVote(999, 0), Receipt{}); !errors.Is(err, ErrFailed) {
				t.Errorf("failAt %d: Accept after the failure = %v, want ErrFailed", failAt, err)
			}
			if err := s.ApplyTwin(nil, 3); !errors.Is(err, ErrFailed) {
				t.Errorf("failAt %d: ApplyTwin after the failure = %v, want ErrFailed", failAt, err)
			}
			// The owner learns of the fail stop without sending a write.
			select {
			case <-s.Failed():
			default:
				t.Errorf("failAt %d: Failed() not closed after the failure", failAt)
			}
			if !errors.Is(s.Err(), ErrFailed) {
				t.Errorf("failAt %d: Err() = %v, want ErrFailed", failAt, s.Err())
			}
		} else if s.Err() != nil {
			t.Errorf("failAt %d: Err() = %v without a failed write", failAt, s.Err())
		}
		s.Close()

		s = openT(t, dir, Options{})
		checkProjection(t, s)
		live := liveVotes(t, s)
		for _, i := range acked {
			if _, ok := slices.BinarySearch(live, testVote(i, 0).Line()); !ok {
				t.Fatalf("failAt %d: acknowledged vote %d lost", failAt, i)
			}
		}
		if v, n := s.Counts(); v != n || n != len(live) || n < len(acked) {
			t.Fatalf("failAt %d: Counts %d, %d; %d live votes, %d acknowledged", failAt, v, n, len(live), len(acked))
		}
		// The reopened Store works, and refuses what was committed.
		for i := range votes {
			res, err := s.Accept(context.Background(), testVoter(i), testVote(i, 0), Receipt{})
			if err != nil || res.Repeat != slices.Contains(live, testVote(i, 0).Line()) {
				t.Fatalf("failAt %d: Accept %d after reopen = %+v, %v", failAt, i, res, err)
			}
		}
		s.Close()
		if failed == 0 {
			if failAt < 2 {
				t.Fatalf("no failure injected at operation %d", failAt)
			}
			t.Logf("all %d votes got through with failAt %d", votes, failAt)
			return
		}
		if failAt > 2*votes {
			t.Fatalf("still failing at operation %d", failAt)
		}
	}
}

// syncCheckLog records whether bytes were written and not yet fsynced.
type syncCheckLog struct {
	f        *os.File
	mu       sync.Mutex
	unsynced int
}

func (l *syncCheckLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unsynced += len(p)
	return l.f.Write(p)
}

func (l *syncCheckLog) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unsynced = 0
	return l.f.Sync()
}

func (l *syncCheckLog) Close() error { return l.f.Close() }

func (l *syncCheckLog) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unsynced
}

// Accept and ApplyTwin return only after votes.log is fsynced.
func TestSyncedBeforeReturn(t *testing.T) {
	var lf *syncCheckLog
	s, err := open(t.TempDir(), Options{}, func(f *os.File) appender {
		lf = &syncCheckLog{f: f}
		return lf
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 5 {
		if _, err := s.Accept(context.Background(), testVoter(i), testVote(i, 0), Receipt{}); err != nil {
			t.Fatal(err)
		}
		if n := lf.pending(); n != 0 {
			t.Fatalf("Accept returned with %d bytes of votes.log not fsynced", n)
		}
		pair := []Pair{{Seq: uint64(i + 1), Voter: testVoter(100 + i), Vote: testVote(100+i, 0)}}
		if err := s.ApplyTwin(pair, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		if n := lf.pending(); n != 0 {
			t.Fatalf("ApplyTwin returned with %d bytes of votes.log not fsynced", n)
		}
	}
	if c, f := s.commits.Load(), s.fsyncs.Load(); c != 10 || f != 10 {
		t.Errorf("%d commits, %d fsyncs; want 10, 10", c, f)
	}
}

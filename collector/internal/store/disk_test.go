package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/batchrepr"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// The code in this file is the attacker of docs/MIRRORS.md "What each
// instance keeps": someone who copies a collector's data directory and
// holds the published lists (every voter and every vote) tries to tell
// which voter cast which vote. It reads every file of the copy three ways:
// as raw bytes, every sstable through Pebble's sstable reader (internal
// keys with their sequence numbers, values decompressed), and every
// write-ahead log through Pebble's record and batch readers (each batch
// with its sequence number). MANIFEST files are searched raw for keys
// followed by their trailer.

// diskEntry is one key and value found in a file, with the sequence
// number Pebble gave it (0 where the file does not say, or where a
// compaction zeroed it) and its position in the file.
type diskEntry struct {
	seq        uint64
	pos        int
	key, value []byte
}

// diskFile is one file of the copy.
type diskFile struct {
	path    string // relative to the copy
	source  string // the directory that holds it: one Pebble database
	raw     []byte
	entries []diskEntry
}

// decoded is every entry's key and value, one after the other, to search
// in.
func (f diskFile) decoded() []byte {
	var b []byte
	for _, e := range f.entries {
		b = append(b, e.key...)
		b = append(b, e.value...)
	}
	return b
}

// copyDir copies the regular files of dir into a new directory, as
// whoever seizes a running instance's disk would, and returns it. A file
// that disappears meanwhile is left out.
func copyDir(t testing.TB, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// readDisk reads every file under dir.
func readDisk(t testing.TB, dir string) []diskFile {
	t.Helper()
	var files []diskFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f := diskFile{path: rel, source: filepath.Dir(rel), raw: raw}
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".sst"):
			f.entries, err = readTable(path)
		case isWAL(name):
			num, _ := strconv.ParseUint(strings.TrimSuffix(name, ".log"), 10, 64)
			f.entries, err = readWAL(raw, num)
		}
		// A MANIFEST writes keys raw in its version edits: the attack
		// reads it with the keys it looks for (manifestEntries).
		if err != nil {
			// A file being written when the copy was made: its raw
			// bytes are all there is.
			t.Logf("%s: read raw only: %v", rel, err)
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// isWAL reports whether name is a Pebble write-ahead log: digits, ".log".
func isWAL(name string) bool {
	n, ok := strings.CutSuffix(name, ".log")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 64)
	return err == nil
}

// readTable returns every point key of an sstable, with its sequence
// number, and every range deletion's bounds.
func readTable(path string) ([]diskEntry, error) {
	f, err := vfs.Default.Open(path)
	if err != nil {
		return nil, err
	}
	readable, err := sstable.NewSimpleReadable(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	opts := &pebble.Options{}
	opts.EnsureDefaults()
	r, err := sstable.NewReader(context.Background(), readable, opts.MakeReaderOptions())
	if err != nil {
		readable.Close()
		return nil, err
	}
	defer r.Close()
	it, err := r.NewIter(sstable.NoTransforms, nil, nil, sstable.DebugHandlesBlobContext)
	if err != nil {
		return nil, err
	}
	var out []diskEntry
	for kv := it.First(); kv != nil; kv = it.Next() {
		v, _, err := kv.Value(nil)
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, diskEntry{seq: uint64(kv.SeqNum()), pos: len(out), key: bytes.Clone(kv.K.UserKey), value: bytes.Clone(v)})
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// newRecordReader calls record.NewReader with a log number, whose type
// lives in an internal package of Pebble.
func newRecordReader[N ~uint64](newReader func(io.Reader, N) *record.Reader, r io.Reader, num uint64) *record.Reader {
	return newReader(r, N(num))
}

// readWAL returns every entry of every batch a write-ahead log holds, each
// with its sequence number: the batch's plus its place in the batch.
func readWAL(raw []byte, num uint64) ([]diskEntry, error) {
	rr := newRecordReader(record.NewReader, bytes.NewReader(raw), num)
	var out []diskEntry
	for {
		r, err := rr.Next()
		if err != nil {
			// The end of the log, a torn tail or the zeroed rest of a
			// preallocated file: what follows is searched raw.
			return out, nil
		}
		repr, err := io.ReadAll(r)
		if err != nil {
			return out, nil
		}
		h, ok := batchrepr.ReadHeader(repr)
		if !ok {
			continue
		}
		br := batchrepr.Read(repr)
		for i := uint64(0); ; i++ {
			_, k, v, ok, err := br.Next()
			if err != nil || !ok {
				break
			}
			out = append(out, diskEntry{seq: uint64(h.SeqNum) + i, pos: len(out), key: bytes.Clone(k), value: bytes.Clone(v)})
		}
	}
}

// manifestEntries finds the keys ending in one of needles in a MANIFEST's
// raw bytes, where a version edit writes a table's bounds as a user key
// followed by its 8-byte trailer, and reads the sequence number there.
func manifestEntries(raw []byte, needles [][]byte) []diskEntry {
	var out []diskEntry
	for _, n := range needles {
		for at := 0; ; {
			i := bytes.Index(raw[at:], n)
			if i < 0 {
				break
			}
			end := at + i + len(n)
			if end+8 <= len(raw) {
				trailer := uint64(raw[end]) | uint64(raw[end+1])<<8 | uint64(raw[end+2])<<16 | uint64(raw[end+3])<<24 |
					uint64(raw[end+4])<<32 | uint64(raw[end+5])<<40 | uint64(raw[end+6])<<48 | uint64(raw[end+7])<<56
				out = append(out, diskEntry{seq: trailer >> 8, pos: at + i, key: bytes.Clone(n)})
			}
			at = end
		}
	}
	return out
}

// linkReport is what the attacker found.
type linkReport struct {
	files int
	// linked holds the votes (by their place in the case) whose voter's
	// signature and nonce some file holds together, raw or decoded, and
	// where: the direct links.
	linked map[int][]string
	// order is, for each source (Pebble database directory), how many
	// voters it orders so that the k-th is the voter of the k-th of their
	// votes by index; best is the largest.
	order map[string]int
	best  int
	// ordered is how many voters the best source shows.
	ordered int
}

func (r linkReport) String() string {
	var srcs []string
	for s, n := range r.order {
		srcs = append(srcs, fmt.Sprintf("%s:%d", s, n))
	}
	slices.Sort(srcs)
	var where []string
	for _, ws := range r.linked {
		where = append(where, ws...)
	}
	slices.Sort(where)
	where = slices.Compact(where)
	return fmt.Sprintf("%d files; %d votes linked directly (in %v); order matches by source %v, best %d of %d voters",
		r.files, len(r.linked), where, srcs, r.best, r.ordered)
}

// attack reads the copy at dir and tries to link voters[i] to votes[i],
// knowing which vote each index of votes.log holds (the published order
// of the votes is by index here: votes[i] has a smaller index than
// votes[i+1]).
func attack(t testing.TB, dir string, voters []Voter, votes []Vote) linkReport {
	t.Helper()
	files := readDisk(t, dir)
	rep := linkReport{files: len(files), linked: map[int][]string{}, order: map[string]int{}}

	// Each voter is recognised by its signature, raw or as a voter line
	// writes it, or by its mandate (auth-pkey, auth-id), which a key
	// holds; each vote by its nonce, raw or in hex.
	type marks struct{ sig, sig64, mandate, nonce, nonceHex []byte }
	ms := make([]marks, len(voters))
	var mandates [][]byte
	for i, v := range voters {
		m := v.Mandate()
		ms[i] = marks{
			sig:      v.Sig[:],
			sig64:    []byte(base64.StdEncoding.EncodeToString(v.Sig[:])),
			mandate:  m[:],
			nonce:    votes[i].Nonce,
			nonceHex: []byte(hex.EncodeToString(votes[i].Nonce)),
		}
		mandates = append(mandates, m[:])
	}
	holds := func(b []byte, alts ...[]byte) bool {
		for _, a := range alts {
			if bytes.Contains(b, a) {
				return true
			}
		}
		return false
	}

	// (a) Direct links: a file that holds a voter and its vote.
	for _, f := range files {
		for _, b := range [][]byte{f.raw, f.decoded()} {
			for i, m := range ms {
				if holds(b, m.sig, m.sig64) && holds(b, m.nonce, m.nonceHex) {
					if !slices.Contains(rep.linked[i], f.path) {
						rep.linked[i] = append(rep.linked[i], f.path)
					}
				}
			}
		}
	}

	// (b) Order: within each database, the sequence number at which each
	// voter first shows, against the order of their votes.
	type seen struct {
		seq  uint64
		file string
		pos  int
	}
	first := map[string]map[int]seen{}
	note := func(src string, i int, s seen) {
		if first[src] == nil {
			first[src] = map[int]seen{}
		}
		// A zero sequence number is one a compaction zeroed: any other
		// tells more.
		old, ok := first[src][i]
		if !ok || old.seq == 0 && s.seq != 0 || s.seq != 0 && s.seq < old.seq ||
			s.seq == old.seq && (s.file < old.file || s.file == old.file && s.pos < old.pos) {
			first[src][i] = s
		}
	}
	for _, f := range files {
		entries := f.entries
		if strings.HasPrefix(filepath.Base(f.path), "MANIFEST-") {
			entries = manifestEntries(f.raw, mandates)
		}
		for _, e := range entries {
			for i, m := range ms {
				if bytes.Contains(e.key, m.mandate) || holds(e.value, m.sig, m.sig64) || bytes.Contains(e.key, m.sig) {
					note(f.source, i, seen{e.seq, f.path, e.pos})
				}
			}
		}
	}
	for src, byVoter := range first {
		idx := make([]int, 0, len(byVoter))
		for i := range byVoter {
			idx = append(idx, i)
		}
		// The attacker's guess: the k-th voter to show cast the k-th of
		// these voters' votes. Votes are in index order already.
		guess := slices.Clone(idx)
		slices.SortFunc(guess, func(a, b int) int {
			sa, sb := byVoter[a], byVoter[b]
			switch {
			case sa.seq != sb.seq:
				return cmpU64(sa.seq, sb.seq)
			case sa.file != sb.file:
				return strings.Compare(sa.file, sb.file)
			default:
				return sa.pos - sb.pos
			}
		})
		slices.Sort(idx)
		n := 0
		for k := range idx {
			if guess[k] == idx[k] {
				n++
			}
		}
		rep.order[src] = n
		if n > rep.best {
			rep.best, rep.ordered = n, len(idx)
		}
	}
	return rep
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// twinTakes has to pull every pair from from, as the twin's /sync would,
// apply them and confirm them, so that from lets their links go.
func twinTakes(t testing.TB, clock *fakeClock, to, from *Store) {
	t.Helper()
	pairs, last, err := from.Links(to.TwinCursor(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := to.ApplyTwin(pairs, last); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second one after Retain, whatever it is
		if err := from.Confirm(to.TwinCursor(), to.LastSeq()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
	}
}

// diskOptions are the Options of the attacked Stores: the test's clock,
// and moves of moveBatch voters.
func diskOptions(clock *fakeClock, moveBatch int) Options {
	return Options{Clock: clock.Now, MoveBatch: moveBatch}
}

// settle runs the mover if it is due and waits until Pebble has deleted
// the files it made obsolete, as it does moments after a move.
func settle(t testing.TB, s *Store) {
	t.Helper()
	if err := s.moveNow(); err != nil {
		t.Fatal(err)
	}
	for _, db := range []*pebble.DB{s.votes, s.links, s.voters} {
		db.TestOnlyWaitForCleaning()
	}
}

// diskCase is mandates first..first+n-1 with their first vote.
func diskCase(first, n int) ([]Voter, []Vote) {
	var voters []Voter
	var votes []Vote
	for i := first; i < first+n; i++ {
		voters = append(voters, testVoter(i))
		v := testVote(i, 0)
		// A nonce of high entropy, as a real one is: testVote's are
		// mostly zero bytes, which any file holds by chance.
		h := hashOf("disk nonce", i)
		v.Nonce = h[:16]
		votes = append(votes, v)
	}
	return voters, votes
}

// TestDiskLinks is the attack on a pair that has run for a while: A
// accepts 60 votes in three rounds of 20, one request at a time, and after
// each round the twin B pulls them, confirms them and A lets their links
// go. Then both directories are copied and attacked. Neither may show a
// link: no file may hold a voter with its vote, and no database may order
// the voters like their votes beyond chance.
//
// The bound on order matches: A's voters reach the voter table in three
// batches of 20 (Options.MoveBatch), each sorted by key, so the best guess
// within a batch is a random permutation of 20 votes, whose fixed points
// are about Poisson(1) distributed; over three batches about Poisson(3),
// which reaches 10 with probability 0.1%. A disk that keeps the order
// shows all 60.
func TestDiskLinks(t *testing.T) {
	const rounds, perRound = 3, 20
	clock := newFakeClock()
	opt := diskOptions(clock, perRound)
	a := openT(t, t.TempDir(), opt)
	b := openT(t, t.TempDir(), opt)
	voters, votes := diskCase(0, rounds*perRound)
	for r := range rounds {
		for i := r * perRound; i < (r+1)*perRound; i++ {
			if _, err := a.Accept(context.Background(), voters[i], votes[i], Receipt{}); err != nil {
				t.Fatal(err)
			}
		}
		twinTakes(t, clock, b, a)
		settle(t, a)
		settle(t, b)
	}
	for name, s := range map[string]*Store{"A": a, "B": b} {
		rep := attack(t, copyDir(t, s.dir), voters, votes)
		t.Logf("%s: %v", name, rep)
		if len(rep.linked) != 0 {
			t.Errorf("%s: %d votes linked to their voter by a file that holds both", name, len(rep.linked))
		}
		if rep.best >= 10 {
			t.Errorf("%s: a database orders %d of %d voters like their votes, want fewer than 10", name, rep.best, rep.ordered)
		}
	}
}

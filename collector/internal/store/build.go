package store

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/powvote/powvote/internal/durable"
)

// BuildingFile marks a directory a Builder is writing. Open refuses a
// directory that holds it: the copy was cut short, and what it holds is
// no instance's state.
const BuildingFile = "BUILDING"

// ErrNotEmpty means a Builder was given a directory that holds something:
// it never writes over data.
var ErrNotEmpty = errors.New("store: directory not empty")

// buildBatch is how many records a Builder commits at once (without Sync;
// Finish syncs).
const buildBatch = 10000

// BuildOptions configure a Builder.
type BuildOptions struct {
	// Logger receives Pebble's messages. Nil discards them.
	Logger *slog.Logger
	// Twin says the directory is for the twin of the snapshot's owner (a
	// rebuild of the instance whose disk was lost) rather than for the
	// owner itself (a backup to restore). A twin's own sequence numbers
	// continue after the owner's twin cursor, the numbers the owner will
	// ask it for next; its twin cursor is the owner's last own sequence
	// number, since it holds every vote up to it; it keeps no link, having
	// accepted none of those votes, and every voter goes into its voter
	// table. The owner keeps its own numbers, cursor and links, and the
	// voters of the links stay pending.
	Twin bool
}

// Builder writes a Store from a Snapshot's content into an empty
// directory: the records in index order, then the links, then the voters
// in key order (the order of SnapshotInfo's sections). Finish makes it
// durable; until then the directory holds BuildingFile, and Abort empties
// it. Not safe for concurrent use.
type Builder struct {
	s    *Store
	info SnapshotInfo
	opt  BuildOptions

	vb, lb, tb *pebble.Batch // dir/votes (indexed), dir/links, dir/voters
	inVB       int
	log        *os.File
	w          *bufio.Writer

	records, live, links, voters uint64
	held                         map[[mandateLen]byte]bool // mandates with a link, for the owner
	lastVoter                    []byte
	phase                        int // 0 records, 1 links, 2 voters
	done                         bool
}

// CheckEmpty returns nil if dir does not exist or is an empty directory,
// ErrNotEmpty (wrapped, naming what it found) otherwise.
func CheckEmpty(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("store: %s holds %s and %d more: %w", dir, ents[0].Name(), len(ents)-1, ErrNotEmpty)
	}
	return nil
}

// checkBuilt refuses a directory that a Builder did not finish.
func checkBuilt(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, BuildingFile)); err == nil {
		return fmt.Errorf("store: %s holds %s: a rebuild or restore into it was cut short, and it holds no instance's state; empty it and start again: %w",
			dir, BuildingFile, ErrCorrupt)
	}
	return nil
}

// NewBuilder prepares dir, which must be empty or absent, for the content
// of a snapshot described by info.
func NewBuilder(dir string, info SnapshotInfo, opt BuildOptions) (*Builder, error) {
	if err := CheckEmpty(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(dir, BuildingFile), nil, 0o600); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{dir: dir, log: opt.Logger, snaps: make(map[*Snapshot]struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	b := &Builder{s: s, info: info, opt: opt, held: make(map[[mandateLen]byte]bool)}
	if err := s.openDBs(); err != nil {
		b.Abort()
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.Abort()
		return nil, fmt.Errorf("store: %w", err)
	}
	b.log, b.w = f, bufio.NewWriterSize(f, 1<<20)
	b.vb, b.lb, b.tb = s.votes.NewIndexedBatch(), s.links.NewBatch(), s.voters.NewBatch()
	return b, nil
}

// Record adds the next vote record; its Index must follow the last one.
// It reads the record from Payload (r.Record is not used).
func (b *Builder) Record(r SnapRecord) error {
	if b.phase != 0 {
		return errors.New("store: build: a record after the links or voters")
	}
	if r.Index != b.records+1 {
		return fmt.Errorf("store: build: record %d after %d", r.Index, b.records)
	}
	back, err := parseRecord(string(r.Payload))
	if err != nil {
		return fmt.Errorf("store: build: record %d: %w", r.Index, err)
	}
	if err := CheckReceipt(r.Receipt); err != nil {
		return fmt.Errorf("store: build: record %d: %w", r.Index, err)
	}
	b.records++
	set := func(k, v []byte) {
		if err == nil {
			err = b.vb.Set(k, v, nil)
		}
	}
	set(numKey(tVote, r.Index), r.Payload)
	if v := back.Vote; v != nil {
		if r.Receipt.Decoys != "" {
			set(numKey(tRcpt, r.Index), encodeReceipt(r.Receipt))
		}
		if r.Live {
			for _, k := range [][]byte{nonceKey(v.Nonce), stampKey(v.Voter)} {
				have, gerr := batchGet(b.vb, k)
				if gerr != nil {
					return fmt.Errorf("store: build: %w", gerr)
				}
				set(k, append(have, u64(r.Index)...))
			}
			b.live++
		}
	} else if r.Live {
		return fmt.Errorf("store: build: record %d: a live retraction", r.Index)
	}
	if err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	if _, err := b.w.Write(appendFrame(nil, r.Payload)); err != nil {
		return fmt.Errorf("store: build: write %s: %w", LogFile, err)
	}
	if b.inVB++; b.inVB == buildBatch {
		if err := b.vb.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("store: build: %w", err)
		}
		b.vb.Close()
		b.vb, b.inVB = b.s.votes.NewIndexedBatch(), 0
	}
	return nil
}

// Link adds a held link, after every record. A twin's Builder checks and
// counts it but keeps none.
func (b *Builder) Link(l SnapLink) error {
	if b.phase > 1 {
		return errors.New("store: build: a link after the voters")
	}
	b.phase = 1
	if l.Index == 0 || l.Index > b.records {
		return fmt.Errorf("store: build: link %d names record %d of %d", l.Seq, l.Index, b.records)
	}
	if l.Seq == 0 || l.Seq > b.info.Seq {
		return fmt.Errorf("store: build: link %d beyond the last own sequence number %d", l.Seq, b.info.Seq)
	}
	if err := checkVote(l.Vote); err != nil {
		return fmt.Errorf("store: build: link %d: %w", l.Seq, err)
	}
	b.links++
	m := mandateKey(tMand, l.Voter)
	b.held[[mandateLen]byte(m[1:])] = true
	if b.opt.Twin {
		return nil
	}
	err := b.lb.Set(numKey(tPair, l.Seq), encodeLink(link{retracted: l.Retracted, index: l.Index, pair: l.Pair}), nil)
	if err == nil {
		err = b.lb.Set(m, u64(l.Seq), nil)
	}
	if err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	return nil
}

// Voter adds a voter record, after the links, in increasing key order.
func (b *Builder) Voter(v Voter) error {
	b.phase = 2
	k := mandateKey(tVoter, v)
	if b.lastVoter != nil && string(k) <= string(b.lastVoter) {
		return errors.New("store: build: voters out of key order")
	}
	b.lastVoter = k
	b.voters++
	dst := b.tb
	if !b.opt.Twin && b.held[[mandateLen]byte(k[1:])] {
		// The owner's held link keeps its voter pending, as Accept left it.
		dst = b.lb
	}
	if err := dst.Set(k, v.Sig[:], nil); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	if dst == b.tb && b.tb.Len() >= 4<<20 {
		if err := b.tb.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("store: build: %w", err)
		}
		b.tb.Close()
		b.tb = b.s.voters.NewBatch()
	}
	return nil
}

// Finish checks the counts against the SnapshotInfo, writes the counters
// and a new log identity, makes everything durable and removes
// BuildingFile. The directory is then a Store that Open opens; the Builder
// is done.
func (b *Builder) Finish() error {
	err := b.finish()
	if err != nil {
		b.Abort()
	}
	return err
}

func (b *Builder) finish() error {
	in := b.info
	switch {
	case b.records != in.Index:
		return fmt.Errorf("store: build: %d records, the snapshot says %d", b.records, in.Index)
	case b.live != in.Votes:
		return fmt.Errorf("store: build: %d live votes, the snapshot says %d", b.live, in.Votes)
	case b.links != in.Links:
		return fmt.Errorf("store: build: %d links, the snapshot says %d", b.links, in.Links)
	case b.voters != in.Voters:
		return fmt.Errorf("store: build: %d voters, the snapshot says %d", b.voters, in.Voters)
	case uint64(len(b.held)) != b.links:
		return fmt.Errorf("store: build: %d links for %d mandates", b.links, len(b.held))
	}
	st := state{seq: in.Seq, index: in.Index, twin: in.Twin, voters: in.Voters, votes: in.Votes}
	if b.opt.Twin {
		st.seq, st.twin = in.Twin, in.Seq
	}
	for _, m := range metas(&st) {
		if err := b.vb.Set(m.key, u64(*m.v), nil); err != nil {
			return fmt.Errorf("store: build: %w", err)
		}
	}
	if err := b.vb.Set(metaStamps, u64(b.live), nil); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	id, err := newLogID()
	if err != nil {
		return err
	}
	if err := b.vb.Set(metaLogID, id, nil); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	if err := setBounds(b.lb); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	if err := setBounds(b.tb); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	for _, c := range []struct {
		name string
		b    **pebble.Batch
	}{{VotesDir, &b.vb}, {LinksDir, &b.lb}, {VotersDir, &b.tb}} {
		if err := (*c.b).Commit(pebble.Sync); err != nil {
			return fmt.Errorf("store: build: commit %s: %w", c.name, err)
		}
		(*c.b).Close()
		*c.b = nil
	}
	if err := b.w.Flush(); err != nil {
		return fmt.Errorf("store: build: write %s: %w", LogFile, err)
	}
	if err := b.log.Sync(); err != nil {
		return fmt.Errorf("store: build: fsync %s: %w", LogFile, err)
	}
	if err := b.log.Close(); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	b.log = nil
	// Like a move: the voters in one table of key order, with no
	// sequence numbers to tell their batches apart.
	for _, db := range []*pebble.DB{b.s.links, b.s.voters} {
		if err := compactAll(context.Background(), db); err != nil {
			return fmt.Errorf("store: build: %w", err)
		}
	}
	if err := b.s.closeDBs(); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	// A copy links voters to votes as the instance's disk does: only its
	// owner reads it, whatever the umask made of Pebble's files.
	if err := Privatize(b.s.dir); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	if err := os.Remove(filepath.Join(b.s.dir, BuildingFile)); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	if err := durable.SyncDir(b.s.dir); err != nil {
		return fmt.Errorf("store: build: %w", err)
	}
	b.done = true
	b.s.log.Info("store: built from a snapshot", "records", in.Index, "voters", in.Voters, "links_kept", len(b.held)*boolInt(!b.opt.Twin),
		"log_id", hex.EncodeToString(id))
	return nil
}

// Privatize makes dir and everything in it readable by its owner only:
// directories 0700, files 0600. Pebble makes its files as the umask
// lets it; a copy of a store is kept apart from the process that made it.
func Privatize(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700
		}
		return os.Chmod(p, mode)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Abort closes what the Builder opened and empties the directory, which
// was empty before. It does nothing once Finish has succeeded.
func (b *Builder) Abort() {
	if b.done {
		return
	}
	b.done = true
	for _, x := range []*pebble.Batch{b.vb, b.lb, b.tb} {
		if x != nil {
			x.Close()
		}
	}
	if b.log != nil {
		b.log.Close()
	}
	b.s.closeDBs()
	ents, err := os.ReadDir(b.s.dir)
	if err != nil {
		return
	}
	// BuildingFile last: a crash meanwhile leaves it, and Open refuses.
	for _, e := range ents {
		if e.Name() != BuildingFile {
			os.RemoveAll(filepath.Join(b.s.dir, e.Name()))
		}
	}
	os.Remove(filepath.Join(b.s.dir, BuildingFile))
}

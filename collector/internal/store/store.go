package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// Names inside the directory given to Open.
const (
	DBDir   = "voters"    // the Pebble database
	LogFile = "votes.log" // the vote records, framed
)

// Errors callers branch on.
var (
	// ErrAlreadyVoted means the mandate has voted, with another vote (or
	// with this one, but the link that would let Accept repeat it is gone
	// and the vote itself is not recorded here).
	ErrAlreadyVoted = errors.New("store: mandate has voted already")
	// ErrDuplicateVote means a vote with this nonce is recorded already,
	// for another mandate: someone replays a vote under a second mandate.
	ErrDuplicateVote = errors.New("store: a vote with this nonce is recorded for another mandate")
	// ErrDuplicateStamp means a vote with this voter stamp and another
	// nonce is recorded already: a voter stamp is good for one vote, and
	// someone took a recorded one (from the votes list or a receipt) to
	// cast another.
	ErrDuplicateStamp = errors.New("store: a vote with this voter stamp is recorded already")
	// ErrFailed means a commit or an fsync failed: the Store refuses every
	// write from then on, because it can no longer tell what is durable.
	// Close it and open it again to recover.
	ErrFailed = errors.New("store: failed, writes refused")
	// ErrClosed means the Store is closed.
	ErrClosed = errors.New("store: closed")
	// ErrCorrupt means the files contradict each other or themselves in a
	// way that recovery does not repair (anything but a bad log tail).
	ErrCorrupt = errors.New("store: corrupt")
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Logger receives recovery reports, mirror conflicts and Pebble's own
	// messages (at debug level). Nil discards them.
	Logger *slog.Logger
	// MaxBatch is the most requests one group commit takes. Zero means 512.
	MaxBatch int
	// Retain is how long a link stays at least after the twin confirmed
	// it, so that a retried request still gets its receipt. (A link also
	// stays until this instance has applied every vote the twin accepted
	// before confirming: see Confirm.) Zero means 10 minutes.
	Retain time.Duration
	// Clock tells the time for Retain and DecoyAge. Nil means time.Now.
	Clock func() time.Time
	// DecoyAge is how long a vote is durable before Recent offers its
	// voter stamp as a decoy. Zero means at once.
	DecoyAge time.Duration
}

// cacheSize is Pebble's block cache: the voter table of a large campaign
// (a million mandates take about 130 MB) does not fit, but its index and
// filter blocks do.
const cacheSize = 64 << 20

const (
	defaultMaxBatch = 512
	defaultRetain   = 10 * time.Minute
)

// Result is what Accept returns for a recorded vote.
type Result struct {
	// Seq is the vote's own sequence number, from 1, or 0 for a Repeat of a
	// vote this instance holds but did not accept itself (it copied it from
	// the twin, or its link is gone).
	Seq uint64
	// Repeat is true when the vote had been recorded before this call.
	Repeat bool
}

// Pair is a vote this instance accepted itself, with its voter: what the
// twin copies. Seq is this instance's own sequence number.
type Pair struct {
	Seq   uint64
	Voter Voter
	Vote  Vote
}

// Record is one record of votes.log. Exactly one of Vote and Retract is set.
type Record struct {
	Index   uint64 // from 1, in log order
	Vote    *Vote
	Retract []byte // the nonce of the vote this record withdraws
}

// state is the counters the writer keeps; a copy is published after every
// durable batch.
type state struct {
	seq    uint64 // last own sequence number
	index  uint64 // last vote record index
	twin   uint64 // twin cursor
	voters uint64 // voter table entries
	votes  uint64 // vote records not retracted
}

// mark is a confirmation of own pairs up to upto, first seen at at, and
// the smallest last own sequence number the twin reported with a
// confirmation of them (TwinLastUnknown while none did).
type mark struct {
	upto     uint64
	at       time.Time
	twinLast uint64
}

type failure struct{ err error }

// Store is a collecting instance's durable state. See the package
// documentation for its contract.
type Store struct {
	// Set by Open, read-only afterwards.
	dir      string
	log      *slog.Logger
	clock    func() time.Time
	maxBatch int
	retain   time.Duration
	db       *pebble.DB // safe for concurrent use; only the writer writes

	// Owned by the writer goroutine (run) once Open returns; Open uses
	// them before it starts the writer.
	file    appender
	st      state  // as of the last durable batch
	marks   []mark // confirmations whose links are not dropped yet, by upto
	dropped uint64 // every link with seq <= dropped is deleted
	buf     []byte // log records of the batch being written

	reqs    chan *request // unbuffered: a completed send is owned by the writer
	quit    chan struct{} // closed by Close
	stopped chan struct{} // closed by the writer when it returns

	pub     atomic.Pointer[state]   // last durable state, stored by the writer
	fail    atomic.Pointer[failure] // set once by the writer; never cleared
	failedC chan struct{}           // closed when fail is set

	recentMu sync.Mutex
	recent   map[string][]string     // option -> voter stamps old enough to be decoys, oldest first; guarded by recentMu
	young    map[string][]youngStamp // option -> voter stamps not old enough yet, oldest first; guarded by recentMu
	decoyAge time.Duration

	// life is read-held by every reader of db for the length of its read,
	// and write-held by Close while it closes db, so that no read runs on a
	// closed database. It never serializes readers with each other or with
	// the writer.
	life   sync.RWMutex
	closed bool // guarded by life

	closeOnce sync.Once
	closeErr  error

	commits atomic.Int64 // Pebble batches committed with Sync
	fsyncs  atomic.Int64 // fsyncs of votes.log by the writer
}

// Open opens or creates the Store in dir and recovers it (see the package
// documentation): when it returns, votes.log holds exactly the vote records
// of the database, fsynced.
func Open(dir string, opt Options) (*Store, error) {
	return open(dir, opt, nil)
}

// open is Open with a hook that wraps votes.log, for fault injection.
func open(dir string, opt Options, wrap func(*os.File) appender) (*Store, error) {
	if opt.MaxBatch < 0 {
		return nil, fmt.Errorf("store: Options.MaxBatch is %d, want 0 or more", opt.MaxBatch)
	}
	if opt.DecoyAge < 0 {
		return nil, fmt.Errorf("store: Options.DecoyAge is %v, want 0 or more", opt.DecoyAge)
	}
	if opt.Retain < 0 {
		return nil, fmt.Errorf("store: Options.Retain is %v, want 0 or more", opt.Retain)
	}
	s := &Store{
		dir:      dir,
		log:      opt.Logger,
		clock:    opt.Clock,
		maxBatch: opt.MaxBatch,
		retain:   opt.Retain,
		reqs:     make(chan *request),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
		failedC:  make(chan struct{}),
		recent:   make(map[string][]string),
		young:    make(map[string][]youngStamp),
		decoyAge: opt.DecoyAge,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.maxBatch == 0 {
		s.maxBatch = defaultMaxBatch
	}
	if s.retain == 0 {
		s.retain = defaultRetain
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Pebble locks its directory, which also keeps a second process away
	// from votes.log.
	popt := &pebble.Options{
		Logger:             pebbleLogger{s.log},
		FormatMajorVersion: pebble.FormatNewest,
		CacheSize:          cacheSize,
	}
	// Most lookups are for keys that are absent (a mandate that has not
	// voted, a nonce not seen): bloom filters answer them without reading
	// the tables. Lower levels inherit the policy of L0.
	popt.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(filepath.Join(dir, DBDir), popt)
	if err != nil {
		return nil, fmt.Errorf("store: couldn't open %s: %w", filepath.Join(dir, DBDir), err)
	}
	s.db = db
	f, err := s.recoverLog()
	if err != nil {
		db.Close()
		return nil, err
	}
	if wrap != nil {
		s.file = wrap(f)
	} else {
		s.file = f
	}
	if err := s.indexStamps(); err != nil {
		s.file.Close()
		db.Close()
		return nil, err
	}
	if err := s.rebuildRecent(); err != nil {
		s.file.Close()
		db.Close()
		return nil, err
	}
	st := s.st
	s.pub.Store(&st)
	go s.run()
	return s, nil
}

// recoverLog reads the metadata, then makes votes.log the exact projection of
// the vote records: it cuts a bad tail and appends what the log lacks.
func (s *Store) recoverLog() (*os.File, error) {
	var err error
	for _, m := range []struct {
		key []byte
		dst *uint64
	}{
		{metaSeq, &s.st.seq}, {metaIndex, &s.st.index}, {metaTwin, &s.st.twin},
		{metaVoters, &s.st.voters}, {metaVotes, &s.st.votes},
	} {
		if *m.dst, err = s.getU64(m.key); err != nil {
			return nil, err
		}
	}
	if err := s.checkLastIndex(); err != nil {
		return nil, err
	}

	name := filepath.Join(s.dir, LogFile)
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(s.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("store: sync %s: %w", s.dir, err)
		}
	}
	if err := s.repairLog(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// getU64 reads a metadata counter; a missing one is 0.
func (s *Store) getU64(key []byte) (uint64, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read metadata %q: %w", key, err)
	}
	defer closer.Close()
	return readU64(v, fmt.Sprintf("metadata %q", key))
}

// checkLastIndex checks that the last vote record is the one the metadata
// names: both are written by the same batches.
func (s *Store) checkLastIndex() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tVote}, UpperBound: []byte{tVote + 1}})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer it.Close()
	var last uint64
	if it.Last() {
		last, err = readU64(it.Key()[1:], "vote record key")
		if err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store: read vote records: %w", err)
	}
	if last != s.st.index {
		return fmt.Errorf("store: last vote record is %d, metadata says %d: %w", last, s.st.index, ErrCorrupt)
	}
	return nil
}

// repairLog compares votes.log with the vote records, cuts what follows the
// last good record, appends the records the log lacks and fsyncs. A good
// record that differs from the database is not a torn tail but a log that
// belongs elsewhere: repairLog refuses it.
func (s *Store) repairLog(f *os.File) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: numKey(tVote, 1), UpperBound: []byte{tVote + 1}})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer it.Close()
	it.First()
	// next returns the database's record i, which must be the iterator's.
	next := func(i uint64) ([]byte, error) {
		if !it.Valid() {
			if err := it.Error(); err != nil {
				return nil, fmt.Errorf("store: read vote records: %w", err)
			}
			return nil, fmt.Errorf("store: votes.log has record %d, the database only %d: %w", i, s.st.index, ErrCorrupt)
		}
		if !bytes.Equal(it.Key(), numKey(tVote, i)) {
			return nil, fmt.Errorf("store: vote record %d missing (found key %x): %w", i, it.Key(), ErrCorrupt)
		}
		// The value is only valid until the iterator moves.
		v := bytes.Clone(it.Value())
		it.Next()
		return v, nil
	}

	sc, err := scanLog(f, func(i uint64, payload []byte) error {
		want, err := next(i)
		if err != nil {
			return err
		}
		if !bytes.Equal(payload, want) {
			return fmt.Errorf("store: votes.log record %d is %q, the database has %q: %w", i, payload, want, ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if sc.good < sc.size {
		s.log.Warn("store: cut the bad tail of votes.log",
			"reason", sc.why, "kept_records", sc.records, "kept_bytes", sc.good, "cut_bytes", sc.size-sc.good)
		if err := f.Truncate(sc.good); err != nil {
			return fmt.Errorf("store: truncate votes.log: %w", err)
		}
	}
	if _, err := f.Seek(sc.good, io.SeekStart); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var buf []byte
	added := 0
	for i := sc.records + 1; i <= s.st.index; i++ {
		v, err := next(i)
		if err != nil {
			return err
		}
		buf = appendFrame(buf, v)
		added++
		if len(buf) >= 1<<20 || i == s.st.index {
			if _, err := f.Write(buf); err != nil {
				return fmt.Errorf("store: append to votes.log: %w", err)
			}
			buf = buf[:0]
		}
	}
	if added > 0 || sc.good < sc.size {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("store: fsync votes.log: %w", err)
		}
	}
	if added > 0 {
		s.log.Info("store: appended the vote records votes.log lacked",
			"records", added, "from", sc.records+1, "to", s.st.index)
	}
	return nil
}

// stampBatch is how many vote records indexStamps indexes per Pebble batch.
const stampBatch = 10000

// indexStamps builds the voter stamp index ('S', keys.go) of a database
// made before it existed, and marks the index complete; on a database that
// has the mark it does nothing. The index is built from the nonce index,
// which names exactly the vote records no retraction withdrew, so it ends
// as Accept and ApplyTwin would have kept it. It is written in batches
// without Sync, after the removal of whatever an interrupted build left,
// and the mark goes last, in a batch with Sync: Pebble makes batches
// durable in order, so a database with the mark has the whole index, and
// one without it is built again from the start.
func (s *Store) indexStamps() error {
	_, closer, err := s.db.Get(metaStamps)
	if err == nil {
		closer.Close()
		return nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("store: read metadata %q: %w", metaStamps, err)
	}
	reset := s.db.NewBatch()
	defer reset.Close()
	if err := reset.DeleteRange([]byte{tStamp}, []byte{tStamp + 1}, nil); err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	if err := reset.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tNonce}, UpperBound: []byte{tNonce + 1}})
	if err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	defer it.Close()
	b := s.db.NewIndexedBatch()
	defer func() { b.Close() }()
	n, inBatch := 0, 0
	for ok := it.First(); ok; ok = it.Next() {
		idx, err := decodeIndexes(it.Value(), "nonce")
		if err != nil {
			return err
		}
		for _, i := range idx {
			r, err := s.recordAt(b, i)
			if err != nil {
				return err
			}
			if r.Vote == nil {
				return fmt.Errorf("store: the nonce index names record %d, a retraction: %w", i, ErrCorrupt)
			}
			sk := stampKey(r.Vote.Voter)
			have, err := batchGet(b, sk)
			if err != nil {
				return fmt.Errorf("store: index voter stamps: %w", err)
			}
			if err := b.Set(sk, append(have, u64(i)...), nil); err != nil {
				return fmt.Errorf("store: index voter stamps: %w", err)
			}
			n++
			if inBatch++; inBatch == stampBatch {
				if err := b.Commit(pebble.NoSync); err != nil {
					return fmt.Errorf("store: index voter stamps: %w", err)
				}
				b.Close()
				b, inBatch = s.db.NewIndexedBatch(), 0
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store: index voter stamps: read the nonce index: %w", err)
	}
	if err := b.Set(metaStamps, u64(uint64(n)), nil); err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	if n > 0 {
		s.log.Info("store: indexed the voter stamps of the recorded votes", "votes", n)
	}
	return nil
}

// recordAt reads and parses vote record i through b.
func (s *Store) recordAt(b *pebble.Batch, i uint64) (Record, error) {
	p, err := batchGet(b, numKey(tVote, i))
	if err != nil {
		return Record{}, fmt.Errorf("store: read vote record %d: %w", i, err)
	}
	if p == nil {
		return Record{}, fmt.Errorf("store: vote record %d missing: %w", i, ErrCorrupt)
	}
	r, err := parseRecord(string(p))
	if err != nil {
		return Record{}, fmt.Errorf("store: vote record %d: %w: %w", i, ErrCorrupt, err)
	}
	return r, nil
}

// batchGet returns a copy of the value of key as b sees it, nil if absent.
func batchGet(b *pebble.Batch, key []byte) ([]byte, error) {
	v, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// recentKeep is how many voter stamps Recent keeps per option; recentScan
// is how many vote records Open reads back to find them again. An option
// with no vote among the last recentScan records starts empty.
const (
	recentKeep = 64
	recentScan = 1 << 16
)

// rebuildRecent fills the recent stamps from the last vote records,
// leaving out retracted votes.
func (s *Store) rebuildRecent() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tVote}, UpperBound: []byte{tVote + 1}})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer it.Close()
	retracted := make(map[string]bool)
	newestFirst := make(map[string][]string)
	n := 0
	for ok := it.Last(); ok && n < recentScan; ok = it.Prev() {
		n++
		r, err := parseRecord(string(it.Value()))
		if err != nil {
			return fmt.Errorf("store: vote record %x: %w: %w", it.Key(), ErrCorrupt, err)
		}
		if r.Retract != nil {
			retracted[string(r.Retract)] = true
			continue
		}
		if retracted[string(r.Vote.Nonce)] {
			continue
		}
		if l := newestFirst[r.Vote.Option]; len(l) < recentKeep {
			newestFirst[r.Vote.Option] = append(l, r.Vote.Voter)
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store: read vote records: %w", err)
	}
	for o, l := range newestFirst {
		old := make([]string, len(l))
		for i, st := range l {
			old[len(l)-1-i] = st
		}
		s.recent[o] = old
	}
	return nil
}

// Close stops the writer after its current batch, waits for reads in
// progress and closes the files. Requests not yet taken by the writer get
// ErrClosed. Close may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.stopped
		s.life.Lock()
		defer s.life.Unlock()
		s.closed = true
		err := s.file.Close()
		if dbErr := s.closeDB(); err == nil {
			err = dbErr
		}
		if err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}

// closeDB closes Pebble. After a failed commit Pebble's commit pipeline may
// be broken and its Close may panic; the Store is already refusing writes
// then, so that panic becomes an error.
func (s *Store) closeDB() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble: %v", r)
		}
	}()
	return s.db.Close()
}

// read runs fn with the database open, or returns ErrClosed.
func (s *Store) read(fn func() error) error {
	s.life.RLock()
	defer s.life.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return fn()
}

// pebbleLogger hands Pebble's messages to the Store's logger. Pebble calls
// Fatalf when a commit fails in a way that breaks its commit pipeline; the
// panic ends the writer's commit, which turns it into a fail stop. A Fatalf
// on one of Pebble's own goroutines ends the process, as Pebble's default
// logger would.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(msg)
}

// Compile-time check that pebbleLogger is a pebble.Logger.
var _ pebble.Logger = pebbleLogger{}

// Failed is closed once a commit or an fsync has failed: the Store then
// refuses every write until it is reopened (a fail stop), and its owner
// should stop taking requests and let a supervisor restart it.
func (s *Store) Failed() <-chan struct{} { return s.failedC }

// Err returns the failure that stopped the Store's writes, or nil.
func (s *Store) Err() error {
	if f := s.fail.Load(); f != nil {
		return f.err
	}
	return nil
}

package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/listline"
)

// Names inside the directory given to Open.
const (
	VotesDir  = "votes"     // Pebble: the vote records, their indexes, the counters
	LinksDir  = "links"     // Pebble: the links of own votes and the pending voters
	VotersDir = "voters"    // Pebble: the voter table
	LogFile   = "votes.log" // the vote records, framed
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
	// ErrOldLayout means the directory holds a Store of the earlier layout,
	// whose one database kept voters, votes and links together in
	// acceptance order. Open does not convert it.
	ErrOldLayout = errors.New("store: directory of the earlier layout (one database for voters, votes and links)")
	// ErrUnconfirmed means Purge kept links because the twin has not
	// confirmed their votes yet.
	ErrUnconfirmed = errors.New("store: links kept: votes not confirmed by the twin")
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Logger receives recovery reports, mirror conflicts and Pebble's own
	// messages (at debug level). Nil discards them.
	Logger *slog.Logger
	// MaxBatch is the most requests one group commit takes. Zero means 512.
	MaxBatch int
	// Retain is how long a link stays at least after the twin confirmed
	// it. (A link also stays until this instance has applied every vote
	// the twin accepted before confirming: see Confirm.) Zero means no
	// longer than that: a link goes with the confirmation that lets it, and
	// a retried request then gets its receipt from the vote record.
	Retain time.Duration
	// MoveBatch is the fewest voters the mover moves from dir/links into
	// the voter table at once (Purge moves any number): a copy of the
	// disk tells which move a voter came in, so a move must be as large
	// as a published batch. The collector passes the campaign's
	// batch_size. Zero means 100.
	MoveBatch int
	// Clock tells the time for Retain, DecoyAge and the mover's pace. Nil
	// means time.Now.
	Clock func() time.Time
	// DecoyAge is how long a vote is durable before Recent offers its
	// voter stamp as a decoy. Zero means at once.
	DecoyAge time.Duration
	// PreferTwinReceipts decides, for a vote both instances accepted and
	// both gave a receipt for, that the twin's replaces this instance's
	// (ApplyTwin). Exactly one instance of a pair sets it, so that both
	// end with the same receipt.
	PreferTwinReceipts bool
	// ReceiptKey signs, for campaign Campaign, the binding of each vote
	// this instance retracts by mirror rule 3 to the vote that won
	// (wire.SignRetraction): the retraction record carries the winner's
	// nonce and the signature, and the publisher publishes them. Package
	// collector always sets both. Nil means retraction records that name
	// the retracted vote only, which no verifier takes as evidence: for
	// tests, and for tools that never apply the twin's votes (Purge).
	ReceiptKey ed25519.PrivateKey
	Campaign   string
	// GroupRequests and GroupSync, when set, receive the number of
	// requests of each group commit and the seconds its write took to
	// become durable: the commits of dir/links and dir/votes with Sync
	// and the fsync of votes.log (writer.go, write). Nil: not measured.
	GroupRequests, GroupSync *metrics.PrometheusHistogram
}

// cacheSize is Pebble's block cache, shared by the three databases: the
// voter table of a large campaign (a million mandates take about 130 MB)
// does not fit, but its index and filter blocks do.
const cacheSize = 64 << 20

const (
	defaultMaxBatch  = 512
	defaultMoveBatch = 100
)

// moveInterval is the least time between two runs of the mover, except
// for Purge.
const moveInterval = time.Second

// Result is what Accept returns for a recorded vote.
type Result struct {
	// Seq is the vote's own sequence number, from 1, or 0 for a Repeat of a
	// vote this instance holds but did not accept itself (it copied it from
	// the twin, or its link is gone).
	Seq uint64
	// Repeat is true when the vote had been recorded before this call.
	Repeat bool
	// Receipt is the receipt kept with the vote: for a new vote the one
	// Accept was given, for a Repeat the one kept then (or the twin's,
	// Options.PreferTwinReceipts); empty if none was kept.
	Receipt Receipt
}

// Receipt is what a collector needs to give a vote's receipt again,
// byte for byte. Decoys is the decoy voter stamp it showed against each
// option of the ballot, in ballot order, separated by commas, with "*" for
// the vote's own option and "-" for an option it had no decoy for: the
// Store keeps it opaque (CheckReceipt only keeps it one token), package
// collector writes and reads it. Given is set once the instance has
// signed it, so that a voter may hold it: of two instances' receipts for
// one vote, a given one wins over one that was not (ApplyTwin).
type Receipt struct {
	Decoys string
	Given  bool
}

// Pair is a vote this instance accepted itself, with its voter and its
// receipt: what the twin copies. Seq is this instance's own sequence
// number.
type Pair struct {
	Seq     uint64
	Voter   Voter
	Vote    Vote
	Receipt Receipt
}

// Record is one record of votes.log: a vote, or a retraction of an own
// vote (listline.Record).
type Record struct {
	Index uint64 // from 1, in log order
	listline.Record
}

// state is the counters the writer keeps; a copy is published after every
// durable batch.
type state struct {
	// In the metadata of dir/votes.
	seq    uint64 // last own sequence number
	index  uint64 // last vote record index
	twin   uint64 // twin cursor
	voters uint64 // voters recorded, pending or in the voter table
	votes  uint64 // vote records not retracted
	group  uint64 // groups committed to dir/votes

	// Counted by Open in dir/links. Every held link's voter is pending.
	links   uint64 // links held
	pending uint64 // pending voters
}

// persisted returns st without the counters that are not in the metadata.
func (st state) persisted() state {
	st.links, st.pending = 0, 0
	return st
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
	dir        string
	log        *slog.Logger
	clock      func() time.Time
	maxBatch   int
	groupReqs  *metrics.PrometheusHistogram // nil: not measured
	groupSync  *metrics.PrometheusHistogram // nil: not measured
	moveBatch  int
	retain     time.Duration
	preferTwin bool
	receiptKey ed25519.PrivateKey // signs retractions; nil: they bind nothing
	campaign   string
	logID      string // LogID; set by Open
	// The databases are safe for concurrent use; only the writer writes.
	votes  *pebble.DB // dir/votes
	links  *pebble.DB // dir/links
	voters *pebble.DB // dir/voters

	// Owned by the writer goroutine (run) once Open returns; Open uses
	// them before it starts the writer.
	file     appender
	st       state    // as of the last durable batch
	marks    []mark   // confirmations whose links are not dropped yet, by upto
	dropped  uint64   // every link with seq <= dropped is deleted
	buf      []byte   // log records of the batch being written
	eligible []Voter  // pending voters whose link is gone (or who had none): what the mover moves
	journal  *journal // the voters added since Open, for VotersSince
	lastMove time.Time
	// compactDue is set when links are dropped, or a flush or compaction
	// of dir/links after a move failed: the mover's next run compacts
	// dir/links even with nothing to move.
	compactDue bool

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

	// life is read-held by every reader of the databases for the length of
	// its read, and write-held by Close while it closes them, so that no
	// read runs on a closed database. It never serializes readers with each
	// other or with the writer.
	life   sync.RWMutex
	closed bool // guarded by life

	// snaps are the Snapshots not yet closed: Close releases them before
	// it closes the databases.
	snapMu sync.Mutex
	snaps  map[*Snapshot]struct{} // guarded by snapMu

	closeOnce sync.Once
	closeErr  error

	// fault, set by tests before their first write, fails the writer at
	// the points where a crash would leave the databases apart (faultAt).
	// Nil in production.
	fault func(point int) error

	commits atomic.Int64 // groups committed (one or two Pebble commits with Sync)
	fsyncs  atomic.Int64 // fsyncs of votes.log by the writer
	moves   atomic.Int64 // mover runs that moved voters
}

// Open opens or creates the Store in dir and recovers it (see the package
// documentation): when it returns, dir/votes holds every group that
// dir/links holds a redo of, no voter is both pending and in the voter
// table, and votes.log holds exactly the vote records of dir/votes,
// fsynced. A directory of the earlier layout is refused with ErrOldLayout.
func Open(dir string, opt Options) (*Store, error) {
	return open(dir, opt, nil)
}

// open is Open with a hook that wraps votes.log, for fault injection.
func open(dir string, opt Options, wrap func(*os.File) appender) (*Store, error) {
	if opt.MaxBatch < 0 {
		return nil, fmt.Errorf("store: Options.MaxBatch is %d, want 0 or more", opt.MaxBatch)
	}
	if opt.MoveBatch < 0 {
		return nil, fmt.Errorf("store: Options.MoveBatch is %d, want 0 or more", opt.MoveBatch)
	}
	if opt.DecoyAge < 0 {
		return nil, fmt.Errorf("store: Options.DecoyAge is %v, want 0 or more", opt.DecoyAge)
	}
	if opt.Retain < 0 {
		return nil, fmt.Errorf("store: Options.Retain is %v, want 0 or more", opt.Retain)
	}
	if opt.ReceiptKey != nil && len(opt.ReceiptKey) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("store: Options.ReceiptKey is %d bytes, want %d", len(opt.ReceiptKey), ed25519.PrivateKeySize)
	}
	if opt.ReceiptKey != nil && opt.Campaign == "" {
		return nil, errors.New("store: Options.Campaign is empty: a retraction's signature names the campaign")
	}
	s := &Store{
		dir:        dir,
		log:        opt.Logger,
		clock:      opt.Clock,
		maxBatch:   opt.MaxBatch,
		moveBatch:  opt.MoveBatch,
		retain:     opt.Retain,
		preferTwin: opt.PreferTwinReceipts,
		receiptKey: opt.ReceiptKey,
		campaign:   opt.Campaign,
		reqs:       make(chan *request),
		quit:       make(chan struct{}),
		stopped:    make(chan struct{}),
		failedC:    make(chan struct{}),
		recent:     make(map[string][]string),
		young:      make(map[string][]youngStamp),
		decoyAge:   opt.DecoyAge,
		groupReqs:  opt.GroupRequests,
		groupSync:  opt.GroupSync,
		snaps:      make(map[*Snapshot]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	j, err := newJournal()
	if err != nil {
		return nil, err
	}
	s.journal = j
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.maxBatch == 0 {
		s.maxBatch = defaultMaxBatch
	}
	if s.moveBatch == 0 {
		s.moveBatch = defaultMoveBatch
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := checkLayout(dir); err != nil {
		return nil, err
	}
	if err := checkBuilt(dir); err != nil {
		return nil, err
	}
	// Pebble locks each database's directory, which also keeps a second
	// process away from votes.log.
	if err := s.openDBs(); err != nil {
		return nil, err
	}
	f, err := s.recover()
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	if wrap != nil {
		s.file = wrap(f)
	} else {
		s.file = f
	}
	if err := s.indexStamps(); err != nil {
		s.file.Close()
		s.closeDBs()
		return nil, err
	}
	if err := s.rebuildRecent(); err != nil {
		s.file.Close()
		s.closeDBs()
		return nil, err
	}
	if err := s.ensureLogID(); err != nil {
		s.file.Close()
		s.closeDBs()
		return nil, err
	}
	st := s.st
	s.pub.Store(&st)
	go s.run()
	return s, nil
}

// checkLayout refuses a directory of the earlier layout, whose one
// database was dir/voters. A Store of this layout creates dir/votes before
// dir/voters, and dir/voters holds a layout mark (checkMark).
func checkLayout(dir string) error {
	_, err := os.Stat(filepath.Join(dir, VotesDir))
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, VotersDir)); err == nil {
		return fmt.Errorf("store: %s has %s/ and no %s/: %w; this release does not convert it: "+
			"finish its campaign with the release that wrote it, or start from an empty directory",
			dir, VotersDir, VotesDir, ErrOldLayout)
	}
	return nil
}

// dbOptions returns the Pebble options of one of the three databases,
// without the block cache.
func (s *Store) dbOptions(name string) *pebble.Options {
	o := &pebble.Options{
		Logger:             pebbleLogger{s.log},
		FormatMajorVersion: pebble.FormatNewest,
	}
	// Most lookups are for keys that are absent (a mandate that has not
	// voted, a nonce not seen): bloom filters answer them without reading
	// the tables. Lower levels inherit the policy of L0.
	o.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	if name != VotesDir {
		// A recycled write-ahead log is overwritten from its start, and
		// keeps what it held beyond the new records: links, or the voters
		// of earlier moves in their batches.
		o.Cleaner = noRecycle{}
	}
	if name == LinksDir {
		// The MANIFEST keeps the first and last key of every table it ever
		// listed, with their sequence numbers, until it is rewritten. The
		// bounds keep flushed tables' ends off voters; rewriting it at
		// (nearly) every change keeps only the tables of the last few.
		o.MaxManifestFileSize = 1
	}
	return o
}

// noRecycle deletes obsolete files like pebble.DeleteCleaner, whose Clean
// it promotes. It also carries the mark of pebble.ArchiveCleaner (a
// cleaner that needs the files' contents), one level deeper so that its
// Clean stays hidden: Pebble never recycles a write-ahead log for such a
// cleaner, and that mark is the only way to ask it not to.
type noRecycle struct {
	pebble.DeleteCleaner
	archiveMark
}

type archiveMark struct{ pebble.ArchiveCleaner }

// openDBs opens or creates the three databases, dir/votes first.
func (s *Store) openDBs() error {
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref()
	for _, d := range []struct {
		name string
		db   **pebble.DB
	}{{VotesDir, &s.votes}, {LinksDir, &s.links}, {VotersDir, &s.voters}} {
		o := s.dbOptions(d.name)
		o.Cache = cache
		path := filepath.Join(s.dir, d.name)
		db, err := pebble.Open(path, o)
		if err != nil {
			s.closeDBs()
			return fmt.Errorf("store: couldn't open %s: %w", path, err)
		}
		*d.db = db
		if err := checkMark(db, d.name); err != nil {
			s.closeDBs()
			return fmt.Errorf("store: %s: %w", path, err)
		}
	}
	return nil
}

// checkMark checks the layout mark of a database, or writes it into an
// empty one.
func checkMark(db *pebble.DB, name string) error {
	v, closer, err := db.Get(metaLayout)
	if err == nil {
		defer closer.Close()
		if string(v) != name {
			return fmt.Errorf("the layout mark says %q, want %q: %w", v, name, ErrCorrupt)
		}
		return nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read the layout mark: %w", err)
	}
	it, err := db.NewIter(nil)
	if err != nil {
		return err
	}
	empty := !it.First()
	if err := it.Close(); err != nil {
		return err
	}
	if !empty {
		if name == VotersDir {
			return fmt.Errorf("data without a layout mark: %w", ErrOldLayout)
		}
		return fmt.Errorf("data without a layout mark: %w", ErrCorrupt)
	}
	// The bounds, flushed and compacted to the bottom level at once, make
	// every later table of dir/links and dir/voters, which carries them
	// too, overlap the bottom level: a compaction then rewrites it, which
	// zeroes sequence numbers, where an empty bottom level would take a
	// table as it is, sequence numbers and all.
	b := db.NewBatch()
	defer b.Close()
	if err := b.Set(metaLayout, []byte(name), nil); err != nil {
		return err
	}
	if err := setBounds(b); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("write the layout mark: %w", err)
	}
	return compactAll(context.Background(), db)
}

// recover brings the three databases and votes.log into agreement, in this
// order: the counters; the redo of dir/links, committed to dir/votes if
// that lacks its group; the pending voters, less those the voter table
// holds already; votes.log, cut and completed from dir/votes.
func (s *Store) recover() (*os.File, error) {
	if err := s.readMeta(); err != nil {
		return nil, err
	}
	if err := s.redo(); err != nil {
		return nil, err
	}
	if err := s.checkLastIndex(); err != nil {
		return nil, err
	}
	if err := s.recoverPending(); err != nil {
		return nil, err
	}
	return s.recoverLog()
}

// readMeta reads the counters of dir/votes into s.st.
func (s *Store) readMeta() error {
	var err error
	for _, m := range metas(&s.st) {
		if *m.v, err = s.getU64(m.key); err != nil {
			return err
		}
	}
	return nil
}

// metas pairs each metadata name with its counter in st.
func metas(st *state) []struct {
	key []byte
	v   *uint64
} {
	return []struct {
		key []byte
		v   *uint64
	}{
		{metaSeq, &st.seq}, {metaIndex, &st.index}, {metaTwin, &st.twin},
		{metaVoters, &st.voters}, {metaVotes, &st.votes}, {metaGroup, &st.group},
	}
}

// redo commits the batch of dir/votes that the redo of dir/links holds if
// dir/votes lacks its group: the writer commits dir/links first, so a
// crash between the two commits leaves exactly that.
func (s *Store) redo() error {
	v, err := dbGet(s.links, redoKey)
	if err != nil {
		return fmt.Errorf("store: read the redo: %w", err)
	}
	if v == nil {
		return nil
	}
	if len(v) < 8 {
		return fmt.Errorf("store: redo of %d bytes: %w", len(v), ErrCorrupt)
	}
	g := binary.BigEndian.Uint64(v)
	switch {
	case g <= s.st.group:
		return nil
	case g > s.st.group+1:
		return fmt.Errorf("store: redo of group %d, %s has only %d: %w", g, VotesDir, s.st.group, ErrCorrupt)
	}
	b := s.votes.NewBatch()
	defer b.Close()
	if err := b.SetRepr(v[8:]); err != nil {
		return fmt.Errorf("store: redo of group %d: %w: %w", g, ErrCorrupt, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: redo of group %d: %w", g, err)
	}
	from := s.st.index
	if err := s.readMeta(); err != nil {
		return err
	}
	if s.st.group != g {
		return fmt.Errorf("store: the redo of group %d leaves group %d: %w", g, s.st.group, ErrCorrupt)
	}
	s.log.Info("store: committed again the last group, which "+VotesDir+" lacked",
		"group", g, "records", s.st.index-from)
	return nil
}

// recoverPending counts the held links and the pending voters, finds the
// eligible ones, and deletes the pending voters that the voter table holds
// already: a move was cut short between its two commits.
func (s *Store) recoverPending() error {
	held := make(map[string]bool)
	err := scanTable(s.links, tMand, func(k, _ []byte) error {
		held[string(k[1:])] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: read the held links: %w", err)
	}
	var links uint64
	err = scanTable(s.links, tPair, func(_, _ []byte) error {
		links++
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: read the links: %w", err)
	}
	if links != uint64(len(held)) {
		return fmt.Errorf("store: %d links, %d mandates with a link: %w", links, len(held), ErrCorrupt)
	}
	var moved [][]byte
	var pending uint64
	var eligible []Voter
	err = scanTable(s.links, tVoter, func(k, v []byte) error {
		voter, err := decodeVoter(k, v)
		if err != nil {
			return err
		}
		in, err := dbGet(s.voters, k)
		if err != nil {
			return err
		}
		if in != nil {
			moved = append(moved, bytes.Clone(k))
			return nil
		}
		pending++
		if !held[string(k[1:])] {
			eligible = append(eligible, voter)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: read the pending voters: %w", err)
	}
	if pending < links {
		return fmt.Errorf("store: %d links, %d pending voters: %w", links, pending, ErrCorrupt)
	}
	s.st.links, s.st.pending, s.eligible = links, pending, eligible
	if len(moved) == 0 {
		// Whatever a crash left in write-ahead logs and tables of
		// dir/links that a later move deleted goes now, as after a move.
		if err := compactAll(context.Background(), s.links); err != nil {
			return fmt.Errorf("store: %s: %w", LinksDir, err)
		}
		return nil
	}
	b := s.links.NewBatch()
	defer b.Close()
	for _, k := range moved {
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	if err := setBounds(b); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: drop the moved voters from %s: %w", LinksDir, err)
	}
	if err := compactAll(context.Background(), s.links); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.log.Info("store: dropped the pending voters that the voter table holds already (a move was cut short)",
		"voters", len(moved))
	return nil
}

// recoverLog makes votes.log the exact projection of the vote records: it
// cuts a bad tail and appends what the log lacks.
func (s *Store) recoverLog() (*os.File, error) {
	name := filepath.Join(s.dir, LogFile)
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := durable.SyncDir(s.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if err := s.repairLog(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// getU64 reads a metadata counter of dir/votes; a missing one is 0.
func (s *Store) getU64(key []byte) (uint64, error) {
	v, err := dbGet(s.votes, key)
	if err != nil {
		return 0, fmt.Errorf("store: read metadata %q: %w", key, err)
	}
	if v == nil {
		return 0, nil
	}
	return readU64(v, fmt.Sprintf("metadata %q", key))
}

// dbGet returns a copy of the value of key in db (a database or a
// snapshot of one), nil if absent.
func dbGet(db pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// scanTable calls fn with every key and value of a table of db, in key
// order. Both are only valid during the call.
func scanTable(db *pebble.DB, table byte, fn func(k, v []byte) error) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{table}, UpperBound: []byte{table + 1}})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

// checkLastIndex checks that the last vote record is the one the metadata
// names: both are written by the same batches.
func (s *Store) checkLastIndex() error {
	it, err := s.votes.NewIter(&pebble.IterOptions{LowerBound: []byte{tVote}, UpperBound: []byte{tVote + 1}})
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
	it, err := s.votes.NewIter(&pebble.IterOptions{LowerBound: numKey(tVote, 1), UpperBound: []byte{tVote + 1}})
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
	_, closer, err := s.votes.Get(metaStamps)
	if err == nil {
		closer.Close()
		return nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("store: read metadata %q: %w", metaStamps, err)
	}
	reset := s.votes.NewBatch()
	defer reset.Close()
	if err := reset.DeleteRange([]byte{tStamp}, []byte{tStamp + 1}, nil); err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	if err := reset.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	it, err := s.votes.NewIter(&pebble.IterOptions{LowerBound: []byte{tNonce}, UpperBound: []byte{tNonce + 1}})
	if err != nil {
		return fmt.Errorf("store: index voter stamps: %w", err)
	}
	defer it.Close()
	b := s.votes.NewIndexedBatch()
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
				b, inBatch = s.votes.NewIndexedBatch(), 0
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
	it, err := s.votes.NewIter(&pebble.IterOptions{LowerBound: []byte{tVote}, UpperBound: []byte{tVote + 1}})
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
		if r.Retraction != nil {
			retracted[string(r.Retraction.Nonce)] = true
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
// ErrClosed. Close may be called more than once. Pebble deletes the files
// it no longer needs in the background; Close returns once it has.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.stopped
		s.life.Lock()
		defer s.life.Unlock()
		s.closed = true
		s.snapMu.Lock()
		for sn := range s.snaps {
			sn.release()
		}
		clear(s.snaps)
		s.snapMu.Unlock()
		err := s.file.Close()
		if dbErr := s.closeDBs(); err == nil {
			err = dbErr
		}
		if err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}

// closeDBs closes the databases that are open and returns the first error.
func (s *Store) closeDBs() error {
	var first error
	for _, db := range []**pebble.DB{&s.votes, &s.links, &s.voters} {
		if *db == nil {
			continue
		}
		if err := closeDB(*db); err != nil && first == nil {
			first = err
		}
		*db = nil
	}
	return first
}

// closeDB closes one database. After a failed commit Pebble's commit
// pipeline may be broken and its Close may panic; the Store is already
// refusing writes then, so that panic becomes an error.
func closeDB(db *pebble.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble: %v", r)
		}
	}()
	return db.Close()
}

// read runs fn with the databases open, or returns ErrClosed.
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

package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// metaLogID names, in dir/votes, the identity of the Store's vote log: 16
// random bytes made when the directory is created (or first opened by a
// release that knows it). Record i of votes.log means one thing for as long
// as the identity stands; a Store built from another's snapshot (a rebuild
// or a restored backup, Builder) gets a new one, so that readers who keep a
// cursor into the log (the publisher, the edge) know to read it again.
var metaLogID = []byte{tMeta, 'I'}

// ensureLogID reads the log identity, or makes and writes one (synced).
func (s *Store) ensureLogID() error {
	v, err := dbGet(s.votes, metaLogID)
	if err != nil {
		return fmt.Errorf("store: read the log identity: %w", err)
	}
	if v != nil {
		if len(v) != logIDLen {
			return fmt.Errorf("store: log identity of %d bytes: %w", len(v), ErrCorrupt)
		}
		s.logID = hex.EncodeToString(v)
		return nil
	}
	id, err := newLogID()
	if err != nil {
		return err
	}
	if err := s.votes.Set(metaLogID, id, pebble.Sync); err != nil {
		return fmt.Errorf("store: write the log identity: %w", err)
	}
	s.logID = hex.EncodeToString(id)
	return nil
}

const logIDLen = 16

func newLogID() ([]byte, error) {
	id := make([]byte, logIDLen)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("store: log identity: %w", err)
	}
	return id, nil
}

// LogID returns the identity of the vote log: 32 lower-case hex digits,
// fixed for the life of the data directory. Readers that keep an index
// into the log compare it to know whether their index still means the
// record they read (docs/INTERNAL.md, Log-Id).
func (s *Store) LogID() string { return s.logID }

// SnapshotInfo is what a Snapshot holds, counted at the moment it was
// taken.
type SnapshotInfo struct {
	LogID  string // the Store's log identity
	Seq    uint64 // last own sequence number
	Twin   uint64 // twin cursor: the last twin sequence number applied
	Index  uint64 // last vote record index
	Voters uint64 // voter records, pending and in the voter table
	Votes  uint64 // vote records that no retraction withdrew
	Links  uint64 // links held for the twin
}

// SnapRecord is one vote record of a Snapshot with what the Store keeps
// beside it: the receipt kept with a vote, and whether the vote is live
// (no retraction withdrew it: it is in the nonce and voter stamp indexes).
type SnapRecord struct {
	Record
	Payload []byte // the record as votes.log holds it
	Receipt Receipt
	Live    bool
}

// SnapLink is a link a Snapshot holds: an own vote that the twin has not
// confirmed (or whose confirmation has not yet let it go), with the index
// of its vote record and whether the vote lost to the twin's (mirror rule
// 3). The link's receipt is its record's.
type SnapLink struct {
	Pair
	Index     uint64
	Retracted bool
}

// Snapshot is a consistent view of a Store, taken by the writer between
// two groups: every record, voter and link it shows was durable together.
// It does not block writes. Its methods may be called once each, in any
// order, from one goroutine; Close releases it. A Snapshot still open when
// the Store closes is closed with it, and its methods return ErrClosed.
type Snapshot struct {
	s    *Store
	info SnapshotInfo

	mu     sync.Mutex // guards the three below, against Store.Close
	votes  *pebble.Snapshot
	links  *pebble.Snapshot
	voters *pebble.Snapshot
}

// Snapshot takes a consistent snapshot of the Store (see Snapshot). The
// writer takes it between two groups, at once; ctx bounds only the wait for
// the writer to be free.
func (s *Store) Snapshot(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	r := &request{kind: reqSnapshot}
	// Not ctx: a snapshot the writer took for a caller that gave up would
	// stay open until Close.
	if err := s.submit(context.Background(), r); err != nil {
		return nil, err
	}
	return r.snap, nil
}

// takeSnapshot is the writer's half of Snapshot: no group is half written
// while it runs.
func (s *Store) takeSnapshot() *Snapshot {
	sn := &Snapshot{
		s: s,
		info: SnapshotInfo{LogID: s.logID, Seq: s.st.seq, Twin: s.st.twin, Index: s.st.index,
			Voters: s.st.voters, Votes: s.st.votes, Links: s.st.links},
		votes:  s.votes.NewSnapshot(),
		links:  s.links.NewSnapshot(),
		voters: s.voters.NewSnapshot(),
	}
	s.snapMu.Lock()
	s.snaps[sn] = struct{}{}
	s.snapMu.Unlock()
	return sn
}

// Info returns what the snapshot holds.
func (sn *Snapshot) Info() SnapshotInfo { return sn.info }

// Close releases the snapshot. It may be called more than once.
func (sn *Snapshot) Close() {
	sn.s.snapMu.Lock()
	delete(sn.s.snaps, sn)
	sn.s.snapMu.Unlock()
	sn.release()
}

func (sn *Snapshot) release() {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for _, p := range []**pebble.Snapshot{&sn.votes, &sn.links, &sn.voters} {
		if *p != nil {
			(*p).Close()
			*p = nil
		}
	}
}

// use runs fn with the snapshot open, or returns ErrClosed. It holds the
// Store's read lock, so the databases stay open meanwhile; fn should look
// at quit and stop early when the Store is closing.
func (sn *Snapshot) use(fn func(votes, links, voters *pebble.Snapshot) error) error {
	return sn.s.read(func() error {
		sn.mu.Lock()
		v, l, t := sn.votes, sn.links, sn.voters
		sn.mu.Unlock()
		if v == nil {
			return ErrClosed
		}
		return fn(v, l, t)
	})
}

// closing reports whether the Store is closing: a long read stops.
func (sn *Snapshot) closing() bool {
	select {
	case <-sn.s.quit:
		return true
	default:
		return false
	}
}

// Records calls fn with every vote record, from index 1 on, in order.
func (sn *Snapshot) Records(fn func(SnapRecord) error) error {
	return sn.use(func(votes, _, _ *pebble.Snapshot) error {
		it, err := votes.NewIter(&pebble.IterOptions{LowerBound: numKey(tVote, 1), UpperBound: numKey(tVote, sn.info.Index+1)})
		if err != nil {
			return err
		}
		defer it.Close()
		want := uint64(1)
		for ok := it.First(); ok; ok = it.Next() {
			if sn.closing() {
				return ErrClosed
			}
			if !bytes.Equal(it.Key(), numKey(tVote, want)) {
				return fmt.Errorf("store: snapshot: vote record %d missing: %w", want, ErrCorrupt)
			}
			r := SnapRecord{Payload: bytes.Clone(it.Value())}
			if r.Record, err = parseRecord(string(r.Payload)); err != nil {
				return fmt.Errorf("store: snapshot: vote record %d: %w: %w", want, ErrCorrupt, err)
			}
			r.Index = want
			if r.Vote != nil {
				rc, err := dbGet(votes, numKey(tRcpt, want))
				if err != nil {
					return err
				}
				if r.Receipt, err = decodeReceipt(rc); err != nil {
					return err
				}
				idx, err := dbGet(votes, nonceKey(r.Vote.Nonce))
				if err != nil {
					return err
				}
				ids, err := decodeIndexes(idx, "nonce")
				if err != nil {
					return err
				}
				for _, i := range ids {
					r.Live = r.Live || i == want
				}
			}
			if err := fn(r); err != nil {
				return err
			}
			want++
		}
		if err := it.Error(); err != nil {
			return err
		}
		if want != sn.info.Index+1 {
			return fmt.Errorf("store: snapshot: %d vote records, the counters say %d: %w", want-1, sn.info.Index, ErrCorrupt)
		}
		return nil
	})
}

// Voters calls fn with every voter record, pending or in the voter table,
// once each, in key order: the order tells nothing of the votes.
func (sn *Snapshot) Voters(fn func(Voter) error) error {
	return sn.use(func(_, links, voters *pebble.Snapshot) error {
		bounds := &pebble.IterOptions{LowerBound: []byte{tVoter}, UpperBound: []byte{tVoter + 1}}
		return scanVoters(links, voters, bounds, func(v Voter) (bool, error) {
			if sn.closing() {
				return false, ErrClosed
			}
			return true, fn(v)
		})
	})
}

// Links calls fn with every link held, by own sequence number.
func (sn *Snapshot) Links(fn func(SnapLink) error) error {
	return sn.use(func(_, links, _ *pebble.Snapshot) error {
		it, err := links.NewIter(&pebble.IterOptions{LowerBound: []byte{tPair}, UpperBound: []byte{tPair + 1}})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok; ok = it.Next() {
			seq, err := readU64(it.Key()[1:], "link key")
			if err != nil {
				return err
			}
			l, err := decodeLink(seq, it.Value())
			if err != nil {
				return err
			}
			if err := fn(SnapLink{Pair: l.pair, Index: l.index, Retracted: l.retracted}); err != nil {
				return err
			}
		}
		return it.Error()
	})
}

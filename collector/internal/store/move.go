package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Purge makes the directory hold as little as it can once the campaign is
// closed. It drops every link that Confirm would drop with Retain zero (the
// twin has confirmed its vote and the twin cursor has reached the twin's
// last own sequence number it sent then), or with force every link,
// confirmed or not; moves every pending voter whose link is gone into the
// voter table, whatever their number; then flushes and compacts dir/links
// and, if no link is left, dir/voters to their bottom level, which drops
// what deletions left behind and zeroes the sequence numbers that told
// which move brought a voter. Pebble deletes the files this makes
// obsolete in the background: Close waits for that.
//
// Without force, if links remain it returns an error wrapping
// ErrUnconfirmed that says how many: run it again once the twin has pulled
// (its next GET /sync confirms). Force drops links the twin has not
// confirmed: it will then never get those votes from this instance, so
// use it only once the twin's data is settled otherwise, or lost.
//
// Purge runs in the writer: writes wait until it is done. The Store keeps
// working afterwards; a vote accepted later is held like any other.
func (s *Store) Purge(ctx context.Context, force bool) error {
	return s.submit(ctx, &request{kind: reqPurge, ctx: ctx, force: force})
}

// Held returns how many links the Store holds, and how many voter records
// are pending in dir/links (every held link's voter among them), as of the
// last durable group or move. Pending voters are what a copy of the disk
// can tie to votes by order; links tie them outright.
func (s *Store) Held() (links, pending int) {
	st := s.pub.Load()
	return int(st.links), int(st.pending)
}

// moveNow runs the mover if it is due (maybeMove) and returns the Store's
// failure, if any. Tests use it as a barrier too: when it returns, the
// writer has finished every group and move before it.
func (s *Store) moveNow() error {
	return s.submit(context.Background(), &request{kind: reqMove})
}

// maybeMove runs the mover if it has not run for moveInterval and it has
// work: MoveBatch eligible voters, or links dropped since dir/links was
// last compacted. Only the writer calls it.
func (s *Store) maybeMove() {
	if len(s.eligible) < s.moveBatch && !s.compactDue {
		return
	}
	if !s.lastMove.IsZero() && s.clock().Sub(s.lastMove) < moveInterval {
		return
	}
	_ = s.move(context.Background(), false) // a failure stops the Store and is logged
}

// move moves the eligible voters (pending, with no link held) into the
// voter table if there are at least MoveBatch of them, or any number if
// all is set; then, if it moved voters or links were dropped since the
// last time, it flushes and compacts dir/links. Only the writer calls it.
//
// It commits the voters to dir/voters in one batch in key order, with
// Sync; then deletes them from dir/links, with the redo, in one batch with
// Sync; then flushes dir/links and compacts all of it to its bottom level,
// so that no table or write-ahead log keeps what the dropped links and the
// moved voters' pending records were. A crash between the two commits
// leaves a voter in both: Open deletes it from dir/links. A failed commit
// stops the Store; a failed flush or compaction is logged and tried again
// by the next run.
func (s *Store) move(ctx context.Context, all bool) error {
	if f := s.fail.Load(); f != nil {
		return f.err
	}
	voters := s.eligible
	if len(voters) < s.moveBatch && !all {
		if !s.compactDue {
			return nil
		}
		voters = nil // compact only
	}
	if len(voters) > 0 {
		if err := s.fillTable(voters); err != nil {
			return s.stop(fmt.Errorf("move: %w", err))
		}
		if err := s.faultAt(faultMoveVoters); err != nil {
			return s.stop(err)
		}
	}
	if err := s.clearPending(voters); err != nil {
		return s.stop(fmt.Errorf("move: %w", err))
	}
	if err := s.faultAt(faultMoveLinks); err != nil {
		return s.stop(err)
	}
	s.st.pending -= uint64(len(voters))
	st := s.st
	s.pub.Store(&st)
	if len(voters) > 0 {
		s.eligible = nil
		s.moves.Add(1)
	}
	s.lastMove = s.clock()
	if err := compactAll(ctx, s.links); err != nil {
		s.compactDue = true
		if ctx.Err() != nil { // Purge's caller gave up: no fault
			return fmt.Errorf("store: %s: %w", LinksDir, err)
		}
		s.log.Error("store: couldn't compact "+LinksDir+" after a move; the next move tries again", "err", err)
		if all {
			return fmt.Errorf("store: %s: %w", LinksDir, err)
		}
		return nil
	}
	s.compactDue = false
	return nil
}

// fillTable commits voters to the voter table in one batch in key order,
// with Sync.
func (s *Store) fillTable(voters []Voter) error {
	slices.SortFunc(voters, func(a, b Voter) int { return bytes.Compare(voterKey(a), voterKey(b)) })
	b := s.voters.NewBatch() // not closed after a failed commit (commitSync)
	for _, v := range voters {
		if err := b.Set(mandateKey(tVoter, v), v.Sig[:], nil); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	if err := setBounds(b); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := commitSync(b); err != nil {
		return fmt.Errorf("commit %s: %w", VotersDir, err)
	}
	return b.Close()
}

// clearPending deletes the pending records of voters and the redo from
// dir/links in one batch with Sync. The redo's group is committed to
// dir/votes with Sync by now, and its vote records must not meet their
// pending voters in a table.
func (s *Store) clearPending(voters []Voter) error {
	b := s.links.NewBatch() // not closed after a failed commit (commitSync)
	for _, v := range voters {
		if err := b.Delete(mandateKey(tVoter, v), nil); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	if err := b.Delete(redoKey, nil); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := setBounds(b); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := commitSync(b); err != nil {
		return fmt.Errorf("commit %s: %w", LinksDir, err)
	}
	return b.Close()
}

// purge is Purge's work in the writer.
func (s *Store) purge(ctx context.Context, force bool) error {
	if f := s.fail.Load(); f != nil {
		return f.err
	}
	t := s.newTxn()
	if force {
		t.dropLinks(s.dropped, t.st.seq)
		s.marks, s.dropped = nil, t.st.seq
	} else {
		t.release(func(mark) bool { return true })
	}
	if err := s.apply(t); err != nil {
		return err
	}
	if err := s.move(ctx, true); err != nil {
		return err
	}
	if n := s.st.links; n > 0 && !force {
		return fmt.Errorf("store: purge kept %d links (and their voters): %w", n, ErrUnconfirmed)
	}
	// dir/votes keeps its sequence numbers: they order vote records, which
	// their keys order already, and no voter.
	if err := compactAll(ctx, s.voters); err != nil {
		return fmt.Errorf("store: purge: %s: %w", VotersDir, err)
	}
	return nil
}

// compactAll flushes db and compacts all of it to its bottom level.
func compactAll(ctx context.Context, db *pebble.DB) error {
	if err := db.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := db.Compact(ctx, allKeys[0], allKeys[1], false); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return nil
}

// Points where tests stop the writer as a crash would (faultAt).
const (
	faultGroupLinks = iota + 1 // a group is committed to dir/links only
	faultMoveVoters            // a move is committed to dir/voters only
	faultMoveLinks             // a move is committed, dir/links not compacted
)

// faultAt returns the error of the test hook at point p, nil in
// production.
func (s *Store) faultAt(p int) error {
	if s.fault == nil {
		return nil
	}
	return s.fault(p)
}

package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Links returns the own pairs with Seq > after that are still held, oldest
// first, at most limit of them, and the last own sequence number. Pairs are
// read from committed state only: none has a Seq above lastSeq.
func (s *Store) Links(after uint64, limit int) (pairs []Pair, lastSeq uint64, err error) {
	lastSeq = s.pub.Load().seq
	if limit <= 0 || after >= lastSeq {
		return nil, lastSeq, nil
	}
	err = s.read(func() error {
		it, err := s.links.NewIter(&pebble.IterOptions{LowerBound: numKey(tPair, after+1), UpperBound: numKey(tPair, lastSeq+1)})
		if err != nil {
			return err
		}
		defer it.Close()
		for ok := it.First(); ok && len(pairs) < limit; ok = it.Next() {
			seq, err := readU64(it.Key()[1:], "link key")
			if err != nil {
				return err
			}
			l, err := decodeLink(seq, it.Value())
			if err != nil {
				return err
			}
			// dir/votes has the receipt: its commit precedes the
			// publication of seq.
			v, err := dbGet(s.votes, numKey(tRcpt, l.index))
			if err != nil {
				return err
			}
			if l.pair.Receipt, err = decodeReceipt(v); err != nil {
				return err
			}
			pairs = append(pairs, l.pair)
		}
		return it.Error()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: links after %d: %w", after, err)
	}
	return pairs, lastSeq, nil
}

// TwinCursor returns the last twin sequence number applied by ApplyTwin:
// the after= of the next request to the twin.
func (s *Store) TwinCursor() uint64 { return s.pub.Load().twin }

// LastSeq returns the last own sequence number.
func (s *Store) LastSeq() uint64 { return s.pub.Load().seq }

// Counts returns the number of voter records and of vote records that no
// retraction withdrew, as of the last durable group. The mirror rule keeps
// them equal.
func (s *Store) Counts() (voters, votes int) {
	st := s.pub.Load()
	return int(st.voters), int(st.votes)
}

// LastIndex returns the index of the last vote record in votes.log.
func (s *Store) LastIndex() uint64 { return s.pub.Load().index }

// VoteRecords returns the records of votes.log from index from (1 is the
// first; 0 reads as 1), at most limit, and the index to ask for next. Only
// durable records are returned: those of a group whose fsync is done.
func (s *Store) VoteRecords(from uint64, limit int) (recs []Record, next uint64, err error) {
	from = max(from, 1)
	last := s.pub.Load().index
	if limit <= 0 || from > last {
		return nil, from, nil
	}
	err = s.read(func() error {
		it, err := s.votes.NewIter(&pebble.IterOptions{LowerBound: numKey(tVote, from), UpperBound: numKey(tVote, last+1)})
		if err != nil {
			return err
		}
		defer it.Close()
		want := from
		for ok := it.First(); ok && len(recs) < limit; ok = it.Next() {
			if !bytes.Equal(it.Key(), numKey(tVote, want)) {
				return fmt.Errorf("vote record %d missing: %w", want, ErrCorrupt)
			}
			r, err := parseRecord(string(it.Value()))
			if err != nil {
				return fmt.Errorf("vote record %d: %w: %w", want, ErrCorrupt, err)
			}
			r.Index = want
			recs = append(recs, r)
			want++
		}
		return it.Error()
	})
	if err != nil {
		return nil, from, fmt.Errorf("store: vote records from %d: %w", from, err)
	}
	return recs, from + uint64(len(recs)), nil
}

// VoterRecords returns the voter records in key order (Voter.Key), those
// pending in dir/links and those of the voter table merged, starting after
// the key after (nil or empty: from the start), at most limit entries.
// Pending voters are returned at once, so the mover delays no
// publication. It reads committed state, which may include the voters of
// a group whose votes.log fsync is still under way: they are in dir/links,
// and Open commits their votes again if need be, so they survive a crash
// either way.
func (s *Store) VoterRecords(after []byte, limit int) (voters []Voter, err error) {
	if limit <= 0 {
		return nil, nil
	}
	lower := []byte{tVoter}
	if len(after) > 0 {
		// The smallest key greater than after.
		lower = append(append(lower, after...), 0)
	}
	bounds := &pebble.IterOptions{LowerBound: lower, UpperBound: []byte{tVoter + 1}}
	err = s.read(func() error {
		// dir/links first. Each iterator reads the state of its creation,
		// and the mover deletes a voter from dir/links only after it has
		// committed it to dir/voters: a voter it moves meanwhile is in one
		// of the two, or in both.
		return scanVoters(s.links, s.voters, bounds, func(v Voter) (bool, error) {
			voters = append(voters, v)
			return len(voters) < limit, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: voter records: %w", err)
	}
	return voters, nil
}

// scanVoters calls fn with every voter record within bounds, pending in
// links or in the voter table, once each, in key order, until fn says no
// more. A voter in both (a move cut short, or one committed while the
// iterators were made) comes once.
func scanVoters(links, voters pebble.Reader, bounds *pebble.IterOptions, fn func(Voter) (more bool, err error)) error {
	pend, err := links.NewIter(bounds)
	if err != nil {
		return err
	}
	defer pend.Close()
	table, err := voters.NewIter(bounds)
	if err != nil {
		return err
	}
	defer table.Close()
	okP, okT := pend.First(), table.First()
	for okP || okT {
		it := table
		switch {
		case !okT:
			it = pend
		case okP:
			c := bytes.Compare(pend.Key(), table.Key())
			if c < 0 {
				it = pend
			} else if c == 0 {
				okP = pend.Next() // in both: once
			}
		}
		v, err := decodeVoter(it.Key(), it.Value())
		if err != nil {
			return err
		}
		more, err := fn(v)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if it == pend {
			okP = pend.Next()
		} else {
			okT = table.Next()
		}
	}
	return errors.Join(pend.Error(), table.Error())
}

// Recent returns up to n voter stamps of the latest votes for option, the
// newest first: decoys for receipts (PROTOCOL.md 5.4). It counts own and
// copied votes, leaves out retracted ones and only returns stamps whose
// vote has been durable for Options.DecoyAge: a stamp on a receipt is
// public at once, and by then every edge has read its vote and refuses
// the stamp for any other vote (docs/THREAT_MODEL.md). It keeps at most
// 64 such stamps per option, in memory; after Open it knows those among
// the last 65536 vote records. An option no vote has chosen yet returns
// none.
func (s *Store) Recent(option string, n int) []string {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	s.ripenLocked(option, s.clock())
	l := s.recent[option]
	n = min(n, len(l))
	if n <= 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = l[len(l)-1-i]
	}
	return out
}

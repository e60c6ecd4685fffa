package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

type reqKind int

const (
	reqAccept reqKind = iota
	reqTwin
	reqConfirm
	reqMove  // run the mover if it is due, then answer (tests: a barrier)
	reqPurge // Purge
	reqSnapshot
)

// request is one call waiting for the writer. The caller fills the inputs
// and hands it over on Store.reqs; from then on the writer owns it until it
// closes done, after which the caller reads res and err.
type request struct {
	kind reqKind

	voter   Voter   // reqAccept
	vote    Vote    // reqAccept
	receipt Receipt // reqAccept

	pairs   []Pair // reqTwin
	twinSeq uint64 // reqTwin

	upto     uint64 // reqConfirm
	twinLast uint64 // reqConfirm

	ctx   context.Context // reqPurge
	force bool            // reqPurge

	snap *Snapshot // reqSnapshot: the answer

	res  Result
	err  error
	done chan struct{}
}

// Accept records a vote if its mandate has not voted, and keeps receipt
// with it (empty: none). It returns once the
// link and the pending voter record are committed to dir/links with Sync,
// the vote record to dir/votes with Sync, and the vote line is appended to
// votes.log and fsynced.
//
// If the mandate has voted with exactly this vote, Accept returns the
// earlier result with Repeat set and no error, so that a retried request
// gets its receipt again: with the own sequence number while the link is
// held, with Seq 0 once it is gone or if the vote was copied from the twin,
// and with the receipt kept with the vote, not the one given now: a
// second receipt with other decoys would show which line is the voter's.
// A different vote for a voted mandate returns ErrAlreadyVoted, a vote
// whose nonce another mandate used returns ErrDuplicateVote, a vote whose
// voter stamp a recorded vote carries returns ErrDuplicateStamp, a vote
// that cannot be written as a list line returns a *FieldError. The checks
// run in the writer, against the database and the requests before this one
// in its group: of two votes with one stamp sent at once, one is recorded.
//
// If ctx ends before the writer takes the request, nothing is recorded. If
// it ends after, Accept returns at once with an error wrapping ctx.Err()
// but the group still commits: the vote may be recorded, and a retry
// tells (Repeat).
func (s *Store) Accept(ctx context.Context, voter Voter, vote Vote, receipt Receipt) (Result, error) {
	if err := checkVote(vote); err != nil {
		return Result{}, err
	}
	if err := CheckReceipt(receipt); err != nil {
		return Result{}, err
	}
	vote.Nonce = bytes.Clone(vote.Nonce)
	r := &request{kind: reqAccept, voter: voter, vote: vote, receipt: receipt}
	if err := s.submit(ctx, r); err != nil {
		return Result{}, err
	}
	return r.res, nil
}

// ApplyTwin copies the twin's own pairs (from its Links, oldest first) by
// the mirror rule of the package documentation, and records twinSeq as the
// twin cursor in the same group; it is durable like Accept when it returns.
// The voter records it adds are pending, and the mover's to move at once.
// Pairs at or below the cursor were applied before and are skipped, so a
// repeated call is harmless. twinSeq must be at least the last pair's Seq.
func (s *Store) ApplyTwin(pairs []Pair, twinSeq uint64) error {
	var prev uint64
	cp := make([]Pair, len(pairs))
	for i, p := range pairs {
		if p.Seq <= prev {
			return fmt.Errorf("store: twin pair %d has seq %d after %d: want increasing", i, p.Seq, prev)
		}
		prev = p.Seq
		if err := checkVote(p.Vote); err != nil {
			return fmt.Errorf("store: twin pair %d: %w", p.Seq, err)
		}
		if err := CheckReceipt(p.Receipt); err != nil {
			return fmt.Errorf("store: twin pair %d: %w", p.Seq, err)
		}
		p.Vote.Nonce = bytes.Clone(p.Vote.Nonce)
		cp[i] = p
	}
	if twinSeq < prev {
		return fmt.Errorf("store: twin cursor %d is below the last pair's seq %d", twinSeq, prev)
	}
	return s.submit(context.Background(), &request{kind: reqTwin, pairs: cp, twinSeq: twinSeq})
}

// TwinLastUnknown is the twinLast of a Confirm whose caller does not know
// the twin's last own sequence number: the links it confirms stay until a
// confirmation that knows it.
const TwinLastUnknown uint64 = math.MaxUint64

// Confirm tells the Store that the twin has applied every own pair up to
// upto, and that twinLast was the twin's last own sequence number when it
// said so (TwinLastUnknown if it did not say).
//
// A link is deleted by the first Confirm that finds both that its
// confirmation is older than Retain (at once by default) and that the twin
// cursor has reached the twinLast recorded with it; until then Links still
// returns it and Accept still repeats it. Its voter then waits for the
// mover, which moves it into the voter table with at least MoveBatch
// others. The second condition is what lets mirror rule 3
// work whatever the network does: the twin applied our vote W for a
// mandate before it confirmed it, and from then on refuses any other vote
// for that mandate, so a vote of its own that conflicts with W has a
// sequence number at most twinLast. Once the cursor has passed twinLast,
// such a vote has been weighed against W here, with the link.
//
// Of several confirmations of the same pairs the smallest twinLast counts:
// each is a valid bound. Confirmations live in memory only: after a restart
// the twin's next request confirms again, which restarts the wait.
func (s *Store) Confirm(upto, twinLast uint64) error {
	return s.submit(context.Background(), &request{kind: reqConfirm, upto: upto, twinLast: twinLast})
}

// submit hands r to the writer and waits for it.
func (s *Store) submit(ctx context.Context, r *request) error {
	if f := s.fail.Load(); f != nil {
		return f.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	r.done = make(chan struct{})
	select {
	case s.reqs <- r:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("store: %w", ctx.Err())
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("store: gave up waiting for the commit: %w", ctx.Err())
	}
}

// run is the writer goroutine, the only one that writes to the databases
// and votes.log. It waits for a request, takes every other one already
// waiting (up to maxBatch), commits them together and starts again. Between
// groups, and once a second when idle, it runs the mover if it is due.
func (s *Store) run() {
	defer close(s.stopped)
	tick := time.NewTicker(moveInterval)
	defer tick.Stop()
	batch := make([]*request, 0, s.maxBatch)
	var writes []*request
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-tick.C:
			s.maybeMove()
			continue
		case <-s.quit:
			return
		}
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		writes = writes[:0]
		for _, r := range batch {
			if r.kind != reqMove && r.kind != reqPurge && r.kind != reqSnapshot {
				writes = append(writes, r)
			}
		}
		if len(writes) > 0 {
			s.commit(writes)
		}
		for _, r := range batch {
			switch r.kind {
			case reqMove:
				s.maybeMove()
				r.err = s.Err()
				close(r.done)
			case reqPurge:
				r.err = s.purge(r.ctx, r.force)
				close(r.done)
			case reqSnapshot:
				// After the group's commit: the snapshot shows it whole.
				if r.err = s.Err(); r.err == nil {
					r.snap = s.takeSnapshot()
				}
				close(r.done)
			}
		}
		clear(batch)
		clear(writes)
		s.maybeMove()
	}
}

// txn is the group being built by the writer: a batch of dir/links and
// one of dir/votes. Both are indexed, so each request's checks see the
// writes of the requests before it in the same group.
type txn struct {
	s        *Store
	lb       *pebble.Batch // dir/links: links and pending voters
	vb       *pebble.Batch // dir/votes: vote records, indexes, metadata
	st       state         // counters including this group
	payloads [][]byte      // new vote records, in index order
	recent   []recentOp    // changes to the recent stamps once durable
	eligible []Voter       // voters this group makes eligible for the mover
	added    []Voter       // voters this group adds: the journal's once durable
	err      error         // first read or decode error: fails the whole group
}

type recentOp struct {
	option, stamp string
	remove        bool
}

func (s *Store) newTxn() *txn {
	return &txn{s: s, lb: s.links.NewIndexedBatch(), vb: s.votes.NewIndexedBatch(), st: s.st}
}

// commit applies a group of requests and wakes their callers. A request
// refused on its own merits (ErrAlreadyVoted) does not affect the others;
// a read, commit or fsync error fails them all and stops the Store.
func (s *Store) commit(reqs []*request) {
	if f := s.fail.Load(); f != nil {
		for _, r := range reqs {
			r.err = f.err
			close(r.done)
		}
		return
	}
	if s.groupReqs != nil {
		s.groupReqs.Update(float64(len(reqs)))
	}
	t := s.newTxn()
	now := s.clock()
	for _, r := range reqs {
		switch r.kind {
		case reqAccept:
			r.res, r.err = t.accept(r.voter, r.vote, r.receipt)
		case reqTwin:
			t.applyTwin(r.pairs, r.twinSeq)
		case reqConfirm:
			r.err = t.confirm(r.upto, r.twinLast, now)
		}
		if t.err != nil {
			break
		}
	}
	if err := s.apply(t); err != nil {
		for _, r := range reqs {
			r.res, r.err = Result{}, err
		}
	}
	for _, r := range reqs {
		close(r.done)
	}
}

// apply makes a group durable and publishes its counters, or stops the
// Store and returns the error every caller gets.
func (s *Store) apply(t *txn) error {
	err := t.err
	if err != nil {
		t.lb.Close()
		t.vb.Close()
	} else {
		err = s.write(t)
	}
	if err != nil {
		return s.stop(err)
	}
	if t.st.links < s.st.links {
		// Dropped links stay in the write-ahead log and tables of
		// dir/links until the mover's next compaction.
		s.compactDue = true
	}
	s.st = t.st
	st := t.st
	s.pub.Store(&st)
	s.applyRecent(t.recent)
	s.eligible = append(s.eligible, t.eligible...)
	s.journal.add(t.added)
	return nil
}

// stop makes the Store refuse every write from now on, and returns the
// error that says so.
func (s *Store) stop(err error) error {
	f := &failure{fmt.Errorf("%w: %w", ErrFailed, err)}
	if s.fail.CompareAndSwap(nil, f) {
		close(s.failedC)
	}
	s.log.Error("store: writes refused until reopened", "err", err)
	return s.fail.Load().err
}

// write makes a group durable: a commit of dir/links with Sync, then one of
// dir/votes with Sync, then one write and one fsync of votes.log. The order
// matters. The batch of dir/links holds a redo of the batch of dir/votes,
// so Open can commit that again after a crash between the two; votes.log
// is rebuilt from dir/votes on Open, never the other way round.
func (s *Store) write(t *txn) error {
	votes := !t.vb.Empty() || t.st.persisted() != s.st.persisted()
	if !votes && t.lb.Empty() {
		t.lb.Close()
		t.vb.Close()
		return nil
	}
	// The machine's clock, not s.clock: this measures the disk.
	start := time.Now()
	if votes {
		t.st.group++
		for _, m := range metas(&t.st) {
			if err := t.vb.Set(m.key, u64(*m.v), nil); err != nil {
				return fmt.Errorf("batch: %w", err)
			}
		}
		repr := t.vb.Repr()
		redo := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(repr)), t.st.group)
		if err := t.lb.Set(redoKey, append(redo, repr...), nil); err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	if err := setBounds(t.lb); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := commitSync(t.lb); err != nil {
		return fmt.Errorf("commit %s: %w", LinksDir, err)
	}
	t.lb.Close()
	if err := s.faultAt(faultGroupLinks); err != nil {
		return err
	}
	if votes {
		if err := commitSync(t.vb); err != nil {
			return fmt.Errorf("commit %s: %w", VotesDir, err)
		}
	}
	t.vb.Close()
	s.commits.Add(1)
	if len(t.payloads) == 0 {
		s.observeSync(start)
		return nil
	}
	s.buf = s.buf[:0]
	for _, p := range t.payloads {
		s.buf = appendFrame(s.buf, p)
	}
	if _, err := s.file.Write(s.buf); err != nil {
		return fmt.Errorf("append to votes.log: %w", err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("fsync votes.log: %w", err)
	}
	s.fsyncs.Add(1)
	s.observeSync(start)
	return nil
}

// observeSync records how long a group took to become durable since
// start.
func (s *Store) observeSync(start time.Time) {
	if s.groupSync != nil {
		s.groupSync.UpdateDuration(start)
	}
}

// setBounds rewrites the bounds of dir/links into b (keys.go).
func setBounds(b *pebble.Batch) error {
	if err := b.Set(lowKey, boundVal, nil); err != nil {
		return err
	}
	return b.Set(highKey, boundVal, nil)
}

// commitSync commits b with Sync. Pebble reports a commit that broke its
// pipeline through Logger.Fatalf, which panics (see pebbleLogger): that
// becomes an error here. b is not closed after a panic.
func commitSync(b *pebble.Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return b.Commit(pebble.Sync)
}

// youngStamp is a voter stamp whose vote became durable at a time, too
// recently to be a decoy yet.
type youngStamp struct {
	stamp string
	at    time.Time
}

func (s *Store) applyRecent(ops []recentOp) {
	if len(ops) == 0 {
		return
	}
	now := s.clock()
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	for _, op := range ops {
		if op.remove {
			s.recent[op.option] = slices.DeleteFunc(s.recent[op.option], func(st string) bool { return st == op.stamp })
			s.young[op.option] = slices.DeleteFunc(s.young[op.option], func(ys youngStamp) bool { return ys.stamp == op.stamp })
			continue
		}
		s.young[op.option] = append(s.young[op.option], youngStamp{op.stamp, now})
		s.ripenLocked(op.option, now)
	}
}

// ripenLocked moves the stamps of option that have been durable for
// decoyAge at now from young to recent, which keeps the newest recentKeep.
func (s *Store) ripenLocked(option string, now time.Time) {
	y := s.young[option]
	n := 0
	for n < len(y) && !y[n].at.Add(s.decoyAge).After(now) {
		n++
	}
	if n == 0 {
		return
	}
	l := s.recent[option]
	for _, ys := range y[n-min(n, recentKeep) : n] {
		if len(l) == recentKeep {
			l = slices.Delete(l, 0, 1)
		}
		l = append(l, ys.stamp)
	}
	s.recent[option] = l
	s.young[option] = slices.Delete(y, 0, n)
}

// accept is Accept's work inside the group.
func (t *txn) accept(voter Voter, vote Vote, receipt Receipt) (Result, error) {
	present := t.voted(voter)
	if t.err != nil {
		return Result{}, nil
	}
	if present {
		return t.repeat(voter, vote, receipt.Given)
	}
	if len(t.nonceIndexes(vote.Nonce)) > 0 {
		return Result{}, ErrDuplicateVote
	}
	// A voter stamp is good for one vote (PROTOCOL.md 5.3): another vote
	// with it is someone who took the stamp from the votes list or from a
	// receipt and did fresh work with a mandate of their own. The holder's
	// own retry never gets here: its mandate has voted (repeat above).
	if len(t.stampIndexes(vote.Voter)) > 0 {
		return Result{}, ErrDuplicateStamp
	}
	t.st.seq++
	seq := t.st.seq
	t.insertVoter(voter)
	index := t.insertVote(vote)
	t.keepReceipt(index, receipt)
	t.set(numKey(tPair, seq), encodeLink(link{index: index, pair: Pair{Seq: seq, Voter: voter, Vote: vote}}))
	t.set(mandateKey(tMand, voter), u64(seq))
	t.st.links++
	return Result{Seq: seq, Receipt: receipt}, nil
}

// keepReceipt keeps r with vote record index, replacing any.
func (t *txn) keepReceipt(index uint64, r Receipt) {
	if r.Decoys != "" {
		t.set(numKey(tRcpt, index), encodeReceipt(r))
	}
}

// receiptOf returns the receipt kept with vote record index.
func (t *txn) receiptOf(index uint64) Receipt {
	r, err := decodeReceipt(t.get(numKey(tRcpt, index)))
	if err != nil {
		t.fail(err)
	}
	return r
}

// repeatReceipt returns the receipt kept with vote record index for a
// repeat of the vote, marked given from now on if this repeat gives it.
func (t *txn) repeatReceipt(index uint64, given bool) Receipt {
	r := t.receiptOf(index)
	if given && !r.Given && r.Decoys != "" {
		r.Given = true
		t.keepReceipt(index, r)
	}
	return r
}

// twinReceipt keeps the twin's receipt p of a vote that this instance
// accepted too, in place of its own, if p was given and its own was not,
// or both were and the Store prefers the twin's.
func (t *txn) twinReceipt(index uint64, p Receipt) {
	own := t.receiptOf(index)
	if p.Decoys != "" && (own.Decoys == "" || p.Given && (!own.Given || t.s.preferTwin)) {
		t.keepReceipt(index, p)
	}
}

// repeat answers an Accept for a mandate that has voted.
func (t *txn) repeat(voter Voter, vote Vote, given bool) (Result, error) {
	line := vote.Line()
	if l, ok := t.heldLink(voter); ok && !l.retracted {
		// The link names the mandate's vote: it alone decides.
		if l.pair.Vote.Line() == line {
			return Result{Seq: l.pair.Seq, Repeat: true, Receipt: t.repeatReceipt(l.index, given)}, nil
		}
		return Result{}, ErrAlreadyVoted
	}
	// Otherwise the vote may still be here: copied from the twin (perhaps
	// after it won over our own), or accepted long enough ago that its
	// link is gone.
	for _, i := range t.nonceIndexes(vote.Nonce) {
		if string(t.get(numKey(tVote, i))) == line {
			return Result{Repeat: true, Receipt: t.repeatReceipt(i, given)}, nil
		}
	}
	return Result{}, ErrAlreadyVoted
}

// applyTwin applies the twin's pairs by the mirror rule.
func (t *txn) applyTwin(pairs []Pair, twinSeq uint64) {
	for _, p := range pairs {
		if p.Seq <= t.st.twin {
			continue
		}
		t.applyPair(p)
		if t.err != nil {
			return
		}
		t.st.twin = p.Seq
	}
	t.st.twin = max(t.st.twin, twinSeq)
}

func (t *txn) applyPair(p Pair) {
	present := t.voted(p.Voter)
	if t.err != nil {
		return
	}
	if !present { // rule 1
		if len(t.stampIndexes(p.Vote.Voter)) > 0 {
			// Both instances accepted a vote with one voter stamp under
			// two mandates: at once, or during a split. Each mandate
			// counts, so both votes stay here as on the twin; the
			// publisher publishes one line per stamp.
			t.s.log.Warn("store: the twin's vote carries a voter stamp a vote here carries too; keeping both", "twin_seq", p.Seq)
		}
		t.insertVoter(p.Voter)
		t.keepReceipt(t.insertVote(p.Vote), p.Receipt)
		// No link: the mover may take the voter at once.
		t.eligible = append(t.eligible, p.Voter)
		return
	}
	line := p.Vote.Line()
	if l, ok := t.heldLink(p.Voter); ok && !l.retracted {
		own := l.pair.Vote
		// Rule 2 compares whole votes, not nonces: a holder who reuses a
		// nonce with another voter stamp casts a second vote all the same,
		// and if both instances took each one for the other's copy they
		// would keep different votes.
		if own.Line() == line { // rule 2
			t.twinReceipt(l.index, p.Receipt)
			return
		}
		// Rule 3: both instances accepted a vote for this mandate. The log
		// lines name sequence numbers only: a log must not tie a voter to
		// a vote.
		if !wins(p.Vote, own) {
			t.s.log.Info("store: split vote: own vote wins, the twin retracts its own",
				"own_seq", l.pair.Seq, "twin_seq", p.Seq)
			return
		}
		t.s.log.Info("store: split vote: twin's vote wins, retracting own",
			"own_seq", l.pair.Seq, "twin_seq", p.Seq)
		t.retract(l, p.Vote)
		t.keepReceipt(t.insertVote(p.Vote), p.Receipt)
		l.retracted = true
		t.set(numKey(tPair, l.pair.Seq), encodeLink(l))
		return
	}
	for _, i := range t.nonceIndexes(p.Vote.Nonce) { // rule 2, copied or link gone
		if string(t.get(numKey(tVote, i))) == line {
			t.twinReceipt(i, p.Receipt)
			return
		}
	}
	if t.err != nil {
		return
	}
	// Rule 4.
	t.s.log.Error("store: twin sent another vote for a mandate that voted here and whose link is gone; keeping the vote held here",
		"twin_seq", p.Seq)
}

// wins reports whether vote a beats vote b for the same mandate by mirror
// rule 3 (listline.Wins): both instances compute the same answer, and
// exactly one of wins(a, b) and wins(b, a) holds for two different votes.
func wins(a, b Vote) bool { return listline.Wins(a, b) }

// confirm records a confirmation and drops the links whose confirmation
// is older than Retain and whose twinLast the twin cursor has reached.
func (t *txn) confirm(upto, twinLast uint64, now time.Time) error {
	if upto > t.st.seq {
		return fmt.Errorf("store: twin confirms seq %d, the last own seq is %d", upto, t.st.seq)
	}
	s := t.s
	// This confirmation also bounds the twin's conflicting votes for every
	// earlier mark: all of those pairs were applied before it was sent.
	for i := range s.marks {
		if s.marks[i].upto <= upto {
			s.marks[i].twinLast = min(s.marks[i].twinLast, twinLast)
		}
	}
	last := s.dropped
	if n := len(s.marks); n > 0 {
		last = s.marks[n-1].upto
	}
	if upto > last {
		s.marks = append(s.marks, mark{upto: upto, at: now, twinLast: twinLast})
	}
	t.release(func(m mark) bool { return !now.Before(m.at.Add(s.retain)) })
	return nil
}

// release drops the links of the confirmations, oldest first, whose
// twinLast the twin cursor has reached and that old says are old enough.
func (t *txn) release(old func(mark) bool) {
	s := t.s
	for len(s.marks) > 0 && old(s.marks[0]) && t.st.twin >= s.marks[0].twinLast {
		t.dropLinks(s.dropped, s.marks[0].upto)
		if t.err != nil {
			return
		}
		s.dropped = s.marks[0].upto
		s.marks = s.marks[1:]
	}
}

// dropLinks deletes the links with from < seq <= to; their voters become
// eligible for the mover.
func (t *txn) dropLinks(from, to uint64) {
	it, err := t.lb.NewIter(&pebble.IterOptions{LowerBound: numKey(tPair, from+1), UpperBound: numKey(tPair, to+1)})
	if err != nil {
		t.fail(fmt.Errorf("links: %w", err))
		return
	}
	defer it.Close()
	var seqs []uint64
	var voters []Voter
	for ok := it.First(); ok; ok = it.Next() {
		seq, err := readU64(it.Key()[1:], "link key")
		if err != nil {
			t.fail(err)
			return
		}
		l, err := decodeLink(seq, it.Value())
		if err != nil {
			t.fail(err)
			return
		}
		seqs = append(seqs, seq)
		voters = append(voters, l.pair.Voter)
	}
	if err := it.Error(); err != nil {
		t.fail(fmt.Errorf("links: %w", err))
		return
	}
	for i, seq := range seqs {
		t.del(numKey(tPair, seq))
		t.del(mandateKey(tMand, voters[i]))
	}
	t.st.links -= uint64(len(seqs))
	t.eligible = append(t.eligible, voters...)
}

// voted reports whether the mandate of v has a voter record, pending or in
// the voter table. Only the writer changes either, so the two reads agree.
func (t *txn) voted(v Voter) bool {
	k := mandateKey(tVoter, v)
	if t.has(k) {
		return true
	}
	if t.err != nil {
		return false
	}
	in, err := dbGet(t.s.voters, k)
	if err != nil {
		t.fail(fmt.Errorf("read the voter table: %w", err))
	}
	return in != nil
}

// insertVoter adds a pending voter record.
func (t *txn) insertVoter(v Voter) {
	t.set(mandateKey(tVoter, v), v.Sig[:])
	t.added = append(t.added, v)
	t.st.voters++
	t.st.pending++
}

// insertVote appends a vote record and returns its index.
func (t *txn) insertVote(v Vote) uint64 {
	line := []byte(v.Line())
	index := t.appendRecord(line)
	nk := nonceKey(v.Nonce)
	t.set(nk, append(t.get(nk), u64(index)...))
	sk := stampKey(v.Voter)
	t.set(sk, append(t.get(sk), u64(index)...))
	t.st.votes++
	t.recent = append(t.recent, recentOp{option: v.Option, stamp: v.Voter})
	return index
}

// retract appends a retraction of the own vote of l, which winner beats,
// bound to winner by the receipt key's signature when the Store has it.
func (t *txn) retract(l link, winner Vote) {
	v := l.pair.Vote
	r := Retraction{Nonce: v.Nonce}
	if k := t.s.receiptKey; k != nil {
		r.Winner = winner.Nonce
		r.Sig = wire.SignRetraction(k, t.s.campaign, v.Line(), winner.Line())
	}
	t.appendRecord(r.AppendRecord(nil))
	t.unindex(nonceKey(v.Nonce), t.nonceIndexes(v.Nonce), l.index)
	t.unindex(stampKey(v.Voter), t.stampIndexes(v.Voter), l.index)
	t.st.votes--
	t.recent = append(t.recent, recentOp{option: v.Option, stamp: v.Voter, remove: true})
}

// unindex removes index from the entry at key of an index table ('N' or
// 'S'), which holds the indexes have.
func (t *txn) unindex(key []byte, have []uint64, index uint64) {
	var keep []byte
	for _, i := range have {
		if i != index {
			keep = append(keep, u64(i)...)
		}
	}
	if len(keep) == 0 {
		t.del(key)
	} else {
		t.set(key, keep)
	}
}

func (t *txn) appendRecord(payload []byte) uint64 {
	t.st.index++
	t.set(numKey(tVote, t.st.index), payload)
	t.payloads = append(t.payloads, payload)
	return t.st.index
}

// heldLink returns the link of the mandate's own vote, if still held.
func (t *txn) heldLink(v Voter) (link, bool) {
	sb := t.get(mandateKey(tMand, v))
	if sb == nil {
		return link{}, false
	}
	seq, err := readU64(sb, "mandate link")
	if err != nil {
		t.fail(err)
		return link{}, false
	}
	b := t.get(numKey(tPair, seq))
	if b == nil {
		t.fail(fmt.Errorf("store: mandate points to link %d, which is missing: %w", seq, ErrCorrupt))
		return link{}, false
	}
	l, err := decodeLink(seq, b)
	if err != nil {
		t.fail(err)
		return link{}, false
	}
	return l, true
}

// nonceIndexes returns the indexes of the live vote records with nonce.
func (t *txn) nonceIndexes(nonce []byte) []uint64 {
	return t.indexes(nonceKey(nonce), "nonce")
}

// stampIndexes returns the indexes of the live vote records with the voter
// stamp voter.
func (t *txn) stampIndexes(voter string) []uint64 {
	return t.indexes(stampKey(voter), "voter stamp")
}

// indexes reads an entry of an index table: vote record indexes, 8 bytes
// each.
func (t *txn) indexes(key []byte, what string) []uint64 {
	out, err := decodeIndexes(t.get(key), what)
	if err != nil {
		t.fail(err)
	}
	return out
}

// decodeIndexes reads the value of an index entry.
func decodeIndexes(b []byte, what string) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("store: %s index entry of %d bytes: %w", what, len(b), ErrCorrupt)
	}
	var out []uint64
	for ; len(b) > 0; b = b[8:] {
		out = append(out, binary.BigEndian.Uint64(b[:8]))
	}
	return out, nil
}

// batch returns the batch that holds key's table: dir/links for pending
// voters and links, dir/votes for the rest.
func (t *txn) batch(key []byte) *pebble.Batch {
	switch key[0] {
	case tVoter, tPair, tMand:
		return t.lb
	}
	return t.vb
}

// get returns a copy of the value of key as the group sees it, nil if
// absent (no stored value is empty).
func (t *txn) get(key []byte) []byte {
	if t.err != nil {
		return nil
	}
	v, err := batchGet(t.batch(key), key)
	if err != nil {
		t.fail(fmt.Errorf("read %x: %w", key, err))
	}
	return v
}

func (t *txn) has(key []byte) bool { return t.get(key) != nil }

func (t *txn) set(key, value []byte) {
	if t.err == nil {
		if err := t.batch(key).Set(key, value, nil); err != nil {
			t.fail(fmt.Errorf("batch: %w", err))
		}
	}
}

func (t *txn) del(key []byte) {
	if t.err == nil {
		if err := t.batch(key).Delete(key, nil); err != nil {
			t.fail(fmt.Errorf("batch: %w", err))
		}
	}
}

func (t *txn) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

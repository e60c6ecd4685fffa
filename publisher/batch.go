package publisher

import (
	"fmt"
	"slices"

	"github.com/powvote/powvote/listline"
)

// Batches: how much of what is final a round publishes, and when (the
// batching policy: batchLen, clockAllows), and how a batch is written to
// the lists and the logs and committed (publish). The merge rule that
// decides what is final is in merge.go, the queue it feeds in queue.go,
// the logs that record a batch in logs.go.

// batchLen is how many of the ready votes, and as many voters, the round
// under way publishes: ready is the smaller of the two queues, b is
// Config.BatchSize, and flushing says the round publishes the last batch.
//
// A batch smaller than Config.BatchSize would narrow down who cast which
// vote, and so would the last batch at the close if it were small: votes
// that come one by one after the last batch before it would be published
// one by one. So, before the close, a round publishes only what it can
// take while keeping at least BatchSize back: ready - BatchSize, and only
// when that is itself at least BatchSize (ready >= 2*BatchSize); nothing
// otherwise. The last batch (flushing: the close, Finish, Flush) takes
// everything, which is then at least BatchSize whenever anything was
// published before it (the BatchSize kept back only grows) and whenever
// the campaign had at least BatchSize votes in all. A campaign with fewer
// than that publishes all of them in that one batch at the close.
//
// The price is time: a vote is published once at least BatchSize votes
// have become final after it, and at most 2*BatchSize-1 (when it was the
// first of those kept back); otherwise at the close. With a batch size of
// 1 every batch is large enough and nothing is kept back.
func batchLen(b, ready int, flushing bool) int {
	switch {
	case flushing || b <= 1:
		return ready
	case ready >= 2*b:
		return ready - b
	}
	return 0
}

// clockAllows reports whether a batch may be published at now (Unix
// seconds) after one published at modified: the lists grow at most once
// in a second, so that Last-Modified changes with every growth, and not
// while the clock is behind the last growth.
func clockAllows(now, modified int64) bool { return now > modified }

// publish appends as many final votes as final voters to the lists, as
// many as batchLen allows, extends the logs
// and the history, and commits; then it moves the cursors. An error means
// the lists or the state may not be durable: the caller stops publishing.
func (p *Publisher) publish() error {
	p.dropRetracted()
	now := p.cfg.Clock().Unix()
	n := p.batchNow(now)
	next := p.st
	next.Cursors = slices.Clone(p.st.Cursors)
	next.Logs = slices.Clone(p.st.Logs)
	if n > 0 {
		votes, voters := p.front(n)
		if err := p.writeBatch(votes, voters, now, &next); err != nil {
			return err
		}
		// From here on these lines are published as far as memory goes;
		// if the state cannot be written the publisher stops, and a
		// restart starts again from the committed state.
		p.published(n, votes, voters)
		for _, pv := range votes {
			delete(p.pairs[pv.pair].pending, keyOf(pv.vote.Nonce))
		}
	}
	for k, ps := range p.pairs {
		next.Cursors[k] = ps.cursors()
	}
	if next.Logs == nil && slices.ContainsFunc(p.pairs, func(ps *pairState) bool { return ps.logs != [2]string{} }) {
		next.Logs = make([][2]string, len(p.pairs))
	}
	for k, ps := range p.pairs {
		if next.Logs != nil {
			next.Logs[k] = ps.logs
		}
	}
	if !next.equal(&p.st) {
		if err := p.writeState(&next); err != nil {
			return err
		}
		p.st = next
		if n > 0 {
			p.snap.Store(p.snapshot())
			p.log.Info("published", "lines", n, "total", next.Lines)
		}
	}
	// Now that the batch is committed, the retractions whose winner it
	// published can stand: a retraction names a vote of the votes list.
	return p.appendRetracted()
}

// batchNow is how many lines of each list the round publishes at now, by
// the batching policy (batch.go); it warns once when the clock is behind
// the lists' last growth.
func (p *Publisher) batchNow(now int64) int {
	n := batchLen(p.cfg.BatchSize, p.ready(), p.flushing)
	if n > 0 && !clockAllows(now, p.st.Modified) {
		// The lists grew in this second already, or the clock went back:
		// wait, so that Last-Modified changes with every growth.
		if now < p.st.Modified && !p.clockBack {
			p.log.Warn("the clock is behind the lists' Last-Modified; publishing waits for it", "last_modified", p.st.Modified, "now", now)
		}
		p.clockBack = now < p.st.Modified
		return 0
	}
	p.clockBack = false
	return n
}

// writeBatch appends a batch, votes and as many voters in the order the
// lists hold them, to both lists, counts its votes, and with the log key
// extends the logs and the history: all durable, none published until
// the caller commits next, which it advances.
func (p *Publisher) writeBatch(votes []*pendingVote, voters []listline.Voter, now int64, next *state) error {
	n := len(votes)
	batch := [2][]string{make([]string, n), make([]string, n)}
	for j, pv := range votes {
		batch[votesList][j] = pv.line
	}
	for j, v := range voters {
		batch[votersList][j] = v.Line()
	}
	for i, ls := range batch {
		var b []byte
		for j, l := range ls {
			p.trees[i].noteLeaf(p.st.Lines+int64(j), next.Bytes[i]+int64(len(b)))
			b = append(append(b, l...), '\n')
		}
		if err := p.appendList(i, b); err != nil {
			return err
		}
		next.Bytes[i] += int64(len(b))
	}
	next.Lines += int64(n)
	next.Modified = now
	for _, pv := range votes {
		p.count(pv.vote.Option)
	}
	if p.key != nil {
		h, err := p.extendLogs(batch, next.Lines, now)
		if err != nil {
			return err
		}
		next.History += h
	}
	return nil
}

// extendLogs adds a batch, already durable in the lists, to the trees:
// it writes the new stored hashes, a signed checkpoint of each list at
// size and a history line, all durable, and returns the bytes the history
// grew by. The state, written next, is what makes them published; until
// then a restart cuts them or, for checkpoint files, removes them.
func (p *Publisher) extendLogs(batch [2][]string, size, now int64) (int64, error) {
	var cps [2][]byte
	for i, ls := range batch {
		var err error
		if cps[i], err = p.trees[i].extend(p.key, ls, size); err != nil {
			return 0, err
		}
		if err := writeFileSync(p.checkpointPath(i, size), cps[i]); err != nil {
			return 0, err
		}
	}
	line := listline.History{Size: size, Time: now, Counts: p.counts}.Line() + "\n"
	if _, err := p.history.WriteAt([]byte(line), p.st.History); err != nil {
		return 0, fmt.Errorf("couldn't write %s: %w", p.historyPath(), err)
	}
	if err := p.history.Sync(); err != nil {
		return 0, fmt.Errorf("couldn't sync %s: %w", p.historyPath(), err)
	}
	for i, cp := range cps {
		p.trees[i].checkpoint = cp
	}
	return int64(len(line)), nil
}

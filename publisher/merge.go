package publisher

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/pow"
)

// nonceKey holds a nonce and its length in a fixed-size array: a map keyed
// by it holds no pointers, which keeps the set of published nonces (one
// entry per vote of the campaign) cheap for the garbage collector.
type nonceKey [1 + pow.MaxNonce]byte

func keyOf(nonce []byte) nonceKey {
	var k nonceKey
	k[0] = byte(len(nonce))
	copy(k[1:], nonce)
	return k
}

// stampKeyOf is the key of a voter stamp in the sets of queued and
// published votes, which hold each vote under its nonce and under its
// voter stamp: a voter stamp is good for one vote (PROTOCOL.md 5.3), so a
// vote whose stamp either set holds is one the lists must not carry a
// second time. The key is 0, which is no nonce's length, then the 32
// symbols of the stamp without its dashes (listline read the stamp in its
// one written form). A stamp's key enters queuedVotes with its vote and
// stays there once the vote is published or dropped from the queue (a
// stamp stays used); New puts the stamps of the votes list in
// publishedVotes.
func stampKeyOf(voter string) nonceKey {
	var k nonceKey
	j := 1
	for i := 0; i < len(voter) && j < len(k); i++ {
		if voter[i] != '-' {
			k[j] = voter[i]
			j++
		}
	}
	return k
}

// record is one record of an instance's vote log.
type record struct {
	index   uint64
	vote    *listline.Vote       // nil for a retraction
	line    string               // the vote's line, when vote is not nil
	retract *listline.Retraction // when vote is nil
}

// pendingVote is a vote that one or both instances of its pair have shown
// and that is not published yet.
type pendingVote struct {
	vote     listline.Vote
	line     string // the line the instance first showed
	first    int    // the instance that showed it first
	other    string // under conflict, the line the other instance showed
	pair     int
	index    [2]uint64 // its record on each instance; 0 until that instance shows it
	queued   bool      // final: both instances hold it; it is in the vote queue
	conflict bool      // the instances hold different lines under this nonce: never final
	dropped  bool      // retracted after it was queued; the queue skips it
}

// pairState is what the publisher knows of one pair. During the pulls of
// a round the pair's goroutine alone touches it (and the pendingVotes it
// holds); between pulls, the round's goroutine does.
type pairState struct {
	k        int
	urls     [2]string
	next     [2]uint64 // from= of the next request for vote records, per instance
	failing  [2]bool   // whether the last request to the instance failed; for logging changes only
	needScan bool      // the voter tables may hold a voter not yet seen on both

	pending   map[nonceKey]*pendingVote
	retracted map[nonceKey]struct{} // nonces either instance retracted
	// held are the retractions learnt and not yet in the retracted list:
	// each waits until its winner is published (appendRetracted).
	held []retraction

	// What the round's pulls found, taken by the round's goroutine.
	newVotes  []*pendingVote
	newVoters []listline.Voter
	anomalies int
}

func newPairState(k int, urls [2]string, cursors [2]uint64) *pairState {
	return &pairState{
		k:         k,
		urls:      urls,
		next:      cursors,
		needScan:  true, // nothing is known of the voter tables after a start
		pending:   make(map[nonceKey]*pendingVote),
		retracted: make(map[nonceKey]struct{}),
	}
}

// apply takes in record r of instance inst by the merge rule (package
// documentation). published reports whether a nonce is in the votes list.
// A vote that becomes final goes to newVotes.
func (ps *pairState) apply(log *slog.Logger, inst int, r record, published func(nonceKey) bool) {
	anomaly := func(msg string) {
		ps.anomalies++
		log.Error(msg, "pair", ps.k, "instance", 2*ps.k+inst, "record", r.index)
	}
	if r.vote == nil {
		rt := r.retract
		k := keyOf(rt.Nonce)
		ps.retracted[k] = struct{}{}
		if pv, ok := ps.pending[k]; ok {
			if pv.queued {
				anomaly("retraction of a vote both instances held; it will not be published")
				pv.dropped = true
			}
			delete(ps.pending, k)
			line := pv.lineOf(inst)
			switch {
			case line == "":
				// An instance retracts only a vote it accepted, which
				// stands before the retraction in its log.
				anomaly("retraction of a vote the retracting instance never showed; the retracted list cannot show it")
			case !rt.Bound():
				anomaly("retraction bound to no winning vote (a collector without the receipt key); the retracted list cannot show it")
			default:
				v, _ := listline.ParseVote(line) // a line the instance showed, parsed then
				rl := listline.Retracted{Winner: rt.Winner, Sig: [64]byte(rt.Sig), Vote: v}
				ps.held = append(ps.held, retraction{key: k, winner: keyOf(rt.Winner), line: rl.Line(), inst: inst, index: pv.index[inst]})
			}
		} else if published(k) {
			anomaly("retraction of a published vote; the lists are append-only, it stays published")
		}
		return
	}
	k := keyOf(r.vote.Nonce)
	if published(k) {
		return // read again after a restart, or the twin's copy
	}
	if _, ok := ps.retracted[k]; ok {
		anomaly("a vote whose nonce was retracted shows up again; it will not be published")
		return
	}
	pv := ps.pending[k]
	switch {
	case pv == nil:
		pv = &pendingVote{vote: *r.vote, line: r.line, first: inst, pair: ps.k}
		pv.index[inst] = r.index
		ps.pending[k] = pv
		return
	case pv.index[inst] != 0:
		anomaly("a nonce stands twice in one instance's log; keeping the first")
		return
	case pv.line != r.line:
		anomaly("the instances of a pair hold different votes under one nonce; publishing neither")
		pv.index[inst] = r.index
		pv.conflict = true
		pv.other = r.line
		return
	}
	pv.index[inst] = r.index
	if !pv.conflict && pv.index[0] != 0 && pv.index[1] != 0 {
		pv.queued = true
		ps.newVotes = append(ps.newVotes, pv)
	}
}

// lineOf returns the line instance inst showed for the vote, "" if none.
func (pv *pendingVote) lineOf(inst int) string {
	switch {
	case pv.index[inst] == 0:
		return ""
	case inst != pv.first && pv.conflict:
		return pv.other
	}
	return pv.line
}

// cursors returns, per instance, the index of the oldest record whose fate
// is still open: a restart must read it again. Records before it are
// published, retracted and in the retracted list, or of no consequence.
// A held retraction keeps its retracted vote's record, so that a restart
// reads the vote and the retraction again.
func (ps *pairState) cursors() [2]uint64 {
	c := ps.next
	for _, pv := range ps.pending {
		for i, x := range pv.index {
			if x != 0 && x < c[i] {
				c[i] = x
			}
		}
	}
	for _, r := range ps.held {
		c[r.inst] = min(c[r.inst], r.index)
	}
	return c
}

// byStamp orders votes by voter stamp, then by line (two votes with one
// stamp are possible only if someone reused a stamp; the order stays
// total).
func byStamp(a, b *pendingVote) int {
	return cmp.Or(strings.Compare(a.vote.Voter, b.vote.Voter), strings.Compare(a.line, b.line))
}

// sigText is the base64 of auth-sig, as it stands in the voters list.
func sigText(v *listline.Voter) string { return base64.StdEncoding.EncodeToString(v.Sig[:]) }

// sortBySig orders voters by the text of auth-sig as the list shows it, so
// that anyone can check the order of a batch with sort; then by line. Each
// voter's text is made once, not at every comparison: the sort was a
// twentieth of the platform's CPU under load with the comparison encoding
// both signatures each time.
func sortBySig(voters []listline.Voter) {
	type keyed struct {
		sig string
		v   listline.Voter
	}
	ks := make([]keyed, len(voters))
	for i := range voters {
		ks[i] = keyed{sigText(&voters[i]), voters[i]}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(strings.Compare(a.sig, b.sig), strings.Compare(a.v.Line(), b.v.Line()))
	})
	for i := range ks {
		voters[i] = ks[i].v
	}
}

// enqueue moves what the pulls found final into the queues, each round's
// group sorted, dropping what is already queued or published.
func (p *Publisher) enqueue() {
	var votes []*pendingVote
	var voters []listline.Voter
	for _, ps := range p.pairs {
		for _, pv := range ps.newVotes {
			if pv.dropped {
				continue
			}
			k := keyOf(pv.vote.Nonce)
			if p.voteKnown(k) {
				// Only a vote replayed under a mandate of another pair
				// does this: a nonce is one vote, published once.
				p.anomalies++
				p.log.Error("one vote in two pairs; publishing it once", "pair", ps.k)
				delete(ps.pending, k)
				continue
			}
			if p.stampUsed(pv.vote.Voter) {
				// Someone used the stamp of a vote a second time and
				// got that vote recorded before the edges and the
				// collectors knew of the first (THREAT_MODEL.md, Known
				// limits 4). A second line with one stamp would fail
				// the audit of the whole election: the first vote to
				// become final is published, this one nowhere, and its
				// voter waits in the queue like the second mandate of
				// one vote in two pairs.
				p.anomalies++
				p.log.Error("a second vote with one voter stamp; it is not published", "pair", ps.k)
				delete(ps.pending, k)
				continue
			}
			p.holdVote(pv)
			votes = append(votes, pv)
		}
		for _, v := range ps.newVoters {
			if p.voterKnown(v.Mandate()) {
				continue
			}
			p.holdVoter(v)
			voters = append(voters, v)
		}
		ps.newVotes, ps.newVoters = nil, nil
	}
	p.add(votes, voters)
}

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
	line := strconv.FormatInt(size, 10) + " " + strconv.FormatInt(now, 10)
	for _, c := range p.counts {
		line += " " + strconv.FormatInt(c, 10)
	}
	line += "\n"
	if _, err := p.history.WriteAt([]byte(line), p.st.History); err != nil {
		return 0, fmt.Errorf("couldn't write %s: %w", p.historyPath(), err)
	}
	if err := p.history.Sync(); err != nil {
		return 0, fmt.Errorf("couldn't sync %s: %w", p.historyPath(), err)
	}
	if err := syncDir(p.cfg.Dir); err != nil { // the new checkpoint files
		return 0, err
	}
	for i, cp := range cps {
		p.trees[i].checkpoint = cp
	}
	return int64(len(line)), nil
}

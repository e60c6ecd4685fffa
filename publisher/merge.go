package publisher

import (
	"cmp"
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"

	"github.com/VictoriaMetrics/metrics"

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
	k    int
	urls [2]string
	next [2]uint64 // from= of the next request for vote records, per instance
	logs [2]string // identity of the vote log next reads, per instance; "" until seen
	// replay is, per instance, the last index of a log read again from
	// its start because its identity changed (resetInstance): up to it,
	// the log is a copy of the twin's, read already from the twin.
	replay  [2]uint64
	failing [2]bool // whether the last request to the instance failed; for logging changes only
	// needScan is set when the voter cursors cannot tell what is new (a
	// start, an instance restarted or rebuilt): the next pull reads both
	// voter tables in full. noCursor is set when an instance answered a
	// voter cursor with 400 (an earlier release): then both tables are
	// read in full whenever one showed vote records since the last such
	// read (fresh false).
	needScan, noCursor, fresh bool
	// vcur is, per instance, the cursor of its new voters
	// (/records/voters?since=); half the voters one instance has shown
	// and the other not yet, neither published nor queued.
	vcur [2]string
	half [2]map[listline.Mandate]listline.Voter

	pending   map[nonceKey]*pendingVote
	retracted map[nonceKey]struct{} // nonces either instance retracted
	// held are the retractions learnt and not yet in the retracted list:
	// each waits until its winner is published (appendRetracted).
	held []retraction

	// What the round's pulls found, taken by the round's goroutine.
	newVotes  []*pendingVote
	newVoters []listline.Voter
	anomalies int

	pullErrors [2]*metrics.Counter // per instance; set by registerMetrics
}

func newPairState(k int, urls [2]string, cursors [2]uint64) *pairState {
	return &pairState{
		k:         k,
		urls:      urls,
		next:      cursors,
		needScan:  true, // nothing is known of the voter tables after a start
		half:      [2]map[listline.Mandate]listline.Voter{{}, {}},
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
		if r.index > ps.replay[inst] {
			// A rebuilt instance's log, read again, shows the twin's
			// retracted votes before their retractions: no anomaly.
			anomaly("a vote whose nonce was retracted shows up again; it will not be published")
		}
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
	// Queued already when a log read again shows it (resetInstance).
	if !pv.queued && !pv.conflict && pv.index[0] != 0 && pv.index[1] != 0 {
		pv.queued = true
		ps.newVotes = append(ps.newVotes, pv)
	}
}

// resetInstance forgets what the pair's state says of instance inst's
// log, whose identity changed to id: the instance was rebuilt from its
// twin, or restored, and its indexes mean other records now. Its log is
// read again from the start (last is its last index now; up to it the
// log is a copy). Nothing is published twice: the merge is keyed by
// nonce, and a vote published or queued stays so. A vote only the old log
// showed waits again for both instances.
func (ps *pairState) resetInstance(inst int, id string, last uint64) {
	other := 1 - inst
	for k, pv := range ps.pending {
		switch {
		case pv.index[other] == 0 && !pv.queued:
			delete(ps.pending, k)
			continue
		case pv.conflict:
			// The line the other instance showed is the one that stands.
			if pv.first == inst {
				pv.line, pv.vote, pv.first = pv.other, mustParse(pv.other, pv.vote), other
			}
			pv.conflict, pv.other = false, ""
		}
		pv.index[inst] = 0
	}
	for i := range ps.held {
		if ps.held[i].inst == inst {
			// Its records are in no log now; cursors ignores index 0.
			ps.held[i].index = 0
		}
	}
	ps.logs[inst] = id
	ps.next[inst] = 1
	ps.replay[inst] = last
	ps.needScan = true
}

// mustParse reads a line an instance showed, which parsed then; keep is
// returned if it does not.
func mustParse(line string, keep listline.Vote) listline.Vote {
	if v, err := listline.ParseVote(line); err == nil {
		return v
	}
	return keep
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
		if r.index != 0 {
			c[r.inst] = min(c[r.inst], r.index)
		}
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
		if c := strings.Compare(a.sig, b.sig); c != 0 {
			return c
		}
		// cmp.Or would make both lines at every comparison: its
		// arguments are evaluated before it is called.
		return strings.Compare(a.v.Line(), b.v.Line())
	})
	for i := range ks {
		voters[i] = ks[i].v
	}
}

package publisher

import (
	"slices"

	"github.com/powvote/powvote/listline"
)

// queue is what stands between the merge rule and the lists: the final
// votes and voters not yet published, in the order they became final, and
// the sets that tell what the lists hold already, so that nothing is
// queued or published twice. The merge rule adds at its back (enqueue),
// the batch policy takes from its front (publish). Only the round's
// goroutine touches it, under roundMu.
type queue struct {
	publishedVotes  map[nonceKey]struct{}         // nonces (and stamps, stampKeyOf) in the votes list
	publishedVoters map[listline.Mandate]struct{} // mandates in the voters list
	queuedVotes     map[nonceKey]struct{}         // nonces (and stamps) in voteQueue
	queuedVoters    map[listline.Mandate]struct{} // mandates in voterQueue
	voteQueue       []*pendingVote                // final votes not yet published, in the order they became final
	voterQueue      []listline.Voter              // final voters not yet published, likewise
}

func newQueue() queue {
	return queue{
		publishedVotes:  make(map[nonceKey]struct{}),
		publishedVoters: make(map[listline.Mandate]struct{}),
		queuedVotes:     make(map[nonceKey]struct{}),
		queuedVoters:    make(map[listline.Mandate]struct{}),
	}
}

// ready is how many lines of each list the queue could publish now: a
// batch holds as many votes as voters.
func (q *queue) ready() int { return min(len(q.voteQueue), len(q.voterQueue)) }

// voteKnown reports whether key k, of a nonce or a stamp, is queued or
// published.
func (q *queue) voteKnown(k nonceKey) bool {
	_, queued := q.queuedVotes[k]
	_, published := q.publishedVotes[k]
	return queued || published
}

// voterKnown reports whether mandate m is queued or published.
func (q *queue) voterKnown(m listline.Mandate) bool {
	_, queued := q.queuedVoters[m]
	_, published := q.publishedVoters[m]
	return queued || published
}

// stampUsed reports whether a vote with this voter stamp is queued or
// published.
func (q *queue) stampUsed(voter string) bool { return q.voteKnown(stampKeyOf(voter)) }

// holdVote and holdVoter mark a vote (its nonce and its stamp) and a
// voter as queued, so that a second one in the same round is known; add
// then queues them.
func (q *queue) holdVote(pv *pendingVote) {
	q.queuedVotes[keyOf(pv.vote.Nonce)] = struct{}{}
	q.queuedVotes[stampKeyOf(pv.vote.Voter)] = struct{}{}
}

func (q *queue) holdVoter(v listline.Voter) { q.queuedVoters[v.Mandate()] = struct{}{} }

// add queues a round's votes and voters, held before, each group sorted as
// the lists hold a batch.
func (q *queue) add(votes []*pendingVote, voters []listline.Voter) {
	slices.SortFunc(votes, byStamp)
	sortBySig(voters)
	q.voteQueue = append(q.voteQueue, votes...)
	q.voterQueue = append(q.voterQueue, voters...)
}

// dropRetracted removes the votes retracted since they were queued. Their
// stamps stay known: a stamp stays used.
func (q *queue) dropRetracted() {
	q.voteQueue = slices.DeleteFunc(q.voteQueue, func(pv *pendingVote) bool {
		if pv.dropped {
			delete(q.queuedVotes, keyOf(pv.vote.Nonce))
		}
		return pv.dropped
	})
}

// front returns copies of the first n votes and voters, each sorted as
// the lists hold a batch.
func (q *queue) front(n int) ([]*pendingVote, []listline.Voter) {
	votes := slices.Clone(q.voteQueue[:n])
	voters := slices.Clone(q.voterQueue[:n])
	slices.SortFunc(votes, byStamp)
	sortBySig(voters)
	return votes, voters
}

// published moves the first n votes and voters, now in the lists (votes
// and voters, as front returned them), from the queue to the published
// sets.
func (q *queue) published(n int, votes []*pendingVote, voters []listline.Voter) {
	for _, pv := range votes {
		k := keyOf(pv.vote.Nonce)
		q.publishedVotes[k] = struct{}{}
		delete(q.queuedVotes, k)
	}
	for _, v := range voters {
		m := v.Mandate()
		q.publishedVoters[m] = struct{}{}
		delete(q.queuedVoters, m)
	}
	q.voteQueue = slices.Delete(q.voteQueue, 0, n)
	q.voterQueue = slices.Delete(q.voterQueue, 0, n)
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

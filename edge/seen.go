package edge

import (
	"hash/maphash"
	"sync"
)

// The proof of work covers the platform stamp, the voter stamp, the option
// and the nonce, but not the mandate. A vote that some collector recorded
// could therefore be sent again with another mandate, and if that mandate
// routes to another pair, that pair cannot know the vote is a copy: it
// would accept it, and the publisher would then hold one vote line for two
// voters. Nor does the work stop anyone from taking a recorded vote's
// platform and voter stamps (from the votes list, or from the decoys of a
// receipt) and doing fresh work over them with a mandate and an option of
// their own; but a voter stamp is good for one vote (PROTOCOL.md 5.3). The
// nonce cache stops neither beyond the one edge process that answered the
// nonce, and the collectors refuse a used stamp only at the pair that
// recorded it.
//
// seenVotes closes the rest. It remembers, for each vote the edge knows is
// recorded, its voter stamp, its nonce and which pair holds it, for as long
// as its platform stamp could still be accepted anywhere. A vote whose
// voter stamp is recorded with another nonce is refused at the edge (486,
// as a collector refuses it); one whose stamp and nonce are recorded by
// another pair is a copy, refused with 481 (as a collector refuses a nonce
// it holds for another mandate); the same stamp and nonce at the same pair
// is the voter's own vote again, which goes on to the pair, so that a retry
// gets its receipt. The edge learns of votes in two ways: from the 2xx it
// relays, at once, and from the records of every collecting instance,
// which it reads every second (tail.go): so it also knows the votes other
// edge processes relayed, and those relayed before it started.
//
// Entries are grouped by the minute of their P-UTC (the voter stamp's MAC
// covers P-UTC, so a vote with a recorded stamp carries its P-UTC), so a
// lookup touches one map, and a whole minute is dropped once its stamps
// are too old for any collector. An entry is 16 bytes of map slot: the
// voter stamp as a 64-bit hash, and in one 64-bit word a 48-bit hash of
// the nonce and the pair, all under a per-process random seed. Two
// different stamps share a hash with probability about n/2^64 per lookup
// against the n entries of a minute, and then the later vote is refused
// (486, or 481 if its nonce hash matches too); two nonces under one stamp
// share a hash with probability 2^-48, and then the second vote is taken
// for the first and goes on to its pair, whose own check refuses it.
type seenVotes struct {
	seed maphash.Seed
	keep int64 // seconds after its P-UTC that an entry is kept

	mu      sync.Mutex
	minutes map[int64]map[uint64]uint64 // P-UTC/60 → voter stamp hash → nonce hash<<16 | pair
	dropped int64                       // minutes before this one are gone
}

func newSeenVotes(keepSeconds int64) *seenVotes {
	return &seenVotes{seed: maphash.MakeSeed(), keep: keepSeconds, minutes: make(map[int64]map[uint64]uint64)}
}

// seenVote is what seenVotes knows of a vote's voter stamp.
type seenVote int

const (
	stampUnknown seenVote = iota // no vote the edge knows of carries it
	stampSame                    // a vote with this stamp and this nonce is recorded
	stampOther                   // a vote with this stamp and another nonce is recorded
)

// entry packs a nonce's hash and a pair.
func (sv *seenVotes) entry(nonce []byte, k int) uint64 {
	return maphash.Bytes(sv.seed, nonce)&^0xffff | uint64(uint16(k))
}

// find returns what is known of the recorded vote with this voter stamp
// and P-UTC, and its pair when it has this nonce.
func (sv *seenVotes) find(putc int64, voter string, nonce []byte) (seenVote, int) {
	h := maphash.String(sv.seed, voter)
	want := sv.entry(nonce, 0)
	sv.mu.Lock()
	e, ok := sv.minutes[putc/60][h]
	sv.mu.Unlock()
	switch {
	case !ok:
		return stampUnknown, 0
	case e&^0xffff != want:
		return stampOther, 0
	}
	return stampSame, int(uint16(e))
}

// add records that pair k holds the vote with this voter stamp, nonce and
// P-UTC, unless a vote with the stamp was recorded first (the first stays:
// a later one is a copy or a used stamp). A vote whose stamp no collector
// would accept any more at now is not kept.
func (sv *seenVotes) add(putc int64, voter string, nonce []byte, k int, now int64) {
	if putc+sv.keep < now {
		return
	}
	h := maphash.String(sv.seed, voter)
	e := sv.entry(nonce, k)
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.expire(now)
	m := sv.minutes[putc/60]
	if m == nil {
		m = make(map[uint64]uint64)
		sv.minutes[putc/60] = m
	}
	if _, ok := m[h]; !ok {
		m[h] = e
	}
}

// expire drops the minutes whose every stamp is older than keep at now.
// The caller holds mu.
func (sv *seenVotes) expire(now int64) {
	oldest := (now - sv.keep) / 60 // the oldest minute that may still hold a live stamp
	if oldest <= sv.dropped {
		return
	}
	for m := range sv.minutes {
		if m < oldest {
			delete(sv.minutes, m)
		}
	}
	sv.dropped = oldest
}

// len returns the number of votes remembered.
func (sv *seenVotes) len() int {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	n := 0
	for _, m := range sv.minutes {
		n += len(m)
	}
	return n
}

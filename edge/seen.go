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
// voters. The nonce cache stops such a copy only while it remembers the
// nonce, on the one edge process that answered it.
//
// seenVotes closes the rest. It remembers, for each vote the edge knows is
// recorded, which pair holds it, for as long as its platform stamp could
// still be accepted anywhere; a vote whose nonce is held by another pair is
// refused at the edge (481, like a collector refuses a nonce it holds for
// another mandate). The edge learns of votes in two ways: from the 2xx it
// relays, at once, and from the records of every collecting instance, which
// it reads every second (tail.go): so it also knows the votes other edge
// processes relayed, and those relayed before it started.
//
// Entries are grouped by the minute of their P-UTC (a copy carries the
// same P-UTC, which the work covers), so a lookup touches one map, and a
// whole minute is dropped once its stamps are too old for any collector.
// A nonce is kept as a 64-bit hash under a per-process random seed: two
// different nonces share a hash with probability about n/2^64 per lookup
// against n entries (n is some millions for a 30-minute stamp age at
// thousands of votes a second), and such a collision refuses a vote only
// if the two votes went to different pairs.
type seenVotes struct {
	seed maphash.Seed
	keep int64 // seconds after its P-UTC that an entry is kept

	mu      sync.Mutex
	minutes map[int64]map[uint64]uint16 // P-UTC/60 → nonce hash → pair
	dropped int64                       // minutes before this one are gone
}

func newSeenVotes(keepSeconds int64) *seenVotes {
	return &seenVotes{seed: maphash.MakeSeed(), keep: keepSeconds, minutes: make(map[int64]map[uint64]uint16)}
}

// pair returns the pair known to hold the vote with this nonce and P-UTC.
func (sv *seenVotes) pair(putc int64, nonce []byte) (int, bool) {
	h := maphash.Bytes(sv.seed, nonce)
	sv.mu.Lock()
	defer sv.mu.Unlock()
	k, ok := sv.minutes[putc/60][h]
	return int(k), ok
}

// add records that pair k holds the vote with this nonce and P-UTC, unless
// another pair was recorded first, and returns the pair recorded now. A
// vote whose stamp no collector would accept any more at now is not kept.
func (sv *seenVotes) add(putc int64, nonce []byte, k int, now int64) int {
	if putc+sv.keep < now {
		return k
	}
	h := maphash.Bytes(sv.seed, nonce)
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.expire(now)
	m := sv.minutes[putc/60]
	if m == nil {
		m = make(map[uint64]uint16)
		sv.minutes[putc/60] = m
	}
	if first, ok := m[h]; ok {
		return int(first)
	}
	m[h] = uint16(k)
	return k
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

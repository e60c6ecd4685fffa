package store

import (
	"encoding/binary"
	"fmt"
)

// Key space of the Pebble database (dir/voters). The first byte names the
// table; numbers are 8-byte big-endian so that key order is number order.
//
//	'A' auth-pkey(32) auth-id(24)  -> auth-sig(64)              voter table
//	'V' index(8)                   -> log payload               vote records, index from 1
//	'N' nonce(8..32)               -> index(8) ...              live vote records by nonce
//	'S' voter stamp(39)            -> index(8) ...              live vote records by voter stamp
//	'P' seq(8)                     -> flags(1) index(8) voter(120) vote line
//	                                                            links of own votes (pairs)
//	'M' auth-pkey(32) auth-id(24)  -> seq(8)                    held link of a mandate
//	'~' name                       -> uint64(8)                 metadata
//
// 'V' holds exactly the payloads of votes.log, record i at index i: a vote
// line or a retraction. 'N' maps a nonce to the indexes of the vote records
// with that nonce that no retraction withdrew; it is empty for a retracted
// vote. Normally one index; more only if the twin sends a vote whose nonce
// another mandate already used here (Accept refuses that, ApplyTwin must
// mirror it). 'S' is the same by voter stamp, as the line writes it: more
// than one index only if the twin sends a vote whose stamp another vote
// already carries here (see Duplicates in the package documentation). 'P'
// and 'M' are the only keys that tie a voter to a vote, and they are
// deleted once the twin has confirmed the pair (plus Retain, and once the
// twin cursor has caught up: see Store.Confirm).
const (
	tVoter = 'A'
	tVote  = 'V'
	tNonce = 'N'
	tStamp = 'S'
	tPair  = 'P'
	tMand  = 'M'
	tMeta  = '~'
)

// Metadata names under tMeta. All are rewritten by every group commit.
var (
	metaSeq    = []byte{tMeta, 's'} // last own sequence number
	metaIndex  = []byte{tMeta, 'i'} // last vote record index
	metaTwin   = []byte{tMeta, 't'} // twin cursor: last twin seq applied
	metaVoters = []byte{tMeta, 'a'} // entries of the voter table
	metaVotes  = []byte{tMeta, 'v'} // vote records not retracted
)

// metaStamps marks a database whose 'S' index is complete. Unlike the
// names above it is written once, by the first Open that builds the index
// (indexStamps), and never again: from then on every batch that adds or
// withdraws a vote record keeps the index.
var metaStamps = []byte{tMeta, 'S'}

// pairFlagRetracted marks a link whose own vote lost to the twin's (mirror
// rule 3): it is kept for the twin, but Accept no longer repeats it.
const pairFlagRetracted = 1

const mandateLen = 32 + 24

func mandateKey(table byte, v Voter) []byte {
	k := make([]byte, 0, 1+mandateLen)
	k = append(k, table)
	k = append(k, v.Pkey[:]...)
	return append(k, v.ID[:]...)
}

func numKey(table byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{table}, n)
}

func nonceKey(nonce []byte) []byte {
	return append([]byte{tNonce}, nonce...)
}

func stampKey(voter string) []byte {
	return append([]byte{tStamp}, voter...)
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func readU64(b []byte, what string) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("store: %s is %d bytes, want 8: %w", what, len(b), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(b), nil
}

// link is the value of a 'P' key.
type link struct {
	retracted bool
	index     uint64 // of the own vote's record
	pair      Pair
}

func encodeLink(l link) []byte {
	line := l.pair.Vote.Line()
	b := make([]byte, 0, 1+8+120+len(line))
	var flags byte
	if l.retracted {
		flags |= pairFlagRetracted
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, l.index)
	b = append(b, l.pair.Voter.Pkey[:]...)
	b = append(b, l.pair.Voter.Sig[:]...)
	b = append(b, l.pair.Voter.ID[:]...)
	return append(b, line...)
}

func decodeLink(seq uint64, b []byte) (link, error) {
	if len(b) < 1+8+120 || b[0]&^pairFlagRetracted != 0 {
		return link{}, fmt.Errorf("store: link %d: bad value: %w", seq, ErrCorrupt)
	}
	l := link{retracted: b[0]&pairFlagRetracted != 0, index: binary.BigEndian.Uint64(b[1:9])}
	b = b[9:]
	l.pair.Seq = seq
	copy(l.pair.Voter.Pkey[:], b[0:32])
	copy(l.pair.Voter.Sig[:], b[32:96])
	copy(l.pair.Voter.ID[:], b[96:120])
	v, err := ParseVoteLine(string(b[120:]))
	if err != nil {
		return link{}, fmt.Errorf("store: link %d: %w: %w", seq, ErrCorrupt, err)
	}
	l.pair.Vote = v
	return l, nil
}

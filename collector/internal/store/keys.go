package store

import (
	"encoding/binary"
	"fmt"
)

// Key spaces of the three Pebble databases of a Store (see "What is stored
// where" in the package documentation). The first byte of a key names its
// table; numbers are 8-byte big-endian so that key order is number order.
//
// dir/votes, written by every group commit, in acceptance order:
//
//	'V' index(8)                   -> log payload               vote records, index from 1
//	'N' nonce(8..32)               -> index(8) ...              live vote records by nonce
//	'S' voter stamp(39)            -> index(8) ...              live vote records by voter stamp
//	'R' index(8)                   -> given(1) decoys           receipt of a vote record (Receipt)
//	'~' name                       -> uint64(8)                 metadata
//
// dir/links, written by every group commit that accepts a vote, records a
// voter or drops a link, and by the mover; flushed and compacted after
// every mover run, so small:
//
//	'A' auth-pkey(32) auth-id(24)  -> auth-sig(64)              pending voters
//	'P' seq(8)                     -> flags(1) index(8) voter(120) vote line
//	                                                            links of own votes (pairs)
//	'M' auth-pkey(32) auth-id(24)  -> seq(8)                    held link of a mandate
//	'~' 'r'                        -> group(8) batch            redo of the last group
//	0x00, 0xff                     -> 0x00                      bounds
//
// dir/voters, written by the mover only, one batch in key order at a time:
//
//	'A' auth-pkey(32) auth-id(24)  -> auth-sig(64)              voter table
//	0x00, 0xff                     -> 0x00                      bounds
//
// and each database has a layout mark, '~' 'L' -> its name, and the bounds
// from its creation (checkMark).
//
// 'V' holds exactly the payloads of votes.log, record i at index i: a vote
// line or a retraction. 'N' maps a nonce to the indexes of the vote records
// with that nonce that no retraction withdrew; it is empty for a retracted
// vote. Normally one index; more only if the twin sends a vote whose nonce
// another mandate already used here (Accept refuses that, ApplyTwin must
// mirror it). 'S' is the same by voter stamp, as the line writes it: more
// than one index only if the twin sends a vote whose stamp another vote
// already carries here (see Duplicates in the package documentation).
//
// A mandate that has voted has its voter record either pending in dir/links
// or in the voter table in dir/voters, never both once Open has returned.
// 'P' and 'M' are the only keys that tie a voter to a vote; they are
// deleted once the twin has confirmed the pair and the twin cursor has
// caught up (plus Retain: see Store.Confirm). The voter then waits, pending,
// for the mover. The redo holds the last group's batch of dir/votes
// (batchrepr) after its number, so that Open can commit it again if a
// crash came between the two commits. The bounds are rewritten by every
// batch so that the first and last keys of any table a flush writes, which
// Pebble's MANIFEST records with their sequence numbers, are never a
// voter's.
const (
	tVoter = 'A'
	tVote  = 'V'
	tNonce = 'N'
	tStamp = 'S'
	tRcpt  = 'R'
	tPair  = 'P'
	tMand  = 'M'
	tMeta  = '~'
)

// Metadata names under tMeta in dir/votes. All are rewritten by every
// group commit that writes to dir/votes.
var (
	metaSeq    = []byte{tMeta, 's'} // last own sequence number
	metaIndex  = []byte{tMeta, 'i'} // last vote record index
	metaTwin   = []byte{tMeta, 't'} // twin cursor: last twin seq applied
	metaVoters = []byte{tMeta, 'a'} // voters recorded: pending and in the voter table
	metaVotes  = []byte{tMeta, 'v'} // vote records not retracted
	metaGroup  = []byte{tMeta, 'g'} // groups committed to dir/votes
)

// metaStamps marks a database whose 'S' index is complete. Unlike the
// names above it is written once, by the first Open that builds the index
// (indexStamps), and never again: from then on every batch that adds or
// withdraws a vote record keeps the index.
var metaStamps = []byte{tMeta, 'S'}

// metaLayout is the layout mark of each database: its name. A database
// without it is new (empty) or of another layout.
var metaLayout = []byte{tMeta, 'L'}

// Keys of dir/links besides its tables.
var (
	redoKey  = []byte{tMeta, 'r'}
	lowKey   = []byte{0x00}
	highKey  = []byte{0xff}
	boundVal = []byte{0}
)

// allKeys bounds every key of the three databases (inclusive), for a
// compaction of all of one.
var allKeys = [2][]byte{{0x00}, {0xff, 0xff}}

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

// decodeVoter reads a voter record: key 'A' auth-pkey auth-id, value
// auth-sig.
func decodeVoter(k, v []byte) (Voter, error) {
	var voter Voter
	if len(k) != 1+mandateLen || k[0] != tVoter || len(v) != len(voter.Sig) {
		return Voter{}, fmt.Errorf("store: voter record %x: %w", k, ErrCorrupt)
	}
	copy(voter.Pkey[:], k[1:33])
	copy(voter.ID[:], k[33:])
	copy(voter.Sig[:], v)
	return voter, nil
}

// encodeReceipt writes the value of an 'R' key: 1 or 0 for Given, then
// Decoys.
func encodeReceipt(r Receipt) []byte {
	b := []byte{'0'}
	if r.Given {
		b[0] = '1'
	}
	return append(b, r.Decoys...)
}

// decodeReceipt reads the value of an 'R' key; nil is no receipt.
func decodeReceipt(b []byte) (Receipt, error) {
	if len(b) == 0 {
		return Receipt{}, nil
	}
	if b[0] != '0' && b[0] != '1' {
		return Receipt{}, fmt.Errorf("store: receipt value %q: %w", b, ErrCorrupt)
	}
	return Receipt{Decoys: string(b[1:]), Given: b[0] == '1'}, nil
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

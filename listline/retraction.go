package listline

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/powvote/powvote/stamp"
)

// This file is the one home of the lines that carry retractions: the
// records of a collecting instance's vote log, as GET /records/votes
// serves them to the publisher and the edge (docs/INTERNAL.md), and the
// lines of the published retracted list (docs/PUBLISHING.md). Collectors
// write them, the publisher, the edge and auditors read them, all here.
//
// # Mirror rule 3
//
// When both instances of a pair accepted a vote for one mandate while they
// could not see each other (docs/MIRRORS.md), the winner is the vote with
// the smaller P-UTC as a number, then the smaller nonce bytes, then the
// smaller voter stamp, then the smaller line ([Wins]). The instance that
// holds the loser retracts it, and signs with the campaign's receipt key
// the binding of the loser to the winner (wire.RetractionMessage).
//
// # Vote records
//
// A record is a vote line, or a retraction:
//
//	retract <retracted nonce hex> <winning nonce hex> <signature base64>
//
// the nonces as in the votes list, the signature the standard padded
// base64 of the 64 bytes of wire.SignRetraction over the two votes' lines
// (the retracted vote is an earlier record of the same log; the winner is
// the record that follows the retraction). A record "retract <nonce hex>"
// names the retracted vote only: it binds it to nothing, and a store
// without the receipt key writes it. A page of GET /records/votes holds
// one record a line, after its index and a space:
//
//	<index> <record>
//
// the index decimal from 1 without leading zeros.
//
// # Retracted list
//
// One retracted vote a line:
//
//	<winning nonce hex> <signature base64> <retracted vote line>
//
// The winning vote's line stands in the votes list under its nonce, so
// anyone can rebuild the signed message from the two lists and check it
// under the receipt key (<campaign>-receipt.key), and check the rule's
// order between the two votes. As for the lists, the parsers accept one
// spelling only.

// Wins reports whether vote a beats vote b for the same mandate by mirror
// rule 3: the smaller P-UTC as a number, then the smaller nonce bytes, then
// the smaller voter stamp, then the smaller line. Exactly one of Wins(a, b)
// and Wins(b, a) holds for two different votes that ParseVote could have
// returned.
func Wins(a, b Vote) bool {
	ta, _ := stamp.ParsePUTC(a.PUTC) // ParseVote checked both
	tb, _ := stamp.ParsePUTC(b.PUTC)
	if ta != tb {
		return ta < tb
	}
	if c := bytes.Compare(a.Nonce, b.Nonce); c != 0 {
		return c < 0
	}
	if a.Voter != b.Voter {
		return a.Voter < b.Voter
	}
	// The same nonce and stamp with another option: a proof of work that
	// fits two options at once, only within reach at a low threshold.
	return a.Line() < b.Line()
}

// retractWord starts a retraction record.
const retractWord = "retract"

// Retraction is a retraction record: the nonce of the vote withdrawn and,
// when the record binds it, the nonce of the vote that won and the
// signature of the binding.
type Retraction struct {
	Nonce  []byte // the retracted vote's
	Winner []byte // the winning vote's; nil in a record that binds nothing
	Sig    []byte // ed25519.SignatureSize bytes; nil with Winner
}

// Bound reports whether the record names the winner and carries the
// signature.
func (r Retraction) Bound() bool { return r.Winner != nil && len(r.Sig) == ed25519.SignatureSize }

// AppendRecord appends the record, without a line feed, to b.
func (r Retraction) AppendRecord(b []byte) []byte {
	b = append(b, retractWord+" "...)
	b = hex.AppendEncode(b, r.Nonce)
	if r.Bound() {
		b = append(b, ' ')
		b = hex.AppendEncode(b, r.Winner)
		b = append(b, ' ')
		b = base64.StdEncoding.AppendEncode(b, r.Sig)
	}
	return b
}

// Record is a record of a vote log: exactly one of Vote and Retraction is
// set.
type Record struct {
	Vote       *Vote
	Retraction *Retraction
}

// AppendRecord appends the record, without a line feed, to b; nothing for
// the zero Record.
func (r Record) AppendRecord(b []byte) []byte {
	switch {
	case r.Vote != nil:
		return r.Vote.AppendLine(b)
	case r.Retraction != nil:
		return r.Retraction.AppendRecord(b)
	}
	return b
}

// String returns the record as a log holds it, without a line feed.
func (r Record) String() string { return string(r.AppendRecord(nil)) }

// ParseRecord reads a record: a vote line or a retraction.
func ParseRecord(s string) (Record, error) {
	rest, ok := strings.CutPrefix(s, retractWord+" ")
	if !ok {
		v, err := ParseVote(s)
		if err != nil {
			return Record{}, err
		}
		return Record{Vote: &v}, nil
	}
	f := strings.Split(rest, " ")
	if len(f) != 1 && len(f) != 3 {
		return Record{}, fieldErr("retraction", "%d fields after %q, want 1 or 3", len(f), retractWord)
	}
	var r Retraction
	var err error
	if r.Nonce, err = ParseNonce(f[0]); err != nil {
		return Record{}, err
	}
	if len(f) == 3 {
		if r.Winner, err = parseNonceAs(f[1], "winner"); err != nil {
			return Record{}, err
		}
		r.Sig = make([]byte, ed25519.SignatureSize)
		if err := decodeB64(f[2], r.Sig, "signature"); err != nil {
			return Record{}, err
		}
	}
	return Record{Retraction: &r}, nil
}

// AppendIndexed appends a line of GET /records/votes, "<index> <record>",
// without a line feed, to b.
func AppendIndexed(b []byte, index uint64, r Record) []byte {
	b = strconv.AppendUint(b, index, 10)
	b = append(b, ' ')
	return r.AppendRecord(b)
}

// ParseIndexed reads a line of GET /records/votes: the index, decimal from
// 1 without leading zeros, a space and a record.
func ParseIndexed(s string) (uint64, Record, error) {
	num, rest, ok := strings.Cut(s, " ")
	if !ok {
		return 0, Record{}, fieldErr("index", "no space after the index")
	}
	if num == "" || num[0] < '1' || num[0] > '9' || strings.Trim(num, "0123456789") != "" {
		return 0, Record{}, fieldErr("index", "%q is not a decimal number from 1 without leading zeros", num)
	}
	index, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, Record{}, fieldErr("index", "%q: %v", num, err)
	}
	r, err := ParseRecord(rest)
	if err != nil {
		return 0, Record{}, err
	}
	return index, r, nil
}

// Retracted is a line of the retracted list: the retracted vote, the
// nonce of the vote that won and the signature that binds them.
type Retracted struct {
	Winner []byte
	Sig    [ed25519.SignatureSize]byte
	Vote   Vote // the retracted vote
}

// AppendLine appends the line, without a line feed, to b.
func (r Retracted) AppendLine(b []byte) []byte {
	b = hex.AppendEncode(b, r.Winner)
	b = append(b, ' ')
	b = base64.StdEncoding.AppendEncode(b, r.Sig[:])
	b = append(b, ' ')
	return r.Vote.AppendLine(b)
}

// Line returns the line without a line feed.
func (r Retracted) Line() string { return string(r.AppendLine(nil)) }

// ParseRetracted reads a line of the retracted list, without its line
// feed.
func ParseRetracted(s string) (Retracted, error) {
	f := strings.SplitN(s, " ", 3)
	if len(f) != 3 {
		return Retracted{}, fieldErr("line", "%d fields before the retracted vote, want 2", len(f)-1)
	}
	var r Retracted
	var err error
	if r.Winner, err = parseNonceAs(f[0], "winner"); err != nil {
		return Retracted{}, err
	}
	if err := decodeB64(f[1], r.Sig[:], "signature"); err != nil {
		return Retracted{}, err
	}
	if r.Vote, err = ParseVote(f[2]); err != nil {
		return Retracted{}, err
	}
	return r, nil
}

// parseNonceAs is ParseNonce with field as the FieldError's field.
func parseNonceAs(s, field string) ([]byte, error) {
	n, err := ParseNonce(s)
	if fe, ok := err.(*FieldError); ok {
		fe.Field = field
	}
	return n, err
}

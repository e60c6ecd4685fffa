package store

import (
	"errors"
	"fmt"

	"github.com/powvote/powvote/listline"
)

// A collector stores a vote and a voter exactly as they will stand in the
// published lists, so the record lines are the list lines of package
// listline, with one reader and one writer for both.
type (
	Voter      = listline.Voter
	Vote       = listline.Vote
	FieldError = listline.FieldError
	Retraction = listline.Retraction
)

// ErrSyntax is wrapped by every error about a malformed record line or a
// vote or voter that cannot be written as one.
var ErrSyntax = listline.ErrSyntax

// ParseVoteLine reads a vote line; see listline.ParseVote.
func ParseVoteLine(s string) (Vote, error) { return listline.ParseVote(s) }

// ParseVoterLine reads a voter line; see listline.ParseVoter. It does not
// verify the signature.
func ParseVoterLine(s string) (Voter, error) { return listline.ParseVoter(s) }

// CheckVoterStamp accepts the voter stamp exactly as GET /stamp writes it,
// the only form the Store records: the proof of work covers the stamp's
// ASCII, so another spelling would be another vote.
func CheckVoterStamp(s string) error { return listline.CheckVoterStamp(s) }

// CheckReceipt reports whether r can be kept: its Decoys one token of
// upper-case Crockford symbols, "-", "*" and ",", at most 4096 bytes.
// What the tokens mean is package collector's to check.
func CheckReceipt(r Receipt) error {
	d := r.Decoys
	if len(d) > 4096 {
		return fmt.Errorf("store: receipt of %d bytes: %w", len(d), ErrSyntax)
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || c == '-' || c == '*' || c == ',') {
			return fmt.Errorf("store: receipt: %q at offset %d: %w", c, i, ErrSyntax)
		}
	}
	return nil
}

// voterKey is the voter table key of a mandate without its table byte:
// auth-pkey then auth-id. VoterRecords pages by it.
func voterKey(v Voter) []byte {
	m := v.Mandate()
	return m[:]
}

// checkVote reports whether v's line reads back as v, so that a vote the
// Store records has exactly one line.
func checkVote(v Vote) error {
	back, err := ParseVoteLine(v.Line())
	if err != nil {
		return err
	}
	if back.Line() != v.Line() || string(back.Nonce) != string(v.Nonce) {
		return &FieldError{Field: "line", Err: errors.New("does not read back as the same vote")}
	}
	return nil
}

// parseRecord reads a log payload: a vote line or a retraction.
func parseRecord(p string) (Record, error) {
	r, err := listline.ParseRecord(p)
	if err != nil {
		return Record{}, err
	}
	return Record{Record: r}, nil
}

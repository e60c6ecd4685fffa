// Package listline reads and writes the lines of a campaign's published lists
// (PROTOCOL.md section 8): the votes list and the voters list, and the
// lines that carry retractions: the records of a collector's vote log and
// the retracted list (retraction.go); and the lines of the history
// (history.go). The publisher writes them, auditors read them back.
//
// # Votes list
//
// One vote a line, five fields separated by one space:
//
//	<P-UTC> <P-SIG base64> <Voter> <nonce hex> "<option>"
//
// P-UTC is decimal Unix seconds as the platform signed it (no sign, no
// leading zero, at most 12 digits); P-SIG is the standard padded base64 of
// the 64-byte signature; Voter is the 39-character voter stamp (8 groups of
// 4 upper-case Crockford symbols joined by '-'); the nonce is 8 to 32 bytes
// in lower-case hex; the option text is UTF-8 between double quotes, as
// campaign.ValidateOption accepts it (so it holds no '"' and no line
// break, and the last '"' of the line closes it).
//
// # Voters list
//
// One mandate a line, three fields separated by one space:
//
//	<auth-pkey base64> <auth-sig base64> <auth-id base64>
//
// of 32, 64 and 24 bytes. The mandate is identified by (auth-pkey, auth-id)
// ([Voter.Mandate]); auth-sig is there so that anyone can check it.
//
// # History
//
// One batch a line (published.HistoryName, docs/PUBLISHING.md), fields
// separated by one space:
//
//	<size> <unix time> <count of option 1> ... <count of option N>
//
// the size of the lists after the batch, the Unix second it was
// published, and the votes for each option, in ballot order, in the votes
// list at that size. Every number is decimal without sign or leading zero
// ("0" for zero). A publisher given no ballot writes the size and the time
// only ([History]).
//
// # One spelling
//
// The parsers are strict: they accept exactly the lines that [Vote.Line],
// [Voter.Line] and [History.Line] write, and nothing else (no upper-case
// hex, no non-canonical base64, no extra spaces, no leading zeros, no line
// feed). So a vote or a voter has one line, and counting lines with grep
// counts votes: two spellings of one vote would be two votes to anyone who
// counts.
//
// # Worked example
//
// The vote of the pow package's worked example (score 22) and the mandate of
// the mandate package's example (RFC 8032 test 1 key, auth-id the bytes 0 to
// 23) are these two lines:
//
//	1767225600 Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 09a733f6d68415da "Énergie solaire"
//	11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= u++K575Y7oX/nNprygVLXEKjvZ53DIK4MEBnlCfiN7ksHyPGoEclZ204aFC9Eu/y+N9SCV4xdXNnv2ttf1MTAg== AAECAwQFBgcICQoLDA0ODxAREhMUFRYX
//
// Anyone can recompute the vote's proof of work from the first line alone
// ([Vote.Work]) and check the mandate's signature from the second
// ([Voter.Verify]).
package listline

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/stamp"
)

// ErrSyntax is wrapped by every error about a malformed line.
var ErrSyntax = errors.New("listline: malformed list line")

// FieldError says which field of a line is wrong and why. It matches
// ErrSyntax with errors.Is.
type FieldError struct {
	Field string // "line", "P-UTC", "P-SIG", "Voter", "nonce", "option", "auth-pkey", "auth-sig", "auth-id", or for retractions "index", "retraction", "winner" or "signature"
	Err   error
}

func (e *FieldError) Error() string   { return "listline: " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() []error { return []error{ErrSyntax, e.Err} }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Vote is a line of the votes list: everything needed to recompute the
// proof of work, and nothing that names the mandate.
type Vote struct {
	PUTC   string   // P-UTC as signed
	PSig   [64]byte // raw P-SIG
	Voter  string   // voter stamp, 39 characters
	Nonce  []byte   // 8 to 32 bytes
	Option string   // option text, UTF-8
}

// AppendLine appends the vote's line, without a line feed, to b. It
// formats whatever the fields hold; only a vote that [ParseVote] could have
// returned gives a line that ParseVote reads back.
func (v Vote) AppendLine(b []byte) []byte {
	b = append(b, v.PUTC...)
	b = append(b, ' ')
	b = base64.StdEncoding.AppendEncode(b, v.PSig[:])
	b = append(b, ' ')
	b = append(b, v.Voter...)
	b = append(b, ' ')
	b = hex.AppendEncode(b, v.Nonce)
	b = append(b, ' ', '"')
	b = append(b, v.Option...)
	return append(b, '"')
}

// Line returns the vote's line without a line feed.
func (v Vote) Line() string { return string(v.AppendLine(nil)) }

// Work returns what the vote's proof of work covers besides the nonce.
func (v Vote) Work() pow.Work {
	return pow.Work{PUTC: v.PUTC, PSig: v.PSig[:], Voter: v.Voter, Say: v.Option}
}

// ParseVote reads a line of the votes list, without its line feed.
func ParseVote(s string) (Vote, error) {
	var v Vote
	f := strings.SplitN(s, " ", 5)
	if len(f) != 5 {
		return Vote{}, fieldErr("line", "%d fields, want 5", len(f))
	}
	if _, err := stamp.ParsePUTC(f[0]); err != nil {
		return Vote{}, &FieldError{Field: "P-UTC", Err: err}
	}
	v.PUTC = f[0]
	if err := decodeB64(f[1], v.PSig[:], "P-SIG"); err != nil {
		return Vote{}, err
	}
	if err := CheckVoterStamp(f[2]); err != nil {
		return Vote{}, err
	}
	v.Voter = f[2]
	n, err := ParseNonce(f[3])
	if err != nil {
		return Vote{}, err
	}
	v.Nonce = n
	o := f[4]
	if len(o) < 2 || o[0] != '"' || o[len(o)-1] != '"' {
		return Vote{}, fieldErr("option", "%q is not between double quotes", o)
	}
	v.Option = o[1 : len(o)-1]
	if err := campaign.ValidateOption(v.Option); err != nil {
		return Vote{}, &FieldError{Field: "option", Err: err}
	}
	return v, nil
}

// ParseNonce reads a nonce as the votes list writes it: lower-case hex of
// pow.MinNonce to pow.MaxNonce bytes.
func ParseNonce(s string) ([]byte, error) {
	if len(s) < 2*pow.MinNonce || len(s) > 2*pow.MaxNonce || len(s)%2 != 0 {
		return nil, fieldErr("nonce", "%d hex digits, want an even number from %d to %d", len(s), 2*pow.MinNonce, 2*pow.MaxNonce)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, fieldErr("nonce", "%q at offset %d is not a lower-case hex digit", c, i)
		}
	}
	return hex.DecodeString(s)
}

// voterStampLen is the length of a voter stamp: 32 symbols, 7 dashes.
const voterStampLen = stamp.VoterLen

// CheckVoterStamp accepts a voter stamp as the edge writes it. Only the
// edge can check its MAC; the list carries the stamp as the proof of work
// covers it, so it must be that exact spelling.
func CheckVoterStamp(s string) error {
	if len(s) != voterStampLen {
		return fieldErr("Voter", "%d characters, want %d", len(s), voterStampLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%5 == 4 {
			if c != '-' {
				return fieldErr("Voter", "%q at offset %d, want '-'", c, i)
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U') {
			return fieldErr("Voter", "%q at offset %d is not an upper-case Crockford symbol", c, i)
		}
	}
	return nil
}

// Mandate identifies a mandate: auth-pkey then auth-id, 56 bytes. It is
// also the key by which collectors list their voters.
type Mandate [32 + 24]byte

// Voter is a line of the voters list: the three parts of a mandate.
type Voter struct {
	Pkey [32]byte
	Sig  [64]byte
	ID   [24]byte
}

// AppendLine appends the voter's line, without a line feed, to b.
func (v Voter) AppendLine(b []byte) []byte {
	e := base64.StdEncoding
	b = e.AppendEncode(b, v.Pkey[:])
	b = append(b, ' ')
	b = e.AppendEncode(b, v.Sig[:])
	b = append(b, ' ')
	return e.AppendEncode(b, v.ID[:])
}

// Line returns the voter's line without a line feed.
func (v Voter) Line() string { return string(v.AppendLine(nil)) }

// Mandate returns the identity of the voter's mandate.
func (v Voter) Mandate() Mandate {
	var m Mandate
	copy(m[:32], v.Pkey[:])
	copy(m[32:], v.ID[:])
	return m
}

// Verify reports whether Sig is an Ed25519 signature of ID under Pkey. It
// does not say whether the campaign accepts that authority key.
func (v Voter) Verify() bool { return ed25519.Verify(v.Pkey[:], v.ID[:], v.Sig[:]) }

// ParseVoter reads a line of the voters list, without its line feed. It
// does not verify the signature.
func ParseVoter(s string) (Voter, error) {
	var v Voter
	f := strings.Split(s, " ")
	if len(f) != 3 {
		return Voter{}, fieldErr("line", "%d fields, want 3", len(f))
	}
	if err := decodeB64(f[0], v.Pkey[:], "auth-pkey"); err != nil {
		return Voter{}, err
	}
	if err := decodeB64(f[1], v.Sig[:], "auth-sig"); err != nil {
		return Voter{}, err
	}
	if err := decodeB64(f[2], v.ID[:], "auth-id"); err != nil {
		return Voter{}, err
	}
	return v, nil
}

// decodeB64 decodes the canonical padded base64 of exactly len(dst) bytes
// into dst. The decoder alone is not enough: it skips line feeds and
// carriage returns, so the encoding is compared back as well.
func decodeB64(s string, dst []byte, field string) error {
	e := base64.StdEncoding
	if len(s) != e.EncodedLen(len(dst)) {
		return fieldErr(field, "%d base64 characters, want %d", len(s), e.EncodedLen(len(dst)))
	}
	b, err := e.Strict().DecodeString(s)
	if err != nil || len(b) != len(dst) || e.EncodeToString(b) != s {
		return fieldErr(field, "not the canonical base64 of %d bytes", len(dst))
	}
	copy(dst, b)
	return nil
}

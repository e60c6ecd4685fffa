package store

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/pow"
)

// ErrSyntax is wrapped by every error about a malformed record line or a
// vote or voter that cannot be written as one.
var ErrSyntax = errors.New("store: malformed record")

// FieldError tells which field of a record line (or of a Vote handed to
// the Store) is wrong, and why. It matches ErrSyntax with errors.Is.
type FieldError struct {
	Field string // "line", "P-UTC", "P-SIG", "Voter", "nonce", "option", "auth-pkey", "auth-sig", "auth-id"
	Err   error
}

func (e *FieldError) Error() string   { return "store: " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() []error { return []error{ErrSyntax, e.Err} }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Voter is a voter record: the three parts of a mandate (PROTOCOL.md 3).
// The mandate is identified by Pkey and ID; Sig is kept so that anyone can
// check the signature from the published line.
type Voter struct {
	Pkey [32]byte
	Sig  [64]byte
	ID   [24]byte
}

// Vote is a vote record (PROTOCOL.md 5.3): the platform stamp, the voter
// stamp, the nonce and the chosen option, everything needed to recompute
// the proof of work and nothing that names the mandate.
type Vote struct {
	PUTC   string   // P-UTC as signed: decimal Unix seconds, no leading zero
	PSig   [64]byte // raw P-SIG
	Voter  string   // voter stamp: 8 groups of 4 upper-case Crockford symbols joined by '-'
	Nonce  []byte   // pow.MinNonce to pow.MaxNonce bytes
	Option string   // option text, UTF-8, as campaign.ValidateOption accepts it
}

// Line returns the vote as a line of the votes list, without the line feed:
//
//	<P-UTC> <P-SIG base64> <Voter> <nonce hex> "<option>"
//
// Line formats whatever the fields hold; only a vote that passes the checks
// of ParseVoteLine gives a line that ParseVoteLine reads back.
func (v Vote) Line() string {
	var b strings.Builder
	b.Grow(len(v.PUTC) + 88 + len(v.Voter) + 2*len(v.Nonce) + len(v.Option) + 6)
	b.WriteString(v.PUTC)
	b.WriteByte(' ')
	b.WriteString(base64.StdEncoding.EncodeToString(v.PSig[:]))
	b.WriteByte(' ')
	b.WriteString(v.Voter)
	b.WriteByte(' ')
	b.WriteString(hex.EncodeToString(v.Nonce))
	b.WriteString(` "`)
	b.WriteString(v.Option)
	b.WriteByte('"')
	return b.String()
}

// Line returns the voter as a line of the voters list, without the line
// feed:
//
//	<auth-pkey base64> <auth-sig base64> <auth-id base64>
func (v Voter) Line() string {
	e := base64.StdEncoding
	return e.EncodeToString(v.Pkey[:]) + " " + e.EncodeToString(v.Sig[:]) + " " + e.EncodeToString(v.ID[:])
}

// Key returns the voter table key of the mandate: auth-pkey then auth-id,
// 56 bytes. VoterRecords pages by it.
func (v Voter) Key() []byte {
	k := make([]byte, 0, len(v.Pkey)+len(v.ID))
	return append(append(k, v.Pkey[:]...), v.ID[:]...)
}

// ParseVoteLine reads a line written by Vote.Line. It is strict: it accepts
// exactly the lines Line writes for a valid vote (lower-case hex, canonical
// base64, one space between fields, no line feed), so a vote has one line
// and a line one vote.
func ParseVoteLine(s string) (Vote, error) {
	var v Vote
	putc, rest, ok1 := strings.Cut(s, " ")
	psig, rest, ok2 := strings.Cut(rest, " ")
	voter, rest, ok3 := strings.Cut(rest, " ")
	nonce, option, ok4 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return Vote{}, fieldErr("line", "%d fields, want 5", strings.Count(s, " ")+1)
	}
	v.PUTC = putc
	if _, err := parsePUTC(putc); err != nil {
		return Vote{}, err
	}
	if err := decodeB64(psig, v.PSig[:], "P-SIG"); err != nil {
		return Vote{}, err
	}
	v.Voter = voter
	if err := CheckVoterStamp(voter); err != nil {
		return Vote{}, err
	}
	n, err := parseNonce(nonce)
	if err != nil {
		return Vote{}, err
	}
	v.Nonce = n
	if len(option) < 2 || option[0] != '"' || option[len(option)-1] != '"' {
		return Vote{}, fieldErr("option", "%q is not between double quotes", option)
	}
	v.Option = option[1 : len(option)-1]
	if err := campaign.ValidateOption(v.Option); err != nil {
		return Vote{}, fieldErr("option", "%v", err)
	}
	return v, nil
}

// ParseVoterLine reads a line written by Voter.Line, as strictly as
// ParseVoteLine. It does not verify the signature.
func ParseVoterLine(s string) (Voter, error) {
	var v Voter
	parts := strings.Split(s, " ")
	if len(parts) != 3 {
		return Voter{}, fieldErr("line", "%d fields, want 3", len(parts))
	}
	if err := decodeB64(parts[0], v.Pkey[:], "auth-pkey"); err != nil {
		return Voter{}, err
	}
	if err := decodeB64(parts[1], v.Sig[:], "auth-sig"); err != nil {
		return Voter{}, err
	}
	if err := decodeB64(parts[2], v.ID[:], "auth-id"); err != nil {
		return Voter{}, err
	}
	return v, nil
}

// check reports whether Line of v is a line ParseVoteLine reads back as v.
func (v Vote) check() error {
	if _, err := parsePUTC(v.PUTC); err != nil {
		return err
	}
	if err := CheckVoterStamp(v.Voter); err != nil {
		return err
	}
	if len(v.Nonce) < pow.MinNonce || len(v.Nonce) > pow.MaxNonce {
		return fieldErr("nonce", "%d bytes, want %d to %d", len(v.Nonce), pow.MinNonce, pow.MaxNonce)
	}
	if err := campaign.ValidateOption(v.Option); err != nil {
		return fieldErr("option", "%v", err)
	}
	return nil
}

// parsePUTC reads P-UTC as a number, for the mirror's tie rule. Leading
// zeros are refused: the platform never writes them, and a second spelling
// of the same time would be a second line for the same vote.
func parsePUTC(s string) (uint64, error) {
	if s == "" || len(s) > 20 || s[0] == '0' && len(s) > 1 {
		return 0, fieldErr("P-UTC", "%q is not a decimal number without leading zeros", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fieldErr("P-UTC", "%q is not a decimal number", s)
		}
	}
	t, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fieldErr("P-UTC", "%q is out of range", s)
	}
	return t, nil
}

// voterStampLen is the length of a voter stamp: 32 symbols in 8 groups.
const voterStampLen = 39

// crockfordSymbol reports whether c is one of the 32 upper-case symbols of
// PROTOCOL.md 2 (no check symbols).
func crockfordSymbol(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U'
}

// CheckVoterStamp accepts the voter stamp exactly as GET /stamp writes it,
// the only form the Store records; the error is a *FieldError. The proof
// of work covers the stamp's ASCII, so another spelling would be another
// vote; the edge refuses them before a vote reaches the Store, and the
// collector checks again before its own checks.
func CheckVoterStamp(s string) error {
	if len(s) != voterStampLen {
		return fieldErr("Voter", "%d characters, want %d", len(s), voterStampLen)
	}
	for i := 0; i < len(s); i++ {
		if i%5 == 4 {
			if s[i] != '-' {
				return fieldErr("Voter", "%q has %q at %d, want '-'", s, s[i], i)
			}
			continue
		}
		if !crockfordSymbol(s[i]) {
			return fieldErr("Voter", "%q has %q at %d, not an upper-case Crockford symbol", s, s[i], i)
		}
	}
	return nil
}

// parseNonce reads lower-case hex of pow.MinNonce to pow.MaxNonce bytes.
func parseNonce(s string) ([]byte, error) {
	if len(s) < 2*pow.MinNonce || len(s) > 2*pow.MaxNonce || len(s)%2 != 0 {
		return nil, fieldErr("nonce", "%d hex digits, want an even number from %d to %d", len(s), 2*pow.MinNonce, 2*pow.MaxNonce)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, fieldErr("nonce", "%q at %d is not a lower-case hex digit", c, i)
		}
	}
	return hex.DecodeString(s)
}

// decodeB64 decodes canonical padded base64 of exactly len(dst) bytes.
func decodeB64(s string, dst []byte, field string) error {
	enc := base64.StdEncoding
	if len(s) != enc.EncodedLen(len(dst)) {
		return fieldErr(field, "%d base64 characters, want %d", len(s), enc.EncodedLen(len(dst)))
	}
	// Without its padding the string may decode to more than len(dst)
	// bytes, hence the larger buffer. Strict refuses non-zero padding bits,
	// the one way two base64 strings of this length decode to the same
	// bytes.
	buf := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Strict().Decode(buf, []byte(s))
	if err != nil || n != len(dst) {
		return fieldErr(field, "not canonical base64 of %d bytes", len(dst))
	}
	copy(dst, buf)
	return nil
}

// retractPrefix starts the payload of a retraction record in votes.log.
const retractPrefix = "retract "

// retractLine is the log payload that withdraws the vote with this nonce.
func retractLine(nonce []byte) string { return retractPrefix + hex.EncodeToString(nonce) }

// parseRecord reads a log payload: a vote line or a retraction.
func parseRecord(p string) (Record, error) {
	if n, ok := strings.CutPrefix(p, retractPrefix); ok {
		nonce, err := parseNonce(n)
		if err != nil {
			return Record{}, err
		}
		return Record{Retract: nonce}, nil
	}
	v, err := ParseVoteLine(p)
	if err != nil {
		return Record{}, err
	}
	return Record{Vote: &v}, nil
}

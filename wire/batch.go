package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// POST /votes (docs/INTERNAL.md) carries many votes from the edge to a
// collector in one request, so that the edge pays the HTTP round trip once
// per batch rather than once per vote. The edge writes the body with
// AppendBatchVote and reads the answer with ParseBatchAnswer; the collector
// reads the body with ParseBatch and writes the answer with
// AppendBatchAnswer. testdata/batch.golden holds a body of two votes and its
// answer, which TestBatchGolden checks byte for byte.
//
// The body is one line per vote, each ending with a line feed:
//
//	<sign> <Auth-Pkey> <Auth-Sig> <Auth-Id> <P-UTC> <P-SIG> <Voter> <Nonce> <Decoys> <Say>
//
// separated by single spaces. <sign> is "s" for a signed receipt or "n"
// for Receipt-Sign: no. Every field but the last is one or more visible
// ASCII bytes (0x21 to 0x7E): the values the edge sends as headers are
// base64, decimal, a voter stamp, hex and the Decoys list, none of which
// holds a space. <Decoys> is "." (NoDecoys) for no Decoys header ("." is
// not a character of a decoys list). <Say> is the rest of the line, one or
// more bytes, any but carriage return and line feed: an option text may
// hold spaces, and no header value holds either of those.
//
// The answer is 200 with one line per vote, in the order of the request:
//
//	<status>                                                  a refusal or a failure
//	<status> TAB <sig> TAB <Receipt01> ... TAB <ReceiptNN>    a 2xx
//
// <status> is the three-digit code POST /vote would answer that vote with,
// <sig> the Receipt-Sig value (base64) or "-" when the vote asked for no
// signature, then the one to 99 receipt lines in order. Receipt lines are
// voter stamps (or "-") and encoded option texts (EncodeOption), printable
// ASCII without a tab.

// Limits and spellings of POST /votes: the edge writes batches within them
// and the collector refuses any beyond them, so both read them here.
const (
	// MaxBatchVotes is the most votes one batch carries.
	MaxBatchVotes = 1024
	// MaxBatchBody is the most bytes of one batch's body.
	MaxBatchBody = 1 << 20
	// NoDecoys stands for an absent Decoys header in a line of a batch:
	// "." is not a character of a decoys list.
	NoDecoys = "."
)

// batchFields is how many fields a vote line has.
const batchFields = 10

// maxReceiptLines is the most receipt lines an answer line carries: a
// ballot has at most 99 options (campaign.MaxOptions, Receipt01..Receipt99).
const maxReceiptLines = 99

// BatchVote is one vote of a batch: the header values of POST /vote, byte
// for byte. The edge writes it from its strings, the collector reads it
// as slices of the request body: neither converts a field between string
// and []byte.
type BatchVote[T string | []byte] struct {
	NoSign bool // Receipt-Sign: no ("n"); false: a signed receipt ("s")

	AuthPkey, AuthSig, AuthID T
	PUTC, PSIG, Voter         T
	Nonce                     T
	Decoys                    T // empty: no Decoys header, written NoDecoys
	Say                       T // as sent, percent-encoded if it was
}

// ErrUnframeable means a vote holds a value that cannot go on a line of a
// batch. The edge then sends that vote alone (POST /vote): one voter's
// values must never spoil a batch, and with it the votes of others.
var ErrUnframeable = errors.New("wire: the vote cannot go on a line of a batch")

// ErrBatchTooLarge refuses a body over MaxBatchBody; the collector answers
// it with 413, any other error of ParseBatch with 400.
var ErrBatchTooLarge = fmt.Errorf("votes: body over %d bytes", MaxBatchBody)

// batchFieldNames names the fields of a vote line, for errors.
var batchFieldNames = [batchFields]string{"sign", "Auth-Pkey", "Auth-Sig", "Auth-Id", "P-UTC", "P-SIG", "Voter", "Nonce", "Decoys", "Say"}

// AppendBatchVote appends the line of v to b. It refuses, with an error
// wrapping ErrUnframeable and b unchanged, a vote whose values cannot go on
// a line: an empty field, a byte outside visible ASCII in a field other
// than Say, a carriage return or line feed in Say, Decoys equal to
// NoDecoys (it would read as no Decoys), or a line longer than
// MaxBatchBody.
func AppendBatchVote[T string | []byte](b []byte, v BatchVote[T]) ([]byte, error) {
	start := len(b)
	if v.NoSign {
		b = append(b, "n "...)
	} else {
		b = append(b, "s "...)
	}
	decoys := v.Decoys
	if len(decoys) == 1 && decoys[0] == NoDecoys[0] {
		return b[:start], fmt.Errorf("%w: Decoys is %q", ErrUnframeable, NoDecoys)
	}
	for k, f := range [...]T{v.AuthPkey, v.AuthSig, v.AuthID, v.PUTC, v.PSIG, v.Voter, v.Nonce, decoys} {
		if len(f) == 0 {
			if k == 7 {
				b = append(b, NoDecoys+" "...)
				continue
			}
			return b[:start], fmt.Errorf("%w: %s is empty", ErrUnframeable, batchFieldNames[k+1])
		}
		for i := 0; i < len(f); i++ {
			if c := f[i]; c < 0x21 || c > 0x7e {
				return b[:start], fmt.Errorf("%w: %s holds byte %#02x", ErrUnframeable, batchFieldNames[k+1], c)
			}
		}
		b = append(b, f...)
		b = append(b, ' ')
	}
	if len(v.Say) == 0 {
		return b[:start], fmt.Errorf("%w: Say is empty", ErrUnframeable)
	}
	for i := 0; i < len(v.Say); i++ {
		if c := v.Say[i]; c == '\r' || c == '\n' {
			return b[:start], fmt.Errorf("%w: Say holds byte %#02x", ErrUnframeable, c)
		}
	}
	b = append(b, v.Say...)
	b = append(b, '\n')
	if len(b)-start > MaxBatchBody {
		return b[:start], fmt.Errorf("%w: a line of %d bytes, over %d", ErrUnframeable, len(b)-start, MaxBatchBody)
	}
	return b, nil
}

// ParseBatch reads the body of POST /votes. The fields of the votes point
// into body, which the caller must keep unchanged while it uses them.
// Decoys is empty for NoDecoys. Any error refuses the whole batch: nothing
// of it may be recorded. Its text names the line and the fault, for the
// answer to the edge; a body over MaxBatchBody is ErrBatchTooLarge.
func ParseBatch(body []byte) ([]BatchVote[[]byte], error) {
	switch {
	case len(body) > MaxBatchBody:
		return nil, ErrBatchTooLarge
	case len(body) == 0:
		return nil, errors.New("votes: no vote")
	case body[len(body)-1] != '\n':
		return nil, errors.New("votes: the last line does not end with a line feed")
	}
	n := bytes.Count(body, []byte{'\n'})
	if n > MaxBatchVotes {
		return nil, fmt.Errorf("votes: %d votes, more than %d", n, MaxBatchVotes)
	}
	out := make([]BatchVote[[]byte], n)
	if line, err := eachLine(body, out, parseBatchVote); err != nil {
		return nil, fmt.Errorf("votes: line %d: %w", line, err)
	}
	return out, nil
}

// eachLine reads body, len(out) lines each ending with a line feed, with
// parse: line i, without its line feed, into out[i]. It returns the
// number, from 1, of the first line that parse refuses, and its error.
func eachLine[E any](body []byte, out []E, parse func(*E, []byte) error) (int, error) {
	for i := range out {
		end := bytes.IndexByte(body, '\n')
		if err := parse(&out[i], body[:end]); err != nil {
			return i + 1, err
		}
		body = body[end+1:]
	}
	return 0, nil
}

// parseBatchVote reads one line of a batch, without its line feed, into v.
// Each field is capped at its end, so that appending to one cannot
// overwrite the next.
func parseBatchVote(v *BatchVote[[]byte], l []byte) error {
	var tok [batchFields - 1][]byte
	for k := range tok {
		i := bytes.IndexByte(l, ' ')
		if i < 0 {
			return fmt.Errorf("%d fields, want %d", k+1, batchFields)
		}
		tok[k], l = l[:i:i], l[i+1:]
		if len(tok[k]) == 0 {
			return fmt.Errorf("field %d is empty", k+1)
		}
		for _, c := range tok[k] {
			if c < 0x21 || c > 0x7e {
				return fmt.Errorf("field %d holds byte %#02x, want visible ASCII", k+1, c)
			}
		}
	}
	if len(l) == 0 {
		return errors.New("no Say")
	}
	if bytes.IndexByte(l, '\r') >= 0 {
		return errors.New("the Say field holds a carriage return")
	}
	switch string(tok[0]) {
	case "s":
		v.NoSign = false
	case "n":
		v.NoSign = true
	default:
		return errors.New(`the first field is neither "s" nor "n"`)
	}
	v.AuthPkey, v.AuthSig, v.AuthID, v.PUTC, v.PSIG = tok[1], tok[2], tok[3], tok[4], tok[5]
	v.Voter, v.Nonce, v.Decoys, v.Say = tok[6], tok[7], tok[8], l
	if string(v.Decoys) == NoDecoys {
		v.Decoys = nil
	}
	return nil
}

// BatchAnswer is one vote's line of the answer to POST /votes.
type BatchAnswer struct {
	Status int      // the code POST /vote would answer the vote with
	Sig    string   // Receipt-Sig of a 2xx; "" when unsigned
	Lines  []string // Receipt01.. of a 2xx; nil otherwise
}

// AppendBatchAnswer appends the answer line of a. A 2xx carries its
// signature ("-" for none) and receipt lines, any other status nothing but
// itself. The values are the collector's own (a status of three digits, a
// base64 signature, one to 99 receipt lines of printable ASCII), which
// ParseBatchAnswer checks on the edge's side.
func AppendBatchAnswer(b []byte, a BatchAnswer) []byte {
	b = strconv.AppendInt(b, int64(a.Status), 10)
	if a.Status/100 == 2 {
		b = append(b, '\t')
		if a.Sig == "" {
			b = append(b, '-')
		} else {
			b = append(b, a.Sig...)
		}
		for _, l := range a.Lines {
			b = append(b, '\t')
			b = append(b, l...)
		}
	}
	return append(b, '\n')
}

// ParseBatchAnswer reads the answer to a batch of n votes: exactly n
// lines, each a status code and, for a 2xx, the signature ("-" for none)
// and one to 99 receipt lines, separated by tabs. The values become
// headers of the edge's answer to a voter: the signature must be base64, a
// receipt line printable ASCII. The strings of one answer line share one
// allocation, which holds that line alone.
func ParseBatchAnswer(body []byte, n int) ([]BatchAnswer, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, errors.New("the answer does not end with a line feed")
	}
	if got := bytes.Count(body, []byte{'\n'}); got != n {
		return nil, fmt.Errorf("%d answer lines for %d votes", got, n)
	}
	out := make([]BatchAnswer, n)
	if line, err := eachLine(body, out, parseBatchAnswerLine); err != nil {
		return nil, fmt.Errorf("answer line %d: %w", line, err)
	}
	return out, nil
}

// parseBatchAnswerLine reads one answer line, without its line feed, into a.
func parseBatchAnswerLine(a *BatchAnswer, l []byte) error {
	status, rest, tabbed := bytes.Cut(l, []byte{'\t'})
	if len(status) != 3 || status[0] < '1' || status[0] > '9' || !isDigit(status[1]) || !isDigit(status[2]) {
		return errors.New("no status code")
	}
	a.Status = int(status[0]-'0')*100 + int(status[1]-'0')*10 + int(status[2]-'0')
	if a.Status/100 != 2 {
		if tabbed {
			return fmt.Errorf("a receipt with status %d", a.Status)
		}
		return nil
	}
	// Fields after the status: the signature and the receipt lines.
	nl := 0
	if tabbed {
		nl = bytes.Count(rest, []byte{'\t'})
	}
	if nl < 1 || nl > maxReceiptLines {
		return fmt.Errorf("%d receipt lines, want 1 to %d", nl, maxReceiptLines)
	}
	s := string(rest)
	sig, s, _ := strings.Cut(s, "\t")
	if sig != "-" {
		for i := 0; i < len(sig); i++ {
			if c := sig[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
				return errors.New("the signature is not base64")
			}
		}
		if sig == "" {
			return errors.New("an empty signature")
		}
		a.Sig = sig
	}
	a.Lines = make([]string, 0, nl)
	for range nl {
		var r string
		r, s, _ = strings.Cut(s, "\t")
		if r == "" {
			return errors.New("an empty receipt line")
		}
		for i := 0; i < len(r); i++ {
			if c := r[i]; c < 0x20 || c > 0x7e {
				return fmt.Errorf("a receipt line holds byte %#02x", c)
			}
		}
		a.Lines = append(a.Lines, r)
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

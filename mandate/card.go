package mandate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/powvote/powvote/internal/crockford"
)

const (
	// lineBytes is the number of token bytes on a card line.
	lineBytes = TokenSize / CardLines
	// lineSymbols is the number of symbols on a card line: 16 for the 10
	// bytes and the check symbol.
	lineSymbols = 17
)

// LineError reports a card line that does not parse. Err is, or wraps, one
// of crockford.ErrSymbol (then as a *crockford.SymbolError whose Offset
// counts from the start of the line as given), crockford.ErrCheck or
// ErrLineLength.
type LineError struct {
	Line int // 1 to 12
	Err  error
}

func (e *LineError) Error() string {
	var se *crockford.SymbolError
	switch {
	case errors.Is(e.Err, crockford.ErrCheck):
		return fmt.Sprintf("mandate: card line %d: check symbol does not match (a typo on this line?)", e.Line)
	case errors.As(e.Err, &se):
		return fmt.Sprintf("mandate: card line %d: unexpected character %q at column %d", e.Line, se.Char, se.Offset+1)
	}
	return fmt.Sprintf("mandate: card line %d: %v", e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// lengthError is the ErrLineLength of a line with n symbols.
type lengthError struct{ n int }

func (e lengthError) Error() string {
	return fmt.Sprintf("has %d symbols, want %d", e.n, lineSymbols)
}

func (e lengthError) Unwrap() error { return ErrLineLength }

// Card returns the 12 lines of the printed card, each in groups of 4
// symbols: "Q0C1 E147 7AZR YM3Q N".
func (t Token) Card() [CardLines]string {
	var lines [CardLines]string
	b := t.Bytes()
	for i := range lines {
		lines[i] = crockford.Group(crockford.EncodeCheck(b[i*lineBytes:(i+1)*lineBytes]), " ", 4)
	}
	return lines
}

// ParseCardLine returns the 10 token bytes of card line number line (1 to
// 12) as typed in s. Besides what Crockford decoders accept (either case, O
// for 0, I and L for 1, spaces, '-' and ':'), it accepts tabs, white space
// around the line and a leading label with the line's own number: "7:",
// "7.", "7)", "07 " and the like. A label with another number is read as
// symbols, so a line typed in the wrong place fails.
//
// Errors about s are *LineError.
func ParseCardLine(line int, s string) ([10]byte, error) {
	var out [lineBytes]byte
	if line < 1 || line > CardLines {
		return out, fmt.Errorf("mandate: no card line %d, lines are 1 to %d", line, CardLines)
	}
	// Tabs become spaces one for one, so that offsets in errors still
	// count from the start of s.
	s = strings.ReplaceAll(s, "\t", " ")
	trimmed := strings.TrimRight(s, " \r\n")
	body := strings.TrimLeft(trimmed, " ")
	offset := len(trimmed) - len(body)
	if n := labelLen(line, body); n > 0 {
		// A label is only a label if what follows is a line. This
		// keeps a line whose first symbols happen to read like its
		// number, typed with unusual spacing, from losing them.
		b, err := parseLine(line, body[n:], offset+n)
		if err == nil || !errors.Is(err, ErrLineLength) {
			return b, err
		}
		if b2, err2 := parseLine(line, body, offset); err2 == nil {
			return b2, nil
		}
		return b, err
	}
	return parseLine(line, body, offset)
}

// labelLen returns the length of the label of line at the start of s,
// or 0 if s does not start with one: the line number, with a leading 0 for
// numbers below 10 allowed, and then ':', '.', ')' or a space.
func labelLen(line int, s string) int {
	num := strconv.Itoa(line)
	for _, p := range []string{num, "0" + num} {
		if len(p) > 2 || !strings.HasPrefix(s, p) || len(s) == len(p) {
			continue
		}
		if strings.IndexByte(":.) ", s[len(p)]) >= 0 {
			return len(p) + 1
		}
	}
	return 0
}

// parseLine decodes the symbols of one card line, which start at offset
// in the text as the user gave it.
func parseLine(line int, s string, offset int) ([lineBytes]byte, error) {
	var out [lineBytes]byte
	b, err := crockford.DecodeCheck(s)
	var se *crockford.SymbolError
	switch {
	case errors.As(err, &se):
		// A character that is no symbol at all is the most precise
		// thing to report, even if the count is wrong too.
		return out, &LineError{Line: line, Err: &crockford.SymbolError{Offset: offset + se.Offset, Char: se.Char}}
	case crockford.Count(s) != lineSymbols:
		return out, &LineError{Line: line, Err: lengthError{crockford.Count(s)}}
	case err != nil:
		return out, &LineError{Line: line, Err: err}
	}
	copy(out[:], b)
	return out, nil
}

// ParseCard returns the token of a card pasted as one block of text: 12
// lines as ParseCardLine accepts them, with any blank lines around or
// between them and either line ending. It does not verify the signature.
//
// A wrong number of lines is ErrLines; otherwise errors are the *LineError
// of the first line that does not parse.
func ParseCard(text string) (Token, error) {
	var lines []string
	for l := range strings.Lines(text) {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return ParseCardLines(lines)
}

// ParseCardLines returns the token of a card given as 12 lines, for
// example from 12 input fields. Unlike ParseCard, it does not skip blank
// lines: an empty field is a line with no symbols.
func ParseCardLines(lines []string) (Token, error) {
	if len(lines) != CardLines {
		return Token{}, fmt.Errorf("%w: got %d", ErrLines, len(lines))
	}
	b := make([]byte, 0, TokenSize)
	for i, l := range lines {
		lb, err := ParseCardLine(i+1, l)
		if err != nil {
			return Token{}, err
		}
		b = append(b, lb[:]...)
	}
	return FromBytes(b)
}

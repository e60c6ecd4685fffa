package store

import (
	"errors"
	"testing"
)

// FuzzParseVoteLine checks that the parser is strict: whatever it accepts,
// Line writes back byte for byte, so a vote has exactly one line; whatever
// it refuses, it refuses with a FieldError.
func FuzzParseVoteLine(f *testing.F) {
	f.Add(exampleVoteLine)
	f.Fuzz(func(t *testing.T, line string) {
		v, err := ParseVoteLine(line)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseVoteLine(%q): %v is not a FieldError", line, err)
			}
			return
		}
		if got := v.Line(); got != line {
			t.Fatalf("ParseVoteLine(%q).Line() = %q", line, got)
		}
		if err := checkVote(v); err != nil {
			t.Fatalf("parsed vote fails check: %v", err)
		}
		if _, err := parseRecord(line); err != nil {
			t.Fatalf("a vote line is not a log record: %v", err)
		}
	})
}

// FuzzParseVoterLine is FuzzParseVoteLine for voter lines.
func FuzzParseVoterLine(f *testing.F) {
	f.Add(exampleVoterLine)
	f.Fuzz(func(t *testing.T, line string) {
		v, err := ParseVoterLine(line)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseVoterLine(%q): %v is not a FieldError", line, err)
			}
			return
		}
		if got := v.Line(); got != line {
			t.Fatalf("ParseVoterLine(%q).Line() = %q", line, got)
		}
	})
}

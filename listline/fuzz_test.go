package listline_test

import (
	"errors"
	"testing"

	"github.com/powvote/powvote/listline"
)

// FuzzParseVote checks that the parser accepts one spelling per vote:
// whatever it accepts, Line writes back byte for byte, and parsing that
// again gives the same vote; whatever it refuses, it refuses with a
// FieldError.
func FuzzParseVote(f *testing.F) {
	f.Add(exampleVote)
	f.Fuzz(func(t *testing.T, line string) {
		v, err := listline.ParseVote(line)
		if err != nil {
			var fe *listline.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) {
				t.Fatalf("ParseVote(%q): %v is not a FieldError", line, err)
			}
			return
		}
		got := v.Line()
		if got != line {
			t.Fatalf("ParseVote(%q).Line() = %q", line, got)
		}
		again, err := listline.ParseVote(got)
		if err != nil || again.Line() != got || string(again.Nonce) != string(v.Nonce) {
			t.Fatalf("second read of %q: %v", got, err)
		}
	})
}

// FuzzParseVoter is FuzzParseVote for the voters list.
func FuzzParseVoter(f *testing.F) {
	f.Add(exampleVoter)
	f.Fuzz(func(t *testing.T, line string) {
		v, err := listline.ParseVoter(line)
		if err != nil {
			var fe *listline.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) {
				t.Fatalf("ParseVoter(%q): %v is not a FieldError", line, err)
			}
			return
		}
		if got := v.Line(); got != line {
			t.Fatalf("ParseVoter(%q).Line() = %q", line, got)
		}
		again, err := listline.ParseVoter(line)
		if err != nil || again != v {
			t.Fatalf("second read of %q: %v", line, err)
		}
	})
}

package listline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/powvote/powvote/listline"
)

func TestBadVoteLines(t *testing.T) {
	for _, tc := range []struct {
		name, line, field string
	}{
		{"empty", "", "line"},
		{"four fields", strings.Join(strings.Fields(exampleVote)[:4], " "), "line"},
		{"leading zero", "0" + exampleVote, "P-UTC"},
		{"signed time", "+" + exampleVote, "P-UTC"},
		{"two spaces", strings.Replace(exampleVote, " ", "  ", 1), "P-SIG"},
		{"unpadded P-SIG", strings.Replace(exampleVote, "Cw== ", "Cw ", 1), "P-SIG"},
		{"padding bits", strings.Replace(exampleVote, "Cw== ", "Cx== ", 1), "P-SIG"},
		{"url-safe P-SIG", strings.Replace(exampleVote, "Kb7R95/", "Kb7R95_", 1), "P-SIG"},
		{"lower-case stamp", strings.Replace(exampleVote, "7Q2M-W4XE", "7q2m-w4xe", 1), "Voter"},
		{"O in stamp", strings.Replace(exampleVote, "9JKD-0HBR", "9JKD-OHBR", 1), "Voter"},
		{"space in stamp", strings.Replace(exampleVote, "7Q2M-W4XE", "7Q2M W4XE", 1), "Voter"},
		{"upper-case nonce", strings.Replace(exampleVote, "09a733f6d68415da", "09A733F6D68415DA", 1), "nonce"},
		{"short nonce", strings.Replace(exampleVote, "09a733f6d68415da", "09a733f6d68415", 1), "nonce"},
		{"odd nonce", strings.Replace(exampleVote, "09a733f6d68415da", "09a733f6d68415dab", 1), "nonce"},
		{"long nonce", strings.Replace(exampleVote, "09a733f6d68415da", strings.Repeat("ab", 33), 1), "nonce"},
		{"unquoted option", strings.Replace(exampleVote, `"Énergie solaire"`, `Énergie solaire`, 1), "option"},
		{"open quote", strings.TrimSuffix(exampleVote, `"`), "option"},
		{"quote inside", strings.Replace(exampleVote, `Énergie solaire`, `Énergie "solaire`, 1), "option"},
		{"empty option", strings.Replace(exampleVote, `"Énergie solaire"`, `""`, 1), "option"},
		{"trailing space in option", strings.Replace(exampleVote, `solaire"`, `solaire "`, 1), "option"},
		{"line feed", exampleVote + "\n", "option"},
		{"carriage return", strings.Replace(exampleVote, `solaire"`, "solaire\r\"", 1), "option"},
		{"invalid UTF-8", strings.Replace(exampleVote, `Énergie`, "\xc3nergie", 1), "option"},
	} {
		_, err := listline.ParseVote(tc.line)
		var fe *listline.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) || fe.Field != tc.field {
			t.Errorf("%s: ParseVote(%q) = %v, want a FieldError on %s", tc.name, tc.line, err, tc.field)
		}
	}
}

func TestBadVoterLines(t *testing.T) {
	for _, tc := range []struct {
		name, line, field string
	}{
		{"empty", "", "line"},
		{"four fields", exampleVoter + " x", "line"},
		{"tab", strings.Replace(exampleVoter, " ", "\t", 1), "line"},
		{"short pkey", strings.Replace(exampleVoter, "URo= ", "UR= ", 1), "auth-pkey"},
		{"padding bits of pkey", strings.Replace(exampleVoter, "URo= ", "URp= ", 1), "auth-pkey"},
		{"line feed in sig", strings.Replace(exampleVoter, "u++K", "u+\nK", 1), "auth-sig"},
		{"id in base64url", strings.Replace(exampleVoter, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "AAECAwQFBgcICQoLDA0ODxAREhMUFRY_", 1), "auth-id"},
		{"trailing line feed", exampleVoter + "\n", "auth-id"},
	} {
		_, err := listline.ParseVoter(tc.line)
		var fe *listline.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) || fe.Field != tc.field {
			t.Errorf("%s: ParseVoter(%q) = %v, want a FieldError on %s", tc.name, tc.line, err, tc.field)
		}
	}
}

// TestEveryByteMatters changes each byte of the example lines in turn: the
// result must be refused or read as a different vote (voter), never as the
// same one.
func TestEveryByteMatters(t *testing.T) {
	for _, ex := range []string{exampleVote, exampleVoter} {
		for i := range len(ex) {
			for _, c := range []byte{'0', 'A', 'a', ' ', '-', '"', '/', '\n', 0x80} {
				if ex[i] == c {
					continue
				}
				m := ex[:i] + string([]byte{c}) + ex[i+1:]
				if ex == exampleVote {
					if v, err := listline.ParseVote(m); err == nil && v.Line() != m {
						t.Errorf("%q reads back as %q", m, v.Line())
					}
				} else if v, err := listline.ParseVoter(m); err == nil && v.Line() != m {
					t.Errorf("%q reads back as %q", m, v.Line())
				}
			}
		}
	}
}

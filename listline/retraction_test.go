package listline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/powvote/powvote/listline"
)

// The worked example's vote, retracted in favour of a vote with the same
// stamp and an earlier P-UTC, with a signature of 64 bytes of 0x5a.
var (
	exampleSig       = strings.Repeat("Wlpa", 21) + "Wg=="
	exampleRecord    = "retract 09a733f6d68415da 0102030405060708 " + exampleSig
	exampleRetracted = "0102030405060708 " + exampleSig + " " + exampleVote
)

func TestRetractionLines(t *testing.T) {
	r, err := listline.ParseRecord(exampleRecord)
	if err != nil || r.Vote != nil || r.Retraction == nil || !r.Retraction.Bound() {
		t.Fatalf("ParseRecord(%q) = %+v, %v", exampleRecord, r, err)
	}
	if got := r.String(); got != exampleRecord {
		t.Errorf("record writes back as %q", got)
	}
	if len(r.Retraction.Sig) != 64 || r.Retraction.Sig[0] != 0x5a || r.Retraction.Sig[63] != 0x5a {
		t.Errorf("signature %x", r.Retraction.Sig)
	}
	legacy, err := listline.ParseRecord("retract 09a733f6d68415da")
	if err != nil || legacy.Retraction == nil || legacy.Retraction.Bound() || legacy.String() != "retract 09a733f6d68415da" {
		t.Errorf("a retraction bound to nothing: %+v, %v", legacy, err)
	}
	vote, err := listline.ParseRecord(exampleVote)
	if err != nil || vote.Vote == nil || vote.String() != exampleVote {
		t.Errorf("a vote record: %+v, %v", vote, err)
	}
	index, ir, err := listline.ParseIndexed("18446744073709551615 " + exampleRecord)
	if err != nil || index != 1<<64-1 || string(listline.AppendIndexed(nil, index, ir)) != "18446744073709551615 "+exampleRecord {
		t.Errorf("ParseIndexed: %d %+v, %v", index, ir, err)
	}

	rl, err := listline.ParseRetracted(exampleRetracted)
	if err != nil || rl.Line() != exampleRetracted || rl.Vote.Line() != exampleVote || string(rl.Winner) != "\x01\x02\x03\x04\x05\x06\x07\x08" {
		t.Fatalf("ParseRetracted = %+v, %v", rl, err)
	}
}

func TestBadRetractionLines(t *testing.T) {
	for _, tc := range []struct {
		name, line, field string
	}{
		{"two fields", "retract 09a733f6d68415da 0102030405060708", "retraction"},
		{"four fields", exampleRecord + " x", "retraction"},
		{"upper-case winner", strings.Replace(exampleRecord, "0102030405060708", "0102030405060A08", 1), "winner"},
		{"short winner", strings.Replace(exampleRecord, "0102030405060708", "01020304", 1), "winner"},
		{"unpadded signature", strings.TrimSuffix(exampleRecord, "="), "signature"},
		{"short signature", strings.Replace(exampleRecord, exampleSig, "WlpaWlpa", 1), "signature"},
		{"padding bits", strings.Replace(exampleRecord, "Wg==", "Wh==", 1), "signature"},
		{"bad nonce", strings.Replace(exampleRecord, "09a733f6d68415da", "09a733", 1), "nonce"},
		{"two spaces", strings.Replace(exampleRecord, " 0102", "  0102", 1), "retraction"},
		{"empty winner", strings.Replace(exampleRecord, "0102030405060708", "", 1), "winner"},
		{"no space", "retract", "line"},
	} {
		_, err := listline.ParseRecord(tc.line)
		var fe *listline.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) || fe.Field != tc.field {
			t.Errorf("%s: ParseRecord(%q) = %v, want a FieldError on %s", tc.name, tc.line, err, tc.field)
		}
	}
	for _, tc := range []struct {
		name, line, field string
	}{
		{"bare vote line", exampleVote, "winner"},
		{"no vote", "0102030405060708 " + exampleSig, "line"},
		{"bad signature", strings.Replace(exampleRetracted, exampleSig, "x", 1), "signature"},
		{"bad vote", strings.TrimSuffix(exampleRetracted, `"`), "option"},
		{"line feed", exampleRetracted + "\n", "option"},
	} {
		_, err := listline.ParseRetracted(tc.line)
		var fe *listline.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) || fe.Field != tc.field {
			t.Errorf("%s: ParseRetracted(%q) = %v, want a FieldError on %s", tc.name, tc.line, err, tc.field)
		}
	}
	for _, s := range []string{"0 " + exampleVote, "07 " + exampleVote, exampleVote, "1" + exampleVote, "18446744073709551616 " + exampleVote} {
		if _, _, err := listline.ParseIndexed(s); err == nil {
			t.Errorf("ParseIndexed(%q) accepted", s)
		}
	}
}

// TestWins checks mirror rule 3's order on votes that tie on each key in
// turn, and that of two different votes exactly one wins.
func TestWins(t *testing.T) {
	base, err := listline.ParseVote(exampleVote)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(v *listline.Vote)) listline.Vote {
		v := base
		v.Nonce = append([]byte(nil), base.Nonce...)
		f(&v)
		return v
	}
	for _, tc := range []struct {
		name          string
		winner, loser listline.Vote
	}{
		// 999999999 is the smaller number, though not the smaller text.
		{"earlier P-UTC", with(func(v *listline.Vote) { v.PUTC = "999999999" }), base},
		{"smaller nonce", with(func(v *listline.Vote) { v.Nonce[0] = 0 }), base},
		{"shorter nonce prefix", with(func(v *listline.Vote) { v.Nonce = v.Nonce[:8] }), with(func(v *listline.Vote) { v.Nonce = append(v.Nonce, 0) })},
		{"smaller stamp", with(func(v *listline.Vote) { v.Voter = "0" + v.Voter[1:] }), base},
		{"smaller line", with(func(v *listline.Vote) { v.Option = "A" }), base},
	} {
		if !listline.Wins(tc.winner, tc.loser) || listline.Wins(tc.loser, tc.winner) {
			t.Errorf("%s: Wins is %v and %v", tc.name, listline.Wins(tc.winner, tc.loser), listline.Wins(tc.loser, tc.winner))
		}
	}
	if listline.Wins(base, base) {
		t.Error("a vote beats itself")
	}
}

// FuzzParseRecord checks that a record has one spelling: whatever
// ParseIndexed accepts writes back byte for byte.
func FuzzParseRecord(f *testing.F) {
	f.Add("1 " + exampleVote)
	f.Add("7 " + exampleRecord)
	f.Add("18446744073709551615 retract 09a733f6d68415da")
	f.Fuzz(func(t *testing.T, line string) {
		index, r, err := listline.ParseIndexed(line)
		if err != nil {
			return
		}
		if index == 0 || (r.Vote == nil) == (r.Retraction == nil) {
			t.Fatalf("ParseIndexed(%q): index %d, record %+v", line, index, r)
		}
		if got := string(listline.AppendIndexed(nil, index, r)); got != line {
			t.Fatalf("ParseIndexed(%q) writes back as %q", line, got)
		}
	})
}

// FuzzParseRetracted is FuzzParseRecord for the retracted list.
func FuzzParseRetracted(f *testing.F) {
	f.Add(exampleRetracted)
	f.Fuzz(func(t *testing.T, line string) {
		r, err := listline.ParseRetracted(line)
		if err != nil {
			var fe *listline.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, listline.ErrSyntax) {
				t.Fatalf("ParseRetracted(%q): %v is not a FieldError", line, err)
			}
			return
		}
		if got := r.Line(); got != line {
			t.Fatalf("ParseRetracted(%q).Line() = %q", line, got)
		}
	})
}

package audit

import (
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/sigbatch"
	"github.com/powvote/powvote/sigbatch/sigbatchtest"
)

// TestMandateSmallOrderR is the authority's attack on a batch verifier:
// mandates signed by the authority's own key with R plus a point of the
// small subgroup, which a cofactored batch verifier accepts and
// crypto/ed25519 (and libsodium, and PyNaCl) refuse. Placed in one batch
// of the audit, alone, and in pairs whose small parts cancel, each must be
// reported on its line, and nothing else.
func TestMandateSmallOrderR(t *testing.T) {
	f := newFixture(t, 2*sigbatch.MinBatch+10, testThreshold)
	e8 := sigbatchtest.Torsion()
	auth := sigbatchtest.FromKey(f.priv, rand.NewChaCha8([32]byte{'a', 'u', 't', 'h'}))
	// Lines 3 (order 2), 20 and 21 (T and -T of order 8), 40 and 41 (two
	// of order 2): 1-based line numbers of the voters list.
	torsionAt := map[int]int{3: 4, 20: 1, 21: 7, 40: 4, 41: 4}
	voters := slices.Clone(f.voters)
	var lines []int
	for ln, ti := range torsionAt {
		voters[ln-1] = voterLine(t, voters[ln-1], func(v *listline.Voter) {
			copy(v.Sig[:], auth.Sign(v.ID[:], &e8[ti]))
		})
		lines = append(lines, ln)
	}
	slices.Sort(lines)
	r := run(t, write(t, f.votes, voters), f, Options{Workers: 2})
	var got []int
	for _, fl := range r.Failures {
		if fl.Check != CheckMandateSignature {
			t.Errorf("failure %s on lines %v", fl.Check, fl.Lines)
			continue
		}
		got = fl.Lines
	}
	if !slices.Equal(got, lines) {
		t.Errorf("%s fails on lines %v, want %v", CheckMandateSignature, got, lines)
	}

	// And the honest signatures of the same key pass in the same batches.
	clean := run(t, write(t, f.votes, f.voters), f, Options{Workers: 2})
	if !clean.OK() {
		t.Errorf("the clean lists fail: %+v", clean.Failures)
	}
}

// TestPlatformStampBatch: the platform stamps of a batch of votes are
// verified together. Stamps signed by the UTC-SIGN key with a small-order
// component in R (which a cofactored batch verifier would take for
// genuine) are reported on their lines; so are a decoy and a forgery, with
// the verdict a single verification gives.
func TestPlatformStampBatch(t *testing.T) {
	n := sigbatch.MinBatch + 20
	f := newFixture(t, n, testThreshold)
	k := newStampKeys(t, f)
	clean := stamped(t, f, k, n)
	e8 := sigbatchtest.Torsion()
	sign := sigbatchtest.FromKey(k.sign, rand.NewChaCha8([32]byte{'u', 't', 'c'}))
	for _, c := range []struct {
		name    string
		change  map[int]func(v *listline.Vote)
		message string
	}{
		{"small-order components", map[int]func(v *listline.Vote){
			9:  func(v *listline.Vote) { copy(v.PSig[:], sign.Sign([]byte(v.PUTC), &e8[4])) },
			60: func(v *listline.Vote) { copy(v.PSig[:], sign.Sign([]byte(v.PUTC), &e8[3])) },
		}, "line 9: P-SIG is a signature of P-UTC"},
		{"decoy and forged", map[int]func(v *listline.Vote){
			5: func(v *listline.Vote) { v.PSig = [64]byte(ed25519.Sign(k.hole, []byte(v.PUTC))) },
			7: func(v *listline.Vote) { f.rng.Read(v.PSig[:]) },
		}, "line 5: P-SIG is the UTC-HOLE signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			votes := slices.Clone(clean)
			var want []int
			for ln, fn := range c.change {
				fn(&votes[ln-1])
				f.solve(t, &votes[ln-1], testThreshold)
				want = append(want, ln)
			}
			slices.Sort(want)
			dir := write(t, voteLines(votes), f.voters)
			if err := os.WriteFile(filepath.Join(string(dir), "solar-keys.txt"), []byte(k.file), 0o644); err != nil {
				t.Fatal(err)
			}
			r := run(t, dir, f, Options{Workers: 2})
			var got *Failure
			for i, fl := range r.Failures {
				switch {
				case fl.Check == CheckPlatformStamp:
					got = &r.Failures[i]
				case !slices.Contains(LogChecks, fl.Check):
					t.Errorf("failure %s on lines %v", fl.Check, fl.Lines)
				}
			}
			if got == nil || !slices.Equal(got.Lines, want) {
				t.Fatalf("platform-stamp fails on %+v, want lines %v", got, want)
			}
			if !strings.Contains(got.Message, c.message) {
				t.Errorf("message %q, want %q in it", got.Message, c.message)
			}
		})
	}
}

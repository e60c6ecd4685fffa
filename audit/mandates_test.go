package audit

import (
	"math/rand/v2"
	"slices"
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

package wire

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// TestRetractionMessage pins the signed bytes of a retraction, and checks
// that any other campaign, order or line, or a receipt signature over
// the same text, does not verify.
func TestRetractionMessage(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	const (
		loser  = `1767225610 AAAA 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ ff00000000000000 "Pluto"`
		winner = `1767225600 BBBB 8MSD-JR3X-GF1D-GCFT-CKWP-15P0-JKY3-YTFZ 0100000000000000 "Pluto"`
	)
	want := "powvote retraction v1\nsolar\n" + loser + "\n" + winner + "\n"
	if got := string(RetractionMessage("solar", loser, winner)); got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
	sig := SignRetraction(priv, "solar", loser, winner)
	if err := VerifyRetraction(pub, "solar", loser, winner, sig); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][3]string{
		"other campaign": {"lunar", loser, winner},
		"swapped":        {"solar", winner, loser},
		"other winner":   {"solar", loser, strings.Replace(winner, "0100", "0200", 1)},
	} {
		if err := VerifyRetraction(pub, bad[0], bad[1], bad[2], sig); !errors.Is(err, ErrRetraction) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for i := range sig {
		mut := append([]byte(nil), sig...)
		mut[i] ^= 1
		if VerifyRetraction(pub, "solar", loser, winner, mut) == nil {
			t.Fatalf("signature with byte %d changed verifies", i)
		}
	}
	if VerifyRetraction(pub, "solar", loser, winner, sig[:63]) == nil || VerifyRetraction(nil, "solar", loser, winner, sig) == nil {
		t.Error("short signature or no key verifies")
	}
	// A receipt signature over lines that spell the same text is not a
	// retraction: the domain line is no campaign name.
	lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(want, "powvote retraction v1\n"), "\n"), "\n")
	rs := SignReceipt(priv, "powvote retraction v1", lines)
	if err := VerifyReceipt(pub, "powvote retraction v1", lines, rs); err != nil {
		t.Fatal(err)
	}
	if VerifyRetraction(pub, "solar", loser, winner, mustB64(t, rs)) == nil {
		t.Error("a receipt signature verifies as a retraction")
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

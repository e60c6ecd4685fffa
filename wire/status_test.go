package wire

import (
	"slices"
	"testing"
)

// TestStatuses checks the constants against the codes of a vote answer as
// PROTOCOL.md 5.3 gives them (480 and 486 as docs/EXTENSIONS.md does), and
// the table: every code has a reason, no code comes twice, all lie in
// 480..489, in ascending order.
func TestStatuses(t *testing.T) {
	spec := []struct {
		name string
		got  int
		want int
	}{
		{"StatusNonceUsed", StatusNonceUsed, 480},
		{"StatusAlreadyVoted", StatusAlreadyVoted, 481},
		{"StatusNotOnBallot", StatusNotOnBallot, 482},
		{"StatusBadMandateSig", StatusBadMandateSig, 483},
		{"StatusUnknownAuthority", StatusUnknownAuthority, 484},
		{"StatusOutsideCampaign", StatusOutsideCampaign, 485},
		{"StatusStampUsed", StatusStampUsed, 486},
		{"StatusBadVoterStamp", StatusBadVoterStamp, 487},
		{"StatusNotGenuine", StatusNotGenuine, 488},
		{"StatusLowWork", StatusLowWork, 489},
	}
	var want []int
	for _, s := range spec {
		if s.got != s.want {
			t.Errorf("%s = %d, want %d", s.name, s.got, s.want)
		}
		want = append(want, s.want)
	}

	codes := Statuses()
	if !slices.Equal(codes, want) {
		t.Errorf("Statuses() = %v, want %v", codes, want)
	}
	seen := make(map[int]bool)
	reasons := make(map[string]int)
	for i, c := range codes {
		if c < 480 || c > 489 {
			t.Errorf("code %d outside 480..489", c)
		}
		if seen[c] {
			t.Errorf("code %d twice", c)
		}
		seen[c] = true
		if i > 0 && c <= codes[i-1] {
			t.Errorf("code %d after %d", c, codes[i-1])
		}
		r := StatusText(c)
		if r == "" {
			t.Errorf("code %d has no reason", c)
		}
		if o, dup := reasons[r]; dup && r != "" {
			t.Errorf("codes %d and %d share the reason %q", o, c, r)
		}
		reasons[r] = c
	}
	for _, c := range []int{0, 200, 204, 400, 479, 490, 503} {
		if r := StatusText(c); r != "" {
			t.Errorf("StatusText(%d) = %q, want none: not a code of a vote refusal", c, r)
		}
	}
}

// TestStatusText pins the reasons PROTOCOL.md 5.3 gives, word for word
// (docs/EXTENSIONS.md's for 480 and 486).
func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{
		480: "this nonce was used by another vote",
		481: "this mandate has voted already",
		482: "Say is not an option of the ballot",
		483: "Auth-Sig does not verify over Auth-Id under Auth-Pkey",
		484: "Auth-Pkey is not one of the campaign's authority keys",
		485: "P-UTC is not inside the campaign",
		486: "this voter stamp was used by another vote",
		487: "the voter stamp's HMAC does not verify for this P-UTC and P-SIG",
		488: "P-SIG is not a UTC-SIGN signature of P-UTC",
		489: "proof of work below threshold",
	} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestStatusesCopy checks that a caller changing the slice Statuses returns
// does not change the table.
func TestStatusesCopy(t *testing.T) {
	codes := Statuses()
	codes[0] = 0
	if Statuses()[0] != StatusNonceUsed {
		t.Fatal("Statuses returns the table itself")
	}
}

package wire

// The status codes of a vote answer (PROTOCOL.md 5.3), 480 to 489: each
// refuses the vote, with an empty body and without a receipt. The edge
// answers some itself and relays the collectors' as they are; besides
// these a vote is answered 2xx with its receipt (PROTOCOL.md 5.4), 400 for
// a malformed request or 503 when neither collector of the pair answered.
//
// PROTOCOL.md 5.3 lists the codes in the order of the checks, the first
// that fails answering: 489, 488, 487 at the edge, then 485, 484, 483, 482,
// 481 at the collectors. It refuses a nonce answered to another vote and a
// voter stamp that a recorded vote carries without naming a code: this
// project answers them 480 and 486 (docs/EXTENSIONS.md).
const (
	// StatusNonceUsed: the nonce was answered to another vote in the nonce
	// cache's lifetime, or is in flight for another one; answered by the
	// edge before the proof of work, never kept under the nonce
	// (PROTOCOL.md 5.3, the cached answer; docs/EXTENSIONS.md).
	StatusNonceUsed = 480

	// StatusAlreadyVoted: the mandate has voted already; answered by a
	// collector, and by the edge to a recorded vote sent again under a
	// mandate of another pair (PROTOCOL.md 5.3; docs/EXTENSIONS.md).
	StatusAlreadyVoted = 481

	// StatusNotOnBallot: Say is not an option of the ballot; answered by a
	// collector, and by the edge for a mandate that passes 484 and 483
	// (PROTOCOL.md 5.3; docs/EXTENSIONS.md).
	StatusNotOnBallot = 482

	// StatusBadMandateSig: Auth-Sig does not verify over Auth-Id under
	// Auth-Pkey; answered by a collector (PROTOCOL.md 3, 5.3).
	StatusBadMandateSig = 483

	// StatusUnknownAuthority: Auth-Pkey is not one of the campaign's
	// authority keys; answered by a collector (PROTOCOL.md 1, 5.3).
	StatusUnknownAuthority = 484

	// StatusOutsideCampaign: P-UTC is before the campaign's start, after
	// its end, in the future or older than its maximum stamp age; answered
	// by a collector, and by the edge before forwarding (PROTOCOL.md 5.3;
	// docs/EXTENSIONS.md).
	StatusOutsideCampaign = 485

	// StatusStampUsed: a recorded vote with another nonce carries this
	// voter stamp, which is good for one vote; answered by the edge and by
	// the collectors of the pair that recorded it (PROTOCOL.md 5.3, a voter
	// stamp is good for one vote; docs/EXTENSIONS.md).
	StatusStampUsed = 486

	// StatusBadVoterStamp: the voter stamp's HMAC does not verify for this
	// P-UTC and P-SIG; answered by the edge (PROTOCOL.md 5.2, 5.3).
	StatusBadVoterStamp = 487

	// StatusNotGenuine: P-SIG is not a UTC-SIGN signature of P-UTC, a
	// decoy stamp or a forged one; answered by the edge (PROTOCOL.md 5.2,
	// 5.3).
	StatusNotGenuine = 488

	// StatusLowWork: the proof of work is below the campaign's threshold;
	// answered by the edge (PROTOCOL.md 5.3).
	StatusLowWork = 489
)

// statuses gives each code its short reason, in code order: PROTOCOL.md
// 5.3's words, docs/EXTENSIONS.md's for 480 and 486.
var statuses = [...]struct {
	code   int
	reason string
}{
	{StatusNonceUsed, "this nonce was used by another vote"},
	{StatusAlreadyVoted, "this mandate has voted already"},
	{StatusNotOnBallot, "Say is not an option of the ballot"},
	{StatusBadMandateSig, "Auth-Sig does not verify over Auth-Id under Auth-Pkey"},
	{StatusUnknownAuthority, "Auth-Pkey is not one of the campaign's authority keys"},
	{StatusOutsideCampaign, "P-UTC is not inside the campaign"},
	{StatusStampUsed, "this voter stamp was used by another vote"},
	{StatusBadVoterStamp, "the voter stamp's HMAC does not verify for this P-UTC and P-SIG"},
	{StatusNotGenuine, "P-SIG is not a UTC-SIGN signature of P-UTC"},
	{StatusLowWork, "proof of work below threshold"},
}

// Statuses returns the status codes of a vote answer, in ascending order.
func Statuses() []int {
	codes := make([]int, len(statuses))
	for i, s := range statuses {
		codes[i] = s.code
	}
	return codes
}

// StatusText returns the short reason of a vote answer's status code, or
// "" when code is not one of them. It is the protocol's wording, for logs
// and documentation; voters' software words its messages its own way.
func StatusText(code int) string {
	for _, s := range statuses {
		if s.code == code {
			return s.reason
		}
	}
	return ""
}

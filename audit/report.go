package audit

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// descriptions say in one line what each check asks of the lists.
var descriptions = map[string]string{
	CheckVoteFormat:          "every vote line is well formed",
	CheckAuthFormat:          "every voter line is well formed",
	CheckProofOfWork:         "every vote meets the proof-of-work threshold",
	CheckOption:              "every vote's option is on the ballot",
	CheckStampTime:           "every vote's P-UTC is inside the campaign",
	CheckPlatformStamp:       "every vote's P-SIG is a UTC-SIGN signature of its P-UTC",
	CheckMandateSignature:    "every mandate's signature verifies",
	CheckAuthority:           "every mandate is signed by an authority of the campaign",
	CheckDuplicateNonce:      "no nonce is used twice",
	CheckDuplicateVoterStamp: "no voter stamp is used twice",
	CheckDuplicateMandate:    "no mandate votes twice",
	CheckCountsEqual:         "as many votes as voters",
	CheckRetractedFormat:     "every retracted-list line is well formed",
	CheckRetractionLoser:     "every retracted vote is a vote, and counted nowhere",
	CheckRetractionWinner:    "every retracted vote's winner is in the votes list and beats it",
	CheckRetractionSignature: "every retraction is bound to its winner by the receipt key",
	CheckCheckpointSignature: "every checkpoint read is signed by the log key",
	CheckCheckpointSize:      "every line of the lists is under a signed checkpoint",
	CheckCheckpointRoot:      "the signed checkpoints' roots are the lists' tree hashes",
	CheckConsistency:         "the lists extend the earlier checkpoints",
	CheckHistory:             "the history grows and agrees with the votes list",
	CheckSettings:            "the checkpoints commit to the settings, the auditor's own",
}

// WriteText writes the report for people: the tally, the counts, then
// every check with its verdict and, for a failed one, its lines.
func (r *Report) WriteText(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "campaign %s: %d votes, %d voters\n", r.Campaign, r.Votes, r.Voters)
	r.Settings.writeText(&b)
	if r.Logs != nil {
		for _, u := range r.Logs.Unsigned {
			fmt.Fprintf(&b, "UNSIGNED: lines %d to %d of %s are beyond its latest signed checkpoint; they are not counted\n", u.First, u.Last, u.List)
		}
	}
	b.WriteByte('\n')

	width := len("option")
	for _, t := range r.Tally {
		width = max(width, utf8.RuneCountInString(t.Option))
	}
	fmt.Fprintf(&b, "%-*s  %8s\n", width, "option", "votes")
	total := 0
	for _, t := range r.Tally {
		// Pad by runes, not bytes, so that accented options line up.
		fmt.Fprintf(&b, "%s%s  %8d\n", t.Option, strings.Repeat(" ", width-utf8.RuneCountInString(t.Option)), t.Votes)
		total += t.Votes
	}
	fmt.Fprintf(&b, "%-*s  %8d\n", width, "total", total)
	if r.Work > 0 {
		fmt.Fprintf(&b, "\nwork: about 2^%.1f hashes\n", math.Log2(r.Work))
	}
	fmt.Fprintf(&b, "\nvotes list: %d lines, tree hash %s\n", r.VoteTree.N, r.VoteTree.Hash)
	fmt.Fprintf(&b, "voters list: %d lines, tree hash %s\n", r.AuthTree.N, r.AuthTree.Hash)
	fmt.Fprintf(&b, "retracted list: %d lines, tree hash %s; %d retracted vote(s) counted\n", r.RetractedTree.N, r.RetractedTree.Hash, r.Retractions)
	if r.ReceiptKey != "" {
		fmt.Fprintf(&b, "receipt key (%s): %s\n", r.ReceiptKeyFrom, r.ReceiptKey)
	}
	if r.UTCSignKey != "" {
		fmt.Fprintf(&b, "utc-sign key (%s): %s\n", r.UTCSignFrom, r.UTCSignKey)
	}
	if r.Logs != nil {
		r.Logs.writeText(&b)
	} else {
		b.WriteByte('\n')
	}

	for _, v := range r.verdicts() {
		switch v.Result {
		case resultSkip:
			fmt.Fprintf(&b, "skip  %-22s %s: %s\n", v.Check, v.Description, strings.Join(v.Reasons, "; "))
		case resultOK:
			fmt.Fprintf(&b, "ok    %-22s %s\n", v.Check, v.Description)
		default:
			fmt.Fprintf(&b, "FAIL  %-22s %s\n", v.Check, v.Description)
			for _, f := range v.Failures {
				where := ""
				if f.List != "" {
					where = f.List + ": "
				}
				fmt.Fprintf(&b, "      %s%s\n", where, f.Message)
				if len(f.Lines) > 0 {
					fmt.Fprintf(&b, "      %d line(s): %s", f.Count, joinInts(f.Lines))
					if f.Count > len(f.Lines) {
						fmt.Fprintf(&b, " and %d more", f.Count-len(f.Lines))
					}
					b.WriteByte('\n')
				}
			}
		}
	}
	if r.OK() {
		b.WriteString("\nevery check passed\n")
	} else {
		fmt.Fprintf(&b, "\nfailed: %s\n", strings.Join(r.Failed(), ", "))
	}
	io.WriteString(w, b.String())
}

// The verdicts a check can have in a report.
const (
	resultOK   = "ok"
	resultSkip = "skip"
	resultFail = "FAIL"
)

// verdict is one check as the reports show it.
type verdict struct {
	Check       string
	Description string
	Result      string    // resultOK, resultSkip or resultFail
	Reasons     []string  // why it was skipped
	Failures    []Failure // how it failed
}

// verdicts gives every check made, in the order of Checks, with its
// verdict: failed when it failed anywhere, else skipped when it was
// skipped anywhere, else passed. Without Options.Logs the log checks are
// left out, unless they failed.
func (r *Report) verdicts() []verdict {
	failed := make(map[string][]Failure)
	for _, f := range r.Failures {
		failed[f.Check] = append(failed[f.Check], f)
	}
	skipped := make(map[string][]string)
	for _, s := range r.Skipped {
		skipped[s.Check] = append(skipped[s.Check], s.Reason)
	}
	if r.Logs != nil {
		for _, s := range r.Logs.Skipped {
			skipped[s.Check] = append(skipped[s.Check], s.Reason)
		}
	}
	var out []verdict
	for _, c := range Checks {
		v := verdict{Check: c, Description: descriptions[c], Failures: failed[c]}
		switch {
		case len(v.Failures) > 0:
			v.Result = resultFail
		case r.Logs == nil && slices.Contains(LogChecks, c):
			continue // not asked for
		case len(skipped[c]) > 0:
			v.Result, v.Reasons = resultSkip, skipped[c]
		default:
			v.Result = resultOK
		}
		out = append(out, v)
	}
	return out
}

// writeText says which settings the lists were checked against.
func (s *SettingsSummary) writeText(b *strings.Builder) {
	from := "given"
	if !s.Given {
		from = "from the source under audit, not obtained independently"
	}
	fmt.Fprintf(b, "settings sha256 %s (%s)\n", s.SHA256, from)
	fmt.Fprintf(b, "threshold %d bits, from %s to %s\n", s.Threshold, s.Start, s.End)
	for _, k := range s.Authorities {
		fmt.Fprintf(b, "authority %s\n", k)
	}
}

func joinInts(xs []int) string {
	var b []byte
	for i, x := range xs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return string(b)
}

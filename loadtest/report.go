package loadtest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/powvote/powvote/wire"
)

// Report is the outcome of a run. Its JSON form is what `powvote loadtest
// --json` prints; the fields named in docs/CLI.md are a contract.
type Report struct {
	RateTarget   float64 `json:"rate_target"`
	RateAchieved float64 `json:"rate_achieved"` // acknowledged after the ramp, per second of the steady phase or longer
	DurationS    float64 `json:"duration_s"`
	RampS        float64 `json:"ramp_s"`
	PrepareS     float64 `json:"prepare_s"`
	SettleS      float64 `json:"settle_s"`

	Votes        int `json:"votes"`        // scheduled
	Sent         int `json:"sent"`         // sent at least once
	Acknowledged int `json:"acknowledged"` // answered 2xx
	Refused      int `json:"refused"`      // answered 4xx: a valid vote refused
	Unanswered   int `json:"unanswered"`   // only 503s or failures before the drain ended

	PublishedOnce    int  `json:"published_once"`
	Lost             int  `json:"lost"`
	Duplicated       int  `json:"duplicated"`
	PendingBatch     int  `json:"pending_batch"` // acknowledged votes not published, kept back for a batch the run did not fill: a failure
	Altered          int  `json:"altered"`       // votes of the run published on another line than sent
	ListLengthsEqual bool `json:"list_lengths_equal"`
	VoteListLines    int  `json:"vote_list_lines"`
	AuthListLines    int  `json:"auth_list_lines"`
	DupStamps        int  `json:"duplicated_stamps"`
	DupNonces        int  `json:"duplicated_nonces"`
	DupMandates      int  `json:"duplicated_mandates"`
	PublishedUnacked int  `json:"published_unacknowledged"` // unacknowledged votes of the run found published

	Fillers             int `json:"fillers"`
	FillersAcknowledged int `json:"fillers_acknowledged"`
	ReceiptErrors       int `json:"receipt_errors"`

	LatencyMS      Latency        `json:"latency_ms"`
	Status         map[string]int `json:"status"`
	StampLatencyMS *Latency       `json:"stamp_latency_ms,omitempty"`
	StampStatus    map[string]int `json:"stamp_status,omitempty"`
	ListLatencyMS  *Latency       `json:"list_latency_ms,omitempty"`
	ListStatus     map[string]int `json:"list_status,omitempty"`

	Adversarial *Adversarial `json:"adversarial,omitempty"`

	CPU *CPU `json:"cpu,omitempty"` // with Config.ServerPIDs

	Publication *Publication `json:"publication,omitempty"` // with Config.Follow

	Errors []string `json:"errors"` // why OK is false
	Notes  []string `json:"notes"`  // worth knowing, not failures
	OK     bool     `json:"ok"`
}

// Adversarial is the junk's outcome, by kind.
type Adversarial struct {
	Fraction float64              `json:"fraction"`
	Sent     int                  `json:"sent"`
	Wrong    int                  `json:"wrong"`
	Kinds    map[string]*JunkKind `json:"kinds"`
}

// JunkKind counts the answers to one kind of junk.
type JunkKind struct {
	Expected  string         `json:"expected"` // a status code, or "cached" for replays
	Sent      int            `json:"sent"`
	Status    map[string]int `json:"status"`
	Wrong     int            `json:"wrong"`
	Unchecked int            `json:"unchecked,omitempty"` // replays of a vote that got no answer
}

// junkExpect is the answer each kind of junk must get (PROTOCOL.md 5.3);
// a replay expects its vote's first answer instead.
var junkExpect = [junkKinds]int{
	junkBadPow: wire.StatusLowWork,
	junkDecoy:  wire.StatusNotGenuine,
	junkForged: wire.StatusBadVoterStamp,
}

// report fills in the timed phase.
func (r *runner) report(start time.Time, prep time.Duration) *Report {
	s := r.cfg.Schedule
	rep := &Report{
		RateTarget: s.Rate,
		DurationS:  s.Duration.Seconds(),
		RampS:      s.Ramp.Seconds(),
		PrepareS:   round3(prep.Seconds()),
		Votes:      len(r.votes),
		Sent:       int(r.started.Load()),
	}
	var status map[string]int
	status, _, _, rep.LatencyMS = r.votesRec.snapshot()
	rep.Status = status
	if _, ok := rep.Status["503"]; !ok {
		rep.Status["503"] = 0
	}
	steady := 0
	ramp := s.rampCount()
	for i, c := range r.codes {
		switch {
		case c/100 == 2:
			rep.Acknowledged++
			if i >= ramp {
				steady++
			}
		case c == 0:
			rep.Unanswered++
		default:
			rep.Refused++
		}
	}
	if steady > 0 {
		span := time.Unix(0, r.lastAck.Load()).Sub(start.Add(s.Ramp))
		rep.RateAchieved = round3(float64(steady) / max(span.Seconds(), s.Duration.Seconds()))
	}
	if rep.Refused > 0 {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%d valid votes were refused (status %s)", rep.Refused, formatCodes(refusals(status))))
	}
	if rep.Unanswered > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d votes got no answer but 503 or failures before the drain ended", rep.Unanswered))
	}
	if n := r.receiptErrs.Load(); n > 0 {
		rep.ReceiptErrors = int(n)
		rep.Errors = append(rep.Errors, fmt.Sprintf("%d receipts do not carry their vote or do not verify, first: %s", n, *r.firstReceiptErr.Load()))
	}
	if !r.cfg.NoBrowse {
		var l Latency
		rep.StampStatus, _, _, l = r.stampRec.snapshot()
		rep.StampLatencyMS = &l
		var l2 Latency
		rep.ListStatus, _, _, l2 = r.listRec.snapshot()
		rep.ListLatencyMS = &l2
		if n := r.badBrowse.Load(); n > 0 {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%d answers to /list or /stamp lack their headers", n))
		}
	}
	if len(r.junk) > 0 {
		rep.Adversarial = r.adversarial()
		if rep.Adversarial.Wrong > 0 {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%d junk requests got a wrong answer", rep.Adversarial.Wrong))
		}
	}
	return rep
}

// refusals keeps the 4xx of a status count.
func refusals(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if len(k) == 3 && k[0] == '4' {
			out[k] = v
		}
	}
	return out
}

func (r *runner) adversarial() *Adversarial {
	a := &Adversarial{Fraction: r.cfg.Adversarial, Sent: len(r.junk), Kinds: map[string]*JunkKind{}}
	for j := range r.junk {
		it := &r.junk[j]
		name := junkNames[it.kind]
		k := a.Kinds[name]
		if k == nil {
			k = &JunkKind{Expected: strconv.Itoa(junkExpect[it.kind]), Status: map[string]int{}}
			if it.kind == junkReplay {
				k.Expected = "cached"
			}
			a.Kinds[name] = k
		}
		k.Sent++
		code := int(r.junkCode[j])
		k.Status[codeKey(code)]++
		if it.kind != junkReplay {
			if code != junkExpect[it.kind] {
				k.Wrong++
			}
			continue
		}
		// A replay must get the answer its vote got, receipt and all.
		orig := int(r.codes[it.target])
		if orig == 0 || code == 0 {
			k.Unchecked++
			continue
		}
		if orig != code || (code/100 == 2 && r.sigs[it.target] != r.junkSig[j]) {
			k.Wrong++
		}
	}
	for _, k := range a.Kinds {
		a.Wrong += k.Wrong
	}
	return a
}

// setLists fills in the zero-loss check.
func (rep *Report) setLists(c ListCheck, settled time.Duration) {
	rep.SettleS = round3(settled.Seconds())
	rep.PublishedOnce = c.PublishedOnce
	rep.Lost = c.Lost
	rep.Duplicated = c.Duplicated
	rep.DupStamps, rep.DupNonces, rep.DupMandates = c.DupStamps, c.DupNonces, c.DupMandates
	rep.PendingBatch = c.PendingBatch
	rep.Altered = c.Altered
	rep.ListLengthsEqual = c.LengthsEqual
	rep.VoteListLines, rep.AuthListLines = c.VoteLines, c.AuthLines
	rep.PublishedUnacked = c.PublishedUnacked
	rep.Errors = append(rep.Errors, c.Problems()...)
	if rep.Fillers > 0 && rep.FillersAcknowledged < rep.Fillers {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only %d of %d filler votes were acknowledged", rep.FillersAcknowledged, rep.Fillers))
	}
}

// setPublication fills in the publication delay.
func (rep *Report) setPublication(p *Publication) {
	rep.Publication = p
	rep.Notes = append(rep.Notes, p.notes()...)
}

func (rep *Report) finalize() {
	if rep.Errors == nil {
		rep.Errors = []string{}
	}
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	rep.OK = len(rep.Errors) == 0
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// WriteText writes the report for people.
func (rep *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	verdict := "PASS"
	if !rep.OK {
		verdict = "FAIL"
	}
	ew.printf("loadtest %s\n", verdict)
	ew.printf("  rate         %g votes/s targeted, %.1f achieved, %gs (ramp %gs), prepared in %.1fs\n", rep.RateTarget, rep.RateAchieved, rep.DurationS, rep.RampS, rep.PrepareS)
	ew.printf("  votes        %d scheduled, %d sent, %d acknowledged, %d refused, %d unanswered\n", rep.Votes, rep.Sent, rep.Acknowledged, rep.Refused, rep.Unanswered)
	ew.printf("  latency      %s\n", fmtLatency(rep.LatencyMS))
	ew.printf("  status       %s\n", formatCodes(rep.Status))
	if rep.StampLatencyMS != nil {
		ew.printf("  GET /stamp   %s; status %s\n", fmtLatency(*rep.StampLatencyMS), formatCodes(rep.StampStatus))
		ew.printf("  GET /list    %s; status %s\n", fmtLatency(*rep.ListLatencyMS), formatCodes(rep.ListStatus))
	}
	if a := rep.Adversarial; a != nil {
		ew.printf("  junk         %d sent, %d wrong answers\n", a.Sent, a.Wrong)
		names := make([]string, 0, len(a.Kinds))
		for n := range a.Kinds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			k := a.Kinds[n]
			ew.printf("    %-13s %d sent, expected %s, got %s, %d wrong, %d unchecked\n", n, k.Sent, k.Expected, formatCodes(k.Status), k.Wrong, k.Unchecked)
		}
	}
	if c := rep.CPU; c != nil && c.PerKVotesS > 0 {
		ew.printf("  server CPU   %.3fs during the timed phase: %.3fs per 1000 acknowledged votes, %.2fx the Ed25519 floor of %.3fs (2 verifications of %.1fµs, 1 signature of %.1fµs per vote)\n",
			c.ServerS, c.PerKVotesS, c.OverFloor, c.FloorPerKVotesS, c.VerifyUS, c.SignUS)
	}
	if c := rep.CPU; c != nil {
		share := ""
		if c.LoadgenShare > 0 {
			share = fmt.Sprintf(", %.2fx the platform's", c.LoadgenShare)
		}
		ew.printf("  loadgen CPU  %.3fs during the timed phase: %.3fs per 1000 acknowledged votes%s\n", c.LoadgenS, c.LoadgenPerKVotesS, share)
	}
	ew.printf("  published    %d once, %d lost, %d pending a batch, %d altered, %d duplicated, %d unacknowledged ones published; lists %d and %d lines (settled in %.1fs, %d fillers)\n",
		rep.PublishedOnce, rep.Lost, rep.PendingBatch, rep.Altered, rep.Duplicated, rep.PublishedUnacked, rep.VoteListLines, rep.AuthListLines, rep.SettleS, rep.Fillers)
	if p := rep.Publication; p != nil {
		p.writeText(ew)
	}
	for _, e := range rep.Errors {
		ew.printf("  error: %s\n", e)
	}
	for _, n := range rep.Notes {
		ew.printf("  note: %s\n", n)
	}
	return ew.err
}

func fmtLatency(l Latency) string {
	return fmt.Sprintf("p50 %.3fms p90 %.3fms p99 %.3fms p99.9 %.3fms max %.3fms (%d)", l.P50, l.P90, l.P99, l.P999, l.Max, l.N)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

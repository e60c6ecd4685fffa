// Package audit checks a campaign's published lists (PROTOCOL.md section 8)
// with nothing but public data: the two lists and the campaign's public
// settings. Anyone can run it; it trusts neither the platform nor the
// publisher.
//
// # What it trusts
//
// Three inputs decide what the lists are checked against, and an audit is
// only as good as where they came from: the settings (the ballot, the
// authority keys, the threshold, the window; Options.SettingsGiven says
// whether the auditor obtained them independently of the source), the log
// key that signs the checkpoints (LogOptions.Key, else the one the source
// serves), and the earlier checkpoints the auditor kept (LogOptions.Since).
// A platform that serves its own settings can add an authority key of its
// own and pad both lists with mandates it signed itself: every line would
// pass. So the report always shows the settings' hash, authorities and
// threshold; every checkpoint commits to the settings' hash (see
// CheckpointText); and LogOptions.Strict fails unless the settings were
// given.
//
// # Checks
//
// Each check has a fixed name, so that scripts can branch on it:
//
//	vote-format            every line of the votes list is exactly what lines.ParseVote accepts, and ends with '\n'
//	auth-format            every line of the voters list is exactly what lines.ParseVoter accepts, and ends with '\n'
//	proof-of-work          every vote's digest has at least the campaign's threshold of leading zero bits (PROTOCOL.md 5.3)
//	option                 every vote's option is on the ballot
//	stamp-time             every vote's P-UTC lies between the campaign's start and end
//	platform-stamp         every vote's P-SIG is a UTC-SIGN signature of its P-UTC (PROTOCOL.md 5.2, 5.3), once the key is public
//	mandate-signature      every mandate's auth-sig verifies over its auth-id under its auth-pkey (PROTOCOL.md 3)
//	authority              every mandate's auth-pkey is one of the campaign's authorities
//	duplicate-nonce        no nonce stands on two vote lines
//	duplicate-voter-stamp  no voter stamp stands on two vote lines
//	duplicate-mandate      no mandate (auth-pkey, auth-id) stands on two voter lines
//	counts-equal           the votes list has as many lines as the voters list
//	retracted-format       every line of the retracted list is exactly what listline.ParseRetracted accepts, and ends with '\n'
//	retraction-loser       no retracted vote's nonce stands in the votes list, nor its voter stamp but on its winner's line, nor either twice in the retracted list
//	retraction-winner      every retracted vote's winner stands in the votes list (under its signed checkpoint), beats it by mirror rule 3 (listline.Wins), and wins over no other retracted vote
//	retraction-signature   every retraction's signature verifies under the receipt key over wire.RetractionMessage of the retracted vote's line and its winner's
//
// The retracted list (published.LogName) explains the votes that collecting
// instances withdrew by mirror rule 3 (docs/MIRRORS.md): each line is the
// retracted vote, the nonce of the vote that won for the same mandate, and
// the receipt key's signature binding the two. Each retracted vote must
// also pass proof-of-work, option, stamp-time and platform-stamp, which
// then name the retracted list's lines. The receipt key is
// Options.ReceiptKey, else the one the source serves
// (published.ReceiptKeyName), else its keys file's. Without any,
// retraction-signature is skipped when there is a binding to check, and
// fails under LogOptions.Strict. A source that does not publish the
// retracted list gets the four checks skipped.
//
// With Options.Logs, also (see LogOptions):
//
//	checkpoint-signature   the latest checkpoints of both lists and of the retracted list, and every checkpoint read after them, are signed notes of the log key, with their origins
//	checkpoint-size        every line of each list, and of the retracted list, is under a checkpoint whose signature verified
//	checkpoint-root        each such checkpoint's root hash is the tree hash of its list at its size
//	consistency            each earlier checkpoint (LogOptions.Since) is a prefix of its list today
//	history                the history grows, no count ever drops, and every line's counts are the list's tally at its size
//	settings               every checkpoint's settings line is the hash of the settings audited against, the latest ones have one, and the settings are the auditor's own
//
// Lines at the end of a list that no verified checkpoint covers (a
// source that pads its lists, or a folder whose lists were downloaded
// after their checkpoints) fail checkpoint-size under LogOptions.Strict;
// without it they are listed in LogReport.Unsigned and left out of the
// tally and the work, or of Report.Retractions for the retracted list.
//
// A failed check names the lines (1-based) where it failed, in its list.
// The duplicate checks name the later lines and say which earlier line
// they repeat. A line that fails its format check is not looked at further,
// so one broken line is reported once, under the format check.
//
// The platform-stamp check needs the UTC-SIGN public key, which stays
// secret until the campaign closes: Options.UTCSignKey, else the keys
// file the publisher serves from the close on (published.KeysName).
// Without either the check is skipped, even under LogOptions.Strict,
// since that is what an open campaign looks like. A keys file that is
// there but malformed is a failure of the check. When the file also gives UTC-HOLE, a vote whose
// P-SIG is a decoy stamp is told apart from a forged one: a decoy must
// never reach the list, since the edge refuses it (PROTOCOL.md 5.3).
//
// What public data cannot show is not checked: whether a voter stamp's
// MAC verifies (only the edge holds the key), and how old a stamp was when
// the vote arrived.
//
// # Tally and work
//
// The tally counts, per ballot option, the well-formed vote lines that
// carry it, as `grep -c '"<option>"'` would: a vote that fails another
// check is still counted, and the failure is reported beside the tally
// rather than silently taken out of it. Work is the sum of 2^score over the
// well-formed votes: the number of hashes the votes stand for, on average.
//
// # Tree heads
//
// Each list is also hashed as an RFC 6962 Merkle tree (a line without its
// '\n' is a leaf, as golang.org/x/mod/sumdb/tlog hashes records), so that
// the report can be compared with the publisher's signed checkpoints.
//
// # Reports
//
// Report.WriteText writes the report for a terminal, Report.WriteHTML as
// one self-contained HTML file to keep and print, with the history drawn
// per option at one point a minute (PerMinute) and each option's largest
// growth between history lines against its median (HistoryGrowth). The
// history is read by ParseHistory, which the results page (web/check)
// mirrors; testdata/vectors/growth.json holds the two to the same lines,
// figures and minutes.
//
// # Speed
//
// One goroutine per list reads lines into batches; a pool of workers, shared
// by both lists, parses and verifies whole batches; then the list's
// goroutine takes the verified batches back in line order and does what
// needs the whole list (duplicates, tally, tree). Ed25519 verification of
// the voters list dominates the cost, so the rest avoids allocating per
// line: batches are recycled, each is turned into one string so that lines
// are substrings, and duplicates are found through fixed-size keys.
package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/published"
	"github.com/powvote/powvote/sigbatch"
)

// Check names, as reports and scripts spell them.
const (
	CheckVoteFormat          = "vote-format"
	CheckAuthFormat          = "auth-format"
	CheckProofOfWork         = "proof-of-work"
	CheckOption              = "option"
	CheckStampTime           = "stamp-time"
	CheckPlatformStamp       = "platform-stamp"
	CheckMandateSignature    = "mandate-signature"
	CheckAuthority           = "authority"
	CheckDuplicateNonce      = "duplicate-nonce"
	CheckDuplicateVoterStamp = "duplicate-voter-stamp"
	CheckDuplicateMandate    = "duplicate-mandate"
	CheckCountsEqual         = "counts-equal"

	CheckRetractedFormat     = "retracted-format"
	CheckRetractionLoser     = "retraction-loser"
	CheckRetractionWinner    = "retraction-winner"
	CheckRetractionSignature = "retraction-signature"

	CheckCheckpointSignature = "checkpoint-signature"
	CheckCheckpointSize      = "checkpoint-size"
	CheckCheckpointRoot      = "checkpoint-root"
	CheckConsistency         = "consistency"
	CheckHistory             = "history"
	CheckSettings            = "settings"
)

// Checks lists every check Run makes, in the order reports show them.
var Checks = []string{
	CheckVoteFormat, CheckAuthFormat, CheckProofOfWork, CheckOption, CheckStampTime,
	CheckPlatformStamp, CheckMandateSignature, CheckAuthority, CheckDuplicateNonce, CheckDuplicateVoterStamp,
	CheckDuplicateMandate, CheckCountsEqual,
	CheckRetractedFormat, CheckRetractionLoser, CheckRetractionWinner, CheckRetractionSignature,
	CheckCheckpointSignature, CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency, CheckHistory, CheckSettings,
}

// LogChecks are the checks of Checks that only Options.Logs makes.
var LogChecks = []string{
	CheckCheckpointSignature, CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency, CheckHistory, CheckSettings,
}

// MaxLines bounds Failure.Lines, so that a list where every line is wrong
// still gives a report one can read; Failure.Count has the full number.
const MaxLines = 100

// Failure is a check that failed.
type Failure struct {
	Check   string `json:"check"`           // one of Checks
	List    string `json:"list,omitempty"`  // file the lines are in, such as "solar-vote.log"; empty for counts-equal
	Lines   []int  `json:"lines,omitempty"` // 1-based, ascending: the first MaxLines lines that fail
	Count   int    `json:"count"`           // how many lines fail; 0 when the check is not about lines
	Message string `json:"message"`         // why it failed, for the first line that failed
}

// OptionCount is one row of the tally.
type OptionCount struct {
	Option string `json:"option"`
	Votes  int    `json:"votes"`
}

// SettingsSummary says which settings the lists were checked against:
// what a platform that added an authority of its own, or lowered the
// threshold, would have to change.
type SettingsSummary struct {
	SHA256      string   `json:"sha256"`      // SettingsHash of their exact bytes: what the checkpoints commit to
	Given       bool     `json:"given"`       // obtained independently of the source (Options.SettingsGiven)
	Authorities []string `json:"authorities"` // standard base64 of each authority key, as in the settings
	Threshold   int      `json:"threshold"`   // proof-of-work bits
	Start       string   `json:"start"`       // RFC 3339, UTC
	End         string   `json:"end"`
}

// Report is the outcome of an audit.
type Report struct {
	Campaign string          `json:"campaign"`
	Settings SettingsSummary `json:"settings"`
	Votes    int             `json:"votes"`  // lines of the votes list
	Voters   int             `json:"voters"` // lines of the voters list
	// Tally counts the votes per option, in ballot order. When the votes
	// list has lines that no verified checkpoint covers (Logs.Unsigned),
	// it counts only the lines before them, and so does Work.
	Tally    []OptionCount `json:"tally"`
	Failures []Failure     `json:"failures"`
	Work     float64       `json:"work"` // expected hashes: the sum of 2^score over the votes

	// VoteTree and AuthTree are the RFC 6962 tree heads of the two lists
	// as read, to compare with the publisher's checkpoints.
	VoteTree tlog.Tree `json:"vote_tree"`
	AuthTree tlog.Tree `json:"auth_tree"`

	// Retractions counts the lines of the retracted list: the votes
	// withdrawn by mirror rule 3, each bound to the vote that won. Like
	// the tally it leaves out lines no verified checkpoint covers
	// (Logs.Unsigned). RetractedTree is the list's tree head as read;
	// ReceiptKey the key (base64) the bindings were checked under, and
	// ReceiptKeyFrom where it came from: "given", or the file.
	Retractions    int       `json:"retractions"`
	RetractedTree  tlog.Tree `json:"retracted_tree"`
	ReceiptKey     string    `json:"receipt_key,omitempty"`
	ReceiptKeyFrom string    `json:"receipt_key_from,omitempty"`

	// UTCSignKey is the UTC-SIGN key the platform-stamp check used, in
	// base64, and UTCSignFrom where it came from: "given" or the keys
	// file. Empty when the check was not made.
	UTCSignKey  string `json:"utc_sign_key,omitempty"`
	UTCSignFrom string `json:"utc_sign_from,omitempty"`

	// Skipped are the checks outside Options.Logs that were not made, and
	// why; the log checks' are in Logs.Skipped.
	Skipped []Skip `json:"skipped,omitempty"`

	// What Options.Logs adds; zero without it.
	Logs *LogReport `json:"logs,omitempty"`
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

// Failed returns the names of the failed checks, in the order of Checks.
func (r *Report) Failed() []string {
	var names []string
	for _, f := range r.Failures {
		names = append(names, f.Check)
	}
	return names
}

// Options tune Run. The zero value is ready to use.
type Options struct {
	// Workers is the number of goroutines that verify lines. Zero means
	// runtime.GOMAXPROCS(0).
	Workers int
	// Progress, if not nil, is called after each batch of lines is
	// verified, with the bytes of both lists verified so far and their
	// total, or -1 when a source does not say how long a list is. Calls
	// never overlap, but they come from different goroutines.
	Progress func(done, total int64)
	// Logs, if not nil, also checks the publisher's signed checkpoints,
	// its history and any earlier checkpoints (see LogOptions).
	Logs *LogOptions
	// UTCSignKey is the UTC-SIGN public key, obtained out of band. Nil
	// means the one the source's keys file gives, if it has one; when it
	// has one too, the two must agree.
	UTCSignKey ed25519.PublicKey
	// SettingsData is the exact bytes the settings given to Run were
	// parsed from. Their SettingsHash is the settings hash the report
	// shows and every checkpoint must commit to. Nil means
	// settings.Marshal(), the encoding the publisher serves.
	SettingsData []byte
	// ReceiptKey is the receipt public key, obtained out of band: it
	// checks the signatures that bind each retracted vote to the vote
	// that won. Nil means the one the source serves
	// (published.ReceiptKeyName), else the one its keys file gives after
	// the close.
	ReceiptKey ed25519.PublicKey
	// SettingsGiven says the settings are the auditor's own copy,
	// obtained independently of the source (from the authority's
	// announcement). With Logs, Run then also compares them byte for byte
	// with the source's settings file (published.SettingsName), when it has one.
	// False means they are the source's word, which LogOptions.Strict
	// fails.
	SettingsGiven bool
}

// Run downloads the campaign's two lists from src and checks them against
// settings. It returns an error only when a list cannot be read (or ctx is
// done); everything wrong with the lists themselves is in
// Report.Failures.
func Run(ctx context.Context, src Source, settings *campaign.Settings, opt Options) (*Report, error) {
	if settings == nil {
		return nil, errors.New("audit: no campaign settings")
	}
	settingsData := opt.SettingsData
	if settingsData == nil {
		var err error
		if settingsData, err = settings.Marshal(); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	a := newAuditor(settings, opt)
	// The keys file is small and read first: the workers need the key.
	var err error
	if a.stamps, err = newStampChecker(src, settings.Name, opt.UTCSignKey); err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	lists := [2]*list{
		{kind: voteList, name: published.LogName(settings.Name, published.Vote), tailFrom: -1},
		{kind: authList, name: published.LogName(settings.Name, published.Auth), tailFrom: -1},
	}
	// The publisher's files are read before the lists, so that the lists
	// read are at least as long as what the checkpoints and history cover,
	// and hold every winner the retracted list names.
	var logs *logState
	if opt.Logs != nil {
		if logs, err = fetchLogs(src, settings, opt.Logs, settingsData, opt.SettingsGiven); err != nil {
			return nil, err
		}
		logs.wantMarks(lists)
	}
	retracted, err := readRetracted(src, settings.Name)
	if err != nil {
		return nil, err
	}
	lists[0].winners = retracted.winners
	// Both lists are opened and read at once: they take about as long as
	// each other to verify, and a download left idle while the other list
	// is verified could be cut by the server's timeouts.
	for _, l := range lists {
		r, err := src.Open(l.name)
		if err != nil {
			closeAll(lists[:])
			return nil, fmt.Errorf("audit: couldn't open %s: %w", l.name, err)
		}
		l.r = r
		if n := sizeOf(r); n >= 0 && a.total >= 0 {
			a.total += n
		} else {
			a.total = -1
		}
	}
	defer closeAll(lists[:])
	// Closing a reader is the one way to interrupt a Read in progress.
	stop := context.AfterFunc(ctx, func() { closeAll(lists[:]) })
	defer stop()

	work := make(chan *batch)
	var workers sync.WaitGroup
	for range a.workers {
		workers.Go(func() {
			for b := range work {
				a.verify(b)
				close(b.done)
			}
		})
	}
	// The first error stops both scans; the other scan then fails only
	// because its reader was closed, so only the first error is returned.
	var (
		scans    sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for _, l := range lists {
		scans.Go(func() {
			if err := a.scan(ctx, l, work); err != nil {
				errOnce.Do(func() { firstErr = fmt.Errorf("audit: reading %s: %w", l.name, err) })
				cancel()
			}
		})
	}
	scans.Wait()
	close(work)
	workers.Wait()
	if err := parent.Err(); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	all := [3]*list{lists[0], lists[1], retracted.list}
	signedVotes := int64(-1)
	if logs != nil {
		if err := logs.check(src, all); err != nil {
			return nil, err
		}
		signedVotes = logs.signed[0]
	}
	var keys *Keys
	if a.stamps != nil {
		keys = a.stamps.keys
	}
	key, keyFrom, keyErr := receiptKey(src, settings.Name, opt.ReceiptKey, keys)
	if keyErr != nil && keyFrom == "" {
		return nil, keyErr // the key given, or the source failed
	}
	a.checkRetractions(retracted, lists[0], signedVotes, key)
	skips := retracted.verdicts(key != nil, keyFrom, keyErr, opt.Logs != nil && opt.Logs.Strict)
	r := a.report(all)
	r.Skipped = append(r.Skipped, skips...)
	r.Settings = summary(settings, settingsData, opt.SettingsGiven)
	r.Retractions, r.RetractedTree = retracted.list.lines, retracted.list.tree.head()
	if key != nil {
		r.ReceiptKey, r.ReceiptKeyFrom = keyText(key), keyFrom
	}
	if logs != nil {
		r.Logs = logs.rep
		// Lines no verified checkpoint covers are not counted.
		if n := logs.signed[0]; n >= 0 && n < int64(lists[0].lines) {
			m, _ := lists[0].mark(n, len(settings.Options))
			r.Tally, r.Work = tallyRows(settings.Options, m.Tally), m.Work
		}
		if n := logs.signed[retractedList]; n >= 0 && n < int64(r.Retractions) {
			r.Retractions = int(n)
		}
	}
	return r, nil
}

// summary describes the settings for the report.
func summary(s *campaign.Settings, data []byte, given bool) SettingsSummary {
	sum := SettingsSummary{
		SHA256:      SettingsHash(data),
		Given:       given,
		Authorities: []string{},
		Threshold:   s.Threshold,
		Start:       s.Start.UTC().Format(time.RFC3339),
		End:         s.End.UTC().Format(time.RFC3339),
	}
	for _, k := range s.Authorities {
		sum.Authorities = append(sum.Authorities, base64.StdEncoding.EncodeToString(k))
	}
	return sum
}

// tallyRows turns per-index counts into the tally, in ballot order.
func tallyRows(options []string, counts []int) []OptionCount {
	rows := make([]OptionCount, len(options))
	for i, o := range options {
		rows[i] = OptionCount{Option: o}
		if i < len(counts) {
			rows[i].Votes = counts[i]
		}
	}
	return rows
}

func closeAll(ls []*list) {
	for _, l := range ls {
		if l.r != nil {
			l.r.Close()
		}
	}
}

// auditor holds what the workers read (set before they start, then
// read-only) and the progress counter.
type auditor struct {
	settings    *campaign.Settings
	workers     int
	options     map[string]int          // option text to ballot index
	authorities map[[32]byte]struct{}   // the campaign's authority keys
	start, end  int64                   // the campaign's window, Unix seconds
	progress    func(done, total int64) // may be nil
	stamps      *stampChecker           // the platform-stamp check; never nil in Run
	sigs        *sigbatch.Verifier      // the mandates' signatures, batched under the authorities' keys

	mu    sync.Mutex // guards done and calls to progress
	done  int64      // bytes verified, both lists
	total int64      // bytes in both lists, -1 if unknown; set before the scans start
}

func newAuditor(s *campaign.Settings, opt Options) *auditor {
	a := &auditor{
		settings:    s,
		workers:     opt.Workers,
		options:     make(map[string]int, len(s.Options)),
		authorities: make(map[[32]byte]struct{}, len(s.Authorities)),
		start:       s.Start.Unix(),
		end:         s.End.Unix(),
		progress:    opt.Progress,
	}
	if a.workers <= 0 {
		a.workers = runtime.GOMAXPROCS(0)
	}
	for i, o := range s.Options {
		a.options[o] = i
	}
	for _, k := range s.Authorities {
		if len(k) == ed25519.PublicKeySize {
			a.authorities[[32]byte(k)] = struct{}{}
		}
	}
	a.sigs = sigbatch.NewVerifier(s.Authorities...)
	return a
}

func (a *auditor) advance(n int64) {
	if a.progress == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done += n
	a.progress(a.done, a.total)
}

// report gathers the findings of the lists and of the retracted list, in
// the order of Checks.
func (a *auditor) report(lists [3]*list) *Report {
	v, au := lists[0], lists[1]
	r := &Report{
		Campaign: a.settings.Name,
		Votes:    v.lines,
		Voters:   au.lines,
		Work:     v.work,
		VoteTree: v.tree.head(),
		AuthTree: au.tree.head(),
		Failures: []Failure{}, // [] rather than null in JSON
	}
	if sc := a.stamps; sc != nil {
		r.UTCSignKey, r.UTCSignFrom = sc.keyText, sc.keyFrom
		if sc.skip != "" {
			r.Skipped = append(r.Skipped, Skip{Check: CheckPlatformStamp, Reason: sc.skip})
		}
	}
	r.Tally = tallyRows(a.settings.Options, v.tally)
	for _, c := range Checks {
		if c == CheckCountsEqual {
			if v.lines != au.lines {
				r.Failures = append(r.Failures, Failure{Check: c,
					Message: fmt.Sprintf("%d lines in %s but %d in %s", v.lines, v.name, au.lines, au.name)})
			}
			continue
		}
		if c == CheckPlatformStamp && a.stamps != nil && a.stamps.fail != nil {
			// The keys file's fault before the votes': it may explain them.
			r.Failures = append(r.Failures, *a.stamps.fail)
		}
		for _, l := range lists {
			if f := l.fails[c]; f != nil {
				r.Failures = append(r.Failures, *f)
			}
		}
	}
	return r
}

// list is the state of one list's scan. The scanning goroutine owns every
// field; workers only see the batches.
type list struct {
	kind listKind
	name string
	r    io.ReadCloser

	lines    int
	fails    map[string]*Failure
	tally    []int // votes list: per ballot index
	work     float64
	nonces   map[nonceKey]int
	stamps   map[stampKey]int
	mandates map[mandateKey]int
	tree     treeBuilder

	marks  map[int64]bool // sizes at which to take a Mark; nil for none
	marked map[int64]Mark // the marks taken, by size

	// all is every leaf hash of the retracted list, which is read whole:
	// its marks are computed from it. absent says the source does not
	// publish it.
	all    []tlog.Hash
	absent bool
	// winners are the votes the retracted list names as winners: the
	// votes list notes where each stands (mergeLine).
	winners map[nonceKey]*winnerRef

	// The votes list, with logs, also keeps the ballot index (-1 for none)
	// of every line after line tailFrom, the last size marked: tallyAt
	// then gives the tally at any size up to the end. tailFrom is -1
	// unless keepTail.
	keepTail bool
	tailFrom int64
	tailOpts []int16
}

// takeMark notes the tree head and tally of the lines merged so far.
func (l *list) takeMark() {
	if l.marked == nil {
		l.marked = make(map[int64]Mark)
	}
	m := Mark{Tree: l.tree.head(), Work: l.work}
	if l.kind == voteList {
		m.Tally = append([]int(nil), l.tally...)
	}
	l.marked[m.Tree.N] = m
}

// mark returns the mark taken at size n, if any. The empty list needs none.
func (l *list) mark(n int64, nOptions int) (Mark, bool) {
	if n == 0 {
		var t treeBuilder
		return Mark{Tree: t.head(), Tally: make([]int, nOptions)}, true
	}
	if l.kind == retractedList {
		if n > int64(len(l.all)) {
			return Mark{}, false
		}
		var t treeBuilder
		for _, h := range l.all[:n] {
			t.push(h)
		}
		return Mark{Tree: t.head()}, true
	}
	m, ok := l.marked[n]
	if !ok && n == int64(l.lines) {
		m, ok = Mark{Tree: l.tree.head(), Tally: slices.Clone(l.tally), Work: l.work}, true
	}
	if ok && l.kind == voteList && m.Tally == nil {
		m.Tally = make([]int, nOptions) // no well-formed vote yet
	}
	return m, ok
}

// tallyAt returns the votes list's tally after its first n lines: at a
// mark, or after the last mark from the ballot indexes kept since.
func (l *list) tallyAt(n int64, nOptions int) ([]int, bool) {
	if m, ok := l.mark(n, nOptions); ok {
		return m.Tally, true
	}
	if !l.keepTail || n <= l.tailFrom || n > int64(l.lines) {
		return nil, false
	}
	base, ok := l.mark(l.tailFrom, nOptions)
	if !ok {
		return nil, false
	}
	t := slices.Clone(base.Tally)
	for _, o := range l.tailOpts[:n-l.tailFrom] {
		if o >= 0 {
			t[o]++
		}
	}
	return t, true
}

type listKind uint8

const (
	voteList listKind = iota
	authList
	retractedList // read whole, not scanned (retracted.go); also its index in the logs' arrays
)

// record notes that line ln fails check c.
func (l *list) record(c string, ln int, msg string) {
	if l.fails == nil {
		l.fails = make(map[string]*Failure)
	}
	f := l.fails[c]
	if f == nil {
		f = &Failure{Check: c, List: l.name, Message: fmt.Sprintf("line %d: %s", ln, msg)}
		l.fails[c] = f
	}
	f.Count++
	if len(f.Lines) < MaxLines {
		f.Lines = append(f.Lines, ln)
	}
}

// merge takes in a verified batch, in line order: the findings of the
// workers, then what needs every earlier line (duplicates, tally, tree).
func (l *list) merge(b *batch, nOptions int) {
	n := len(b.ends)
	fi := 0
	for i := range n {
		ln := b.first + i
		l.lines++
		l.tree.push(b.leaves[i])
		// Worker findings stand before the duplicates of the same line, so
		// every check's lines stay ascending.
		for ; fi < len(b.fails) && b.fails[fi].line == ln; fi++ {
			l.record(b.fails[fi].check, ln, b.fails[fi].msg)
		}
		l.mergeLine(b, i, ln, nOptions)
		if l.keepTail && int64(ln) > l.tailFrom {
			o := int16(-1)
			if rec := &b.votes[i]; rec.ok {
				o = rec.option
			}
			l.tailOpts = append(l.tailOpts, o)
		}
		// A mark is taken once the line is wholly in: in the tree and in
		// the tally.
		if l.marks[int64(ln)] {
			l.takeMark()
		}
	}
}

// mergeLine does for line i of b (line number ln) what needs every earlier
// line.
func (l *list) mergeLine(b *batch, i, ln, nOptions int) {
	switch l.kind {
	case voteList:
		rec := &b.votes[i]
		if !rec.ok {
			return
		}
		if l.nonces == nil {
			l.nonces = make(map[nonceKey]int)
			l.stamps = make(map[stampKey]int)
		}
		if l.tally == nil {
			l.tally = make([]int, nOptions)
		}
		if prev, dup := l.nonces[rec.nonce]; dup {
			l.record(CheckDuplicateNonce, ln, fmt.Sprintf("the nonce of line %d again", prev))
		} else {
			l.nonces[rec.nonce] = ln
		}
		if prev, dup := l.stamps[rec.stamp]; dup {
			l.record(CheckDuplicateVoterStamp, ln, fmt.Sprintf("the voter stamp of line %d again", prev))
		} else {
			l.stamps[rec.stamp] = ln
		}
		if rec.option >= 0 {
			l.tally[rec.option]++
		}
		if w := l.winners[rec.nonce]; w != nil && w.line == 0 {
			start := 0
			if i > 0 {
				start = b.ends[i-1]
			}
			w.line, w.text = ln, strings.Clone(b.text[start:b.ends[i]])
		}
		l.work += math.Ldexp(1, int(rec.score))
	case authList:
		rec := &b.voters[i]
		if !rec.ok {
			return
		}
		if l.mandates == nil {
			l.mandates = make(map[mandateKey]int)
		}
		if prev, dup := l.mandates[rec.mandate]; dup {
			l.record(CheckDuplicateMandate, ln, fmt.Sprintf("the mandate of line %d again", prev))
		} else {
			l.mandates[rec.mandate] = ln
		}
	}
}

// treeBuilder computes an RFC 6962 tree head over leaves pushed in order,
// keeping one hash per set bit of the leaf count (the roots of the perfect
// subtrees the leaves so far make, largest first).
type treeBuilder struct {
	n     int64
	stack []tlog.Hash
}

func (t *treeBuilder) push(h tlog.Hash) {
	t.stack = append(t.stack, h)
	// Leaf number t.n closes one perfect subtree per trailing 1 bit.
	for k := t.n; k&1 == 1; k >>= 1 {
		top := len(t.stack)
		t.stack[top-2] = tlog.NodeHash(t.stack[top-2], t.stack[top-1])
		t.stack = t.stack[:top-1]
	}
	t.n++
}

func (t *treeBuilder) head() tlog.Tree {
	if t.n == 0 {
		h, _ := tlog.TreeHash(0, nil) // the hash of the empty tree; reads nothing
		return tlog.Tree{N: 0, Hash: h}
	}
	h := t.stack[len(t.stack)-1]
	for i := len(t.stack) - 2; i >= 0; i-- {
		h = tlog.NodeHash(t.stack[i], h)
	}
	return tlog.Tree{N: t.n, Hash: h}
}

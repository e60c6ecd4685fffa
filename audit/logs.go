package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
)

// LogOptions asks Run to check, beyond the lists, what the publisher signs
// and records about them (docs/PUBLISHING.md): the latest checkpoint of
// each list, the history, earlier checkpoints an auditor kept, and the
// settings every checkpoint commits to.
//
// The key, the checkpoints and the history are optional files: a source
// that does not have them (an edge whose publisher has no log key, a
// folder of lists only) gets those checks reported as skipped, with the
// reason, unless Strict is set.
//
// What the log checks trust: the log key (Key, else the one the source
// serves, which a platform that rewrites its lists can replace), the
// settings (Options.SettingsGiven says whether the auditor obtained them
// independently) and the earlier checkpoints in Since, which are the
// auditor's own records. Everything else the source serves is checked
// against those.
type LogOptions struct {
	// Key is the note verifier key of the checkpoints, as text
	// ("powvote-solar+0dd4a274+Aep..."). Empty means the one the source
	// serves; an auditor should rather give a key obtained independently,
	// since a platform that rewrites its lists can serve a new key too.
	Key string
	// Since holds earlier checkpoints (signed notes, as served) of either
	// list or of the retracted list, told apart by their origin. Each must
	// be a prefix of its list as read now, and verify under the key when
	// there is one (see checkSince).
	Since [][]byte
	// Strict fails, rather than skips, the checks that need the key, the
	// checkpoints or the history when the source does not have them. It
	// also fails lines of a list that no verified checkpoint covers
	// (without it they are reported as unsigned and left out of the
	// tally), settings not obtained independently (Options.SettingsGiven),
	// and a latest checkpoint without a settings line. It does not touch
	// the platform-stamp check, whose key an open campaign legitimately
	// lacks (see Options.UTCSignKey).
	Strict bool
}

// Mark is the state of a list after its first Tree.N lines: its tree head
// and, for the votes list, its tally in ballot order and its work.
type Mark struct {
	Tree  tlog.Tree
	Tally []int
	Work  float64
}

// Skip is a check that was not made, and why.
type Skip struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// Growth sums up how one option's count grew over the history: its
// largest increase from one history line to the next, against the median
// increase. A largest increase far above the median is worth a look (a
// burst of votes, or votes held back and released at once); it is not a
// failure, since batches differ in size.
type Growth struct {
	Option  string  `json:"option"`
	Largest int     `json:"largest"`
	Median  float64 `json:"median"`
	AtSize  int64   `json:"at_size"` // the list's size after the largest increase
	AtTime  int64   `json:"at_time"` // its history time, Unix seconds
}

// Ratio is Largest over Median, or Largest when the median is 0.
func (g Growth) Ratio() float64 {
	if g.Median == 0 {
		return float64(g.Largest)
	}
	return float64(g.Largest) / g.Median
}

// Unsigned is a run of lines at the end of a list, beyond its latest
// checkpoint, that no checkpoint whose signature verified covers. Without
// LogOptions.Strict they are reported here and left out of the tally and
// the work; with it they fail the checkpoint-size check.
type Unsigned struct {
	List  string `json:"list"`
	First int64  `json:"first"` // 1-based
	Last  int64  `json:"last"`
}

// LogReport is what LogOptions adds to a Report.
type LogReport struct {
	Key       string        `json:"key,omitempty"`      // the verifier key used
	KeyFrom   string        `json:"key_from,omitempty"` // "given", or the file it was read from
	Vote      *Checkpoint   `json:"vote_checkpoint,omitempty"`
	Auth      *Checkpoint   `json:"auth_checkpoint,omitempty"`
	Retracted *Checkpoint   `json:"retracted_checkpoint,omitempty"`
	Since     []Checkpoint  `json:"since,omitempty"`
	History   int           `json:"history_lines"`
	Growth    []Growth      `json:"growth,omitempty"`  // most unusual first
	Minutes   []HistoryLine `json:"minutes,omitempty"` // the history per minute (PerMinute), which the HTML report draws
	Unsigned  []Unsigned    `json:"unsigned,omitempty"`
	Skipped   []Skip        `json:"skipped,omitempty"`
	Warnings  []string      `json:"warnings,omitempty"` // what the checks took on trust, or could not look at
}

// ParseLogKey reads a note verifier key.
func ParseLogKey(text string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return v, nil
}

// HistoryLine is one line of the history (published.HistoryName,
// docs/PUBLISHING.md), "<size> <unix time> <count of option 1> ...
// <count of option N>": the lists' size after a batch, the batch's time,
// and the votes per option, in ballot order, among the first Size lines
// of the votes list.
type HistoryLine struct {
	Line   int   `json:"-"` // 1-based, in the file
	Size   int64 `json:"size"`
	Time   int64 `json:"time"` // Unix seconds
	Counts []int `json:"counts"`
}

// namedCheckpoint is a checkpoint and the file (or the earlier
// checkpoint) it was read from.
type namedCheckpoint struct {
	name string
	cp   *Checkpoint
}

// logState is what the publisher serves besides the lists, as read once
// before them, and what the checks found.
type logState struct {
	settings *campaign.Settings
	opt      *LogOptions
	rep      *LogReport

	settingsData   []byte // the bytes of the settings audited against
	settingsHash   string // SettingsHash(settingsData)
	settingsGiven  bool   // obtained independently of the source
	servedSettings []byte // the source's settings file, read when settingsGiven; nil when it has none

	verifier note.Verifier // nil without a key
	keyErr   string        // why the key is unusable, "" when missing or fine
	cps      [3][]byte     // latest checkpoints of the lists and the retracted list as first read; nil when missing
	history  []byte        // nil when missing
	reread   bool          // history is a second reading, taken after the lists

	// Set by the checks. signed[i] is how many lines of log i (the two
	// lists, the retracted list) a checkpoint whose signature verified
	// covers, -1 when no latest checkpoint verified. verified is every
	// checkpoint read whose signature verified (and the earlier ones,
	// verified or not), latest the one of each log that covers signed[i]
	// lines.
	signed   [3]int64
	verified []namedCheckpoint
	latest   [3]*namedCheckpoint
}

// readOptional reads a whole file the source may not have; (nil, nil) when
// it has not.
func readOptional(src Source, name string) ([]byte, error) {
	r, err := src.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: couldn't open %s: %w", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("audit: reading %s: %w", name, err)
	}
	if b == nil {
		b = []byte{} // present but empty is not missing
	}
	return b, nil
}

// fetchLogs reads the key, the latest checkpoints, the history and, when
// the settings were given, the settings the source serves: all before the
// lists, so that the lists read are at least as long as what the
// checkpoints and the history cover.
func fetchLogs(src Source, s *campaign.Settings, opt *LogOptions, settingsData []byte, given bool) (*logState, error) {
	st := &logState{settings: s, opt: opt, rep: &LogReport{},
		settingsData: settingsData, settingsHash: SettingsHash(settingsData), settingsGiven: given,
		signed: [3]int64{-1, -1, -1}}
	key := opt.Key
	st.rep.KeyFrom = "given"
	if key == "" {
		b, err := readOptional(src, published.LogKeyName(s.Name))
		if err != nil {
			return nil, err
		}
		key, st.rep.KeyFrom = string(b), published.LogKeyName(s.Name)
		if b == nil {
			st.rep.KeyFrom = ""
		}
	}
	if key != "" {
		v, err := ParseLogKey(key)
		if err != nil {
			st.keyErr = err.Error()
		} else {
			st.verifier, st.rep.Key = v, strings.TrimSpace(key)
		}
	}
	var err error
	for i, name := range checkpointNames(s.Name) {
		if st.cps[i], err = readOptional(src, name); err != nil {
			return nil, err
		}
	}
	if st.history, err = readOptional(src, published.HistoryName(s.Name)); err != nil {
		return nil, err
	}
	if given {
		if st.servedSettings, err = readOptional(src, published.SettingsName(s.Name)); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// wantMarks asks the scans for the tree heads and tallies the checks need:
// at each checkpoint's size and each history line's. The votes list also
// keeps the option of every line after the last of those sizes, so that a
// history read again after the lists can be checked at any size up to
// the list's end (list.tallyAt).
func (st *logState) wantMarks(lists [2]*list) {
	for i, l := range lists {
		l.marks = make(map[int64]bool)
		if cp := peekSize(st.cps[i]); cp > 0 {
			l.marks[cp] = true
		}
		for _, data := range st.opt.Since {
			if cp := peekSize(data); cp > 0 {
				l.marks[cp] = true // marks on the other list cost nothing
			}
		}
	}
	hist, _ := ParseHistory(st.history, len(st.settings.Options))
	for _, h := range hist {
		lists[0].marks[h.Size] = true
	}
	votes := lists[0]
	votes.keepTail, votes.tailFrom = true, 0
	for n := range votes.marks {
		votes.tailFrom = max(votes.tailFrom, n)
	}
}

// peekSize reads a checkpoint's size without checking anything, or -1.
func peekSize(data []byte) int64 {
	lines := strings.SplitN(string(data), "\n", 3)
	if len(lines) < 3 {
		return -1
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// failure notes that check failed, in file, at line ln of it (0 when the
// failure is not about a line).
func (l *list) failure(check, file string, ln int, msg string) {
	if l.fails == nil {
		l.fails = make(map[string]*Failure)
	}
	f := l.fails[check]
	if f == nil {
		if ln > 0 {
			msg = fmt.Sprintf("line %d: %s", ln, msg)
		}
		f = &Failure{Check: check, List: file, Message: msg}
		l.fails[check] = f
	}
	if ln > 0 && (len(f.Lines) == 0 || f.Lines[len(f.Lines)-1] != ln) {
		f.Count++
		if len(f.Lines) < MaxLines {
			f.Lines = append(f.Lines, ln)
		}
	}
}

func (st *logState) skip(check, reason string) {
	st.rep.Skipped = append(st.rep.Skipped, Skip{Check: check, Reason: reason})
}

func (st *logState) warn(format string, args ...any) {
	st.rep.Warnings = append(st.rep.Warnings, fmt.Sprintf(format, args...))
}

// missing skips check, or fails it under Strict.
func (st *logState) missing(l *list, check, file, reason string) {
	if st.opt.Strict {
		l.failure(check, file, 0, reason)
		return
	}
	st.skip(check, reason)
}

// open verifies a checkpoint under the key and checks its origin.
func (st *logState) open(data []byte, origin string) (*Checkpoint, error) {
	cp, err := OpenCheckpoint(data, st.verifier)
	if err == nil && cp.Origin != origin {
		err = fmt.Errorf("origin %q, want %q", cp.Origin, origin)
	}
	return cp, err
}

// logLists are the published lists of the logs, by listKind: the two
// lists and the retracted list.
var logLists = [3]published.List{voteList: published.Vote, authList: published.Auth, retractedList: published.Retracted}

// checkpointNames are the latest checkpoints of the two lists and of the
// retracted list; logOrigins their origins.
func checkpointNames(campaign string) (names [3]string) {
	for i, l := range logLists {
		names[i] = published.CheckpointName(campaign, l)
	}
	return names
}
func logOrigins(campaign string) (origins [3]string) {
	for i, l := range logLists {
		origins[i] = published.Origin(campaign, l)
	}
	return origins
}

// check makes the log checks on the scanned lists and the retracted list.
// It reads from src again only what they, read after the first reading,
// may have outgrown.
func (st *logState) check(src Source, lists [3]*list) error {
	keyName := published.LogKeyName(st.settings.Name)
	switch {
	case st.keyErr != "":
		lists[0].failure(CheckCheckpointSignature, keyName, 0, st.keyErr)
	case st.verifier == nil:
		st.missing(lists[0], CheckCheckpointSignature, keyName, keyName+" is not published and no key was given")
		st.skip(CheckCheckpointSize, "no log key")
		st.skip(CheckCheckpointRoot, "no log key")
	default:
		if err := st.checkLatest(src, lists); err != nil {
			return err
		}
	}
	st.checkSince(lists)
	if err := st.checkHistory(src, lists[0], len(st.settings.Options)); err != nil {
		return err
	}
	st.checkSettings(lists[0])
	return nil
}

// checkLatest checks each list against its latest checkpoint, and finds
// how many of its lines a verified checkpoint covers.
//
// The checkpoints were read before the lists, so a list may be longer
// than its checkpoint: a live publisher published a batch in between. But
// a dishonest source can pad a list the same way, with lines nobody
// signed, so the extra lines count only once a checkpoint whose
// signature verifies covers them (cover). Nothing is skipped because of
// timing: what no verified checkpoint covers is unsigned, and fails under
// Strict.
func (st *logState) checkLatest(src Source, lists [3]*list) error {
	s := st.settings
	names, origins := checkpointNames(s.Name), logOrigins(s.Name)
	for i, l := range lists {
		data := st.cps[i]
		if data == nil && l.absent && !st.opt.Strict {
			continue // no retracted list at all: its checks say so
		}
		if data == nil {
			st.missing(l, CheckCheckpointSignature, names[i], names[i]+" is not published")
			st.skip(CheckCheckpointSize, names[i]+" is not published")
			st.skip(CheckCheckpointRoot, names[i]+" is not published")
			continue
		}
		cp, err := st.open(data, origins[i])
		if err != nil {
			l.failure(CheckCheckpointSignature, names[i], 0, err.Error())
			st.skip(CheckCheckpointSize, names[i]+" does not verify")
			st.skip(CheckCheckpointRoot, names[i]+" does not verify")
			continue
		}
		latest := &namedCheckpoint{names[i], cp}
		st.verified = append(st.verified, *latest)
		n := int64(l.lines)
		if cp.Tree.N > n {
			l.failure(CheckCheckpointSize, names[i], 0,
				fmt.Sprintf("the checkpoint counts %d lines, %s has %d", cp.Tree.N, l.name, n))
			st.skip(CheckCheckpointRoot, fmt.Sprintf("%s: %s is shorter than the checkpoint", names[i], l.name))
			st.setLatest(i, latest, n) // the failure says it all
			continue
		}
		// The root is compared wherever the list reaches the checkpoint:
		// a list longer than its checkpoint must still begin with it.
		if m, ok := l.mark(cp.Tree.N, len(s.Options)); ok && m.Tree.Hash != cp.Tree.Hash {
			l.failure(CheckCheckpointRoot, names[i], 0,
				fmt.Sprintf("the checkpoint's root hash %s is not the tree hash %s of the first %d lines of %s", cp.Tree.Hash, m.Tree.Hash, cp.Tree.N, l.name))
		}
		signed := cp.Tree.N
		if signed < n {
			c, err := st.cover(src, l)
			if err != nil {
				return err
			}
			if c != nil {
				latest, signed = c, n
			}
		}
		st.setLatest(i, latest, signed)
		if signed < n {
			msg := fmt.Sprintf("lines %d to %d of %s are beyond its latest signed checkpoint (%d lines), and no checkpoint read covers them: they are not signed",
				signed+1, n, l.name, signed)
			if st.opt.Strict {
				l.failure(CheckCheckpointSize, names[i], 0, msg)
			} else {
				st.skip(CheckCheckpointSize, msg+"; they are not counted")
				st.rep.Unsigned = append(st.rep.Unsigned, Unsigned{List: l.name, First: signed + 1, Last: n})
			}
		}
	}
	return nil
}

func (st *logState) setLatest(i int, c *namedCheckpoint, signed int64) {
	st.latest[i], st.signed[i] = c, signed
	switch listKind(i) {
	case voteList:
		st.rep.Vote = c.cp
	case authList:
		st.rep.Auth = c.cp
	default:
		st.rep.Retracted = c.cp
	}
}

// cover looks for a checkpoint, signed by the key, of list l at exactly the
// size read: the latest checkpoint read again (the publisher may have
// caught up with the list), else the one the publisher keeps for every
// size a batch ended at (published.KeptCheckpointName). Every one read
// must verify, the second reading of the latest included: a source that
// answers it with a forged text fails checkpoint-signature. A latest
// checkpoint that is further ahead again covers nothing by itself, since
// the lines between are not read. It returns nil when none covers the
// list.
func (st *logState) cover(src Source, l *list) (*namedCheckpoint, error) {
	c, w, n := st.settings.Name, logLists[l.kind], int64(l.lines)
	name, origin := published.CheckpointName(c, w), published.Origin(c, w)
	for _, file := range []string{name, published.KeptCheckpointName(c, w, n)} {
		data, err := readOptional(src, file)
		if err != nil {
			return nil, err
		}
		if data == nil {
			continue
		}
		cp, err := st.open(data, origin)
		if err != nil {
			if file == name {
				err = fmt.Errorf("read again after %s: %w", l.name, err)
			}
			l.failure(CheckCheckpointSignature, file, 0, err.Error())
			continue
		}
		st.verified = append(st.verified, namedCheckpoint{file, cp})
		if cp.Tree.N != n {
			if file != name {
				l.failure(CheckCheckpointSize, file, 0, fmt.Sprintf("the checkpoint kept for %d lines counts %d", n, cp.Tree.N))
			}
			continue
		}
		if m, _ := l.mark(n, len(st.settings.Options)); m.Tree.Hash != cp.Tree.Hash {
			l.failure(CheckCheckpointRoot, file, 0,
				fmt.Sprintf("the checkpoint's root hash %s is not the tree hash %s of the %d lines of %s", cp.Tree.Hash, m.Tree.Hash, n, l.name))
			return nil, nil
		}
		return &namedCheckpoint{file, cp}, nil
	}
	return nil, nil
}

// checkSince checks that each list extends the earlier checkpoints.
//
// The earlier checkpoints are the auditor's own records: what the log
// showed them before, verified when it was saved (powvote audit
// --save-checkpoints keeps only checkpoints whose signature verified). So
// their roots are compared with the lists whether or not a log key is at
// hand now: a check that waited for the source to serve a key would let a
// source that rewrote its lists stop serving the key and pass. With a key
// (given, or served), each must also verify under it: an earlier
// checkpoint that does not was signed by another key, and a platform that
// changed its log key has started a new log, which is a failure too.
// Without one, the report says that the signatures were not verified.
func (st *logState) checkSince(lists [3]*list) {
	if len(st.opt.Since) == 0 {
		st.skip(CheckConsistency, "no earlier checkpoint given")
		return
	}
	s := st.settings
	unverified := 0
	for k, data := range st.opt.Since {
		what := fmt.Sprintf("earlier checkpoint %d", k+1)
		var cp *Checkpoint
		var err error
		if st.verifier != nil {
			if cp, err = OpenCheckpoint(data, st.verifier); err != nil {
				err = fmt.Errorf("%w: the log key is not the one that signed it", err)
			}
		} else {
			cp, err = openUnverified(data)
			unverified++
		}
		if err != nil {
			lists[0].failure(CheckConsistency, "", 0, fmt.Sprintf("%s: %v", what, err))
			continue
		}
		var l *list
		for i, origin := range logOrigins(s.Name) {
			if cp.Origin == origin {
				l = lists[i]
			}
		}
		if l == nil {
			lists[0].failure(CheckConsistency, "", 0, fmt.Sprintf("%s: origin %q is no list of campaign %s", what, cp.Origin, s.Name))
			continue
		}
		st.rep.Since = append(st.rep.Since, *cp)
		st.verified = append(st.verified, namedCheckpoint{what, cp})
		if cp.Tree.N > int64(l.lines) {
			l.failure(CheckConsistency, l.name, 0, fmt.Sprintf("%s counts %d lines, the list now only %d", what, cp.Tree.N, l.lines))
			continue
		}
		m, ok := l.mark(cp.Tree.N, len(s.Options))
		if !ok || m.Tree.Hash != cp.Tree.Hash {
			l.failure(CheckConsistency, l.name, 0,
				fmt.Sprintf("%s at %d lines: its root hash %s is not the tree hash %s of the first %d lines now; the list was rewritten", what, cp.Tree.N, cp.Tree.Hash, m.Tree.Hash, cp.Tree.N))
		}
	}
	if unverified > 0 {
		st.warn("no log key: the %d earlier checkpoint(s) were compared by the roots they hold, as the auditor's own records, without verifying their signatures", unverified)
	}
}

// checkSettings checks that every checkpoint that commits to settings
// commits to the ones audited against, that the latest checkpoints do
// commit to them, and that the settings are the auditor's own.
func (st *logState) checkSettings(votes *list) {
	name := published.SettingsName(st.settings.Name)
	for _, v := range st.verified {
		if v.cp.Settings != "" && v.cp.Settings != st.settingsHash {
			votes.failure(CheckSettings, v.name, 0,
				fmt.Sprintf("it commits to settings with SHA-256 %s, not to the settings audited against (%s)", v.cp.Settings, st.settingsHash))
		}
	}
	var reasons []string
	switch {
	case st.settingsGiven && st.servedSettings != nil && !bytes.Equal(st.servedSettings, st.settingsData):
		votes.failure(CheckSettings, name, 0,
			fmt.Sprintf("the source serves settings with SHA-256 %s, not the ones given (%s)", SettingsHash(st.servedSettings), st.settingsHash))
	case st.settingsGiven:
	case st.opt.Strict:
		votes.failure(CheckSettings, name, 0, "the settings were taken from the source under audit: nothing shows they are the ones the authority announced; give the auditor's own copy")
	default:
		reasons = append(reasons, "the settings were taken from the source under audit, not obtained independently")
	}
	if st.latest[0] == nil && st.latest[1] == nil {
		reasons = append(reasons, "no latest checkpoint verified, so none commits to the settings")
	}
	for _, c := range st.latest {
		if c == nil || c.cp.Settings != "" {
			continue
		}
		msg := c.name + " has no settings line (a publisher from before the line signed it): the log key does not sign the settings"
		if st.opt.Strict {
			votes.failure(CheckSettings, c.name, 0, msg)
		} else {
			reasons = append(reasons, msg)
		}
	}
	for _, r := range reasons {
		st.skip(CheckSettings, r)
	}
}

// ParseHistory reads the lines of a history whose ballot has nOptions
// options; bad holds, by line number, why each line it could not read was
// refused. Each line is read by listline.ParseHistory, the format's home
// (exactly its decimal fields, no sign, no leading zero), and no number
// may be beyond 2^53 - 1 (MaxHistoryNumber). A last line without its line
// feed, which a publisher may be writing still, is refused too.
//
// The results page (web/check/check.js, parseHistory) reads the history
// the same way; testdata/vectors/growth.json holds both to it. The audit
// checks the lines against the votes list; the organizer dashboard
// (package dashboard) reads them as they grow.
func ParseHistory(data []byte, nOptions int) (hist []HistoryLine, bad map[int]string) {
	text := string(data)
	if text == "" {
		return nil, nil
	}
	refuse := func(ln int, why string) {
		if bad == nil {
			bad = map[int]string{}
		}
		bad[ln] = why
	}
	lines := strings.Split(text, "\n")
	last := len(lines) // the line number of an unterminated last line
	if lines[len(lines)-1] == "" {
		lines, last = lines[:len(lines)-1], 0
	}
	for i, ln := range lines {
		if i+1 == last {
			refuse(last, "no final line feed")
			break
		}
		l, err := listline.ParseHistory(ln, nOptions)
		if err != nil {
			refuse(i+1, err.Error())
			continue
		}
		n := append([]int64{l.Size, l.Time}, l.Counts...)
		if k := slices.IndexFunc(n, func(v int64) bool { return v > MaxHistoryNumber }); k >= 0 {
			refuse(i+1, fmt.Sprintf("%d is beyond 2^53 - 1", n[k]))
			continue
		}
		h := HistoryLine{Line: i + 1, Size: n[0], Time: n[1], Counts: make([]int, nOptions)}
		for k := range nOptions {
			h.Counts[k] = int(n[2+k])
		}
		hist = append(hist, h)
	}
	return hist, bad
}

// MaxHistoryNumber bounds every number of a history line: 2^53 - 1, the
// largest integer the results page's JavaScript numbers hold exactly, so
// that the page and the audit read every history alike. No campaign comes
// near it.
const MaxHistoryNumber = 1<<53 - 1

// checkHistory checks the history against the votes list: it only grows,
// no count drops, every line's counts are the list's tally at its size,
// and it reaches the list's signed size (all of the list when no
// checkpoint verified).
//
// The history was read before the lists. When it stops short of them, the
// publisher may have published in between, so it is read once more: a
// history is append-only, so the first reading must be a prefix of the
// second. The second reading may go beyond the lists as read; those
// lines describe lines not read and are not checked, which the report
// says.
func (st *logState) checkHistory(src Source, votes *list, nOpt int) error {
	s := st.settings
	name := published.HistoryName(s.Name)
	if st.history == nil {
		st.missing(votes, CheckHistory, name, name+" is not published")
		return nil
	}
	target := st.signed[0]
	if target < 0 {
		target = int64(votes.lines)
	}
	hist, bad := ParseHistory(st.history, nOpt)
	if len(hist) == 0 || hist[len(hist)-1].Size < target {
		data, err := readOptional(src, name)
		if err != nil {
			return err
		}
		switch {
		case data == nil:
		case !bytes.HasPrefix(data, st.history):
			votes.failure(CheckHistory, name, 0, "it changed between two readings: the first is not the beginning of the second")
		default:
			st.history, st.reread = data, true
			hist, bad = ParseHistory(data, nOpt)
		}
	}
	st.rep.History = len(hist) + len(bad)
	fails := map[int]string{}
	for ln, msg := range bad {
		fails[ln] = msg
	}
	beyond := 0
	last := int64(0) // the last size the lists reach
	for i, h := range hist {
		if i > 0 {
			prev := hist[i-1]
			if h.Size <= prev.Size {
				fails[h.Line] = fmt.Sprintf("size %d does not grow from %d", h.Size, prev.Size)
				continue
			}
			if h.Time < prev.Time {
				fails[h.Line] = fmt.Sprintf("time %d before %d", h.Time, prev.Time)
				continue
			}
			dropped := false
			for k, c := range h.Counts {
				if c < prev.Counts[k] {
					fails[h.Line] = fmt.Sprintf("%q drops from %d to %d", s.Options[k], prev.Counts[k], c)
					dropped = true
					break
				}
			}
			if dropped {
				continue
			}
		}
		if h.Size > int64(votes.lines) {
			if st.reread {
				beyond++
				continue
			}
			fails[h.Line] = fmt.Sprintf("size %d, but %s has %d lines", h.Size, votes.name, votes.lines)
			continue
		}
		last = max(last, h.Size)
		tally, ok := votes.tallyAt(h.Size, nOpt)
		switch {
		case !ok:
			// Only a second reading can name a size the first did not
			// reach below the latest checkpoint's: not a history that
			// grew.
			fails[h.Line] = fmt.Sprintf("size %d: no tally of %s was kept at that size", h.Size, votes.name)
		case !slices.Equal(tally, h.Counts):
			fails[h.Line] = fmt.Sprintf("counts %s, but the first %d lines of %s give %s", joinInts(h.Counts), h.Size, votes.name, joinInts(tally))
		}
	}
	if beyond > 0 {
		st.warn("%s, read again after the lists, has %d line(s) beyond the %d lines of %s read: they were not checked", name, beyond, votes.lines, votes.name)
	}
	// The history must reach the list as signed.
	if last < target {
		ln := st.rep.History
		if ln == 0 {
			votes.failure(CheckHistory, name, 0, fmt.Sprintf("the history is empty, but %s has %d lines", votes.name, target))
		} else if _, failed := fails[ln]; !failed {
			fails[ln] = fmt.Sprintf("the history stops at %d lines, %s has %d", last, votes.name, target)
		}
	}
	lns := make([]int, 0, len(fails))
	for ln := range fails {
		lns = append(lns, ln)
	}
	sort.Ints(lns)
	for _, ln := range lns {
		votes.failure(CheckHistory, name, ln, fails[ln])
	}
	st.rep.Growth = HistoryGrowth(hist, s.Options)
	st.rep.Minutes = PerMinute(hist)
	return nil
}

// HistoryGrowth finds each option's largest increase between consecutive
// lines of hist (from zero before the first) and the median of its
// increases, most unusual first (Growth.Ratio, largest first; options of
// equal ratio in ballot order). options are the ballot, whose order
// hist's counts follow. An increase is the difference of the counts, so
// a count that drops gives a negative one; the median of an even number
// of increases is the mean of the middle two.
//
// The results page (web/check/check.js, historyGrowth) computes the same
// figures; testdata/vectors/growth.json holds both to them.
func HistoryGrowth(hist []HistoryLine, options []string) []Growth {
	if len(hist) == 0 {
		return nil
	}
	var out []Growth
	for k, o := range options {
		incs := make([]int, len(hist))
		g := Growth{Option: o}
		prev := 0
		for i, h := range hist {
			incs[i] = h.Counts[k] - prev
			prev = h.Counts[k]
			if incs[i] > g.Largest || i == 0 {
				g.Largest, g.AtSize, g.AtTime = incs[i], h.Size, h.Time
			}
		}
		sort.Ints(incs)
		if m := len(incs); m%2 == 1 {
			g.Median = float64(incs[m/2])
		} else {
			g.Median = float64(incs[m/2-1]+incs[m/2]) / 2
		}
		out = append(out, g)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ratio() > out[j].Ratio() })
	return out
}

// PerMinute keeps, of each run of consecutive lines of hist whose times
// fall in the same minute (UTC, counted from the Unix epoch), the last
// line: the history at minute granularity, as the reports and the results
// page draw it. The lines kept are hist's own, in its order.
func PerMinute(hist []HistoryLine) []HistoryLine {
	var out []HistoryLine
	for _, h := range hist {
		if n := len(out); n > 0 && minute(out[n-1].Time) == minute(h.Time) {
			out[n-1] = h
			continue
		}
		out = append(out, h)
	}
	return out
}

// minute is the start of the minute that holds Unix time t, also for a
// time before 1970 (Go's % keeps the sign of t).
func minute(t int64) int64 {
	return t - ((t%60)+60)%60
}

// writeText adds the log checks' findings to the text report.
func (lr *LogReport) writeText(b *strings.Builder) {
	for _, c := range []*Checkpoint{lr.Vote, lr.Auth, lr.Retracted} {
		if c != nil {
			fmt.Fprintf(b, "checkpoint %s: %d lines, root %s", c.Origin, c.Tree.N, c.Tree.Hash)
			if c.Settings != "" {
				fmt.Fprintf(b, ", settings %s", c.Settings)
			} else {
				b.WriteString(", no settings line")
			}
			b.WriteByte('\n')
		}
	}
	if lr.Key != "" {
		fmt.Fprintf(b, "log key (%s): %s\n", lr.KeyFrom, lr.Key)
	}
	for _, w := range lr.Warnings {
		fmt.Fprintf(b, "warning: %s\n", w)
	}
	if len(lr.Growth) > 0 {
		fmt.Fprintf(b, "\nlargest growth between history lines (%d lines), against the median:\n", lr.History)
		for _, g := range lr.Growth[:min(3, len(lr.Growth))] {
			fmt.Fprintf(b, "  %-24s +%d at size %d (median +%g)\n", strconv.Quote(g.Option), g.Largest, g.AtSize, g.Median)
		}
	}
	b.WriteByte('\n')
}

package audit

import (
	"encoding/base64"
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
)

// LogOptions asks Run to check, beyond the lists, what the publisher signs
// and records about them (docs/PUBLISHING.md): the latest checkpoint of
// each list, the history, and earlier checkpoints an auditor kept.
//
// The key, the checkpoints and the history are optional files: a source
// that does not have them (an edge whose publisher has no log key, a
// folder of lists only) gets those checks reported as skipped, with the
// reason, unless Strict is set.
type LogOptions struct {
	// Key is the note verifier key of the checkpoints, as text
	// ("powvote-solar+0dd4a274+Aep..."). Empty means the one the source
	// serves; an auditor should rather give a key obtained independently,
	// since a platform that rewrites its lists can serve a new key too.
	Key string
	// Since holds earlier checkpoints (signed notes, as served) of either
	// list, told apart by their origin. Each must verify under the key and
	// be a prefix of the list as read now.
	Since [][]byte
	// Strict fails the checks that need the key, the checkpoints or the
	// history when the source does not have them, rather than skipping
	// them. It does not touch the platform-stamp check, whose key an open
	// campaign legitimately lacks (see Options.UTCSignKey).
	Strict bool
}

// Mark is the state of a list after its first Tree.N lines: its tree head
// and, for the votes list, its tally in ballot order.
type Mark struct {
	Tree  tlog.Tree
	Tally []int
}

// Checkpoint is a checkpoint whose signature verified.
type Checkpoint struct {
	Origin string    `json:"origin"`
	Tree   tlog.Tree `json:"tree"`
	Note   []byte    `json:"-"` // the signed note as read, to keep for a later Since
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

// LogReport is what LogOptions adds to a Report.
type LogReport struct {
	Key     string       `json:"key,omitempty"`      // the verifier key used
	KeyFrom string       `json:"key_from,omitempty"` // "given", or the file it was read from
	Vote    *Checkpoint  `json:"vote_checkpoint,omitempty"`
	Auth    *Checkpoint  `json:"auth_checkpoint,omitempty"`
	Since   []Checkpoint `json:"since,omitempty"`
	History int          `json:"history_lines"`
	Growth  []Growth     `json:"growth,omitempty"` // most unusual first
	Skipped []Skip       `json:"skipped,omitempty"`
}

// Origins of the two lists' checkpoints.
func VoteOrigin(campaign string) string { return "powvote/" + campaign + "/vote" }
func AuthOrigin(campaign string) string { return "powvote/" + campaign + "/auth" }

// OpenCheckpoint verifies a checkpoint's signature under v and reads its
// text: origin, size and root hash (C2SP tlog-checkpoint; extension lines
// are allowed and ignored).
func OpenCheckpoint(data []byte, v note.Verifier) (*Checkpoint, error) {
	n, err := note.Open(data, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("not signed by %s", v.Name())
		}
		return nil, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return nil, errors.New("not a checkpoint: want origin, size and root hash lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, fmt.Errorf("not a checkpoint: size %q", lines[1])
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(raw) != len(tlog.Hash{}) {
		return nil, fmt.Errorf("not a checkpoint: root hash %q", lines[2])
	}
	return &Checkpoint{Origin: lines[0], Tree: tlog.Tree{N: size, Hash: tlog.Hash(raw)}, Note: data}, nil
}

// ParseLogKey reads a note verifier key.
func ParseLogKey(text string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return v, nil
}

// historyLine is one line of the history, parsed.
type historyLine struct {
	line   int // 1-based
	size   int64
	time   int64
	counts []int
}

// logState is what the publisher serves besides the lists, as read once
// before them.
type logState struct {
	settings *campaign.Settings
	opt      *LogOptions
	rep      *LogReport

	verifier note.Verifier // nil without a key
	keyErr   string        // why the key is unusable, "" when missing or fine
	cps      [2][]byte     // latest checkpoints as read; nil when missing
	history  []byte        // nil when missing
	racing   bool          // the lists grew while being read: they are ahead of the files
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

func fetchLogs(src Source, s *campaign.Settings, opt *LogOptions) (*logState, error) {
	st := &logState{settings: s, opt: opt, rep: &LogReport{}}
	key := opt.Key
	st.rep.KeyFrom = "given"
	if key == "" {
		b, err := readOptional(src, LogKeyName(s.Name))
		if err != nil {
			return nil, err
		}
		key, st.rep.KeyFrom = string(b), LogKeyName(s.Name)
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
	if err := st.fetchLatest(src); err != nil {
		return nil, err
	}
	return st, nil
}

// fetchLatest reads the latest checkpoints and the history.
func (st *logState) fetchLatest(src Source) error {
	var err error
	for i, name := range []string{VoteCheckpointName(st.settings.Name), AuthCheckpointName(st.settings.Name)} {
		if st.cps[i], err = readOptional(src, name); err != nil {
			return err
		}
	}
	st.history, err = readOptional(src, HistoryName(st.settings.Name))
	return err
}

// wantMarks asks the scans for the tree heads and tallies the checks need:
// at each checkpoint's size and each history line's.
func (st *logState) wantMarks(lists [2]*list) {
	for i, l := range lists {
		l.marks = make(map[int64]bool)
		if cp := st.peekSize(st.cps[i]); cp > 0 {
			l.marks[cp] = true
		}
		for _, data := range st.opt.Since {
			if cp := st.peekSize(data); cp > 0 {
				l.marks[cp] = true // marks on the other list cost nothing
			}
		}
	}
	hist, _ := parseHistory(st.history, len(st.settings.Options))
	for _, h := range hist {
		lists[0].marks[h.size] = true
	}
}

// peekSize reads a checkpoint's size without checking anything, or -1.
func (st *logState) peekSize(data []byte) int64 {
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

// missing skips check, or fails it under Strict.
func (st *logState) missing(l *list, check, file, reason string) {
	if st.opt.Strict {
		l.failure(check, file, 0, reason)
		return
	}
	st.skip(check, reason)
}

// check makes the log checks on the scanned lists.
func (st *logState) check(src Source, lists [2]*list) error {
	s := st.settings
	nOpt := len(s.Options)
	// The lists may have grown between reading the publisher's files and
	// reading the lists; read them again then, once, so that a live
	// publisher is compared with files of the same moment. The marks taken
	// at the sizes first read still serve the earlier checks.
	grew := false
	for i, l := range lists {
		if n := st.peekSize(st.cps[i]); n >= 0 && int64(l.lines) > n {
			grew = true
		}
	}
	if hist, _ := parseHistory(st.history, nOpt); len(hist) > 0 && int64(lists[0].lines) > hist[len(hist)-1].size {
		grew = true
	}
	if grew {
		before := *st
		if err := st.fetchLatest(src); err != nil {
			return err
		}
		// Grown again, past the lists as read: the files of the first
		// reading are kept, and what only timing explains is skipped
		// rather than failed.
		ahead := false
		for i, l := range lists {
			if st.peekSize(st.cps[i]) > int64(l.lines) {
				ahead = true
			}
		}
		if hist, _ := parseHistory(st.history, nOpt); len(hist) > 0 && hist[len(hist)-1].size > int64(lists[0].lines) {
			ahead = true
		}
		if ahead {
			*st = before
			st.racing = true
		}
	}

	keyName := LogKeyName(s.Name)
	switch {
	case st.keyErr != "":
		lists[0].failure(CheckCheckpointSignature, keyName, 0, st.keyErr)
	case st.verifier == nil:
		st.missing(lists[0], CheckCheckpointSignature, keyName, keyName+" is not published and no key was given")
		st.skip(CheckCheckpointSize, "no log key")
		st.skip(CheckCheckpointRoot, "no log key")
	default:
		st.checkLatest(lists)
	}
	st.checkSince(lists)
	st.checkHistory(lists[0], nOpt)
	return nil
}

func (st *logState) checkLatest(lists [2]*list) {
	s := st.settings
	names := [2]string{VoteCheckpointName(s.Name), AuthCheckpointName(s.Name)}
	origins := [2]string{VoteOrigin(s.Name), AuthOrigin(s.Name)}
	for i, l := range lists {
		data := st.cps[i]
		if data == nil {
			st.missing(l, CheckCheckpointSignature, names[i], names[i]+" is not published")
			st.skip(CheckCheckpointSize, names[i]+" is not published")
			st.skip(CheckCheckpointRoot, names[i]+" is not published")
			continue
		}
		cp, err := OpenCheckpoint(data, st.verifier)
		if err == nil && cp.Origin != origins[i] {
			err = fmt.Errorf("origin %q, want %q", cp.Origin, origins[i])
		}
		if err != nil {
			l.failure(CheckCheckpointSignature, names[i], 0, err.Error())
			st.skip(CheckCheckpointSize, names[i]+" does not verify")
			st.skip(CheckCheckpointRoot, names[i]+" does not verify")
			continue
		}
		if i == 0 {
			st.rep.Vote = cp
		} else {
			st.rep.Auth = cp
		}
		n := int64(l.lines)
		if st.racing && cp.Tree.N < n {
			st.skip(CheckCheckpointSize, fmt.Sprintf("%s grew while it was read; run the audit again", l.name))
		} else if cp.Tree.N != n {
			l.failure(CheckCheckpointSize, names[i], 0,
				fmt.Sprintf("the checkpoint counts %d lines, %s has %d", cp.Tree.N, l.name, n))
		}
		// The root is compared wherever the list reaches the checkpoint:
		// a list longer than its checkpoint must still begin with it.
		m, ok := l.mark(cp.Tree.N, len(s.Options))
		switch {
		case cp.Tree.N > n:
			st.skip(CheckCheckpointRoot, fmt.Sprintf("%s: %s is shorter than the checkpoint", names[i], l.name))
		case !ok:
			// Only a checkpoint read again, after a growth, can lack a mark.
			st.skip(CheckCheckpointRoot, fmt.Sprintf("%s grew while it was read; run the audit again", l.name))
		case m.Tree.Hash != cp.Tree.Hash:
			l.failure(CheckCheckpointRoot, names[i], 0,
				fmt.Sprintf("the checkpoint's root hash %s is not the tree hash %s of the first %d lines of %s", cp.Tree.Hash, m.Tree.Hash, cp.Tree.N, l.name))
		}
	}
}

func (st *logState) checkSince(lists [2]*list) {
	if len(st.opt.Since) == 0 {
		st.skip(CheckConsistency, "no earlier checkpoint given")
		return
	}
	if st.verifier == nil {
		st.skip(CheckConsistency, "no log key to verify the earlier checkpoints with")
		return
	}
	s := st.settings
	for k, data := range st.opt.Since {
		what := fmt.Sprintf("earlier checkpoint %d", k+1)
		cp, err := OpenCheckpoint(data, st.verifier)
		if err != nil {
			lists[0].failure(CheckConsistency, "", 0, fmt.Sprintf("%s: %v", what, err))
			continue
		}
		var l *list
		switch cp.Origin {
		case VoteOrigin(s.Name):
			l = lists[0]
		case AuthOrigin(s.Name):
			l = lists[1]
		default:
			lists[0].failure(CheckConsistency, "", 0, fmt.Sprintf("%s: origin %q is neither list of campaign %s", what, cp.Origin, s.Name))
			continue
		}
		st.rep.Since = append(st.rep.Since, *cp)
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
}

// parseHistory reads the history's lines; bad holds the problems of the
// lines it could not read, by line number.
func parseHistory(data []byte, nOptions int) (hist []historyLine, bad map[int]string) {
	text := string(data)
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		bad = map[int]string{len(lines): "no final line feed"}
	}
	for i, ln := range lines {
		f := strings.Fields(ln)
		if len(f) != 2+nOptions || strings.Join(f, " ") != ln {
			if bad == nil {
				bad = map[int]string{}
			}
			bad[i+1] = fmt.Sprintf("%d fields, want %d (size, time and a count per option)", len(f), 2+nOptions)
			continue
		}
		h := historyLine{line: i + 1, counts: make([]int, nOptions)}
		var errs []error
		var err error
		h.size, err = strconv.ParseInt(f[0], 10, 64)
		errs = append(errs, err)
		h.time, err = strconv.ParseInt(f[1], 10, 64)
		errs = append(errs, err)
		for k := range nOptions {
			h.counts[k], err = strconv.Atoi(f[2+k])
			errs = append(errs, err)
			if h.counts[k] < 0 {
				errs = append(errs, errors.New("negative count"))
			}
		}
		if err := errors.Join(errs...); err != nil || h.size < 0 {
			if bad == nil {
				bad = map[int]string{}
			}
			bad[i+1] = "not numbers"
			continue
		}
		hist = append(hist, h)
	}
	return hist, bad
}

func (st *logState) checkHistory(votes *list, nOpt int) {
	s := st.settings
	name := HistoryName(s.Name)
	if st.history == nil {
		st.missing(votes, CheckHistory, name, name+" is not published")
		return
	}
	hist, bad := parseHistory(st.history, nOpt)
	st.rep.History = len(hist) + len(bad)
	fails := map[int]string{}
	for ln, msg := range bad {
		fails[ln] = msg
	}
	for i, h := range hist {
		if i > 0 {
			prev := hist[i-1]
			if h.size <= prev.size {
				fails[h.line] = fmt.Sprintf("size %d does not grow from %d", h.size, prev.size)
				continue
			}
			if h.time < prev.time {
				fails[h.line] = fmt.Sprintf("time %d before %d", h.time, prev.time)
				continue
			}
			dropped := false
			for k, c := range h.counts {
				if c < prev.counts[k] {
					fails[h.line] = fmt.Sprintf("%q drops from %d to %d", s.Options[k], prev.counts[k], c)
					dropped = true
					break
				}
			}
			if dropped {
				continue
			}
		}
		if h.size > int64(votes.lines) {
			fails[h.line] = fmt.Sprintf("size %d, but %s has %d lines", h.size, votes.name, votes.lines)
			continue
		}
		if m, ok := votes.mark(h.size, nOpt); ok && !slices.Equal(m.Tally, h.counts) {
			fails[h.line] = fmt.Sprintf("counts %s, but the first %d lines of %s give %s", joinInts(h.counts), h.size, votes.name, joinInts(m.Tally))
		}
	}
	// The last line is the list as it stands.
	last := int64(0)
	if len(hist) > 0 {
		last = hist[len(hist)-1].size
	}
	if last < int64(votes.lines) && st.racing {
		st.skip(CheckHistory, fmt.Sprintf("%s grew while it was read; its last lines are not in the history read", votes.name))
	} else if last < int64(votes.lines) {
		ln := st.rep.History
		if ln == 0 {
			votes.failure(CheckHistory, name, 0, fmt.Sprintf("the history is empty, but %s has %d lines", votes.name, votes.lines))
		} else {
			fails[ln] = fmt.Sprintf("the history stops at %d lines, %s has %d", last, votes.name, votes.lines)
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
	st.rep.Growth = growth(hist, s.Options)
}

// growth finds each option's largest increase between consecutive history
// lines (from zero before the first) and the median increase, most
// unusual first.
func growth(hist []historyLine, options []string) []Growth {
	if len(hist) == 0 {
		return nil
	}
	var out []Growth
	for k, o := range options {
		incs := make([]int, len(hist))
		g := Growth{Option: o}
		prev := 0
		for i, h := range hist {
			incs[i] = h.counts[k] - prev
			prev = h.counts[k]
			if incs[i] > g.Largest || i == 0 {
				g.Largest, g.AtSize, g.AtTime = incs[i], h.size, h.time
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

// writeText adds the log checks' findings to the text report.
func (lr *LogReport) writeText(b *strings.Builder) {
	for _, c := range []*Checkpoint{lr.Vote, lr.Auth} {
		if c != nil {
			fmt.Fprintf(b, "checkpoint %s: %d lines, root %s\n", c.Origin, c.Tree.N, c.Tree.Hash)
		}
	}
	if lr.Key != "" {
		fmt.Fprintf(b, "log key (%s): %s\n", lr.KeyFrom, lr.Key)
	}
	if len(lr.Growth) > 0 {
		fmt.Fprintf(b, "\nlargest growth between history lines (%d lines), against the median:\n", lr.History)
		for _, g := range lr.Growth[:min(3, len(lr.Growth))] {
			fmt.Fprintf(b, "  %-24s +%d at size %d (median +%g)\n", strconv.Quote(g.Option), g.Largest, g.AtSize, g.Median)
		}
	}
	b.WriteByte('\n')
}

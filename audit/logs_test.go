package audit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// logKeys is a fixed signer and its verifier key for the checkpoints.
func logKeys(t *testing.T) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(strings.NewReader(strings.Repeat("k", 64)), "powvote-solar")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// checkpoint signs origin's checkpoint over the first n of ls, with the
// settings line of the shared fixture's settings.
func checkpoint(t *testing.T, s note.Signer, origin string, ls []string, n int) string {
	t.Helper()
	return checkpointWith(t, s, origin, ls, n, fixtureSettingsHash(t))
}

// checkpointWith signs origin's checkpoint over the first n of ls with the
// settings line settings ("" for none), written by hand rather than by
// CheckpointText.
func checkpointWith(t *testing.T, s note.Signer, origin string, ls []string, n int, settings string) string {
	t.Helper()
	h := mthHash(ls[:n]).Hash
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, n, base64.StdEncoding.EncodeToString(h[:]))
	if settings != "" {
		text += "settings " + settings + "\n"
	}
	b, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fixtureSettingsHash is the SHA-256 of the shared fixture's settings as
// the publisher serves them, in hex.
func fixtureSettingsHash(t *testing.T) string {
	t.Helper()
	b, err := sharedFixture(t).settings.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// otherSigner is a second key of the same name, as a platform that
// replaced its log key would hold.
func otherSigner(t *testing.T) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(strings.NewReader(strings.Repeat("n", 64)), "powvote-solar")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func mustMarshal(t *testing.T, f *fixture) []byte {
	t.Helper()
	b, err := f.settings.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeRetracted adds the retracted list, lines (none: empty), to a
// folder.
func writeRetracted(t *testing.T, dir Dir, lines ...string) Dir {
	t.Helper()
	text := strings.Join(lines, "\n")
	if len(lines) > 0 {
		text += "\n"
	}
	if err := os.WriteFile(filepath.Join(string(dir), "solar-retracted.log"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mthHash(ls []string) tlog.Tree {
	var tb treeBuilder
	for _, l := range ls {
		tb.push(tlog.RecordHash([]byte(l)))
	}
	return tb.head()
}

// history writes the history lines of votes at the given sizes.
func history(f *fixture, votes []string, sizes ...int) string {
	var b strings.Builder
	for _, n := range sizes {
		fmt.Fprintf(&b, "%d %d %s\n", n, 1000+n, strings.Trim(fmt.Sprint(tallyOf(f, votes[:n])), "[]"))
	}
	return b.String()
}

func TestLogs(t *testing.T) {
	f := sharedFixture(t)
	signer, vkey := logKeys(t)
	_, otherKey, err := note.GenerateKey(strings.NewReader(strings.Repeat("o", 64)), "powvote-solar")
	if err != nil {
		t.Fatal(err)
	}
	votes, voters := f.votes[:12], f.voters[:12]
	good := map[string]string{
		"solar-vote.checkpoint": checkpoint(t, signer, "powvote/solar/vote", votes, 12),
		"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/auth", voters, 12),
		"solar-log.vkey":        vkey + "\n",
		"solar-history.log":     history(f, votes, 4, 8, 12),
		// No retraction: the retracted list is empty, under a checkpoint.
		"solar-retracted.checkpoint": checkpoint(t, signer, "powvote/solar/retracted", nil, 0),
	}
	early := []byte(checkpoint(t, signer, "powvote/solar/vote", votes, 4))
	swapped := slices.Clone(votes)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	// A jump: one vote a line, then eight at once. A jump is no failure.
	jump := history(f, votes, 1, 2, 3, 4, 12)

	noSince := []string{CheckConsistency}
	otherSettings := strings.Repeat("0", 64)
	other := func(ls []string, origin string) string {
		return checkpointWith(t, signer, origin, ls, 12, otherSettings)
	}
	legacy := func(ls []string, origin string) string { return checkpointWith(t, signer, origin, ls, 12, "") }
	// A platform that rewrote the lists and signs them with a key of its
	// own, which it serves instead of the old one.
	newSigner, newKey := otherSigner(t)
	for _, c := range []struct {
		name     string
		votes    []string
		files    map[string]string // replace or add; "" removes
		opt      LogOptions
		notGiven bool // the settings are not the auditor's own
		fail     []string
		skipped  []string
	}{
		{name: "all good", votes: votes, skipped: noSince},
		{name: "since", votes: votes, opt: LogOptions{Since: [][]byte{early}}},
		{name: "since, rewritten", votes: swapped, opt: LogOptions{Since: [][]byte{early}},
			fail: []string{CheckCheckpointRoot, CheckConsistency}},
		{name: "since, other key", votes: votes, opt: LogOptions{Key: otherKey, Since: [][]byte{early}},
			fail: []string{CheckCheckpointSignature, CheckConsistency}, skipped: []string{CheckCheckpointSize, CheckCheckpointRoot, CheckSettings}},
		// The platform stops serving its key (and its checkpoints): the
		// earlier checkpoint, the auditor's own, still pins the prefix.
		{name: "since, rewritten, no key served", votes: swapped, opt: LogOptions{Since: [][]byte{early}},
			files: map[string]string{"solar-log.vkey": "", "solar-vote.checkpoint": "", "solar-auth.checkpoint": ""},
			fail:  []string{CheckConsistency}, skipped: []string{CheckCheckpointSignature, CheckCheckpointSize, CheckCheckpointRoot, CheckSettings}},
		{name: "since, no key served", votes: votes, opt: LogOptions{Since: [][]byte{early}},
			files:   map[string]string{"solar-log.vkey": "", "solar-vote.checkpoint": "", "solar-auth.checkpoint": ""},
			skipped: []string{CheckCheckpointSignature, CheckCheckpointSize, CheckCheckpointRoot, CheckSettings}},
		// It serves a key of its own and checkpoints of the rewritten
		// lists signed with it: the earlier checkpoint does not verify.
		{name: "since, rewritten, key replaced", votes: swapped, opt: LogOptions{Since: [][]byte{early}},
			files: map[string]string{"solar-log.vkey": newKey + "\n",
				"solar-vote.checkpoint":      checkpoint(t, newSigner, "powvote/solar/vote", swapped, 12),
				"solar-auth.checkpoint":      checkpoint(t, newSigner, "powvote/solar/auth", voters, 12),
				"solar-retracted.checkpoint": checkpoint(t, newSigner, "powvote/solar/retracted", nil, 0)},
			fail: []string{CheckConsistency}},
		{name: "key given", votes: votes, files: map[string]string{"solar-log.vkey": ""}, opt: LogOptions{Key: vkey}, skipped: noSince},
		{name: "nothing published", votes: votes, files: map[string]string{"solar-log.vkey": "", "solar-vote.checkpoint": "",
			"solar-auth.checkpoint": "", "solar-retracted.checkpoint": "", "solar-history.log": ""},
			skipped: []string{CheckCheckpointSignature, CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency, CheckHistory, CheckSettings}},
		{name: "nothing published, strict", votes: votes, files: map[string]string{"solar-log.vkey": "", "solar-vote.checkpoint": "",
			"solar-auth.checkpoint": "", "solar-retracted.checkpoint": "", "solar-history.log": ""}, opt: LogOptions{Strict: true},
			fail: []string{CheckCheckpointSignature, CheckHistory}, skipped: []string{CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency, CheckSettings}},
		{name: "wrong origin", votes: votes, files: map[string]string{"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/vote", voters, 12)},
			fail: []string{CheckCheckpointSignature}, skipped: []string{CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency}},
		{name: "count drops", votes: votes, files: map[string]string{"solar-history.log": strings.Replace(good["solar-history.log"], "8 1008 2", "8 1008 1", 1)},
			fail: []string{CheckHistory}, skipped: noSince},
		{name: "size does not grow", votes: votes, files: map[string]string{"solar-history.log": strings.Replace(good["solar-history.log"], "8 1008", "4 1008", 1)},
			fail: []string{CheckHistory}, skipped: noSince},
		{name: "jump", votes: votes, files: map[string]string{"solar-history.log": jump}, skipped: noSince},

		// The settings. Checkpoints that commit to other settings (the
		// platform added an authority of its own, say) fail, whatever else.
		{name: "other settings signed", votes: votes, files: map[string]string{
			"solar-vote.checkpoint": other(votes, "powvote/solar/vote"), "solar-auth.checkpoint": other(voters, "powvote/solar/auth")},
			fail: []string{CheckSettings}, skipped: noSince},
		{name: "other settings signed, earlier", votes: votes,
			opt:  LogOptions{Since: [][]byte{[]byte(checkpointWith(t, signer, "powvote/solar/vote", votes, 4, otherSettings))}},
			fail: []string{CheckSettings}},
		{name: "other settings served", votes: votes, files: map[string]string{"solar-settings.yaml": "name: solar\n"},
			fail: []string{CheckSettings}, skipped: noSince},
		{name: "settings served", votes: votes, files: map[string]string{"solar-settings.yaml": string(mustMarshal(t, f))}, skipped: noSince},
		// From a publisher from before the settings line: a warning, and a
		// failure under Strict.
		{name: "no settings line", votes: votes, files: map[string]string{
			"solar-vote.checkpoint": legacy(votes, "powvote/solar/vote"), "solar-auth.checkpoint": legacy(voters, "powvote/solar/auth")},
			skipped: []string{CheckConsistency, CheckSettings}},
		{name: "no settings line, strict", votes: votes, opt: LogOptions{Strict: true}, files: map[string]string{
			"solar-vote.checkpoint": legacy(votes, "powvote/solar/vote"), "solar-auth.checkpoint": legacy(voters, "powvote/solar/auth")},
			fail: []string{CheckSettings}, skipped: noSince},
		// Settings from the source under audit: a warning, and a failure
		// under Strict.
		{name: "settings not given", votes: votes, notGiven: true, skipped: []string{CheckConsistency, CheckSettings}},
		{name: "settings not given, strict", votes: votes, notGiven: true, opt: LogOptions{Strict: true}, fail: []string{CheckSettings}, skipped: noSince},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeRetracted(t, write(t, c.votes, voters))
			files := maps.Clone(good)
			maps.Copy(files, c.files)
			for name, text := range files {
				if text != "" {
					if err := os.WriteFile(filepath.Join(string(dir), name), []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			opt := c.opt
			r, err := Run(context.Background(), dir, f.settings, Options{Logs: &opt, SettingsGiven: !c.notGiven})
			if err != nil {
				t.Fatal(err)
			}
			var skipped []string
			for _, s := range r.Logs.Skipped {
				if !slices.Contains(skipped, s.Check) {
					skipped = append(skipped, s.Check)
				}
			}
			var text strings.Builder
			r.WriteText(&text)
			failed := slices.Compact(r.Failed()) // a check may fail on both lists
			if !slices.Equal(failed, c.fail) || !slices.Equal(skipped, c.skipped) {
				t.Errorf("failed %v, skipped %v; want %v and %v\n%s", failed, skipped, c.fail, c.skipped, text.String())
			}
			if strings.HasSuffix(c.name, "no key served") && !strings.Contains(text.String(), "warning: no log key: the 1 earlier checkpoint(s) were compared by the roots they hold") {
				t.Errorf("the text report does not say the earlier checkpoint was not verified:\n%s", text.String())
			}
			if c.name == "jump" && (len(r.Logs.Growth) == 0 || r.Logs.Growth[0].Largest != 2 || r.Logs.Growth[0].Median != 0) {
				t.Errorf("growth %+v", r.Logs.Growth)
			}
			for _, s := range c.skipped {
				if !strings.Contains(text.String(), "skip  "+s+" ") {
					t.Errorf("the text report does not skip %s:\n%s", s, text.String())
				}
			}
		})
	}
}

func tallyOf(f *fixture, votes []string) []int {
	counts := make([]int, len(f.settings.Options))
	for _, v := range votes {
		for k, o := range f.settings.Options {
			if strings.HasSuffix(v, `"`+o+`"`) {
				counts[k]++
			}
		}
	}
	return counts
}

func TestGrowth(t *testing.T) {
	hist := []HistoryLine{
		{Size: 4, Time: 1, Counts: []int{1, 3}},
		{Size: 8, Time: 2, Counts: []int{2, 6}},
		{Size: 112, Time: 3, Counts: []int{102, 8}},
		{Size: 116, Time: 4, Counts: []int{103, 10}},
	}
	g := HistoryGrowth(hist, []string{"A", "B"})
	// A: increments 1 1 100 1, median 1; B: 3 3 2 2, median 2.5.
	if len(g) != 2 || g[0].Option != "A" || g[0].Largest != 100 || g[0].Median != 1 || g[0].AtSize != 112 ||
		g[1].Largest != 3 || g[1].Median != 2.5 || g[1].AtSize != 4 {
		t.Errorf("growth %+v", g)
	}
}

// growingSource serves the files of a folder, but the latest checkpoints
// and history of an earlier size on the first reading: a publisher that
// published a batch between the audit's reading of them and of the lists.
type growingSource struct {
	Dir
	first map[string]string // file name to its content at the first Open
	later map[string]string // and at every later Open, if set
	opens map[string]int
}

func (g *growingSource) Open(name string) (io.ReadCloser, error) {
	g.opens[name]++
	if text, ok := g.first[name]; ok && g.opens[name] == 1 {
		return io.NopCloser(strings.NewReader(text)), nil
	}
	if text, ok := g.later[name]; ok {
		return io.NopCloser(strings.NewReader(text)), nil
	}
	return g.Dir.Open(name)
}

func TestLogsListGrew(t *testing.T) {
	f := sharedFixture(t)
	signer, vkey := logKeys(t)
	votes, voters := f.votes[:12], f.voters[:12]
	files := map[string]string{
		"solar-vote.checkpoint":      checkpoint(t, signer, "powvote/solar/vote", votes, 12),
		"solar-auth.checkpoint":      checkpoint(t, signer, "powvote/solar/auth", voters, 12),
		"solar-log.vkey":             vkey,
		"solar-history.log":          history(f, votes, 4, 8, 12),
		"solar-retracted.checkpoint": checkpoint(t, signer, "powvote/solar/retracted", nil, 0),
	}
	// What the publisher keeps for every size a batch ended at.
	kept := map[string]string{
		"solar-vote.checkpoint.12": files["solar-vote.checkpoint"],
		"solar-auth.checkpoint.12": files["solar-auth.checkpoint"],
	}
	earlier := map[string]string{
		"solar-vote.checkpoint": checkpoint(t, signer, "powvote/solar/vote", votes, 8),
		"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/auth", voters, 8),
		"solar-history.log":     history(f, votes, 4, 8),
	}
	more := f.votes[:20]
	moreVoters := f.voters[:20]
	ahead := map[string]string{
		"solar-vote.checkpoint": checkpoint(t, signer, "powvote/solar/vote", more, 20),
		"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/auth", moreVoters, 20),
		"solar-history.log":     history(f, more, 4, 8, 10, 12, 16, 20),
	}
	for _, c := range []struct {
		name     string
		later    map[string]string
		kept     bool
		strict   bool
		fail     []string
		skipped  []string
		unsigned bool
	}{
		// Read again, the files match the lists: every check is made.
		{name: "caught up", kept: true, skipped: []string{CheckConsistency}},
		// Read again, they are ahead, two batches on: the checkpoint kept
		// for the size read covers the lists, and the history is checked
		// up to it, at 10 as well (a size the first reading did not have).
		{name: "ahead again", later: ahead, kept: true, skipped: []string{CheckConsistency}},
		{name: "ahead again, strict", later: ahead, kept: true, strict: true, skipped: []string{CheckConsistency}},
		// No checkpoint covers lines 9 to 12: they are unsigned, not
		// counted, and fail under Strict.
		{name: "ahead again, none kept", later: ahead, skipped: []string{CheckCheckpointSize, CheckConsistency}, unsigned: true},
		{name: "ahead again, none kept, strict", later: ahead, strict: true, fail: []string{CheckCheckpointSize}, skipped: []string{CheckConsistency}, unsigned: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			all := maps.Clone(files)
			if c.kept {
				maps.Copy(all, kept)
			}
			dir := writeRetracted(t, write(t, votes, voters))
			for name, text := range all {
				if err := os.WriteFile(filepath.Join(string(dir), name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src := &growingSource{Dir: dir, first: earlier, later: c.later, opens: map[string]int{}}
			r, err := Run(context.Background(), src, f.settings, Options{Logs: &LogOptions{Strict: c.strict}, SettingsGiven: true})
			if err != nil {
				t.Fatal(err)
			}
			var skipped []string
			for _, s := range r.Logs.Skipped {
				if !slices.Contains(skipped, s.Check) {
					skipped = append(skipped, s.Check)
				}
			}
			var b strings.Builder
			r.WriteText(&b)
			if failed := slices.Compact(r.Failed()); !slices.Equal(failed, c.fail) || !slices.Equal(skipped, c.skipped) || src.opens["solar-vote.checkpoint"] != 2 {
				t.Errorf("failed %v (want %v), skipped %v (want %v), %d readings\n%s", failed, c.fail, skipped, c.skipped, src.opens["solar-vote.checkpoint"], b.String())
			}
			counted := votes
			if c.unsigned {
				counted = votes[:8]
				want := []Unsigned{{List: "solar-vote.log", First: 9, Last: 12}, {List: "solar-auth.log", First: 9, Last: 12}}
				if c.strict {
					want = nil
				}
				if !slices.Equal(r.Logs.Unsigned, want) {
					t.Errorf("unsigned %+v, want %+v", r.Logs.Unsigned, want)
				}
				if !c.strict && !strings.Contains(b.String(), "UNSIGNED: lines 9 to 12 of solar-vote.log") {
					t.Errorf("the text report does not say the lines are unsigned:\n%s", b.String())
				}
			}
			checkTally(t, r, counted)
			if c.later != nil && c.kept && !strings.Contains(b.String(), "warning: solar-history.log, read again after the lists, has 2 line(s) beyond") {
				t.Errorf("the history lines beyond the lists are not reported:\n%s", b.String())
			}
		})
	}
}

// TestLogsPaddedList plays a dishonest source that pads both lists with
// lines no checkpoint signs, and answers the audit's second reading of
// the latest checkpoints with a forged text of a larger size, as if the
// publisher had grown meanwhile: the second reading must verify, and
// under Strict the padding must fail; without it the padding is reported
// and left out of the tally.
func TestLogsPaddedList(t *testing.T) {
	f := sharedFixture(t)
	signer, vkey := logKeys(t)
	signedVotes, signedVoters := f.votes[:12], f.voters[:12]
	dir := writeRetracted(t, write(t, f.votes[:16], f.voters[:16])) // 4 lines nobody signed
	honest := map[string]string{
		"solar-vote.checkpoint":      checkpoint(t, signer, "powvote/solar/vote", signedVotes, 12),
		"solar-auth.checkpoint":      checkpoint(t, signer, "powvote/solar/auth", signedVoters, 12),
		"solar-log.vkey":             vkey,
		"solar-history.log":          history(f, signedVotes, 4, 8, 12),
		"solar-retracted.checkpoint": checkpoint(t, signer, "powvote/solar/retracted", nil, 0),
	}
	for name, text := range honest {
		if err := os.WriteFile(filepath.Join(string(dir), name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	forged := map[string]string{
		"solar-vote.checkpoint": "powvote/solar/vote\n99\nforged\n",
		"solar-auth.checkpoint": "powvote/solar/auth\n99\nforged\n",
		"solar-history.log":     history(f, signedVotes, 4, 8, 12) + "99 2000 25 25 25 24\n",
	}
	for _, c := range []struct {
		name   string
		later  map[string]string
		strict bool
		fail   []string
	}{
		{name: "forged second reading, strict", later: forged, strict: true,
			fail: []string{CheckCheckpointSignature, CheckCheckpointSize}},
		{name: "forged second reading", later: forged, fail: []string{CheckCheckpointSignature}},
		{name: "padded, strict", strict: true, fail: []string{CheckCheckpointSize}},
		{name: "padded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := &growingSource{Dir: dir, first: honest, later: c.later, opens: map[string]int{}}
			r, err := Run(context.Background(), src, f.settings, Options{Logs: &LogOptions{Strict: c.strict}, SettingsGiven: true})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			r.WriteText(&b)
			if failed := slices.Compact(r.Failed()); !slices.Equal(failed, c.fail) {
				t.Errorf("failed %v, want %v\n%s", failed, c.fail, b.String())
			}
			// Whatever the verdict, the 4 lines nobody signed are not
			// counted.
			checkTally(t, r, signedVotes)
			if !c.strict && !strings.Contains(b.String(), "UNSIGNED: lines 13 to 16 of solar-vote.log") {
				t.Errorf("the report does not say lines 13 to 16 are unsigned:\n%s", b.String())
			}
		})
	}
}

package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
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

// checkpoint signs origin's checkpoint over the first n of ls.
func checkpoint(t *testing.T, s note.Signer, origin string, ls []string, n int) string {
	t.Helper()
	h := mthHash(ls[:n]).Hash
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, n, base64.StdEncoding.EncodeToString(h[:]))
	b, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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
	}
	early := []byte(checkpoint(t, signer, "powvote/solar/vote", votes, 4))
	swapped := slices.Clone(votes)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	// A jump: one vote a line, then eight at once. A jump is no failure.
	jump := history(f, votes, 1, 2, 3, 4, 12)

	noSince := []string{CheckConsistency}
	for _, c := range []struct {
		name    string
		votes   []string
		files   map[string]string // replace or add; "" removes
		opt     LogOptions
		fail    []string
		skipped []string
	}{
		{name: "all good", votes: votes, skipped: noSince},
		{name: "since", votes: votes, opt: LogOptions{Since: [][]byte{early}}},
		{name: "since, rewritten", votes: swapped, opt: LogOptions{Since: [][]byte{early}},
			fail: []string{CheckCheckpointRoot, CheckConsistency}},
		{name: "since, other key", votes: votes, opt: LogOptions{Key: otherKey, Since: [][]byte{early}},
			fail: []string{CheckCheckpointSignature, CheckConsistency}, skipped: []string{CheckCheckpointSize, CheckCheckpointRoot}},
		{name: "key given", votes: votes, files: map[string]string{"solar-log.vkey": ""}, opt: LogOptions{Key: vkey}, skipped: noSince},
		{name: "nothing published", votes: votes, files: map[string]string{"solar-log.vkey": "", "solar-vote.checkpoint": "",
			"solar-auth.checkpoint": "", "solar-history.log": ""},
			skipped: []string{CheckCheckpointSignature, CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency, CheckHistory}},
		{name: "nothing published, strict", votes: votes, files: map[string]string{"solar-log.vkey": "", "solar-vote.checkpoint": "",
			"solar-auth.checkpoint": "", "solar-history.log": ""}, opt: LogOptions{Strict: true},
			fail: []string{CheckCheckpointSignature, CheckHistory}, skipped: []string{CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency}},
		{name: "wrong origin", votes: votes, files: map[string]string{"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/vote", voters, 12)},
			fail: []string{CheckCheckpointSignature}, skipped: []string{CheckCheckpointSize, CheckCheckpointRoot, CheckConsistency}},
		{name: "count drops", votes: votes, files: map[string]string{"solar-history.log": strings.Replace(good["solar-history.log"], "8 1008 2", "8 1008 1", 1)},
			fail: []string{CheckHistory}, skipped: noSince},
		{name: "size does not grow", votes: votes, files: map[string]string{"solar-history.log": strings.Replace(good["solar-history.log"], "8 1008", "4 1008", 1)},
			fail: []string{CheckHistory}, skipped: noSince},
		{name: "jump", votes: votes, files: map[string]string{"solar-history.log": jump}, skipped: noSince},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := write(t, c.votes, voters)
			for name, text := range good {
				if v, ok := c.files[name]; ok {
					text = v
				}
				if text != "" {
					if err := os.WriteFile(filepath.Join(string(dir), name), []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			opt := c.opt
			r, err := Run(context.Background(), dir, f.settings, Options{Logs: &opt})
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
	hist := []historyLine{
		{size: 4, time: 1, counts: []int{1, 3}},
		{size: 8, time: 2, counts: []int{2, 6}},
		{size: 112, time: 3, counts: []int{102, 8}},
		{size: 116, time: 4, counts: []int{103, 10}},
	}
	g := growth(hist, []string{"A", "B"})
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
	dir := write(t, votes, voters)
	files := map[string]string{
		"solar-vote.checkpoint": checkpoint(t, signer, "powvote/solar/vote", votes, 12),
		"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/auth", voters, 12),
		"solar-log.vkey":        vkey,
		"solar-history.log":     history(f, votes, 4, 8, 12),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(string(dir), name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	earlier := map[string]string{
		"solar-vote.checkpoint": checkpoint(t, signer, "powvote/solar/vote", votes, 8),
		"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/auth", voters, 8),
		"solar-history.log":     history(f, votes, 4, 8),
	}
	more := f.votes[:16]
	moreVoters := f.voters[:16]
	ahead := map[string]string{
		"solar-vote.checkpoint": checkpoint(t, signer, "powvote/solar/vote", more, 16),
		"solar-auth.checkpoint": checkpoint(t, signer, "powvote/solar/auth", moreVoters, 16),
		"solar-history.log":     history(f, more, 4, 8, 12, 16),
	}
	for _, c := range []struct {
		name    string
		later   map[string]string
		skipped []string
	}{
		// Read again, the files match the lists: every check is made.
		{"caught up", nil, []string{CheckConsistency}},
		// Read again, they are ahead: the first reading stands, and what
		// only timing explains is skipped.
		{"ahead again", ahead, []string{CheckCheckpointSize, CheckConsistency, CheckHistory}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := &growingSource{Dir: dir, first: earlier, later: c.later, opens: map[string]int{}}
			r, err := Run(context.Background(), src, f.settings, Options{Logs: &LogOptions{}})
			if err != nil {
				t.Fatal(err)
			}
			var skipped []string
			for _, s := range r.Logs.Skipped {
				if !slices.Contains(skipped, s.Check) {
					skipped = append(skipped, s.Check)
				}
			}
			if !r.OK() || !slices.Equal(skipped, c.skipped) || src.opens["solar-vote.checkpoint"] != 2 {
				var b strings.Builder
				r.WriteText(&b)
				t.Errorf("failed %v, skipped %v (want %v), %d readings\n%s", r.Failed(), skipped, c.skipped, src.opens["solar-vote.checkpoint"], b.String())
			}
		})
	}
}

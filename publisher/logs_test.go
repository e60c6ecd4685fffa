package publisher

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
)

var testOptions = []string{"Yes", "No", "Blank"}

// logPublisher is a publisher of campaign solar whose collectors never
// answer: the tests fill its queues themselves.
func logPublisher(t *testing.T, dir, key string, clock func() time.Time, tweak func(*Config)) *Publisher {
	t.Helper()
	cfg := Config{
		Campaign: "solar", Pairs: [][2]string{{"http://127.0.0.1:1", "http://127.0.0.1:2"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance),
		Dir: dir, Clock: clock, LogKey: key, Options: testOptions,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// item is a final vote and a final voter, as a round would queue them.
type item struct {
	vote  *pendingVote
	voter listline.Voter
}

func randomItems(t *testing.T, n int) []item {
	t.Helper()
	items := make([]item, n)
	for i := range items {
		items[i].vote = randomVote(t)
		items[i].vote.vote.Option = testOptions[i%len(testOptions)]
		items[i].vote.line = items[i].vote.vote.Line()
		rand.Read(items[i].voter.Pkey[:])
		rand.Read(items[i].voter.Sig[:])
		rand.Read(items[i].voter.ID[:])
	}
	return items
}

// feed queues these votes and voters as one round would and publishes.
func feed(t *testing.T, p *Publisher, votes []*pendingVote, voters []listline.Voter) {
	t.Helper()
	p.roundMu.Lock()
	defer p.roundMu.Unlock()
	for _, pv := range votes {
		p.queuedVotes[keyOf(pv.vote.Nonce)] = struct{}{}
	}
	for _, v := range voters {
		p.queuedVoters[v.Mandate()] = struct{}{}
	}
	p.voteQueue = append(p.voteQueue, votes...)
	p.voterQueue = append(p.voterQueue, voters...)
	if err := p.publish(); err != nil {
		t.Fatal(err)
	}
}

func votesOf(items []item) []*pendingVote {
	var out []*pendingVote
	for _, it := range items {
		out = append(out, it.vote)
	}
	return out
}

func votersOf(items []item) []listline.Voter {
	var out []listline.Voter
	for _, it := range items {
		out = append(out, it.voter)
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestBatches checks that a round publishes only while it can keep a
// batch back, that a batch takes as many votes as voters, and that Flush
// publishes the rest.
func TestBatches(t *testing.T) {
	dir := t.TempDir()
	p := logPublisher(t, dir, testLogKey(t), (&tickClock{}).now, func(c *Config) { c.BatchSize = 5 })
	items := randomItems(t, 12)
	lengths := func() (int, int) {
		return len(readLines(t, filepath.Join(dir, "solar-vote.log"))), len(readLines(t, filepath.Join(dir, "solar-auth.log")))
	}
	for _, step := range []struct {
		what          string
		votes, voters []item
		want          int // lines of each list after the step
	}{
		{"3 of each", items[:3], items[:3], 0},
		{"5 votes and 4 voters", items[3:5], items[3:4], 0},
		{"5 votes and 7 voters: a batch, but none left to keep back", nil, items[4:7], 0},
		{"10 votes and 7 voters", items[5:10], nil, 0},
		{"10 of each: a batch, and a batch kept back", nil, items[7:10], 5},
		{"7 of each ready", items[10:12], items[10:12], 5},
	} {
		feed(t, p, votesOf(step.votes), votersOf(step.voters))
		if v, a := lengths(); v != step.want || a != step.want || p.Status().Lines != int64(step.want) {
			t.Fatalf("%s, batch size 5: published %d and %d lines, want %d", step.what, v, a, step.want)
		}
	}
	if s := p.Status(); s.HeldVotes != 7 || s.HeldVoters != 7 {
		t.Errorf("status %+v, want 7 votes and 7 voters held", s)
	}

	// The collectors do not answer: Flush says so, and publishes anyway.
	if err := p.Flush(context.Background()); err == nil || errors.Is(err, ErrFailed) {
		t.Fatalf("Flush: %v, want the collectors' errors only", err)
	}
	if v, a := lengths(); v != 12 || a != 12 {
		t.Fatalf("after Flush: %d and %d lines, want 12 and 12", v, a)
	}
	if s := p.Status(); s.Lines != 12 || s.HeldVotes != 0 || s.HeldVoters != 0 {
		t.Errorf("status %+v after Flush", s)
	}

	// The history: one line per batch, the counts per option in ballot
	// order of the whole list at that size.
	hist := readLines(t, filepath.Join(dir, "solar-history.log"))
	if len(hist) != 2 {
		t.Fatalf("history:\n%s\nwant 2 lines", strings.Join(hist, "\n"))
	}
	votes := readLines(t, filepath.Join(dir, "solar-vote.log"))
	for j, size := range []int{5, 12} {
		f := strings.Fields(hist[j])
		if len(f) != 2+len(testOptions) || f[0] != strconv.Itoa(size) {
			t.Fatalf("history line %q, want size %d and %d counts", hist[j], size, len(testOptions))
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			t.Errorf("history line %q: time %v", hist[j], err)
		}
		for o, opt := range testOptions {
			n := 0
			for _, l := range votes[:size] {
				if strings.HasSuffix(l, `"`+opt+`"`) {
					n++
				}
			}
			if f[2+o] != strconv.Itoa(n) {
				t.Errorf("history line %q: %s counted %s, the list has %d", hist[j], opt, f[2+o], n)
			}
		}
	}

	// Past End, but before the close, rounds keep a batch back all the
	// same: votes stamped before the end still come in.
	ended := logPublisher(t, t.TempDir(), testLogKey(t), (&tickClock{}).now, func(c *Config) {
		c.BatchSize = 5
		c.End = time.Unix(1767225600, 0)
		c.CloseDelay = time.Hour
	})
	feed(t, ended, votesOf(items[:9]), votersOf(items[:9]))
	if s := ended.Status(); s.Lines != 0 || s.HeldVotes != 9 {
		t.Errorf("after End, 9 ready: status %+v, want nothing published", s)
	}
	feed(t, ended, votesOf(items[9:12]), votersOf(items[9:10]))
	if s := ended.Status(); s.Lines != 5 || s.HeldVotes != 7 || s.HeldVoters != 5 {
		t.Errorf("after End, 12 votes and 10 voters ready: status %+v, want 5 lines, 7 votes and 5 voters held", s)
	}
	if ended.Ended() {
		t.Error("Ended before End plus CloseDelay")
	}
}

// TestBatchOrderIndependent feeds one set of votes and voters to two
// publishers in different orders and groupings: the lists and the
// checkpoints come out byte for byte the same.
func TestBatchOrderIndependent(t *testing.T) {
	key := testLogKey(t)
	items := randomItems(t, 12)
	dirs := [2]string{t.TempDir(), t.TempDir()}
	a := logPublisher(t, dirs[0], key, (&tickClock{}).now, func(c *Config) { c.BatchSize = 12 })
	for j := 0; j < 12; j += 4 {
		feed(t, a, votesOf(items[j:j+4]), votersOf(items[j:j+4]))
	}
	b := logPublisher(t, dirs[1], key, (&tickClock{}).now, func(c *Config) { c.BatchSize = 12 })
	rev := slices.Clone(items)
	slices.Reverse(rev)
	feed(t, b, votesOf(rev[:9]), votersOf(rev[:2]))
	feed(t, b, votesOf(rev[9:]), votersOf(rev[2:]))
	// Twelve ready is one batch, with none to keep back: the last batch
	// publishes them.
	for _, p := range []*Publisher{a, b} {
		if err := p.Flush(context.Background()); errors.Is(err, ErrFailed) {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"solar-vote.log", "solar-auth.log", "solar-vote.checkpoint.12", "solar-auth.checkpoint.12"} {
		x, err := os.ReadFile(filepath.Join(dirs[0], name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(dirs[1], name))
		if err != nil {
			t.Fatal(err)
		}
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs with the arrival order:\n%s\n%s", name, x, y)
		}
	}
	if got := readLines(t, filepath.Join(dirs[0], "solar-vote.log")); len(got) != 12 {
		t.Errorf("%d votes published, want 12", len(got))
	}
}

// memHashes is a tlog.HashReader over hashes in memory, computed by the
// test from the lines it downloaded.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d of %d", x, len(m))
		}
		out[i] = m[x]
	}
	return out, nil
}

func treeOf(t *testing.T, ls []string) memHashes {
	t.Helper()
	var m memHashes
	for i, l := range ls {
		hs, err := tlog.StoredHashes(int64(i), []byte(l), m)
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
	}
	return m
}

// httpTiles reads the tiles of one log from the publisher as a client.
type httpTiles struct {
	t    *testing.T
	base string // ".../solar-vote"
}

func (r httpTiles) Height() int { return tileHeight }

func (r httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tl := range tiles {
		a := get(r.t, r.base+"/tile/"+published.TilePath(tl.L, tl.N, tl.W), nil)
		if a.status != 200 {
			return nil, fmt.Errorf("tile %v: status %d", tl, a.status)
		}
		out[i] = []byte(a.body)
	}
	return out, nil
}

func (r httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// serve serves p.Handle on loopback and returns the base URL.
func serve(t *testing.T, p *Publisher) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: p.Handle}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// openCheckpoint verifies a served checkpoint and returns its tree.
func openCheckpoint(t *testing.T, v note.Verifier, origin, msg string) tlog.Tree {
	t.Helper()
	n, err := note.Open([]byte(msg), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(%q): %v", msg, err)
	}
	f := strings.Split(n.Text, "\n")
	if len(f) != 4 || f[0] != origin || f[3] != "" {
		t.Fatalf("checkpoint text %q", n.Text)
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("checkpoint size %q", f[1])
	}
	root, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil || len(root) != tlog.HashSize {
		t.Fatalf("checkpoint root %q", f[2])
	}
	return tlog.Tree{N: size, Hash: tlog.Hash(root)}
}

// TestCheckpointsAndTiles publishes batches across a tile boundary and
// checks, as an auditor would from the served files only, the checkpoints,
// inclusion proofs, entry bundles and the consistency of two checkpoints.
func TestCheckpointsAndTiles(t *testing.T) {
	p := logPublisher(t, t.TempDir(), testLogKey(t), (&tickClock{}).now, nil)
	base := serve(t, p)
	items := randomItems(t, 308)
	for _, r := range [][2]int{{0, 3}, {3, 303}, {303, 308}} {
		feed(t, p, votesOf(items[r[0]:r[1]]), votersOf(items[r[0]:r[1]]))
	}

	vkey := get(t, base+"/solar-log.vkey", nil)
	if vkey.status != 200 {
		t.Fatalf("vkey: %d", vkey.status)
	}
	v, err := note.NewVerifier(strings.TrimSuffix(vkey.body, "\n"))
	if err != nil {
		t.Fatalf("served vkey %q: %v", vkey.body, err)
	}
	if v.Name() != "powvote-solar" {
		t.Errorf("vkey name %q", v.Name())
	}

	for _, word := range listWords {
		origin := "powvote/solar/" + word
		list := get(t, base+"/solar-"+word+".log", nil)
		ls := strings.Split(strings.TrimSuffix(list.body, "\n"), "\n")
		if len(ls) != 308 {
			t.Fatalf("%s: %d lines", word, len(ls))
		}
		mine := treeOf(t, ls)

		latest := get(t, base+"/solar-"+word+".checkpoint", nil)
		if other := get(t, base+"/solar-"+word+"/checkpoint", nil); other.body != latest.body {
			t.Errorf("%s/checkpoint differs from %s.checkpoint", word, word)
		}
		if kept := get(t, base+"/solar-"+word+".checkpoint.308", nil); kept.body != latest.body {
			t.Errorf("%s.checkpoint.308 differs from the latest", word)
		}
		tree := openCheckpoint(t, v, origin, latest.body)
		want, err := tlog.TreeHash(308, mine)
		if err != nil {
			t.Fatal(err)
		}
		if tree.N != 308 || tree.Hash != want {
			t.Fatalf("%s checkpoint %d %v, want 308 %v", word, tree.N, tree.Hash, want)
		}
		old := openCheckpoint(t, v, origin, get(t, base+"/solar-"+word+".checkpoint.3", nil).body)
		if want, _ := tlog.TreeHash(3, mine); old.N != 3 || old.Hash != want {
			t.Fatalf("%s checkpoint 3: %d %v, want %v", word, old.N, old.Hash, want)
		}

		// Any changed byte of the signed text is refused.
		text := latest.body[:strings.Index(latest.body, "\n\n")+1]
		for i := range text {
			b := []byte(latest.body)
			b[i] ^= 0x01
			if _, err := note.Open(b, note.VerifierList(v)); err == nil {
				t.Fatalf("%s checkpoint with byte %d changed still opens", word, i)
			}
		}

		// Proofs from the served tiles, checked against the checkpoint.
		thr := tlog.TileHashReader(tree, httpTiles{t, base + "/solar-" + word})
		for _, n := range []int64{0, 2, 255, 256, 307} {
			proof, err := tlog.ProveRecord(308, n, thr)
			if err != nil {
				t.Fatalf("%s: ProveRecord(308, %d): %v", word, n, err)
			}
			if err := tlog.CheckRecord(proof, 308, tree.Hash, n, tlog.RecordHash([]byte(ls[n]))); err != nil {
				t.Errorf("%s: leaf %d: %v", word, n, err)
			}
		}
		proof, err := tlog.ProveTree(308, 3, thr)
		if err != nil {
			t.Fatalf("%s: ProveTree: %v", word, err)
		}
		if err := tlog.CheckTree(proof, 308, tree.Hash, 3, old.Hash); err != nil {
			t.Errorf("%s: checkpoint 308 does not extend checkpoint 3: %v", word, err)
		}

		// Entry bundles hold the lines, full and partial.
		for _, c := range []struct {
			path     string
			from, to int
		}{{"entries/000", 0, 256}, {"entries/001.p/52", 256, 308}, {"entries/001.p/3", 256, 259}} {
			a := get(t, base+"/solar-"+word+"/tile/"+c.path, nil)
			var got []string
			for b := []byte(a.body); len(b) >= 2; {
				n := int(binary.BigEndian.Uint16(b))
				got, b = append(got, string(b[2:2+n])), b[2+n:]
			}
			if a.status != 200 || !slices.Equal(got, ls[c.from:c.to]) {
				t.Errorf("%s tile/%s: %d, %d entries, want lines %d to %d", word, c.path, a.status, len(got), c.from, c.to)
			}
		}
	}

	for path, status := range map[string]int{
		"/solar-vote.checkpoint.4":     404, // not a batch boundary
		"/solar-vote.checkpoint.309":   404,
		"/solar-vote.checkpoint.0":     404,
		"/solar-vote.checkpoint.03":    400,
		"/solar-vote/tile/0/002":       404,
		"/solar-vote/tile/0/001.p/53":  404,
		"/solar-vote/tile/1/000.p/2":   404,
		"/solar-vote/tile/1/000.p/1":   200,
		"/solar-auth/tile/entries/002": 404,
		"/solar-vote/tile/0/x000/001":  400,
		"/solar-vote/tile/0/1":         400,
		"/solar-town/tile/0/000":       400,
		"/solar-history.log":           200,
	} {
		if a := get(t, base+path, nil); a.status != status {
			t.Errorf("GET %s: %d, want %d", path, a.status, status)
		}
	}
}

// TestLogsRestart leaves what a crash between the lists and the state
// leaves (lines, hashes, a checkpoint and a history line beyond the
// commit, hashes missing), restarts, and checks that the logs resume
// where they were and grow consistently, with nothing lost or repeated.
func TestLogsRestart(t *testing.T) {
	dir, key, clock := t.TempDir(), testLogKey(t), &tickClock{}
	p := logPublisher(t, dir, key, clock.now, nil)
	items := randomItems(t, 10)
	feed(t, p, votesOf(items[:3]), votersOf(items[:3]))
	feed(t, p, votesOf(items[3:7]), votersOf(items[3:7]))
	files := []string{"solar-vote.log", "solar-auth.log", "solar-history.log", "solar-vote.checkpoint.7", "solar-auth.checkpoint.7", "solar-vote.hashes"}
	before := make(map[string]string)
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		before[name] = string(b)
	}
	p.Close()

	appendTo := func(name, s string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	appendTo("solar-vote.log", items[7].vote.line+"\n")
	appendTo("solar-auth.log", "half a line")
	appendTo("solar-vote.hashes", strings.Repeat("h", 40))
	appendTo("solar-history.log", "8 1767225700 1 1 1\n")
	if err := os.WriteFile(filepath.Join(dir, "solar-vote.checkpoint.8"), []byte("orphan"), 0o644); err != nil {
		t.Fatal(err)
	}
	hp := filepath.Join(dir, "solar-auth.hashes")
	fi, err := os.Stat(hp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(hp, fi.Size()-40); err != nil { // one hash and a torn one gone
		t.Fatal(err)
	}

	p = logPublisher(t, dir, key, clock.now, nil)
	for _, name := range files {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if string(b) != before[name] {
			t.Errorf("%s after restart differs from what was committed", name)
		}
	}
	b, _ := os.ReadFile(hp)
	if int64(len(b)) != tlog.StoredHashCount(7)*tlog.HashSize {
		t.Errorf("%s holds %d bytes after restart, want the hashes of 7 leaves", hp, len(b))
	}
	if _, err := os.Stat(filepath.Join(dir, "solar-vote.checkpoint.8")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the uncommitted checkpoint is still there: %v", err)
	}
	if got := string(p.snap.Load().checkpoint[votersList]); got != before["solar-auth.checkpoint.7"] {
		t.Errorf("latest checkpoint after restart %q", got)
	}

	// The logs grow from there, consistently with the old checkpoints.
	feed(t, p, votesOf(items[7:]), votersOf(items[7:]))
	v, err := note.NewVerifier(p.key.vkey)
	if err != nil {
		t.Fatal(err)
	}
	for i, word := range listWords {
		ls := readLines(t, filepath.Join(dir, "solar-"+word+".log"))
		if len(ls) != 10 || len(slices.Compact(slices.Sorted(slices.Values(ls)))) != 10 {
			t.Fatalf("%s: %d lines, or some twice", word, len(ls))
		}
		mine := treeOf(t, ls)
		cp, _ := os.ReadFile(filepath.Join(dir, "solar-"+word+".checkpoint.10"))
		tree := openCheckpoint(t, v, p.trees[i].origin, string(cp))
		if want, _ := tlog.TreeHash(10, mine); tree.N != 10 || tree.Hash != want {
			t.Errorf("%s: checkpoint after restart does not match the list", word)
		}
		old := openCheckpoint(t, v, p.trees[i].origin, before["solar-"+word+".checkpoint.7"])
		proof, err := tlog.ProveTree(10, 7, mine)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(proof, 10, tree.Hash, 7, old.Hash); err != nil {
			t.Errorf("%s: checkpoint 10 does not extend checkpoint 7: %v", word, err)
		}
	}
	hist := readLines(t, filepath.Join(dir, "solar-history.log"))
	if len(hist) != 3 || !strings.HasPrefix(hist[2], "10 ") {
		t.Errorf("history after restart:\n%s", strings.Join(hist, "\n"))
	}
	p.Close()

	// A checkpoint that the key does not sign for these lists is refused.
	if err := os.WriteFile(filepath.Join(dir, "solar-vote.checkpoint.10"), []byte(before["solar-vote.checkpoint.7"]), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{
		Campaign: "solar", Pairs: [][2]string{{"http://127.0.0.1:1", "http://127.0.0.1:2"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance),
		Dir: dir, Clock: clock.now, LogKey: key, Options: testOptions,
	}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("New with a wrong checkpoint: %v, want ErrCorrupt", err)
	}
}

// TestLogsRestartSettingsLine restarts a publisher over a directory
// written before checkpoints carried the settings line: it starts, serves
// the latest checkpoint as it was, and signs the next batch's with the
// line; restarted with other settings, or none, it refuses to start and
// names the settings.
func TestLogsRestartSettingsLine(t *testing.T) {
	dir, key, clock := t.TempDir(), testLogKey(t), &tickClock{}
	settings := []byte("name: solar\n")
	// Without Settings a publisher signs three-line checkpoints, exactly
	// what one from before the line wrote.
	p := logPublisher(t, dir, key, clock.now, nil)
	items := randomItems(t, 6)
	feed(t, p, votesOf(items[:3]), votersOf(items[:3]))
	old, err := os.ReadFile(filepath.Join(dir, "solar-vote.checkpoint.3"))
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if strings.Count(string(old), "\n") != 5 || strings.Contains(string(old), "settings") {
		t.Fatalf("a checkpoint without Settings:\n%s", old)
	}

	var log logBuffer
	p = logPublisher(t, dir, key, clock.now, func(c *Config) {
		c.Settings = settings
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	if code, got := fetch(t, p, "/solar-vote.checkpoint"); code != 200 || !bytes.Equal(got, old) {
		t.Errorf("latest checkpoint after the restart: %d\n%s\nwant the one on disk\n%s", code, got, old)
	}
	if !strings.Contains(log.String(), "signed before checkpoints carried the settings line") {
		t.Errorf("the restart does not warn:\n%s", log.String())
	}
	feed(t, p, votesOf(items[3:]), votersOf(items[3:]))
	v, err := note.NewVerifier(p.key.vkey)
	if err != nil {
		t.Fatal(err)
	}
	for i, word := range listWords {
		latest, err := os.ReadFile(filepath.Join(dir, "solar-"+word+".checkpoint.6"))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := audit.OpenCheckpoint(latest, v)
		if err != nil || cp.Origin != p.trees[i].origin || cp.Tree.N != 6 || cp.Settings != audit.SettingsHash(settings) {
			t.Errorf("%s checkpoint after the restart: %+v, %v", word, cp, err)
		}
		if _, got := fetch(t, p, "/solar-"+word+".checkpoint"); !bytes.Equal(got, latest) {
			t.Errorf("%s: the latest checkpoint served is not the new one:\n%s", word, got)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "solar-vote.checkpoint.3")); !bytes.Equal(b, old) {
		t.Errorf("the old checkpoint file changed:\n%s", b)
	}
	p.Close()

	// The same settings again: it starts as usual.
	logPublisher(t, dir, key, clock.now, func(c *Config) { c.Settings = settings }).Close()
	for _, other := range [][]byte{[]byte("name: solar\nthreshold: 1\n"), nil} {
		_, err := New(Config{
			Campaign: "solar", Pairs: [][2]string{{"http://127.0.0.1:1", "http://127.0.0.1:2"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance),
			Dir: dir, Clock: clock.now, LogKey: key, Options: testOptions, Settings: other,
		})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "commits to settings with SHA-256 "+audit.SettingsHash(settings)) ||
			!strings.Contains(err.Error(), "the settings changed after the log signed them") {
			t.Errorf("New with settings %q: %v", other, err)
		}
	}
}

// TestLogKeyRefused checks that New names a log key it cannot use.
func TestLogKeyRefused(t *testing.T) {
	other, _, err := note.GenerateKey(rand.Reader, "powvote-town")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		other:               `LogKey: key name "powvote-town", want "powvote-solar"`,
		"PRIVATE+KEY+x+1+2": "LogKey:",
	} {
		_, err := New(Config{
			Campaign: "solar", Pairs: [][2]string{{"http://127.0.0.1:1", "http://127.0.0.1:2"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance),
			Dir: t.TempDir(), LogKey: key,
		})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LogKey %q: %v, want %q", key, err, want)
		}
	}
}

// TestExampleCheckpoint checks the worked example of the package
// documentation: the key, its verifier key and the checkpoint, byte for
// byte, through a real publisher.
func TestExampleCheckpoint(t *testing.T) {
	const skey = "PRIVATE+KEY+powvote-solar+0dd4a274+AQcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH"
	const vkey = "powvote-solar+0dd4a274+AepKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs"
	const want = "powvote/solar/vote\n1\n7SzLwCSl0yXBYxbgIz+cLaOHWDMCIfcF+dMd4NIMo6U=\n" +
		"settings d37e5747311cd2cf341f162afbec4495585e153769841018d80aedbadc89e548\n\n" +
		"— powvote-solar DdSidFnq28pm851LpPTC03zo7nGJYhh69vG4LhdKOWbOq3zfw5vPNpIhhtZL6wgVmEPVfb0HptkwGwNWexxzSX71KgI=\n"
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(strings.Split(strings.TrimSuffix(want, "\n"), "\n"), skey, vkey) {
		if l != "" && !bytes.Contains(doc, []byte(l)) {
			t.Errorf("doc.go does not show %q", l)
		}
	}

	p := logPublisher(t, t.TempDir(), skey, (&tickClock{}).now, func(c *Config) { c.Settings = []byte("name: solar\n") })
	if p.key.vkey != vkey {
		t.Errorf("verifier key %q, want %q", p.key.vkey, vkey)
	}
	v, err := listline.ParseVote(exampleVote)
	if err != nil {
		t.Fatal(err)
	}
	var m listline.Voter
	feed(t, p, []*pendingVote{{vote: v, line: exampleVote}}, []listline.Voter{m})
	if got := string(p.snap.Load().checkpoint[votesList]); got != want {
		t.Errorf("checkpoint:\n%s\nwant:\n%s", got, want)
	}
}

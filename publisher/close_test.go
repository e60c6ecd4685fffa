package publisher

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/wire"
)

// fetch asks the publisher's handler for a path, as a client would, and
// returns the status and the body.
func fetch(t *testing.T, p *Publisher, path string) (int, []byte) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(path)
	ctx.Request.Header.SetMethod("GET")
	p.Handle(&ctx)
	return ctx.Response.StatusCode(), slices.Clone(ctx.Response.Body())
}

// jumpClock ticks like tickClock, plus an offset the test moves forward
// to pass the campaign's end.
type jumpClock struct {
	tick *tickClock
	skip atomic.Int64
}

func (c *jumpClock) now() time.Time {
	return c.tick.now().Add(time.Duration(c.skip.Load()) * time.Second)
}

// untar extracts a gzipped tar archive into dir and returns the names of
// its regular files, which must all stand in the folder solar/.
func untar(t *testing.T, archive []byte, dir string) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		name, ok := strings.CutPrefix(h.Name, "solar/")
		if !ok || strings.Contains(name, "/") || h.Typeflag != tar.TypeReg {
			t.Fatalf("archive member %q (type %c), want a file in solar/", h.Name, h.Typeflag)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// TestCloseAndRetractions runs a campaign through its end: the settings
// are served byte for byte from the start, a split leaves its losing vote
// in the retracted list and out of the votes list, the keys and the
// archive are 404 until the end, the end publishes the last batch (what
// was kept back) and closes, the archive holds everything an offline
// audit needs, and a restart after the close serves the same files and
// publishes nothing.
func TestCloseAndRetractions(t *testing.T) {
	tc := newTestCampaign(t)
	settings, err := tc.settings.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pr := startPair(t, tc, 0)
	dir := t.TempDir()
	clock := &jumpClock{tick: &tc.clock}
	end := time.Unix(1767225600+100000, 0)
	pubOf := func(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
	tweak := func(c *Config) {
		c.BatchSize = 3
		c.End = end
		c.CloseDelay = time.Minute
		c.Clock = clock.now
		c.Settings = settings
		c.UTCSignPub, c.UTCHolePub, c.ReceiptPub = pubOf(tc.secrets.UTCSign), pubOf(tc.secrets.UTCHole), pubOf(tc.secrets.ReceiptKey)
	}
	tp := newPublisher(t, tc, dir, []*testPair{pr}, tweak)

	if code, body := fetch(t, tp.Publisher, "/solar-settings.yaml"); code != 200 || !bytes.Equal(body, settings) {
		t.Fatalf("settings: %d\n%s\nwant 200 and\n%s", code, body, settings)
	}
	for _, path := range []string{"/solar-keys.txt", "/solar-archive.tar.gz"} {
		if code, _ := fetch(t, tp.Publisher, path); code != 404 {
			t.Errorf("%s before the end: %d, want 404", path, code)
		}
	}

	var voters []listline.Voter
	var votes []listline.Vote
	for j := range 7 {
		m, v := tc.mandate(t), tc.vote(t, j, 1)
		tc.cast(t, pr.urls[0], m, v)
		tc.cast(t, pr.urls[1], m, v)
		voters, votes = append(voters, m), append(votes, v)
		if j == 5 {
			tp.mustRound(t) // a batch, and a batch to keep back
		}
	}
	tp.mustRound(t)
	if s := tp.Status(); s.Lines != 3 || s.HeldVotes != 4 || s.HeldVoters != 4 {
		t.Fatalf("status %+v, want a batch of 3 and 4 of each held", s)
	}

	// A mandate votes twice during a split; the older stamp wins.
	pr.setTwins(false)
	m := tc.mandate(t)
	winner, loser := tc.vote(t, 0, 2), tc.vote(t, 1, 1)
	tc.cast(t, pr.urls[0], m, winner)
	tc.cast(t, pr.urls[1], m, loser)
	pr.setTwins(true)
	eventually(t, "instance 1 retracted the losing vote", func() bool {
		r := tc.records(t, pr.urls[1])
		return strings.Contains(r, "retract "+hex.EncodeToString(loser.Nonce)) && strings.Contains(r, winner.Line())
	})
	tp.mustRound(t)
	// The retraction names its winner, which waits in the queue: it
	// waits too.
	if code, body := fetch(t, tp.Publisher, "/solar-retracted.log"); code != 200 || len(body) != 0 {
		t.Errorf("retracted list before its winner is published: %d\n%s\nwant it empty", code, body)
	}
	if s := tp.Status(); s.Lines != 3 || s.HeldVotes != 5 || s.Closed {
		t.Fatalf("status %+v before the end, want 3 lines and 5 votes held", s)
	}

	// The end: the next round publishes the last batch and closes.
	clock.skip.Store(end.Unix() - clock.tick.now().Unix() + 120)
	tp.mustRound(t)
	voters, votes = append(voters, m), append(votes, winner)
	tp.wantPublished(t, voters, votes)
	if s := tp.Status(); s.Lines != 8 || !s.Closed {
		t.Fatalf("status %+v after the end, want 8 lines and closed", s)
	}
	if got, _ := tp.lists(t); strings.Contains(strings.Join(got, "\n"), loser.Voter) {
		t.Errorf("the retracted vote is in the votes list")
	}
	// The losing vote's line, bound by the receipt key to the winner's.
	sig := wire.SignRetraction(tc.secrets.ReceiptKey, "solar", loser.Line(), winner.Line())
	retracted := listline.Retracted{Winner: winner.Nonce, Sig: [64]byte(sig), Vote: loser}.Line()
	if code, body := fetch(t, tp.Publisher, "/solar-retracted.log"); code != 200 || string(body) != retracted+"\n" {
		t.Errorf("retracted list: %d\n%s\nwant\n%s", code, body, retracted)
	}

	code, keys := fetch(t, tp.Publisher, "/solar-keys.txt")
	b64 := base64.StdEncoding.EncodeToString
	vkey := strings.TrimSpace(string(mustFetch(t, tp.Publisher, "/solar-log.vkey")))
	wantKeys := "utc-sign " + b64(pubOf(tc.secrets.UTCSign)) + "\nutc-hole " + b64(pubOf(tc.secrets.UTCHole)) +
		"\nreceipt " + b64(pubOf(tc.secrets.ReceiptKey)) + "\nlog " + vkey + "\n"
	if code != 200 || string(keys) != wantKeys {
		t.Errorf("keys: %d\n%s\nwant\n%s", code, keys, wantKeys)
	}

	// The archive untars into a folder an auditor can work from.
	archive := mustFetch(t, tp.Publisher, "/solar-archive.tar.gz")
	out := t.TempDir()
	names := untar(t, archive, out)
	hist := readLines(t, filepath.Join(dir, "solar-history.log"))
	want := []string{"solar-vote.log", "solar-auth.log", "solar-retracted.log", "solar-keys.txt", "solar-settings.yaml",
		"solar-history.log", "solar-log.vkey", "solar-vote.checkpoint", "solar-auth.checkpoint",
		"solar-retracted.checkpoint", "solar-retracted.checkpoint.1"}
	for _, h := range hist {
		size := strings.Fields(h)[0]
		want = append(want, "solar-vote.checkpoint."+size, "solar-auth.checkpoint."+size)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("archive holds %v, want %v", names, want)
	}
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if served := mustFetch(t, tp.Publisher, "/"+name); !bytes.Equal(got, served) {
			t.Errorf("%s in the archive differs from the one served", name)
		}
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	for i, word := range listWords {
		leaves := readLines(t, filepath.Join(out, "solar-"+word+".log"))
		for _, h := range hist {
			size, _ := strconv.ParseInt(strings.Fields(h)[0], 10, 64)
			b, err := os.ReadFile(filepath.Join(out, "solar-"+word+".checkpoint."+strconv.FormatInt(size, 10)))
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Open(b, note.VerifierList(verifier))
			if err != nil {
				t.Fatalf("%s checkpoint at %d: %v", word, size, err)
			}
			if got, want := n.Text, wantCheckpointText(t, "powvote/solar/"+word, leaves[:size], settings); got != want {
				t.Errorf("%s checkpoint at %d:\n%s\nwant\n%s", listWords[i], size, got, want)
			}
		}
	}
	for _, name := range []string{"solar-retracted.checkpoint", "solar-retracted.checkpoint.1"} {
		n, err := note.Open(mustRead(t, filepath.Join(out, name)), note.VerifierList(verifier))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := wantCheckpointText(t, "powvote/solar/retracted", []string{retracted}, settings); n.Text != want {
			t.Errorf("%s:\n%s\nwant\n%s", name, n.Text, want)
		}
	}

	// The folder is enough for an offline audit: its settings, its lists
	// and its checkpoints, every one of which holds. (The test votes carry
	// no proof of work, which the collectors leave to the edge, so the
	// checks of the votes themselves fail here.)
	fromArchive, err := campaign.Parse(mustRead(t, filepath.Join(out, "solar-settings.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	var since [][]byte
	for _, name := range names {
		if strings.Contains(name, ".checkpoint.") {
			since = append(since, mustRead(t, filepath.Join(out, name)))
		}
	}
	// The test's own copy of the settings stands for the auditor's.
	rep, err := audit.Run(context.Background(), audit.Dir(out), fromArchive, audit.Options{
		Logs:         &audit.LogOptions{Key: vkey, Since: since, Strict: true},
		SettingsData: settings, SettingsGiven: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The test's votes go straight to the collectors, which leave proof of
	// work and the platform stamp to the edge: those two checks fail, and
	// the platform-stamp one shows the archive's keys file was read.
	failed := map[string]bool{}
	for _, check := range rep.Failed() {
		failed[check] = true
		if check != "proof-of-work" && check != "platform-stamp" {
			t.Errorf("audit of the archive: check %s failed: %+v", check, rep.Failures)
		}
	}
	if !failed["platform-stamp"] {
		t.Error("audit of the archive did not check the platform stamps: keys file not used")
	}
	if rep.Votes != 8 || rep.Voters != 8 || rep.Logs == nil || len(rep.Logs.Since) != len(since) || rep.Logs.History != len(hist) {
		t.Errorf("audit of the archive: %d votes, %d voters, logs %+v", rep.Votes, rep.Voters, rep.Logs)
	}
	// The retraction is bound to its winner under the keys file's receipt
	// key, and counted.
	if rep.Retractions != 1 || rep.ReceiptKeyFrom != "solar-keys.txt" {
		t.Errorf("audit of the archive: %d retractions, receipt key from %q; want 1 from the keys file", rep.Retractions, rep.ReceiptKeyFrom)
	}

	// A restart after the close serves the same files and publishes
	// nothing more, whatever the collectors receive.
	served := make(map[string][]byte)
	for _, name := range names {
		served[name] = mustFetch(t, tp.Publisher, "/"+name)
	}
	served["solar-archive.tar.gz"] = archive
	tp.Close()
	late, lateVote := tc.mandate(t), tc.vote(t, 2, 1)
	tc.cast(t, pr.urls[0], late, lateVote)
	tc.cast(t, pr.urls[1], late, lateVote)
	tp = newPublisher(t, tc, dir, []*testPair{pr}, tweak)
	tp.rounds = []int64{8}
	tp.mustRound(t)
	if err := tp.Finish(context.Background()); err != nil {
		t.Fatalf("Finish after the close: %v", err)
	}
	if err := tp.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after the close: %v", err)
	}
	tp.wantPublished(t, voters, votes)
	for name, b := range served {
		if got := mustFetch(t, tp.Publisher, "/"+name); !bytes.Equal(got, b) {
			t.Errorf("%s changed across the restart", name)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustFetch fetches a path that must answer 200.
func mustFetch(t *testing.T, p *Publisher, path string) []byte {
	t.Helper()
	code, body := fetch(t, p, path)
	if code != 200 {
		t.Fatalf("%s: status %d, want 200", path, code)
	}
	return body
}

// wantCheckpointText is the text a checkpoint of these leaves must carry,
// with the settings line of the settings file settings (none for nil),
// written out here rather than by audit.CheckpointText.
func wantCheckpointText(t *testing.T, origin string, leaves []string, settings []byte) string {
	t.Helper()
	var hashes []tlog.Hash
	for i, l := range leaves {
		h, err := tlog.StoredHashes(int64(i), []byte(l), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for j, x := range idx {
				out[j] = hashes[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h...)
	}
	root, err := tlog.TreeHash(int64(len(leaves)), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for j, x := range idx {
			out[j] = hashes[x]
		}
		return out, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	text := origin + "\n" + strconv.Itoa(len(leaves)) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
	if settings == nil {
		return text
	}
	sum := sha256.Sum256(settings)
	return text + "settings " + hex.EncodeToString(sum[:]) + "\n"
}

// TestFinish closes a campaign by hand before its collectors answer: the
// last batch goes out whatever its size, a second Finish changes nothing,
// and files a close left uncommitted are removed at start.
func TestFinish(t *testing.T) {
	dir := t.TempDir()
	// A close that crashed before its commit, in an earlier life.
	for _, name := range []string{"solar-keys.txt", "solar-archive.tar.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := logPublisher(t, dir, testLogKey(t), (&tickClock{}).now, func(c *Config) { c.BatchSize = 5 })
	for _, name := range []string{"solar-keys.txt", "solar-archive.tar.gz"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s of an uncommitted close is still there", name)
		}
	}
	if code, _ := fetch(t, p, "/solar-settings.yaml"); code != 404 {
		t.Errorf("settings without Config.Settings: %d, want 404", code)
	}
	items := randomItems(t, 2)
	feed(t, p, votesOf(items), votersOf(items))
	if s := p.Status(); s.Lines != 0 {
		t.Fatalf("status %+v, want nothing below the batch size", s)
	}
	if err := p.Finish(context.Background()); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if s := p.Status(); s.Lines != 2 || !s.Closed {
		t.Fatalf("status %+v after Finish, want 2 lines and closed", s)
	}
	keys := mustFetch(t, p, "/solar-keys.txt")
	if !strings.HasPrefix(string(keys), "log powvote-solar+") || strings.Count(string(keys), "\n") != 1 {
		t.Errorf("keys without platform keys:\n%s\nwant the log key alone", keys)
	}
	archive := mustFetch(t, p, "/solar-archive.tar.gz")
	if err := p.Finish(context.Background()); err != nil {
		t.Fatalf("second Finish: %v", err)
	}
	if again := mustFetch(t, p, "/solar-archive.tar.gz"); !bytes.Equal(again, archive) {
		t.Error("a second Finish changed the archive")
	}
	if err := p.PullOnce(context.Background()); err != nil {
		t.Errorf("a round after the close: %v, want nothing done", err)
	}
}

// TestRetractedRecovery checks that New cuts the incomplete last line a
// crash left in the retracted list, keeps the complete ones and signs the
// checkpoint a crash left unwritten; that a retraction waits for its
// winner to be published; and that one read again after a restart is not
// listed twice.
func TestRetractedRecovery(t *testing.T) {
	dir := t.TempDir()
	line := func(loser, winner *pendingVote) string {
		var sig [64]byte
		rand.Read(sig[:])
		return listline.Retracted{Winner: winner.vote.Nonce, Sig: sig, Vote: loser.vote}.Line()
	}
	a, b, wb := randomVote(t), randomVote(t), randomVote(t)
	la, lb := line(a, randomVote(t)), line(b, wb)
	path := filepath.Join(dir, "solar-retracted.log")
	if err := os.WriteFile(path, []byte(la+"\n"+lb[:10]), 0o644); err != nil {
		t.Fatal(err)
	}
	key := testLogKey(t)
	p := logPublisher(t, dir, key, (&tickClock{}).now, nil)
	if got := string(mustRead(t, path)); got != la+"\n" {
		t.Fatalf("retracted list after start:\n%q\nwant the complete line only", got)
	}
	vkey := strings.TrimSpace(string(mustFetch(t, p, "/solar-log.vkey")))
	wantCheckpoint := func(leaves ...string) {
		t.Helper()
		for _, path := range []string{"/solar-retracted.checkpoint", "/solar-retracted.checkpoint." + strconv.Itoa(len(leaves))} {
			v, err := note.NewVerifier(vkey)
			if err != nil {
				t.Fatal(err)
			}
			n, err := note.Open(mustFetch(t, p, path), note.VerifierList(v))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if want := wantCheckpointText(t, "powvote/solar/retracted", leaves, nil); n.Text != want {
				t.Errorf("%s:\n%s\nwant\n%s", path, n.Text, want)
			}
		}
	}
	wantCheckpoint(la)

	held := []retraction{{key: keyOf(a.vote.Nonce), line: la}, {key: keyOf(b.vote.Nonce), winner: keyOf(wb.vote.Nonce), line: lb}, {key: keyOf(b.vote.Nonce), winner: keyOf(wb.vote.Nonce), line: lb}}
	appendHeld := func() {
		t.Helper()
		p.roundMu.Lock()
		defer p.roundMu.Unlock()
		if err := p.appendRetracted(); err != nil {
			t.Fatal(err)
		}
	}
	p.pairs[0].held = held
	appendHeld()
	if got := string(mustFetch(t, p, "/solar-retracted.log")); got != la+"\n" || len(p.pairs[0].held) != 2 {
		t.Fatalf("before its winner is published:\n%s\n%d held; want b's retraction held, twice", got, len(p.pairs[0].held))
	}
	p.publishedVotes[keyOf(wb.vote.Nonce)] = struct{}{}
	appendHeld()
	want := la + "\n" + lb + "\n"
	if got := string(mustFetch(t, p, "/solar-retracted.log")); got != want || len(p.pairs[0].held) != 0 {
		t.Errorf("retracted list served:\n%s\nwant\n%s", got, want)
	}
	if got := string(mustRead(t, path)); got != want {
		t.Errorf("retracted list on disk:\n%s\nwant\n%s", got, want)
	}
	wantCheckpoint(la, lb)
	if got := mustFetch(t, p, "/solar-retracted/tile/entries/000.p/2"); !bytes.Equal(got, entryBundle([][]byte{[]byte(la), []byte(lb)})) {
		t.Errorf("entry bundle of the retracted list: %q", got)
	}
	p.Close()
	p = logPublisher(t, dir, key, (&tickClock{}).now, nil)
	wantCheckpoint(la, lb)
	p.pairs[0].held = held
	appendHeld()
	if got := string(mustFetch(t, p, "/solar-retracted.log")); got != want {
		t.Errorf("after a restart:\n%s\nwant\n%s", got, want)
	}
}

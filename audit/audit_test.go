package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/pow"
)

const testThreshold = 8

var (
	fixtureOnce sync.Once
	shared      *fixture
)

// sharedFixture is built once: solving and signing are the slow part.
func sharedFixture(t *testing.T) *fixture {
	fixtureOnce.Do(func() { shared = newFixture(t, 40, testThreshold) })
	if shared == nil {
		t.Fatal("the shared fixture could not be built")
	}
	return shared
}

func run(t *testing.T, src Source, f *fixture, opt Options) *Report {
	t.Helper()
	r, err := Run(context.Background(), src, f.settings, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// grepCount counts the lines holding "<option>", as grep -c does.
func grepCount(votes []string, option string) int {
	n := 0
	for _, l := range votes {
		if strings.Contains(l, `"`+option+`"`) {
			n++
		}
	}
	return n
}

func checkTally(t *testing.T, r *Report, votes []string) {
	t.Helper()
	for i, o := range testOptions {
		if r.Tally[i].Option != o || r.Tally[i].Votes != grepCount(votes, o) {
			t.Errorf("tally row %d is %+v, grep -c counts %d", i, r.Tally[i], grepCount(votes, o))
		}
	}
}

func TestCleanLists(t *testing.T) {
	f := sharedFixture(t)
	for _, workers := range []int{1, 3, 0} {
		r := run(t, write(t, f.votes, f.voters), f, Options{Workers: workers})
		if !r.OK() {
			var b bytes.Buffer
			r.WriteText(&b)
			t.Fatalf("clean lists fail:\n%s", b.String())
		}
		if r.Campaign != "solar" || r.Votes != len(f.votes) || r.Voters != len(f.voters) {
			t.Errorf("report says %q, %d votes, %d voters", r.Campaign, r.Votes, r.Voters)
		}
		checkTally(t, r, f.votes)
		if min := float64(len(f.votes)) * (1 << testThreshold); r.Work < min {
			t.Errorf("work %g, want at least %g", r.Work, min)
		}
		if want := mth(f.votes); r.VoteTree != (tlog.Tree{N: int64(len(f.votes)), Hash: want}) {
			t.Errorf("vote tree %v, want %v", r.VoteTree, want)
		}
		if want := mth(f.voters); r.AuthTree != (tlog.Tree{N: int64(len(f.voters)), Hash: want}) {
			t.Errorf("auth tree %v, want %v", r.AuthTree, want)
		}
	}
}

// mth is RFC 6962's Merkle tree hash, written from the RFC's recursive
// definition rather than the incremental one Run uses.
func mth(leaves []string) tlog.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func TestTreeHead(t *testing.T) {
	var leaves []string
	for n := 0; n <= 70; n++ {
		var tb treeBuilder
		for _, l := range leaves {
			tb.push(leafHash(l))
		}
		if got, want := tb.head(), mth(leaves); got.N != int64(n) || got.Hash != want {
			t.Fatalf("%d leaves: head %v, want %v", n, got, want)
		}
		leaves = append(leaves, strings.Repeat("x", n*9)) // up to 630 bytes: both leafHash paths
	}
}

// edit returns a copy of ls with line ln (1-based) replaced by line.
func edit(ls []string, ln int, line string) []string {
	ls = slices.Clone(ls)
	ls[ln-1] = line
	return ls
}

// voterLine rewrites a voters-list line through fn.
func voterLine(t *testing.T, line string, fn func(*listline.Voter)) string {
	t.Helper()
	v, err := listline.ParseVoter(line)
	if err != nil {
		t.Fatal(err)
	}
	fn(&v)
	return v.Line()
}

func voteLine(t *testing.T, line string) listline.Vote {
	t.Helper()
	v, err := listline.ParseVote(line)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMutations changes the clean lists in one way at a time and expects
// exactly the checks named, on exactly the lines named.
func TestMutations(t *testing.T) {
	f := sharedFixture(t)
	n := len(f.votes)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

	// A vote whose nonce is that of line 1: the nonce stays, the voter
	// stamp changes until the proof of work holds again.
	first := voteLine(t, f.votes[0])
	sameNonce := f.unsolved(first.Option)
	sameNonce.Nonce = first.Nonce
	for pow.Score(pow.Digest(sameNonce.Work(), sameNonce.Nonce)) < testThreshold {
		sameNonce = f.unsolved(first.Option)
		sameNonce.Nonce = first.Nonce
	}
	// A vote with the voter stamp of line 2.
	second := voteLine(t, f.votes[1])
	sameStamp := f.unsolved(second.Option)
	sameStamp.Voter = second.Voter
	f.solve(t, &sameStamp, testThreshold)
	// A vote below the threshold.
	weak := f.unsolved("Pluto")
	weak.Nonce = make([]byte, 8)
	for pow.Score(pow.Digest(weak.Work(), weak.Nonce)) >= testThreshold {
		weak.Nonce[0]++
	}
	// A vote stamped before the campaign.
	early := f.unsolved("Pluto")
	early.PUTC = "1700000000"
	f.solve(t, &early, testThreshold)
	// A vote for an option on the ballot, with the nonce of another.
	third := voteLine(t, f.votes[2])
	swapped := third
	swapped.Option = testOptions[(slices.Index(testOptions, third.Option)+1)%len(testOptions)]
	if pow.Score(pow.Digest(swapped.Work(), swapped.Nonce)) >= testThreshold {
		t.Fatal("the swapped option still meets the threshold; pick another line")
	}
	vulcan := voteLine(t, f.votes[3])
	vulcan.Option = "Vulcan"

	type want map[string][]int
	cases := []struct {
		name          string
		votes, voters []string
		want          want
		tallyAsGrep   bool
	}{
		{"vote deleted", slices.Delete(slices.Clone(f.votes), 4, 5), f.voters,
			want{CheckCountsEqual: nil}, true},
		{"voter deleted", f.votes, slices.Delete(slices.Clone(f.voters), 0, 1),
			want{CheckCountsEqual: nil}, true},
		{"option swapped", edit(f.votes, 3, swapped.Line()), f.voters,
			want{CheckProofOfWork: {3}}, true},
		{"option not on the ballot", edit(f.votes, 4, vulcan.Line()), f.voters,
			want{CheckOption: {4}, CheckProofOfWork: {4}}, true},
		{"double space", edit(f.votes, 6, strings.Replace(f.votes[5], " ", "  ", 1)), f.voters,
			want{CheckVoteFormat: {6}}, false},
		{"upper-case nonce", edit(f.votes, 7, strings.Replace(f.votes[6], " "+strings.Fields(f.votes[6])[3], " "+strings.ToUpper(strings.Fields(f.votes[6])[3]), 1)), f.voters,
			want{CheckVoteFormat: {7}}, false},
		{"duplicate mandate", append(slices.Clone(f.votes), f.vote(t, "Pluto", testThreshold).Line()), append(slices.Clone(f.voters), f.voters[2]),
			want{CheckDuplicateMandate: {n + 1}}, true},
		{"vote below threshold", slices.Insert(slices.Clone(f.votes), 1, weak.Line()), append(slices.Clone(f.voters), f.spare[0]),
			want{CheckProofOfWork: {2}}, true},
		{"bad signature", f.votes, edit(f.voters, 7, voterLine(t, f.voters[6], func(v *listline.Voter) { v.Sig[10] ^= 1 })),
			want{CheckMandateSignature: {7}}, true},
		{"signed auth-id changed", f.votes, edit(f.voters, 9, voterLine(t, f.voters[8], func(v *listline.Voter) { v.ID[0] ^= 0x80 })),
			want{CheckMandateSignature: {9}}, true},
		{"unknown authority", f.votes, edit(f.voters, 8, f.voter(t, other)),
			want{CheckAuthority: {8}}, true},
		{"duplicate nonce", append(slices.Clone(f.votes), sameNonce.Line()), append(slices.Clone(f.voters), f.spare[1]),
			want{CheckDuplicateNonce: {n + 1}}, true},
		{"duplicate voter stamp", slices.Insert(slices.Clone(f.votes), 0, sameStamp.Line()), append(slices.Clone(f.voters), f.spare[2]),
			want{CheckDuplicateVoterStamp: {3}}, true},
		{"line repeated", append(slices.Clone(f.votes), f.votes[9]), append(slices.Clone(f.voters), f.voters[9]),
			want{CheckDuplicateNonce: {n + 1}, CheckDuplicateVoterStamp: {n + 1}, CheckDuplicateMandate: {n + 1}}, true},
		{"stamp before the campaign", append(slices.Clone(f.votes), early.Line()), append(slices.Clone(f.voters), f.spare[3]),
			want{CheckStampTime: {n + 1}}, true},
		{"non-canonical auth-id", f.votes, edit(f.voters, 5, f.voters[4][:len(f.voters[4])-1]+"="),
			want{CheckAuthFormat: {5}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, write(t, c.votes, c.voters), f, Options{Workers: 2})
			got := want{}
			for _, fl := range r.Failures {
				got[fl.Check] = fl.Lines
				if fl.Count != len(fl.Lines) || fl.Message == "" {
					t.Errorf("%s: count %d for %d lines, message %q", fl.Check, fl.Count, len(fl.Lines), fl.Message)
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				var b bytes.Buffer
				r.WriteText(&b)
				t.Errorf("failures %v, want %v\n%s", got, c.want, b.String())
			}
			if r.OK() {
				t.Error("OK() with failures")
			}
			if c.tallyAsGrep {
				checkTally(t, r, c.votes)
			}
			var b bytes.Buffer
			r.WriteText(&b)
			for check := range c.want {
				if !strings.Contains(b.String(), "FAIL  "+check+" ") {
					t.Errorf("the text report does not fail %s:\n%s", check, b.String())
				}
			}
		})
	}
}

func TestNoFinalLineFeed(t *testing.T) {
	f := sharedFixture(t)
	dir := write(t, f.votes, f.voters)
	p := filepath.Join(string(dir), "solar-vote.log")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, bytes.TrimSuffix(b, []byte("\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, dir, f, Options{})
	if len(r.Failures) != 1 || r.Failures[0].Check != CheckVoteFormat || !slices.Equal(r.Failures[0].Lines, []int{len(f.votes)}) {
		t.Errorf("failures %+v", r.Failures)
	}
	if r.Votes != len(f.votes) {
		t.Errorf("%d votes, want %d", r.Votes, len(f.votes))
	}
}

func TestLineTooLong(t *testing.T) {
	f := sharedFixture(t)
	long := strings.Repeat("A", readBuffer+10)
	voters := edit(f.voters, 2, long)
	r := run(t, write(t, f.votes, voters), f, Options{})
	if len(r.Failures) != 1 || r.Failures[0].Check != CheckAuthFormat || !slices.Equal(r.Failures[0].Lines, []int{2}) {
		t.Errorf("failures %+v", r.Failures)
	}
	// The tree still covers the long line.
	if want := mth(voters); r.AuthTree.Hash != want || r.Voters != len(voters) {
		t.Errorf("auth tree %v over %d lines, want %v", r.AuthTree, r.Voters, want)
	}
}

func TestManyFailuresCapped(t *testing.T) {
	f := sharedFixture(t)
	votes := make([]string, MaxLines+50)
	for i := range votes {
		votes[i] = "garbage"
	}
	r := run(t, write(t, votes, f.voters), f, Options{})
	var fl *Failure
	for i := range r.Failures {
		if r.Failures[i].Check == CheckVoteFormat {
			fl = &r.Failures[i]
		}
	}
	if fl == nil || fl.Count != len(votes) || len(fl.Lines) != MaxLines || fl.Lines[MaxLines-1] != MaxLines {
		t.Fatalf("vote-format failure %+v", fl)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "and 50 more") {
		t.Errorf("report does not say how many more lines fail:\n%s", b.String())
	}
}

func TestURLSource(t *testing.T) {
	f := sharedFixture(t)
	dir := write(t, f.votes, f.voters)
	srv := httptest.NewServer(http.FileServer(http.Dir(string(dir))))
	defer srv.Close()
	var last [2]int64
	r := run(t, &URL{Base: srv.URL + "/"}, f, Options{Progress: func(done, total int64) { last = [2]int64{done, total} }})
	if !r.OK() || r.Votes != len(f.votes) {
		t.Errorf("over HTTP: ok %v, %d votes", r.OK(), r.Votes)
	}
	if last[0] != last[1] || last[1] <= 0 {
		t.Errorf("last progress %d of %d", last[0], last[1])
	}
	fromDir := run(t, dir, f, Options{})
	if !reflect.DeepEqual(r, fromDir) {
		t.Errorf("over HTTP %+v, from the folder %+v", r, fromDir)
	}

	_, err := Run(context.Background(), &URL{Base: srv.URL}, withName(f, "lunar"), Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "lunar-vote.log") {
		t.Errorf("missing list: %v", err)
	}
	_, err = Run(context.Background(), dir, withName(f, "lunar"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := dir.Open("../solar-vote.log"); err == nil {
		t.Error("Dir opened a path outside itself")
	}
}

func withName(f *fixture, name string) *campaign.Settings {
	s := *f.settings
	s.Name = name
	return &s
}

func TestCanceled(t *testing.T) {
	f := sharedFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, write(t, f.votes, f.voters), f.settings, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled run: %v", err)
	}
}

func TestPackStamp(t *testing.T) {
	f := sharedFixture(t)
	seen := map[stampKey]string{}
	for range 2000 {
		s := f.unsolved("Pluto").Voter
		k := packStamp(s)
		if prev, ok := seen[k]; ok && prev != s {
			t.Fatalf("%s and %s pack the same", prev, s)
		}
		seen[k] = s
	}
	// Every symbol's 5 bits land somewhere: the last symbol changes the key.
	a, b := "0000-0000-0000-0000-0000-0000-0000-0000", "0000-0000-0000-0000-0000-0000-0000-0001"
	if packStamp(a) == packStamp(b) {
		t.Error("the last symbol is lost")
	}
}

package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/powvote/powvote/listline"
)

// stampKeys are the platform's stamp keys of the platform-stamp tests.
type stampKeys struct {
	sign, hole ed25519.PrivateKey
	file       string // the keys file as the publisher writes it
}

func newStampKeys(t *testing.T, f *fixture) *stampKeys {
	t.Helper()
	key := func() ed25519.PrivateKey {
		seed := make([]byte, ed25519.SeedSize)
		f.rng.Read(seed)
		return ed25519.NewKeyFromSeed(seed)
	}
	k := &stampKeys{sign: key(), hole: key()}
	_, vkey, err := note.GenerateKey(f.rng, "powvote-solar")
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(p ed25519.PrivateKey) string {
		return base64.StdEncoding.EncodeToString(p.Public().(ed25519.PublicKey))
	}
	k.file = "utc-sign " + b64(k.sign) + "\nutc-hole " + b64(k.hole) + "\nreceipt " + b64(key()) + "\nlog " + vkey + "\n"
	return k
}

// stamped returns n votes whose P-SIG is the UTC-SIGN signature of their
// P-UTC, over three distinct seconds, so that most votes share their
// platform stamp with others as they do on a real platform.
func stamped(t *testing.T, f *fixture, k *stampKeys, n int) []listline.Vote {
	t.Helper()
	var votes []listline.Vote
	for i := range n {
		v := f.unsolved(testOptions[i%len(testOptions)])
		v.PUTC = strconv.FormatInt(testStart.Unix()+int64(i%3), 10)
		v.PSig = [64]byte(ed25519.Sign(k.sign, []byte(v.PUTC)))
		f.solve(t, &v, testThreshold)
		votes = append(votes, v)
	}
	return votes
}

func voteLines(votes []listline.Vote) []string {
	var ls []string
	for _, v := range votes {
		ls = append(ls, v.Line())
	}
	return ls
}

func TestPlatformStamp(t *testing.T) {
	f := sharedFixture(t)
	k := newStampKeys(t, f)
	const n = 12
	votes := stamped(t, f, k, n)
	voters := f.voters[:n]
	signPub := k.sign.Public().(ed25519.PublicKey)

	// mutate returns the votes with line ln (1-based) changed by change,
	// its proof of work solved again so that only the stamp is wrong.
	mutate := func(ln int, change func(v *listline.Vote)) []string {
		vs := slices.Clone(votes)
		change(&vs[ln-1])
		f.solve(t, &vs[ln-1], testThreshold)
		return voteLines(vs)
	}
	decoy := mutate(5, func(v *listline.Vote) { v.PSig = [64]byte(ed25519.Sign(k.hole, []byte(v.PUTC))) })
	forged := mutate(7, func(v *listline.Vote) { f.rng.Read(v.PSig[:]) })
	// A genuine stamp of another second: the signature is one the cache
	// has seen, but not over this P-UTC.
	moved := mutate(8, func(v *listline.Vote) { v.PSig = votes[0].PSig })
	if votes[7].PUTC == votes[0].PUTC {
		t.Fatal("lines 1 and 8 share their second")
	}

	for _, c := range []struct {
		name    string
		votes   []string
		keys    string // the keys file; "" for none
		opt     Options
		lines   []int  // lines of the votes list that fail platform-stamp
		message string // in the failure's message
		skipped bool
		from    string // Report.UTCSignFrom
	}{
		{name: "genuine", votes: voteLines(votes), keys: k.file, from: "solar-keys.txt"},
		{name: "decoy", votes: decoy, keys: k.file, lines: []int{5}, message: "line 5: P-SIG is the UTC-HOLE signature of P-UTC " + votes[4].PUTC + ": a decoy stamp (UTC-HOLE) in the votes list", from: "solar-keys.txt"},
		{name: "forged", votes: forged, keys: k.file, lines: []int{7}, message: "line 7: P-SIG is a signature of P-UTC " + votes[6].PUTC + " by neither UTC-SIGN nor UTC-HOLE: forged", from: "solar-keys.txt"},
		{name: "moved", votes: moved, keys: k.file, lines: []int{8}, message: "forged", from: "solar-keys.txt"},
		// An open campaign: nothing to check with, and no failure even
		// under Strict.
		{name: "open", votes: decoy, skipped: true},
		{name: "open strict", votes: decoy, opt: Options{Logs: &LogOptions{Strict: true}}, skipped: true},
		// The key given out of band: without UTC-HOLE a decoy is only
		// "not genuine".
		{name: "given", votes: decoy, opt: Options{UTCSignKey: signPub}, lines: []int{5}, message: "not a UTC-SIGN signature of P-UTC " + votes[4].PUTC + ": a decoy stamp or forged", from: "given"},
		{name: "given and published", votes: voteLines(votes), keys: k.file, opt: Options{UTCSignKey: signPub}, from: "given"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := write(t, c.votes, voters)
			if c.keys != "" {
				if err := os.WriteFile(filepath.Join(string(dir), "solar-keys.txt"), []byte(c.keys), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r := run(t, dir, f, c.opt)
			var text strings.Builder
			r.WriteText(&text)
			var fails []string
			for _, fl := range r.Failures {
				// Strict fails the log checks of a folder of lists only.
				if fl.Check != CheckPlatformStamp && !slices.Contains(LogChecks, fl.Check) {
					fails = append(fails, fl.Check)
				}
			}
			if len(fails) > 0 {
				t.Fatalf("other checks fail: %v\n%s", fails, text.String())
			}
			var got *Failure
			for i := range r.Failures {
				if r.Failures[i].Check == CheckPlatformStamp {
					got = &r.Failures[i]
				}
			}
			switch {
			case c.lines == nil && got != nil:
				t.Errorf("platform-stamp fails: %+v", *got)
			case c.lines != nil && got == nil:
				t.Errorf("platform-stamp passes, want lines %v\n%s", c.lines, text.String())
			case c.lines != nil && (!slices.Equal(got.Lines, c.lines) || got.Count != len(c.lines) || got.List != "solar-vote.log" || !strings.Contains(got.Message, c.message)):
				t.Errorf("failure %+v, want lines %v and a message with %q", *got, c.lines, c.message)
			}
			skipped := slices.ContainsFunc(r.Skipped, func(s Skip) bool { return s.Check == CheckPlatformStamp && s.Reason == notClosed })
			if skipped != c.skipped || skipped != strings.Contains(text.String(), "skip  platform-stamp ") {
				t.Errorf("skipped %v (%+v), want %v\n%s", skipped, r.Skipped, c.skipped, text.String())
			}
			if r.UTCSignFrom != c.from || (c.from != "" && r.UTCSignKey != base64.StdEncoding.EncodeToString(signPub)) {
				t.Errorf("key %q from %q, want from %q", r.UTCSignKey, r.UTCSignFrom, c.from)
			}
			if c.lines == nil && !c.skipped && !strings.Contains(text.String(), "ok    platform-stamp ") {
				t.Errorf("the text report does not pass platform-stamp:\n%s", text.String())
			}
		})
	}
}

// TestPlatformStampKeysFile: a keys file that is there must be exactly as
// the publisher writes it, else the check fails on the file's line.
func TestPlatformStampKeysFile(t *testing.T) {
	f := sharedFixture(t)
	k := newStampKeys(t, f)
	votes := voteLines(stamped(t, f, k, 4))
	ls := strings.SplitAfter(k.file, "\n") // utc-sign, utc-hole, receipt, log, ""
	other := base64.StdEncoding.EncodeToString(make([]byte, ed25519.PublicKeySize))
	for _, c := range []struct {
		name  string
		file  string
		opt   Options
		line  int // the keys file's line named; 0 for none
		msg   string
		votes bool // the votes are still checked (with the key given)
	}{
		{"short key", "utc-sign AAAA\n" + ls[1], Options{}, 1, "not the base64 of a 32-byte", false},
		{"hex key", "utc-sign " + hex.EncodeToString(k.sign.Public().(ed25519.PublicKey)) + "\n", Options{}, 1, "not the base64", false},
		{"twice", ls[0] + ls[1] + ls[0], Options{}, 3, "utc-sign again (first on line 1)", false},
		{"unknown", ls[0] + "utc-other " + other + "\n", Options{}, 2, `unknown key name "utc-other"`, false},
		{"no line feed", strings.TrimSuffix(k.file, "\n"), Options{}, 4, "no line feed", false},
		{"two spaces", ls[0] + strings.Replace(ls[1], " ", "  ", 1), Options{}, 2, "not a name, one space and a key", false},
		{"empty line", ls[0] + "\n" + ls[1], Options{}, 2, "not a name", false},
		{"bad log key", ls[0] + "log powvote-solar+00000000+AAAA\n", Options{}, 2, "log: ", false},
		{"no utc-sign", ls[1] + ls[2], Options{}, 0, "does not give the utc-sign key", false},
		{"empty", "", Options{}, 0, "does not give the utc-sign key", false},
		{"differs from given", k.file, Options{UTCSignKey: make([]byte, ed25519.PublicKeySize)}, 1, "line 1: the utc-sign key differs from the one given", true},
		{"malformed, key given", "utc-sign AAAA\n", Options{UTCSignKey: k.sign.Public().(ed25519.PublicKey)}, 1, "not the base64", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := write(t, votes, f.voters[:4])
			if err := os.WriteFile(filepath.Join(string(dir), "solar-keys.txt"), []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			r := run(t, dir, f, c.opt)
			var text strings.Builder
			r.WriteText(&text)
			if len(r.Failures) == 0 {
				t.Fatalf("no failure\n%s", text.String())
			}
			fl := r.Failures[0]
			wantLines := []int(nil)
			if c.line > 0 {
				wantLines = []int{c.line}
			}
			if fl.Check != CheckPlatformStamp || fl.List != "solar-keys.txt" || !slices.Equal(fl.Lines, wantLines) || !strings.Contains(fl.Message, c.msg) {
				t.Errorf("failure %+v, want line %d and %q", fl, c.line, c.msg)
			}
			if c.line > 0 && !strings.HasPrefix(fl.Message, "line "+strconv.Itoa(c.line)+": ") {
				t.Errorf("the message %q does not name line %d", fl.Message, c.line)
			}
			// With the given key zero, every genuine vote fails too.
			if got := len(r.Failures) == 2 && r.Failures[1].List == "solar-vote.log" && r.Failures[1].Count == 4; got != c.votes || len(r.Failures) > 2 {
				t.Errorf("failures %+v", r.Failures)
			}
			if !strings.Contains(text.String(), "FAIL  platform-stamp ") || !strings.Contains(text.String(), "solar-keys.txt: "+fl.Message) {
				t.Errorf("text report:\n%s", text.String())
			}
		})
	}
}

func TestParseStampKey(t *testing.T) {
	pub := make([]byte, ed25519.PublicKeySize)
	for i := range pub {
		pub[i] = byte(i)
	}
	for _, s := range []string{base64.StdEncoding.EncodeToString(pub), hex.EncodeToString(pub), " " + hex.EncodeToString(pub) + "\n"} {
		if k, err := ParseStampKey(s); err != nil || !slices.Equal(k, pub) {
			t.Errorf("ParseStampKey(%q) = %x, %v", s, k, err)
		}
	}
	for _, s := range []string{"", "AAAA", hex.EncodeToString(pub[:31]), base64.RawStdEncoding.EncodeToString(pub)} {
		if _, err := ParseStampKey(s); err == nil {
			t.Errorf("ParseStampKey(%q) accepted", s)
		}
	}
}

package audit

import (
	"crypto/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzOpenCheckpoint reads arbitrary checkpoint texts, signed by the test's
// key or not signed at all: it must not panic, must refuse every text the
// key did not sign, and what it accepts must hold the origin, a canonical
// non-negative size and a 32-byte root, and begin with what CheckpointText
// writes for it.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "powvote/fuzz")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, text := range []string{
		"powvote/solar/vote\n12\n" + root + "\n",
		"powvote/solar/vote\n0\n" + root + "\n",
		"powvote/solar/vote\n12\n" + root + "\nextension line\n",
		"powvote/solar/vote\n12\n" + root + "\nsettings " + strings.Repeat("ab", 32) + "\n",
		"powvote/solar/vote\n12\n" + root + "\nsettings " + strings.Repeat("ab", 32) + "\nextension line\n",
		"powvote/solar/vote\n12\n" + root + "\nextension line\nsettings " + strings.Repeat("ab", 32) + "\n",
		"powvote/solar/vote\n012\n" + root + "\n",
		"powvote/solar/vote\n-1\n" + root + "\n",
		"powvote/solar/vote\n99999999999999999999\n" + root + "\n",
		"powvote/solar/vote\n12\n" + root[:40] + "\n",
		"powvote/solar/vote\n12\n",
		"",
	} {
		f.Add(text, true)
		f.Add(text, false)
	}
	f.Fuzz(func(t *testing.T, text string, sign bool) {
		data := []byte(text)
		if sign {
			msg, err := note.Sign(&note.Note{Text: text}, signer)
			if err != nil {
				return // not a note text: nothing to sign
			}
			data = msg
		}
		cp, err := OpenCheckpoint(data, verifier)
		if err != nil {
			return
		}
		if !sign {
			t.Fatalf("accepted an unsigned text %q", text)
		}
		lines := strings.Split(text, "\n")
		if cp.Origin != lines[0] {
			t.Errorf("origin %q, first line %q", cp.Origin, lines[0])
		}
		if cp.Tree.N < 0 || strconv.FormatInt(cp.Tree.N, 10) != lines[1] {
			t.Errorf("size %d from %q", cp.Tree.N, lines[1])
		}
		// One text per checkpoint: what was accepted is what
		// CheckpointText writes, then extension lines it ignored.
		if want := CheckpointText(cp.Origin, cp.Tree, cp.Settings); !strings.HasPrefix(text, want) {
			t.Errorf("accepted %q, which does not begin with %q", text, want)
		}
	})
}

// FuzzParseLogKey: no panic, and an accepted key names itself.
func FuzzParseLogKey(f *testing.F) {
	_, vkey, err := note.GenerateKey(rand.Reader, "solar-log")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vkey)
	f.Add(vkey + "\n")
	f.Add("solar-log+00000000+AQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		v, err := ParseLogKey(text)
		if err != nil {
			return
		}
		if !strings.HasPrefix(strings.TrimSpace(text), v.Name()+"+") {
			t.Errorf("key %q named %q", text, v.Name())
		}
	})
}

// FuzzParseHistory reads arbitrary histories for a ballot of 0 to 4
// options: every line is either read or refused, never both; a line read
// reads back the same once written as the publisher writes it; the growth
// has one figure per option, whose largest increase is no smaller than its
// median and happened at a line read; and the history per minute keeps
// lines read, in order, one per run of a minute, the last line among them.
func FuzzParseHistory(f *testing.F) {
	for _, seed := range []struct {
		text string
		n    uint8
	}{
		{"4 1793491205 1 1 1 1\n8 1793491230 2 2 2 2\n", 4},
		{"4 1793491205 4 0\n8 1793491265 4 4\n12 1793491266 5 7\n", 2},
		{"4 -61 1\n8 -60 2\n12 -1 3\n16 0 4\n", 1},
		{"4 1000\n8 1000\n", 0},
		{"+4 007 -0\n4 1000  1\n4 1000 1 \n4\t1000 1\n4 1000 -1\n-4 1000 1\n", 1},
		{"4 1000 9007199254740991\n4 1000 9007199254740992\n", 1},
		{"\ufeff4 1000 1\n4 1000 1\r\n4 1000 1", 1},
		{"\n\n", 3},
	} {
		f.Add(seed.text, seed.n)
	}
	f.Fuzz(func(t *testing.T, text string, n uint8) {
		nOptions := int(n % 5)
		hist, bad := ParseHistory([]byte(text), nOptions)
		lines := strings.Count(text, "\n")
		if !strings.HasSuffix(text, "\n") && text != "" {
			lines++
		}
		if len(hist)+len(bad) != lines {
			t.Fatalf("%d lines read and %d refused of %d", len(hist), len(bad), lines)
		}
		prev := 0
		for _, h := range hist {
			if _, refused := bad[h.Line]; refused || h.Line <= prev || len(h.Counts) != nOptions {
				t.Fatalf("line %+v (after line %d) is read and refused, out of order or of the wrong width", h, prev)
			}
			prev = h.Line
			text := strconv.FormatInt(h.Size, 10) + " " + strconv.FormatInt(h.Time, 10)
			for _, c := range h.Counts {
				text += " " + strconv.Itoa(c)
			}
			again, bad := ParseHistory([]byte(text+"\n"), nOptions)
			if len(bad) != 0 || len(again) != 1 || again[0].Size != h.Size || again[0].Time != h.Time || !slices.Equal(again[0].Counts, h.Counts) {
				t.Fatalf("line %+v written as %q reads %+v, %v", h, text, again, bad)
			}
		}
		options := make([]string, nOptions)
		for k := range options {
			options[k] = strconv.Itoa(k)
		}
		g := HistoryGrowth(hist, options)
		if len(hist) > 0 && len(g) != nOptions || len(hist) == 0 && g != nil {
			t.Fatalf("%d growth figures for %d options and %d lines", len(g), nOptions, len(hist))
		}
		for _, x := range g {
			at := slices.IndexFunc(hist, func(h HistoryLine) bool { return h.Size == x.AtSize && h.Time == x.AtTime })
			if float64(x.Largest) < x.Median || at < 0 {
				t.Fatalf("growth %+v: largest below the median, or at no line read", x)
			}
		}
		m := PerMinute(hist)
		if len(hist) > 0 && (len(m) == 0 || m[len(m)-1].Line != hist[len(hist)-1].Line) {
			t.Fatalf("per minute %+v does not end with the last line", m)
		}
		for i, h := range m {
			if !slices.ContainsFunc(hist, func(x HistoryLine) bool { return x.Line == h.Line }) ||
				i > 0 && (h.Line <= m[i-1].Line || minute(h.Time) == minute(m[i-1].Time)) {
				t.Fatalf("per minute %+v: line %d", m, h.Line)
			}
		}
	})
}

package publisher

import (
	"strings"
	"testing"

	"github.com/powvote/powvote/listline"
)

// formatRecord writes r as a collector does.
func formatRecord(r record) string {
	return string(listline.AppendIndexed(nil, r.index, listline.Record{Vote: r.vote, Retraction: r.retract}))
}

// FuzzRecord checks that a record line has one spelling: whatever
// parseRecord accepts, a collector would have written byte for byte.
func FuzzRecord(f *testing.F) {
	f.Add("1 " + exampleVote)
	f.Add("18446744073709551615 retract 09a733f6d68415da")
	f.Add("7 retract 09a733f6d68415da 0102030405060708 " + strings.Repeat("A", 86) + "==")
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseRecord(line)
		if err != nil {
			return
		}
		if r.index == 0 {
			t.Fatalf("parseRecord(%q): index 0", line)
		}
		if got := formatRecord(r); got != line {
			t.Fatalf("parseRecord(%q) writes back as %q", line, got)
		}
		if r.vote != nil && r.line != r.vote.Line() {
			t.Fatalf("parseRecord(%q): line %q", line, r.line)
		}
	})
}

// FuzzParseRange checks that a range the handler serves lies inside the
// list, whatever the client sent.
func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-", int64(100))
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			return
		}
		first, last, res := parseRange(v, size)
		if res == rangeOK && (first < 0 || first > last || last >= size) {
			t.Fatalf("parseRange(%q, %d) = %d-%d", v, size, first, last)
		}
	})
}

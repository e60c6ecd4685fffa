package edge

import (
	"strings"
	"testing"
	"time"
)

func TestDecoyPool(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p := newDecoyPool([]string{"A", "B", "C"}, 3*time.Second)
	const s1, s2, own = "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ", "1NCA-8FYQ-7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS", "P3TV-G6ZS-1NCA-8FYQ-7Q2M-W4XE-9JKD-0HBR"
	p.add("B", s1, t0)
	p.add("C", own, t0)
	p.add("C", s2, t0.Add(2*time.Second))
	p.add("Z", s1, t0) // not on the ballot: ignored
	for _, tc := range []struct {
		at     time.Duration
		chosen int
		want   string
	}{
		{0, 0, "*,-,-"},                        // nothing ripe yet
		{3 * time.Second, 0, "*," + s1 + ",-"}, // own is never a decoy; s2 is 1 s old
		{5 * time.Second, 0, "*," + s1 + "," + s2},
		{5 * time.Second, 1, "-,*," + s2},
		{5 * time.Second, -1, "-," + s1 + "," + s2}, // an option off the ballot: no "*", the collector refuses it
	} {
		if got := p.draw(tc.chosen, own, t0.Add(tc.at)); got != tc.want {
			t.Errorf("draw(%d) at +%v = %q, want %q", tc.chosen, tc.at, got, tc.want)
		}
	}
	// The pool keeps the latest decoyKeep per option.
	for i := range decoyKeep + 10 {
		p.add("A", strings.Repeat("0", 4)+"-"+s1[5:], t0.Add(time.Duration(i)))
	}
	if n := len(p.recent[0]); n != decoyKeep {
		t.Errorf("%d stamps kept for A, want %d", n, decoyKeep)
	}
}

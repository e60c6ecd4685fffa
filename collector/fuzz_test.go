package collector

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector/internal/store"
)

// FuzzParsePairs feeds the twin's /sync body parser arbitrary bodies: it
// must not panic, and what it accepts must come back the same when written
// out as the twin writes it and read again.
func FuzzParsePairs(f *testing.F) {
	voter := "ORSkiSbwTOnJKXE6vc4HYs8ZuWVnIlVw3jDiIKM7LF0= bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 9Uqw0Ioi1Qvm+Ztf+6GnH2mdIuQc13EU"
	vote := `1767225600 bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 0011223344556677 "Humble Pluto"`
	rc := "r1=7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ,*,-"
	f.Add([]byte(""))
	f.Add([]byte("1 " + voter + " " + rc + " " + vote + "\n"))
	f.Add([]byte("1 " + voter + " r0= " + vote + "\n2 " + voter + " " + rc + " " + vote + "\n"))
	f.Add([]byte("007 " + voter + " " + rc + " " + vote))
	f.Add([]byte("x " + voter + " " + rc + " " + vote + "\n"))
	f.Add([]byte("1 " + voter + "\n"))
	f.Add([]byte("1 " + voter + " " + vote + "\n"))
	f.Add([]byte("1 " + voter + " r2=- " + vote + "\n"))
	f.Add([]byte("1 " + voter + " r1=a,b " + vote + "\n"))
	f.Add([]byte("1 " + voter + " " + rc + " " + vote + "\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		pairs, err := parsePairs(body)
		if err != nil {
			return
		}
		var b bytes.Buffer
		for _, p := range pairs {
			b.WriteString(pairLine(p))
		}
		again, err := parsePairs(b.Bytes())
		if err != nil {
			t.Fatalf("accepted %q, but not its own rewriting %q: %v", body, b.Bytes(), err)
		}
		if len(pairs) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(pairs, again) {
			t.Fatalf("%q read as %+v, rewritten and read again as %+v", body, pairs, again)
		}
	})
}

// FuzzValidDecoys feeds the check of the edge's Decoys header arbitrary
// headers: it must not panic, and what it accepts must be one field per
// option, "*" exactly at the chosen option, and elsewhere "-" or a voter
// stamp other than the vote's own, which the store keeps as it is.
func FuzzValidDecoys(f *testing.F) {
	const own, other = "P3TV-G6ZS-1NCA-8FYQ-7Q2M-W4XE-9JKD-0HBR", "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ"
	for _, d := range []string{"*," + other + ",-", "*,-,-", "-,*," + other, "*," + own + ",-", "*,-", "*,-,-,-", "", ",,", "*,*,-", "*,x,-", "*, " + other + ",-"} {
		f.Add(d, 0)
		f.Add(d, 1)
	}
	s := &Server{cfg: Config{Settings: &campaign.Settings{Options: []string{"A", "B", "C"}}}}
	f.Fuzz(func(t *testing.T, d string, chosen int) {
		chosen = ((chosen % 3) + 3) % 3
		if !s.validDecoys(d, chosen, own) {
			return
		}
		fields := strings.Split(d, ",")
		if len(fields) != 3 {
			t.Fatalf("accepted %q with %d fields", d, len(fields))
		}
		for i, x := range fields {
			switch {
			case i == chosen && x != "*", i != chosen && x == "*":
				t.Fatalf("accepted %q with the star misplaced for option %d", d, chosen)
			case i != chosen && x != "-" && (x == own || store.CheckVoterStamp(x) != nil):
				t.Fatalf("accepted %q with field %d %q", d, i, x)
			}
		}
		if err := store.CheckReceipt(store.Receipt{Decoys: d}); err != nil {
			t.Fatalf("accepted %q, which the store refuses: %v", d, err)
		}
	})
}

// snapshotSeed is a snapshot whose end line carries the right hashes, for
// the corpus of FuzzReadSnapshot.
func snapshotSeed(records, links, voters []string) []byte {
	sec := func(kind string, ls []string) ([]byte, *section) {
		s := newSection()
		var b []byte
		for _, l := range ls {
			line := []byte(kind + " " + l + "\n")
			s.add(line)
			b = append(b, line...)
		}
		return b, s
	}
	rb, rs := sec("r", records)
	lb, ls := sec("l", links)
	vb, vs := sec("v", voters)
	d := snapshotDigest{records: rs.sum(), links: ls.sum(), voters: vs.sum()}
	head := fmt.Sprintf("%s\ncampaign solar\ninstance 1\nlog 0123456789abcdef0123456789abcdef\ncounts 1 0 %d %d 1 %d\n",
		snapshotMagic, len(records), len(voters), len(links))
	return []byte(head + string(rb) + string(lb) + string(vb) + "end " + d.String() + "\n")
}

// snapshotLines collects what readSnapshot hands over, written back as
// lines.
type snapshotLines struct{ b []byte }

func (s *snapshotLines) Record(r store.SnapRecord) error {
	s.b = appendRecordLine(s.b, r)
	return nil
}

func (s *snapshotLines) Link(l store.SnapLink) error {
	s.b = appendLinkLine(s.b, l)
	return nil
}

func (s *snapshotLines) Voter(v store.Voter) error {
	s.b = append(append(append(s.b, "v "...), v.Line()...), '\n')
	return nil
}

// FuzzReadSnapshot feeds the reader of the twin's snapshot arbitrary
// bodies: it must not panic, and a body it accepts must be the one
// spelling of its content: written back from what the reader handed over,
// it gives the same bytes, and the digest it returns is the end line's.
func FuzzReadSnapshot(f *testing.F) {
	voter := "ORSkiSbwTOnJKXE6vc4HYs8ZuWVnIlVw3jDiIKM7LF0= bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 9Uqw0Ioi1Qvm+Ztf+6GnH2mdIuQc13EU"
	vote := `1767225600 bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 0011223344556677 "Humble Pluto"`
	good := snapshotSeed([]string{"1 1 r1=*,-,- " + vote}, []string{"1 0 1 " + voter + " " + vote}, []string{voter})
	if _, err := readSnapshot(bytes.NewReader(good), func(snapshotHeader) (snapshotSink, error) { return &snapshotLines{}, nil }); err != nil {
		f.Fatalf("the seed snapshot does not read: %v", err)
	}
	f.Add(good)
	f.Add(snapshotSeed(nil, nil, nil))
	f.Add(snapshotSeed([]string{"1 0 r0= retract 0011223344556677"}, nil, []string{voter}))
	f.Add(good[:len(good)-10])
	f.Add(bytes.Replace(good, []byte("Humble"), []byte("Humbly"), 1))
	f.Add(snapshotSeed([]string{"01 1 r1=*,-,- " + vote}, nil, nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got snapshotLines
		var head snapshotHeader
		d, err := readSnapshot(bytes.NewReader(body), func(h snapshotHeader) (snapshotSink, error) {
			head = h
			return &got, nil
		})
		if err != nil {
			return
		}
		in := head.info
		again := fmt.Sprintf("%s\ncampaign %s\ninstance %d\nlog %s\ncounts %d %d %d %d %d %d\n%send %s\n",
			snapshotMagic, head.campaign, head.instance, in.LogID, in.Seq, in.Twin, in.Index, in.Voters, in.Votes, in.Links, got.b, d)
		if again != string(body) {
			t.Fatalf("accepted %q, which reads back as %q", body, again)
		}
	})
}

package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// listServer serves a votes list as the publisher does: ETag
// "epoch-size", one byte range, 416 with "bytes */size" past the end.
type listServer struct {
	mu      sync.Mutex
	data    []byte
	epoch   string
	noRange bool // answer every request with the whole list
	fail    int  // answer the next requests 500
	ranges  []string
}

func (s *listServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	if s.noRange {
		r.Header.Del("Range")
	}
	w.Header().Set("ETag", fmt.Sprintf(`"%s-%d"`, s.epoch, len(s.data)))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(bytes.Clone(s.data)))
}

func (s *listServer) set(f func(data []byte) []byte) {
	s.mu.Lock()
	s.data = f(s.data)
	s.mu.Unlock()
}

// nonce is the nonce of vote i, as a follower asks for it.
func (f *fixture) nonce(i int) []byte { return f.votes[i].Nonce }

// clock is a follower's clock that the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// followCase is a follower against a listServer, the run's votes being
// the first n of fx, with a clock at t0.
func followCase(t *testing.T, fx *fixture, n int, srv *listServer) (*follower, *clock, time.Time) {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t0 := time.Unix(1767225600, 0)
	c := &clock{t: t0}
	return newFollower(ts.URL+"/load-vote.log", ts.Client(), n, fx.nonce, c.now), c, t0
}

// TestFollower follows a list through growth in pieces, a line split
// across two fetches, lines of other votes, a malformed line, a fetch that
// fails, a list that shrinks and one whose epoch changes, and checks each
// vote's first sighting and the delays against given acknowledgements.
func TestFollower(t *testing.T) {
	fx := newFixture(t, 6)     // the run's votes: 5 of them acknowledged, vote 4 not
	others := newFixture(t, 2) // votes of other voters, or fillers
	line := func(f *fixture, i int) string { return f.votes[i].Line() + "\n" }
	l1 := line(fx, 1)
	srv := &listServer{epoch: "00000000000000aa", data: []byte(line(others, 0))}
	f, c, t0 := followCase(t, fx, 6, srv)
	f.begin(context.Background())
	if f.off != int64(len(srv.data)) || f.epoch != "00000000000000aa" {
		t.Fatalf("begin: offset %d epoch %q, want %d and the list's epoch", f.off, f.epoch, len(srv.data))
	}

	type counts struct{ lines, matched, repeated, other, malformed, restarts, fetchErrors int }
	for _, step := range []struct {
		name   string
		change func(data []byte) []byte
		fail   bool // the server answers 500
		epoch  string
		want   counts
	}{
		{name: "a line and half of the next", change: func(d []byte) []byte { return append(d, line(fx, 0)+l1[:40]...) },
			want: counts{lines: 1, matched: 1}},
		{name: "the rest of the split line and another voter's", change: func(d []byte) []byte { return append(d, l1[40:]+line(others, 1)...) },
			want: counts{lines: 3, matched: 2, other: 1}},
		{name: "nothing new (416)", want: counts{lines: 3, matched: 2, other: 1}},
		{name: "a malformed line and a vote", change: func(d []byte) []byte { return append(d, "not a vote\n"+line(fx, 2)...) },
			want: counts{lines: 5, matched: 3, other: 1, malformed: 1}},
		{name: "a failed fetch", fail: true, change: func(d []byte) []byte { return append(d, line(fx, 3)...) },
			want: counts{lines: 5, matched: 3, other: 1, malformed: 1, fetchErrors: 1}},
		{name: "the list shrinks", change: func([]byte) []byte { return []byte(line(others, 0)) },
			want: counts{lines: 5, matched: 3, other: 1, malformed: 1, fetchErrors: 1, restarts: 1}},
		{name: "read again from the start", change: func(d []byte) []byte {
			return append(d, line(fx, 0)+line(fx, 1)+line(fx, 2)+line(fx, 3)...)
		}, want: counts{lines: 10, matched: 4, repeated: 3, other: 2, malformed: 1, fetchErrors: 1, restarts: 1}},
		{name: "another epoch", epoch: "00000000000000bb", change: func(d []byte) []byte { return append(d, line(fx, 4)...) },
			want: counts{lines: 10, matched: 4, repeated: 3, other: 2, malformed: 1, fetchErrors: 1, restarts: 2}},
		{name: "the new list from its start", want: counts{lines: 16, matched: 5, repeated: 7, other: 3, malformed: 1, fetchErrors: 1, restarts: 2}},
	} {
		c.t = c.t.Add(time.Second)
		srv.mu.Lock()
		if step.change != nil {
			srv.data = step.change(srv.data)
		}
		if step.epoch != "" {
			srv.epoch = step.epoch
		}
		srv.fail = 0
		if step.fail {
			srv.fail = 1
		}
		srv.mu.Unlock()
		err := f.poll(context.Background())
		if (err != nil) != step.fail {
			t.Errorf("%s: poll: %v", step.name, err)
		}
		got := counts{f.lines, f.matched, f.repeated, f.other, f.malformed, f.restarts, f.fetchErrors}
		if got != step.want {
			t.Errorf("%s: %+v, want %+v", step.name, got, step.want)
		}
	}
	if want := "bytes=0-"; srv.ranges[len(srv.ranges)-1] != want {
		t.Errorf("last Range %q, want %q", srv.ranges[len(srv.ranges)-1], want)
	}
	if !strings.Contains(f.firstRestart, "shrank") {
		t.Errorf("first restart %q, want the shrinking", f.firstRestart)
	}
	if f.off != int64(len(srv.data)) || len(f.partial) != 0 {
		t.Errorf("offset %d, partial %q; want %d and none", f.off, f.partial, len(srv.data))
	}

	// First sightings: vote 0 at the first poll, vote 1 (split) at the
	// second, vote 2 at the fourth, vote 3 at the seventh (the fifth
	// failed, the sixth found the list shrunk), vote 4 at the ninth.
	ms := func(n int) int64 { return t0.Add(time.Duration(n) * time.Millisecond).UnixNano() }
	wantSeen := []int64{ms(1000), ms(2000), ms(4000), ms(7000), ms(9000), 0}
	for i, w := range wantSeen {
		if f.seen[i] != w {
			t.Errorf("vote %d first seen at %v, want %v", i, time.Duration(f.seen[i]-t0.UnixNano()), time.Duration(w-t0.UnixNano()))
		}
	}
	// Acknowledged: 0 at 0.5 s, 1 at 0.25 s, 2 at 3.9 s, 3 at 7.5 s (after
	// its line was seen), 5 at 8 s and never seen; 4 never.
	ackAt := []int64{ms(500), ms(250), ms(3900), ms(7500), 0, ms(8000)}
	p := publicationReport(ackAt, f.seen, t0, 10*time.Second)
	p.setFollower(f, time.Second, 10)
	want := Delay{P50: 100, P90: 1750, P99: 1750, Max: 1750} // delays 1750, 500, 100 and 0 ms
	if p.DelayMS != want || p.Acknowledged != 5 || p.Seen != 4 || p.SeenBeforeAck != 1 || p.SeenUnacknowledged != 1 {
		t.Errorf("publication %+v, want delays %+v, 5 acknowledged, 4 seen, 1 before its acknowledgement, 1 unacknowledged", p, want)
	}
	if p.Restarts != 2 || p.OtherLines != 3 || p.FetchErrors != 1 || p.Fetches != 10 {
		t.Errorf("restarts %d other %d fetch errors %d fetches %d", p.Restarts, p.OtherLines, p.FetchErrors, p.Fetches)
	}
}

// TestFollowerWholeList: a server that ignores Range answers the whole
// list; the follower skips what it has read, and notices a list shorter
// than that.
func TestFollowerWholeList(t *testing.T) {
	fx := newFixture(t, 3)
	srv := &listServer{epoch: "0000000000000001", noRange: true}
	f, c, _ := followCase(t, fx, 3, srv)
	f.begin(context.Background())
	for _, step := range []struct {
		data                        []int // the votes the list holds
		matched, repeated, restarts int
	}{
		{data: []int{0}, matched: 1},
		{data: []int{0, 1}, matched: 2},
		{data: []int{2}, matched: 2, restarts: 1},
		{data: []int{2}, matched: 3, restarts: 1},
	} {
		c.t = c.t.Add(time.Second)
		srv.set(func([]byte) []byte {
			var b []byte
			for _, i := range step.data {
				b = append(fx.votes[i].AppendLine(b), '\n')
			}
			return b
		})
		if err := f.poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f.matched != step.matched || f.repeated != step.repeated || f.restarts != step.restarts {
			t.Errorf("list of votes %v: matched %d repeated %d restarts %d, want %d, %d, %d",
				step.data, f.matched, f.repeated, f.restarts, step.matched, step.repeated, step.restarts)
		}
	}
}

// TestFollowerLongLine: a line longer than maxFollowLine, in pieces, is
// dropped up to its end without being held, and the next line is read.
func TestFollowerLongLine(t *testing.T) {
	fx := newFixture(t, 1)
	f := newFollower("", nil, 1, fx.nonce, nil)
	piece := bytes.Repeat([]byte("x"), maxFollowLine/3)
	for range 5 {
		f.feed(piece, 1)
		if len(f.partial) > maxFollowLine {
			t.Fatalf("holds %d bytes of a line", len(f.partial))
		}
	}
	f.feed(append([]byte("x\n"), fx.votes[0].Line()+"\n"...), 2)
	if f.malformed != 1 || f.matched != 1 || f.seen[0] != 2 || f.lines != 2 {
		t.Errorf("malformed %d matched %d seen %d lines %d, want 1, 1, 2, 2", f.malformed, f.matched, f.seen[0], f.lines)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                string
		first, last, size int64
		ok                bool
	}{
		{"bytes 0-99/100", 0, 99, 100, true},
		{"bytes 100-149/*", 100, 149, -1, true},
		{"bytes */100", -1, -1, 100, true},
		{"bytes */0", -1, -1, 0, true},
		{"bytes */*", 0, 0, 0, false},
		{"bytes 5-4/100", 0, 0, 0, false},
		{"bytes 0-100/100", 0, 0, 0, false},
		{"bytes -1-5/100", 0, 0, 0, false},
		{"bytes 0-5", 0, 0, 0, false},
		{"items 0-5/6", 0, 0, 0, false},
		{"bytes 0-99999999999999999999/*", 0, 0, 0, false},
		{"bytes +1-5/6", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		first, last, size, ok := parseContentRange(tc.in)
		if ok != tc.ok || ok && (first != tc.first || last != tc.last || size != tc.size) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v", tc.in, first, last, size, ok, tc.first, tc.last, tc.size, tc.ok)
		}
	}
}

func TestEtagEpoch(t *testing.T) {
	for in, want := range map[string]string{
		`"0123456789abcdef-4096"`:         "0123456789abcdef",
		`W/"0123456789abcdef-0"`:          "0123456789abcdef",
		`"0123456789abcdef-archive-4096"`: "0123456789abcdef-archive",
		`"0123456789abcdef"`:              "",
		`"-12"`:                           "",
		`"abc-12x"`:                       "",
		`abc-12`:                          "",
		``:                                "",
	} {
		if got := etagEpoch(in); got != want {
			t.Errorf("etagEpoch(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseContentRange: whatever a server sends, a range read is within
// its size and never backwards.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/100", "bytes */100", "bytes 1-2/*", "bytes 5-4/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, size, ok := parseContentRange(s)
		if !ok {
			return
		}
		if first == -1 {
			if last != -1 || size < 0 {
				t.Fatalf("%q: unsatisfied range %d-%d/%d", s, first, last, size)
			}
			return
		}
		if first < 0 || last < first || size >= 0 && last >= size {
			t.Fatalf("%q: range %d-%d/%d", s, first, last, size)
		}
	})
}

// FuzzFollowerFeed: the list's bytes split anywhere give the lines they
// give whole, and a held line never passes maxFollowLine.
func FuzzFollowerFeed(f *testing.F) {
	fx := newFixture(f, 2)
	f.Add([]byte(fx.votes[0].Line()+"\n"+fx.votes[1].Line()+"\n"), uint16(40))
	f.Add([]byte("a\n\nb"), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		whole, split := newFollower("", nil, 2, fx.nonce, nil), newFollower("", nil, 2, fx.nonce, nil)
		whole.feed(data, 1)
		k := min(int(cut), len(data))
		split.feed(data[:k], 1)
		split.feed(data[k:], 1)
		type counts struct{ lines, matched, repeated, other, malformed, off int }
		w := counts{whole.lines, whole.matched, whole.repeated, whole.other, whole.malformed, int(whole.off)}
		s := counts{split.lines, split.matched, split.repeated, split.other, split.malformed, int(split.off)}
		// A line too long to hold is malformed whether it is dropped
		// in pieces or parsed whole.
		if w != s || whole.skip != split.skip {
			t.Fatalf("whole %+v, split at %d %+v", w, k, s)
		}
		if len(split.partial) > maxFollowLine || !bytes.Equal(whole.partial, split.partial) {
			t.Fatalf("held %q, whole %q", split.partial, whole.partial)
		}
	})
}

// TestFollowerWrongRange: a 206 that does not start where the follower
// asked is refused, not read as the list's continuation.
func TestFollowerWrongRange(t *testing.T) {
	fx := newFixture(t, 1)
	body := fx.votes[0].Line() + "\n"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"0000000000000001-10"`)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(body)-1, len(body)))
		w.WriteHeader(http.StatusPartialContent)
		_, _ = io.WriteString(w, body)
	}))
	defer ts.Close()
	f := newFollower(ts.URL, ts.Client(), 1, fx.nonce, time.Now)
	f.off = 5
	if err := f.poll(context.Background()); err == nil || f.matched != 0 || f.fetchErrors != 1 || f.off != 5 {
		t.Errorf("poll: %v, matched %d, fetch errors %d, offset %d; want an error and nothing read", err, f.matched, f.fetchErrors, f.off)
	}
}

package edge

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/powvote/powvote/audit"
	"github.com/powvote/powvote/internal/operator/operatortest"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/published"
)

// fakePublisher serves what the counter reads of a campaign's published
// files, as a publisher does: the log key, the votes list's latest
// checkpoint, signed, and the history, with ranges. The test publishes
// lines with publish and counts the reads of each file.
type fakePublisher struct {
	campaign string
	options  []string
	clock    func() time.Time

	mu         sync.Mutex
	signer     note.Signer // signs the checkpoints
	vkey       string      // served as the log key
	lines      []string
	hashes     []tlog.Hash // the tree's stored hashes
	checkpoint []byte      // served as the latest
	history    []byte
	reads      map[string]int // GETs by file name
	gate       chan struct{}  // when not nil, a checkpoint read waits for it to close
}

func newFakePublisher(t testing.TB, campaign string, options []string, clock func() time.Time) *fakePublisher {
	t.Helper()
	p := &fakePublisher{campaign: campaign, options: options, clock: clock, reads: map[string]int{}}
	p.newKey(t)
	p.mu.Lock()
	p.checkpoint = p.signLocked(t, published.Origin(campaign, published.Vote), 0)
	p.mu.Unlock()
	return p
}

// newKey replaces the log key; checkpoints signed from now on use it.
func (p *fakePublisher) newKey(t testing.TB) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "powvote-"+p.campaign)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signer, p.vkey = signer, vkey
}

type hashSlice []tlog.Hash

func (h hashSlice) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = h[x]
	}
	return out, nil
}

// signLocked signs the checkpoint of origin at size, with the root of the
// first size lines.
func (p *fakePublisher) signLocked(t testing.TB, origin string, size int64) []byte {
	t.Helper()
	root, err := tlog.TreeHash(size, hashSlice(p.hashes))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := note.Sign(&note.Note{Text: audit.CheckpointText(origin, tlog.Tree{N: size, Hash: root}, "")}, p.signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// publish appends vote lines as a batch: the list, a signed checkpoint
// and a history line at the clock's second.
func (p *fakePublisher) publish(t testing.TB, lines ...string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range lines {
		hs, err := tlog.StoredHashes(int64(len(p.lines)), []byte(l), hashSlice(p.hashes))
		if err != nil {
			t.Fatal(err)
		}
		p.hashes = append(p.hashes, hs...)
		p.lines = append(p.lines, l)
	}
	h := listline.History{Size: int64(len(p.lines)), Time: p.clock().Unix(), Counts: make([]int64, len(p.options))}
	for _, l := range p.lines {
		v, err := listline.ParseVote(l)
		if err != nil {
			t.Fatalf("publish %q: %v", l, err)
		}
		for i, o := range p.options {
			if o == v.Option {
				h.Counts[i]++
			}
		}
	}
	p.history = h.AppendLine(p.history)
	p.history = append(p.history, '\n')
	p.checkpoint = p.signLocked(t, published.Origin(p.campaign, published.Vote), int64(len(p.lines)))
}

// serveCheckpoint makes the publisher serve b as the latest votes
// checkpoint.
func (p *fakePublisher) serveCheckpoint(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkpoint = b
}

// read reports how many times name was read.
func (p *fakePublisher) read(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads[name]
}

func (p *fakePublisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	p.mu.Lock()
	p.reads[name]++
	gate := p.gate
	var body []byte
	switch name {
	case published.LogKeyName(p.campaign):
		body = []byte(p.vkey + "\n")
	case published.CheckpointName(p.campaign, published.Vote):
		body = p.checkpoint
	case published.HistoryName(p.campaign):
		body = bytes.Clone(p.history)
	default:
		p.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	p.mu.Unlock()
	if gate != nil && name == published.CheckpointName(p.campaign, published.Vote) {
		<-gate
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Ranges and conditionals as the publisher answers them.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

// listsModes are the two ways an edge reaches a campaign's published
// files: relayed from the publisher's server (powvote edge --publisher),
// or the publisher's handler mounted in the process (powvote up).
var listsModes = []string{"relayed", "mounted"}

// lists returns the Campaign.Lists handler that serves p in mode.
func (p *fakePublisher) lists(t testing.TB, mode string) fasthttp.RequestHandler {
	t.Helper()
	if mode == "mounted" {
		return fasthttpadaptor.NewFastHTTPHandler(p)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	h, err := ListsFrom(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// slowCounter makes the counter's requests wait as long as a reading
// takes: the readings of a loaded test machine may outlast counterWait.
func slowCounter(s *Server) {
	for _, st := range s.siteMap() {
		st.counter.wait = time.Minute
	}
}

// voteLine is a well-formed line of the votes list for option.
func voteLine(i int, option string) string {
	v := listline.Vote{PUTC: strconv.Itoa(1767225600 + i), Voter: "7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ",
		Nonce: []byte(fmt.Sprintf("nonce%03d", i)), Option: option}
	return v.Line()
}

// counterEnv is an edge serving campaign solar (options Yes and Other),
// whose collectors are not running, and its fake publisher.
type counterEnv struct {
	pub   *fakePublisher
	srv   *Server
	base  string
	clock *fakeClock
	set   *metrics.Set
}

func startCounter(t *testing.T, mode string, tweak func(*Config), hook ...func(*Server)) *counterEnv {
	t.Helper()
	clock := newClock(time.Unix(1767225600, 0))
	s := settings("solar", "Yes", "Other")
	e := &counterEnv{pub: newFakePublisher(t, "solar", s.Options, clock.now), clock: clock, set: metrics.NewSet()}
	c := offline(t, s)
	c.Lists = e.pub.lists(t, mode)
	cfg := Config{Campaigns: []Campaign{c}, Clock: clock.now, TailInterval: -1, Metrics: e.set}
	if tweak != nil {
		tweak(&cfg)
	}
	e.srv, e.base = serve(t, cfg, append([]func(*Server){slowCounter}, hook...)...)
	return e
}

// getJSON GETs a counter.json and decodes it.
func getJSON(t *testing.T, url string) counterDoc {
	t.Helper()
	resp, body := do(t, "GET", url, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	var d counterDoc
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("GET %s: %q: %v", url, body, err)
	}
	return d
}

// TestCounterCountsPublished casts votes through the edge to its stand-in
// collectors, publishes fewer of them than they hold, and finds the
// published count in both answers: the checkpoint's size, never what the
// collectors hold; the time of its history line; the count unchanged until
// counterRefresh has passed, then the new one.
func TestCounterCountsPublished(t *testing.T) {
	for _, mode := range listsModes {
		t.Run(mode, func(t *testing.T) {
			var pub *fakePublisher
			e := startEnv(t, 1, func(c *Config) {
				pub = newFakePublisher(t, "solar", c.Campaigns[0].Settings.Options, c.Clock)
				c.Campaigns[0].Lists = pub.lists(t, mode)
			}, slowCounter)
			if d := getJSON(t, e.base+"/solar/counter.json"); d != (counterDoc{Campaign: "solar"}) {
				t.Errorf("nothing published: %+v, want 0 votes and no time", d)
			}

			const cast, published = 3, 2
			for i := range cast {
				if resp, _ := e.cast(t, e.ballot(t, e.rightCode(t), []string{"Yes", "Other"}[i%2])); resp.StatusCode != 204 {
					t.Fatalf("vote %d: status %d", i, resp.StatusCode)
				}
			}
			e.votesSettled([]int64{cast, cast})
			e.cols[0].mu.Lock()
			held := append([]string(nil), e.cols[0].records...)
			e.cols[0].mu.Unlock()
			if len(held) != cast {
				t.Fatalf("the collector holds %d votes, want %d", len(held), cast)
			}
			e.clock.add(time.Second)
			at := e.clock.now()
			pub.publish(t, held[:published]...)

			// Read already, and not due again: the count the edge had.
			if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 0 {
				t.Errorf("before counterRefresh: %d votes, want the 0 read before", d.Votes)
			}
			e.clock.add(counterRefresh)
			want := counterDoc{Campaign: "solar", Votes: published, Updated: at.UTC().Format(time.RFC3339)}
			if d := getJSON(t, e.base+"/solar/counter.json"); d != want {
				t.Errorf("after publishing %d of %d votes: %+v, want %+v", published, cast, d, want)
			}
			cp := fetchCheckpoint(t, e.base, pub)
			if cp.Tree.N != published {
				t.Errorf("the relayed checkpoint's size is %d, want %d", cp.Tree.N, published)
			}
			want.Goal = 10
			if d := getJSON(t, e.base+"/solar/counter.json?goal=10"); d != want {
				t.Errorf("with a goal: %+v, want %+v", d, want)
			}
			_, svg := do(t, "GET", e.base+"/solar/counter.svg?goal=10", nil)
			if !strings.Contains(svg, ">2 / 10</text>") || !strings.Contains(svg, "<title>solar – votes: 2 of 10</title>") {
				t.Errorf("the badge does not show 2 of 10: %s", svg)
			}

			e.clock.add(time.Second)
			pub.publish(t, held[published:]...)
			e.clock.add(counterRefresh)
			if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != cast || d.Updated != e.clock.now().Add(-counterRefresh).UTC().Format(time.RFC3339) {
				t.Errorf("after publishing all %d: %+v", cast, d)
			}
		})
	}
}

// fetchCheckpoint reads the votes checkpoint as the edge relays it and
// opens it with the publisher's key.
func fetchCheckpoint(t *testing.T, base string, p *fakePublisher) *audit.Checkpoint {
	t.Helper()
	_, body := do(t, "GET", base+"/"+published.CheckpointName(p.campaign, published.Vote), nil)
	p.mu.Lock()
	vkey := p.vkey
	p.mu.Unlock()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.OpenCheckpoint([]byte(body), v)
	if err != nil {
		t.Fatalf("the relayed checkpoint %q: %v", body, err)
	}
	return cp
}

// TestCounterReadsRarely: however many requests, the edge reads the
// checkpoint once per counterRefresh, the log key once, and the history
// once per new size.
func TestCounterReadsRarely(t *testing.T) {
	e := startCounter(t, "relayed", nil)
	e.pub.publish(t, voteLine(0, "Yes"), voteLine(1, "Other"))
	cpName := published.CheckpointName("solar", published.Vote)
	for i := range 60 {
		url := e.base + "/solar/counter.svg"
		switch i % 3 {
		case 1:
			url = e.base + fmt.Sprintf("/solar/counter.json?goal=%d", i+1)
		case 2:
			url = e.base + "/solar/counter.svg?lang=pl&goal=" + strconv.Itoa(i+1)
		}
		if resp, _ := do(t, "GET", url, nil); resp.StatusCode != 200 {
			t.Fatalf("GET %s: status %d", url, resp.StatusCode)
		}
		if i%20 == 19 {
			e.clock.add(counterRefresh)
		}
	}
	// Readings at the first request and after each of the first two
	// refreshes; the history once, the size not having changed.
	for name, want := range map[string]int{cpName: 3, published.LogKeyName("solar"): 1, published.HistoryName("solar"): 1} {
		if got := e.pub.read(name); got != want {
			t.Errorf("%s read %d times, want %d", name, got, want)
		}
	}
}

// TestCounterSlowPublisher: a reading that takes longer than counterWait
// leaves requests with the last count; the new one follows once read.
func TestCounterSlowPublisher(t *testing.T) {
	e := startCounter(t, "relayed", nil, func(s *Server) {
		for _, st := range s.siteMap() {
			st.counter.wait = 20 * time.Millisecond
		}
	})
	e.pub.publish(t, voteLine(0, "Yes"))
	if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 1 {
		t.Fatalf("first reading: %d votes, want 1", d.Votes)
	}
	e.pub.publish(t, voteLine(1, "Yes"))
	gate := make(chan struct{})
	e.pub.mu.Lock()
	e.pub.gate = gate
	e.pub.mu.Unlock()
	e.clock.add(counterRefresh)
	start := time.Now()
	if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 1 {
		t.Errorf("while the publisher hangs: %d votes, want the 1 read before", d.Votes)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("a request waited %v for the hung publisher", waited)
	}
	close(gate)
	waitFor(10*time.Second, func() bool { return e.srv.siteMap()["solar"].counter.reading.Load().votes == 2 })
	if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 2 {
		t.Errorf("once the publisher answered: %d votes, want 2", d.Votes)
	}
}

// TestCounterSignedOnly: the count is a checkpoint's the log key signed,
// of the campaign's votes list; anything else the publisher serves in its
// place leaves the count as it was read last, or, before any, a 502.
func TestCounterSignedOnly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(e *counterEnv) []byte
	}{
		{"another key", func(e *counterEnv) []byte {
			other := newFakePublisher(t, "solar", e.pub.options, e.clock.now)
			other.publish(t, voteLine(0, "Yes"), voteLine(1, "Yes"), voteLine(2, "Other"), voteLine(3, "Yes"), voteLine(4, "Yes"))
			return other.checkpoint
		}},
		{"the voters list's", func(e *counterEnv) []byte {
			e.pub.mu.Lock()
			defer e.pub.mu.Unlock()
			return e.pub.signLocked(t, published.Origin("solar", published.Auth), int64(len(e.pub.lines)))
		}},
		{"another campaign's", func(e *counterEnv) []byte {
			e.pub.mu.Lock()
			defer e.pub.mu.Unlock()
			return e.pub.signLocked(t, published.Origin("lunar", published.Vote), int64(len(e.pub.lines)))
		}},
		{"size changed after signing", func(e *counterEnv) []byte {
			e.pub.mu.Lock()
			defer e.pub.mu.Unlock()
			return bytes.Replace(e.pub.checkpoint, []byte("\n3\n"), []byte("\n9\n"), 1)
		}},
		{"unsigned", func(e *counterEnv) []byte {
			e.pub.mu.Lock()
			defer e.pub.mu.Unlock()
			text, _, _ := bytes.Cut(e.pub.checkpoint, []byte("\n\n"))
			return append(text, '\n')
		}},
		{"empty", func(*counterEnv) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Before any checkpoint was read: nothing to show.
			e := startCounter(t, "relayed", nil)
			e.pub.publish(t, voteLine(0, "Yes"), voteLine(1, "Yes"), voteLine(2, "Other"))
			good := e.pub.checkpoint
			e.pub.serveCheckpoint(tc.serve(e))
			for _, path := range []string{"/solar/counter.json", "/solar/counter.svg"} {
				resp, body := do(t, "GET", e.base+path, nil)
				if resp.StatusCode != 502 || body != "" || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("%s: status %d, body %q, Cache-Control %q, Allow-Origin %q; want 502, empty, no-store and *",
						path, resp.StatusCode, body, resp.Header.Get("Cache-Control"), resp.Header.Get("Access-Control-Allow-Origin"))
				}
			}
			// After a good one: the good one stays.
			e.pub.serveCheckpoint(good)
			e.clock.add(counterRefresh)
			if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 3 {
				t.Fatalf("the signed checkpoint: %d votes, want 3", d.Votes)
			}
			e.pub.serveCheckpoint(tc.serve(e))
			e.clock.add(counterRefresh)
			if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 3 {
				t.Errorf("%s served after the signed one: %d votes, want the 3 signed", tc.name, d.Votes)
			}
		})
	}
}

// TestCounterNewLogKey: a log key that changed (a campaign of that name
// made anew) is read again, and its checkpoints count.
func TestCounterNewLogKey(t *testing.T) {
	e := startCounter(t, "mounted", nil)
	e.pub.publish(t, voteLine(0, "Yes"))
	if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 1 {
		t.Fatalf("%d votes, want 1", d.Votes)
	}
	e.pub.newKey(t)
	e.pub.publish(t, voteLine(1, "Yes"))
	e.clock.add(counterRefresh)
	if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 2 {
		t.Errorf("under a new log key: %d votes, want 2", d.Votes)
	}
	if n := e.pub.read(published.LogKeyName("solar")); n != 2 {
		t.Errorf("the log key read %d times, want 2", n)
	}
}

// TestCounterHeaders: every counter answer, an error's too, may be read
// by any origin and embedded by any site, and the SVG can run nothing
// even when opened directly; whatever origins the edge allows otherwise,
// the counter's answer does not depend on Origin.
func TestCounterHeaders(t *testing.T) {
	e := startCounter(t, "mounted", func(c *Config) { c.AllowOrigins = []string{"https://vote.example.org"} })
	e.pub.publish(t, voteLine(0, "Yes"))
	first, _ := do(t, "GET", e.base+"/solar/counter.svg", nil)
	tag := first.Header.Get("ETag")
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		ctype              string
	}{
		{"svg", "GET", "/solar/counter.svg", nil, 200, "image/svg+xml"},
		{"json", "GET", "/solar/counter.json", nil, 200, "application/json"},
		{"svg from another site", "GET", "/solar/counter.svg", map[string]string{"Origin": "https://blog.example.net"}, 200, "image/svg+xml"},
		{"json from an allowed origin", "GET", "/solar/counter.json", map[string]string{"Origin": "https://vote.example.org"}, 200, "application/json"},
		{"head", "HEAD", "/solar/counter.svg", nil, 200, "image/svg+xml"},
		{"not modified", "GET", "/solar/counter.svg", map[string]string{"If-None-Match": tag, "Origin": "https://blog.example.net"}, 304, ""},
		{"bad goal", "GET", "/solar/counter.svg?goal=0", map[string]string{"Origin": "https://blog.example.net"}, 400, ""},
		{"unknown campaign", "GET", "/lunar/counter.json", map[string]string{"Origin": "https://blog.example.net"}, 404, ""},
	} {
		resp, _ := do(t, tc.method, e.base+tc.path, tc.hdr)
		want := map[string]string{
			"Access-Control-Allow-Origin":      "*",
			"Access-Control-Allow-Credentials": "",
			"Cross-Origin-Resource-Policy":     "cross-origin",
			"X-Content-Type-Options":           "nosniff",
			"Content-Security-Policy":          "default-src 'none'; style-src 'unsafe-inline'",
			"Vary":                             "",
		}
		if tc.status == 200 || tc.status == 304 {
			want["Cache-Control"] = "public, max-age=15"
			want["ETag"] = resp.Header.Get("ETag")
			if len(want["ETag"]) != 26 {
				t.Errorf("%s: ETag %q", tc.name, want["ETag"])
			}
		}
		if tc.ctype != "" {
			want["Content-Type"] = tc.ctype
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, got, v)
			}
		}
	}
}

// TestCounterConditional: the ETag names the answer's bytes: If-None-Match
// with it gets 304 and no body, until the count, the goal or the language
// changes.
func TestCounterConditional(t *testing.T) {
	e := startCounter(t, "relayed", nil)
	e.pub.publish(t, voteLine(0, "Yes"))
	resp, body := do(t, "GET", e.base+"/solar/counter.svg?goal=5", nil)
	tag := resp.Header.Get("ETag")
	for _, tc := range []struct {
		name, path, inm string
		status          int
		same            bool // the answer is the first one's: same ETag
	}{
		{"same", "/solar/counter.svg?goal=5", tag, 304, true},
		{"weak", "/solar/counter.svg?goal=5", "W/" + tag, 304, true},
		{"in a list", "/solar/counter.svg?goal=5", `"x", ` + tag, 304, true},
		{"star", "/solar/counter.svg?goal=5", "*", 304, true},
		{"other tag", "/solar/counter.svg?goal=5", `"x"`, 200, true},
		{"another goal", "/solar/counter.svg?goal=6", tag, 200, false},
		{"another language", "/solar/counter.svg?goal=5&lang=de", tag, 200, false},
		{"the JSON", "/solar/counter.json?goal=5", tag, 200, false},
		{"ignored parameter", "/solar/counter.svg?goal=5&v=1", tag, 304, true},
	} {
		r, b := do(t, "GET", e.base+tc.path, map[string]string{"If-None-Match": tc.inm})
		if r.StatusCode != tc.status || (tc.status == 304) != (b == "") || tc.same != (r.Header.Get("ETag") == tag) {
			t.Errorf("%s: status %d, ETag %q (first %q), body %d bytes; want %d", tc.name, r.StatusCode, r.Header.Get("ETag"), tag, len(b), tc.status)
		}
	}
	e.clock.add(time.Second)
	e.pub.publish(t, voteLine(1, "Yes"))
	e.clock.add(counterRefresh)
	r, b := do(t, "GET", e.base+"/solar/counter.svg?goal=5", map[string]string{"If-None-Match": tag})
	if r.StatusCode != 200 || r.Header.Get("ETag") == tag || b == body || !strings.Contains(b, ">2 / 5<") {
		t.Errorf("after a new batch: status %d, ETag %q (was %q), body %q", r.StatusCode, r.Header.Get("ETag"), tag, b)
	}
}

// TestCounterHead: HEAD gets GET's status and headers without the body.
func TestCounterHead(t *testing.T) {
	e := startCounter(t, "mounted", nil)
	e.pub.publish(t, voteLine(0, "Yes"))
	for _, path := range []string{"/solar/counter.svg?goal=100", "/solar/counter.json?lang=de"} {
		g, gb := do(t, "GET", e.base+path, nil)
		h, hb := do(t, "HEAD", e.base+path, nil)
		if h.StatusCode != 200 || hb != "" || h.ContentLength != int64(len(gb)) || h.Header.Get("ETag") != g.Header.Get("ETag") || len(gb) == 0 {
			t.Errorf("HEAD %s: status %d, body %q, length %d, ETag %q; GET: %d bytes, ETag %q",
				path, h.StatusCode, hb, h.ContentLength, h.Header.Get("ETag"), len(gb), g.Header.Get("ETag"))
		}
	}
	if h, _ := do(t, "HEAD", e.base+"/lunar/counter.svg", nil); h.StatusCode != 404 {
		t.Errorf("HEAD of an unknown campaign's counter: %d, want 404", h.StatusCode)
	}
}

// TestCounterCampaigns: the path names the campaign, whatever the Host; a
// campaign the edge does not serve, or serves without its published
// files, has no counter.
func TestCounterCampaigns(t *testing.T) {
	clock := newClock(time.Unix(1767225600, 0))
	solar, city := settings("solar", "Yes"), settings("city", "Yes", "No")
	pubs := map[string]*fakePublisher{
		"solar": newFakePublisher(t, "solar", solar.Options, clock.now),
		"city":  newFakePublisher(t, "city", city.Options, clock.now),
	}
	pubs["solar"].publish(t, voteLine(0, "Yes"))
	pubs["city"].publish(t, voteLine(0, "Yes"), voteLine(1, "No"), voteLine(2, "No"))
	a, b, c := offline(t, solar), offline(t, city), offline(t, settings("town", "Yes"))
	a.Lists, b.Lists = pubs["solar"].lists(t, "relayed"), pubs["city"].lists(t, "mounted")
	set := metrics.NewSet()
	_, base := serve(t, Config{Campaigns: []Campaign{a, b, c}, Clock: clock.now, TailInterval: -1, Metrics: set}, slowCounter)
	for _, tc := range []struct {
		path, host string
		status     int
		votes      int64
	}{
		{"/solar/counter.json", "", 200, 1},
		{"/city/counter.json", "", 200, 3},
		{"/city/counter.json", "solar.example.org", 200, 3},
		{"/solar/counter.json", "city.example.org", 200, 1},
		{"/lunar/counter.json", "solar.example.org", 404, 0},
		{"/town/counter.json", "town.example.org", 404, 0},
		{"/SOLAR/counter.json", "", 404, 0},
		{"/solar-/counter.json", "", 404, 0},
	} {
		hdr := map[string]string{}
		if tc.host != "" {
			hdr["Host"] = tc.host
		}
		resp, body := do(t, "GET", base+tc.path, hdr)
		if resp.StatusCode != tc.status {
			t.Errorf("%s (Host %q): status %d, want %d", tc.path, tc.host, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			if body != "" {
				t.Errorf("%s: body %q, want none", tc.path, body)
			}
			continue
		}
		var d counterDoc
		if err := json.Unmarshal([]byte(body), &d); err != nil || d.Votes != tc.votes || d.Campaign+"/" != strings.Split(tc.path, "/")[1]+"/" {
			t.Errorf("%s (Host %q): %q, %v; want %d votes", tc.path, tc.host, body, err, tc.votes)
		}
	}
	for _, tc := range []struct{ path, method string }{
		{"/solar/counter.png", "GET"}, {"/solar/counter.svg/", "GET"}, {"/solar/counter.json", "POST"}, {"//counter.svg", "GET"},
	} {
		if resp, _ := do(t, tc.method, base+tc.path, nil); resp.StatusCode != 400 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s %s: status %d, Allow-Origin %q; want 400 as any path the edge does not serve", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	s := operatortest.Scrape(t, set)
	for _, tc := range []struct {
		campaign, code string
		want           float64
	}{{"solar", "200", 2}, {"city", "200", 2}, {"town", "404", 1}, {"solar", "404", 0}} {
		if got := s.Get(t, "powvote_edge_requests_total", "campaign", tc.campaign, "endpoint", "counter", "code", tc.code); got != tc.want {
			t.Errorf("requests_total{%s, counter, %s} = %v, want %v", tc.campaign, tc.code, got, tc.want)
		}
	}
	// lunar, SOLAR and solar-, and the four paths that are no counter's
	// without a Host that names a campaign.
	if got := s.Get(t, "powvote_edge_unknown_campaign_requests_total"); got != 7 {
		t.Errorf("unknown campaign requests: %v, want 7", got)
	}
}

// TestCounterBadQuery: a goal or a language that is not one the counter
// knows is refused with 400 and an empty body, counted as bad_request;
// parameters it does not know are ignored.
func TestCounterBadQuery(t *testing.T) {
	e := startCounter(t, "mounted", nil)
	bad := []string{
		"goal=0", "goal=-1", "goal=+5", "goal=05", "goal=1000000001", "goal=99999999999999999999", "goal=1e3",
		"goal=1.5", "goal=", "goal", "goal=abc", "goal=1&goal=1", "goal=%20100",
		"lang=fr", "lang=EN", "lang=", "lang", "lang=en&lang=de", "lang=de-DE",
	}
	for _, q := range bad {
		for _, f := range []string{"svg", "json"} {
			resp, body := do(t, "GET", e.base+"/solar/counter."+f+"?"+q, nil)
			if resp.StatusCode != 400 || body != "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("?%s (%s): status %d, body %q, Allow-Origin %q; want 400, empty, *", q, f, resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	}
	if got := e.srv.Stats()["bad_request"]; got != uint64(2*len(bad)) {
		t.Errorf("bad_request = %d, want %d", got, 2*len(bad))
	}
	s := operatortest.Scrape(t, e.set)
	if got := s.Get(t, "powvote_edge_refusals_total", "campaign", "solar", "reason", "bad_request"); got != float64(2*len(bad)) {
		t.Errorf("refusals_total{bad_request} = %v, want %d", got, 2*len(bad))
	}
	for _, q := range []string{"goal=1", "goal=1000000000", "lang=en", "lang=de", "lang=pl&goal=7", "v=12&goal=3", "goal=1%30"} {
		if resp, _ := do(t, "GET", e.base+"/solar/counter.svg?"+q, nil); resp.StatusCode != 200 {
			t.Errorf("?%s: status %d, want 200", q, resp.StatusCode)
		}
	}
}

func TestParseCounterQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  counterQuery
	}{
		{"", counterQuery{lang: "en"}},
		{"goal=1000", counterQuery{goal: 1000, lang: "en"}},
		{"lang=pl&goal=1", counterQuery{goal: 1, lang: "pl"}},
		{"lang=de", counterQuery{lang: "de"}},
		{"goal=1000000000&x=1&x=2", counterQuery{goal: maxCounterGoal, lang: "en"}},
	} {
		var args fasthttp.Args
		args.Parse(tc.query)
		if q, err := parseCounterQuery(&args); err != nil || q != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.query, q, err, tc.want)
		}
	}
}

// badgeOf is what a test reads of a badge: the texts, the title, the
// widths of the rectangles and the SVG's own.
type badgeOf struct {
	Width int    `xml:"width,attr"`
	Role  string `xml:"role,attr"`
	Title string `xml:"title"`
	G     struct {
		Rects []struct {
			Y     int    `xml:"y,attr"`
			Width int    `xml:"width,attr"`
			Fill  string `xml:"fill,attr"`
		} `xml:"rect"`
		Texts []string `xml:"text"`
	} `xml:"g"`
}

// TestCounterBadge reads the badge's numbers, words and bar back from the
// SVG, in each language, with and without a goal.
func TestCounterBadge(t *testing.T) {
	for _, tc := range []struct {
		votes, goal int64
		lang        string
		label       string
		value       string
		title       string
		fill        float64 // of the bar's width; -1 without a bar
	}{
		{1234567, 0, "en", "votes", "1,234,567", "solar – votes: 1,234,567", -1},
		{1234567, 2000000, "en", "votes", "1,234,567 / 2,000,000", "solar – votes: 1,234,567 of 2,000,000", 1234567.0 / 2000000},
		{1234567, 2000000, "de", "Stimmen", "1.234.567 / 2.000.000", "solar – Stimmen: 1.234.567 von 2.000.000", 1234567.0 / 2000000},
		{1234567, 2000000, "pl", "głosy", "1\u00a0234\u00a0567 / 2\u00a0000\u00a0000", "solar – głosy: 1\u00a0234\u00a0567 z 2\u00a0000\u00a0000", 1234567.0 / 2000000},
		{0, 0, "en", "votes", "0", "solar – votes: 0", -1},
		{0, 1000, "de", "Stimmen", "0 / 1.000", "solar – Stimmen: 0 von 1.000", 0},
		{999, 1000, "en", "votes", "999 / 1,000", "solar – votes: 999 of 1,000", 0.999},
		{5000, 1000, "en", "votes", "5,000 / 1,000", "solar – votes: 5,000 of 1,000", 1},
		{100, 1, "pl", "głosy", "100 / 1", "solar – głosy: 100 z 1", 1},
		{1, 1000000, "en", "votes", "1 / 1,000,000", "solar – votes: 1 of 1,000,000", 0.000001},
	} {
		svg := counterBadge("solar", &counterReading{ok: true, votes: tc.votes}, counterQuery{goal: tc.goal, lang: tc.lang})
		var b badgeOf
		if err := xml.Unmarshal(svg, &b); err != nil {
			t.Errorf("%d/%d %s: %v\n%s", tc.votes, tc.goal, tc.lang, err, svg)
			continue
		}
		what := fmt.Sprintf("%d of %d in %s", tc.votes, tc.goal, tc.lang)
		if b.Role != "img" || b.Title != tc.title || len(b.G.Texts) != 2 || b.G.Texts[0] != tc.label || b.G.Texts[1] != tc.value {
			t.Errorf("%s: role %q, title %q, texts %q; want img, %q, [%q %q]", what, b.Role, b.Title, b.G.Texts, tc.title, tc.label, tc.value)
		}
		// The text fits: the two bands are as wide as the badge, each
		// wider than its text at the widest character.
		if len(b.G.Rects) < 3 || b.G.Rects[0].Width != b.Width || b.G.Rects[1].Width < textWidth(tc.label) || b.Width-b.G.Rects[1].Width < textWidth(tc.value) {
			t.Errorf("%s: widths %+v of %d", what, b.G.Rects, b.Width)
		}
		var bar, filled int = -1, -1
		for _, r := range b.G.Rects {
			if r.Y > 0 && r.Fill == "#d0d7de" {
				bar = r.Width
			} else if r.Y > 0 {
				filled = r.Width
			}
		}
		switch {
		case tc.fill < 0 && (bar >= 0 || filled >= 0):
			t.Errorf("%s: a bar without a goal", what)
		case tc.fill >= 0 && bar != b.Width:
			t.Errorf("%s: bar %d wide, want %d", what, bar, b.Width)
		case tc.fill == 0 && filled >= 0:
			t.Errorf("%s: %d px filled, want none", what, filled)
		case tc.fill > 0 && filled != max(int(tc.fill*float64(b.Width)), badgeBar):
			t.Errorf("%s: %d px filled of %d, want %d", what, filled, b.Width, max(int(tc.fill*float64(b.Width)), badgeBar))
		}
		if bytes.Contains(bytes.ToLower(svg), []byte("script")) || bytes.Contains(svg, []byte("href")) || bytes.Contains(svg, []byte(" on")) {
			t.Errorf("%s: the badge holds script, a link or a handler: %s", what, svg)
		}
	}
}

// TestCounterDocument checks the JSON answer byte for byte.
func TestCounterDocument(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		r    counterReading
		q    counterQuery
		want string
	}{
		{counterReading{ok: true, votes: 308, updated: at}, counterQuery{goal: 1000, lang: "de"}, `{"campaign":"solar","votes":308,"goal":1000,"updated":"2026-01-01T11:30:00Z"}`},
		{counterReading{ok: true, votes: 308, updated: at}, counterQuery{lang: "en"}, `{"campaign":"solar","votes":308,"updated":"2026-01-01T11:30:00Z"}`},
		{counterReading{ok: true}, counterQuery{lang: "en"}, `{"campaign":"solar","votes":0}`},
	} {
		if got := string(counterDocument("solar", &tc.r, tc.q)); got != tc.want+"\n" {
			t.Errorf("%+v %+v: %s, want %s", tc.r, tc.q, got, tc.want)
		}
	}
}

// TestCounterHistoryTail: the time comes from the history line at the
// checkpoint's size, found among the last lines of a long history, also
// when the history has grown past the checkpoint in between.
func TestCounterHistoryTail(t *testing.T) {
	e := startCounter(t, "relayed", nil)
	var lines []string
	for i := range 400 {
		lines = append(lines, voteLine(i, "Yes"))
	}
	// 400 batches of one line: a history longer than the counter reads.
	for _, l := range lines {
		e.clock.add(time.Second)
		e.pub.publish(t, l)
	}
	e.pub.mu.Lock()
	long := len(e.pub.history)
	e.pub.mu.Unlock()
	if long <= historyTail(2) {
		t.Fatalf("the history is %d bytes, not longer than the %d read", long, historyTail(2))
	}
	want := time.Unix(1767225600+400, 0).UTC().Format(time.RFC3339)
	if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 400 || d.Updated != want {
		t.Errorf("%+v, want 400 votes at %s", d, want)
	}
	// The checkpoint at 398 while the history already has 400.
	e.pub.mu.Lock()
	e.pub.checkpoint = e.pub.signLocked(t, published.Origin("solar", published.Vote), 398)
	e.pub.mu.Unlock()
	e.clock.add(counterRefresh)
	want = time.Unix(1767225600+398, 0).UTC().Format(time.RFC3339)
	if d := getJSON(t, e.base+"/solar/counter.json"); d.Votes != 398 || d.Updated != want {
		t.Errorf("%+v, want 398 votes at %s", d, want)
	}
}

// TestReadPublishedBounded: the counter takes no more of a published file
// than it expects, whether the publisher streams it or not.
func TestReadPublishedBounded(t *testing.T) {
	big := strings.Repeat("x", maxSmallPublished+1)
	for name, h := range map[string]fasthttp.RequestHandler{
		"in memory": func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(big) },
		"streamed":  func(ctx *fasthttp.RequestCtx) { ctx.SetBodyStream(strings.NewReader(big), -1) },
		"endless":   func(ctx *fasthttp.RequestCtx) { ctx.SetBodyStream(zeros{}, -1) },
	} {
		if _, err := readPublishedFile(h, "solar-vote.checkpoint", maxSmallPublished); err == nil || !strings.Contains(err.Error(), "over") {
			t.Errorf("%s: %v, want an error about the size", name, err)
		}
	}
	fine := func(ctx *fasthttp.RequestCtx) { ctx.SetBodyStream(strings.NewReader("abc"), 3) }
	if b, err := readPublishedFile(fine, "solar-vote.checkpoint", maxSmallPublished); err != nil || string(b) != "abc" {
		t.Errorf("a small stream: %q, %v", b, err)
	}
	missing := func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(404) }
	if _, err := readPublishedFile(missing, "solar-vote.checkpoint", maxSmallPublished); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v", err)
	}
}

// zeros is an endless stream.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

var _ io.Reader = zeros{}

// FuzzCounterQuery: whatever query the counter accepts asks for a goal
// in range (or none) and a language it has words for, and gives a badge
// that is well-formed XML showing that goal and a JSON answer that says
// it; whatever it refuses, it refuses as a counter query.
func FuzzCounterQuery(f *testing.F) {
	for _, q := range []string{"", "goal=1000", "lang=pl&goal=7", "goal=0", "goal=05", "lang=fr", "goal=1&goal=2", "v=1&lang=de"} {
		f.Add(q)
	}
	r := &counterReading{ok: true, votes: 1234, updated: time.Unix(1767225600, 0)}
	f.Fuzz(func(t *testing.T, query string) {
		var args fasthttp.Args
		args.Parse(query)
		q, err := parseCounterQuery(&args)
		if err != nil {
			if !strings.Contains(err.Error(), errCounterQuery.Error()) {
				t.Fatalf("%q: %v", query, err)
			}
			return
		}
		lang, ok := counterLangs[q.lang]
		if !ok || q.goal < 0 || q.goal > maxCounterGoal {
			t.Fatalf("%q: %+v", query, q)
		}
		svg := counterBadge("solar", r, q)
		var b badgeOf
		if err := xml.Unmarshal(svg, &b); err != nil {
			t.Fatalf("%q: %v\n%s", query, err, svg)
		}
		wantValue := groupDigits(r.votes, lang.group)
		if q.goal > 0 {
			wantValue += " / " + groupDigits(q.goal, lang.group)
		}
		if len(b.G.Texts) != 2 || b.G.Texts[1] != wantValue {
			t.Fatalf("%q: texts %q, want %q", query, b.G.Texts, wantValue)
		}
		var d counterDoc
		if err := json.Unmarshal(counterDocument("solar", r, q), &d); err != nil || d.Goal != q.goal || d.Votes != r.votes {
			t.Fatalf("%q: %+v, %v", query, d, err)
		}
		// The same query, spelled as the counter's own words, asks for
		// the same.
		canon := "lang=" + q.lang
		if q.goal > 0 {
			canon += "&goal=" + strconv.FormatInt(q.goal, 10)
		}
		var again fasthttp.Args
		again.Parse(canon)
		if q2, err := parseCounterQuery(&again); err != nil || q2 != q {
			t.Fatalf("%q: read again as %+v, %v; want %+v", query, q2, err, q)
		}
	})
}

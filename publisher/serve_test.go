package publisher

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
	"github.com/powvote/powvote/stamp"
)

// exampleVote is the worked example of package lines.
const exampleVote = `1767225600 Kb7R95/rlQnX7sVm6opyMynjNLcj4y1aSwtRqi6PjVgO0qtPWKXoazw6XYsOW0AoBqIa/qiYo8ijsnwq+Ss+Cw== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 09a733f6d68415da "Énergie solaire"`

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// randomVote is a well-formed vote line with random content.
func randomVote(t *testing.T) *pendingVote {
	t.Helper()
	v := listline.Vote{PUTC: "1767225600", Nonce: make([]byte, 8), Option: "Yes"}
	rand.Read(v.PSig[:])
	rand.Read(v.Nonce)
	s, err := stamp.NewVoter([]byte("key"), rand.Reader, v.PUTC, v.PSig[:])
	if err != nil {
		t.Fatal(err)
	}
	v.Voter = s
	return &pendingVote{vote: v, line: v.Line()}
}

// testLogKey is a new checkpoint signing key for campaign solar.
func testLogKey(t *testing.T) string {
	t.Helper()
	sec, err := campaign.GenerateSecrets("solar", nil)
	if err != nil {
		t.Fatal(err)
	}
	return sec.LogKey
}

// publishRandom publishes n random votes and voters as a round would.
func publishRandom(t *testing.T, p *Publisher, n int) {
	t.Helper()
	p.roundMu.Lock()
	defer p.roundMu.Unlock()
	for range n {
		var m listline.Voter
		rand.Read(m.Pkey[:])
		rand.Read(m.Sig[:])
		rand.Read(m.ID[:])
		p.voteQueue = append(p.voteQueue, randomVote(t))
		p.voterQueue = append(p.voterQueue, m)
	}
	if err := p.publish(); err != nil {
		t.Fatal(err)
	}
}

// statusLog records the status codes a server answered, in order.
type statusLog struct {
	mu    sync.Mutex
	codes []int
}

func (l *statusLog) add(code int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codes = append(l.codes, code)
}

// take returns the codes recorded since the last take.
func (l *statusLog) take() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.codes
	l.codes = nil
	return c
}

// serveOnly starts a publisher with no reachable collector and serves its
// Handle on loopback; it returns the publisher, the base URL and the log
// of status codes.
func serveOnly(t *testing.T) (*Publisher, string, *statusLog) {
	t.Helper()
	p, err := New(Config{
		Campaign: "solar", Pairs: [][2]string{{"http://127.0.0.1:1", "http://127.0.0.1:2"}}, Link: mtls.NewPlain("solar").Link("publisher", mtls.AnyInstance),
		Dir: t.TempDir(), Clock: (&tickClock{}).now, LogKey: testLogKey(t), Options: []string{"Yes", "No"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	codes := &statusLog{}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		p.Handle(ctx)
		codes.add(ctx.Response.StatusCode())
	}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		p.Close()
	})
	return p, "http://" + ln.Addr().String(), codes
}

type answer struct {
	status int
	header http.Header
	body   string
}

var plainClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// get sends a GET (or the method in header ":method") with these headers.
func get(t *testing.T, u string, header map[string]string) answer {
	t.Helper()
	method := "GET"
	if m, ok := header[":method"]; ok {
		method = m
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k != ":method" {
			req.Header.Set(k, v)
		}
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestServeLists(t *testing.T) {
	p, base, _ := serveOnly(t)
	publishRandom(t, p, 3)
	content, err := os.ReadFile(filepath.Join(p.cfg.Dir, "solar-vote.log"))
	if err != nil {
		t.Fatal(err)
	}
	size := len(content)
	u := base + "/solar-vote.log"
	full := get(t, u, nil)
	etag := full.header.Get("ETag")
	lastMod := full.header.Get("Last-Modified")
	wantMod := time.Unix(p.st.Modified, 0).UTC().Format(http.TimeFormat)
	if full.status != 200 || full.body != string(content) || etag != `"`+p.st.Epoch+"-"+strconv.Itoa(size)+`"` || lastMod != wantMod ||
		full.header.Get("Content-Type") != "text/plain; charset=utf-8" || full.header.Get("Accept-Ranges") != "bytes" ||
		full.header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("GET: %d %v, body %d bytes of %d", full.status, full.header, len(full.body), size)
	}
	if a := get(t, base+"/solar-auth.log", nil); a.status != 200 || strings.Count(a.body, "\n") != 3 || a.header.Get("ETag") == etag {
		t.Errorf("GET voters list: %d %v %q", a.status, a.header, a.body)
	}
	wrongDate := time.Unix(p.st.Modified-1, 0).UTC().Format(http.TimeFormat)
	sz := strconv.Itoa(size)

	for _, tc := range []struct {
		name   string
		header map[string]string
		status int
		body   string
		cr     string // Content-Range
	}{
		{"HEAD", map[string]string{":method": "HEAD"}, 200, "", ""},
		{"open range", map[string]string{"Range": "bytes=10-"}, 206, string(content[10:]), "bytes 10-" + strconv.Itoa(size-1) + "/" + sz},
		{"closed range", map[string]string{"Range": "bytes=5-9"}, 206, string(content[5:10]), "bytes 5-9/" + sz},
		{"range past the end", map[string]string{"Range": "bytes=5-999999"}, 206, string(content[5:]), "bytes 5-" + strconv.Itoa(size-1) + "/" + sz},
		{"suffix", map[string]string{"Range": "bytes=-7"}, 206, string(content[size-7:]), "bytes " + strconv.Itoa(size-7) + "-" + strconv.Itoa(size-1) + "/" + sz},
		{"huge suffix", map[string]string{"Range": "bytes=-99999999999999999999"}, 206, string(content), "bytes 0-" + strconv.Itoa(size-1) + "/" + sz},
		{"HEAD range", map[string]string{":method": "HEAD", "Range": "bytes=10-"}, 206, "", "bytes 10-" + strconv.Itoa(size-1) + "/" + sz},
		{"already complete", map[string]string{"Range": "bytes=" + sz + "-"}, 416, "", "bytes */" + sz},
		{"empty suffix", map[string]string{"Range": "bytes=-0"}, 416, "", "bytes */" + sz},
		{"huge start", map[string]string{"Range": "bytes=99999999999999999999-"}, 416, "", "bytes */" + sz},
		{"two ranges", map[string]string{"Range": "bytes=0-1,5-6"}, 200, string(content), ""},
		{"other unit", map[string]string{"Range": "lines=0-1"}, 200, string(content), ""},
		{"backwards", map[string]string{"Range": "bytes=9-5"}, 200, string(content), ""},
		{"garbage", map[string]string{"Range": "bytes=a-"}, 200, string(content), ""},
		{"If-None-Match", map[string]string{"If-None-Match": etag}, 304, "", ""},
		{"If-None-Match weak in a list", map[string]string{"If-None-Match": `"x", W/` + etag}, 304, "", ""},
		{"If-None-Match other", map[string]string{"If-None-Match": `"x"`}, 200, string(content), ""},
		{"If-None-Match wins over If-Modified-Since", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": lastMod}, 200, string(content), ""},
		{"If-Modified-Since", map[string]string{"If-Modified-Since": lastMod}, 304, "", ""},
		{"If-Modified-Since earlier", map[string]string{"If-Modified-Since": wrongDate}, 200, string(content), ""},
		{"If-Match", map[string]string{"If-Match": etag}, 200, string(content), ""},
		{"If-Match other", map[string]string{"If-Match": `"x"`}, 412, "", ""},
		{"If-Range same tag", map[string]string{"Range": "bytes=10-", "If-Range": etag}, 206, string(content[10:]), "bytes 10-" + strconv.Itoa(size-1) + "/" + sz},
		{"If-Range weak tag", map[string]string{"Range": "bytes=10-", "If-Range": "W/" + etag}, 200, string(content), ""},
		{"If-Range same date", map[string]string{"Range": "bytes=10-", "If-Range": lastMod}, 206, string(content[10:]), "bytes 10-" + strconv.Itoa(size-1) + "/" + sz},
		{"If-Range other date", map[string]string{"Range": "bytes=10-", "If-Range": wrongDate}, 200, string(content), ""},
	} {
		a := get(t, u, tc.header)
		if a.status != tc.status || a.body != tc.body || a.header.Get("Content-Range") != tc.cr {
			t.Errorf("%s: %d %q, Content-Range %q; want %d %q, %q", tc.name, a.status, a.body, a.header.Get("Content-Range"), tc.status, tc.body, tc.cr)
		}
		if a.status < 400 && a.header.Get("ETag") != etag {
			t.Errorf("%s: ETag %q, want %q", tc.name, a.header.Get("ETag"), etag)
		}
		if tc.header[":method"] == "HEAD" {
			want := size
			if tc.status == 206 {
				want = size - 10
			}
			if cl := a.header.Get("Content-Length"); cl != strconv.Itoa(want) {
				t.Errorf("%s: Content-Length %q, want %d", tc.name, cl, want)
			}
		}
	}

	for _, tc := range []struct{ method, path string }{
		{"POST", "/solar-vote.log"},
		{"PUT", "/solar-auth.log"},
		{"DELETE", "/solar-vote.log"},
		{"GET", "/"},
		{"GET", "/solar-vote.log.gz"},
		{"GET", "/town-vote.log"},
		{"GET", "/solar-state.json"},
	} {
		if a := get(t, base+tc.path, map[string]string{":method": tc.method}); a.status != 400 || a.body != "" {
			t.Errorf("%s %s: %d %q, want 400 and no body", tc.method, tc.path, a.status, a.body)
		}
	}

	// Bytes beyond the committed size are never served.
	if _, err := p.files[votesList].WriteAt([]byte("not yet\n"), int64(size)); err != nil {
		t.Fatal(err)
	}
	if a := get(t, u, nil); a.body != string(content) {
		t.Errorf("served %d bytes, committed %d", len(a.body), size)
	}

	// The list grows: old validators no longer match, and a client that
	// holds the old list gets exactly the new lines.
	publishRandom(t, p, 2)
	grown, _ := os.ReadFile(filepath.Join(p.cfg.Dir, "solar-vote.log"))
	if a := get(t, u, map[string]string{"If-None-Match": etag}); a.status != 200 || a.body != string(grown) {
		t.Errorf("If-None-Match with the old ETag: %d", a.status)
	}
	if a := get(t, u, map[string]string{"If-Modified-Since": lastMod}); a.status != 200 || a.body != string(grown) {
		t.Errorf("If-Modified-Since the old Last-Modified: %d", a.status)
	}
	if a := get(t, u, map[string]string{"Range": "bytes=" + sz + "-"}); a.status != 206 || content != nil && string(content)+a.body != string(grown) {
		t.Errorf("resuming at the old size: %d %q", a.status, a.body)
	}
	if a := get(t, u, map[string]string{"Range": "bytes=" + sz + "-", "If-Range": etag}); a.status != 200 || a.body != string(grown) {
		t.Errorf("resuming with the old ETag in If-Range: %d", a.status)
	}
}

// TestDownloaders runs wget and curl, as people will, against the lists:
// a first download, a resumed one after the lists grew, and a resumed one
// of a list already complete.
func TestDownloaders(t *testing.T) {
	p, base, codes := serveOnly(t)
	publishRandom(t, p, 2)
	u := base + "/solar-vote.log"
	list := filepath.Join(p.cfg.Dir, "solar-vote.log")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	same := func(path string) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(list)
		if string(got) != string(want) {
			t.Fatalf("%s holds %d bytes, the list %d", path, len(got), len(want))
		}
	}
	if _, err := exec.LookPath("wget"); err != nil {
		t.Log("no wget on this machine")
	} else {
		out := filepath.Join(t.TempDir(), "w.log")
		run("wget", "-q", "-O", out, u)
		same(out)
		publishRandom(t, p, 3)
		run("wget", "-q", "-c", "-O", out, u)
		same(out)
		run("wget", "-q", "-c", "-O", out, u)
		same(out)
		// A whole list, the new lines only, nothing at all.
		if got := codes.take(); !slices.Equal(got, []int{200, 206, 416}) {
			t.Errorf("wget was answered %v, want [200 206 416]", got)
		}
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Log("no curl on this machine")
	} else {
		out := filepath.Join(t.TempDir(), "c.log")
		run("curl", "-sSf", "-o", out, u)
		same(out)
		publishRandom(t, p, 3)
		run("curl", "-sSf", "-C", "-", "-o", out, u)
		same(out)
		// Without -f: curl takes a 416 whose Content-Range names the size
		// it already has for a finished download.
		run("curl", "-sS", "-C", "-", "-o", out, u)
		same(out)
		if got := codes.take(); !slices.Equal(got, []int{200, 206, 416}) {
			t.Errorf("curl was answered %v, want [200 206 416]", got)
		}
	}
}

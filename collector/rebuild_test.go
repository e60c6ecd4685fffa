package collector_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/collector"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/listline"
)

// rebuildPair starts instances 0 (A) and 1 (B) as twins, sends votes to
// A only, to B only and to both, waits until both hold them all, then
// stops B: its disk is lost. It returns A, B's address and the ballots.
func rebuildPair(t *testing.T, e *env) (a *instance, addrB string, ballots []*ballot) {
	t.Helper()
	lnA, lnB := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	cfgA := e.twinConfig(t.TempDir(), "http://"+lnB.Addr().String())
	cfgB := e.twinConfig(t.TempDir(), "http://"+lnA.Addr().String())
	cfgB.Instance = 1
	a = e.startOn(t, cfgA, lnA)
	b := e.startOn(t, cfgB, lnB)
	e.healthy(t, a)
	e.healthy(t, b)
	for i := range 12 {
		bl := e.newBallot(t, testOptions[i%len(testOptions)])
		switch i % 3 {
		case 0:
			e.mustVote(t, a, bl)
		case 1:
			e.mustVote(t, b, bl)
		default:
			e.mustVote(t, a, bl)
			e.mustVote(t, b, bl)
		}
		ballots = append(ballots, bl)
	}
	for _, in := range []*instance{a, b} {
		eventually(t, in.addr+" holds every vote", func() bool {
			v, n := in.srv.Counts()
			return v == len(ballots) && n == len(ballots)
		})
	}
	b.stop()
	return a, lnB.Addr().String(), ballots
}

// TestRebuild replaces an instance whose disk is lost: the new one, on an
// empty directory, copies its twin's state and then holds exactly the
// twin's records, record for record; its log has a new identity; and the
// pair goes on: a vote to either reaches the other.
func TestRebuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, addrB, ballots := rebuildPair(t, e)
	oldID := e.get(t, a, "/records/votes?from=1&limit=1").header.Get("Log-Id")

	cfg := e.twinConfig(filepath.Join(t.TempDir(), "new"), a.url)
	cfg.Instance = 1
	cfg.Rebuild = true
	b := e.startOn(t, cfg, relisten(t, addrB))
	e.healthy(t, b)

	if got, want := e.allRecords(t, b), e.allRecords(t, a); !slices.EqualFunc(got, want, func(x, y listline.Record) bool {
		return x.String() == y.String()
	}) {
		t.Errorf("the rebuilt instance's records differ from its twin's:\n got %v\nwant %v", got, want)
	}
	e.sameRecords(t, a, b)
	idA := e.get(t, a, "/records/votes?from=1&limit=1").header.Get("Log-Id")
	idB := e.get(t, b, "/records/votes?from=1&limit=1").header.Get("Log-Id")
	if len(idA) != 32 || len(idB) != 32 || idA == idB || idA != oldID {
		t.Errorf("log ids: twin %q (before %q), rebuilt %q: want two different 32-digit ids, the twin's unchanged", idA, oldID, idB)
	}
	// A retried vote gets its receipt from the rebuilt instance too.
	if r := e.vote(t, b, ballots[0]); r.code != http.StatusNoContent {
		t.Errorf("a repeat of a copied vote at the rebuilt instance: %d", r.code)
	}
	// The pair goes on both ways: the twin pulls the rebuilt instance's
	// first own vote, whose number follows the twin's cursor.
	onB, onA := e.newBallot(t, testOptions[0]), e.newBallot(t, testOptions[1])
	e.mustVote(t, b, onB)
	e.mustVote(t, a, onA)
	n := len(ballots) + 2
	for _, in := range []*instance{a, b} {
		eventually(t, in.addr+" holds the new votes", func() bool {
			v, c := in.srv.Counts()
			return v == n && c == n
		})
	}
	e.sameRecords(t, a, b)
	// The twin lets its links go once the rebuilt instance confirms them.
	eventually(t, "the twin drops its links", func() bool {
		l, _ := a.srv.Held()
		return l == 0
	})
	e.noErrorsLogged(t)
}

// TestRebuildRefusesData: a rebuild writes only into an empty directory.
func TestRebuildRefusesData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	keep := filepath.Join(dir, "votes.log")
	if err := os.WriteFile(keep, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.twinConfig(dir, "http://127.0.0.1:1")
	cfg.Rebuild = true
	_, err := collector.New(cfg)
	if !errors.Is(err, collector.ErrNotEmpty) {
		t.Fatalf("New with Rebuild into a directory with data: %v, want ErrNotEmpty", err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "precious\n" {
		t.Errorf("the file became %q", b)
	}
	cfg.Twin = ""
	cfg.Dir = t.TempDir()
	if _, err := collector.New(cfg); err == nil {
		t.Error("New with Rebuild and no twin: no error")
	}
}

// TestRebuildTampered: a snapshot changed in transit (one byte of one
// vote record) is refused, the directory is left empty and the instance
// never answers that it is healthy.
func TestRebuildTampered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(body []byte) []byte
	}{
		{"a record's option", func(b []byte) []byte {
			i := bytes.Index(b, []byte("\nr 3 "))
			j := i + bytes.IndexByte(b[i+1:], '\n')
			b[j-2] ^= 1 // inside the quoted option of record 3
			return b
		}},
		{"a voter dropped", func(b []byte) []byte {
			i := bytes.Index(b, []byte("\nv "))
			j := i + 1 + bytes.IndexByte(b[i+1:], '\n')
			return append(b[:i], b[j:]...)
		}},
		{"cut short", func(b []byte) []byte {
			return b[:bytes.LastIndex(b, []byte("end "))]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			a, _, _ := rebuildPair(t, e)
			target, _ := url.Parse(a.url)
			proxy := httputil.NewSingleHostReverseProxy(target)
			proxy.ModifyResponse = func(r *http.Response) error {
				if r.Request.URL.Path != "/snapshot" {
					return nil
				}
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return err
				}
				r.Body.Close()
				body = tc.tamper(body)
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
				r.Header.Del("Content-Length")
				return nil
			}
			px := httptest.NewServer(proxy)
			defer px.Close()

			dir := filepath.Join(t.TempDir(), "new")
			cfg := e.twinConfig(dir, px.URL)
			cfg.Instance = 1
			cfg.Rebuild = true
			srv, err := collector.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ln := listen(t, "127.0.0.1:0")
			in := &instance{srv: srv, addr: ln.Addr().String(), url: "http://" + ln.Addr().String()}
			done := make(chan error, 1)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { done <- srv.Run(ctx, ln) }()
			healthy := false
			var runErr error
			deadline := time.After(20 * time.Second)
		wait:
			for {
				select {
				case runErr = <-done:
					break wait
				case <-deadline:
					// It took the copy: stop it and report.
					cancel()
					runErr = <-done
					t.Error("the instance took the tampered copy and went on running")
					break wait
				case <-time.After(5 * time.Millisecond):
				}
				req, _ := http.NewRequest(http.MethodGet, in.url+"/health", nil)
				req.Header.Set("Pass", e.pass())
				if r, err := e.client.Do(req); err == nil {
					healthy = healthy || r.StatusCode == http.StatusNoContent
					r.Body.Close()
				}
			}
			if runErr == nil || !strings.Contains(runErr.Error(), "does not verify") {
				t.Errorf("Run: %v, want a copy that does not verify", runErr)
			}
			if healthy {
				t.Error("the instance answered /health with 204")
			}
			if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
				t.Errorf("the data directory holds %v (%v), want nothing", ents, err)
			}
		})
	}
}

// TestSnapshotOnlyForTwin: GET /snapshot is the twin's alone, as /sync.
func TestSnapshotOnlyForTwin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(t.TempDir())
	cfg.Instance = 2
	in := e.start(t, cfg)
	e.healthy(t, in)
	e.mustVote(t, in, e.newBallot(t, testOptions[0]))
	for _, tc := range []struct {
		name     string
		role     campaign.Role
		instance int
		code     int
	}{
		{"edge", campaign.RoleEdge, mtls.AnyInstance, http.StatusForbidden},
		{"publisher", campaign.RolePublisher, mtls.AnyInstance, http.StatusForbidden},
		{"collector of another pair", campaign.RoleCollector, 0, http.StatusForbidden},
		{"collector itself", campaign.RoleCollector, 2, http.StatusForbidden},
		{"the twin", campaign.RoleCollector, 3, http.StatusOK},
	} {
		pass := e.plain.Link(string(tc.role), tc.instance).Pass()
		r := e.do(t, http.MethodGet, in.url+"/snapshot", map[string]string{"Pass": pass})
		if r.code != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, r.code, tc.code)
		}
		if r.code != http.StatusOK && bytes.Contains(r.body, []byte("\nr ")) {
			t.Errorf("%s: refused, but the body holds records", tc.name)
		}
	}
}

package dashboard

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// metricsServer serves a fake process's /metrics, or what fail answers
// instead when set.
type metricsServer struct {
	p    *fakeProc
	mu   sync.Mutex
	fail http.HandlerFunc
}

func (m *metricsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	fail := m.fail
	m.mu.Unlock()
	if fail != nil {
		fail(w, r)
		return
	}
	var b bytes.Buffer
	m.p.set.WritePrometheus(&b)
	w.Write(b.Bytes())
}

func (m *metricsServer) failWith(h http.HandlerFunc) {
	m.mu.Lock()
	m.fail = h
	m.mu.Unlock()
}

// TestScrapeSeparateProcesses: an edge and a publisher apart, and a
// second edge, read over HTTP with the dashboard's own process: the edges'
// counts add up, the publisher's lines come from its process.
func TestScrapeSeparateProcesses(t *testing.T) {
	edge2, pub := &metricsServer{p: newFakeProc()}, &metricsServer{p: newFakeProc()}
	s2, sp := httptest.NewServer(edge2), httptest.NewServer(pub)
	defer s2.Close()
	defer sp.Close()
	r := newRig(t, Config{Interval: 10 * time.Second, Scrape: []string{s2.URL + "/metrics", sp.URL + "/metrics"}})
	r.p.vote("solar", 204, 3)
	edge2.p.vote("solar", 204, 4)
	pub.p.gauge(mLines, 5, "campaign", "solar", "list", "vote")
	r.at(0)
	r.p.vote("solar", 204, 1)
	edge2.p.vote("solar", 204, 2)
	edge2.p.vote("solar", 489, 6)
	pub.p.gauge(mLines, 9, "campaign", "solar", "list", "vote")
	d := r.at(10 * time.Second)
	c := d.campaign(t, "solar")
	if c.Acknowledged != 10 || c.Published != 9 || c.Refused["489"] != 6 {
		t.Errorf("acknowledged %v, published %v, refused %v; want 10, 9, 489:6", c.Acknowledged, c.Published, c.Refused)
	}
	if got := r.series("solar", "acknowledged"); !same(got, []float64{3}) {
		t.Errorf("acknowledged per bucket %v, want [3]", got)
	}
	if got := r.series("solar", "published"); !same(got, []float64{4}) {
		t.Errorf("published per bucket %v, want [4]", got)
	}
	for _, s := range d.Sources {
		if !s.OK || s.Error != "" || s.LastOK != float64(t0.Unix()+10) {
			t.Errorf("source %+v, want ok", s)
		}
	}
	if names := []string{d.Sources[0].Name, d.Sources[1].Name, d.Sources[2].Name}; strings.Join(names, ",") != "self,scrape 1,scrape 2" {
		t.Errorf("sources %v", names)
	}
	if raw := string(*r.d.full.Load()); strings.Contains(raw, "127.0.0.1") {
		t.Errorf("data.json names a source's address: %s", raw)
	}

	// The second edge fails for a while: its gauges stay, nothing is
	// counted, and when it answers again what it counted meanwhile lands
	// in that bucket.
	edge2.failWith(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	edge2.p.vote("solar", 204, 7)
	d = r.at(70 * time.Second)
	if s := d.Sources[1]; s.OK || s.Error != "status" || s.LastOK != float64(t0.Unix()+10) {
		t.Errorf("a failing source: %+v", s)
	}
	edge2.failWith(nil)
	d = r.at(130 * time.Second)
	if got := r.series("solar", "acknowledged"); !same(got, []float64{3, 0, 7}) {
		t.Errorf("acknowledged per bucket %v, want [3 0 7]", got)
	}
	if !d.Sources[1].OK {
		t.Errorf("the source answers again but is %+v", d.Sources[1])
	}
}

// TestScrapeLimits: a target that never answers, one that drips, one that
// sends 100 MB and one that announces it are each given up within the
// timeout or at the size limit, the sample goes on with the others, and
// the page says why in a word.
func TestScrapeLimits(t *testing.T) {
	const limit = 1 << 20
	release := make(chan struct{})
	var sent atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write([]byte("#")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("# padding of a scrape that never ends\n"), 1<<10)
		for sent.Load() < 100<<20 {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/announced", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "104857600")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("x"))
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{not metrics}\n")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	paths := []string{"/hang", "/drip", "/huge", "/announced", "/garbage"}
	var urls []string
	for _, p := range paths {
		urls = append(urls, srv.URL+p)
	}
	r := newRig(t, Config{Interval: time.Second, ScrapeTimeout: 300 * time.Millisecond, ScrapeLimit: limit, Scrape: urls})
	r.p.vote("solar", 204, 2)
	start := time.Now()
	r.at(0)
	r.p.vote("solar", 204, 5)
	d := r.at(time.Second)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("two samples took %v with a timeout of 300 ms", took)
	}
	want := map[string]string{"scrape 1": "no_answer", "scrape 2": "no_answer", "scrape 3": "too_large", "scrape 4": "too_large", "scrape 5": "format"}
	for _, s := range d.Sources[1:] {
		if s.OK || s.Error != want[s.Name] || s.LastOK != 0 {
			t.Errorf("source %+v, want error %s", s, want[s.Name])
		}
	}
	if !d.Sources[0].OK || d.campaign(t, "solar").Acknowledged != 7 {
		t.Errorf("the good source: %+v, acknowledged %v", d.Sources[0], d.campaign(t, "solar").Acknowledged)
	}
	// The huge answer was cut off near the limit, not read to its end:
	// what the server got written is the limit and the sockets' buffers.
	if n := sent.Load(); n >= 100<<20 {
		t.Errorf("the server wrote all of its %d bytes", n)
	}
}

// TestOperationsNamesEveryMetric holds the names the dashboard reads to
// docs/OPERATIONS.md, where the processes' metrics are listed.
func TestOperationsNamesEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range readMetrics {
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/OPERATIONS.md has no row for %s", name)
		}
	}
}

func TestConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bucket shorter than the interval", Config{Interval: time.Minute, Bucket: time.Second}, "Bucket"},
		{"tiny window", Config{Window: 1}, "Window"},
		{"factor below 1", Config{Anomaly: Anomaly{Factor: 0.5}}, "Factor"},
		{"trailing beyond the window", Config{Window: 10, Anomaly: Anomaly{Trailing: 10}}, "Trailing"},
		{"min trailing beyond trailing", Config{Anomaly: Anomaly{Trailing: 4, MinTrailing: 5}}, "MinTrailing"},
		{"stall beyond the window", Config{Window: 10, Anomaly: Anomaly{Trailing: 2, StallBuckets: 10}}, "StallBuckets"},
		{"share jump above 1", Config{Anomaly: Anomaly{ShareJump: 2}}, "ShareJump"},
		{"a scrape URL without scheme", Config{Scrape: []string{"127.0.0.1:9190/metrics"}}, "scrape URL"},
		{"a bad campaign name", Config{Campaigns: []Campaign{{Name: "Solar"}}}, "campaign"},
		{"a campaign twice", Config{Campaigns: []Campaign{{Name: "solar"}, {Name: "solar"}}}, "twice"},
		{"a history without options", Config{Campaigns: []Campaign{{Name: "solar", History: func(context.Context, int64, int64) ([]byte, error) { return nil, nil }}}}, "options"},
		{"a prefix without its slash", Config{Prefix: "/dashboard"}, "Prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if _, err := New(Config{}); err != nil {
		t.Errorf("the zero Config: %v", err)
	}
}

package main

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/backoffice"
	"github.com/powvote/powvote/internal/operator/operatortest"
	"github.com/powvote/powvote/internal/publictls/publictlstest"
)

// freeAddrOn picks a free port on ip.
func freeAddrOn(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRehearsal rehearses a deployment on separate machines, as
// docs/DEPLOY.md walks through it: the operator makes two campaigns and
// exports each machine's share; each process runs from its own export on
// its own loopback address (127.0.0.2 and .3 the collectors, .4 the
// publisher, .5 the edge), every process serving both campaigns, TLS on
// every link (the internal ones with the campaigns' certificates, the
// edge's and the publisher's public ones with a certificate of a CA the
// machine trusts, SSL_CERT_FILE, and the edge reaching the publisher over
// HTTPS; the operator endpoints over HTTPS too); powvote loadtest casts votes for both campaigns at once through
// the one edge and checks that every acknowledged vote was published
// once; every process's metrics are scraped and agree with the loadtests'
// counts and the lists; powvote audit checks both campaigns' lists
// through the edge.
func TestRehearsal(t *testing.T) {
	root := t.TempDir()
	op := filepath.Join(root, "operator")
	key := filepath.Join(root, "authority.key")
	pub := strings.TrimSpace(mustRun(t, "authority", "keygen", "--out", key))
	campaigns := []string{"alpha", "beta"}
	for _, n := range campaigns {
		mustRun(t, "init", n, "--dir", op, "--threshold", "8", "--batch-size", "10",
			"--option", "Yes", "--option", "No", "--option", "Abstain", "--authority-pubkey", pub)
	}
	machine := func(name string, args ...string) string {
		dir := filepath.Join(root, name)
		mustRun(t, append([]string{"export", "--dir", op, "--out", dir}, args...)...)
		return dir
	}
	c0 := machine("collector-0", "--role", "collector", "--instance", "0")
	c1 := machine("collector-1", "--role", "collector", "--instance", "1")
	pubDir := machine("publisher", "--role", "publisher")
	edgeDir := machine("edge", "--role", "edge")

	// The public certificate: a wildcard for the campaigns' host names and
	// the two public machines' addresses, from a CA the machines trust.
	ca := publictlstest.NewCA(t)
	certFile, keyFile := ca.IssueFor(t, 24*time.Hour, []string{"*.vote.test"}, net.IPv4(127, 0, 0, 4), net.IPv4(127, 0, 0, 5)).Write(t, root)
	// The operator endpoints' certificate, for every machine's address.
	opDir := filepath.Join(root, "operator-tls")
	if err := os.Mkdir(opDir, 0o700); err != nil {
		t.Fatal(err)
	}
	opCert, opKey := ca.IssueFor(t, 24*time.Hour, []string{"metrics.vote.test"},
		net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3), net.IPv4(127, 0, 0, 4), net.IPv4(127, 0, 0, 5)).Write(t, opDir)
	opTLS := []string{"--metrics-tls-cert", opCert, "--metrics-tls-key", opKey}
	caFile := filepath.Join(root, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", caFile)
	public := []string{"--tls-cert", certFile, "--tls-key", keyFile}

	colAddr := []string{freeAddrOn(t, "127.0.0.2"), freeAddrOn(t, "127.0.0.3")}
	colURL := []string{"https://" + colAddr[0], "https://" + colAddr[1]}
	pair := colURL[0] + "," + colURL[1]
	metricsOf := map[string]string{} // process -> its operator endpoints
	for i, dir := range []string{c0, c1} {
		m := freeAddrOn(t, strings.Split(colAddr[i], ":")[0])
		metricsOf["collector-"+strconv.Itoa(i)] = "https://" + m
		startProc(t, append([]string{"collector", "--dir", dir, "--instance", strconv.Itoa(i), "--listen", colAddr[i], "--twin", colURL[i^1], "--metrics", m}, opTLS...)...)
	}
	// An auditor of the publisher's back office, for the reports.
	const auditorPassword = "the auditor's password"
	if r := runStdin(t, auditorPassword+"\n", "operator", "add", "carol", "--role", "auditor", "--dir", pubDir); r.code != 0 {
		t.Fatalf("operator add: exit %d %s", r.code, r.stderr)
	}
	pubAddr, pubMetrics := freeAddrOn(t, "127.0.0.4"), freeAddrOn(t, "127.0.0.4")
	metricsOf["publisher"] = "https://" + pubMetrics
	startProc(t, append(append([]string{"publisher", "--dir", pubDir, "--listen", pubAddr, "--pair", pair, "--interval", "200ms", "--metrics", pubMetrics}, public...), opTLS...)...)
	edgeAddr, edgeMetrics := freeAddrOn(t, "127.0.0.5"), freeAddrOn(t, "127.0.0.5")
	metricsOf["edge"] = "https://" + edgeMetrics
	startProc(t, append(append([]string{"edge", "--dir", edgeDir, "--listen", edgeAddr, "--pair", pair, "--publisher", "https://" + pubAddr,
		"--max-conns-per-ip", "0", "--metrics", edgeMetrics}, public...), opTLS...)...)
	edgeURL := "https://" + edgeAddr

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	defer hc.CloseIdleConnections()
	fetch := func(u, host string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	for name, base := range metricsOf {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body := fetch(base+"/ready", "")
			if code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready after 30 s: %d %s", name, code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The voter app, over HTTPS, under each campaign's host name.
	for _, n := range campaigns {
		if code, body := fetch(edgeURL+"/", n+".vote.test"); code != 200 || !strings.Contains(body, "<html") {
			t.Fatalf("GET / for %s: %d %.200q", n, code, body)
		}
	}

	// Both campaigns at once through the one edge, each by its Host.
	reports := make([]loadReport, len(campaigns))
	var wg sync.WaitGroup
	for i, n := range campaigns {
		wg.Go(func() {
			r := runFor(t, 4*time.Minute, "loadtest", "--edge", edgeURL, "--host", n+".vote.test", "--dir", op, "--campaign", n,
				"--key", key, "--rate", "100", "--duration", "5s", "--settle", "60s", "--json")
			if err := json.Unmarshal([]byte(r.stdout), &reports[i]); err != nil || r.code != 0 || !reports[i].OK {
				t.Errorf("loadtest of %s: exit %d, %v, errors %q\nstderr: %s", n, r.code, err, reports[i].Errors, loadTail(r.stderr, 3000))
			}
		})
	}
	wg.Wait()
	for i, n := range campaigns {
		rep := reports[i]
		if rep.Acknowledged < 400 || rep.Lost != 0 || rep.Duplicated != 0 || rep.PublishedOnce != rep.Acknowledged {
			t.Errorf("%s: acknowledged %d, published once %d, lost %d, duplicated %d", n, rep.Acknowledged, rep.PublishedOnce, rep.Lost, rep.Duplicated)
		}
	}
	if t.Failed() {
		return
	}

	// The metrics agree with the loadtests and the lists.
	scrape := map[string]operatortest.Samples{}
	for name, base := range metricsOf {
		code, body := fetch(base+"/metrics", "")
		s, err := operatortest.Parse([]byte(body))
		if code != 200 || err != nil {
			t.Fatalf("%s /metrics: %d %v", name, code, err)
		}
		scrape[name] = s
	}
	for i, n := range campaigns {
		rep := reports[i]
		stored := [2]float64{}
		for k := range 2 {
			stored[k] = scrape["collector-"+strconv.Itoa(k)].Get(t, "powvote_collector_votes_stored", "campaign", n, "pair", "0", "instance", strconv.Itoa(k))
		}
		if stored[0] < float64(rep.Acknowledged) {
			t.Errorf("%s: collector 0 stores %v votes, the loadtest had %d acknowledged", n, stored[0], rep.Acknowledged)
		}
		if ok := scrape["edge"].Get(t, "powvote_edge_requests_total", "campaign", n, "endpoint", "vote", "code", "204"); ok < float64(rep.Acknowledged) {
			t.Errorf("%s: the edge counted %v votes answered 204, the loadtest %d acknowledged", n, ok, rep.Acknowledged)
		}
		_, list := fetch(edgeURL+"/"+n+"-vote.log", "")
		lines := float64(strings.Count(list, "\n"))
		if got := scrape["publisher"].Get(t, "powvote_publisher_lines", "campaign", n, "list", "vote"); got > lines || lines < float64(rep.Acknowledged) {
			t.Errorf("%s: the publisher counts %v lines published, the list served has %v, the loadtest %d acknowledged", n, got, lines, rep.Acknowledged)
		}
		if got := scrape["publisher"].Get(t, "powvote_publisher_lines", "campaign", n, "list", "vote"); got < float64(rep.VoteListLines) {
			t.Errorf("%s: the publisher counts %v lines, the loadtest read %d", n, got, rep.VoteListLines)
		}
		if stored[1] != stored[0] {
			// The twins converge within a second or two; one scrape may
			// catch one between pulls, so look again.
			time.Sleep(3 * time.Second)
			_, body := fetch(metricsOf["collector-1"]+"/metrics", "")
			s1, _ := operatortest.Parse([]byte(body))
			_, body = fetch(metricsOf["collector-0"]+"/metrics", "")
			s0, _ := operatortest.Parse([]byte(body))
			a := s0.Get(t, "powvote_collector_votes_stored", "campaign", n, "pair", "0", "instance", "0")
			b := s1.Get(t, "powvote_collector_votes_stored", "campaign", n, "pair", "0", "instance", "1")
			if a != b {
				t.Errorf("%s: the twins store %v and %v votes", n, a, b)
			}
		}
	}
	for _, n := range campaigns {
		a := runFor(t, 2*time.Minute, "audit", edgeURL, "--campaign", n)
		if a.code != 0 || !strings.Contains(a.stdout, n) {
			t.Errorf("powvote audit %s --campaign %s: exit %d\n%s\n%s", edgeURL, n, a.code, loadTail(a.stdout, 2000), a.stderr)
		}
	}

	// The auditor downloads each campaign's election report from the
	// publisher's back office, over HTTPS: the same verdict.
	signIn := &http.Client{Timeout: 10 * time.Second, Transport: hc.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := signIn.PostForm(metricsOf["publisher"]+"/login", url.Values{"name": {"carol"}, "password": {auditorPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session string
	for _, c := range resp.Cookies() {
		if c.Name == backoffice.CookieTLS {
			session = c.Name + "=" + c.Value
		}
	}
	if session == "" {
		t.Fatalf("the auditor's sign-in on the publisher: %d, no session cookie", resp.StatusCode)
	}
	for _, n := range campaigns {
		var code int
		var body string
		deadline := time.Now().Add(2 * time.Minute)
		for {
			req, err := http.NewRequest(http.MethodGet, metricsOf["publisher"]+"/downloads/"+n+"/report.html", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Cookie", session)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = resp.StatusCode, string(b)
			if code != http.StatusAccepted || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code != http.StatusOK || !strings.Contains(body, "<title>Election report: campaign "+n+"</title>") || !strings.Contains(body, `id="verdict">Every check passed.`) {
			t.Errorf("the election report of %s from the publisher's back office: %d\n%s", n, code, loadTail(body, 2000))
		}
	}
}

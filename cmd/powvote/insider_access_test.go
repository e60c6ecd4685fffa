package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/mandate"
)

// exportRole runs powvote export for role into a fresh directory and
// returns it, with the role's campaign loaded from it.
func exportRole(t *testing.T, full string, role campaign.Role, extra ...string) (string, *campaign.Campaign) {
	t.Helper()
	out := filepath.Join(t.TempDir(), string(role))
	mustRun(t, append([]string{"export", "--dir", full, "--role", string(role), "--out", out}, extra...)...)
	c, err := campaign.LoadRole(out, "solar", role)
	if err != nil {
		t.Fatal(err)
	}
	return out, c
}

// startPairFrom runs collector instances 0 and 1 from a collector's export
// directory, each naming the other as twin by https URL.
func startPairFrom(t *testing.T, colDir string) (addrs, urls [2]string, cols []*proc) {
	t.Helper()
	for i := range addrs {
		addrs[i] = freeAddr(t)
		urls[i] = "https://" + addrs[i]
	}
	for i := range addrs {
		cols = append(cols, startProc(t, "collector", "--dir", colDir, "--instance", fmt.Sprint(i), "--listen", addrs[i], "--twin", urls[1-i]))
	}
	return addrs, urls, cols
}

// exportClient is an HTTP client holding the certificate that
// powvote export wrote for role (instance for a collector), as that
// role's process dials a collector.
func exportClient(t *testing.T, c *campaign.Campaign, role campaign.Role, instance int) *http.Client {
	t.Helper()
	return roleClient(t, c, role, instance)
}

// TestInsiderAccess runs two collector processes from the collector's
// export and asks every endpoint as each role would, each with only its
// own export: the collector enforces docs/INTERNAL.md's table, every cell.
// Then the refusals of the TLS layer: a certificate of another campaign's
// CA, an expired one, a server that is not the role the client dialled,
// and plain HTTP to a TLS port, each refused with its cause named.
func TestInsiderAccess(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "full")
	mustRun(t, "init", "solar", "--dir", full, "--threshold", "12", "--option", "Yes", "--option", "No")
	colDir, colC := exportRole(t, full, campaign.RoleCollector)
	_, edgeC := exportRole(t, full, campaign.RoleEdge)
	_, pubC := exportRole(t, full, campaign.RolePublisher)
	_, col2C := exportRole(t, full, campaign.RoleCollector, "--instance", "2")
	_, col1C := exportRole(t, full, campaign.RoleCollector, "--instance", "1")

	addrs, urls, cols := startPairFrom(t, colDir)
	callers := []struct {
		name string
		hc   *http.Client
	}{
		{"edge", exportClient(t, edgeC, campaign.RoleEdge, mtls.AnyInstance)},
		{"publisher", exportClient(t, pubC, campaign.RolePublisher, mtls.AnyInstance)},
		{"collector (any instance)", exportClient(t, colC, campaign.RoleCollector, mtls.AnyInstance)},
		{"collector 1 (the twin)", exportClient(t, col1C, campaign.RoleCollector, 1)},
		{"collector 2 (not the twin)", exportClient(t, col2C, campaign.RoleCollector, 2)},
	}
	for _, u := range urls {
		eventually(t, "collector "+u+" healthy", func() bool {
			resp, err := callers[1].hc.Get(u + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusNoContent
		})
	}
	// The table, as status codes for each caller in the order above.
	// 400 for /vote and /votes: the edge may vote, and an empty vote or
	// batch is malformed.
	const F = http.StatusForbidden
	table := []struct {
		method, target string
		hdr            map[string]string
		want           [5]int
	}{
		{"POST", "/vote", nil, [5]int{400, F, F, F, F}},
		{"POST", "/votes", nil, [5]int{400, F, F, F, F}},
		{"GET", "/stamp", map[string]string{"Count": "1"}, [5]int{200, F, F, F, F}},
		{"GET", "/sync?after=0&limit=1", map[string]string{"Last-Seq": "0"}, [5]int{F, F, 200, 200, F}},
		{"GET", "/snapshot", nil, [5]int{F, F, 200, 200, F}},
		{"GET", "/health", nil, [5]int{204, 204, 204, 204, 204}},
		{"GET", "/records/votes?from=1&limit=1", nil, [5]int{200, 200, F, F, F}},
		{"GET", "/records/voters?after=&limit=1", nil, [5]int{F, 200, F, F, F}},
	}
	for _, row := range table {
		for i, c := range callers {
			req, _ := http.NewRequest(row.method, urls[0]+row.target, nil)
			for k, v := range row.hdr {
				req.Header.Set(k, v)
			}
			resp, err := c.hc.Do(req)
			if err != nil {
				t.Errorf("%s %s as %s: %v", row.method, row.target, c.name, err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != row.want[i] {
				t.Errorf("%s %s as %s: %d, want %d", row.method, row.target, c.name, resp.StatusCode, row.want[i])
			}
			if resp.StatusCode == F && !strings.Contains(string(body), "may not "+row.method) {
				t.Errorf("%s %s as %s: 403 body %q does not name the refusal", row.method, row.target, c.name, body)
			}
		}
	}

	// Another campaign's CA, presented by a client that trusts any
	// server: the collector refuses the handshake, and its log says why.
	otherFull := filepath.Join(root, "other")
	mustRun(t, "init", "solar", "--dir", otherFull, "--threshold", "12", "--option", "Yes")
	_, otherEdge := exportRole(t, otherFull, campaign.RoleEdge)
	otherLink, err := otherEdge.Link(campaign.RoleEdge, mtls.AnyInstance)
	if err != nil {
		t.Fatal(err)
	}
	trusting := otherLink.ClientConfig(mtls.Peer{Role: string(campaign.RoleCollector), Instance: mtls.AnyInstance})
	trusting.VerifyConnection = nil
	stranger := &http.Client{Transport: &http.Transport{TLSClientConfig: trusting}, Timeout: 10 * time.Second}
	if resp, err := stranger.Get(urls[0] + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("a certificate of another campaign's CA was accepted: %d", resp.StatusCode)
	} else if !strings.Contains(err.Error(), "bad certificate") {
		t.Errorf("another campaign's certificate: %v, want a bad certificate alert", err)
	}
	// An expired certificate: valid when loaded, refused once expired.
	_, shortEdge := exportRole(t, full, campaign.RoleEdge, "--cert-lifetime", "2s")
	short := exportClient(t, shortEdge, campaign.RoleEdge, mtls.AnyInstance)
	time.Sleep(2500 * time.Millisecond)
	if _, err := short.Get(urls[0] + "/health"); err == nil {
		t.Error("an expired certificate was accepted")
	}
	// Plain HTTP to the TLS port: a 400 that says to use https.
	resp, err := http.Get("http://" + addrs[0] + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "speaks TLS") {
		t.Errorf("plain HTTP to the collector: %d %q, want 400 naming TLS", resp.StatusCode, body)
	}
	// A process given a plain http:// URL for an internal link refuses to
	// start, naming the cause.
	if r := run(t, "edge", "--dir", full, "--listen", freeAddr(t), "--pair", "http://"+addrs[0]+",http://"+addrs[1]); r.code == 0 ||
		!strings.Contains(r.stderr, "https://") {
		t.Errorf("edge with http:// collector URLs: exit %d, stderr %q; want a refusal naming https://", r.code, r.stderr)
	}
	// A server that is not the role dialled: an edge whose "collector" is
	// a TLS server holding the publisher's certificate refuses it.
	link, err := pubC.Link(campaign.RolePublisher, mtls.AnyInstance)
	if err != nil {
		t.Fatal(err)
	}
	impostor, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(link.Listen(impostor), http.NotFoundHandler())
	defer impostor.Close()
	edgeAddr := freeAddr(t)
	edgeP := startProc(t, "edge", "--dir", full, "--listen", edgeAddr, "--pair", "https://"+impostor.Addr().String()+","+urls[1])
	if resp, err := http.Get("http://" + edgeAddr + "/stamp"); err == nil {
		resp.Body.Close()
	}
	edgeP.interrupt(t)
	for _, c := range cols {
		c.interrupt(t)
	}
	if log := edgeP.stderr.String(); !strings.Contains(log, "is publisher of campaign solar, want collector 0 of campaign solar: wrong role") {
		t.Errorf("the edge did not name the impostor's role; log:\n%s", log)
	}
	logs := cols[0].stderr.String()
	for _, want := range []string{"not signed by this campaign's internal CA", "certificate expired", "spoke plain HTTP"} {
		if !strings.Contains(logs, want) {
			t.Errorf("collector 0's log does not say %q:\n%s", want, logs)
		}
	}
}

// TestCertificateRotation renews the edge's and a collector's certificates
// with powvote export --renew and sends each process SIGHUP while votes
// flow: new connections get the new certificate, and every vote before,
// during and after is recorded.
func TestCertificateRotation(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "full")
	mustRun(t, "init", "solar", "--dir", full, "--threshold", "10", "--option", "Yes", "--option", "No")
	colDir, _ := exportRole(t, full, campaign.RoleCollector)
	edgeDir, _ := exportRole(t, full, campaign.RoleEdge)
	_, pubC := exportRole(t, full, campaign.RolePublisher)
	pub := exportClient(t, pubC, campaign.RolePublisher, mtls.AnyInstance)
	addrs, urls, cols := startPairFrom(t, colDir)
	edgeAddr := freeAddr(t)
	edgeP := startProc(t, "edge", "--dir", edgeDir, "--listen", edgeAddr, "--pair", urls[0]+","+urls[1])
	edgeURL := "http://" + edgeAddr

	serial := func() string {
		conn, err := tls.Dial("tcp", addrs[0], pub.Transport.(*http.Transport).TLSClientConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	tokens := strings.Fields(mustRun(t, "mandates", "--key", filepath.Join(full, "solar", campaign.DemoAuthorityKey), "--count", "3", "--format", "tokens"))
	vote := func(i int) {
		t.Helper()
		code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", full))
		if r := run(t, "vote", "--edge", edgeURL, "--mandate", tokens[i], "--booth-code", code, "--say", "Yes", "--timeout", "60s"); r.code != 0 {
			t.Fatalf("vote %d: %s", i, r.stderr)
		}
	}
	vote(0)
	before := serial()
	mustRun(t, "export", "--dir", full, "--role", "collector", "--out", colDir, "--renew")
	mustRun(t, "export", "--dir", full, "--role", "edge", "--out", edgeDir, "--renew")
	cols[0].cmd.Process.Signal(syscall.SIGHUP)
	edgeP.cmd.Process.Signal(syscall.SIGHUP)
	vote(1)
	eventually(t, "collector 0 presents its new certificate", func() bool { return serial() != before })
	vote(2)
	recs := collectorGetAs(t, pub, urls[1]+"/records/voters?after=&limit=100")
	if n := strings.Count(recs, "\n"); n != 3 {
		t.Errorf("collector 1 holds %d voters, want 3", n)
	}
	edgeP.interrupt(t)
	for _, c := range cols {
		c.interrupt(t)
	}
	for _, p := range []*proc{edgeP, cols[0]} {
		if !strings.Contains(p.stderr.String(), "SIGHUP: reloaded the internal links' certificate") {
			t.Errorf("%v did not log the reload:\n%s", p.cmd.Args[1:3], p.stderr)
		}
	}
}

// collectorGetAs sends GET with hc to a collector, wants 200 and returns
// the body.
func collectorGetAs(t *testing.T, hc *http.Client, url string) string {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return string(body)
}

// ownStampRe finds the voter's own stamp in a receipt of a vote for "Yes".
var ownStampRe = regexp.MustCompile(`Receipt\d\d: (\S+) Yes\n`)

// tap relays TCP connections from a listener to a target and keeps every
// byte that passes, both ways: what a hosting provider or a tapped switch
// between two machines sees.
type tap struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	seen   bytes.Buffer
}

func newTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go tp.relay(c)
		}
	}()
	return tp
}

func (tp *tap) relay(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", tp.target)
	if err != nil {
		return
	}
	defer s.Close()
	var wg sync.WaitGroup
	copyTo := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				tp.mu.Lock()
				tp.seen.Write(buf[:n])
				tp.mu.Unlock()
				if _, err := dst.Write(buf[:n]); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Either side closing ends both.
		dst.Close()
		src.Close()
	}
	wg.Add(2)
	go copyTo(s, c)
	go copyTo(c, s)
	wg.Wait()
}

func (tp *tap) bytes() []byte {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return bytes.Clone(tp.seen.Bytes())
}

// TestInternalTrafficCapture runs the platform as separate processes from
// per-role exports, with every internal link (edge to collector, twin to
// twin, publisher to collector) through a tap, casts votes and reads
// everything the taps saw: no mandate, voter stamp or vote header, in any
// form, crosses an internal link in clear. The control taps the public
// link from the voter to the edge, which is plain HTTP here (TLS there is
// the operator's proxy's, or issue 16's), and finds every mandate: the
// search would see them.
func TestInternalTrafficCapture(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "full")
	mustRun(t, "init", "solar", "--dir", full, "--threshold", "10", "--batch-size", "1", "--option", "Yes", "--option", "No")
	colDir, _ := exportRole(t, full, campaign.RoleCollector)
	edgeDir, _ := exportRole(t, full, campaign.RoleEdge)
	pubDir, pubC := exportRole(t, full, campaign.RolePublisher)
	var addrs [2]string
	var taps [2]*tap
	for i := range addrs {
		addrs[i] = freeAddr(t)
		taps[i] = newTap(t, addrs[i])
	}
	tapURL := func(i int) string { return "https://" + taps[i].ln.Addr().String() }
	cols := make([]*proc, 2)
	for i := range addrs {
		cols[i] = startProc(t, "collector", "--dir", colDir, "--instance", fmt.Sprint(i), "--listen", addrs[i], "--twin", tapURL(1-i))
	}
	pair := tapURL(0) + "," + tapURL(1)
	edgeAddr, pubAddr := freeAddr(t), freeAddr(t)
	public := newTap(t, edgeAddr)
	edgeP := startProc(t, "edge", "--dir", edgeDir, "--listen", edgeAddr, "--pair", pair)
	pubP := startProc(t, "publisher", "--dir", pubDir, "--listen", pubAddr, "--pair", pair, "--interval", "200ms")
	pub := exportClient(t, pubC, campaign.RolePublisher, mtls.AnyInstance)

	const n = 4
	tokens := strings.Fields(mustRun(t, "mandates", "--key", filepath.Join(full, "solar", campaign.DemoAuthorityKey), "--count", fmt.Sprint(n), "--format", "tokens"))
	var stamps []string
	for _, tok := range tokens {
		code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", full))
		r := run(t, "vote", "--edge", "http://"+public.ln.Addr().String(), "--mandate", tok, "--booth-code", code, "--say", "Yes", "--timeout", "60s")
		if r.code != 0 {
			t.Fatalf("vote: %s", r.stderr)
		}
		m := ownStampRe.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no own stamp in %q", r.stdout)
		}
		stamps = append(stamps, m[1])
	}
	// Both instances hold every vote (the twins synced through the taps)
	// and the publisher read them (through the taps too).
	for _, tp := range taps {
		eventually(t, "the twins synced", func() bool {
			return strings.Count(collectorGetAs(t, pub, "https://"+tp.ln.Addr().String()+"/records/voters?after=&limit=100"), "\n") == n
		})
	}
	eventually(t, "the votes published", func() bool {
		resp, err := http.Get("http://" + pubAddr + "/solar-vote.log")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Count(string(b), "\n") >= n
	})
	edgeP.interrupt(t)
	pubP.interrupt(t)
	for _, c := range cols {
		c.interrupt(t)
	}

	// What to look for: each mandate's fields and the voter stamps in the
	// forms the platform writes them, and the names of the vote headers.
	needles := map[string]string{"Auth-Sig header": "Auth-Sig", "Voter header": "Voter:", "sync line": " \"Yes\""}
	for i, tok := range tokens {
		m, err := mandate.ParseHex(tok)
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"auth-sig": m.AuthSig[:], "auth-id": m.AuthID[:]} {
			needles[fmt.Sprintf("mandate %d %s base64", i, name)] = base64.StdEncoding.EncodeToString(b)
			needles[fmt.Sprintf("mandate %d %s hex", i, name)] = hex.EncodeToString(b)
			needles[fmt.Sprintf("mandate %d %s raw", i, name)] = string(b)
		}
		needles[fmt.Sprintf("voter stamp %d", i)] = stamps[i]
	}
	var internal []byte
	for _, tp := range taps {
		internal = append(internal, tp.bytes()...)
	}
	if len(internal) < 10000 {
		t.Fatalf("the taps saw only %d bytes", len(internal))
	}
	for name, needle := range needles {
		if bytes.Contains(internal, []byte(needle)) {
			t.Errorf("the internal links carry %s in clear", name)
		}
	}
	// The control: the public link carries each mandate and stamp.
	seen := public.bytes()
	for i := range tokens {
		for _, name := range []string{fmt.Sprintf("mandate %d auth-sig base64", i), fmt.Sprintf("voter stamp %d", i)} {
			if !bytes.Contains(seen, []byte(needles[name])) {
				t.Errorf("control: the public link does not show %s: the search is blind", name)
			}
		}
	}
	os.WriteFile(filepath.Join(root, "capture.bin"), internal, 0o600)
}

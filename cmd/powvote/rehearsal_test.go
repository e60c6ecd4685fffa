package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
// every internal link; powvote loadtest casts votes for both campaigns at
// once through the one edge and checks that every acknowledged vote was
// published once; powvote audit checks both campaigns' lists through the
// edge.
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

	colAddr := []string{freeAddrOn(t, "127.0.0.2"), freeAddrOn(t, "127.0.0.3")}
	colURL := []string{"https://" + colAddr[0], "https://" + colAddr[1]}
	pair := colURL[0] + "," + colURL[1]
	for i, dir := range []string{c0, c1} {
		startProc(t, "collector", "--dir", dir, "--instance", strconv.Itoa(i), "--listen", colAddr[i], "--twin", colURL[i^1])
	}
	pubAddr := freeAddrOn(t, "127.0.0.4")
	startProc(t, "publisher", "--dir", pubDir, "--listen", pubAddr, "--pair", pair, "--interval", "200ms")
	edgeAddr := freeAddrOn(t, "127.0.0.5")
	startProc(t, "edge", "--dir", edgeDir, "--listen", edgeAddr, "--pair", pair, "--publisher", "http://"+pubAddr, "--max-conns-per-ip", "0")
	edgeURL := "http://" + edgeAddr

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
	for _, n := range campaigns {
		a := runFor(t, 2*time.Minute, "audit", edgeURL, "--campaign", n)
		if a.code != 0 || !strings.Contains(a.stdout, n) {
			t.Errorf("powvote audit %s --campaign %s: exit %d\n%s\n%s", edgeURL, n, a.code, loadTail(a.stdout, 2000), a.stderr)
		}
	}
}

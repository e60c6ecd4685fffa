package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/client"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/wire"
)

// hostTransport sends each request to the edge with the Host of a
// campaign: /stamp with stamp's, the rest with vote's. A device of one
// campaign, or an attacker who carries one campaign's stamp to another.
type hostTransport struct{ stamp, vote string }

func (h hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = h.vote + ".vote.test"
	if r.URL.Path == "/stamp" {
		r.Host = h.stamp + ".vote.test"
	}
	return http.DefaultTransport.RoundTrip(r)
}

// smallDisk mounts a 64 MiB file system at dir, for a disk that fills;
// the process that uses it is killed before it is unmounted.
func smallDisk(t *testing.T, dir string, user *proc) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", faultMountSize), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a small file system (needs root, which make test has in CI): %v: %s", err, out)
	}
	t.Cleanup(func() {
		user.cmd.Process.Kill()
		for range 50 {
			if exec.Command("umount", dir).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("umount %s failed", dir)
	})
}

// fillDisk writes a file into dir until its file system is full, and
// returns the file's name.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	fill := filepath.Join(dir, "fill")
	f, err := os.OpenFile(fill, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			return fill
		}
	}
}

// TestCampaignIsolation runs one edge, one publisher and a pair of
// collectors, each a process serving every campaign of one directory, and
// checks that the campaigns are apart: one campaign's store that fails to
// open leaves the others taking votes, a campaign added to the directory
// is served after SIGHUP without a restart, one mandate votes once in each
// campaign (two votes, each published only in its own lists), and a
// stamp of one campaign is refused by another.
func TestCampaignIsolation(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "pv")
	keyFile := filepath.Join(root, "authority.key")
	pub := strings.TrimSpace(mustRun(t, "authority", "keygen", "--out", keyFile))
	initCampaign := func(name string) {
		mustRun(t, "init", name, "--dir", data, "--threshold", "12", "--batch-size", "1",
			"--option", "Yes", "--option", "No", "--authority-pubkey", pub)
	}
	initCampaign("alpha")
	initCampaign("beta")
	// beta's store on instance 0 cannot open: a file where its directory goes.
	broken := filepath.Join(data, "beta", "collector-0")
	if err := os.WriteFile(broken, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	alpha, err := campaign.Load(data, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	ins := insiders(t, alpha)
	var urls [2]string
	var procs []*proc
	for i := range 2 {
		addr := freeAddr(t)
		urls[i] = "https://" + addr
	}
	for i := range 2 {
		addr := strings.TrimPrefix(urls[i], "https://")
		procs = append(procs, startProc(t, "collector", "--dir", data, "--instance", strconv.Itoa(i), "--listen", addr, "--twin", urls[i^1]))
	}
	for _, u := range urls {
		waitHealthy(t, ins, u)
	}
	pair := urls[0] + "," + urls[1]
	pubAddr := freeAddr(t)
	procs = append(procs, startProc(t, "publisher", "--dir", data, "--listen", pubAddr, "--pair", pair, "--interval", "100ms"))
	edgeAddr := freeAddr(t)
	procs = append(procs, startProc(t, "edge", "--dir", data, "--listen", edgeAddr, "--pair", pair, "--publisher", "http://"+pubAddr, "--max-conns-per-ip", "0"))
	edgeURL := "http://" + edgeAddr

	tokens := strings.Fields(mustRun(t, "mandates", "--key", keyFile, "--count", "2", "--format", "tokens"))
	receipts := map[string][]string{} // campaign -> the voter stamps it acknowledged
	cast := func(stampFrom, in, token, say string, limit time.Duration) error {
		t.Helper()
		tok, err := mandate.ParseHex(token)
		if err != nil {
			t.Fatal(err)
		}
		code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data, "--campaign", stampFrom))
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		rc, err := client.Cast(ctx, client.Vote{Edge: edgeURL, Mandate: tok, BoothCode: code, Say: say},
			client.Options{HTTP: &http.Client{Transport: hostTransport{stampFrom, in}, Timeout: 10 * time.Second}, Workers: 1, Backoff: 200 * time.Millisecond})
		if err == nil {
			if rc.Campaign != in {
				t.Errorf("a vote for %s was answered by campaign %s", in, rc.Campaign)
			}
			receipts[in] = append(receipts[in], rc.Voter)
		}
		return err
	}

	// alpha takes votes while beta's instance 0 is down; beta takes none.
	for _, tok := range tokens {
		if err := cast("alpha", "alpha", tok, "Yes", 20*time.Second); err != nil {
			t.Fatalf("alpha, with beta's store broken: %v", err)
		}
	}
	if err := cast("beta", "beta", tokens[0], "No", 3*time.Second); err == nil {
		t.Fatal("beta acknowledged a vote with one of its instances down")
	}

	// Mend beta's disk (a small file system of its own, to fill below),
	// add gamma, and tell every process.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	smallDisk(t, broken, procs[0])
	initCampaign("gamma")
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGHUP)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := (&http.Client{Transport: hostTransport{"gamma", "gamma"}}).Get(edgeURL + "/list")
		if err == nil {
			r.Body.Close()
			if r.StatusCode/100 == 2 && r.Header.Get("Campaign") == "gamma" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gamma not served 30 s after SIGHUP: %v\nedge: %s", err, procs[3].stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The same mandates vote once in each campaign: two votes, not 481.
	for _, name := range []string{"beta", "gamma"} {
		for _, tok := range tokens {
			if err := cast(name, name, tok, "No", 30*time.Second); err != nil {
				t.Fatalf("%s, the mandate that voted in alpha: %v", name, err)
			}
		}
	}
	// Twice in one campaign is refused, as ever.
	var se *client.StatusError
	if err := cast("gamma", "gamma", tokens[0], "No", 10*time.Second); !errors.As(err, &se) || se.Code != wire.StatusAlreadyVoted {
		t.Errorf("a second vote in gamma: %v, want %d", err, wire.StatusAlreadyVoted)
	}
	// alpha's genuine stamp is no stamp in beta.
	fresh := strings.TrimSpace(mustRun(t, "mandates", "--key", keyFile, "--count", "1", "--format", "tokens"))
	if err := cast("alpha", "beta", fresh, "No", 10*time.Second); !errors.As(err, &se) || se.Code != wire.StatusNotGenuine {
		t.Errorf("beta given alpha's stamp: %v, want %d", err, wire.StatusNotGenuine)
	}

	// Each list holds its own campaign's votes only, and every campaign
	// publishes (a batch is kept back until the close: one of two).
	all := map[string]string{}
	for name, stamps := range receipts {
		for _, s := range stamps {
			all[s] = name
		}
	}
	for _, name := range []string{"alpha", "beta", "gamma"} {
		var votes string
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(votes, "\n") < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s published nothing in 30 s", name)
			}
			time.Sleep(100 * time.Millisecond)
			votes = download(t, edgeURL+"/"+name+"-vote.log")
		}
		for _, line := range strings.Split(strings.TrimSpace(votes), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || all[f[2]] != name {
				t.Errorf("%s's votes list holds %q, a vote of %q", name, line, all[f[min(2, len(f)-1)]])
			}
		}
	}

	// beta's disk on instance 0 fills while it runs: its store refuses
	// writes and stops, the process and alpha go on, and beta's instance
	// comes back by itself once the disk has room.
	fill := fillDisk(t, broken)
	more := strings.Fields(mustRun(t, "mandates", "--key", keyFile, "--count", "2", "--format", "tokens"))
	cast("beta", "beta", more[0], "No", 5*time.Second) // instance 0 cannot store it; answered or not
	deadline = time.Now().Add(20 * time.Second)
	// Its store refuses writes, its instance stops alone, and the process
	// says it will open it again.
	for !strings.Contains(procs[0].stderr.String(), "this campaign's instance stopped") {
		if time.Now().After(deadline) {
			t.Fatalf("beta's instance 0 did not stop alone on its full disk; collector 0: %s", loadTail(procs[0].stderr.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The process serves alpha on: its instance 0 answers, and votes.
	waitHealthy(t, ins, urls[0])
	if err := cast("alpha", "alpha", more[1], "Yes", 20*time.Second); err != nil {
		t.Fatalf("alpha, while beta's disk is full on instance 0: %v", err)
	}
	select {
	case err := <-procs[0].done:
		t.Fatalf("collector 0 exited when beta's disk filled: %v", err)
	default:
	}
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	beta, err := campaign.Load(data, "beta")
	if err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, insiders(t, beta), urls[0])
	select {
	case err := <-procs[0].done:
		t.Fatalf("collector 0 exited: %v", err)
	default:
	}
	if err := cast("beta", "beta", fresh, "No", 30*time.Second); err != nil {
		t.Fatalf("beta, once its disk has room again: %v", err)
	}
}

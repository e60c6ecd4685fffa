package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPublisherProcess runs `powvote publisher` against the collectors of
// `powvote up`, casts votes through the edge and downloads the lists: a
// batch is published, and a batch is kept back.
func TestPublisherProcess(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	p := startUp(t, data)
	// Its own directory: the publisher of `powvote up` publishes the same
	// campaign's lists in data, in batches of its own.
	pubDir := filepath.Join(t.TempDir(), "publisher")
	mustRun(t, "export", "--dir", data, "--role", "publisher", "--out", pubDir)
	cmd := exec.Command(binary, "publisher", "--dir", pubDir, "--listen", "127.0.0.1:0",
		"--pair", p.collectors[0]+","+p.collectors[1], "--interval", "50ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	var base string
	if sc.Scan() {
		if m := regexp.MustCompile(`publisher for solar listening on (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			base = "http://" + m[1]
		}
	}
	if base == "" {
		t.Fatalf("publisher printed no address; stderr: %s", stderr.String())
	}
	done := make(chan error, 1)
	go func() {
		io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()

	// Two batches: until the close the publisher publishes only what
	// leaves a batch kept back, and no batch smaller than the batch size.
	stamps := castVotes(t, data, p.edge, 2*demoBatch)
	// The publisher pulls on its own schedule: poll the list it serves.
	var votes string
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(votes, "\n") < demoBatch {
		if time.Now().After(deadline) {
			t.Fatalf("votes list after 20 s: %q; stderr: %s", votes, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
		votes = download(t, base+"/solar-vote.log")
	}
	published := 0
	for _, s := range stamps {
		n := strings.Count(votes, s)
		if n > 1 {
			t.Errorf("stamp %s stands %d times in the votes list", s, n)
		}
		published += n
	}
	if lines := strings.Count(votes, "\n"); published != demoBatch || lines != demoBatch {
		t.Errorf("votes list of %d lines, %d of them votes cast; want a batch of %d:\n%s", lines, published, demoBatch, votes)
	}
	if voters := download(t, base+"/solar-auth.log"); strings.Count(voters, "\n") != demoBatch {
		t.Errorf("voters list: %q", voters)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("publisher exited with %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("publisher did not stop within 15 s of SIGINT")
	}
	kept, err := os.ReadFile(filepath.Join(pubDir, "solar", "published", "solar-vote.log"))
	if err != nil || string(kept) != votes {
		t.Errorf("list kept on disk: %v\n%q\nserved:\n%q", err, kept, votes)
	}
	p.stop(t)
}

func download(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}

func TestPublisherArgs(t *testing.T) {
	data := t.TempDir()
	mustRun(t, "init", "town", "--dir", data, "--option", "A")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"publisher", "--dir", data, "--listen", "127.0.0.1:0"}, "--pair are required"},
		{[]string{"publisher", "--dir", data, "--listen", "127.0.0.1:0", "--pair", "http://a"}, "two different collector URLs"},
		{[]string{"publisher", "--dir", data, "--listen", "127.0.0.1:0", "--pair", "http://a,http://a"}, "two different collector URLs"},
		{[]string{"publisher", "--dir", data, "--listen", "127.0.0.1:0", "--pair", "http://a,http://b", "--interval", "0s"}, "--interval"},
		{[]string{"publisher", "--dir", data, "--listen", "127.0.0.1:0", "--pair", "a:1,b:2"}, "Pairs[0][0]"},
		{[]string{"publisher", "--dir", data, "--campaign", "city", "--listen", "127.0.0.1:0", "--pair", "http://a,http://b"}, "city"},
	} {
		r := run(t, tc.args...)
		// Log lines (time=...) may come before the error: the error is
		// the one other line.
		var rest []string
		for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if !strings.HasPrefix(l, "time=") {
				rest = append(rest, l)
			}
		}
		if r.code == 0 || len(rest) != 1 || !strings.Contains(rest[0], tc.msg) {
			t.Errorf("powvote %v: exit %d, stderr %q; want one line naming %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCollectorBackup takes a backup of a running instance that has taken
// votes, then removes the instance's data directory, starts it again from
// the backup and finds it serving the same records; the pair then goes on
// taking votes. The backup is private: a directory 0700, files 0600.
func TestCollectorBackup(t *testing.T) {
	s := newPair(t)
	for range 3 {
		if _, r := s.vote(t, s.edgeU, "", "Humble Pluto"); r.code != 0 {
			t.Fatalf("vote: %s", r.stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "backup-0")
	backup := []string{"collector", "backup", "--dir", s.data, "--instance", "0", "--from", s.url[0], "--out", out}
	msg := mustRun(t, backup...)
	if !strings.Contains(msg, "3 vote records, 3 voters") {
		t.Errorf("backup said %q", msg)
	}
	votes := collectorGet(t, s.ins, s.url[0]+"/records/votes?from=1&limit=10000")
	voters := collectorGet(t, s.ins, s.url[0]+"/records/voters?after=&limit=10000")
	if r := run(t, backup...); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("a second backup into the same directory: exit %d, %q", r.code, r.stderr)
	}
	filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: the backup links voters to votes, only its owner may read it", p, fi.Mode().Perm())
		}
		return nil
	})

	s.col[0].interrupt(t)
	if err := os.RemoveAll(filepath.Join(s.data, "solar", "collector-0")); err != nil {
		t.Fatal(err)
	}
	s.col[0] = startProc(t, "collector", "--dir", s.data, "--instance", "0", "--data", out, "--listen", s.addr[0], "--twin", s.url[1])
	waitHealthy(t, s.ins, s.url[0])
	if got := collectorGet(t, s.ins, s.url[0]+"/records/votes?from=1&limit=10000"); got != votes {
		t.Errorf("the restored instance's vote records:\n%s\nwant:\n%s", got, votes)
	}
	if got := collectorGet(t, s.ins, s.url[0]+"/records/voters?after=&limit=10000"); got != voters {
		t.Errorf("the restored instance's voters:\n%s\nwant:\n%s", got, voters)
	}
	if _, r := s.vote(t, s.edgeU, "", "Zürich"); r.code != 0 {
		t.Fatalf("vote after the restore: %s", r.stderr)
	}
	for i := range 2 {
		eventually(t, fmt.Sprintf("collector %d holds the 4 votes", i), func() bool { return votersOf(t, s.ins, s.url[i]) == 4 })
	}
}

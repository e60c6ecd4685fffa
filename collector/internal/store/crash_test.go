package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crashDirEnv tells TestCrashChild, run in a child process, which Store to
// fill.
const crashDirEnv = "POWVOTE_STORE_CRASH_DIR"

// TestCrashChild is the child side of TestCrash. It accepts votes from 16
// goroutines and prints "ack <i>" for vote i as soon as Accept returns,
// until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrash")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	var (
		next atomic.Int64
		mu   sync.Mutex // one line per Write
	)
	for range 16 {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if _, err := s.Accept(context.Background(), testVoter(i), testVote(i, 0), Receipt{}); err != nil {
					fmt.Printf("error %d: %v\n", i, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %d\n", i)
				mu.Unlock()
			}
		}()
	}
	// The parent kills us long before; this only ends an orphan.
	time.Sleep(time.Minute)
	os.Exit(3)
}

// TestCrash kills a process that is accepting votes with SIGKILL and checks
// that every vote it acknowledged is in the voter table and in votes.log
// exactly once after a reopen.
func TestCrash(t *testing.T) {
	const ackBeforeKill = 400
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A child that stops printing must not hang the test.
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()

	acked := make(map[int]bool)
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "ack ")
		i, err := strconv.Atoi(n)
		if !ok || err != nil {
			t.Errorf("child: %s", sc.Text())
			continue
		}
		acked[i] = true
		if !killed && len(acked) >= ackBeforeKill {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Acknowledgements still in the pipe when the child died were read
	// above too: they were printed after Accept returned.
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before %d acknowledgements (%d): %v\n%s", ackBeforeKill, len(acked), err, stderr.String())
	}

	s := openT(t, dir, Options{})
	checkProjection(t, s)
	voters := make(map[string]bool)
	for _, l := range allVoters(t, s) {
		voters[l] = true
	}
	inLog := make(map[string]int)
	for _, p := range logPayloads(t, dir) {
		inLog[p]++
	}
	for i := range acked {
		if !voters[testVoter(i).Line()] {
			t.Errorf("acknowledged vote %d: voter record missing", i)
		}
		if n := inLog[testVote(i, 0).Line()]; n != 1 {
			t.Errorf("acknowledged vote %d is %d times in votes.log", i, n)
		}
	}
	for p, n := range inLog {
		if n != 1 {
			t.Errorf("%q is %d times in votes.log", p, n)
		}
	}
	v, n := s.Counts()
	if v != n || n != len(inLog) || len(voters) != v {
		t.Errorf("Counts %d, %d; %d log records, %d voter records", v, n, len(inLog), len(voters))
	}
	t.Logf("%d votes acknowledged, %d recorded when killed", len(acked), n)
}

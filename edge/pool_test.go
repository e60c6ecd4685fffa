package edge

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/stamp"
)

// stampOf is one answer to GET /stamp, decoded.
type stampOf struct {
	putc, voter string
	sig         []byte
}

func (e *testEnv) stampOf(t testing.TB, code string) stampOf {
	t.Helper()
	return e.stampWith(t, http.DefaultClient, code)
}

// stampWith is stampOf on client: concurrent requests dial connections
// ahead, which a test's own client closes before the edge shuts down
// (newClient).
func (e *testEnv) stampWith(t testing.TB, client *http.Client, code string) stampOf {
	t.Helper()
	req, _ := http.NewRequest("GET", e.base+"/stamp", nil)
	req.Header["TOTP"] = []string{code}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("GET /stamp: status %d, want 204", resp.StatusCode)
	}
	h := resp.Header
	sig, err := base64.StdEncoding.DecodeString(h.Get("P-SIG"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		t.Fatalf("P-SIG %q: %v", h.Get("P-SIG"), err)
	}
	return stampOf{putc: h.Get("P-UTC"), voter: h.Get("Voter"), sig: sig}
}

// TestStampValuesNeverRepeat is the attack of comparing values: in one
// second of the edge's clock, answers to valid and to wrong codes, mixed and
// concurrent, never share a P-SIG, so a wrong code sent next to a candidate
// tells nothing. Each P-SIG verifies under the key its code calls for, and
// each voter stamp under its own P-SIG.
func TestStampValuesNeverRepeat(t *testing.T) {
	// A pool of 400 signed by the stand-in collectors under the race
	// detector on a loaded machine can outlast the env's 300 ms collector
	// timeout; this test is about the values, not the timeout.
	e := startEnv(t, 1, func(c *Config) { c.StampPoolMin, c.CollectorTimeout = 400, 10*time.Second })
	right, wrong := e.rightCode(t), e.wrongCode(t)
	client := newClient(t)
	const n = 200
	var (
		mu  sync.Mutex
		got = map[string][]stampOf{}
		wg  sync.WaitGroup
	)
	for _, code := range []string{right, wrong} {
		for range 4 {
			wg.Go(func() {
				for range n / 4 {
					s := e.stampWith(t, client, code)
					mu.Lock()
					got[code] = append(got[code], s)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	seen := map[string]string{}
	for code, answers := range got {
		for _, s := range answers {
			if s.putc != e.clock.putc() {
				t.Fatalf("P-UTC %s, want %s", s.putc, e.clock.putc())
			}
			k := string(s.sig)
			if prev, dup := seen[k]; dup {
				t.Fatalf("P-SIG %x given twice in one second: to code %s and to code %s", s.sig, prev, code)
			}
			seen[k] = code
			genuine := ed25519.Verify(e.keys.signPub(), []byte(s.putc), s.sig)
			decoy := ed25519.Verify(e.keys.holePub(), []byte(s.putc), s.sig)
			if genuine != (code == right) || decoy != (code == wrong) {
				t.Fatalf("code %s: P-SIG verifies under UTC-SIGN %v, UTC-HOLE %v", code, genuine, decoy)
			}
			if err := stamp.CheckVoter(e.keys.voterKey, s.voter, s.putc, s.sig); err != nil {
				t.Fatalf("voter stamp: %v", err)
			}
		}
	}
	if len(seen) != 2*n {
		t.Fatalf("%d distinct P-SIGs, want %d", len(seen), 2*n)
	}
	// One fetch served the 400 answers of the second; the prefetch loop
	// may have fetched the next second's pool meanwhile, which a slow run
	// (a busy machine, the race detector) gives it time to.
	if st := e.srv.Stats(); st["stamp_pool_spent"] != 0 || st["stamp_fetches"] < 1 || st["stamp_fetches"] > 2 {
		t.Errorf("stats %v: want no spent pool and one fetch for the second (and at most one prefetch)", st)
	}
}

// TestStampPoolSpent: once a second's pool is spent, a valid code gets a
// decoy, with an answer of the same shape as every other; the operator's
// counter says so, and the next second's pool is sized for the demand.
func TestStampPoolSpent(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.StampPoolMin, c.StampPoolMax = 3, 50 })
	right := e.rightCode(t)
	for i := range 10 {
		s := e.stampOf(t, right)
		genuine := ed25519.Verify(e.keys.signPub(), []byte(s.putc), s.sig)
		if want := i < 3; genuine != want {
			t.Fatalf("valid code %d of the second: genuine %v, want %v", i+1, genuine, want)
		}
		if !genuine && !ed25519.Verify(e.keys.holePub(), []byte(s.putc), s.sig) {
			t.Fatalf("valid code %d: neither genuine nor a decoy", i+1)
		}
	}
	if st := e.srv.Stats(); st["stamp_pool_spent"] != 7 || st["stamp_pool_signed"] != 3 {
		t.Fatalf("stats %v: want 7 spent, 3 signed", st)
	}
	// The next pool: twice the 10 taken, plus the minimum.
	e.clock.add(time.Second)
	for i := range 23 {
		if s := e.stampOf(t, right); !ed25519.Verify(e.keys.signPub(), []byte(s.putc), s.sig) {
			t.Fatalf("second 2, valid code %d: a decoy from a pool of 23", i+1)
		}
	}
	if a := e.cols[0].asked.Load() + e.cols[1].asked.Load(); a != 3+23 {
		t.Fatalf("collectors were asked for %d signatures, want 3 then 23", a)
	}
	// At most StampPoolMax, however many valid codes came.
	e.clock.add(time.Second)
	for range 60 {
		e.stampOf(t, right)
	}
	e.clock.add(time.Second)
	e.stampOf(t, right)
	if a := e.cols[0].asked.Load() + e.cols[1].asked.Load(); a != 3+23+49+50 {
		t.Fatalf("collectors were asked for %d signatures in all, want 3+23+49+50", a)
	}
}

// TestStampWrongCodeFlood: a flood of wrong codes makes the collectors sign
// no more than they would for none; the pool does not grow.
func TestStampWrongCodeFlood(t *testing.T) {
	e := startEnv(t, 1, func(c *Config) { c.StampPoolMin = 8 })
	wrong := e.wrongCode(t)
	client := newClient(t)
	for range 5 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 100 {
					e.stampWith(t, client, wrong)
				}
			})
		}
		wg.Wait()
		e.clock.add(time.Second)
	}
	if a := e.cols[0].asked.Load() + e.cols[1].asked.Load(); a != 5*8 {
		t.Fatalf("2000 wrong codes over 5 seconds: collectors asked for %d signatures, want 5 pools of 8", a)
	}
	if st := e.srv.Stats(); st["stamp_pool_spent"] != 0 || st["stamp"] != 2000 {
		t.Fatalf("stats %v", st)
	}
}

// TestStampPrefetch: on the real clock, a campaign with recent /stamp
// traffic has its next second's pool fetched ahead, so that the first
// request of a second does not wait for a fetch: the fetches run in the
// second half of the second before, and each pool's P-UTC is the second it
// serves.
func TestStampPrefetch(t *testing.T) {
	keys := newKeys(t)
	a := startCollector(t, "c0", keys, nil)
	b := startCollector(t, "c1", keys, nil)
	s, base := serve(t, Config{Campaigns: []Campaign{{Settings: settings("solar", "Yes"), UTCSignPub: keys.signPub(), UTCHole: keys.hole,
		VoterKey: keys.voterKey, Link: keys.link, Pairs: [][2]string{{a.url, b.url}}}}})
	e := &testEnv{keys: keys, base: base, srv: s}
	e.stampOf(t, "000000")
	before := s.Stats()["stamp_fetches"]
	// Wait for the start of the next second but one, with no request.
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+2, 0)) + 100*time.Millisecond)
	if n := s.Stats()["stamp_fetches"] - before; n < 1 {
		t.Fatalf("no fetch ahead in two idle seconds after a request")
	}
	fetched := s.Stats()["stamp_fetches"]
	got := e.stampOf(t, "000000")
	if want := strconv.FormatInt(time.Now().Unix(), 10); got.putc != want {
		t.Errorf("P-UTC %s, want %s", got.putc, want)
	}
	if n := s.Stats()["stamp_fetches"]; n != fetched {
		t.Errorf("the first request of a second fetched (%d fetches, %d before it): the prefetched pool was not used", n, fetched)
	}
}

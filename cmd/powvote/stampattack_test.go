package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/totp"
)

// TestStampCodeSearch plays the booth-code search that compares the values
// of /stamp answers, against real collector and edge processes. Signatures
// of RFC 8032 are deterministic: if the edge served every answer of a
// second from one platform signature per key, a surely-wrong code and a
// candidate sent in the same second would get equal P-SIGs exactly when
// the candidate was wrong too. Here wrong codes and the valid code are sent
// side by side from one address, many per second, and no P-SIG value ever
// comes twice, so the comparison tells nothing. The answers to the valid
// code that are genuine verify under UTC-SIGN only, the others (a spent
// pool) and every wrong code's under UTC-HOLE only.
func TestStampCodeSearch(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	mustRun(t, "init", "solar", "--dir", data, "--threshold", "12", "--option", "Yes", "--option", "No")
	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	pass := insiders(t, c)
	signPub := c.Secrets.UTCSign.Public().(ed25519.PublicKey)
	holePub := c.Secrets.UTCHole.Public().(ed25519.PublicKey)
	urls := startCollectors(t, data, pass, 2)
	edgeAddr := freeAddr(t)
	startProc(t, "edge", "--dir", data, "--listen", edgeAddr, "--pair", urls[0]+","+urls[1])
	base := "http://" + edgeAddr

	valid := func(now time.Time) string {
		code, err := totp.BoothCode(c.Secrets.TOTPSeed, now)
		if err != nil {
			t.Fatal(err)
		}
		d, err := totp.ParseBoothCode(code)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	wrong := func(now time.Time) string {
		for i := 0; ; i++ {
			if d := fmt.Sprintf("%06d", i); !totp.Validate(c.Secrets.TOTPSeed, d, now) {
				return d
			}
		}
	}

	type answer struct {
		valid      bool
		putc, psig string
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	const perWorker = 150
	for w := range 8 {
		wg.Go(func() {
			for range perWorker {
				now := time.Now()
				isValid := w%2 == 0
				code := wrong(now)
				if isValid {
					code = valid(now)
				}
				req, _ := http.NewRequest("GET", base+"/stamp", nil)
				req.Header.Set("TOTP", code)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 204 {
					t.Errorf("GET /stamp: status %d", resp.StatusCode)
					return
				}
				mu.Lock()
				answers = append(answers, answer{isValid, resp.Header.Get("P-UTC"), resp.Header.Get("P-SIG")})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// The attacker's comparison: within a second, equal P-SIGs.
	seen := map[string]answer{}
	seconds := map[string]int{}
	genuine := 0
	for _, a := range answers {
		seconds[a.putc]++
		if b, dup := seen[a.psig]; dup {
			t.Fatalf("P-SIG %s answered twice (P-UTC %s, valid code %v; P-UTC %s, valid code %v): equal values tell codes apart",
				a.psig, a.putc, a.valid, b.putc, b.valid)
		}
		seen[a.psig] = a
		sig, err := base64.StdEncoding.DecodeString(a.psig)
		if err != nil {
			t.Fatal(err)
		}
		isSign := ed25519.Verify(signPub, []byte(a.putc), sig)
		isHole := ed25519.Verify(holePub, []byte(a.putc), sig)
		switch {
		case isSign == isHole:
			t.Fatalf("P-SIG %s verifies under UTC-SIGN %v and UTC-HOLE %v", a.psig, isSign, isHole)
		case isSign && !a.valid:
			t.Fatalf("a wrong code got a genuine stamp")
		case isSign:
			genuine++
		}
	}
	if len(answers) != 8*perWorker || genuine == 0 {
		t.Fatalf("%d answers, %d genuine", len(answers), genuine)
	}
	t.Logf("%d answers over %d seconds, %d of the %d to the valid code genuine, no P-SIG twice", len(answers), len(seconds), genuine, 4*perWorker)
}

package collector_test

import (
	"crypto/ed25519"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/powvote/powvote/totp"
)

// stampRequest asks in for count signatures, with Second when second is
// not empty.
func (e *env) stampRequest(t *testing.T, in *instance, count, second string) reply {
	t.Helper()
	h := map[string]string{"Pass": e.pass()}
	if count != "" {
		h["Count"] = count
	}
	if second != "" {
		h["Second"] = second
	}
	return e.do(t, http.MethodGet, in.url+"/stamp", h)
}

// TestStamp checks GET /stamp: P-UTC is the instance's second or the one
// asked for next to it; the body is Count signatures of P-UTC under
// UTC-SIGN, all different, none under UTC-HOLE; Codes are the booth codes
// of P-UTC's step and the one before.
func TestStamp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	signPub := e.secrets.UTCSign.Public().(ed25519.PublicKey)
	holePub := e.secrets.UTCHole.Public().(ed25519.PublicKey)

	step := campaignStart.Add(24 * time.Hour).Truncate(totp.Step)
	now := step.Add(29 * time.Second)
	e.clock.Set(now)
	seen := map[string]bool{}
	for i, tc := range []struct {
		count, second string
		putc          time.Time
	}{
		{"1", "", now},
		{"300", "", now}, // signed on every core
		{"5", strconv.FormatInt(now.Unix()+1, 10), now.Add(time.Second)}, // the next step's codes
		{"5", strconv.FormatInt(now.Unix()-1, 10), now.Add(-time.Second)},
	} {
		r := e.stampRequest(t, in, tc.count, tc.second)
		n, _ := strconv.Atoi(tc.count)
		if r.code != http.StatusOK || r.header.Get("Count") != tc.count || len(r.body) != n*ed25519.SignatureSize {
			t.Fatalf("request %d: status %d, Count %q, %d-byte body; want 200, %s, %d bytes", i, r.code, r.header.Get("Count"), len(r.body), tc.count, n*64)
		}
		putc := r.header.Get("P-UTC")
		if want := strconv.FormatInt(tc.putc.Unix(), 10); putc != want {
			t.Errorf("request %d: P-UTC %q, want %q", i, putc, want)
		}
		for j := range n {
			sig := r.body[j*64 : (j+1)*64]
			if !ed25519.Verify(signPub, []byte(putc), sig) || ed25519.Verify(holePub, []byte(putc), sig) {
				t.Fatalf("request %d: signature %d does not verify under UTC-SIGN alone", i, j)
			}
			if seen[string(sig)] {
				t.Fatalf("request %d: signature %d given before", i, j)
			}
			seen[string(sig)] = true
		}
		cur, err1 := totp.Code(e.secrets.TOTPSeed, tc.putc)
		prev, err2 := totp.Code(e.secrets.TOTPSeed, tc.putc.Add(-totp.Step))
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if codes := strings.Split(r.header.Get("Codes"), " "); !slices.Equal(codes, []string{cur, prev}) {
			t.Errorf("request %d: Codes %q, want %q", i, r.header.Get("Codes"), cur+" "+prev)
		}
	}
}

// TestStampRefuses: a Count or Second the instance does not take is 400,
// with nothing signed.
func TestStampRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	in := e.start(t, e.config(t.TempDir()))
	now := e.clock.Now().Unix()
	for _, tc := range []struct{ count, second string }{
		{"", ""}, {"0", ""}, {"-1", ""}, {"x", ""}, {"65537", ""}, {"+1", ""}, {"1", "x"},
		{"1", strconv.FormatInt(now+2, 10)}, {"1", strconv.FormatInt(now-2, 10)}, {"1", "0" + strconv.FormatInt(now, 10)}, {"1", "abc"},
	} {
		r := e.stampRequest(t, in, tc.count, tc.second)
		if r.code != http.StatusBadRequest || len(r.body) != 0 || r.header.Get("P-UTC") != "" {
			t.Errorf("Count %q Second %q: status %d, P-UTC %q, %d-byte body; want 400 and nothing",
				tc.count, tc.second, r.code, r.header.Get("P-UTC"), len(r.body))
		}
	}
}

// TestStampBudget: StampsPerSecond bounds the signatures of one second over
// all requests; a request beyond it gets fewer, then 503; the next second
// has a new budget.
func TestStampBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config(t.TempDir())
	cfg.StampsPerSecond = 10
	in := e.start(t, cfg)
	for i, tc := range []struct {
		count string
		code  int
		got   string
	}{{"6", 200, "6"}, {"6", 200, "4"}, {"1", 503, ""}} {
		r := e.stampRequest(t, in, tc.count, "")
		if r.code != tc.code || r.header.Get("Count") != tc.got {
			t.Errorf("request %d for %s: status %d Count %q, want %d %q", i, tc.count, r.code, r.header.Get("Count"), tc.code, tc.got)
		}
	}
	e.clock.Set(e.clock.Now().Add(time.Second))
	if r := e.stampRequest(t, in, "10", ""); r.code != 200 || r.header.Get("Count") != "10" {
		t.Errorf("the next second: status %d Count %q, want 200 10", r.code, r.header.Get("Count"))
	}
}

package loadtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/stamp"
	"github.com/powvote/powvote/totp"
)

// prepared is a vote ready to go: about 200 bytes, so a million fit in
// memory comfortably.
type prepared struct {
	tok   mandate.Token
	putc  int64 // P-UTC, in the one spelling stamp.ParsePUTC reads
	psig  [64]byte
	voter [stamp.VoterLen]byte
	opt   uint8 // ballot index
	nlen  uint8
	nonce [pow.MaxNonce]byte
}

func (p *prepared) nonceBytes() []byte { return p.nonce[:p.nlen] }

// Kinds of junk requests.
const (
	junkReplay = iota // a vote sent again: expect its first answer
	junkBadPow        // a nonce below the threshold: expect 489
	junkDecoy         // a stamp fetched with a wrong booth code: expect 488
	junkForged        // a voter stamp that is not the edge's: expect 487
	junkKinds
)

var junkNames = [junkKinds]string{"replay", "bad_pow", "decoy_stamp", "forged_voter"}

// boothDigits returns the six digits of the booth code valid at t, as the
// booth shows it and `powvote booth code` prints it, check character
// dropped as a device does.
func boothDigits(seed []byte, t time.Time) (string, error) {
	code, err := totp.BoothCode(seed, t)
	if err != nil {
		return "", fmt.Errorf("loadtest: booth code: %w", err)
	}
	return totp.ParseBoothCode(code)
}

// wrongDigits returns six digits that are not a valid booth code at t.
func wrongDigits(seed []byte, t time.Time) (string, error) {
	d, err := boothDigits(seed, t)
	if err != nil {
		return "", err
	}
	b := []byte(d)
	for range 10 {
		b[5] = '0' + (b[5]-'0'+1)%10
		if !totp.Validate(seed, string(b), t) {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("loadtest: no wrong booth code found") // unreachable: ten digits, two valid codes
}

// parallel runs f(i) for i in [0, n) on workers goroutines, stopping at the
// first error, and reports progress.
func parallel(ctx context.Context, n, workers int, prog *progress, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				prog.add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// issue signs n mandates on every core.
func issue(ctx context.Context, key ed25519.PrivateKey, n int, prog *progress) ([]mandate.Token, error) {
	toks := make([]mandate.Token, n)
	err := parallel(ctx, n, runtime.GOMAXPROCS(0), prog, func(i int) error {
		var err error
		toks[i], err = mandate.Issue(key, rand.Reader)
		return err
	})
	return toks, err
}

// fetchStamp gets one platform stamp with the given booth code digits for
// p, retrying on 503 as a device does until deadline. With a valid code
// (genuine), a decoy is fetched again: the edge answers a valid code with
// one when its pool of genuine stamps for the second is spent, which it
// sizes for the next second from this one's demand (edge/platform.go).
func (r *runner) fetchStamp(deadline time.Time, digits string, genuine bool, p *prepared) error {
	var putc, psig, voter string
	wait := 50 * time.Millisecond
	for {
		code, err := r.edge.get(deadline, "/stamp", func(h *fasthttp.RequestHeader) { h.Set("TOTP", digits) }, func(resp *fasthttp.Response) {
			putc = string(resp.Header.Peek("P-UTC"))
			psig = string(resp.Header.Peek("P-SIG"))
			voter = string(resp.Header.Peek("Voter"))
		})
		if code != 0 && code != fasthttp.StatusServiceUnavailable && code != fasthttp.StatusNoContent && code != fasthttp.StatusOK {
			return fmt.Errorf("loadtest: GET /stamp: status %d", code)
		}
		if code == fasthttp.StatusNoContent || code == fasthttp.StatusOK {
			sig, derr := base64.StdEncoding.Strict().DecodeString(psig)
			if derr != nil || len(sig) != len(p.psig) {
				return fmt.Errorf("loadtest: the edge's P-SIG %q is not a base64 signature", psig)
			}
			if !genuine || r.signPub == nil || ed25519.Verify(r.signPub, []byte(putc), sig) {
				copy(p.psig[:], sig)
				break
			}
			r.decoys.Add(1)
			err = errors.New("a decoy for a valid booth code: the edge's pool of genuine stamps was spent")
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("loadtest: GET /stamp: %w (last: %v)", errGaveUp, err)
		}
		time.Sleep(jitter(wait))
		wait = min(2*wait, time.Second)
	}
	if len(voter) != stamp.VoterLen {
		return fmt.Errorf("loadtest: the edge's voter stamp %q is not %d characters", voter, stamp.VoterLen)
	}
	t, err := stamp.ParsePUTC(putc)
	if err != nil {
		return fmt.Errorf("loadtest: the edge's P-UTC %q: %w", putc, err)
	}
	p.putc = t
	copy(p.voter[:], voter)
	return nil
}

// putcOf is p's P-UTC as the edge wrote it: ParsePUTC takes one spelling
// of a number, so formatting it again gives the same bytes.
func putcOf(p *prepared) string { return strconv.FormatInt(p.putc, 10) }

// work is what p's proof of work covers.
func (r *runner) work(p *prepared) pow.Work {
	return pow.Work{PUTC: putcOf(p), PSig: p.psig[:], Voter: string(p.voter[:]), Say: r.options[p.opt]}
}

// oldestStamp returns the earliest P-UTC of the prepared votes, fillers
// and junk, in Unix seconds.
func (r *runner) oldestStamp() int64 {
	var o int64
	note := func(p *prepared) {
		if p.putc != 0 && (o == 0 || p.putc < o) {
			o = p.putc
		}
	}
	for i := range r.votes {
		note(&r.votes[i])
	}
	for i := range r.fillers {
		note(&r.fillers[i])
	}
	for i := range r.junk {
		note(&r.junk[i].p)
	}
	return o
}

// solve finds a nonce at the threshold for p with one worker: the caller
// runs one solve per core, which for the low thresholds of a load test
// beats splitting each search across cores.
func (r *runner) solve(ctx context.Context, p *prepared) error {
	w := r.work(p)
	res, err := (&pow.Solver{Workers: 1}).Solve(ctx, w, r.threshold)
	if err != nil {
		return fmt.Errorf("loadtest: proof of work: %w", err)
	}
	p.nlen = uint8(copy(p.nonce[:], res.Nonce))
	return nil
}

// weaken sets a nonce that scores below the threshold: a vote the edge
// must refuse with 489.
func (r *runner) weaken(p *prepared) error {
	w := r.work(p)
	p.nlen = pow.MinNonce
	for range 1000 {
		if _, err := io.ReadFull(rand.Reader, p.nonce[:p.nlen]); err != nil {
			return fmt.Errorf("loadtest: random nonce: %w", err)
		}
		if _, err := pow.Verify(w, p.nonceBytes(), r.threshold); err != nil {
			return nil
		}
	}
	return fmt.Errorf("loadtest: no nonce below a threshold of %d bits in 1000 tries", r.threshold)
}

// forge changes the voter stamp's first symbol: still well formed, but
// its MAC no longer verifies.
func forge(v *[stamp.VoterLen]byte) {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for i := range len(alphabet) {
		if alphabet[i] == v[0] {
			v[0] = alphabet[(i+1)%len(alphabet)]
			return
		}
	}
	v[0] = '0'
}

// progress prints "label done/total" to w at most once a second, and at
// the end.
type progress struct {
	w     io.Writer
	label string
	total int
	done  atomic.Int64
	last  atomic.Int64 // unix nanoseconds of the last line
	start time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: total, start: time.Now()}
	p.last.Store(p.start.UnixNano())
	return p
}

func (p *progress) add(n int) {
	d := p.done.Add(int64(n))
	now := time.Now().UnixNano()
	if last := p.last.Load(); now-last >= int64(time.Second) && p.last.CompareAndSwap(last, now) && int(d) < p.total {
		fmt.Fprintf(p.w, "prepare: %s %d/%d\n", p.label, d, p.total)
	}
}

func (p *progress) finish() {
	fmt.Fprintf(p.w, "prepare: %s %d/%d in %v\n", p.label, p.done.Load(), p.total, time.Since(p.start).Round(time.Millisecond))
}

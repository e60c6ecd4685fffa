// Package client is the reference voter's device: it reads the ballot,
// checks the booth code, fetches a platform stamp, does the proof of work
// and casts the vote, retrying when the platform is busy (PROTOCOL.md 4-6).
// Other clients (the browser app among them) do the same steps.
package client

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/pow"
	"github.com/powvote/powvote/totp"
	"github.com/powvote/powvote/wire"
)

// DefaultThreshold is the proof of work aimed at when neither the caller
// nor the edge names one: the reference deployment's.
const DefaultThreshold = 25

// Vote is what a voter brings to the device.
type Vote struct {
	Edge      string        // base URL of the edge, e.g. https://solar.example.org
	Mandate   mandate.Token // from the card or the QR code
	BoothCode string        // as the booth shows it, check character first
	Say       string        // the chosen option, as on the ballot
	Threshold int           // 0: the edge's Pow-Threshold header, else DefaultThreshold
}

// Options tune the device. The zero value works.
type Options struct {
	HTTP     *http.Client        // nil: a client with a 30 s timeout
	Workers  int                 // proof-of-work workers; 0: all cores
	Progress func(hashes uint64) // called now and then during the work
	Backoff  time.Duration       // first wait after a 503; default 1s, doubling to 30s, jittered
	Log      func(format string, args ...any)
}

// Receipt is the platform's answer to an accepted vote.
type Receipt struct {
	Lines    []string // ReceiptNN header values, ballot order
	Sig      string   // Receipt-Sig
	Own      int      // index of the chosen option
	Voter    string   // the voter's own stamp
	Campaign string   // the campaign's name as the edge gives it, for checking Receipt-Sig
}

// StatusError is a refusal by the platform, with the PROTOCOL code.
type StatusError struct {
	Code int
}

// Messages for the PROTOCOL codes, as a voter should read them: one for
// every code of package wire, besides 400 and 503.
var messages = map[int]string{
	http.StatusBadRequest:         "the request was malformed",
	wire.StatusNonceUsed:          "this proof of work (its nonce) was used by another vote, so the edge gives no receipt for it: if your voter stamp is not in the votes list after a while, start again with a new booth code",
	wire.StatusAlreadyVoted:       "this mandate has voted already",
	wire.StatusNotOnBallot:        "the option is not on the ballot",
	wire.StatusBadMandateSig:      "the mandate's signature does not verify: check the card or QR code",
	wire.StatusUnknownAuthority:   "the mandate was not issued by an authority of this campaign",
	wire.StatusOutsideCampaign:    "the platform stamp is outside the campaign or too old: start again with a new booth code",
	wire.StatusStampUsed:          "this booth stamp was already used for a vote: get a new booth code and vote again",
	wire.StatusBadVoterStamp:      "the voter stamp does not verify",
	wire.StatusNotGenuine:         "the booth code was wrong: the platform stamp is not genuine; start again with the code the booth shows",
	wire.StatusLowWork:            "the proof of work is below the campaign's threshold",
	http.StatusServiceUnavailable: "the platform is busy; try again later",
}

func (e *StatusError) Error() string {
	if m, ok := messages[e.Code]; ok {
		return fmt.Sprintf("%d: %s", e.Code, m)
	}
	return fmt.Sprintf("unexpected status %d", e.Code)
}

// Ballot is the edge's /list answer.
type Ballot struct {
	Options   []string
	Threshold int    // 0 when the edge does not say (Pow-Threshold header)
	Campaign  string // "" when the edge does not say (Campaign header)
}

// GetBallot reads /list.
func GetBallot(ctx context.Context, hc *http.Client, edge string) (*Ballot, error) {
	resp, err := get(ctx, hc, edge+"/list", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("client: ballot: %w", &StatusError{resp.StatusCode})
	}
	b := &Ballot{}
	for i := 1; i <= 99; i++ {
		v := resp.Header.Get(fmt.Sprintf("Say%02d", i))
		if v == "" {
			break
		}
		o, err := wire.DecodeOption(v)
		if err != nil {
			return nil, fmt.Errorf("client: ballot option %d: %w", i, err)
		}
		b.Options = append(b.Options, o)
	}
	if len(b.Options) == 0 {
		return nil, errors.New("client: the ballot has no options")
	}
	b.Campaign = resp.Header.Get("Campaign")
	if t := resp.Header.Get("Pow-Threshold"); t != "" {
		if n, err := strconv.Atoi(t); err == nil && n >= 1 && n <= 64 {
			b.Threshold = n
		}
	}
	return b, nil
}

func get(ctx context.Context, hc *http.Client, url string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	resp.Body.Close()
	return resp, nil
}

// Cast runs the whole flow and returns the receipt.
func Cast(ctx context.Context, v Vote, opt Options) (*Receipt, error) {
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.Backoff == 0 {
		opt.Backoff = time.Second
	}
	logf := opt.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	edge := strings.TrimRight(v.Edge, "/")
	if err := v.Mandate.Verify(); err != nil {
		return nil, fmt.Errorf("client: mandate: %w", err)
	}
	digits, err := totp.ParseBoothCode(v.BoothCode)
	if err != nil {
		return nil, fmt.Errorf("client: booth code %q: %w", v.BoothCode, err)
	}
	ballot, err := GetBallot(ctx, opt.HTTP, edge)
	if err != nil {
		return nil, err
	}
	own := -1
	for i, o := range ballot.Options {
		if o == v.Say {
			own = i
		}
	}
	if own < 0 {
		return nil, fmt.Errorf("client: %q is not on the ballot %q", v.Say, ballot.Options)
	}
	threshold := v.Threshold
	if threshold == 0 {
		threshold = ballot.Threshold
	}
	if threshold == 0 {
		threshold = DefaultThreshold
	}

	var putc, psig, voter string
	err = retry(ctx, opt.Backoff, logf, func() (int, error) {
		resp, err := get(ctx, opt.HTTP, edge+"/stamp", http.Header{"Totp": {digits}})
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
			return resp.StatusCode, &StatusError{resp.StatusCode}
		}
		putc, psig, voter = resp.Header.Get("P-UTC"), resp.Header.Get("P-SIG"), resp.Header.Get("Voter")
		return resp.StatusCode, nil
	})
	if err != nil {
		return nil, fmt.Errorf("client: stamp: %w", err)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(psig)
	if err != nil || len(sig) != 64 {
		return nil, errors.New("client: the edge's P-SIG is not a base64 signature")
	}

	logf("stamp %s; working to %d bits", voter, threshold)
	solver := &pow.Solver{Workers: opt.Workers, Progress: opt.Progress}
	res, err := solver.Solve(ctx, pow.Work{PUTC: putc, PSig: sig, Voter: voter, Say: v.Say}, threshold)
	if err != nil {
		return nil, fmt.Errorf("client: proof of work: %w", err)
	}
	logf("nonce %x scores %d after %d hashes", res.Nonce, res.Score, res.Hashes)

	m := v.Mandate
	hdr := http.Header{
		"Auth-Pkey": {base64.StdEncoding.EncodeToString(m.AuthPkey[:])},
		"Auth-Sig":  {base64.StdEncoding.EncodeToString(m.AuthSig[:])},
		"Auth-Id":   {base64.StdEncoding.EncodeToString(m.AuthID[:])},
		"P-Utc":     {putc},
		"P-Sig":     {psig},
		"Voter":     {voter},
		"Say":       {wire.EncodeOption(v.Say)},
	}
	var rc *Receipt
	err = retry(ctx, opt.Backoff, logf, func() (int, error) {
		// The same request every time: the edge answers a nonce it has seen
		// from its cache, so a retry can never count twice.
		resp, err := get(ctx, opt.HTTP, edge+"/"+hex.EncodeToString(res.Nonce), hdr)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode/100 != 2 {
			return resp.StatusCode, &StatusError{resp.StatusCode}
		}
		rc = &Receipt{Sig: resp.Header.Get("Receipt-Sig"), Own: own, Voter: voter, Campaign: ballot.Campaign}
		for i := range ballot.Options {
			rc.Lines = append(rc.Lines, resp.Header.Get(fmt.Sprintf("Receipt%02d", i+1)))
		}
		return resp.StatusCode, nil
	})
	if err != nil {
		return nil, fmt.Errorf("client: cast: %w", err)
	}
	// The receipt must carry this vote: its stamp against its option. A
	// mismatch would mean another vote's answer (a nonce collision).
	if want := voter + " " + wire.EncodeOption(v.Say); rc.Lines[own] != want {
		return nil, fmt.Errorf("client: the receipt has %q against the chosen option, want %q", rc.Lines[own], want)
	}
	return rc, nil
}

// retry calls f until it succeeds, fails with something other than 503 or
// a network error, or ctx ends, waiting a jittered, doubling delay.
func retry(ctx context.Context, first time.Duration, logf func(string, ...any), f func() (int, error)) error {
	wait := first
	for {
		code, err := f()
		if err == nil {
			return nil
		}
		if code != 0 && code != http.StatusServiceUnavailable {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		d := wait/2 + rand.N(wait)
		logf("%v; retrying in %v", err, d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-time.After(d):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

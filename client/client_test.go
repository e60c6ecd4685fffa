package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/powvote/powvote/wire"
)

func TestGetBallot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/list" {
			w.WriteHeader(400)
			return
		}
		h := w.Header()
		h.Set("Say01", "Humble Pluto")
		h.Set("Say02", "Z%C3%BCrich")
		h.Set("Say04", "not read: Say03 is missing")
		h.Set("Campaign", "solar")
		h.Set("Pow-Threshold", "21")
		w.WriteHeader(204)
	}))
	defer srv.Close()
	b, err := GetBallot(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(b.Options, "|") != "Humble Pluto|Zürich" || b.Campaign != "solar" || b.Threshold != 21 {
		t.Errorf("ballot %+v", b)
	}
}

func TestGetBallotBad(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"no options": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
		"bad escape": func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Say01", "%zz"); w.WriteHeader(204) },
		"status 503": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) },
		"status 400": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) },
	} {
		srv := httptest.NewServer(h)
		if _, err := GetBallot(context.Background(), srv.Client(), srv.URL); err == nil {
			t.Errorf("%s: no error", name)
		}
		srv.Close()
	}
	// A threshold out of range is ignored rather than trusted.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Say01", "A")
		w.Header().Set("Pow-Threshold", "99")
		w.WriteHeader(204)
	}))
	defer srv.Close()
	if b, err := GetBallot(context.Background(), srv.Client(), srv.URL); err != nil || b.Threshold != 0 {
		t.Errorf("threshold 99: %+v, %v", b, err)
	}
}

func TestStatusErrorMessages(t *testing.T) {
	for _, code := range []int{400, 480, 481, 482, 483, 484, 485, 486, 487, 488, 489, 503} {
		msg := (&StatusError{code}).Error()
		if !strings.HasPrefix(msg, strconv.Itoa(code)+": ") || len(msg) < 10 {
			t.Errorf("code %d: message %q", code, msg)
		}
	}
	if msg := (&StatusError{418}).Error(); !strings.Contains(msg, "unexpected status 418") {
		t.Errorf("418: %q", msg)
	}
}

// TestStatusMessagesCoverWire checks that every code of a vote answer that
// package wire defines has a message of the client's own, and that the
// client has none for a 48x code wire does not define.
func TestStatusMessagesCoverWire(t *testing.T) {
	codes := wire.Statuses()
	if len(codes) == 0 {
		t.Fatal("wire defines no status codes")
	}
	for _, code := range codes {
		if m := messages[code]; m == "" {
			t.Errorf("code %d (%s): no message", code, wire.StatusText(code))
		}
	}
	for code := range messages {
		if code/10 == 48 && wire.StatusText(code) == "" {
			t.Errorf("code %d: a message, but no code of wire", code)
		}
	}
}

func TestRetry(t *testing.T) {
	var calls atomic.Int32
	f := func() (int, error) {
		if calls.Add(1) < 3 {
			return 503, &StatusError{503}
		}
		return 204, nil
	}
	if err := retry(context.Background(), time.Millisecond, func(string, ...any) {}, f); err != nil || calls.Load() != 3 {
		t.Errorf("retry: %v after %d calls, want success after 3", err, calls.Load())
	}
	// A refusal other than 503 is final: no second call.
	calls.Store(0)
	err := retry(context.Background(), time.Millisecond, func(string, ...any) {}, func() (int, error) {
		calls.Add(1)
		return 481, &StatusError{481}
	})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 481 || calls.Load() != 1 {
		t.Errorf("481: %v after %d calls", err, calls.Load())
	}
	// A cancelled context ends the retries.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := retry(ctx, time.Hour, func(string, ...any) {}, func() (int, error) { return 503, &StatusError{503} }); err == nil {
		t.Error("cancelled context: no error")
	}
}

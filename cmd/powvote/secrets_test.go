package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/internal/crockford"
	"github.com/powvote/powvote/keyfile"
)

// transcript collects everything the processes of a test print, stdout and
// stderr, to search it for secrets afterwards.
type transcript struct {
	mu   sync.Mutex
	text strings.Builder
}

func (tr *transcript) add(what, out string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fmt.Fprintf(&tr.text, "== %s\n%s\n", what, out)
}

func (tr *transcript) Write(p []byte) (int, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.text.Write(p)
}

func (tr *transcript) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.text.String()
}

// runLogged is run, with both outputs added to tr.
func runLogged(t *testing.T, tr *transcript, args ...string) result {
	t.Helper()
	r := run(t, args...)
	tr.add("powvote "+strings.Join(args, " "), r.stdout+"\n"+r.stderr)
	return r
}

// upLogged starts `powvote up` with both of its outputs copied into tr
// (startUp's launch keeps only stderr) and returns the process, the edge
// URL and the collectors' URLs once it says it is up.
func upLogged(t *testing.T, tr *transcript, data string) (*exec.Cmd, <-chan error, string, [2]string) {
	t.Helper()
	cmd := exec.Command(binary, "up", "--dir", data, "--addr", "127.0.0.1:0")
	// At debug level every refusal is logged with its cause: the most a
	// process ever writes.
	cmd.Env = append(os.Environ(), logEnv+"=debug")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = tr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	var edge string
	var cols [2]string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		tr.add("up (stdout)", sc.Text())
		if m := upURL.FindStringSubmatch(sc.Text()); m != nil {
			edge = m[1]
		}
		if m := colURL.FindStringSubmatch(sc.Text()); m != nil {
			cols = [2]string{m[1], m[2]}
			break
		}
	}
	if edge == "" || cols[0] == "" {
		t.Fatalf("up did not say where it listens:\n%s", tr)
	}
	done := make(chan error, 1)
	go func() {
		io.Copy(tr, stdout)
		done <- cmd.Wait()
	}()
	return cmd, done, edge, cols
}

// secretForms returns the ways a secret could be written out: its raw
// bytes, base64 in each alphabet with and without padding, hex in either
// case and Crockford base32. Base64 of a secret shifted by one or two bytes
// is not covered; every form here is at least 16 characters, so that no
// match is chance.
func secretForms(b []byte) []string {
	forms := []string{
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		crockford.Encode(b),
	}
	if len(b) >= 16 {
		forms = append(forms, string(b))
	}
	return forms
}

// TestSecretsStayOut runs a real platform on a fresh directory, logging at
// debug level, casts votes
// (and a few that fail, and requests that the collectors refuse, since
// error paths are where secrets get logged), stops it, and searches
// everything every process printed for every platform secret and for the
// demo authority's private key, in every form they could be printed in. It
// fails if a log line or a message carries a secret, for instance if the
// edge logged a key or a collector a request it refused.
// It then checks the secret files' modes and that `powvote up` refuses to
// start on a secret file that its group can read.
func TestSecretsStayOut(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	tr := &transcript{}
	cmd, done, edge, cols := upLogged(t, tr, data)

	c, err := campaign.Load(data, "solar")
	if err != nil {
		t.Fatal(err)
	}
	authKeyPath := filepath.Join(data, "solar", campaign.DemoAuthorityKey)
	authority, err := keyfile.ReadEd25519(authKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	receiptPub := base64.StdEncoding.EncodeToString(c.Secrets.ReceiptKey.Public().(ed25519.PublicKey))

	// Votes as a voter's device casts them, and some that fail.
	tokens := strings.Fields(runLogged(t, tr, "mandates", "--key", authKeyPath, "--count", "4", "--format", "tokens").stdout)
	if len(tokens) != 4 {
		t.Fatalf("mandates printed %d tokens", len(tokens))
	}
	for i, tok := range tokens[:3] {
		code := strings.TrimSpace(runLogged(t, tr, "booth", "code", "--dir", data).stdout)
		r := runLogged(t, tr, "vote", "--edge", edge, "--mandate", tok, "--booth-code", code,
			"--say", c.Settings.Options[i], "--receipt-pubkey", receiptPub, "--timeout", "1m")
		if r.code != 0 {
			t.Fatalf("vote %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	// The same mandate again (481), a wrong booth code (a decoy stamp:
	// 488), and a wrong option.
	code := strings.TrimSpace(runLogged(t, tr, "booth", "code", "--dir", data).stdout)
	// Another code with a valid check character (the sum of the digits
	// modulo 11, A for 10), so that the device sends it.
	wrong := []byte(code)
	wrong[len(wrong)-1] = '0' + (wrong[len(wrong)-1]-'0'+1)%10
	sum := 0
	for _, d := range wrong[1:] {
		sum += int(d - '0')
	}
	wrong[0] = "0123456789A"[sum%11]
	for _, args := range [][]string{
		{"--mandate", tokens[0], "--booth-code", code, "--say", c.Settings.Options[0]},
		{"--mandate", tokens[3], "--booth-code", string(wrong), "--say", c.Settings.Options[0]},
		{"--mandate", tokens[3], "--booth-code", code, "--say", "Nobody at all"},
	} {
		r := runLogged(t, tr, append([]string{"vote", "--edge", edge, "--timeout", "30s"}, args...)...)
		if r.code == 0 {
			t.Errorf("vote %v succeeded, want a refusal", args)
		}
	}
	// Requests the collectors refuse: TLS without a client certificate,
	// and plain HTTP with a Pass header to the TLS port.
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, col := range cols {
		if resp, err := noCert.Get(col + "/stamp"); err == nil {
			resp.Body.Close()
			t.Errorf("GET %s/stamp without a client certificate: %d, want the handshake refused", col, resp.StatusCode)
		}
		req, _ := http.NewRequest("GET", strings.Replace(col, "https://", "http://", 1)+"/stamp", nil)
		req.Header.Set("Pass", "d3JvbmcgcGFzcyBzZWNyZXQgb2YgMzIgYnl0ZXMhIQ")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain GET %s/stamp: %d, want 400", col, resp.StatusCode)
		}
	}

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("up did not stop within 20 s of SIGINT")
	}

	out := tr.String()
	if !strings.Contains(out, "powvote is up at") || strings.Count(out, "Receipt01") < 3 || !strings.Contains(out, "level=DEBUG") {
		t.Fatalf("the transcript misses what the processes printed (votes, receipts, debug lines):\n%s", out)
	}
	sec := c.Secrets
	logSecret := sec.LogKey[strings.LastIndexByte(sec.LogKey, '+')+1:]
	secrets := []struct {
		name  string
		value []byte
	}{
		{"UTC-SIGN seed", sec.UTCSign.Seed()},
		{"UTC-SIGN private key", sec.UTCSign},
		{"UTC-HOLE seed", sec.UTCHole.Seed()},
		{"UTC-HOLE private key", sec.UTCHole},
		{"receipt key seed", sec.ReceiptKey.Seed()},
		{"receipt key", sec.ReceiptKey},
		{"TOTP seed", sec.TOTPSeed},
		{"voter-stamp key", sec.VoterStampKey},
		{"internal CA seed", sec.LinkCAKey.Seed()},
		{"internal CA private key", sec.LinkCAKey},
		{"log key", []byte(logSecret)},
		{"demo authority seed", authority.Seed()},
		{"demo authority private key", authority},
		// The UTC-SIGN public key tells genuine stamps from decoys: it
		// stays secret until the campaign closes (PROTOCOL.md 1).
		{"UTC-SIGN public key", sec.UTCSign.Public().(ed25519.PublicKey)},
	}
	// The text of each secret file as stored, whatever its encoding.
	files, err := os.ReadDir(filepath.Join(data, "solar", campaign.SecretsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(data, "solar", campaign.SecretsDir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, struct {
			name  string
			value []byte
		}{"text of " + f.Name(), []byte(strings.TrimSpace(string(b)))})
	}
	checked := 0
	for _, s := range secrets {
		forms := secretForms(s.value)
		if strings.HasPrefix(s.name, "text of ") || s.name == "log key" {
			forms = []string{string(s.value)} // already text
		}
		for _, f := range forms {
			checked++
			if strings.Contains(out, f) {
				t.Errorf("the %s appears in the processes' output as %q", s.name, f)
			}
		}
	}
	// The control: the search finds a value the processes did print, a
	// mandate token (in hex, as mandates prints it).
	tok, err := hex.DecodeString(tokens[0])
	if err != nil || !strings.Contains(out, secretForms(tok)[4]) {
		t.Errorf("the search does not find the token that mandates printed (%v)", err)
	}
	if os.Getenv("POWVOTE_SHOW_TRANSCRIPT") != "" {
		t.Log(out)
	}
	t.Logf("searched %d bytes of output for %d forms of %d secrets", len(out), checked, len(secrets))

	// Secret files: 0600, in a 0700 directory; the demo authority's key
	// too.
	sdir := filepath.Join(data, "solar", campaign.SecretsDir)
	if st, err := os.Stat(sdir); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %04o, want 0700", sdir, st.Mode().Perm())
	}
	paths := []string{authKeyPath}
	for _, f := range files {
		paths = append(paths, filepath.Join(sdir, f.Name()))
	}
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", p, st.Mode().Perm())
		}
	}

	// A secret file its group can read: up refuses to start, naming it.
	// (campaign.TestLoadRefuses checks Load itself; this checks that the
	// platform goes through it and stops.)
	victim := filepath.Join(sdir, "utc-sign.key")
	if err := os.Chmod(victim, 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	refused := exec.CommandContext(ctx, binary, "up", "--dir", data, "--addr", "127.0.0.1:0")
	msg, err := refused.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("up kept running on a group-readable secret file:\n%s", msg)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Errorf("up on a group-readable secret file: %v, want a failing exit", err)
	}
	if !strings.Contains(string(msg), "utc-sign.key") || strings.Contains(string(msg), "powvote is up") {
		t.Errorf("up on a group-readable secret file said:\n%s", msg)
	}
	if st, err := os.Stat(victim); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o640 {
		t.Errorf("up changed the mode of %s to %04o", victim, st.Mode().Perm())
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/powvote/powvote/campaign"
	"github.com/powvote/powvote/keyfile"
	"github.com/powvote/powvote/mandate"
	"github.com/powvote/powvote/totp"
)

// binary is the powvote executable built once for the tests that start real
// processes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "powvote-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "powvote")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build powvote: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes the real binary with args, for at most two minutes.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runFor(t, 2*time.Minute, args...)
}

// runFor is run with another time limit.
func runFor(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("powvote %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands {
		args := append(strings.Fields(c.name), "--help")
		r := run(t, args...)
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: powvote "+c.name) {
			t.Errorf("powvote %s --help: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
	r := run(t, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "booth code") {
		t.Errorf("powvote help: exit %d, stdout %q", r.code, r.stdout)
	}
	r = run(t, "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestAuthorityMandatesInit(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "authority.key")
	pubText := strings.TrimSpace(mustRun(t, "authority", "keygen", "--out", keyPath))
	pub, err := keyfile.ParsePublicKey(pubText)
	if err != nil {
		t.Fatalf("keygen printed %q: %v", pubText, err)
	}
	if st, _ := os.Stat(keyPath); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %04o", st.Mode().Perm())
	}
	if r := run(t, "authority", "keygen", "--out", keyPath); r.code == 0 || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("second keygen over the same file: exit %d %q", r.code, r.stderr)
	}

	// Tokens: 240 hex digits each, signed by the authority.
	out := mustRun(t, "mandates", "--key", keyPath, "--count", "3", "--format", "tokens")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d token lines, want 3", len(lines))
	}
	for _, l := range lines {
		if len(l) != 240 {
			t.Errorf("token %q is %d digits", l, len(l))
		}
		tok, err := mandate.ParseHex(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := tok.Verify(); err != nil || !bytes.Equal(tok.AuthPkey[:], pub) {
			t.Errorf("token not signed by the authority: %v", err)
		}
	}

	// Cards: a PNG per mandate, list.txt, cards.html.
	cards := filepath.Join(dir, "cards")
	mustRun(t, "mandates", "--key", keyPath, "--count", "4", "--out", cards)
	list, err := os.ReadFile(filepath.Join(cards, "list.txt"))
	if err != nil {
		t.Fatal(err)
	}
	listRE := regexp.MustCompile(`^([0-9A-Z]+)  ([A-Za-z0-9+/]{22})$`)
	entries := strings.Split(strings.TrimSpace(string(list)), "\n")
	if len(entries) != 4 {
		t.Fatalf("list.txt has %d lines", len(entries))
	}
	for _, l := range entries {
		m := listRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("list.txt line %q", l)
		}
		if _, err := os.Stat(filepath.Join(cards, m[1]+".png")); err != nil {
			t.Errorf("no PNG for card %s: %v", m[1], err)
		}
	}
	html, err := os.ReadFile(filepath.Join(cards, "cards.html"))
	if err != nil || bytes.Count(html, []byte("data:image/png;base64,")) != 4 {
		t.Errorf("cards.html: %v, %d images", err, bytes.Count(html, []byte("data:image/png;base64,")))
	}

	for _, args := range [][]string{
		{"mandates", "--key", keyPath, "--count", "0", "--format", "tokens"},
		{"mandates", "--key", keyPath, "--count", "2"},
		{"mandates", "--count", "2", "--format", "tokens"},
		{"mandates", "--key", keyPath, "--count", "2", "--format", "svg"},
	} {
		if r := run(t, args...); r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("powvote %v: exit %d, stderr %q; want 2 and one line", args, r.code, r.stderr)
		}
	}

	// init with that authority; the settings name it.
	data := filepath.Join(dir, "data")
	mustRun(t, "init", "city", "--dir", data, "--option", "Yes", "--option", "Nein, danke", "--authority-pubkey", pubText, "--threshold", "22")
	s, err := campaign.LoadSettings(data, "city")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Authorities) != 1 || !bytes.Equal(s.Authorities[0], pub) || s.Threshold != 22 || s.Options[1] != "Nein, danke" {
		t.Errorf("settings %+v", s)
	}
	if _, err := os.Stat(filepath.Join(data, "city", campaign.DemoAuthorityKey)); err == nil {
		t.Error("demo authority key written although an authority was given")
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"init", "city", "--dir", data, "--option", "A"}, "already holds"},
		{[]string{"init", "town", "--dir", data, "--option", "A", "--threshold", "70"}, "threshold: 70 is outside 1..64"},
		{[]string{"init", "town", "--dir", data, "--option", "A", "--option", "A"}, "options[1]"},
		{[]string{"init", "town", "--dir", data, "--option", `say "no"`}, "options[0]"},
		{[]string{"init", "town", "--dir", data, "--option", "A", "--start", "2027-01-02T00:00:00Z", "--end", "2027-01-01T00:00:00Z"}, "end: "},
		{[]string{"init", "town", "--dir", data, "--option", "A", "--authority-pubkey", "abc"}, "--authority-pubkey"},
		{[]string{"init", "Town", "--dir", data, "--option", "A"}, "name"},
		{[]string{"init", "town", "--option", "A"}, "--dir is required"},
	} {
		r := run(t, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("powvote %v: exit %d, stderr %q; want one line naming %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}

func TestInitDemoAuthority(t *testing.T) {
	data := t.TempDir()
	out := mustRun(t, "init", "town", "--dir", data, "--option", "A", "--option", "B")
	keyPath := filepath.Join(data, "town", campaign.DemoAuthorityKey)
	if !strings.Contains(out, keyPath) {
		t.Errorf("output does not name the demo key: %q", out)
	}
	key, err := keyfile.ReadEd25519(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := campaign.LoadSettings(data, "town")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Authorities[0].Equal(key.Public().(ed25519.PublicKey)) {
		t.Error("settings do not accept the demo authority key")
	}
}

func TestBoothCodeAndProvision(t *testing.T) {
	data := t.TempDir()
	mustRun(t, "init", "town", "--dir", data, "--option", "A")
	c, err := campaign.Load(data, "town")
	if err != nil {
		t.Fatal(err)
	}
	const at = "1800000000"
	code := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data, "--at", at))
	want, _ := totp.BoothCode(c.Secrets.TOTPSeed, time.Unix(1800000000, 0))
	if code != want || len(code) != 7 {
		t.Errorf("booth code %q, want %q", code, want)
	}
	if _, err := totp.ParseBoothCode(code); err != nil {
		t.Errorf("printed code does not pass its own check: %v", err)
	}
	now := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data, "--campaign", "town"))
	if digits, err := totp.ParseBoothCode(now); err != nil || !totp.Validate(c.Secrets.TOTPSeed, digits, time.Now()) {
		t.Errorf("code now %q does not validate: %v", now, err)
	}

	kek := filepath.Join(t.TempDir(), "hall.kek")
	mustRun(t, "booth", "provision", "--dir", data, "--station", "Town Hall", "--kek-out", kek)
	mapData, err := os.ReadFile(filepath.Join(data, "town", campaign.BoothMapFile))
	if err != nil || !strings.Contains(string(mapData), "Town Hall") {
		t.Fatalf("deployment map: %v\n%s", err, mapData)
	}
	if bytes.Contains(mapData, []byte(base64.StdEncoding.EncodeToString(c.Secrets.TOTPSeed))) {
		t.Fatal("deployment map holds the clear seed")
	}
	viaGenerator := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data, "--station", "Town Hall", "--kek", kek, "--at", at))
	if viaGenerator != want {
		t.Errorf("generator code %q, platform code %q", viaGenerator, want)
	}
	if r := run(t, "booth", "provision", "--dir", data, "--station", "Town Hall", "--kek-out", kek+"2"); r.code == 0 {
		t.Error("second generator for the same station accepted")
	}
	other := filepath.Join(t.TempDir(), "other.kek")
	mustRun(t, "booth", "provision", "--dir", data, "--station", "School", "--kek-out", other)
	if r := run(t, "booth", "code", "--dir", data, "--station", "Town Hall", "--kek", other); r.code == 0 {
		t.Error("a generator's key unwrapped another station's seed")
	}
	mustRun(t, "booth", "provision", "--dir", data, "--remove", "Town Hall")
	if list := mustRun(t, "booth", "provision", "--dir", data, "--list"); strings.Contains(list, "Town Hall") || !strings.Contains(list, "School") {
		t.Errorf("after remove: %s", list)
	}
}

func TestCollectorRefusesItselfAsTwin(t *testing.T) {
	data := t.TempDir()
	mustRun(t, "init", "town", "--dir", data, "--option", "A")
	r := run(t, "collector", "--dir", data, "--instance", "0", "--listen", "127.0.0.1:9", "--twin", "http://127.0.0.1:9")
	if r.code != 2 || !strings.Contains(r.stderr, "is this instance itself") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPowBench(t *testing.T) {
	out := mustRun(t, "pow", "bench", "--duration", "200ms")
	if !regexp.MustCompile(`per core: +[0-9.]+ MH/s`).MatchString(out) || !strings.Contains(out, "total:") {
		t.Errorf("pow bench printed %q", out)
	}
}

// TestUp starts the platform as a real process, reads the ballot over HTTP,
// interrupts it, and starts it again on the same directory.
func TestUp(t *testing.T) {
	data := filepath.Join(t.TempDir(), "pv")
	first := upOnce(t, data)
	second := upOnce(t, data)
	if first != second {
		t.Errorf("second run changed the campaign's settings:\n%s\n%s", first, second)
	}
}

func upOnce(t *testing.T, data string) string {
	t.Helper()
	cmd := exec.Command(binary, "up", "--dir", data, "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var base string
	for sc.Scan() {
		if m := regexp.MustCompile(`powvote is up at (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("no URL printed; stderr: %s", stderr.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	resp, err := http.Get(base + "/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Say01") != "Evil Neptune" || resp.Header.Get("Say09") != "Cross Uranus" {
		t.Errorf("/list: %d %v", resp.StatusCode, resp.Header)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up exited with %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("up did not stop within 15 s of SIGINT")
	}
	settings, err := os.ReadFile(filepath.Join(data, "solar", campaign.SettingsFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(settings)
}

package station

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/powvote/powvote/internal/qrscan"
	"github.com/powvote/powvote/mandate"
)

// desk is a station desk under test, served over real HTTP on loopback.
type desk struct {
	s      *Server
	srv    *httptest.Server
	dir    string
	key    ed25519.PrivateKey
	secret string
}

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newDesk(t *testing.T, dir string, key ed25519.PrivateKey) *desk {
	t.Helper()
	s, err := New(Config{Key: key, Dir: dir, Station: "Town Hall"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	d := &desk{s: s, srv: srv, dir: dir, key: key}
	d.secret = pageSecret(t, srv.URL)
	return d
}

var metaSecret = regexp.MustCompile(`<meta name="station-token" content="([0-9a-f]+)">`)

// pageSecret loads the page as a browser would and returns the secret it
// carries.
func pageSecret(t *testing.T, url string) string {
	t.Helper()
	resp, body := do(t, "GET", url+"/", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	m := metaSecret.FindSubmatch(body)
	if m == nil || len(m[1]) != 64 {
		t.Fatalf("the page carries no secret: %s", body)
	}
	return string(m[1])
}

// do sends one request; hdr may set Host.
func do(t *testing.T, method, url string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// issue asks for a mandate as the page does.
func (d *desk) issue(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	return do(t, "POST", d.srv.URL+"/issue", map[string]string{TokenHeader: d.secret}, nil)
}

// decodeQR reads the QR code of a data: URI and returns its bytes.
func decodeQR(t *testing.T, uri string) []byte {
	t.Helper()
	img, err := qrscan.PNGDataURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != qrSize || b.Dy() != qrSize {
		t.Errorf("QR image %v, want %d px square", b, qrSize)
	}
	res, err := qrscan.ScanImage(img, false)
	if err != nil {
		t.Fatalf("reading the QR code: %v", err)
	}
	segs := res.Segments
	if len(segs) != 1 {
		t.Fatalf("QR code has %d byte segments, want 1", len(segs))
	}
	return segs[0]
}

// card decodes a POST /issue answer and checks that it is one mandate of
// key, consistent in every form the card shows.
func checkCard(t *testing.T, resp *http.Response, body []byte, key ed25519.PrivateKey) (Card, mandate.Token) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /issue: %d %s", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("POST /issue: Cache-Control %q, want no-store", cc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST /issue: Content-Type %q", ct)
	}
	var c Card
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	tok, err := mandate.FromBytes(decodeQR(t, c.QR))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(); err != nil {
		t.Fatalf("the QR code's mandate: %v", err)
	}
	if !bytes.Equal(tok.AuthPkey[:], key.Public().(ed25519.PublicKey)) {
		t.Fatal("the mandate is not signed by the desk's authority key")
	}
	if c.Lines != tok.Card() || c.Needle != tok.Needle() || c.CardID != tok.CardID() {
		t.Errorf("card text %+v does not match the QR code's mandate", c)
	}
	fromLines, err := mandate.ParseCardLines(c.Lines[:])
	if err != nil || fromLines != tok {
		t.Errorf("the card lines read %v (%v), want the QR code's mandate", fromLines, err)
	}
	return c, tok
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a line feed", path)
	}
	return strings.Fields(string(b))
}

func TestIssueAppendsAndAnswers(t *testing.T) {
	d := newDesk(t, filepath.Join(t.TempDir(), "out"), testKey(t))
	path := filepath.Join(d.dir, IssuedFile)
	if d.s.Path() != path {
		t.Errorf("Path %q, want %q", d.s.Path(), path)
	}
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{d.dir, 0o700}, {path, 0o600}} {
		st, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != p.mode {
			t.Errorf("%s has mode %04o, want %04o", p.path, st.Mode().Perm(), p.mode)
		}
	}

	var want []string
	for i := 1; i <= 3; i++ {
		resp, body := d.issue(t)
		c, tok := checkCard(t, resp, body, d.key)
		want = append(want, tok.Hex())
		if c.Issued != i || c.Session != i {
			t.Errorf("after %d: counts %d/%d", i, c.Issued, c.Session)
		}
		// The token is in the file by the time the card is answered.
		if got := readLines(t, path); !slices.Equal(got, want) {
			t.Fatalf("after %d: issued file %q, want %q", i, got, want)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("issued file mode %04o after appends", st.Mode().Perm())
	}

	resp, body := do(t, "GET", d.srv.URL+"/status", nil, nil)
	var st Status
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %d %v %s", resp.StatusCode, err, body)
	}
	wantAuth := base64.StdEncoding.EncodeToString(d.key.Public().(ed25519.PublicKey))
	if st != (Status{Station: "Town Hall", Authority: wantAuth, Issued: 3, Session: 3, Ready: true}) {
		t.Errorf("status %+v", st)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/status Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	// The answer carries the card but never the key.
	seed := base64.StdEncoding.EncodeToString(d.key.Seed())
	for _, p := range []string{"/", "/status", "/station.js"} {
		if _, b := do(t, "GET", d.srv.URL+p, nil, nil); bytes.Contains(b, []byte(seed)) {
			t.Errorf("%s holds the authority's key", p)
		}
	}
}

func TestConcurrentIssues(t *testing.T) {
	d := newDesk(t, t.TempDir(), testKey(t))
	const n = 8
	var wg sync.WaitGroup
	cards := make([]string, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", d.srv.URL+"/issue", nil)
			req.Header.Set(TokenHeader, d.secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var c Card
			if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 {
				t.Errorf("issue %d: %d %v", i, resp.StatusCode, err)
				return
			}
			cards[i] = c.CardID
		})
	}
	wg.Wait()
	lines := readLines(t, filepath.Join(d.dir, IssuedFile))
	if len(lines) != n {
		t.Fatalf("%d lines in the issued file, want %d", len(lines), n)
	}
	inFile := map[string]bool{}
	for _, l := range lines {
		tok, err := mandate.ParseHex(l)
		if err != nil {
			t.Fatal(err)
		}
		inFile[tok.CardID()] = true
	}
	for i, id := range cards {
		if !inFile[id] {
			t.Errorf("card %d (%s) is not in the issued file", i, id)
		}
	}
	if total, session := d.s.Counts(); total != n || session != n {
		t.Errorf("counts %d/%d, want %d", total, session, n)
	}
}

// TestAnswerWaitsForSync sees the file synced once per mandate with the
// mandate's line in it before the answer, and a failed sync answered with
// no card, the line taken back, and no mandate issued after it.
func TestAnswerWaitsForSync(t *testing.T) {
	d := newDesk(t, t.TempDir(), testKey(t))
	path := filepath.Join(d.dir, IssuedFile)
	var synced [][]byte
	d.s.issued.sync = func(f *os.File) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		synced = append(synced, b)
		return f.Sync()
	}
	for i := 1; i <= 2; i++ {
		resp, body := d.issue(t)
		_, tok := checkCard(t, resp, body, d.key)
		if len(synced) != i || !bytes.HasSuffix(synced[i-1], []byte(tok.Hex()+"\n")) {
			t.Fatalf("issue %d: %d syncs; the last saw %q", i, len(synced), synced)
		}
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	diskFull := errors.New("disk full")
	d.s.issued.sync = func(*os.File) error { return diskFull }
	resp, body := d.issue(t)
	if resp.StatusCode != http.StatusServiceUnavailable || bytes.Contains(body, []byte(`"qr"`)) {
		t.Fatalf("failed sync: %d %s", resp.StatusCode, body)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Errorf("after a failed sync the file is\n%s\nwant\n%s", after, before)
	}
	// Once a sync has failed, the desk issues nothing until it is
	// restarted, even when the disk recovers.
	d.s.issued.sync = (*os.File).Sync
	if resp, body := d.issue(t); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "restarted") {
		t.Errorf("issue after a failed sync: %d %s", resp.StatusCode, body)
	}
	_, body = do(t, "GET", d.srv.URL+"/status", nil, nil)
	var st Status
	if err := json.Unmarshal(body, &st); err != nil || st.Ready || !strings.Contains(st.Error, "disk full") || st.Issued != 2 {
		t.Errorf("status after a failed sync: %s", body)
	}
}

func TestReopen(t *testing.T) {
	key := testKey(t)
	dir := t.TempDir()
	path := filepath.Join(dir, IssuedFile)
	first, err := New(Config{Key: key, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var toks []mandate.Token
	for range 3 {
		tok, err := first.Issue()
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	// A second desk on the same directory would count and append to the
	// first one's file.
	if _, err := New(Config{Key: key, Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use by another station desk") {
		t.Errorf("second desk on one directory: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Issue(); err == nil {
		t.Error("a closed desk issued a mandate")
	}

	// Restarted, the desk counts what the file holds and appends to it.
	again, err := New(Config{Key: key, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if total, session := again.Counts(); total != 3 || session != 0 {
		t.Errorf("after a restart: counts %d/%d, want 3/0", total, session)
	}
	tok, err := again.Issue()
	if err != nil {
		t.Fatal(err)
	}
	toks = append(toks, tok)
	again.Close()
	var want []string
	for _, tok := range toks {
		want = append(want, tok.Hex())
	}
	if got := readLines(t, path); !slices.Equal(got, want) {
		t.Fatalf("issued file %q, want %q", got, want)
	}

	// A line cut short by a crash before its sync is dropped: its card
	// was never shown.
	whole, _ := os.ReadFile(path)
	partial := append(append([]byte(nil), whole...), toks[0].Hex()[:100]...)
	if err := os.WriteFile(path, partial, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Key: key, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if total, _ := s.Counts(); total != 4 {
		t.Errorf("after cutting a partial line: %d mandates, want 4", total)
	}
	s.Close()
	if b, _ := os.ReadFile(path); !bytes.Equal(b, whole) {
		t.Errorf("partial line not cut off:\n%s", b)
	}

	// Tokens of the desk's key from `powvote mandates --format tokens`
	// are accepted, any other line is not repaired but refused.
	printed, _ := mandate.Issue(key, rand.Reader)
	forged := toks[0]
	forged.AuthID[0] ^= 1
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		err           string
	}{
		{"tokens", string(whole) + printed.Hex() + "\n", 0o600, ""},
		{"upper case", strings.ToUpper(string(whole)), 0o600, ""},
		{"empty", "", 0o600, ""},
		{"readable", string(whole), 0o640, "chmod 600"},
		{"garbage", string(whole) + "hello\n", 0o600, "line 5 is not a mandate token"},
		{"blank line", "\n" + string(whole), 0o600, "line 1 is not a mandate token"},
		{"bad signature", forged.Hex() + "\n", 0o600, "line 1 is not a mandate token: mandate: signature"},
		{"long line", strings.Repeat("a", 70000) + "\n", 0o600, "line 1 is not a mandate token: too long"},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, IssuedFile)
		if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, tc.mode)
		s, err := New(Config{Key: key, Dir: dir})
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			s.Close()
			continue
		}
		if err == nil {
			s.Close()
			t.Errorf("%s: accepted", tc.name)
		} else if !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestIssuedRefusesWhatTheDeskDidNotIssue plays whoever edits a desk's
// issued file to make its count of cards say more than the desk handed
// out: with mandates of another authority key (one the campaign may well
// accept), with a mandate that claims the desk's key under a signature of
// another, and with a card listed twice. The desk must refuse to start on
// each, naming the line and the reason; a caller tells the reasons apart
// by their sentinel errors.
func TestIssuedRefusesWhatTheDeskDidNotIssue(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	var own []mandate.Token
	for range 3 {
		tok, err := mandate.Issue(key, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, tok)
	}
	foreign, _ := mandate.Issue(testKey(t), rand.Reader)
	// A mandate that names the desk's key but carries another key's
	// signature of its auth-id.
	claimed := foreign
	claimed.AuthPkey = [ed25519.PublicKeySize]byte(pub)
	lines := func(toks ...mandate.Token) string {
		var b strings.Builder
		for _, tok := range toks {
			b.WriteString(tok.Hex() + "\n")
		}
		return b.String()
	}
	upper := strings.ToUpper(own[1].Hex()) + "\n"
	for _, tc := range []struct {
		name, content string
		is            error  // the sentinel, if any
		err           string // in the message
	}{
		{"own", lines(own...), nil, ""},
		{"another key's mandate", lines(own[0], foreign, own[1]), ErrForeignKey, "line 2: station: mandate of another authority key " +
			base64.StdEncoding.EncodeToString(foreign.AuthPkey[:]) + ", not the desk's " + base64.StdEncoding.EncodeToString(pub)},
		{"only another key's", lines(foreign), ErrForeignKey, "line 1:"},
		{"the desk's key, another key's signature", lines(own[0], claimed), mandate.ErrSignature, "line 2 is not a mandate token: mandate: signature"},
		{"a card twice", lines(own[0], own[1], own[2], own[1]), ErrDuplicate, "line 4: station: mandate listed twice: line 2 holds the same mandate"},
		{"a card twice, once in upper case", lines(own[0], own[1]) + upper, ErrDuplicate, "line 3: station: mandate listed twice: line 2"},
		{"a card twice, with spaces", lines(own[0]) + " " + own[0].Hex() + " \n", ErrDuplicate, "line 2: station: mandate listed twice: line 1"},
		// A partial last line is cut off before it is checked: it was
		// never a card, whatever it holds.
		{"another key's mandate, cut short", lines(own[0]) + foreign.Hex()[:200], nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, IssuedFile)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{Key: key, Dir: dir})
			if tc.err == "" && tc.is == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				defer s.Close()
				if total, _ := s.Counts(); total != strings.Count(tc.content, "\n") {
					t.Errorf("counts %d mandates in %d whole lines", total, strings.Count(tc.content, "\n"))
				}
				return
			}
			if err == nil {
				total, _ := s.Counts()
				s.Close()
				t.Fatalf("accepted, counting %d mandates", total)
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q, want %v with %q and the file's path", err, tc.is, tc.err)
			}
			// Refused files are left as they were.
			if b, _ := os.ReadFile(p); string(b) != tc.content {
				t.Errorf("the refused file was changed:\n%s", b)
			}
		})
	}
}

// repeatRand gives the same bytes again and again: a broken random source.
type repeatRand struct{}

func (repeatRand) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 7
	}
	return len(b), nil
}

// TestIssueRefusesRepeatedID: a random source that repeats itself would
// make the desk print a second card for a mandate that can vote only once.
// The desk refuses it before anything is written and stops issuing.
func TestIssueRefusesRepeatedID(t *testing.T) {
	key := testKey(t)
	dir := t.TempDir()
	s, err := New(Config{Key: key, Dir: dir, Rand: repeatRand{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, err := s.Issue()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Issue(); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second card from a repeating source: %v, want ErrDuplicate", err)
	}
	if _, err := s.Issue(); err == nil {
		t.Error("the desk issued again after refusing a repeated mandate")
	}
	if got := readLines(t, filepath.Join(dir, IssuedFile)); !slices.Equal(got, []string{first.Hex()}) {
		t.Errorf("issued file %q, want only the first card", got)
	}
	if total, session := s.Counts(); total != 1 || session != 1 {
		t.Errorf("counts %d/%d, want 1/1", total, session)
	}
}

func TestForeignHostRefused(t *testing.T) {
	d := newDesk(t, t.TempDir(), testKey(t))
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8091", true},
		{"127.1.2.3", true},
		{"localhost:8091", true},
		{"LOCALHOST", true},
		{"[::1]:8091", true},
		{"10.1.2.3:8091", false},
		{"192.168.0.1", false},
		{"evil.example:8091", false},
		{"localhost.evil.test", false},
		{"127.0.0.1.nip.io", false},
	} {
		for _, req := range []struct {
			method, path string
		}{{"GET", "/"}, {"GET", "/status"}, {"POST", "/issue"}} {
			resp, body := do(t, req.method, d.srv.URL+req.path, map[string]string{"Host": tc.host, TokenHeader: d.secret}, nil)
			refused := resp.StatusCode == http.StatusMisdirectedRequest
			if refused == tc.ok {
				t.Errorf("Host %q %s %s: status %d", tc.host, req.method, req.path, resp.StatusCode)
			}
			if refused && (bytes.Contains(body, []byte(d.secret)) || bytes.Contains(body, []byte(`"qr"`))) {
				t.Errorf("Host %q %s %s: refused but leaked %s", tc.host, req.method, req.path, body)
			}
		}
	}
	// Only the allowed hosts issued.
	if total, _ := d.s.Counts(); total != 5 {
		t.Errorf("%d mandates issued, want one per allowed host (5)", total)
	}
}

func TestCrossSiteRefused(t *testing.T) {
	d := newDesk(t, t.TempDir(), testKey(t))
	host := strings.TrimPrefix(d.srv.URL, "http://")
	other := newDesk(t, t.TempDir(), testKey(t)) // another start's secret
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		ok   bool
	}{
		{"page's request", map[string]string{TokenHeader: d.secret, "Origin": d.srv.URL, "Sec-Fetch-Site": "same-origin"}, true},
		{"no browser headers", map[string]string{TokenHeader: d.secret}, true},
		{"no secret", map[string]string{"Origin": d.srv.URL, "Sec-Fetch-Site": "same-origin"}, false},
		{"empty secret", map[string]string{TokenHeader: ""}, false},
		{"wrong secret", map[string]string{TokenHeader: strings.Repeat("0", 64)}, false},
		{"secret of another start", map[string]string{TokenHeader: other.secret}, false},
		{"secret prefix", map[string]string{TokenHeader: d.secret[:63]}, false},
		{"upper-case secret", map[string]string{TokenHeader: strings.ToUpper(d.secret)}, false},
		{"secret in a query string", nil, false},
		{"foreign origin", map[string]string{TokenHeader: d.secret, "Origin": "http://evil.example"}, false},
		{"origin on another port", map[string]string{TokenHeader: d.secret, "Origin": "http://" + host + "0"}, false},
		{"null origin", map[string]string{TokenHeader: d.secret, "Origin": "null"}, false},
		{"cross-site fetch", map[string]string{TokenHeader: d.secret, "Sec-Fetch-Site": "cross-site"}, false},
		{"same-site fetch", map[string]string{TokenHeader: d.secret, "Sec-Fetch-Site": "same-site"}, false},
	} {
		url := d.srv.URL + "/issue"
		if tc.hdr == nil {
			url += "?" + TokenHeader + "=" + d.secret
		}
		before, _ := d.s.Counts()
		resp, body := do(t, "POST", url, tc.hdr, nil)
		after, _ := d.s.Counts()
		if tc.ok {
			checkCard(t, resp, body, d.key)
			continue
		}
		if resp.StatusCode != http.StatusForbidden || after != before || bytes.Contains(body, []byte(`"qr"`)) {
			t.Errorf("%s: status %d, %d mandates issued: %s", tc.name, resp.StatusCode, after-before, body)
		}
	}
	// A simple cross-site form post carries no custom header and is
	// refused the same way.
	resp, body := do(t, "POST", d.srv.URL+"/issue", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
		strings.NewReader(TokenHeader+"="+d.secret))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("form post: %d %s", resp.StatusCode, body)
	}
	if lines := readLines(t, filepath.Join(d.dir, IssuedFile)); len(lines) != 2 {
		t.Errorf("%d lines in the issued file, want the 2 the page's requests issued", len(lines))
	}
}

func TestMethodsAndPaths(t *testing.T) {
	d := newDesk(t, t.TempDir(), testKey(t))
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/issue", http.StatusMethodNotAllowed, "POST"},
		{"HEAD", "/issue", http.StatusMethodNotAllowed, "POST"},
		{"PUT", "/issue", http.StatusMethodNotAllowed, "POST"},
		{"OPTIONS", "/issue", http.StatusMethodNotAllowed, "POST"},
		{"POST", "/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/status", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/station.js", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"HEAD", "/", http.StatusOK, ""},
		{"GET", "/favicon.ico", http.StatusNoContent, ""},
		{"GET", "/index.html", http.StatusNotFound, ""},
		{"GET", "/station.go", http.StatusNotFound, ""},
		{"GET", "/issued.txt", http.StatusNotFound, ""},
		{"GET", "/i18n/", http.StatusNotFound, ""},
		{"GET", "/i18n/fr.json", http.StatusNotFound, ""},
		{"GET", "/../issued.txt", http.StatusNotFound, ""},
		{"GET", "/voter/lang.js", http.StatusNotFound, ""},
	} {
		resp, _ := do(t, tc.method, d.srv.URL+tc.path, map[string]string{TokenHeader: d.secret}, nil)
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: status %d Allow %q, want %d %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow)
		}
	}
	if total, _ := d.s.Counts(); total != 0 {
		t.Errorf("%d mandates issued by requests that are not POST /issue", total)
	}
}

// chunked hides a body's length from the client, so that it is sent
// chunked and the server learns its size only by reading.
type chunked struct{ io.Reader }

func TestBodyLimits(t *testing.T) {
	d := newDesk(t, t.TempDir(), testKey(t))
	for _, tc := range []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"empty", nil, http.StatusOK},
		{"small", strings.NewReader("{}"), http.StatusOK},
		{"at the limit", bytes.NewReader(make([]byte, MaxBody)), http.StatusOK},
		{"over the limit", bytes.NewReader(make([]byte, MaxBody+1)), http.StatusRequestEntityTooLarge},
		{"large", bytes.NewReader(make([]byte, 1<<20)), http.StatusRequestEntityTooLarge},
		{"chunked over the limit", chunked{bytes.NewReader(make([]byte, 4*MaxBody))}, http.StatusRequestEntityTooLarge},
		{"chunked small", chunked{strings.NewReader("x")}, http.StatusOK},
	} {
		before, _ := d.s.Counts()
		resp, body := do(t, "POST", d.srv.URL+"/issue", map[string]string{TokenHeader: d.secret}, tc.body)
		after, _ := d.s.Counts()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
		}
		if issued := after - before; issued != map[bool]int{true: 1, false: 0}[tc.status == http.StatusOK] {
			t.Errorf("%s: %d mandates issued", tc.name, issued)
		}
	}
	// GET requests with a declared oversized body are refused too.
	resp, _ := do(t, "GET", d.srv.URL+"/status", nil, bytes.NewReader(make([]byte, MaxBody+1)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("GET /status with a large body: %d", resp.StatusCode)
	}
}

func TestPageAndAssets(t *testing.T) {
	d := newDesk(t, t.TempDir(), testKey(t))
	for path, want := range map[string]struct{ ct, contains, cache string }{
		"/":             {"text/html; charset=utf-8", `<script src="/station.js"`, "no-store"},
		"/station.js":   {"text/javascript; charset=utf-8", "X-Station-Token", "no-cache"},
		"/station.css":  {"text/css; charset=utf-8", "@media print", "no-cache"},
		"/lang.js":      {"text/javascript; charset=utf-8", "powvoteLang", "no-cache"},
		"/i18n/en.json": {"application/json", `"issue": "Issue mandate"`, "no-cache"},
		"/i18n/de.json": {"application/json", `"issue": "Mandat ausstellen"`, "no-cache"},
		"/i18n/pl.json": {"application/json", `"issue": "Wydaj upoważnienie"`, "no-cache"},
	} {
		resp, body := do(t, "GET", d.srv.URL+path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != want.ct {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, want.ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != want.cache {
			t.Errorf("%s: Cache-Control %q, want %q", path, cc, want.cache)
		}
		if !bytes.Contains(body, []byte(want.contains)) {
			t.Errorf("%s does not contain %q", path, want.contains)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
		// The page must load nothing from elsewhere and hold no
		// inline code, which the CSP would block.
		for _, bad := range []string{"http://", "https://", "//cdn", "style=", "onclick", "onload", "<script>", tokenPlaceholder} {
			if bytes.Contains(body, []byte(bad)) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
	// Every start has its own secret.
	if other := newDesk(t, t.TempDir(), d.key); other.secret == d.secret {
		t.Error("two desks share a secret")
	}
	// The three catalogues have the same keys.
	keys := func(lang string) []string {
		_, body := do(t, "GET", d.srv.URL+"/i18n/"+lang+".json", nil, nil)
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		var ks []string
		for k, v := range m {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s.json: %q is empty", lang, k)
			}
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	en := keys("en")
	for _, l := range []string{"de", "pl"} {
		if got := keys(l); !slices.Equal(got, en) {
			t.Errorf("%s.json keys %v, en.json %v", l, got, en)
		}
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8091": true,
		"127.0.0.1:0":    true,
		"localhost:8091": true,
		"[::1]:8091":     true,
		"0.0.0.0:8091":   false,
		":8091":          false,
		"[::]:8091":      false,
		"10.0.0.5:8091":  false,
		"desk.lan:8091":  false,
		"127.0.0.1":      false,
	} {
		if got := LoopbackListen(addr); got != want {
			t.Errorf("LoopbackListen(%q) = %v", addr, got)
		}
	}
}

func TestNewErrors(t *testing.T) {
	key := testKey(t)
	for name, cfg := range map[string]Config{
		"short key":       {Key: key[:32], Dir: t.TempDir()},
		"no dir":          {Key: key},
		"line in station": {Key: key, Dir: t.TempDir(), Station: "Town\nHall"},
	} {
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	// An output directory that is a file.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := New(Config{Key: key, Dir: file}); err == nil {
		t.Error("a file as the output directory accepted")
	}
	// A directory where the issued file should be.
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, IssuedFile), 0o700)
	if _, err := New(Config{Key: key, Dir: dir}); err == nil {
		t.Error("a directory as the issued file accepted")
	}
}

// failingRand fails every read: no auth-id, no mandate, nothing written.
type failingRand struct{}

func (failingRand) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestRandFailure(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Key: testKey(t), Dir: dir, Rand: failingRand{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Issue(); err == nil {
		t.Fatal("issued without randomness")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, IssuedFile)); len(b) != 0 {
		t.Errorf("issued file holds %q", b)
	}
}

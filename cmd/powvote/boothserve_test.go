package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/powvote/powvote/campaign"
)

func TestBoothServe(t *testing.T) {
	data := t.TempDir()
	mustRun(t, "init", "town", "--dir", data, "--option", "A")
	kek := filepath.Join(data, "townhall.kek")
	mustRun(t, "booth", "provision", "--dir", data, "--station", "Town Hall", "--kek-out", kek)
	boothMap := filepath.Join(data, "town", campaign.BoothMapFile)

	var url string
	p := launch(t, []string{"booth", "serve", "--map", boothMap, "--station", "Town Hall", "--kek", kek, "--listen", "127.0.0.1:0"},
		func(line string) bool {
			m := listening.FindStringSubmatch(line)
			if m != nil {
				url = m[1]
			}
			return m != nil
		})
	// On loopback the display needs no secret, and its URL carries none.
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/") {
		t.Fatalf("display URL %q", url)
	}

	// The display and the campaign's own secrets agree. A step may end
	// between the calls, so the display's code must be one of the codes
	// read just before and just after it.
	before := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	resp, err := http.Get(url + "code")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	after := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /code: status %d, Cache-Control %q: %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	var got struct {
		Code, Display, Station string
		Remaining              int
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("/code: %v in %s", err, body)
	}
	if got.Code != before && got.Code != after {
		t.Errorf("display shows %q; booth code printed %q then %q", got.Code, before, after)
	}
	if got.Station != "Town Hall" || got.Remaining < 1 || got.Remaining > 30 || len(got.Display) != 9 {
		t.Errorf("/code: %s", body)
	}

	resp, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p.interrupt(t)
}

func TestBoothServeRefusesWrongKey(t *testing.T) {
	data := t.TempDir()
	mustRun(t, "init", "town", "--dir", data, "--option", "A")
	townHall := filepath.Join(data, "townhall.kek")
	school := filepath.Join(data, "school.kek")
	mustRun(t, "booth", "provision", "--dir", data, "--station", "Town Hall", "--kek-out", townHall)
	mustRun(t, "booth", "provision", "--dir", data, "--station", "School", "--kek-out", school)
	boothMap := filepath.Join(data, "town", campaign.BoothMapFile)

	// The school's generator key cannot show the town hall's code.
	r := run(t, "booth", "serve", "--map", boothMap, "--station", "Town Hall", "--kek", school, "--listen", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, "is not the key of the generator of station \"Town Hall\"") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
		t.Errorf("wrong key: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, "booth", "serve", "--map", boothMap, "--station", "Nowhere", "--kek", townHall, "--listen", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, "not on the map") {
		t.Errorf("unknown station: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, "booth", "serve", "--map", boothMap, "--station", "Town Hall")
	if r.code != 2 || !strings.Contains(r.stderr, "--kek are required") {
		t.Errorf("missing --kek: exit %d, stderr %q", r.code, r.stderr)
	}
}

// boothSetup makes a campaign with one booth code generator and returns
// the data directory and the arguments of booth serve for it.
func boothSetup(t *testing.T) (data string, args []string) {
	t.Helper()
	data = t.TempDir()
	mustRun(t, "init", "town", "--dir", data, "--option", "A")
	kek := filepath.Join(data, "townhall.kek")
	mustRun(t, "booth", "provision", "--dir", data, "--station", "Town Hall", "--kek-out", kek)
	return data, []string{"booth", "serve", "--map", filepath.Join(data, "town", campaign.BoothMapFile), "--station", "Town Hall", "--kek", kek}
}

// TestBoothServeLoopbackOnly: a display that other machines reach hands
// out booth codes valid at every station, so an address beyond loopback is
// refused, before anything listens, unless the operator says so in as
// many words.
func TestBoothServeLoopbackOnly(t *testing.T) {
	_, args := boothSetup(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:8090", "example.org:8090"} {
		// Refused at once; a display that started would serve until killed.
		r := runFor(t, 20*time.Second, append(args, "--listen", addr)...)
		if r.code != 2 || r.stdout != "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
			!strings.Contains(r.stderr, "--listen "+addr+" is not a loopback address") ||
			!strings.Contains(r.stderr, "--insecure-listen-beyond-loopback") {
			t.Errorf("--listen %s: exit %d, stdout %q, stderr %q; want a usage error naming the flag", addr, r.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, append(args, "--listen", "127.0.0.1")...); r.code != 2 || !strings.Contains(r.stderr, "missing port") {
		t.Errorf("--listen without a port: exit %d, stderr %q", r.code, r.stderr)
	}
}

var boothURL = regexp.MustCompile(`listening on (http://(\S+)/#token=([0-9a-f]{64}))$`)

// startBoothBeyond starts a display on every interface with the flag and
// returns the process, the loopback address it answers on and its secret.
func startBoothBeyond(t *testing.T, args []string) (p *proc, addr, token string) {
	t.Helper()
	p = launch(t, append(args, "--listen", "0.0.0.0:0", "--insecure-listen-beyond-loopback"), func(line string) bool {
		m := boothURL.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("display line %q, want its URL with #token=", line)
		}
		_, port, err := net.SplitHostPort(m[2])
		if err != nil {
			t.Fatalf("display URL %q: %v", m[1], err)
		}
		addr, token = net.JoinHostPort("127.0.0.1", port), m[3]
		return true
	})
	return p, addr, token
}

// TestBoothServeBeyondLoopback plays a machine on the booth's network
// that finds a display served beyond loopback: with an IP literal in Host,
// as the display accepts, it asks for /code without the secret, with a
// wrong one, with the secret where the display does not read it, and at
// other spellings of the path. Only the page opened at the printed URL,
// which sends the secret, gets the code.
func TestBoothServeBeyondLoopback(t *testing.T) {
	data, args := boothSetup(t)
	p, addr, token := startBoothBeyond(t, args)
	wrong := []byte(token)
	wrong[len(wrong)-1] ^= 1 // '0' <-> '1', 'a' <-> '`': one character off
	get := func(method, path string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Any machine on the network, by IP address.
		req.Host = "192.0.2.7:8090"
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, tc := range []struct {
		what, method, path string
		hdr                map[string]string
	}{
		{"no secret", "GET", "/code", nil},
		{"HEAD, no secret", "HEAD", "/code", nil},
		{"a wrong secret", "GET", "/code", map[string]string{"X-Booth-Token": string(wrong)}},
		{"half the secret", "GET", "/code", map[string]string{"X-Booth-Token": token[:32]}},
		{"the secret in upper case", "GET", "/code", map[string]string{"X-Booth-Token": strings.ToUpper(token)}},
		{"an empty secret", "GET", "/code", map[string]string{"X-Booth-Token": ""}},
		{"the secret in the query", "GET", "/code?token=" + token, nil},
		{"the secret in another header", "GET", "/code", map[string]string{"Authorization": "Bearer " + token}},
		{"another spelling of the path", "GET", "/code/", nil},
		{"a path the display does not serve", "GET", "/index.html", nil},
	} {
		resp, body := get(tc.method, tc.path, tc.hdr)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, `"code"`) {
			t.Errorf("%s: %s %s: status %d, body %q; want 403 and no code", tc.what, tc.method, tc.path, resp.StatusCode, body)
		}
	}

	// The page and its files carry no code and open without the secret:
	// the page takes the secret from its own URL.
	for _, path := range []string{"/", "/booth.js", "/booth.css"} {
		if resp, _ := get("GET", path, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, resp.StatusCode)
		}
	}
	if _, js := get("GET", "/booth.js", nil); !strings.Contains(js, "X-Booth-Token") || !strings.Contains(js, "token=") {
		t.Error("booth.js does not send the secret of its URL")
	}

	before := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	resp, body := get("GET", "/code", map[string]string{"X-Booth-Token": token})
	after := strings.TrimSpace(mustRun(t, "booth", "code", "--dir", data))
	var got struct{ Code string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || (got.Code != before && got.Code != after) {
		t.Errorf("with the secret: status %d, %q; booth code printed %q then %q", resp.StatusCode, body, before, after)
	}
	p.interrupt(t)
	if stderr := p.stderr.String(); !strings.Contains(stderr, "WARNING: --insecure-listen-beyond-loopback") ||
		!strings.Contains(stderr, "EVERY station of campaign town") {
		t.Errorf("no loud warning on stderr: %q", stderr)
	}
}

// TestBoothServePageInChromium opens the booth page as a booth's browser
// does, on loopback and beyond it with the printed URL, and checks that it
// shows the code both ways; opened beyond loopback without the secret, it
// shows none and says which URL to open.
func TestBoothServePageInChromium(t *testing.T) {
	_, args := boothSetup(t)
	var loopURL string
	p := launch(t, append(args, "--listen", "127.0.0.1:0"), func(line string) bool {
		m := listening.FindStringSubmatch(line)
		if m != nil {
			loopURL = m[1]
		}
		return m != nil
	})
	q, addr, token := startBoothBeyond(t, args)
	b := newBrowser(t)
	digits := `/^[0-9]{3} [0-9]{3}$/.test(document.getElementById('digits').textContent) && document.body.className !== 'offline'`
	b.do("open the display on loopback", chromedp.Navigate(loopURL))
	eventuallyJS(t, b, "the loopback display shows a code", digits)

	open := "http://" + addr + "/#token=" + token
	b.do("open the printed URL beyond loopback", chromedp.Navigate(open))
	eventuallyJS(t, b, "the display beyond loopback shows a code", digits)

	bare := (&url.URL{Scheme: "http", Host: addr, Path: "/"}).String()
	b.do("open the display beyond loopback without its secret", chromedp.Navigate(bare))
	eventuallyJS(t, b, "the display says it needs its URL",
		`document.body.className === 'offline' && document.getElementById('status').textContent.includes('#token')`)
	if shown := b.text("#digits"); strings.ContainsAny(shown, "0123456789") {
		t.Errorf("without the secret the page shows %q", shown)
	}
	p.interrupt(t)
	q.interrupt(t)
}

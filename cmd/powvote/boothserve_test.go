package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

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

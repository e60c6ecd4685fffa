package totp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/powvote/powvote/totp/internal/keywrap"
)

var update = flag.Bool("update", false, "rewrite testdata/deployment.golden.yml")

// detRand is a deterministic random source for tests: the same label gives
// the same identifiers and KEKs.
func detRand(label string) *rand.ChaCha8 {
	var s [32]byte
	copy(s[:], label)
	return rand.NewChaCha8(s)
}

func testSeed(b byte) []byte {
	return bytes.Repeat([]byte{b}, SeedSize)
}

func TestProvisionTwoStations(t *testing.T) {
	m := &DeploymentMap{Campaign: "solar"}
	seed := testSeed(0x42)
	r := detRand("two stations")
	id1, kek1, err := m.Provision("Flying Demo", seed, r)
	if err != nil {
		t.Fatal(err)
	}
	id2, kek2, err := m.Provision("411 5th Street North", seed, r)
	if err != nil {
		t.Fatal(err)
	}
	if id1 == id2 || bytes.Equal(kek1, kek2) {
		t.Fatalf("two generators share an id or a KEK: %s %s", id1, id2)
	}
	if len(kek1) != KEKSize || len(kek2) != KEKSize {
		t.Fatalf("KEK sizes %d and %d, want %d", len(kek1), len(kek2), KEKSize)
	}
	g1, g2 := m.Stations["Flying Demo"], m.Stations["411 5th Street North"]
	if g1.ID != id1 || g2.ID != id2 {
		t.Fatalf("map ids %s %s, Provision returned %s %s", g1.ID, g2.ID, id1, id2)
	}
	if bytes.Equal(g1.WrappedSeed, g2.WrappedSeed) {
		t.Fatal("both generators have the same wrapped seed")
	}
	for _, c := range []struct {
		station string
		kek     []byte
	}{{"Flying Demo", kek1}, {"411 5th Street North", kek2}} {
		got, err := m.Seed(c.station, c.kek)
		if err != nil {
			t.Fatalf("Seed(%q): %v", c.station, err)
		}
		if !bytes.Equal(got, seed) {
			t.Fatalf("Seed(%q) = %X, want %X", c.station, got, seed)
		}
	}

	// Each KEK opens its own generator's seed only.
	_, err = m.Seed("Flying Demo", kek2)
	if !errors.Is(err, keywrap.ErrIntegrity) || !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("Seed with the other generator's KEK: error %v, want keywrap.ErrIntegrity", err)
	}
	if !strings.Contains(err.Error(), `station "Flying Demo"`) || !strings.Contains(err.Error(), id1) {
		t.Fatalf("error %q does not name the station and generator", err)
	}
}

func TestProvisionErrors(t *testing.T) {
	m := &DeploymentMap{Campaign: "solar"}
	r := detRand("errors")
	if _, _, err := m.Provision("Flying Demo", testSeed(1), r); err != nil {
		t.Fatal(err)
	}
	before := cloneMap(m)
	tests := []struct {
		name    string
		station string
		seed    []byte
		rand    *bytes.Reader
		want    string
	}{
		{"taken station", "Flying Demo", testSeed(1), nil, `station "Flying Demo" already has generator`},
		{"empty station", "", testSeed(1), nil, "empty station name"},
		{"padded station", " Flying Demo", testSeed(1), nil, "white space at an end"},
		{"newline in station", "Flying\nDemo", testSeed(1), nil, "control character"},
		{"long station", strings.Repeat("x", MaxStationName+1), testSeed(1), nil, "longer than 100 bytes"},
		{"short seed", "Depot", make([]byte, 20), nil, "seed is 20 bytes, want 32"},
		{"rand dry at id", "Depot", testSeed(1), bytes.NewReader(make([]byte, 5)), "reading generator id"},
		{"rand dry at KEK", "Depot", testSeed(1), bytes.NewReader(make([]byte, 20)), "reading KEK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var src io.Reader = r
			if tc.rand != nil {
				src = tc.rand
			}
			_, _, err := m.Provision(tc.station, tc.seed, src)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "totp: ") {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !reflect.DeepEqual(m, before) {
				t.Fatal("a failed Provision changed the map")
			}
		})
	}

	// A source that repeats itself would hand out the same id twice.
	same := func() *rand.ChaCha8 { return detRand("repeat") }
	m2 := &DeploymentMap{Campaign: "solar"}
	if _, _, err := m2.Provision("A", testSeed(1), same()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m2.Provision("B", testSeed(1), same()); err == nil || !strings.Contains(err.Error(), "already used at station \"A\"") {
		t.Fatalf("repeated id: error %v", err)
	}
}

func TestProvisionDefaultRand(t *testing.T) {
	m := &DeploymentMap{Campaign: "solar"}
	id, kek, err := m.Provision("Depot", testSeed(7), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkID(id); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(kek, make([]byte, KEKSize)) {
		t.Fatal("KEK is all zeros")
	}
	if got, err := m.Seed("Depot", kek); err != nil || !bytes.Equal(got, testSeed(7)) {
		t.Fatalf("Seed = %X, %v", got, err)
	}
}

func TestRewrap(t *testing.T) {
	m := &DeploymentMap{Campaign: "solar"}
	r := detRand("rewrap")
	id, kek, err := m.Provision("Depot", testSeed(1), r)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKEK, err := m.Provision("Harbour", testSeed(1), r)
	if err != nil {
		t.Fatal(err)
	}
	old := m.Stations["Depot"].WrappedSeed

	err = m.Rewrap("Depot", otherKEK, testSeed(2))
	if !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("Rewrap with the wrong KEK: error %v, want ErrWrongKEK", err)
	}
	if !strings.HasPrefix(err.Error(), "totp: rewrapping: station \"Depot\"") || strings.Count(err.Error(), "totp:") != 1 {
		t.Fatalf("Rewrap error %q", err)
	}
	if !bytes.Equal(m.Stations["Depot"].WrappedSeed, old) {
		t.Fatal("a refused Rewrap changed the wrapped seed")
	}
	if err := m.Rewrap("Depot", kek, make([]byte, 31)); err == nil || !strings.Contains(err.Error(), "new seed is 31 bytes") {
		t.Fatalf("Rewrap with a short seed: error %v", err)
	}
	if err := m.Rewrap("Nowhere", kek, testSeed(2)); err == nil || !strings.Contains(err.Error(), `station "Nowhere" is not on the map`) {
		t.Fatalf("Rewrap of a missing station: error %v", err)
	}

	if err := m.Rewrap("Depot", kek, testSeed(2)); err != nil {
		t.Fatal(err)
	}
	g := m.Stations["Depot"]
	if g.ID != id {
		t.Fatalf("Rewrap changed the generator id to %s", g.ID)
	}
	if bytes.Equal(g.WrappedSeed, old) {
		t.Fatal("Rewrap left the old wrapped seed")
	}
	if got, err := m.Seed("Depot", kek); err != nil || !bytes.Equal(got, testSeed(2)) {
		t.Fatalf("Seed after Rewrap = %X, %v; want the new seed", got, err)
	}
}

func TestRemove(t *testing.T) {
	m := &DeploymentMap{Campaign: "solar"}
	r := detRand("remove")
	if _, _, err := m.Provision("Depot", testSeed(1), r); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("Depot"); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Stations["Depot"]; ok {
		t.Fatal("station still on the map")
	}
	if err := m.Remove("Depot"); err == nil || !strings.Contains(err.Error(), `station "Depot": not on the map`) {
		t.Fatalf("second Remove: error %v", err)
	}
	// A station can be provisioned again once its generator is removed.
	if _, _, err := m.Provision("Depot", testSeed(1), r); err != nil {
		t.Fatal(err)
	}
}

func TestSeedErrors(t *testing.T) {
	m := &DeploymentMap{Campaign: "solar"}
	_, kek, err := m.Provision("Depot", testSeed(1), detRand("seed errors"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Seed("Harbour", kek); err == nil || !strings.Contains(err.Error(), `station "Harbour" is not on the map`) {
		t.Fatalf("missing station: error %v", err)
	}
	if _, err := m.Seed("Depot", kek[:16]); err == nil || !strings.Contains(err.Error(), "KEK is 16 bytes, want 32") {
		t.Fatalf("short KEK: error %v", err)
	}
	// Every altered byte of the published wrapped seed is refused.
	orig := m.Stations["Depot"]
	for i := range orig.WrappedSeed {
		bad := bytes.Clone(orig.WrappedSeed)
		bad[i] ^= 0x20
		m.Stations["Depot"] = Generator{ID: orig.ID, WrappedSeed: bad}
		if _, err := m.Seed("Depot", kek); !errors.Is(err, keywrap.ErrIntegrity) {
			t.Fatalf("byte %d altered: error %v, want keywrap.ErrIntegrity", i, err)
		}
	}
}

func TestEncodeID(t *testing.T) {
	tests := []struct {
		in   [idBytes]byte
		want string
	}{
		{[idBytes]byte{}, "0000-0000-0000-0000"},
		{[idBytes]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"},
		// 00001 00010 00011 ... : symbol values 1, 2, 3, ... in order.
		{[idBytes]byte{0x08, 0x86, 0x42, 0x98, 0xe8, 0x4a, 0x96, 0xc6, 0xb9, 0xf0}, "1234-5678-9ABC-DEFG"},
		{[idBytes]byte{0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}, "G800-0000-0000-0001"},
	}
	for _, tc := range tests {
		got := encodeID(tc.in)
		if got != tc.want {
			t.Errorf("encodeID(%X) = %s, want %s", tc.in, got, tc.want)
		}
		if err := checkID(got); err != nil {
			t.Errorf("checkID(%s): %v", got, err)
		}
	}
	for _, bad := range []string{"", "8704-2A05-B259-109", "8704-2A05-B259-10900", "8704-2a05-B259-1090", "8704-2A05-B259-109U", "87042A05-B259-1090-", "8704 2A05 B259 1090", "8704-2A05-B2I9-1090", "8704-2A05-B2L9-1090", "8704-2A05-B2O9-1090"} {
		if err := checkID(bad); err == nil {
			t.Errorf("checkID(%q) accepted it", bad)
		}
	}
}

// goldenMap builds the map of testdata/deployment.golden.yml from fixed
// inputs. The station names cover a plain name, a name YAML would read as a
// number, and one outside ASCII.
func goldenMap(t *testing.T) *DeploymentMap {
	t.Helper()
	m := &DeploymentMap{Campaign: "solar"}
	seed := []byte("12345678901234567890123456789012")
	r := detRand("golden")
	for _, st := range []string{"Flying Demo", "411 5th Street North", "2024", "Gare de Lyon – Hall 1"} {
		if _, _, err := m.Provision(st, seed, r); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestGolden(t *testing.T) {
	got, err := goldenMap(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "deployment.golden.yml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal differs from %s (run go test -update to accept):\n%s", path, got)
	}
	// The golden file also reads back into the map it came from.
	back, err := ParseMap(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, goldenMap(t)) {
		t.Fatalf("ParseMap(golden) = %+v", back)
	}
}

func TestRoundTrip(t *testing.T) {
	m := goldenMap(t)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseMap(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip changed the map:\n got %+v\nwant %+v", back, m)
	}
	again, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("second Marshal differs:\n%s\n---\n%s", again, data)
	}

	// An empty map round-trips too, with its stations as {}.
	empty := &DeploymentMap{Campaign: "solar", Stations: map[string]Generator{}}
	data, err = empty.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("campaign: solar\nstations: {}\n")) {
		t.Fatalf("empty map:\n%s", data)
	}
	back, err = ParseMap(data)
	if err != nil || !reflect.DeepEqual(back, empty) {
		t.Fatalf("ParseMap(empty) = %+v, %v", back, err)
	}
}

// TestParseHandWritten reads a map written the way a person would, in the
// layout of the reference deployment, with comments and quoting Marshal does
// not use.
func TestParseHandWritten(t *testing.T) {
	const in = `# Voting Stations and Platform TOTP generators
campaign: "solar"
stations:
  Flying Demo:   # the prototype
    8704-2A05-B259-1090: wIZsDEbX+QZgn3Sh9hiwkANPmbD1BjcDxpTCPoI5d51Y0yjr9DSJbw==
  '411 5th Street North': {8704-2A05-B259-1091: "wIZsDEbX+QZgn3Sh9hiwkANPmbD1BjcDxpTCPoI5d51Y0yjr9DSJbw=="}
  2024:
    ZZZZ-ZZZZ-ZZZZ-ZZZZ: wIZsDEbX+QZgn3Sh9hiwkANPmbD1BjcDxpTCPoI5d51Y0yjr9DSJbw==
`
	m, err := ParseMap([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	wrapped, _ := base64.StdEncoding.DecodeString("wIZsDEbX+QZgn3Sh9hiwkANPmbD1BjcDxpTCPoI5d51Y0yjr9DSJbw==")
	want := &DeploymentMap{Campaign: "solar", Stations: map[string]Generator{
		"Flying Demo":          {ID: "8704-2A05-B259-1090", WrappedSeed: wrapped},
		"411 5th Street North": {ID: "8704-2A05-B259-1091", WrappedSeed: wrapped},
		"2024":                 {ID: "ZZZZ-ZZZZ-ZZZZ-ZZZZ", WrappedSeed: wrapped},
	}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("ParseMap = %+v\nwant %+v", m, want)
	}
}

func TestParseMapErrors(t *testing.T) {
	const w = "wIZsDEbX+QZgn3Sh9hiwkANPmbD1BjcDxpTCPoI5d51Y0yjr9DSJbw==" // 40 bytes
	const id = "8704-2A05-B259-1090"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty file"},
		{"comments only", "# nothing\n", "empty file"},
		{"syntax", "campaign: solar\nstations: [\n", "totp: deployment map: yaml: "},
		{"not a mapping", "- solar\n", "cannot unmarshal !!seq"},
		{"unknown key", "campaign: solar\ncampain: solar\n", "field campain not found"},
		{"duplicate key", "campaign: solar\ncampaign: lunar\n", `mapping key "campaign" already defined`},
		{"second document", "campaign: solar\n---\ncampaign: lunar\n", "more than one YAML document"},
		{"no campaign", "stations: {}\n", "campaign: missing"},
		{"campaign upper case", "campaign: Solar\n", `campaign "Solar": not a lower-case DNS label`},
		{"campaign trailing dash", "campaign: solar-\n", `campaign "solar-": not a lower-case DNS label`},
		{"campaign too long", "campaign: " + strings.Repeat("a", 64) + "\n", "longer than 63 characters"},
		{"stations a list", "campaign: solar\nstations: [a, b]\n", "line 2: stations must map station names to generators"},
		{"stations a string", "campaign: solar\nstations: none\n", "line 2: stations must map"},
		{"duplicate station", "campaign: solar\nstations:\n  Depot: {" + id + ": " + w + "}\n  Depot: {8704-2A05-B259-1091: " + w + "}\n", `line 4: station "Depot" is already listed on line 3`},
		{"duplicate station quoted", "campaign: solar\nstations:\n  Depot: {" + id + ": " + w + "}\n  \"Depot\": {8704-2A05-B259-1091: " + w + "}\n", `station "Depot" is already listed on line 3`},
		{"duplicate generator", "campaign: solar\nstations:\n  Depot: {" + id + ": " + w + "}\n  Harbour: {" + id + ": " + w + "}\n", `line 4: station "Harbour": generator ` + id + ` is also at station "Depot"`},
		{"empty station name", "campaign: solar\nstations:\n  \"\": {" + id + ": " + w + "}\n", "line 3: empty station name"},
		{"null station name", "campaign: solar\nstations:\n  ~: {" + id + ": " + w + "}\n", "line 3: station name: empty value on line 3"},
		{"padded station name", "campaign: solar\nstations:\n  \"Depot \": {" + id + ": " + w + "}\n", `station name "Depot " has white space at an end`},
		{"tab in station name", "campaign: solar\nstations:\n  \"De\\tpot\": {" + id + ": " + w + "}\n", "has a control character"},
		{"station without generator", "campaign: solar\nstations:\n  Depot:\n", `line 3: station "Depot": no generator`},
		{"two generators", "campaign: solar\nstations:\n  Depot:\n    " + id + ": " + w + "\n    8704-2A05-B259-1091: " + w + "\n", `station "Depot": 2 generators, want exactly one`},
		{"generator as list", "campaign: solar\nstations:\n  Depot: [" + id + "]\n", `station "Depot": want one line`},
		{"lower-case id", "campaign: solar\nstations:\n  Depot: {8704-2a05-b259-1090: " + w + "}\n", `generator id "8704-2a05-b259-1090" is not 16 upper-case Crockford`},
		{"id with U", "campaign: solar\nstations:\n  Depot: {8704-2A05-B259-109U: " + w + "}\n", `generator id "8704-2A05-B259-109U"`},
		{"id without dashes", "campaign: solar\nstations:\n  Depot: {87042A05B2591090: " + w + "}\n", `generator id "87042A05B2591090"`},
		{"bad base64", "campaign: solar\nstations:\n  Depot: {" + id + ": \"wIZs*EbX\"}\n", "generator " + id + ": wrapped seed is not canonical padded base64"},
		{"base64 unpadded", "campaign: solar\nstations:\n  Depot: {" + id + ": " + strings.TrimRight(w, "=") + "}\n", "not canonical padded base64"},
		{"base64 url alphabet", "campaign: solar\nstations:\n  Depot: {" + id + ": " + strings.ReplaceAll(w, "+", "-") + "}\n", "not canonical padded base64"},
		{"base64 broken over lines", "campaign: solar\nstations:\n  Depot:\n    " + id + ": |\n      " + w[:28] + "\n      " + w[28:] + "\n", "not canonical padded base64"},
		{"wrapped seed short", "campaign: solar\nstations:\n  Depot: {" + id + ": " + base64.StdEncoding.EncodeToString(make([]byte, 39)) + "}\n", "wrapped seed is 39 bytes, want 40"},
		{"wrapped seed long", "campaign: solar\nstations:\n  Depot: {" + id + ": " + base64.StdEncoding.EncodeToString(make([]byte, 48)) + "}\n", "wrapped seed is 48 bytes, want 40"},
		{"wrapped seed empty", "campaign: solar\nstations:\n  Depot:\n    " + id + ":\n", "generator " + id + ": wrapped seed: empty value"},
		{"wrapped seed binary tag", "campaign: solar\nstations:\n  Depot: {" + id + ": !!binary " + w + "}\n", "!!binary on line 3 is not allowed"},
		{"alias generator", "campaign: solar\nstations:\n  Depot: &g {" + id + ": " + w + "}\n  Harbour: *g\n", `station "Harbour": want one line`},
		{"merge key", "campaign: solar\nstations:\n  <<: {Depot: {" + id + ": " + w + "}}\n", "!!merge on line 3 is not allowed"},
		{"sequence as station name", "campaign: solar\nstations:\n  [a]: {" + id + ": " + w + "}\n", "station name: want a string on line 3, not a YAML sequence"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMap([]byte(tc.in))
			if err == nil {
				t.Fatalf("ParseMap accepted it: %+v", m)
			}
			if !strings.HasPrefix(err.Error(), "totp: deployment map: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMarshalRefusesBadMap(t *testing.T) {
	w := make([]byte, WrappedSeedSize)
	tests := []struct {
		name string
		m    DeploymentMap
		want string
	}{
		{"no campaign", DeploymentMap{}, "campaign: missing"},
		{"empty station", DeploymentMap{Campaign: "solar", Stations: map[string]Generator{"": {ID: "8704-2A05-B259-1090", WrappedSeed: w}}}, "empty station name"},
		{"bad id", DeploymentMap{Campaign: "solar", Stations: map[string]Generator{"Depot": {ID: "x", WrappedSeed: w}}}, `station "Depot": generator id "x"`},
		{"short wrapped seed", DeploymentMap{Campaign: "solar", Stations: map[string]Generator{"Depot": {ID: "8704-2A05-B259-1090", WrappedSeed: w[:32]}}}, `station "Depot": wrapped seed is 32 bytes, want 40`},
		{"shared id", DeploymentMap{Campaign: "solar", Stations: map[string]Generator{
			"Depot":   {ID: "8704-2A05-B259-1090", WrappedSeed: w},
			"Harbour": {ID: "8704-2A05-B259-1090", WrappedSeed: w},
		}}, `station "Harbour": generator 8704-2A05-B259-1090 is also at station "Depot"`},
	}
	for _, tc := range tests {
		if _, err := tc.m.Marshal(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Marshal error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func cloneMap(m *DeploymentMap) *DeploymentMap {
	c := &DeploymentMap{Campaign: m.Campaign, Stations: make(map[string]Generator, len(m.Stations))}
	for k, g := range m.Stations {
		c.Stations[k] = Generator{ID: g.ID, WrappedSeed: bytes.Clone(g.WrappedSeed)}
	}
	return c
}

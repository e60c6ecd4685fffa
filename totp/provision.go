package totp

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/powvote/powvote/internal/crockford"
	"github.com/powvote/powvote/totp/internal/keywrap"
)

const (
	// KEKSize is the size in bytes of a generator's key-encryption key: an
	// AES-256 key.
	KEKSize = 32
	// WrappedSeedSize is the size in bytes of a seed wrapped under a KEK:
	// RFC 3394 adds one 8-byte block.
	WrappedSeedSize = SeedSize + 8
	// MaxStationName is the longest station name, in bytes. Longer names
	// would no longer fit the one-line YAML keys of the deployment map.
	MaxStationName = 100
	// maxCampaign is the longest campaign name: one DNS label.
	maxCampaign = 63
	// idBytes is the number of random bytes in a generator identifier.
	idBytes = 10
)

// ErrWrongKEK is returned, wrapped, by [DeploymentMap.Seed] and
// [DeploymentMap.Rewrap] when the key-encryption key does not unwrap the
// station's wrapped seed: it belongs to another generator, or the wrapped
// seed was altered.
var ErrWrongKEK = keywrap.ErrIntegrity

// Generator is one booth code generator as the deployment map publishes it.
type Generator struct {
	// ID identifies the generator: 10 random bytes written as 16 Crockford
	// base32 symbols in groups of 4 joined by '-', like
	// 8704-2A05-B259-1090. It is printed on the device and held in its
	// secure element.
	ID string
	// WrappedSeed is the campaign's TOTP seed wrapped under the generator's
	// KEK (RFC 3394), [WrappedSeedSize] bytes.
	WrappedSeed []byte
}

// DeploymentMap is the public list of a campaign's booth code generators: one
// generator per voting station, keyed by a station name people recognise.
//
// A DeploymentMap is not safe for concurrent use. The zero value is an empty
// map whose Campaign must be set before [DeploymentMap.Marshal].
type DeploymentMap struct {
	// Campaign is the campaign's name, a lower-case DNS label.
	Campaign string
	// Stations maps a station name to the generator deployed there. A name
	// is non-empty UTF-8 of at most MaxStationName bytes, without control
	// characters and without white space at either end, so that two names
	// that look alike are alike.
	Stations map[string]Generator
}

// Provision adds a new generator at station, which must not have one yet. It
// draws the generator's identifier and then its KEK from rand (nil means
// crypto/rand) and wraps seed under that KEK.
//
// The returned KEK goes into the generator's secure element together with id
// and must be kept by the platform to rewrap the seed after a rotation; it is
// never published. The map records only id and the wrapped seed.
func (m *DeploymentMap) Provision(station string, seed []byte, rand io.Reader) (id string, kek []byte, err error) {
	if err := checkStation(station); err != nil {
		return "", nil, fmt.Errorf("totp: provisioning: %w", err)
	}
	if g, ok := m.Stations[station]; ok {
		return "", nil, fmt.Errorf("totp: provisioning: station %q already has generator %s; remove it first", station, g.ID)
	}
	if len(seed) != SeedSize {
		return "", nil, fmt.Errorf("totp: provisioning station %q: seed is %d bytes, want %d", station, len(seed), SeedSize)
	}
	if rand == nil {
		rand = cryptoRand
	}
	var raw [idBytes]byte
	if _, err := io.ReadFull(rand, raw[:]); err != nil {
		return "", nil, fmt.Errorf("totp: provisioning station %q: reading generator id: %w", station, err)
	}
	id = encodeID(raw)
	for name, g := range m.Stations {
		if g.ID == id {
			// 80 random bits do not collide; a source that repeats itself
			// is broken and must not be trusted with the KEK either.
			return "", nil, fmt.Errorf("totp: provisioning station %q: new generator id %s is already used at station %q; is the random source broken?", station, id, name)
		}
	}
	kek = make([]byte, KEKSize)
	if _, err := io.ReadFull(rand, kek); err != nil {
		return "", nil, fmt.Errorf("totp: provisioning station %q: reading KEK: %w", station, err)
	}
	wrapped, err := keywrap.Wrap(kek, seed)
	if err != nil {
		return "", nil, fmt.Errorf("totp: provisioning station %q: %w", station, err)
	}
	if m.Stations == nil {
		m.Stations = make(map[string]Generator)
	}
	m.Stations[station] = Generator{ID: id, WrappedSeed: wrapped}
	return id, kek, nil
}

// cryptoRand is crypto/rand's reader, under a name the parameter of
// Provision does not shadow.
var cryptoRand = rand.Reader

// Rewrap replaces the wrapped seed of station's generator with newSeed
// wrapped under kek, after a seed rotation. It first unwraps the current
// wrapped seed, so that a KEK that is not the generator's (the error wraps
// [ErrWrongKEK]) is refused instead of publishing a seed the generator
// cannot unwrap.
func (m *DeploymentMap) Rewrap(station string, kek, newSeed []byte) error {
	if _, err := m.unwrap(station, kek); err != nil {
		return fmt.Errorf("totp: rewrapping: %w", err)
	}
	if len(newSeed) != SeedSize {
		return fmt.Errorf("totp: rewrapping station %q: new seed is %d bytes, want %d", station, len(newSeed), SeedSize)
	}
	wrapped, err := keywrap.Wrap(kek, newSeed)
	if err != nil {
		return fmt.Errorf("totp: rewrapping station %q: %w", station, err)
	}
	g := m.Stations[station]
	m.Stations[station] = Generator{ID: g.ID, WrappedSeed: wrapped}
	return nil
}

// Remove takes station and its generator off the map.
func (m *DeploymentMap) Remove(station string) error {
	if _, ok := m.Stations[station]; !ok {
		return fmt.Errorf("totp: removing station %q: not on the map", station)
	}
	delete(m.Stations, station)
	return nil
}

// Seed unwraps the seed of station's generator with kek, as the generator's
// secure element does. The error wraps [ErrWrongKEK] when kek is not the
// generator's.
func (m *DeploymentMap) Seed(station string, kek []byte) ([]byte, error) {
	seed, err := m.unwrap(station, kek)
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return seed, nil
}

// unwrap is Seed with errors that leave the "totp:" prefix to the caller.
func (m *DeploymentMap) unwrap(station string, kek []byte) ([]byte, error) {
	g, ok := m.Stations[station]
	if !ok {
		return nil, fmt.Errorf("station %q is not on the map", station)
	}
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("station %q: KEK is %d bytes, want %d", station, len(kek), KEKSize)
	}
	seed, err := keywrap.Unwrap(kek, g.WrappedSeed)
	if err != nil {
		return nil, fmt.Errorf("station %q, generator %s: unwrapping seed: %w", station, g.ID, err)
	}
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("station %q, generator %s: seed is %d bytes, want %d", station, g.ID, len(seed), SeedSize)
	}
	return seed, nil
}

// mapHeader opens every marshalled map. ParseMap ignores comments, so the
// text can change without changing what a map means.
const mapHeader = `# Deployment map of the booth code generators of a powvote campaign.
#
# This file is public. Under "stations", each voting station is listed by
# the name people know it by, with the one booth code generator deployed
# there: the generator's identifier (printed on the device) and the
# campaign's TOTP seed wrapped (RFC 3394 AES key wrap, base64) under that
# generator's own AES-256 key. Only the generator's secure element can
# unwrap it, so the wrapped seeds differ from generator to generator and
# reveal nothing about the seed.
#
# Observers check that every generator they see is at the station listed
# here, and that no generator is in use anywhere else.

`

// Marshal returns the map as YAML, stations in byte order of their names,
// preceded by a comment explaining the file. The same map always gives the
// same bytes, and ParseMap reads them back into an equal map. Marshal
// refuses a map that ParseMap would refuse.
func (m *DeploymentMap) Marshal() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	stations := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, name := range slices.Sorted(maps.Keys(m.Stations)) {
		g := m.Stations[name]
		stations.Content = append(stations.Content, str(name), &yaml.Node{
			Kind:    yaml.MappingNode,
			Tag:     "!!map",
			Content: []*yaml.Node{str(g.ID), str(base64.StdEncoding.EncodeToString(g.WrappedSeed))},
		})
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		str("campaign"), str(m.Campaign),
		str("stations"), stations,
	}}
	var buf bytes.Buffer
	buf.WriteString(mapHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("totp: encoding deployment map: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("totp: encoding deployment map: %w", err)
	}
	return buf.Bytes(), nil
}

// str is a YAML string scalar; the encoder quotes it when it would otherwise
// read back as another type.
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// check validates a map built in code, with the rules ParseMap applies to a
// file.
func (m *DeploymentMap) check() error {
	if err := checkCampaign(m.Campaign); err != nil {
		return fmt.Errorf("totp: deployment map: %w", err)
	}
	ids := make(map[string]string, len(m.Stations))
	for _, name := range slices.Sorted(maps.Keys(m.Stations)) {
		g := m.Stations[name]
		if err := checkStation(name); err != nil {
			return fmt.Errorf("totp: deployment map: %w", err)
		}
		if err := checkID(g.ID); err != nil {
			return fmt.Errorf("totp: deployment map: station %q: %w", name, err)
		}
		if len(g.WrappedSeed) != WrappedSeedSize {
			return fmt.Errorf("totp: deployment map: station %q: wrapped seed is %d bytes, want %d", name, len(g.WrappedSeed), WrappedSeedSize)
		}
		if other, ok := ids[g.ID]; ok {
			return fmt.Errorf("totp: deployment map: station %q: generator %s is also at station %q", name, g.ID, other)
		}
		ids[g.ID] = name
	}
	return nil
}

// mapFile is the top level of the YAML file. Stations stays a node so that
// ParseMap sees duplicate names, tags and line numbers that decoding into a Go
// map would hide.
type mapFile struct {
	Campaign string    `yaml:"campaign"`
	Stations yaml.Node `yaml:"stations"`
}

// ParseMap reads a deployment map written by [DeploymentMap.Marshal] or by
// hand. It is strict, because observers compare the map with what they see
// in the field and two readings of one file must not exist: it refuses
// unknown keys, a second YAML document, duplicate stations or generator
// identifiers, a station without exactly one generator, identifiers not in
// the canonical upper-case form, base64 that is not canonical padded
// standard base64, wrapped seeds that are not [WrappedSeedSize] bytes, YAML
// aliases, merge keys and tags other than the plain scalar ones. Errors give
// the line and the station.
func ParseMap(data []byte) (*DeploymentMap, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f mapFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("totp: deployment map: empty file")
		}
		return nil, fmt.Errorf("totp: deployment map: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("totp: deployment map: more than one YAML document")
	}
	if err := checkCampaign(f.Campaign); err != nil {
		return nil, fmt.Errorf("totp: deployment map: %w", err)
	}
	m := &DeploymentMap{Campaign: f.Campaign, Stations: make(map[string]Generator)}
	if err := m.parseStations(&f.Stations); err != nil {
		return nil, fmt.Errorf("totp: deployment map: %w", err)
	}
	return m, nil
}

func (m *DeploymentMap) parseStations(n *yaml.Node) error {
	switch {
	case n.Kind == 0, n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		// "stations:" missing or left empty: nothing deployed yet.
		return nil
	case n.Kind != yaml.MappingNode:
		return fmt.Errorf("line %d: stations must map station names to generators", n.Line)
	}
	seenStation := make(map[string]int) // name -> line
	seenID := make(map[string]string)   // generator id -> station
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, err := scalar(k)
		if err != nil {
			return fmt.Errorf("line %d: station name: %w", k.Line, err)
		}
		if err := checkStation(name); err != nil {
			return fmt.Errorf("line %d: %w", k.Line, err)
		}
		if line, ok := seenStation[name]; ok {
			return fmt.Errorf("line %d: station %q is already listed on line %d", k.Line, name, line)
		}
		seenStation[name] = k.Line
		g, err := parseGenerator(v)
		if err != nil {
			return fmt.Errorf("line %d: station %q: %w", v.Line, name, err)
		}
		if other, ok := seenID[g.ID]; ok {
			return fmt.Errorf("line %d: station %q: generator %s is also at station %q", v.Line, name, g.ID, other)
		}
		seenID[g.ID] = name
		m.Stations[name] = g
	}
	return nil
}

func parseGenerator(n *yaml.Node) (Generator, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return Generator{}, errors.New("no generator")
	}
	if n.Kind != yaml.MappingNode {
		return Generator{}, errors.New("want one line \"<generator id>: <wrapped seed>\" under the station")
	}
	if len(n.Content) != 2 {
		return Generator{}, fmt.Errorf("%d generators, want exactly one", len(n.Content)/2)
	}
	id, err := scalar(n.Content[0])
	if err != nil {
		return Generator{}, fmt.Errorf("generator id: %w", err)
	}
	if err := checkID(id); err != nil {
		return Generator{}, err
	}
	b64, err := scalar(n.Content[1])
	if err != nil {
		return Generator{}, fmt.Errorf("generator %s: wrapped seed: %w", id, err)
	}
	wrapped, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || base64.StdEncoding.EncodeToString(wrapped) != b64 {
		// The re-encoding comparison catches the line breaks that the
		// decoder skips, so that each wrapped seed has one spelling.
		return Generator{}, fmt.Errorf("generator %s: wrapped seed is not canonical padded base64", id)
	}
	if len(wrapped) != WrappedSeedSize {
		return Generator{}, fmt.Errorf("generator %s: wrapped seed is %d bytes, want %d", id, len(wrapped), WrappedSeedSize)
	}
	return Generator{ID: id, WrappedSeed: wrapped}, nil
}

// scalar returns the text of a plain or quoted scalar. A station named 2024
// needs no quotes, but aliases, merge keys, binary and custom tags would
// give a value other than the text that people read, so they are refused.
func scalar(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("want a string on line %d, not a YAML %s", n.Line, kindName(n.Kind))
	}
	switch t := n.ShortTag(); t {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return n.Value, nil
	case "!!null":
		return "", fmt.Errorf("empty value on line %d", n.Line)
	default:
		return "", fmt.Errorf("%s on line %d is not allowed", t, n.Line)
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}

// checkCampaign applies the campaign name rule: the campaign is chosen by the
// first label of the Host header, so its name is one lower-case DNS label.
func checkCampaign(name string) error {
	if name == "" {
		return errors.New("campaign: missing")
	}
	if len(name) > maxCampaign {
		return fmt.Errorf("campaign %q: longer than %d characters", name, maxCampaign)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && i > 0 && i < len(name)-1) {
			return fmt.Errorf("campaign %q: not a lower-case DNS label (a-z, 0-9, inner '-')", name)
		}
	}
	return nil
}

func checkStation(name string) error {
	switch {
	case name == "":
		return errors.New("empty station name")
	case len(name) > MaxStationName:
		return fmt.Errorf("station name %q is longer than %d bytes", name, MaxStationName)
	case !utf8.ValidString(name):
		return fmt.Errorf("station name %q is not UTF-8", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("station name %q has white space at an end", name)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("station name %q has a control character", name)
	}
	return nil
}

// encodeID writes 10 bytes as 16 Crockford symbols in groups of 4: 80 bits
// fill the 16 symbols exactly.
func encodeID(b [idBytes]byte) string {
	return crockford.Group(crockford.Encode(b[:]), "-", 4)
}

// checkID accepts only the form encodeID writes. Crockford decoders forgive
// lower case and look-alike letters, but the map is compared by eye and by
// grep, so it holds one spelling per identifier.
func checkID(id string) error {
	raw, err := crockford.Decode(id)
	if err != nil || len(raw) != idBytes || encodeID([idBytes]byte(raw)) != id {
		return fmt.Errorf("generator id %q is not 16 upper-case Crockford base32 symbols in groups of 4 (like 8704-2A05-B259-1090)", id)
	}
	return nil
}

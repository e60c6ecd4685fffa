package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unitSpec is what one unit in systemd/ must be.
type unitSpec struct {
	file string // in systemd/
	// name is the unit systemd runs: the file, or an instance of the
	// template.
	name string
	// envFile is the EnvironmentFile= the unit reads; envExample is its
	// example in systemd/ for the unit checked.
	envFile, envExample string
	// flags must be in ExecStart: the processes' flags that the walkthrough
	// (docs/DEPLOY.md) and the environment files rely on.
	flags []string
	// writable is the exact ReadWritePaths= set: only the data the
	// process writes.
	writable []string
	// caps is the exact capability bounding set (and ambient set).
	caps []string
	// maxExposure is the highest "overall exposure level" systemd-analyze
	// security --offline=yes may give the unit: the value measured with
	// systemd 252 when the unit was written, so that a directive dropped
	// or loosened fails here.
	maxExposure float64
}

var specs = []unitSpec{
	{
		file: "powvote-edge.service", name: "powvote-edge.service",
		envFile: "/etc/powvote/edge.env", envExample: "edge.env",
		flags:       []string{"edge", "--dir", "--listen", "--publisher", "--tls-cert", "--tls-key", "--metrics"},
		writable:    nil, // the edge writes nothing
		caps:        []string{"CAP_NET_BIND_SERVICE"},
		maxExposure: 1.6,
	},
	{
		file: "powvote-publisher.service", name: "powvote-publisher.service",
		envFile: "/etc/powvote/publisher.env", envExample: "publisher.env",
		flags:       []string{"publisher", "--dir", "--listen", "--tls-cert", "--tls-key", "--metrics"},
		writable:    []string{"/var/lib/powvote/publisher"},
		caps:        []string{"CAP_NET_BIND_SERVICE"},
		maxExposure: 1.6,
	},
	{
		file: "powvote-collector@.service", name: "powvote-collector@0.service",
		envFile: "/etc/powvote/collector-%i.env", envExample: "collector-0.env",
		flags:       []string{"collector", "--dir", "--instance %i", "--listen", "--twin", "--metrics"},
		writable:    []string{"/var/lib/powvote/collector-%i"},
		caps:        nil, // it listens above 1024
		maxExposure: 1.3,
	},
}

// hardening are the directives every unit must set to these values.
var hardening = map[string]string{
	"User":                    "powvote",
	"ProtectSystem":           "strict",
	"ProtectHome":             "yes",
	"PrivateTmp":              "yes",
	"PrivateDevices":          "yes",
	"NoNewPrivileges":         "yes",
	"ProtectKernelTunables":   "yes",
	"ProtectKernelModules":    "yes",
	"ProtectKernelLogs":       "yes",
	"ProtectControlGroups":    "yes",
	"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
	"RestrictNamespaces":      "yes",
	"LockPersonality":         "yes",
	"MemoryDenyWriteExecute":  "yes",
	"SystemCallFilter":        "@system-service",
	"LimitNOFILE":             "65536",
	"Restart":                 "on-failure",
	"ExecReload":              "/bin/kill -HUP $MAINPID",
	"KillSignal":              "SIGTERM",
}

// gracefulStop is how long the processes take to stop after SIGTERM at
// most (the servers' shutdown timeout, cmd/powvote); TimeoutStopSec=
// must leave more, or systemd kills a process closing its stores.
const gracefulStop = 10 * time.Second

// listKeys are the directives whose assignments add up, an empty one
// emptying the list (systemd.exec(5)).
var listKeys = map[string]bool{
	"ReadWritePaths": true, "SystemCallFilter": true, "RestrictAddressFamilies": true,
	"CapabilityBoundingSet": true, "AmbientCapabilities": true,
}

// unit is a parsed unit file: each section's assignments in order.
type unit map[string][][2]string

func parseUnit(data []byte) (unit, error) {
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case strings.HasSuffix(line, `\`):
			// The units keep one directive a line, so that the checks
			// below read what systemd reads.
			return nil, fmt.Errorf("line %d: continuation lines are not used in these units", n)
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is no assignment in a section", n, line)
			}
			u[section] = append(u[section], [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return u, sc.Err()
}

// get is the value systemd ends up with for key in section: the last
// assignment, or for a list the words assigned since the last empty
// assignment. ok is false when the unit never assigns key.
func (u unit) get(section, key string) (v string, ok bool) {
	var words []string
	for _, kv := range u[section] {
		if kv[0] != key {
			continue
		}
		ok = true
		switch {
		case !listKeys[key]:
			v = kv[1]
		case kv[1] == "":
			words = nil
		default:
			words = append(words, strings.Fields(kv[1])...)
		}
	}
	if listKeys[key] {
		v = strings.Join(words, " ")
	}
	return v, ok
}

// problems lists how the unit misses its spec; env is its example
// environment file.
func (s unitSpec) problems(u unit, env map[string]string) []string {
	var p []string
	want := func(key, value string) {
		got, ok := u.get("Service", key)
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("%s: no %s= (want %q)", s.file, key, value))
		case got != value:
			p = append(p, fmt.Sprintf("%s: %s=%s, want %q", s.file, key, got, value))
		}
	}
	for key, value := range hardening {
		want(key, value)
	}
	want("EnvironmentFile", s.envFile)
	want("CapabilityBoundingSet", strings.Join(s.caps, " "))
	want("AmbientCapabilities", strings.Join(s.caps, " "))
	if rw, ok := u.get("Service", "ReadWritePaths"); ok || len(s.writable) > 0 {
		if got := strings.Fields(rw); !slices.Equal(got, s.writable) {
			p = append(p, fmt.Sprintf("%s: ReadWritePaths=%s, want exactly %q", s.file, rw, s.writable))
		}
	}
	if _, ok := u.get("Service", "DynamicUser"); ok {
		p = append(p, fmt.Sprintf("%s: DynamicUser= set; the data must keep one owner (User=powvote)", s.file))
	}
	stop, _ := u.get("Service", "TimeoutStopSec")
	if d, err := time.ParseDuration(stop); err != nil || d <= gracefulStop {
		p = append(p, fmt.Sprintf("%s: TimeoutStopSec=%s, want a duration longer than the graceful stop (%v)", s.file, stop, gracefulStop))
	}
	start, _ := u.get("Service", "ExecStart")
	if !strings.HasPrefix(start, "/usr/local/bin/powvote ") {
		p = append(p, fmt.Sprintf("%s: ExecStart=%s does not run /usr/local/bin/powvote", s.file, start))
	}
	for _, f := range s.flags {
		if !strings.Contains(start+" ", " "+f+" ") {
			p = append(p, fmt.Sprintf("%s: ExecStart lacks %s", s.file, f))
		}
	}
	// Every variable ExecStart reads must be in the example, or an
	// operator who follows it starts the process with an empty flag.
	for _, m := range envRef.FindAllStringSubmatch(start, -1) {
		name := m[1] + m[2]
		if _, ok := env[name]; !ok {
			p = append(p, fmt.Sprintf("%s: ExecStart reads $%s, which %s does not set", s.file, name, s.envExample))
		}
	}
	return p
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// parseEnv reads an environment file's assignments.
func parseEnv(data []byte) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = strings.Trim(v, `"`)
		}
	}
	return env
}

func readSpec(t *testing.T, s unitSpec) (unit, []byte, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("systemd", s.file))
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(data)
	if err != nil {
		t.Fatalf("%s: %v", s.file, err)
	}
	envData, err := os.ReadFile(filepath.Join("systemd", s.envExample))
	if err != nil {
		t.Fatal(err)
	}
	return u, data, parseEnv(envData)
}

// TestUnitHardening requires of every unit the hardening, the writable
// paths, the capabilities and the flags of its spec.
func TestUnitHardening(t *testing.T) {
	for _, s := range specs {
		t.Run(s.file, func(t *testing.T) {
			u, _, env := readSpec(t, s)
			for _, p := range s.problems(u, env) {
				t.Error(p)
			}
		})
	}
}

// systemdAnalyze returns the path of systemd-analyze, failing the test
// when it is missing or too old for --offline (systemd 250).
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze not found (%v): install systemd (apt-get install -y systemd; .ci/run does)", err)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("systemd-analyze --version: %v", err)
	}
	var v int
	if _, err := fmt.Sscanf(string(out), "systemd %d", &v); err != nil || v < 250 {
		t.Fatalf("systemd-analyze --version says %q: security --offline needs systemd 250 or later", strings.SplitN(string(out), "\n", 2)[0])
	}
	return bin
}

// stage writes the unit (data, named s.file) into dir as systemd-analyze
// can load it on a machine without powvote installed: ExecStart runs an
// executable stub in dir and EnvironmentFile= names the example in dir.
// It returns the path of s.name.
func stage(t *testing.T, dir string, s unitSpec, data []byte) string {
	t.Helper()
	stub := filepath.Join(dir, "powvote")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join("systemd", s.envExample))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, s.envExample), env, 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "/usr/local/bin/powvote ", stub+" ")
	text = strings.ReplaceAll(text, "EnvironmentFile="+s.envFile, "EnvironmentFile="+filepath.Join(dir, s.envExample))
	if err := os.WriteFile(filepath.Join(dir, s.file), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, s.name)
}

// verify runs systemd-analyze verify on the unit at path and returns what
// it says about the unit: any line naming the unit's directory or file.
func verify(t *testing.T, bin, path string) []string {
	t.Helper()
	cmd := exec.Command(bin, "verify", "--man=no", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	var said []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case line == "":
		case strings.Contains(line, filepath.Dir(path)) || strings.Contains(line, "powvote"):
			said = append(said, line)
		default:
			t.Logf("systemd-analyze verify, not about the unit: %s", line)
		}
	}
	if err != nil && len(said) == 0 {
		said = append(said, fmt.Sprintf("systemd-analyze verify: %v: %s", err, out))
	}
	return said
}

var exposureLine = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)`)

// exposure runs systemd-analyze security --offline=yes on the unit at path
// and returns its overall exposure level (0 best, 10 worst).
func exposure(t *testing.T, bin, path string) float64 {
	t.Helper()
	cmd := exec.Command(bin, "security", "--offline=yes", "--no-pager", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_COLORS=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security --offline=yes %s: %v\n%s", path, err, out)
	}
	m := exposureLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security --offline=yes %s: no overall exposure level in:\n%s", path, out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSystemdAnalyze runs systemd's verifier on every unit, which must say
// nothing about it, and its offline security review, whose exposure must
// stay at the level measured.
func TestSystemdAnalyze(t *testing.T) {
	bin := systemdAnalyze(t)
	for _, s := range specs {
		t.Run(s.file, func(t *testing.T) {
			_, data, _ := readSpec(t, s)
			path := stage(t, t.TempDir(), s, data)
			for _, line := range verify(t, bin, path) {
				t.Errorf("systemd-analyze verify %s: %s", s.name, line)
			}
			if got := exposure(t, bin, path); got > s.maxExposure {
				t.Errorf("systemd-analyze security %s: exposure %.1f, want at most %.1f", s.name, got, s.maxExposure)
			} else {
				t.Logf("systemd-analyze security %s: exposure %.1f (at most %.1f)", s.name, got, s.maxExposure)
			}
		})
	}
}

// TestChecksCatchMistakes breaks a unit in the ways the checks above
// guard against and requires each break to be caught, so that a check
// that can no longer fail fails here.
func TestChecksCatchMistakes(t *testing.T) {
	bin := systemdAnalyze(t)
	edge, collector := specs[0], specs[2]
	cases := []struct {
		name string
		spec unitSpec
		// edit changes the unit's text.
		edit func(string) string
		// caught says whether the break was caught.
		caught func(t *testing.T, s unitSpec, text, path string) bool
	}{
		{"unknown directive", edge, appendService("ProtectSytem=strict"), byVerify(bin)},
		{"bad value", edge, appendService("NoNewPrivileges=maybe"), byVerify(bin)},
		{"missing executable", edge, replace("/usr/local/bin/powvote ", "/nonexistent/powvote "), byVerify(bin)},
		{"directive removed", edge, drop("PrivateDevices=yes"), byHardening},
		{"directive loosened", collector, replace("ProtectSystem=strict", "ProtectSystem=full"), byHardening},
		{"list emptied later", edge, appendService("SystemCallFilter="), byHardening},
		{"whole directory writable", collector, replace("ReadWritePaths=/var/lib/powvote/collector-%i", "ReadWritePaths=/srv/powvote"), byHardening},
		{"edge writes", edge, appendService("ReadWritePaths=/srv/powvote/edge"), byHardening},
		{"capability added", collector, replace("CapabilityBoundingSet=\n", "CapabilityBoundingSet=CAP_NET_ADMIN\n"), byHardening},
		{"capabilities left unset", collector, drop("CapabilityBoundingSet="), byHardening},
		{"stop timeout too short", edge, replace("TimeoutStopSec=30s", "TimeoutStopSec=5s"), byHardening},
		{"flag variable not in example", edge, replace("$POWVOTE_FLAGS", "$POWVOTE_EXTRA"), byHardening},
		{"exposure raised", edge, drop("PrivateDevices=yes"), byExposure(bin)},
		{"exposure raised, collector", collector, drop("PrivateUsers=yes"), byExposure(bin)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, data, _ := readSpec(t, c.spec)
			text := c.edit(string(data))
			if text == string(data) {
				t.Fatal("the edit changed nothing: the unit's text moved on, update the case")
			}
			path := stage(t, t.TempDir(), c.spec, []byte(text))
			if !c.caught(t, c.spec, text, path) {
				t.Errorf("not caught")
			}
		})
	}
}

func appendService(line string) func(string) string {
	return func(s string) string { return strings.Replace(s, "\n[Install]", line+"\n\n[Install]", 1) }
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

func drop(line string) func(string) string {
	return func(s string) string { return strings.Replace(s, "\n"+line+"\n", "\n", 1) }
}

func byVerify(bin string) func(*testing.T, unitSpec, string, string) bool {
	return func(t *testing.T, _ unitSpec, _, path string) bool {
		said := verify(t, bin, path)
		t.Logf("verify: %q", said)
		return len(said) > 0
	}
}

func byHardening(t *testing.T, s unitSpec, text, _ string) bool {
	u, err := parseUnit([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, _, env := readSpec(t, s)
	p := s.problems(u, env)
	t.Logf("problems: %q", p)
	return len(p) > 0
}

func byExposure(bin string) func(*testing.T, unitSpec, string, string) bool {
	return func(t *testing.T, s unitSpec, _, path string) bool {
		got := exposure(t, bin, path)
		t.Logf("exposure %.1f (at most %.1f)", got, s.maxExposure)
		return got > s.maxExposure
	}
}

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnitsFlags reads the command line of each unit in
// deploy/systemd as systemd would build it from the example environment
// file, and has the real binary parse it: every flag the units give must
// be one the command takes (parsed before --help, which then prints the
// help and exits 0; an unknown flag exits 2).
func TestSystemdUnitsFlags(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "systemd")
	for unit, env := range map[string]string{
		"powvote-edge.service":       "edge.env",
		"powvote-publisher.service":  "publisher.env",
		"powvote-collector@.service": "collector-0.env",
	} {
		vars := readEnvFile(t, filepath.Join(dir, env))
		exec := ""
		for _, line := range readLines(t, filepath.Join(dir, unit)) {
			if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
				exec = v
			}
		}
		if exec == "" {
			t.Fatalf("%s: no ExecStart", unit)
		}
		exec = strings.ReplaceAll(exec, "%i", "0")
		// ${VAR} is one word, $VAR splits into words (systemd.service(5)).
		one := regexp.MustCompile(`\$\{(\w+)\}`)
		var args []string
		for _, w := range strings.Fields(exec)[1:] {
			if m := one.FindStringSubmatch(w); m != nil {
				v, ok := vars[m[1]]
				if !ok {
					t.Fatalf("%s: %s is not set in %s", unit, m[1], env)
				}
				args = append(args, v)
				continue
			}
			if name, ok := strings.CutPrefix(w, "$"); ok {
				args = append(args, strings.Fields(vars[name])...)
				continue
			}
			args = append(args, w)
		}
		r := run(t, append(args, "--help")...)
		if r.code != 0 {
			t.Errorf("%s: powvote %s --help: exit %d\n%s", unit, strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	return lines
}

// readEnvFile reads the KEY=VALUE lines of an EnvironmentFile, without
// the quotes around a value.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, l := range readLines(t, path) {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", path, l)
		}
		vars[k] = strings.Trim(v, `"`)
	}
	return vars
}

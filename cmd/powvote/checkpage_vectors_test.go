package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/powvote/powvote/listline"
)

// mandateVectorsFile holds voter lines and the verdict a verifier gives
// each, shared by the Go side (TestCheckPageMandateVectors) and the check
// page (TestCheckPage runs the page's own checks on the same lines).
var mandateVectorsFile = filepath.Join("..", "..", "testdata", "mandate-lines.json")

// mandateVectors is the shape of mandateVectorsFile.
type mandateVectors struct {
	Description string   `json:"description"`
	Authorities []string `json:"authorities"` // standard base64 of the 32-byte keys
	Lines       []struct {
		Line    string `json:"line"`
		Verdict string `json:"verdict"` // ok, unreadable, duplicate, authority or badsig
		Why     string `json:"why"`
	} `json:"lines"`
}

func readMandateVectors(t *testing.T) mandateVectors {
	t.Helper()
	b, err := os.ReadFile(mandateVectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var v mandateVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", mandateVectorsFile, err)
	}
	return v
}

// mandateVerdicts gives the verdicts of mandateVectorsFile from package
// listline: the line's form, then a mandate seen on an earlier readable
// line, then the authority, then the signature.
func mandateVerdicts(t *testing.T, authorities []string, lines []string) []string {
	t.Helper()
	auth := make(map[[32]byte]bool)
	for _, a := range authorities {
		k, err := base64.StdEncoding.DecodeString(a)
		if err != nil || len(k) != 32 {
			t.Fatalf("authority %q: %v", a, err)
		}
		auth[[32]byte(k)] = true
	}
	seen := make(map[listline.Mandate]bool)
	var out []string
	for _, l := range lines {
		v, err := listline.ParseVoter(l)
		switch {
		case err != nil:
			out = append(out, "unreadable")
		case seen[v.Mandate()]:
			out = append(out, "duplicate")
		case !auth[v.Pkey]:
			seen[v.Mandate()] = true
			out = append(out, "authority")
		case !v.Verify():
			seen[v.Mandate()] = true
			out = append(out, "badsig")
		default:
			seen[v.Mandate()] = true
			out = append(out, "ok")
		}
	}
	return out
}

// TestCheckPageMandateVectors checks the shared voter-line vectors with
// the Go implementation, so that the verdicts the check page is held to
// are the ones powvote audit and package listline give: every verdict
// comes up, and each line's is what its explanation says.
func TestCheckPageMandateVectors(t *testing.T) {
	v := readMandateVectors(t)
	var lines []string
	for _, l := range v.Lines {
		lines = append(lines, l.Line)
	}
	got := mandateVerdicts(t, v.Authorities, lines)
	kinds := make(map[string]bool)
	for i, l := range v.Lines {
		kinds[l.Verdict] = true
		if l.Why == "" {
			t.Errorf("line %d has no explanation", i+1)
		}
		if got[i] != l.Verdict {
			t.Errorf("line %d (%s): Go says %s, the vectors %s", i+1, l.Why, got[i], l.Verdict)
		}
	}
	for _, k := range []string{"ok", "unreadable", "duplicate", "authority", "badsig"} {
		if !kinds[k] {
			t.Errorf("no vector has the verdict %s", k)
		}
	}
}

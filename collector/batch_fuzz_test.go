package collector

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseBatch feeds the parser of POST /votes arbitrary bodies: it must
// not panic, must hold to the limits, and what it accepts must come back
// byte for byte when its fields are written out again as the edge writes
// them: no two bodies read as the same votes.
func FuzzParseBatch(f *testing.F) {
	line := "s ORSkiSbwTOnJKXE6vc4HYs8ZuWVnIlVw3jDiIKM7LF0= bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 9Uqw0Ioi1Qvm+Ztf+6GnH2mdIuQc13EU " +
		"1767225600 bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 0011223344556677 *,-,7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYR Humble Pluto\n"
	for _, seed := range []string{
		line,
		line + strings.Replace(line, "s ", "n ", 1),
		strings.Replace(line, "*,-,7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYR", ".", 1),
		strings.Replace(line, "Humble Pluto", "%C3%89nergie%20solaire", 1),
		strings.TrimSuffix(line, "\n"),
		"",
		"\n",
		"s a b c d e f g h i\n",
		"s a b c d e f g h \n",
		"x a b c d e f g h i\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		votes, err := parseBatch(body)
		if err != nil {
			if votes != nil {
				t.Fatalf("votes %v with error %v", votes, err)
			}
			return
		}
		if len(votes) == 0 || len(votes) > maxBatchVotes || len(body) > maxBatchBody {
			t.Fatalf("accepted %d votes in %d bytes", len(votes), len(body))
		}
		var out bytes.Buffer
		for _, v := range votes {
			flag := "s"
			if v.noSign {
				flag = "n"
			}
			decoys := string(v.decoys)
			if decoys == "" {
				decoys = noDecoys
			}
			for _, x := range []string{flag, string(v.authPkey), string(v.authSig), string(v.authID), string(v.putc),
				string(v.psig), string(v.voter), string(v.nonce), decoys} {
				if x == "" || strings.ContainsAny(x, " \n") {
					t.Fatalf("field %q of %q", x, body)
				}
				out.WriteString(x + " ")
			}
			if len(v.say) == 0 || bytes.ContainsAny(v.say, "\r\n") {
				t.Fatalf("Say %q of %q", v.say, body)
			}
			out.Write(v.say)
			out.WriteByte('\n')
		}
		if !bytes.Equal(out.Bytes(), body) {
			t.Fatalf("read %q, written again %q", body, out.Bytes())
		}
	})
}

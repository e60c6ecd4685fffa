package collector

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParsePairs feeds the twin's /sync body parser arbitrary bodies: it
// must not panic, and what it accepts must come back the same when written
// out as the twin writes it and read again.
func FuzzParsePairs(f *testing.F) {
	voter := "ORSkiSbwTOnJKXE6vc4HYs8ZuWVnIlVw3jDiIKM7LF0= bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 9Uqw0Ioi1Qvm+Ztf+6GnH2mdIuQc13EU"
	vote := `1767225600 bZc4Zl9Lj1tcnFNg2ujKgMfrZ4c+4vrS7lf4wS8M0gXqGLEL1O3QHwxrqxh2Tiic1XTxnS2kv9uv+IVkVUb6Dg== 7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ 0011223344556677 "Humble Pluto"`
	rc := "r1=7Q2M-W4XE-9JKD-0HBR-P3TV-G6ZS-1NCA-8FYQ,*,-"
	f.Add([]byte(""))
	f.Add([]byte("1 " + voter + " " + rc + " " + vote + "\n"))
	f.Add([]byte("1 " + voter + " r0= " + vote + "\n2 " + voter + " " + rc + " " + vote + "\n"))
	f.Add([]byte("007 " + voter + " " + rc + " " + vote))
	f.Add([]byte("x " + voter + " " + rc + " " + vote + "\n"))
	f.Add([]byte("1 " + voter + "\n"))
	f.Add([]byte("1 " + voter + " " + vote + "\n"))
	f.Add([]byte("1 " + voter + " r2=- " + vote + "\n"))
	f.Add([]byte("1 " + voter + " r1=a,b " + vote + "\n"))
	f.Add([]byte("1 " + voter + " " + rc + " " + vote + "\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		pairs, err := parsePairs(body)
		if err != nil {
			return
		}
		var b bytes.Buffer
		for _, p := range pairs {
			b.WriteString(pairLine(p))
		}
		again, err := parsePairs(b.Bytes())
		if err != nil {
			t.Fatalf("accepted %q, but not its own rewriting %q: %v", body, b.Bytes(), err)
		}
		if len(pairs) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(pairs, again) {
			t.Fatalf("%q read as %+v, rewritten and read again as %+v", body, pairs, again)
		}
	})
}

// Package httpcond evaluates the conditional request headers of RFC 9110
// section 13.1 for the servers that give their answers an ETag: the
// publisher's growing files and the edge's counter.
package httpcond

import "strings"

// ETagMatch reports whether the If-Match or If-None-Match value v names tag
// (a strong tag, quotes included, such as `"1a2b"`): v is "*", or a
// comma-separated list of entity tags one of which is tag. Strong
// comparison (If-Match) refuses a weak tag; weak comparison
// (If-None-Match) ignores the W/ prefix.
func ETagMatch(v, tag string, strong bool) bool {
	if strings.TrimSpace(v) == "*" {
		return true
	}
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if !strong {
			t = strings.TrimPrefix(t, "W/")
		}
		if t == tag {
			return true
		}
	}
	return false
}

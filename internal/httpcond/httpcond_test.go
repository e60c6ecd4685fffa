package httpcond

import "testing"

func TestETagMatch(t *testing.T) {
	const tag = `"e-42"`
	for _, tc := range []struct {
		v            string
		weak, strong bool
	}{
		{`"e-42"`, true, true},
		{`*`, true, true},
		{` * `, true, true},
		{`W/"e-42"`, true, false},
		{`"x", W/"e-42"`, true, false},
		{`"x" ,"e-42" `, true, true},
		{`"x"`, false, false},
		{`e-42`, false, false},
		{`"e-4"`, false, false},
		{`"e-42"x`, false, false},
		{``, false, false},
		{`"x", *`, false, false},
	} {
		if got := ETagMatch(tc.v, tag, false); got != tc.weak {
			t.Errorf("ETagMatch(%q, weak) = %v, want %v", tc.v, got, tc.weak)
		}
		if got := ETagMatch(tc.v, tag, true); got != tc.strong {
			t.Errorf("ETagMatch(%q, strong) = %v, want %v", tc.v, got, tc.strong)
		}
	}
}

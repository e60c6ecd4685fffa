package publisher

import "testing"

// TestFrontPick: the Host's first label names the campaign, else the file
// name; a campaign whose name prefixes another's never takes its files.
func TestFrontPick(t *testing.T) {
	a, ab := &Publisher{cfg: Config{Campaign: "a"}}, &Publisher{cfg: Config{Campaign: "a-b"}}
	f, err := NewFront(a, ab)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add(&Publisher{cfg: Config{Campaign: "a"}}); err != ErrDuplicate {
		t.Errorf("a added twice: %v", err)
	}
	for _, tc := range []struct {
		host, path string
		want       *Publisher
	}{
		{"a.vote.example", "/a-b-vote.log", a}, // the Host decides
		{"A-B.vote.example:443", "/a-vote.log", ab},
		{"127.0.0.1:8443", "/a-b-vote.log", ab},
		{"127.0.0.1:8443", "/a-b-auth.log", ab},
		{"127.0.0.1:8443", "/a-vote.log", a},
		{"127.0.0.1:8443", "/a-vote.checkpoint", a},
		{"127.0.0.1:8443", "/c-vote.log", nil},
		{"127.0.0.1:8443", "/", nil},
	} {
		if got := f.pick([]byte(tc.host), []byte(tc.path)); got != tc.want {
			t.Errorf("Host %s path %s: %v, want %v", tc.host, tc.path, got, tc.want)
		}
	}
}

package edge

import (
	"errors"
	"testing"
)

// TestListsFromURL: the publisher's URL is an absolute http or https URL
// of a host, nothing more; anything else is refused with ErrListsURL.
func TestListsFromURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://10.0.0.4:8443", true},
		{"https://lists.example.org", true},
		{"http://127.0.0.1:8443/", true},
		{"", false},
		{"10.0.0.4:8443", false},
		{"ftp://10.0.0.4", false},
		{"http://", false},
		{"http://10.0.0.4:8443/lists", false},
		{"http://10.0.0.4:8443/?x=1", false},
		{"http://10.0.0.4:8443/#top", false},
		{"http://user:pw@10.0.0.4:8443", false},
		{"http://[::1", false},
	} {
		h, err := ListsFrom(tc.url)
		if tc.ok != (err == nil) || tc.ok != (h != nil) {
			t.Errorf("ListsFrom(%q) = handler %v, %v; want ok %v", tc.url, h != nil, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrListsURL) {
			t.Errorf("ListsFrom(%q): %v does not wrap ErrListsURL", tc.url, err)
		}
	}
}

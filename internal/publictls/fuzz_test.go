package publictls

import (
	"crypto/tls"
	"errors"
	"testing"
)

// FuzzMatches checks that the early check of a pair (matches) agrees
// with tls.X509KeyPair, which decides in the end: it never refuses a pair
// X509KeyPair accepts, and never calls a pair X509KeyPair accepts a
// mismatch.
func FuzzMatches(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		err := matches(certPEM, keyPEM)
		if err != nil && !errors.Is(err, ErrMismatch) {
			t.Fatalf("matches: %v, want nil or ErrMismatch", err)
		}
		if _, perr := tls.X509KeyPair(certPEM, keyPEM); perr == nil && err != nil {
			t.Fatalf("matches refused a pair tls.X509KeyPair accepts: %v", err)
		}
	})
}

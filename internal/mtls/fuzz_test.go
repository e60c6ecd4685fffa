package mtls

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/url"
	"testing"
)

// FuzzParseCertPEM: ParseCertPEM never panics, and what it accepts
// encodes with CertPEM to a text that parses to the same DER bytes.
// Seeds: testdata/fuzz/FuzzParseCertPEM.
func FuzzParseCertPEM(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCertPEM(text)
		if err != nil {
			return
		}
		again, err := ParseCertPEM(CertPEM(c))
		if err != nil {
			t.Fatalf("CertPEM of an accepted certificate does not parse: %v", err)
		}
		if string(again.Raw) != string(c.Raw) {
			t.Fatalf("re-encoded certificate has other bytes:\n%x\n%x", again.Raw, c.Raw)
		}
	})
}

// FuzzPeerOf signs a certificate whose URI SAN is the fuzzed text: PeerOf
// never panics, and a Peer it reads names itself, so that the certificate
// with p.URI() reads as p again. Seeds: testdata/fuzz/FuzzPeerOf.
func FuzzPeerOf(f *testing.F) {
	ca := newCA(f, campaign)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	f.Fuzz(func(t *testing.T, uri string) {
		u, err := url.Parse(uri)
		if err != nil {
			return
		}
		c, err := signURIs(t, ca, pub, u)
		if err != nil {
			return // x509 refuses to carry it
		}
		p, err := PeerOf(c)
		if err != nil {
			return
		}
		if !p.Covers(p) {
			t.Fatalf("%#v does not cover itself", p)
		}
		c2, err := signURIs(t, ca, pub, p.URI())
		if err != nil {
			t.Fatalf("PeerOf(%q) = %#v, whose URI %q x509 cannot carry: %v", uri, p, p.URI(), err)
		}
		p2, err := PeerOf(c2)
		if err != nil || p2 != p {
			t.Fatalf("PeerOf(%q) = %#v, but PeerOf(its URI %q) = %#v, %v", uri, p, p.URI(), p2, err)
		}
	})
}

package mtls_test

import (
	"fmt"
	"time"

	"github.com/powvote/powvote/internal/mtls"
)

// The operator's CA issues collector 3 its certificate; whoever reads the
// certificate learns the Peer it names.
func ExampleCA_Issue() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ca, err := mtls.NewCA("demo", now)
	if err != nil {
		fmt.Println(err)
		return
	}
	cert, err := ca.Issue(mtls.Peer{Campaign: "demo", Role: "collector", Instance: 3}, now, mtls.CertLifetime)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := mtls.PeerOf(cert.Leaf)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cert.Leaf.URIs[0])
	fmt.Println(p)
	fmt.Println("signed by the CA:", cert.Leaf.CheckSignatureFrom(ca.Cert) == nil)
	fmt.Println("valid until:", cert.Leaf.NotAfter.Format(time.RFC3339))
	fmt.Println("may act as collector 3:", p.Covers(mtls.Peer{Campaign: "demo", Role: "collector", Instance: 3}))
	fmt.Println("may act as collector 0:", p.Covers(mtls.Peer{Campaign: "demo", Role: "collector", Instance: 0}))
	fmt.Println("may act as any collector:", p.Covers(mtls.Peer{Campaign: "demo", Role: "collector", Instance: mtls.AnyInstance}))
	// Output:
	// powvote://demo/collector/3
	// collector 3 of campaign demo
	// signed by the CA: true
	// valid until: 2026-05-30T12:00:00Z
	// may act as collector 3: true
	// may act as collector 0: false
	// may act as any collector: true
}

package campaign

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/powvote/powvote/internal/durable"
	"github.com/powvote/powvote/internal/mtls"
	"github.com/powvote/powvote/keyfile"
)

// A process's own certificate and key for the internal links, in
// SecretsDir of a directory Export wrote for its role. A directory that
// holds every secret has none: it holds the CA's key instead, and Link
// issues the process a certificate in memory.
const (
	fileLinkCert = "internal.crt"
	fileLinkKey  = "internal.key"
)

// ExportOptions says what certificate Export issues.
type ExportOptions struct {
	// Instance limits a collector's certificate to one instance (its
	// twin alone may then GET /sync from the other); mtls.AnyInstance
	// makes one certificate for every collector machine.
	Instance int
	// Lifetime of the certificate; zero means mtls.CertLifetime.
	Lifetime time.Duration
	// Now is when it starts; zero means time.Now().
	Now time.Time
}

// AnyInstance are the options of Export: a certificate of the default
// lifetime, for any instance of a collector.
var AnyInstance = ExportOptions{Instance: mtls.AnyInstance}

func (o ExportOptions) peer(c *Campaign, role Role) (mtls.Peer, error) {
	p := mtls.Peer{Campaign: c.Settings.Name, Role: string(role), Instance: o.Instance}
	if role != RoleCollector && o.Instance != mtls.AnyInstance {
		return p, fmt.Errorf("campaign: role %s has no instances", role)
	}
	if o.Instance < mtls.AnyInstance {
		return p, fmt.Errorf("campaign: instance %d is negative", o.Instance)
	}
	return p, nil
}

// issueLink makes the certificate o asks for, with c's CA.
func issueLink(c *Campaign, role Role, o ExportOptions) (*mtls.Cert, error) {
	p, err := o.peer(c, role)
	if err != nil {
		return nil, err
	}
	if c.Secrets.LinkCAKey == nil || c.Secrets.LinkCACert == nil {
		return nil, fmt.Errorf("campaign: %s lacks the internal CA's key (%s): export from the directory powvote init made", c.Dir, fileLinkCAKey)
	}
	if o.Lifetime == 0 {
		o.Lifetime = mtls.CertLifetime
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	ca := mtls.CA{Cert: c.Secrets.LinkCACert, Key: c.Secrets.LinkCAKey}
	return ca.Issue(p, o.Now, o.Lifetime)
}

// writeLink writes a certificate and its key into sdir. Each file is
// written beside and renamed into place, the key first, so that a process
// reloading at any moment finds either the old pair or the new one's
// certificate with its key (Link refuses a certificate whose key does not
// match, and keeps the old one).
func writeLink(sdir string, cert *mtls.Cert) error {
	for _, f := range []struct {
		name  string
		write func(string) error
	}{
		{fileLinkKey, func(p string) error { return keyfile.WriteEd25519(p, cert.Key) }},
		{fileLinkCert, func(p string) error { return keyfile.WriteText(p, strings.TrimSpace(mtls.CertPEM(cert.Leaf))) }},
	} {
		final := filepath.Join(sdir, f.name)
		tmp := final + ".new"
		os.Remove(tmp)
		if err := f.write(tmp); err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
	}
	if err := durable.SyncDir(sdir); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	return nil
}

// RenewLink writes a fresh certificate and key for role into dir/<name>, a
// directory Export wrote for that role before: the rotation path of the
// internal links' certificates. The process reloads them on SIGHUP.
func RenewLink(c *Campaign, role Role, dir string, o ExportOptions) error {
	x, err := LoadRole(dir, c.Settings.Name, role)
	if err != nil {
		return err
	}
	if x.Secrets.LinkCACert == nil || !x.Secrets.LinkCACert.Equal(c.Secrets.LinkCACert) {
		return fmt.Errorf("campaign: %s holds another internal CA than %s", x.Dir, c.Dir)
	}
	cert, err := issueLink(c, role, o)
	if err != nil {
		return err
	}
	return writeLink(filepath.Join(x.Dir, SecretsDir), cert)
}

// ErrNoLink means a directory holds neither a certificate for the internal
// links nor the CA's key to issue one.
var ErrNoLink = errors.New("no certificate for the internal links")

// Link returns the credentials of role's process for the internal links
// (package mtls): for a collector, instance is its instance; for the other
// roles mtls.AnyInstance. From a directory Export wrote, the certificate
// and key are its files, read again on Reload (rotation: RenewLink, then
// SIGHUP). From the directory that holds every secret, the process gets a
// certificate issued in memory with the CA's key, which it then forgets;
// Reload issues a fresh one.
func (c *Campaign) Link(role Role, instance int) (*mtls.Link, error) {
	sdir := filepath.Join(c.Dir, SecretsDir)
	self := mtls.Peer{Campaign: c.Settings.Name, Role: string(role), Instance: instance}
	if _, err := os.Stat(filepath.Join(sdir, fileLinkCert)); err == nil {
		return mtls.New(self, func() (*mtls.Cert, *x509.Certificate, error) { return readLink(sdir) })
	}
	if _, err := os.Stat(filepath.Join(sdir, fileLinkCAKey)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("campaign: %s: %w (%s): export the role again (powvote export --role %s)", sdir, ErrNoLink, fileLinkCert, role)
		}
		return nil, fmt.Errorf("campaign: %w", err)
	}
	o := ExportOptions{Instance: instance}
	if role != RoleCollector {
		o.Instance = mtls.AnyInstance
	}
	return mtls.New(self, func() (*mtls.Cert, *x509.Certificate, error) {
		var sec Secrets
		for _, f := range []string{fileLinkCACert, fileLinkCAKey} {
			if err := secretFiles[f].read(filepath.Join(sdir, f), &sec); err != nil {
				return nil, nil, fmt.Errorf("campaign: %w", err)
			}
		}
		defer clear(sec.LinkCAKey)
		cert, err := issueLink(&Campaign{Dir: c.Dir, Settings: c.Settings, Secrets: &sec}, role, o)
		if err != nil {
			return nil, nil, err
		}
		return cert, sec.LinkCACert, nil
	})
}

// readLink reads an exported role's certificate, key and CA certificate.
func readLink(sdir string) (*mtls.Cert, *x509.Certificate, error) {
	var sec Secrets
	if err := secretFiles[fileLinkCACert].read(filepath.Join(sdir, fileLinkCACert), &sec); err != nil {
		return nil, nil, fmt.Errorf("campaign: %w", err)
	}
	text, err := keyfile.ReadText(filepath.Join(sdir, fileLinkCert))
	if err != nil {
		return nil, nil, fmt.Errorf("campaign: %w", err)
	}
	leaf, err := mtls.ParseCertPEM(text)
	if err != nil {
		return nil, nil, fmt.Errorf("campaign: %s: %w", fileLinkCert, err)
	}
	key, err := keyfile.ReadEd25519(filepath.Join(sdir, fileLinkKey))
	if err != nil {
		return nil, nil, fmt.Errorf("campaign: %w", err)
	}
	return &mtls.Cert{Leaf: leaf, Key: key}, sec.LinkCACert, nil
}

// EnsureLinkCA gives a campaign directory made before the internal links
// had their CA (it held a shared pass secret instead) a CA of its own, so
// that powvote up resumes it.
func EnsureLinkCA(dir, name string) error {
	sdir, err := secretsDir(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(sdir, fileLinkCACert)); err == nil {
		return nil
	}
	ca, err := mtls.NewCA(name, time.Now())
	if err != nil {
		return err
	}
	sec := Secrets{LinkCACert: ca.Cert, LinkCAKey: ca.Key}
	for _, f := range []string{fileLinkCAKey, fileLinkCACert} {
		if err := secretFiles[f].write(filepath.Join(sdir, f), &sec); err != nil {
			return fmt.Errorf("campaign: %w", err)
		}
	}
	if err := durable.SyncDir(sdir); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	return nil
}

package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Certs are throwaway PEM files for TLS tests, made with crypto/x509 in a
// temp dir: no openssl process, and an expired certificate is just a
// NotAfter in the past.
type Certs struct {
	CA                      string // the CA that signed the server and client certificates
	OtherCA                 string // an unrelated CA: trusting only it must fail
	ServerCert, ServerKey   string // for 127.0.0.1 and localhost
	ExpiredCert, ExpiredKey string // a server certificate that expired yesterday
	ClientCert, ClientKey   string // for mutual TLS
}

// MakeCerts writes a CA, server, expired server and client certificates.
func MakeCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, blockType string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyPEM := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "EC PRIVATE KEY", der)
	}
	serial := int64(1)
	sign := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, der
	}
	now := time.Now()
	ca := func(name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
		k := newKey()
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		c, der := sign(tmpl, tmpl, &k.PublicKey, k)
		return c, k, write(name+".pem", "CERTIFICATE", der)
	}
	caCert, caKey, caPath := ca("tradecache-test-ca")
	_, _, otherPath := ca("unrelated-ca")
	leaf := func(name string, notAfter time.Time, usage x509.ExtKeyUsage) (string, string) {
		k := newKey()
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-48 * time.Hour), NotAfter: notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
		_, der := sign(tmpl, caCert, &k.PublicKey, caKey)
		return write(name+".pem", "CERTIFICATE", der), keyPEM(name+".key", k)
	}
	c := &Certs{CA: caPath, OtherCA: otherPath}
	c.ServerCert, c.ServerKey = leaf("server", now.Add(24*time.Hour), x509.ExtKeyUsageServerAuth)
	c.ExpiredCert, c.ExpiredKey = leaf("expired", now.Add(-24*time.Hour), x509.ExtKeyUsageServerAuth)
	c.ClientCert, c.ClientKey = leaf("client", now.Add(24*time.Hour), x509.ExtKeyUsageClientAuth)
	return c
}

// StartTLS starts a redis-server that listens only on a TLS port, serving
// cert and key, and requiring client certificates signed by certs.CA when
// mutual is set.
func StartTLS(t testing.TB, certs *Certs, cert, key string, mutual bool, opts ...Option) *Server {
	t.Helper()
	auth := "no"
	if mutual {
		auth = "yes"
	}
	ping := &tls.Config{InsecureSkipVerify: true} // the harness checks liveness, not trust
	if mutual {
		kp, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		ping.Certificates = []tls.Certificate{kp}
	}
	return startWith(t, func(port int) []string {
		return []string{"--port", "0", "--tls-port", strconv.Itoa(port), "--tls-cert-file", cert, "--tls-key-file", key,
			"--tls-ca-cert-file", certs.CA, "--tls-auth-clients", auth}
	}, ping, opts)
}

// harnessTLS is how the harness itself speaks to TLS servers: it checks
// liveness and drives them, it does not test trust.
var harnessTLS = &tls.Config{InsecureSkipVerify: true}

// tlsAddrs holds the addresses of TLS-only servers the harness started.
var tlsAddrs sync.Map

// TLSOptions make a server TLS-only, serving certs' server certificate:
// its port becomes a TLS port, replication and the cluster bus use TLS
// too, and client certificates are not required. For StartCluster and
// StartSentinelWith's data nodes.
func TLSOptions(certs *Certs) []Option {
	return []Option{
		{"port", "0"}, {"tls-port", PortVar},
		{"tls-cert-file", certs.ServerCert}, {"tls-key-file", certs.ServerKey}, {"tls-ca-cert-file", certs.CA},
		// The server certificate is for servers only (ExtKeyUsage
		// ServerAuth); a node dialing a peer's bus or its master presents
		// the client certificate instead.
		{"tls-client-cert-file", certs.ClientCert}, {"tls-client-key-file", certs.ClientKey},
		{"tls-auth-clients", "no"}, {"tls-replication", "yes"}, {"tls-cluster", "yes"},
	}
}

package main

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
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testCert makes a self-signed certificate for 127.0.0.1 with the given
// serial number, and returns it with its PEM certificate and key.
func testCert(t *testing.T, serial int64) (*x509.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "facevault test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestServeTLS: with --tls-cert and --tls-key, serve answers HTTPS only,
// over HTTP/2, refuses TLS 1.1, and on SIGHUP serves a new certificate to
// new connections while an open connection goes on; a reload that fails
// keeps the certificate in use.
func TestServeTLS(t *testing.T) {
	bin := buildFacevault(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert := func(certPEM, keyPEM []byte) {
		t.Helper()
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, aCert, aKey := testCert(t, 1)
	b, bCert, bKey := testCert(t, 2)
	writeCert(aCert, aKey)
	p := startServeProcess(t, bin, childEnv(), "--data", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)

	roots := x509.NewCertPool()
	roots.AddCert(a)
	roots.AddCert(b)
	newClient := func() *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	}
	get := func(c *http.Client) *http.Response {
		t.Helper()
		res, err := c.Get("https://" + p.addr + "/healthz")
		if err != nil {
			t.Fatalf("GET over HTTPS: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz over HTTPS: %d", res.StatusCode)
		}
		return res
	}
	serial := func(res *http.Response) int64 { return res.TLS.PeerCertificates[0].SerialNumber.Int64() }

	open := newClient()
	res := get(open)
	if res.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", res.Proto)
	}
	if serial(res) != 1 {
		t.Errorf("certificate %d, want the first", serial(res))
	}
	old := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + p.addr + "/healthz"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	if res, err := http.Get("http://" + p.addr + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Error("plain HTTP was served")
		}
	}

	writeCert(bCert, bKey)
	if err := syscall.Kill(p.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for serial(get(newClient())) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("new connections still get the first certificate 10s after SIGHUP\nlog:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res := get(open); serial(res) != 1 {
		t.Errorf("the connection opened before the reload now shows certificate %d: it was dropped", serial(res))
	}

	writeCert([]byte("not a certificate"), bKey)
	if err := syscall.Kill(p.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "TLS certificate not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the failed reload\nlog:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res := get(newClient()); serial(res) != 2 {
		t.Errorf("after a failed reload: certificate %d, want the second still", serial(res))
	}
	p.stop(t)
}

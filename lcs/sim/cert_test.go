package sim_test

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"cutover/lcs/sim"
)

// served starts a simulator keeping its certificate in dir and returns the certificate file's
// bytes and the certificate the server presents in a TLS handshake.
func served(t *testing.T, dir string) (file, presented []byte) {
	t.Helper()
	s := sim.New(sim.Options{CertDir: dir})
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.CertFile() != filepath.Join(dir, sim.CertFileName) {
		t.Fatalf("CertFile %q", s.CertFile())
	}
	file, err = os.ReadFile(s.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, s.CertPEM()) {
		t.Fatal("CertPEM is not the kept certificate")
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(u, "https://"), &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("a client trusting the kept certificate: %v", err)
	}
	defer conn.Close()
	return file, conn.ConnectionState().PeerCertificates[0].Raw
}

// TestCertificateKeptAcrossRestarts: with CertDir, a restarted simulator serves the certificate
// it served before (a client that trusted it keeps trusting it), its key private to its owner;
// a kept pair that no longer loads is replaced.
func TestCertificateKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	first, served1 := served(t, dir)
	second, served2 := served(t, dir)
	if !bytes.Equal(first, second) || !bytes.Equal(served1, served2) {
		t.Fatal("the restarted simulator made a new certificate")
	}
	block, _ := pem.Decode(first)
	if block == nil || !bytes.Equal(block.Bytes, served1) {
		t.Fatal("the simulator serves another certificate than the file clients trust")
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(filepath.Join(dir, sim.KeyFileName)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("the key: %v %v", fi.Mode(), err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, sim.KeyFileName), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	third, served3 := served(t, dir)
	if bytes.Equal(third, first) || bytes.Equal(served3, served1) {
		t.Fatal("a certificate whose key is lost must be replaced")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

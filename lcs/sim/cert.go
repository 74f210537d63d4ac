package sim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names of the files Options.CertDir keeps.
const (
	// CertFileName is the certificate (PEM): the file clients trust.
	CertFileName = "lcs-sim.pem"
	// KeyFileName is its private key (PEM, PKCS #8, mode 0600).
	KeyFileName = "lcs-sim-key.pem"
)

// Kept certificates are made for a year and replaced within a month of their end (as sql/tdssim's).
const (
	keptValidity = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// CertFile is the kept certificate's path ("" without Options.CertDir).
func (s *Server) CertFile() string {
	if s.opts.CertDir == "" {
		return ""
	}
	return filepath.Join(s.opts.CertDir, CertFileName)
}

// loadOrCreateCert returns the certificate kept in dir when it still serves host (valid now and
// for another month, for the loopback names and host), else makes one and keeps it: the key
// first, so a certificate is never left without its key.
func loadOrCreateCert(dir, host string, now time.Time) (tls.Certificate, []byte, error) {
	certPath, keyPath := filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
	if cert, err := loadCert(certPath, keyPath, host, now); err == nil {
		return cert, cert.Certificate[0], nil
	}
	cert, der, err := selfSigned(host, now, keptValidity)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("encode key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("certificate directory: %w", err)
	}
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, nil, err
	}
	// The certificate is public: clients of other users read it.
	if err := writeAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, nil, err
	}
	return cert, der, nil
}

// loadCert reads a kept certificate and key and checks that they still serve host.
func loadCert(certPath, keyPath, host string, now time.Time) (tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return tls.Certificate{}, err
	}
	if now.Before(leaf.NotBefore) || now.Add(renewBefore).After(leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("certificate valid %v to %v", leaf.NotBefore, leaf.NotAfter)
	}
	names := []string{"127.0.0.1", "localhost"}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		names = append(names, host)
	}
	for _, name := range names {
		if err := leaf.VerifyHostname(name); err != nil {
			return tls.Certificate{}, err
		}
	}
	pair.Leaf = leaf
	return pair, nil
}

// writeAtomic replaces path with data: a reader sees the old file or the new one, never half.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

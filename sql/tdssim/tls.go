package tdssim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SelfSignedTLS generates an ECDSA P-256 self-signed certificate valid for
// 127.0.0.1, ::1 and localhost, writes the certificate (not the key) as
// PEM to certPEMPath, and returns a server tls.Config using it. A client
// trusts the server with the DSN options encrypt=true and
// certificate=<certPEMPath> (see WithCertificate).
func SelfSignedTLS(certPEMPath string) (*tls.Config, error) {
	key, der, err := newSelfSigned(time.Now())
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certPEMPath, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("tdssim: write certificate: %w", err)
	}
	return serverTLS(key, der)
}

// Names of the files LoadOrCreateTLS keeps in its directory.
const (
	// CertFileName is the certificate (PEM), the file clients trust.
	CertFileName = "tdssim-cert.pem"
	// KeyFileName is its private key (PEM, PKCS #8, mode 0600).
	KeyFileName = "tdssim-key.pem"
)

// renewBefore is how long before it expires a kept certificate is replaced.
const renewBefore = 30 * 24 * time.Hour

// LoadOrCreateTLS returns a server tls.Config whose self-signed certificate
// (for 127.0.0.1, ::1 and localhost) and key are kept in dir, so a client
// that trusts the certificate once keeps trusting it across restarts. It
// makes them (and dir) when they are missing, unreadable, not a pair, or
// within 30 days of expiry; certPath is the certificate's PEM file.
func LoadOrCreateTLS(dir string) (cfg *tls.Config, certPath string, err error) {
	certPath, keyPath := filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
	if cfg, err := loadTLS(certPath, keyPath, time.Now()); err == nil {
		return cfg, certPath, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("tdssim: certificate directory: %w", err)
	}
	key, der, err := newSelfSigned(time.Now())
	if err != nil {
		return nil, "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("tdssim: encode key: %w", err)
	}
	// The key first: a certificate without its key is never left behind
	// as if it were usable.
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, "", err
	}
	// The certificate is public: clients of other users read it.
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, "", err
	}
	cfg, err = serverTLS(key, der)
	return cfg, certPath, err
}

// loadTLS reads a kept certificate and key and checks that they still serve.
func loadTLS(certPath, keyPath string, now time.Time) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("tdssim: load certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tdssim: parse certificate: %w", err)
	}
	if now.Add(renewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("tdssim: certificate valid %v to %v", leaf.NotBefore, leaf.NotAfter)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := leaf.VerifyHostname(host); err != nil {
			return nil, fmt.Errorf("tdssim: certificate: %w", err)
		}
	}
	pair.Leaf = leaf
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("tdssim: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("tdssim: write %s: %w", path, err)
	}
	return nil
}

func serverTLS(key *ecdsa.PrivateKey, der []byte) (*tls.Config, error) {
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tdssim: parse certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// newSelfSigned makes a key and a self-signed certificate for the loopback
// names, valid for a year from now.
func newSelfSigned(now time.Time) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tdssim: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("tdssim: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"tdssim"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tdssim: create certificate: %w", err)
	}
	return key, der, nil
}

// handshakeConn carries TLS handshake records inside TDS PRELOGIN packets,
// as the driver's tlsHandshakeConn expects: outgoing records are buffered
// and sent as one PRELOGIN message (split into packets no larger than
// 512 bytes, EOM on the last) whenever the TLS stack wants to read;
// incoming PRELOGIN packet payloads are returned as the record stream.
// After the handshake it is switched to pass-through, so the same
// tls.Conn then runs directly over the socket.
type handshakeConn struct {
	net.Conn
	pr          *packetReader
	pw          *packetWriter
	pending     []byte
	in          []byte
	passthrough bool
}

// Read returns handshake bytes from PRELOGIN packets, first flushing any
// pending outgoing handshake bytes.
func (h *handshakeConn) Read(b []byte) (int, error) {
	if h.passthrough {
		return h.Conn.Read(b)
	}
	if err := h.flush(); err != nil {
		return 0, err
	}
	for len(h.in) == 0 {
		typ, _, payload, err := h.pr.readPacket()
		if err != nil {
			return 0, err
		}
		if typ != pktPrelogin {
			return 0, fmt.Errorf("%w: packet type %#x during TLS handshake", errProtocol, byte(typ))
		}
		h.in = payload
	}
	n := copy(b, h.in)
	h.in = h.in[n:]
	return n, nil
}

// Write buffers outgoing handshake bytes until the next Read or flush.
func (h *handshakeConn) Write(b []byte) (int, error) {
	if h.passthrough {
		return h.Conn.Write(b)
	}
	h.pending = append(h.pending, b...)
	return len(b), nil
}

// flush sends pending handshake bytes as one PRELOGIN message.
func (h *handshakeConn) flush() error {
	if len(h.pending) == 0 {
		return nil
	}
	m := newMsgWriter(h.pw, pktPrelogin, handshakePacketSize)
	m.buf = h.pending
	h.pending = nil
	return m.finish()
}

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
	"time"
)

// SelfSignedTLS generates an ECDSA P-256 self-signed certificate valid for
// 127.0.0.1, ::1 and localhost, writes the certificate (not the key) as
// PEM to certPEMPath, and returns a server tls.Config using it. A client
// trusts the server with the DSN options encrypt=true and
// certificate=<certPEMPath> (see WithCertificate).
func SelfSignedTLS(certPEMPath string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tdssim: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("tdssim: serial: %w", err)
	}
	now := time.Now()
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
		return nil, fmt.Errorf("tdssim: create certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certPEMPath, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("tdssim: write certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tdssim: parse certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion:   tls.VersionTLS12,
	}, nil
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

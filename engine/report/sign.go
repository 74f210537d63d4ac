package report

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SignatureNamespace is the namespace of a report's SSH signature: what `ssh-keygen -Y verify`
// needs as -n, so a signature made for anything else (a git commit, a file of another tool) is
// never taken for a report's.
const SignatureNamespace = "cutover-report"

// SignatureExt is appended to a report's path to name its signature file.
const SignatureExt = ".sig"

// Sign signs a report's bytes with an SSH key and returns the armored signature, the format of
// `ssh-keygen -Y sign` (SHA-512; RSA keys sign with rsa-sha2-512), so anyone can check it with
// OpenSSH alone. The report carries the journal's head hash, so the signature vouches for the
// whole journal as well.
func Sign(report []byte, signer ssh.Signer) ([]byte, error) {
	sig, err := sshsig.Sign(bytes.NewReader(report), signer, sshsig.HashSHA512, SignatureNamespace)
	if err != nil {
		return nil, fmt.Errorf("sign the report: %w", err)
	}
	return sshsig.Armor(sig), nil
}

// VerifySignature checks an armored SSH signature (ours or `ssh-keygen -Y sign`'s, namespace
// SignatureNamespace) over a report's bytes and returns the key that made it. Who owns the key
// is for the caller to decide (the team file).
func VerifySignature(report, armored []byte) (ssh.PublicKey, error) {
	sig, err := sshsig.Unarmor(armored)
	if err != nil {
		return nil, fmt.Errorf("read the signature: %w", err)
	}
	if sig.Namespace != SignatureNamespace {
		return nil, fmt.Errorf("the signature was made for %q, not for a cutover report (%q)", sig.Namespace, SignatureNamespace)
	}
	if err := sshsig.Verify(bytes.NewReader(report), sig, sig.PublicKey, sig.HashAlgorithm, SignatureNamespace); err != nil {
		return nil, fmt.Errorf("the signature does not match the report (changed since it was signed, or signed over another file): %w", err)
	}
	return sig.PublicKey, nil
}

// ErrPassphrase says a private key is protected by a passphrase and none could be asked for.
var ErrPassphrase = errors.New("the key is protected by a passphrase")

// LoadSigner returns the signer named by path, as `ssh-keygen -Y sign -f` takes it: a private key
// file (OpenSSH, PEM or PKCS#8; ask is called for the passphrase of a protected one, and may be
// nil when there is no one to ask), or a public key file (.pub) whose private half the SSH agent
// at agentSock (normally $SSH_AUTH_SOCK) holds.
func LoadSigner(path, agentSock string, ask func(prompt string) ([]byte, error)) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
		return agentSigner(path, pub, agentSock)
	}
	signer, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		if ask == nil {
			return nil, fmt.Errorf("signing key %s: %w: give its .pub with the key loaded in ssh-agent (ssh-add), or sign on a terminal", path, ErrPassphrase)
		}
		pass, aerr := ask(fmt.Sprintf("passphrase for %s: ", path))
		if aerr != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, aerr)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(b, pass)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("signing key %s: not an SSH private or public key: %w", path, err)
	}
	return signer, nil
}

// agentSigner finds pub's signer in the SSH agent.
func agentSigner(path string, pub ssh.PublicKey, sock string) (ssh.Signer, error) {
	fp := ssh.FingerprintSHA256(pub)
	if sock == "" {
		return nil, fmt.Errorf("signing key %s is a public key (%s) and no SSH agent is running (SSH_AUTH_SOCK is empty): start one and ssh-add the key, or give the private key file", path, fp)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: reach the SSH agent at %s: %w", path, sock, err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("signing key %s: list the SSH agent's keys: %w", path, err)
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s, nil // the connection stays open for the signature; it ends with the process
		}
	}
	conn.Close()
	return nil, fmt.Errorf("signing key %s (%s) is not in the SSH agent: ssh-add its private key", path, fp)
}

// KeyName describes a key for a person: its type and SHA-256 fingerprint.
func KeyName(pub ssh.PublicKey) string {
	return strings.ToUpper(strings.TrimPrefix(pub.Type(), "ssh-")) + " " + ssh.FingerprintSHA256(pub)
}

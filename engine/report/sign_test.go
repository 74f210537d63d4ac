package report

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

const reportText = "# Cutover report\n\nJournal head: 9f2c…\n"

func newEd25519(t *testing.T) (ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, priv
}

// TestSignAndVerify: a signature names its key; a changed report, another namespace's signature
// or garbage fail with a reason.
func TestSignAndVerify(t *testing.T) {
	signer, _ := newEd25519(t)
	sig, err := Sign([]byte(reportText), signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sig, []byte("-----BEGIN SSH SIGNATURE-----")) {
		t.Fatalf("not armored: %s", sig)
	}
	pub, err := VerifySignature([]byte(reportText), sig)
	if err != nil || !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		t.Fatalf("verify: %v", err)
	}
	if _, err := VerifySignature([]byte(strings.Replace(reportText, "9f2c", "9f2d", 1)), sig); err == nil || !strings.Contains(err.Error(), "does not match the report") {
		t.Fatalf("a changed report: %v", err)
	}
	other, err := sshsig.Sign(strings.NewReader(reportText), signer, sshsig.HashSHA512, "git")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifySignature([]byte(reportText), sshsig.Armor(other)); err == nil || !strings.Contains(err.Error(), `made for "git"`) {
		t.Fatalf("another namespace: %v", err)
	}
	if _, err := VerifySignature([]byte(reportText), []byte("not a signature")); err == nil || !strings.Contains(err.Error(), "read the signature") {
		t.Fatalf("garbage: %v", err)
	}
}

// sshKeygen generates a key pair with OpenSSH's ssh-keygen and returns the private key's path.
func sshKeygen(t *testing.T, typ, passphrase string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_"+typ)
	args := []string{"-q", "-t", typ, "-N", passphrase, "-C", "ana@jumpbox", "-f", path}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return path
}

func needSSHKeygen(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen (OpenSSH) is not installed; CI installs openssh-client")
	}
}

// TestSignaturesAgreeWithOpenSSH: what Sign makes, `ssh-keygen -Y verify` accepts (ed25519 and RSA
// keys that ssh-keygen made, loaded by LoadSigner), and what `ssh-keygen -Y sign` makes,
// VerifySignature accepts.
func TestSignaturesAgreeWithOpenSSH(t *testing.T) {
	needSSHKeygen(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "evidence.md")
	if err := os.WriteFile(doc, []byte(reportText), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			key := sshKeygen(t, typ, "")
			signer, err := LoadSigner(key, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := Sign([]byte(reportText), signer)
			if err != nil {
				t.Fatal(err)
			}
			sigPath := doc + SignatureExt
			if err := os.WriteFile(sigPath, sig, 0o600); err != nil {
				t.Fatal(err)
			}
			pubLine, err := os.ReadFile(key + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			allowed := filepath.Join(dir, "allowed_signers")
			if err := os.WriteFile(allowed, append([]byte("ana "), pubLine...), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "ana", "-n", SignatureNamespace, "-s", sigPath)
			cmd.Stdin = strings.NewReader(reportText)
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Good") {
				t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
			}
			// And the other way round.
			if err := os.Remove(sigPath); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-f", key, "-n", SignatureNamespace, doc).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
			}
			theirs, err := os.ReadFile(sigPath)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := VerifySignature([]byte(reportText), theirs)
			if err != nil || !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
				t.Fatalf("verify ssh-keygen's signature: %v", err)
			}
		})
	}
}

// TestLoadSignerPassphrase: a protected key asks for its passphrase, and says how to do without
// when there is no one to ask.
func TestLoadSignerPassphrase(t *testing.T) {
	needSSHKeygen(t)
	key := sshKeygen(t, "ed25519", "correct horse")
	if _, err := LoadSigner(key, "", nil); !errors.Is(err, ErrPassphrase) || !strings.Contains(err.Error(), "ssh-add") {
		t.Fatalf("no one to ask: %v", err)
	}
	var prompt string
	ask := func(pass string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) { prompt = p; return []byte(pass), nil }
	}
	if _, err := LoadSigner(key, "", ask("wrong")); err == nil {
		t.Fatal("a wrong passphrase was taken")
	}
	s, err := LoadSigner(key, "", ask("correct horse"))
	if err != nil || s == nil || prompt != "passphrase for "+key+": " {
		t.Fatalf("%v (prompt %q)", err, prompt)
	}
	notKey := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notKey, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(notKey, "", nil); err == nil || !strings.Contains(err.Error(), "not an SSH private or public key") {
		t.Fatalf("not a key: %v", err)
	}
}

// TestLoadSignerFromAgent: a .pub signs through the SSH agent holding its private half.
func TestLoadSignerFromAgent(t *testing.T) {
	signer, priv := newEd25519(t)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	pubPath := filepath.Join(t.TempDir(), "id_ed25519.pub")
	if err := os.WriteFile(pubPath, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(pubPath, sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign([]byte(reportText), s)
	if err != nil {
		t.Fatal(err)
	}
	if pub, err := VerifySignature([]byte(reportText), sig); err != nil || ssh.FingerprintSHA256(pub) != ssh.FingerprintSHA256(signer.PublicKey()) {
		t.Fatalf("agent signature: %v", err)
	}

	stranger, _ := newEd25519(t)
	strangerPath := filepath.Join(t.TempDir(), "stranger.pub")
	if err := os.WriteFile(strangerPath, ssh.MarshalAuthorizedKey(stranger.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(strangerPath, sock, nil); err == nil || !strings.Contains(err.Error(), "is not in the SSH agent") {
		t.Fatalf("a key the agent lacks: %v", err)
	}
	if _, err := LoadSigner(pubPath, "", nil); err == nil || !strings.Contains(err.Error(), "no SSH agent is running") {
		t.Fatalf("no agent: %v", err)
	}
}

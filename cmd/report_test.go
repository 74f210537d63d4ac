package cmd

import (
	"bytes"
	"cutover/engine"
	"cutover/engine/team"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignedReport: the report of a finished run is signed with an operator's SSH key (one
// ssh-keygen made) into PATH.sig; --verify names the signer from the team file, and refuses a
// report changed after signing and a key outside the team.
func TestSignedReport(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen (OpenSSH) is not installed; CI installs openssh-client")
	}
	path := writeRunbook(t, "name: small\nrehearsal: true\nsteps:\n  - {id: a, title: A, kind: wait, with: {duration: 1ms}}\n")
	if code, out, errs := cli(t, "run", "--headless", "--yes", "-f", path); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
	dir := filepath.Dir(path)
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ana@jumpbox", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	line, err := team.Line(pub, "Ana", engine.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cutover-team.keys"), []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "evidence.html")

	if code, _, errs := cli(t, "report", "-f", path, "--sign", key); code != exitUsage || !strings.Contains(errs, "--sign needs -o PATH") {
		t.Fatalf("--sign without -o: %d %s", code, errs)
	}
	code, out, errs := cli(t, "report", "-f", path, "-o", doc, "--sign", key)
	if code != exitOK || !strings.Contains(out, "signed with ED25519 SHA256:") || !strings.Contains(out, "cutover report --verify "+doc) {
		t.Fatalf("sign: %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := cli(t, "report", "-f", path, "--verify", doc); code != exitOK || !strings.Contains(out, "good signature on "+doc+" by Ana (operator, ED25519 SHA256:") {
		t.Fatalf("verify: %d\n%s\n%s", code, out, errs)
	}
	// OpenSSH alone checks it too, as the output says.
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, append([]byte("ana@jumpbox "), pub...), 0o600); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "ana@jumpbox", "-n", "cutover-report", "-s", doc+".sig")
	cmd.Stdin = bytes.NewReader(html)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
	}

	// No team file: a valid signature by a key nobody vouches for is no proof.
	if code, out, errs := cli(t, "report", "--verify", doc, "--team", filepath.Join(dir, "missing.keys")); code != exitFail || out != "" || !strings.Contains(errs, "nothing says whose key") {
		t.Fatalf("no team file: %d %q %s", code, out, errs)
	}
	// Someone outside the team.
	if err := os.WriteFile(filepath.Join(dir, "other.keys"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "report", "--verify", doc, "--team", filepath.Join(dir, "other.keys")); code != exitFail || !strings.Contains(errs, "is not in") {
		t.Fatalf("a stranger's key: %d %s", code, errs)
	}
	// One character changed after signing.
	if err := os.WriteFile(doc, bytes.Replace(html, []byte("small"), []byte("smalL"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "report", "-f", path, "--verify", doc); code != exitFail || !strings.Contains(errs, "BAD SIGNATURE on "+doc) {
		t.Fatalf("a changed report: %d %s", code, errs)
	}
}

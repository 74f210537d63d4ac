package cmd

import (
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"cutover/demo"
	"cutover/demo/demotest"
	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
	"cutover/tui"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// sshKey is a teammate's key pair written as OpenSSH files.
type sshKey struct {
	path string // private key file (0600)
	pub  []byte // authorized_keys line
	fp   string
}

func newSSHKey(t *testing.T, dir, name string) sshKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{path: path, pub: gossh.MarshalAuthorizedKey(signer.PublicKey()), fp: gossh.FingerprintSHA256(signer.PublicKey())}
}

// serveOnSims starts simulators and `cutover serve` on them (polling every second) with a team
// of Ana and Ben (operators) and Vic (viewer). It returns the server's port, the keys and the
// journal's path.
type served struct {
	port          string
	ana, ben, vic sshKey
	stranger      sshKey
	journal       string
	sims          *demo.Simulators
	clk           *clock.Fake
}

func serveOnSims(t *testing.T, steps string, cfg sqlsim.Config) *served {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the end-to-end SSH tests use the OpenSSH client on a POSIX system")
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("the OpenSSH client is not installed (CI installs it): the end-to-end SSH tests need it")
	}
	sims, clk := demotest.Quiet(t, cfg)
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv(lcssim.PasswordEnv, lcssim.DefaultPassword)
	path := demotest.Runbook(t, sims, steps)
	dir := filepath.Dir(path)
	s := &served{sims: sims, clk: clk, journal: filepath.Join(dir, ".cutover", journal.FileName)}
	keys := t.TempDir()
	s.ana, s.ben, s.vic, s.stranger = newSSHKey(t, keys, "ana"), newSSHKey(t, keys, "ben"), newSSHKey(t, keys, "vic"), newSSHKey(t, keys, "stranger")
	for _, m := range []struct {
		k          sshKey
		name, role string
	}{{s.ana, "Ana", "operator"}, {s.ben, "Ben", "operator"}, {s.vic, "Vic", "viewer"}} {
		os.WriteFile(filepath.Join(keys, m.name+".pub"), m.k.pub, 0o600)
		if code, out, errs := cli(t, "team", "add", "-f", path, "--name", m.name, "--role", m.role, filepath.Join(keys, m.name+".pub")); code != 0 {
			t.Fatalf("team add: %s %s", out, errs)
		}
	}
	cmd := exec.Command(buildCutover(t), "serve", "-f", path, "--listen", "127.0.0.1:0", "--poll", "1s", "--backlog-poll", "1s")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	lines := streamLines(out)
	lines.expect(t, "ssh: the cockpit is served on ")
	line := lines.seen[len(lines.seen)-1]
	addr := strings.Fields(strings.SplitN(line, "served on ", 2)[1])[0]
	_, s.port, _ = net.SplitHostPort(addr)
	go lines.drain()
	return s
}

// sshArgs are the OpenSSH client's options for a key.
func (s *served) sshArgs(k sshKey, extra ...string) []string {
	return append([]string{"-p", s.port, "-i", k.path, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"}, extra...)
}

func (s *served) sshCommand(k sshKey) string {
	return "ssh -tt " + strings.Join(s.sshArgs(k, "-o", "SetEnv=NO_COLOR=1"), " ") + " cutover@127.0.0.1; sleep 600"
}

// sshExec runs a command over ssh and returns its output and exit code.
func (s *served) sshExec(t *testing.T, k sshKey, extra []string, command ...string) (string, int) {
	t.Helper()
	args := append(s.sshArgs(k, extra...), "cutover@127.0.0.1")
	out, err := exec.Command("ssh", append(args, command...)...).CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestSharedCockpitOverOpenSSH: an operator and a viewer see the same step change; the viewer
// cannot confirm and has no confirm key in its help; a two-approval step completes only after two
// distinct operators confirm in their own sessions; the journal names both with fingerprints.
func TestSharedCockpitOverOpenSSH(t *testing.T) {
	s := serveOnSims(t, `  - {id: prepare, title: Prepare the night, kind: gate, confirm: PREPARE}
  - {id: go-live, title: Go live, kind: gate, approvals: 2, confirm: GO LIVE, after: prepare}
`, sqlsim.Config{Tables: 200})
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it)")
	}
	ana := newTmux(t, 120, 40, s.sshCommand(s.ana))
	vic := ana.newSession("vic", 120, 40, s.sshCommand(s.vic))
	ana.waitFor(`c: confirm (type "PREPARE")`, "Ana(o")
	vic.waitFor("READ-ONLY", `waiting for an operator to type "PREPARE"`)

	// The viewer's confirm key does nothing, and its help has no confirm key.
	vic.keys("c")
	vic.keys("?")
	s2 := vic.waitFor("Keys — Runbook", "read-only session: actions are hidden")
	if strings.Contains(s2, "confirm step") {
		t.Fatalf("the viewer's help offers a confirm key:\n%s", s2)
	}
	vic.keys("Escape")
	vic.waitGone("Keys — Runbook")

	// The operator confirms; both sessions see the step change.
	ana.keys("c")
	ana.waitFor("type PREPARE to confirm")
	ana.text("PREPARE")
	ana.keys("Tab", "Enter")
	ana.waitFor("prepare confirmed by Ana")
	vic.waitFor("✓ succeeded prepare")

	// Two distinct operators for go-live: Ana's selection stays on prepare until she moves it.
	ana.goToCurrent("go-live", `c: confirm (type "GO LIVE")`)
	ana.keys("c")
	ana.waitFor("type GO LIVE to confirm")
	ana.text("GO LIVE")
	ana.keys("Tab", "Enter")
	ana.waitFor("your approval is 1 of 2")
	ben := ana.newSession("ben", 120, 40, s.sshCommand(s.ben))
	ben.waitFor("1 of 2 approved by Ana")
	// Ana again does not count. (A key without text first: it ends the type-ahead guard that
	// follows a dialog closed by the engine's answer, should Ben's session have joined that fast.)
	ana.keys("Right")
	ana.keys("c")
	ana.waitFor("type GO LIVE to confirm")
	// While Ana's dialog is open, Ben sees who holds the step.
	ben.waitFor("Ana (ssh 127.0.0.1, " + s.ana.fp + ") is confirming it now")
	ana.text("GO LIVE")
	ana.keys("Tab", "Enter")
	ana.waitFor("already confirmed")
	ana.keys("Escape")
	ben.waitGone("is confirming it now")
	ben.keys("c")
	ben.waitFor("type GO LIVE to confirm")
	ben.text("GO LIVE")
	ben.keys("Tab", "Enter")
	vic.waitFor("✓ succeeded go-live")

	recs, _, err := journal.ReadAll(s.journal)
	if err != nil {
		t.Fatal(err)
	}
	var approvers []string
	for _, r := range recs {
		var p engine.Approved
		if r.Step == "go-live" && r.Type == string(engine.RecApproved) && r.Decode(&p) == nil {
			approvers = append(approvers, p.Actor.Name+" "+p.Actor.Fingerprint)
		}
	}
	want := []string{"Ana " + s.ana.fp, "Ben " + s.ben.fp}
	if !reflect.DeepEqual(approvers, want) {
		t.Fatalf("go-live approved by %q, want %q", approvers, want)
	}
}

// TestSSHRefusesAndAnswersStatus: unknown keys and passwords are refused; `ssh … status` exits
// 0 for healthy replication, 1 or 2 when it lags, 3 when a source cannot be reached.
func TestSSHRefusesAndAnswersStatus(t *testing.T) {
	s := serveOnSims(t, "  - {id: wait, title: Wait, kind: manual}\n", sqlsim.Config{Tables: 200})
	out, code := s.sshExec(t, s.stranger, nil, "status")
	if code != 255 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("an unknown key: exit %d\n%s", code, out)
	}
	// Password and keyboard-interactive sign-in: BatchMode would keep OpenSSH from trying them at
	// all, so this client may ask (SSH_ASKPASS answers with a password), and its debug output
	// shows what the server offers.
	askpass := filepath.Join(t.TempDir(), "askpass")
	if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho cutover-sim\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	pw := exec.Command("ssh", "-v", "-p", s.port, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
		"-o", "NumberOfPasswordPrompts=1", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "cutover@127.0.0.1", "status")
	pw.Env = append(os.Environ(), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	pwOut, err := pw.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 255 || !strings.Contains(string(pwOut), "Permission denied (publickey)") ||
		!regexp.MustCompile(`Authentications that can continue: publickey\r?\n`).Match(pwOut) {
		t.Fatalf("password sign-in must be refused, the server offering public keys only: %v\n%s", err, pwOut)
	}
	out, code = s.sshExec(t, s.vic, nil, "uptime")
	if code != 127 {
		t.Fatalf("other commands are refused: exit %d\n%s", code, out)
	}
	waitStatus := func(want int, what string) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, code := s.sshExec(t, s.vic, nil, "status")
			if code == want {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status exits %d, want %d:\n%s", what, code, want, out)
			}
			// The server admits one new session a second per address (after a burst of ten).
			time.Sleep(1100 * time.Millisecond) // polling interval, not synchronisation
		}
	}
	out = waitStatus(0, "healthy")
	if !strings.Contains(out, "cutover OK") {
		t.Fatalf("healthy:\n%s", out)
	}
	// Writes pile up and nothing is delivered: the backlog crosses the warning threshold.
	s.sims.World.SetDrainRate(0)
	s.sims.World.SetWriteRate(5000)
	for _, a := range s.sims.World.AOS() {
		s.sims.World.StartAOS(a.Host, a.Service)
	}
	s.clk.Advance(2 * time.Minute)
	out = waitStatus(1, "lagging")
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, "pending") {
		t.Fatalf("lagging:\n%s", out)
	}
	s.clk.Advance(10 * time.Minute)
	waitStatus(2, "far behind")
	// The source server stops answering: the figures cannot be trusted.
	src := s.sims.SQL.Source()
	src.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	src.KillAll()
	out = waitStatus(3, "unreachable")
	if !strings.Contains(out, "UNKNOWN") {
		t.Fatalf("unreachable:\n%s", out)
	}
	time.Sleep(1100 * time.Millisecond) // the per-address session rate, not synchronisation
	jsonOut, code := s.sshExec(t, s.vic, nil, "status", "--json")
	var doc map[string]any
	if code != 3 || json.Unmarshal([]byte(jsonOut), &doc) != nil || doc["level"] != "UNKNOWN" || doc["schema"] != tui.StatusSchema {
		t.Fatalf("status --json: exit %d\n%s", code, jsonOut)
	}
}

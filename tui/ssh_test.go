package tui

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"cutover/engine"
	"cutover/engine/team"
)

// testKey is a teammate's key pair.
type testKey struct {
	signer gossh.Signer
	pub    []byte
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: signer, pub: gossh.MarshalAuthorizedKey(signer.PublicKey())}
}

// writeTeam writes a team file of operators and viewers.
// member is one person of a test team file.
type member struct {
	key  testKey
	role engine.Role
}

func writeTeam(t *testing.T, dir string, members map[string]member) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test team\n")
	for name, m := range members {
		line, err := team.Line(m.key.pub, name, m.role)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	path := filepath.Join(dir, "team.keys")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServer serves e over SSH on a loopback port and returns its address.
func startServer(t *testing.T, e Engine, team string) (*Server, string) {
	t.Helper()
	return startServerWith(t, e, team, nil)
}

// startServerWith is startServer with options changed by set before the server is built.
func startServerWith(t *testing.T, e Engine, teamPath string, set func(*ServerOptions)) (*Server, string) {
	t.Helper()
	tm, err := team.Load(teamPath, team.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opt := ServerOptions{Addr: "127.0.0.1:0", HostKeyPath: filepath.Join(dir, "host_key"), Team: tm,
		Config: Config{Theme: ThemeDark}, Local: time.UTC, RatePerSecond: 100, Burst: 100}
	if set != nil {
		set(&opt)
	}
	srv, err := NewServer(e, opt)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	if info, err := os.Stat(filepath.Join(dir, "host_key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the host key must be 0600: %v %v", info.Mode(), err)
	}
	return srv, addr.String()
}

func dial(addr string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "anyone", Auth: auth, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
}

func TestSSHRefusesStrangersAndPasswords(t *testing.T) {
	e := realEngine(t)
	ana := newTestKey(t)
	team := writeTeam(t, t.TempDir(), map[string]member{"Ana": {ana, engine.RoleOperator}})
	_, addr := startServer(t, e, team)
	if _, err := dial(addr, gossh.PublicKeys(newTestKey(t).signer)); err == nil {
		t.Fatal("a key not in the team file was accepted")
	}
	if _, err := dial(addr, gossh.Password("cutover"), gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
		return []string{"cutover"}, nil
	})); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("password and keyboard-interactive must be refused: %v", err)
	}
	c, err := dial(addr, gossh.PublicKeys(ana.signer))
	if err != nil {
		t.Fatalf("a team key was refused: %v", err)
	}
	c.Close()
}

// runExec runs a command over SSH and returns its output and exit status.
func runExec(t *testing.T, addr string, k testKey, cmd string) (string, int) {
	t.Helper()
	c, err := dial(addr, gossh.PublicKeys(k.signer))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out lockedBuffer
	s.Stdout, s.Stderr = &out, &out
	err = s.Run(cmd)
	var exit *gossh.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitStatus()
	}
	t.Fatalf("%s: %v", cmd, err)
	return "", -1
}

func TestSSHStatusAndOtherCommands(t *testing.T) {
	e := realEngine(t)
	vic := newTestKey(t)
	team := writeTeam(t, t.TempDir(), map[string]member{"Vic": {vic, engine.RoleViewer}})
	_, addr := startServer(t, e, team)
	// This engine has no replication monitor: the glance cannot tell, so it says UNKNOWN.
	out, code := runExec(t, addr, vic, "status")
	if code != 3 || !strings.Contains(out, "UNKNOWN") {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	out, code = runExec(t, addr, vic, "status --json")
	if code != 3 || !strings.Contains(out, `"schema"`) {
		t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	out, code = runExec(t, addr, vic, "rm -rf /")
	if code != 127 || !strings.Contains(out, "the only one is `status") {
		t.Fatalf("other commands: exit %d\n%s", code, out)
	}
}

// lockedBuffer is a buffer two goroutines (stdout and stderr copies) may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ptySession is an interactive SSH session with a terminal.
type ptySession struct {
	c   *gossh.Client
	s   *gossh.Session
	in  io.WriteCloser
	mu  sync.Mutex
	out bytes.Buffer
	// changed is signalled after each read; ended is closed when the output ends.
	changed chan struct{}
	ended   chan struct{}
}

// openPty opens a cockpit session with NO_COLOR=1 in its environment.
func openPty(t *testing.T, addr string, k testKey, w, h int) *ptySession {
	t.Helper()
	return openPtyEnv(t, addr, k, w, h, map[string]string{"NO_COLOR": "1"})
}

// openPtyEnv opens a cockpit session sending env to the server.
func openPtyEnv(t *testing.T, addr string, k testKey, w, h int, env map[string]string) *ptySession {
	t.Helper()
	c, err := dial(addr, gossh.PublicKeys(k.signer))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	p := &ptySession{c: c, s: s, changed: make(chan struct{}, 1), ended: make(chan struct{})}
	for k, v := range env {
		if err := s.Setenv(k, v); err != nil {
			t.Fatalf("setenv %s: %v", k, err)
		}
	}
	if err := s.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	p.in, _ = s.StdinPipe()
	outR, _ := s.StdoutPipe()
	go func() {
		defer close(p.ended)
		buf := make([]byte, 32<<10)
		for {
			n, err := outR.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			select {
			case p.changed <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	return p
}

// output is everything the session printed so far.
func (p *ptySession) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// mark is where the output stands now: waitOutputSince(mark, …) looks only at what follows.
func (p *ptySession) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Len()
}

// waitOutput waits until the session has printed text.
func (p *ptySession) waitOutput(t *testing.T, text string) {
	t.Helper()
	p.waitOutputSince(t, 0, text)
}

// waitOutputSince waits until the session has printed text after the mark, woken by each read.
func (p *ptySession) waitOutputSince(t *testing.T, mark int, text string) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		ok := bytes.Contains(p.out.Bytes()[min(mark, p.out.Len()):], []byte(text))
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.changed:
		case <-p.ended:
			if !strings.Contains(p.output()[min(mark, len(p.output())):], text) {
				t.Fatalf("the session ended without printing %q", text)
			}
			return
		case <-deadline.C:
			out := p.output()[min(mark, len(p.output())):]
			t.Fatalf("the session never printed %q; it printed (last 3000 bytes):\n%q", text, out[max(len(out)-3000, 0):])
		}
	}
}

func TestSSHViewerSeesButCannotAct(t *testing.T) {
	e := realEngine(t)
	vic := newTestKey(t)
	team := writeTeam(t, t.TempDir(), map[string]member{"Vic": {vic, engine.RoleViewer}})
	srv, addr := startServer(t, e, team)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p := openPty(t, addr, vic, 120, 40)
	p.waitOutput(t, "READ-ONLY")
	p.waitOutput(t, "waiting for an operator to type")
	fmt.Fprint(p.in, "c")
	fmt.Fprint(p.in, "?")
	p.waitOutput(t, "read-only session: actions are hidden")
	if st, _ := e.Snapshot().Step("aos-stop"); st.State != engine.StateAwaiting || len(st.Confirmation.Approvals) != 0 {
		t.Fatal("a viewer changed the step")
	}
	var info []SessionInfo
	for deadline := time.Now().Add(5 * time.Second); len(info) == 0 && time.Now().Before(deadline); info = srv.Sessions() {
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	if len(info) != 1 || info[0].Actor.Name != "Vic" || info[0].Actor.Role != engine.RoleViewer || info[0].Actor.Fingerprint == "" {
		t.Fatalf("sessions %+v", info)
	}
}

// panicEngine panics for its first subscriber: one broken session must not take the server down.
type panicEngine struct {
	*engine.Engine
	once sync.Once
}

func (p *panicEngine) Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event) {
	panicked := false
	p.once.Do(func() { panicked = true })
	if panicked {
		panic("a bug in one session")
	}
	return p.Engine.Subscribe(ctx)
}

func TestSSHPanicInOneSessionSparesTheOthers(t *testing.T) {
	e := realEngine(t)
	vic := newTestKey(t)
	team := writeTeam(t, t.TempDir(), map[string]member{"Vic": {vic, engine.RoleViewer}})
	_, addr := startServer(t, &panicEngine{Engine: e}, team)
	first, err := dial(addr, gossh.PublicKeys(vic.signer))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := first.NewSession()
	s.RequestPty("xterm", 40, 120, gossh.TerminalModes{})
	s.Shell()
	s.Wait() // the session ends: its handler panicked and was recovered
	first.Close()
	p := openPty(t, addr, vic, 120, 40)
	p.waitOutput(t, "flow test")
}

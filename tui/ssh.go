package tui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"
	"charm.land/wish/v2/ratelimiter"
	rm "charm.land/wish/v2/recover"
	"github.com/charmbracelet/colorprofile"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/time/rate"

	"cutover/engine"
)

// This file serves the cockpit over SSH: one Bubble Tea program per session over the one
// engine, public-key authentication against the team file, the `status` glance for exec
// sessions. It holds no cockpit logic: who may do what is the team file's role, enforced by the
// engine; what is shown is the App.

// ServerOptions configure the SSH server.
type ServerOptions struct {
	// Addr is where to listen (host:port).
	Addr string
	// HostKeyPath is the server's private key; generated (ed25519, 0600) on first start.
	HostKeyPath string
	// Team is who may connect, and as what.
	Team *Team
	// IdleTimeout closes connections that neither read nor write for this long (a dead client; a
	// cockpit repaints every second, so a watching viewer is never idle). Default 15 minutes.
	IdleTimeout time.Duration
	// RatePerSecond and Burst limit new sessions per remote address (default 1/s, burst 10).
	RatePerSecond float64
	Burst         int
	// Config is every session's cockpit settings (theme, keys).
	Config Config
	// Status decides the `ssh … status` verdict.
	Status StatusThresholds
	// Logf records what happens (who joined, who was refused); the engine's log in practice.
	Logf func(format string, args ...any)
	// Local formats clock times (time.Local when nil).
	Local *time.Location
}

// Server is the shared cockpit over SSH.
type Server struct {
	e           Engine
	opt         ServerOptions
	srv         *ssh.Server
	fingerprint string

	mu       sync.Mutex
	sessions map[int]*presence
	nextID   int
	ln       net.Listener
}

// presence is one person looking at the run: an SSH session or the local cockpit.
type presence struct {
	id    int
	actor engine.Actor
	since time.Time
	last  atomic.Int64
	local bool
	app   *App
}

// Presence is what the cockpits show about someone looking at the run.
type Presence struct {
	Actor engine.Actor
	Since time.Time
	// Idle is how long since their last key press.
	Idle  time.Duration
	Local bool
}

// SessionInfo is one SSH session's view of the stream of engine events (for tests and the
// load check): how far it has applied the journal, how many events it took, and how often it
// fell behind and had to start again from a snapshot.
type SessionInfo struct {
	Presence
	Seq     uint64
	Events  int64
	Resyncs int64
}

// NewServer prepares the SSH server over an engine. It generates the host key if missing.
func NewServer(e Engine, opt ServerOptions) (*Server, error) {
	if opt.Team == nil {
		return nil, errors.New("ssh: a team file is required: nobody could connect without one")
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 15 * time.Minute
	}
	if opt.RatePerSecond <= 0 {
		opt.RatePerSecond = 1
	}
	if opt.Burst <= 0 {
		opt.Burst = 10
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if opt.Local == nil {
		opt.Local = time.Local
	}
	if opt.Status == (StatusThresholds{}) {
		opt.Status = DefaultThresholds()
	}
	s := &Server{e: e, opt: opt, sessions: map[int]*presence{}}
	srv, err := wish.NewServer(
		wish.WithAddress(opt.Addr),
		wish.WithHostKeyPath(opt.HostKeyPath),
		wish.WithPublicKeyAuth(s.authorize),
		wish.WithIdleTimeout(opt.IdleTimeout),
		wish.WithMiddleware(rm.MiddlewareWithLogger(logfLogger(opt.Logf),
			bm.MiddlewareWithProgramHandler(s.program),
			s.commands,
			ratelimiter.Middleware(ratelimiter.NewRateLimiter(rate.Limit(opt.RatePerSecond), opt.Burst, 1000)),
		)),
	)
	if err != nil {
		return nil, fmt.Errorf("ssh server: %w", err)
	}
	if err := os.Chmod(opt.HostKeyPath, 0o600); err != nil {
		return nil, fmt.Errorf("ssh host key: %w", err)
	}
	fp, err := hostKeyFingerprint(opt.HostKeyPath)
	if err != nil {
		return nil, err
	}
	s.srv, s.fingerprint = srv, fp
	return s, nil
}

func hostKeyFingerprint(path string) (string, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("ssh host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		return "", fmt.Errorf("ssh host key %s: %w", path, err)
	}
	return gossh.FingerprintSHA256(signer.PublicKey()), nil
}

type logfLogger func(format string, args ...any)

func (l logfLogger) Printf(format string, args ...any) { l(format, args...) }

// Fingerprint is the host key's SHA256 fingerprint, for people to check on first connection.
func (s *Server) Fingerprint() string { return s.fingerprint }

// Listen opens the listening socket (so the address is known before serving).
func (s *Server) Listen() (net.Addr, error) {
	ln, err := net.Listen("tcp", s.opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: listen on %s: %w", s.opt.Addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return ln.Addr(), nil
}

// Serve accepts sessions until Shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		if _, err := s.Listen(); err != nil {
			return err
		}
		s.mu.Lock()
		ln = s.ln
		s.mu.Unlock()
	}
	if err := s.srv.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
		return fmt.Errorf("ssh: %w", err)
	}
	return nil
}

// Shutdown closes the listener and every session (each session's cockpit ends; the engine
// goes on).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = s.srv.Close()
	}
	return err
}

// authorize admits only the team's keys. Password and keyboard-interactive sign-in are not
// offered at all.
func (s *Server) authorize(ctx ssh.Context, key ssh.PublicKey) bool {
	m, ok := s.opt.Team.Lookup(key)
	if !ok {
		s.opt.Logf("ssh: refused key %s from %s (not in the team file)", gossh.FingerprintSHA256(key), ctx.RemoteAddr())
		return false
	}
	_ = m
	return true
}

// member is the team member behind a session's key (looked up again: the key the session
// authenticated with is the one that counts).
func (s *Server) member(sess ssh.Session) (TeamMember, bool) {
	if sess.PublicKey() == nil {
		return TeamMember{}, false
	}
	return s.opt.Team.Lookup(sess.PublicKey())
}

func (s *Server) actor(sess ssh.Session, m TeamMember) engine.Actor {
	host := sess.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return engine.Actor{Name: m.Name, Origin: "ssh " + host, Fingerprint: m.Fingerprint, Role: m.Role}
}

// commands answers exec sessions: `status` (and `status --json`) print the glance and exit with
// its code; anything else is refused. A session with neither a command nor a terminal is told
// how to connect.
func (s *Server) commands(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		cmd := sess.Command()
		_, _, hasPty := sess.Pty()
		if len(cmd) == 0 {
			if !hasPty {
				wish.Println(sess, "cutover: this server shows the cutover cockpit in a terminal: connect with ssh -t, or run `ssh … status`")
				_ = sess.Exit(1)
				return
			}
			next(sess)
			return
		}
		if cmd[0] != "status" || len(cmd) > 2 || (len(cmd) == 2 && cmd[1] != "--json" && cmd[1] != "--oneline") {
			wish.Errorln(sess, fmt.Sprintf("cutover: %q is not a command here; the only one is `status [--json|--oneline]`", strings.Join(cmd, " ")))
			_ = sess.Exit(127)
			return
		}
		snap := s.e.Snapshot()
		st := EvaluateStatus(s.e.Replication(), &snap, s.opt.Status, s.e.Now())
		var err error
		switch {
		case len(cmd) == 2 && cmd[1] == "--json":
			err = st.WriteJSON(sess)
		case len(cmd) == 2 && cmd[1] == "--oneline":
			_, err = fmt.Fprintln(sess, st.OneLine())
		default:
			err = st.WriteText(sess)
		}
		if err != nil {
			s.opt.Logf("ssh: status for %s: %v", sess.RemoteAddr(), err)
		}
		_ = sess.Exit(st.ExitCode())
	}
}

// program builds one session's cockpit.
func (s *Server) program(sess ssh.Session) *tea.Program {
	if _, _, ok := sess.Pty(); !ok {
		return nil
	}
	m, ok := s.member(sess)
	if !ok {
		wish.Fatalln(sess, "cutover: your key is no longer in the team file")
		return nil
	}
	actor := s.actor(sess, m)
	ctx := sess.Context()
	p := s.join(actor, false)
	app := NewApp(ctx, s.e, Options{
		Actor: actor, ReadOnly: m.Role != engine.RoleOperator, Config: s.opt.Config, Local: s.opt.Local,
		Watchers: s.Presence, OnActivity: p.touch,
	})
	s.mu.Lock()
	p.app = app
	s.mu.Unlock()
	s.opt.Logf("ssh: %s joined as %s", actor, actor.Role)
	go func() {
		<-ctx.Done()
		s.leave(p)
		s.e.ReleaseAll(actor)
		s.opt.Logf("ssh: %s left after %s", actor.Name, dur(time.Since(p.since)))
	}()
	opts := append(bm.MakeOptions(sess), tea.WithContext(ctx), tea.WithFPS(20))
	env := sess.Environ()
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == "NO_COLOR" && v != "" {
			opts = append(opts, tea.WithColorProfile(colorprofile.Ascii))
		}
	}
	return tea.NewProgram(app, opts...)
}

// join records someone looking at the run; local marks the cockpit on the jump box itself.
func (s *Server) join(a engine.Actor, local bool) *presence {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	p := &presence{id: s.nextID, actor: a, since: time.Now(), local: local}
	p.touch()
	s.sessions[p.id] = p
	return p
}

func (s *Server) leave(p *presence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, p.id)
}

func (p *presence) touch() { p.last.Store(time.Now().UnixNano()) }

// JoinLocal adds the local cockpit (cutover run --listen) to the presence list; the returned
// functions mark activity and leave.
func (s *Server) JoinLocal(a engine.Actor) (touch, leave func()) {
	p := s.join(a, true)
	return p.touch, func() { s.leave(p) }
}

// Presence lists who is looking at the run, longest first.
func (s *Server) Presence() []Presence {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make([]Presence, 0, len(s.sessions))
	for _, p := range s.sessions {
		out = append(out, Presence{Actor: p.actor, Since: p.since, Idle: now.Sub(time.Unix(0, p.last.Load())), Local: p.local})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// Sessions reports each SSH session's stream of events.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []SessionInfo
	for _, p := range s.sessions {
		if p.local || p.app == nil {
			continue
		}
		st := p.app.stats
		out = append(out, SessionInfo{
			Presence: Presence{Actor: p.actor, Since: p.since, Idle: now.Sub(time.Unix(0, p.last.Load()))},
			Seq:      st.seq.Load(), Events: st.events.Load(), Resyncs: st.resyncs.Load(),
		})
	}
	return out
}

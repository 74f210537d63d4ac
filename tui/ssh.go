package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/time/rate"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/team"
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
	// Team is who may connect, and as what: read again when it changes, and consulted on every
	// action of a session.
	Team *team.File
	// IdleTimeout closes a cockpit session after this long without a key press: the same idle
	// time the presence list shows. Output does not count (the cockpit repaints every second, so
	// it says nothing about anyone being there); a session is warned on screen shortly before,
	// and any key keeps it. It also closes connections that exchange nothing at all (no session
	// opened). Default 15 minutes.
	IdleTimeout time.Duration
	// RatePerSecond and Burst limit, per remote address (an IPv4 address or an IPv6 /64), new
	// connections — counted when accepted, before the SSH handshake, so key guessing is bounded
	// too — and new sessions (default 1/s, burst 10).
	RatePerSecond float64
	Burst         int
	// AuthTimeout closes a connection that has not authenticated within it (default 2 minutes,
	// as OpenSSH's LoginGraceTime): a stalled or slow handshake holds no slot for longer.
	AuthTimeout time.Duration
	// TeamEvery is how often the team file is looked at for changes (default 2 s; every action
	// of a session consults it too).
	TeamEvery time.Duration
	// Config is every session's cockpit settings (theme, keys).
	Config Config
	// Status decides the `ssh … status` verdict.
	Status engine.Thresholds
	// Logf records what happens (who joined, who was refused); the engine's log in practice.
	Logf func(format string, args ...any)
	// Join is how another operator joins this cockpit (the command to run), shown in every
	// session's confirmation dialog while a step waits for more approvals; SetJoin sets it once
	// the address is known.
	Join string
	// Local formats clock times (time.Local when nil).
	Local *time.Location

	// clock measures idle time and refills the connection buckets (real time when nil; tests
	// give a fake one).
	clock clock.Clock
	// teamClock paces the team file watch (real time when nil; a test of the watch gives a fake
	// one, apart from the idle watch's).
	teamClock clock.Clock
}

// Server is the shared cockpit over SSH.
type Server struct {
	e           Engine
	opt         ServerOptions
	srv         *ssh.Server
	fingerprint string
	hostKey     string

	mu       sync.Mutex
	sessions map[int]*presence
	bySess   map[ssh.Session]*presence
	nextID   int
	ln       net.Listener

	// stop ends the idle watch at Shutdown.
	stop     chan struct{}
	stopOnce sync.Once
}

// presence is one person looking at the run: an SSH session or the local cockpit.
type presence struct {
	id    int
	actor engine.Actor
	since time.Time
	// last is when they last pressed a key (Unix nanoseconds on the server's clock).
	last  atomic.Int64
	now   func() time.Time
	local bool
	app   *App
	// prog is an SSH session's program (nil for the local cockpit): the idle watch tells it.
	prog *tea.Program
	// sess is the SSH session (nil for the local cockpit); revoked is set once the team file no
	// longer has its key (the session is being closed).
	sess    ssh.Session
	revoked atomic.Bool
	// model is the session's cockpit as run: it knows whether it ended on a panic.
	model *recovering
	// warnedFor is the last key press (last's value) the session was last warned after, so a key
	// press makes the next idle stretch warn again without anyone resetting it; closed is set
	// once the idle watch closed the session.
	warnedFor atomic.Int64
	closed    atomic.Bool
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
	if opt.AuthTimeout <= 0 {
		opt.AuthTimeout = 2 * time.Minute
	}
	if opt.TeamEvery <= 0 {
		opt.TeamEvery = 2 * time.Second
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
	if opt.Status == (engine.Thresholds{}) {
		opt.Status = engine.DefaultThresholds()
	}
	if opt.clock == nil {
		opt.clock = clock.Real()
	}
	if opt.teamClock == nil {
		opt.teamClock = clock.Real()
	}
	s := &Server{e: e, opt: opt, sessions: map[int]*presence{}, bySess: map[ssh.Session]*presence{}, stop: make(chan struct{})}
	srv, err := wish.NewServer(
		wish.WithAddress(opt.Addr),
		wish.WithHostKeyPath(opt.HostKeyPath),
		wish.WithPublicKeyAuth(s.authorize),
		// Connections that exchange nothing (no session, a stalled handshake) end after the idle
		// timeout; a cockpit session, which writes every second, is watched for key presses.
		wish.WithIdleTimeout(opt.IdleTimeout),
		// A connection that has not authenticated within AuthTimeout is closed, however busy
		// (charm.land/ssh's HandshakeTimeout bounds the handshake, which ends with authentication).
		func(srv *ssh.Server) error { srv.HandshakeTimeout = opt.AuthTimeout; return nil },
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
	pub, err := hostPublicKey(opt.HostKeyPath)
	if err != nil {
		return nil, err
	}
	s.srv, s.fingerprint = srv, gossh.FingerprintSHA256(pub)
	s.hostKey = strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub)))
	return s, nil
}

func hostPublicKey(path string) (gossh.PublicKey, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("ssh host key %s: %w", path, err)
	}
	return signer.PublicKey(), nil
}

type logfLogger func(format string, args ...any)

func (l logfLogger) Printf(format string, args ...any) { l(format, args...) }

// Fingerprint is the host key's SHA256 fingerprint, for people to check on first connection.
func (s *Server) Fingerprint() string { return s.fingerprint }

// HostKey is the host key's public half in authorized_keys form ("ssh-ed25519 AAAA…"), for a
// known_hosts file.
func (s *Server) HostKey() string { return s.hostKey }

// SetJoin sets how another operator joins this cockpit (ServerOptions.Join), for the sessions
// that open from now on.
func (s *Server) SetJoin(command string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.Join = command
}

// Join is how another operator joins this cockpit (ServerOptions.Join, or what SetJoin set).
func (s *Server) Join() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opt.Join
}

// Listen opens the listening socket (so the address is known before serving). Connections
// beyond an address's rate are closed as they are accepted.
func (s *Server) Listen() (net.Addr, error) {
	ln, err := net.Listen("tcp", s.opt.Addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: listen on %s: %w", s.opt.Addr, err)
	}
	s.mu.Lock()
	s.ln = newConnLimiter(ln, s.opt.RatePerSecond, s.opt.Burst, s.opt.clock.Now, s.opt.Logf)
	s.mu.Unlock()
	return ln.Addr(), nil
}

// Serve accepts sessions until Shutdown.
func (s *Server) Serve() error {
	go s.watchIdle()
	go s.watchTeam()
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

// Shutdown closes the listener (also one Listen opened and Serve never used) and every session (each session's cockpit ends; the engine
// goes on).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	err := s.srv.Shutdown(ctx)
	if ln != nil {
		ln.Close() // a listener never served is closed too (closed twice otherwise: no harm)
	}
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
func (s *Server) member(sess ssh.Session) (team.Member, bool) {
	if sess.PublicKey() == nil {
		return team.Member{}, false
	}
	return s.opt.Team.Lookup(sess.PublicKey())
}

func (s *Server) actor(sess ssh.Session, m team.Member) engine.Actor {
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
			// Deferred, so the session leaves the presence list even if its cockpit panicked.
			defer s.endSession(sess)
			next(sess)
			return
		}
		// A connection stays open after its key is removed: a new session on it asks again.
		if _, ok := s.member(sess); !ok {
			wish.Errorln(sess, "cutover: your key is no longer in the team file")
			_ = sess.Exit(1)
			return
		}
		if cmd[0] != "status" || len(cmd) > 2 || (len(cmd) == 2 && cmd[1] != "--json" && cmd[1] != "--oneline") {
			wish.Errorln(sess, fmt.Sprintf("cutover: %q is not a command here; the only one is `status [--json|--oneline]`", strings.Join(cmd, " ")))
			_ = sess.Exit(127)
			return
		}
		snap := s.e.Snapshot()
		st := EvaluateStatus(s.e.Replication(), &snap, s.opt.Status, s.e.Now())
		// The glance carries servers' error messages: the text forms are made printable (JSON
		// escapes control characters itself).
		var out strings.Builder
		var err error
		switch {
		case len(cmd) == 2 && cmd[1] == "--json":
			err = st.WriteJSON(&out)
		case len(cmd) == 2 && cmd[1] == "--oneline":
			out.WriteString(printable(st.OneLine()) + "\n")
		default:
			if err = st.WriteText(&out); err == nil {
				s := printable(out.String())
				out.Reset()
				out.WriteString(s)
			}
		}
		if err == nil {
			_, err = io.WriteString(sess, out.String())
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
	p := s.newPresence(actor, false)
	p.sess = sess
	// Every action of the session goes through the team file as it is at that moment.
	app := NewApp(ctx, &policyEngine{e: s.e, s: s, p: p}, Options{
		Actor: actor, ReadOnly: !actor.CanOperate(), Config: s.opt.Config, Local: s.opt.Local,
		Watchers: s.Presence, OnActivity: p.touch, Join: s.Join(),
	})
	p.app = app
	opts := append(bm.MakeOptions(sess), tea.WithContext(ctx), tea.WithFPS(20))
	// The client's NO_COLOR (sent with SendEnv/SetEnv) or the cockpit config's no_color; this
	// option comes after MakeOptions' own guess from the client's TERM, so it wins.
	if cp, ok := forcedProfile(sess.Environ(), false, s.opt.Config); ok {
		opts = append(opts, tea.WithColorProfile(cp))
	}
	// A panic in this session's cockpit ends this session only, logged.
	rm := newRecovering(app, "the SSH session of "+actor.String(), s.opt.Logf)
	p.prog = tea.NewProgram(rm, opts...)
	rm.quit, p.model = p.prog.Quit, rm
	// Joined only now that the cockpit exists: a session whose cockpit failed to build never
	// shows in the list. endSession takes it out.
	s.register(p, sess)
	s.opt.Logf("ssh: %s joined as %s", actor, actor.Role)
	return p.prog
}

// endSession takes a finished cockpit session out of the presence list, gives up its holds and,
// when the idle watch closed it, tells the person why.
func (s *Server) endSession(sess ssh.Session) {
	s.mu.Lock()
	p := s.bySess[sess]
	delete(s.bySess, sess)
	if p != nil {
		delete(s.sessions, p.id)
	}
	s.mu.Unlock()
	if p == nil {
		return
	}
	s.e.ReleaseAll(s.actorOf(p))
	if p.model != nil && p.model.Crashed() {
		wish.Println(sess, crashedText+"; connect again to carry on")
	}
	if p.revoked.Load() {
		wish.Println(sess, fmt.Sprintf("cutover: your key was removed from the team file %s: session closed", s.opt.Team.Path()))
		s.opt.Logf("ssh: %s closed: key removed from the team file", p.actor.Name)
		closeConn(sess)
	}
	if p.closed.Load() {
		wish.Println(sess, fmt.Sprintf("cutover: session closed after %s without a key press (idle timeout); connect again to carry on", dur(s.opt.IdleTimeout)))
		s.opt.Logf("ssh: %s closed: no key pressed for %s", p.actor.Name, dur(s.opt.IdleTimeout))
	}
	s.opt.Logf("ssh: %s left after %s", p.actor.Name, dur(s.opt.clock.Now().Sub(p.since)))
}

// idleWarningMsg tells a cockpit session it is about to be closed for want of a key press.
// current reports, when it arrives, whether no key was pressed since it was decided.
type idleWarningMsg struct {
	idle, closesIn time.Duration
	current        func() bool
}

// idleCloseMsg ends a cockpit session nobody typed in for the idle timeout, unless current says a
// key was pressed since it was decided (it then lets the watch decide again).
type idleCloseMsg struct{ current func() bool }

// idleWarning is how long before the idle timeout a session is warned.
func idleWarning(timeout time.Duration) time.Duration { return min(time.Minute, timeout/4) }

// idleCheckEvery is how often the idle watch looks: a tenth of the timeout, between 1 and 30 s.
func idleCheckEvery(timeout time.Duration) time.Duration {
	return min(max(timeout/10, time.Second), 30*time.Second)
}

// watchIdle checks the sessions' key-press idleness until Shutdown.
func (s *Server) watchIdle() {
	every := idleCheckEvery(s.opt.IdleTimeout)
	for {
		t := s.opt.clock.NewTimer(every)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C():
		}
		s.checkIdle()
	}
}

// checkIdle closes the cockpit sessions in which nobody pressed a key for the idle timeout, and
// warns those within idleWarning of it. The local cockpit is never closed.
func (s *Server) checkIdle() {
	now := s.opt.clock.Now()
	timeout := s.opt.IdleTimeout
	type notice struct {
		p   *presence
		msg tea.Msg
	}
	var out []notice
	s.mu.Lock()
	for _, p := range s.sessions {
		if p.local || p.prog == nil || p.closed.Load() {
			continue
		}
		last := p.last.Load()
		idle := now.Sub(time.Unix(0, last))
		// The message reaches the session later: a key pressed meanwhile voids it.
		current := func() bool { return p.last.Load() == last }
		switch {
		case idle >= timeout:
			p.closed.Store(true)
			out = append(out, notice{p, idleCloseMsg{current: func() bool {
				if current() {
					return true
				}
				p.closed.Store(false)
				return false
			}}})
		case idle >= timeout-idleWarning(timeout) && p.warnedFor.Load() != last:
			p.warnedFor.Store(last)
			out = append(out, notice{p, idleWarningMsg{idle: idle, closesIn: timeout - idle, current: current}})
		}
	}
	s.mu.Unlock()
	for _, n := range out {
		// Send waits for the program's loop (or its end): never block the watch on one session.
		go n.p.prog.Send(n.msg)
	}
}

// newPresence is someone about to look at the run; local marks the cockpit on the jump box
// itself. register lists them.
func (s *Server) newPresence(a engine.Actor, local bool) *presence {
	now := s.opt.clock.Now
	p := &presence{actor: a, since: now(), local: local, now: now}
	p.touch()
	return p
}

// register lists a presence (an SSH session's, when sess is set).
func (s *Server) register(p *presence, sess ssh.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	p.id = s.nextID
	s.sessions[p.id] = p
	if sess != nil {
		s.bySess[sess] = p
	}
}

func (s *Server) leave(p *presence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, p.id)
}

// touch records a key press: the presence list's idle time and the idle timeout start again.
func (p *presence) touch() {
	p.last.Store(p.now().UnixNano())
}

// JoinLocal adds the local cockpit (cutover run --listen) to the presence list; the returned
// functions mark activity and leave. The local cockpit is never closed for idleness.
func (s *Server) JoinLocal(a engine.Actor) (touch, leave func()) {
	p := s.newPresence(a, true)
	s.register(p, nil)
	return p.touch, func() { s.leave(p) }
}

// Presence lists who is looking at the run, longest first.
func (s *Server) Presence() []Presence {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opt.clock.Now()
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
	now := s.opt.clock.Now()
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

// Package web is the read-only face of a running cutover for everyone who is not at the jump
// box: a live status page (one self-contained HTML file, updated over Server-Sent Events, readable
// on a phone) and /metrics in the Prometheus exposition format. It is a front end like the
// cockpit: it subscribes to the engine's event bus (its snapshot, then its events), asks the
// engine for every verdict, and offers no action of any kind — every handler only reads.
//
// Access needs the run's secret token (kept 0600 in the state directory, revocable): as a link
// (?token=…, exchanged for a session cookie derived from it), as a bearer token (Prometheus), or
// as that cookie. Every text the page and /metrics serve passes through the runbook's private
// words (Runbook.PrivateWords: host names, secrets), which come out as "•••".
package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"cutover/engine"
	"cutover/tui"
)

// Engine is what the page needs of the engine (*engine.Engine has it all).
type Engine interface {
	Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event)
	Snapshot() engine.Snapshot
	Replication() *engine.ReplicationView
	Validation() *engine.Validation
	Now() time.Time
}

// Options configure a Server.
type Options struct {
	// Addr is where to listen (default 127.0.0.1:8080; a bare port means loopback).
	Addr string
	// StateDir holds the token file. Required.
	StateDir string
	// Token is the run's token (LoadOrCreateToken); later revocations are read from StateDir.
	Token string
	// Certificate and Key, when set, serve HTTPS.
	Certificate, Key string
	// Private words never leave the server (Runbook.PrivateWords).
	Private []string
	// WorstTables is how many tables /metrics lists one by one (default 20).
	WorstTables int
	// Watchers lists who is in the cockpit (the SSH server's presence); nil: nobody is known.
	Watchers func() []tui.Presence
	// MinInterval is the least time between two rebuilds of the page's view (default 250 ms):
	// a burst of events is one update. Negative: every event rebuilds at once (tests).
	MinInterval time.Duration
	// Tick is how often open pages are told the engine's time, to age their figures (default 1 s).
	Tick time.Duration
	// MaxViewers bounds the open pages (default 200); more are refused with 503.
	MaxViewers int
	// Logf reports what the server does (into the engine's log); nil: nothing.
	Logf func(format string, args ...any)
}

// Server serves the status page, its event stream and /metrics.
type Server struct {
	e      Engine
	opts   Options
	tokens *tokens
	hide   *strings.Replacer
	srv    *http.Server
	ln     net.Listener
	tls    bool
	reg    *prometheus.Registry

	// current is the newest view's JSON, shared by every viewer.
	current atomic.Pointer[[]byte]
	mu      sync.Mutex
	clients map[*client]struct{}
	// progress is each running step's newest progress, from the bus.
	progress map[string]engine.StepProgress
	dirty    chan struct{}
	stop     context.CancelFunc
	done     chan struct{}
	// builds counts view rebuilds (tests and the benchmark).
	builds atomic.Int64
	// repl is the replication summary of the monitor's newest picture: a picture never changes
	// once published, so the summary is made again only for a new one (or a minute later, for
	// the verdict's ages). Used by the rebuilding goroutine only.
	repl struct {
		src  *engine.ReplicationView
		at   time.Time
		view *ReplicationView
	}
}

// client is one open page: it is sent the newest view, older unsent ones are dropped (each view is
// the whole picture).
type client struct {
	views chan []byte
}

// DefaultAddr is where the page listens when --http names no address.
const DefaultAddr = "127.0.0.1:8080"

// NormalizeAddr turns --http's value into a listen address: a bare port means loopback.
func NormalizeAddr(addr string) string {
	switch {
	case addr == "":
		return DefaultAddr
	case !strings.Contains(addr, ":"):
		return "127.0.0.1:" + addr
	}
	return addr
}

// New prepares the server (nothing listens until Listen).
func New(e Engine, opts Options) (*Server, error) {
	if opts.StateDir == "" {
		return nil, errors.New("web: no state directory for the access token")
	}
	if err := checkToken(opts.Token); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	opts.Addr = NormalizeAddr(opts.Addr)
	if opts.WorstTables <= 0 {
		opts.WorstTables = 20
	}
	if opts.MinInterval < 0 {
		opts.MinInterval = 0
	} else if opts.MinInterval == 0 {
		opts.MinInterval = 250 * time.Millisecond
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.MaxViewers <= 0 {
		opts.MaxViewers = 200
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{e: e, opts: opts, tokens: newTokens(opts.StateDir, opts.Token), hide: redactor(opts.Private),
		clients: map[*client]struct{}{}, progress: map[string]engine.StepProgress{}, dirty: make(chan struct{}, 1)}
	s.reg = prometheus.NewRegistry()
	if err := s.reg.Register(&collector{s: s}); err != nil {
		return nil, fmt.Errorf("web: metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.page)
	mux.HandleFunc("/events", s.events)
	mux.HandleFunc("/state", s.state)
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	s.srv = &http.Server{Handler: s.guard(mux), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: nil}
	if opts.Certificate != "" || opts.Key != "" {
		cert, err := tls.LoadX509KeyPair(opts.Certificate, opts.Key)
		if err != nil {
			return nil, fmt.Errorf("web: TLS certificate: %w", err)
		}
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.tls = true
	}
	return s, nil
}

// redactor replaces each private word by "•••", the longest first.
func redactor(words []string) *strings.Replacer {
	sorted := append([]string(nil), words...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && len(sorted[j]) > len(sorted[j-1]); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var pairs []string
	for _, w := range sorted {
		if w != "" {
			pairs = append(pairs, w, "•••")
		}
	}
	return strings.NewReplacer(pairs...)
}

// Listen opens the listening socket and starts following the engine.
func (s *Server) Listen() (net.Addr, error) {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("web: listen on %s: %w", s.opts.Addr, err)
	}
	if s.tls {
		ln = tls.NewListener(ln, s.srv.TLSConfig)
	}
	s.ln = ln
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	snap, events := s.e.Subscribe(ctx)
	s.rebuild(snap)
	go s.follow(ctx, snap, events)
	return ln.Addr(), nil
}

// URL is the page's address without the token (for logs).
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	host := s.opts.Addr
	if s.ln != nil {
		host = s.ln.Addr().String()
	}
	if h, p, err := net.SplitHostPort(host); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		host = net.JoinHostPort("localhost", p)
	}
	return scheme + "://" + host + "/"
}

// Link is the page's address with the token: printed once, for the people who may look.
func (s *Server) Link() string { return s.URL() + "?token=" + s.tokens.current() }

// Serve serves until Shutdown.
func (s *Server) Serve() error {
	if s.ln == nil {
		return errors.New("web: Serve before Listen")
	}
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops serving: open pages are closed, the engine is no longer followed.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	s.srv.SetKeepAlivesEnabled(false)
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return err
}

// Viewers is how many pages are open.
func (s *Server) Viewers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// follow keeps the view current: it folds the engine's events into its snapshot and rebuilds the
// view at most once per MinInterval, then sends it to every open page.
func (s *Server) follow(ctx context.Context, snap engine.Snapshot, events <-chan engine.Event) {
	defer close(s.done)
	var timer *time.Timer
	var due <-chan time.Time
	last := time.Now()
	pending := false
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return
				}
				// The engine stopped: the page keeps showing the last picture.
				s.rebuild(snap)
				<-ctx.Done()
				return
			}
			if _, resync := ev.(engine.Resync); resync {
				snap, events = s.e.Subscribe(ctx)
			} else {
				apply(&snap, ev)
				if p, isProgress := ev.(engine.StepProgress); isProgress {
					s.mu.Lock()
					s.progress[p.Step] = p
					s.mu.Unlock()
				}
			}
			pending = true
		case <-s.dirty:
			pending = true
		case <-due:
			due = nil
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		}
		if !pending || due != nil {
			continue
		}
		if wait := s.opts.MinInterval - time.Since(last); wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			due = timer.C
			continue
		}
		s.rebuild(snap)
		last, pending = time.Now(), false
	}
}

// apply folds an event into a snapshot.
func apply(snap *engine.Snapshot, ev engine.Event) {
	switch ev := ev.(type) {
	case engine.StepChanged:
		for i := range snap.Steps {
			if snap.Steps[i].ID == ev.Step.ID {
				snap.Steps[i] = ev.Step
			}
		}
		snap.Seq = max(snap.Seq, ev.Seq)
	case engine.RunChanged:
		snap.Run = ev.Run
		snap.Seq = max(snap.Seq, ev.Seq)
	}
}

// rebuild makes the view and sends it to every open page.
func (s *Server) rebuild(snap engine.Snapshot) {
	s.mu.Lock()
	progress := make(map[string]engine.StepProgress, len(s.progress))
	for k, p := range s.progress {
		if st, ok := snap.Step(k); ok && st.State == engine.StateRunning {
			progress[k] = p
		} else {
			delete(s.progress, k)
		}
	}
	viewers := len(s.clients)
	s.mu.Unlock()
	var watchers []tui.Presence
	if s.opts.Watchers != nil {
		watchers = s.opts.Watchers()
	}
	now := s.e.Now()
	v := buildView(snap, s.replication(now), s.e.Validation(), progress, watchers, viewers, now, s.hide)
	b, err := json.Marshal(v)
	if err != nil {
		s.opts.Logf("web: the page's view cannot be encoded: %v", err)
		return
	}
	s.current.Store(&b)
	s.builds.Add(1)
	s.broadcast(b)
}

// replication is the replication summary for the page (nil without a monitor).
func (s *Server) replication(now time.Time) *ReplicationView {
	src := s.e.Replication()
	if src == nil {
		return nil
	}
	minute := now.Truncate(time.Minute)
	if s.repl.src != src || !s.repl.at.Equal(minute) {
		s.repl.src, s.repl.at, s.repl.view = src, minute, replicationView(src, now, s.hide.Replace)
	}
	return s.repl.view
}

// broadcast hands a view to every open page, replacing one it has not sent yet.
func (s *Server) broadcast(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		select {
		case <-c.views:
		default:
		}
		c.views <- b
	}
}

// touch asks for a rebuild (a page joined or left: the viewer count changed).
func (s *Server) touch() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

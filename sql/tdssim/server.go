package tdssim

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is the cancellation cause of request contexts when the
// server is closed.
var ErrServerClosed = errors.New("tdssim: server closed")

// Config configures a Server. The zero value is usable: no TLS, every
// login accepted, and an empty Router as handler (every query but the
// built-ins is refused: 208, 2812 or NoAnswerError).
type Config struct {
	// Handler answers requests. Nil means NewRouter().
	Handler Handler
	// Auth, when set, decides logins. Returning a *Error sends that error
	// (e.g. CannotOpenDatabaseError for 4060); any other error becomes
	// 18456 "Login failed for user". Nil accepts every login.
	Auth func(user, password, database, app string) error
	// TLS enables encryption, as every SQL Server has it ("SQL Server
	// always encrypts network packets associated with logging in"). Clients
	// asking for encryption (encrypt=true) get a full TLS session; clients
	// offering it (no encrypt option, encrypt=false) get login-only TLS;
	// encrypt=disable stays plaintext; encrypt=strict (TDS 8.0) needs
	// Strict. The handshake inside PRELOGIN negotiates at most TLS 1.2. The
	// certificate must be valid for the host name the client dials.
	TLS *tls.Config
	// RequireEncryption makes the server "set to ENCRYPT_ON" (MS-TDS
	// 2.2.6.5, SQL Server's Force Encryption): clients that offer
	// encryption get ENCRYPT_REQ and full TLS, clients that cannot encrypt
	// (ENCRYPT_NOT_SUP, or a LOGIN7 without PRELOGIN) are refused (needs
	// TLS).
	RequireEncryption bool
	// Strict accepts TDS 8.0: a TLS handshake before any TDS message
	// (encrypt=strict), which SQL Server 2022, Azure SQL Database and
	// Azure SQL Managed Instance support (sql-docs relational-databases/
	// security/networking/tds-8.md). Without it, as on SQL Server 2019 and
	// earlier, a connection that starts with a TLS ClientHello is closed.
	// Needs TLS; TLS 1.3 is offered only there.
	Strict bool
	// Logger receives diagnostics. Nil discards them. The server never
	// writes to stdout.
	Logger *slog.Logger
	// ServerName is reported in ERROR and INFO tokens (default "TDSSIM").
	ServerName string
	// DefaultDatabase is used when the login names none (default "master").
	DefaultDatabase string
	// FaultSeed seeds the RNG used by probabilistic fault rules.
	FaultSeed uint64
	// Now is the clock for fault rules' After (default time.Now).
	Now func() time.Time
	// DisableBuiltins passes every SQL batch to the Handler whole, as it
	// came: the server neither splits batches into statements nor answers
	// "select 1", the session statements (SET, USE, transactions) or ad hoc
	// SELECTs itself (see batch.go).
	DisableBuiltins bool
	// Use, when set, decides USE: the database as the server names it, or
	// the error SQL Server gives (DatabaseNotFoundError, 911; Azure SQL
	// Database's 40508 for another database). Nil accepts master, tempdb,
	// model, msdb, DefaultDatabase and the session's login database.
	Use func(sess *Session, database string) (string, error)
	// Catalog, when set, holds the tables and views the ad hoc evaluator
	// reads (adhoc.go): SELECTs no route answers are evaluated over it. Nil
	// evaluates only SELECTs without FROM; the others go to the Handler.
	Catalog Catalog
	// LoginTimeout bounds PRELOGIN, TLS handshake and LOGIN7 (default 30s).
	LoginTimeout time.Duration
	// MaxMessageSize bounds one client message (default 64 MiB); larger
	// messages close the connection.
	MaxMessageSize int
	// Version is the reported server version as major, minor, build high
	// byte, build low byte (default 15.0.2000, SQL Server 2019).
	Version [4]byte
}

// Stats are cumulative counters of a Server, for tests and dashboards.
type Stats struct {
	// Connections counts accepted TCP connections (including refused ones).
	Connections int64
	// Refused counts connections closed by FaultRefuseConnections.
	Refused int64
	// Logins counts successful logins; LoginFailures rejected ones.
	Logins        int64
	LoginFailures int64
	// Requests counts SQL batches, RPCs and transaction requests.
	Requests int64
	// RequestsByDatabase counts them by the session's current database when they arrived.
	RequestsByDatabase map[string]int64
	// BytesSent counts the bytes of the packets the server wrote (TLS records not included).
	BytesSent int64
	// Attentions counts ATTENTION messages received; AttentionAcks the
	// DONE(ATTN) acknowledgements sent.
	Attentions    int64
	AttentionAcks int64
	// FaultsFired counts fault-rule firings.
	FaultsFired int64
	// Panics counts connections closed by a recovered internal panic;
	// HandlerPanics counts handler panics turned into SQL errors.
	Panics        int64
	HandlerPanics int64
	// Active is the number of open connections.
	Active int
}

type counters struct {
	connections, refused, logins, loginFailures, requests    atomic.Int64
	attentions, attnAcks, faultsFired, panics, handlerPanics atomic.Int64
	bytesSent                                                atomic.Int64

	dbMu sync.Mutex
	byDB map[string]int64
}

// request counts a request that arrived on a session whose current database is db.
func (c *counters) request(db string) {
	c.requests.Add(1)
	c.dbMu.Lock()
	if c.byDB == nil {
		c.byDB = map[string]int64{}
	}
	c.byDB[db]++
	c.dbMu.Unlock()
}

// Server is a simulated SQL Server speaking TDS 7.4 over TCP.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler Handler
	faults  *Faults
	ctx     context.Context
	cancel  context.CancelCauseFunc

	mu     sync.Mutex
	ln     net.Listener
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup

	spid atomic.Uint32
	st   counters
}

// New returns a Server; call Listen or Serve to start it.
func New(cfg Config) *Server {
	if cfg.Handler == nil {
		cfg.Handler = NewRouter()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "TDSSIM"
	}
	if cfg.DefaultDatabase == "" {
		cfg.DefaultDatabase = "master"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = 30 * time.Second
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = defaultMaxMessage
	}
	if cfg.Version == ([4]byte{}) {
		cfg.Version = [4]byte{15, 0, 0x07, 0xD0}
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		handler: cfg.Handler,
		conns:   map[*conn]struct{}{},
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.faults = newFaults(cfg.FaultSeed, cfg.Now, func() { s.st.faultsFired.Add(1) })
	s.spid.Store(50)
	return s
}

// Faults returns the server's fault-rule set.
func (s *Server) Faults() *Faults { return s.faults }

// Listen listens on addr (e.g. "127.0.0.1:0") and serves in the
// background until Close.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("tdssim: listen %s: %w", addr, err)
	}
	if err := s.setListener(ln); err != nil {
		_ = ln.Close()
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.acceptLoop(ln)
	}()
	return nil
}

// Serve accepts connections on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.setListener(ln); err != nil {
		return err
	}
	return s.acceptLoop(ln)
}

func (s *Server) setListener(ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.ln != nil {
		return errors.New("tdssim: server is already listening")
	}
	s.ln = ln
	return nil
}

func (s *Server) acceptLoop(ln net.Listener) error {
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			s.log.Error("tdssim: accept failed", "err", err)
			return fmt.Errorf("tdssim: accept: %w", err)
		}
		backoff = 5 * time.Millisecond
		s.st.connections.Add(1)
		if p := s.faults.evaluate(event{stage: stageAccept}); p.action == FaultRefuseConnections {
			s.st.refused.Add(1)
			s.log.Info("tdssim: connection refused by fault", "remote", nc.RemoteAddr(), "rules", p.fired)
			_ = nc.Close()
			continue
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Addr returns the listener address, or nil before Listen/Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops the server gracefully: it closes the listener, cancels all
// request contexts (cause ErrServerClosed), closes every connection and
// waits for the connection goroutines (and therefore for handlers, which
// must honour their context) to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	s.cancel(ErrServerClosed)
	var err error
	if ln != nil {
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("tdssim: close listener: %w", cerr)
		}
	}
	for _, c := range s.snapshot() {
		c.close(ErrServerClosed)
	}
	s.wg.Wait()
	return err
}

// KillAll closes every open connection (simulating a failover or an idle
// disconnect) and returns how many were closed. The server keeps
// accepting new connections.
func (s *Server) KillAll() int {
	conns := s.snapshot()
	for _, c := range conns {
		c.close(errKilled)
	}
	return len(conns)
}

// Kill closes the connection with the given SPID; it reports whether one
// was found.
func (s *Server) Kill(spid uint16) bool {
	for _, c := range s.snapshot() {
		if c.spid == spid {
			c.close(errKilled)
			return true
		}
	}
	return false
}

// Conns returns the sessions of the logged-in connections, by SPID.
func (s *Server) Conns() []*Session {
	var out []*Session
	for _, c := range s.snapshot() {
		if sess := c.sess.Load(); sess != nil {
			out = append(out, sess)
		}
	}
	slices.SortFunc(out, func(a, b *Session) int { return int(a.SPID) - int(b.SPID) })
	return out
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	active := len(s.conns)
	s.mu.Unlock()
	s.st.dbMu.Lock()
	byDB := maps.Clone(s.st.byDB)
	s.st.dbMu.Unlock()
	return Stats{
		Connections:        s.st.connections.Load(),
		Refused:            s.st.refused.Load(),
		Logins:             s.st.logins.Load(),
		LoginFailures:      s.st.loginFailures.Load(),
		Requests:           s.st.requests.Load(),
		BytesSent:          s.st.bytesSent.Load(),
		Attentions:         s.st.attentions.Load(),
		AttentionAcks:      s.st.attnAcks.Load(),
		FaultsFired:        s.st.faultsFired.Load(),
		Panics:             s.st.panics.Load(),
		HandlerPanics:      s.st.handlerPanics.Load(),
		RequestsByDatabase: byDB,
		Active:             active,
	}
}

// DSNOption customises DSN.
type DSNOption func(*dsnConfig)

type dsnConfig struct {
	user, password, app, encrypt string
	extra                        [][2]string
}

// WithUser sets the login credentials (default "sa" / "tdssim").
func WithUser(user, password string) DSNOption {
	return func(d *dsnConfig) { d.user, d.password = user, password }
}

// WithAppName sets "app name" (default "tdssim").
func WithAppName(name string) DSNOption {
	return func(d *dsnConfig) { d.app = name }
}

// WithEncrypt sets the encrypt option ("disable" by default; "true",
// "false", "strict", ...). An empty mode omits the option, which makes
// the driver offer login-only encryption and trust any certificate.
func WithEncrypt(mode string) DSNOption {
	return func(d *dsnConfig) { d.encrypt = mode }
}

// WithCertificate makes the client encrypt (encrypt=true) and trust the
// PEM certificate at path (certificate=path), as written by SelfSignedTLS.
func WithCertificate(path string) DSNOption {
	return func(d *dsnConfig) {
		d.encrypt = "true"
		d.extra = append(d.extra, [2]string{"certificate", path})
	}
}

// WithParam adds any other DSN query parameter (e.g. "packet size").
func WithParam(key, value string) DSNOption {
	return func(d *dsnConfig) { d.extra = append(d.extra, [2]string{key, value}) }
}

// DSN returns a go-mssqldb URL DSN for this server, e.g.
// sqlserver://sa:tdssim@127.0.0.1:50123?app+name=tdssim&database=AXDB&encrypt=disable.
// It uses 127.0.0.1 when the server listens on an unspecified address.
func (s *Server) DSN(database string, opts ...DSNOption) string {
	d := dsnConfig{user: "sa", password: "tdssim", app: "tdssim", encrypt: "disable"}
	for _, o := range opts {
		o(&d)
	}
	host := "127.0.0.1:0"
	if a, ok := s.Addr().(*net.TCPAddr); ok {
		ip := a.IP
		if ip == nil || ip.IsUnspecified() {
			ip = net.IPv4(127, 0, 0, 1)
		}
		host = net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
	}
	q := url.Values{}
	if database != "" {
		q.Set("database", database)
	}
	if d.encrypt != "" {
		q.Set("encrypt", d.encrypt)
	}
	if d.app != "" {
		q.Set("app name", d.app)
	}
	for _, kv := range d.extra {
		q.Set(kv[0], kv[1])
	}
	u := url.URL{Scheme: "sqlserver", User: url.UserPassword(d.user, d.password), Host: host, RawQuery: q.Encode()}
	return u.String()
}

// bufferedConn lets the server peek at the first byte (TDS 8.0 starts
// with a TLS record) without losing it.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

// Read reads through the buffer.
func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

package tdssim

import (
	"bytes"
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

// testTimeout bounds every test interaction so a protocol bug fails fast
// instead of hanging the run.
const testTimeout = 15 * time.Second

// mode is a client DSN variant; every end-to-end test runs in each.
type mode struct {
	name string
	opts func(pem string) []DSNOption
	tls  TLSMode
}

func modes() []mode {
	return []mode{
		{name: "plain", opts: func(string) []DSNOption { return nil }, tls: TLSNone},
		{name: "tls", opts: func(pem string) []DSNOption { return []DSNOption{WithCertificate(pem)} }, tls: TLSFull},
	}
}

// env is a running server plus a client pool for one mode.
type env struct {
	t    testing.TB
	srv  *Server
	db   *stdsql.DB
	pem  string
	mode mode
}

// newServer starts a TLS-capable server on 127.0.0.1:0.
func newServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	pem := filepath.Join(t.TempDir(), "cert.pem")
	if cfg.TLS == nil {
		tc, err := SelfSignedTLS(pem)
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = tc
	}
	srv := New(cfg)
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if p := srv.Stats().Panics; p != 0 {
			t.Errorf("server recovered %d panics", p)
		}
	})
	return srv, pem
}

func newEnv(t testing.TB, m mode, cfg Config, extra ...DSNOption) *env {
	t.Helper()
	srv, pem := newServer(t, cfg)
	opts := append(m.opts(pem), extra...)
	db, err := stdsql.Open("sqlserver", srv.DSN("AXDB", opts...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &env{t: t, srv: srv, db: db, pem: pem, mode: m}
}

// forEachMode runs fn once per mode. The calling test becomes parallel,
// and the modes run concurrently inside it (t.Run from goroutines), so the
// idle waits of timeout tests do not hold extra -parallel slots.
func forEachMode(t *testing.T, fn func(t *testing.T, m mode)) {
	t.Helper()
	t.Parallel()
	var wg sync.WaitGroup
	for _, m := range modes() {
		wg.Go(func() {
			t.Run(m.name, func(t *testing.T) { fn(t, m) })
		})
	}
	wg.Wait()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// mustPing asserts that the pool can serve a query (used after faults to
// show the pool recovered). It reads the whole response, so unlike
// QueryRow it never causes a (late) ATTENTION that would skew counters.
func mustPing(t testing.TB, db *stdsql.DB) {
	t.Helper()
	res, err := db.ExecContext(ctxT(t), "select 1")
	if err != nil {
		t.Fatalf("pool did not recover: %v", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("select 1 reported %d rows", n)
	}
}

// sqlErr extracts the mssql.Error of err (also through ServerError).
func sqlErr(t testing.TB, err error) mssql.Error {
	t.Helper()
	var me mssql.Error
	if !errors.As(err, &me) {
		t.Fatalf("want mssql.Error, got %T: %v", err, err)
	}
	return me
}

func isStreamErr(err error) bool {
	var se mssql.StreamError
	return errors.As(err, &se)
}

// isIOErr reports a transport-level failure as the driver surfaces it.
func isIOErr(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, net.ErrClosed)
}

func ptr[T any](v T) *T { return &v }

// tapConn records what the client reads from (and writes to) the server.
type tapConn struct {
	net.Conn
	mu      sync.Mutex
	read    bytes.Buffer
	written bytes.Buffer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.written.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *tapConn) snapshot() (read, written []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.read.Bytes()), bytes.Clone(c.written.Bytes())
}

// tapDialer dials TCP and keeps every connection's tap.
type tapDialer struct {
	mu    sync.Mutex
	conns []*tapConn
}

func (d *tapDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &tapConn{Conn: c}
	d.mu.Lock()
	d.conns = append(d.conns, tc)
	d.mu.Unlock()
	return tc, nil
}

func (d *tapDialer) taps() []*tapConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*tapConn(nil), d.conns...)
}

// openTapped opens a pool whose connections are recorded (plaintext only).
func openTapped(t testing.TB, dsn string) (*stdsql.DB, *tapDialer) {
	t.Helper()
	c, err := mssql.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	d := &tapDialer{}
	c.Dialer = d
	db := stdsql.OpenDB(c)
	t.Cleanup(func() { _ = db.Close() })
	return db, d
}

// wirePacket is one packet parsed from a tap.
type wirePacket struct {
	typ    packetType
	status byte
	length int
	id     byte
	data   []byte
}

func parsePackets(t testing.TB, b []byte) []wirePacket {
	t.Helper()
	var out []wirePacket
	for len(b) > 0 {
		if len(b) < headerLen {
			t.Fatalf("trailing %d bytes", len(b))
		}
		n := int(b[2])<<8 | int(b[3])
		if n < headerLen || n > len(b) {
			t.Fatalf("bad packet length %d (have %d)", n, len(b))
		}
		out = append(out, wirePacket{typ: packetType(b[0]), status: b[1], length: n, id: b[6], data: b[headerLen:n]})
		b = b[n:]
	}
	return out
}

// clientMessages reassembles the messages a client wrote (plaintext).
func clientMessages(t testing.TB, written []byte) []message {
	t.Helper()
	pr := &packetReader{r: bytes.NewReader(written)}
	var out []message
	for {
		m, err := pr.readMessage()
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}

// echoRouter answers a few generic queries used across tests.
func echoRouter() *Router {
	rt := NewRouter()
	rt.Exact("select @p1", func(r *Request) (*Result, error) {
		v, _ := r.Param("p1")
		return Scalar(v), nil
	})
	rt.Exact("select @@spid", func(r *Request) (*Result, error) {
		return Scalar(int64(r.Session.SPID)), nil
	})
	rt.Exact("select db_name()", func(r *Request) (*Result, error) {
		return Scalar(r.Session.Database), nil
	})
	rt.Exact("select n from numbers", func(r *Request) (*Result, error) {
		rows := make([]Row, 20)
		for i := range rows {
			rows[i] = Row{int64(i)}
		}
		return Rows([]Column{{Name: "n", Type: TypeBigInt}}, rows...), nil
	})
	return rt
}

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

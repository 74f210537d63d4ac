package tdssim

import (
	"bytes"
	"context"
	"crypto/x509"
	stdsql "database/sql"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The driver never sends the IGNORE bit, a request before the previous
// answer, or a named transaction; these tests put them on the driver's own
// (idle) connection and let the driver show the connection is still usable.

// onDriverConn runs fn with a raw client on the driver's (idle) connection.
func onDriverConn(t *testing.T, tap *tapDialer, fn func(c *rawClient)) {
	t.Helper()
	taps := tap.taps()
	if len(taps) != 1 {
		t.Fatalf("%d connections", len(taps))
	}
	nc := taps[0].Conn
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	fn(rawOn(t, nc))
	_ = nc.SetDeadline(time.Time{})
}

// TestDriverConnectionSurvivesProtocolEdges: after each request the driver
// never sends itself, on its own connection, the driver's next query works
// on that same connection.
func TestDriverConnectionSurvivesProtocolEdges(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{Handler: echoRouter()})
	db, tap := openTapped(t, srv.DSN("AXDB"))
	db.SetMaxOpenConns(1)
	ctx := ctxT(t)
	// One *sql.Conn throughout: a pool's reuse would send RESETCONNECTION,
	// which (rightly) ends the open transaction.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	query := func(what string) {
		t.Helper()
		var n int64
		rows, err := conn.QueryContext(ctx, "select n from numbers")
		if err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
		count := 0
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			count++
		}
		if err := rows.Err(); err != nil || count != 20 {
			t.Fatalf("after %s: %d rows, %v", what, count, err)
		}
	}

	query("the first query")
	// A request abandoned before it was fully sent (IGNORE bit).
	onDriverConn(t, tap, func(c *rawClient) {
		c.packet(pktSQLBatch, 0, batchPayload(TDS74, "select n fr"))
		c.packet(pktSQLBatch, statusIgnore|statusEOM, ucs2Bytes("om numbers"))
		if toks := c.readTokens(); len(toks) != 1 || toks[0].status != doneError {
			t.Fatalf("ignored request: %v", toks)
		}
	})
	query("an ignored request")

	// A request sent before the previous one was answered.
	onDriverConn(t, tap, func(c *rawClient) {
		c.send(pktSQLBatch, 0, batchPayload(TDS74, "select n from numbers"))
		c.send(pktSQLBatch, 0, batchPayload(TDS74, "select @@spid"))
		if r := rows(c.readTokens()); len(r) != 20 {
			t.Fatalf("first: %v", r)
		}
		if r := rows(c.readTokens()); len(r) != 1 {
			t.Fatalf("second: %v", r)
		}
	})
	query("two requests in a row")

	// A named transaction, begun and committed by name around the driver's
	// query (MS-TDS 2.2.6.9: names are B_VARBYTE).
	onDriverConn(t, tap, func(c *rawClient) {
		c.send(pktTransMgr, 0, transMgrPayload(txBegin, append([]byte{0}, bVarByteName("cutover")...)...))
		if ev := envs(c.readTokens()); len(ev) != 1 || ev[0].envType != envBeginTran {
			t.Fatalf("BEGIN cutover: %v", ev)
		}
	})
	if !srv.Conns()[0].InTransaction() {
		t.Fatal("no transaction")
	}
	query("BEGIN TRANSACTION cutover")
	onDriverConn(t, tap, func(c *rawClient) {
		c.send(pktTransMgr, 0, transMgrPayload(txCommit, append(bVarByteName("cutover"), 0)...))
		if ev := envs(c.readTokens()); len(ev) != 1 || ev[0].envType != envCommitTran {
			t.Fatalf("COMMIT cutover: %v", ev)
		}
	})
	if srv.Conns()[0].InTransaction() {
		t.Fatal("still in a transaction")
	}
	query("COMMIT TRANSACTION cutover")

	// A query whose context is cancelled before it is sent: the driver
	// sends it and an ATTENTION right behind it (or, when the answer wins
	// its race with the cancellation, returns the rows); the
	// acknowledgement keeps the connection.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	rs, err := conn.QueryContext(cancelled, "select n from numbers")
	switch {
	case err == nil:
		rs.Close()
	case !errors.Is(err, context.Canceled):
		t.Fatalf("cancelled before sending: %v", err)
	}
	query("a query cancelled before it was sent")
	if st := srv.Stats(); st.Connections != 1 || st.Attentions != st.AttentionAcks {
		t.Fatalf("stats = %+v", st)
	}
}

// TestErrorSequence: a handler's Errors go out as one ERROR token each, in
// order; the driver reports the last (297 after 300, as SQL Server sends
// them for a login without VIEW SERVER STATE) and keeps all.
func TestErrorSequence(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := echoRouter()
		rt.Exact("select * from sys.dm_exec_sessions", func(*Request) (*Result, error) {
			return nil, Errors{
				{Number: 300, State: 1, Class: 14, Message: "VIEW SERVER STATE permission was denied on object 'server', database 'master'."},
				{Number: 297, State: 1, Class: 16, Message: "The user does not have permission to perform this action."},
			}
		})
		e := newEnv(t, m, Config{Handler: rt})
		_, err := e.db.ExecContext(ctxT(t), "select * from sys.dm_exec_sessions")
		me := sqlErr(t, err)
		var all []int32
		for _, x := range me.All {
			all = append(all, x.Number)
		}
		if me.Number != 297 || !slices.Equal(all, []int32{300, 297}) {
			t.Fatalf("got %d, all %v", me.Number, all)
		}
		mustPing(t, e.db)
	})
}

// TestLoadOrCreateTLS: the certificate and key are kept and reused, so a
// client trusts the server across restarts; a broken pair or one about to
// expire is replaced.
func TestLoadOrCreateTLS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	cfg1, path, err := LoadOrCreateTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, CertFileName) {
		t.Fatalf("path %s", path)
	}
	if fi, err := os.Stat(filepath.Join(dir, KeyFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	cfg2, _, err := LoadOrCreateTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cfg1.Certificates[0].Certificate[0], cfg2.Certificates[0].Certificate[0]) {
		t.Fatal("a restart made a new certificate")
	}
	// The kept certificate serves: a client trusting the file logs in.
	srv, _ := newServer(t, Config{TLS: cfg2, Handler: echoRouter()})
	db, err := stdsql.Open("sqlserver", srv.DSN("AXDB", WithCertificate(path)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustPing(t, db)

	// A broken key file: a new pair.
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg3, _, err := LoadOrCreateTLS(dir)
	if err != nil || bytes.Equal(cfg3.Certificates[0].Certificate[0], cfg1.Certificates[0].Certificate[0]) {
		t.Fatalf("a broken pair was kept: %v", err)
	}
	// A certificate that expires within 30 days: a new one.
	key, der, err := newSelfSigned(time.Now().Add(-360 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, KeyFileName), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	cfg4, _, err := LoadOrCreateTLS(dir)
	if err != nil || bytes.Equal(cfg4.Certificates[0].Certificate[0], der) {
		t.Fatalf("an expiring certificate was kept: %v", err)
	}
}

// lockedBuffer is a goroutine-safe log sink.
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

// TestDiagnostics: the logger (`cutover sim -v`) hears of rejected logins,
// malformed requests, statements the handler has no answer for, and
// connections refused before login.
func TestDiagnostics(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	srv, _ := newServer(t, Config{
		Handler: echoRouter(),
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Auth: func(user, password, database, app string) error {
			if password != "pw" {
				return errors.New("wrong password")
			}
			return nil
		},
	})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	if e := errorsOf(c.login(0x74000004, "ax", "nope", "AXDB")); !slices.Equal(e, []int32{18456}) {
		t.Fatalf("login: %v", e)
	}
	c = dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x74000004, "ax", "pw", "AXDB")
	c.send(pktSQLBatch, 0, ucs2Bytes("select 1")) // no ALL_HEADERS in a 7.4 session
	if e := errorsOf(c.readTokens()); !slices.Equal(e, []int32{4009}) {
		t.Fatalf("malformed: %v", e)
	}
	if e := errorsOf(c.batch("select * from nowhere")); !slices.Equal(e, []int32{208}) {
		t.Fatalf("unknown SQL: %v", e)
	}
	d := dialRaw(t, srv)
	d.send(pktLogin7, 0, []byte{1, 2, 3})
	d.expectClosed()
	deadline := time.After(testTimeout)
	for _, want := range []string{
		`msg="tdssim: login rejected"`, `user=ax`, `reason="wrong password"`,
		`msg="tdssim: malformed request"`, `bad ALL_HEADERS`,
		`msg="tdssim: unsupported statement"`, `sql="select * from nowhere"`,
		`msg="tdssim: connection refused before login"`,
	} {
		for !strings.Contains(logs.String(), want) {
			select {
			case <-deadline:
				t.Fatalf("no %s in the log:\n%s", want, logs.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

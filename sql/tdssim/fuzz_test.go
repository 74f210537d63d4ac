package tdssim

import (
	"context"
	stdsql "database/sql"
	"errors"
	"io"
	"net"
	"testing"
	"time"
	"unicode/utf8"
)

// seedRouter is the handler of the seed-capture and connection-fuzz
// servers; "exec slow" signals started (if non-nil) and waits for cancel.
func seedRouter(started chan<- struct{}) *Router {
	rt := echoRouter()
	rt.Exact("exec slow", func(r *Request) (*Result, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	rt.Proc("dbo.usp_Store", func(r *Request) (*Result, error) { return Affected(1), nil })
	rt.Prefix("insert", func(r *Request) (*Result, error) { return Affected(1), nil })
	return rt
}

// driverStreams runs the real driver (plaintext) through a tap and returns
// each connection's client-to-server byte stream: PRELOGIN, LOGIN7,
// batches, RPCs with every parameter type, transaction requests and an
// ATTENTION. They seed the fuzz corpora.
func driverStreams(tb testing.TB) [][]byte {
	tb.Helper()
	started := make(chan struct{}, 1)
	srv, _ := newServer(tb, Config{Handler: seedRouter(started)})
	db, tap := openTapped(tb, srv.DSN("AXDB", WithUser("ax", "pä$$wörd")))
	db.SetMaxOpenConns(1)
	ctx := ctxT(tb)
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(db.PingContext(ctx))
	var s string
	must(db.QueryRowContext(ctx, "select @p1", "héllo").Scan(&s))
	for _, c := range paramCases() {
		_, err := db.ExecContext(ctx, "insert into t values (@p1)", c.arg)
		must(err)
		_, err = db.ExecContext(ctx, "dbo.usp_Store", stdsql.Named("Val", c.arg))
		must(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	must(err)
	_, err = tx.ExecContext(ctx, "insert into t values (1)")
	must(err)
	must(tx.Commit())
	tx, err = db.BeginTx(ctx, nil)
	must(err)
	must(tx.Rollback())
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		<-started
		cancel()
	}()
	if _, err := db.ExecContext(cctx, "exec slow"); !errors.Is(err, context.Canceled) {
		tb.Fatalf("cancel: %v", err)
	}
	cancel()
	must(db.Close())
	var out [][]byte
	for _, tc := range tap.taps() {
		_, w := tc.snapshot()
		out = append(out, w)
	}
	return out
}

// driverMessages returns the seed streams split into messages.
func driverMessages(tb testing.TB) []message {
	tb.Helper()
	var out []message
	for _, s := range driverStreams(tb) {
		out = append(out, clientMessages(tb, s)...)
	}
	return out
}

// encodePacket wraps data in one client packet with EOM.
func encodePacket(typ packetType, data []byte) []byte {
	n := headerLen + len(data)
	b := []byte{byte(typ), statusEOM, byte(n >> 8), byte(n), 0, 0, 1, 0}
	return append(b, data...)
}

func addSeeds(f *testing.F, msgs []message, types ...packetType) {
	for _, m := range msgs {
		for _, typ := range types {
			if m.typ == typ {
				f.Add(m.data)
				if len(m.data) > 3 {
					f.Add(m.data[:len(m.data)/2]) // truncated
				}
			}
		}
	}
}

func FuzzDecodePrelogin(f *testing.F) {
	addSeeds(f, driverMessages(f), pktPrelogin)
	f.Add(unhex(f, specPrelogin))
	f.Add([]byte{preTerminator})
	f.Add([]byte{preEncryption, 0xFF, 0xFF, 0xFF, 0xFF, preTerminator})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodePrelogin(data)
		if err == nil && p == nil {
			t.Fatal("nil result without error")
		}
	})
}

func FuzzDecodeLogin7(f *testing.F) {
	addSeeds(f, driverMessages(f), pktLogin7)
	f.Add(unhex(f, specLogin7))
	f.Add(login7Payload(0x71000001, "sa", "pw", "AXDB")) // the 86-byte TDS 7.1 layout
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, strict := range []bool{false, true} {
			l, err := decodeLogin7(data, strict)
			if err != nil {
				continue
			}
			for _, s := range []string{l.hostName, l.userName, l.password, l.appName, l.database, l.serverName} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 %q", s)
				}
			}
		}
	})
}

// FuzzDecodeRequest feeds the same bytes to the SQLBatch, RPC and
// Transaction Manager decoders.
func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f, driverMessages(f), pktSQLBatch, pktRPC, pktTransMgr)
	f.Add(unhex(f, specRPC))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []TDSVersion{TDS71, TDS74} {
			if s, err := decodeSQLBatch(data, v); err == nil && !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 batch %q", s)
			}
			if r, err := decodeRPC(data, v); err == nil {
				if r == nil || r.Kind != RequestRPC {
					t.Fatalf("bad request %+v", r)
				}
				if r.SQL == "" && r.Proc == "" && len(r.Params) > 0 && r.ParamDecl != "" {
					t.Fatalf("declaration without statement: %+v", r)
				}
			}
			_, _ = decodeTransMgr(data, v)
		}
	})
}

// FuzzConnection writes arbitrary bytes to a live server, either as the
// whole client stream or after a valid PRELOGIN and LOGIN7, and checks
// that the server neither panics nor stops serving other clients.
func FuzzConnection(f *testing.F) {
	streams := driverStreams(f)
	msgs := clientMessages(f, streams[0])
	var prefix []byte
	for _, m := range msgs {
		if m.typ == pktPrelogin || m.typ == pktLogin7 {
			prefix = append(prefix, encodePacket(m.typ, m.data)...)
		}
	}
	for _, s := range streams {
		f.Add(append([]byte{0}, s...))
	}
	for _, m := range msgs {
		if m.typ != pktPrelogin && m.typ != pktLogin7 {
			f.Add(append([]byte{1}, encodePacket(m.typ, m.data)...))
			f.Add(append([]byte{1}, encodePacket(m.typ, m.data[:len(m.data)/2])...))
		}
	}
	f.Add([]byte{1, 0x06, 0x01, 0x00, 0x08, 0, 0, 1, 0}) // ATTENTION with nothing running
	f.Add([]byte{1, 0x01, 0x01, 0x00, 0x07, 0, 0, 1, 0}) // short packet
	f.Add([]byte{0, 0x16, 0x03, 0x01, 0x00, 0x05})       // a TLS record (TDS 8.0)

	srv, _ := newServer(f, Config{Handler: seedRouter(nil), LoginTimeout: 2 * time.Second})
	db, err := stdsql.Open("sqlserver", srv.DSN("AXDB"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	addr := srv.Addr().String()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		var in []byte
		if data[0]&1 == 1 {
			in = append(append(in, prefix...), data[1:]...)
		} else {
			in = data[1:]
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			_, _ = c.Write(in)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		_, _ = io.Copy(io.Discard, c) // until the server closes
		if p := srv.Stats().Panics; p != 0 {
			t.Fatalf("server recovered %d panics", p)
		}
		mustPing(t, db)
	})
}

func FuzzNormalizeSQL(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM [Orders] WITH (NOLOCK) -- c\n WHERE x = 'A''b' /* x /* y */ z */;",
		"with with (nolock)(nolock)",
		"select 'unterminated",
		"\"Quoted\"\"Id\" [a]]b]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeSQL(s)
		if n2 := NormalizeSQL(n); n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, n2)
		}
	})
}

// TestDecodeRPCEmptyStatement is the fuzzer's find: sp_executesql whose
// statement is empty is refused, not turned into a request that carries
// a declaration and parameters but nothing to run.
func TestDecodeRPCEmptyStatement(t *testing.T) {
	nvarchar := func(s string) []byte {
		b := []byte{0x00, 0x00} // unnamed, no status flags
		b = append(b, 0xE7, 0x40, 0x1F, 0x09, 0x04, 0xD0, 0x00, 0x34)
		u := make([]byte, 0, 2*len(s))
		for _, r := range s {
			u = append(u, byte(r), byte(r>>8))
		}
		return append(append(b, byte(len(u)), byte(len(u)>>8)), u...)
	}
	msg := []byte{0x16, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF, byte(procExecuteSQL), 0x00, 0x00, 0x00}
	msg = append(msg, nvarchar("")...)
	msg = append(msg, nvarchar("@p1 int")...)
	msg = append(msg, nvarchar("x")...)
	if r, err := decodeRPC(msg, TDS74); err == nil {
		t.Fatalf("decoded %+v, want an error", r)
	}
	// The same message with a statement decodes.
	ok := []byte{0x16, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF, byte(procExecuteSQL), 0x00, 0x00, 0x00}
	ok = append(ok, nvarchar("select @p1")...)
	ok = append(ok, nvarchar("@p1 int")...)
	ok = append(ok, nvarchar("x")...)
	r, err := decodeRPC(ok, TDS74)
	if err != nil || r.SQL != "select @p1" || r.ParamDecl != "@p1 int" || len(r.Params) != 1 {
		t.Fatalf("decoded %+v, %v", r, err)
	}
}

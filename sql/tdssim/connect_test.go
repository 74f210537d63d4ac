package tdssim

import (
	"crypto/tls"
	stdsql "database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestConnectVariants(t *testing.T) {
	t.Parallel()
	type variant struct {
		name string
		opts func(pem string) []DSNOption
		want TLSMode
	}
	variants := []variant{
		{"encrypt=disable", func(string) []DSNOption { return nil }, TLSNone},
		{"no encrypt option", func(string) []DSNOption { return []DSNOption{WithEncrypt("")} }, TLSLoginOnly},
		{"encrypt=true+certificate", func(p string) []DSNOption { return []DSNOption{WithCertificate(p)} }, TLSFull},
		{"encrypt=false+certificate", func(p string) []DSNOption {
			return []DSNOption{WithEncrypt("false"), WithParam("certificate", p)}
		}, TLSLoginOnly},
		{"encrypt=strict+certificate", func(p string) []DSNOption {
			return []DSNOption{WithEncrypt("strict"), WithParam("certificate", p)}
		}, TLSStrict},
		{"encrypt=true+packet size 512", func(p string) []DSNOption {
			return []DSNOption{WithCertificate(p), WithParam("packet size", "512")}
		}, TLSFull},
	}
	srv, pem := newServer(t, Config{Handler: echoRouter(), Strict: true})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			db, err := stdsql.Open("sqlserver", srv.DSN("AXDB", v.opts(pem)...))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			ctx := ctxT(t)
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			// A larger result than one packet, to exercise the transport.
			long := strings.Repeat("x", 9000)
			var got string
			if err := db.QueryRowContext(ctx, "select @p1", long).Scan(&got); err != nil || got != long {
				t.Fatalf("echo: len=%d err=%v", len(got), err)
			}
			var spid int
			if err := db.QueryRowContext(ctx, "select @@spid").Scan(&spid); err != nil {
				t.Fatal(err)
			}
			var mode TLSMode = -1
			for _, s := range srv.Conns() {
				if int(s.SPID) == spid {
					mode = s.TLS
				}
			}
			if mode != v.want {
				t.Fatalf("TLS mode = %v, want %v", mode, v.want)
			}
		})
	}
}

func TestConnectEncryptTrueWithoutServerTLS(t *testing.T) {
	t.Parallel()
	srv := New(Config{})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	db, err := stdsql.Open("sqlserver", srv.DSN("", WithEncrypt("true")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "server does not support encryption") {
		t.Fatalf("want 'server does not support encryption', got %v", err)
	}
	// encrypt=disable and no option both work against a server without TLS.
	for _, opt := range []DSNOption{WithEncrypt("disable"), WithEncrypt("")} {
		db2, err := stdsql.Open("sqlserver", srv.DSN("", opt))
		if err != nil {
			t.Fatal(err)
		}
		mustPing(t, db2)
		db2.Close()
	}
}

func TestConnectTLS12AndRequired(t *testing.T) {
	t.Parallel()
	pem := filepath.Join(t.TempDir(), "cert.pem")
	tc, err := SelfSignedTLS(pem)
	if err != nil {
		t.Fatal(err)
	}
	tc.MaxVersion = tls.VersionTLS12
	srv, _ := newServer(t, Config{TLS: tc, RequireEncryption: true})
	for _, opts := range [][]DSNOption{{WithCertificate(pem)}, {WithEncrypt("")}} {
		db, err := stdsql.Open("sqlserver", srv.DSN("", opts...))
		if err != nil {
			t.Fatal(err)
		}
		mustPing(t, db)
		db.Close()
	}
	for _, s := range srv.Conns() {
		if s.TLS != TLSFull {
			t.Errorf("RequireEncryption: session %d has TLS %v", s.SPID, s.TLS)
		}
	}
}

func TestConnectUntrustedCertificateFails(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{})
	db, err := stdsql.Open("sqlserver", srv.DSN("", WithEncrypt("true")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctxT(t)); err == nil || !strings.Contains(err.Error(), "TLS Handshake failed") {
		t.Fatalf("want TLS handshake failure without a trusted certificate, got %v", err)
	}
}

func TestLogin(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		type seen struct{ user, password, database, app string }
		got := make(chan seen, 10)
		auth := func(user, password, database, app string) error {
			got <- seen{user, password, database, app}
			switch {
			case database == "NoSuchDB":
				return CannotOpenDatabaseError(database)
			case database == "Paused":
				return AzureTransientError(database)
			case user != "ax" || password != "pä$$:wörd/@?":
				return errors.New("bad password")
			}
			return nil
		}
		srv, pem := newServer(t, Config{Auth: auth, Handler: echoRouter()})
		open := func(db string, opts ...DSNOption) *stdsql.DB {
			d, err := stdsql.Open("sqlserver", srv.DSN(db, append(m.opts(pem), opts...)...))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			return d
		}

		ok := open("AXDB", WithUser("ax", "pä$$:wörd/@?"), WithAppName("cockpit"))
		mustPing(t, ok)
		if s := <-got; s != (seen{"ax", "pä$$:wörd/@?", "AXDB", "cockpit"}) {
			t.Fatalf("auth saw %+v", s)
		}
		sess := srv.Conns()[0]
		if sess.User != "ax" || sess.Database != "AXDB" || sess.AppName != "cockpit" || sess.TLS != m.tls || sess.SPID < 51 {
			t.Fatalf("session = %+v", sess)
		}

		err := open("AXDB", WithUser("ax", "wrong")).PingContext(ctxT(t))
		if me := sqlErr(t, err); me.Number != 18456 || me.Class != 14 || !strings.Contains(me.Error(), "Login failed for user 'ax'") {
			t.Fatalf("bad password: %+v", me)
		}
		<-got
		err = open("NoSuchDB", WithUser("ax", "pä$$:wörd/@?")).PingContext(ctxT(t))
		// 4060, then 18456, as SQL Server sends them.
		if me := sqlErr(t, err); me.Number != 18456 || len(me.All) != 2 || me.All[0].Number != 4060 || me.All[0].Class != 11 {
			t.Fatalf("unknown database: %+v", me)
		}
		<-got
		err = open("Paused").PingContext(ctxT(t))
		if me := sqlErr(t, err); me.Number != 40613 {
			t.Fatalf("azure transient: %+v", me)
		}
		<-got
		if st := srv.Stats(); st.Logins != 1 || st.LoginFailures != 3 {
			t.Fatalf("stats = %+v", st)
		}
		mustPing(t, ok)
	})
}

func TestLoginDefaultDatabase(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{DefaultDatabase: "distribution", Handler: echoRouter()})
	db, err := stdsql.Open("sqlserver", srv.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRowContext(ctxT(t), "select db_name()").Scan(&name); err != nil || name != "distribution" {
		t.Fatalf("db_name() = %q, %v", name, err)
	}
}

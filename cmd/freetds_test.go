package cmd

import (
	"bytes"
	"context"
	stdsql "database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
)

// TestFreeTDS points FreeTDS's tsql, a SQL Server client written by others, at `cutover sim`, at
// TDS 7.1, 7.3 and 7.4, in plaintext and with encryption required and the simulator's certificate
// trusted (freetds.conf "encryption = require" and "ca file"), as the README invites people to.
// tsql comes with Debian's freetds-bin, which CI installs; without it the test skips.
func TestFreeTDS(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	tsql, err := exec.LookPath("tsql")
	if err != nil {
		t.Skip("FreeTDS's tsql is not installed (Debian/Ubuntu: apt-get install freetds-bin; .ci/run installs it)")
	}
	dir := t.TempDir()
	cmd := child(t, "sim", "--source-addr", "127.0.0.1:0", "--target-addr", "127.0.0.1:0", "--lcs-addr", "127.0.0.1:0",
		"--tables", "300", "--dir", dir, "-v")
	out, _ := cmd.StdoutPipe()
	var diag strings.Builder
	cmd.Stderr = &diag
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ls := streamLines(out)
	ls.expect(t, "Serving until Ctrl-C")
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		ls.expect(t, "stopped")
		ls.drain()
		if err := cmd.Wait(); err != nil {
			t.Errorf("cutover sim: %v", err)
		}
		// -v told of the refused statements.
		if !strings.Contains(diag.String(), `msg="tdssim: request failed"`) || !strings.Contains(diag.String(), "number=102") {
			t.Errorf("cutover sim -v logged no syntax error")
		}
		// -v told of each rejected login, with the TDS version tsql spoke (FreeTDS asks for 7.1
		// revision 1 and 7.3.B).
		for _, v := range []string{`tds="7.1 rev 1"`, "tds=7.3.B", "tds=7.4"} {
			if !strings.Contains(diag.String(), "login rejected") || !strings.Contains(diag.String(), v+" number=18456") {
				t.Errorf("cutover sim -v logged no rejected login with %s", v)
			}
		}
		if t.Failed() {
			t.Logf("cutover sim -v:\n%s", diag.String())
		}
	}()
	var host, port string
	for _, l := range ls.seen {
		// "  source  AXSQL01 (SQL Server 2016 SP2, publisher and distributor) on 127.0.0.1:PORT"
		if f := strings.Fields(l); len(f) > 2 && f[0] == "source" {
			host, port, _ = strings.Cut(f[len(f)-1], ":")
		}
	}
	cert := filepath.Join(dir, tdssim.CertFileName)
	if port == "" || !strings.Contains(strings.Join(ls.seen, ""), cert) {
		t.Fatalf("cutover sim printed no source address or certificate %s:\n%s", cert, strings.Join(ls.seen, ""))
	}

	// A freetds.conf with one server per TDS version and encryption.
	versions := []string{"7.1", "7.3", "7.4"}
	var conf strings.Builder
	conf.WriteString("[global]\n")
	for _, v := range versions {
		fmt.Fprintf(&conf, "[sim-%s-plain]\n\thost = %s\n\tport = %s\n\ttds version = %s\n\tencryption = off\n", v, host, port, v)
		fmt.Fprintf(&conf, "[sim-%s-tls]\n\thost = %s\n\tport = %s\n\ttds version = %s\n\tencryption = require\n\tca file = %s\n",
			v, host, port, v, cert)
	}
	confPath := filepath.Join(t.TempDir(), "freetds.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// run sends a script to tsql and returns what it printed.
	run := func(t *testing.T, server, password, database, script string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, tsql, "-S", server, "-U", sqlsim.User, "-P", password, "-D", database)
		// FREETDSCONF names this test's file; TDSVER from the environment would override it.
		c.Env = append(withoutEnv(os.Environ(), "TDSVER", "TDSDUMP", "FREETDS"), "FREETDSCONF="+confPath)
		c.Stdin = strings.NewReader(script + "\nexit\n")
		b, err := c.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("tsql -S %s hung:\n%s", server, b)
		}
		return string(b), err
	}
	for _, v := range versions {
		for _, enc := range []string{"plain", "tls"} {
			server := "sim-" + v + "-" + enc
			t.Run(v+"/"+enc, func(t *testing.T) {
				t.Run("login and SELECT 1", func(t *testing.T) {
					got, err := run(t, server, sqlsim.Password, "master", "SELECT 1\ngo")
					if err != nil || !strings.Contains(got, "(1 row affected)") || strings.Contains(got, "Msg ") {
						t.Fatalf("tsql: %v\n%s", err, got)
					}
				})
				t.Run("bad password is Msg 18456", func(t *testing.T) {
					got, _ := run(t, server, "not-the-password", "master", "SELECT 1\ngo")
					if !strings.Contains(got, "Msg 18456") || !strings.Contains(got, "Login failed for user '"+sqlsim.User+"'") {
						t.Fatalf("want Msg 18456:\n%s", got)
					}
				})
				t.Run("unknown database is Msg 4060 then 18456", func(t *testing.T) {
					got, _ := run(t, server, sqlsim.Password, "NoSuchDatabase", "SELECT 1\ngo")
					i, j := strings.Index(got, "Msg 4060"), strings.Index(got, "Msg 18456")
					if i < 0 || j < i {
						t.Fatalf("want Msg 4060, then Msg 18456:\n%s", got)
					}
				})
				// tsql counts the rows it prints itself, whatever DONE_COUNT says: what SET NOCOUNT
				// ON must not do is swallow the statements after it.
				t.Run("batch starting with SET NOCOUNT ON", func(t *testing.T) {
					got, err := run(t, server, sqlsim.Password, "master",
						"SET NOCOUNT ON\nSELECT name FROM sys.databases WHERE database_id > 4 ORDER BY name\nSELECT @@TRANCOUNT AS open_trans\ngo")
					if err != nil || strings.Contains(got, "Msg ") || !containsInOrder(got, "name\ndistribution\nMicrosoftDynamicsAX\n(2 rows affected)", "open_trans", "0", "(1 row affected)") {
						t.Fatalf("tsql: %v\n%s", err, got)
					}
				})
				t.Run("USE distribution", func(t *testing.T) {
					got, err := run(t, server, sqlsim.Password, "master",
						"USE distribution\ngo\nSELECT DB_NAME() AS db, COUNT(*) AS agents FROM dbo.MSdistribution_agents\ngo")
					if err != nil || strings.Contains(got, "Msg ") || !containsInOrder(got, "db\tagents", "distribution\t", "(1 row affected)") {
						t.Fatalf("tsql: %v\n%s", err, got)
					}
				})
				t.Run("WHERE query on SYSSERVERSESSIONS", func(t *testing.T) {
					got, err := run(t, server, sqlsim.Password, "MicrosoftDynamicsAX",
						"SELECT COUNT(*) AS running FROM SYSSERVERSESSIONS WHERE STATUS = 1\ngo\nSELECT AOSID FROM dbo.SYSSERVERSESSIONS WITH (NOLOCK) WHERE STATUS = 1 AND AOSID LIKE 'AX-AOS01%'\ngo")
					if err != nil || strings.Contains(got, "Msg ") || !containsInOrder(got, "running\n3\n(1 row affected)", "AOSID", "AX-AOS01@", "(1 row affected)") {
						t.Fatalf("tsql: %v\n%s", err, got)
					}
				})
				t.Run("syntax error is Msg 102", func(t *testing.T) {
					// The whole batch fails before anything runs: the first SELECT's row never comes.
					got, _ := run(t, server, sqlsim.Password, "master", "SELECT 'ran' AS first\nSELECT * FROM\ngo")
					if !strings.Contains(got, "Msg 102 (severity 15, state 1)") || !strings.Contains(got, "Line 2") ||
						!strings.Contains(got, "Incorrect syntax near 'FROM'.") || strings.Contains(got, "ran") {
						t.Fatalf("want Msg 102 on line 2 and nothing run:\n%s", got)
					}
				})
			})
		}
	}
}

// containsInOrder reports whether s holds each part, each after the one before.
func containsInOrder(s string, parts ...string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// withoutEnv drops the named variables (and those starting with the names) from env.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if strings.HasPrefix(k, n) {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// TestSimCertificateAndStrict: `cutover sim` keeps its certificate across restarts (a client trusts
// it once), its printed DSNs encrypt and verify it, the Azure SQL sandbox takes TDS 8.0
// (encrypt=strict) and the SQL Server 2016 source does not.
func TestSimCertificateAndStrict(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	dir := t.TempDir()
	var certs [2][]byte
	for i := range certs {
		cmd := child(t, "sim", "--source-addr", "127.0.0.1:0", "--target-addr", "127.0.0.1:0", "--lcs-addr", "127.0.0.1:0",
			"--tables", "300", "--dir", dir)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ls := streamLines(out)
		ls.expect(t, "Serving until Ctrl-C")
		var sourceDSN, targetDSN string
		for _, l := range ls.seen {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "MicrosoftDynamicsAX" {
				sourceDSN = f[1]
			} else if len(f) == 2 && f[0] == "AxDB" {
				targetDSN = f[1]
			}
		}
		printed := strings.Join(ls.seen, "")
		cert := filepath.Join(dir, tdssim.CertFileName)
		if !strings.Contains(sourceDSN, "encrypt=true") || !strings.Contains(printed, "ca file = "+cert) {
			t.Fatalf("no encryption or trust instructions in:\n%s", printed)
		}
		var err error
		if certs[i], err = os.ReadFile(cert); err != nil {
			t.Fatal(err)
		}
		ping := func(dsn string) error {
			db, err := stdsql.Open("sqlserver", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return db.PingContext(ctx)
		}
		if err := ping(sourceDSN); err != nil {
			t.Fatalf("the printed DSN %s: %v", sourceDSN, err)
		}
		strict := func(dsn string) string { return strings.Replace(dsn, "encrypt=true", "encrypt=strict", 1) }
		if err := ping(strict(targetDSN)); err != nil {
			t.Fatalf("TDS 8.0 to the Azure SQL sandbox: %v", err)
		}
		if err := ping(strict(sourceDSN)); err == nil {
			t.Fatal("the SQL Server 2016 source took a TDS 8.0 connection")
		}
		cmd.Process.Signal(syscall.SIGINT)
		ls.expect(t, "stopped")
		ls.drain()
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(certs[0], certs[1]) {
		t.Fatal("a restart made a new certificate: clients that trusted the first no longer can")
	}
}

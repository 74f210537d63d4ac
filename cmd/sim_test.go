package cmd

import (
	"bytes"
	"crypto/tls"
	stdsql "database/sql"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	lcssim "cutover/lcs/sim"
	"cutover/sql/tdssim"
)

// TestSimServesAndStops: `cutover sim` prints connection strings that work with a standard SQL
// Server client, and stops cleanly on SIGINT and on SIGTERM.
func TestSimServesAndStops(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := child(t, "sim", "--source-addr", "127.0.0.1:0", "--target-addr", "127.0.0.1:0", "--lcs-addr", "127.0.0.1:0",
			"--tables", "300", "--dir", t.TempDir())
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ls := streamLines(out)
		ls.expect(t, "Serving until Ctrl-C")
		var dsn, targetDSN, lcsURL string
		for _, l := range ls.seen {
			f := strings.Fields(l)
			if len(f) == 2 && f[0] == "MicrosoftDynamicsAX" {
				dsn = f[1]
			}
			if len(f) == 2 && f[0] == "AxDB" {
				targetDSN = f[1]
			}
			if strings.HasPrefix(l, "Simulated LCS at ") {
				lcsURL = strings.Fields(l)[3]
			}
		}
		db, err := stdsql.Open("sqlserver", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var version string
		if err := db.QueryRow("SELECT @@VERSION").Scan(&version); err != nil || !strings.Contains(version, "Microsoft SQL Server") {
			t.Fatalf("the printed DSN %q does not work: %v %q", dsn, err, version)
		}
		var n int64
		if err := db.QueryRow("SELECT COUNT_BIG(*) FROM dbo.CUSTTABLE").Scan(&n); err != nil || n <= 0 {
			t.Fatalf("ad hoc count: %d %v", n, err)
		}
		var names []string
		rows, err := db.Query("SELECT name FROM sys.databases")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			rows.Scan(&name)
			names = append(names, name)
		}
		rows.Close()
		if !slices.Contains(names, "MicrosoftDynamicsAX") || !slices.Contains(names, "distribution") {
			t.Fatalf("sys.databases: %v", names)
		}
		db.Close()
		// The printed sandbox DSN works too.
		tdb, err := stdsql.Open("sqlserver", targetDSN)
		if err != nil {
			t.Fatal(err)
		}
		if err := tdb.QueryRow("SELECT COUNT_BIG(*) FROM dbo.CUSTTABLE").Scan(&n); err != nil || n <= 0 {
			t.Fatalf("the printed sandbox DSN %q: %d %v", targetDSN, n, err)
		}
		tdb.Close()
		if !strings.HasPrefix(lcsURL, "https://127.0.0.1:") {
			t.Fatalf("LCS address %q", lcsURL)
		}
		cmd.Process.Signal(sig)
		ls.expect(t, "stopped")
		ls.drain()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after %v: %v", sig, err)
		}
	}
}

// TestSimKeepsItsCertificates: `cutover sim --dir D` restarted keeps both simulators'
// certificates (the SQL servers' and LCS's), so an engine or a client that trusted them goes on
// trusting them; the LCS simulator serves the certificate its file holds.
func TestSimKeepsItsCertificates(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	dir := t.TempDir()
	run := func() (sqlCert, lcsCert, lcsServed []byte) {
		t.Helper()
		cmd := child(t, "sim", "--source-addr", "127.0.0.1:0", "--target-addr", "127.0.0.1:0", "--lcs-addr", "127.0.0.1:0",
			"--tables", "200", "--dir", dir)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer cmd.Process.Signal(syscall.SIGTERM)
		ls := streamLines(out)
		ls.expect(t, "Serving until Ctrl-C")
		defer ls.drain()
		var lcsURL string
		for _, l := range ls.seen {
			if strings.HasPrefix(l, "Simulated LCS at ") {
				lcsURL = strings.Fields(l)[3]
				if !strings.Contains(l, "certificate "+filepath.Join(dir, lcssim.CertFileName)) {
					t.Errorf("the LCS line names another certificate: %s", l)
				}
			}
		}
		sqlCert, lcsCert = mustRead(t, filepath.Join(dir, tdssim.CertFileName)), mustRead(t, filepath.Join(dir, lcssim.CertFileName))
		conn, err := tls.Dial("tcp", strings.TrimPrefix(lcsURL, "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("LCS at %q: %v", lcsURL, err)
		}
		defer conn.Close()
		return sqlCert, lcsCert, conn.ConnectionState().PeerCertificates[0].Raw
	}
	sql1, lcs1, served1 := run()
	sql2, lcs2, served2 := run()
	if !bytes.Equal(sql1, sql2) {
		t.Error("the SQL servers' certificate changed across a restart")
	}
	if !bytes.Equal(lcs1, lcs2) || !bytes.Equal(served1, served2) {
		t.Error("the LCS simulator's certificate changed across a restart")
	}
	if !bytes.Contains(lcs1, []byte("BEGIN CERTIFICATE")) || len(served1) == 0 {
		t.Fatalf("no LCS certificate: %q", lcs1)
	}
	if _, err := os.Stat(filepath.Join(dir, lcssim.KeyFileName)); err != nil {
		t.Fatalf("the LCS key is not kept: %v", err)
	}
}

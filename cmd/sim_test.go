package cmd

import (
	stdsql "database/sql"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
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

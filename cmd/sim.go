package cmd

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"cutover/demo"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
)

// cmdSim serves the simulators on fixed loopback ports for any SQL Server client. Like a real SQL
// Server, both servers offer encryption (with a self-signed certificate kept in --dir, so a client
// trusts it once); the Azure SQL sandbox also takes TDS 8.0 (encrypt=strict). -v logs what a
// trainee's client did wrong: rejected logins, malformed requests, statements the simulator does
// not support.
func cmdSim(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "sim", Short: "serve the simulated SQL Servers and LCS on this machine", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	sourceAddr := fs.String("source-addr", "127.0.0.1:11433", "`ADDR` of the simulated AX 2012 SQL Server (source and distributor)")
	targetAddr := fs.String("target-addr", "127.0.0.1:11434", "`ADDR` of the simulated Azure SQL sandbox")
	lcsAddr := fs.String("lcs-addr", "127.0.0.1:18080", "`ADDR` of the simulated LCS API (HTTPS)")
	tables := fs.Int("tables", 5000, "tables in the simulated AX database")
	scenario := fs.String("scenario", "", "scenarios: locked-table, count-mismatch, upgrade-failure (comma-separated)")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "cutover-sim"), "`DIR` for the simulators' certificates, kept across restarts")
	useTLS := fs.Bool("tls", true, "offer encryption on the SQL servers, as SQL Server does (false: plaintext only)")
	verbose := fs.BoolP("verbose", "v", false, "log rejected logins, malformed requests and unsupported statements to stderr")
	c.RunE = func(c *cobra.Command, _ []string) error {
		_, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			sc, err := sqlsim.ParseScenario(*scenario)
			if err != nil {
				fmt.Fprintf(stderr, "cutover sim: %v\n", err)
				return exitUsage
			}
			if err := os.MkdirAll(*dir, 0o700); err != nil {
				fmt.Fprintf(stderr, "cutover sim: %v\n", err)
				return exitFail
			}
			sqlCfg := sqlsim.ServerConfig{SourceAddr: *sourceAddr, TargetAddr: *targetAddr}
			if *verbose {
				sqlCfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			if *useTLS {
				tlsCfg, certPath, err := tdssim.LoadOrCreateTLS(*dir)
				if err != nil {
					fmt.Fprintf(stderr, "cutover sim: %v\n", err)
					return exitFail
				}
				sqlCfg.TLS, sqlCfg.TLSConfig, sqlCfg.CertFile = true, tlsCfg, certPath
			}
			sims, err := demo.StartSimulatorsWith(sqlsim.Config{Tables: *tables, Scenarios: sc}, sqlsim.WallClock(), sqlCfg, *lcsAddr, *dir, nil)
			if err != nil {
				fmt.Fprintf(stderr, "cutover sim: %v\n", err)
				return exitFail
			}
			defer sims.Close()
			fmt.Fprint(stdout, sims.SQL.Describe())
			if cert := sims.SQL.CertFile(); cert != "" {
				fmt.Fprint(stdout, trustHowTo(cert, sims.SQL.Addr(sqlsim.EndpointSource)))
			}
			fmt.Fprintf(stdout, "Simulated LCS at %s (project %s; sign in as %s / %s; certificate %s)\n\n",
				sims.LCSURL, lcssim.DefaultProjectID, lcssim.DefaultUser, lcssim.DefaultPassword, sims.LCSCert)
			fmt.Fprintf(stdout, "Runbook snippet (export %s=%s and %s=%s):\n\n%s%s\n",
				sqlsim.PasswordEnv, sqlsim.Password, lcssim.PasswordEnv, lcssim.DefaultPassword, sims.SQL.RunbookSnippet(), sims.LCSSnippet())
			fmt.Fprintln(stdout, "Serving until Ctrl-C.")
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			sig := <-sigs
			fmt.Fprintf(stdout, "cutover sim: %v: stopped\n", sig)
			return exitOK
		}())
	}
	return c
}

// trustHowTo tells how to trust the simulated servers' certificate with the clients people point
// at them.
func trustHowTo(cert, sourceAddr string) string {
	host, port, _ := net.SplitHostPort(sourceAddr)
	return fmt.Sprintf(`  Encryption: offered as SQL Server offers it (TLS 1.2 inside PRELOGIN; the sandbox also takes
  TDS 8.0, encrypt=strict), with the self-signed certificate %[1]s
  (kept in its directory: trust it once). To trust it:
    go-mssqldb, cutover runbooks:  encrypt=true&certificate=%[1]s
    FreeTDS (freetds.conf):        encryption = require
                                   ca file = %[1]s
    ODBC Driver 18, sqlcmd, SSMS:  add it to the system's trusted certificates, e.g. on Debian/Ubuntu
                                   sudo cp %[1]s /usr/local/share/ca-certificates/cutover-sim.crt
                                   sudo update-ca-certificates
                                   then connect to %[2]s,%[3]s with encryption on; or, unverified,
                                   TrustServerCertificate=yes (sqlcmd -C)
`, cert, host, port)
}

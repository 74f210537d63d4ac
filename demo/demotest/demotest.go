// Package demotest starts the simulated cutover's world for tests, as net/http/httptest starts a
// server: the simulators on loopback ports, on a fake clock the test moves, closed when the test
// ends. Only tests import it.
package demotest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cutover/demo"
	"cutover/engine/clock"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
)

// Epoch is where the fake clock starts: the evening before a cutover night.
var Epoch = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

// Start starts the simulators on loopback ports on clk, with the simulated credentials in the
// environment for the test's length, and closes them when the test ends.
func Start(tb testing.TB, cfg sqlsim.Config, clk *clock.Fake) *demo.Simulators {
	tb.Helper()
	tb.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	tb.Setenv(lcssim.PasswordEnv, lcssim.DefaultPassword)
	sims, err := demo.StartSimulators(cfg, clk, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(sims.Close)
	return sims
}

// Quiet starts simulators whose AX writes have stopped (every AOS down) and whose backlog is
// empty, two hours after Epoch.
func Quiet(tb testing.TB, cfg sqlsim.Config) (*demo.Simulators, *clock.Fake) {
	tb.Helper()
	clk := clock.NewFake(Epoch)
	cfg.InitialBacklog = -1
	sims := Start(tb, cfg, clk)
	for _, a := range sims.World.AOS() {
		sims.World.StopAOS(a.Host, a.Service)
	}
	clk.Advance(2 * time.Hour)
	return sims, clk
}

// Runbook writes a rehearsal runbook connected to the simulators (their SQL and LCS sections)
// with the given steps, and returns its path.
func Runbook(tb testing.TB, sims *demo.Simulators, steps string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "cutover.yaml")
	src := "name: against the simulators\nrehearsal: true\n" + sims.SQL.RunbookSnippet() + sims.LCSSnippet() + "steps:\n" + steps
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

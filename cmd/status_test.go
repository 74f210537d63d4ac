package cmd

import (
	"cutover/demo/demotest"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
	"cutover/tui"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestStatusCommandAgainstTheSimulator: `cutover status` reads the databases directly: OK when
// replication is caught up, WARNING when the backlog grows past the threshold, UNKNOWN when a
// source cannot be reached; --json follows the schema; --oneline fits a status bar; the run's
// progress comes from the journal when there is one.
// TestStatusWatchCarriesOnThroughAnOutage: `status --watch` prints a glance per interval; when
// the source cannot be read it says UNKNOWN and keeps watching, and it recovers with the source.
// Ctrl-C ends it with the last glance's exit code.
func TestStatusWatchCarriesOnThroughAnOutage(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGINT")
	}
	sims, _ := demotest.Quiet(t, sqlsim.Config{Tables: 200})
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv(lcssim.PasswordEnv, lcssim.DefaultPassword)
	path := demotest.Runbook(t, sims, "  - {id: hold-batch, title: Hold batch jobs, kind: manual}\n")
	cmd := child(t, "status", "-f", path, "--oneline", "--watch", "1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	ls := streamLines(out)
	ls.expect(t, "cutover OK")
	src := sims.SQL.Source()
	refuse := src.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	src.KillAll()
	ls.expect(t, "cutover UNKNOWN")
	src.Faults().Remove(refuse)
	ls.expect(t, "cutover OK")
	ls.drain()
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("after an OK glance, Ctrl-C ends status --watch with exit 0: %v", err)
	}
}

func TestStatusCommandAgainstTheSimulator(t *testing.T) {
	sims, clk := demotest.Quiet(t, sqlsim.Config{Tables: 200})
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv(lcssim.PasswordEnv, lcssim.DefaultPassword)
	path := demotest.Runbook(t, sims, "  - {id: hold-batch, title: Hold batch jobs, kind: manual}\n"+
		"  - {id: stop-integrations, title: Stop integrations, kind: manual, after: hold-batch}\n")
	// The glance reads the SQL connections only: the LCS password it does not use may be missing.
	os.Unsetenv(lcssim.PasswordEnv)
	code, out, errs := cli(t, "status", "-f", path)
	if code != 0 || !strings.Contains(out, "cutover OK") {
		t.Fatalf("healthy: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv(lcssim.PasswordEnv, lcssim.DefaultPassword)
	code, out, _ = cli(t, "status", "-f", path, "--oneline")
	if code != 0 || len([]rune(strings.TrimSpace(out))) > tui.OneLineWidth || !strings.HasPrefix(out, "cutover OK") {
		t.Fatalf("oneline: exit %d %q", code, out)
	}
	// A run on this runbook: status adds its progress from the journal.
	if code, _, errs := cli(t, "step", "done", "hold-batch", "-f", path, "--reason", "47 jobs withheld"); code != 0 {
		t.Fatalf("step done: %s", errs)
	}
	code, out, _ = cli(t, "status", "-f", path, "--json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || doc["schema"] != tui.StatusSchema || doc["level"] != "OK" {
		t.Fatalf("json: exit %d %v\n%s", code, err, out)
	}
	if run, _ := doc["run"].(map[string]any); run == nil || run["steps_done"] != float64(1) || run["engine"] != "stopped" {
		t.Fatalf("the run's progress from the journal: %v", doc["run"])
	}
	// No cockpit runs on the state directory: the run is not "running" but stopped where it was.
	if _, out, _ := cli(t, "status", "-f", path); !strings.Contains(out, "STOPPED: no cockpit runs on this state directory (the run was ") {
		t.Fatalf("a run without its engine:\n%s", out)
	}
	// With its engine on the state directory, the same run is live.
	first := child(t, "run", "--headless", "-f", path)
	stdout, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	waitForLine(t, stdout, "waiting for an operator")
	if _, out, _ := cli(t, "status", "-f", path); strings.Contains(out, "STOPPED") || !strings.Contains(out, "waiting for an operator") {
		t.Fatalf("a run with its engine:\n%s", out)
	}
	first.Process.Kill()
	first.Wait()
	// The backlog grows: WARNING (the threshold is a flag).
	sims.World.SetDrainRate(0)
	sims.World.SetWriteRate(2000)
	for _, a := range sims.World.AOS() {
		sims.World.StartAOS(a.Host, a.Service)
	}
	clk.Advance(time.Minute)
	code, out, _ = cli(t, "status", "-f", path, "--warn-pending", "10000", "--crit-pending", "0", "--warn-latency", "0", "--crit-latency", "0")
	if code != 1 || !strings.Contains(out, "WARNING") {
		t.Fatalf("lagging: exit %d\n%s", code, out)
	}
	// The distributor cannot be reached: UNKNOWN, whatever the old figures said.
	src := sims.SQL.Source()
	src.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	src.KillAll()
	code, out, _ = cli(t, "status", "-f", path)
	if code != 3 || !strings.Contains(out, "UNKNOWN") {
		t.Fatalf("unreachable: exit %d\n%s", code, out)
	}
}

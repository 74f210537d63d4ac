package cmd

import (
	"cutover/demo/demotest"
	"cutover/engine"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateCommandAgainstTheSimulator(t *testing.T) {
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv(lcssim.PasswordEnv, lcssim.DefaultPassword)
	sims, clk := demotest.Quiet(t, sqlsim.Config{Tables: 1000, Scenarios: sqlsim.ScenarioCountMismatch | sqlsim.ScenarioLockedTable})
	// The toolkit's cutover step delivers the tables without a primary key.
	if err := sims.World.CreateNoPKPublication(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(6 * time.Hour)
	ignore := filepath.Join(t.TempDir(), "IgnoreTables.xml")
	var xml strings.Builder
	xml.WriteString("<IgnoreTables><Name>")
	for _, ti := range sims.World.Tables() {
		if ti.Ignored {
			xml.WriteString("<Table>" + ti.Name + "</Table>")
		}
	}
	xml.WriteString("</Name></IgnoreTables>")
	os.WriteFile(ignore, []byte(xml.String()), 0o600)
	path := demotest.Runbook(t, sims, `  - id: validate
    title: Validate record counts
    kind: validate.counts
    with:
      ignore_file: `+ignore+`
      expect: [{table: SALESPARMLINE, difference: any, reason: locked table published at cutover}]
`)
	code, out, errs := cli(t, "validate", "-f", path)
	// Into a buffer (a file, a pipe) the recount's progress is whole lines: no \r anywhere.
	if strings.ContainsRune(errs, '\r') || strings.ContainsRune(out, '\r') || !strings.Contains(errs, "recounting exactly: ") {
		t.Errorf("progress into a file: %q", errs)
	}
	if code != 1 || !strings.Contains(out, "CUSTINVOICETRANS") || !strings.Contains(out, "mismatch") || !strings.Contains(out, "Δ        137") ||
		!strings.Contains(out, "SALESPARMLINE") || !strings.Contains(out, "locked table published at cutover") || !strings.Contains(out, "FAILED: 1 table(s)") {
		t.Fatalf("validate: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = cli(t, "validate", "-f", path, "--json")
	var v engine.Validation
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || len(v.Tables) < 900 || v.Passed {
		t.Fatalf("--json: %d %v", code, err)
	}
	if err := sims.World.Redeliver("CUSTINVOICETRANS"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	code, out, errs = cli(t, "validate", "-f", path, "--csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != len(v.Tables)+1 {
		t.Fatalf("--csv after re-delivery: %d %v (%d rows)\n%s", code, err, len(recs), errs)
	}
}

// TestRecountProgressIntoAFileIsWholeLines: off a terminal the progress is a line per tenth of the
// tables (and the last), each whole; on a terminal one line is rewritten in place.
func TestRecountProgressIntoAFileIsWholeLines(t *testing.T) {
	var file, tty strings.Builder
	toFile, toTTY := recountProgress(&file, false), recountProgress(&tty, true)
	for i := 1; i <= 1000; i++ {
		toFile(i, 1000)
		toTTY(i, 1000)
	}
	lines := strings.Split(strings.TrimSuffix(file.String(), "\n"), "\n")
	if strings.ContainsRune(file.String(), '\r') || len(lines) != 11 || lines[0] != "recounting exactly: 1 of 1000" || lines[10] != "recounting exactly: 1000 of 1000" {
		t.Fatalf("into a file:\n%q", file.String())
	}
	if strings.Count(tty.String(), "\r") != 1000 || !strings.HasSuffix(tty.String(), "\rrecounting exactly: 1000 of 1000\n") {
		t.Fatalf("on a terminal: %d rewrites, ends %q", strings.Count(tty.String(), "\r"), tty.String()[len(tty.String())-40:])
	}
}

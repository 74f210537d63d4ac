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
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
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

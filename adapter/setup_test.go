package adapter_test

import (
	"context"
	"cutover/demo"
	"cutover/engine"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// logged reports whether a step's log has a line containing every part.
func (r *simRun) logged(step string, parts ...string) bool {
	return slices.ContainsFunc(r.e.Logs(500, step), func(l engine.LogLine) bool {
		for _, p := range parts {
			if !strings.Contains(l.Msg, p) {
				return false
			}
		}
		return true
	})
}

// TestRemoveReplicationNeedsAnAnswerAgainstTheSimulator: «Cutover: Remove replication setup»
// succeeds only on an answer that shows the publications and the distribution database gone. A
// dropped connection to the distribution database, a refused login to it, or a failed read of the
// source server's catalog is a read error: the step keeps waiting and says it could not read. Once
// the toolkit has removed the setup, the dropped database's documented errors are the answer.
func TestRemoveReplicationNeedsAnAnswerAgainstTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200, InitialBacklog: -1},
		"  - {id: remove, title: Remove replication, kind: toolkit, with: {step: \"Cutover: Remove replication setup\", poll: 1m}}\n")
	faults := r.sims.SQL.Source().Faults()
	wait := func(what string) {
		t.Helper()
		from := r.clk.Now()
		r.until(time.Minute, what, func() bool { return r.clk.Now().Sub(from) >= 10*time.Minute || r.step("remove").State.Terminal() })
		if st := r.step("remove"); st.State != engine.StateRunning {
			t.Fatalf("%s: the step ended (%s %q): a read error was taken for the effect", what, st.State, st.Message)
		}
	}
	r.until(time.Second, "the step runs", func() bool { return r.step("remove").State == engine.StateRunning })
	id := faults.MustAdd(tdssim.Rule{Database: "distribution", Action: tdssim.FaultDropBeforeResponse})
	wait("the distribution database drops every connection")
	faults.Remove(id)
	for _, s := range r.sims.SQL.Source().Conns() {
		if strings.EqualFold(s.Database, "distribution") {
			r.sims.SQL.Source().Kill(s.SPID) // new logins from now on
		}
	}
	id = faults.MustAdd(tdssim.Rule{Phase: tdssim.PhaseLogin, Database: "distribution", Action: tdssim.FaultError, Err: tdssim.LoginFailedError(sqlsim.User)})
	wait("the login to the distribution database is refused")
	faults.Remove(id)
	if !r.logged("remove", "could not read:") {
		t.Fatalf("the read errors are not reported: %v", r.e.Logs(20, "remove"))
	}
	if err := r.sims.World.RemoveReplication(); err != nil {
		t.Fatal(err)
	}
	id = faults.MustAdd(tdssim.Rule{SQL: regexp.MustCompile(`is_distributor`), Action: tdssim.FaultDropBeforeResponse})
	wait("the source server's catalog cannot be read")
	faults.Remove(id)
	r.until(time.Minute, "the step ends", func() bool { return r.step("remove").State.Terminal() })
	st := r.step("remove")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, "no publication and no distribution database left (sys.databases lists none as distribution database") ||
		!(strings.Contains(st.Message, "(4060)") || strings.Contains(st.Message, "(208)")) {
		t.Fatalf("remove: %s %q %q", st.State, st.Message, st.LastError)
	}
}

// TestReplicationHealthyHoldsForAnUnstartedSnapshotAgainstTheSimulator: a publication whose
// snapshot was never started has nothing pending, yet replication.healthy must not pass: it says
// so with the documented fix until the snapshot agent is started and its snapshot applied.
func TestReplicationHealthyHoldsForAnUnstartedSnapshotAgainstTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200, InitialBacklog: -1, SnapshotRate: 2_000_000, Scenarios: sqlsim.ScenarioSnapshotNotStarted},
		"  - {id: healthy, title: Replication healthy, kind: replication.healthy, with: {stable_for: 5m, check_every: 15s}}\n")
	unstarted := r.sims.World.UnstartedSnapshots()
	if len(unstarted) != 1 {
		t.Fatalf("unstarted snapshots: %v", unstarted)
	}
	pub := unstarted[0]
	start := r.clk.Now()
	r.untilWaiting(15*time.Second, 2, "half an hour", func() bool { return r.clk.Now().Sub(start) >= 30*time.Minute })
	if st := r.step("healthy"); st.State != engine.StateRunning {
		t.Fatalf("healthy with a snapshot never started: %s %q", st.State, st.Message)
	}
	if !r.logged("healthy", pub+": its snapshot was never started", "select Start") {
		t.Fatalf("the step does not say the snapshot was never started: %v", r.e.Logs(10, "healthy"))
	}
	if v := r.e.Replication(); v == nil || v.TotalPending > 100000 {
		t.Fatalf("the test needs figures that read healthy on their own: %+v", v)
	}
	if err := r.sims.World.StartSnapshot(pub); err != nil {
		t.Fatal(err)
	}
	r.untilWaiting(15*time.Second, 2, "healthy", func() bool { return r.step("healthy").State.Terminal() })
	if st := r.step("healthy"); st.State != engine.StateSucceeded {
		t.Fatalf("after the snapshot was applied: %s %q %q", st.State, st.Message, st.LastError)
	}
}

// asRollbackRunbook makes the runbook a rollback runbook's: the source connection only (no
// replication monitor holds connections to the AX database) and the AOS start template.
func asRollbackRunbook() simRunOption {
	return func(_ *simRun, src *string) {
		i, j := strings.Index(*src, "  distribution:\n"), strings.Index(*src, "lcs:\n")
		*src = (*src)[:i] + (*src)[j:]
		*src = strings.Replace(*src, "  stopped_pattern: STOPPED\n", "  start: [sc.exe, '\\\\{host}', start, '{service}']\n  stopped_pattern: STOPPED\n", 1)
	}
}

// TestRollbackAgainstTheSimulator: the rollback, through the real driver against the simulated
// source server. backup.verify waits until msdb shows a full backup with checksums taken after the
// AOS stop (one from before it, or one without checksums, does not count) and RESTORE VERIFYONLY
// finds it valid; sql.restore restores that file on master, with REPLACE and CHECKSUM, waiting for
// cutover's own closing connections, and finds it ONLINE and in restorehistory; the AX database's
// rows are the backup's again; aos.start starts every AOS and sees its server session alive.
func TestRollbackAgainstTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200, InitialBacklog: -1, MaxStopWait: time.Minute}, `  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, destructive: true, confirm: STOP AOS}
  - {id: rollback-backup, title: Rollback backup, kind: backup.verify, after: aos-stop, with: {verify_only: true, poll: 1m}}
  - {id: restore, title: Restore AX 2012, kind: sql.restore, after: rollback-backup, destructive: true, confirm: RESTORE AX, with: {poll: 5s}}
  - {id: aos-start, title: Start the AOS, kind: aos.start, after: restore, with: {poll: 5s}}
`, asRollbackRunbook())
	w := r.sims.World
	db := w.Config().SourceDatabase
	ana := engine.Actor{Name: "Ana", Origin: "test", Role: engine.RoleOperator}
	confirm := func(id, phrase string) {
		t.Helper()
		r.until(time.Second, id+" asks", func() bool { return r.step(id).State == engine.StateAwaiting })
		if _, err := r.e.Confirm(id, r.step(id).Confirmation.Request, ana, phrase); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.TakeBackup(db, true, false, r.clk.Now().Add(-2*time.Hour), r.clk.Now().Add(-90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	confirm("aos-stop", "STOP AOS")
	r.until(5*time.Second, "the AOS stop", func() bool { return r.step("aos-stop").State.Terminal() })
	if st := r.step("aos-stop"); st.State != engine.StateSucceeded {
		t.Fatalf("aos-stop: %s %q", st.State, st.LastError)
	}
	// An integration still writes straight into the database: the restore takes its writes back.
	w.SetDirectWriteRate(50)
	var hot string
	for _, ti := range w.Tables() {
		if ti.Hot {
			hot = ti.Name
			break
		}
	}
	if _, err := w.TakeBackup(db, false, false, r.clk.Now(), r.clk.Now().Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "ten minutes", func() bool { return r.clk.Now().Sub(r.step("aos-stop").Finished) >= 10*time.Minute })
	if st := r.step("rollback-backup"); st.State != engine.StateRunning || !r.logged("rollback-backup", "taken without checksums") {
		t.Fatalf("a backup without checksums counted: %s %q %v", st.State, st.Message, r.e.Logs(5, "rollback-backup"))
	}
	backupStart := r.clk.Now()
	atBackup, err := w.SourceRows(hot)
	if err != nil {
		t.Fatal(err)
	}
	device, err := w.TakeBackup(db, true, false, backupStart, backupStart.Add(25*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "the backup is verified", func() bool { return r.step("rollback-backup").State.Terminal() })
	if st := r.step("rollback-backup"); st.State != engine.StateSucceeded || !strings.Contains(st.Message, device) ||
		!strings.Contains(st.Message, "RESTORE VERIFYONLY WITH CHECKSUM: valid") {
		t.Fatalf("rollback-backup: %s %q %q", st.State, st.Message, st.LastError)
	}
	if rows, _ := w.SourceRows(hot); rows <= atBackup {
		t.Fatalf("%s: %d rows now, %d at the backup: the test needs writes after it", hot, rows, atBackup)
	}
	w.SetDirectWriteRate(0)
	confirm("restore", "RESTORE AX")
	r.until(5*time.Second, "the restore", func() bool { return r.step("restore").State.Terminal() })
	st := r.step("restore")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, db+" restored from "+device) ||
		!strings.Contains(st.Message, "WITH FILE, REPLACE, CHECKSUM; ONLINE; msdb.dbo.restorehistory row 1") {
		t.Fatalf("restore: %s %q %q", st.State, st.Message, st.LastError)
	}
	if rows, _ := w.SourceRows(hot); rows != atBackup || w.Restores() != 1 {
		t.Fatalf("%s: %d rows after the restore (%d restores), %d at the backup", hot, rows, w.Restores(), atBackup)
	}
	r.until(5*time.Second, "the AOS start", func() bool { return r.step("aos-start").State.Terminal() })
	if st := r.step("aos-start"); st.State != engine.StateSucceeded || !strings.Contains(st.Message, "3 AOS running; AX shows their server sessions alive") {
		t.Fatalf("aos-start: %s %q %q", st.State, st.Message, st.LastError)
	}
	for _, a := range w.AOS() {
		if a.State != sqlsim.ServiceRunning {
			t.Errorf("%s %s is %s", a.Host, a.Service, a.State)
		}
	}
}

// TestPreflightAgainstTheSimulator: the pre-flight's documented checks through the real driver: an
// ignore list naming a table of the AX model (SQLDICTIONARY) fails with the documented warning,
// while its non-AOT tables pass; another collation and a 'max text repl size' limit are warnings.
func TestPreflightAgainstTheSimulator(t *testing.T) {
	cfg := sqlsim.Config{Tables: 300}
	pre := sqlsim.DefaultPreflight()
	pre.DatabaseCollation, pre.MaxTextReplSize = "Latin1_General_CI_AS", 65536
	cfg.Preflight = &pre
	dir := t.TempDir()
	ignore := filepath.Join(dir, "IgnoreTables.xml")
	r := newSimRun(t, cfg, "  - {id: preflight, title: Pre-flight, kind: preflight, with: {ignore_file: "+ignore+", confirmed: [toolkit_version, upgrade_checklist]}}\n",
		func(r *simRun, _ *string) {
			var b strings.Builder
			b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<IgnoreTables>\n  <Name>\n")
			n := 0
			for _, ti := range r.sims.World.Tables() {
				if ti.Ignored && n < 3 {
					fmt.Fprintf(&b, "    <Table>%s</Table>\n", ti.Name)
					n++
				}
			}
			b.WriteString("    <Table>CustTable</Table>\n  </Name>\n</IgnoreTables>\n")
			if err := os.WriteFile(ignore, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		})
	r.until(time.Second, "the pre-flight ends", func() bool { return r.step("preflight").State.Terminal() })
	st := r.step("preflight")
	if st.State != engine.StateFailed || !strings.Contains(st.LastError, "failed: ignore list") {
		t.Fatalf("preflight: %s %q", st.State, st.LastError)
	}
	for _, want := range [][]string{
		{"FAIL ignore list", "1 of the 4 table(s) in IgnoreTables.xml exist in the AOT: CustTable", "should only be tables that do not exist"},
		{"WARN collation", "the AX database uses Latin1_General_CI_AS"},
		{"WARN max text repl size", "65536 bytes", "scenario 13"},
		{"PASS toolkit version"},
	} {
		if !r.logged("preflight", want...) {
			t.Errorf("no line with %q: %v", want, r.e.Logs(30, "preflight"))
		}
	}
}

// TestDemoOperatorTakesTheBackupAndStartsTheSnapshot: the demo's simulated operator does what the
// waiting steps ask of a person: it takes the rollback backup once backup.verify waits for it, and
// starts a snapshot that was never started while replication.healthy holds back.
func TestDemoOperatorTakesTheBackupAndStartsTheSnapshot(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200, InitialBacklog: -1, SnapshotRate: 2_000_000, Scenarios: sqlsim.ScenarioSnapshotNotStarted, MaxStopWait: time.Minute},
		`  - {id: healthy, title: Replication healthy, kind: replication.healthy, with: {stable_for: 5m}}
  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, after: healthy, destructive: true, confirm: STOP AOS}
  - {id: rollback-backup, title: Rollback backup, kind: backup.verify, after: aos-stop, with: {poll: 1m}}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		demo.NewOperator(r.sims, r.clk, nil, false).Run(ctx, r.e)
	}()
	defer func() { cancel(); <-done }()
	r.untilWaiting(15*time.Second, 2, "healthy", func() bool { return r.step("healthy").State.Terminal() })
	if st := r.step("healthy"); st.State != engine.StateSucceeded || r.sims.World.Count(sqlsim.ActStartSnapshot) != 1 {
		t.Fatalf("healthy: %s %q (snapshots started: %d)", st.State, st.LastError, r.sims.World.Count(sqlsim.ActStartSnapshot))
	}
	r.until(time.Second, "aos-stop asks", func() bool { return r.step("aos-stop").State == engine.StateAwaiting })
	ana := engine.Actor{Name: "Ana", Origin: "test", Role: engine.RoleOperator}
	if _, err := r.e.Confirm("aos-stop", r.step("aos-stop").Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "the rollback backup", func() bool { return r.step("rollback-backup").State.Terminal() })
	if st := r.step("rollback-backup"); st.State != engine.StateSucceeded || r.sims.World.Count(sqlsim.ActTakeBackup) != 1 {
		t.Fatalf("rollback-backup: %s %q %q", st.State, st.Message, st.LastError)
	}
}

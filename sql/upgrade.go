package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cutover/sql/query"
)

// The data upgrade's tables are read as migration-upgrade/monitor-upgrade.md reads them (each
// query in package query names its section). Each is read on its own: a table the upgrade has not
// created yet answers error 208 and is simply missing, and a table that cannot be read for another
// reason leaves the others' answers standing. Their datetimes are kept as they are (the upgrade
// writes them in UTC, as D365 does); only the servicing host's last request, a SQL Server
// datetime, is server-local.

// UpgradeStep is a row of [DBUPGRADE].[DATAUPGRADESTATUS], as the toolkit's `ds` report shows it.
type UpgradeStep struct {
	Start   time.Time
	End     time.Time
	Step    string
	SubStep string
	// Status is the STATUS text: Completed and Failed are documented; anything else is a step not
	// finished.
	Status string
}

// Completed reports a step the upgrade finished.
func (r UpgradeStep) Completed() bool {
	return strings.EqualFold(strings.TrimSpace(r.Status), "Completed")
}

// Failed reports a step that failed.
func (r UpgradeStep) Failed() bool { return strings.EqualFold(strings.TrimSpace(r.Status), "Failed") }

// Running reports a step neither completed nor failed (in progress, whatever the row calls it).
func (r UpgradeStep) Running() bool { return !r.Completed() && !r.Failed() }

// ServicingStep is a row of DBUPGRADE.SERVICINGSTEP.
type ServicingStep struct {
	Path     string
	Status   int
	Modified time.Time
}

// Done reports a completed servicing step (Status 2, the only documented value).
func (s ServicingStep) Done() bool { return s.Status == 2 }

// DoneAt is when a completed step completed: ModifiedDateTime less 2 seconds, as monitor-upgrade.md
// reckons it (zero when not done).
func (s ServicingStep) DoneAt() time.Time {
	if !s.Done() || s.Modified.IsZero() {
		return time.Time{}
	}
	return s.Modified.Add(-2 * time.Second)
}

// Servicing step paths monitor-upgrade.md names.
const (
	PathPreSync   = "/DataUpgrade/PreSync"
	PathPostSync  = "/DataUpgrade/PostSync"
	PathFinalFlag = "/DataUpgrade/FinalDbSync/DisableDataUpgradeFlag"
)

// SyncStep is a database synchronization from DBSyncExecStats.
type SyncStep struct {
	RecID int64
	// Raw is the SyncStep column ('FullAll', 'LegacyIds, AdditiveTableSync'…); Phase the name
	// monitor-upgrade.md gives it (PreReqs-AdditiveSync … FinalDBSync-SyncSchema, or
	// "<raw> - Non Upgrade Sync").
	Raw        string
	Phase      string
	ActivityID string
	Start      time.Time
	Finish     time.Time
	Success    bool
}

// Running reports a synchronization with no end yet (FinishTime 1900-01-01). The document warns
// that it may also have stalled: see Upgrade.LastServicing.
func (s SyncStep) Running() bool { return s.Finish.IsZero() || s.Finish.Year() <= 1900 }

// ScriptError is a row of RELEASEUPDATESCRIPTSERRORLOG. Its columns are not documented: the
// fields are picked by name from whatever columns the table has (ClassName, MethodName, Company and
// ErrorMessage as pre-post-upgrade-scripts.md shows a row), and every column is kept in Columns.
type ScriptError struct {
	// At is the row's time when it has a datetime column (zero otherwise).
	At      time.Time
	Class   string
	Method  string
	Company string
	Message string
	// Columns are all the row's columns as text, by upper-case name.
	Columns map[string]string
}

// Upgrade is everything the sandbox says about the data upgrade.
type Upgrade struct {
	Status    []UpgradeStep
	Servicing []ServicingStep
	Sync      []SyncStep
	// Tasks is the running "Data upgrade" batch job's task count per status.
	Tasks  map[BatchStatus]int
	Errors []ScriptError
	// LastServicing is the servicing host's last finished request (zero: never seen).
	LastServicing time.Time
	// Missing names the tables that do not exist yet (error 208): the upgrade creates them.
	Missing []string
	// Unread holds, by part, the reads that failed for another reason.
	Unread map[string]error
	// answered counts the parts that answered (rows, or a table missing).
	answered int
}

// Answered reports whether any part of the upgrade's picture could be read: when none could, the
// sandbox said nothing at all.
func (u Upgrade) Answered() bool { return u.answered > 0 }

// Upgrade reads the data upgrade's tables on the sandbox database, each on its own. The error
// joins the reads that failed (a table missing is not one); what the others read is returned with
// it.
func (d *DB) Upgrade(ctx context.Context) (Upgrade, error) {
	u := Upgrade{Tasks: map[BatchStatus]int{}, Unread: map[string]error{}}
	part := func(name, table string, err error) {
		switch {
		case err == nil:
			u.answered++
		case IsMissingObject(err):
			u.answered++
			u.Missing = append(u.Missing, table)
		default:
			u.Unread[name] = err
		}
	}
	var err error
	u.Status, err = readRows(ctx, d, "data upgrade status", query.DataUpgradeStatus, 16, func(r *stdsql.Rows) (UpgradeStep, error) {
		var row UpgradeStep
		var start, end stdsql.NullTime
		var step, sub, status stdsql.NullString
		err := r.Scan(&start, &end, &step, &sub, &status)
		row.Start, row.End, row.Step, row.SubStep, row.Status = start.Time, end.Time, step.String, sub.String, status.String
		return row, err
	})
	part("data upgrade status", "DBUPGRADE.DATAUPGRADESTATUS", err)
	u.Servicing, err = readRows(ctx, d, "servicing steps", query.ServicingSteps, 16, func(r *stdsql.Rows) (ServicingStep, error) {
		var s ServicingStep
		var path stdsql.NullString
		var status stdsql.NullInt64
		var modified stdsql.NullTime
		err := r.Scan(&path, &status, &modified)
		s.Path, s.Status, s.Modified = path.String, int(status.Int64), modified.Time
		return s, err
	})
	part("servicing steps", "DBUPGRADE.SERVICINGSTEP", err)
	u.Sync, err = readRows(ctx, d, "database sync steps", query.DBSyncSteps, 16, func(r *stdsql.Rows) (SyncStep, error) {
		var s SyncStep
		var recID stdsql.NullInt64
		var step, id stdsql.NullString
		var start, finish stdsql.NullTime
		var ok stdsql.NullBool
		err := r.Scan(&recID, &step, &id, &start, &finish, &ok)
		s.RecID, s.Raw, s.ActivityID, s.Start, s.Finish, s.Success = recID.Int64, step.String, id.String, start.Time, finish.Time, ok.Bool
		return s, err
	})
	part("database sync steps", "DBSyncExecStats", err)
	for i := range u.Sync {
		u.Sync[i].Phase = u.syncPhase(u.Sync[i])
	}
	tasks, err := readValue(ctx, d, d.cfg.QueryTimeout, "data upgrade batch tasks", query.UpgradeBatchTasks,
		func() map[BatchStatus]int { return map[BatchStatus]int{} },
		func(r *stdsql.Rows, m *map[BatchStatus]int) error {
			var status BatchStatus
			var n int
			if err := r.Scan(&status, &n); err != nil {
				return err
			}
			(*m)[status] += n
			return nil
		})
	if err == nil {
		u.Tasks = tasks
	}
	part("data upgrade batch tasks", "dbo.BATCH", err)
	u.Errors, err = d.scriptErrors(ctx)
	part("upgrade script errors", "dbo.RELEASEUPDATESCRIPTSERRORLOG", err)
	u.LastServicing, err = d.scalarTime(ctx, "servicing activity", query.ServicingActivity)
	part("servicing activity", "sys.dm_exec_sessions", err)

	errs := make([]error, 0, len(u.Unread))
	for _, name := range slices.Sorted(maps.Keys(u.Unread)) {
		errs = append(errs, u.Unread[name])
	}
	return u, errors.Join(errs...)
}

// scriptErrors reads RELEASEUPDATESCRIPTSERRORLOG whole, whatever its columns, newest first when
// a datetime column tells.
func (d *DB) scriptErrors(ctx context.Context) ([]ScriptError, error) {
	out, err := readValue(ctx, d, d.cfg.QueryTimeout, "upgrade script errors", query.UpgradeScriptErrors, nil,
		func(r *stdsql.Rows, acc *[]ScriptError) error {
			cols, err := r.Columns()
			if err != nil {
				return err
			}
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				return err
			}
			*acc = append(*acc, scriptError(cols, vals))
			return nil
		})
	slices.SortStableFunc(out, func(a, b ScriptError) int { return b.At.Compare(a.At) })
	return out, err
}

// scriptError picks a script error's fields from a row of any shape.
func scriptError(cols []string, vals []any) ScriptError {
	e := ScriptError{Columns: make(map[string]string, len(cols))}
	for i, c := range cols {
		name := strings.ToUpper(c)
		switch v := vals[i].(type) {
		case nil:
			e.Columns[name] = ""
		case time.Time:
			e.Columns[name] = v.Format(time.RFC3339Nano)
			if e.At.IsZero() || v.After(e.At) {
				e.At = v
			}
		case []byte:
			e.Columns[name] = string(v)
		default:
			e.Columns[name] = fmt.Sprint(v)
		}
	}
	pick := func(exact []string, contains ...string) string {
		for _, n := range exact {
			if v := strings.TrimSpace(e.Columns[n]); v != "" {
				return v
			}
		}
		for _, c := range cols {
			n := strings.ToUpper(c)
			for _, part := range contains {
				if strings.Contains(n, part) {
					if v := strings.TrimSpace(e.Columns[n]); v != "" {
						return v
					}
				}
			}
		}
		return ""
	}
	e.Class = pick([]string{"CLASSNAME", "CLASS"}, "CLASS")
	e.Method = pick([]string{"METHODNAME", "METHOD"}, "METHOD")
	e.Company = pick([]string{"COMPANY", "DATAAREAID"})
	e.Message = pick([]string{"ERRORMESSAGE", "MESSAGE", "ERROR"}, "MESSAGE", "ERRORTEXT", "EXCEPTION")
	return e
}

// String is the error as one line: Class.Method (Company): Message.
func (e ScriptError) String() string {
	var b strings.Builder
	b.WriteString(e.Class)
	if e.Method != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.Method)
	}
	if e.Company != "" {
		fmt.Fprintf(&b, " (%s)", e.Company)
	}
	if e.Message != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(strings.Join(strings.Fields(e.Message), " "))
	}
	return b.String()
}

// servicingDone is when the servicing step at path completed (zero: not done, or not there).
func (u Upgrade) servicingDone(path string) time.Time {
	var at time.Time
	for _, s := range u.Servicing {
		if strings.EqualFold(s.Path, path) && s.DoneAt().After(at) {
			at = s.DoneAt()
		}
	}
	return at
}

// syncPhase names a synchronization the way monitor-upgrade.md's "Synchronize Steps" query does.
func (u Upgrade) syncPhase(s SyncStep) string {
	pre, post, final := u.servicingDone(PathPreSync), u.servicingDone(PathPostSync), u.servicingDone(PathFinalFlag)
	after := func(t time.Time) bool { return !t.IsZero() && !s.Start.Before(t) }
	switch s.Raw {
	case "LegacyIds, AdditiveTableSync":
		return "PreReqs-AdditiveSync"
	case "PartialList, LegacyIds":
		return "PreReqs-PartialSync"
	case "FullAll":
		switch {
		case post.IsZero() && after(pre):
			return "DbSync-SyncSchema"
		case !post.IsZero() && after(pre) && s.Start.Before(post):
			return "DbSync-SyncSchema"
		case after(post) && (final.IsZero() || s.Start.Before(final)):
			return "FinalDBSync-SyncSchema"
		}
	}
	return s.Raw + " - Non Upgrade Sync"
}

// Upgrade phases in their order, as the documents name them: the PreReqs, DbSync and FinalDbSync
// synchronizations and the PreSync and PostSync script runs (monitor-upgrade.md).
var upgradePhases = []string{"PreReqs", "PreSync", "DbSync", "PostSync", "FinalDbSync"}

// Started reports whether the sandbox shows the upgrade begun (any step or servicing row).
func (u Upgrade) Started() bool { return len(u.Status) > 0 || len(u.Servicing) > 0 }

// StartedAt is when the first step started (zero when none did).
func (u Upgrade) StartedAt() time.Time {
	var at time.Time
	for _, r := range u.Status {
		if r.Start.Year() > 1900 && (at.IsZero() || r.Start.Before(at)) {
			at = r.Start
		}
	}
	return at
}

// Current is the step in progress: the newest started row neither completed nor failed.
func (u Upgrade) Current() (UpgradeStep, bool) {
	var cur UpgradeStep
	found := false
	for _, r := range u.Status {
		if r.Running() && (!found || r.Start.After(cur.Start)) {
			cur, found = r, true
		}
	}
	return cur, found
}

// Failure is the step that failed and was not run again since: a Failed row with no row of the
// same step and sub-step started after it.
func (u Upgrade) Failure() (UpgradeStep, bool) {
	var failed UpgradeStep
	found := false
	for _, r := range u.Status {
		if !r.Failed() || (found && !r.Start.After(failed.Start)) {
			continue
		}
		again := slices.ContainsFunc(u.Status, func(o UpgradeStep) bool {
			return !o.Failed() && o.Start.After(r.Start) && strings.EqualFold(o.Step, r.Step) && strings.EqualFold(o.SubStep, r.SubStep)
		})
		if !again {
			failed, found = r, true
		}
	}
	return failed, found
}

// Finished reports an upgrade whose last servicing step (DisableDataUpgradeFlag, the end of
// FinalDbSync in monitor-upgrade.md) is done, with no step failed or in progress.
func (u Upgrade) Finished() bool {
	if u.servicingDone(PathFinalFlag).IsZero() {
		return false
	}
	_, running := u.Current()
	_, failed := u.Failure()
	return !running && !failed
}

// UpgradeState is where the data upgrade stands as its tables tell it.
type UpgradeState int

// Upgrade states.
const (
	// UpgradeNotStarted: no step row and no servicing row yet.
	UpgradeNotStarted UpgradeState = iota
	// UpgradeRunning: started, neither failed nor finished.
	UpgradeRunning
	// UpgradeFailed: a step failed (the toolkit's rollback or a resume is next).
	UpgradeFailed
	// UpgradeFinished: the final servicing flag is done with nothing running or failed.
	UpgradeFinished
)

// String names the state.
func (s UpgradeState) String() string {
	switch s {
	case UpgradeRunning:
		return "running"
	case UpgradeFailed:
		return "failed"
	case UpgradeFinished:
		return "finished"
	}
	return "not started"
}

// State is where the upgrade stands: not started, failed (a failure outranks a finish flag),
// finished, or running.
func (u Upgrade) State() UpgradeState {
	_, failed := u.Failure()
	switch {
	case !u.Started():
		return UpgradeNotStarted
	case failed:
		return UpgradeFailed
	case u.Finished():
		return UpgradeFinished
	}
	return UpgradeRunning
}

// Newest is the step to show: the one in progress, else the failure, else the newest row.
func (u Upgrade) Newest() (UpgradeStep, bool) {
	if r, ok := u.Current(); ok {
		return r, true
	}
	if r, ok := u.Failure(); ok {
		return r, true
	}
	var newest UpgradeStep
	found := false
	for _, r := range u.Status {
		if !found || r.Start.After(newest.Start) {
			newest, found = r, true
		}
	}
	return newest, found
}

// Percent estimates how far the upgrade got, 0–100: the documented phases count alike, and within
// PreSync and PostSync the share of the running job's tasks finished. Negative when the step's
// phase is not one of the documented ones.
func (u Upgrade) Percent() float64 {
	if u.Finished() {
		return 100
	}
	r, ok := u.Newest()
	if !ok {
		return 0
	}
	i := slices.IndexFunc(upgradePhases, func(p string) bool { return strings.EqualFold(p, strings.TrimSpace(r.Step)) })
	if i < 0 {
		return -1
	}
	within := 0.0
	if strings.EqualFold(upgradePhases[i], "PreSync") || strings.EqualFold(upgradePhases[i], "PostSync") {
		total := 0
		for _, n := range u.Tasks {
			total += n
		}
		if total > 0 {
			within = float64(u.Tasks[BatchFinished]) / float64(total)
		}
	}
	return 100 * (float64(i) + within) / float64(len(upgradePhases))
}

// RunningSync is the synchronization running now, if any.
func (u Upgrade) RunningSync() (SyncStep, bool) {
	for _, s := range u.Sync { // newest first
		if s.Running() {
			return s, true
		}
	}
	return SyncStep{}, false
}

// LastActivity is the newest sign of work: the servicing host's last request, a step or
// synchronization starting or ending, a servicing step changing.
func (u Upgrade) LastActivity() time.Time {
	at := u.LastServicing
	later := func(t time.Time) {
		if t.Year() > 1900 && t.After(at) {
			at = t
		}
	}
	for _, r := range u.Status {
		later(r.Start)
		later(r.End)
	}
	for _, s := range u.Servicing {
		later(s.Modified)
	}
	for _, s := range u.Sync {
		later(s.Start)
		later(s.Finish)
	}
	return at
}

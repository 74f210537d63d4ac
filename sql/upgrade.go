package sql

import (
	"context"
	stdsql "database/sql"
	"time"

	"cutover/sql/query"
)

// UpgradeStatusRow is a row of [DBUPGRADE].[DATAUPGRADESTATUS] (what the toolkit's `ds` shows).
type UpgradeStatusRow struct {
	Start   time.Time
	End     time.Time
	Step    string
	SubStep string
	Status  string
}

// ServicingStep is a row of [DBUPGRADE].[SERVICINGSTEP]; Status 2 is done.
type ServicingStep struct {
	Path   string
	Status int
	Start  time.Time
	End    time.Time
}

// Done reports a completed servicing step.
func (s ServicingStep) Done() bool { return s.Status == 2 }

// SyncStep is a database synchronization phase from DBSyncExecStats.
type SyncStep struct {
	Step       string
	Start      time.Time
	Finish     time.Time
	Success    bool
	ActivityID string
}

// Running reports a phase still running (FinishTime 1900-01-01).
func (s SyncStep) Running() bool { return s.Finish.IsZero() || s.Finish.Year() <= 1900 }

// ScriptError is a release-update script failure.
type ScriptError struct {
	At      time.Time
	Class   string
	Method  string
	Message string
}

// Upgrade is everything the sandbox says about the data upgrade.
type Upgrade struct {
	Status    []UpgradeStatusRow
	Servicing []ServicingStep
	Sync      []SyncStep
	// Tasks is the "Data upgrade" batch job's task count per status.
	Tasks  map[BatchStatus]int
	Errors []ScriptError
	// LastServicing is the servicing host's last finished request (zero: never seen).
	LastServicing time.Time
}

// Upgrade reads the data upgrade's progress from the sandbox database. When one of its queries
// fails, what the queries before it read is returned with the error.
func (d *DB) Upgrade(ctx context.Context) (Upgrade, error) {
	u := Upgrade{Tasks: map[BatchStatus]int{}}
	var err error
	u.Status, err = readRows(ctx, d, "data upgrade status", query.DataUpgradeStatus, 16, func(r *stdsql.Rows) (UpgradeStatusRow, error) {
		var row UpgradeStatusRow
		var start, end stdsql.NullTime
		var step, sub, status stdsql.NullString
		err := r.Scan(&start, &end, &step, &sub, &status)
		row.Start, row.End, row.Step, row.SubStep, row.Status = start.Time, end.Time, step.String, sub.String, status.String
		return row, err
	})
	if err != nil {
		return u, err
	}
	u.Servicing, err = readRows(ctx, d, "servicing steps", query.ServicingSteps, 16, func(r *stdsql.Rows) (ServicingStep, error) {
		var s ServicingStep
		var start, end stdsql.NullTime
		err := r.Scan(&s.Path, &s.Status, &start, &end)
		s.Start, s.End = start.Time, end.Time
		return s, err
	})
	if err != nil {
		return u, err
	}
	u.Sync, err = readRows(ctx, d, "database sync steps", query.DBSyncSteps, 16, func(r *stdsql.Rows) (SyncStep, error) {
		var s SyncStep
		var start, finish stdsql.NullTime
		var ok stdsql.NullBool
		var id stdsql.NullString
		err := r.Scan(&s.Step, &start, &finish, &ok, &id)
		s.Start, s.Finish, s.Success, s.ActivityID = start.Time, finish.Time, ok.Bool, id.String
		return s, err
	})
	if err != nil {
		return u, err
	}
	tasks, err := readValue(ctx, d, d.cfg.QueryTimeout, "data upgrade batch tasks", query.UpgradeBatchTasks,
		func() map[BatchStatus]int { return map[BatchStatus]int{} },
		func(r *stdsql.Rows, m *map[BatchStatus]int) error {
			var status BatchStatus
			var n int
			if err := r.Scan(&status, &n); err != nil {
				return err
			}
			(*m)[status] = n
			return nil
		})
	if err != nil {
		return u, err
	}
	u.Tasks = tasks
	u.Errors, err = readRows(ctx, d, "upgrade script errors", query.UpgradeScriptErrors, 20, func(r *stdsql.Rows) (ScriptError, error) {
		var e ScriptError
		var at stdsql.NullTime
		var class, method, msg stdsql.NullString
		err := r.Scan(&at, &class, &method, &msg)
		e.At, e.Class, e.Method, e.Message = at.Time, class.String, method.String, msg.String
		return e, err
	})
	if err != nil {
		return u, err
	}
	u.LastServicing, err = d.scalarTime(ctx, "servicing activity", query.ServicingActivity)
	return u, err
}

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

// Upgrade reads the data upgrade's progress from the sandbox database.
func (d *DB) Upgrade(ctx context.Context) (Upgrade, error) {
	u := Upgrade{Tasks: map[BatchStatus]int{}}
	err := d.read(ctx, "data upgrade status", query.DataUpgradeStatus, func(r *stdsql.Rows) error {
		var row UpgradeStatusRow
		var start, end stdsql.NullTime
		var step, sub, status stdsql.NullString
		if err := r.Scan(&start, &end, &step, &sub, &status); err != nil {
			return err
		}
		row.Start, row.End, row.Step, row.SubStep, row.Status = start.Time, end.Time, step.String, sub.String, status.String
		u.Status = append(u.Status, row)
		return nil
	})
	if err != nil {
		return u, err
	}
	err = d.read(ctx, "servicing steps", query.ServicingSteps, func(r *stdsql.Rows) error {
		var s ServicingStep
		var start, end stdsql.NullTime
		if err := r.Scan(&s.Path, &s.Status, &start, &end); err != nil {
			return err
		}
		s.Start, s.End = start.Time, end.Time
		u.Servicing = append(u.Servicing, s)
		return nil
	})
	if err != nil {
		return u, err
	}
	err = d.read(ctx, "database sync steps", query.DBSyncSteps, func(r *stdsql.Rows) error {
		var s SyncStep
		var start, finish stdsql.NullTime
		var ok stdsql.NullBool
		var id stdsql.NullString
		if err := r.Scan(&s.Step, &start, &finish, &ok, &id); err != nil {
			return err
		}
		s.Start, s.Finish, s.Success, s.ActivityID = start.Time, finish.Time, ok.Bool, id.String
		u.Sync = append(u.Sync, s)
		return nil
	})
	if err != nil {
		return u, err
	}
	err = d.read(ctx, "data upgrade batch tasks", query.UpgradeBatchTasks, func(r *stdsql.Rows) error {
		var status BatchStatus
		var n int
		if err := r.Scan(&status, &n); err != nil {
			return err
		}
		u.Tasks[status] = n
		return nil
	})
	if err != nil {
		return u, err
	}
	err = d.read(ctx, "upgrade script errors", query.UpgradeScriptErrors, func(r *stdsql.Rows) error {
		var e ScriptError
		var at stdsql.NullTime
		var class, method, msg stdsql.NullString
		if err := r.Scan(&at, &class, &method, &msg); err != nil {
			return err
		}
		e.At, e.Class, e.Method, e.Message = at.Time, class.String, method.String, msg.String
		u.Errors = append(u.Errors, e)
		return nil
	})
	if err != nil {
		return u, err
	}
	u.LastServicing, err = d.scalarTime(ctx, "servicing activity", query.ServicingActivity)
	return u, err
}

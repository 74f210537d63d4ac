package sql

import (
	"context"
	stdsql "database/sql"
	"strconv"
	"time"

	"cutover/sql/query"
)

// AX stores its UtcDateTime fields (LOGINDATETIME, STARTDATETIME…) in UTC, so they are read as
// they are; SQL Server's own datetimes are server-local and go through DB.instant.

// AOSSession is one AOS instance registered in SYSSERVERSESSIONS.
type AOSSession struct {
	ServerID   string
	AOSID      string
	Instance   string
	Status     int
	Login      time.Time
	LastUpdate time.Time
}

// Active reports a running AOS (STATUS 1).
func (a AOSSession) Active() bool { return a.Status == 1 }

// ClientSession is an active AX client session.
type ClientSession struct {
	SessionID  int64
	ServerID   string
	User       string
	ClientType int
	Computer   string
	Since      time.Time
}

// BatchStatus is AX 2012's BatchStatus enum.
type BatchStatus int

// Batch statuses.
const (
	BatchHold BatchStatus = iota
	BatchWaiting
	BatchExecuting
	BatchError
	BatchFinished
	BatchReady
	BatchNotRun
	BatchCancelling
	BatchCanceled
)

var batchWords = [...]string{"Withhold", "Waiting", "Executing", "Error", "Ended", "Ready", "Didn't run", "Cancelling", "Canceled"}

// String is the status as the Batch job form shows it.
func (s BatchStatus) String() string {
	if s >= 0 && int(s) < len(batchWords) {
		return batchWords[s]
	}
	return "status " + strconv.Itoa(int(s))
}

// BatchJob is a waiting, ready or executing AX batch job.
type BatchJob struct {
	RecID     int64
	Caption   string
	Status    BatchStatus
	Start     time.Time
	CreatedBy string
}

// AXActivity is what the AX 2012 database says about who is still in it.
type AXActivity struct {
	Servers        []AOSSession
	Clients        []ClientSession
	Jobs           []BatchJob
	ExecutingTasks int
}

// ActiveServers counts running AOS instances.
func (a AXActivity) ActiveServers() int {
	n := 0
	for _, s := range a.Servers {
		if s.Active() {
			n++
		}
	}
	return n
}

// ExecutingJobs lists the batch jobs executing now.
func (a AXActivity) ExecutingJobs() []BatchJob {
	var out []BatchJob
	for _, j := range a.Jobs {
		if j.Status == BatchExecuting {
			out = append(out, j)
		}
	}
	return out
}

// AXActivity reads AOS instances, active client sessions, waiting/executing batch jobs and
// executing batch tasks from the AX 2012 database.
func (d *DB) AXActivity(ctx context.Context) (AXActivity, error) {
	var a AXActivity
	err := d.read(ctx, "AX server sessions", query.AXServerSessions, func(r *stdsql.Rows) error {
		var s AOSSession
		var login, last stdsql.NullTime
		var aos, inst stdsql.NullString
		if err := r.Scan(&s.ServerID, &aos, &inst, &s.Status, &login, &last); err != nil {
			return err
		}
		s.AOSID, s.Instance, s.Login, s.LastUpdate = aos.String, inst.String, login.Time, last.Time
		a.Servers = append(a.Servers, s)
		return nil
	})
	if err != nil {
		return a, err
	}
	err = d.read(ctx, "AX client sessions", query.AXClientSessions, func(r *stdsql.Rows) error {
		var c ClientSession
		var computer stdsql.NullString
		var since stdsql.NullTime
		if err := r.Scan(&c.SessionID, &c.ServerID, &c.User, &c.ClientType, &computer, &since); err != nil {
			return err
		}
		c.Computer, c.Since = computer.String, since.Time
		a.Clients = append(a.Clients, c)
		return nil
	})
	if err != nil {
		return a, err
	}
	err = d.read(ctx, "AX batch jobs", query.AXBatchJobs, func(r *stdsql.Rows) error {
		var j BatchJob
		var start stdsql.NullTime
		var by stdsql.NullString
		if err := r.Scan(&j.RecID, &j.Caption, &j.Status, &start, &by); err != nil {
			return err
		}
		j.Start, j.CreatedBy = start.Time, by.String
		a.Jobs = append(a.Jobs, j)
		return nil
	})
	if err != nil {
		return a, err
	}
	err = d.read(ctx, "AX executing batch tasks", query.AXExecutingBatchTasks, func(r *stdsql.Rows) error {
		return r.Scan(&a.ExecutingTasks)
	})
	return a, err
}

// SQLSession is a SQL Server session on the current database.
type SQLSession struct {
	ID          int
	Login       string
	Host        string
	Program     string
	LastRequest time.Time
}

// UserSessions lists the other sessions on this database.
func (d *DB) UserSessions(ctx context.Context) ([]SQLSession, error) {
	var out []SQLSession
	err := d.read(ctx, "user sessions", query.UserSessions, func(r *stdsql.Rows) error {
		var s SQLSession
		var host, prog stdsql.NullString
		var last stdsql.NullTime
		if err := r.Scan(&s.ID, &s.Login, &host, &prog, &last); err != nil {
			return err
		}
		s.Host, s.Program, s.LastRequest = host.String, prog.String, last.Time
		out = append(out, s)
		return nil
	})
	for i := range out {
		out[i].LastRequest = d.instant(ctx, out[i].LastRequest)
	}
	return out, err
}

// LastUserUpdate is when anything last wrote to this database (zero when nothing has since SQL
// Server started).
func (d *DB) LastUserUpdate(ctx context.Context) (time.Time, error) {
	return d.scalarTime(ctx, "last user update", query.LastUserUpdate)
}

// scalarTime reads one server-local datetime and returns it as an instant.
func (d *DB) scalarTime(ctx context.Context, name, text string, args ...any) (time.Time, error) {
	var t stdsql.NullTime
	err := d.read(ctx, name, text, func(r *stdsql.Rows) error { return r.Scan(&t) }, args...)
	return d.instant(ctx, t.Time), err
}

package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
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
// executing batch tasks from the AX 2012 database. When one of its queries fails, what the queries
// before it read is returned with the error.
func (d *DB) AXActivity(ctx context.Context) (AXActivity, error) {
	var a AXActivity
	var err error
	a.Servers, err = readRows(ctx, d, "AX server sessions", query.AXServerSessions, 8, func(r *stdsql.Rows) (AOSSession, error) {
		var s AOSSession
		var login, last stdsql.NullTime
		var aos, inst stdsql.NullString
		err := r.Scan(&s.ServerID, &aos, &inst, &s.Status, &login, &last)
		s.AOSID, s.Instance, s.Login, s.LastUpdate = aos.String, inst.String, login.Time, last.Time
		return s, err
	})
	if err != nil {
		return a, err
	}
	a.Clients, err = readRows(ctx, d, "AX client sessions", query.AXClientSessions, 64, func(r *stdsql.Rows) (ClientSession, error) {
		var c ClientSession
		var computer stdsql.NullString
		var since stdsql.NullTime
		err := r.Scan(&c.SessionID, &c.ServerID, &c.User, &c.ClientType, &computer, &since)
		c.Computer, c.Since = computer.String, since.Time
		return c, err
	})
	if err != nil {
		return a, err
	}
	a.Jobs, err = readRows(ctx, d, "AX batch jobs", query.AXBatchJobs, 16, func(r *stdsql.Rows) (BatchJob, error) {
		var j BatchJob
		var start stdsql.NullTime
		var by stdsql.NullString
		err := r.Scan(&j.RecID, &j.Caption, &j.Status, &start, &by)
		j.Start, j.CreatedBy = start.Time, by.String
		return j, err
	})
	if err != nil {
		return a, err
	}
	a.ExecutingTasks, err = readScalar[int](ctx, d, "AX executing batch tasks", query.AXExecutingBatchTasks)
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

// ErrSessionsHidden is UserSessions' error when the login sees only its own session in
// sys.dm_exec_sessions (it lacks VIEW SERVER STATE on SQL Server, VIEW DATABASE STATE on Azure SQL
// Database): an empty list would read as "nobody connected".
var ErrSessionsHidden = errors.New("the login sees only its own session (it needs VIEW SERVER STATE on SQL Server, VIEW DATABASE STATE on Azure SQL Database)")

// UserSessions lists the other sessions on this database. It fails with ErrSessionsHidden when
// the login may not see them.
func (d *DB) UserSessions(ctx context.Context) ([]SQLSession, error) {
	visible, err := readScalar[stdsql.NullInt64](ctx, d, "session visibility", query.SessionsVisible)
	if err != nil {
		return nil, err
	}
	if !visible.Valid || visible.Int64 != 1 {
		return nil, d.wrap("user sessions", ErrSessionsHidden)
	}
	out, err := readRows(ctx, d, "user sessions", query.UserSessions, 16, func(r *stdsql.Rows) (SQLSession, error) {
		var s SQLSession
		var host, prog stdsql.NullString
		var last stdsql.NullTime
		err := r.Scan(&s.ID, &s.Login, &host, &prog, &last)
		s.Host, s.Program, s.LastRequest = host.String, prog.String, last.Time
		return s, err
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

// scalarTime reads one server-local datetime and returns it as an instant (zero when NULL).
func (d *DB) scalarTime(ctx context.Context, name, text string, args ...any) (time.Time, error) {
	t, err := readScalar[stdsql.NullTime](ctx, d, name, text, args...)
	if err != nil {
		return time.Time{}, err
	}
	return d.instant(ctx, t.Time), nil
}

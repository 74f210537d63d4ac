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

// ServerStatus is SYSSERVERSESSIONS.STATUS, AX 2012's SysServerStatus enum. Only two numbers are
// documented (query.AXServerSessions names the documents): 1, an AOS running and accepting clients
// (Alive), and 0, the row of an AOS marked dead. SysServerStatus::Drain, an AOS rejecting new
// clients while its sessions end, has no documented number: every value but 0 is an AOS still
// there.
type ServerStatus int

// Server statuses with a documented number.
const (
	ServerDead  ServerStatus = 0
	ServerAlive ServerStatus = 1
)

// Present reports an AOS still there: alive, draining, or a status the documents do not name.
func (s ServerStatus) Present() bool { return s != ServerDead }

// String is the status as cutover shows it.
func (s ServerStatus) String() string {
	switch s {
	case ServerDead:
		return "dead"
	case ServerAlive:
		return "alive"
	}
	return "draining or unnamed status " + strconv.Itoa(int(s))
}

// AOSSession is one AOS instance registered in SYSSERVERSESSIONS.
type AOSSession struct {
	ServerID   string
	AOSID      string
	Instance   string
	Status     ServerStatus
	Login      time.Time
	LastUpdate time.Time
}

// Active reports an AOS still there (any status but 0): an AOS that drains its users still runs.
func (a AOSSession) Active() bool { return a.Status.Present() }

// SessionStatus is SYSCLIENTSESSIONS.STATUS (the SessionStatus enum: 0 Inactive, 1 Running,
// 2 MarkedAsKill, 3 Killed; query.AXClientSessions names the document).
type SessionStatus int

// Session statuses.
const (
	SessionInactive     SessionStatus = 0
	SessionRunning      SessionStatus = 1
	SessionMarkedAsKill SessionStatus = 2
	SessionKilled       SessionStatus = 3
)

// Present reports a session still there: running, marked for kill but not ended yet, or a status
// the enum does not name.
func (s SessionStatus) Present() bool { return s != SessionInactive && s != SessionKilled }

// Ending reports a session still there that is not plainly running: marked for kill, or a status
// the enum does not name.
func (s SessionStatus) Ending() bool { return s.Present() && s != SessionRunning }

// String names the status as the enum does.
func (s SessionStatus) String() string {
	switch s {
	case SessionInactive:
		return "inactive"
	case SessionRunning:
		return "running"
	case SessionMarkedAsKill:
		return "marked for kill"
	case SessionKilled:
		return "killed"
	}
	return "status " + strconv.Itoa(int(s))
}

// ClientSession is an AX client session still there (running or ending).
type ClientSession struct {
	SessionID  int64
	ServerID   string
	User       string
	ClientType int
	Computer   string
	Since      time.Time
	Status     SessionStatus
}

// BatchStatus is AX 2012's BatchStatus enum (BATCHJOB.STATUS and BATCH.STATUS; AX 2012 reference
// "BatchStatus Enumeration", and migration-upgrade/monitor-upgrade.md lists the same numbers).
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

// AtRest reports a job or task that is not running and will not run by itself: held, in error,
// ended, not run or canceled.
func (s BatchStatus) AtRest() bool {
	switch s {
	case BatchHold, BatchError, BatchFinished, BatchNotRun, BatchCanceled:
		return true
	}
	return false
}

// Running reports a job or task running now: executing, cancelling (still ending), or a status
// the AX 2012 enum does not name.
func (s BatchStatus) Running() bool { return !s.AtRest() && s != BatchWaiting && s != BatchReady }

// BatchJob is a batch job not at rest (waiting, ready, executing, cancelling…).
type BatchJob struct {
	RecID   int64
	Caption string
	Status  BatchStatus
	Start   time.Time
}

// AXActivity is what the AX 2012 database says about who is still in it.
type AXActivity struct {
	// Servers are every row of SYSSERVERSESSIONS (dead ones included; see Active).
	Servers []AOSSession
	// Clients are the client sessions still there, running or ending.
	Clients []ClientSession
	// Jobs are the batch jobs not at rest.
	Jobs []BatchJob
	// Tasks counts the batch tasks still running, by status (executing, cancelling…).
	Tasks map[BatchStatus]int
}

// ActiveServers counts the AOS instances still there (alive, draining or unknown).
func (a AXActivity) ActiveServers() int {
	n := 0
	for _, s := range a.Servers {
		if s.Active() {
			n++
		}
	}
	return n
}

// RunningJobs lists the batch jobs running now (executing, cancelling, or an unnamed status).
func (a AXActivity) RunningJobs() []BatchJob {
	var out []BatchJob
	for _, j := range a.Jobs {
		if j.Status.Running() {
			out = append(out, j)
		}
	}
	return out
}

// RunningTasks counts the batch tasks still running, whatever their status.
func (a AXActivity) RunningTasks() int {
	n := 0
	for _, c := range a.Tasks {
		n += c
	}
	return n
}

// AXActivity reads AOS instances, client sessions still there, batch jobs not at rest and batch
// tasks still running from the AX 2012 database. When one of its queries fails, what the queries
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
		err := r.Scan(&c.SessionID, &c.ServerID, &c.User, &c.ClientType, &computer, &since, &c.Status)
		c.Computer, c.Since = computer.String, since.Time
		return c, err
	})
	if err != nil {
		return a, err
	}
	a.Jobs, err = readRows(ctx, d, "AX batch jobs", query.AXBatchJobs, 16, func(r *stdsql.Rows) (BatchJob, error) {
		var j BatchJob
		var start stdsql.NullTime
		err := r.Scan(&j.RecID, &j.Caption, &j.Status, &start)
		j.Start = start.Time
		return j, err
	})
	if err != nil {
		return a, err
	}
	a.Tasks, err = readValue(ctx, d, d.cfg.QueryTimeout, "AX running batch tasks", query.AXRunningBatchTasks,
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

package sql

import (
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/azuread"

	"cutover/sql/query"
)

// DB is one configured database connection pool.
type DB struct {
	db  *stdsql.DB
	cfg Config
	// retries counts reads re-run after a lost connection (for tests and health reporting).
	retries atomic.Int64
	// countsHint is how many tables the last row counts listed (the next read's slice size).
	countsHint atomic.Int64

	offsetMu sync.Mutex
	offset   time.Duration
	offsetAt time.Time
}

// offsetTTL is how long a server's UTC offset is trusted before it is read again (daylight saving
// can change it during a long night).
const offsetTTL = 30 * time.Minute

// serverOffset is the server's UTC offset (SYSDATETIMEOFFSET), cached. When it cannot be read the
// last known value (or zero) is used.
func (d *DB) serverOffset(ctx context.Context) time.Duration {
	d.offsetMu.Lock()
	off := d.offset
	d.offsetMu.Unlock()
	if !d.offsetStale() {
		return off
	}
	var now time.Time
	if err := d.readOnce(ctx, d.cfg.QueryTimeout, query.ServerClock, func(r *stdsql.Rows) error { return r.Scan(&now) }); err != nil {
		return off
	}
	d.setOffset(now)
	_, secs := now.Zone()
	return time.Duration(secs) * time.Second
}

// offsetStale reports whether the cached UTC offset must be read again.
func (d *DB) offsetStale() bool {
	d.offsetMu.Lock()
	defer d.offsetMu.Unlock()
	return d.offsetAt.IsZero() || time.Since(d.offsetAt) >= offsetTTL
}

// setOffset keeps the UTC offset of a server clock reading (query.ServerClock).
func (d *DB) setOffset(now time.Time) {
	_, secs := now.Zone()
	d.offsetMu.Lock()
	d.offset, d.offsetAt = time.Duration(secs)*time.Second, time.Now()
	d.offsetMu.Unlock()
}

// toInstant is instant with a known offset.
func toInstant(t time.Time, off time.Duration) time.Time {
	if t.IsZero() {
		return t
	}
	local := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	return local.Add(-off)
}

// instant turns a datetime the server wrote in its local time (history, entry_time,
// last_user_update) into a real instant.
func (d *DB) instant(ctx context.Context, t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return toInstant(t, d.serverOffset(ctx))
}

// Open prepares a pool for cfg. It does not connect; Ping does. Entra ID modes use go-mssqldb's
// azuread connector.
func Open(cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	dsn, err := cfg.DSN()
	if err != nil {
		return nil, err
	}
	var conn driver.Connector
	if cfg.Auth.fedauth() != "" {
		conn, err = azuread.NewConnector(dsn)
	} else {
		conn, err = mssql.NewConnector(dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("sql: %s/%s: %w", cfg.Server, cfg.Database, redactErr(err, cfg.Password))
	}
	db := stdsql.OpenDB(conn)
	db.SetMaxOpenConns(cfg.MaxOpen)
	db.SetMaxIdleConns(cfg.MaxOpen)
	return &DB{db: db, cfg: cfg}, nil
}

// Config is the configuration the pool was opened with.
func (d *DB) Config() Config { return d.cfg }

// Name is server/database, for messages.
func (d *DB) Name() string { return d.cfg.Server + "/" + d.cfg.Database }

// Close closes the pool.
func (d *DB) Close() error { return d.db.Close() }

// Retries is how many reads were re-run after a lost connection.
func (d *DB) Retries() int64 { return d.retries.Load() }

// Ping connects (logging in if needed) within the query timeout.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.QueryTimeout)
	defer cancel()
	if err := d.db.PingContext(ctx); err != nil {
		return d.wrap("connect", err)
	}
	return nil
}

// readValue runs one idempotent query under timeout and builds its result: every attempt starts
// from a fresh accumulator (fresh(), or T's zero value when fresh is nil) and scan is called once per
// row with a pointer to it. A read that loses its connection (a dropped socket, a failover) is run
// once more on a fresh connection, from a new accumulator, so rows of the failed attempt can never
// leak into the result. On error the zero T is returned.
//
// Scan functions must only write through acc: anything they capture from outside survives a failed
// attempt.
func readValue[T any](ctx context.Context, d *DB, timeout time.Duration, name, text string, fresh func() T,
	scan func(r *stdsql.Rows, acc *T) error, args ...any) (T, error) {
	var zero T
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		acc := zero
		if fresh != nil {
			acc = fresh()
		}
		err = d.readOnce(ctx, timeout, text, func(r *stdsql.Rows) error { return scan(r, &acc) }, args...)
		if err == nil {
			return acc, nil
		}
		if ctx.Err() != nil || !IsConnectionLost(err) {
			break
		}
		d.retries.Add(1)
	}
	return zero, d.wrap(name, err)
}

// readRows runs one idempotent query under the query timeout and returns one value per row, built
// by scan (nil when there is no row); sizeHint pre-sizes the slice at the first row. Retries as
// readValue.
func readRows[T any](ctx context.Context, d *DB, name, text string, sizeHint int, scan func(*stdsql.Rows) (T, error), args ...any) ([]T, error) {
	return readValue(ctx, d, d.cfg.QueryTimeout, name, text, nil, func(r *stdsql.Rows, acc *[]T) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		if *acc == nil {
			*acc = make([]T, 0, max(sizeHint, 1))
		}
		*acc = append(*acc, v)
		return nil
	}, args...)
}

// readScalar runs one idempotent one-column query under the query timeout and scans it into a T
// (the last row wins; the zero value when there is no row). Retries as readValue.
func readScalar[T any](ctx context.Context, d *DB, name, text string, args ...any) (T, error) {
	return readValue(ctx, d, d.cfg.QueryTimeout, name, text, nil, func(r *stdsql.Rows, acc *T) error { return r.Scan(acc) }, args...)
}

// readOnce runs text once under timeout, calling scan for each row of its first result set (a
// procedure may answer more). It neither retries nor wraps.
func (d *DB) readOnce(ctx context.Context, timeout time.Duration, text string, scan func(*stdsql.Rows) error, args ...any) error {
	if _, err := d.readBatch(ctx, timeout, text, []func(*stdsql.Rows) error{scan}, args...); !errors.Is(err, errMoreResultSets) {
		return err
	}
	return nil
}

// wrap names the query and the database in an error, never the password.
func (d *DB) wrap(what string, err error) error {
	return &QueryError{DB: d.Name(), Query: what, Err: redactErr(err, d.cfg.Password)}
}

// QueryError is a failed query: which database, which query, and the driver's error.
type QueryError struct {
	DB    string
	Query string
	Err   error
}

func (e *QueryError) Error() string { return fmt.Sprintf("%s: %s: %v", e.DB, e.Query, e.Err) }

// Unwrap gives the driver's error (an mssql.Error carries the SQL Server error number).
func (e *QueryError) Unwrap() error { return e.Err }

type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }
func (r redacted) Unwrap() error { return r.err }

// redactErr keeps a password out of an error message (a DSN parse error may echo it).
func redactErr(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return redacted{msg: strings.ReplaceAll(err.Error(), password, "xxxxx"), err: err}
}

// Number is the SQL Server error number behind err (0 when it is not a server error).
func Number(err error) int32 {
	var se mssql.Error
	if errors.As(err, &se) {
		return se.Number
	}
	return 0
}

// IsPermission reports a permission error: 229 (permission denied on an object), 262 (permission
// denied in database), 297 (the user does not have permission), 300 (VIEW … STATE denied), 3110
// (no permission to RESTORE the database; SQL Server follows it with 3013, "… is terminating
// abnormally"), or ErrSessionsHidden.
func IsPermission(err error) bool {
	if errors.Is(err, ErrSessionsHidden) {
		return true
	}
	for _, n := range []int32{229, 262, 297, 300, errRestorePermission} {
		if hasNumber(err, n) {
			return true
		}
	}
	return false
}

// IsMissingObject reports 208 (invalid object name) or 2812 (could not find stored procedure).
func IsMissingObject(err error) bool {
	n := Number(err)
	return n == 208 || n == 2812
}

// hasNumber reports whether SQL Server sent error n among err's messages: a refused login sends
// several (4060, then 18456), of which the driver reports the last and keeps them all.
func hasNumber(err error, n int32) bool {
	var se mssql.Error
	if !errors.As(err, &se) {
		return false
	}
	if se.Number == n {
		return true
	}
	for _, e := range se.All {
		if e.Number == n {
			return true
		}
	}
	return false
}

// IsCannotOpenDatabase reports error 4060, "Cannot open database "%.*ls" requested by the login.
// The login failed." (severity 11; sql-docs relational-databases/errors-events/
// database-engine-events-and-errors-4000-to-4999.md): the connection's database does not exist or
// cannot be opened. SQL Server follows it with 18456 (login failed), the number the driver
// reports, so the error's other messages are looked at too. A login refused for its password (18456
// alone), a timeout or a dropped connection is not this.
func IsCannotOpenDatabase(err error) bool { return hasNumber(err, 4060) }

// IsTransient reports errors worth retrying later: deadlock victim (1205), lock timeout (1222),
// Azure SQL reconfiguration and throttling (40613, 40501, 40197, 49918–49920), and lost
// connections.
func IsTransient(err error) bool {
	switch Number(err) {
	case 1205, 1222, 40613, 40501, 40197, 49918, 49919, 49920:
		return true
	}
	return IsConnectionLost(err)
}

// IsConnectionLost reports an error from a connection that broke: the socket closed or reset, a
// protocol stream cut off, a severe server error that ends the session, or the driver declaring the
// connection bad. A deadline is not a lost connection.
func IsConnectionLost(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var stream mssql.StreamError
	if errors.As(err, &stream) {
		return true
	}
	var server mssql.ServerError
	if errors.As(err, &server) {
		return true
	}
	var se mssql.Error
	if errors.As(err, &se) && se.Class >= 20 {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && !op.Timeout() {
		return true
	}
	return false
}

package sim

import (
	"context"
	stdsql "database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"cutover/sql/tdssim"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a world served on two local servers.
type fixture struct {
	t     testing.TB
	clk   *fakeClock
	w     *World
	srv   *Servers
	dbs   map[string]*stdsql.DB
	ctx   context.Context
	mutex sync.Mutex
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	clk := newFakeClock()
	w, err := New(cfg, clk)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv, err := Start(w, ServerConfig{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	f := &fixture{t: t, clk: clk, w: w, srv: srv, dbs: map[string]*stdsql.DB{}, ctx: context.Background()}
	t.Cleanup(func() {
		for _, db := range f.dbs {
			_ = db.Close()
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// db returns a pool for an endpoint (reader: the login without VIEW
// DATABASE STATE).
func (f *fixture) db(e Endpoint, reader bool) *stdsql.DB {
	f.mutex.Lock()
	defer f.mutex.Unlock()
	key := e.String()
	dsn := f.srv.DSN(e)
	if reader {
		key += "/reader"
		dsn = f.srv.ReaderDSN(e)
	}
	if db, ok := f.dbs[key]; ok {
		return db
	}
	db, err := stdsql.Open("sqlserver", dsn)
	if err != nil {
		f.t.Fatalf("open %s: %v", key, err)
	}
	db.SetMaxOpenConns(4)
	f.dbs[key] = db
	return db
}

func (f *fixture) src() *stdsql.DB  { return f.db(EndpointSource, false) }
func (f *fixture) dist() *stdsql.DB { return f.db(EndpointDistribution, false) }
func (f *fixture) tgt() *stdsql.DB  { return f.db(EndpointTarget, false) }

// rows runs a query and returns every row as []any.
func (f *fixture) rows(db *stdsql.DB, q string, args ...any) [][]any {
	f.t.Helper()
	out, err := queryRows(f.ctx, db, q, args...)
	if err != nil {
		f.t.Fatalf("query %.60q: %v", q, err)
	}
	return out
}

func queryRows(ctx context.Context, db *stdsql.DB, q string, args ...any) ([][]any, error) {
	rs, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rs.Err()
}

// counts runs a row-count query and maps table name to count.
func (f *fixture) counts(db *stdsql.DB, q string) map[string]int64 {
	f.t.Helper()
	out := map[string]int64{}
	for _, r := range f.rows(db, q) {
		out[r[1].(string)] = r[2].(int64)
	}
	return out
}

// scalar runs a one-value query.
func (f *fixture) scalar(db *stdsql.DB, q string, args ...any) any {
	f.t.Helper()
	var v any
	if err := db.QueryRowContext(f.ctx, q, args...).Scan(&v); err != nil {
		f.t.Fatalf("scalar %.60q: %v", q, err)
	}
	return v
}

// sqlErrNumber returns the SQL Server error number of err (0: none).
func sqlErrNumber(err error) int32 {
	var me mssql.Error
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// sqlErrNumbers are the numbers of every error the server sent for err, in
// order (a login to a database that cannot be opened: 4060, then 18456).
func sqlErrNumbers(err error) []int32 {
	var me mssql.Error
	if !errors.As(err, &me) {
		return nil
	}
	var out []int32
	for _, e := range me.All {
		out = append(out, e.Number)
	}
	return out
}

// stopAll stops every AOS and moves the clock past the stop.
func (f *fixture) stopAll() {
	f.t.Helper()
	for _, a := range f.w.AOS() {
		if err := f.w.StopAOS(a.Host, a.Service); err != nil {
			f.t.Fatalf("StopAOS %s: %v", a.Host, err)
		}
	}
	var until time.Time
	for _, a := range f.w.AOS() {
		if a.Until.After(until) {
			until = a.Until
		}
	}
	f.clk.Advance(until.Sub(f.clk.Now()) + 5*time.Second)
	if f.w.WritesActive() {
		f.t.Fatal("writes still active after every AOS stopped")
	}
}

func namedArg(name string, v any) stdsql.NamedArg { return stdsql.Named(name, v) }

func tdssimUser(user, password string) tdssim.DSNOption { return tdssim.WithUser(user, password) }

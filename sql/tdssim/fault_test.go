package tdssim

import (
	"context"
	stdsql "database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

// countRows reads all rows of q and returns the count and rows.Err().
func countRows(t *testing.T, db *stdsql.DB, q string, args ...any) (int, error) {
	t.Helper()
	rows, err := db.QueryContext(ctxT(t), q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

func TestFaultDelay(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		f := e.srv.Faults()
		id := f.MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultDelay, Delay: 60 * time.Millisecond, FirstN: 1})
		start := time.Now()
		if n, err := countRows(t, e.db, "select n from numbers"); err != nil || n != 20 {
			t.Fatalf("delayed query: %d %v", n, err)
		}
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Fatalf("answered after %v, before the delay", d)
		}
		if f.Fired(id) != 1 {
			t.Fatalf("fired %d", f.Fired(id))
		}
		// A long delay is cut short by the client's deadline (ATTENTION).
		f.MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultDelay, Delay: time.Hour, FirstN: 1})
		// Long enough that the request is surely sent first, even on a loaded machine.
		ctx, cancel := context.WithTimeout(ctxT(t), 500*time.Millisecond)
		defer cancel()
		_, err := e.db.QueryContext(ctx, "select n from numbers")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", err)
		}
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.Attentions != 1 || st.AttentionAcks != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestFaultRowDelay(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		e.srv.Faults().MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultRowDelay, Delay: 10 * time.Millisecond, FirstN: 1})
		start := time.Now()
		rows, err := e.db.QueryContext(ctxT(t), "select n from numbers")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var first time.Duration
		for rows.Next() {
			if n == 0 {
				first = time.Since(start)
			}
			n++
		}
		total := time.Since(start)
		if err := rows.Err(); err != nil || n != 20 {
			t.Fatalf("%d rows, %v", n, err)
		}
		rows.Close()
		if total < 200*time.Millisecond || first >= total/2 {
			t.Fatalf("rows did not trickle: first after %v, all after %v", first, total)
		}
		mustPing(t, e.db)
	})
}

func TestFaultErrors(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		rt := echoRouter()
		rt.Proc("dbo.usp_post", func(r *Request) (*Result, error) { return Affected(1), nil })
		e := newEnv(t, m, Config{Handler: rt})
		e.db.SetMaxOpenConns(1)
		f := e.srv.Faults()
		ctx := ctxT(t)
		cases := []struct {
			err   *Error
			query string
			args  []any
		}{
			{DeadlockError(), "select n from numbers", nil},
			{LockTimeoutError(), "select @p1", []any{1}},
			{PermissionDeniedError("EXECUTE", "usp_post", "master", "dbo"), "dbo.usp_post", []any{stdsql.Named("x", 1)}},
			{AzureTransientError("AXDB"), "select @@spid", nil},
			{&Error{Number: 51234, State: 3, Class: 16, Message: "custom"}, "select db_name()", nil},
		}
		for _, c := range cases {
			rule := Rule{Action: FaultError, Err: c.err, FirstN: 1}
			if strings.HasPrefix(c.query, "dbo.") {
				rule.Proc = "[dbo].[usp_post]"
			} else {
				rule.SQL = regexpMust("^" + strings.ReplaceAll(strings.ReplaceAll(c.query, "(", `\(`), ")", `\)`) + "$")
			}
			f.MustAdd(rule)
			_, err := e.db.ExecContext(ctx, c.query, c.args...)
			me := sqlErr(t, err)
			if me.Number != c.err.Number || me.Class != c.err.Class || me.State != c.err.State || me.Message != c.err.Message {
				t.Errorf("%s: got %+v, want %+v", c.query, me, c.err)
			}
			if _, err := e.db.ExecContext(ctx, c.query, c.args...); err != nil {
				t.Errorf("%s: second run: %v", c.query, err)
			}
		}
		if st := e.srv.Stats(); st.Connections != 1 || st.FaultsFired != int64(len(cases)) {
			t.Fatalf("SQL errors keep the connection: %+v", st)
		}
	})
}

func TestFaultLoginErrors(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		e.db.SetMaxIdleConns(0) // every query logs in afresh
		f := e.srv.Faults()
		for _, want := range []*Error{LoginFailedError("sa"), CannotOpenDatabaseError("AXDB"), AzureTransientError("AXDB")} {
			f.MustAdd(Rule{Phase: PhaseLogin, User: "SA", Database: "axdb", Action: FaultError, Err: want, FirstN: 1})
			err := e.db.PingContext(ctxT(t))
			me := sqlErr(t, err)
			if !strings.HasPrefix(me.Message, "login error: ") || me.All[0].Number != want.Number {
				t.Fatalf("got %+v, want %d", me, want.Number)
			}
			// SQL Server follows 4060 with 18456 (MSSQLSERVER_4060); the
			// driver reports the last.
			if wantLast := map[int32]int32{4060: 18456}[want.Number]; wantLast != 0 && (me.Number != wantLast || len(me.All) != 2) {
				t.Fatalf("4060 without 18456 after it: %+v", me)
			} else if wantLast == 0 && (me.Number != want.Number || len(me.All) != 1) {
				t.Fatalf("got %+v, want %d alone", me, want.Number)
			}
			mustPing(t, e.db)
		}
		// Default error at login is 18456.
		f.MustAdd(Rule{Phase: PhaseLogin, Action: FaultError, FirstN: 1})
		if me := sqlErr(t, e.db.PingContext(ctxT(t))); me.Number != 18456 {
			t.Fatalf("default login error %+v", me)
		}
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.LoginFailures != 4 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestFaultSevereError(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		e.srv.Faults().MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultSevereError, FirstN: 1})
		_, err := countRows(t, e.db, "select n from numbers")
		var se mssql.ServerError
		if !errors.As(err, &se) {
			t.Fatalf("want mssql.ServerError, got %T %v", err, err)
		}
		if me := sqlErr(t, err); me.Class != 20 || !strings.Contains(me.Message, "severe error") {
			t.Fatalf("unwrapped %+v", me)
		}
		mustPing(t, e.db)
	})
}

func TestFaultDrops(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		e.db.SetMaxIdleConns(0) // every query logs in afresh
		f := e.srv.Faults()
		mustPing(t, e.db)

		// TDS.md §1.10: *net.OpError "Read: EOF", not retried (one connection, one request, one
		// match), and the next query works.
		drop := f.MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultDropBeforeResponse, FirstN: 1})
		before := e.srv.Stats()
		_, err := countRows(t, e.db, "select n from numbers")
		idleCloseError(t, "DropBeforeResponse", err)
		if after, st := e.srv.Stats(), f.List(); after.Connections != before.Connections+1 || after.Requests != before.Requests+1 ||
			len(st) != 1 || st[0].ID != drop || st[0].Matches != 1 {
			t.Fatalf("DropBeforeResponse was retried: connections %d→%d, requests %d→%d, rules %+v",
				before.Connections, after.Connections, before.Requests, after.Requests, st)
		}
		f.Clear()
		mustPing(t, e.db)

		f.MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultDropAfterRows, Rows: 5, FirstN: 1})
		if n, err := countRows(t, e.db, "select n from numbers"); n != 5 || !isStreamErr(err) {
			t.Fatalf("DropAfterRows(5): %d rows, %T %v", n, err, err)
		}
		mustPing(t, e.db)

		f.MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultDropAfterRows, Rows: 1000, FirstN: 1})
		if n, err := countRows(t, e.db, "select n from numbers"); n != 20 || !isStreamErr(err) {
			t.Fatalf("DropAfterRows(1000): %d rows, %T %v", n, err, err)
		}
		mustPing(t, e.db)

		f.MustAdd(Rule{Action: FaultDropDuringLogin, FirstN: 1})
		if err := e.db.PingContext(ctxT(t)); !isIOErr(err) {
			t.Fatalf("DropDuringLogin: want an I/O error, got %T %v", err, err)
		}
		mustPing(t, e.db)

		f.MustAdd(Rule{Phase: PhasePrelogin, Action: FaultDropBeforeResponse, FirstN: 1})
		if err := e.db.PingContext(ctxT(t)); !isIOErr(err) {
			t.Fatalf("prelogin drop: want an I/O error, got %T %v", err, err)
		}
		mustPing(t, e.db)

		f.MustAdd(Rule{Action: FaultRefuseConnections, FirstN: 1})
		if err := e.db.PingContext(ctxT(t)); !isIOErr(err) {
			t.Fatalf("RefuseConnections: want an I/O error, got %T %v", err, err)
		}
		mustPing(t, e.db)
		if st := e.srv.Stats(); st.Refused != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestFaultHang(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		// connection timeout=1 gives the client a read deadline: the driver
		// honours the context only for dialing, so a server that never
		// answers PRELOGIN or LOGIN7 would otherwise block it forever.
		e := newEnv(t, m, Config{Handler: echoRouter()}, WithParam("connection timeout", "1"))
		e.db.SetMaxIdleConns(0) // every query logs in afresh
		f := e.srv.Faults()
		mustPing(t, e.db)
		f.MustAdd(Rule{SQL: regexpMust("spid"), Action: FaultHang, FirstN: 1})
		ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
		defer cancel()
		var spid int
		if err := e.db.QueryRowContext(ctx, "select @@spid").Scan(&spid); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("request hang: want DeadlineExceeded, got %T %v", err, err)
		}
		mustPing(t, e.db)

		for _, phase := range []Phase{PhasePrelogin, PhaseLogin} {
			f.MustAdd(Rule{Phase: phase, Action: FaultHang, FirstN: 1})
			start := time.Now()
			err := e.db.PingContext(ctxT(t))
			var ne interface{ Timeout() bool }
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("%v hang: want a client timeout, got %T %v", phase, err, err)
			}
			if d := time.Since(start); d < 900*time.Millisecond {
				t.Fatalf("%v hang ended after %v", phase, d)
			}
			mustPing(t, e.db)
		}
	})
}

func TestFaultGarbageToken(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		e.db.SetMaxIdleConns(0) // every query logs in afresh
		f := e.srv.Faults()
		f.MustAdd(Rule{SQL: regexpMust("numbers"), Action: FaultGarbageToken, FirstN: 1})
		if _, err := countRows(t, e.db, "select n from numbers"); !isStreamErr(err) {
			t.Fatalf("request garbage: want StreamError, got %T %v", err, err)
		}
		mustPing(t, e.db)

		f.MustAdd(Rule{Phase: PhaseLogin, Action: FaultGarbageToken, FirstN: 1})
		if err := e.db.PingContext(ctxT(t)); !isStreamErr(err) {
			t.Fatalf("login garbage: want StreamError, got %T %v", err, err)
		}
		mustPing(t, e.db)

		f.MustAdd(Rule{Phase: PhasePrelogin, Action: FaultGarbageToken, FirstN: 1})
		if err := e.db.PingContext(ctxT(t)); err == nil || !strings.Contains(err.Error(), "prelogin") {
			t.Fatalf("prelogin garbage: got %v", err)
		}
		mustPing(t, e.db)
	})
}

func TestFaultWhenConditions(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	e := newEnv(t, modes()[0], Config{Handler: echoRouter(), Now: clock, FaultSeed: 42})
	e.db.SetMaxOpenConns(1)
	f := e.srv.Faults()
	ctx := ctxT(t)
	run := func(n int, q string) string {
		var b strings.Builder
		for range n {
			var v string
			if err := e.db.QueryRowContext(ctx, q, "x").Scan(&v); err != nil {
				b.WriteByte('E')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	const q = "select @p1"
	errRule := func(r Rule) Rule {
		r.SQL, r.Action, r.Err = regexpMust(`^select @p1$`), FaultError, DeadlockError()
		return r
	}

	id := f.MustAdd(errRule(Rule{FirstN: 2}))
	if got := run(4, q); got != "EE.." {
		t.Fatalf("FirstN=2: %s", got)
	}
	f.Remove(id)
	id = f.MustAdd(errRule(Rule{EveryNth: 3}))
	if got := run(7, q); got != "..E..E." {
		t.Fatalf("EveryNth=3: %s", got)
	}
	if st := f.List(); len(st) != 1 || st[0].ID != id || st[0].Matches != 7 || st[0].Fired != 2 {
		t.Fatalf("List = %+v", st)
	}
	f.Clear()
	id = f.MustAdd(errRule(Rule{After: time.Minute}))
	if got := run(2, q); got != ".." {
		t.Fatalf("After (inactive): %s", got)
	}
	advance(time.Minute)
	if got := run(2, q); got != "EE" {
		t.Fatalf("After (active): %s", got)
	}
	if !f.Remove(id) || f.Remove(id) {
		t.Fatal("Remove")
	}
	// Filters: user/database/proc/SQL mismatches never fire.
	f.MustAdd(Rule{User: "someone", Action: FaultError})
	f.MustAdd(Rule{Database: "other", Action: FaultError})
	f.MustAdd(Rule{Proc: "usp_x", Action: FaultError})
	f.MustAdd(Rule{SQL: regexpMust("nomatch"), Action: FaultError})
	if got := run(3, q); got != "..." {
		t.Fatalf("filters: %s", got)
	}
	f.Clear()

	// Probability: reproducible with the same seed.
	f.MustAdd(errRule(Rule{Probability: 0.5}))
	first := run(30, q)
	e2 := newEnv(t, modes()[0], Config{Handler: echoRouter(), FaultSeed: 42})
	e2.srv.Faults().MustAdd(errRule(Rule{Probability: 0.5}))
	var b strings.Builder
	for range 30 {
		var v string
		if err := e2.db.QueryRowContext(ctx, q, "x").Scan(&v); err != nil {
			b.WriteByte('E')
		} else {
			b.WriteByte('.')
		}
	}
	if first != b.String() || !strings.Contains(first, "E") || !strings.Contains(first, ".") {
		t.Fatalf("Probability 0.5 with seed 42: %s vs %s", first, b.String())
	}
}

func TestFaultRuleValidation(t *testing.T) {
	t.Parallel()
	f := New(Config{}).Faults()
	bad := []Rule{
		{Action: FaultRowDelay},
		{Action: FaultDelay},
		{Phase: PhasePrelogin, Action: FaultError},
		{Phase: PhaseLogin, SQL: regexpMust("x"), Action: FaultError},
		{Phase: PhasePrelogin, User: "sa", Action: FaultHang},
		{Phase: PhaseLogin, Action: FaultDropAfterRows},
		{Phase: PhaseRequest, Action: FaultRefuseConnections},
		{Phase: PhaseRequest, Action: FaultDropDuringLogin},
		{Action: FaultError, Probability: 2},
		{Action: FaultAction(99)},
	}
	for _, r := range bad {
		if _, err := f.Add(r); !errors.Is(err, errBadRule) {
			t.Errorf("Add(%+v) = %v", r, err)
		}
	}
	if len(f.List()) != 0 {
		t.Fatal("invalid rules were installed")
	}
}

// idleCloseError asserts what TDS.md §1.10 says the driver reports when the server closed a
// connection before (or instead of) answering: a *net.OpError "Read" wrapping io.EOF, not
// driver.ErrBadConn (which would make database/sql retry on another connection).
func idleCloseError(t *testing.T, what string, err error) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "Read" || !errors.Is(err, io.EOF) || errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("%s: want *net.OpError \"Read: EOF\" (not ErrBadConn), got %T %v", what, err, err)
	}
}

// TestKillAllAndKill is TDS.md §1.10 "server closes idle pooled connections": the first query on
// the closed connection fails with *net.OpError "Read: EOF" and is not retried by database/sql (no
// new connection, no request reaches the server); the next query gets a new connection and works.
func TestKillAllAndKill(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		e := newEnv(t, m, Config{Handler: echoRouter()})
		e.db.SetMaxOpenConns(1)
		mustPing(t, e.db)
		spid := e.srv.Conns()[0].SPID
		if !e.srv.Kill(spid) || e.srv.Kill(spid) {
			t.Fatal("Kill")
		}
		closed := func(what string, query func() error) {
			t.Helper()
			before := e.srv.Stats()
			idleCloseError(t, what, query())
			if after := e.srv.Stats(); after.Connections != before.Connections || after.Requests != before.Requests {
				t.Fatalf("%s: the failed query was retried: connections %d→%d, requests %d→%d", what,
					before.Connections, after.Connections, before.Requests, after.Requests)
			}
			before = e.srv.Stats()
			var got int64
			if err := e.db.QueryRowContext(ctxT(t), "select @@spid").Scan(&got); err != nil {
				t.Fatalf("%s: the pool did not recover: %v", what, err)
			}
			if after := e.srv.Stats(); after.Connections != before.Connections+1 || got == int64(spid) {
				t.Fatalf("%s: the next query must run on a new connection: connections %d→%d, spid %d (killed %d)", what,
					before.Connections, after.Connections, got, spid)
			}
			spid = uint16(got)
		}
		closed("query after Kill", func() error {
			_, err := countRows(t, e.db, "select n from numbers")
			return err
		})
		if n := e.srv.KillAll(); n != 1 {
			t.Fatalf("KillAll closed %d", n)
		}
		closed("exec after KillAll", func() error {
			_, err := e.db.ExecContext(ctxT(t), "select @@spid")
			return err
		})
	})
}

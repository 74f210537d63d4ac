package sql_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/sql"
	"cutover/sql/sim"
	"cutover/sql/tdssim"
)

// TestQueryTimeoutIsNotRetried: a query the server holds longer than Config.QueryTimeout ends at
// the deadline with context.DeadlineExceeded, named, and is not read again; the pool keeps working.
func TestQueryTimeoutIsNotRetried(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	cfg := w.config(sim.EndpointDistribution)
	cfg.QueryTimeout = 200 * time.Millisecond
	db := w.open(t, cfg)
	ctx := t.Context()
	if _, err := db.AgentStates(ctx); err != nil { // connect, and learn the server's clock
		t.Fatal(err)
	}
	faults := w.srv.Source().Faults()
	id := faults.MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`MSreplication_monitordata`),
		Action: tdssim.FaultDelay, Delay: time.Hour})
	_, err := db.AgentStates(ctx)
	var qe *sql.QueryError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &qe) || qe.Query != "agent states" || sql.IsConnectionLost(err) {
		t.Fatalf("a query held past the timeout: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the caller's context must not be the one that ended")
	}
	if db.Retries() != 0 || faults.List()[0].Matches != 1 {
		t.Fatalf("a timed-out read must not be retried: %d retries, %d requests", db.Retries(), faults.List()[0].Matches)
	}
	faults.Remove(id)
	if states, err := db.AgentStates(ctx); err != nil || len(states) == 0 {
		t.Fatalf("after the timeout: %d states, %v", len(states), err)
	}
}

// TestCountTimeoutBoundsExactCounts: exact counts run under Config.CountTimeout, not QueryTimeout.
// A count slower than the query timeout succeeds; one slower than the count timeout fails with
// context.DeadlineExceeded on its own table, is not retried, and the other tables are counted.
func TestCountTimeoutBoundsExactCounts(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	faults := w.srv.Source().Faults()
	want := func(table string) int64 {
		n, err := w.w.SourceRows(table)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	cfg := w.config(sim.EndpointSource)
	cfg.QueryTimeout, cfg.CountTimeout = 100*time.Millisecond, time.Minute
	long := w.open(t, cfg)
	id := faults.MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big.*CUSTTABLE`),
		Action: tdssim.FaultDelay, Delay: 400 * time.Millisecond})
	res, err := long.ExactCounts(ctx, []string{"CUSTTABLE"}, 1, nil)
	if err != nil || len(res) != 1 || res[0].Err != nil || res[0].Rows != want("CUSTTABLE") {
		t.Fatalf("a count slower than the query timeout but within the count timeout: %+v %v", res, err)
	}
	faults.Remove(id)

	cfg.QueryTimeout, cfg.CountTimeout = 30*time.Second, 200*time.Millisecond
	short := w.open(t, cfg)
	id = faults.MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big.*VENDTABLE`),
		Action: tdssim.FaultDelay, Delay: time.Hour})
	res, err = short.ExactCounts(ctx, []string{"CUSTTABLE", "VENDTABLE", "SALESLINE"}, 2, nil)
	if err != nil || len(res) != 3 {
		t.Fatalf("counts: %+v %v", res, err)
	}
	for _, r := range res {
		if r.Table == "VENDTABLE" {
			if !errors.Is(r.Err, context.DeadlineExceeded) || !strings.Contains(r.Err.Error(), "COUNT_BIG VENDTABLE") {
				t.Fatalf("a count past the count timeout: %v", r.Err)
			}
			continue
		}
		if r.Err != nil || r.Rows != want(r.Table) {
			t.Fatalf("%s: %d rows, %v", r.Table, r.Rows, r.Err)
		}
	}
	var matches int64
	for _, st := range faults.List() {
		if st.ID == id {
			matches = st.Matches
		}
	}
	if short.Retries() != 0 || matches != 1 {
		t.Fatalf("a timed-out count must not be retried: %d retries, %d requests", short.Retries(), matches)
	}
}

// TestExactCountsStayWithinThePool: concurrent exact counts (more workers asked for than the pool
// allows, from several callers at once) never open more than Config.MaxOpen connections. The source
// server is this test's alone, so every connection it accepted is the pool's.
func TestExactCountsStayWithinThePool(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	const maxOpen = 3
	cfg := w.config(sim.EndpointSource)
	cfg.MaxOpen = maxOpen
	db := w.open(t, cfg)
	ctx := t.Context()
	// Each count takes a little while on the server, so the callers' counts overlap.
	w.srv.Source().Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big`),
		Action: tdssim.FaultDelay, Delay: 20 * time.Millisecond})
	var tables []string
	for _, ti := range w.w.Tables() {
		if !ti.System && len(tables) < 12 {
			tables = append(tables, ti.Name)
		}
	}
	before := w.srv.Source().Stats()
	const callers = 4
	results := make([][]sql.ExactCount, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = db.ExactCounts(ctx, tables, 8, nil) })
	}
	wg.Wait()
	after := w.srv.Source().Stats()
	for i := range callers {
		if errs[i] != nil || len(results[i]) != len(tables) {
			t.Fatalf("caller %d: %d results, %v", i, len(results[i]), errs[i])
		}
		for _, r := range results[i] {
			if n, _ := w.w.SourceRows(r.Table); r.Err != nil || r.Rows != n {
				t.Fatalf("caller %d: %s: %d (%v), world %d", i, r.Table, r.Rows, r.Err, n)
			}
		}
	}
	opened := after.Connections - before.Connections
	if opened < 1 || opened > maxOpen || after.Logins-before.Logins != opened {
		t.Fatalf("the pool opened %d connections (%d logins) for %d×%d counts, MaxOpen %d",
			opened, after.Logins-before.Logins, callers, len(tables), maxOpen)
	}
	sessions := 0
	for _, s := range w.srv.Source().Conns() {
		if s.AppName == sql.AppName {
			sessions++
		}
	}
	if sessions > maxOpen {
		t.Fatalf("%d sessions open on the server, MaxOpen %d", sessions, maxOpen)
	}
	t.Logf("%d callers × %d tables over %d connections", callers, len(tables), opened)
}

// TestQueryText runs the ad hoc queries of a runbook smoke test through QueryText: columns and rows
// as text, NULL as "NULL", a datetime without an offset, and 208 for an object the server does not
// have.
func TestQueryText(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()

	cols, rows, err := w.src.QueryText(ctx, "SELECT COUNT_BIG(*) FROM dbo.CUSTTABLE")
	n, _ := w.w.SourceRows("CUSTTABLE")
	if err != nil || len(cols) != 1 || len(rows) != 1 || rows[0][0] != strconv.FormatInt(n, 10) {
		t.Fatalf("count: %q %q %v (world %d)", cols, rows, err, n)
	}

	cols, rows, err = w.src.QueryText(ctx, "SELECT name FROM sys.databases")
	if err != nil || len(cols) != 1 || cols[0] != "name" || len(rows) < 5 {
		t.Fatalf("databases: %q %q %v", cols, rows, err)
	}
	names := map[string]bool{}
	for _, r := range rows {
		names[r[0]] = true
	}
	if !names["master"] || !names[w.srv.Database(sim.EndpointSource)] || !names[w.srv.Database(sim.EndpointDistribution)] {
		t.Fatalf("databases: %q", rows)
	}

	_, rows, err = w.src.QueryText(ctx, "SELECT GETDATE()")
	if err != nil || len(rows) != 1 {
		t.Fatalf("GETDATE: %q %v", rows, err)
	}
	if at, perr := time.Parse("2006-01-02 15:04:05.9999999", rows[0][0]); perr != nil || !at.Equal(w.clk.Now()) {
		t.Fatalf("GETDATE: %q (%v), clock %v", rows[0][0], perr, w.clk.Now())
	}

	// The source server has no servicing host: MAX over no rows is NULL.
	cols, rows, err = w.src.QueryText(ctx, "SELECT MAX(last_request_end_time) FROM sys.dm_exec_sessions WHERE host_name = N'SERVICING1'")
	if err != nil || len(cols) != 1 || len(rows) != 1 || rows[0][0] != "NULL" {
		t.Fatalf("NULL column: %q %q %v", cols, rows, err)
	}

	cols, rows, err = w.src.QueryText(ctx, "SELECT * FROM dbo.NO_SUCH_TABLE")
	var qe *sql.QueryError
	if err == nil || sql.Number(err) != 208 || !sql.IsMissingObject(err) || !errors.As(err, &qe) || qe.Query != "query" || cols != nil || rows != nil {
		t.Fatalf("unknown object: %q %q %v", cols, rows, err)
	}
	if w.src.Retries() != 0 {
		t.Fatalf("an error 208 was retried %d times", w.src.Retries())
	}
}

// TestQueryTextWritesValuesAsSQLServer: a smoke test's expected text is written as SQL Server
// writes the value: a uniqueidentifier in its canonical form
// (docs/t-sql/data-types/uniqueidentifier-transact-sql.md; it was the driver's raw wire bytes),
// binary data as a 0x constant (it was raw bytes), a datetime without the "Z" of UTC it does not
// carry, a datetimeoffset with its offset.
func TestQueryTextWritesValuesAsSQLServer(t *testing.T) {
	rt := tdssim.NewRouter()
	local := time.Date(2026, 12, 5, 18, 30, 15, 250_000_000, time.UTC)
	rt.Exact("SELECT g, b, dt, dto, d FROM dbo.T", func(*tdssim.Request) (*tdssim.Result, error) {
		return tdssim.Rows([]tdssim.Column{{Name: "g", Type: tdssim.TypeUniqueIdentifier}, {Name: "b", Type: tdssim.TypeVarBinary, Size: 8},
			{Name: "dt", Type: tdssim.TypeDateTime2}, {Name: "dto", Type: tdssim.TypeDateTimeOffset}, {Name: "d", Type: tdssim.TypeDate}},
			tdssim.Row{"6F9619FF-8B86-D011-B42D-00C04FC964FF", []byte{0, 1, 0xAB}, local, local.In(time.FixedZone("", 3600)), local}), nil
	})
	srv := tdssim.New(tdssim.Config{Handler: rt})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	db, err := sql.Open(sql.Config{Server: "127.0.0.1", Port: srv.Addr().(*net.TCPAddr).Port, Database: "x", User: "u", Password: "p",
		Encrypt: sql.EncryptDisable, QueryTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, rows, err := db.QueryText(t.Context(), "SELECT g, b, dt, dto, d FROM dbo.T")
	if err != nil || len(rows) != 1 {
		t.Fatalf("%q %v", rows, err)
	}
	want := []string{"6F9619FF-8B86-D011-B42D-00C04FC964FF", "0x0001AB", "2026-12-05 18:30:15.25", "2026-12-05T19:30:15.25+01:00", "2026-12-05"}
	if !slices.Equal(rows[0], want) {
		t.Fatalf("values\n got %q\nwant %q", rows[0], want)
	}
}

package sql_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"cutover/sql"
	"cutover/sql/sim"
)

// pollTables is the size of the world a full poll is measured on.
const pollTables = 10_000

// maxAllocsPerTable bounds the allocations of one full poll per table of the world, the driver's
// and the in-process simulator's together (both run in the test's process). Measured: 18.8, with
// and without -race (go-mssqldb v1.11.2, Go 1.26); the bound leaves room for driver and Go updates
// but fails on a regression such as one more allocation per row in each of the two row-count reads.
const maxAllocsPerTable = 35

// pollWorld serves a world of n tables and opens the three pools a full poll reads.
func pollWorld(tb testing.TB, n int) (src, dist, tgt *sql.DB) {
	tb.Helper()
	clk := &testClock{now: time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)}
	w, err := sim.New(sim.Config{Tables: n}, clk)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := sim.Start(w, sim.ServerConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	x := &world{clk: clk, w: w, srv: srv}
	open := func(e sim.Endpoint) *sql.DB {
		db, err := sql.Open(x.config(e))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		return db
	}
	return open(sim.EndpointSource), open(sim.EndpointDistribution), open(sim.EndpointTarget)
}

// fullPoll is one replication-monitor poll: row counts on both sides, the per-article backlog
// and the agents. It returns how many source tables, articles and agents it read.
func fullPoll(ctx context.Context, src, dist, tgt *sql.DB) (tables, articles, agents int, err error) {
	s, _, err := src.RowCounts(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, _, err := tgt.RowCounts(ctx); err != nil {
		return 0, 0, 0, err
	}
	p, err := dist.PendingCommands(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	a, err := dist.AgentStates(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	return len(s), len(p), len(a), nil
}

// BenchmarkFullPoll10k is one replication-monitor poll through the real driver against the
// simulator with 10,000 tables: row counts on both sides, the per-article backlog and the agents.
// allocs/table counts the whole process (driver and simulator).
func BenchmarkFullPoll10k(b *testing.B) {
	src, dist, tgt := pollWorld(b, pollTables)
	ctx := b.Context()
	if _, _, _, err := fullPoll(ctx, src, dist, tgt); err != nil { // connect the pools
		b.Fatal(err)
	}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		tables, _, _, err := fullPoll(ctx, src, dist, tgt)
		if err != nil || tables < pollTables*9/10 {
			b.Fatal(tables, err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pollTables, "ns/table")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/pollTables, "allocs/table")
}

// TestFullPollAllocationsPerTable keeps a full poll's allocations per table bounded. Allocation
// counts are deterministic enough to assert; the poll's duration is not asserted.
func TestFullPollAllocationsPerTable(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10,000-table world")
	}
	src, dist, tgt := pollWorld(t, pollTables)
	ctx := t.Context()
	var tables, articles, agents int
	var err error
	allocs := testing.AllocsPerRun(3, func() {
		tables, articles, agents, err = fullPoll(ctx, src, dist, tgt)
		if err != nil {
			t.Fatal(err)
		}
	})
	if tables < pollTables*9/10 || articles == 0 || agents == 0 {
		t.Fatalf("the poll read %d tables, %d articles, %d agents", tables, articles, agents)
	}
	perTable := allocs / pollTables
	t.Logf("%.0f allocations per poll, %.1f per table", allocs, perTable)
	if perTable > maxAllocsPerTable {
		t.Errorf("a full poll allocates %.1f times per table, want at most %d", perTable, maxAllocsPerTable)
	}
}

package sql_test

import (
	"context"
	"testing"

	"cutover/sql"
	"cutover/sql/sim"
)

// pollTables is the size of the world a full poll is measured on.
const pollTables = 10_000

// maxAllocsPerTable bounds the allocations of one full poll per table of the world — every request
// of it: both row counts and the distributor's batch with the backlog — the driver's and the
// in-process simulator's together (both run in the test's process). Measured: 15.0, the floor's
// count (BenchmarkFloor: the same texts scanned into reused variables), with and without -race;
// the bound fails on a regression such as one more allocation per row in one of the row-count
// reads or in the backlog (16.0). A driver update may need it moved.
const maxAllocsPerTable = 15.5

// pollWorld serves a world of n tables and opens the three pools a full poll reads.
func pollWorld(tb testing.TB, n int) (src, tgt *sql.DB, dist *sql.Distributor) {
	tb.Helper()
	w := newWorld(tb, sim.Config{Tables: n}, sim.ServerConfig{})
	return w.src, w.tgt, sql.NewDistributor(w.dist, nil)
}

// fullPoll is one replication-monitor poll, every request the monitor and `cutover status` send:
// row counts on both sides and the distributor's batch (agents, errors, the backlog). It returns
// how many source tables, articles and agents it read.
func fullPoll(ctx context.Context, src, tgt *sql.DB, dist *sql.Distributor) (tables, articles, agents int, err error) {
	s, _, err := src.RowCounts(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, _, err := tgt.RowCounts(ctx); err != nil {
		return 0, 0, 0, err
	}
	p, err := dist.Poll(ctx, true)
	if err == nil {
		err = p.BacklogErr
	}
	if err != nil {
		return 0, 0, 0, err
	}
	for range p.Backlog {
		articles++
	}
	return len(s), articles, len(p.Agents), nil
}

// BenchmarkFullPoll10k is one replication-monitor poll through the real driver against the
// simulator with 10,000 tables: row counts on both sides, the per-article backlog and the agents.
// Allocations count the whole process (driver and simulator).
func BenchmarkFullPoll10k(b *testing.B) {
	src, tgt, dist := pollWorld(b, pollTables)
	ctx := b.Context()
	if _, _, _, err := fullPoll(ctx, src, tgt, dist); err != nil { // connect the pools
		b.Fatal(err)
	}
	b.ReportAllocs() // allocs/op over pollTables is the allocations per table
	b.ResetTimer()
	for b.Loop() {
		tables, _, _, err := fullPoll(ctx, src, tgt, dist)
		if err != nil || tables < pollTables*9/10 {
			b.Fatal(tables, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/pollTables, "ns/table")
}

// TestFullPollAllocationsPerTable keeps a full poll's allocations per table bounded. Allocation
// counts are deterministic enough to assert; the poll's duration is not asserted.
func TestFullPollAllocationsPerTable(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10,000-table world")
	}
	src, tgt, dist := pollWorld(t, pollTables)
	ctx := t.Context()
	var tables, articles, agents int
	var err error
	allocs := testing.AllocsPerRun(3, func() {
		tables, articles, agents, err = fullPoll(ctx, src, tgt, dist)
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
		t.Errorf("a full poll allocates %.1f times per table, want at most %.1f", perTable, maxAllocsPerTable)
	}
}

package sim

import (
	"context"
	stdsql "database/sql"
	"testing"
	"time"

	"cutover/sql/query"
)

// fullPoll is what the cockpit reads every cycle: row counts on both
// sides, the per-article backlog and the agent states, scanned into typed
// values as the client does.
func fullPoll(ctx context.Context, src, tgt, dist *stdsql.DB) (tables, articles, agents int, err error) {
	counts := func(db *stdsql.DB) (int, error) {
		rs, err := db.QueryContext(ctx, query.RowCountsPartitionStats)
		if err != nil {
			return 0, err
		}
		defer rs.Close()
		n := 0
		var schema, name string
		var rows int64
		var pk bool
		for rs.Next() {
			if err := rs.Scan(&schema, &name, &rows, &pk); err != nil {
				return n, err
			}
			n++
		}
		return n, rs.Err()
	}
	a, err := counts(src)
	if err != nil {
		return 0, 0, 0, err
	}
	b, err := counts(tgt)
	if err != nil {
		return 0, 0, 0, err
	}
	tables = a + b
	rs, err := dist.QueryContext(ctx, query.PendingCommands)
	if err != nil {
		return 0, 0, 0, err
	}
	var pub, art, agent, subDB string
	var pending, delivered int64
	for rs.Next() {
		if err := rs.Scan(&pub, &art, &agent, &subDB, &pending, &delivered); err != nil {
			rs.Close()
			return 0, 0, 0, err
		}
		articles++
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return 0, 0, 0, err
	}
	rs, err = dist.QueryContext(ctx, query.AgentStates)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rs.Close()
	var typ, status, warning int
	var running bool
	var cur, avg, age stdsql.NullInt64
	var sync, refresh stdsql.NullTime
	for rs.Next() {
		if err := rs.Scan(&pub, &typ, &agent, &status, &running, &warning, &cur, &avg, &sync, &refresh, &age); err != nil {
			return 0, 0, 0, err
		}
		agents++
	}
	return tables, articles, agents, rs.Err()
}

// BenchmarkFullPoll10k is one full poll of a 10,000-table world through
// go-mssqldb over TCP; the world's clock moves a second per poll.
func BenchmarkFullPoll10k(b *testing.B) {
	f := newFixture(b, Config{Tables: 10_000, Seed: 1, InitialBacklog: 2_000_000})
	src, tgt, dist := f.src(), f.tgt(), f.dist()
	ctx := context.Background()
	if _, _, _, err := fullPoll(ctx, src, tgt, dist); err != nil { // warm the pools
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var tables, articles, agents int
	for b.Loop() {
		f.clk.Advance(time.Second)
		var err error
		tables, articles, agents, err = fullPoll(ctx, src, tgt, dist)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tables), "tables")
	b.ReportMetric(float64(articles), "articles")
	b.ReportMetric(float64(agents), "agents")
}

// TestFullPollReadsEverything: one full poll of 10,000 tables reads both sides' row counts, the
// backlog and every agent, three polls in a row as the clock moves. How long it takes is measured
// by BenchmarkFullPoll10k, never asserted.
func TestFullPollReadsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	f := newFixture(t, Config{Tables: 10_000, Seed: 1})
	src, tgt, dist := f.src(), f.tgt(), f.dist()
	for range 3 {
		tables, articles, agents, err := fullPoll(f.ctx, src, tgt, dist)
		if err != nil {
			t.Fatal(err)
		}
		if tables < 19_000 || articles == 0 || agents < 14 {
			t.Fatalf("poll read %d tables, %d articles, %d agents", tables, articles, agents)
		}
		f.clk.Advance(time.Second)
	}
}

package sql_test

import (
	"testing"
	"time"

	"cutover/sql"
	"cutover/sql/sim"
)

// BenchmarkFullPoll10k is one replication-monitor poll through the real driver against the
// simulator with 10,000 tables: row counts on both sides, the per-article backlog and the agents.
func BenchmarkFullPoll10k(b *testing.B) {
	clk := &testClock{now: time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)}
	w, err := sim.New(sim.Config{Tables: 10000}, clk)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := sim.Start(w, sim.ServerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	x := &world{clk: clk, w: w, srv: srv}
	open := func(e sim.Endpoint) *sql.DB {
		db, err := sql.Open(x.config(e))
		if err != nil {
			b.Fatal(err)
		}
		return db
	}
	src, dist, tgt := open(sim.EndpointSource), open(sim.EndpointDistribution), open(sim.EndpointTarget)
	defer src.Close()
	defer dist.Close()
	defer tgt.Close()
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, _, err := src.RowCounts(ctx)
		if err != nil || len(s) < 9000 {
			b.Fatal(len(s), err)
		}
		if _, _, err := tgt.RowCounts(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := dist.PendingCommands(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := dist.AgentStates(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/table")
}

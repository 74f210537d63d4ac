package sql_test

import (
	stdsql "database/sql"
	"fmt"
	"testing"

	"cutover/sql"
	"cutover/sql/query"
	"cutover/sql/sim"
)

// The poll benchmarks measure the whole poll the monitor and `cutover status` send (fullPoll)
// beside the floor of the job: a client that sends the same texts through database/sql and only
// scans the columns into reused variables. Both run against the in-process simulator, whose work
// is in both. Run: go test -run XXX -bench 'Poll|Floor' -benchtime 3x ./sql/

var pollSizes = []int{1_000, 10_000, 50_000}

// benchWorld serves a world of n tables (the simulator's clock stands still: every poll sees the
// same figures).
func benchWorld(b *testing.B, n int) *world {
	b.Helper()
	return newWorld(b, sim.Config{Tables: n}, sim.ServerConfig{})
}

// report adds the requests and bytes the servers answered per poll, and the time per table.
func report(b *testing.B, w *world, n int, run func()) {
	b.Helper()
	stats := func() (req, bytes int64) {
		a, c := w.srv.Source().Stats(), w.srv.Target().Stats()
		return a.Requests + c.Requests, a.BytesSent + c.BytesSent
	}
	run() // connect the pools, read the static lists
	b.ReportAllocs()
	r0, by0 := stats()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.StopTimer()
	r1, by1 := stats()
	polls := float64(b.N)
	b.ReportMetric(float64(r1-r0)/polls, "requests/poll")
	b.ReportMetric(float64(by1-by0)/polls, "bytes/poll")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/polls/float64(n), "ns/table")
}

// BenchmarkPoll is the whole real poll: both row counts and the distributor's batch.
func BenchmarkPoll(b *testing.B) {
	for _, n := range pollSizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			w := benchWorld(b, n)
			d := sql.NewDistributor(w.dist, nil)
			ctx := b.Context()
			report(b, w, n, func() {
				if tables, _, _, err := fullPoll(ctx, w.src, w.tgt, d); err != nil || tables < n*9/10 {
					b.Fatal(tables, err)
				}
			})
		})
	}
}

// BenchmarkPollSeparate is the poll as it was before issue 19: every query its own request, the
// article list read on every backlog poll (kept to show the difference).
func BenchmarkPollSeparate(b *testing.B) {
	for _, n := range pollSizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			w := benchWorld(b, n)
			ctx := b.Context()
			report(b, w, n, func() {
				if _, _, err := w.src.RowCounts(ctx); err != nil {
					b.Fatal(err)
				}
				if _, _, err := w.tgt.RowCounts(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := w.dist.Backlog(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := agentReports(ctx, w.dist); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// floorBatch is the distributor's batch of a poll once the article list is kept.
var floorBatch = sql.PollBatch(false, true, false)

// BenchmarkFloor sends the poll's texts and only scans the columns into reused variables.
func BenchmarkFloor(b *testing.B) {
	for _, n := range pollSizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			w := benchWorld(b, n)
			ctx := b.Context()
			open := func(e sim.Endpoint) *stdsql.DB {
				db, err := stdsql.Open("sqlserver", w.srv.DSN(e))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				return db
			}
			src, tgt, dist := open(sim.EndpointSource), open(sim.EndpointTarget), open(sim.EndpointDistribution)
			var cols [16]stdsql.RawBytes
			var dest [16]any
			for i := range cols {
				dest[i] = &cols[i]
			}
			scan := func(db *stdsql.DB, text string) int {
				rows, err := db.QueryContext(ctx, text)
				if err != nil {
					b.Fatal(err)
				}
				defer rows.Close()
				n := 0
				for {
					cts, err := rows.Columns()
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
						if err := rows.Scan(dest[:len(cts)]...); err != nil {
							b.Fatal(err)
						}
						n++
					}
					if !rows.NextResultSet() {
						break
					}
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				return n
			}
			report(b, w, n, func() {
				if got := scan(src, query.RowCountsPartitionStats); got < n*9/10 {
					b.Fatal(got)
				}
				scan(tgt, query.RowCountsPartitionStats)
				scan(dist, floorBatch)
			})
		})
	}
}

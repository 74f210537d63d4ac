package sql

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strings"
	"sync"

	"cutover/sql/query"
)

// TableCount is a table and its row count.
type TableCount struct {
	Schema string
	Table  string
	Rows   int64
	// HasPK reports a primary key (transactional replication to Azure SQL needs one).
	HasPK bool
}

// CountSource says where row counts came from.
type CountSource int

// Count sources.
const (
	// FromPartitionStats is sys.dm_db_partition_stats (approximate; needs VIEW DATABASE STATE).
	FromPartitionStats CountSource = iota
	// FromPartitions is the sys.partitions fallback (approximate; catalog permissions only).
	FromPartitions
	// FromCountBig is an exact SELECT COUNT_BIG(*).
	FromCountBig
)

// String names the source.
func (s CountSource) String() string {
	switch s {
	case FromPartitions:
		return "sys.partitions"
	case FromCountBig:
		return "COUNT_BIG"
	}
	return "sys.dm_db_partition_stats"
}

// RowCounts returns every user table's approximate row count from partition statistics, falling
// back to sys.partitions when the login lacks VIEW DATABASE STATE.
func (d *DB) RowCounts(ctx context.Context) ([]TableCount, CountSource, error) {
	return RowCountsAs(ctx, d, func(tc TableCount) TableCount { return tc })
}

// RowCountsAs is RowCounts with each row made into a T by as while it is read, so that a caller
// keeping its own type holds one copy of the counts, not two (50,000 tables in cutover status).
func RowCountsAs[T any](ctx context.Context, d *DB, as func(TableCount) T) ([]T, CountSource, error) {
	out, err := rowCounts(ctx, d, "row counts (partition stats)", query.RowCountsPartitionStats, as)
	if err == nil {
		return out, FromPartitionStats, nil
	}
	if !IsPermission(err) {
		return nil, FromPartitionStats, err
	}
	out, err = rowCounts(ctx, d, "row counts (sys.partitions)", query.RowCountsPartitions, as)
	return out, FromPartitions, err
}

func rowCounts[T any](ctx context.Context, d *DB, name, text string, as func(TableCount) T) ([]T, error) {
	out, err := readBound(ctx, d, name, text, int(d.countsHint.Load()), func() ([]any, func() T) {
		var tc TableCount
		var rows stdsql.NullInt64
		return []any{&tc.Schema, &tc.Table, &rows, &tc.HasPK}, func() T {
			tc.Rows = rows.Int64
			return as(tc)
		}
	})
	if err == nil {
		d.countsHint.Store(int64(len(out)))
	}
	return out, err
}

// readBound is readRows with the scan's destinations bound once per attempt instead of once per
// row: bind returns them and a function that makes the row's value after a scan into them.
func readBound[T any](ctx context.Context, d *DB, name, text string, sizeHint int, bind func() ([]any, func() T), args ...any) ([]T, error) {
	type acc struct {
		out  []T
		dest []any
		row  func() T
	}
	a, err := readValue(ctx, d, d.cfg.QueryTimeout, name, text, func() *acc {
		dest, row := bind()
		return &acc{out: make([]T, 0, max(sizeHint, 16)), dest: dest, row: row}
	}, func(r *stdsql.Rows, a **acc) error {
		if err := r.Scan((*a).dest...); err != nil {
			return err
		}
		(*a).out = append((*a).out, (*a).row())
		return nil
	}, args...)
	if err != nil {
		return nil, err
	}
	return a.out, nil
}

// QuoteName quotes a one- or two-part object name the way QUOTENAME does: [dbo].[CUSTTABLE].
func QuoteName(name string) string {
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		schema, table = "dbo", name
	}
	q := func(s string) string { return "[" + strings.ReplaceAll(s, "]", "]]") + "]" }
	return q(schema) + "." + q(table)
}

// ExactCount is one table's exact count, or why it could not be had.
type ExactCount struct {
	Table string
	Rows  int64
	Err   error
	// Missing is set when SQL Server cannot find the table: error 208, "Invalid object name"
	// (docs/relational-databases/errors-events/mssqlserver-208-database-engine-error.md, whose
	// causes are a table that does not exist in the database and one the login may not see).
	// Err holds the server's error.
	Missing bool
}

// ExactCounts counts the named tables exactly with COUNT_BIG, at most concurrency at a time,
// calling progress (if not nil) after each table. Cancelling ctx stops the remaining counts and
// cancels those running; the result then holds what finished and ctx's error. A table that fails
// carries its error and the others go on.
func (d *DB) ExactCounts(ctx context.Context, tables []string, concurrency int, progress func(done, total int)) ([]ExactCount, error) {
	if concurrency <= 0 {
		concurrency = 4
	}
	concurrency = min(concurrency, d.cfg.MaxOpen)
	results := make([]ExactCount, len(tables))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				n, err := d.exactCount(ctx, tables[i])
				results[i] = ExactCount{Table: tables[i], Rows: n, Err: err, Missing: Number(err) == errInvalidObject}
				mu.Lock()
				done++
				if progress != nil {
					progress(done, len(tables))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range tables {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		finished := results[:0]
		for _, r := range results {
			if r.Table != "" && r.Err == nil {
				finished = append(finished, r)
			}
		}
		return finished, fmt.Errorf("exact counts stopped after %d of %d tables: %w", len(finished), len(tables), err)
	}
	return results, nil
}

func (d *DB) exactCount(ctx context.Context, table string) (int64, error) {
	return readValue(ctx, d, d.cfg.CountTimeout, "COUNT_BIG "+table, query.ExactCountPrefix+QuoteName(table), nil,
		func(r *stdsql.Rows, n *int64) error { return r.Scan(n) })
}

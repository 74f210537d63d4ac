package demotest

import (
	"context"
	stdsql "database/sql"
	"fmt"

	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver

	"cutover/sql"
	"cutover/sql/query"
)

// FloorBatch is the distributor's request of a first status glance (sql.Distributor): the server's
// clock, the agents, the article marker and list, and the pending commands, in one batch.
var FloorBatch = sql.PollBatch(true, true, true)

// Floor is the least a status glance can do (issue 19's floor, beside which its memory is
// measured): it opens the source, distribution and target DSNs, sends them the texts a first glance
// sends (query.RowCountsPartitionStats to source and target, FloorBatch to the distributor) and
// scans every row of every result set into reused variables, keeping nothing. It returns how many
// rows it read.
func Floor(ctx context.Context, source, distribution, target string) (int, error) {
	var cols [16]stdsql.RawBytes
	var dest [16]any
	for i := range cols {
		dest[i] = &cols[i]
	}
	n := 0
	for _, q := range []struct{ dsn, text string }{
		{source, query.RowCountsPartitionStats}, {target, query.RowCountsPartitionStats}, {distribution, FloorBatch},
	} {
		if err := func() error {
			db, err := stdsql.Open("sqlserver", q.dsn)
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.QueryContext(ctx, q.text)
			if err != nil {
				return err
			}
			defer rows.Close()
			for {
				c, err := rows.Columns()
				if err != nil {
					return err
				}
				if len(c) > len(dest) {
					return fmt.Errorf("%d columns: the floor scans at most %d", len(c), len(dest))
				}
				for rows.Next() {
					if err := rows.Scan(dest[:len(c)]...); err != nil {
						return err
					}
					n++
				}
				if !rows.NextResultSet() {
					break
				}
			}
			return rows.Err()
		}(); err != nil {
			return n, fmt.Errorf("floor: %w", err)
		}
	}
	return n, nil
}

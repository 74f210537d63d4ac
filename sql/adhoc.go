package sql

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strconv"
	"time"
)

// maxAdhocRows bounds what an ad hoc query returns.
const maxAdhocRows = 1000

// QueryText runs a read-only query written in the runbook (a smoke test) and returns the columns and
// up to 1,000 rows of its first result set as text (NULL as "NULL", times in RFC 3339).
func (d *DB) QueryText(ctx context.Context, text string) ([]string, [][]string, error) {
	var cols []string
	var rows [][]string
	err := d.read(ctx, "query", text, func(r *stdsql.Rows) error {
		if cols == nil {
			c, err := r.Columns()
			if err != nil {
				return err
			}
			cols = c
		}
		if len(rows) >= maxAdhocRows {
			return nil
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = textOf(v)
		}
		rows = append(rows, row)
		return nil
	})
	return cols, rows, err
}

func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case string:
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

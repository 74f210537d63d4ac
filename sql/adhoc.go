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
	type table struct {
		cols []string
		rows [][]string
	}
	t, err := readValue(ctx, d, d.cfg.QueryTimeout, "query", text, nil, func(r *stdsql.Rows, t *table) error {
		if t.cols == nil {
			c, err := r.Columns()
			if err != nil {
				return err
			}
			t.cols = c
		}
		if len(t.rows) >= maxAdhocRows {
			return nil
		}
		vals := make([]any, len(t.cols))
		ptrs := make([]any, len(t.cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]string, len(t.cols))
		for i, v := range vals {
			row[i] = textOf(v)
		}
		t.rows = append(t.rows, row)
		return nil
	})
	return t.cols, t.rows, err
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

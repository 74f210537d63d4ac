package sql

import (
	"context"
	stdsql "database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

// maxAdhocRows bounds what an ad hoc query returns.
const maxAdhocRows = 1000

// QueryText runs a read-only query written in the runbook (a smoke test) and returns the columns and
// up to 1,000 rows of its first result set as text, each value as SQL Server writes it: NULL as
// "NULL"; uniqueidentifier as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
// (docs/t-sql/data-types/uniqueidentifier-transact-sql.md); binary data as a 0x constant
// (docs/t-sql/data-types/constants-transact-sql.md); datetimeoffset in RFC 3339 with its offset;
// datetime, datetime2 and smalldatetime, which carry no offset, as yyyy-mm-dd hh:mi:ss[.fffffff];
// date as yyyy-mm-dd.
func (d *DB) QueryText(ctx context.Context, text string) ([]string, [][]string, error) {
	type table struct {
		cols  []string
		types []string
		rows  [][]string
	}
	t, err := readValue(ctx, d, d.cfg.QueryTimeout, "query", text, nil, func(r *stdsql.Rows, t *table) error {
		if t.cols == nil {
			c, err := r.Columns()
			if err != nil {
				return err
			}
			cts, err := r.ColumnTypes()
			if err != nil {
				return err
			}
			t.cols = c
			t.types = make([]string, len(cts))
			for i, ct := range cts {
				t.types[i] = strings.ToUpper(ct.DatabaseTypeName())
			}
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
			row[i] = textOf(v, t.types[i])
		}
		t.rows = append(t.rows, row)
		return nil
	})
	return t.cols, t.rows, err
}

// textOf writes a value of a column of SQL type typ (the driver's DatabaseTypeName).
func textOf(v any, typ string) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		switch typ {
		case "UNIQUEIDENTIFIER":
			var u mssql.UniqueIdentifier
			if err := u.Scan(x); err == nil {
				return u.String()
			}
		case "VARBINARY", "BINARY", "IMAGE", "TIMESTAMP", "ROWVERSION":
			return "0x" + strings.ToUpper(hex.EncodeToString(x))
		}
		return string(x)
	case string:
		return x
	case time.Time:
		switch typ {
		case "DATETIMEOFFSET":
			return x.Format(time.RFC3339Nano)
		case "DATE":
			return x.Format(time.DateOnly)
		case "DATETIME", "DATETIME2", "SMALLDATETIME":
			return x.Format("2006-01-02 15:04:05.9999999")
		}
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

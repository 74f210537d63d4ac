// Package tdstest holds what tests of the TDS simulator and of the simulated world share: a
// transcript of everything go-mssqldb reports for a batch, to compare with what SQL Server would
// send.
package tdstest

import (
	"context"
	stdsql "database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-sql/sqlexp"
	mssql "github.com/microsoft/go-mssqldb"
)

// Transcript runs a batch on c and returns everything the driver reports, in order: result
// columns and rows, row counts, messages and errors.
func Transcript(t testing.TB, ctx context.Context, c *stdsql.Conn, sql string) []string {
	t.Helper()
	retmsg := &sqlexp.ReturnMessage{}
	rows, err := c.QueryContext(ctx, sql, retmsg)
	if err != nil {
		return []string{"query: " + err.Error()}
	}
	defer rows.Close()
	var out []string
	for {
		switch m := retmsg.Message(ctx).(type) {
		case sqlexp.MsgNext:
			cols, _ := rows.Columns()
			out = append(out, "cols "+strings.Join(cols, ","))
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				s := make([]string, len(vals))
				for i, v := range vals {
					switch x := v.(type) {
					case nil:
						s[i] = "NULL"
					case time.Time:
						s[i] = x.UTC().Format("2006-01-02 15:04:05")
					case []byte:
						s[i] = hex.EncodeToString(x)
					default:
						s[i] = fmt.Sprint(x)
					}
				}
				out = append(out, "row "+strings.Join(s, "|"))
			}
		case sqlexp.MsgNextResultSet:
			if !rows.NextResultSet() {
				return out
			}
		case sqlexp.MsgRowsAffected:
			out = append(out, fmt.Sprintf("count %d", m.Count))
		case sqlexp.MsgNotice:
			e, _ := m.Message.(mssql.Error)
			out = append(out, fmt.Sprintf("info %d: %s", e.Number, e.Message))
		case sqlexp.MsgError:
			var e mssql.Error
			if !errors.As(m.Error, &e) {
				return append(out, "error: "+m.Error.Error())
			}
			out = append(out, fmt.Sprintf("error %d/%d line %d: %s", e.Number, e.Class, e.LineNo, e.Message))
		case nil:
			return append(out, "no more messages")
		}
	}
}

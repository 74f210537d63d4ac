package tdssim

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"cutover/sql/tsql"
)

// evalEnv is what an expression reads: the current source row, the current group's aggregates, the
// batch's variables and the server's functions.
type evalEnv struct {
	b    *batch
	q    *query // nil outside a SELECT with FROM
	row  Row
	aggs map[*tsql.FuncCall]any
}

func (q *query) env(row Row, aggs map[*tsql.FuncCall]any) *evalEnv {
	return &evalEnv{b: q.b, q: q, row: row, aggs: aggs}
}

// norm gives a value the evaluator's types: every integer as int64, every float as float64.
func norm(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return float64(x)
	case uint:
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}

// Column implements tsql.Env.
func (e *evalEnv) Column(ref *tsql.ColumnRef) (any, error) {
	if e.q == nil {
		return nil, InvalidColumnError(ref.Column())
	}
	i, err := e.q.bind(ref)
	if err != nil {
		return nil, err
	}
	if e.row == nil {
		return nil, nil
	}
	return norm(e.row[i]), nil
}

// Call implements tsql.Env.
func (e *evalEnv) Call(f *tsql.FuncCall, args []any) (any, error) {
	if v, ok := e.aggs[f]; ok {
		return v, nil
	}
	if isAggregate(f) {
		return nil, unsupported("the aggregate %s outside a grouped select list", f.Name)
	}
	return e.b.function(f, args)
}

// Variable implements tsql.Env.
func (e *evalEnv) Variable(v *tsql.VariableRef) (any, error) {
	if v.System {
		return e.b.sysvar(v.Name)
	}
	if x := e.b.vars[strings.ToLower(v.Name)]; x != nil {
		return x.val, nil
	}
	return nil, UndeclaredVariableError("@" + v.Name)
}

// scalar evaluates an expression outside any table (TOP, DECLARE, SET, PRINT, RAISERROR, EXEC
// arguments).
func (b *batch) scalar(e tsql.Expr) (any, error) {
	if ref, ok := e.(*tsql.ColumnRef); ok && len(ref.Parts) == 1 {
		if _, isExec := b.current.(*tsql.ExecStatement); isExec {
			// A procedure's argument may be a bare word: EXEC sp_who active passes 'active'.
			return ref.Column(), nil
		}
	}
	v, err := tsql.Eval(e, &evalEnv{b: b})
	return v, valueError(err)
}

// sysvars are the configuration functions the evaluator answers, with their types (sql-docs
// docs/t-sql/functions/configuration-functions-transact-sql.md and each function's page).
var sysvars = map[string]Column{
	"SPID": {Type: TypeSmallInt}, "TRANCOUNT": {Type: TypeInt}, "ROWCOUNT": {Type: TypeInt}, "ERROR": {Type: TypeInt},
	"VERSION": {Type: TypeNVarChar, Size: 300}, "SERVERNAME": {Type: TypeNVarChar, Size: 128, Nullable: true},
	"SERVICENAME": {Type: TypeNVarChar, Size: 128}, "LANGUAGE": {Type: TypeNVarChar, Size: 128},
	"DATEFIRST": {Type: TypeTinyInt}, "LOCK_TIMEOUT": {Type: TypeInt}, "TEXTSIZE": {Type: TypeInt},
	"MAX_CONNECTIONS": {Type: TypeInt}, "NESTLEVEL": {Type: TypeInt},
}

// sysvar is a configuration function's value: the Catalog's where it answers, else the server's.
func (b *batch) sysvar(name string) (any, error) {
	up := strings.ToUpper(name)
	if _, ok := sysvars[up]; !ok {
		return nil, UndeclaredVariableError("@@" + name)
	}
	if cat := b.c.srv.cfg.Catalog; cat != nil {
		if v, ok, err := cat.Function(b.req, "@@"+up, nil); ok || err != nil {
			return v, err
		}
	}
	sess := b.req.Session
	switch up {
	case "SPID":
		return int64(sess.SPID), nil
	case "TRANCOUNT":
		return int64(sess.TranCount()), nil
	case "ROWCOUNT":
		return b.rows, nil
	case "ERROR":
		return b.lastError, nil
	case "VERSION":
		v := b.c.srv.cfg.Version
		return fmt.Sprintf("Microsoft SQL Server (tdssim) - %d.%d.%d", v[0], v[1], int(v[2])<<8|int(v[3])), nil
	case "SERVERNAME":
		return b.c.srv.cfg.ServerName, nil
	case "SERVICENAME":
		return "MSSQLSERVER", nil
	case "LANGUAGE":
		return "us_english", nil
	case "DATEFIRST":
		return int64(7), nil
	case "LOCK_TIMEOUT", "TEXTSIZE":
		def := int64(-1)
		if up == "TEXTSIZE" {
			def = 2147483647
		}
		if v, ok := sess.Option(up); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n, nil
			}
		}
		return def, nil
	case "MAX_CONNECTIONS":
		return int64(32767), nil
	case "NESTLEVEL":
		return int64(0), nil
	}
	return nil, nil
}

// function is a scalar function's value: the Catalog's where it answers, else the evaluator's.
func (b *batch) function(f *tsql.FuncCall, args []any) (any, error) {
	name := strings.ToUpper(f.Name.Object())
	if cat := b.c.srv.cfg.Catalog; cat != nil {
		if v, ok, err := cat.Function(b.req, name, args); ok || err != nil {
			if _, isText := v.(string); name == "SERVERPROPERTY" && v != nil && !isText {
				// sql_variant, sent as nvarchar (funcColumn): its value as text.
				v = tsql.Text(v)
			}
			return v, err
		}
	}
	sess := b.req.Session
	str := func(i int) (string, bool) {
		if i >= len(args) || args[i] == nil {
			return "", false
		}
		return tsql.Text(args[i]), true
	}
	num := func(i int) (int64, bool) {
		if i >= len(args) || args[i] == nil {
			return 0, false
		}
		n, err := tsql.Convert(args[i], &tsql.DataType{Name: "bigint"})
		if err != nil {
			return 0, false
		}
		x, _ := n.(int64)
		return x, true
	}
	runes := func(s string) []rune { return []rune(s) }
	switch name {
	case "GETDATE", "CURRENT_TIMESTAMP", "GETUTCDATE", "SYSDATETIME", "SYSUTCDATETIME", "SYSDATETIMEOFFSET":
		return b.c.srv.cfg.Now().UTC(), nil
	case "DB_NAME":
		if len(args) == 0 {
			return sess.CurrentDatabase(), nil
		}
		id, _ := num(0)
		if id >= 1 && id <= 4 {
			return []string{"master", "tempdb", "model", "msdb"}[id-1], nil
		}
		return nil, nil
	case "DB_ID":
		db := sess.CurrentDatabase()
		if s, ok := str(0); ok {
			db = s
		}
		for i, n := range []string{"master", "tempdb", "model", "msdb"} {
			if strings.EqualFold(n, db) {
				return int64(i + 1), nil
			}
		}
		if strings.EqualFold(db, sess.CurrentDatabase()) {
			return int64(5), nil
		}
		return nil, nil
	case "SUSER_SNAME", "SUSER_NAME", "ORIGINAL_LOGIN", "SYSTEM_USER", "SESSION_USER", "USER_NAME", "CURRENT_USER", "USER":
		return sess.User, nil
	case "HOST_NAME":
		return sess.HostName, nil
	case "APP_NAME":
		return sess.AppName, nil
	case "SERVERPROPERTY":
		p, _ := str(0)
		switch strings.ToUpper(p) {
		case "SERVERNAME", "MACHINENAME":
			return b.c.srv.cfg.ServerName, nil
		case "PRODUCTVERSION":
			v := b.c.srv.cfg.Version
			return fmt.Sprintf("%d.%d.%d.0", v[0], v[1], int(v[2])<<8|int(v[3])), nil
		}
		return nil, nil // "NULL = Input is not valid" (serverproperty-transact-sql.md)
	case "ISNULL":
		if len(args) == 2 {
			if args[0] != nil {
				return args[0], nil
			}
			return args[1], nil
		}
	case "COALESCE":
		for _, a := range args {
			if a != nil {
				return a, nil
			}
		}
		return nil, nil
	case "NULLIF":
		if len(args) == 2 {
			if args[0] != nil && args[1] != nil {
				if c, err := tsql.Compare(args[0], args[1]); err == nil && c == 0 {
					return nil, nil
				}
			}
			return args[0], nil
		}
	case "UPPER", "LOWER", "LTRIM", "RTRIM", "TRIM", "LEN":
		s, ok := str(0)
		if !ok {
			return nil, nil
		}
		switch name {
		case "UPPER":
			return strings.ToUpper(s), nil
		case "LOWER":
			return strings.ToLower(s), nil
		case "LTRIM":
			return strings.TrimLeft(s, " "), nil
		case "RTRIM":
			return strings.TrimRight(s, " "), nil
		case "TRIM":
			return strings.Trim(s, " "), nil
		}
		return int64(len(runes(strings.TrimRight(s, " ")))), nil // LEN leaves out trailing spaces
	case "LEFT", "RIGHT":
		s, ok := str(0)
		n, ok2 := num(1)
		if !ok || !ok2 {
			return nil, nil
		}
		r := runes(s)
		n = min(max(n, 0), int64(len(r)))
		if name == "LEFT" {
			return string(r[:n]), nil
		}
		return string(r[int64(len(r))-n:]), nil
	case "SUBSTRING":
		s, ok := str(0)
		start, ok2 := num(1)
		n, ok3 := num(2)
		if !ok || !ok2 || !ok3 {
			return nil, nil
		}
		r := runes(s)
		from, to := max(start, 1), min(start+n, int64(len(r))+1)
		if to <= from {
			return "", nil
		}
		return string(r[from-1 : to-1]), nil
	case "REPLACE":
		s, ok := str(0)
		old, ok2 := str(1)
		repl, ok3 := str(2)
		if !ok || !ok2 || !ok3 {
			return nil, nil
		}
		return replaceFold(s, old, repl), nil
	case "CHARINDEX":
		sub, ok := str(0)
		s, ok2 := str(1)
		if !ok || !ok2 {
			return nil, nil
		}
		i := strings.Index(strings.ToLower(s), strings.ToLower(sub))
		if i < 0 {
			return int64(0), nil
		}
		return int64(len(runes(s[:i])) + 1), nil
	case "CONCAT":
		var sb strings.Builder
		for _, a := range args {
			sb.WriteString(tsql.Text(a))
		}
		return sb.String(), nil
	case "ABS":
		switch x := firstArg(args).(type) {
		case int64:
			if x < 0 {
				return -x, nil
			}
			return x, nil
		case float64:
			return math.Abs(x), nil
		case nil:
			return nil, nil
		}
	case "DATEADD", "DATEDIFF", "DATEPART", "YEAR", "MONTH", "DAY":
		return dateFunction(name, args)
	}
	return nil, unsupported("the function %s", f.Name)
}

func firstArg(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

// replaceFold is REPLACE under a case-insensitive collation: every occurrence, matched without
// regard to case.
func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	var out strings.Builder
	ls, lo := strings.ToLower(s), strings.ToLower(old)
	for {
		i := strings.Index(ls, lo)
		if i < 0 || len(ls) != len(s) {
			out.WriteString(s)
			return out.String()
		}
		out.WriteString(s[:i])
		out.WriteString(repl)
		s, ls = s[i+len(old):], ls[i+len(lo):]
	}
}

// dateParts are the dateparts the evaluator reads, by the names and abbreviations the pages give
// (sql-docs docs/t-sql/functions/dateadd-transact-sql.md).
var dateParts = map[string]string{"year": "year", "yy": "year", "yyyy": "year", "month": "month", "mm": "month", "m": "month",
	"day": "day", "dd": "day", "d": "day", "hour": "hour", "hh": "hour", "minute": "minute", "mi": "minute", "n": "minute",
	"second": "second", "ss": "second", "s": "second", "millisecond": "millisecond", "ms": "millisecond",
	"week": "week", "wk": "week", "ww": "week", "dayofyear": "dayofyear", "dy": "dayofyear", "y": "dayofyear",
	"weekday": "weekday", "dw": "weekday", "w": "weekday", "quarter": "quarter", "qq": "quarter", "q": "quarter"}

// dateFunction answers DATEADD, DATEDIFF (boundaries crossed, as SQL Server counts them),
// DATEPART, YEAR, MONTH and DAY.
func dateFunction(name string, args []any) (any, error) {
	part := "day"
	if name == "DATEADD" || name == "DATEDIFF" || name == "DATEPART" {
		if len(args) == 0 {
			return nil, unsupported("%s without a datepart", name)
		}
		p, _ := args[0].(tsql.DatePartName)
		part = dateParts[string(p)]
		args = args[1:]
	}
	times := make([]time.Time, 0, 2)
	for i, a := range args {
		if a == nil {
			return nil, nil
		}
		if name == "DATEADD" && i == 0 {
			continue
		}
		v, err := tsql.Convert(a, &tsql.DataType{Name: "datetime"})
		if err != nil {
			return nil, valueError(err)
		}
		times = append(times, v.(time.Time))
	}
	switch name {
	case "YEAR", "MONTH", "DAY":
		if len(times) != 1 {
			break
		}
		return datePart(map[string]string{"YEAR": "year", "MONTH": "month", "DAY": "day"}[name], times[0]), nil
	case "DATEPART":
		if len(times) == 1 && part != "" {
			return datePart(part, times[0]), nil
		}
	case "DATEADD":
		if len(args) != 2 || len(times) != 1 {
			break
		}
		nv, err := tsql.Convert(args[0], &tsql.DataType{Name: "bigint"})
		if err != nil {
			return nil, valueError(err)
		}
		n, t := nv.(int64), times[0]
		switch part {
		case "year":
			return t.AddDate(int(n), 0, 0), nil
		case "quarter":
			return t.AddDate(0, 3*int(n), 0), nil
		case "month":
			return t.AddDate(0, int(n), 0), nil
		case "day", "dayofyear", "weekday":
			return t.AddDate(0, 0, int(n)), nil
		case "week":
			return t.AddDate(0, 0, 7*int(n)), nil
		case "hour":
			return t.Add(time.Duration(n) * time.Hour), nil
		case "minute":
			return t.Add(time.Duration(n) * time.Minute), nil
		case "second":
			return t.Add(time.Duration(n) * time.Second), nil
		case "millisecond":
			return t.Add(time.Duration(n) * time.Millisecond), nil
		}
	case "DATEDIFF":
		if len(times) != 2 {
			break
		}
		a, z := times[0], times[1]
		var n int64
		switch part {
		case "year":
			n = int64(z.Year() - a.Year())
		case "quarter":
			n = int64((z.Year()-a.Year())*4 + (int(z.Month())-1)/3 - (int(a.Month())-1)/3)
		case "month":
			n = int64((z.Year()-a.Year())*12 + int(z.Month()) - int(a.Month()))
		case "day", "dayofyear":
			n = days(z) - days(a)
		case "week":
			n = (days(z)-int64(z.Weekday()))/7 - (days(a)-int64(a.Weekday()))/7
		case "hour":
			n = z.Truncate(time.Hour).Unix()/3600 - a.Truncate(time.Hour).Unix()/3600
		case "minute":
			n = z.Unix()/60 - a.Unix()/60
		case "second":
			n = z.Unix() - a.Unix()
		case "millisecond":
			n = z.UnixMilli() - a.UnixMilli()
		default:
			return nil, unsupported("DATEDIFF of %s", part)
		}
		if n > math.MaxInt32 || n < math.MinInt32 {
			return nil, &Error{Number: 535, State: 0, Class: 16, Message: "The datediff function resulted in an overflow. The number of dateparts separating two date/time instances is too large. Try to use datediff with a less precise datepart."}
		}
		return n, nil
	}
	return nil, unsupported("%s with these arguments", name)
}

func days(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func datePart(part string, t time.Time) any {
	switch part {
	case "year":
		return int64(t.Year())
	case "quarter":
		return int64((int(t.Month())-1)/3 + 1)
	case "month":
		return int64(t.Month())
	case "day":
		return int64(t.Day())
	case "dayofyear":
		return int64(t.YearDay())
	case "weekday":
		return int64(t.Weekday()) + 1 // DATEFIRST 7: Sunday is 1
	case "hour":
		return int64(t.Hour())
	case "minute":
		return int64(t.Minute())
	case "second":
		return int64(t.Second())
	case "millisecond":
		return int64(t.Nanosecond() / 1e6)
	}
	return nil
}

// accumulator is one aggregate of one group.
type accumulator struct {
	f        *tsql.FuncCall
	name     string
	n        int64
	sum      any
	best     any
	distinct map[string]bool
}

func newAccumulators(fs []*tsql.FuncCall) []*accumulator {
	out := make([]*accumulator, len(fs))
	for i, f := range fs {
		out[i] = &accumulator{f: f, name: strings.ToUpper(f.Name.Object())}
		if f.Distinct {
			out[i].distinct = map[string]bool{}
		}
	}
	return out
}

// add takes one row into the aggregate.
func (a *accumulator) add(e *evalEnv) error {
	if a.f.Star {
		a.n++
		return nil
	}
	if len(a.f.Args) != 1 {
		return unsupported("%s with %d arguments", a.name, len(a.f.Args))
	}
	v, err := tsql.Eval(a.f.Args[0], e)
	if err != nil {
		return valueError(err)
	}
	if v == nil {
		return nil // aggregates leave NULL out
	}
	if a.distinct != nil {
		k := rowKey([]any{v})
		if a.distinct[k] {
			return nil
		}
		a.distinct[k] = true
	}
	a.n++
	switch a.name {
	case "SUM", "AVG":
		switch x := v.(type) {
		case int64:
			switch s := a.sum.(type) {
			case nil:
				a.sum = x
			case int64:
				if (x > 0 && s > math.MaxInt64-x) || (x < 0 && s < math.MinInt64-x) {
					return &Error{Number: 8115, State: 2, Class: 16, Message: "Arithmetic overflow error converting expression to data type bigint."}
				}
				a.sum = s + x
			case float64:
				a.sum = s + float64(x)
			}
		case float64:
			switch s := a.sum.(type) {
			case nil:
				a.sum = x
			case int64:
				a.sum = float64(s) + x
			case float64:
				a.sum = s + x
			}
		case bool:
			return &Error{Number: 8117, State: 1, Class: 16, Message: fmt.Sprintf("Operand data type bit is invalid for %s operator.", strings.ToLower(a.name))}
		default:
			return &Error{Number: 8117, State: 1, Class: 16, Message: fmt.Sprintf("Operand data type nvarchar is invalid for %s operator.", strings.ToLower(a.name))}
		}
	case "MIN", "MAX":
		if a.best == nil {
			a.best = v
			return nil
		}
		c, err := tsql.Compare(v, a.best)
		if err != nil {
			return valueError(err)
		}
		if (a.name == "MIN" && c < 0) || (a.name == "MAX" && c > 0) {
			a.best = v
		}
	}
	return nil
}

// value is the aggregate's result: COUNT over no rows is 0, the others NULL.
func (a *accumulator) value() (any, error) {
	switch a.name {
	case "COUNT":
		if a.n > math.MaxInt32 {
			return nil, &Error{Number: 8115, State: 2, Class: 16, Message: "Arithmetic overflow error converting expression to data type int."}
		}
		return a.n, nil
	case "COUNT_BIG":
		return a.n, nil
	case "SUM":
		return a.sum, nil
	case "AVG":
		switch s := a.sum.(type) {
		case int64:
			return s / a.n, nil // the average of integers is an integer
		case float64:
			return s / float64(a.n), nil
		}
		return nil, nil
	}
	return a.best, nil
}

// group is one group of a grouped query: its first row (for the grouped columns) and aggregates.
type group struct {
	first Row
	accs  []*accumulator
}

// groupRows groups the rows scan yields by the GROUP BY expressions (one group for a query with
// aggregates and no GROUP BY, even without rows) and makes an output row of each.
func (q *query) groupRows(scan func(func(Row) error) error, single bool) ([]Row, error) {
	groups := map[string]*group{}
	var order []*group
	err := scan(func(row Row) error {
		e := q.env(row, nil)
		keys := make([]any, len(q.sel.GroupBy))
		for i, g := range q.sel.GroupBy {
			v, err := tsql.Eval(g, e)
			if err != nil {
				return valueError(err)
			}
			keys[i] = v
		}
		k := rowKey(keys)
		g := groups[k]
		if g == nil {
			g = &group{first: slices.Clone(row), accs: newAccumulators(q.aggs)}
			groups[k] = g
			order = append(order, g)
		}
		for _, a := range g.accs {
			if err := a.add(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if single && len(order) == 0 {
		order = []*group{{accs: newAccumulators(q.aggs)}}
	}
	out := make([]sorted, 0, len(order))
	for _, g := range order {
		aggs := make(map[*tsql.FuncCall]any, len(g.accs))
		for _, a := range g.accs {
			v, err := a.value()
			if err != nil {
				return nil, err
			}
			aggs[a.f] = v
		}
		o := make(Row, len(q.items))
		if err := q.projectInto(o, q.env(g.first, aggs)); err != nil {
			return nil, err
		}
		keys, err := q.orderKeys(o, q.env(g.first, aggs))
		if err != nil {
			return nil, err
		}
		out = append(out, sorted{row: o, keys: keys})
	}
	return q.finish(out), nil
}

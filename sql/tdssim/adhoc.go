package tdssim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"

	"cutover/sql/tsql"
)

// The ad hoc evaluator answers read-only SELECTs over the tables and views a Catalog holds, as
// SQL Server would: a select list of columns, expressions, aliases or * (a table's columns in
// their order), TOP (n) [PERCENT], WHERE with comparisons, IN, BETWEEN, LIKE, IS [NOT] NULL,
// AND/OR/NOT and SQL's three-valued logic, table hints such as WITH (NOLOCK) (accepted, they
// change nothing a read-only simulation shows), GROUP BY with the aggregates COUNT(*), COUNT(x),
// COUNT_BIG, SUM, MIN, MAX and AVG, DISTINCT, ORDER BY names, aliases, ordinals and expressions,
// ASC or DESC; and SELECTs without FROM (SELECT @@TRANCOUNT, DB_NAME(), GETDATE()). Its errors are
// SQL Server's: 207 invalid column, 4104 and 107 for qualifiers that name no table, 263 for * with
// no table, 8118 and 8120 for columns neither grouped nor aggregated, 108 for an ORDER BY ordinal
// out of range, 8134 divide by zero, 245/241/8115/206 for conversions. Joins, subqueries, CTEs,
// set operations, HAVING and window functions are not evaluated: the handler answers them (the
// simulator's refusal, or its no-answer error).

// Catalog is what the ad hoc evaluator reads: the tables and views a session can name, and the
// values of the server's functions where they differ from the evaluator's own.
type Catalog interface {
	// Table finds the table or view a SELECT names, as the request's session sees it (its
	// current database, its login): SQL Server's error when there is none (InvalidObjectError,
	// 40515 on Azure SQL Database for a name with a database part), or a NoAnswerError for an
	// object that exists but whose rows the simulation does not hold.
	Table(req *Request, name *tsql.ObjectName) (Source, error)
	// Function is a built-in function's value (name in capitals: "GETDATE", "SERVERPROPERTY",
	// "@@VERSION" for a configuration function) as this server answers it; ok false leaves it to
	// the evaluator (builtinFunction).
	Function(req *Request, name string, args []any) (v any, ok bool, err error)
}

// Source is a table or view the evaluator reads.
type Source interface {
	// Columns are its columns in their documented order (SELECT * returns them so), with the
	// types the documents give.
	Columns() []Column
	// Rows streams its rows, values by position of Columns: nil, int64 (or any Go integer),
	// float64, bool, string, time.Time or []byte. A Row may be reused after yield returns.
	Rows(ctx context.Context) iter.Seq2[Row, error]
}

// PartialSource is a Source that holds only some of its object's columns: naming one it omits is
// the simulator's no-answer error, not 207 (the object has the column; the simulation does not
// hold its values). * expands to the columns it holds.
type PartialSource interface {
	Source
	Omits(column string) bool
}

// CountedSource is a Source that knows its row count without reading its rows, so that
// COUNT(*) without WHERE does not read them.
type CountedSource interface {
	Source
	Count() (int64, error)
}

// errNotEvaluable says a SELECT uses what the evaluator does not read; the handler answers it.
var errNotEvaluable = errors.New("tdssim: the ad hoc evaluator does not read this statement")

// maxSortRows bounds the rows the evaluator holds to sort, group or make distinct.
const maxSortRows = 1_000_000

// unsupported is the simulator's own error for something it cannot answer, marked for -v.
func unsupported(format string, args ...any) *Error {
	e := NoAnswerError(fmt.Sprintf(format, args...))
	e.Unsupported = true
	return e
}

// valueError is the SQL Server error for an evaluation error.
func valueError(err error) error {
	var ve *tsql.ValueError
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return &Error{Number: ve.Number, State: 1, Class: 16, Message: ve.Message}
	case errors.As(err, &e):
		return e
	case errors.Is(err, tsql.ErrUnsupported):
		return unsupported("%v", err)
	}
	return unsupported("%v", err)
}

// query is one SELECT being evaluated.
type query struct {
	b       *batch
	req     *Request
	sel     *tsql.Select
	table   Source
	name    *tsql.ObjectName // the table as the query names it
	alias   string
	cols    []Column
	index   map[string]int // lower-case column name → position
	items   []outItem
	aggs    []*tsql.FuncCall // the aggregates of the select list and ORDER BY
	grouped bool
}

// outItem is one output column: a source column (src ≥ 0, for * and bare columns) or an
// expression.
type outItem struct {
	col  Column
	expr tsql.Expr
	src  int
}

// evalSelect answers a SELECT with the evaluator, or errNotEvaluable.
func (b *batch) evalSelect(req *Request, st *tsql.SelectStatement) (*Result, error) {
	sel, ok := st.Query.(*tsql.Select)
	if !ok || len(st.With) > 0 || sel.Having != nil || (sel.Top != nil && sel.Top.WithTies) {
		return nil, errNotEvaluable
	}
	q := &query{b: b, req: req, sel: sel}
	for _, it := range sel.Items {
		if it.Assign != "" || !evaluable(it.Expr) {
			return nil, errNotEvaluable
		}
	}
	for _, e := range append(append([]tsql.Expr{sel.Where}, sel.GroupBy...), orderExprs(sel.OrderBy)...) {
		if e != nil && !evaluable(e) {
			return nil, errNotEvaluable
		}
	}
	switch len(sel.From) {
	case 0:
	case 1:
		ref, ok := sel.From[0].(*tsql.TableRef)
		cat := b.c.srv.cfg.Catalog
		if !ok || cat == nil {
			return nil, errNotEvaluable
		}
		for _, h := range ref.Hints {
			if !tableHints[h] {
				return nil, &Error{Number: 321, State: 1, Class: 15, Message: fmt.Sprintf("%s is not a recognized table hints option. If it is intended as a parameter to a table-valued function or to the CHANGETABLE function, ensure that your database compatibility mode is set to 90.", h)}
			}
		}
		t, err := cat.Table(req, ref.Name)
		if err != nil {
			return nil, err
		}
		q.table, q.name, q.alias, q.cols = t, ref.Name, ref.Alias, t.Columns()
		q.index = make(map[string]int, len(q.cols))
		for i, c := range q.cols {
			q.index[strings.ToLower(c.Name)] = i
		}
	default:
		return nil, errNotEvaluable
	}
	if err := q.plan(); err != nil {
		return nil, err
	}
	return q.run()
}

// tableHints are the table hints of sql-docs docs/t-sql/queries/hints-transact-sql-table.md.
var tableHints = map[string]bool{"NOLOCK": true, "READUNCOMMITTED": true, "READCOMMITTED": true, "READCOMMITTEDLOCK": true,
	"READPAST": true, "REPEATABLEREAD": true, "SERIALIZABLE": true, "HOLDLOCK": true, "NOWAIT": true, "PAGLOCK": true,
	"ROWLOCK": true, "TABLOCK": true, "TABLOCKX": true, "UPDLOCK": true, "XLOCK": true, "NOEXPAND": true,
	"FORCESEEK": true, "FORCESCAN": true, "KEEPIDENTITY": true, "KEEPDEFAULTS": true, "IGNORE_CONSTRAINTS": true,
	"IGNORE_TRIGGERS": true, "SNAPSHOT": true}

func orderExprs(items []*tsql.OrderItem) []tsql.Expr {
	out := make([]tsql.Expr, len(items))
	for i, o := range items {
		out[i] = o.Expr
	}
	return out
}

// evaluable reports an expression the evaluator reads: no subquery, EXISTS, window, DATEPART
// keyword it does not know, or comparison used as a value, anywhere in it.
func evaluable(e tsql.Expr) bool {
	ok := true
	walk(e, func(x tsql.Expr) bool {
		ok = ok && evaluableNode(x)
		return ok
	})
	return ok
}

// evaluableNode is evaluable for one expression, its children aside (walk visits them).
func evaluableNode(e tsql.Expr) bool {
	switch e := e.(type) {
	case *tsql.Literal, *tsql.ColumnRef, *tsql.VariableRef, *tsql.Star, *tsql.Paren, *tsql.Unary, *tsql.Binary,
		*tsql.Case, *tsql.Between, *tsql.IsNull:
		return true
	case *tsql.FuncCall:
		return e.Over == nil && len(e.Name.Parts) <= 1
	case *tsql.DatePart:
		return dateParts[e.Name] != ""
	case *tsql.Cast:
		return e.Style == nil
	case *tsql.In:
		return e.Query == nil
	case *tsql.Like:
		return e.Escape == nil
	}
	return false
}

// exposed is the name the FROM clause gives the table: its alias, else its name as written.
func (q *query) exposed() string {
	if q.alias != "" {
		return q.alias
	}
	return q.name.String()
}

// bind finds the source column a reference names: 207 for a column the table does not have (or
// any column without FROM), 4104 for a qualifier that is not the table's name or alias.
func (q *query) bind(ref *tsql.ColumnRef) (int, error) {
	if q.table == nil {
		return 0, InvalidColumnError(ref.Column())
	}
	if len(ref.Parts) > 1 && !q.qualifies(ref.Parts[:len(ref.Parts)-1]) {
		return 0, UnboundIdentifierError(ref.String())
	}
	i, ok := q.index[strings.ToLower(ref.Column())]
	if !ok {
		if p, ok := q.table.(PartialSource); ok && p.Omits(ref.Column()) {
			return 0, unsupported("the column %s of %s, which the simulation does not hold", ref.Column(), q.name)
		}
		return 0, InvalidColumnError(ref.Column())
	}
	return i, nil
}

// qualifies reports whether a qualifier names the table: its alias when it has one, else the
// trailing parts of its name (T, dbo.T, db.dbo.T).
func (q *query) qualifies(parts []tsql.Ident) bool {
	if q.alias != "" {
		return len(parts) == 1 && strings.EqualFold(parts[0].Name, q.alias)
	}
	n := q.name.Parts
	if len(parts) > len(n) {
		return false
	}
	for i := range parts {
		if !strings.EqualFold(parts[len(parts)-1-i].Name, n[len(n)-1-i].Name) {
			return false
		}
	}
	return true
}

// isAggregate reports an aggregate function call.
func isAggregate(f *tsql.FuncCall) bool {
	if f.Over != nil || len(f.Name.Parts) != 1 {
		return false
	}
	switch strings.ToUpper(f.Name.Object()) {
	case "COUNT", "COUNT_BIG", "SUM", "MIN", "MAX", "AVG":
		return true
	}
	return false
}

// walk calls fn for e and every expression in it; fn returns false to skip an expression's
// children.
func walk(e tsql.Expr, fn func(tsql.Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch e := e.(type) {
	case *tsql.Paren:
		walk(e.X, fn)
	case *tsql.Unary:
		walk(e.X, fn)
	case *tsql.Binary:
		walk(e.Left, fn)
		walk(e.Right, fn)
	case *tsql.FuncCall:
		for _, a := range e.Args {
			walk(a, fn)
		}
	case *tsql.Case:
		walk(e.Operand, fn)
		for _, w := range e.Whens {
			walk(w.Cond, fn)
			walk(w.Result, fn)
		}
		walk(e.Else, fn)
	case *tsql.Cast:
		walk(e.X, fn)
	case *tsql.In:
		walk(e.X, fn)
		for _, x := range e.List {
			walk(x, fn)
		}
	case *tsql.Between:
		walk(e.X, fn)
		walk(e.Lo, fn)
		walk(e.Hi, fn)
	case *tsql.Like:
		walk(e.X, fn)
		walk(e.Pattern, fn)
	case *tsql.IsNull:
		walk(e.X, fn)
	}
}

// plan binds the statement: its output columns and their types, its aggregates, and the errors
// SQL Server finds when it compiles the statement.
func (q *query) plan() error {
	var err error
	check := func(e tsql.Expr, where string) {
		walk(e, func(x tsql.Expr) bool {
			if err != nil {
				return false
			}
			switch x := x.(type) {
			case *tsql.ColumnRef:
				_, err = q.bind(x)
			case *tsql.FuncCall:
				if isAggregate(x) {
					if where == "WHERE" || where == "GROUP BY" {
						err = &Error{Number: 147, State: 1, Class: 15, Message: "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference."}
						if where == "GROUP BY" {
							err = &Error{Number: 144, State: 1, Class: 15, Message: "Cannot use an aggregate or a subquery in an expression used for the group by list of a GROUP BY clause."}
						}
						return false
					}
					for _, a := range x.Args {
						walk(a, func(y tsql.Expr) bool {
							if f, ok := y.(*tsql.FuncCall); ok && isAggregate(f) && err == nil {
								err = &Error{Number: 130, State: 1, Class: 16, Message: "Cannot perform an aggregate function on an expression containing an aggregate or a subquery."}
							}
							return err == nil
						})
					}
					if !slices.Contains(q.aggs, x) {
						q.aggs = append(q.aggs, x)
					}
				}
			}
			return err == nil
		})
	}
	for _, it := range q.sel.Items {
		if s, ok := it.Expr.(*tsql.Star); ok {
			if q.table == nil {
				return &Error{Number: 263, State: 1, Class: 16, Message: "Must specify table to select from."}
			}
			if len(s.Qualifier) > 0 && !q.qualifies(s.Qualifier) {
				return &Error{Number: 107, State: 1, Class: 15, Message: fmt.Sprintf("The column prefix '%s' does not match with a table name or alias name used in the query.", identsString(s.Qualifier))}
			}
			for i, c := range q.cols {
				q.items = append(q.items, outItem{col: c, src: i})
			}
			continue
		}
		check(it.Expr, "SELECT")
		if err != nil {
			return err
		}
		col, err := q.typeOf(it.Expr)
		if err != nil {
			return err
		}
		col.Name = it.Name()
		item := outItem{col: col, expr: it.Expr, src: -1}
		if ref, ok := it.Expr.(*tsql.ColumnRef); ok {
			item.src, _ = q.bind(ref)
		}
		q.items = append(q.items, item)
	}
	check(q.sel.Where, "WHERE")
	for _, g := range q.sel.GroupBy {
		check(g, "GROUP BY")
	}
	for _, o := range q.sel.OrderBy {
		if q.outputRef(o.Expr) < 0 && !isOrdinal(o.Expr) { // an alias or ordinal names an output column
			check(o.Expr, "ORDER BY")
		}
	}
	if err != nil {
		return err
	}
	q.grouped = len(q.sel.GroupBy) > 0 || len(q.aggs) > 0
	if q.grouped {
		return q.checkGrouping()
	}
	return nil
}

func identsString(parts []tsql.Ident) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = p.Name
	}
	return strings.Join(s, ".")
}

// outputRef is the output column an ORDER BY item names by ordinal or alias, -1 when none.
func (q *query) outputRef(e tsql.Expr) int {
	switch e := e.(type) {
	case *tsql.Literal:
		if e.Kind == tsql.NumberLit {
			var n int
			if _, err := fmt.Sscan(e.Value, &n); err == nil && fmt.Sprint(n) == e.Value {
				return n - 1 // checked against the select list in order
			}
		}
	case *tsql.ColumnRef:
		if len(e.Parts) == 1 {
			for i, it := range q.sel.Items {
				if it.Alias != "" && strings.EqualFold(it.Alias, e.Column()) {
					return q.itemIndex(i)
				}
			}
		}
	}
	return -1
}

// itemIndex is the output position of select item i (stars expand).
func (q *query) itemIndex(i int) int {
	n := 0
	for _, it := range q.sel.Items[:i] {
		if _, ok := it.Expr.(*tsql.Star); ok {
			n += len(q.cols)
		} else {
			n++
		}
	}
	return n
}

// checkGrouping finds the columns a grouped query uses outside its aggregates that it does not
// group by: 8120 with GROUP BY, 8118 without (8127/8126 in ORDER BY).
func (q *query) checkGrouping() error {
	grouped := map[int]bool{}
	for _, g := range q.sel.GroupBy {
		if ref, ok := g.(*tsql.ColumnRef); ok {
			if i, err := q.bind(ref); err == nil {
				grouped[i] = true
			}
		}
	}
	var bad *tsql.ColumnRef
	find := func(e tsql.Expr) {
		for _, g := range q.sel.GroupBy {
			if sameExpr(g, e) {
				return // the whole expression is grouped by
			}
		}
		walk(e, func(x tsql.Expr) bool {
			switch x := x.(type) {
			case *tsql.FuncCall:
				return !isAggregate(x)
			case *tsql.ColumnRef:
				if i, err := q.bind(x); err == nil && !grouped[i] && bad == nil {
					bad = x
				}
			}
			return bad == nil
		})
	}
	colName := func(ref *tsql.ColumnRef) string {
		i, _ := q.bind(ref)
		return q.exposed() + "." + q.cols[i].Name
	}
	for _, it := range q.items {
		if it.expr == nil {
			if !grouped[it.src] {
				bad = &tsql.ColumnRef{Parts: []tsql.Ident{{Name: q.cols[it.src].Name}}}
			}
		} else {
			find(it.expr)
		}
		if bad != nil {
			if len(q.sel.GroupBy) > 0 {
				return &Error{Number: 8120, State: 1, Class: 16, Message: fmt.Sprintf("Column '%s' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.", colName(bad))}
			}
			return &Error{Number: 8118, State: 1, Class: 16, Message: fmt.Sprintf("Column '%s' is invalid in the select list because it is not contained in an aggregate function and there is no GROUP BY clause.", colName(bad))}
		}
	}
	for _, o := range q.sel.OrderBy {
		if q.outputRef(o.Expr) >= 0 {
			continue
		}
		if find(o.Expr); bad != nil {
			if len(q.sel.GroupBy) > 0 {
				return &Error{Number: 8127, State: 1, Class: 16, Message: fmt.Sprintf(`Column "%s" is invalid in the ORDER BY clause because it is not contained in either an aggregate function or the GROUP BY clause.`, colName(bad))}
			}
			return &Error{Number: 8126, State: 1, Class: 16, Message: fmt.Sprintf(`Column "%s" is invalid in the ORDER BY clause because it is not contained in an aggregate function and there is no GROUP BY clause.`, colName(bad))}
		}
	}
	return nil
}

// sameExpr reports two expressions written alike (names compared case-insensitively).
func sameExpr(a, b tsql.Expr) bool {
	return strings.EqualFold(exprKey(a), exprKey(b))
}

func exprKey(e tsql.Expr) string {
	switch e := e.(type) {
	case *tsql.ColumnRef:
		return e.Column()
	case *tsql.Paren:
		return exprKey(e.X)
	case *tsql.FuncCall:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = exprKey(a)
		}
		return e.Name.String() + "(" + strings.Join(args, ",") + ")"
	case *tsql.Literal:
		return e.Value
	case *tsql.Binary:
		return "(" + exprKey(e.Left) + e.Op + exprKey(e.Right) + ")"
	}
	return fmt.Sprintf("%p", e)
}

// run evaluates the planned query.
func (q *query) run() (*Result, error) {
	cols := make([]Column, len(q.items))
	for i, it := range q.items {
		cols[i] = it.col
	}
	limit, percent, err := q.limit()
	if err != nil {
		return nil, err
	}
	if q.table == nil {
		if q.grouped {
			// Without FROM a select list reads one row: SELECT COUNT(*) is 1.
			rows, err := q.groupRows(func(each func(Row) error) error { return each(nil) }, true)
			if err != nil {
				return nil, err
			}
			return Rows(cols, rows[:min(len(rows), int(max(limit, 0)))]...), nil
		}
		row, err := q.project(nil, nil)
		if err != nil {
			return nil, err
		}
		if limit == 0 || percent && limit == 0 {
			return Rows(cols), nil
		}
		return Rows(cols, row), nil
	}
	if n, ok, err := q.fastCount(); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return Rows(cols, n), nil
	}
	if !q.grouped && len(q.sel.OrderBy) == 0 && !q.sel.Distinct && !percent {
		return Stream(cols, q.stream(limit)), nil
	}
	rows, err := q.materialize()
	if err != nil {
		return nil, err
	}
	if percent {
		limit = int64(math.Ceil(float64(len(rows)) * float64(limit) / 100))
	}
	if limit >= 0 && int64(len(rows)) > limit {
		rows = rows[:limit]
	}
	return Rows(cols, rows...), nil
}

// limit is the row limit of TOP and SET ROWCOUNT (-1: none) and whether TOP is a percentage.
func (q *query) limit() (int64, bool, error) {
	limit := int64(-1)
	percent := false
	if t := q.sel.Top; t != nil {
		v, err := q.b.scalar(t.Count)
		if err != nil {
			return 0, false, err
		}
		n, err := tsql.Convert(v, &tsql.DataType{Name: "bigint"})
		if err != nil {
			return 0, false, &Error{Number: 1060, State: 1, Class: 15, Message: "The number of rows in the TOP clause must be an integer."}
		}
		limit, _ = n.(int64)
		if limit < 0 {
			return 0, false, &Error{Number: 127, State: 1, Class: 15, Message: "A TOP N value may not be negative."}
		}
		percent = t.Percent
		if percent && limit > 100 {
			return 0, false, &Error{Number: 1031, State: 1, Class: 15, Message: "Percent values must be between 0 and 100."}
		}
	}
	if rc, ok := q.req.Session.Option("ROWCOUNT"); ok && !percent {
		var n int64
		if _, err := fmt.Sscan(rc, &n); err == nil && n > 0 && (limit < 0 || n < limit) {
			limit = n
		}
	}
	return limit, percent, nil
}

// fastCount answers SELECT COUNT(*) (or COUNT_BIG(*), COUNT(1)) without WHERE or GROUP BY from
// the table's own count, without reading its rows.
func (q *query) fastCount() (Row, bool, error) {
	ct, ok := q.table.(CountedSource)
	if !ok || q.sel.Where != nil || len(q.sel.GroupBy) > 0 || q.sel.Distinct || len(q.aggs) == 0 {
		return nil, false, nil
	}
	for _, it := range q.items {
		f, ok := it.expr.(*tsql.FuncCall)
		if !ok || !countsRows(f) {
			return nil, false, nil
		}
	}
	n, err := ct.Count()
	if err != nil {
		return nil, false, err
	}
	row := make(Row, len(q.items))
	for i, it := range q.items {
		if it.col.Type == TypeInt && n > math.MaxInt32 {
			return nil, false, &Error{Number: 8115, State: 2, Class: 16, Message: "Arithmetic overflow error converting expression to data type int."}
		}
		row[i] = n
	}
	return row, true, nil
}

// countsRows reports COUNT(*), COUNT_BIG(*) or a COUNT of a non-NULL constant.
func countsRows(f *tsql.FuncCall) bool {
	name := strings.ToUpper(f.Name.Object())
	if (name != "COUNT" && name != "COUNT_BIG") || f.Distinct {
		return false
	}
	if f.Star {
		return true
	}
	if len(f.Args) == 1 {
		l, ok := f.Args[0].(*tsql.Literal)
		return ok && l.Kind != tsql.NullLit
	}
	return false
}

// stream is the rows of a query that needs no sorting or grouping, read as they come.
func (q *query) stream(limit int64) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		if limit == 0 {
			return
		}
		var n int64
		out := make(Row, len(q.items))
		e := q.env(nil, nil)
		for row, err := range q.table.Rows(q.req.Context()) {
			if err != nil {
				yield(nil, err)
				return
			}
			e.row = row
			keep, err := q.where(e)
			if err != nil {
				yield(nil, err)
				return
			}
			if !keep {
				continue
			}
			if err := q.projectInto(out, e); err != nil {
				yield(nil, err)
				return
			}
			if !yield(out, nil) {
				return
			}
			if n++; limit > 0 && n >= limit {
				return
			}
		}
	}
}

// where evaluates the WHERE clause on the env's row.
func (q *query) where(e *evalEnv) (bool, error) {
	if q.sel.Where == nil {
		return true, nil
	}
	t, err := tsql.Test(q.sel.Where, e)
	if err != nil {
		return false, valueError(err)
	}
	return t == tsql.True, nil
}

// project is one output row from a source row (nil without FROM) and a group's aggregates.
func (q *query) project(row Row, aggs map[*tsql.FuncCall]any) (Row, error) {
	out := make(Row, len(q.items))
	return out, q.projectInto(out, q.env(row, aggs))
}

func (q *query) projectInto(out Row, e *evalEnv) error {
	for i, it := range q.items {
		if it.expr == nil || (it.src >= 0 && e.aggs == nil) {
			if e.row == nil {
				out[i] = nil
			} else {
				out[i] = e.row[it.src]
			}
			continue
		}
		v, err := tsql.Eval(it.expr, e)
		if err != nil {
			return valueError(err)
		}
		out[i] = v
	}
	return nil
}

// sorted is an output row with its ORDER BY keys.
type sorted struct {
	row  Row
	keys []any
}

// materialize reads every row the query keeps, grouped, distinct and sorted as it says.
func (q *query) materialize() ([]Row, error) {
	scan := func(each func(Row) error) error {
		e := q.env(nil, nil)
		n := 0
		for row, err := range q.table.Rows(q.req.Context()) {
			if err != nil {
				return err
			}
			e.row = row
			keep, err := q.where(e)
			if err != nil {
				return err
			}
			if !keep {
				continue
			}
			if n++; n > maxSortRows {
				return unsupported("the simulator sorts and groups at most %d rows", maxSortRows)
			}
			if err := each(row); err != nil {
				return err
			}
		}
		return q.req.Context().Err()
	}
	if q.grouped {
		return q.groupRows(scan, len(q.sel.GroupBy) == 0)
	}
	var out []sorted
	err := scan(func(row Row) error {
		src := slices.Clone(row)
		o, err := q.project(src, nil)
		if err != nil {
			return err
		}
		keys, err := q.orderKeys(o, q.env(src, nil))
		if err != nil {
			return err
		}
		out = append(out, sorted{row: o, keys: keys})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return q.finish(out), nil
}

// finish makes rows distinct and sorts them.
func (q *query) finish(rows []sorted) []Row {
	if q.sel.Distinct {
		seen := map[string]bool{}
		kept := rows[:0]
		for _, r := range rows {
			k := rowKey(r.row)
			if !seen[k] {
				seen[k] = true
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	if len(q.sel.OrderBy) > 0 {
		slices.SortStableFunc(rows, func(a, b sorted) int {
			for i, o := range q.sel.OrderBy {
				c := compareNullsFirst(a.keys[i], b.keys[i])
				if o.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = r.row
	}
	return out
}

// compareNullsFirst orders values as ORDER BY does: NULL lowest.
func compareNullsFirst(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	c, err := tsql.Compare(norm(a), norm(b))
	if err != nil {
		return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
	}
	return c
}

// rowKey is a row's identity for DISTINCT and GROUP BY: strings compared as the default
// collation does (case-insensitively, trailing spaces ignored).
func rowKey(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		switch x := norm(v).(type) {
		case string:
			fmt.Fprintf(&b, "s%q|", strings.ToLower(strings.TrimRight(x, " ")))
		case nil:
			b.WriteString("n|")
		default:
			fmt.Fprintf(&b, "%T%v|", x, x)
		}
	}
	return b.String()
}

// orderKeys evaluates a row's ORDER BY keys: an ordinal or alias is the output column, anything
// else an expression of the source row (or of the group).
func (q *query) orderKeys(out Row, e *evalEnv) ([]any, error) {
	keys := make([]any, len(q.sel.OrderBy))
	for i, o := range q.sel.OrderBy {
		if k := q.outputRef(o.Expr); k >= 0 || isOrdinal(o.Expr) {
			if k < 0 || k >= len(out) {
				l := o.Expr.(*tsql.Literal)
				return nil, &Error{Number: 108, State: 1, Class: 15, Message: fmt.Sprintf("The ORDER BY position number %s is out of range of the number of items in the select list.", l.Value)}
			}
			keys[i] = out[k]
			continue
		}
		v, err := tsql.Eval(o.Expr, e)
		if err != nil {
			return nil, valueError(err)
		}
		keys[i] = v
	}
	return keys, nil
}

func isOrdinal(e tsql.Expr) bool {
	l, ok := e.(*tsql.Literal)
	return ok && l.Kind == tsql.NumberLit
}

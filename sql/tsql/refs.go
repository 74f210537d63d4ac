package tsql

import (
	"strconv"
	"strings"
)

// Catalog tells Resolve the columns of the objects a batch names. Columns returns the column names
// of the table or view name refers to and whether they are known; an object whose columns are not
// known accepts any column.
type Catalog interface {
	Columns(name *ObjectName) ([]string, bool)
}

// ObjectKind says how a batch uses an object.
type ObjectKind int

// Object kinds.
const (
	// TableObject is a table or view in a FROM clause, a JOIN or an APPLY.
	TableObject ObjectKind = iota + 1
	// ProcedureObject is a procedure run by EXEC (or by name as the first statement).
	ProcedureObject
	// FunctionObject is a table-valued function in a FROM clause or an APPLY.
	FunctionObject
)

// String names the kind.
func (k ObjectKind) String() string {
	switch k {
	case TableObject:
		return "table"
	case ProcedureObject:
		return "procedure"
	case FunctionObject:
		return "table-valued function"
	}
	return "object"
}

// ObjectUse is an object a batch names (common table expressions are not objects and are left
// out).
type ObjectUse struct {
	Name  *ObjectName
	Kind  ObjectKind
	Alias string
}

// Problem is what is wrong with a column reference, as SQL Server would report it.
type Problem int

// Column problems.
const (
	// Bound is a column that resolved.
	Bound Problem = iota
	// Ambiguous is an unqualified column more than one source has (SQL Server error 209).
	Ambiguous
	// Unbound is a qualified column whose qualifier names no source in scope (error 4104).
	Unbound
	// Invalid is a column its source does not have (error 207).
	Invalid
)

// String names the problem.
func (p Problem) String() string {
	switch p {
	case Bound:
		return "bound"
	case Ambiguous:
		return "ambiguous"
	case Unbound:
		return "unbound"
	case Invalid:
		return "invalid"
	}
	return "Problem(" + strconv.Itoa(int(p)) + ")"
}

// ColumnUse is a column reference and what it resolved to.
type ColumnUse struct {
	Ref *ColumnRef
	// Table is the table or view the column belongs to (nil when it comes from a CTE, a derived
	// table or a select-list alias, or did not resolve). For an Invalid column it is the table the
	// column was looked for in, when there was one.
	Table *ObjectName
	// Known reports that Table's columns were known (from the Catalog) when it was resolved.
	Known bool
	// Derived is the output column of the CTE, derived table or select list it names.
	Derived *Output
	Problem Problem
	// Uncertain reports an Ambiguous column where only sources of unknown columns make it so
	// (a Catalog would decide).
	Uncertain bool
}

// ParamUse is a named argument of a procedure call.
type ParamUse struct {
	Proc   *ObjectName
	Name   string
	Output bool
	Pos    Pos
}

// Output is one column of a query's result: its name ("" when unnamed) and the expression that
// computes it. A star over a source whose columns are not known gives one Output with Star set.
type Output struct {
	Name string
	Expr Expr
	// Table is the table or view a star expansion or a bare column comes from.
	Table *ObjectName
	Star  bool
}

// Refs is everything a batch names.
type Refs struct {
	Objects []ObjectUse
	Columns []*ColumnUse
	Params  []ParamUse
	// Functions are the scalar and aggregate function calls (not table-valued ones).
	Functions []*FuncCall
	Variables []*VariableRef
	// Declared are the types of the batch's DECLAREd variables, by lower-case name.
	Declared map[string]*DataType
	// Results are the result sets the batch's SELECT statements return, in order (a SELECT that
	// assigns variables returns none).
	Results [][]*Output
	// Uses are the statements that change the database (USE).
	Uses []*UseStatement

	byRef map[*ColumnRef]*ColumnUse
}

// Column is what a reference resolved to.
func (r *Refs) Column(ref *ColumnRef) (*ColumnUse, bool) {
	u, ok := r.byRef[ref]
	return u, ok
}

// Resolve finds the objects, columns, parameters and result columns of a parsed batch. cat may
// be nil; then only CTEs and derived tables have known columns.
func Resolve(s *Script, cat Catalog) *Refs {
	r := &resolver{cat: cat, refs: &Refs{Declared: map[string]*DataType{}, byRef: map[*ColumnRef]*ColumnUse{}}}
	for _, st := range s.Statements {
		r.statement(st)
	}
	return r.refs
}

type resolver struct {
	cat  Catalog
	refs *Refs
}

type source struct {
	exposed string      // the name the source is known by (alias, or the object's last part)
	object  *ObjectName // the table or view (nil for CTEs, derived tables and functions)
	aliased bool
	outputs []*Output // columns of a CTE or derived table (nil: unknown)
	cols    []string
	known   bool // cols are known (catalog) or outputs are
}

type scope struct {
	parent  *scope
	ctes    map[string]*cteDef
	sources []*source
	// items are the select list, visible by alias to ORDER BY only.
	items []*Output
}

type cteDef struct {
	outputs []*Output
	known   bool
}

func (sc *scope) cte(name string) (*cteDef, bool) {
	for s := sc; s != nil; s = s.parent {
		if c, ok := s.ctes[strings.ToLower(name)]; ok {
			return c, true
		}
	}
	return nil, false
}

func (r *resolver) statement(st Statement) {
	switch st := st.(type) {
	case *SelectStatement:
		sc := &scope{ctes: map[string]*cteDef{}}
		for _, c := range st.With {
			outs, known := r.query(c.Query, sc)
			if len(c.Columns) > 0 {
				renamed := make([]*Output, len(c.Columns))
				for i, col := range c.Columns {
					o := &Output{Name: col.Name}
					if i < len(outs) {
						o.Expr, o.Table = outs[i].Expr, outs[i].Table
					}
					renamed[i] = o
				}
				outs, known = renamed, true
			}
			sc.ctes[strings.ToLower(c.Name.Name)] = &cteDef{outputs: outs, known: known}
		}
		outs, _ := r.queryOrdered(st.Query, st.OrderBy, sc)
		if !assigns(st.Query) {
			r.refs.Results = append(r.refs.Results, outs)
		}
	case *DeclareStatement:
		for _, v := range st.Vars {
			r.refs.Declared[strings.ToLower(v.Name)] = v.Type
			if v.Value != nil {
				r.expr(v.Value, &scope{})
			}
		}
	case *ExecStatement:
		if st.ReturnVar != "" {
			r.refs.Variables = append(r.refs.Variables, &VariableRef{Name: st.ReturnVar, Pos: st.Pos})
		}
		r.refs.Objects = append(r.refs.Objects, ObjectUse{Name: st.Proc, Kind: ProcedureObject})
		for _, a := range st.Args {
			if a.Name != "" {
				r.refs.Params = append(r.refs.Params, ParamUse{Proc: st.Proc, Name: a.Name, Output: a.Output, Pos: a.Pos})
			}
			if a.Value != nil {
				r.expr(a.Value, &scope{})
			}
		}
	case *SetStatement:
		if st.Var != "" {
			r.refs.Variables = append(r.refs.Variables, &VariableRef{Name: st.Var, Pos: st.Pos})
		}
		if st.Value != nil && st.Var != "" {
			r.expr(st.Value, &scope{})
		}
	case *UseStatement:
		r.refs.Uses = append(r.refs.Uses, st)
	case *IfStatement:
		r.expr(st.Cond, &scope{})
		r.statement(st.Then)
		if st.Else != nil {
			r.statement(st.Else)
		}
	case *BlockStatement:
		for _, s := range st.Statements {
			r.statement(s)
		}
	case *PrintStatement:
		r.expr(st.Value, &scope{})
	case *RaiseErrorStatement:
		for _, e := range append([]Expr{st.Message, st.Severity, st.State}, st.Args...) {
			r.expr(e, &scope{})
		}
	case *TransactionStatement:
		if st.NameVar != "" {
			r.refs.Variables = append(r.refs.Variables, &VariableRef{Name: st.NameVar, Pos: st.Pos})
		}
	case *ModifyStatement:
		// The table a data statement, TRUNCATE, ALTER TABLE or DROP TABLE writes to must exist; what
		// CREATE names must not, and is no use of an object.
		if st.Object != nil && st.Verb != "CREATE" && (st.What == "" || st.What == "TABLE" || st.What == "VIEW") {
			r.refs.Objects = append(r.refs.Objects, ObjectUse{Name: st.Object, Kind: TableObject})
		}
	case *RestoreStatement:
		if st.DatabaseVar != "" {
			r.refs.Variables = append(r.refs.Variables, &VariableRef{Name: st.DatabaseVar, Pos: st.Pos})
		}
		for _, d := range st.Devices {
			r.expr(d.Value, &scope{})
		}
		for _, o := range st.Options {
			if o.Value != nil {
				r.expr(o.Value, &scope{})
			}
		}
	}
}

// assigns reports a SELECT that assigns variables (it returns no result set).
func assigns(q QueryExpr) bool {
	if s, ok := q.(*Select); ok {
		for _, it := range s.Items {
			if it.Assign != "" {
				return true
			}
		}
	}
	return false
}

// query resolves a query in a scope below parent and returns its output columns and whether they
// are all known.
func (r *resolver) query(q QueryExpr, parent *scope) ([]*Output, bool) {
	return r.queryOrdered(q, nil, parent)
}

func (r *resolver) queryOrdered(q QueryExpr, orderBy []*OrderItem, parent *scope) ([]*Output, bool) {
	switch q := q.(type) {
	case *Select:
		return r.selectQuery(q, parent)
	case *SetOp:
		left, known := r.query(q.Left, parent)
		_, rknown := r.query(q.Right, parent)
		if len(orderBy) > 0 {
			sc := &scope{parent: parent, items: left}
			for _, o := range orderBy {
				r.orderExpr(o.Expr, sc)
			}
		}
		return left, known && rknown
	}
	return nil, false
}

func (r *resolver) selectQuery(s *Select, parent *scope) ([]*Output, bool) {
	sc := &scope{parent: parent}
	var ons []Expr
	var fnArgs []Expr
	for _, src := range s.From {
		r.from(src, sc, &ons, &fnArgs)
	}
	for _, e := range fnArgs {
		r.expr(e, sc)
	}
	for _, e := range ons {
		r.expr(e, sc)
	}
	if s.Top != nil {
		r.expr(s.Top.Count, sc)
	}
	r.expr(s.Where, sc)
	for _, e := range s.GroupBy {
		r.expr(e, sc)
	}
	r.expr(s.Having, sc)
	var outs []*Output
	known := true
	for _, it := range s.Items {
		if star, ok := it.Expr.(*Star); ok {
			o, k := r.star(star, sc)
			outs = append(outs, o...)
			known = known && k
			continue
		}
		r.expr(it.Expr, sc)
		o := &Output{Name: it.Name(), Expr: it.Expr}
		if c, ok := it.Expr.(*ColumnRef); ok {
			if u := r.refs.byRef[c]; u != nil {
				o.Table = u.Table
			}
		}
		outs = append(outs, o)
	}
	sc.items = outs
	for _, o := range s.OrderBy {
		r.orderExpr(o.Expr, sc)
	}
	return outs, known
}

// orderExpr resolves an ORDER BY expression: an ordinal or a select-list alias first, then the
// columns in scope.
func (r *resolver) orderExpr(e Expr, sc *scope) {
	if c, ok := e.(*ColumnRef); ok && len(c.Parts) == 1 {
		for _, o := range sc.items {
			if o.Name != "" && strings.EqualFold(o.Name, c.Column()) {
				r.record(&ColumnUse{Ref: c, Derived: o, Table: o.Table, Problem: Bound})
				return
			}
		}
	}
	r.expr(e, sc)
}

func (r *resolver) from(src TableSource, sc *scope, ons, fnArgs *[]Expr) {
	switch t := src.(type) {
	case *TableRef:
		if len(t.Name.Parts) == 1 {
			if c, ok := sc.cte(t.Name.Object()); ok {
				exposed := t.Name.Object()
				if t.Alias != "" {
					exposed = t.Alias
				}
				sc.sources = append(sc.sources, &source{exposed: exposed, outputs: c.outputs, known: c.known, aliased: t.Alias != ""})
				return
			}
		}
		r.refs.Objects = append(r.refs.Objects, ObjectUse{Name: t.Name, Kind: TableObject, Alias: t.Alias})
		s := &source{exposed: t.Name.Object(), object: t.Name}
		if t.Alias != "" {
			s.exposed, s.aliased = t.Alias, true
		}
		if r.cat != nil {
			s.cols, s.known = r.cat.Columns(t.Name)
		}
		sc.sources = append(sc.sources, s)
	case *DerivedTable:
		outs, known := r.query(t.Query, sc.parent)
		if len(t.Columns) > 0 {
			renamed := make([]*Output, len(t.Columns))
			for i, col := range t.Columns {
				o := &Output{Name: col.Name}
				if i < len(outs) {
					o.Expr, o.Table = outs[i].Expr, outs[i].Table
				}
				renamed[i] = o
			}
			outs = renamed
		}
		sc.sources = append(sc.sources, &source{exposed: t.Alias, outputs: outs, known: known, aliased: true})
	case *FunctionTable:
		r.refs.Objects = append(r.refs.Objects, ObjectUse{Name: t.Call.Name, Kind: FunctionObject, Alias: t.Alias})
		*fnArgs = append(*fnArgs, t.Call.Args...)
		exposed := t.Call.Name.Object()
		if t.Alias != "" {
			exposed = t.Alias
		}
		sc.sources = append(sc.sources, &source{exposed: exposed, aliased: t.Alias != ""})
	case *Join:
		r.from(t.Left, sc, ons, fnArgs)
		r.from(t.Right, sc, ons, fnArgs)
		if t.On != nil {
			*ons = append(*ons, t.On)
		}
	}
}

// star expands * or q.* into output columns.
func (r *resolver) star(s *Star, sc *scope) ([]*Output, bool) {
	var srcs []*source
	if len(s.Qualifier) == 0 {
		srcs = sc.sources
	} else if src := sc.find(s.Qualifier); src != nil {
		srcs = []*source{src}
	}
	var out []*Output
	known := true
	for _, src := range srcs {
		switch {
		case src.outputs != nil || src.object == nil && src.known:
			out = append(out, src.outputs...)
			known = known && src.known
		case src.known:
			for _, c := range src.cols {
				ref := &ColumnRef{Parts: []Ident{{Name: c, Pos: s.Pos}}}
				r.record(&ColumnUse{Ref: ref, Table: src.object, Known: true, Problem: Bound})
				out = append(out, &Output{Name: c, Expr: ref, Table: src.object})
			}
		default:
			out = append(out, &Output{Star: true, Table: src.object})
			known = false
		}
	}
	return out, known
}

// find is the source a qualifier names, in this scope or an enclosing one.
func (sc *scope) find(q []Ident) *source {
	for s := sc; s != nil; s = s.parent {
		for _, src := range s.sources {
			if src.matches(q) {
				return src
			}
		}
	}
	return nil
}

// matches reports whether a qualifier (alias, or [db.][schema.]object when not aliased) names the
// source.
func (src *source) matches(q []Ident) bool {
	if len(q) == 1 {
		return strings.EqualFold(q[0].Name, src.exposed)
	}
	if src.aliased || src.object == nil || len(q) > len(src.object.Parts) {
		return false
	}
	parts := src.object.Parts[len(src.object.Parts)-len(q):]
	for i := range q {
		if !strings.EqualFold(q[i].Name, parts[i].Name) {
			return false
		}
	}
	return true
}

// has reports whether a source has the column: yes, no, or unknown (maybe).
func (src *source) has(col string) (yes, maybe bool, out *Output) {
	if src.outputs != nil || src.object == nil {
		for _, o := range src.outputs {
			if strings.EqualFold(o.Name, col) {
				return true, false, o
			}
			if o.Star {
				maybe = true
			}
		}
		return false, maybe || !src.known, nil
	}
	if !src.known {
		return false, true, nil
	}
	for _, c := range src.cols {
		if strings.EqualFold(c, col) {
			return true, false, nil
		}
	}
	return false, false, nil
}

func (r *resolver) record(u *ColumnUse) {
	r.refs.Columns = append(r.refs.Columns, u)
	r.refs.byRef[u.Ref] = u
}

func (r *resolver) column(c *ColumnRef, sc *scope) {
	u := &ColumnUse{Ref: c}
	defer r.record(u)
	col := c.Column()
	if len(c.Parts) > 1 {
		src := sc.find(c.Parts[:len(c.Parts)-1])
		if src == nil {
			u.Problem = Unbound
			return
		}
		yes, maybe, out := src.has(col)
		u.Table, u.Known, u.Derived = src.object, src.object != nil && src.known, out
		if !yes && !maybe {
			u.Problem = Invalid
		}
		return
	}
	for s := sc; s != nil; s = s.parent {
		var definite, possible []*source
		var outs []*Output
		for _, src := range s.sources {
			yes, maybe, out := src.has(col)
			switch {
			case yes:
				definite = append(definite, src)
				outs = append(outs, out)
			case maybe:
				possible = append(possible, src)
			}
		}
		switch {
		case len(definite) == 1 && len(possible) == 0:
			u.Table, u.Known, u.Derived = definite[0].object, definite[0].object != nil, outs[0]
			return
		case len(definite) > 1, len(definite) == 1 && len(possible) > 0, len(possible) > 1:
			u.Problem, u.Uncertain = Ambiguous, len(definite) < 2
			if len(definite) == 1 {
				// One source surely has it; the unknown ones might too.
				u.Table, u.Known, u.Derived = definite[0].object, definite[0].object != nil, outs[0]
			}
			return
		case len(possible) == 1:
			u.Table = possible[0].object
			return
		}
	}
	u.Problem = Invalid
	if len(sc.sources) == 1 {
		u.Table = sc.sources[0].object
	}
}

// expr resolves the column references in an expression, recording function calls and variables.
func (r *resolver) expr(e Expr, sc *scope) {
	switch e := e.(type) {
	case nil:
	case *ColumnRef:
		r.column(e, sc)
	case *VariableRef:
		r.refs.Variables = append(r.refs.Variables, e)
	case *FuncCall:
		r.refs.Functions = append(r.refs.Functions, e)
		for _, a := range e.Args {
			r.expr(a, sc)
		}
		if e.Over != nil {
			for _, p := range e.Over.PartitionBy {
				r.expr(p, sc)
			}
			for _, o := range e.Over.OrderBy {
				r.expr(o.Expr, sc)
			}
		}
	case *Binary:
		r.expr(e.Left, sc)
		r.expr(e.Right, sc)
	case *Unary:
		r.expr(e.X, sc)
	case *Paren:
		r.expr(e.X, sc)
	case *Case:
		r.expr(e.Operand, sc)
		for _, w := range e.Whens {
			r.expr(w.Cond, sc)
			r.expr(w.Result, sc)
		}
		r.expr(e.Else, sc)
	case *Cast:
		r.expr(e.X, sc)
		r.expr(e.Style, sc)
	case *In:
		r.expr(e.X, sc)
		for _, x := range e.List {
			r.expr(x, sc)
		}
		if e.Query != nil {
			r.query(e.Query, sc)
		}
	case *Between:
		r.expr(e.X, sc)
		r.expr(e.Lo, sc)
		r.expr(e.Hi, sc)
	case *Like:
		r.expr(e.X, sc)
		r.expr(e.Pattern, sc)
		r.expr(e.Escape, sc)
	case *IsNull:
		r.expr(e.X, sc)
	case *Exists:
		r.query(e.Query, sc)
	case *Subquery:
		r.query(e.Query, sc)
	}
}

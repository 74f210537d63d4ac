package contract

import (
	"strconv"
	"strings"

	"cutover/sql/tsql"
)

// TypeOf is the type SQL Server gives an expression of a resolved batch, as far as the contract
// documents it: a column's documented type, a function's documented return type (SUM by its
// documented table, MAX and MIN as their argument), CAST's target, a declared variable's type,
// and arithmetic by data type precedence
// (sql-docs:docs/t-sql/data-types/data-type-precedence-transact-sql.md). ok is false when some
// part is not documented.
func (c *Contract) TypeOf(e tsql.Expr, refs *tsql.Refs) (t Type, ok bool) {
	return c.typeOf(e, refs, 0)
}

func (c *Contract) typeOf(e tsql.Expr, refs *tsql.Refs, depth int) (Type, bool) {
	if depth > 50 {
		return Type{}, false
	}
	depth++
	switch e := e.(type) {
	case *tsql.ColumnRef:
		u, ok := refs.Column(e)
		if !ok || u.Problem != tsql.Bound {
			return Type{}, false
		}
		if u.Table != nil {
			o, ok := c.LookupName(u.Table)
			if !ok {
				return Type{}, false
			}
			col, ok := o.Column(e.Column())
			if !ok || col.Type.IsZero() {
				return Type{}, false
			}
			return col.Type, true
		}
		if u.Derived != nil && u.Derived.Expr != nil {
			return c.typeOf(u.Derived.Expr, refs, depth)
		}
	case *tsql.VariableRef:
		if e.System {
			o, ok := c.Lookup("@@" + e.Name)
			if !ok || o.ReturnType.IsZero() {
				return Type{}, false
			}
			return o.ReturnType, true
		}
		if d, ok := refs.Declared[strings.ToLower(e.Name)]; ok {
			t, err := ParseType(d.String())
			return t, err == nil
		}
	case *tsql.Cast:
		t, err := ParseType(e.Type.String())
		return t, err == nil
	case *tsql.Paren:
		return c.typeOf(e.X, refs, depth)
	case *tsql.Literal:
		switch e.Kind {
		case tsql.NumberLit:
			if strings.ContainsAny(e.Value, "eE") {
				return Type{Name: "float"}, true
			}
			if strings.Contains(e.Value, ".") {
				return Type{Name: "numeric"}, true
			}
			if n, err := strconv.ParseInt(e.Value, 10, 64); err == nil && n >= -1<<31 && n < 1<<31 {
				return Type{Name: "int"}, true
			}
			return Type{Name: "numeric"}, true
		case tsql.StringLit:
			if e.National {
				return Type{Name: "nvarchar", Length: max(1, len([]rune(e.Value)))}, true
			}
			return Type{Name: "varchar", Length: max(1, len(e.Value))}, true
		}
	case *tsql.Subquery:
		return c.queryType(e.Query, refs, depth)
	case *tsql.Unary:
		if e.Op == "NOT" {
			return Type{}, false
		}
		return c.typeOf(e.X, refs, depth)
	case *tsql.Binary:
		switch e.Op {
		case "+", "-", "*", "/", "%", "&", "|", "^":
			l, lok := c.typeOf(e.Left, refs, depth)
			r, rok := c.typeOf(e.Right, refs, depth)
			if !lok || !rok {
				return Type{}, false
			}
			return higher(l, r), true
		}
	case *tsql.Case:
		var out Type
		results := make([]tsql.Expr, 0, len(e.Whens)+1)
		for _, w := range e.Whens {
			results = append(results, w.Result)
		}
		if e.Else != nil {
			results = append(results, e.Else)
		}
		for _, r := range results {
			t, ok := c.typeOf(r, refs, depth)
			if !ok {
				return Type{}, false
			}
			if out.IsZero() {
				out = t
			} else {
				out = higher(out, t)
			}
		}
		return out, !out.IsZero()
	case *tsql.FuncCall:
		return c.funcType(e, refs, depth)
	}
	return Type{}, false
}

func (c *Contract) queryType(q tsql.QueryExpr, refs *tsql.Refs, depth int) (Type, bool) {
	switch q := q.(type) {
	case *tsql.Select:
		if len(q.Items) != 1 {
			return Type{}, false
		}
		return c.typeOf(q.Items[0].Expr, refs, depth)
	case *tsql.SetOp:
		return c.queryType(q.Left, refs, depth)
	}
	return Type{}, false
}

func (c *Contract) funcType(f *tsql.FuncCall, refs *tsql.Refs, depth int) (Type, bool) {
	name := strings.ToUpper(f.Name.Object())
	switch name {
	case "MAX", "MIN":
		if len(f.Args) != 1 {
			return Type{}, false
		}
		return c.typeOf(f.Args[0], refs, depth)
	case "SUM":
		if len(f.Args) != 1 {
			return Type{}, false
		}
		t, ok := c.typeOf(f.Args[0], refs, depth)
		if !ok {
			return Type{}, false
		}
		// The return types table of sum-transact-sql.md.
		switch t.Name {
		case "tinyint", "smallint", "int":
			return Type{Name: "int"}, true
		case "bigint":
			return Type{Name: "bigint"}, true
		case "decimal", "numeric":
			return Type{Name: "decimal", Precision: 38, Scale: t.Scale}, true
		case "money", "smallmoney":
			return Type{Name: "money"}, true
		case "float", "real":
			return Type{Name: "float"}, true
		}
		return Type{}, false
	case "SERVERPROPERTY":
		// sql_variant; CAST usually names the type the caller wants.
		return Type{Name: "sql_variant"}, true
	}
	o, ok := c.LookupName(f.Name)
	if !ok || (o.Kind != Function && o.Kind != Variable) || o.ReturnType.IsZero() {
		return Type{}, false
	}
	return o.ReturnType, true
}

// precedence is SQL Server's data type precedence, highest first
// (sql-docs:docs/t-sql/data-types/data-type-precedence-transact-sql.md).
var precedence = []string{"sql_variant", "xml", "datetimeoffset", "datetime2", "datetime", "smalldatetime", "date", "time",
	"float", "real", "decimal", "numeric", "money", "smallmoney", "bigint", "int", "smallint", "tinyint", "bit", "ntext", "text",
	"image", "timestamp", "uniqueidentifier", "nvarchar", "nchar", "varchar", "char", "varbinary", "binary"}

func rank(name string) int {
	for i, n := range precedence {
		if n == name {
			return i
		}
	}
	return len(precedence)
}

// higher is the type of higher precedence.
func higher(a, b Type) Type {
	if rank(b.Name) < rank(a.Name) {
		return b
	}
	return a
}

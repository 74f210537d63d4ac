package tdssim

import (
	"fmt"
	"strconv"
	"strings"

	"cutover/sql/tsql"
)

// The types of the evaluator's result columns: a column's own, a function's or aggregate's
// documented return type, CAST's target, and for arithmetic the operand of higher data type
// precedence (sql-docs docs/t-sql/data-types/data-type-precedence-transact-sql.md). The TDS types
// the server sends have no char or varchar: a varchar literal or CAST comes out as nvarchar of the
// same length, and decimal arithmetic as float.

// columnOf is the result column of a declared type (DECLARE, CAST): ok is false for a type the
// evaluator does not hold. A character type without a length is 1 long (DECLARE's default;
// castColumn makes it 30 for CAST).
func columnOf(t *tsql.DataType) (Column, bool) {
	length := 0
	if len(t.Args) > 0 {
		if t.Args[0] == "max" {
			length = -1
		} else {
			length, _ = strconv.Atoi(t.Args[0])
		}
	}
	c := Column{Nullable: true}
	switch strings.ToLower(t.Name) {
	case "int":
		c.Type = TypeInt
	case "bigint":
		c.Type = TypeBigInt
	case "smallint":
		c.Type = TypeSmallInt
	case "tinyint":
		c.Type = TypeTinyInt
	case "bit":
		c.Type = TypeBit
	case "float":
		c.Type = TypeFloat
	case "real":
		c.Type = TypeReal
	case "decimal", "numeric", "money", "smallmoney":
		c.Type = TypeFloat
	case "datetime", "smalldatetime":
		c.Type = TypeDateTime
	case "datetime2":
		c.Type = TypeDateTime2
	case "date":
		c.Type = TypeDate
	case "datetimeoffset":
		c.Type = TypeDateTimeOffset
	case "sysname":
		c.Type, c.Size = TypeNVarChar, 128
	case "nvarchar", "varchar", "nchar", "char":
		switch {
		case length < 0 || length > maxNVarChar:
			c.Type = TypeNVarCharMax
		default:
			c.Type, c.Size = TypeNVarChar, max(length, 1)
		}
	case "uniqueidentifier":
		c.Type = TypeUniqueIdentifier
	case "varbinary", "binary":
		c.Type, c.Size = TypeVarBinary, max(length, 1)
		if length < 0 || length > 8000 {
			c.Type, c.Size = TypeVarBinaryMax, 0
		}
	default:
		return Column{}, false
	}
	return c, true
}

// castColumn is CAST's result column: a character type without a length is 30 long.
func castColumn(t *tsql.DataType) (Column, bool) {
	switch strings.ToLower(t.Name) {
	case "nvarchar", "varchar", "nchar", "char":
		if len(t.Args) == 0 {
			t = &tsql.DataType{Name: t.Name, Args: []string{"30"}}
		}
	}
	return columnOf(t)
}

var (
	colInt     = Column{Type: TypeInt, Nullable: true}
	colSysname = Column{Type: TypeNVarChar, Size: 128, Nullable: true}
)

// typeOf is the result column of a select-list expression; errNotEvaluable for a predicate used
// as a value, which T-SQL does not have.
func (q *query) typeOf(e tsql.Expr) (Column, error) {
	switch e := e.(type) {
	case *tsql.ColumnRef:
		i, err := q.bind(e)
		if err != nil {
			return Column{}, err
		}
		return q.cols[i], nil
	case *tsql.Literal:
		return literalColumn(e), nil
	case *tsql.VariableRef:
		if e.System {
			c, ok := sysvars[strings.ToUpper(e.Name)]
			if !ok {
				return Column{}, &Error{Number: 137, State: 2, Class: 15, Message: fmt.Sprintf(`Must declare the scalar variable "@@%s".`, e.Name)}
			}
			return c, nil
		}
		v := q.b.vars[strings.ToLower(e.Name)]
		if v == nil {
			return Column{}, &Error{Number: 137, State: 2, Class: 15, Message: fmt.Sprintf(`Must declare the scalar variable "@%s".`, e.Name)}
		}
		return v.col, nil
	case *tsql.Paren:
		return q.typeOf(e.X)
	case *tsql.Unary:
		if e.Op == "NOT" {
			return Column{}, errNotEvaluable
		}
		return q.typeOf(e.X)
	case *tsql.Binary:
		switch e.Op {
		case "+", "-", "*", "/", "%":
		default:
			return Column{}, errNotEvaluable
		}
		l, err := q.typeOf(e.Left)
		if err != nil {
			return Column{}, err
		}
		r, err := q.typeOf(e.Right)
		if err != nil {
			return Column{}, err
		}
		return arithColumn(e.Op, l, r), nil
	case *tsql.Case:
		for _, w := range e.Whens {
			if l, ok := w.Result.(*tsql.Literal); ok && l.Kind == tsql.NullLit {
				continue
			}
			c, err := q.typeOf(w.Result)
			c.Nullable = true
			return c, err
		}
		if e.Else != nil {
			c, err := q.typeOf(e.Else)
			c.Nullable = true
			return c, err
		}
		return colInt, nil
	case *tsql.Cast:
		c, ok := castColumn(e.Type)
		if !ok {
			return Column{}, errNotEvaluable
		}
		return c, nil
	case *tsql.FuncCall:
		return q.funcColumn(e)
	}
	return Column{}, errNotEvaluable
}

// literalColumn is a constant's column: an integer that fits is int, a larger one or one with a
// decimal point decimal (numeric), one with an exponent float, a string nvarchar of its length,
// NULL int.
func literalColumn(l *tsql.Literal) Column {
	switch l.Kind {
	case tsql.NumberLit:
		if strings.ContainsAny(l.Value, "eE") {
			return Column{Type: TypeFloat}
		}
		if n, err := strconv.ParseInt(l.Value, 10, 64); err == nil && n >= -1<<31 && n < 1<<31 {
			return Column{Type: TypeInt}
		}
		whole, frac, _ := strings.Cut(l.Value, ".")
		p := max(len(strings.TrimLeft(whole, "0"))+len(frac), len(frac)+1, 1)
		return Column{Type: TypeDecimal, Precision: uint8(min(p, 38)), Scale: uint8(min(len(frac), 38))}
	case tsql.StringLit:
		n := ucs2Len(l.Value)
		if n > maxNVarChar {
			return Column{Type: TypeNVarCharMax}
		}
		return Column{Type: TypeNVarChar, Size: max(n, 1)}
	case tsql.BinaryLit:
		return Column{Type: TypeVarBinary, Size: max(1, (len(l.Value)-2+1)/2)}
	}
	return colInt
}

// precedence ranks the types arithmetic meets (higher wins).
func precedence(t ColumnType) int {
	switch t {
	case TypeDateTimeOffset, TypeDateTime2, TypeDateTime, TypeDate:
		return 10
	case TypeFloat, TypeReal:
		return 9
	case TypeDecimal:
		return 8
	case TypeBigInt:
		return 7
	case TypeInt, TypeSmallInt, TypeTinyInt, TypeBit:
		return 6
	}
	return 0 // the character and binary types
}

// arithColumn is the type of l op r: strings added together are a string as long as both, else
// the operand of higher precedence (an integer type at least int).
func arithColumn(op string, l, r Column) Column {
	lp, rp := precedence(l.Type), precedence(r.Type)
	if lp == 0 && rp == 0 && op == "+" {
		size := l.nvarcharChars() + r.nvarcharChars()
		if l.Type == TypeNVarCharMax || r.Type == TypeNVarCharMax || size > maxNVarChar {
			return Column{Type: TypeNVarCharMax, Nullable: true}
		}
		return Column{Type: TypeNVarChar, Size: size, Nullable: true}
	}
	c := l
	if rp > lp {
		c = r
	}
	switch c.Type {
	case TypeSmallInt, TypeTinyInt, TypeBit:
		c = Column{Type: TypeInt}
	case TypeDecimal:
		c = Column{Type: TypeFloat}
	}
	c.Name, c.Nullable = "", true
	return c
}

// funcColumn is a function's result column (sql-docs docs/t-sql/functions, each function's
// "Return types"). SERVERPROPERTY returns sql_variant, which TDS carries as its base type: the
// evaluator sends nvarchar(128).
func (q *query) funcColumn(f *tsql.FuncCall) (Column, error) {
	name := strings.ToUpper(f.Name.Object())
	arg := func(i int) (Column, error) {
		if i >= len(f.Args) {
			return colInt, nil
		}
		return q.typeOf(f.Args[i])
	}
	switch name {
	case "COUNT":
		return Column{Type: TypeInt}, nil
	case "COUNT_BIG":
		return Column{Type: TypeBigInt}, nil
	case "SUM", "AVG":
		c, err := arg(0)
		if err != nil {
			return Column{}, err
		}
		return arithColumn("+", c, Column{Type: TypeInt}), nil
	case "MIN", "MAX", "ISNULL", "COALESCE", "NULLIF", "UPPER", "LOWER", "LTRIM", "RTRIM", "TRIM", "REPLACE", "ABS":
		c, err := arg(0)
		if err == nil && (name == "ISNULL" || name == "COALESCE") && len(f.Args) > 1 {
			if l, ok := f.Args[0].(*tsql.Literal); ok && l.Kind == tsql.NullLit {
				c, err = arg(1)
			}
		}
		c.Name, c.Nullable = "", true
		if name == "REPLACE" && c.Type == TypeNVarChar {
			c = Column{Type: TypeNVarCharMax, Nullable: true} // a replacement may lengthen it
		}
		return c, err
	case "LEFT", "RIGHT", "SUBSTRING":
		c, err := arg(0)
		c.Name, c.Nullable = "", true
		if c.Type != TypeNVarChar && c.Type != TypeNVarCharMax {
			c = Column{Type: TypeNVarChar, Size: 30, Nullable: true}
		}
		return c, err
	case "CONCAT":
		return Column{Type: TypeNVarChar, Size: maxNVarChar}, nil
	case "LEN", "CHARINDEX", "DATEDIFF", "DATEPART", "YEAR", "MONTH", "DAY", "DB_ID":
		return colInt, nil
	case "DATEADD":
		c, err := arg(2)
		c.Name, c.Nullable = "", true
		return c, err
	case "GETDATE", "CURRENT_TIMESTAMP", "GETUTCDATE":
		return Column{Type: TypeDateTime}, nil
	case "SYSDATETIME", "SYSUTCDATETIME":
		return Column{Type: TypeDateTime2}, nil
	case "SYSDATETIMEOFFSET":
		return Column{Type: TypeDateTimeOffset}, nil
	case "DB_NAME", "SUSER_SNAME", "SUSER_NAME", "ORIGINAL_LOGIN", "SYSTEM_USER", "SESSION_USER", "USER_NAME",
		"CURRENT_USER", "USER", "HOST_NAME", "APP_NAME", "SERVERPROPERTY", "SCHEMA_NAME", "OBJECT_NAME":
		return colSysname, nil
	case "OBJECT_ID", "SCHEMA_ID", "IS_SRVROLEMEMBER", "IS_ROLEMEMBER", "HAS_PERMS_BY_NAME", "ISNUMERIC":
		return colInt, nil
	}
	return Column{}, errNotEvaluable
}

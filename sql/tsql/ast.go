package tsql

import "strings"

// Node is any syntax tree node.
type Node interface {
	// Position is where the node starts in the source.
	Position() Pos
}

// Ident is one part of a name: its text (unquoted) and whether it was quoted.
type Ident struct {
	Name   string
	Quoted bool
	Pos    Pos
}

// ObjectName is a one- to four-part name: [[[server.]database.]schema.]object. Empty middle parts
// (database..object) are kept as empty names.
type ObjectName struct {
	Parts []Ident
}

// Position implements Node.
func (n *ObjectName) Position() Pos {
	if len(n.Parts) == 0 {
		return Pos{}
	}
	return n.Parts[0].Pos
}

func (n *ObjectName) part(fromEnd int) string {
	if i := len(n.Parts) - 1 - fromEnd; i >= 0 {
		return n.Parts[i].Name
	}
	return ""
}

// Object is the last part.
func (n *ObjectName) Object() string { return n.part(0) }

// Schema is the schema part ("" when not given).
func (n *ObjectName) Schema() string { return n.part(1) }

// Database is the database part ("" when not given).
func (n *ObjectName) Database() string { return n.part(2) }

// Server is the server part ("" when not given).
func (n *ObjectName) Server() string { return n.part(3) }

// String joins the parts with dots, unquoted, as SQL Server names an object in its messages
// ("Invalid object name 'dbo.MSpublications'.").
func (n *ObjectName) String() string {
	parts := make([]string, len(n.Parts))
	for i, p := range n.Parts {
		parts[i] = p.Name
	}
	return strings.Join(parts, ".")
}

// Script is a parsed batch: its statements in order, and where each is in the text.
type Script struct {
	Statements []Statement
	// Spans are the statements' places in the source, one per statement.
	Spans []Span
}

// Statement is one T-SQL statement.
type Statement interface {
	Node
	stmt()
}

// SelectStatement is a query, optionally with common table expressions, set operations and a
// final ORDER BY.
type SelectStatement struct {
	With  []*CTE
	Query QueryExpr
	// OrderBy sorts the whole result (for a plain SELECT it is also Select.OrderBy).
	OrderBy []*OrderItem
	Pos     Pos
}

// CTE is one common table expression: name [(columns)] AS (query).
type CTE struct {
	Name    Ident
	Columns []Ident
	Query   QueryExpr
}

// DeclareStatement declares local variables.
type DeclareStatement struct {
	Vars []*VarDecl
	Pos  Pos
}

// VarDecl is @name type [= value].
type VarDecl struct {
	Name  string
	Type  *DataType
	Value Expr
	Pos   Pos
}

// ExecStatement runs a procedure: EXEC [@ret =] name [args].
type ExecStatement struct {
	// ReturnVar receives the return code ("" when none).
	ReturnVar string
	Proc      *ObjectName
	Args      []*ExecArg
	Pos       Pos
}

// ExecArg is one procedure argument: [@name =] value [OUTPUT].
type ExecArg struct {
	// Name is the parameter name without '@' ("" for a positional argument).
	Name   string
	Value  Expr
	Output bool
	// Default reports the DEFAULT keyword as the value.
	Default bool
	Pos     Pos
}

// SetStatement is SET @var = value, or a session option (SET NOCOUNT ON).
type SetStatement struct {
	// Var is the variable ("" for an option).
	Var   string
	Op    string
	Value Expr
	// Option and OptionValue hold SET option value (e.g. NOCOUNT, ON; TRANSACTION ISOLATION
	// LEVEL, READ COMMITTED; LOCK_TIMEOUT, -1), option names in capitals. Options lists every
	// option a SET of several ON/OFF options names (SET ANSI_NULLS, QUOTED_IDENTIFIER ON); Value
	// holds an option's value as an expression when it is a number, string or variable.
	Option, OptionValue string
	Options             []string
	Pos                 Pos
}

// UseStatement is USE database.
type UseStatement struct {
	Database Ident
	Pos      Pos
}

// IfStatement is IF cond stmt [ELSE stmt].
type IfStatement struct {
	Cond Expr
	Then Statement
	Else Statement
	Pos  Pos
}

// BlockStatement is BEGIN … END.
type BlockStatement struct {
	Statements []Statement
	Pos        Pos
}

// PrintStatement is PRINT expr.
type PrintStatement struct {
	Value Expr
	Pos   Pos
}

// GoStatement is the GO batch separator of the SQL Server tools (not T-SQL; accepted between
// statements as documentation examples use it).
type GoStatement struct {
	Pos Pos
}

// RestoreStatement is RESTORE DATABASE name FROM devices [WITH options] or RESTORE VERIFYONLY
// FROM devices [WITH options] (sql-docs t-sql/statements/restore-statements-transact-sql.md and
// restore-statements-verifyonly-transact-sql.md), in the forms cutover sends: each device written
// DISK | TAPE | URL = value, each option NAME [= value].
type RestoreStatement struct {
	// What is "DATABASE" or "VERIFYONLY".
	What string
	// Database names the database (RESTORE DATABASE): an identifier, or DatabaseVar, a variable.
	Database    Ident
	DatabaseVar string
	Devices     []*RestoreDevice
	Options     []*RestoreOption
	Pos         Pos
}

// RestoreDevice is one backup device: DISK, TAPE or URL = value.
type RestoreDevice struct {
	Type  string
	Value Expr
	Pos   Pos
}

// RestoreOption is one WITH option: its name in capitals and its value (nil when it has none).
type RestoreOption struct {
	Name  string
	Value Expr
	Pos   Pos
}

func (*SelectStatement) stmt()  {}
func (*RestoreStatement) stmt() {}
func (*DeclareStatement) stmt() {}
func (*ExecStatement) stmt()    {}
func (*SetStatement) stmt()     {}
func (*UseStatement) stmt()     {}
func (*IfStatement) stmt()      {}
func (*BlockStatement) stmt()   {}
func (*PrintStatement) stmt()   {}
func (*GoStatement) stmt()      {}

// Position implements Node.
func (s *SelectStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *DeclareStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *RestoreStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *ExecStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *SetStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *UseStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *IfStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *BlockStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *PrintStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *GoStatement) Position() Pos { return s.Pos }

// QueryExpr is a query: a Select or a set operation of queries.
type QueryExpr interface {
	Node
	query()
}

// Select is one query specification.
type Select struct {
	Distinct bool
	Top      *Top
	Items    []*SelectItem
	From     []TableSource
	Where    Expr
	GroupBy  []Expr
	Having   Expr
	OrderBy  []*OrderItem
	Pos      Pos
}

// SetOp is left UNION [ALL] | EXCEPT | INTERSECT right.
type SetOp struct {
	Op          string // UNION, EXCEPT or INTERSECT
	All         bool
	Left, Right QueryExpr
	Pos         Pos
}

func (*Select) query() {}
func (*SetOp) query()  {}

// Position implements Node.
func (s *Select) Position() Pos { return s.Pos }

// Position implements Node.
func (s *SetOp) Position() Pos { return s.Pos }

// Top is TOP (n) [PERCENT] [WITH TIES].
type Top struct {
	Count    Expr
	Percent  bool
	WithTies bool
}

// SelectItem is one select-list entry: an expression with an optional alias, a star
// (Expr is *Star), or a variable assignment (@v = expr).
type SelectItem struct {
	Expr  Expr
	Alias string
	// Assign is the variable an item assigns to ("" when it returns a column).
	Assign string
	Pos    Pos
}

// Name is the result column's name: the alias, else a column reference's last part, else "".
func (it *SelectItem) Name() string {
	if it.Alias != "" {
		return it.Alias
	}
	if c, ok := it.Expr.(*ColumnRef); ok {
		return c.Column()
	}
	return ""
}

// OrderItem is expr [ASC|DESC].
type OrderItem struct {
	Expr Expr
	Desc bool
}

// TableSource is something in a FROM clause.
type TableSource interface {
	Node
	tableSource()
}

// TableRef names a table, view or CTE: name [[AS] alias] [WITH (hints)].
type TableRef struct {
	Name  *ObjectName
	Alias string
	Hints []string
	Pos   Pos
}

// DerivedTable is (query) [AS] alias [(columns)].
type DerivedTable struct {
	Query   QueryExpr
	Alias   string
	Columns []Ident
	Pos     Pos
}

// FunctionTable is a table-valued function call: name(args) [[AS] alias].
type FunctionTable struct {
	Call  *FuncCall
	Alias string
	Pos   Pos
}

// JoinKind says how two table sources combine.
type JoinKind int

// Join kinds.
const (
	InnerJoin JoinKind = iota + 1
	LeftJoin
	RightJoin
	FullJoin
	CrossJoin
	CrossApply
	OuterApply
)

// String is the join as written.
func (k JoinKind) String() string {
	switch k {
	case InnerJoin:
		return "JOIN"
	case LeftJoin:
		return "LEFT JOIN"
	case RightJoin:
		return "RIGHT JOIN"
	case FullJoin:
		return "FULL JOIN"
	case CrossJoin:
		return "CROSS JOIN"
	case CrossApply:
		return "CROSS APPLY"
	case OuterApply:
		return "OUTER APPLY"
	}
	return "JoinKind(?)"
}

// Join is left kind right [ON cond].
type Join struct {
	Kind        JoinKind
	Left, Right TableSource
	On          Expr
	Pos         Pos
}

func (*TableRef) tableSource()      {}
func (*DerivedTable) tableSource()  {}
func (*FunctionTable) tableSource() {}
func (*Join) tableSource()          {}

// Position implements Node.
func (t *TableRef) Position() Pos { return t.Pos }

// Position implements Node.
func (t *DerivedTable) Position() Pos { return t.Pos }

// Position implements Node.
func (t *FunctionTable) Position() Pos { return t.Pos }

// Position implements Node.
func (t *Join) Position() Pos { return t.Pos }

// Expr is an expression.
type Expr interface {
	Node
	expr()
}

// ColumnRef is a column name with optional qualifiers: col, t.col, schema.t.col.
type ColumnRef struct {
	Parts []Ident
}

// Column is the column's name (the last part).
func (c *ColumnRef) Column() string { return c.Parts[len(c.Parts)-1].Name }

// Qualifier is the parts before the column joined with dots ("" when unqualified).
func (c *ColumnRef) Qualifier() string {
	q := make([]string, 0, len(c.Parts)-1)
	for _, p := range c.Parts[:len(c.Parts)-1] {
		q = append(q, p.Name)
	}
	return strings.Join(q, ".")
}

// String is the reference as SQL Server prints it (parts joined with dots).
func (c *ColumnRef) String() string {
	if q := c.Qualifier(); q != "" {
		return q + "." + c.Column()
	}
	return c.Column()
}

// Star is * or qualifier.*.
type Star struct {
	Qualifier []Ident
	Pos       Pos
}

// LiteralKind is a literal's kind.
type LiteralKind int

// Literal kinds.
const (
	NumberLit LiteralKind = iota + 1
	StringLit
	NullLit
	BinaryLit
)

// Literal is a number, string, binary or NULL.
type Literal struct {
	Kind     LiteralKind
	Value    string
	National bool
	Pos      Pos
}

// VariableRef is @name or @@name.
type VariableRef struct {
	Name   string
	System bool
	Pos    Pos
}

// FuncCall is name([DISTINCT] args | *) [OVER (…)].
type FuncCall struct {
	Name     *ObjectName
	Args     []Expr
	Star     bool
	Distinct bool
	Over     *Over
	Pos      Pos
}

// Over is a window: PARTITION BY … ORDER BY ….
type Over struct {
	PartitionBy []Expr
	OrderBy     []*OrderItem
}

// DatePart is the datepart keyword argument of DATEADD, DATEDIFF, DATEPART, DATENAME.
type DatePart struct {
	Name string
	Pos  Pos
}

// Binary is left op right for arithmetic (+ - * / % & | ^), comparison (= <> != < > <= >= !< !>)
// and logic (AND, OR).
type Binary struct {
	Op          string
	Left, Right Expr
	Pos         Pos
}

// Unary is op x for -, +, ~ and NOT.
type Unary struct {
	Op  string
	X   Expr
	Pos Pos
}

// Paren is (x).
type Paren struct {
	X   Expr
	Pos Pos
}

// Case is CASE [operand] WHEN … THEN … [ELSE …] END.
type Case struct {
	Operand Expr
	Whens   []*When
	Else    Expr
	Pos     Pos
}

// When is WHEN cond THEN result.
type When struct {
	Cond, Result Expr
}

// Cast is CAST(x AS type), TRY_CAST, CONVERT(type, x [, style]) or TRY_CONVERT.
type Cast struct {
	X     Expr
	Type  *DataType
	Style Expr
	// Func is CAST, TRY_CAST, CONVERT or TRY_CONVERT.
	Func string
	Pos  Pos
}

// DataType is a type name with its arguments: int, nvarchar(128), nvarchar(max), decimal(18,2).
type DataType struct {
	Name string
	Args []string
	Pos  Pos
}

// String is the type as written in lower case: nvarchar(128).
func (d *DataType) String() string {
	s := strings.ToLower(d.Name)
	if len(d.Args) > 0 {
		s += "(" + strings.ToLower(strings.Join(d.Args, ",")) + ")"
	}
	return s
}

// In is x [NOT] IN (list) or x [NOT] IN (query).
type In struct {
	X     Expr
	Not   bool
	List  []Expr
	Query QueryExpr
	Pos   Pos
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
	Pos       Pos
}

// Like is x [NOT] LIKE pattern [ESCAPE e].
type Like struct {
	X, Pattern, Escape Expr
	Not                bool
	Pos                Pos
}

// IsNull is x IS [NOT] NULL.
type IsNull struct {
	X   Expr
	Not bool
	Pos Pos
}

// Exists is EXISTS (query).
type Exists struct {
	Query QueryExpr
	Pos   Pos
}

// Subquery is a scalar subquery (query).
type Subquery struct {
	Query QueryExpr
	Pos   Pos
}

func (*ColumnRef) expr()   {}
func (*Star) expr()        {}
func (*Literal) expr()     {}
func (*VariableRef) expr() {}
func (*FuncCall) expr()    {}
func (*DatePart) expr()    {}
func (*Binary) expr()      {}
func (*Unary) expr()       {}
func (*Paren) expr()       {}
func (*Case) expr()        {}
func (*Cast) expr()        {}
func (*In) expr()          {}
func (*Between) expr()     {}
func (*Like) expr()        {}
func (*IsNull) expr()      {}
func (*Exists) expr()      {}
func (*Subquery) expr()    {}

// Position implements Node.
func (c *ColumnRef) Position() Pos { return c.Parts[0].Pos }

// Position implements Node.
func (s *Star) Position() Pos { return s.Pos }

// Position implements Node.
func (l *Literal) Position() Pos { return l.Pos }

// Position implements Node.
func (v *VariableRef) Position() Pos { return v.Pos }

// Position implements Node.
func (f *FuncCall) Position() Pos { return f.Pos }

// Position implements Node.
func (d *DatePart) Position() Pos { return d.Pos }

// Position implements Node.
func (b *Binary) Position() Pos { return b.Pos }

// Position implements Node.
func (u *Unary) Position() Pos { return u.Pos }

// Position implements Node.
func (p *Paren) Position() Pos { return p.Pos }

// Position implements Node.
func (c *Case) Position() Pos { return c.Pos }

// Position implements Node.
func (c *Cast) Position() Pos { return c.Pos }

// Position implements Node.
func (i *In) Position() Pos { return i.Pos }

// Position implements Node.
func (b *Between) Position() Pos { return b.Pos }

// Position implements Node.
func (l *Like) Position() Pos { return l.Pos }

// Position implements Node.
func (n *IsNull) Position() Pos { return n.Pos }

// Position implements Node.
func (e *Exists) Position() Pos { return e.Pos }

// Position implements Node.
func (s *Subquery) Position() Pos { return s.Pos }

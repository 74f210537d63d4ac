package tsql

import (
	"fmt"
	"strings"
)

// maxDepth bounds nesting (parentheses, subqueries, CASE, blocks) so that hostile input cannot
// exhaust the stack.
const maxDepth = 200

// Parse reads a batch of T-SQL statements. Text it does not understand is an *Error naming the
// position; it never guesses.
func Parse(src string) (*Script, error) {
	toks, err := Tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	s, err := p.script()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseExpr reads one expression (for a WHERE-like predicate or a computed value).
func ParseExpr(src string) (Expr, error) {
	toks, err := Tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.Kind != EOF {
		return nil, p.unexpected(t, "end of expression")
	}
	return e, nil
}

type parser struct {
	toks  []Token
	i     int
	depth int
}

func (p *parser) peek() Token { return p.peekN(0) }

func (p *parser) peekN(k int) Token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1] // EOF
}

func (p *parser) next() Token {
	t := p.peek()
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

// accept consumes the next token when it is the word or operator.
func (p *parser) accept(word string) bool {
	if p.peek().Is(word) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expect(word string) (Token, error) {
	t := p.peek()
	if !t.Is(word) {
		return t, p.unexpected(t, strings.ToUpper(word))
	}
	return p.next(), nil
}

func (p *parser) unexpected(t Token, want string) error {
	got := fmt.Sprintf("%q", t.Text)
	if t.Kind == EOF {
		got = "the end of the text"
	}
	return &Error{Pos: t.Pos, Msg: fmt.Sprintf("expected %s, found %s", want, got)}
}

func (p *parser) errorf(t Token, format string, args ...any) error {
	return &Error{Pos: t.Pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(p.peek(), "nesting deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// statementStarts are the words that begin a statement; an EXEC's argument list or an alias
// stops before them.
var statementStarts = map[string]bool{"SELECT": true, "WITH": true, "DECLARE": true, "EXEC": true, "EXECUTE": true,
	"SET": true, "USE": true, "IF": true, "BEGIN": true, "END": true, "PRINT": true, "ELSE": true, "GO": true,
	"RETURN": true, "INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "CREATE": true, "ALTER": true,
	"DROP": true, "TRUNCATE": true, "GRANT": true, "REVOKE": true, "DENY": true, "WHILE": true, "RESTORE": true}

func startsStatement(t Token) bool {
	return t.Kind == Word && statementStarts[strings.ToUpper(t.Text)]
}

// atBoundary reports the end of a statement: end of text, ';' or a word that starts the next.
func (p *parser) atBoundary() bool {
	t := p.peek()
	return t.Kind == EOF || t.Is(";") || startsStatement(t)
}

func (p *parser) script() (*Script, error) {
	s := &Script{}
	first := true
	for {
		for p.accept(";") {
		}
		if p.peek().Kind == EOF {
			return s, nil
		}
		st, err := p.statement(first)
		if err != nil {
			return nil, err
		}
		first = false
		s.Statements = append(s.Statements, st)
	}
}

func (p *parser) statement(first bool) (Statement, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch {
	case t.Is("WITH"), t.Is("SELECT"), t.Is("("):
		return p.selectStatement()
	case t.Is("DECLARE"):
		return p.declare()
	case t.Is("EXEC"), t.Is("EXECUTE"):
		p.next()
		return p.exec(t.Pos)
	case t.Is("SET"):
		return p.set()
	case t.Is("USE"):
		p.next()
		id, err := p.ident("a database name")
		if err != nil {
			return nil, err
		}
		return &UseStatement{Database: id, Pos: t.Pos}, nil
	case t.Is("IF"):
		return p.ifStatement()
	case t.Is("BEGIN"):
		return p.block()
	case t.Is("PRINT"):
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &PrintStatement{Value: e, Pos: t.Pos}, nil
	case t.Is("GO"):
		p.next()
		return &GoStatement{Pos: t.Pos}, nil
	case t.Is("RESTORE"):
		return p.restore()
	case first && (t.Kind == Word && !t.Keyword() || t.Kind == QuotedName):
		// A procedure called by name as the first statement of a batch needs no EXEC.
		return p.exec(t.Pos)
	}
	return nil, p.errorf(t, "unsupported statement starting with %q", t.Text)
}

// restore reads RESTORE DATABASE name FROM devices [WITH options] or RESTORE VERIFYONLY FROM
// devices [WITH options]; other RESTORE forms are refused.
func (p *parser) restore() (*RestoreStatement, error) {
	st := &RestoreStatement{Pos: p.next().Pos}
	switch t := p.peek(); {
	case p.accept("DATABASE"):
		st.What = "DATABASE"
		if v := p.peek(); v.Kind == Variable {
			p.next()
			st.DatabaseVar = v.Value
		} else {
			id, err := p.ident("a database name")
			if err != nil {
				return nil, err
			}
			st.Database = id
		}
	case p.accept("VERIFYONLY"):
		st.What = "VERIFYONLY"
	default:
		return nil, p.errorf(t, "RESTORE %s is not supported (only RESTORE DATABASE and RESTORE VERIFYONLY)", t.Text)
	}
	if _, err := p.expect("FROM"); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !t.Is("DISK") && !t.Is("TAPE") && !t.Is("URL") {
			return nil, p.unexpected(t, "DISK, TAPE or URL")
		}
		p.next()
		if _, err := p.expect("="); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		st.Devices = append(st.Devices, &RestoreDevice{Type: strings.ToUpper(t.Text), Value: v, Pos: t.Pos})
		if !p.accept(",") {
			break
		}
	}
	if p.accept("WITH") {
		for {
			t := p.peek()
			if t.Kind != Word {
				return nil, p.unexpected(t, "a RESTORE option")
			}
			p.next()
			o := &RestoreOption{Name: strings.ToUpper(t.Text), Pos: t.Pos}
			if p.accept("=") {
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				o.Value = v
			}
			st.Options = append(st.Options, o)
			if !p.accept(",") {
				break
			}
		}
	}
	if !p.atBoundary() {
		return nil, p.unexpected(p.peek(), "',' or the end of the RESTORE statement")
	}
	return st, nil
}

func (p *parser) ident(what string) (Ident, error) {
	t := p.peek()
	switch {
	case t.Kind == QuotedName:
		p.next()
		return Ident{Name: t.Value, Quoted: true, Pos: t.Pos}, nil
	case t.Kind == Word && !t.Keyword():
		p.next()
		return Ident{Name: t.Value, Pos: t.Pos}, nil
	}
	return Ident{}, p.unexpected(t, what)
}

// name reads a multi-part name; empty middle parts (db..obj) are allowed. Reserved words are
// accepted as parts after a dot (sys.objects, dbo.[order]) but not first.
func (p *parser) name(what string) (*ObjectName, error) {
	first, err := p.ident(what)
	if err != nil {
		return nil, err
	}
	n := &ObjectName{Parts: []Ident{first}}
	for p.peek().Is(".") && !p.peekN(1).Is("*") {
		dot := p.next()
		for p.peek().Is(".") { // db..obj
			n.Parts = append(n.Parts, Ident{Pos: dot.Pos})
			dot = p.next()
		}
		t := p.peek()
		switch t.Kind {
		case Word, QuotedName:
			p.next()
			n.Parts = append(n.Parts, Ident{Name: t.Value, Quoted: t.Kind == QuotedName, Pos: t.Pos})
		default:
			return nil, p.unexpected(t, "a name after '.'")
		}
		if len(n.Parts) > 4 {
			return nil, p.errorf(t, "%q has more than four parts", n.String())
		}
	}
	return n, nil
}

// ---------------------------------------------------------------------------------------------
// SELECT.

func (p *parser) selectStatement() (*SelectStatement, error) {
	st := &SelectStatement{Pos: p.peek().Pos}
	if p.accept("WITH") {
		for {
			c, err := p.cte()
			if err != nil {
				return nil, err
			}
			st.With = append(st.With, c)
			if !p.accept(",") {
				break
			}
		}
	}
	q, err := p.queryExpr()
	if err != nil {
		return nil, err
	}
	st.Query = q
	switch q := q.(type) {
	case *Select:
		st.OrderBy = q.OrderBy
	case *SetOp:
		// ORDER BY after a set operation sorts the whole result: move it off the last query.
		last := q
		for {
			r, ok := last.Right.(*SetOp)
			if !ok {
				break
			}
			last = r
		}
		if sel, ok := last.Right.(*Select); ok && sel.OrderBy != nil {
			st.OrderBy, sel.OrderBy = sel.OrderBy, nil
		}
	}
	return st, nil
}

func (p *parser) cte() (*CTE, error) {
	name, err := p.ident("a common table expression name")
	if err != nil {
		return nil, err
	}
	c := &CTE{Name: name}
	if p.accept("(") {
		if c.Columns, err = p.identList(); err != nil {
			return nil, err
		}
	}
	if _, err := p.expect("AS"); err != nil {
		return nil, err
	}
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	if c.Query, err = p.queryExpr(); err != nil {
		return nil, err
	}
	if _, err := p.expect(")"); err != nil {
		return nil, err
	}
	return c, nil
}

// identList reads ident {, ident} ) after an opening parenthesis.
func (p *parser) identList() ([]Ident, error) {
	var out []Ident
	for {
		id, err := p.ident("a column name")
		if err != nil {
			return nil, err
		}
		out = append(out, id)
		if p.accept(")") {
			return out, nil
		}
		if _, err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

func (p *parser) queryExpr() (QueryExpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.queryTerm()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var op string
		switch {
		case t.Is("UNION"):
			op = "UNION"
		case t.Is("EXCEPT"):
			op = "EXCEPT"
		case t.Is("INTERSECT"):
			op = "INTERSECT"
		default:
			return left, nil
		}
		p.next()
		all := p.accept("ALL")
		right, err := p.queryTerm()
		if err != nil {
			return nil, err
		}
		left = &SetOp{Op: op, All: all, Left: left, Right: right, Pos: t.Pos}
	}
}

func (p *parser) queryTerm() (QueryExpr, error) {
	if p.peek().Is("(") {
		p.next()
		q, err := p.queryExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return q, nil
	}
	return p.selectQuery()
}

func (p *parser) selectQuery() (*Select, error) {
	t, err := p.expect("SELECT")
	if err != nil {
		return nil, err
	}
	s := &Select{Pos: t.Pos}
	if p.accept("DISTINCT") {
		s.Distinct = true
	} else {
		p.accept("ALL")
	}
	if p.accept("TOP") {
		top := &Top{}
		if p.accept("(") {
			if top.Count, err = p.expr(); err != nil {
				return nil, err
			}
			if _, err := p.expect(")"); err != nil {
				return nil, err
			}
		} else {
			n := p.peek()
			if n.Kind != Number && n.Kind != Variable {
				return nil, p.unexpected(n, "a row count after TOP")
			}
			if top.Count, err = p.primary(); err != nil {
				return nil, err
			}
		}
		top.Percent = p.accept("PERCENT")
		if p.peek().Is("WITH") && p.peekN(1).Is("TIES") {
			p.next()
			p.next()
			top.WithTies = true
		}
		s.Top = top
	}
	for {
		it, err := p.selectItem()
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, it)
		if !p.accept(",") {
			break
		}
	}
	if p.peek().Is("INTO") {
		return nil, p.errorf(p.peek(), "SELECT … INTO is not supported")
	}
	if p.accept("FROM") {
		for {
			src, err := p.tableSource()
			if err != nil {
				return nil, err
			}
			s.From = append(s.From, src)
			if !p.accept(",") {
				break
			}
		}
	}
	if p.accept("WHERE") {
		if s.Where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.peek().Is("GROUP") {
		p.next()
		if _, err := p.expect("BY"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			s.GroupBy = append(s.GroupBy, e)
			if !p.accept(",") {
				break
			}
		}
	}
	if p.accept("HAVING") {
		if s.Having, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.peek().Is("ORDER") {
		if s.OrderBy, err = p.orderBy(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.Is("OPTION") || t.Is("FOR") {
		return nil, p.errorf(t, "%s clauses are not supported", strings.ToUpper(t.Text))
	}
	return s, nil
}

func (p *parser) orderBy() ([]*OrderItem, error) {
	if _, err := p.expect("ORDER"); err != nil {
		return nil, err
	}
	if _, err := p.expect("BY"); err != nil {
		return nil, err
	}
	var out []*OrderItem
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		it := &OrderItem{Expr: e}
		if p.accept("DESC") {
			it.Desc = true
		} else {
			p.accept("ASC")
		}
		out = append(out, it)
		if !p.accept(",") {
			return out, nil
		}
	}
}

func (p *parser) selectItem() (*SelectItem, error) {
	t := p.peek()
	it := &SelectItem{Pos: t.Pos}
	// @var = expr assigns; alias = expr names the column.
	if n := p.peekN(1); n.Is("=") {
		switch {
		case t.Kind == Variable:
			p.next()
			p.next()
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			it.Assign, it.Expr = t.Value, e
			return it, nil
		case t.Kind == QuotedName || t.Kind == String || t.Kind == Word && !t.Keyword():
			p.next()
			p.next()
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			it.Alias, it.Expr = t.Value, e
			return it, nil
		}
	}
	if t.Is("*") {
		p.next()
		it.Expr = &Star{Pos: t.Pos}
		return it, nil
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	it.Expr = e
	if _, star := e.(*Star); star {
		return it, nil
	}
	if p.accept("AS") {
		a := p.peek()
		switch a.Kind {
		case Word, QuotedName, String:
			p.next()
			it.Alias = a.Value
		default:
			return nil, p.unexpected(a, "a column alias after AS")
		}
		return it, nil
	}
	if a := p.peek(); a.Kind == QuotedName || a.Kind == String || a.Kind == Word && p.aliasable(a) {
		p.next()
		it.Alias = a.Value
	}
	return it, nil
}

// notAlias are unreserved words that still cannot follow a name as its alias.
var notAlias = map[string]bool{"APPLY": true, "GO": true, "WINDOW": true, "TIES": true}

func (p *parser) aliasable(t Token) bool {
	return t.Kind == Word && !t.Keyword() && !notAlias[strings.ToUpper(t.Text)] && !startsStatement(t)
}

// alias reads an optional [AS] alias after a table source.
func (p *parser) alias() (string, error) {
	if p.accept("AS") {
		t := p.peek()
		if t.Kind == QuotedName || t.Kind == Word {
			p.next()
			return t.Value, nil
		}
		return "", p.unexpected(t, "an alias after AS")
	}
	if t := p.peek(); t.Kind == QuotedName || p.aliasable(t) {
		p.next()
		return t.Value, nil
	}
	return "", nil
}

func (p *parser) tableSource() (TableSource, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.primarySource()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var kind JoinKind
		switch {
		case t.Is("JOIN"):
			p.next()
			kind = InnerJoin
		case t.Is("INNER"):
			p.next()
			if _, err := p.expect("JOIN"); err != nil {
				return nil, err
			}
			kind = InnerJoin
		case t.Is("LEFT"), t.Is("RIGHT"), t.Is("FULL"):
			p.next()
			p.accept("OUTER")
			if _, err := p.expect("JOIN"); err != nil {
				return nil, err
			}
			kind = map[string]JoinKind{"LEFT": LeftJoin, "RIGHT": RightJoin, "FULL": FullJoin}[strings.ToUpper(t.Text)]
		case t.Is("CROSS"):
			p.next()
			switch {
			case p.accept("JOIN"):
				kind = CrossJoin
			case p.accept("APPLY"):
				kind = CrossApply
			default:
				return nil, p.unexpected(p.peek(), "JOIN or APPLY after CROSS")
			}
		case t.Is("OUTER"):
			p.next()
			if _, err := p.expect("APPLY"); err != nil {
				return nil, err
			}
			kind = OuterApply
		default:
			return left, nil
		}
		right, err := p.primarySource()
		if err != nil {
			return nil, err
		}
		j := &Join{Kind: kind, Left: left, Right: right, Pos: t.Pos}
		if kind != CrossJoin && kind != CrossApply && kind != OuterApply {
			if _, err := p.expect("ON"); err != nil {
				return nil, err
			}
			if j.On, err = p.expr(); err != nil {
				return nil, err
			}
		}
		left = j
	}
}

func (p *parser) primarySource() (TableSource, error) {
	t := p.peek()
	if t.Is("(") {
		if n := p.peekN(1); n.Is("SELECT") || n.Is("WITH") || n.Is("(") && p.peekN(2).Is("SELECT") {
			p.next()
			q, err := p.queryExpr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(")"); err != nil {
				return nil, err
			}
			d := &DerivedTable{Query: q, Pos: t.Pos}
			if d.Alias, err = p.alias(); err != nil {
				return nil, err
			}
			if d.Alias == "" {
				return nil, p.unexpected(p.peek(), "an alias for the derived table")
			}
			if p.accept("(") {
				if d.Columns, err = p.identList(); err != nil {
					return nil, err
				}
			}
			return d, nil
		}
		p.next()
		src, err := p.tableSource()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return src, nil
	}
	name, err := p.name("a table name")
	if err != nil {
		return nil, err
	}
	if p.peek().Is("(") {
		call, err := p.call(name, t)
		if err != nil {
			return nil, err
		}
		f := &FunctionTable{Call: call, Pos: t.Pos}
		if f.Alias, err = p.alias(); err != nil {
			return nil, err
		}
		return f, nil
	}
	ref := &TableRef{Name: name, Pos: t.Pos}
	if ref.Alias, err = p.alias(); err != nil {
		return nil, err
	}
	if p.peek().Is("WITH") && p.peekN(1).Is("(") {
		p.next()
		p.next()
		for {
			h, err := p.ident("a table hint")
			if err != nil {
				return nil, err
			}
			ref.Hints = append(ref.Hints, strings.ToUpper(h.Name))
			if p.accept(")") {
				break
			}
			if _, err := p.expect(","); err != nil {
				return nil, err
			}
		}
	}
	return ref, nil
}

// ---------------------------------------------------------------------------------------------
// Other statements.

func (p *parser) declare() (*DeclareStatement, error) {
	t := p.next()
	d := &DeclareStatement{Pos: t.Pos}
	for {
		v := p.peek()
		if v.Kind != Variable {
			return nil, p.unexpected(v, "a variable name")
		}
		p.next()
		p.accept("AS")
		typ, err := p.dataType()
		if err != nil {
			return nil, err
		}
		decl := &VarDecl{Name: v.Value, Type: typ, Pos: v.Pos}
		if p.accept("=") {
			if decl.Value, err = p.expr(); err != nil {
				return nil, err
			}
		}
		d.Vars = append(d.Vars, decl)
		if !p.accept(",") {
			return d, nil
		}
	}
}

func (p *parser) dataType() (*DataType, error) {
	t := p.peek()
	if t.Is("TABLE") {
		return nil, p.errorf(t, "table variables are not supported")
	}
	id, err := p.ident("a data type")
	if err != nil {
		return nil, err
	}
	d := &DataType{Name: id.Name, Pos: id.Pos}
	if p.accept("(") {
		for {
			a := p.peek()
			switch {
			case a.Kind == Number, a.Is("MAX"):
				p.next()
				d.Args = append(d.Args, strings.ToLower(a.Text))
			default:
				return nil, p.unexpected(a, "a length, precision or MAX")
			}
			if p.accept(")") {
				break
			}
			if _, err := p.expect(","); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

func (p *parser) exec(pos Pos) (*ExecStatement, error) {
	e := &ExecStatement{Pos: pos}
	if v := p.peek(); v.Kind == Variable {
		if !p.peekN(1).Is("=") {
			return nil, p.errorf(v, "EXEC of a procedure named by a variable is not supported")
		}
		p.next()
		p.next()
		e.ReturnVar = v.Value
	}
	if p.peek().Is("(") {
		return nil, p.errorf(p.peek(), "EXEC of a dynamic string is not supported")
	}
	name, err := p.name("a procedure name")
	if err != nil {
		return nil, err
	}
	e.Proc = name
	if p.atBoundary() {
		return e, nil
	}
	for {
		a := &ExecArg{Pos: p.peek().Pos}
		if v := p.peek(); v.Kind == Variable && p.peekN(1).Is("=") {
			p.next()
			p.next()
			a.Name = v.Value
		}
		if p.accept("DEFAULT") {
			a.Default = true
		} else {
			val, err := p.expr()
			if err != nil {
				return nil, err
			}
			a.Value = val
		}
		if p.accept("OUTPUT") || p.accept("OUT") {
			a.Output = true
		}
		e.Args = append(e.Args, a)
		if !p.accept(",") {
			break
		}
	}
	if !p.atBoundary() {
		return nil, p.unexpected(p.peek(), "',' or the end of the EXEC statement")
	}
	return e, nil
}

func (p *parser) set() (*SetStatement, error) {
	t := p.next()
	s := &SetStatement{Pos: t.Pos}
	if v := p.peek(); v.Kind == Variable {
		p.next()
		op := p.peek()
		switch op.Text {
		case "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=":
			p.next()
		default:
			return nil, p.unexpected(op, "'=' after the variable")
		}
		val, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.Var, s.Op, s.Value = v.Value, op.Text, val
		return s, nil
	}
	var words []string
	for !p.atBoundary() {
		w := p.next()
		words = append(words, strings.ToUpper(w.Text))
	}
	if len(words) < 2 {
		return nil, p.errorf(t, "SET needs an option and a value")
	}
	s.Option, s.OptionValue = strings.Join(words[:len(words)-1], " "), words[len(words)-1]
	return s, nil
}

func (p *parser) ifStatement() (*IfStatement, error) {
	t := p.next()
	s := &IfStatement{Pos: t.Pos}
	var err error
	if s.Cond, err = p.expr(); err != nil {
		return nil, err
	}
	if s.Then, err = p.statement(false); err != nil {
		return nil, err
	}
	for p.peek().Is(";") && p.peekN(1).Is("ELSE") {
		p.next()
	}
	if p.accept("ELSE") {
		if s.Else, err = p.statement(false); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (p *parser) block() (*BlockStatement, error) {
	t := p.next()
	if n := p.peek(); n.Is("TRAN") || n.Is("TRANSACTION") || n.Is("TRY") || n.Is("CATCH") || n.Is("DISTRIBUTED") {
		return nil, p.errorf(n, "BEGIN %s is not supported", strings.ToUpper(n.Text))
	}
	b := &BlockStatement{Pos: t.Pos}
	for {
		for p.accept(";") {
		}
		if p.accept("END") {
			return b, nil
		}
		if p.peek().Kind == EOF {
			return nil, p.unexpected(p.peek(), "END")
		}
		st, err := p.statement(false)
		if err != nil {
			return nil, err
		}
		b.Statements = append(b.Statements, st)
	}
}

// ---------------------------------------------------------------------------------------------
// Expressions.

func (p *parser) expr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.or()
}

func (p *parser) or() (Expr, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().Is("OR") {
		t := p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &Binary{Op: "OR", Left: left, Right: right, Pos: t.Pos}
	}
	return left, nil
}

func (p *parser) and() (Expr, error) {
	left, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek().Is("AND") {
		t := p.next()
		right, err := p.not()
		if err != nil {
			return nil, err
		}
		left = &Binary{Op: "AND", Left: left, Right: right, Pos: t.Pos}
	}
	return left, nil
}

func (p *parser) not() (Expr, error) {
	if t := p.peek(); t.Is("NOT") {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &Unary{Op: "NOT", X: x, Pos: t.Pos}, nil
	}
	return p.predicate()
}

var comparisons = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, ">": true, "<=": true, ">=": true, "!<": true, "!>": true}

func (p *parser) predicate() (Expr, error) {
	if t := p.peek(); t.Is("EXISTS") {
		p.next()
		if _, err := p.expect("("); err != nil {
			return nil, err
		}
		q, err := p.queryExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return &Exists{Query: q, Pos: t.Pos}, nil
	}
	left, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.Kind == Op && comparisons[t.Text]:
		p.next()
		right, err := p.additive()
		if err != nil {
			return nil, err
		}
		return &Binary{Op: t.Text, Left: left, Right: right, Pos: t.Pos}, nil
	case t.Is("IS"):
		p.next()
		not := p.accept("NOT")
		if _, err := p.expect("NULL"); err != nil {
			return nil, err
		}
		return &IsNull{X: left, Not: not, Pos: t.Pos}, nil
	}
	not := false
	if t.Is("NOT") {
		if n := p.peekN(1); n.Is("IN") || n.Is("BETWEEN") || n.Is("LIKE") {
			p.next()
			not = true
			t = p.peek()
		}
	}
	switch {
	case t.Is("IN"):
		p.next()
		if _, err := p.expect("("); err != nil {
			return nil, err
		}
		in := &In{X: left, Not: not, Pos: t.Pos}
		if n := p.peek(); n.Is("SELECT") || n.Is("WITH") {
			if in.Query, err = p.queryExpr(); err != nil {
				return nil, err
			}
		} else {
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				in.List = append(in.List, e)
				if !p.accept(",") {
					break
				}
			}
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return in, nil
	case t.Is("BETWEEN"):
		p.next()
		lo, err := p.additive()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect("AND"); err != nil {
			return nil, err
		}
		hi, err := p.additive()
		if err != nil {
			return nil, err
		}
		return &Between{X: left, Lo: lo, Hi: hi, Not: not, Pos: t.Pos}, nil
	case t.Is("LIKE"):
		p.next()
		pat, err := p.additive()
		if err != nil {
			return nil, err
		}
		l := &Like{X: left, Pattern: pat, Not: not, Pos: t.Pos}
		if p.accept("ESCAPE") {
			if l.Escape, err = p.additive(); err != nil {
				return nil, err
			}
		}
		return l, nil
	}
	return left, nil
}

func (p *parser) additive() (Expr, error) {
	left, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.Kind != Op || !strings.Contains("+-&|^", t.Text) || len(t.Text) != 1 {
			return left, nil
		}
		p.next()
		right, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		left = &Binary{Op: t.Text, Left: left, Right: right, Pos: t.Pos}
	}
}

func (p *parser) multiplicative() (Expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.Kind != Op || (t.Text != "*" && t.Text != "/" && t.Text != "%") {
			return left, nil
		}
		p.next()
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &Binary{Op: t.Text, Left: left, Right: right, Pos: t.Pos}
	}
}

func (p *parser) unary() (Expr, error) {
	t := p.peek()
	if t.Kind == Op && (t.Text == "-" || t.Text == "+" || t.Text == "~") {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Unary{Op: t.Text, X: x, Pos: t.Pos}, nil
	}
	return p.primary()
}

// niladic are functions called without parentheses.
var niladic = map[string]bool{"CURRENT_TIMESTAMP": true, "CURRENT_USER": true, "SESSION_USER": true, "SYSTEM_USER": true,
	"USER": true, "CURRENT_DATE": true}

// dateFuncs take a datepart keyword as their first argument.
var dateFuncs = map[string]bool{"DATEADD": true, "DATEDIFF": true, "DATEDIFF_BIG": true, "DATEPART": true, "DATENAME": true,
	"DATETRUNC": true, "DATE_BUCKET": true}

// keywordFuncs are reserved words that are also function names.
var keywordFuncs = map[string]bool{"LEFT": true, "RIGHT": true, "NULLIF": true, "COALESCE": true}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch t.Kind {
	case Number:
		p.next()
		k := NumberLit
		if strings.HasPrefix(strings.ToLower(t.Text), "0x") {
			k = BinaryLit
		}
		return &Literal{Kind: k, Value: t.Text, Pos: t.Pos}, nil
	case String:
		p.next()
		return &Literal{Kind: StringLit, Value: t.Value, National: t.National, Pos: t.Pos}, nil
	case Variable, SystemVariable:
		p.next()
		return &VariableRef{Name: t.Value, System: t.Kind == SystemVariable, Pos: t.Pos}, nil
	case EOF:
		return nil, p.unexpected(t, "an expression")
	}
	up := strings.ToUpper(t.Text)
	switch {
	case t.Is("("):
		p.next()
		if n := p.peek(); n.Is("SELECT") || n.Is("WITH") {
			q, err := p.queryExpr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(")"); err != nil {
				return nil, err
			}
			return &Subquery{Query: q, Pos: t.Pos}, nil
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		return &Paren{X: x, Pos: t.Pos}, nil
	case t.Is("*"):
		p.next()
		return &Star{Pos: t.Pos}, nil
	case t.Is("NULL"):
		p.next()
		return &Literal{Kind: NullLit, Value: "NULL", Pos: t.Pos}, nil
	case t.Is("CASE"):
		return p.caseExpr()
	case t.Kind == Word && (up == "CAST" || up == "TRY_CAST") && p.peekN(1).Is("("):
		return p.cast()
	case t.Kind == Word && (up == "CONVERT" || up == "TRY_CONVERT") && p.peekN(1).Is("("):
		return p.convert()
	case t.Kind == Word && niladic[up] && !p.peekN(1).Is("("):
		p.next()
		return &FuncCall{Name: &ObjectName{Parts: []Ident{{Name: t.Text, Pos: t.Pos}}}, Pos: t.Pos}, nil
	case t.Kind == Word && keywordFuncs[up] && p.peekN(1).Is("("):
		p.next()
		return p.call(&ObjectName{Parts: []Ident{{Name: t.Text, Pos: t.Pos}}}, t)
	case t.Kind == QuotedName, t.Kind == Word && !t.Keyword():
		return p.nameExpr()
	}
	return nil, p.unexpected(t, "an expression")
}

// nameExpr reads a column reference, qualifier.*, or a function call.
func (p *parser) nameExpr() (Expr, error) {
	t := p.peek()
	var parts []Ident
	for {
		n := p.next()
		parts = append(parts, Ident{Name: n.Value, Quoted: n.Kind == QuotedName, Pos: n.Pos})
		if !p.peek().Is(".") {
			break
		}
		dot := p.next()
		nt := p.peek()
		switch {
		case nt.Is("*"):
			p.next()
			return &Star{Qualifier: parts, Pos: t.Pos}, nil
		case nt.Kind == Word || nt.Kind == QuotedName:
		default:
			return nil, p.unexpected(nt, "a name after '.'")
		}
		if len(parts) >= 4 {
			return nil, p.errorf(dot, "a name has at most four parts")
		}
	}
	if p.peek().Is("(") {
		return p.call(&ObjectName{Parts: parts}, t)
	}
	return &ColumnRef{Parts: parts}, nil
}

// call reads the argument list of a function after its name.
func (p *parser) call(name *ObjectName, at Token) (*FuncCall, error) {
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	f := &FuncCall{Name: name, Pos: at.Pos}
	fn := strings.ToUpper(name.Object())
	switch {
	case p.accept(")"):
	case p.peek().Is("*") && p.peekN(1).Is(")"):
		p.next()
		p.next()
		f.Star = true
	default:
		if p.accept("DISTINCT") {
			f.Distinct = true
		} else {
			p.accept("ALL")
		}
		if dateFuncs[fn] && len(name.Parts) == 1 {
			d := p.peek()
			if d.Kind != Word {
				return nil, p.unexpected(d, "a datepart")
			}
			p.next()
			f.Args = append(f.Args, &DatePart{Name: strings.ToLower(d.Text), Pos: d.Pos})
			if !p.peek().Is(")") {
				if _, err := p.expect(","); err != nil {
					return nil, err
				}
			}
		}
		for !p.peek().Is(")") {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			f.Args = append(f.Args, e)
			if !p.accept(",") {
				break
			}
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	if p.peek().Is("OVER") {
		p.next()
		if _, err := p.expect("("); err != nil {
			return nil, err
		}
		over := &Over{}
		if p.peek().Is("PARTITION") {
			p.next()
			if _, err := p.expect("BY"); err != nil {
				return nil, err
			}
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				over.PartitionBy = append(over.PartitionBy, e)
				if !p.accept(",") {
					break
				}
			}
		}
		if p.peek().Is("ORDER") {
			var err error
			if over.OrderBy, err = p.orderBy(); err != nil {
				return nil, err
			}
		}
		if _, err := p.expect(")"); err != nil {
			return nil, err
		}
		f.Over = over
	}
	return f, nil
}

func (p *parser) cast() (Expr, error) {
	t := p.next()
	p.next() // (
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect("AS"); err != nil {
		return nil, err
	}
	typ, err := p.dataType()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(")"); err != nil {
		return nil, err
	}
	return &Cast{X: x, Type: typ, Func: strings.ToUpper(t.Text), Pos: t.Pos}, nil
}

func (p *parser) convert() (Expr, error) {
	t := p.next()
	p.next() // (
	typ, err := p.dataType()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(","); err != nil {
		return nil, err
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	c := &Cast{X: x, Type: typ, Func: strings.ToUpper(t.Text), Pos: t.Pos}
	if p.accept(",") {
		if c.Style, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if _, err := p.expect(")"); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) caseExpr() (Expr, error) {
	t := p.next()
	c := &Case{Pos: t.Pos}
	var err error
	if p.peek().Is("END") {
		return nil, p.unexpected(p.peek(), "WHEN")
	}
	if !p.peek().Is("WHEN") {
		if c.Operand, err = p.expr(); err != nil {
			return nil, err
		}
	}
	for p.accept("WHEN") {
		w := &When{}
		if w.Cond, err = p.expr(); err != nil {
			return nil, err
		}
		if _, err := p.expect("THEN"); err != nil {
			return nil, err
		}
		if w.Result, err = p.expr(); err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, w)
	}
	if len(c.Whens) == 0 {
		return nil, p.unexpected(p.peek(), "WHEN")
	}
	if p.accept("ELSE") {
		if c.Else, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if _, err := p.expect("END"); err != nil {
		return nil, err
	}
	return c, nil
}

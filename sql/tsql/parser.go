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
	// server reads a batch as SQL Server does (ParseBatch): GO is an identifier, not a separator.
	server bool
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

// unexpected is the error for a token the grammar does not allow where it is: a syntax error
// naming it (or, at the end of the text, the last token), or Unsupported when it begins T-SQL this
// package does not read.
func (p *parser) unexpected(t Token, want string) error {
	got := fmt.Sprintf("%q", t.Text)
	e := &Error{Pos: t.Pos, Near: nearText(t), NearKeyword: t.Keyword()}
	if t.Kind == EOF {
		got = "the end of the text"
		e.Near, e.NearKeyword = "", false
		if n := len(p.toks); n >= 2 {
			e.Near = nearText(p.toks[n-2])
		}
	}
	if (t.Kind == Word || t.Kind == Op) && featureWords[strings.ToUpper(t.Text)] {
		e.Kind = Unsupported
	}
	e.Msg = fmt.Sprintf("expected %s, found %s", want, got)
	return e
}

// nearText is a token as SQL Server names it in "Incorrect syntax near '%.*ls'.": a string's or
// quoted name's content, any other token as written.
func nearText(t Token) string {
	if t.Kind == String || t.Kind == QuotedName {
		return t.Value
	}
	return t.Text
}

// errorf is a syntax error at t.
func (p *parser) errorf(t Token, format string, args ...any) error {
	return &Error{Pos: t.Pos, Msg: fmt.Sprintf(format, args...), Near: nearText(t), NearKeyword: t.Keyword()}
}

// unsupportedf is an error for T-SQL this package does not read.
func (p *parser) unsupportedf(t Token, format string, args ...any) error {
	return &Error{Pos: t.Pos, Msg: fmt.Sprintf(format, args...), Kind: Unsupported, Near: nearText(t)}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.unsupportedf(p.peek(), "nesting deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// statementStarts are the words that begin a statement; an EXEC's argument list or an alias
// stops before them.
var statementStarts = map[string]bool{"SELECT": true, "WITH": true, "DECLARE": true, "EXEC": true, "EXECUTE": true,
	"SET": true, "USE": true, "IF": true, "BEGIN": true, "END": true, "PRINT": true, "ELSE": true, "GO": true,
	"RETURN": true, "INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "CREATE": true, "ALTER": true,
	"DROP": true, "TRUNCATE": true, "GRANT": true, "REVOKE": true, "DENY": true, "WHILE": true, "RESTORE": true,
	"COMMIT": true, "ROLLBACK": true, "SAVE": true, "RAISERROR": true, "THROW": true}

// startsStatement reports a word that begins a statement. GO does only for the tools' scripts
// (Parse), not in a batch as the server reads it (ParseBatch).
func (p *parser) startsStatement(t Token) bool {
	return t.Kind == Word && statementStarts[strings.ToUpper(t.Text)] && !(p.server && t.Is("GO"))
}

// atBoundary reports the end of a statement: end of text, ';' or a word that starts the next.
func (p *parser) atBoundary() bool {
	t := p.peek()
	return t.Kind == EOF || t.Is(";") || p.startsStatement(t)
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
		start := p.peek().Pos.Offset
		st, err := p.statement(first)
		if err != nil {
			return nil, err
		}
		first = false
		s.Statements = append(s.Statements, st)
		end := start
		if p.i > 0 {
			last := p.toks[p.i-1]
			end = max(start, last.Pos.Offset+len(last.Text))
		}
		s.Spans = append(s.Spans, Span{Start: start, End: end})
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
	case t.Is("BEGIN") && (p.peekN(1).Is("TRAN") || p.peekN(1).Is("TRANSACTION")),
		t.Is("COMMIT"), t.Is("ROLLBACK"), t.Is("SAVE"):
		return p.transaction()
	case t.Is("BEGIN"):
		return p.block()
	case t.Is("PRINT"):
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &PrintStatement{Value: e, Pos: t.Pos}, nil
	case t.Is("RAISERROR"):
		return p.raiserror()
	case t.Is("GO") && !p.server:
		p.next()
		return &GoStatement{Pos: t.Pos}, nil
	case t.Is("RESTORE"):
		return p.restore()
	case t.Is("INSERT"), t.Is("UPDATE"), t.Is("DELETE"), t.Is("MERGE"), t.Is("TRUNCATE"), t.Is("CREATE"),
		t.Is("ALTER"), t.Is("DROP"), t.Is("GRANT"), t.Is("REVOKE"), t.Is("DENY"):
		return p.modify()
	case first && (t.Kind == Word && !t.Keyword() || t.Kind == QuotedName):
		// A procedure called by name as the first statement of a batch needs no EXEC.
		return p.exec(t.Pos)
	case t.Kind == Word && unsupportedStatements[strings.ToUpper(t.Text)]:
		return nil, p.unsupportedf(t, "the %s statement is not supported", strings.ToUpper(t.Text))
	}
	return nil, p.unexpected(t, "a statement")
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
		return nil, p.unsupportedf(t, "RESTORE %s is not supported (only RESTORE DATABASE and RESTORE VERIFYONLY)", t.Text)
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
		return nil, p.unsupportedf(t, "table variables are not supported")
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
			return nil, p.unsupportedf(v, "EXEC of a procedure named by a variable is not supported")
		}
		p.next()
		p.next()
		e.ReturnVar = v.Value
	}
	if p.peek().Is("(") {
		return nil, p.unsupportedf(p.peek(), "EXEC of a dynamic string is not supported")
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
	if err := p.setOption(s); err != nil {
		return nil, err
	}
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
		return nil, p.unsupportedf(n, "BEGIN %s is not supported", strings.ToUpper(n.Text))
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

// commaList reads one item or more, separated by commas.
func commaList[T any](p *parser, item func() (T, error)) ([]T, error) {
	var out []T
	for {
		v, err := item()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if !p.accept(",") {
			break
		}
	}
	return out, nil
}

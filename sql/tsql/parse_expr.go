// Parsing expressions: logic, predicates, arithmetic, names, calls, CAST, CONVERT and CASE.

package tsql

import (
	"strings"
)

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
			var err error
			if over.PartitionBy, err = commaList(p, p.expr); err != nil {
				return nil, err
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

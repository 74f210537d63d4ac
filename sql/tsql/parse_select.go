// Parsing SELECT: queries, CTEs, select lists, ORDER BY, table sources and joins.

package tsql

import (
	"strings"
)

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
		return nil, p.unsupportedf(p.peek(), "SELECT … INTO is not supported")
	}
	if p.accept("FROM") {
		if s.From, err = commaList(p, p.tableSource); err != nil {
			return nil, err
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
		if s.GroupBy, err = commaList(p, p.expr); err != nil {
			return nil, err
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
		return nil, p.unsupportedf(t, "%s clauses are not supported", strings.ToUpper(t.Text))
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

// notAlias are unreserved words that still cannot follow a name as its alias (GO only in the
// tools' scripts: SQL Server reads SELECT 1 GO as a column named GO).
var notAlias = map[string]bool{"APPLY": true, "WINDOW": true, "TIES": true}

func (p *parser) aliasable(t Token) bool {
	return t.Kind == Word && !t.Keyword() && !notAlias[strings.ToUpper(t.Text)] && !p.startsStatement(t) &&
		!(t.Is("GO") && !p.server)
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

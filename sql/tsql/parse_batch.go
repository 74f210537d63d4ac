// Batches as SQL Server reads them: statement spans, the session statements (SET options,
// transactions), RAISERROR and the statements that write.

package tsql

import (
	"errors"
	"strings"
)

// Span is where a statement is in its batch: byte offsets of its first token and just past its
// last (a terminating ';' is not part of it).
type Span struct {
	Start, End int
}

// ParseBatch reads a batch as SQL Server receives it: statements follow each other with or
// without a ';' between them (a statement ends where the next statement's first keyword begins),
// and GO, which is a separator of the client tools (sqlcmd, SSMS) that never reaches the server
// ("GO is not a Transact-SQL statement; it's a command recognized by the sqlcmd and osql
// utilities", sql-docs docs/t-sql/language-elements/sql-server-utilities-statements-go.md), is an
// ordinary identifier: a column alias after a select list (SELECT 1 GO), the name of a procedure as
// the first statement, a syntax error elsewhere. Script.Spans gives each statement's text.
func ParseBatch(src string) (*Script, error) {
	toks, err := Tokenize(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, server: true}
	script, err := p.script()
	// An error at the end of the text is on the line of the last token (see unexpected), wherever
	// the grammar found it.
	var e *Error
	if n := len(toks); err != nil && errors.As(err, &e) && n >= 2 && e.Pos.Offset >= toks[n-1].Pos.Offset {
		e.Pos = toks[n-2].Pos
	}
	return script, err
}

// TransactionOp is what a transaction statement does.
type TransactionOp int

// Transaction statements (sql-docs docs/t-sql/language-elements/begin-transaction-transact-sql.md,
// commit-transaction-transact-sql.md, rollback-transaction-transact-sql.md,
// save-transaction-transact-sql.md).
const (
	BeginTransaction TransactionOp = iota + 1
	CommitTransaction
	RollbackTransaction
	SaveTransaction
)

// String is the statement as written.
func (o TransactionOp) String() string {
	switch o {
	case BeginTransaction:
		return "BEGIN TRANSACTION"
	case CommitTransaction:
		return "COMMIT TRANSACTION"
	case RollbackTransaction:
		return "ROLLBACK TRANSACTION"
	case SaveTransaction:
		return "SAVE TRANSACTION"
	}
	return "TransactionOp(?)"
}

// TransactionStatement is BEGIN TRAN [name], COMMIT [TRAN [name]] or COMMIT WORK, ROLLBACK [TRAN
// [name]] or ROLLBACK WORK, SAVE TRAN name.
type TransactionStatement struct {
	Op TransactionOp
	// Name is the transaction or savepoint name ("" when none); NameVar a variable holding it.
	Name, NameVar string
	Pos           Pos
}

// RaiseErrorStatement is RAISERROR (msg, severity, state [, args]) [WITH options]
// (sql-docs docs/t-sql/language-elements/raiserror-transact-sql.md).
type RaiseErrorStatement struct {
	// Message is a message string, a message number or a variable.
	Message         Expr
	Severity, State Expr
	Args            []Expr
	Options         []string // LOG, NOWAIT, SETERROR in capitals
	Pos             Pos
}

// ModifyStatement is a statement that writes: INSERT, UPDATE, DELETE, MERGE, TRUNCATE TABLE, or a
// CREATE, ALTER or DROP of an object, or a GRANT, REVOKE or DENY. Only what it writes to is read;
// the rest of the statement is skipped to where the next one begins.
type ModifyStatement struct {
	// Verb is INSERT, UPDATE, DELETE, MERGE, TRUNCATE, CREATE, ALTER, DROP, GRANT, REVOKE or DENY.
	Verb string
	// What is the kind of object a CREATE, ALTER, DROP or TRUNCATE names (TABLE, VIEW,
	// PROCEDURE, …; "" for the data statements).
	What string
	// Object is the table or object written to (nil when the statement names none this package
	// reads, e.g. GRANT).
	Object *ObjectName
	Pos    Pos
}

func (*TransactionStatement) stmt() {}
func (*RaiseErrorStatement) stmt()  {}
func (*ModifyStatement) stmt()      {}

// Position implements Node.
func (s *TransactionStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *RaiseErrorStatement) Position() Pos { return s.Pos }

// Position implements Node.
func (s *ModifyStatement) Position() Pos { return s.Pos }

// unsupportedStatements are T-SQL statements this package does not read; text starting with
// anything else that is no statement is a syntax error.
var unsupportedStatements = map[string]bool{"WHILE": true, "RETURN": true, "BACKUP": true, "DBCC": true, "KILL": true,
	"CHECKPOINT": true, "RECONFIGURE": true, "SHUTDOWN": true, "BULK": true, "OPEN": true, "FETCH": true, "CLOSE": true,
	"DEALLOCATE": true, "WAITFOR": true, "GOTO": true, "BREAK": true, "CONTINUE": true, "THROW": true, "SETUSER": true,
	"REVERT": true, "READTEXT": true, "WRITETEXT": true, "UPDATETEXT": true, "ENABLE": true, "DISABLE": true,
	"RECEIVE": true, "SEND": true, "GET": true, "MOVE": true, "END": true, "ELSE": true}

// featureWords begin T-SQL this package does not read: a parse that fails at one of them is
// Unsupported, not a syntax error.
var featureWords = map[string]bool{"COLLATE": true, "PIVOT": true, "UNPIVOT": true, "OFFSET": true, "FETCH": true,
	"OPTION": true, "FOR": true, "TABLESAMPLE": true, "WITHIN": true, "OUTPUT": true, "INTO": true, "AT": true,
	"CONTAINS": true, "FREETEXT": true, "CONTAINSTABLE": true, "FREETEXTTABLE": true, "OPENROWSET": true,
	"OPENQUERY": true, "OPENJSON": true, "OPENXML": true, "OPENDATASOURCE": true, "::": true, "WINDOW": true,
	"CURSOR": true, "TRY": true, "CATCH": true}

// transaction reads BEGIN/COMMIT/ROLLBACK/SAVE [TRAN|TRANSACTION|WORK] [name].
func (p *parser) transaction() (*TransactionStatement, error) {
	t := p.next()
	st := &TransactionStatement{Pos: t.Pos}
	tran := func() bool { return p.accept("TRAN") || p.accept("TRANSACTION") }
	named := false
	switch {
	case t.Is("BEGIN"):
		st.Op = BeginTransaction
		if !tran() {
			return nil, p.unexpected(p.peek(), "TRANSACTION")
		}
		named = true
	case t.Is("SAVE"):
		st.Op = SaveTransaction
		if !tran() {
			return nil, p.unexpected(p.peek(), "TRANSACTION")
		}
		if err := p.tranName(st); err != nil {
			return nil, err
		}
		return st, nil
	case t.Is("COMMIT"), t.Is("ROLLBACK"):
		st.Op = CommitTransaction
		if t.Is("ROLLBACK") {
			st.Op = RollbackTransaction
		}
		switch {
		case tran():
			named = true
		case p.accept("WORK"):
		}
	}
	if named && !p.atBoundary() && (p.peek().Kind == Variable || p.peek().Kind == QuotedName || p.peek().Kind == Word && !p.peek().Keyword()) {
		if err := p.tranName(st); err != nil {
			return nil, err
		}
	}
	if st.Op == BeginTransaction && p.peek().Is("WITH") && p.peekN(1).Is("MARK") {
		p.next()
		p.next()
		if p.peek().Kind == String {
			p.next()
		}
	}
	if st.Op == CommitTransaction && p.peek().Is("WITH") && p.peekN(1).Is("(") {
		return nil, p.unsupportedf(p.peek(), "COMMIT … WITH (DELAYED_DURABILITY) is not supported")
	}
	return st, nil
}

func (p *parser) tranName(st *TransactionStatement) error {
	if v := p.peek(); v.Kind == Variable {
		p.next()
		st.NameVar = v.Value
		return nil
	}
	id, err := p.ident("a transaction name")
	if err != nil {
		return err
	}
	st.Name = id.Name
	return nil
}

// raiserror reads RAISERROR ( msg , severity , state [ , argument ...] ) [ WITH option, ... ].
func (p *parser) raiserror() (*RaiseErrorStatement, error) {
	t := p.next()
	st := &RaiseErrorStatement{Pos: t.Pos}
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	args, err := commaList(p, p.expr)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(")"); err != nil {
		return nil, err
	}
	if len(args) < 3 {
		// RAISERROR needs a message, a severity and a state.
		return nil, p.unexpected(p.toks[p.i-1], "',' and the severity and state")
	}
	st.Message, st.Severity, st.State, st.Args = args[0], args[1], args[2], args[3:]
	if p.accept("WITH") {
		for {
			o := p.peek()
			up := strings.ToUpper(o.Text)
			if o.Kind != Word || (up != "LOG" && up != "NOWAIT" && up != "SETERROR") {
				return nil, p.unexpected(o, "LOG, NOWAIT or SETERROR")
			}
			p.next()
			st.Options = append(st.Options, up)
			if !p.accept(",") {
				break
			}
		}
	}
	return st, nil
}

// objectKinds are what CREATE, ALTER and DROP name before the object.
var objectKinds = map[string]bool{"TABLE": true, "VIEW": true, "PROCEDURE": true, "PROC": true, "FUNCTION": true,
	"TRIGGER": true, "INDEX": true, "SCHEMA": true, "DATABASE": true, "LOGIN": true, "USER": true, "ROLE": true,
	"SYNONYM": true, "TYPE": true, "SEQUENCE": true, "STATISTICS": true}

// modify reads a statement that writes: its verb and the object it writes to, then skips to where
// the next statement begins. Where a write statement ends is decided as SQL Server's grammar
// allows for what follows it: INSERT takes a SELECT, WITH, VALUES, EXEC or DEFAULT VALUES, UPDATE
// its SET, a MERGE runs to its required ';', a CREATE or ALTER of a module (procedure, function,
// view, trigger) runs to the end of the batch ("must be the first statement in a query batch",
// error 111); every other statement keyword at the outermost level begins the next statement.
func (p *parser) modify() (*ModifyStatement, error) {
	t := p.next()
	st := &ModifyStatement{Verb: strings.ToUpper(t.Text), Pos: t.Pos}
	if st.Verb == "EXECUTE" {
		st.Verb = "EXEC"
	}
	readName := func() error {
		n, err := p.name("an object name")
		if err != nil {
			return err
		}
		st.Object = n
		return nil
	}
	continues := map[string]bool{}
	toEnd, toSemicolon := false, false
	switch st.Verb {
	case "INSERT":
		p.accept("INTO")
		if err := readName(); err != nil {
			return nil, err
		}
		continues = map[string]bool{"SELECT": true, "WITH": true, "VALUES": true, "EXEC": true, "EXECUTE": true, "DEFAULT": true}
	case "UPDATE":
		if err := readName(); err != nil {
			return nil, err
		}
		continues = map[string]bool{"SET": true}
	case "DELETE":
		p.accept("FROM")
		if err := readName(); err != nil {
			return nil, err
		}
	case "MERGE":
		p.accept("INTO")
		if err := readName(); err != nil {
			return nil, err
		}
		toSemicolon = true
	case "TRUNCATE":
		if _, err := p.expect("TABLE"); err != nil {
			return nil, err
		}
		st.What = "TABLE"
		if err := readName(); err != nil {
			return nil, err
		}
	case "CREATE", "ALTER", "DROP":
		k := p.peek()
		for k.Is("UNIQUE") || k.Is("CLUSTERED") || k.Is("NONCLUSTERED") || k.Is("OR") || k.Is("ALTER") {
			p.next() // CREATE UNIQUE CLUSTERED INDEX, CREATE OR ALTER
			k = p.peek()
		}
		up := strings.ToUpper(k.Text)
		if k.Kind != Word || !objectKinds[up] {
			return nil, p.unsupportedf(k, "%s %s is not supported", st.Verb, k.Text)
		}
		p.next()
		if up == "PROC" {
			up = "PROCEDURE"
		}
		st.What = up
		if st.Verb == "DROP" && p.peek().Is("IF") && p.peekN(1).Is("EXISTS") {
			p.next()
			p.next()
		}
		if err := readName(); err != nil {
			return nil, err
		}
		switch up {
		case "PROCEDURE", "FUNCTION", "VIEW", "TRIGGER":
			toEnd = st.Verb != "DROP"
		}
	default: // GRANT, REVOKE, DENY
	}
	depth := 0
	var prev Token
	for {
		n := p.peek()
		up := strings.ToUpper(n.Text)
		setOp := prev.Is("UNION") || prev.Is("ALL") || prev.Is("EXCEPT") || prev.Is("INTERSECT")
		switch {
		case n.Kind == EOF:
			return st, nil
		case n.Is("("):
			depth++
		case n.Is(")"):
			depth--
		case toEnd:
		case n.Is(";"):
			if depth <= 0 {
				return st, nil
			}
		case toSemicolon:
		case depth <= 0 && p.startsStatement(n) && !continues[up] && !(setOp && n.Is("SELECT")):
			return st, nil
		case depth <= 0 && continues[up]:
			// The clause an INSERT or UPDATE takes comes once; a WITH is followed by its SELECT.
			continues = map[string]bool{}
			if up == "WITH" {
				continues["SELECT"] = true
			}
		}
		prev = p.next()
	}
}

// onOffOptions are the SET options that take ON or OFF (sql-docs
// docs/t-sql/statements/set-statements-transact-sql.md); NO_BROWSETABLE is the one ODBC and OLE DB
// drivers send that the page does not list. Several may be set at once: SET ANSI_NULLS,
// QUOTED_IDENTIFIER ON.
var onOffOptions = map[string]bool{"ANSI_DEFAULTS": true, "ANSI_NULL_DFLT_OFF": true, "ANSI_NULL_DFLT_ON": true,
	"ANSI_NULLS": true, "ANSI_PADDING": true, "ANSI_WARNINGS": true, "ARITHABORT": true, "ARITHIGNORE": true,
	"CONCAT_NULL_YIELDS_NULL": true, "CURSOR_CLOSE_ON_COMMIT": true, "FMTONLY": true, "FORCEPLAN": true,
	"IMPLICIT_TRANSACTIONS": true, "NOCOUNT": true, "NOEXEC": true, "NUMERIC_ROUNDABORT": true, "PARSEONLY": true,
	"QUOTED_IDENTIFIER": true, "REMOTE_PROC_TRANSACTIONS": true, "SHOWPLAN_ALL": true, "SHOWPLAN_TEXT": true,
	"SHOWPLAN_XML": true, "XACT_ABORT": true, "NO_BROWSETABLE": true}

// valueOptions are the SET options that take a value; the value is a number, a word, a string or
// a variable as each page says.
var valueOptions = map[string]bool{"DATEFIRST": true, "DATEFORMAT": true, "DEADLOCK_PRIORITY": true,
	"LOCK_TIMEOUT": true, "LANGUAGE": true, "QUERY_GOVERNOR_COST_LIMIT": true, "ROWCOUNT": true, "TEXTSIZE": true,
	"CONTEXT_INFO": true, "FIPS_FLAGGER": true}

// isolationLevels are SET TRANSACTION ISOLATION LEVEL's levels
// (docs/t-sql/statements/set-transaction-isolation-level-transact-sql.md).
var isolationLevels = []string{"READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SNAPSHOT", "SERIALIZABLE"}

// setOption reads a session option after SET: ON/OFF options (one or several), STATISTICS IO |
// TIME | PROFILE | XML ON|OFF, TRANSACTION ISOLATION LEVEL level, IDENTITY_INSERT table ON|OFF,
// OFFSETS keywords ON|OFF, or an option with a value.
func (p *parser) setOption(s *SetStatement) error {
	t := p.peek()
	if t.Kind != Word {
		return p.unexpected(t, "a SET option")
	}
	up := strings.ToUpper(t.Text)
	onOff := func() error {
		v := p.peek()
		if !v.Is("ON") && !v.Is("OFF") {
			return p.unexpected(v, "ON or OFF")
		}
		p.next()
		s.OptionValue = strings.ToUpper(v.Text)
		return nil
	}
	switch {
	case onOffOptions[up]:
		for {
			o := p.next()
			name := strings.ToUpper(o.Text)
			if o.Kind != Word || !onOffOptions[name] {
				return p.unknownOption(o)
			}
			s.Options = append(s.Options, name)
			if !p.accept(",") {
				break
			}
			if n := p.peek(); n.Kind != Word || !onOffOptions[strings.ToUpper(n.Text)] {
				return p.unknownOption(n)
			}
		}
		s.Option = s.Options[0]
		return onOff()
	case up == "STATISTICS":
		p.next()
		k := p.peek()
		ku := strings.ToUpper(k.Text)
		if ku != "IO" && ku != "TIME" && ku != "PROFILE" && ku != "XML" {
			return p.unexpected(k, "IO, TIME, PROFILE or XML")
		}
		p.next()
		s.Option = "STATISTICS " + ku
		s.Options = []string{s.Option}
		return onOff()
	case up == "TRANSACTION":
		p.next()
		for _, w := range []string{"ISOLATION", "LEVEL"} {
			if _, err := p.expect(w); err != nil {
				return err
			}
		}
		for _, lvl := range isolationLevels {
			words := strings.Fields(lvl)
			ok := true
			for k, w := range words {
				ok = ok && p.peekN(k).Is(w)
			}
			if ok {
				for range words {
					p.next()
				}
				s.Option, s.OptionValue = "TRANSACTION ISOLATION LEVEL", lvl
				s.Options = []string{s.Option}
				return nil
			}
		}
		return p.unexpected(p.peek(), "an isolation level")
	case up == "IDENTITY_INSERT" || up == "OFFSETS":
		p.next()
		s.Option = up
		s.Options = []string{up}
		if up == "IDENTITY_INSERT" {
			n, err := p.name("a table name")
			if err != nil {
				return err
			}
			s.Value = &ColumnRef{Parts: n.Parts}
		} else {
			for p.peek().Kind == Word && !p.peek().Is("ON") && !p.peek().Is("OFF") {
				p.next()
				p.accept(",")
			}
		}
		return onOff()
	case valueOptions[up]:
		p.next()
		s.Option = up
		s.Options = []string{up}
		v := p.peek()
		switch {
		case v.Kind == Word && !v.Keyword(), v.Kind == String, v.Is("OFF"):
			// DATEFORMAT mdy, DEADLOCK_PRIORITY LOW, LANGUAGE us_english, FIPS_FLAGGER 'ENTRY' | OFF.
			p.next()
			s.OptionValue = strings.ToUpper(v.Value)
			if v.Kind == String {
				s.Value = &Literal{Kind: StringLit, Value: v.Value, National: v.National, Pos: v.Pos}
			}
			return nil
		}
		e, err := p.additive() // a number (LOCK_TIMEOUT -1), a binary constant or a variable
		if err != nil {
			return err
		}
		s.Value = e
		s.OptionValue = strings.ToUpper(strings.TrimSpace(v.Text))
		if u, ok := e.(*Unary); ok {
			if l, ok := u.X.(*Literal); ok {
				s.OptionValue = u.Op + l.Value
			}
		}
		return nil
	}
	return p.unknownOption(t)
}

func (p *parser) unknownOption(t Token) error {
	if t.Kind == EOF || t.Kind != Word {
		return p.unexpected(t, "a SET option")
	}
	return &Error{Pos: t.Pos, Msg: "'" + t.Text + "' is not a recognized SET option", Kind: UnknownOption, Near: t.Text}
}

package tdssim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cutover/sql/tsql"
)

// A SQL batch is answered as SQL Server answers one. A batch whose whole text has a route (the
// documented queries a Router knows) goes to its handler as before. Any other batch is read with
// tsql.ParseBatch: split into statements where T-SQL's grammar ends them, with or without ';'. A
// syntax error anywhere fails the whole batch before anything runs, as SQL Server compiles a
// batch first (102 "Incorrect syntax near …", 156 at a keyword, 105, 113, 195), and so do the
// other compile errors the server finds (137 for a variable never declared, 911 for USE of a
// database that does not exist). Then each statement runs in order and its result goes out
// before the next runs: rows, and a DONE with the row count unless SET NOCOUNT ON, with DONE_MORE
// on every DONE but the last (MS-TDS 2.2.7.6).
//
// The server answers the session statements itself: SET options, USE (ENVCHANGE database and
// message 5701), BEGIN/COMMIT/ROLLBACK/SAVE TRANSACTION (the transaction the Transaction Manager
// requests keep), DECLARE and SET of local variables, PRINT and RAISERROR. A SELECT goes to its
// route when the statement's text has one, else to the ad hoc evaluator (adhoc.go), else to the
// handler; EXEC reaches the handler as the same procedure call an RPC makes; every other statement
// goes to the handler.
//
// An error ends its statement. Whether the batch goes on follows SQL Server: errors of name
// resolution (208, 207, 209, 4104, 40515) and those of class 20 or more end it, as does a
// statement the simulator has no answer for; run-time errors of a statement (2812, 229, 8134,
// RAISERROR, 3902 …) end only that statement, and the next one runs. What went out before stays.

// batch is one SQL batch being answered.
type batch struct {
	c      *conn
	r      *response
	req    *Request
	src    string
	script *tsql.Script
	vars   map[string]*variable // DECLAREd local variables, by lower-case name
	rows   int64                // @@ROWCOUNT
	// lastError is @@ERROR: the number of the last statement's error, 0 after one that succeeded.
	lastError int64
	// current is the statement running.
	current tsql.Statement
}

// variable is a local variable: its declared type and value.
type variable struct {
	name string
	typ  *tsql.DataType
	col  Column
	val  any
}

// outcome is how a statement ended: the DONE that closes it (without DONE_MORE), or errors.
type outcome struct {
	done doneToken
	errs []*Error
	// gone: the response already ended (ATTENTION, a dropped connection).
	gone bool
}

// runBatch answers a SQL batch.
func (c *conn) runBatch(r *response, req *Request) {
	if c.srv.cfg.DisableBuiltins {
		res, err := c.serveHandler(c.srv.handler, req)
		c.reply(r, req, res, err)
		return
	}
	if NormalizeSQL(req.SQL) == "select 1" { // db.Ping
		r.result(Rows([]Column{{Type: TypeInt}}, Row{int64(1)}))
		return
	}
	if h, ok := c.routed(req); ok {
		res, err := c.serveHandler(h, req)
		c.reply(r, req, res, err)
		return
	}
	script, err := tsql.ParseBatch(req.SQL)
	if err != nil {
		var te *tsql.Error
		if errors.As(err, &te) && te.Kind != tsql.Unsupported {
			errs := syntaxErrors(te)
			c.logFailure(req, errs)
			r.fail(errs, false)
			return
		}
		// T-SQL this server does not read: the handler has the last word on the whole batch.
		res, err := c.serveHandler(c.srv.handler, req)
		c.reply(r, req, res, err)
		return
	}
	b := &batch{c: c, r: r, req: req, src: req.SQL, script: script, vars: map[string]*variable{}}
	if errs := b.compile(); errs != nil {
		c.logFailure(req, errs)
		r.fail(errs, false)
		return
	}
	b.run()
}

// routed is the handler of a Router route matching req's whole text, if any.
func (c *conn) routed(req *Request) (HandlerFunc, bool) {
	rt, ok := c.srv.handler.(*Router)
	if !ok {
		return nil, false
	}
	return rt.route(req)
}

// reply sends a handler's answer to a whole request.
func (c *conn) reply(r *response, req *Request, res *Result, err error) {
	if req.Context().Err() != nil {
		r.end(nil)
		return
	}
	if err != nil {
		errs := asSQLErrors(err)
		c.logFailure(req, errs)
		r.fail(errs, maxClass(errs) >= 20)
		return
	}
	r.result(res)
}

// syntaxErrors are SQL Server's messages for a batch that does not parse (class 15, on the line
// of the error): 105 then 102 for an unclosed quotation mark, 113 for an unclosed comment, 195 for
// an unknown SET option, 156 near a reserved keyword, else 102.
func syntaxErrors(te *tsql.Error) []*Error {
	line := int32(te.Pos.Line)
	e := func(number int32, msg string) *Error {
		return &Error{Number: number, State: 1, Class: 15, Message: msg, Line: line}
	}
	switch te.Kind {
	case tsql.UnclosedQuote:
		return []*Error{e(105, fmt.Sprintf("Unclosed quotation mark after the character string '%s'.", te.Near)),
			e(102, fmt.Sprintf("Incorrect syntax near '%s'.", te.Near))}
	case tsql.UnclosedComment:
		return []*Error{e(113, "Missing end comment mark '*/'.")}
	case tsql.UnknownOption:
		return []*Error{e(195, fmt.Sprintf("'%s' is not a recognized SET option.", te.Near))}
	}
	if te.NearKeyword {
		return []*Error{e(156, fmt.Sprintf("Incorrect syntax near the keyword '%s'.", te.Near))}
	}
	return []*Error{e(102, fmt.Sprintf("Incorrect syntax near '%s'.", te.Near))}
}

// compile finds what SQL Server refuses before it runs anything: variables used and never
// declared (137), USE of a database the server does not have (911: USE is resolved when the batch
// is compiled, whether or not it would run).
func (b *batch) compile() []*Error {
	declared := map[string]bool{}
	for _, st := range b.script.Statements {
		if d, ok := st.(*tsql.DeclareStatement); ok {
			for _, v := range d.Vars {
				declared[strings.ToLower(v.Name)] = true
			}
		}
	}
	for _, v := range tsql.Resolve(b.script, nil).Variables {
		if !v.System && !declared[strings.ToLower(v.Name)] {
			e := UndeclaredVariableError("@" + v.Name)
			e.Line = int32(v.Pos.Line)
			return []*Error{e}
		}
	}
	for _, st := range b.script.Statements {
		if u, ok := st.(*tsql.UseStatement); ok {
			if _, err := b.c.use(b.req, u.Database.Name); err != nil {
				errs := asSQLErrors(err)
				for _, e := range errs {
					if e.Line == 0 {
						e.Line = int32(u.Pos.Line)
					}
				}
				return errs
			}
		}
	}
	return nil
}

// use checks a USE: the database as the server names it, or SQL Server's error.
func (c *conn) use(req *Request, name string) (string, error) {
	if hook := c.srv.cfg.Use; hook != nil {
		return hook(req.Session, name)
	}
	for _, db := range []string{"master", "tempdb", "model", "msdb", c.srv.cfg.DefaultDatabase, req.Session.Database} {
		if strings.EqualFold(db, name) {
			return db, nil
		}
	}
	return "", DatabaseNotFoundError(name)
}

// DatabaseNotFoundError is error 911, what USE of a database the server does not have gets.
func DatabaseNotFoundError(name string) *Error {
	return &Error{Number: 911, State: 1, Class: 16, Message: fmt.Sprintf("Database '%s' does not exist. Make sure that the name is entered correctly.", name)}
}

// run runs the statements in order.
func (b *batch) run() {
	r, v := b.r, b.c.ver
	stmts := b.script.Statements
	for i, st := range stmts {
		if b.req.Context().Err() != nil {
			r.end(nil)
			return
		}
		sp := b.script.Spans[i]
		b.current = st
		o := b.statement(st, b.src[sp.Start:sp.End])
		if o.gone {
			return
		}
		b.lastError = 0
		if len(o.errs) > 0 {
			b.lastError = int64(o.errs[len(o.errs)-1].Number)
		}
		last := i == len(stmts)-1
		if len(o.errs) > 0 {
			for _, e := range o.errs {
				if e.Line == 0 {
					e.Line = int32(st.Position().Line)
				}
			}
			sub := &Request{Kind: RequestBatch, SQL: b.src[sp.Start:sp.End], Session: b.req.Session}
			b.c.logFailure(sub, o.errs)
			severe := maxClass(o.errs) >= 20
			if last || severe || endsBatch(o.errs) {
				r.fail(o.errs, severe)
				return
			}
			for _, e := range o.errs {
				r.mw.buf = appendMessage(r.mw.buf, v, tokError, e.Number, e.State, e.Class, e.Message, b.c.srv.cfg.ServerName, e.Proc, e.Line)
			}
			r.mw.buf = appendDone(r.mw.buf, v, doneToken{tok: tokDone, status: doneError | doneMore})
			continue
		}
		if last {
			r.end(&o.done)
			return
		}
		d := o.done
		d.status |= doneMore
		r.mw.buf = appendDone(r.mw.buf, v, d)
		if err := r.mw.flushFull(); err != nil {
			b.c.close(err)
			return
		}
	}
	r.end(&doneToken{tok: tokDone}) // a batch of nothing but ';'
}

// endsBatch reports errors that end the batch, not only their statement: name resolution (a
// statement compiled when it runs, deferred name resolution, fails as its batch's compilation
// would), and statements the simulator has no answer for.
func endsBatch(errs []*Error) bool {
	for _, e := range errs {
		switch e.Number {
		case 208, 207, 209, 4104, 40515, 40508, 137, 8120, 8118, 1205:
			return true
		}
		if e.Unsupported {
			return true
		}
	}
	return false
}

// sub is the request for one statement of the batch.
func (b *batch) sub(st tsql.Statement, text string) *Request {
	return &Request{Kind: RequestBatch, SQL: text, Session: b.req.Session, Statement: st, ctx: b.req.ctx}
}

// statement runs one statement.
func (b *batch) statement(st tsql.Statement, text string) outcome {
	c, r := b.c, b.r
	ok := outcome{done: doneToken{tok: tokDone}}
	fail := func(err error) outcome { return outcome{errs: asSQLErrors(err)} }
	switch st := st.(type) {
	case *tsql.SetStatement:
		b.rows = 0
		if st.Var != "" {
			if err := b.assign(st); err != nil {
				return fail(err)
			}
			return ok
		}
		if err := b.setOption(st); err != nil {
			return fail(err)
		}
		return ok
	case *tsql.UseStatement:
		name, err := c.use(b.req, st.Database.Name)
		if err != nil {
			return fail(err)
		}
		sess := b.req.Session
		old := sess.CurrentDatabase()
		sess.setCurrent(name)
		r.mw.buf = appendEnvChangeString(r.mw.buf, envDatabase, name, old)
		r.mw.buf = appendMessage(r.mw.buf, c.ver, tokInfo, 5701, 2, 10, fmt.Sprintf("Changed database context to '%s'.", name),
			c.srv.cfg.ServerName, "", int32(st.Pos.Line))
		return ok
	case *tsql.TransactionStatement:
		name := st.Name
		if st.NameVar != "" {
			if v := b.vars[strings.ToLower(st.NameVar)]; v != nil {
				name = tsql.Text(v.val)
			}
		}
		var e *Error
		switch st.Op {
		case tsql.BeginTransaction:
			c.tranBegin(r, name)
		case tsql.CommitTransaction:
			e = c.tranCommit(r)
		case tsql.RollbackTransaction:
			e = c.tranRollback(r, name)
		case tsql.SaveTransaction:
			e = c.tranSave(name)
		}
		if e != nil {
			return fail(e)
		}
		return ok
	case *tsql.DeclareStatement:
		for _, d := range st.Vars {
			if err := b.declare(d); err != nil {
				return fail(err)
			}
		}
		return ok
	case *tsql.PrintStatement:
		val, err := b.scalar(st.Value)
		if err != nil {
			return fail(err)
		}
		r.mw.buf = appendMessage(r.mw.buf, c.ver, tokInfo, 0, 1, 0, tsql.Text(val), c.srv.cfg.ServerName, "", int32(st.Pos.Line))
		return ok
	case *tsql.RaiseErrorStatement:
		e, err := b.raiserror(st)
		if err != nil {
			return fail(err)
		}
		if e.Class <= 10 {
			r.mw.buf = appendMessage(r.mw.buf, c.ver, tokInfo, e.Number, e.State, e.Class, e.Message, c.srv.cfg.ServerName, "", e.Line)
			return ok
		}
		return outcome{errs: []*Error{e}}
	case *tsql.ExecStatement:
		sub, err := b.execRequest(st, text)
		if err != nil {
			return fail(err)
		}
		res, err := c.serveHandler(c.srv.handler, sub)
		return b.answer(sub, true, res, err)
	case *tsql.SelectStatement:
		sub := b.sub(st, text)
		if h, ok := c.routed(sub); ok {
			res, err := c.serveHandler(h, sub)
			return b.answer(sub, false, res, err)
		}
		res, err := b.evalSelect(sub, st)
		if !errors.Is(err, errNotEvaluable) {
			return b.answer(sub, false, res, err)
		}
		res, err = c.serveHandler(c.srv.handler, sub)
		return b.answer(sub, false, res, err)
	}
	sub := b.sub(st, text)
	if h, ok := c.routed(sub); ok {
		res, err := c.serveHandler(h, sub)
		return b.answer(sub, false, res, err)
	}
	if m, ok := st.(*tsql.ModifyStatement); ok && c.srv.cfg.Catalog != nil {
		if err := b.refuseWrite(sub, m); err != nil {
			return fail(err)
		}
	}
	res, err := c.serveHandler(c.srv.handler, sub)
	return b.answer(sub, false, res, err)
}

// refuseWrite is the refusal of a statement that writes to a Catalog's objects: the evaluator
// reads, it never writes (RefuseWrite).
func (b *batch) refuseWrite(sub *Request, m *tsql.ModifyStatement) error {
	exists := false
	if m.Object != nil && m.Verb != "CREATE" {
		_, err := b.c.srv.cfg.Catalog.Table(sub, m.Object)
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Number != 208) {
			return err // the object's own refusal (40515 …)
		}
		exists = err == nil
	}
	if e := RefuseWrite(m, sub.Session.CurrentDatabase(), exists); e != nil {
		return e
	}
	return nil
}

// answer writes a statement's result; proc writes it as a procedure's (DONEINPROC after each
// result set, RETURNSTATUS, DONEPROC).
func (b *batch) answer(sub *Request, proc bool, res *Result, err error) outcome {
	if sub.Context().Err() != nil {
		b.r.end(nil)
		return outcome{gone: true}
	}
	if err != nil {
		return outcome{errs: asSQLErrors(err)}
	}
	d, n, err := b.r.writeStatement(res, proc, b.req.Session.NoCount())
	if err != nil {
		switch {
		case errors.Is(err, errCancelled):
			b.r.end(nil)
			return outcome{gone: true}
		case errors.Is(err, errDropped):
			return outcome{gone: true}
		}
		return outcome{errs: asSQLErrors(err)}
	}
	b.rows = n
	return outcome{done: d}
}

// setOption applies a SET option to the session. The options change nothing the simulator
// computes but NOCOUNT (the DONE_COUNT bit) and ROWCOUNT (the evaluator's row limit); they are
// kept so that what a client set reads back. Options that would make the server stop running
// statements (NOEXEC, PARSEONLY, FMTONLY, SHOWPLAN_*) are refused ON: the simulator has no answer
// for a batch that is only compiled. STATISTICS IO and TIME are accepted without the messages
// SQL Server would add.
func (b *batch) setOption(st *tsql.SetStatement) error {
	value := st.OptionValue
	for _, name := range st.Options {
		switch name {
		case "NOEXEC", "PARSEONLY", "FMTONLY", "SHOWPLAN_ALL", "SHOWPLAN_TEXT", "SHOWPLAN_XML", "STATISTICS XML", "STATISTICS PROFILE":
			if value == "ON" {
				e := NoAnswerError("SET " + name + " ON")
				e.Unsupported = true
				return e
			}
		case "ROWCOUNT", "TEXTSIZE", "LOCK_TIMEOUT", "DATEFIRST", "QUERY_GOVERNOR_COST_LIMIT":
			if st.Value != nil {
				v, err := b.scalar(st.Value)
				if err != nil {
					return err
				}
				value = tsql.Text(v)
				if _, err := strconv.ParseInt(value, 10, 64); err != nil {
					return &Error{Number: 1080, State: 1, Class: 15, Message: fmt.Sprintf("The integer value %s is out of range.", value)}
				}
			}
		case "LANGUAGE":
			if !strings.EqualFold(value, "us_english") && !strings.EqualFold(value, "english") {
				e := NoAnswerError("SET LANGUAGE " + value + " (the simulator speaks us_english only)")
				e.Unsupported = true
				return e
			}
			value = "us_english"
			b.r.mw.buf = appendEnvChangeString(b.r.mw.buf, envLanguage, value, "us_english")
			b.r.mw.buf = appendMessage(b.r.mw.buf, b.c.ver, tokInfo, 5703, 1, 10, "Changed language setting to us_english.",
				b.c.srv.cfg.ServerName, "", int32(st.Pos.Line))
		}
		b.req.Session.setOption(name, value)
	}
	return nil
}

// declare declares a local variable, with its initial value.
func (b *batch) declare(d *tsql.VarDecl) error {
	col, ok := columnOf(d.Type)
	if !ok {
		return unsupported("DECLARE @%s %s: the simulator does not hold that type", d.Name, d.Type)
	}
	v := &variable{name: d.Name, typ: d.Type, col: col}
	if d.Value != nil {
		val, err := b.scalar(d.Value)
		if err != nil {
			return err
		}
		if v.val, err = tsql.Convert(val, d.Type); err != nil {
			return valueError(err)
		}
	}
	b.vars[strings.ToLower(d.Name)] = v
	return nil
}

// assign runs SET @var = value (and the compound assignments).
func (b *batch) assign(st *tsql.SetStatement) error {
	v := b.vars[strings.ToLower(st.Var)]
	if v == nil {
		return &Error{Number: 137, State: 1, Class: 15, Message: fmt.Sprintf(`Must declare the scalar variable "@%s".`, st.Var)}
	}
	e := st.Value
	if op := strings.TrimSuffix(st.Op, "="); op != "" {
		e = &tsql.Binary{Op: op, Left: &tsql.VariableRef{Name: st.Var, Pos: st.Pos}, Right: st.Value, Pos: st.Pos}
	}
	val, err := b.scalar(e)
	if err != nil {
		return err
	}
	if v.val, err = tsql.Convert(val, v.typ); err != nil {
		return valueError(err)
	}
	return nil
}

// execRequest is the procedure call an EXEC statement makes: the same Request an RPC by name
// makes (Proc and Params), or for sp_executesql the statement, its declarations and its
// parameters, as the RPC to sp_executesql carries them.
func (b *batch) execRequest(st *tsql.ExecStatement, text string) (*Request, error) {
	sub := b.sub(st, text)
	sub.Proc = st.Proc.String()
	for _, a := range st.Args {
		p := Param{Name: a.Name, Output: a.Output}
		if !a.Default {
			v, err := b.scalar(a.Value)
			if err != nil {
				return nil, err
			}
			p.Value = v
		}
		sub.Params = append(sub.Params, p)
	}
	if strings.EqualFold(st.Proc.Object(), "sp_executesql") {
		if len(sub.Params) == 0 || sub.Params[0].Name != "" {
			return nil, &Error{Number: 201, State: 4, Class: 16, Proc: "sp_executesql",
				Message: "Procedure or function 'sp_executesql' expects parameter '@statement', which was not supplied."}
		}
		sub.SQL, sub.Proc = tsql.Text(sub.Params[0].Value), ""
		sub.Params = sub.Params[1:]
		if len(sub.Params) > 0 && sub.Params[0].Name == "" {
			sub.ParamDecl = tsql.Text(sub.Params[0].Value)
			sub.Params = sub.Params[1:]
		}
		sub.Statement = nil
	}
	return sub, nil
}

// raiserror is the message RAISERROR raises (sql-docs
// docs/t-sql/language-elements/raiserror-transact-sql.md): a message string is error 50000 with
// its printf-style parameters substituted; a message number is looked up in sys.messages, where
// the simulator has none of the user-defined ones (18054). Severities above 18 need WITH LOG
// (2754 otherwise); above 19 they end the connection.
func (b *batch) raiserror(st *tsql.RaiseErrorStatement) (*Error, error) {
	msg, err := b.scalar(st.Message)
	if err != nil {
		return nil, err
	}
	sev, err := b.scalarInt(st.Severity)
	if err != nil {
		return nil, err
	}
	state, err := b.scalarInt(st.State)
	if err != nil {
		return nil, err
	}
	var args []any
	for _, a := range st.Args {
		v, err := b.scalar(a)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	sev, state = min(max(sev, 0), 25), min(max(state, 0), 255)
	line := int32(st.Pos.Line)
	withLog := false
	for _, o := range st.Options {
		withLog = withLog || o == "LOG"
	}
	if sev > 18 && !withLog {
		return &Error{Number: 2754, State: 1, Class: 16, Line: line,
			Message: "Error severity levels greater than 18 can only be specified by members of the sysadmin role, using the WITH LOG option."}, nil
	}
	if n, ok := msg.(int64); ok {
		return &Error{Number: 18054, State: 1, Class: 16, Line: line, Message: fmt.Sprintf("Error %d, severity %d, state %d was raised, but no message with that error number was found in sys.messages. If error is larger than 50000, make sure the user-defined message is added using sp_addmessage.", n, sev, state)}, nil
	}
	return &Error{Number: 50000, State: uint8(state), Class: uint8(sev), Line: line, Message: formatMessage(tsql.Text(msg), args)}, nil
}

// formatMessage substitutes RAISERROR's parameters: %d, %i, %u, %o, %x, %X, %s with the flags and
// width printf has; %% is a percent sign.
func formatMessage(format string, args []any) string {
	var out strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			out.WriteByte(format[i])
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0123456789.*", format[j]) >= 0 {
			j++
		}
		if j < len(format) && (format[j] == 'h' || format[j] == 'l' || format[j] == 'I') {
			j++ // size prefixes (h, l, I64) change nothing here
			for j < len(format) && format[j] >= '0' && format[j] <= '9' {
				j++
			}
		}
		if j >= len(format) {
			out.WriteString(format[i:])
			break
		}
		verb := format[j]
		if verb == '%' {
			out.WriteByte('%')
			i = j
			continue
		}
		spec := strings.Trim(format[i+1:j], "hlI6 4")
		var a any = "(null)"
		if len(args) > 0 {
			a, args = args[0], args[1:]
		}
		switch verb {
		case 'd', 'i', 'u':
			n, _ := a.(int64)
			fmt.Fprintf(&out, "%"+spec+"d", n)
		case 'o', 'x', 'X':
			n, _ := a.(int64)
			fmt.Fprintf(&out, "%"+spec+string(verb), n)
		case 's':
			fmt.Fprintf(&out, "%"+spec+"s", tsql.Text(a))
		default:
			out.WriteString(format[i : j+1])
		}
		i = j
	}
	return out.String()
}

func (b *batch) scalarInt(e tsql.Expr) (int, error) {
	v, err := b.scalar(e)
	if err != nil {
		return 0, err
	}
	n, err := tsql.Convert(v, &tsql.DataType{Name: "int"})
	if err != nil {
		return 0, valueError(err)
	}
	i, _ := n.(int64)
	return int(i), nil
}

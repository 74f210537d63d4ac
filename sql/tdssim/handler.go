package tdssim

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cutover/sql/tsql"
)

// RequestKind says how a request arrived on the wire.
type RequestKind int

const (
	// RequestBatch is a SQLBatch message: plain SQL text, no parameters.
	RequestBatch RequestKind = iota + 1
	// RequestRPC is an RPC message: sp_executesql (SQL holds the
	// statement) or a procedure called by name (Proc holds the name).
	RequestRPC
	// RequestTransaction is a Transaction Manager message (BeginTx,
	// Commit, Rollback). It is answered by the server itself and never
	// reaches the Handler; it is visible to fault rules, which see SQL as
	// "BEGIN TRANSACTION", "COMMIT TRANSACTION" or "ROLLBACK TRANSACTION".
	RequestTransaction
)

// String returns the kind's name.
func (k RequestKind) String() string {
	switch k {
	case RequestBatch:
		return "batch"
	case RequestRPC:
		return "rpc"
	case RequestTransaction:
		return "transaction"
	default:
		return fmt.Sprintf("RequestKind(%d)", int(k))
	}
}

// Param is one decoded RPC parameter.
type Param struct {
	// Name is the parameter name without the leading '@'; empty for
	// positional arguments of a procedure called by name.
	Name string
	// Value is nil, int64, float64, bool, string, []byte or time.Time.
	// DECIMAL, NUMERIC and MONEY arrive as their decimal string, and
	// UNIQUEIDENTIFIER as its canonical string form.
	Value any
	// Output reports that the client passed the parameter as OUTPUT.
	Output bool
}

// Request is one client request handed to a Handler.
type Request struct {
	// Kind says whether this was a SQL batch or an RPC.
	Kind RequestKind
	// SQL is the batch text, or the sp_executesql statement.
	SQL string
	// Proc is the procedure name when the RPC was called by name (or a
	// well-known procedure id other than sp_executesql, e.g. "sp_prepare").
	Proc string
	// ParamDecl is the sp_executesql declaration list, e.g. "@p1 bigint".
	ParamDecl string
	// Params are the RPC parameters in wire order (sp_executesql's own
	// statement and declaration parameters are not included).
	Params []Param
	// Session describes the connection the request arrived on.
	Session *Session
	// Statement is the statement parsed, when the server split a batch and
	// hands the handler one of its statements (SQL is then its text).
	Statement tsql.Statement

	ctx context.Context
}

// Context returns the request context. It is cancelled when the client
// sends ATTENTION (query cancel or deadline), when the connection drops,
// or when the server is closed.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// Param returns the value of the named parameter. The name is matched
// case-insensitively with or without a leading '@'.
func (r *Request) Param(name string) (any, bool) {
	name = strings.TrimPrefix(name, "@")
	for _, p := range r.Params {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return nil, false
}

// Args returns the parameter values in wire order.
func (r *Request) Args() []any {
	out := make([]any, len(r.Params))
	for i, p := range r.Params {
		out[i] = p.Value
	}
	return out
}

// Normalized returns NormalizeSQL(r.SQL).
func (r *Request) Normalized() string { return NormalizeSQL(r.SQL) }

// TLSMode says how a connection is encrypted.
type TLSMode int

const (
	// TLSNone is a plaintext connection (client sent or got ENCRYPT_NOT_SUP).
	TLSNone TLSMode = iota
	// TLSLoginOnly encrypts only the LOGIN7 packet (ENCRYPT_OFF).
	TLSLoginOnly
	// TLSFull encrypts the whole session (ENCRYPT_ON / ENCRYPT_REQ).
	TLSFull
	// TLSStrict is TDS 8.0: TLS before PRELOGIN (encrypt=strict).
	TLSStrict
)

// String returns the mode's name.
func (m TLSMode) String() string {
	switch m {
	case TLSNone:
		return "none"
	case TLSLoginOnly:
		return "login-only"
	case TLSFull:
		return "full"
	case TLSStrict:
		return "strict"
	default:
		return fmt.Sprintf("TLSMode(%d)", int(m))
	}
}

// Session describes one logged-in client connection. The exported fields
// are set at login and never change afterwards, so they may be read from
// any goroutine; what the session's statements change (USE, SET, BEGIN
// TRANSACTION) is read through the methods. The key/value store is
// goroutine-safe.
type Session struct {
	// SPID is the server process id assigned to the connection.
	SPID uint16
	// User is the SQL login name from LOGIN7.
	User string
	// Database is the database requested at login (or the default);
	// CurrentDatabase is the one USE made current since.
	Database string
	// AppName is the client's "app name".
	AppName string
	// HostName is the client's workstation name.
	HostName string
	// PacketSize is the negotiated packet size.
	PacketSize int
	// TLS is the encryption mode of the connection.
	TLS TLSMode
	// TDSVersion is the TDS version negotiated at login: the one the
	// client asked for, at most 7.4, or TDS80 for a TDS 8.0 connection.
	TDSVersion TDSVersion
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
	// Connected is when the connection was accepted.
	Connected time.Time

	mu     sync.Mutex
	values map[string]any
	tranID atomic.Uint64
	resets atomic.Int64

	// The state the session's statements change, under mu.
	current   string            // USE's database ("" until one ran)
	nocount   bool              // SET NOCOUNT
	options   map[string]string // other SET options, by name in capitals
	tranCount int               // @@TRANCOUNT
}

// CurrentDatabase is the session's database: the one of the last USE, or
// the login's.
func (s *Session) CurrentDatabase() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != "" {
		return s.current
	}
	return s.Database
}

// NoCount reports SET NOCOUNT ON: statements' DONE tokens carry no row
// count (sql-docs docs/t-sql/statements/set-nocount-transact-sql.md).
func (s *Session) NoCount() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nocount
}

// Option is the value of a SET option the session set (name in capitals,
// e.g. "TEXTSIZE", "TRANSACTION ISOLATION LEVEL"; ON/OFF options give "ON"
// or "OFF"); ok is false for an option it never set.
func (s *Session) Option(name string) (value string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.EqualFold(name, "NOCOUNT") {
		if s.nocount {
			return "ON", true
		}
		_, ok = s.options["NOCOUNT"]
		return "OFF", ok
	}
	value, ok = s.options[strings.ToUpper(name)]
	return value, ok
}

// TranCount is the session's @@TRANCOUNT: the open transaction's nesting
// level, 0 outside a transaction.
func (s *Session) TranCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tranCount
}

func (s *Session) setCurrent(db string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = db
}

func (s *Session) setOption(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "NOCOUNT" {
		s.nocount = value == "ON"
	}
	if s.options == nil {
		s.options = make(map[string]string)
	}
	s.options[name] = value
}

func (s *Session) setTranCount(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tranCount = n
}

// reset returns what statements change to the login's state (RESETCONNECTION).
func (s *Session) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.nocount, s.options, s.tranCount = "", false, nil, 0
}

// Get returns a value from the per-connection key/value store.
func (s *Session) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[key]
	return v, ok
}

// Set stores a value in the per-connection key/value store.
func (s *Session) Set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = make(map[string]any)
	}
	s.values[key] = v
}

// Delete removes a key from the per-connection key/value store.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.values, key)
}

// InTransaction reports whether a BeginTx transaction is open.
func (s *Session) InTransaction() bool { return s.tranID.Load() != 0 }

// Resets returns how many times the client reset the session (the
// RESETCONNECTION bit, sent when database/sql reuses a pooled connection).
func (s *Session) Resets() int64 { return s.resets.Load() }

// Handler answers requests. ServeTDS runs on the connection's goroutine,
// one request at a time per connection, concurrently across connections.
// It returns either a Result or an error; a *Error is sent as is, any
// other error as error 50000, class 16, with the error's text.
type Handler interface {
	ServeTDS(req *Request) (*Result, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(req *Request) (*Result, error)

// ServeTDS calls f(req).
func (f HandlerFunc) ServeTDS(req *Request) (*Result, error) { return f(req) }

// Row is one result row; values are matched to columns by position.
type Row []any

// ResultSet is one result set: column metadata plus rows, either as a slice
// or as an iterator for long or slow results.
type ResultSet struct {
	// Columns describes the result columns; at least one is required.
	Columns []Column
	// Rows holds the rows when Iter is nil.
	Rows []Row
	// Iter, when non-nil, streams the rows instead of Rows. Yielding a
	// non-nil error ends the result with that error. The server stops
	// iterating (yield returns false) when the request is cancelled.
	Iter iter.Seq2[Row, error]
	// FlushEachRow sends every row to the client as soon as it is
	// encoded instead of waiting for a full packet (for trickling
	// iterators whose consumers must see rows as they come).
	FlushEachRow bool
}

// Message is an informational message sent as an INFO token (PRINT,
// "Changed database context", ...).
type Message struct {
	Number int32
	State  uint8
	Class  uint8
	Text   string
}

// Result is a handler's successful answer.
type Result struct {
	// Sets are the result sets, in order.
	Sets []ResultSet
	// RowsAffected is reported (DONE with COUNT) when there are no Sets,
	// and in addition to them when positive. Negative means "no count",
	// as after SET NOCOUNT ON.
	RowsAffected int64
	// Messages are sent as INFO tokens before any result set.
	Messages []Message
	// ReturnStatus, when set, is sent as RETURNSTATUS. RPC responses
	// always carry one (0 by default), as SQL Server does.
	ReturnStatus *int32
}

// Rows returns a Result with one result set.
func Rows(cols []Column, rows ...Row) *Result {
	return &Result{Sets: []ResultSet{{Columns: cols, Rows: rows}}}
}

// Stream returns a Result with one streamed result set.
func Stream(cols []Column, seq iter.Seq2[Row, error]) *Result {
	return &Result{Sets: []ResultSet{{Columns: cols, Iter: seq}}}
}

// Affected returns a Result that only reports n rows affected.
func Affected(n int64) *Result { return &Result{RowsAffected: n} }

// NoCount returns a Result with no rows and no row count (a bare DONE).
func NoCount() *Result { return &Result{RowsAffected: -1} }

// Scalar returns a one-row, one-column result with an unnamed column whose
// type is inferred from v (see InferType).
func Scalar(v any) *Result {
	return Table([]string{""}, Row{v})
}

// Table returns a one-set Result whose column types are inferred from the
// first non-nil value of each column (see InferType). All columns are
// nullable; NVARCHAR widths cover the longest value.
func Table(names []string, rows ...Row) *Result {
	cols := make([]Column, len(names))
	for i, name := range names {
		cols[i] = Column{Name: name, Nullable: true, Type: TypeNVarChar, Size: 1}
		for _, r := range rows {
			if i < len(r) && r[i] != nil {
				cols[i].Type = InferType(r[i])
				break
			}
		}
		if cols[i].Type == TypeNVarChar {
			longest := 1
			for _, r := range rows {
				if i < len(r) {
					if s, ok := r[i].(string); ok && ucs2Len(s) > longest {
						longest = ucs2Len(s)
					}
				}
			}
			if longest > maxNVarChar {
				cols[i].Type = TypeNVarCharMax
			} else {
				cols[i].Size = longest
			}
		}
	}
	return Rows(cols, rows...)
}

// Error is a SQL Server error. Returned from a Handler (or configured in a
// fault rule) it is sent as an ERROR token followed by DONE with the error
// bit; the driver surfaces it as mssql.Error with the same Number, State,
// Class and Message. Errors of class 20 or more also end the connection,
// as on a real server.
type Error struct {
	Number  int32
	State   uint8
	Class   uint8
	Message string
	// Proc and Line are optional context shown by the driver.
	Proc string
	Line int32
	// Unsupported marks the refusal of a statement the handler has no answer for (a Router's
	// request no route matched): not sent to the client, which sees SQL Server's own error; the
	// server's log (-v) names it "unsupported statement".
	Unsupported bool
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("tdssim: SQL error %d, class %d, state %d: %s", e.Number, e.Class, e.State, e.Message)
}

// Errors are the error messages of one failed statement or login, in the
// order SQL Server sends them: each becomes an ERROR token, and the driver
// reports the last one and keeps them all (mssql.Error.All). SQL Server
// sends, for instance, 300 then 297 for a login without VIEW SERVER STATE,
// and 4060 then 18456 for a login to a database it cannot open. An empty
// Errors is error 50000.
type Errors []*Error

// Error implements error.
func (es Errors) Error() string {
	parts := make([]string, 0, len(es))
	for _, e := range es {
		if e != nil {
			parts = append(parts, e.Error())
		}
	}
	return strings.Join(parts, "; ")
}

// DeadlockError is error 1205 (deadlock victim, class 13).
func DeadlockError() *Error {
	return &Error{Number: 1205, State: 51, Class: 13, Message: "Transaction (Process ID 0) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction."}
}

// LockTimeoutError is error 1222 (lock request time-out, class 16).
func LockTimeoutError() *Error {
	return &Error{Number: 1222, State: 56, Class: 16, Message: "Lock request time out period exceeded."}
}

// LoginFailedError is error 18456 (login failed, class 14).
func LoginFailedError(user string) *Error {
	return &Error{Number: 18456, State: 1, Class: 14, Message: fmt.Sprintf("Login failed for user '%s'.", user)}
}

// CannotOpenDatabaseError is error 4060 (cannot open database, class 11).
func CannotOpenDatabaseError(database string) *Error {
	return &Error{Number: 4060, State: 1, Class: 11, Message: fmt.Sprintf("Cannot open database \"%s\" requested by the login. The login failed.", database)}
}

// AzureTransientError is Azure SQL error 40613 (database not currently
// available, class 17), the classic transient error.
func AzureTransientError(database string) *Error {
	return &Error{Number: 40613, State: 1, Class: 17, Message: fmt.Sprintf("Database '%s' on server 'tdssim' is not currently available. Please retry the connection later.", database)}
}

// PermissionDeniedError is error 229 (permission denied, class 14): "The %ls permission was
// denied on the object '%.*ls', database '%.*ls', schema '%.*ls'." (errors-events).
func PermissionDeniedError(permission, object, database, schema string) *Error {
	return &Error{Number: 229, State: 5, Class: 14, Message: fmt.Sprintf("The %s permission was denied on the object '%s', database '%s', schema '%s'.", permission, object, database, schema)}
}

// UndeclaredVariableError is error 137 (class 15): "Must declare the scalar variable "%.*ls"."
// (errors-events), for the variable as it was written, its @ or @@ included.
func UndeclaredVariableError(variable string) *Error {
	return &Error{Number: 137, State: 2, Class: 15, Message: fmt.Sprintf(`Must declare the scalar variable "%s".`, variable)}
}

// InvalidObjectError is error 208 (invalid object name, class 16).
func InvalidObjectError(name string) *Error {
	return &Error{Number: 208, State: 1, Class: 16, Message: fmt.Sprintf("Invalid object name '%s'.", name)}
}

// InvalidColumnError is error 207 (invalid column name, class 16).
func InvalidColumnError(name string) *Error {
	return &Error{Number: 207, State: 1, Class: 16, Message: fmt.Sprintf("Invalid column name '%s'.", name)}
}

// AmbiguousColumnError is error 209 (ambiguous column name, class 16).
func AmbiguousColumnError(name string) *Error {
	return &Error{Number: 209, State: 1, Class: 16, Message: fmt.Sprintf("Ambiguous column name '%s'.", name)}
}

// UnboundIdentifierError is error 4104 (a multi-part identifier that binds to no table, class
// 16).
func UnboundIdentifierError(name string) *Error {
	return &Error{Number: 4104, State: 1, Class: 16, Message: fmt.Sprintf("The multi-part identifier \"%s\" could not be bound.", name)}
}

// ProcNotFoundError is error 2812 (could not find stored procedure, class 16).
func ProcNotFoundError(name string) *Error {
	return &Error{Number: 2812, State: 62, Class: 16, Message: fmt.Sprintf("Could not find stored procedure '%s'.", name)}
}

// NoAnswerNumber is the error number of NoAnswerError.
const NoAnswerNumber = 50000

// NoAnswerError is the simulator's own error for a request it cannot answer although nothing in
// it is known to be wrong: error 50000 (the number RAISERROR gives a message of its own), class
// 16, naming the text. It is deliberately none of SQL Server's numbers, so a client cannot take
// it for a missing object or a permission error.
func NoAnswerError(what string) *Error {
	if len(what) > 200 {
		what = what[:200] + "..."
	}
	return &Error{Number: NoAnswerNumber, State: 1, Class: 16, Message: "tdssim: the simulator has no answer for: " + what}
}

// SevereErrorDefault is the error sent by the SevereError fault when the
// rule does not name one.
func SevereErrorDefault() *Error {
	return &Error{Number: 0, State: 0, Class: 20, Message: "A severe error occurred on the current command.  The results, if any, should be discarded."}
}

// asSQLErrors converts any error to the errors to send: an Errors as it is
// (without nils), a *Error alone, anything else as 50000, class 16, with
// its text.
func asSQLErrors(err error) []*Error {
	var es Errors
	if errors.As(err, &es) {
		var out []*Error
		for _, e := range es {
			if e != nil {
				out = append(out, e)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return []*Error{e}
	}
	return []*Error{{Number: 50000, State: 1, Class: 16, Message: err.Error()}}
}

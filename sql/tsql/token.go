// Package tsql reads the T-SQL that cutover sends and that its SQL Server simulator answers: a
// tokenizer, a parser for the statements those texts use (SELECT with CTEs, joins, APPLY and
// subqueries; DECLARE; EXEC; SET, variables and session options; USE; IF/BEGIN/END; PRINT;
// BEGIN/COMMIT/ROLLBACK/SAVE TRANSACTION; RAISERROR; and, of the statements that write, what they
// write to) into a small syntax tree, a pass that resolves what a batch names: objects (tables,
// views, procedures), columns (bound to the table, view, CTE or derived table they come from, or
// flagged as ambiguous or unbound) and procedure parameters, and an expression evaluator.
//
// Parse reads a script of the tools (GO separates batches); ParseBatch reads one batch as SQL
// Server receives it, statements split where its grammar ends them, each with its span of text,
// and its errors told apart as SQL Server tells them (syntax errors and the token they are near,
// unclosed quotes and comments, unknown SET options) from T-SQL this package does not read.
//
// The grammar follows the Transact-SQL reference (MicrosoftDocs/sql-docs docs/t-sql/...): identifier
// quoting (docs/relational-databases/databases/database-identifiers.md), string literals with
// doubled quotes and the N prefix, nested /* */ comments, multi-part names
// server.database.schema.object. It is not a full T-SQL parser: what it does not know it refuses
// with an error naming the position, never a guess.
package tsql

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is a token's kind.
type Kind int

// Token kinds.
const (
	// EOF ends the token stream.
	EOF Kind = iota
	// Word is an unquoted identifier or keyword (Keyword tells them apart).
	Word
	// QuotedName is a [bracketed] or "double-quoted" identifier; Value holds the name.
	QuotedName
	// Variable is a local variable or parameter, @name; Value holds the name without '@'.
	Variable
	// SystemVariable is @@name (a configuration function such as @@VERSION); Value holds the
	// name without "@@".
	SystemVariable
	// String is a character string literal ('…' or N'…'); Value holds the content with doubled
	// quotes undone, National reports the N prefix.
	String
	// Number is a numeric literal: integer, decimal, float (1e3) or binary (0x1F).
	Number
	// Op is an operator or punctuation mark: ( ) , . ; = <> != < > <= >= !< !> + - * / % & | ^ ~
	// and the compound assignments += -= *= /= %= &= |= ^=.
	Op
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case EOF:
		return "end of text"
	case Word:
		return "identifier"
	case QuotedName:
		return "quoted identifier"
	case Variable:
		return "variable"
	case SystemVariable:
		return "system variable"
	case String:
		return "string"
	case Number:
		return "number"
	case Op:
		return "operator"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Pos is a position in the source text: byte offset, and 1-based line and column (in runes).
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// String is line:column.
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Token is one lexical token.
type Token struct {
	Kind Kind
	// Text is the token as written in the source.
	Text string
	// Value is the identifier's name (unquoted), the string's content, or the variable's name;
	// for other kinds it equals Text.
	Value string
	// National reports an N'…' string.
	National bool
	Pos      Pos
}

// Is reports whether the token is the keyword or operator word (compared case-insensitively;
// quoted identifiers are never keywords).
func (t Token) Is(word string) bool {
	switch t.Kind {
	case Word, Op:
		return strings.EqualFold(t.Text, word)
	}
	return false
}

// Keyword reports whether the token is an unquoted reserved word of T-SQL (see reserved).
func (t Token) Keyword() bool {
	return t.Kind == Word && reserved[strings.ToUpper(t.Text)]
}

// ErrorKind says what kind of error a tokenizer or parser Error is, as SQL Server tells them
// apart (sql-docs: docs/relational-databases/errors-events/database-engine-events-and-errors-0-to-999.md).
type ErrorKind int

const (
	// SyntaxError is text that is not T-SQL: SQL Server's 102 "Incorrect syntax near '%.*ls'.",
	// or 156 "Incorrect syntax near the keyword '%.*ls'." at a reserved keyword.
	SyntaxError ErrorKind = iota
	// Unsupported is T-SQL this package does not read (it never guesses).
	Unsupported
	// UnclosedQuote is a string or quoted identifier without its closing quote: 105 "Unclosed
	// quotation mark after the character string '%.*ls'.".
	UnclosedQuote
	// UnclosedComment is a /* comment without its */: 113 "Missing end comment mark '*/'.".
	UnclosedComment
	// UnknownOption is a SET option T-SQL does not have: 195 "'%.*ls' is not a recognized SET
	// option.".
	UnknownOption
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case SyntaxError:
		return "syntax error"
	case Unsupported:
		return "unsupported"
	case UnclosedQuote:
		return "unclosed quotation mark"
	case UnclosedComment:
		return "missing end comment mark"
	case UnknownOption:
		return "unknown SET option"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is a tokenizer or parser error with its position.
type Error struct {
	Pos  Pos
	Msg  string
	Kind ErrorKind
	// Near is what SQL Server's message names: the token the error was found at (the last token
	// when the text ended too early), the text after an unclosed quotation mark, or the unknown
	// SET option.
	Near string
	// NearKeyword reports that Near is a reserved keyword the error was found at (SQL Server's
	// 156 rather than 102).
	NearKeyword bool
}

func (e *Error) Error() string { return fmt.Sprintf("tsql: %s: %s", e.Pos, e.Msg) }

// reserved are T-SQL's reserved keywords (docs/t-sql/language-elements/reserved-keywords-transact-sql.md),
// the ones a reader of our texts meets; an unquoted reserved word is never an alias or a name.
var reserved = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`ADD ALL ALTER AND ANY AS ASC BACKUP BEGIN BETWEEN BREAK BROWSE BULK BY
		CASCADE CASE CHECK CHECKPOINT CLOSE CLUSTERED COLLATE COLUMN COMMIT COMPUTE CONSTRAINT CONTAINS
		CONTINUE CONVERT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER
		CURSOR DATABASE DBCC DEALLOCATE DECLARE DEFAULT DELETE DENY DESC DISTINCT DISTRIBUTED DOUBLE DROP
		ELSE END ERRLVL ESCAPE EXCEPT EXEC EXECUTE EXISTS EXIT EXTERNAL FETCH FILE FILLFACTOR FOR FOREIGN
		FREETEXT FROM FULL FUNCTION GOTO GRANT GROUP HAVING HOLDLOCK IDENTITY IF IN INDEX INNER INSERT
		INTERSECT INTO IS JOIN KEY KILL LEFT LIKE LINENO MERGE NATIONAL NOCHECK NONCLUSTERED NOT NULL
		NULLIF OF OFF OFFSETS ON OPEN OPTION OR ORDER OUTER OVER PERCENT PIVOT PLAN PRIMARY PRINT PROC
		PROCEDURE PUBLIC RAISERROR READ RECONFIGURE REFERENCES REPLICATION RESTORE RESTRICT RETURN REVERT
		REVOKE RIGHT ROLLBACK ROWCOUNT RULE SAVE SCHEMA SELECT SESSION_USER SET SETUSER SHUTDOWN SOME
		STATISTICS SYSTEM_USER TABLE TABLESAMPLE TEXTSIZE THEN TO TOP TRAN TRANSACTION TRIGGER TRUNCATE
		UNION UNIQUE UNPIVOT UPDATE USE USER VALUES VARYING VIEW WAITFOR WHEN WHERE WHILE WITH`) {
		m[w] = true
	}
	return m
}()

// Tokenize splits src into tokens, comments and white space dropped, ending with an EOF token.
// An unterminated string, quoted identifier or comment is an error.
func Tokenize(src string) ([]Token, error) {
	lx := lexer{src: src, line: 1, col: 1}
	var out []Token
	for {
		t, err := lx.next()
		if err != nil {
			return out, err
		}
		out = append(out, t)
		if t.Kind == EOF {
			return out, nil
		}
	}
}

type lexer struct {
	src       string
	off       int
	line, col int
}

func (lx *lexer) pos() Pos { return Pos{Offset: lx.off, Line: lx.line, Col: lx.col} }

func (lx *lexer) peek(k int) rune {
	i := lx.off
	for ; k > 0 && i < len(lx.src); k-- {
		_, n := utf8.DecodeRuneInString(lx.src[i:])
		i += n
	}
	if i >= len(lx.src) {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(lx.src[i:])
	return r
}

func (lx *lexer) advance() rune {
	r, n := utf8.DecodeRuneInString(lx.src[lx.off:])
	lx.off += n
	if r == '\n' {
		lx.line, lx.col = lx.line+1, 1
	} else {
		lx.col++
	}
	return r
}

func (lx *lexer) errorf(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// skip drops white space and comments.
func (lx *lexer) skip() error {
	for lx.off < len(lx.src) {
		r := lx.peek(0)
		switch {
		case unicode.IsSpace(r):
			lx.advance()
		case r == '-' && lx.peek(1) == '-':
			for lx.off < len(lx.src) && lx.peek(0) != '\n' {
				lx.advance()
			}
		case r == '/' && lx.peek(1) == '*':
			start := lx.pos()
			depth := 0
			for {
				if lx.off >= len(lx.src) {
					e := lx.errorf(start, "unterminated comment")
					e.Kind = UnclosedComment
					return e
				}
				switch {
				case lx.peek(0) == '/' && lx.peek(1) == '*':
					lx.advance()
					lx.advance()
					depth++
				case lx.peek(0) == '*' && lx.peek(1) == '/':
					lx.advance()
					lx.advance()
					depth--
				default:
					lx.advance()
				}
				if depth == 0 {
					break
				}
			}
		default:
			return nil
		}
	}
	return nil
}

// identStart and identPart follow the rules for regular identifiers: a letter, _, @ or # first,
// then letters, digits, @, $, # or _.
func identStart(r rune) bool { return unicode.IsLetter(r) || r == '_' || r == '#' }
func identPart(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '@' || r == '$' || r == '#'
}

func (lx *lexer) next() (Token, error) {
	if err := lx.skip(); err != nil {
		return Token{}, err
	}
	start := lx.pos()
	if lx.off >= len(lx.src) {
		return Token{Kind: EOF, Pos: start}, nil
	}
	tok := func(k Kind, value string) Token {
		return Token{Kind: k, Text: lx.src[start.Offset:lx.off], Value: value, Pos: start}
	}
	r := lx.peek(0)
	switch {
	case (r == 'N' || r == 'n') && lx.peek(1) == '\'':
		lx.advance()
		s, err := lx.quoted('\'', '\'', start)
		t := tok(String, s)
		t.National = true
		return t, err
	case r == '\'':
		s, err := lx.quoted('\'', '\'', start)
		return tok(String, s), err
	case r == '[':
		s, err := lx.quoted('[', ']', start)
		return tok(QuotedName, s), err
	case r == '"':
		s, err := lx.quoted('"', '"', start)
		return tok(QuotedName, s), err
	case r == '@':
		lx.advance()
		kind := Variable
		if lx.peek(0) == '@' {
			lx.advance()
			kind = SystemVariable
		}
		nameStart := lx.off
		for lx.off < len(lx.src) && identPart(lx.peek(0)) {
			lx.advance()
		}
		if lx.off == nameStart {
			e := lx.errorf(start, "%q is not a variable name", lx.src[start.Offset:lx.off])
			e.Near = lx.src[start.Offset:lx.off]
			return Token{}, e
		}
		return tok(kind, lx.src[nameStart:lx.off]), nil
	case identStart(r):
		for lx.off < len(lx.src) && identPart(lx.peek(0)) {
			lx.advance()
		}
		t := tok(Word, "")
		t.Value = t.Text
		return t, nil
	case r >= '0' && r <= '9' || r == '.' && isDigit(lx.peek(1)):
		lx.number()
		t := tok(Number, "")
		t.Value = t.Text
		return t, nil
	}
	if op := lx.operator(); op != "" {
		return tok(Op, op), nil
	}
	lx.advance()
	e := lx.errorf(start, "unexpected character %q", r)
	e.Near = string(r)
	return Token{}, e
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// number reads 123, 1.5, .5, 1e-3, 1.5E+10 or 0x1F.
func (lx *lexer) number() {
	if lx.peek(0) == '0' && (lx.peek(1) == 'x' || lx.peek(1) == 'X') {
		lx.advance()
		lx.advance()
		for strings.ContainsRune("0123456789abcdefABCDEF", lx.peek(0)) {
			lx.advance()
		}
		return
	}
	for isDigit(lx.peek(0)) {
		lx.advance()
	}
	if lx.peek(0) == '.' {
		lx.advance()
		for isDigit(lx.peek(0)) {
			lx.advance()
		}
	}
	if r := lx.peek(0); r == 'e' || r == 'E' {
		k := 1
		if s := lx.peek(1); s == '+' || s == '-' {
			k = 2
		}
		if isDigit(lx.peek(k)) {
			for ; k > 0; k-- {
				lx.advance()
			}
			for isDigit(lx.peek(0)) {
				lx.advance()
			}
		}
	}
}

// quoted reads a literal or quoted identifier opened by open and closed by close, where a doubled
// close stands for itself. It returns the content.
func (lx *lexer) quoted(open, close rune, start Pos) (string, error) {
	lx.advance() // open
	var b strings.Builder
	for {
		if lx.off >= len(lx.src) {
			what := "string"
			if open != '\'' {
				what = "quoted identifier"
			}
			e := lx.errorf(start, "unterminated %s", what)
			e.Kind, e.Near = UnclosedQuote, b.String()
			return b.String(), e
		}
		r := lx.advance()
		if r == close {
			if lx.peek(0) == close {
				lx.advance()
				b.WriteRune(close)
				continue
			}
			return b.String(), nil
		}
		b.WriteRune(r)
	}
}

// operators, longest first.
var operators = []string{"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<>", "!=", "<=", ">=", "!<", "!>", "::",
	"(", ")", ",", ".", ";", "=", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "~"}

func (lx *lexer) operator() string {
	rest := lx.src[lx.off:]
	for _, op := range operators {
		if strings.HasPrefix(rest, op) {
			for range op {
				lx.advance()
			}
			return op
		}
	}
	return ""
}

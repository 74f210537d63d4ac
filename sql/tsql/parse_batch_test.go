package tsql

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestSplitAsSQLServer: a batch splits into statements where SQL Server's grammar says one ends,
// with or without ';', never inside a string, a quoted name or a comment; GO is an identifier.
func TestSplitAsSQLServer(t *testing.T) {
	for _, c := range []struct {
		src  string
		want []string
	}{
		{"SET NOCOUNT ON SELECT 1", []string{"SET NOCOUNT ON", "SELECT 1"}},
		{"SET NOCOUNT ON;\nUSE distribution\nSELECT name FROM sys.databases WHERE name = 'a;b SELECT' -- c; SELECT 3\n",
			[]string{"SET NOCOUNT ON", "USE distribution", "SELECT name FROM sys.databases WHERE name = 'a;b SELECT'"}},
		{"SELECT [a;b] FROM t /* ; SELECT /* nested */ 2 */ SELECT 2;;", []string{"SELECT [a;b] FROM t", "SELECT 2"}},
		{"SELECT 1 GO", []string{"SELECT 1 GO"}},
		{"SELECT 1\nGO\nSELECT 2", []string{"SELECT 1\nGO", "SELECT 2"}},
		{"BEGIN TRAN SELECT @@TRANCOUNT COMMIT", []string{"BEGIN TRAN", "SELECT @@TRANCOUNT", "COMMIT"}},
		{"BEGIN TRANSACTION t1 ROLLBACK TRANSACTION t1", []string{"BEGIN TRANSACTION t1", "ROLLBACK TRANSACTION t1"}},
		{"INSERT INTO t SELECT 1 UNION ALL SELECT 2 SELECT 3", []string{"INSERT INTO t SELECT 1 UNION ALL SELECT 2", "SELECT 3"}},
		{"UPDATE t SET a = 1 WHERE b IN (SELECT 1) SET NOCOUNT ON", []string{"UPDATE t SET a = 1 WHERE b IN (SELECT 1)", "SET NOCOUNT ON"}},
		{"DELETE FROM dbo.t WHERE x = 'y' PRINT 'done'", []string{"DELETE FROM dbo.t WHERE x = 'y'", "PRINT 'done'"}},
		{"EXEC sp_who 'x' SELECT 1", []string{"EXEC sp_who 'x'", "SELECT 1"}},
		{"RAISERROR('x; y', 16, 1) WITH NOWAIT PRINT N'y'", []string{"RAISERROR('x; y', 16, 1) WITH NOWAIT", "PRINT N'y'"}},
		{"SET ANSI_NULLS, QUOTED_IDENTIFIER ON SET TRANSACTION ISOLATION LEVEL READ COMMITTED SET LOCK_TIMEOUT -1",
			[]string{"SET ANSI_NULLS, QUOTED_IDENTIFIER ON", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET LOCK_TIMEOUT -1"}},
		{"DECLARE @p sysname = N'AX' SELECT @p", []string{"DECLARE @p sysname = N'AX'", "SELECT @p"}},
	} {
		got, err := split(c.src)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("split(%q)\n got %q, %v\nwant %q", c.src, got, err, c.want)
		}
	}
}

// TestParseBatchStatements: the session statements are read with their parts.
func TestParseBatchStatements(t *testing.T) {
	s, err := ParseBatch(`SET ANSI_NULLS, QUOTED_IDENTIFIER OFF; SET TEXTSIZE 2147483647; SET DATEFORMAT mdy;
		SET STATISTICS IO ON; BEGIN TRAN t1; SAVE TRANSACTION s1; COMMIT WORK; ROLLBACK;
		RAISERROR(N'%s failed', 16, 1, N'x') WITH LOG; DROP TABLE IF EXISTS dbo.T; TRUNCATE TABLE [dbo].[U]`)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Statements
	if s0 := st[0].(*SetStatement); !slices.Equal(s0.Options, []string{"ANSI_NULLS", "QUOTED_IDENTIFIER"}) || s0.OptionValue != "OFF" {
		t.Errorf("SET list: %+v", s0)
	}
	if s1 := st[1].(*SetStatement); s1.Option != "TEXTSIZE" || s1.OptionValue != "2147483647" {
		t.Errorf("SET TEXTSIZE: %+v", s1)
	}
	if s2 := st[2].(*SetStatement); s2.Option != "DATEFORMAT" || s2.OptionValue != "MDY" {
		t.Errorf("SET DATEFORMAT: %+v", s2)
	}
	if s3 := st[3].(*SetStatement); s3.Option != "STATISTICS IO" || s3.OptionValue != "ON" {
		t.Errorf("SET STATISTICS IO: %+v", s3)
	}
	for i, want := range []TransactionStatement{{Op: BeginTransaction, Name: "t1"}, {Op: SaveTransaction, Name: "s1"},
		{Op: CommitTransaction}, {Op: RollbackTransaction}} {
		if got := st[4+i].(*TransactionStatement); got.Op != want.Op || got.Name != want.Name {
			t.Errorf("transaction statement %d: %+v, want %+v", i, got, want)
		}
	}
	if r := st[8].(*RaiseErrorStatement); len(r.Args) != 1 || !slices.Equal(r.Options, []string{"LOG"}) {
		t.Errorf("RAISERROR: %+v", r)
	}
	if d := st[9].(*ModifyStatement); d.Verb != "DROP" || d.What != "TABLE" || d.Object.String() != "dbo.T" {
		t.Errorf("DROP: %+v", d)
	}
	if d := st[10].(*ModifyStatement); d.Verb != "TRUNCATE" || d.Object.String() != "dbo.U" {
		t.Errorf("TRUNCATE: %+v", d)
	}
}

// TestParseBatchErrors: what SQL Server would refuse is a syntax error naming the token it found
// (or the last one at the end), a keyword as such; unclosed quotes and comments and unknown SET
// options have their own kinds; T-SQL this package does not read is Unsupported, never a syntax
// error.
func TestParseBatchErrors(t *testing.T) {
	for _, c := range []struct {
		src     string
		kind    ErrorKind
		near    string
		keyword bool
		line    int
	}{
		{"SELECT * FROM", SyntaxError, "FROM", false, 1},
		// At the end of the text the error is on the line of the token it is near, not after
		// the trailing newlines.
		{"SELECT 1\nSELECT * FROM\n\n", SyntaxError, "FROM", false, 2},
		{"SELECT COUNT(*) FROM T GROUP BY\n", SyntaxError, "BY", false, 1},
		{"SELECT * FROM WHERE x = 1", SyntaxError, "WHERE", true, 1},
		{"SELECT name\nFROM sys.databases\nWHERE name = = 'x'", SyntaxError, "=", false, 3},
		{"SET NOCOUNT ON\nGO", SyntaxError, "GO", false, 2},
		{"SELECT 1\nUSE", SyntaxError, "USE", false, 2},
		{"SELECT 1 foo bar", SyntaxError, "bar", false, 1},
		{"SET FOO ON", UnknownOption, "FOO", false, 1},
		{"SET NOCOUNT MAYBE", SyntaxError, "MAYBE", false, 1},
		{"SELECT 'abc", UnclosedQuote, "abc", false, 1},
		{"SELECT [abc", UnclosedQuote, "abc", false, 1},
		{"SELECT 1 /* x", UnclosedComment, "", false, 1},
		{"SELECT a FROM t FOR XML PATH", Unsupported, "FOR", false, 1},
		{"SELECT a COLLATE Latin1_General_CI_AS FROM t", Unsupported, "COLLATE", true, 1},
		{"WHILE 1 = 1 SELECT 1", Unsupported, "WHILE", false, 1},
		{"BEGIN TRY SELECT 1 END TRY", Unsupported, "TRY", false, 1},
	} {
		_, err := ParseBatch(c.src)
		var pe *Error
		if !errors.As(err, &pe) || pe.Kind != c.kind || pe.Near != c.near || pe.NearKeyword != c.keyword || pe.Pos.Line != c.line {
			t.Errorf("%q: %+v, want %v near %q (keyword %v) on line %d", c.src, err, c.kind, c.near, c.keyword, c.line)
		}
	}
	// The tools' scripts (Parse) keep GO as their separator.
	if s, err := Parse("SELECT 1\nGO\nSELECT 2"); err != nil || len(s.Statements) != 3 {
		t.Errorf("Parse with GO: %v", err)
	}
}

// literalRegions are the byte ranges of strings, quoted names and comments in src, found by a
// scanner of their own (the tokenizer is what is under test).
func literalRegions(src string) [][2]int {
	var out [][2]int
	i := 0
	closing := func(open, close byte) int { // the index past the closing quote, doubled quotes skipped
		for j := i + 1; j < len(src); j++ {
			if src[j] == close {
				if j+1 < len(src) && src[j+1] == close {
					j++
					continue
				}
				return j + 1
			}
		}
		return len(src)
	}
	for i < len(src) {
		switch c := src[i]; {
		case c == '\'' || c == '"':
			end := closing(c, c)
			out = append(out, [2]int{i, end})
			i = end
		case c == '[':
			end := closing('[', ']')
			out = append(out, [2]int{i, end})
			i = end
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			out = append(out, [2]int{i, i + end})
			i += end
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			depth, j := 0, i
			for j < len(src) {
				if strings.HasPrefix(src[j:], "/*") {
					depth, j = depth+1, j+2
				} else if strings.HasPrefix(src[j:], "*/") {
					depth, j = depth-1, j+2
					if depth == 0 {
						break
					}
				} else {
					j++
				}
			}
			out = append(out, [2]int{i, j})
			i = j
		default:
			i++
		}
	}
	return out
}

// FuzzSplit: splitting never panics, and a statement never begins or ends inside a string, a
// quoted name or a comment; statements come in order without overlapping, and each one's text
// alone reads as one statement of the same kind.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"SET NOCOUNT ON SELECT 1",
		"SELECT 'a;b' AS [c;d] /* ; */ -- ;\nSELECT \"x;y\"",
		"BEGIN TRAN; SELECT @@TRANCOUNT; ROLLBACK",
		"INSERT INTO t SELECT 1 UNION SELECT 2 SELECT 3",
		"USE distribution SELECT COUNT(*) FROM SYSSERVERSESSIONS WHERE STATUS = 1",
		"SELECT 1\nGO\nEXEC sp_who @loginame = N'sa'",
		"RAISERROR('it''s', 16, 1) PRINT 'x'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if !utf8.ValidString(src) {
			return
		}
		s, err := ParseBatch(src)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if len(s.Spans) != len(s.Statements) {
			t.Fatalf("%d spans for %d statements", len(s.Spans), len(s.Statements))
		}
		regions := literalRegions(src)
		inside := func(off int) bool {
			for _, r := range regions {
				if off > r[0] && off < r[1] {
					return true
				}
			}
			return false
		}
		prev := 0
		for i, sp := range s.Spans {
			if sp.Start < prev || sp.End < sp.Start || sp.End > len(src) {
				t.Fatalf("span %d %+v out of order in %q", i, sp, src)
			}
			if inside(sp.Start) || inside(sp.End) {
				t.Fatalf("statement %d %+v begins or ends inside a literal or comment of %q", i, sp, src)
			}
			prev = sp.End
			if i == 0 {
				continue // a first statement may be a procedure called without EXEC
			}
			alone, err := ParseBatch(src[sp.Start:sp.End])
			if err != nil || len(alone.Statements) != 1 {
				t.Fatalf("statement %d %q alone: %v", i, src[sp.Start:sp.End], err)
			}
		}
	})
}

// TestEvalConversions: values of different types meet as SQL Server converts them (a character
// string to the other side's number or date), CAST and TRY_CAST convert, and what fails is SQL
// Server's own error.
func TestEvalConversions(t *testing.T) {
	row := rowEnv{"session_id": int64(60), "login_time": time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC), "is_user": true}
	for _, c := range []struct {
		pred string
		want Truth
		num  int32 // the error number, 0 for none
	}{
		{"session_id = '60'", True, 0},
		{"session_id = ' 60 '", True, 0},
		{"session_id = 'sixty'", Unknown, 245},
		{"login_time > '2026-03-14'", True, 0},
		{"login_time = '2026-03-14 18:00:00.000'", True, 0},
		{"login_time < '14/03/2026'", Unknown, 241},
		{"CAST('5' AS int) + 1 = 6", True, 0},
		{"CAST(3000000000 AS int) = 1", Unknown, 8115},
		{"TRY_CAST('x' AS int) IS NULL", True, 0},
		{"session_id / 0 = 1", Unknown, 8134},
		{"session_id LIKE '6%'", True, 0},
		{"is_user = 1 AND CAST(session_id AS nvarchar(1)) = '6'", True, 0},
	} {
		e, err := ParseExpr(c.pred)
		if err != nil {
			t.Fatalf("%s: %v", c.pred, err)
		}
		got, err := Test(e, row)
		var ve *ValueError
		if num := int32(0); errors.As(err, &ve) {
			num = ve.Number
			if num != c.num {
				t.Errorf("%s: error %v, want %d", c.pred, err, c.num)
			}
		} else if err != nil || c.num != 0 || got != c.want {
			t.Errorf("%s = %v %v, want %v (error %d)", c.pred, got, err, c.want, c.num)
		}
	}
	if !errors.Is(func() error {
		_, err := Eval(&Binary{Op: "/", Left: &Literal{Kind: NumberLit, Value: "1"}, Right: &Literal{Kind: NumberLit, Value: "0"}}, row)
		return err
	}(), ErrDivideByZero) {
		t.Error("1/0 is not ErrDivideByZero")
	}
}

// split returns the texts of a batch's statements as ParseBatch reads them, in order.
func split(src string) ([]string, error) {
	s, err := ParseBatch(src)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(s.Spans))
	for i, sp := range s.Spans {
		out[i] = src[sp.Start:sp.End]
	}
	return out, nil
}

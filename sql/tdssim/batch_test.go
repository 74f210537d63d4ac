package tdssim

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"cutover/sql/tdssim/tdstest"
	"cutover/sql/tsql"
)

// memTable is a Source of fixed rows.
type memTable struct {
	cols []Column
	rows []Row
}

func (m memTable) Columns() []Column { return m.cols }

func (m memTable) Rows(context.Context) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		row := make(Row, len(m.cols)) // reused, as a Source may
		for _, r := range m.rows {
			copy(row, r)
			if !yield(row, nil) {
				return
			}
		}
	}
}

// countedTable is a CountedSource whose rows must not be read.
type countedTable struct{ n int64 }

func (c countedTable) Columns() []Column { return []Column{{Name: "RECID", Type: TypeBigInt}} }
func (c countedTable) Rows(context.Context) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) { yield(nil, errors.New("read the rows of a counted table")) }
}
func (c countedTable) Count() (int64, error) { return c.n, nil }

// memCatalog holds dbo.T in AXDB and dbo.BIG, a counted table.
type memCatalog struct{}

var t0 = time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC)

func (memCatalog) Table(req *Request, n *tsql.ObjectName) (Source, error) {
	if (n.Schema() == "" || strings.EqualFold(n.Schema(), "dbo")) && (n.Database() == "" || strings.EqualFold(n.Database(), "AXDB")) {
		switch strings.ToUpper(n.Object()) {
		case "T":
			return memTable{
				cols: []Column{{Name: "ID", Type: TypeInt}, {Name: "NAME", Type: TypeNVarChar, Size: 20, Nullable: true},
					{Name: "STATUS", Type: TypeInt}, {Name: "WHEN", Type: TypeDateTime, Nullable: true}},
				rows: []Row{{1, "alpha", 1, t0}, {2, "beta", 0, nil}, {3, "Gamma", 1, t0.Add(time.Hour)}, {4, nil, 0, t0}},
			}, nil
		case "BIG":
			return countedTable{n: 5_000_000_000}, nil
		}
	}
	return nil, InvalidObjectError(n.String())
}

func (memCatalog) Function(req *Request, name string, args []any) (any, bool, error) {
	switch {
	case name == "GETDATE":
		return t0, true, nil
	case name == "SERVERPROPERTY" && len(args) == 1 && strings.EqualFold(fmt.Sprint(args[0]), "EngineEdition"):
		return int64(3), true, nil // sql_variant of base type int
	}
	return nil, false, nil
}

// TestBatchStatements: a batch is split into statements as SQL Server does and each statement's
// answer goes out in order; the session statements, the ad hoc evaluator and the errors are SQL
// Server's. Each case runs its batches on one connection, through go-mssqldb.
func TestBatchStatements(t *testing.T) {
	t.Parallel()
	rt := NewRouter()
	rt.Proc("sp_who", func(r *Request) (*Result, error) {
		v, _ := r.Param("loginame")
		return Table([]string{"loginame", "args"}, Row{v, int64(len(r.Params))}), nil
	})
	rt.Exact("select documented from query", func(r *Request) (*Result, error) {
		return Table([]string{"documented"}, Row{"route"}), nil
	})
	e := newEnv(t, modes()[0], Config{Handler: rt, Catalog: memCatalog{}, DefaultDatabase: "AXDB"})
	ctx := ctxT(t)
	for _, c := range []struct {
		name    string
		batches []string
		want    []string
	}{
		{"SET NOCOUNT ON, then a SELECT, without ';'", []string{"SET NOCOUNT ON\nSELECT ID FROM T WHERE STATUS = 1"},
			[]string{"cols ID", "row 1", "row 3"}},
		{"counts without NOCOUNT", []string{"SELECT ID FROM T WHERE STATUS = 1"}, []string{"cols ID", "row 1", "row 3", "count 2"}},
		{"NOCOUNT lasts for the session", []string{"SET NOCOUNT ON", "SELECT 1 AS a", "SET NOCOUNT OFF SELECT 2 AS b"},
			[]string{"cols a", "row 1", "cols b", "row 2", "count 1"}},
		{"statements in order", []string{"SELECT 1 AS a; SELECT 'x' AS b SELECT 2 AS c"},
			[]string{"cols a", "row 1", "count 1", "cols b", "row x", "count 1", "cols c", "row 2", "count 1"}},
		{"GO is a column alias", []string{"SELECT 1\nGO"}, []string{"cols GO", "row 1", "count 1"}},
		{"USE", []string{"USE master SELECT DB_NAME() AS db", "SELECT DB_NAME() AS db"},
			[]string{"info 5701: Changed database context to 'master'.", "cols db", "row master", "count 1", "cols db", "row master", "count 1"}},
		{"USE of a database the server lacks fails the batch before it runs", []string{"SELECT 1 AS a\nUSE nowhere"},
			[]string{"error 911/16 line 2: Database 'nowhere' does not exist. Make sure that the name is entered correctly."}},
		{"transactions nest", []string{"BEGIN TRAN SELECT @@TRANCOUNT AS n BEGIN TRANSACTION t2 SELECT @@TRANCOUNT AS n COMMIT SELECT @@TRANCOUNT AS n",
			"ROLLBACK SELECT @@TRANCOUNT AS n"},
			[]string{"cols n", "row 1", "count 1", "cols n", "row 2", "count 1", "cols n", "row 1", "count 1", "cols n", "row 0", "count 1"}},
		{"COMMIT without BEGIN ends its statement only", []string{"COMMIT SELECT 2 AS a"},
			[]string{"error 3902/16 line 1: The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.", "cols a", "row 2", "count 1"}},
		{"ROLLBACK without BEGIN", []string{"ROLLBACK"}, []string{"error 3903/16 line 1: The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION."}},
		{"a syntax error fails the whole batch", []string{"SELECT 1 AS a\nSELECT * FROM"}, []string{"error 102/15 line 2: Incorrect syntax near 'FROM'."}},
		{"near a keyword", []string{"SELECT * FROM WHERE"}, []string{"error 156/15 line 1: Incorrect syntax near the keyword 'WHERE'."}},
		{"unclosed quotation mark", []string{"SELECT 'abc"},
			[]string{"error 105/15 line 1: Unclosed quotation mark after the character string 'abc'.", "error 102/15 line 1: Incorrect syntax near 'abc'."}},
		{"unknown SET option", []string{"SET FOO ON"}, []string{"error 195/15 line 1: 'FOO' is not a recognized SET option."}},
		{"SET options clients send", []string{"SET ANSI_NULLS, QUOTED_IDENTIFIER ON SET TRANSACTION ISOLATION LEVEL READ COMMITTED SET TEXTSIZE 2147483647 SET LOCK_TIMEOUT -1 SET DATEFORMAT mdy SELECT @@LOCK_TIMEOUT AS lt, @@TEXTSIZE AS ts"},
			[]string{"cols lt,ts", "row -1|2147483647", "count 1"}},
		{"RAISERROR severity 16 ends its statement", []string{"RAISERROR('boom %s %d', 16, 1, N'x', 5) SELECT 2 AS a"},
			[]string{"error 50000/16 line 1: boom x 5", "cols a", "row 2", "count 1"}},
		{"RAISERROR severity 10 is a message", []string{"RAISERROR('note', 10, 1)"}, []string{"info 50000: note"}},
		{"PRINT", []string{"PRINT 'hello ' + 'there'"}, []string{"info 0: hello there"}},
		{"an invalid object ends the batch", []string{"SELECT 1 AS a SELECT * FROM nowhere SELECT 2 AS b"},
			[]string{"cols a", "row 1", "count 1", "error 208/16 line 1: Invalid object name 'nowhere'."}},
		{"invalid column", []string{"SELECT nope FROM T"}, []string{"error 207/16 line 1: Invalid column name 'nope'."}},
		{"a qualifier that names no table", []string{"SELECT x.ID FROM T"}, []string{`error 4104/16 line 1: The multi-part identifier "x.ID" could not be bound.`}},
		{"divide by zero ends its statement", []string{"SELECT ID / 0 AS x FROM T SELECT 2 AS b"},
			[]string{"cols x", "error 8134/16 line 1: Divide by zero error encountered.", "cols b", "row 2", "count 1"}},
		{"star in the documented order", []string{"SELECT * FROM dbo.T WITH (NOLOCK) WHERE ID = 1"},
			[]string{"cols ID,NAME,STATUS,WHEN", "row 1|alpha|1|2026-03-14 18:00:00", "count 1"}},
		{"WHERE with IN, LIKE, IS NULL, AND/OR", []string{"SELECT ID FROM T WHERE (NAME LIKE 'g%' OR ID IN (1, 2)) AND [WHEN] IS NOT NULL"},
			[]string{"cols ID", "row 1", "row 3", "count 2"}},
		{"NULL is unknown", []string{"SELECT ID FROM T WHERE NAME <> 'alpha'"}, []string{"cols ID", "row 2", "row 3", "count 2"}},
		{"TOP and ORDER BY DESC", []string{"SELECT TOP (2) ID, NAME FROM T ORDER BY ID DESC"},
			[]string{"cols ID,NAME", "row 4|NULL", "row 3|Gamma", "count 2"}},
		{"ORDER BY an alias and an ordinal", []string{"SELECT NAME AS n, ID FROM T WHERE NAME IS NOT NULL ORDER BY n DESC, 2"},
			[]string{"cols n,ID", "row Gamma|3", "row beta|2", "row alpha|1", "count 3"}},
		{"ORDER BY an ordinal out of range", []string{"SELECT ID FROM T ORDER BY 2"},
			[]string{"error 108/15 line 1: The ORDER BY position number 2 is out of range of the number of items in the select list."}},
		{"aggregates", []string{"SELECT COUNT(*) AS n, COUNT([WHEN]) AS w, COUNT_BIG(1) AS b, MAX(NAME) AS m, SUM(STATUS) AS s FROM T"},
			[]string{"cols n,w,b,m,s", "row 4|3|4|Gamma|2", "count 1"}},
		{"GROUP BY with counts", []string{"SELECT STATUS, COUNT(*) AS n FROM T GROUP BY STATUS ORDER BY STATUS"},
			[]string{"cols STATUS,n", "row 0|2", "row 1|2", "count 2"}},
		{"a column neither grouped nor aggregated", []string{"SELECT NAME, COUNT(*) FROM T GROUP BY STATUS"},
			[]string{"error 8120/16 line 1: Column 'T.NAME' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause."}},
		{"an aggregate without GROUP BY beside a column", []string{"SELECT ID, COUNT(*) FROM T t"},
			[]string{"error 8118/16 line 1: Column 't.ID' is invalid in the select list because it is not contained in an aggregate function and there is no GROUP BY clause."}},
		{"COUNT of a table from its count", []string{"SELECT COUNT_BIG(*) AS n FROM BIG"}, []string{"cols n", "row 5000000000", "count 1"}},
		{"COUNT over an int overflows", []string{"SELECT COUNT(*) FROM BIG"},
			[]string{"error 8115/16 line 1: Arithmetic overflow error converting expression to data type int."}},
		{"a three-part name", []string{"SELECT COUNT(*) AS n FROM AXDB.dbo.T"}, []string{"cols n", "row 4", "count 1"}},
		{"DISTINCT", []string{"SELECT DISTINCT STATUS FROM T ORDER BY STATUS DESC"}, []string{"cols STATUS", "row 1", "row 0", "count 2"}},
		{"DECLARE, SET and a variable in WHERE", []string{"DECLARE @s int = 0 SET @s += 1 SELECT ID FROM T WHERE STATUS = @s AND [WHEN] < DATEADD(MINUTE, 30, GETDATE())"},
			[]string{"cols ID", "row 1", "count 1"}},
		{"a variable never declared", []string{"SELECT 1 AS a SELECT @x"}, []string{`error 137/15 line 1: Must declare the scalar variable "@x".`}},
		{"session functions", []string{"SELECT @@SPID - @@SPID AS z, DB_NAME() AS db, SUSER_SNAME() AS who"},
			[]string{"cols z,db,who", "row 0|AXDB|sa", "count 1"}},
		{"SERVERPROPERTY's sql_variant goes as nvarchar, whatever the catalog's type", []string{"SELECT SERVERPROPERTY('EngineEdition') AS e WHERE SERVERPROPERTY('EngineEdition') = 3"},
			[]string{"cols e", "row 3", "count 1"}},
		{"EXEC text reaches the procedure an RPC does", []string{"EXEC sp_who @loginame = N'sa'"},
			[]string{"cols loginame,args", "row sa|1", "count 1"}},
		{"a procedure by name needs no EXEC first", []string{"sp_who active"}, []string{"cols loginame,args", "row NULL|1", "count 1"}},
		{"a routed statement in a batch keeps its route", []string{"SET NOCOUNT ON; SELECT documented FROM query"},
			[]string{"cols documented", "row route"}},
		{"writes are refused", []string{"INSERT INTO dbo.T (ID) VALUES (5) SELECT COUNT(*) AS n FROM T"},
			[]string{"error 229/14 line 1: The INSERT permission was denied on the object 'T', database 'AXDB', schema 'dbo'.", "cols n", "row 4", "count 1"}},
		{"a write to what does not exist", []string{"DELETE FROM dbo.nothing"}, []string{"error 208/16 line 1: Invalid object name 'dbo.nothing'."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := e.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var got []string
			for _, b := range c.batches {
				got = append(got, tdstest.Transcript(t, ctx, conn, b)...)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
			}
		})
	}
}

// TestBatchTokens: on the wire, every DONE of a batch but the last carries DONE_MORE, DONE_COUNT
// is off under SET NOCOUNT ON, USE sends ENVCHANGE 1, and T-SQL transactions send ENVCHANGE 8 and
// 9 from TDS 7.2 on (none before: "Types 8 to 19 were introduced in TDS 7.2", MS-TDS 2.2.7.9),
// sharing the transaction of the Transaction Manager requests.
func TestBatchTokens(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, Config{Catalog: memCatalog{}, DefaultDatabase: "AXDB"})
	c := dialRaw(t, srv)
	c.prelogin(encryptNotSup)
	c.login(0x74000004, "sa", "pw", "AXDB")
	toks := c.batch("SET NOCOUNT ON SELECT ID FROM T WHERE ID = 1 SET NOCOUNT OFF SELECT 2 AS b")
	ds := dones(toks)
	if len(ds) != 4 {
		t.Fatalf("DONEs %v", ds)
	}
	for i, d := range ds {
		more := d.status&doneMore != 0
		if more != (i < len(ds)-1) {
			t.Errorf("DONE %d status %#x: DONE_MORE on every DONE but the last", i, d.status)
		}
	}
	if ds[1].status&doneCount != 0 || ds[3].status&doneCount == 0 || ds[3].count != 1 {
		t.Errorf("DONE_COUNT under NOCOUNT: %v", ds)
	}
	toks = c.batch("USE master BEGIN TRAN COMMIT")
	ev := envs(toks)
	if len(ev) != 3 || ev[0].envType != envDatabase || ev[1].envType != envBeginTran || ev[2].envType != envCommitTran {
		t.Fatalf("ENVCHANGEs %v", ev)
	}
	if string(ev[2].envOld) != string(ev[1].envNew) || len(ev[1].envNew) != 8 {
		t.Errorf("the commit names another transaction: %x %x", ev[1].envNew, ev[2].envOld)
	}
	// A transaction begun in T-SQL is the one a Transaction Manager request commits.
	c.batch("BEGIN TRAN")
	c.send(pktTransMgr, 0, transMgrPayload(txCommit, 0, 0))
	if ev := envs(c.readTokens()); len(ev) != 1 || ev[0].envType != envCommitTran {
		t.Fatalf("TM commit of a T-SQL transaction: %v", ev)
	}
	old := dialRaw(t, srv)
	old.prelogin(encryptNotSup)
	old.login(0x71000001, "sa", "pw", "AXDB")
	if ev := envs(old.batch("BEGIN TRAN SELECT @@TRANCOUNT ROLLBACK")); len(ev) != 0 {
		t.Errorf("TDS 7.1 got transaction ENVCHANGEs %v", ev)
	}
}

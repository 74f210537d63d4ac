package sim

import (
	"cutover/sql/tdssim/tdstest"
	stdsql "database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestAdHocOverTheWorld: the statement forms the README's Simulators section lists, typed as a
// DBA would on the night, against the simulated world through go-mssqldb: each batch split as SQL
// Server splits it, the session statements, read-only SELECTs over the AX tables, the distribution
// tables, the catalog views and DMVs, with the documented columns and SQL Server's errors. Each
// case runs its batches on one connection.
func TestAdHocOverTheWorld(t *testing.T) {
	f := newFixture(t, Config{Tables: 300, Seed: 1})
	ctx := f.ctx
	now := f.clk.Now().Format("2006-01-02 15:04:05")
	for _, c := range []struct {
		name    string
		db      *stdsql.DB
		batches []string
		want    []string
	}{
		{"SET NOCOUNT ON, then a WHERE query on SYSSERVERSESSIONS", f.src(),
			[]string{"SET NOCOUNT ON\nSELECT COUNT(*) AS running FROM SYSSERVERSESSIONS WHERE STATUS = 1"},
			[]string{"cols running", "row 3"}},
		{"column list, WITH (NOLOCK), LIKE, AND, ORDER BY DESC", f.src(),
			[]string{"SELECT SERVERID, AOSID FROM dbo.SYSSERVERSESSIONS WITH (NOLOCK) WHERE STATUS = 1 AND AOSID LIKE 'AX-AOS%' ORDER BY SERVERID DESC"},
			[]string{"cols SERVERID,AOSID", "row 2|AX-AOS02@2712", "row 1|AX-AOS01@2712", "count 2"}},
		{"TOP, IN, OR, NOT, IS NULL", f.src(),
			[]string{"SELECT TOP (1) SERVERID FROM SYSSERVERSESSIONS WHERE (SERVERID IN (2, 3) OR AOSID IS NULL) AND NOT STATUS = 0 ORDER BY 1"},
			[]string{"cols SERVERID", "row 2", "count 1"}},
		{"* in the documented order", f.src(),
			[]string{"SELECT * FROM sys.schemas WHERE name IN ('dbo', 'sys') ORDER BY schema_id DESC"},
			[]string{"cols name,schema_id,principal_id", "row sys|4|4", "row dbo|1|1", "count 2"}},
		{"an AX table: * and COUNT_BIG from the world's count", f.src(),
			[]string{"SELECT * FROM CUSTTABLE WHERE RECID IS NULL", "SELECT COUNT_BIG(*) AS n FROM [dbo].[CUSTTABLE] WITH (NOLOCK) WHERE RECID > 0"},
			[]string{"cols RECID,RECVERSION,PARTITION,DATAAREAID", "count 0", "cols n", fmt.Sprintf("row %d", sourceRows(t, f, "CUSTTABLE")), "count 1"}},
		{"GROUP BY with counts, ordered by the count", f.src(),
			[]string{"SELECT TOP 1 STATUS, COUNT(1) AS jobs FROM dbo.BATCHJOB GROUP BY STATUS ORDER BY jobs DESC, STATUS"},
			[]string{"cols STATUS,jobs", "row 1|13", "count 1"}},
		{"USE, DB_NAME(), three-part names", f.src(),
			[]string{"USE distribution SELECT DB_NAME() AS db", "SELECT COUNT(*) AS agents FROM MicrosoftDynamicsAX.dbo.SYSSERVERSESSIONS", "USE master SELECT COUNT(*) AS agents FROM distribution.dbo.MSdistribution_agents"},
			[]string{"info 5701: Changed database context to 'distribution'.", "cols db", "row distribution", "count 1",
				"cols agents", "row 3", "count 1",
				"info 5701: Changed database context to 'master'.", "cols agents", "row 5", "count 1"}},
		{"USE of a database the server lacks", f.src(), []string{"SELECT 1 AS a USE nowhere"},
			[]string{"error 911/16 line 1: Database 'nowhere' does not exist. Make sure that the name is entered correctly."}},
		{"transactions and @@TRANCOUNT", f.src(),
			[]string{"BEGIN TRAN cutover SELECT @@TRANCOUNT AS n COMMIT TRAN cutover SELECT @@TRANCOUNT AS n", "ROLLBACK"},
			[]string{"cols n", "row 1", "count 1", "cols n", "row 0", "count 1",
				"error 3903/16 line 1: The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION."}},
		{"session functions on the world's clock", f.src(),
			[]string{"SELECT SERVERPROPERTY('ProductVersion') AS v, SERVERPROPERTY('EngineEdition') AS e, DB_ID() AS id, GETDATE() AS now, @@SPID - @@SPID AS z"},
			[]string{"cols v,e,id,now,z", "row 13.0.5026.0|3|5|" + now + "|0", "count 1"}},
		{"a DMV", f.src(),
			[]string{"SELECT COUNT(*) AS n FROM sys.dm_exec_sessions WHERE session_id = @@SPID AND status = 'running'"},
			[]string{"cols n", "row 1", "count 1"}},
		{"EXEC text reaches the procedure", f.src(), []string{"EXEC sp_no_such_proc @x = 1", "EXECUTE dbo.sp_nothing"},
			[]string{"error 2812/16 line 1: Could not find stored procedure 'sp_no_such_proc'.",
				"error 2812/16 line 1: Could not find stored procedure 'dbo.sp_nothing'."}},
		{"a syntax error fails the whole batch", f.src(), []string{"SELECT 1 AS a\nSELECT * FROM"},
			[]string{"error 102/15 line 2: Incorrect syntax near 'FROM'."}},
		{"invalid column and object", f.src(), []string{"SELECT nope FROM SYSSERVERSESSIONS", "SELECT * FROM dbo.NO_SUCH_TABLE"},
			[]string{"error 207/16 line 1: Invalid column name 'nope'.", "error 208/16 line 1: Invalid object name 'dbo.NO_SUCH_TABLE'."}},
		{"a column neither grouped nor aggregated", f.src(), []string{"SELECT STATUS, CAPTION, COUNT(*) FROM BATCHJOB GROUP BY STATUS"},
			[]string{"error 8120/16 line 1: Column 'BATCHJOB.CAPTION' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause."}},
		{"divide by zero and RAISERROR end their statement only", f.src(),
			[]string{"SELECT SERVERID / 0 AS x FROM SYSSERVERSESSIONS RAISERROR('stop here', 16, 1) SELECT 2 AS b"},
			[]string{"cols x", "error 8134/16 line 1: Divide by zero error encountered.", "error 50000/16 line 1: stop here", "cols b", "row 2", "count 1"}},
		{"writes are refused as to a read-only login", f.src(),
			[]string{"UPDATE CUSTTABLE SET RECVERSION = 2", "CREATE TABLE scratch (a int)"},
			[]string{"error 229/14 line 1: The UPDATE permission was denied on the object 'CUSTTABLE', database 'MicrosoftDynamicsAX', schema 'dbo'.",
				"error 262/16 line 1: CREATE TABLE permission denied in database 'MicrosoftDynamicsAX'."}},
		{"Azure SQL Database: no three-part names, no USE of another database", f.tgt(),
			[]string{"SELECT DB_NAME() AS db, SERVERPROPERTY('EngineEdition') AS e", "SELECT COUNT(*) FROM master.sys.databases", "USE master"},
			[]string{"cols db,e", "row AxDB|5", "count 1",
				"error 40515/16 line 1: Reference to database and/or server name in 'master.sys.databases' is not supported in this version of SQL Server.",
				"error 40508/16 line 1: USE statement is not supported to switch between databases. Use a new connection to connect to a different database."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := c.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// A pooled connection is reset (RESETCONNECTION) before it is used again.
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

func sourceRows(t *testing.T, f *fixture, table string) int64 {
	t.Helper()
	n, err := f.w.SourceRows(table)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

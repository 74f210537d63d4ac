package tsql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	toks, err := Tokenize("SELECT [a]]b], \"q\"\"x\", N'it''s', 'x', @p1, @@SPID, 12, 1.5e3, .5, 0x1F -- note\n/* a /* nested */ c */ <> != <= ;")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range toks {
		s := tk.Kind.String() + ":" + tk.Value
		if tk.National {
			s += ":N"
		}
		got = append(got, s)
	}
	want := []string{"identifier:SELECT", "quoted identifier:a]b", "operator:,", "quoted identifier:q\"x", "operator:,",
		"string:it's:N", "operator:,", "string:x", "operator:,", "variable:p1", "operator:,", "system variable:SPID",
		"operator:,", "number:12", "operator:,", "number:1.5e3", "operator:,", "number:.5", "operator:,", "number:0x1F",
		"operator:<>", "operator:!=", "operator:<=", "operator:;", "end of text:"}
	if !slices.Equal(got, want) {
		t.Fatalf("tokens\n got %q\nwant %q", got, want)
	}
	if p := toks[1].Pos; p.Line != 1 || p.Col != 8 || p.Offset != 7 {
		t.Errorf("position of [a]]b] = %+v", p)
	}
}

func TestTokenizeErrors(t *testing.T) {
	for _, src := range []string{"'open", "[open", "\"open", "/* open /* nested */", "SELECT @", "SELECT ?", "N'x"} {
		_, err := Tokenize(src)
		var te *Error
		if !errors.As(err, &te) {
			t.Errorf("%q: %v, want a *tsql.Error", src, err)
		}
	}
}

// names lists the resolved references of src as strings: objects, then columns with what they
// resolved to.
func names(t *testing.T, src string, cat Catalog) (objects, columns, params []string) {
	t.Helper()
	s, err := Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	r := Resolve(s, cat)
	for _, o := range r.Objects {
		objects = append(objects, fmt.Sprintf("%s %s", o.Kind, o.Name))
	}
	for _, c := range r.Columns {
		to := "?"
		switch {
		case c.Table != nil:
			to = c.Table.String()
		case c.Derived != nil:
			to = "<" + c.Derived.Name + ">"
		}
		columns = append(columns, fmt.Sprintf("%s→%s.%s", c.Ref, to, c.Problem))
	}
	for _, p := range r.Params {
		o := ""
		if p.Output {
			o = " OUTPUT"
		}
		params = append(params, fmt.Sprintf("%s @%s%s", p.Proc, p.Name, o))
	}
	return
}

func TestResolveJoinsAliasesAndHints(t *testing.T) {
	objs, cols, _ := names(t, `SELECT p.publication, a.article, da.name AS agent_name, st.UndelivCmdsInDistDB AS pending
FROM dbo.MSdistribution_status st WITH (NOLOCK)
JOIN dbo.MSdistribution_agents da WITH (NOLOCK) ON da.id = st.agent_id
LEFT OUTER JOIN dbo.MSarticles AS a ON a.article_id = st.article_id
INNER JOIN [dbo].[MSpublications] p ON p.publication_id = a.publication_id
WHERE da.subscriber_id >= 0 ORDER BY st.UndelivCmdsInDistDB DESC`, nil)
	if want := []string{"table dbo.MSdistribution_status", "table dbo.MSdistribution_agents", "table dbo.MSarticles", "table dbo.MSpublications"}; !slices.Equal(objs, want) {
		t.Errorf("objects %q", objs)
	}
	for _, want := range []string{"p.publication→dbo.MSpublications.bound", "da.id→dbo.MSdistribution_agents.bound",
		"st.agent_id→dbo.MSdistribution_status.bound", "da.subscriber_id→dbo.MSdistribution_agents.bound",
		"st.UndelivCmdsInDistDB→dbo.MSdistribution_status.bound"} {
		if !slices.Contains(cols, want) {
			t.Errorf("columns %q lack %q", cols, want)
		}
	}
}

func TestResolveCTEsAndWindows(t *testing.T) {
	objs, cols, _ := names(t, `WITH h AS (
  SELECT agent_id, runstatus, [time], ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY [time] DESC, [timestamp] DESC) AS rn
  FROM dbo.MSdistribution_history WITH (NOLOCK))
SELECT da.publication, h.runstatus, h.[time], h.nosuch
FROM h JOIN dbo.MSdistribution_agents da ON da.id = h.agent_id
WHERE h.rn = 1 ORDER BY da.publication`, nil)
	if want := []string{"table dbo.MSdistribution_history", "table dbo.MSdistribution_agents"}; !slices.Equal(objs, want) {
		t.Errorf("objects %q (the CTE is not an object)", objs)
	}
	for _, want := range []string{"agent_id→dbo.MSdistribution_history.bound", "timestamp→dbo.MSdistribution_history.bound",
		"h.runstatus→<runstatus>.bound", "h.rn→<rn>.bound", "h.nosuch→?.invalid", "da.publication→dbo.MSdistribution_agents.bound"} {
		if !slices.Contains(cols, want) {
			t.Errorf("columns %q lack %q", cols, want)
		}
	}
}

type mapCatalog map[string][]string

func (m mapCatalog) Columns(n *ObjectName) ([]string, bool) {
	c, ok := m[strings.ToLower(n.String())]
	return c, ok
}

func TestResolveUnqualifiedWithAndWithoutCatalog(t *testing.T) {
	src := `SELECT name, x FROM sys.tables t JOIN sys.schemas s ON s.schema_id = t.schema_id`
	_, cols, _ := names(t, src, nil)
	if !slices.Contains(cols, "name→?.ambiguous") || !slices.Contains(cols, "x→?.ambiguous") {
		t.Errorf("without a catalog two tables make an unqualified column ambiguous: %q", cols)
	}
	cat := mapCatalog{"sys.tables": {"name", "object_id", "schema_id", "x"}, "sys.schemas": {"name", "schema_id"}}
	_, cols, _ = names(t, src, cat)
	if !slices.Contains(cols, "name→?.ambiguous") || !slices.Contains(cols, "x→sys.tables.bound") {
		t.Errorf("with a catalog: %q", cols)
	}
	_, cols, _ = names(t, `SELECT nope FROM sys.schemas`, cat)
	if !slices.Equal(cols, []string{"nope→sys.schemas.invalid"}) {
		t.Errorf("a column the catalog's table lacks: %q", cols)
	}
	_, cols, _ = names(t, `SELECT anything FROM dbo.CUSTTABLE`, cat)
	if !slices.Equal(cols, []string{"anything→dbo.CUSTTABLE.bound"}) {
		t.Errorf("a single table of unknown columns takes any column: %q", cols)
	}
	_, cols, _ = names(t, `SELECT t.name FROM sys.tables AS x`, cat)
	if !slices.Equal(cols, []string{"t.name→?.unbound"}) {
		t.Errorf("an aliased table is not known by its name: %q", cols)
	}
	_, cols, _ = names(t, `SELECT tables.name, sys.tables.object_id FROM sys.tables`, cat)
	if !slices.Equal(cols, []string{"tables.name→sys.tables.bound", "sys.tables.object_id→sys.tables.bound"}) {
		t.Errorf("qualified by the table's own name: %q", cols)
	}
}

func TestResolveSubqueriesAndStar(t *testing.T) {
	cat := mapCatalog{"sys.databases": {"name", "database_id", "owner_sid"}, "sys.master_files": {"database_id", "size"}}
	s, err := Parse(`SELECT SUSER_SNAME(d.owner_sid) AS owner,
  (SELECT SUM(CAST(f.size AS bigint)) * 8192 FROM sys.master_files f WHERE f.database_id = d.database_id) AS size_bytes
FROM sys.databases d WHERE d.name = @p1 AND EXISTS (SELECT 1 FROM sys.master_files WHERE database_id = d.database_id)`)
	if err != nil {
		t.Fatal(err)
	}
	r := Resolve(s, cat)
	for _, c := range r.Columns {
		if c.Problem != Bound || c.Table == nil {
			t.Errorf("%s: %s %v", c.Ref, c.Problem, c.Table)
		}
	}
	if len(r.Results) != 1 || len(r.Results[0]) != 2 || r.Results[0][1].Name != "size_bytes" {
		t.Fatalf("results %+v", r.Results)
	}
	var fs []string
	for _, f := range r.Functions {
		fs = append(fs, f.Name.String())
	}
	if !slices.Equal(fs, []string{"SUSER_SNAME", "SUM"}) { // CAST is syntax, not a function call
		t.Errorf("functions %q", fs)
	}
	s, _ = Parse(`SELECT * FROM sys.master_files`)
	r = Resolve(s, cat)
	if got := len(r.Results[0]); got != 2 || r.Results[0][1].Name != "size" {
		t.Errorf("star over a known table: %+v", r.Results[0])
	}
	s, _ = Parse(`SELECT TOP (20) * FROM dbo.RELEASEUPDATESCRIPTSERRORLOG`)
	r = Resolve(s, cat)
	if len(r.Results[0]) != 1 || !r.Results[0][0].Star {
		t.Errorf("star over an unknown table: %+v", r.Results[0])
	}
}

func TestResolveBatchWithExecAndDeclare(t *testing.T) {
	objs, _, params := names(t, `DECLARE @tracer_id int;
EXEC sys.sp_posttracertoken @publication = @p1, @tracer_token_id = @tracer_id OUTPUT;
SELECT @tracer_id AS tracer_id`, nil)
	if !slices.Equal(objs, []string{"procedure sys.sp_posttracertoken"}) {
		t.Errorf("objects %q", objs)
	}
	if want := []string{"sys.sp_posttracertoken @publication", "sys.sp_posttracertoken @tracer_token_id OUTPUT"}; !slices.Equal(params, want) {
		t.Errorf("params %q", params)
	}
	s, _ := Parse("DECLARE @installed int;\nEXEC @installed = master.sys.sp_MS_replication_installed;\nSELECT @installed AS installed")
	r := Resolve(s, nil)
	if n := r.Objects[0].Name; n.Database() != "master" || n.Schema() != "sys" || n.Object() != "sp_MS_replication_installed" {
		t.Errorf("three-part name %v", n.Parts)
	}
	if r.Declared["installed"].String() != "int" || len(r.Results) != 1 {
		t.Errorf("declared %v results %v", r.Declared, r.Results)
	}
	objs, _, _ = names(t, `master.sys.xp_fixeddrives`, nil)
	if !slices.Equal(objs, []string{"procedure master.sys.xp_fixeddrives"}) {
		t.Errorf("a procedure called by name: %q", objs)
	}
}

// TestParseDocumentedQueries parses the monitoring scripts Microsoft documents for the data
// upgrade (dynamics-365-unified-operations-public:
// articles/fin-ops-core/dev-itpro/migration-upgrade/monitor-upgrade.md), read verbatim.
func TestParseDocumentedQueries(t *testing.T) {
	for _, src := range []string{
		"SELECT StartTime\n    ,EndTime\n    ,Steps\n    ,SubSteps\n    ,STATUS\nFROM [DBUPGRADE].[DATAUPGRADESTATUS]\nORDER BY EndTime DESC",
		"SELECT SPID       = er.session_id\n    ,STATUS         = ses.STATUS\n    ,[Login]        = ses.login_name\n    ,Host           = ses.host_name\n    ,BlkBy          = er.blocking_session_id\n    ,DBName         = DB_Name(er.database_id)\n    ,CommandType    = er.command\n    ,ObjectName     = OBJECT_NAME(st.objectid)\n    ,CPUTime        = er.cpu_time\n    ,StartTime      = er.start_time\n    ,TimeElapsed    = CAST(GETDATE() - er.start_time AS TIME)\n    ,SQLStatement   = st.text\nFROM sys.dm_exec_requests er\n    OUTER APPLY sys.dm_exec_sql_text(er.sql_handle) st\n    LEFT JOIN sys.dm_exec_sessions ses\n    ON ses.session_id = er.session_id\nWHERE st.text IS NOT NULL",
		"IF EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'DBUPGRADE' AND TABLE_NAME = 'SERVICINGSTEP')\nBEGIN\n    WITH DBSyncExecStatsRecords AS (\n\t\tSELECT * FROM DBSyncExecStats\n\t\tWHERE SyncStep <> 'PartialList, PostTableViewSyncActions'\n\t),\n\tServicingStepsTimestamps AS (\n\t\tSELECT \n\t\t\tMAX(CASE WHEN Path = '/DataUpgrade/PreSync' AND Status = 2 THEN DATEADD(SECOND, -2, ModifiedDateTime) END) AS PreSyncCompletedTime\n\t\tFROM DBUPGRADE.SERVICINGSTEP\n\t)\n\tSELECT T1.SyncStep, T2.PreSyncCompletedTime FROM DBSyncExecStatsRecords T1 CROSS JOIN ServicingStepsTimestamps T2\n\tORDER BY RecID DESC\nEND\nELSE\nBEGIN\n    PRINT 'Upgrade Not In Progress'\nEND",
		"--Check status of batch tasks for data upgrade job\nselect t1.status, case \nwhen t1.status = 0 then 'Hold'\nwhen t1.status = 9 then 'Scheduled'\nend as ScriptStatus,\ncount(*) as Total from batch t1\nwhere t1.batchjobid in (select t2.recid from batchjob t2 where t2.caption = 'Data upgrade' and t2.status = 2)\ngroup by t1.status",
		"select company, sum(durationmins) as total_duration_mins\nfrom RELEASEUPDATESCRIPTSLOG\ngroup by company \norder by sum(durationmins) desc",
		"USE master;\nGO\nDECLARE @installed int;\nEXEC @installed = sys.sp_MS_replication_installed;\nSELECT @installed;",
	} {
		if _, err := Parse(src); err != nil {
			t.Errorf("%.60q: %v", src, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"SELECT", "expected an expression"},
		{"SELECT a FROM", "expected a table name"},
		{"SELECT a FROM t WHERE", "expected an expression"},
		{"SELECT (a FROM t", "expected )"},
		{"SELECT a FROM t JOIN u", "expected ON"},
		{"WHILE 1 = 1 SELECT 1", "WHILE statement is not supported"},
		{"SELECT a INTO x FROM t", "INTO is not supported"},
		{"SELECT a FROM a.b.c.d.e", "more than four parts"},
		{"EXEC ('select 1')", "dynamic string"},
		{"SELECT CASE END", "expected WHEN"},
		{"DECLARE @t TABLE (a int)", "table variables"},
		{"SELECT " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), "nesting deeper"},
	} {
		_, err := Parse(c.src)
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: %v, want %q", c.src, err, c.want)
		}
	}
}

func TestResolveOrderByAliasAndSetOps(t *testing.T) {
	s, err := Parse(`SELECT a.x AS total FROM dbo.T a ORDER BY total`)
	if err != nil {
		t.Fatal(err)
	}
	r := Resolve(s, nil)
	if u := r.Columns[len(r.Columns)-1]; u.Ref.Column() != "total" || u.Derived == nil || u.Derived.Name != "total" || u.Problem != Bound {
		t.Errorf("ORDER BY an alias: %+v", u)
	}
	s, err = Parse(`SELECT a FROM dbo.T UNION ALL SELECT b FROM dbo.U ORDER BY a`)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Statements[0].(*SelectStatement)
	if len(st.OrderBy) != 1 || st.Query.(*SetOp).Right.(*Select).OrderBy != nil {
		t.Errorf("ORDER BY after UNION belongs to the statement")
	}
	r = Resolve(s, nil)
	if len(r.Results) != 1 || r.Results[0][0].Name != "a" {
		t.Errorf("union result %+v", r.Results)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT a, b AS c FROM dbo.t WITH (NOLOCK) WHERE x IN (1, 2) ORDER BY a DESC",
		"WITH h AS (SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) AS rn FROM t) SELECT * FROM h WHERE h.rn = 1",
		"DECLARE @x int; EXEC @x = master.sys.p @a = N'x', @b = @x OUTPUT; SELECT @x",
		"SELECT CAST(MAX(CASE WHEN i.k = 1 THEN 1 ELSE 0 END) AS bit) FROM a LEFT JOIN b i ON i.id = a.id GROUP BY a.n",
		"IF EXISTS (SELECT 1) BEGIN PRINT 'x' END ELSE SELECT 1",
		"SELECT [a]]b], \"c\" FROM [x].[y] /* c /* n */ */ -- e",
		"SELECT TOP (20) id FROM t ORDER BY [time] DESC, id DESC",
		"SELECT DATEADD(SECOND, -2, x) FROM t CROSS APPLY f(t.a) z OUTER APPLY g() w",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse(src)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		r := Resolve(s, mapCatalog{"t": {"a", "b"}})
		for _, c := range r.Columns {
			if c.Ref == nil || len(c.Ref.Parts) == 0 {
				t.Fatalf("a column use without its reference: %+v", c)
			}
		}
	})
}

// rowEnv is a row of named values for the evaluator.
type rowEnv map[string]any

func (r rowEnv) Column(c *ColumnRef) (any, error) {
	v, ok := r[strings.ToLower(c.Column())]
	if !ok {
		return nil, fmt.Errorf("no column %s", c)
	}
	return v, nil
}

func (r rowEnv) Call(f *FuncCall, args []any) (any, error) {
	if strings.EqualFold(f.Name.Object(), "DB_ID") && len(args) == 0 {
		return int64(5), nil
	}
	return nil, fmt.Errorf("no function %s", f.Name)
}

func (r rowEnv) Variable(v *VariableRef) (any, error) {
	if v.System && strings.EqualFold(v.Name, "SPID") {
		return int64(52), nil
	}
	return nil, fmt.Errorf("no variable %s", v.Name)
}

func TestEvalThreeValuedLogic(t *testing.T) {
	row := rowEnv{"program_name": nil, "session_id": int64(60), "database_id": int64(5), "host_name": "AX-AOS01 ", "n": 2.5}
	for _, c := range []struct {
		pred string
		want Truth
	}{
		{"program_name <> N'cutover'", Unknown},
		{"program_name IS NULL OR program_name <> N'cutover'", True},
		{"NOT (program_name = N'cutover')", Unknown},
		{"database_id = DB_ID() AND session_id <> @@SPID", True},
		{"session_id IN (1, 60, NULL)", True},
		{"session_id NOT IN (1, NULL)", Unknown},
		{"session_id BETWEEN 50 AND 59", False},
		{"host_name = 'ax-aos01'", True},
		{"host_name LIKE N'AX-%0_ '", True},
		{"host_name LIKE '[a-b]X%' AND host_name NOT LIKE '%[^ ]9%'", True},
		{"n * 2 = 5 AND -session_id < 0 AND session_id % 7 = 4", True},
		{"CASE WHEN program_name IS NULL THEN 1 ELSE 0 END = 1", True},
		{"program_name IS NULL AND 1 = 0", False},
	} {
		e, err := ParseExpr(c.pred)
		if err != nil {
			t.Fatalf("%s: %v", c.pred, err)
		}
		got, err := Test(e, row)
		if err != nil || got != c.want {
			t.Errorf("%s = %v %v, want %v", c.pred, got, err, c.want)
		}
	}
	e, _ := ParseExpr("session_id IN (SELECT 1)")
	if _, err := Test(e, row); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a subquery: %v", err)
	}
	if like(strings.Repeat("a", 40), strings.Repeat("%a", 30)+"b") {
		t.Error("like matched")
	}
}

// TestRestoreStatements: RESTORE DATABASE and RESTORE VERIFYONLY in the documented forms parse
// with their database, devices and options; other RESTORE forms and malformed ones are errors.
func TestRestoreStatements(t *testing.T) {
	s, err := Parse("RESTORE DATABASE @p1 FROM DISK = @p2 WITH FILE = @p3, REPLACE, CHECKSUM; RESTORE VERIFYONLY FROM DISK = N'D:\\ax.bak' WITH CHECKSUM")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Statements) != 2 {
		t.Fatalf("%d statements", len(s.Statements))
	}
	db, ok := s.Statements[0].(*RestoreStatement)
	if !ok || db.What != "DATABASE" || db.DatabaseVar != "p1" || len(db.Devices) != 1 || db.Devices[0].Type != "DISK" {
		t.Fatalf("RESTORE DATABASE: %+v", s.Statements[0])
	}
	var opts []string
	for _, o := range db.Options {
		opts = append(opts, fmt.Sprintf("%s=%v", o.Name, o.Value != nil))
	}
	if !slices.Equal(opts, []string{"FILE=true", "REPLACE=false", "CHECKSUM=false"}) {
		t.Fatalf("options %q", opts)
	}
	v, ok := s.Statements[1].(*RestoreStatement)
	if !ok || v.What != "VERIFYONLY" || v.DatabaseVar != "" || len(v.Options) != 1 {
		t.Fatalf("RESTORE VERIFYONLY: %+v", s.Statements[1])
	}
	named, err := Parse("RESTORE DATABASE [MicrosoftDynamicsAX] FROM DISK = 'x.bak'")
	if err != nil || named.Statements[0].(*RestoreStatement).Database.Name != "MicrosoftDynamicsAX" {
		t.Fatalf("a named database: %v", err)
	}
	refs := Resolve(s, nil)
	var vars []string
	for _, v := range refs.Variables {
		vars = append(vars, v.Name)
	}
	if !slices.Equal(vars, []string{"p1", "p2", "p3"}) {
		t.Fatalf("variables %q", vars)
	}
	for _, bad := range []string{"RESTORE LOG x FROM DISK = 'y'", "RESTORE DATABASE x", "RESTORE VERIFYONLY FROM FILE = 'x'",
		"RESTORE DATABASE x FROM DISK = 'y' WITH", "RESTORE DATABASE x FROM DISK = 'y' WITH REPLACE extra"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

package contract

import (
	"strings"
	"testing"

	"cutover/sql/tsql"
)

func load(t *testing.T) *Contract {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadAndLookup(t *testing.T) {
	c := load(t)
	for _, c := range []struct {
		name, want string
	}{
		{"sys.dm_db_partition_stats", "sys.dm_db_partition_stats"},
		{"[dbo].[MSpublications]", "dbo.MSpublications"},
		{"MSPUBLICATIONS", "dbo.MSpublications"},
		{"distribution.dbo.MSrepl_errors", "dbo.MSrepl_errors"},
		{"master.sys.sp_MS_replication_installed", "sys.sp_MS_replication_installed"},
		{"sys.sp_posttracertoken", "sys.sp_posttracertoken"},
		{"sp_replmonitorsubscriptionpendingcmds", "sp_replmonitorsubscriptionpendingcmds"},
		{"master.sys.xp_fixeddrives", "master.sys.xp_fixeddrives"},
		{"[DBUPGRADE].[SERVICINGSTEP]", "DBUPGRADE.SERVICINGSTEP"},
		{"serverproperty", "SERVERPROPERTY"},
		{"@@SPID", "@@SPID"},
	} {
		o, ok := load(t).Lookup(c.name)
		if !ok || o.Name != c.want {
			t.Errorf("Lookup(%q) = %v %v, want %s", c.name, o, ok, c.want)
		}
	}
	for _, name := range []string{"dbo.NO_SUCH", "sys.MSpublications", "master.dbo.MSpublications", "a.b.c.d"} {
		if o, ok := c.Lookup(name); ok {
			t.Errorf("Lookup(%q) found %s", name, o.Name)
		}
	}
	h, _ := c.Lookup("dbo.MSdistribution_history")
	col, ok := h.Column("CURRENT_DELIVERY_LATENCY")
	if !ok || col.Unit != "milliseconds" || col.Type.String() != "int" {
		t.Errorf("current_delivery_latency: %+v", col)
	}
	if rs, _ := h.Column("runstatus"); rs.Values["6"] != "Fail" || len(rs.Values) != 6 {
		t.Errorf("runstatus values %v", rs.Values)
	}
	tables, _ := c.Lookup("sys.tables")
	if !tables.HasColumn("is_ms_shipped") || !tables.HasColumn("schema_id") || !tables.HasColumn("is_replicated") {
		t.Error("sys.tables lacks its own or sys.objects's inherited columns")
	}
	p, _ := c.Lookup("sys.sp_posttracertoken")
	if tok, ok := p.Param("tracer_token_id"); !ok || !tok.Output || tok.Type.String() != "int" {
		t.Errorf("@tracer_token_id %+v", tok)
	}
	errlog, _ := c.Lookup("dbo.RELEASEUPDATESCRIPTSERRORLOG")
	if errlog.ColumnsDocumented || errlog.HasColumn("ERRORMESSAGE") {
		t.Error("RELEASEUPDATESCRIPTSERRORLOG's columns are not documented")
	}
	xp, _ := c.Lookup("master.sys.xp_fixeddrives")
	if xp.Documented {
		t.Error("xp_fixeddrives is not documented")
	}
	if e, ok := c.Error(207); !ok || e.Severity != 16 || e.Message != "Invalid column name '%.*ls'." {
		t.Errorf("error 207 %+v", e)
	}
}

func TestEveryEntryNamesItsSource(t *testing.T) {
	for _, o := range load(t).Objects() {
		if o.Documented && (o.Source.Repo == "" || o.Source.Path == "") {
			t.Errorf("%s has no source", o.Name)
		}
		if !o.Documented && o.Note == "" {
			t.Errorf("%s is undocumented without a note", o.Name)
		}
		if (o.Kind == Table || o.Kind == View) && o.ColumnsDocumented && len(o.Columns) == 0 {
			t.Errorf("%s: a table with documented columns lists none", o.Name)
		}
	}
}

func TestParseRefusesBadCatalogs(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"objects:\n- {name: a, kind: table, database: any, platforms: [sqlserver]}", "source"},
		{"objects:\n- {name: a, kind: table, database: any, platforms: [sqlserver], source: 'web:x'}", "want sql-docs"},
		{"objects:\n- {name: a, kind: tabel, database: any, platforms: [sqlserver], source: 'sql-docs:docs/a.md'}", "unknown kind"},
		{"objects:\n- {name: a, kind: table, database: nowhere, platforms: [sqlserver], source: 'sql-docs:docs/a.md'}", "unknown database"},
		{"objects:\n- {name: a, kind: table, database: any, platforms: [oracle], source: 'sql-docs:docs/a.md'}", "unknown platform"},
		{"objects:\n- {name: a, kind: table, database: any, platforms: [sqlserver], source: 'sql-docs:docs/a.md', columns: [{name: x, type: intt}]}", "unknown type"},
		{"objects:\n- {name: a, kind: table, database: any, platforms: [sqlserver], source: 'sql-docs:docs/a.md', colums: []}", "colums"},
		{"objects:\n- {name: a, kind: table, database: any, platforms: [sqlserver], source: 'sql-docs:docs/a.md', columns: [{name: x}, {name: X}]}", "twice"},
		{"objects:\n- {name: a, kind: table, database: any, platforms: [sqlserver], documented: false}", "needs a note"},
		{"objects:\n- {name: a, kind: procedure, database: any, platforms: [sqlserver], source: 'sql-docs:docs/a.md', params: [{name: x}]}", "starts with @"},
		{"objects:\n- {name: a, kind: table, database: any, platforms: [sqlserver], source: 'sql-docs:docs/a.md'}\n- {name: A, kind: table, database: any, platforms: [sqlserver], source: 'sql-docs:docs/a.md'}", "listed twice"},
	} {
		_, err := Parse([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n→ %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]string{"sysname": "nvarchar(128)", "NVARCHAR(MAX)": "nvarchar(max)", "float(53)": "float",
		"float(24)": "real", "numeric(25,0)": "numeric(25,0)", "tinyint not null": "tinyint", "datetimeoffset(7)": "datetimeoffset",
		"binary(16)": "binary(16)", "": "(undocumented)"} {
		got, err := ParseType(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseType(%q) = %v %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"nvarchar(0)", "nvarchar(x", "decimal(40,2)", "int(4)", "sysname(3)", "float(99)", "blob"} {
		if _, err := ParseType(bad); err == nil {
			t.Errorf("ParseType(%q) accepted", bad)
		}
	}
	doc, _ := ParseType("nvarchar(256)")
	if doc.Matches(Type{Name: "nvarchar", Length: 60}) || !doc.Matches(Type{Name: "nvarchar", Length: 256}) {
		t.Error("a documented length must match")
	}
	if v, _ := ParseType("nvarchar"); !v.Matches(Type{Name: "nvarchar", Length: 300}) {
		t.Error("a document without a length accepts any")
	}
}

func TestCatalogAndTypeOf(t *testing.T) {
	c := load(t)
	src := `SELECT SCHEMA_NAME(t.schema_id) AS schema_name, t.name AS table_name, SUM(ps.row_count) AS row_count,
  CAST(MAX(CASE WHEN i.is_primary_key = 1 THEN 1 ELSE 0 END) AS bit) AS has_pk,
  (SELECT SUM(CAST(f.size AS bigint)) * 8192 FROM sys.master_files f) AS size_bytes, COUNT(*), @@SPID, SYSDATETIMEOFFSET(),
  CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS v
FROM sys.dm_db_partition_stats ps
JOIN sys.tables t ON t.object_id = ps.object_id
LEFT JOIN sys.indexes i ON i.object_id = t.object_id AND i.is_primary_key = 1
GROUP BY t.schema_id, t.name`
	s, err := tsql.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	refs := tsql.Resolve(s, c.Catalog(SourceDB, SQLServer))
	for _, u := range refs.Columns {
		if u.Problem != tsql.Bound {
			t.Errorf("%s: %s", u.Ref, u.Problem)
		}
	}
	var got []string
	for _, o := range refs.Results[0] {
		ty, ok := c.TypeOf(o.Expr, refs)
		if !ok {
			got = append(got, o.Name+":?")
			continue
		}
		got = append(got, o.Name+":"+ty.String())
	}
	want := "schema_name:nvarchar(128) table_name:nvarchar(128) row_count:bigint has_pk:bit size_bytes:bigint :int :smallint :datetimeoffset v:nvarchar(128)"
	if strings.Join(got, " ") != want {
		t.Errorf("types\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	// On Azure SQL Database sys.master_files is not there: its columns are unknown.
	if _, ok := c.Catalog(SandboxDB, AzureSQL).Columns(&tsql.ObjectName{Parts: []tsql.Ident{{Name: "sys"}, {Name: "master_files"}}}); ok {
		t.Error("sys.master_files seen from the sandbox")
	}
}

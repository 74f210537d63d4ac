package sql_test

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"cutover/sql"
	"cutover/sql/contract"
	"cutover/sql/query"
	"cutover/sql/sim"
	"cutover/sql/tdssim"
	"cutover/sql/tsql"
)

// This file holds the client's T-SQL to what Microsoft documents (package sql/contract): every
// query constant in sql/query, found by reading the package's source so that a new query cannot
// escape, must name only documented objects, columns, functions and parameters that exist where
// the query runs; and the simulator must answer each query with the documented columns and types.

// queryUse is where a query of sql/query runs and how it is sent.
type queryUse struct {
	// dbs are the databases of the connections the client sends it on.
	dbs []contract.Database
	// rpc: the constant is a procedure name called by name (its parameters are the stdsql.Named
	// arguments next to it in package sql).
	rpc bool
	// prefix: the client appends a table name (checked with [dbo].[CUSTTABLE], a user table the
	// contract does not describe).
	prefix string
	// args are the arguments for running the query against the simulator (nil: none).
	args func(ctx context.Context, w *world) ([]any, error)
	// changes says why a statement that changes the world (a RESTORE DATABASE) is not run by the
	// shape test: it returns no result set and its own tests run it ("": a query).
	changes string
}

const restoreTested = "it restores the AX database: TestRestoreAsDocumented runs it"

// axDatabase is the AX database's name as the only argument.
func axDatabase(_ context.Context, w *world) ([]any, error) {
	return []any{w.srv.Database(sim.EndpointSource)}, nil
}

// backupArgs takes a backup (with checksums or not) and names its file and position.
func backupArgs(checksum bool) func(context.Context, *world) ([]any, error) {
	return func(_ context.Context, w *world) ([]any, error) {
		now := w.w.Now()
		dev, err := w.w.TakeBackup(w.srv.Database(sim.EndpointSource), checksum, false, now.Add(-time.Hour), now)
		return []any{dev, 1}, err
	}
}

var (
	master    = []contract.Database{contract.Master}
	srcMaster = []contract.Database{contract.SourceDB, contract.Master}
	src       = []contract.Database{contract.SourceDB}
	dist      = []contract.Database{contract.DistributionDB}
	sbx       = []contract.Database{contract.SandboxDB}
	both      = []contract.Database{contract.SourceDB, contract.SandboxDB}
)

// queryUses registers every exported constant of sql/query. A new query needs an entry: where it
// runs decides which objects and columns it may name.
var queryUses = map[string]queryUse{
	"RowCountsPartitionStats":     {dbs: both},
	"RowCountsPartitions":         {dbs: both},
	"ExactCountPrefix":            {dbs: both, prefix: "[dbo].[CUSTTABLE]"},
	"AXServerSessions":            {dbs: src},
	"AXClientSessions":            {dbs: src},
	"AXBatchJobs":                 {dbs: src},
	"AXRunningBatchTasks":         {dbs: src},
	"UserSessions":                {dbs: both},
	"SessionsVisible":             {dbs: both},
	"LastUserUpdate":              {dbs: src},
	"PostTracerToken":             {dbs: src, args: func(context.Context, *world) ([]any, error) { return []any{"AX_PUB_PkTable_1"}, nil }},
	"TracerTokenHistoryProc":      {dbs: src, rpc: true, args: tracerArgs},
	"Publications":                {dbs: dist},
	"Articles":                    {dbs: dist},
	"ArticlesMarker":              {dbs: dist},
	"PendingCommands":             {dbs: dist},
	"AgentStates":                 {dbs: dist},
	"DistributionAgentHistory":    {dbs: dist},
	"LogReaderHistory":            {dbs: dist},
	"SnapshotHistory":             {dbs: dist},
	"SnapshotDeliveries":          {dbs: dist, args: func(context.Context, *world) ([]any, error) { return []any{3600}, nil }},
	"ReplicationErrors":           {dbs: dist},
	"NewestReplicatedTransaction": {dbs: dist},
	"SubscriptionPendingProc":     {dbs: dist, rpc: true, args: subscriptionArgs},
	"Subscriptions":               {dbs: dist},
	"SubscriptionStates":          {dbs: dist},
	"PublisherPublications":       {dbs: src},
	"DataUpgradeStatus":           {dbs: sbx},
	"ServicingSteps":              {dbs: sbx},
	"DBSyncSteps":                 {dbs: sbx},
	"UpgradeBatchTasks":           {dbs: sbx},
	"UpgradeScriptErrors":         {dbs: sbx},
	"ServicingActivity":           {dbs: sbx},
	"ServerClock":                 {dbs: []contract.Database{contract.SourceDB, contract.DistributionDB, contract.SandboxDB}},
	"BatchMark":                   {dbs: dist},
	"ServerInfo":                  {dbs: src},
	"LoginRights":                 {dbs: src},
	"ReplicationInstalled":        {dbs: src},
	"AgentService":                {dbs: src},
	"DatabaseSettings": {dbs: src, args: func(_ context.Context, w *world) ([]any, error) {
		return []any{w.srv.Database(sim.EndpointSource)}, nil
	}},
	"MaxTextReplSize":                    {dbs: src},
	"FullBackups":                        {dbs: srcMaster, args: axDatabase},
	"Collations":                         {dbs: src, args: axDatabase},
	"AOTTables":                          {dbs: src},
	"Restores":                           {dbs: srcMaster, args: axDatabase},
	"DatabaseState":                      {dbs: []contract.Database{contract.Master}, args: axDatabase},
	"VerifyBackup":                       {dbs: srcMaster, args: backupArgs(true)},
	"VerifyBackupNoChecksum":             {dbs: srcMaster, args: backupArgs(false)},
	"RestoreDatabase":                    {dbs: master, changes: restoreTested},
	"RestoreDatabaseNoReplace":           {dbs: master, changes: restoreTested},
	"RestoreDatabaseNoChecksum":          {dbs: master, changes: restoreTested},
	"RestoreDatabaseNoReplaceNoChecksum": {dbs: master, changes: restoreTested},
	"FixedDrives":                        {dbs: src, rpc: true},
	"Distributor":                        {dbs: src},
}

// undocumentedUses are the places a query relies on something no Microsoft page documents, each
// with why and how the client tolerates its absence. A use not listed here fails the test.
var undocumentedUses = map[string]map[string]string{
	"FixedDrives": {
		"source: object master.sys.xp_fixeddrives: not documented": "xp_fixeddrives is the only T-SQL way to read free disk space " +
			"on the source server; Preflight records any error (2812, permission) in Unavailable and the disk checks then say " +
			"\"unknown\", and the rows are read by position (drive, MB free).",
	},
}

// knownDifferences are differences the audit found in the data-upgrade, AX session/batch and
// replication-agent queries and their simulated answers. They are fixed by the data-upgrade/agent/AX
// change (another branch of issue 12): the lead removes these entries when merging it. Each entry
// must still differ, so a fixed one cannot linger.
var knownDifferences = map[string]map[string]bool{}

// queryConstants reads sql/query/query.go: every exported string constant and its value.
func queryConstants(t *testing.T) map[string]string {
	t.Helper()
	files := goSources(t, "query")
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !n.IsExported() {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("query.%s has no value of its own", n.Name)
					}
					v, ok := stringValue(vs.Values[i])
					if !ok {
						t.Fatalf("query.%s is not a string literal (the contract test reads it from the source)", n.Name)
					}
					out[n.Name] = v
				}
			}
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d query constants found", len(out))
	}
	return out
}

func stringValue(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		l, lok := stringValue(e.X)
		r, rok := stringValue(e.Y)
		return l + r, lok && rok
	case *ast.ParenExpr:
		return stringValue(e.X)
	}
	return "", false
}

// sqlSources parses the non-test Go files of package sql.
func sqlSources(t *testing.T) []*ast.File { return goSources(t, ".") }

// goSources parses the non-test Go files of one directory.
func goSources(t *testing.T, dir string) []*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// rpcParams finds, in package sql, the stdsql.Named arguments passed in the same call as
// query.<name>: the parameters a procedure called by name receives.
func rpcParams(files []*ast.File) map[string][]string {
	out := map[string][]string{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var q string
			var named []string
			for _, a := range call.Args {
				switch a := a.(type) {
				case *ast.SelectorExpr:
					if id, ok := a.X.(*ast.Ident); ok && id.Name == "query" {
						q = a.Sel.Name
					}
				case *ast.CallExpr:
					if sel, ok := a.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Named" && len(a.Args) > 0 {
						if s, ok := stringValue(a.Args[0]); ok {
							named = append(named, s)
						}
					}
				}
			}
			if q != "" && len(named) > 0 {
				out[q] = append(out[q], named...)
			}
			return true
		})
	}
	return out
}

var platformOf = map[contract.Database]contract.Platform{
	contract.SourceDB: contract.SQLServer, contract.DistributionDB: contract.SQLServer, contract.Master: contract.SQLServer,
	contract.SandboxDB: contract.AzureSQL,
}

// checkText lists what a T-SQL text sent on database db names that the contract does not
// document there. userTables allows objects the contract does not describe (user tables).
func checkText(c *contract.Contract, text string, db contract.Database, userTables bool) []string {
	p := platformOf[db]
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(string(db)+": "+format, args...)) }
	s, err := tsql.Parse(text)
	if err != nil {
		add("parse: %v", err)
		return out
	}
	refs := tsql.Resolve(s, c.Catalog(db, p))
	for _, u := range refs.Uses {
		if p == contract.AzureSQL {
			add("USE %s: Azure SQL Database does not switch databases (error 40508)", u.Database.Name)
		}
	}
	for _, o := range refs.Objects {
		if p == contract.AzureSQL && o.Name.Database() != "" {
			add("object %s: Azure SQL Database refuses database and server names (error 40515)", o.Name)
		}
		obj, ok := c.LookupName(o.Name)
		if !ok {
			if !userTables || o.Kind != tsql.TableObject {
				add("object %s: not in the contract", o.Name)
			}
			continue
		}
		if obj.NamedIn(o.Name) {
			// msdb.dbo.backupset from the AX database: the name says where it lives.
			checkObject(obj, o.Kind, contract.Database(strings.ToLower(o.Name.Database())), p, add)
			continue
		}
		checkObject(obj, o.Kind, db, p, add)
	}
	for _, u := range refs.Columns {
		switch {
		case u.Problem == tsql.Bound && u.Table != nil:
			obj, ok := c.LookupName(u.Table)
			switch {
			case !ok:
				if !userTables {
					add("column %s: of an object the contract does not have", u.Ref)
				}
			case !obj.ColumnsDocumented:
				add("column %s.%s: its columns are not documented", obj.Name, u.Ref.Column())
			default:
				if _, ok := obj.ColumnOn(u.Ref.Column(), p); !ok {
					add("column %s.%s: not documented", obj.Name, u.Ref.Column())
				}
			}
		case u.Problem == tsql.Invalid && u.Table != nil:
			obj, ok := c.LookupName(u.Table)
			name := u.Table.String()
			if ok {
				name = obj.Name
			}
			add("column %s.%s: not documented", name, u.Ref.Column())
		case u.Problem != tsql.Bound:
			add("column %s: %s", u.Ref, u.Problem)
		}
	}
	for _, f := range refs.Functions {
		obj, ok := c.LookupName(f.Name)
		if !ok || obj.Kind != contract.Function {
			add("function %s: not in the contract", f.Name)
			continue
		}
		if !obj.AppliesTo(p) {
			add("function %s: not on %s per its page", obj.Name, p)
		}
		if obj.Properties != nil {
			lit, ok := firstString(f)
			if _, known := obj.Properties[lit]; !ok || !known {
				add("function %s('%s'): not a documented property", obj.Name, lit)
			}
		}
	}
	for _, v := range refs.Variables {
		if !v.System {
			continue
		}
		if obj, ok := c.Lookup("@@" + v.Name); !ok || obj.Kind != contract.Variable {
			add("variable @@%s: not in the contract", v.Name)
		}
	}
	for _, st := range s.Statements {
		if e, ok := st.(*tsql.ExecStatement); ok {
			var given []string
			outputs := map[string]bool{}
			for _, a := range e.Args {
				if a.Name == "" {
					add("procedure %s: a positional argument (name every argument)", e.Proc)
					continue
				}
				given = append(given, a.Name)
				outputs[strings.ToLower(a.Name)] = a.Output
			}
			if obj, ok := c.LookupName(e.Proc); ok && obj.Documented {
				checkParams(obj, given, outputs, add)
			}
		}
	}
	return out
}

func checkObject(obj *contract.Object, kind tsql.ObjectKind, db contract.Database, p contract.Platform, add func(string, ...any)) {
	if !obj.Documented {
		add("object %s: not documented", obj.Name)
		return
	}
	if !obj.AppliesTo(p) {
		add("object %s: not on %s per its page", obj.Name, p)
	}
	if !obj.In(db) && !obj.In(contract.Master) {
		add("object %s: lives in %v, not in %s", obj.Name, obj.Databases, db)
	}
	wantProc := kind == tsql.ProcedureObject
	if isProc := obj.Kind == contract.Procedure; wantProc != isProc {
		add("object %s: a %s used as a %s", obj.Name, obj.Kind, kind)
	}
}

func checkParams(obj *contract.Object, given []string, outputs map[string]bool, add func(string, ...any)) {
	for _, g := range given {
		prm, ok := obj.Param(g)
		switch {
		case !ok:
			add("parameter %s @%s: not documented", obj.Name, g)
		case outputs[strings.ToLower(g)] && !prm.Output:
			add("parameter %s @%s: passed as OUTPUT but is not an output parameter", obj.Name, g)
		}
	}
	for _, prm := range obj.Params {
		if prm.Required && !slices.ContainsFunc(given, func(g string) bool { return strings.EqualFold("@"+g, prm.Name) }) {
			add("parameter %s %s: required but not given", obj.Name, prm.Name)
		}
	}
}

func firstString(f *tsql.FuncCall) (string, bool) {
	if len(f.Args) == 0 {
		return "", false
	}
	l, ok := f.Args[0].(*tsql.Literal)
	if !ok || l.Kind != tsql.StringLit {
		return "", false
	}
	return l.Value, true
}

// problems lists everything each query names that the contract does not document where it runs.
func problems(t *testing.T, c *contract.Contract) map[string][]string {
	t.Helper()
	consts := queryConstants(t)
	params := rpcParams(sqlSources(t))
	out := map[string][]string{}
	for name, text := range consts {
		use, ok := queryUses[name]
		if !ok {
			t.Errorf("query.%s is not in queryUses: say which databases it runs on", name)
			continue
		}
		for _, db := range use.dbs {
			if use.rpc {
				obj, ok := c.Lookup(text)
				switch {
				case !ok:
					out[name] = append(out[name], fmt.Sprintf("%s: object %s: not in the contract", db, text))
				default:
					add := func(format string, args ...any) {
						out[name] = append(out[name], fmt.Sprintf(string(db)+": "+format, args...))
					}
					checkObject(obj, tsql.ProcedureObject, db, platformOf[db], add)
					if obj.Documented {
						checkParams(obj, params[name], nil, add)
					}
				}
				continue
			}
			out[name] = append(out[name], checkText(c, text+use.prefix, db, use.prefix != "")...)
		}
	}
	for name := range queryUses {
		if _, ok := consts[name]; !ok {
			t.Errorf("queryUses names query.%s, which sql/query does not have", name)
		}
	}
	return out
}

// TestQueriesNameOnlyDocumentedObjects holds every query to the contract.
func TestQueriesNameOnlyDocumentedObjects(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	found := problems(t, c)
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		seen := map[string]bool{}
		for _, p := range found[name] {
			seen[p] = true
			if knownDifferences[name][p] {
				continue
			}
			if reason, ok := undocumentedUses[name][p]; ok && reason != "" {
				continue
			}
			t.Errorf("query.%s: %s", name, p)
		}
		for p := range knownDifferences[name] {
			if !seen[p] {
				t.Errorf("query.%s: knownDifferences lists %q, which no longer differs: remove the entry", name, p)
			}
		}
		for p := range undocumentedUses[name] {
			if !seen[p] {
				t.Errorf("query.%s: undocumentedUses lists %q, which the query no longer relies on: remove the entry", name, p)
			}
		}
	}
}

// TestErrorNumbersAreDocumented: every SQL Server error number package sql gives a meaning to
// (IsPermission, IsMissingObject, IsTransient, the pre-flight's replication check) is in the
// contract with its documented severity, and the client reads it as documented.
func TestErrorNumbersAreDocumented(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		numbers []int32
		is      func(error) bool
	}{
		{[]int32{229, 262, 297, 300}, sql.IsPermission},
		{[]int32{208, 2812}, sql.IsMissingObject},
		{[]int32{1205, 1222, 40613, 40501, 40197, 49918, 49919, 49920}, sql.IsTransient},
		{[]int32{21028}, func(err error) bool { return sql.Number(err) == 21028 }},
		{[]int32{4060}, sql.IsCannotOpenDatabase},
	} {
		for _, n := range x.numbers {
			doc, ok := c.Error(n)
			if !ok {
				t.Errorf("error %d: the client gives it a meaning but the contract does not document it", n)
				continue
			}
			if !x.is(mssql.Error{Number: n, Class: doc.Severity}) {
				t.Errorf("error %d (severity %d) is not read as documented", n, doc.Severity)
			}
		}
	}
}

// sqlLike matches a string literal that is T-SQL.
var sqlLike = regexp.MustCompile(`(?is)^\s*(select\s.+|with\s+\w+\s+as\s*\(.+|declare\s+@.+|exec(ute)?\s+\S.*|insert\s+into\s.+|update\s+\S+\s+set\s.+|delete\s+from\s.+)$`)

// TestNoTSQLOutsideSQLQuery: every T-SQL text package sql sends lives in sql/query, where the
// contract test finds it.
func TestNoTSQLOutsideSQLQuery(t *testing.T) {
	for _, f := range sqlSources(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && sqlLike.MatchString(s) {
					t.Errorf("%s: T-SQL outside sql/query: %.60q", f.Name.Name, s)
				}
			}
			return true
		})
	}
}

// TestContractCheckCatchesMistakes: the checks above find what they are for.
func TestContractCheckCatchesMistakes(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		text string
		db   contract.Database
		want string
	}{
		{"SELECT s.name FROM sys.tables t JOIN sys.schemas s ON s.schema_id = t.schema_id", contract.SandboxDB, "sandbox: object sys.schemas: not on azuresql per its page"},
		{"SELECT no_such_col FROM dbo.MSpublications", contract.DistributionDB, "distribution: column dbo.MSpublications.no_such_col: not documented"},
		{"SELECT publication FROM dbo.MSpublications", contract.SourceDB, "source: object dbo.MSpublications: lives in [distribution], not in source"},
		{"SELECT status_desc FROM sys.dm_server_services", contract.SandboxDB, "sandbox: object sys.dm_server_services: not on azuresql per its page"},
		{"SELECT name FROM master.sys.databases", contract.SandboxDB, "sandbox: object master.sys.databases: Azure SQL Database refuses database and server names (error 40515)"},
		{"SELECT SERVERPROPERTY('NoSuchProperty')", contract.SourceDB, "source: function SERVERPROPERTY('NoSuchProperty'): not a documented property"},
		{"SELECT FROB(1)", contract.SourceDB, "source: function FROB: not in the contract"},
		{"SELECT @@NOSUCH", contract.SourceDB, "source: variable @@NOSUCH: not in the contract"},
		{"EXEC sys.sp_posttracertoken @publication = N'x', @tracer_id = 1", contract.SourceDB, "source: parameter sys.sp_posttracertoken @tracer_id: not documented"},
		{"DECLARE @x int; EXEC sys.sp_posttracertoken @publication = N'x', @publisher = @x OUTPUT", contract.SourceDB, "source: parameter sys.sp_posttracertoken @publisher: passed as OUTPUT but is not an output parameter"},
		{"EXEC sys.sp_posttracertoken @tracer_token_id = 1", contract.SourceDB, "source: parameter sys.sp_posttracertoken @publication: required but not given"},
		{"SELECT name FROM sys.tables t JOIN sys.indexes i ON i.object_id = t.object_id", contract.SourceDB, "source: column name: ambiguous"},
		{"SELECT x.name FROM sys.tables t", contract.SourceDB, "source: column x.name: unbound"},
		{"USE master", contract.SandboxDB, "sandbox: USE master: Azure SQL Database does not switch databases (error 40508)"},
		{"SELECT * FROM dbo.CUSTTABLE", contract.SourceDB, "source: object dbo.CUSTTABLE: not in the contract"},
	} {
		if got := checkText(c, x.text, x.db, false); !slices.Contains(got, x.want) {
			t.Errorf("%s on %s:\n got %q\nwant %q", x.text, x.db, got, x.want)
		}
	}
	if got := checkText(c, "SELECT COUNT_BIG(*) FROM [dbo].[CUSTTABLE]", contract.SandboxDB, true); len(got) != 0 {
		t.Errorf("a user table count: %q", got)
	}
}

// ---------------------------------------------------------------------------------------------
// The simulator serves the documented shapes.

var endpointOf = map[contract.Database]sim.Endpoint{
	contract.SourceDB: sim.EndpointSource, contract.DistributionDB: sim.EndpointDistribution,
	contract.SandboxDB: sim.EndpointTarget, contract.Master: sim.EndpointSourceMaster,
}

func tracerArgs(ctx context.Context, w *world) ([]any, error) {
	id, err := w.src.PostTracerToken(ctx, "AX_PUB_PkTable_1")
	if err != nil {
		return nil, err
	}
	return []any{stdsql.Named("publication", "AX_PUB_PkTable_1"), stdsql.Named("tracer_id", id)}, nil
}

func subscriptionArgs(ctx context.Context, w *world) ([]any, error) {
	subs, err := w.dist.Subscriptions(ctx)
	if err != nil || len(subs) == 0 {
		return nil, fmt.Errorf("no subscription to ask about: %v", err)
	}
	s := subs[0]
	return []any{stdsql.Named("publisher", s.Publisher), stdsql.Named("publisher_db", s.PublisherDB),
		stdsql.Named("publication", s.Publication), stdsql.Named("subscriber", s.Subscriber),
		stdsql.Named("subscriber_db", s.SubscriberDB), stdsql.Named("subscription_type", 0)}, nil
}

// servedType is a driver column type as a contract type.
func servedType(ct *stdsql.ColumnType) contract.Type {
	name := strings.ToLower(ct.DatabaseTypeName())
	t := contract.Type{Name: name}
	if n, ok := ct.Length(); ok && (name == "nvarchar" || name == "varchar" || name == "nchar" || name == "char" || name == "varbinary" || name == "binary") {
		t.Length = int(n)
		if n >= 1<<30-2 {
			t.Length = -1
		}
	}
	return t
}

// knownShapeDifferences are simulated answers (of the other branch's queries) whose columns
// differ from the documented ones; fixed by the data-upgrade/agent/AX change: the lead removes
// these entries when merging it.
var knownShapeDifferences = map[string]bool{}

// TestSimulatorServesDocumentedShapes runs every query on the simulator, through the real driver,
// on each database it runs on, and compares the result's column names and types with what the
// contract documents for what the query selects.
func TestSimulatorServesDocumentedShapes(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	// The upgrade's tables exist once it has been triggered (before, SQL Server answers 208).
	if err := w.w.TriggerUpgrade(); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(time.Hour)
	dbs := map[contract.Database]*stdsql.DB{}
	for db, e := range endpointOf {
		x, err := stdsql.Open("sqlserver", w.srv.DSN(e))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		dbs[db] = x
	}
	seen := map[string]bool{}
	for name, text := range queryConstants(t) {
		use := queryUses[name]
		if use.changes != "" {
			continue
		}
		for _, db := range use.dbs {
			var args []any
			if use.args != nil {
				if args, err = use.args(ctx, w); err != nil {
					t.Errorf("query.%s: arguments: %v", name, err)
					continue
				}
			}
			want, known := expectedShape(t, c, text+use.prefix, use.rpc, db)
			rows, err := dbs[db].QueryContext(ctx, text+use.prefix, args...)
			if err != nil {
				t.Errorf("query.%s on %s: the simulator refused it: %v", name, db, err)
				continue
			}
			cts, err := rows.ColumnTypes()
			rows.Close()
			if err != nil {
				t.Errorf("query.%s on %s: %v", name, db, err)
				continue
			}
			for _, d := range compareShape(want, known, cts) {
				key := fmt.Sprintf("%s on %s: %s", name, db, d)
				seen[key] = true
				if !knownShapeDifferences[key] {
					t.Errorf("query.%s", key)
				}
			}
		}
	}
	for k := range knownShapeDifferences {
		if !seen[k] {
			t.Errorf("knownShapeDifferences lists %q, which no longer differs: remove the entry", k)
		}
	}
}

// TestSimulatorRefusesWhatTheServerWould sends every query to every database it does not run on:
// where the contract says a real server would refuse it (an object not in that database or not on
// that platform, a three-part name on Azure SQL), the simulator must refuse it too, with the
// error SQL Server gives (208, 2812, 40515).
func TestSimulatorRefusesWhatTheServerWould(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	dbs := map[contract.Database]*stdsql.DB{}
	for db, e := range endpointOf {
		x, err := stdsql.Open("sqlserver", w.srv.DSN(e))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		dbs[db] = x
	}
	for name, text := range queryConstants(t) {
		use := queryUses[name]
		for db, x := range dbs {
			if slices.Contains(use.dbs, db) {
				continue
			}
			var problems []string
			if use.rpc {
				if obj, ok := c.Lookup(text); !ok {
					problems = append(problems, "not in the contract")
				} else {
					checkObject(obj, tsql.ProcedureObject, db, platformOf[db], func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
				}
			} else {
				problems = checkText(c, text+use.prefix, db, use.prefix != "")
			}
			// Refusals: objects a server does not have there. "not documented" is no refusal.
			var refusals []string
			elsewhere := true // only "lives in another database": SQL Server may raise its own error
			for _, p := range problems {
				switch {
				case strings.Contains(p, "lives in"):
					refusals = append(refusals, p)
				case strings.Contains(p, "not on "), strings.Contains(p, "not in the contract"), strings.Contains(p, "40515"):
					refusals = append(refusals, p)
					elsewhere = false
				}
			}
			if len(refusals) == 0 {
				continue
			}
			var args []any
			if use.args != nil && !use.rpc {
				if args, err = use.args(ctx, w); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := x.QueryContext(ctx, text+use.prefix, args...)
			if err == nil {
				rows.Close()
				t.Errorf("query.%s on %s: answered, but a server refuses it: %q", name, db, refusals)
				continue
			}
			switch n := sql.Number(err); {
			case n == 208, n == 2812, n == 40515:
			case elsewhere && n != 0 && n != tdssim.NoAnswerNumber:
			default:
				t.Errorf("query.%s on %s: refused with %v, not as SQL Server would (%q)", name, db, err, refusals)
			}
		}
	}
}

// adHoc are texts the simulator answers without a query constant (runbook smoke tests, the
// documentation's examples, `cutover sim` users): what it answers must be documented too.
var adHoc = []string{
	"SELECT @@VERSION", "SELECT name FROM sys.databases", "SELECT name FROM sys.databases ORDER BY name",
	"SELECT name FROM master.sys.databases", "SELECT DB_NAME()", "SELECT @@SERVERNAME", "SELECT GETDATE()",
	"SELECT GETUTCDATE()", "SELECT SYSDATETIME()", "SELECT SYSUTCDATETIME()", "SELECT CURRENT_TIMESTAMP", "SELECT @@SPID",
	"SELECT COUNT_BIG(*) FROM dbo.CUSTTABLE", "SELECT COUNT(*) FROM [CUSTTABLE]",
}

// TestSimulatorAdHocAnswersAsDocumented: on each database, an ad hoc text the contract documents
// there is answered with the documented shape, and one it does not is refused.
func TestSimulatorAdHocAnswersAsDocumented(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	for db, e := range endpointOf {
		x, err := stdsql.Open("sqlserver", w.srv.DSN(e))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		userTables := db == contract.SourceDB || db == contract.SandboxDB
		for _, text := range adHoc {
			problems := checkText(c, text, db, userTables)
			rows, err := x.QueryContext(ctx, text)
			if len(problems) > 0 {
				if err == nil {
					rows.Close()
					t.Errorf("%s on %s: answered, but %q", text, db, problems)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s on %s: refused: %v", text, db, err)
				continue
			}
			cts, err := rows.ColumnTypes()
			rows.Close()
			if err != nil {
				t.Fatal(err)
			}
			want, known := expectedShape(t, c, text, false, db)
			for _, d := range compareShape(want, known, cts) {
				t.Errorf("%s on %s: %s", text, db, d)
			}
		}
	}
}

// column is an expected result column: its name and documented type (zero: not documented).
type column struct {
	name string
	typ  contract.Type
}

// expectedShape is the documented result of a query: the columns of its (last) result set with
// the types the contract gives them. known is false when a star over an undocumented table makes
// the columns unknowable.
func expectedShape(t *testing.T, c *contract.Contract, text string, rpc bool, db contract.Database) ([]column, bool) {
	t.Helper()
	if rpc {
		obj, ok := c.Lookup(text)
		if !ok || !obj.Documented {
			return nil, false
		}
		out := make([]column, len(obj.Result))
		for i, r := range obj.Result {
			out[i] = column{r.Name, r.Type}
		}
		return out, true
	}
	s, err := tsql.Parse(text)
	if err != nil {
		t.Fatalf("%.40q: %v", text, err)
	}
	refs := tsql.Resolve(s, c.Catalog(db, platformOf[db]))
	if len(refs.Results) == 0 {
		return nil, false
	}
	var out []column
	for _, o := range refs.Results[len(refs.Results)-1] {
		if o.Star {
			return nil, false
		}
		typ, _ := c.TypeOf(o.Expr, refs)
		out = append(out, column{o.Name, typ})
	}
	return out, true
}

func compareShape(want []column, known bool, served []*stdsql.ColumnType) []string {
	if !known {
		return nil
	}
	if len(want) != len(served) {
		var names []string
		for _, s := range served {
			names = append(names, s.Name())
		}
		return []string{fmt.Sprintf("serves %d columns %q, the query selects %d", len(served), names, len(want))}
	}
	var out []string
	for i, w := range want {
		s := served[i]
		if !strings.EqualFold(s.Name(), w.name) {
			out = append(out, fmt.Sprintf("column %d is %q, the query names it %q", i+1, s.Name(), w.name))
		}
		if got := servedType(s); !w.typ.Matches(got) {
			out = append(out, fmt.Sprintf("column %q is %s, documented %s", w.name, got, w.typ))
		}
	}
	return out
}

// TestSimulatorAnswersThePollBatch sends the monitor's poll of the distributor (sql.Distributor)
// as the one batch it is: the simulator answers each statement with its own result set, in order,
// each with the documented columns and types of its query.
func TestSimulatorAnswersThePollBatch(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	db, err := stdsql.Open("sqlserver", w.srv.DSN(sim.EndpointDistribution))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	consts := queryConstants(t)
	names := []string{"ServerClock", "AgentStates", "DistributionAgentHistory", "LogReaderHistory", "SnapshotHistory",
		"ReplicationErrors", "ArticlesMarker", "Articles", "PendingCommands"}
	texts := make([]string, len(names))
	for i, n := range names {
		texts[i] = consts[n]
	}
	rows, err := db.QueryContext(t.Context(), query.Batch(texts...))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for i, n := range names {
		if i > 0 && !rows.NextResultSet() {
			t.Fatalf("the batch ended before query.%s: %v", n, rows.Err())
		}
		cts, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		want, known := expectedShape(t, c, texts[i], false, contract.DistributionDB)
		for _, d := range compareShape(want, known, cts) {
			t.Errorf("query.%s in the batch: %s", n, d)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("query.%s in the batch: %v", n, err)
		}
	}
	if rows.NextResultSet() {
		t.Fatal("more result sets than statements")
	}
}

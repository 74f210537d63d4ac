// Package contract is what Microsoft documents about the SQL objects cutover names: catalog views,
// dynamic management views, replication tables in the distribution database, procedures, built-in
// functions, the AX 2012 session and batch tables and the D365 data-upgrade tables, with their
// columns, types, units, values, procedure parameters and result sets, permissions and where each
// applies (SQL Server, Azure SQL Database; which database). Each entry names the document it was
// read from. The data lives in catalog.yaml, embedded; Load parses and checks it.
//
// The client's queries (package sql, sql/query) and the simulator (sql/sim) are both tested
// against this contract, so a misconception cannot hide by being shared by both.
package contract

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"cutover/sql/tsql"
)

//go:embed catalog.yaml
var catalogYAML []byte

// Platform is a product an object applies to.
type Platform string

// Platforms.
const (
	// SQLServer is SQL Server (the AX 2012 source, publisher and distributor).
	SQLServer Platform = "sqlserver"
	// AzureSQL is Azure SQL Database (the D365 sandbox).
	AzureSQL Platform = "azuresql"
)

// Database is the database an object lives in.
type Database string

// Databases.
const (
	// AnyDatabase is every database (catalog views, DMVs, functions).
	AnyDatabase Database = "any"
	// Master is the master database.
	Master Database = "master"
	// SourceDB is the AX 2012 business database on the source server.
	SourceDB Database = "source"
	// DistributionDB is the distribution database on the source server.
	DistributionDB Database = "distribution"
	// SandboxDB is the Azure SQL sandbox database.
	SandboxDB Database = "sandbox"
	// Msdb is the msdb system database (backup and restore history), named by three-part names.
	Msdb Database = "msdb"
)

// Kind is what an object is.
type Kind string

// Kinds.
const (
	// Table is a table.
	Table Kind = "table"
	// View is a view (catalog views and DMVs included).
	View Kind = "view"
	// Procedure is a stored procedure or extended procedure.
	Procedure Kind = "procedure"
	// Function is a built-in scalar or aggregate function.
	Function Kind = "function"
	// Variable is a configuration function such as @@VERSION.
	Variable Kind = "variable"
)

// Source is a document: a path in one of Microsoft's documentation repositories, or a
// learn.microsoft.com address.
type Source struct {
	// Repo is "MicrosoftDocs/sql-docs", "MicrosoftDocs/dynamics-365-unified-operations-public",
	// or "learn.microsoft.com" for a page in neither.
	Repo string
	// Path is the path in the repository, or the URL.
	Path string
}

// String is repo:path.
func (s Source) String() string { return s.Repo + ":" + s.Path }

var repos = map[string]string{
	"sql-docs": "MicrosoftDocs/sql-docs",
	"d365":     "MicrosoftDocs/dynamics-365-unified-operations-public",
	"learn":    "learn.microsoft.com",
}

func parseSource(s string) (Source, error) {
	prefix, path, ok := strings.Cut(s, ":")
	repo, known := repos[prefix]
	if !ok || !known || path == "" {
		return Source{}, fmt.Errorf("source %q: want sql-docs:<path>, d365:<path> or learn:<url>", s)
	}
	switch prefix {
	case "sql-docs":
		if !strings.HasPrefix(path, "docs/") || !strings.HasSuffix(path, ".md") {
			return Source{}, fmt.Errorf("source %q: a sql-docs page is docs/….md", s)
		}
	case "d365":
		if !strings.HasPrefix(path, "articles/") || !strings.HasSuffix(path, ".md") {
			return Source{}, fmt.Errorf("source %q: a D365 page is articles/….md", s)
		}
	case "learn":
		if !strings.HasPrefix(path, "https://") {
			return Source{}, fmt.Errorf("source %q: a learn page is an https address", s)
		}
	}
	return Source{Repo: repo, Path: path}, nil
}

// Column is a documented column.
type Column struct {
	Name string
	// Type is the documented type (zero when the document does not give one).
	Type     Type
	Nullable bool
	Unit     string
	// Values are the documented values and their meanings.
	Values map[string]string
	Note   string
	// Platforms limits a column to some platforms (nil: the object's).
	Platforms []Platform
}

// Param is a documented procedure parameter (Name with its '@').
type Param struct {
	Name     string
	Type     Type
	Required bool
	Output   bool
	Values   map[string]string
	Note     string
}

// Object is a documented table, view, procedure, function or configuration function.
type Object struct {
	// Name is the name as the contract spells it (schema.object, or a bare function name).
	Name      string
	Kind      Kind
	Databases []Database
	Platforms []Platform
	Source    Source
	Also      []Source
	// Documented is false for an object no Microsoft page documents (xp_fixeddrives).
	Documented bool
	// ColumnsDocumented is false when the object is documented but its columns are not.
	ColumnsDocumented bool
	Permissions       string
	Note              string
	// Returns describes a function's result or a procedure's return code; ReturnType is the
	// type when the document gives one.
	Returns    string
	ReturnType Type
	Columns    []Column
	Params     []Param
	Result     []Column
	// Properties are SERVERPROPERTY's documented property names and their base types.
	Properties map[string]Type
	// Values are documented values of a function's result, or per property.
	Values map[string]map[string]string
}

// Column finds a column by name (case-insensitively), limited to the platforms it applies to.
func (o *Object) Column(name string) (*Column, bool) {
	for i := range o.Columns {
		if strings.EqualFold(o.Columns[i].Name, name) {
			return &o.Columns[i], true
		}
	}
	return nil, false
}

// HasColumn reports a documented column of that name.
func (o *Object) HasColumn(name string) bool {
	_, ok := o.Column(name)
	return ok
}

// ColumnOn reports a documented column that applies on platform p.
func (o *Object) ColumnOn(name string, p Platform) (*Column, bool) {
	c, ok := o.Column(name)
	if !ok || (c.Platforms != nil && !slices.Contains(c.Platforms, p)) {
		return nil, false
	}
	return c, true
}

// Param finds a procedure parameter by name, with or without its '@' (case-insensitively).
func (o *Object) Param(name string) (*Param, bool) {
	name = "@" + strings.TrimPrefix(name, "@")
	for i := range o.Params {
		if strings.EqualFold(o.Params[i].Name, name) {
			return &o.Params[i], true
		}
	}
	return nil, false
}

// ResultColumn finds a column of a procedure's result set.
func (o *Object) ResultColumn(name string) (*Column, bool) {
	for i := range o.Result {
		if strings.EqualFold(o.Result[i].Name, name) {
			return &o.Result[i], true
		}
	}
	return nil, false
}

// AppliesTo reports whether the object's page says it applies to platform p.
func (o *Object) AppliesTo(p Platform) bool { return slices.Contains(o.Platforms, p) }

// In reports whether the object lives in database d (objects of every database live in all).
func (o *Object) In(d Database) bool {
	return slices.Contains(o.Databases, AnyDatabase) || slices.Contains(o.Databases, d)
}

// NamedIn reports a name whose database part is a system database (master, msdb) the object lives
// in: SQL Server resolves it from any database of the server.
func (o *Object) NamedIn(n *tsql.ObjectName) bool {
	db := Database(strings.ToLower(n.Database()))
	return (db == Master || db == Msdb) && o.In(db) && !slices.Contains(o.Databases, AnyDatabase)
}

// schema and object are the name's parts.
func (o *Object) schema() string {
	if s, _, ok := strings.Cut(o.bare(), "."); ok {
		return s
	}
	return ""
}

func (o *Object) object() string {
	b := o.bare()
	return b[strings.LastIndexByte(b, '.')+1:]
}

// bare is the name without a database part (master.sys.x → sys.x).
func (o *Object) bare() string {
	if strings.Count(o.Name, ".") == 2 {
		return o.Name[strings.IndexByte(o.Name, '.')+1:]
	}
	return o.Name
}

// ErrorDoc is a documented SQL Server error.
type ErrorDoc struct {
	Number    int32
	Severity  uint8
	Message   string
	Platforms []Platform
	Source    Source
}

// Contract is the parsed catalog.
type Contract struct {
	objects []*Object
	errors  map[int32]ErrorDoc
}

// Objects are all entries, in file order.
func (c *Contract) Objects() []*Object { return c.objects }

// Error is the documented error of that number.
func (c *Contract) Error(number int32) (ErrorDoc, bool) {
	e, ok := c.errors[number]
	return e, ok
}

var loadOnce = sync.OnceValues(func() (*Contract, error) { return Parse(catalogYAML) })

// Load returns the embedded contract, parsed and checked once.
func Load() (*Contract, error) { return loadOnce() }

// Lookup finds an object by name as a query writes it: one to three parts, brackets removed,
// case-insensitive. A name without a schema matches the dbo and sys schemas and bare function
// names; a database part must be one the object lives in.
func (c *Contract) Lookup(name string) (*Object, bool) {
	parts := strings.Split(strings.NewReplacer("[", "", "]", "").Replace(name), ".")
	n := &tsql.ObjectName{}
	for _, p := range parts {
		n.Parts = append(n.Parts, tsql.Ident{Name: p})
	}
	return c.LookupName(n)
}

// LookupName is Lookup for a parsed name.
func (c *Contract) LookupName(n *tsql.ObjectName) (*Object, bool) {
	if n == nil || len(n.Parts) == 0 || len(n.Parts) > 3 {
		return nil, false
	}
	obj, schema, db := n.Object(), n.Schema(), n.Database()
	for _, o := range c.objects {
		if !strings.EqualFold(o.object(), obj) {
			continue
		}
		os := o.schema()
		switch {
		case schema == "" && (os == "" || strings.EqualFold(os, "dbo") || strings.EqualFold(os, "sys")):
		case schema != "" && strings.EqualFold(os, schema):
		default:
			continue
		}
		// A database part: master and msdb must be one the object lives in; another name is a
		// user database whose role (source, distribution) the contract cannot tell.
		if (strings.EqualFold(db, "master") && !o.In(Master)) || (strings.EqualFold(db, "msdb") && !o.In(Msdb)) {
			continue
		}
		return o, true
	}
	return nil, false
}

// Catalog is a tsql.Catalog of the contract's objects with documented columns, as seen from a
// database on a platform: the columns of objects that are not there, or whose columns are not
// documented, are unknown.
func (c *Contract) Catalog(db Database, p Platform) tsql.Catalog {
	return catalog{c: c, db: db, p: p}
}

type catalog struct {
	c  *Contract
	db Database
	p  Platform
}

func (k catalog) Columns(n *tsql.ObjectName) ([]string, bool) {
	o, ok := k.c.LookupName(n)
	if ok && o.NamedIn(n) {
		// A three-part name to the system database the object lives in reaches it from any database.
		k.db = ""
	}
	if !ok || !o.ColumnsDocumented || !o.AppliesTo(k.p) || (k.db != "" && !o.In(k.db)) || (o.Kind != Table && o.Kind != View) {
		return nil, false
	}
	out := make([]string, 0, len(o.Columns))
	for _, col := range o.Columns {
		if col.Platforms == nil || slices.Contains(col.Platforms, k.p) {
			out = append(out, col.Name)
		}
	}
	return out, true
}

// Names lists the objects' names, sorted (for messages).
func (c *Contract) Names() []string {
	out := make([]string, len(c.objects))
	for i, o := range c.objects {
		out[i] = o.Name
	}
	sort.Strings(out)
	return out
}

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
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

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

// ---------------------------------------------------------------------------------------------
// Parsing.

type rawColumn struct {
	Name      string            `yaml:"name"`
	Type      string            `yaml:"type"`
	Nullable  bool              `yaml:"nullable"`
	Unit      string            `yaml:"unit"`
	Values    map[string]string `yaml:"values"`
	Note      string            `yaml:"note"`
	Platforms []Platform        `yaml:"platforms"`
	Required  bool              `yaml:"required"`
	Output    bool              `yaml:"output"`
}

type rawObject struct {
	Name              string            `yaml:"name"`
	Kind              Kind              `yaml:"kind"`
	Database          yaml.Node         `yaml:"database"`
	Platforms         []Platform        `yaml:"platforms"`
	Source            string            `yaml:"source"`
	Also              []string          `yaml:"also"`
	Documented        *bool             `yaml:"documented"`
	ColumnsDocumented *bool             `yaml:"columns_documented"`
	Permissions       string            `yaml:"permissions"`
	Note              string            `yaml:"note"`
	Returns           string            `yaml:"returns"`
	Inherits          string            `yaml:"inherits"`
	Columns           []rawColumn       `yaml:"columns"`
	Params            []rawColumn       `yaml:"params"`
	Result            []rawColumn       `yaml:"result"`
	Properties        map[string]string `yaml:"properties"`
	Values            yaml.Node         `yaml:"values"`
}

type rawFile struct {
	Objects []rawObject `yaml:"objects"`
	Errors  []struct {
		Number    int32      `yaml:"number"`
		Severity  uint8      `yaml:"severity"`
		Message   string     `yaml:"message"`
		Platforms []Platform `yaml:"platforms"`
		Source    string     `yaml:"source"`
	} `yaml:"errors"`
}

// Parse reads and checks a catalog: known fields only, unique names, a source for every
// documented entry, known kinds, databases and platforms, and types that parse.
func Parse(data []byte) (*Contract, error) {
	var raw rawFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	c := &Contract{errors: map[int32]ErrorDoc{}}
	seen := map[string]bool{}
	var errs []error
	for i := range raw.Objects {
		o, err := raw.Objects[i].build()
		if err != nil {
			errs = append(errs, fmt.Errorf("contract: object %q: %w", raw.Objects[i].Name, err))
			continue
		}
		key := strings.ToLower(o.Name)
		if seen[key] {
			errs = append(errs, fmt.Errorf("contract: object %q listed twice", o.Name))
		}
		seen[key] = true
		c.objects = append(c.objects, o)
	}
	// Inherited columns (sys.tables has sys.objects's).
	for i := range raw.Objects {
		from := raw.Objects[i].Inherits
		if from == "" {
			continue
		}
		base, ok := c.Lookup(from)
		if !ok {
			errs = append(errs, fmt.Errorf("contract: object %q inherits unknown %q", raw.Objects[i].Name, from))
			continue
		}
		for _, o := range c.objects {
			if strings.EqualFold(o.Name, raw.Objects[i].Name) {
				o.Columns = append(slices.Clone(base.Columns), o.Columns...)
			}
		}
	}
	for _, e := range raw.Errors {
		src, err := parseSource(e.Source)
		if err != nil {
			errs = append(errs, fmt.Errorf("contract: error %d: %w", e.Number, err))
			continue
		}
		if e.Number <= 0 || e.Severity == 0 || e.Message == "" {
			errs = append(errs, fmt.Errorf("contract: error %d needs a number, a severity and a message", e.Number))
		}
		c.errors[e.Number] = ErrorDoc{Number: e.Number, Severity: e.Severity, Message: e.Message, Platforms: e.Platforms, Source: src}
	}
	if len(c.objects) == 0 {
		errs = append(errs, errors.New("contract: no objects"))
	}
	return c, errors.Join(errs...)
}

func (r *rawObject) build() (*Object, error) {
	o := &Object{Name: r.Name, Kind: r.Kind, Platforms: r.Platforms, Permissions: r.Permissions, Note: r.Note,
		Returns: r.Returns, Documented: true, ColumnsDocumented: true}
	if r.Documented != nil {
		o.Documented = *r.Documented
	}
	if r.ColumnsDocumented != nil {
		o.ColumnsDocumented = *r.ColumnsDocumented
	}
	if o.Name == "" || strings.Count(o.Name, ".") > 2 {
		return nil, errors.New("needs a name of one to three parts")
	}
	switch o.Kind {
	case Table, View, Procedure, Function, Variable:
	default:
		return nil, fmt.Errorf("unknown kind %q", o.Kind)
	}
	if len(o.Platforms) == 0 {
		return nil, errors.New("needs platforms")
	}
	for _, p := range o.Platforms {
		if p != SQLServer && p != AzureSQL {
			return nil, fmt.Errorf("unknown platform %q", p)
		}
	}
	switch r.Database.Kind {
	case yaml.ScalarNode:
		o.Databases = []Database{Database(r.Database.Value)}
	case yaml.SequenceNode:
		for _, n := range r.Database.Content {
			o.Databases = append(o.Databases, Database(n.Value))
		}
	default:
		return nil, errors.New("needs a database")
	}
	for _, d := range o.Databases {
		switch d {
		case AnyDatabase, Master, SourceDB, DistributionDB, SandboxDB, Msdb:
		default:
			return nil, fmt.Errorf("unknown database %q", d)
		}
	}
	if o.Documented {
		src, err := parseSource(r.Source)
		if err != nil {
			return nil, err
		}
		o.Source = src
	} else if r.Note == "" {
		return nil, errors.New("an undocumented object needs a note saying what is missing")
	}
	for _, a := range r.Also {
		src, err := parseSource(a)
		if err != nil {
			return nil, err
		}
		o.Also = append(o.Also, src)
	}
	if !o.ColumnsDocumented && (len(r.Columns) > 0 || r.Note == "") {
		return nil, errors.New("columns_documented: false takes a note and no columns")
	}
	cols := func(raw []rawColumn, what string) ([]Column, error) {
		var out []Column
		names := map[string]bool{}
		for _, rc := range raw {
			if rc.Name == "" {
				return nil, fmt.Errorf("a %s without a name", what)
			}
			if names[strings.ToLower(rc.Name)] {
				return nil, fmt.Errorf("%s %q listed twice", what, rc.Name)
			}
			names[strings.ToLower(rc.Name)] = true
			t, err := ParseType(rc.Type)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", what, rc.Name, err)
			}
			out = append(out, Column{Name: rc.Name, Type: t, Nullable: rc.Nullable, Unit: rc.Unit, Values: rc.Values,
				Note: rc.Note, Platforms: rc.Platforms})
		}
		return out, nil
	}
	var err error
	if o.Columns, err = cols(r.Columns, "column"); err != nil {
		return nil, err
	}
	if o.Result, err = cols(r.Result, "result column"); err != nil {
		return nil, err
	}
	for _, rp := range r.Params {
		if !strings.HasPrefix(rp.Name, "@") {
			return nil, fmt.Errorf("parameter %q: a parameter name starts with @", rp.Name)
		}
		t, err := ParseType(rp.Type)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", rp.Name, err)
		}
		o.Params = append(o.Params, Param{Name: rp.Name, Type: t, Required: rp.Required, Output: rp.Output, Values: rp.Values, Note: rp.Note})
	}
	if len(r.Properties) > 0 {
		o.Properties = map[string]Type{}
		for name, ts := range r.Properties {
			t, err := ParseType(ts)
			if err != nil {
				return nil, fmt.Errorf("property %q: %w", name, err)
			}
			o.Properties[name] = t
		}
	}
	if r.Values.Kind == yaml.MappingNode {
		o.Values = map[string]map[string]string{}
		// Either {value: meaning} for the function's result, or {property: {value: meaning}}.
		flat := map[string]string{}
		for i := 0; i+1 < len(r.Values.Content); i += 2 {
			k, v := r.Values.Content[i], r.Values.Content[i+1]
			if v.Kind == yaml.MappingNode {
				m := map[string]string{}
				if err := v.Decode(&m); err != nil {
					return nil, fmt.Errorf("values of %q: %w", k.Value, err)
				}
				o.Values[k.Value] = m
			} else {
				flat[k.Value] = v.Value
			}
		}
		if len(flat) > 0 {
			o.Values[""] = flat
		}
	}
	if o.Kind == Function || o.Kind == Variable {
		if o.Returns == "" {
			return nil, errors.New("a function needs returns")
		}
		if t, err := ParseType(o.Returns); err == nil {
			o.ReturnType = t
		}
	}
	return o, nil
}

// ---------------------------------------------------------------------------------------------
// Types.

// Type is a SQL Server data type: a lower-case name with length (characters for the n-types, -1
// for max, 0 when not given) or precision and scale.
type Type struct {
	Name      string
	Length    int
	Precision int
	Scale     int
}

// IsZero reports a type the document does not give.
func (t Type) IsZero() bool { return t.Name == "" }

// String is the type as T-SQL writes it.
func (t Type) String() string {
	switch {
	case t.Name == "":
		return "(undocumented)"
	case t.Length == -1:
		return t.Name + "(max)"
	case t.Length > 0:
		return t.Name + "(" + strconv.Itoa(t.Length) + ")"
	case t.Precision > 0:
		return fmt.Sprintf("%s(%d,%d)", t.Name, t.Precision, t.Scale)
	}
	return t.Name
}

// lengthTypes take a length; precisionTypes a precision and scale.
var (
	lengthTypes    = map[string]bool{"nvarchar": true, "varchar": true, "nchar": true, "char": true, "varbinary": true, "binary": true}
	precisionTypes = map[string]bool{"decimal": true, "numeric": true}
	knownTypes     = map[string]bool{"bit": true, "tinyint": true, "smallint": true, "int": true, "bigint": true, "float": true,
		"real": true, "money": true, "smallmoney": true, "datetime": true, "datetime2": true, "smalldatetime": true, "date": true,
		"time": true, "datetimeoffset": true, "uniqueidentifier": true, "ntext": true, "text": true, "image": true,
		"sql_variant": true, "timestamp": true, "rowversion": true, "xml": true, "sysname": true}
)

// ParseType reads a documented type: int, nvarchar(128), nvarchar(max), sysname (nvarchar(128)),
// numeric(25,0), float(53) (float), datetimeoffset(7), "tinyint not null". "" is the zero Type.
func ParseType(s string) (Type, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	s = strings.TrimSuffix(s, " not null")
	if s == "" {
		return Type{}, nil
	}
	name, args, hasArgs := strings.Cut(s, "(")
	name = strings.TrimSpace(name)
	if hasArgs {
		if !strings.HasSuffix(args, ")") {
			return Type{}, fmt.Errorf("type %q: unbalanced parenthesis", s)
		}
		args = strings.TrimSuffix(args, ")")
	}
	t := Type{Name: name}
	switch {
	case name == "sysname":
		if hasArgs {
			return Type{}, fmt.Errorf("type %q: sysname takes no length", s)
		}
		return Type{Name: "nvarchar", Length: 128}, nil
	case lengthTypes[name]:
		if !hasArgs {
			return t, nil
		}
		if args == "max" {
			t.Length = -1
			return t, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(args))
		if err != nil || n <= 0 {
			return Type{}, fmt.Errorf("type %q: bad length", s)
		}
		t.Length = n
	case precisionTypes[name]:
		if hasArgs {
			p, sc, _ := strings.Cut(args, ",")
			pn, err1 := strconv.Atoi(strings.TrimSpace(p))
			sn := 0
			var err2 error
			if sc != "" {
				sn, err2 = strconv.Atoi(strings.TrimSpace(sc))
			}
			if err1 != nil || err2 != nil || pn < 1 || pn > 38 || sn < 0 || sn > pn {
				return Type{}, fmt.Errorf("type %q: bad precision or scale", s)
			}
			t.Precision, t.Scale = pn, sn
		}
	case name == "float":
		// float(n): 1..24 is real, 25..53 float (the documents write float(53)).
		if hasArgs {
			n, err := strconv.Atoi(strings.TrimSpace(args))
			if err != nil || n < 1 || n > 53 {
				return Type{}, fmt.Errorf("type %q: bad float precision", s)
			}
			if n <= 24 {
				t.Name = "real"
			}
		}
	case name == "datetimeoffset" || name == "datetime2" || name == "time":
		if hasArgs {
			n, err := strconv.Atoi(strings.TrimSpace(args))
			if err != nil || n < 0 || n > 7 {
				return Type{}, fmt.Errorf("type %q: bad fractional precision", s)
			}
		}
	case knownTypes[name]:
		if hasArgs {
			return Type{}, fmt.Errorf("type %q: %s takes no arguments", s, name)
		}
	default:
		return Type{}, fmt.Errorf("unknown type %q", s)
	}
	return t, nil
}

// Matches reports whether a served type is the documented one: same name, and the same length
// when the document gives a length.
func (t Type) Matches(served Type) bool {
	if t.IsZero() {
		return true
	}
	// decimal and numeric are synonyms (sql-docs t-sql/data-types/decimal-and-numeric-transact-sql.md:
	// "numeric is functionally identical to decimal"); drivers report both as DECIMAL.
	if t.Name != served.Name && !(isDecimal(t.Name) && isDecimal(served.Name)) {
		return false
	}
	return t.Length == 0 || t.Length == served.Length
}

func isDecimal(name string) bool { return name == "decimal" || name == "numeric" }

// Names lists the objects' names, sorted (for messages).
func (c *Contract) Names() []string {
	out := make([]string, len(c.objects))
	for i, o := range c.objects {
		out[i] = o.Name
	}
	sort.Strings(out)
	return out
}

package sim

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"

	"cutover/sql/contract"
	"cutover/sql/tdssim"
	"cutover/sql/tsql"
)

// The world as the ad hoc evaluator reads it (tdssim.Catalog): every table and view a session's
// server has, as Microsoft documents it (sql/contract) and the world holds it. An object exists
// where exists says (unrouted.go); its columns are the documented ones in the documented order
// with the documented types, each taking its value from the world where the world models it and
// NULL where it does not (the world models what the cutover reads, not every column of every
// system table). An object the world holds no rows of is the simulator's no-answer error. The
// AX tables, which no page documents, have the system fields every AX 2012 table has (RECID,
// RECVERSION, PARTITION, DATAAREAID: the simulator's choice of columns and types, the documents
// give none) and as many rows as the world counts, made up as they are read.

// simCatalog is the Catalog of one server.
type simCatalog struct {
	s   *Servers
	srv serverKind
}

// Table implements tdssim.Catalog.
func (k simCatalog) Table(req *tdssim.Request, n *tsql.ObjectName) (tdssim.Source, error) {
	c, err := contract.Load()
	if err != nil {
		return nil, tdssim.NoAnswerError("the contract did not load: " + err.Error())
	}
	v := k.s.view(k.srv, req)
	if platformOf(k.srv) == contract.AzureSQL && (n.Database() != "" || n.Server() != "") {
		return nil, azureThreePart(n)
	}
	if n.Server() != "" {
		return nil, &tdssim.Error{Number: 7202, State: 2, Class: 11, Message: fmt.Sprintf(
			"Could not find server '%s' in sys.servers. Verify that the correct server name was specified. If necessary, execute the stored procedure sp_addlinkedserver to add the server to sys.servers.", n.Server())}
	}
	if !k.s.exists(c, v, tsql.ObjectUse{Name: n, Kind: tsql.TableObject}) {
		return nil, tdssim.InvalidObjectError(n.String())
	}
	db := k.s.dbOf(v, n)
	if obj, ok := c.LookupName(n); ok && obj.AppliesTo(platformOf(k.srv)) && (obj.In(contractDB(db)) || obj.NamedIn(n)) {
		src, err := k.s.documented(c, obj, v, db)
		if err != nil {
			return nil, err
		}
		if src != nil {
			return src, nil
		}
		return nil, tdssim.NoAnswerError("the simulator holds no rows of " + obj.Name)
	}
	return k.s.world.axTable(db == dbTarget, n.Object())
}

func azureThreePart(n *tsql.ObjectName) *tdssim.Error {
	return &tdssim.Error{Number: 40515, State: 1, Class: 16,
		Message: fmt.Sprintf("Reference to database and/or server name in '%s' is not supported in this version of SQL Server.", n)}
}

// Function implements tdssim.Catalog: the world's clock, its servers' names, versions and
// properties, its databases' ids.
func (k simCatalog) Function(req *tdssim.Request, name string, args []any) (any, bool, error) {
	w := k.s.world
	v := k.s.view(k.srv, req)
	arg := func(i int) (string, bool) {
		if i >= len(args) || args[i] == nil {
			return "", false
		}
		return tsql.Text(args[i]), true
	}
	switch name {
	case "GETDATE", "GETUTCDATE", "CURRENT_TIMESTAMP", "SYSDATETIME", "SYSUTCDATETIME", "SYSDATETIMEOFFSET":
		// The simulated servers keep their clocks, and their datetime columns, in UTC.
		return w.Now(), true, nil
	case "@@VERSION":
		return w.versionString(k.srv), true, nil
	case "@@SERVERNAME":
		return k.s.serverName(k.srv), true, nil
	case "DB_ID":
		name := v.dbName
		if s, ok := arg(0); ok {
			name = s
		} else if len(args) > 0 {
			return nil, true, nil
		}
		return k.s.databaseID(k.srv, name), true, nil
	case "DB_NAME":
		if len(args) == 0 {
			return v.dbName, true, nil
		}
		id, ok := args[0].(int64)
		if !ok {
			return nil, true, nil
		}
		for _, n := range w.databases(k.srv) {
			if k.s.databaseID(k.srv, n) == id {
				return n, true, nil
			}
		}
		return nil, true, nil
	case "SERVERPROPERTY":
		p, _ := arg(0)
		return k.s.serverProperty(k.srv, p), true, nil
	case "IS_SRVROLEMEMBER":
		role, _ := arg(0)
		if !strings.EqualFold(role, "sysadmin") {
			return nil, false, nil
		}
		r := w.loginRights(v)
		return r.Sets[0].Rows[0][1], true, nil
	}
	return nil, false, nil
}

func (s *Servers) serverName(srv serverKind) string {
	if srv == serverTarget {
		return strings.SplitN(s.world.cfg.TargetServerName, ".", 2)[0]
	}
	return s.world.cfg.SourceServerName
}

// databaseID is a database's database_id on a server: master 1, tempdb 2, model 3, msdb 4, the AX
// database 5 and distribution 6 on the source; the sandbox 5 on the target (dbID); nil for a
// database the server does not have.
func (s *Servers) databaseID(srv serverKind, name string) any {
	for i, sys := range []string{"master", "tempdb", "model", "msdb"} {
		if strings.EqualFold(sys, name) && (srv == serverSource || i == 0) {
			return int64(i + 1)
		}
	}
	switch k := s.dbKind(srv, name); k {
	case dbAX, dbTarget, dbDistribution:
		if k == dbDistribution && s.world.ReplicationRemoved() {
			return nil
		}
		return dbID(k)
	}
	return nil
}

// serverProperty answers SERVERPROPERTY for what the world knows of its servers
// (sql-docs docs/t-sql/functions/serverproperty-transact-sql.md): EngineEdition 5 is Azure SQL
// Database, 3 Enterprise, 2 Standard; NULL for what the world does not hold, as for a name the
// function does not know.
func (s *Servers) serverProperty(srv serverKind, name string) any {
	w := s.world
	p := w.Preflight()
	collation := p.ServerCollation
	if collation == "" {
		collation = defaultCollation
	}
	switch strings.ToUpper(name) {
	case "SERVERNAME", "MACHINENAME":
		return s.serverName(srv)
	case "COLLATION":
		return collation
	case "ENGINEEDITION":
		switch {
		case srv == serverTarget:
			return int64(5)
		case strings.Contains(p.Edition, "Enterprise") || strings.Contains(p.Edition, "Developer"):
			return int64(3)
		}
		return int64(2)
	case "EDITION":
		if srv == serverTarget {
			return "SQL Azure"
		}
		return p.Edition
	case "PRODUCTVERSION":
		if srv == serverTarget {
			return "12.0.2000.8"
		}
		return p.ProductVersion
	case "ISINTEGRATEDSECURITYONLY":
		if srv == serverSource && p.IntegratedSecurityOnly {
			return int64(1)
		}
		return int64(0)
	}
	return nil
}

// use is the servers' USE: a database the server has, named as it names it; 911 for one it does
// not have; Azure SQL Database refuses to switch with 40508 (sql-docs
// docs/t-sql/language-elements/use-transact-sql.md).
func (s *Servers) use(srv serverKind) func(*tdssim.Session, string) (string, error) {
	return func(sess *tdssim.Session, name string) (string, error) {
		if srv == serverTarget && !strings.EqualFold(name, sess.CurrentDatabase()) {
			return "", &tdssim.Error{Number: 40508, State: 1, Class: 16,
				Message: "USE statement is not supported to switch between databases. Use a new connection to connect to a different database."}
		}
		for _, db := range s.world.databases(srv) {
			if strings.EqualFold(db, name) {
				return db, nil
			}
		}
		return "", tdssim.DatabaseNotFoundError(name)
	}
}

// ---------------------------------------------------------------------------------------------
// Documented objects.

// source is a documented object's rows as the world holds them: the documented columns the world
// models, in the documented order; the others it omits (tdssim.PartialSource).
type source struct {
	cols    []tdssim.Column
	pick    []int           // the world's column of each column
	omitted map[string]bool // documented columns the world does not model, by lower-case name
	omitAll bool            // the columns are not documented: any other name may be one
	rows    func() (*tdssim.Result, error)
}

// Columns implements tdssim.Source.
func (s *source) Columns() []tdssim.Column { return s.cols }

// Omits implements tdssim.PartialSource.
func (s *source) Omits(column string) bool { return s.omitAll || s.omitted[strings.ToLower(column)] }

// Rows implements tdssim.Source: the world's answer, each row as the documented columns.
func (s *source) Rows(context.Context) iter.Seq2[tdssim.Row, error] {
	return func(yield func(tdssim.Row, error) bool) {
		res, err := s.rows()
		if err != nil {
			yield(nil, err)
			return
		}
		out := make(tdssim.Row, len(s.cols))
		emit := func(r tdssim.Row) bool {
			for i, p := range s.pick {
				if p >= 0 && p < len(r) {
					out[i] = r[p]
				} else {
					out[i] = nil
				}
			}
			return yield(out, nil)
		}
		set := res.Sets[0]
		if set.Iter == nil {
			for _, r := range set.Rows {
				if !emit(r) {
					return
				}
			}
			return
		}
		for r, err := range set.Iter {
			if err != nil {
				yield(nil, err)
				return
			}
			if !emit(r) {
				return
			}
		}
	}
}

// project is a documented object over a world answer: each documented column (applying to the
// platform) the world's answer has, in the documented order, with the documented type (the
// world's where the document gives none); the documented columns the world does not model are
// omitted, neither invented nor NULL. An object whose columns are not documented has the world's,
// and may have others.
func project(obj *contract.Object, p contract.Platform, world []tdssim.Column, rows func() (*tdssim.Result, error)) *source {
	src := &source{rows: rows, omitted: map[string]bool{}}
	if !obj.ColumnsDocumented || len(obj.Columns) == 0 {
		src.cols, src.omitAll = world, true
		for i := range world {
			src.pick = append(src.pick, i)
		}
		return src
	}
	for _, c := range obj.Columns {
		if c.Platforms != nil && !slices.Contains(c.Platforms, p) {
			continue
		}
		pick := slices.IndexFunc(world, func(wc tdssim.Column) bool { return strings.EqualFold(wc.Name, c.Name) })
		if pick < 0 {
			src.omitted[strings.ToLower(c.Name)] = true
			continue
		}
		col, ok := documentedColumn(c)
		if !ok {
			col = world[pick] // the type is not documented: the world's
		}
		col.Name, col.Nullable = c.Name, c.Nullable || world[pick].Nullable
		src.cols = append(src.cols, col)
		src.pick = append(src.pick, pick)
	}
	return src
}

// documentedColumn is a documented type as the server sends it. TDS as the simulator speaks it
// has no char, varchar, binary or timestamp: those come as nvarchar and varbinary of the same
// length, sql_variant as nvarchar(4000), decimal as decimal.
func documentedColumn(c contract.Column) (tdssim.Column, bool) {
	t := c.Type
	n := t.Length
	switch t.Name {
	case "bit":
		return tdssim.Column{Type: tdssim.TypeBit}, true
	case "tinyint":
		return tdssim.Column{Type: tdssim.TypeTinyInt}, true
	case "smallint":
		return tdssim.Column{Type: tdssim.TypeSmallInt}, true
	case "int":
		return tdssim.Column{Type: tdssim.TypeInt}, true
	case "bigint":
		return tdssim.Column{Type: tdssim.TypeBigInt}, true
	case "float":
		return tdssim.Column{Type: tdssim.TypeFloat}, true
	case "real":
		return tdssim.Column{Type: tdssim.TypeReal}, true
	case "decimal", "numeric", "money", "smallmoney":
		p, s := uint8(t.Precision), uint8(t.Scale)
		if t.Name == "money" {
			p, s = 19, 4
		}
		return tdssim.Column{Type: tdssim.TypeDecimal, Precision: p, Scale: s}, true
	case "datetime", "smalldatetime":
		return tdssim.Column{Type: tdssim.TypeDateTime}, true
	case "datetime2":
		return tdssim.Column{Type: tdssim.TypeDateTime2}, true
	case "date":
		return tdssim.Column{Type: tdssim.TypeDate}, true
	case "datetimeoffset":
		return tdssim.Column{Type: tdssim.TypeDateTimeOffset}, true
	case "nvarchar", "varchar", "nchar", "char":
		if n < 0 {
			return tdssim.Column{Type: tdssim.TypeNVarCharMax}, true
		}
		return tdssim.Column{Type: tdssim.TypeNVarChar, Size: max(n, 1)}, true
	case "ntext", "text", "xml":
		return tdssim.Column{Type: tdssim.TypeNText}, true
	case "sql_variant":
		return tdssim.Column{Type: tdssim.TypeNVarChar, Size: 4000}, true
	case "varbinary", "binary":
		if n < 0 {
			return tdssim.Column{Type: tdssim.TypeVarBinaryMax}, true
		}
		return tdssim.Column{Type: tdssim.TypeVarBinary, Size: max(n, 1)}, true
	case "timestamp", "rowversion":
		return tdssim.Column{Type: tdssim.TypeVarBinary, Size: 8}, true
	case "image":
		return tdssim.Column{Type: tdssim.TypeVarBinaryMax}, true
	case "uniqueidentifier":
		return tdssim.Column{Type: tdssim.TypeUniqueIdentifier}, true
	}
	return tdssim.Column{}, false
}

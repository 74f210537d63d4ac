package sql

import (
	"context"
	stdsql "database/sql"
	"errors"

	"cutover/sql/query"
)

// errReplicationNotInstalled is error 21028, "Replication components are not installed on this
// server…" (the errors list, database-engine-events-and-errors-21000-to-21999.md). The documents
// say only that sp_MS_replication_installed returns 0 then (and, in one tutorial, that an error
// suggests installing replication), not that this is the error it raises: a 0 without an error
// reads as not installed too.
const errReplicationNotInstalled = 21028

// Reasons a check's fact is unknown although its query ran.
var (
	errSizeHidden = errors.New("sys.master_files shows none of the database's files: seeing them needs CREATE DATABASE, " +
		"ALTER ANY DATABASE or VIEW ANY DEFINITION")
	errNoAgentRow     = errors.New("sys.dm_server_services has no SQL Server Agent service (an edition without SQL Server Agent?)")
	errNoMaxTextRow   = errors.New("sys.configurations has no 'max text repl size (B)' option")
	errSignInModeNull = errors.New("SERVERPROPERTY('IsIntegratedSecurityOnly') returned NULL")
	errRolesHidden    = errors.New("IS_SRVROLEMEMBER or IS_ROLEMEMBER returned NULL: the login may not view the role membership")
)

// ServerInfo identifies a SQL Server.
type ServerInfo struct {
	ProductVersion string
	Edition        string
	Version        string
	// IntegratedOnly is true when SQL logins are off (the toolkit needs mixed mode).
	// SignInModeKnown is false when SERVERPROPERTY('IsIntegratedSecurityOnly') was NULL (the
	// documented answer for an error).
	IntegratedOnly  bool
	SignInModeKnown bool
}

// DatabaseSettings is what pre-flight checks need to know about a database.
type DatabaseSettings struct {
	Owner         string
	RCSI          bool
	RecoveryModel string
	// SizeBytes is the size of the database's files; SizeKnown is false when the login may not
	// see them (sys.master_files then returns no row and the sum is NULL, not 0).
	SizeBytes int64
	SizeKnown bool
}

// Drive is a drive letter and its free space.
type Drive struct {
	Letter string
	FreeMB int64
}

// LoginRights is what the login cutover connects with may do (DOMAIN.md §1.2 "Login rights": the
// 1.0.12 toolkit needs sysadmin; older builds db_owner on the AX database and access to master).
type LoginRights struct {
	// Login is SUSER_SNAME(), the login the server sees.
	Login string
	// Sysadmin is membership of the sysadmin fixed server role.
	Sysadmin bool
	// DBOwner is membership of db_owner in the AX database (a sysadmin is dbo everywhere).
	DBOwner bool
	// Known reports that the memberships could be read: IS_SRVROLEMEMBER and IS_ROLEMEMBER return
	// NULL, not 0, for a membership the login may not view.
	Known bool
}

// Preflight is the source server's answers to the documented causes of mid-cutover failure.
type Preflight struct {
	Server               ServerInfo
	Rights               LoginRights
	ReplicationInstalled bool
	AgentStatus          string
	Database             DatabaseSettings
	// MaxTextReplSize is the 'max text repl size (B)' setting (-1: unlimited).
	MaxTextReplSize int64
	Drives          []Drive
	// Distributor names the distribution database ("" when there is none).
	Distributor string
	// ServerCollation and DatabaseCollation are the server's default collation and the AX
	// database's ("" when unknown).
	ServerCollation, DatabaseCollation string
	// AOTTables are the AX model's tables (SQLDICTIONARY: the AOT name and the SQL name of each);
	// nil when they could not be read (Unavailable["AOT tables"]).
	AOTTables []AOTTable
	// Unavailable lists checks that could not run (for example without sysadmin) and why.
	Unavailable map[string]error
}

// AOTTable is one table of the AX 2012 model: its name in the AOT and in SQL Server.
type AOTTable struct {
	Name, SQLName string
}

// errNoAOTTables is an SQLDICTIONARY that lists no table.
var errNoAOTTables = errors.New("SQLDICTIONARY lists no table (field id 0): is this the AX 2012 business database?")

// Preflight runs the pre-flight queries for the named AX database (connected to that database, so
// the login's db_owner membership is the AX database's). A check the login may not run is recorded
// in Unavailable instead of failing the rest.
func (d *DB) Preflight(ctx context.Context, database string) (Preflight, error) {
	p := Preflight{Unavailable: map[string]error{}}
	soft := func(name string, err error) error {
		if err == nil {
			return nil
		}
		if Number(err) == errReplicationNotInstalled {
			p.ReplicationInstalled = false
			return nil
		}
		if IsPermission(err) || IsMissingObject(err) {
			p.Unavailable[name] = err
			return nil
		}
		return err
	}
	var err error
	p.Server, err = readValue(ctx, d, d.cfg.QueryTimeout, "server info", query.ServerInfo, nil, func(r *stdsql.Rows, s *ServerInfo) error {
		var integrated stdsql.NullInt64
		err := r.Scan(&s.ProductVersion, &s.Edition, &s.Version, &integrated)
		s.IntegratedOnly, s.SignInModeKnown = integrated.Int64 == 1, integrated.Valid
		return err
	})
	if err != nil {
		return p, err
	}
	if !p.Server.SignInModeKnown {
		p.Unavailable["sign-in mode"] = errSignInModeNull
	}
	rights, err := readValue(ctx, d, d.cfg.QueryTimeout, "login rights", query.LoginRights, nil, func(r *stdsql.Rows, l *LoginRights) error {
		var login stdsql.NullString
		var sysadmin, owner stdsql.NullInt64
		err := r.Scan(&login, &sysadmin, &owner)
		l.Login, l.Sysadmin, l.DBOwner = login.String, sysadmin.Int64 == 1, owner.Int64 == 1 || sysadmin.Int64 == 1
		l.Known = sysadmin.Valid && (owner.Valid || l.Sysadmin)
		return err
	})
	if err == nil && !rights.Known {
		p.Unavailable["login rights"] = errRolesHidden
	}
	if err = soft("login rights", err); err != nil {
		return p, err
	}
	p.Rights = rights
	installed, err := readScalar[stdsql.NullInt64](ctx, d, "replication installed", query.ReplicationInstalled)
	p.ReplicationInstalled = installed.Int64 != 0
	if err = soft("replication installed", err); err != nil {
		return p, err
	}
	agent, err := readScalar[stdsql.NullString](ctx, d, "SQL Server Agent", query.AgentService)
	if err == nil && !agent.Valid {
		// The page does not give servicename's form, and an edition without SQL Server Agent
		// has no row: say so instead of reporting an empty status.
		p.Unavailable["SQL Server Agent"] = errNoAgentRow
	}
	if err = soft("SQL Server Agent", err); err != nil {
		return p, err
	}
	p.AgentStatus = agent.String
	settings, err := readRows(ctx, d, "database settings", query.DatabaseSettings, 1, func(r *stdsql.Rows) (DatabaseSettings, error) {
		var s DatabaseSettings
		var owner, model stdsql.NullString
		var size stdsql.NullInt64
		var rcsi stdsql.NullBool
		err := r.Scan(&owner, &rcsi, &model, &size)
		s.Owner, s.RCSI, s.RecoveryModel, s.SizeBytes, s.SizeKnown = owner.String, rcsi.Bool, model.String, size.Int64, size.Valid
		return s, err
	}, database)
	if err = soft("database settings", err); err != nil {
		return p, err
	}
	switch {
	case len(settings) > 0:
		p.Database = settings[0]
		if !p.Database.SizeKnown {
			p.Unavailable["database size"] = errSizeHidden
		}
	case p.Unavailable["database settings"] == nil:
		p.Unavailable["database settings"] = errors.New("no database named " + database)
	}
	maxText, err := readScalar[stdsql.NullInt64](ctx, d, "max text repl size", query.MaxTextReplSize)
	if err == nil && !maxText.Valid {
		p.Unavailable["max text repl size"] = errNoMaxTextRow
	}
	if err = soft("max text repl size", err); err != nil {
		return p, err
	}
	p.MaxTextReplSize = maxText.Int64
	p.Drives, err = readRows(ctx, d, "free disk space", query.FixedDrives, 4, func(r *stdsql.Rows) (Drive, error) {
		var dr Drive
		err := r.Scan(&dr.Letter, &dr.FreeMB)
		return dr, err
	})
	if err = soft("free disk space", err); err != nil {
		return p, err
	}
	distributor, err := readScalar[stdsql.NullString](ctx, d, "distributor", query.Distributor)
	p.Distributor = distributor.String
	if err = soft("distributor", err); err != nil {
		return p, err
	}
	type collations struct{ server, database stdsql.NullString }
	c, err := readValue(ctx, d, d.cfg.QueryTimeout, "collations", query.Collations, nil, func(r *stdsql.Rows, c *collations) error {
		return r.Scan(&c.server, &c.database)
	}, database)
	p.ServerCollation, p.DatabaseCollation = c.server.String, c.database.String
	if err == nil && !c.database.Valid {
		p.Unavailable["collation"] = errors.New("sys.databases shows no collation for " + database + " (not online, or not there)")
	}
	if err = soft("collation", err); err != nil {
		return p, err
	}
	tables, err := readRows(ctx, d, "AOT tables", query.AOTTables, 4096, func(r *stdsql.Rows) (AOTTable, error) {
		var name, sqlName stdsql.NullString
		err := r.Scan(&name, &sqlName)
		return AOTTable{Name: name.String, SQLName: sqlName.String}, err
	})
	switch {
	case err != nil && (IsMissingObject(err) || Number(err) == errInvalidColumn):
		// Not an AX 2012 business database, or an SQLDICTIONARY of another shape.
		p.Unavailable["AOT tables"], err = err, nil
	case err == nil && len(tables) == 0:
		p.Unavailable["AOT tables"] = errNoAOTTables
	case err == nil:
		p.AOTTables = tables
	}
	return p, soft("AOT tables", err)
}

// errInvalidColumn is 207, "Invalid column name '%.*ls'." (database-engine-events-and-errors-0-to-999.md).
const errInvalidColumn = 207

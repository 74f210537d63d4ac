package sql

import (
	"context"
	stdsql "database/sql"
	"errors"

	"cutover/sql/query"
)

// errReplicationNotInstalled is what sp_MS_replication_installed raises when replication is missing.
const errReplicationNotInstalled = 21028

// ServerInfo identifies a SQL Server.
type ServerInfo struct {
	ProductVersion string
	Edition        string
	Version        string
	// IntegratedOnly is true when SQL logins are off (the toolkit needs mixed mode).
	IntegratedOnly bool
}

// DatabaseSettings is what pre-flight checks need to know about a database.
type DatabaseSettings struct {
	Owner         string
	RCSI          bool
	RecoveryModel string
	SizeBytes     int64
}

// Drive is a drive letter and its free space.
type Drive struct {
	Letter string
	FreeMB int64
}

// Preflight is the source server's answers to the documented causes of mid-cutover failure.
type Preflight struct {
	Server               ServerInfo
	ReplicationInstalled bool
	AgentStatus          string
	Database             DatabaseSettings
	// MaxTextReplSize is the 'max text repl size (B)' setting (-1: unlimited).
	MaxTextReplSize int64
	Drives          []Drive
	// Distributor names the distribution database ("" when there is none).
	Distributor string
	// Unavailable lists checks that could not run (for example without sysadmin) and why.
	Unavailable map[string]error
}

// Preflight runs the pre-flight queries for the named AX database. A check the login may not run
// is recorded in Unavailable instead of failing the rest.
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
	err := d.read(ctx, "server info", query.ServerInfo, func(r *stdsql.Rows) error {
		var integrated stdsql.NullInt64
		if err := r.Scan(&p.Server.ProductVersion, &p.Server.Edition, &p.Server.Version, &integrated); err != nil {
			return err
		}
		p.Server.IntegratedOnly = integrated.Int64 == 1
		return nil
	})
	if err != nil {
		return p, err
	}
	err = soft("replication installed", d.read(ctx, "replication installed", query.ReplicationInstalled, func(r *stdsql.Rows) error {
		var n stdsql.NullInt64
		err := r.Scan(&n)
		p.ReplicationInstalled = n.Int64 != 0
		return err
	}))
	if err != nil {
		return p, err
	}
	err = soft("SQL Server Agent", d.read(ctx, "SQL Server Agent", query.AgentService, func(r *stdsql.Rows) error {
		return r.Scan(&p.AgentStatus)
	}))
	if err != nil {
		return p, err
	}
	found := false
	err = soft("database settings", d.read(ctx, "database settings", query.DatabaseSettings, func(r *stdsql.Rows) error {
		var owner, model stdsql.NullString
		var size stdsql.NullInt64
		found = true
		if err := r.Scan(&owner, &p.Database.RCSI, &model, &size); err != nil {
			return err
		}
		p.Database.Owner, p.Database.RecoveryModel, p.Database.SizeBytes = owner.String, model.String, size.Int64
		return nil
	}, database))
	if err != nil {
		return p, err
	}
	if !found {
		p.Unavailable["database settings"] = errors.New("no database named " + database)
	}
	err = soft("max text repl size", d.read(ctx, "max text repl size", query.MaxTextReplSize, func(r *stdsql.Rows) error {
		return r.Scan(&p.MaxTextReplSize)
	}))
	if err != nil {
		return p, err
	}
	err = soft("free disk space", d.read(ctx, "free disk space", query.FixedDrives, func(r *stdsql.Rows) error {
		var dr Drive
		if err := r.Scan(&dr.Letter, &dr.FreeMB); err != nil {
			return err
		}
		p.Drives = append(p.Drives, dr)
		return nil
	}))
	if err != nil {
		return p, err
	}
	err = soft("distributor", d.read(ctx, "distributor", query.Distributor, func(r *stdsql.Rows) error {
		return r.Scan(&p.Distributor)
	}))
	return p, err
}

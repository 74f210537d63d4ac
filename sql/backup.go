package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cutover/sql/query"
)

// Backups and restores of the AX database, from msdb's history (query.FullBackups, query.Restores)
// and with RESTORE (query.VerifyBackup, query.RestoreDatabase): the rollback point of the cutover
// ("restore the database by using the backup that was made when AX 2012 was turned off",
// migration-upgrade/upgrade-cutover-testing.md, "Roll back to AX 2012").

// DeviceType is backupmediafamily.device_type.
type DeviceType int

// Device types (backupmediafamily-transact-sql.md; 9 from backupset-transact-sql.md's example).
const (
	DeviceDisk         DeviceType = 2
	DeviceTape         DeviceType = 5
	DeviceVirtual      DeviceType = 7
	DeviceAzureStorage DeviceType = 9
	DevicePermanent    DeviceType = 105
	deviceTypeUnknown  DeviceType = -1
)

// backupset.time_zone: 15-minute intervals from UTC, 127 unknown (backupset-transact-sql.md).
const (
	timeZoneUnknown     = 127
	timeZoneUnitMinutes = 15
)

// String names the device type as the pages do.
func (t DeviceType) String() string {
	switch t {
	case DeviceDisk:
		return "disk"
	case DeviceTape:
		return "tape"
	case DeviceVirtual:
		return "virtual device"
	case DeviceAzureStorage:
		return "Azure Storage"
	case DevicePermanent:
		return "permanent backup device"
	case deviceTypeUnknown:
		return "unknown device type"
	}
	return "device type " + strconv.Itoa(int(t))
}

// BackupDevice is one media family of a backup set (its first mirror).
type BackupDevice struct {
	Path   string
	Type   DeviceType
	Family int
}

// BackupSet is one full database backup in msdb's history.
type BackupSet struct {
	ID       int64
	Position int
	// Start and Finish are instants: the server's local times corrected by the backup's own
	// time_zone or, when that is unknown (127, NULL, or out of the documented -48..48), by the
	// server's UTC offset now; ZoneKnown says which.
	Start, Finish time.Time
	ZoneKnown     bool
	CopyOnly      bool
	Checksums     bool
	Damaged       bool
	// Size is backup_size in bytes (0 when unknown).
	Size                             int64
	FirstLSN, LastLSN, CheckpointLSN string
	Server                           string
	Devices                          []BackupDevice
}

// zoned turns a backup's server-local datetime into an instant, with its time_zone (15-minute
// units; 127 unknown): backupset-transact-sql.md. An unknown zone uses the server's offset now.
func (d *DB) zoned(ctx context.Context, local time.Time, tz stdsql.NullInt64) (time.Time, bool) {
	if local.IsZero() {
		return local, true
	}
	if tz.Valid && tz.Int64 != timeZoneUnknown && tz.Int64 >= -48 && tz.Int64 <= 48 {
		wall := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), local.Nanosecond(), time.UTC)
		return wall.Add(-time.Duration(tz.Int64) * timeZoneUnitMinutes * time.Minute), true
	}
	return d.instant(ctx, local), false
}

// FullBackups lists the newest full database backups of database (msdb.dbo.backupset type 'D'),
// newest first, each with its media families (mirror 0).
func (d *DB) FullBackups(ctx context.Context, database string) ([]BackupSet, error) {
	type row struct {
		set     BackupSet
		start   stdsql.NullTime
		finish  stdsql.NullTime
		tz      stdsql.NullInt64
		family  stdsql.NullInt64
		mirror  stdsql.NullInt64
		device  stdsql.NullString
		devType stdsql.NullInt64
	}
	rows, err := readRows(ctx, d, "backup history", query.FullBackups, 8, func(r *stdsql.Rows) (row, error) {
		var x row
		var pos, size stdsql.NullInt64
		var copyOnly, checksums, damaged stdsql.NullBool
		var first, last, checkpoint, server stdsql.NullString
		err := r.Scan(&x.set.ID, &pos, &x.start, &x.finish, &x.tz, &copyOnly, &checksums, &damaged, &size,
			&first, &last, &checkpoint, &server, &x.family, &x.mirror, &x.device, &x.devType)
		x.set.Position, x.set.Size = int(pos.Int64), size.Int64
		x.set.CopyOnly, x.set.Checksums, x.set.Damaged = copyOnly.Bool, checksums.Bool, damaged.Bool
		x.set.FirstLSN, x.set.LastLSN, x.set.CheckpointLSN, x.set.Server = first.String, last.String, checkpoint.String, server.String
		return x, err
	}, database)
	if err != nil {
		return nil, err
	}
	var out []BackupSet
	index := map[int64]int{}
	for _, x := range rows {
		i, ok := index[x.set.ID]
		if !ok {
			s := x.set
			var known bool
			s.Start, known = d.zoned(ctx, x.start.Time, x.tz)
			s.Finish, _ = d.zoned(ctx, x.finish.Time, x.tz)
			s.ZoneKnown = known
			i = len(out)
			index[s.ID] = i
			out = append(out, s)
		}
		if !x.device.Valid || x.mirror.Int64 != 0 {
			continue
		}
		typ := deviceTypeUnknown
		if x.devType.Valid {
			typ = DeviceType(x.devType.Int64)
		}
		out[i].Devices = append(out[i].Devices, BackupDevice{Path: x.device.String, Type: typ, Family: int(x.family.Int64)})
	}
	return out, nil
}

// exec runs a statement that returns no result set, bounded by ctx only (a RESTORE runs as long
// as the backup takes to read). It is not retried.
func (d *DB) exec(ctx context.Context, what, text string, args ...any) error {
	if _, err := d.db.ExecContext(ctx, text, args...); err != nil {
		return d.wrap(what, err)
	}
	return nil
}

// VerifyBackup runs RESTORE VERIFYONLY on the backup set at position of the backup file device,
// WITH CHECKSUM when checksum. It returns nil when SQL Server reports the set valid.
func (d *DB) VerifyBackup(ctx context.Context, device string, position int, checksum bool) error {
	text := query.VerifyBackupNoChecksum
	if checksum {
		text = query.VerifyBackup
	}
	return d.exec(ctx, "RESTORE VERIFYONLY of "+device, text, device, int32(position))
}

// RestoreDatabase restores database from the backup set at position of the backup file device,
// WITH REPLACE when replace and CHECKSUM when checksum. Run it on a connection to master.
func (d *DB) RestoreDatabase(ctx context.Context, database, device string, position int, replace, checksum bool) error {
	text := query.RestoreDatabaseNoReplaceNoChecksum
	switch {
	case replace && checksum:
		text = query.RestoreDatabase
	case replace:
		text = query.RestoreDatabaseNoChecksum
	case checksum:
		text = query.RestoreDatabaseNoReplace
	}
	return d.exec(ctx, fmt.Sprintf("RESTORE DATABASE %s from %s", database, device), text, database, device, int32(position))
}

// DatabaseState is a database's state in sys.databases.
type DatabaseState struct {
	// Exists is false when sys.databases has no such row.
	Exists     bool
	State      string
	UserAccess string
}

// DatabaseState reads a database's state.
func (d *DB) DatabaseState(ctx context.Context, name string) (DatabaseState, error) {
	return readValue(ctx, d, d.cfg.QueryTimeout, "state of "+name, query.DatabaseState, nil, func(r *stdsql.Rows, s *DatabaseState) error {
		var state, access stdsql.NullString
		err := r.Scan(&state, &access)
		s.Exists, s.State, s.UserAccess = true, state.String, access.String
		return err
	}, name)
}

// Restore is one full restore of a database in msdb's history.
type Restore struct {
	ID int64
	// At is when the restore completed (an instant: restore_date with the server's offset now).
	At          time.Time
	BackupSetID int64
	Replace     bool
	// BackupStart is the restored set's start (zero when its history is gone).
	BackupStart time.Time
	Devices     []string
}

// Restores lists the newest full restores of database, newest first.
func (d *DB) Restores(ctx context.Context, database string) ([]Restore, error) {
	type row struct {
		r      Restore
		at     stdsql.NullTime
		start  stdsql.NullTime
		tz     stdsql.NullInt64
		device stdsql.NullString
	}
	rows, err := readRows(ctx, d, "restore history", query.Restores, 4, func(r *stdsql.Rows) (row, error) {
		var x row
		var set stdsql.NullInt64
		var replace stdsql.NullBool
		err := r.Scan(&x.r.ID, &x.at, &set, &replace, &x.start, &x.tz, &x.device)
		x.r.BackupSetID, x.r.Replace = set.Int64, replace.Bool
		return x, err
	}, database)
	if err != nil {
		return nil, err
	}
	var out []Restore
	index := map[int64]int{}
	for _, x := range rows {
		i, ok := index[x.r.ID]
		if !ok {
			r := x.r
			r.At = d.instant(ctx, x.at.Time)
			r.BackupStart, _ = d.zoned(ctx, x.start.Time, x.tz)
			i = len(out)
			index[r.ID] = i
			out = append(out, r)
		}
		if x.device.Valid {
			out[i].Devices = append(out[i].Devices, x.device.String)
		}
	}
	return out, nil
}

// Errors of BACKUP and RESTORE the client gives a meaning to (sql-docs relational-databases/
// errors-events/database-engine-events-and-errors-3000-to-3999.md).
const (
	errDatabaseInUse      = 3101 // Exclusive access could not be obtained because the database is in use.
	errInUseBySession     = 3102 // … cannot process database … because it is in use by this session.
	errRestorePermission  = 3110 // User does not have permission to RESTORE database '%.*ls'.
	errCannotOpenDevice   = 3201 // Cannot open backup device '%ls'. Operating system error %ls.
	errNoChecksumInBackup = 3187 // RESTORE WITH CHECKSUM cannot be specified because the backup set does not contain checksum information.
)

// IsDatabaseInUse reports 3101 (exclusive access could not be obtained because the database is in
// use) or 3102 (in use by this session): RESTORE needs every other connection to the database
// closed, and to run from another database (master).
func IsDatabaseInUse(err error) bool {
	return hasNumber(err, errDatabaseInUse) || hasNumber(err, errInUseBySession)
}

// IsBackupUnreadable reports 3201, a backup file that cannot be opened (not there, or no access
// for the SQL Server service account).
func IsBackupUnreadable(err error) bool { return hasNumber(err, errCannotOpenDevice) }

// IsNoChecksum reports 3187: the backup set has no checksums to verify.
func IsNoChecksum(err error) bool { return hasNumber(err, errNoChecksumInBackup) }

// OnDatabase opens a pool on another database of the same server, with the same sign-in (RESTORE
// runs on master). The caller closes it.
func (d *DB) OnDatabase(name string) (*DB, error) {
	if name == "" {
		return nil, errors.New("sql: no database name")
	}
	cfg := d.cfg
	cfg.Database = name
	return Open(cfg)
}

// CloseIdle closes the pool's idle connections (a RESTORE of the database they are on needs them
// gone); connections in use stay, and later ones are pooled again.
func (d *DB) CloseIdle() {
	d.db.SetMaxIdleConns(0)
	d.db.SetMaxIdleConns(d.cfg.MaxOpen)
}

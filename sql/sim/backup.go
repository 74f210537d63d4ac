package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cutover/sql/tdssim"
)

// The backup history of msdb and RESTORE on the source server: the rollback point of the cutover
// ("restore the database by using the backup that was made when AX 2012 was turned off",
// migration-upgrade/upgrade-cutover-testing.md). Rows are shaped as sql-docs documents backupset,
// backupmediafamily and restorehistory; RESTORE VERIFYONLY and RESTORE DATABASE answer and refuse
// with the documented messages (database-engine-events-and-errors-3000-to-3999.md).
//
// Kept simple: a backup is one file on disk (one media family, no mirror, FILE = 1); a restore is
// instantaneous; the data model it restores is the AX database's source row counts (the writes
// since the backup's start are taken back); sessions, batch and replication are not restored.

// ErrBackup: the backup cannot be taken as asked (unknown database, start after finish or in the
// future).
var ErrBackup = errors.New("sim: backup not possible")

// backupSet is one full database backup.
type backupSet struct {
	id            int32
	db            string
	start, finish float64 // sim seconds
	checksum      bool
	damaged       bool
	tz            int // time_zone: 15-minute units from UTC, 127 unknown
	size          int64
	device        string
	position      int32
	mediaSet      int32
	// effCum is the application writes the backup holds (cumW at its start, less what restores
	// took back by then).
	effCum float64
}

// restoreRec is one restore in msdb's restorehistory.
type restoreRec struct {
	id      int32
	at      float64
	db      string
	user    string
	set     int32
	replace bool
}

// Time zones for SetBackupTimeZone.
const (
	// BackupZoneUTC is time_zone 0: the simulated servers' clock runs in UTC.
	BackupZoneUTC = 0
	// BackupZoneUnknown is time_zone 127, "unknown" (backupset-transact-sql.md).
	BackupZoneUnknown = 127
)

// SetBackupTimeZone sets the time_zone (15-minute units from UTC, -48..48, or 127 for unknown)
// that the next backups record; their backup_start_date and backup_finish_date are written in that
// zone's local time (in the servers' own zone, UTC, when unknown). It is a setting, not an Action:
// TakeBackup records the zone it used.
func (w *World) SetBackupTimeZone(tz int) error {
	if tz != BackupZoneUnknown && (tz < -48 || tz > 48) {
		return fmt.Errorf("%w: time_zone %d is neither -48..48 nor 127", ErrBackup, tz)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.backupTZ = tz
	return nil
}

// TakeBackup records a full database backup of db (the AX database) that ran from start to finish,
// as BACKUP DATABASE … TO DISK = … [WITH CHECKSUM] [CONTINUE_AFTER_ERROR] would: checksum sets
// has_backup_checksums, damaged is_damaged (damage was detected and the backup continued). It
// returns the backup file. The start must not be in the future; a finish in the future is a
// backup still running, which msdb shows once it has finished. The backup holds the database as
// it was at its start.
func (w *World) TakeBackup(db string, checksum, damaged bool, start, finish time.Time) (string, error) {
	w.lock()
	defer w.mu.Unlock()
	return w.takeBackup(db, checksum, damaged, start, finish, w.backupTZ)
}

func (w *World) takeBackup(db string, checksum, damaged bool, start, finish time.Time, tz int) (string, error) {
	if !strings.EqualFold(db, w.cfg.SourceDatabase) {
		return "", fmt.Errorf("%w: the simulator backs up %s only, not %q", ErrBackup, w.cfg.SourceDatabase, db)
	}
	s, f := w.secs(start), w.secs(finish)
	if f < s {
		return "", fmt.Errorf("%w: finish %s before start %s", ErrBackup, finish.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	if s > w.t+1e-6 {
		return "", fmt.Errorf("%w: start %s is in the future", ErrBackup, start.Format(time.RFC3339))
	}
	id := int32(len(w.backups) + 1)
	b := backupSet{id: id, db: w.cfg.SourceDatabase, start: s, finish: f, checksum: checksum, damaged: damaged, tz: tz,
		size: w.dbSizeBytes() * 4 / 5, position: 1, mediaSet: id, effCum: w.cumAt(s) - w.lost}
	b.device = fmt.Sprintf(`D:\SQLBackup\%s_FULL_%s.bak`, w.cfg.SourceDatabase, start.UTC().Format("20060102_150405"))
	for _, o := range w.backups {
		if strings.EqualFold(o.device, b.device) {
			b.device = fmt.Sprintf(`D:\SQLBackup\%s_FULL_%s_%d.bak`, w.cfg.SourceDatabase, start.UTC().Format("20060102_150405"), id)
		}
	}
	w.backups = append(w.backups, b)
	w.note(ActTakeBackup, db, strconv.FormatBool(checksum), strconv.FormatBool(damaged), start.UTC().Format(time.RFC3339Nano),
		finish.UTC().Format(time.RFC3339Nano), strconv.Itoa(tz))
	return b.device, nil
}

// cumAt is the application writes up to sim second t ≤ w.t.
func (w *World) cumAt(t float64) float64 {
	br := w.repl.breaks
	k := sort.Search(len(br), func(i int) bool { return br[i].t > t }) - 1
	if k < 0 {
		return 0
	}
	b := br[k]
	end := math.Min(t, w.t)
	return b.cum + b.rate*math.Max(0, end-b.t)
}

// BackupInfo describes a backup the world holds.
type BackupInfo struct {
	ID            int32
	Device        string
	Start, Finish time.Time
	Checksum      bool
	Damaged       bool
}

// Backups lists the backups taken, finished or not, oldest first.
func (w *World) Backups() []BackupInfo {
	w.lock()
	defer w.mu.Unlock()
	out := make([]BackupInfo, len(w.backups))
	for i, b := range w.backups {
		out[i] = BackupInfo{ID: b.id, Device: b.device, Start: w.timeAt(b.start), Finish: w.timeAt(b.finish), Checksum: b.checksum, Damaged: b.damaged}
	}
	return out
}

// Restores counts the restores of the AX database.
func (w *World) Restores() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.restores)
}

// msdbTime is a backup's datetime as msdb stores it: the local time of its zone, or the servers'
// own (UTC) when the zone is unknown.
func (w *World) msdbTime(t float64, tz int) any {
	v := w.dt(t)
	if tm, ok := v.(time.Time); ok && tz != BackupZoneUnknown {
		return tm.Add(time.Duration(tz) * 15 * time.Minute)
	}
	return v
}

// fullBackups answers query.FullBackups: the finished full backups of db, newest first.
func (w *World) fullBackups(db string) *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	dec := func(name string, p uint8) tdssim.Column {
		return tdssim.Column{Name: name, Type: tdssim.TypeDecimal, Precision: p, Nullable: true}
	}
	small := func(name string) tdssim.Column {
		return tdssim.Column{Name: name, Type: tdssim.TypeSmallInt, Nullable: true}
	}
	tiny := func(name string) tdssim.Column {
		return tdssim.Column{Name: name, Type: tdssim.TypeTinyInt, Nullable: true}
	}
	cols := []tdssim.Column{colInt("backup_set_id"), colInt("position"), colDT("backup_start_date"), colDT("backup_finish_date"),
		small("time_zone"), colBit("is_copy_only"), colBit("has_backup_checksums"), colBit("is_damaged"), colBig("backup_size"),
		dec("first_lsn", 25), dec("last_lsn", 25), dec("checkpoint_lsn", 25), colNV("server_name", 128),
		tiny("family_sequence_number"), tiny("mirror"), colNV("physical_device_name", 260), tiny("device_type")}
	var sets []backupSet
	for _, b := range w.backups {
		if strings.EqualFold(b.db, db) && b.finish <= w.t {
			sets = append(sets, b)
		}
	}
	slices.SortStableFunc(sets, func(a, b backupSet) int {
		if a.start != b.start {
			if a.start > b.start {
				return -1
			}
			return 1
		}
		return int(b.id - a.id)
	})
	var rows []tdssim.Row
	for _, b := range sets {
		if len(rows) == 50 {
			break
		}
		lsn := func(k int) string { return strconv.FormatInt(int64(b.id)*1_000_000_000_000+int64(k)*100_000+37, 10) }
		rows = append(rows, tdssim.Row{b.id, b.position, w.msdbTime(b.start, b.tz), w.msdbTime(b.finish, b.tz), b.tz, false, b.checksum, b.damaged,
			b.size, lsn(1), lsn(3), lsn(2), strings.ToUpper(w.cfg.SourceServerName), 1, 0, b.device, 2})
	}
	return tdssim.Rows(cols, rows...)
}

// restoreHistory answers query.Restores: the full restores of db, newest first.
func (w *World) restoreHistory(db string) *tdssim.Result {
	w.lock()
	defer w.mu.Unlock()
	cols := []tdssim.Column{colInt("restore_history_id"), colDT("restore_date"), colInt("backup_set_id"), colBit("replace"),
		colDT("backup_start_date"), {Name: "time_zone", Type: tdssim.TypeSmallInt, Nullable: true}, colNV("physical_device_name", 260)}
	var rows []tdssim.Row
	for i := len(w.restores) - 1; i >= 0 && len(rows) < 20; i-- {
		r := w.restores[i]
		if !strings.EqualFold(r.db, db) {
			continue
		}
		b := w.backups[r.set-1]
		rows = append(rows, tdssim.Row{r.id, w.dt(r.at), r.set, r.replace, w.msdbTime(b.start, b.tz), b.tz, b.device})
	}
	return tdssim.Rows(cols, rows...)
}

// backupByDevice finds the finished backup set at position of a backup file.
func (w *World) backupByDevice(device string, position int64, verb string) (*backupSet, error) {
	found := false
	for i := range w.backups {
		b := &w.backups[i]
		if !strings.EqualFold(b.device, device) || b.finish > w.t {
			continue
		}
		found = true
		if int64(b.position) == position {
			return b, nil
		}
	}
	end := terminating(verb)
	if !found {
		return nil, tdssim.Errors{{Number: 3201, State: 2, Class: 16,
			Message: fmt.Sprintf("Cannot open backup device '%s'. Operating system error 2(The system cannot find the file specified.).", device)}, end}
	}
	return nil, tdssim.Errors{{Number: 4038, State: 1, Class: 16, Message: fmt.Sprintf("Cannot find file ID %d on device '%s'.", position, device)}, end}
}

// terminating is error 3013, which ends every failed BACKUP or RESTORE ("%hs is terminating
// abnormally.").
func terminating(verb string) *tdssim.Error {
	return &tdssim.Error{Number: 3013, State: 1, Class: 16, Message: verb + " is terminating abnormally."}
}

// verifyOnly answers RESTORE VERIFYONLY FROM DISK = @p1 WITH FILE = @p2[, CHECKSUM]. It needs
// CREATE DATABASE permission (restore-statements-verifyonly-transact-sql.md), which the reader
// login lacks.
func (w *World) verifyOnly(v view, device string, position int64, checksum bool) (*tdssim.Result, error) {
	const verb = "VERIFY DATABASE"
	if v.reader {
		return nil, tdssim.Errors{{Number: 262, State: 1, Class: 14, Message: "CREATE DATABASE permission denied in database 'master'."}, terminating(verb)}
	}
	w.lock()
	defer w.mu.Unlock()
	b, err := w.backupByDevice(device, position, verb)
	if err != nil {
		return nil, err
	}
	switch {
	case checksum && !b.checksum:
		return nil, tdssim.Errors{{Number: 3187, State: 1, Class: 16,
			Message: "RESTORE WITH CHECKSUM cannot be specified because the backup set does not contain checksum information."}, terminating(verb)}
	case b.damaged:
		return nil, tdssim.Errors{{Number: 3189, State: 1, Class: 16, Message: "Damage to the backup set was detected."}, terminating(verb)}
	}
	return &tdssim.Result{RowsAffected: -1, Messages: []tdssim.Message{{Number: 3262, State: 1, Class: 10,
		Text: fmt.Sprintf("The backup set on file %d is valid.", b.position)}}}, nil
}

// restoreDatabase answers RESTORE DATABASE @p1 FROM DISK = @p2 WITH FILE = @p3[, REPLACE][, CHECKSUM]
// on the source server. It refuses as SQL Server does: without RESTORE permission (3110), from a
// session on the database itself (3102), while any other session is connected to it or an AOS runs
// (3101: the SSMS restore page's "Exclusive access could not be obtained because the database is in
// use"), a missing file or set (3201, 4038), CHECKSUM on a set without checksums (3187), a set
// damaged when it was taken (3182), and, without REPLACE, a database in the full recovery model whose
// tail of the log was not backed up (3159). Restored, the AX database's rows are those of the
// backup's start; a row goes into restorehistory.
func (w *World) restoreDatabase(v view, db, device string, position int64, replace, checksum bool) (*tdssim.Result, error) {
	const verb = "RESTORE DATABASE"
	if !strings.EqualFold(db, w.cfg.SourceDatabase) {
		return nil, tdssim.NoAnswerError("RESTORE DATABASE of " + db + ": the simulator restores " + w.cfg.SourceDatabase + " only")
	}
	if v.reader {
		return nil, tdssim.Errors{{Number: 3110, State: 1, Class: 14, Message: fmt.Sprintf("User does not have permission to RESTORE database '%s'.", db)}, terminating(verb)}
	}
	if v.db == dbAX {
		return nil, tdssim.Errors{{Number: 3102, State: 1, Class: 16,
			Message: fmt.Sprintf("RESTORE cannot process database '%s' because it is in use by this session. It is recommended that the master database be used when performing this operation.", db)},
			terminating(verb)}
	}
	inUse := false
	for _, s := range v.live {
		if s.SPID != v.spid && strings.EqualFold(s.CurrentDatabase(), w.cfg.SourceDatabase) {
			inUse = true
		}
	}
	w.lock()
	defer w.mu.Unlock()
	for _, a := range w.aos {
		inUse = inUse || a.active(w.t)
	}
	if inUse {
		return nil, tdssim.Errors{{Number: 3101, State: 1, Class: 16, Message: "Exclusive access could not be obtained because the database is in use."}, terminating(verb)}
	}
	b, err := w.backupByDevice(device, position, verb)
	if err != nil {
		return nil, err
	}
	switch {
	case checksum && !b.checksum:
		return nil, tdssim.Errors{{Number: 3187, State: 1, Class: 16,
			Message: "RESTORE WITH CHECKSUM cannot be specified because the backup set does not contain checksum information."}, terminating(verb)}
	case b.damaged:
		return nil, tdssim.Errors{{Number: 3182, State: 1, Class: 16,
			Message: "The backup set cannot be restored because the database was damaged when the backup occurred. Salvage attempts may exploit WITH CONTINUE_AFTER_ERROR."}, terminating(verb)}
	case !replace && !strings.EqualFold(w.pre.RecoveryModel, "SIMPLE"):
		return nil, tdssim.Errors{{Number: 3159, State: 1, Class: 16,
			Message: fmt.Sprintf("The tail of the log for the database \"%s\" has not been backed up. Use BACKUP LOG WITH NORECOVERY to backup the log if it contains work you do not want to lose. Use the WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just overwrite the contents of the log.", db)},
			terminating(verb)}
	}
	w.lost = w.repl.cumW - b.effCum
	w.restores = append(w.restores, restoreRec{id: int32(len(w.restores) + 1), at: w.t, db: w.cfg.SourceDatabase, user: User, set: b.id, replace: replace})
	w.note(ActRestore, b.device, strconv.FormatBool(replace))
	pages := b.size / 8192
	return &tdssim.Result{RowsAffected: -1, Messages: []tdssim.Message{{Number: 3014, State: 1, Class: 10,
		Text: fmt.Sprintf("RESTORE DATABASE successfully processed %d pages in 1.000 seconds (%d.000 MB/sec).", pages, pages*8192/(1<<20))}}}, nil
}

// restoreAction replays a restore recorded by ActRestore.
func (w *World) restoreAction(device string, replace bool) error {
	w.lock()
	defer w.mu.Unlock()
	for _, b := range w.backups {
		if strings.EqualFold(b.device, device) && b.finish <= w.t {
			w.lost = w.repl.cumW - b.effCum
			w.restores = append(w.restores, restoreRec{id: int32(len(w.restores) + 1), at: w.t, db: w.cfg.SourceDatabase, user: User, set: b.id, replace: replace})
			w.note(ActRestore, b.device, strconv.FormatBool(replace))
			return nil
		}
	}
	return fmt.Errorf("%w: no finished backup in %s", ErrBackup, device)
}

// databaseState answers query.DatabaseState: every database the source server has is ONLINE and
// MULTI_USER (a restore here is instantaneous); another name has no row.
func (w *World) databaseState(srv serverKind, name string) *tdssim.Result {
	cols := []tdssim.Column{colNV("state_desc", 60), colNV("user_access_desc", 60)}
	if containsFold(w.databases(srv), name) {
		return tdssim.Rows(cols, tdssim.Row{"ONLINE", "MULTI_USER"})
	}
	return tdssim.Rows(cols)
}

package sql_test

import (
	"strings"
	"testing"
	"time"

	"cutover/sql"
	"cutover/sql/sim"
)

// TestBackupHistoryAsDocumented: msdb's full backups of the AX database are read newest first,
// finished ones only, with their file; their server-local times become instants through the
// backup's own time_zone (15-minute units), or through the server's offset when it is 127
// (unknown).
func TestBackupHistoryAsDocumented(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	db := w.srv.Database(sim.EndpointSource)
	now := w.clk.Now()
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	take := func(tz int, checksum, damaged bool, start, finish time.Time) string {
		t.Helper()
		if err := w.w.SetBackupTimeZone(tz); err != nil {
			t.Fatal(err)
		}
		dev, err := w.w.TakeBackup(db, checksum, damaged, start, finish)
		if err != nil {
			t.Fatal(err)
		}
		return dev
	}
	est := take(-20, true, false, at(-300), at(-270))      // Eastern Standard Time, as the page's example
	unknown := take(127, false, false, at(-200), at(-180)) // time_zone unknown: the server's offset
	damaged := take(0, true, true, at(-100), at(-90))
	running := take(0, true, false, at(-10), at(20)) // not finished: not in msdb yet
	if _, err := w.w.TakeBackup("master", true, false, at(-5), at(-1)); err == nil {
		t.Fatal("the simulator backs up the AX database only")
	}
	if _, err := w.w.TakeBackup(db, true, false, at(10), at(20)); err == nil {
		t.Fatal("a backup starting in the future was taken")
	}
	sets, err := w.src.FullBackups(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 || sets[0].Devices[0].Path != damaged || sets[1].Devices[0].Path != unknown || sets[2].Devices[0].Path != est {
		t.Fatalf("newest first, finished only: %+v", sets)
	}
	for i, want := range []struct {
		start, finish     time.Time
		checksums, damage bool
		zoneKnown         bool
	}{{at(-100), at(-90), true, true, true}, {at(-200), at(-180), false, false, false}, {at(-300), at(-270), true, false, true}} {
		s := sets[i]
		if !s.Start.Equal(want.start) || !s.Finish.Equal(want.finish) || s.Checksums != want.checksums || s.Damaged != want.damage ||
			s.ZoneKnown != want.zoneKnown || s.Position != 1 || s.Size <= 0 || s.LastLSN == "" || len(s.Devices) != 1 ||
			s.Devices[0].Type != sql.DeviceDisk {
			t.Errorf("set %d: %+v, want start %v finish %v checksums %v damaged %v zone known %v", i, s, want.start, want.finish,
				want.checksums, want.damage, want.zoneKnown)
		}
	}
	w.clk.Advance(30 * time.Minute)
	sets, err = w.src.FullBackups(ctx, db)
	if err != nil || len(sets) != 4 || sets[0].Devices[0].Path != running {
		t.Fatalf("a finished backup shows: %+v %v", sets, err)
	}
	if sets, err := w.src.FullBackups(ctx, "NoSuchDatabase"); err != nil || len(sets) != 0 {
		t.Fatalf("another database: %+v %v", sets, err)
	}
}

// TestVerifyBackupAsDocumented: RESTORE VERIFYONLY … WITH CHECKSUM is valid for a backup with
// checksums and fails as SQL Server does otherwise: 3187 without checksums, 3201 for a missing file,
// a damaged set, and without CREATE DATABASE permission.
func TestVerifyBackupAsDocumented(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	db := w.srv.Database(sim.EndpointSource)
	now := w.clk.Now()
	good, _ := w.w.TakeBackup(db, true, false, now.Add(-time.Hour), now.Add(-30*time.Minute))
	plain, _ := w.w.TakeBackup(db, false, false, now.Add(-20*time.Minute), now.Add(-10*time.Minute))
	bad, _ := w.w.TakeBackup(db, true, true, now.Add(-9*time.Minute), now.Add(-time.Minute))
	if err := w.src.VerifyBackup(ctx, good, 1, true); err != nil {
		t.Fatalf("a good backup: %v", err)
	}
	if err := w.src.VerifyBackup(ctx, plain, 1, false); err != nil {
		t.Fatalf("a backup without checksums, verified without CHECKSUM: %v", err)
	}
	if err := w.src.VerifyBackup(ctx, plain, 1, true); !sql.IsNoChecksum(err) {
		t.Fatalf("WITH CHECKSUM on a backup without checksums: %v", err)
	}
	if err := w.src.VerifyBackup(ctx, bad, 1, true); err == nil || !strings.Contains(err.Error(), "Damage to the backup set was detected") {
		t.Fatalf("a damaged backup: %v", err)
	}
	if err := w.src.VerifyBackup(ctx, `D:\nowhere.bak`, 1, true); !sql.IsBackupUnreadable(err) {
		t.Fatalf("a missing file: %v", err)
	}
	if err := w.src.VerifyBackup(ctx, good, 2, true); err == nil || sql.Number(err) != 3013 {
		t.Fatalf("a position the file does not have: %v", err)
	}
	cfg := w.config(sim.EndpointSource)
	cfg.User = sim.ReaderUser
	if err := w.open(t, cfg).VerifyBackup(ctx, good, 1, true); !sql.IsPermission(err) {
		t.Fatalf("without CREATE DATABASE permission: %v", err)
	}
}

// TestRestoreAsDocumented: RESTORE DATABASE runs on master; it is refused while the AX database is
// in use (an AOS running, a pooled connection of cutover's own: 3101), from a session on the
// database itself (3102), without RESTORE permission, and, without REPLACE, for a database in the
// full recovery model whose tail of the log was not backed up (3159). Restored, the database's rows
// are the backup's, the state is ONLINE and msdb's restorehistory holds the restore.
func TestRestoreAsDocumented(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300, AOSStopDelay: time.Second, MaxStopWait: time.Second}, sim.ServerConfig{})
	ctx := t.Context()
	db := w.srv.Database(sim.EndpointSource)
	var hot string
	for _, ti := range w.w.Tables() {
		if ti.Hot {
			hot = ti.Name
			break
		}
	}
	before, err := w.w.SourceRows(hot)
	if err != nil {
		t.Fatal(err)
	}
	start := w.clk.Now()
	w.clk.Advance(10 * time.Minute)
	dev, err := w.w.TakeBackup(db, true, false, start, w.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(time.Hour)
	if after, _ := w.w.SourceRows(hot); after <= before {
		t.Fatalf("%s: %d rows an hour later, %d at the backup: the test needs writes", hot, after, before)
	}
	master, err := w.src.OnDatabase("master")
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := master.RestoreDatabase(ctx, db, dev, 1, true, true); !sql.IsDatabaseInUse(err) {
		t.Fatalf("with the AOS running: %v", err)
	}
	for _, a := range w.w.AOS() {
		if err := w.w.StopAOS(a.Host, a.Service); err != nil {
			t.Fatal(err)
		}
	}
	w.clk.Advance(time.Minute)
	if _, err := w.src.AXActivity(ctx); err != nil { // a pooled connection to the AX database
		t.Fatal(err)
	}
	if err := master.RestoreDatabase(ctx, db, dev, 1, true, true); !sql.IsDatabaseInUse(err) {
		t.Fatalf("with cutover's own connection to the database open: %v", err)
	}
	if err := w.src.RestoreDatabase(ctx, db, dev, 1, true, true); !sql.IsDatabaseInUse(err) || !strings.Contains(err.Error(), "master") {
		t.Fatalf("from a session on the database itself: %v", err)
	}
	cfg := w.config(sim.EndpointSourceMaster)
	cfg.User = sim.ReaderUser
	if err := w.open(t, cfg).RestoreDatabase(ctx, db, dev, 1, true, true); !sql.IsPermission(err) {
		t.Fatalf("without RESTORE permission: %v", err)
	}
	// Close existing connections, as the SSMS restore page advises (server side: SQL Server's
	// KILL; the client's own CloseIdle is asynchronous on the server's side).
	for _, s := range w.srv.Source().Conns() {
		if strings.EqualFold(s.Database, db) {
			w.srv.Source().Kill(s.SPID)
		}
	}
	w.w.SetPreflight(func(p *sim.Preflight) { p.RecoveryModel = "FULL" })
	if err := master.RestoreDatabase(ctx, db, dev, 1, false, true); sql.Number(err) != 3013 || !strings.Contains(err.Error(), "tail of the log") {
		t.Fatalf("without REPLACE in the full recovery model: %v", err)
	}
	if err := master.RestoreDatabase(ctx, db, `D:\nowhere.bak`, 1, true, true); !sql.IsBackupUnreadable(err) {
		t.Fatalf("a missing file: %v", err)
	}
	if err := master.RestoreDatabase(ctx, db, dev, 1, true, true); err != nil {
		t.Fatal(err)
	}
	if rows, _ := w.w.SourceRows(hot); rows != before {
		t.Fatalf("%s: %d rows after the restore, %d at the backup", hot, rows, before)
	}
	st, err := master.DatabaseState(ctx, db)
	if err != nil || !st.Exists || st.State != "ONLINE" {
		t.Fatalf("state after the restore: %+v %v", st, err)
	}
	if st, err := master.DatabaseState(ctx, "NoSuchDatabase"); err != nil || st.Exists {
		t.Fatalf("another database: %+v %v", st, err)
	}
	restores, err := master.Restores(ctx, db)
	if err != nil || len(restores) != 1 {
		t.Fatalf("restore history: %+v %v", restores, err)
	}
	r := restores[0]
	if !r.At.Equal(w.clk.Now().Truncate(time.Second)) && r.At.Sub(w.clk.Now()).Abs() > time.Second || !r.Replace || !r.BackupStart.Equal(start) ||
		len(r.Devices) != 1 || r.Devices[0] != dev {
		t.Fatalf("restore row: %+v (now %v, backup start %v)", r, w.clk.Now(), start)
	}
	if w.w.Restores() != 1 || w.w.Count(sim.ActRestore) != 1 {
		t.Fatal("the restore was not recorded")
	}
}

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
)

// fakeBackups is the source server's msdb history and RESTORE, as the adapter translates them.
type fakeBackups struct {
	mu         sync.Mutex
	sets       []engine.BackupSet
	readErr    error
	verifyErr  map[string]error
	verified   []string
	restoreErr []error // one per call, then nil
	restored   []string
	state      engine.DatabaseState
	history    []engine.RestoreRecord
	historyErr error
	// onRestore adds the restore to history (as SQL Server does) unless noHistory.
	noHistory bool
	now       func() time.Time
}

func newFakeBackups() *fakeBackups {
	return &fakeBackups{verifyErr: map[string]error{}, state: engine.DatabaseState{Exists: true, State: "ONLINE", UserAccess: "MULTI_USER"}, now: time.Now}
}

func (f *fakeBackups) FullBackups(context.Context, string) ([]engine.BackupSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return nil, f.readErr
	}
	out := slices.Clone(f.sets)
	slices.SortFunc(out, func(a, b engine.BackupSet) int { return b.Start.Compare(a.Start) })
	return out, nil
}

func (f *fakeBackups) VerifyBackup(_ context.Context, device string, position int, checksum bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verified = append(f.verified, fmt.Sprintf("%s#%d checksum=%v", device, position, checksum))
	return f.verifyErr[device]
}

func (f *fakeBackups) Restore(_ context.Context, database, device string, position int, replace, checksum bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restored = append(f.restored, fmt.Sprintf("%s from %s#%d replace=%v checksum=%v", database, device, position, replace, checksum))
	if len(f.restoreErr) > 0 {
		err := f.restoreErr[0]
		f.restoreErr = f.restoreErr[1:]
		if err != nil {
			return err
		}
	}
	if !f.noHistory {
		var set int64
		for _, s := range f.sets {
			if len(s.Devices) > 0 && s.Devices[0].Path == device {
				set = s.ID
			}
		}
		f.history = append([]engine.RestoreRecord{{ID: int64(len(f.history) + 1), At: f.now(), BackupSetID: set, Replace: replace, Devices: []string{device}}}, f.history...)
	}
	return nil
}

func (f *fakeBackups) DatabaseState(context.Context, string) (engine.DatabaseState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state, nil
}

func (f *fakeBackups) Restores(context.Context, string) ([]engine.RestoreRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.history), f.historyErr
}

func (f *fakeBackups) add(s engine.BackupSet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, s)
}

func (f *fakeBackups) set(change func(f *fakeBackups)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func backupSet(id int64, path string, start time.Time, checksums bool) engine.BackupSet {
	return engine.BackupSet{ID: id, Position: 1, Start: start, Finish: start.Add(20 * time.Minute), ZoneKnown: true, Checksums: checksums,
		Size: 412 << 30, LastLSN: "98000000123400037", CheckpointLSN: "98000000123100001",
		Devices: []engine.BackupDevice{{Path: path, Disk: true, Type: "disk"}}}
}

const backupRunbook = "name: t\n" + `connections:
  source: {server: 127.0.0.1, database: MicrosoftDynamicsAX, auth: windows}
aos:
  control: command
  stop: [sc.exe, '\\{host}', stop, '{service}']
  query: [sc.exe, '\\{host}', query, '{service}']
  start: [sc.exe, '\\{host}', start, '{service}']
  stopped_pattern: STOPPED
  instances:
    - {host: AX-AOS01, service: AOS60$01}
    - {host: AX-AOS02, service: AOS60$01}
steps:
  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, destructive: true, confirm: STOP AOS, with: {poll: 5s}}
`

// stopAOS confirms the aos-stop step of backupRunbook and waits until it is done; it returns when.
func stopAOS(t *testing.T, h *harness) time.Time {
	t.Helper()
	st := h.waitStep("aos-stop", engine.StateAwaiting)
	if _, err := h.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	return h.waitStep("aos-stop", engine.StateSucceeded).Finished
}

func backupPorts(h *harness) (*fakeServices, *fakeBackups) {
	svc := newFakeServices()
	svc.state["AX-AOS01/AOS60$01"] = engine.ServiceRunning
	svc.state["AX-AOS02/AOS60$01"] = engine.ServiceRunning
	b := newFakeBackups()
	h.opts.Ports = engine.Ports{Services: svc, AX: &fakeAX{svc: svc}, Backups: b}
	return svc, b
}

// TestBackupVerifyWaitsForTheRollbackBackup: the step waits until msdb shows a full backup with
// checksums, not damaged, started after the AOS stop; a read error, a backup from before the stop,
// one without checksums and a damaged one do not count, and the step says why. The backup found is
// journaled: its file, set, times, size and last LSN.
func TestBackupVerifyWaitsForTheRollbackBackup(t *testing.T) {
	inBubble(t, backupRunbook+`  - {id: rollback-backup, title: Rollback backup, kind: backup.verify, after: aos-stop, with: {poll: 1m}}
`, func(t *testing.T, h *harness) {
		_, b := backupPorts(h)
		b.add(backupSet(1, `D:\SQLBackup\AX_nightly.bak`, time.Now().Add(-6*time.Hour), true))
		h.start()
		stopped := stopAOS(t, h)
		expect := func(what string, parts ...string) {
			t.Helper()
			time.Sleep(3 * time.Minute)
			synctest.Wait()
			if st := h.state("rollback-backup"); st != engine.StateRunning {
				t.Fatalf("%s: the step is %s", what, st)
			}
			logs := h.e.Logs(100, "rollback-backup")
			if !slices.ContainsFunc(logs, func(l engine.LogLine) bool {
				for _, p := range parts {
					if !strings.Contains(l.Msg, p) {
						return false
					}
				}
				return true
			}) {
				t.Fatalf("%s: no log line with %q: %+v", what, parts, logs)
			}
		}
		expect("only a backup from before the stop", "no full backup with checksums of MicrosoftDynamicsAX started after", "(the AOS stop, step aos-stop, ended)",
			`newest: D:\SQLBackup\AX_nightly.bak started`, "before")
		b.set(func(f *fakeBackups) { f.readErr = errors.New("read tcp 10.0.0.5:50211->10.0.0.4:1433: i/o timeout") })
		expect("a read error", "could not read msdb's backup history: read tcp")
		b.set(func(f *fakeBackups) { f.readErr = nil })
		b.add(backupSet(2, `D:\SQLBackup\AX_plain.bak`, stopped.Add(5*time.Minute), false))
		expect("a backup without checksums", `AX_plain.bak started`, "taken without checksums: take it WITH CHECKSUM")
		damaged := backupSet(3, `D:\SQLBackup\AX_damaged.bak`, stopped.Add(6*time.Minute), true)
		damaged.Damaged = true
		b.add(damaged)
		expect("a damaged backup", "AX_damaged.bak", "damage to the database was detected")
		good := backupSet(7, `D:\SQLBackup\AX_cutover.bak`, stopped.Add(17*time.Minute), true)
		good.ZoneKnown = false
		b.add(good)
		st := h.waitStep("rollback-backup", engine.StateSucceeded)
		for _, want := range []string{`full backup of MicrosoftDynamicsAX with checksums: D:\SQLBackup\AX_cutover.bak (backup set 7, file 1)`,
			"412.0 GiB", "last LSN 98000000123400037", "its time zone is unknown to msdb", "17m after"} {
			if !strings.Contains(st.Message, want) {
				t.Errorf("message lacks %q: %s", want, st.Message)
			}
		}
		ref := externalRefs(t, h, "rollback-backup")
		if ref["backup_device"] != `D:\SQLBackup\AX_cutover.bak` || ref["backup_set_id"] != "7" || ref["backup_position"] != "1" ||
			ref["backup_last_lsn"] != "98000000123400037" || ref["backup_database"] != "MicrosoftDynamicsAX" || ref["backup_start"] == "" {
			t.Fatalf("journaled refs: %v", ref)
		}
	})
}

// externalRefs are the references a step journaled.
func externalRefs(t *testing.T, h *harness, step string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range h.records() {
		var p engine.External
		if r.Type == string(engine.RecExternal) && r.Step == step && r.Decode(&p) == nil {
			for k, v := range p.Ref {
				out[k] = v
			}
		}
	}
	return out
}

// TestBackupVerifyOnlyChecksTheFile: with verify_only, the backup found is checked with RESTORE
// VERIFYONLY WITH CHECKSUM; one the server refuses does not count (the step waits for another and
// says why); no permission to run it fails the step.
func TestBackupVerifyOnlyChecksTheFile(t *testing.T) {
	inBubble(t, backupRunbook+`  - {id: rollback-backup, title: Rollback backup, kind: backup.verify, after: aos-stop, with: {verify_only: true, poll: 1m}}
`, func(t *testing.T, h *harness) {
		_, b := backupPorts(h)
		h.start()
		stopped := stopAOS(t, h)
		b.set(func(f *fakeBackups) {
			f.verifyErr[`D:\bad.bak`] = errors.New("mssql: Damage to the backup set was detected. (3189)")
		})
		b.add(backupSet(4, `D:\bad.bak`, stopped.Add(time.Minute), true))
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if st := h.state("rollback-backup"); st != engine.StateRunning {
			t.Fatalf("a backup RESTORE VERIFYONLY refused counted: %s", st)
		}
		b.add(backupSet(5, `D:\good.bak`, stopped.Add(10*time.Minute), true))
		st := h.waitStep("rollback-backup", engine.StateSucceeded)
		if !strings.Contains(st.Message, `D:\good.bak`) || !strings.Contains(st.Message, "RESTORE VERIFYONLY WITH CHECKSUM: valid") {
			t.Fatalf("message %q", st.Message)
		}
		b.mu.Lock()
		verified := slices.Clone(b.verified)
		b.mu.Unlock()
		if !slices.Equal(verified, []string{`D:\bad.bak#1 checksum=true`, `D:\good.bak#1 checksum=true`}) {
			t.Fatalf("verified %q: a refused backup is checked once, not at every poll", verified)
		}
		if externalRefs(t, h, "rollback-backup")["backup_verified"] != "valid" {
			t.Fatal("the verification is not journaled")
		}
	})
	inBubble(t, backupRunbook+`  - {id: rollback-backup, title: Rollback backup, kind: backup.verify, after: aos-stop, with: {verify_only: true, poll: 1m}}
`, func(t *testing.T, h *harness) {
		_, b := backupPorts(h)
		h.start()
		stopped := stopAOS(t, h)
		b.set(func(f *fakeBackups) {
			f.verifyErr[`D:\good.bak`] = engine.Permanent(errors.New("CREATE DATABASE permission denied in database 'master'. (262)"))
		})
		b.add(backupSet(5, `D:\good.bak`, stopped.Add(10*time.Minute), true))
		st := h.waitStep("rollback-backup", engine.StateFailed)
		if !strings.Contains(st.LastError, "it needs CREATE DATABASE permission") {
			t.Fatalf("error %q", st.LastError)
		}
	})
}

// TestBackupVerifyReadsAnotherRunsJournal: in the rollback runbook, the moment the backup must
// follow is the end of the cutover run's AOS stop, read from that run's journal.
func TestBackupVerifyReadsAnotherRunsJournal(t *testing.T) {
	cutoverJournal := filepath.Join(t.TempDir(), "cutover-journal.jsonl")
	var stopped time.Time
	inBubble(t, backupRunbook, func(t *testing.T, h *harness) {
		backupPorts(h)
		h.start()
		stopped = stopAOS(t, h)
		data, err := os.ReadFile(filepath.Join(h.dir, "state", journal.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cutoverJournal, data, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	inBubble(t, "name: rollback\nconnections:\n  source: {server: 127.0.0.1, database: MicrosoftDynamicsAX, auth: windows}\nsteps:\n"+
		"  - {id: rb-backup, title: Rollback backup, kind: backup.verify, with: {journal: "+cutoverJournal+", after: aos-stop, poll: 1m}}\n",
		func(t *testing.T, h *harness) {
			_, b := backupPorts(h)
			b.add(backupSet(1, `D:\before.bak`, stopped.Add(-time.Minute), true))
			b.add(backupSet(2, `D:\after.bak`, stopped.Add(time.Minute), true))
			h.start()
			st := h.waitStep("rb-backup", engine.StateSucceeded)
			if !strings.Contains(st.Message, `D:\after.bak`) || !strings.Contains(st.Message, "step aos-stop, succeeded in that run") {
				t.Fatalf("message %q", st.Message)
			}
		})
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	h.src = "name: rollback\nconnections:\n  source: {server: 127.0.0.1, database: AX, auth: windows}\nsteps:\n" +
		"  - {id: rb-backup, title: B, kind: backup.verify, with: {journal: " + cutoverJournal + ", after: no-such-step}}\n"
	h.load()
	h.opts.Ports.Backups = newFakeBackups()
	h.start()
	if st := h.waitStep("rb-backup", engine.StateFailed); !strings.Contains(st.LastError, "shows step no-such-step not ended") {
		t.Fatalf("a step the journal does not have: %q", st.LastError)
	}
}

// TestRestoreFromTheVerifiedBackup: sql.restore restores the file backup.verify journaled, after its
// typed confirmation; the database in use is refused with the fix, a retry restores; ONLINE and
// msdb's record of the restore are checked and named.
func TestRestoreFromTheVerifiedBackup(t *testing.T) {
	inBubble(t, backupRunbook+`  - {id: rollback-backup, title: Rollback backup, kind: backup.verify, after: aos-stop, with: {poll: 1m}}
  - {id: restore, title: Restore AX, kind: sql.restore, after: rollback-backup, destructive: true, confirm: RESTORE AX, with: {in_use_wait: 1m, poll: 10s}}
  - {id: aos-start, title: Start the AOS, kind: aos.start, after: restore, with: {poll: 5s}}
`, func(t *testing.T, h *harness) {
		svc, b := backupPorts(h)
		h.opts.Ports.AX = &aliveAX{svc: svc}
		h.start()
		stopped := stopAOS(t, h)
		b.add(backupSet(9, `D:\SQLBackup\AX_cutover.bak`, stopped.Add(3*time.Minute), true))
		b.set(func(f *fakeBackups) {
			inUse := fmt.Errorf("Exclusive access could not be obtained because the database is in use. (3101): %w", engine.ErrDatabaseInUse)
			f.restoreErr = []error{inUse, inUse, inUse, inUse, inUse, inUse, inUse, inUse}
		})
		h.waitStep("rollback-backup", engine.StateSucceeded)
		st := h.waitStep("restore", engine.StateAwaiting)
		if !strings.Contains(st.Confirmation.Action, "RESTORE DATABASE MicrosoftDynamicsAX FROM DISK = the backup the backup.verify step found WITH FILE, REPLACE, CHECKSUM") {
			t.Fatalf("the confirmation must say what it does: %q", st.Confirmation.Action)
		}
		if _, err := h.e.Confirm("restore", st.Confirmation.Request, ana, "RESTORE AX"); err != nil {
			t.Fatal(err)
		}
		st = h.waitStep("restore", engine.StateFailed)
		if !strings.Contains(st.LastError, "stop every AOS and close every connection to MicrosoftDynamicsAX") {
			t.Fatalf("in use: %q", st.LastError)
		}
		if err := h.e.Retry("restore", ana); err != nil {
			t.Fatal(err)
		}
		// A destructive step's retry is confirmed again.
		st = h.waitStep("restore", engine.StateAwaiting)
		if _, err := h.e.Confirm("restore", st.Confirmation.Request, ana, "RESTORE AX"); err != nil {
			t.Fatal(err)
		}
		st = h.waitStep("restore", engine.StateSucceeded)
		for _, want := range []string{`MicrosoftDynamicsAX restored from D:\SQLBackup\AX_cutover.bak (backup set 9, taken`, "WITH FILE, REPLACE, CHECKSUM; ONLINE; msdb.dbo.restorehistory row 1"} {
			if !strings.Contains(st.Message, want) {
				t.Errorf("message lacks %q: %s", want, st.Message)
			}
		}
		b.mu.Lock()
		restored := slices.Clone(b.restored)
		b.mu.Unlock()
		// Tried every 10s for a minute (7 tries), then again after the retry.
		want := `MicrosoftDynamicsAX from D:\SQLBackup\AX_cutover.bak#1 replace=true checksum=true`
		if len(restored) != 9 || slices.ContainsFunc(restored, func(r string) bool { return r != want }) {
			t.Fatalf("restored %q", restored)
		}
		st = h.waitStep("aos-start", engine.StateSucceeded)
		if !strings.Contains(st.Message, "2 AOS running; AX shows their server sessions alive") {
			t.Fatalf("aos-start: %q", st.Message)
		}
	})
}

// TestRestoreChecksWhatItDid: a restore the server reports done but that leaves the database not
// ONLINE fails; one msdb did not record (error 3009 allows it) succeeds with a warning.
func TestRestoreChecksWhatItDid(t *testing.T) {
	const rb = "name: t\nconnections:\n  source: {server: 127.0.0.1, database: MicrosoftDynamicsAX, auth: windows}\nsteps:\n" +
		"  - {id: restore, title: Restore, kind: sql.restore, destructive: true, with: {from: 'D:\\by-hand.bak', file: 2, replace: false}}\n"
	for _, c := range []struct {
		name  string
		setup func(f *fakeBackups)
		state engine.StepState
		want  string
	}{
		{"left restoring", func(f *fakeBackups) { f.state.State = "RESTORING" }, engine.StateFailed, "after RESTORE, MicrosoftDynamicsAX is RESTORING, not ONLINE"},
		{"no history", func(f *fakeBackups) { f.noHistory = true }, engine.StateSucceeded, `MicrosoftDynamicsAX restored from D:\by-hand.bak WITH FILE, CHECKSUM; ONLINE`},
	} {
		t.Run(c.name, func(t *testing.T) {
			inBubble(t, rb, func(t *testing.T, h *harness) {
				b := newFakeBackups()
				b.set(c.setup)
				h.opts.Ports.Backups = b
				h.start()
				st := h.waitStep("restore", engine.StateAwaiting)
				h.e.Confirm("restore", st.Confirmation.Request, ana, st.Confirmation.Phrase)
				st = h.waitStep("restore", c.state)
				if got := st.Message + st.LastError; !strings.Contains(got, c.want) {
					t.Fatalf("%q lacks %q", got, c.want)
				}
				b.mu.Lock()
				defer b.mu.Unlock()
				if len(b.restored) != 1 || b.restored[0] != `MicrosoftDynamicsAX from D:\by-hand.bak#2 replace=false checksum=true` {
					t.Fatalf("restored %q", b.restored)
				}
				if c.state == engine.StateSucceeded && !slices.ContainsFunc(h.e.Logs(50, "restore"), func(l engine.LogLine) bool {
					return strings.Contains(l.Msg, "SQL Server may fail to write it and still restore (error 3009)")
				}) {
					t.Fatal("no warning about the missing history")
				}
			})
		})
	}
}

// TestBackupAndRestoreRunbookErrors: the runbook says where the backup must come from and what it
// follows, and the restore is marked destructive.
func TestBackupAndRestoreRunbookErrors(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	src := "name: t\nconnections:\n  source: {server: 127.0.0.1, database: AX, auth: windows}\nsteps:\n  - {id: first, title: First, kind: manual}\n"
	for _, c := range []struct{ steps, want string }{
		{"  - {id: b, title: B, kind: backup.verify, after: first}\n", "backup.verify needs the moment the backup must follow"},
		{"  - {id: other, title: O, kind: manual}\n  - {id: b, title: B, kind: backup.verify, after: first, with: {after: other}}\n", "after: other must be a step this one follows"},
		{"  - {id: b, title: B, kind: backup.verify, with: {journal: x.jsonl}}\n", "after: must name its step"},
		{"  - {id: r, title: R, kind: sql.restore, after: first, with: {from: 'D:\\x.bak'}}\n", "mark the step destructive: true"},
		{"  - {id: r, title: R, kind: sql.restore, after: first, destructive: true}\n", "from: backup restores the backup a backup.verify step found"},
		{"  - {id: b1, title: B, kind: backup.verify, after: first, with: {after: first}}\n  - {id: b2, title: B, kind: backup.verify, after: first, with: {after: first}}\n" +
			"  - {id: r, title: R, kind: sql.restore, after: [b1, b2], destructive: true}\n", "several backup.verify steps (b1, b2): name one with backup_step:"},
		{"  - {id: s, title: S, kind: aos.start}\n", "kind aos.start needs an aos: section"},
	} {
		h.src = src + c.steps
		if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.steps, err, c.want)
		}
	}
	h.src = strings.Replace(backupRunbook, "  start: [sc.exe, '\\\\{host}', start, '{service}']\n", "", 1) + "  - {id: s, title: S, kind: aos.start}\n"
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), "needs the aos section's start template") {
		t.Errorf("aos.start without a start template: %v", err)
	}
}

// aliveAX shows an alive server session (AOSID host@port, instance 01) for each service running,
// one poll after it started running.
type aliveAX struct {
	svc  *fakeServices
	seen map[string]bool
}

func (a *aliveAX) Activity(context.Context) (engine.AXActivity, error) {
	a.svc.mu.Lock()
	defer a.svc.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	var act engine.AXActivity
	for k, st := range a.svc.state {
		host, _, _ := strings.Cut(k, "/")
		if st != engine.ServiceRunning {
			delete(a.seen, k)
			continue
		}
		if !a.seen[k] {
			a.seen[k] = true
			continue
		}
		act.Servers = append(act.Servers, engine.AXServer{ServerID: "1", AOSID: host + "@2712", Instance: "01", Status: "alive", Alive: true})
	}
	return act, nil
}
func (a *aliveAX) LastWrite(context.Context) (time.Time, error)        { return time.Time{}, nil }
func (a *aliveAX) NewestReplicated(context.Context) (time.Time, error) { return time.Time{}, nil }

// TestAOSStartWaitsForRunningAndAlive: aos.start starts the stopped AOS (not the one running),
// waits for each to report running and for AX to show its server session alive; a service that will
// not start fails the step, naming it.
func TestAOSStartWaitsForRunningAndAlive(t *testing.T) {
	const rb = "name: t\n" + `connections:
  source: {server: 127.0.0.1, database: MicrosoftDynamicsAX, auth: windows}
aos:
  control: command
  stop: [sc.exe, '\\{host}', stop, '{service}']
  query: [sc.exe, '\\{host}', query, '{service}']
  start: [sc.exe, '\\{host}', start, '{service}']
  stopped_pattern: STOPPED
  instances:
    - {host: AX-AOS01, service: AOS60$01}
    - {host: ax-aos02.contoso.local, service: AOS60$01}
steps:
  - {id: aos-start, title: Start the AOS, kind: aos.start, with: {poll: 5s, timeout: 5m}}
`
	inBubble(t, rb, func(t *testing.T, h *harness) {
		svc := newFakeServices()
		svc.state["AX-AOS01/AOS60$01"] = engine.ServiceStopped
		svc.state["ax-aos02.contoso.local/AOS60$01"] = engine.ServiceRunning
		svc.polls["AX-AOS01/AOS60$01"] = 3
		h.opts.Ports = engine.Ports{Services: svc, AX: &aliveAX{svc: svc}}
		h.start()
		st := h.waitStep("aos-start", engine.StateSucceeded)
		if !strings.Contains(st.Message, "2 AOS running; AX shows their server sessions alive") {
			t.Fatalf("message %q", st.Message)
		}
		svc.mu.Lock()
		defer svc.mu.Unlock()
		if svc.starts["AX-AOS01/AOS60$01"] != 1 || svc.starts["ax-aos02.contoso.local/AOS60$01"] != 0 {
			t.Fatalf("starts %v: only the stopped AOS is started", svc.starts)
		}
	})
	inBubble(t, rb, func(t *testing.T, h *harness) {
		svc := newFakeServices()
		svc.state["AX-AOS01/AOS60$01"] = engine.ServiceStopped
		svc.state["ax-aos02.contoso.local/AOS60$01"] = engine.ServiceRunning
		svc.refuse["AX-AOS01"] = true
		h.opts.Ports = engine.Ports{Services: svc, AX: &aliveAX{svc: svc}}
		h.start()
		st := h.waitStep("aos-start", engine.StateFailed)
		if !strings.Contains(st.LastError, "not running: AOS60$01 on AX-AOS01") || !strings.Contains(st.LastError, "(1053)") {
			t.Fatalf("error %q", st.LastError)
		}
	})
	// Running, but AX never shows the session: the step says so when its time is up.
	inBubble(t, rb, func(t *testing.T, h *harness) {
		svc := newFakeServices()
		svc.state["AX-AOS01/AOS60$01"] = engine.ServiceRunning
		svc.state["ax-aos02.contoso.local/AOS60$01"] = engine.ServiceRunning
		h.opts.Ports = engine.Ports{Services: svc, AX: &fakeAX{svc: svc}}
		h.start()
		st := h.waitStep("aos-start", engine.StateFailed)
		if !strings.Contains(st.LastError, "waiting for AX to show the server session of AOS60$01 on AX-AOS01, AOS60$01 on ax-aos02.contoso.local") {
			t.Fatalf("error %q", st.LastError)
		}
	})
}

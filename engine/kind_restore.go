// The sql.restore step: restoring from the rollback backup (or a named file), then checking it.

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// SQLRestoreKind restores the AX database from the rollback backup (RESTORE DATABASE … FROM DISK
// … WITH FILE, REPLACE, CHECKSUM, on master), then checks that the database is ONLINE and that msdb
// recorded the restore of that backup. `from: backup` (the default) takes the file backup.verify
// found and journaled; a path restores that file. It is destructive: the runbook must say so.
type SQLRestoreKind struct{}

// Name implements Kind.
func (SQLRestoreKind) Name() string { return "sql.restore" }

// Mode implements Kind.
func (SQLRestoreKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {database, from, backup_step, file, replace, checksum, in_use_wait, poll}`.
func (SQLRestoreKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &restoreAction{from: "backup", replace: true, checksum: true, position: 1, inUseWait: 2 * time.Minute, poll: 10 * time.Second}
	var stepNode *yaml.Node
	d.Fields(with, where, map[string]runbook.Field{
		"in_use_wait": func(v *yaml.Node) { a.inUseWait = d.Duration(v, where, "in_use_wait") },
		"poll":        func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
		"database":    func(v *yaml.Node) { a.database = d.NonEmpty(v, where, "database") },
		"from":        func(v *yaml.Node) { a.from = d.NonEmpty(v, where, "from") },
		"backup_step": func(v *yaml.Node) { a.backupStep, stepNode = d.NonEmpty(v, where, "backup_step"), v },
		"file":        func(v *yaml.Node) { a.position = d.Int(v, where, "file", 1, 32767) },
		"replace":     func(v *yaml.Node) { a.replace = d.Bool(v, where, "replace") },
		"checksum":    func(v *yaml.Node) { a.checksum = d.Bool(v, where, "checksum") },
	})
	if !s.Destructive {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "sql.restore overwrites the AX database: mark the step destructive: true so it needs a typed confirmation")
	}
	rb := d.Runbook()
	if rb == nil {
		return a
	}
	if rb.Connections.Source == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind sql.restore restores on the source server: add connections source")
	} else if a.database == "" {
		a.database = rb.Connections.Source.Database
	}
	if !a.fromBackup() {
		return a
	}
	switch {
	case a.backupStep != "":
		if dep, known := dependsOn(rb, s, a.backupStep); known && !dep {
			d.Errorf(stepNode, where, "backup_step: %s must be a step this one follows (add it to the step's after:)", a.backupStep)
		}
	default:
		ids, known := dependenciesOfKind(rb, s, "backup.verify")
		switch {
		case known && len(ids) == 0:
			d.ErrorAt(s.Pos, where, "from: backup restores the backup a backup.verify step found: make this step depend on one, or give from: the backup file's path")
		case len(ids) > 1:
			d.ErrorAt(s.Pos, where, "from: backup: this step follows several backup.verify steps (%s): name one with backup_step:", strings.Join(ids, ", "))
		}
	}
	return a
}

type restoreAction struct {
	database   string
	from       string
	backupStep string
	position   int
	replace    bool
	checksum   bool
	// inUseWait is how long RESTORE is tried again, every poll, while the database is in use
	// (connections closing, cutover's own among them) before the step fails.
	inUseWait time.Duration
	poll      time.Duration
}

func (a *restoreAction) fromBackup() bool { return strings.EqualFold(a.from, "backup") }

func (a *restoreAction) options() string {
	opts := []string{"FILE"}
	if a.replace {
		opts = append(opts, "REPLACE")
	}
	if a.checksum {
		opts = append(opts, "CHECKSUM")
	}
	return strings.Join(opts, ", ")
}

func (a *restoreAction) Describe() string {
	from := a.from
	if a.fromBackup() {
		from = "the backup the backup.verify step found"
		if a.backupStep != "" {
			from = "the backup step " + a.backupStep + " found"
		}
	}
	return fmt.Sprintf("RESTORE DATABASE %s FROM DISK = %s WITH %s (on master; every connection to %s must be closed, the AOS stopped), then check that %s is ONLINE and that msdb recorded the restore",
		orDash(a.database), from, a.options(), orDash(a.database), orDash(a.database))
}

// source is the backup to restore: its file, position, set id (0: unknown) and start.
type restoreSource struct {
	device   string
	position int
	set      int64
	start    time.Time
	from     string
}

func (a *restoreAction) source(run *Run) (restoreSource, error) {
	if !a.fromBackup() {
		return restoreSource{device: a.from, position: a.position, from: a.from}, nil
	}
	id := a.backupStep
	if id == "" {
		ids, _ := dependenciesOfKind(run.runbook(), run.Step, "backup.verify")
		if len(ids) != 1 {
			return restoreSource{}, Permanent(errors.New("from: backup needs exactly one backup.verify step before this one (or backup_step:)"))
		}
		id = ids[0]
	}
	ref := run.stepRefs(id)
	if ref[refBackupDevice] == "" {
		return restoreSource{}, Permanent(fmt.Errorf("step %s recorded no backup (it was skipped or marked done by hand): give from: the backup file's path", id))
	}
	if n := len(strings.Split(ref[refBackupDevices], "\n")); n > 1 {
		return restoreSource{}, Permanent(fmt.Errorf("the backup step %s found is striped over %d files (%s): cutover restores one file; restore it by hand",
			id, n, strings.ReplaceAll(ref[refBackupDevices], "\n", ", ")))
	}
	pos, err := strconv.Atoi(ref[refBackupPosition])
	if err != nil || pos < 1 {
		pos = 1
	}
	set, _ := strconv.ParseInt(ref[refBackupSet], 10, 64)
	start, _ := time.Parse(time.RFC3339Nano, ref[refBackupStart])
	return restoreSource{device: ref[refBackupDevice], position: pos, set: set, start: start,
		from: fmt.Sprintf("the backup step %s found", id)}, nil
}

func (a *restoreAction) Run(ctx context.Context, run *Run) error {
	src := run.Ports().Backups
	if src == nil {
		return Permanent(errors.New("no source server to restore on: the runbook's source connection is not configured"))
	}
	b, err := a.source(run)
	if err != nil {
		return err
	}
	started := run.Clock().Now()
	if err := run.Record(map[string]string{refRestoreStarted: started.UTC().Format(time.RFC3339Nano), refRestoreDevice: b.device,
		refRestoreSet: strconv.FormatInt(b.set, 10)}); err != nil {
		return err
	}
	run.Logf("restoring %s from %s: RESTORE DATABASE %s FROM DISK = '%s' WITH FILE = %d%s", a.database, b.from, a.database, b.device, b.position,
		strings.TrimPrefix(a.options(), "FILE"))
	run.Progress(Progress{Percent: -1, Message: "restoring " + a.database + " from " + b.device})
	deadline := started.Add(a.inUseWait)
	err = src.Restore(ctx, a.database, b.device, b.position, a.replace, a.checksum)
	for errors.Is(err, ErrDatabaseInUse) && run.Clock().Now().Before(deadline) {
		// RESTORE refused before it began: connections are still closing. Try again shortly.
		run.Logf("%s is in use (%v); trying again until %s", a.database, err, deadline.Local().Format("15:04:05"))
		if err := clock.Sleep(ctx, run.Clock(), max(a.poll, time.Second)); err != nil {
			return err
		}
		err = src.Restore(ctx, a.database, b.device, b.position, a.replace, a.checksum)
	}
	if err != nil {
		switch {
		case errors.Is(err, ErrDatabaseInUse):
			return fmt.Errorf("%w: stop every AOS and close every connection to %s (SSMS: Close existing connections to destination database), then retry", err, a.database)
		case errors.Is(err, ErrBackupUnreadable):
			return fmt.Errorf("%w: check that %s exists and that the SQL Server service account can read it", err, b.device)
		}
		return err
	}
	return a.verify(ctx, run, src, b, started, false)
}

// Resume checks what an interrupted RESTORE left: done when msdb recorded it and the database is
// ONLINE; otherwise the operator decides (retrying restores again).
func (a *restoreAction) Resume(ctx context.Context, run *Run) error {
	src := run.Ports().Backups
	if src == nil {
		return Permanent(errors.New("no source server: the runbook's source connection is not configured"))
	}
	ref := run.Ref()
	started, err := time.Parse(time.RFC3339Nano, ref[refRestoreStarted])
	if err != nil {
		return a.Run(ctx, run)
	}
	set, _ := strconv.ParseInt(ref[refRestoreSet], 10, 64)
	b := restoreSource{device: ref[refRestoreDevice], set: set}
	return a.verify(ctx, run, src, b, started, true)
}

// restoreSlack is how much earlier than the attempt's start msdb's restore_date may be (the server's
// clock against cutover's).
const restoreSlack = 2 * time.Minute

// verify checks the database is ONLINE and finds the restore in msdb. After an interruption
// (resumed) a restore must be found; otherwise its absence is only a warning: SQL Server may fail to
// write the history and still restore (error 3009).
func (a *restoreAction) verify(ctx context.Context, run *Run, src BackupSource, b restoreSource, started time.Time, resumed bool) error {
	st, err := src.DatabaseState(ctx, a.database)
	switch {
	case err != nil:
		return fmt.Errorf("RESTORE ended; reading the state of %s: %w", a.database, err)
	case !st.Exists:
		return fmt.Errorf("after RESTORE, the server lists no database %s", a.database)
	case !strings.EqualFold(st.State, "ONLINE"):
		if resumed {
			return Permanent(fmt.Errorf("interrupted during RESTORE: %s is %s; retry the step to restore it again", a.database, st.State))
		}
		return fmt.Errorf("after RESTORE, %s is %s, not ONLINE", a.database, st.State)
	}
	restores, err := src.Restores(ctx, a.database)
	if err != nil {
		if resumed {
			return fmt.Errorf("interrupted during RESTORE, and msdb's restore history cannot be read: %w", err)
		}
		run.Warnf("msdb's restore history cannot be read: %v", err)
	}
	var rec *RestoreRecord
	for i := range restores {
		r := &restores[i]
		if r.At.Before(started.Add(-restoreSlack)) {
			continue
		}
		if (b.set != 0 && r.BackupSetID == b.set) || slices.ContainsFunc(r.Devices, func(d string) bool { return strings.EqualFold(d, b.device) }) {
			rec = r
			break
		}
	}
	history := ""
	switch {
	case rec != nil:
		history = fmt.Sprintf("; msdb.dbo.restorehistory row %d at %s", rec.ID, rec.At.Local().Format("15:04:05"))
	case resumed:
		return Permanent(fmt.Errorf("interrupted during RESTORE: msdb shows no restore of %s since %s (%s is %s); retry the step to restore it", b.device,
			started.Local().Format("15:04:05"), a.database, st.State))
	default:
		run.Warnf("msdb.dbo.restorehistory shows no restore of %s since %s: SQL Server may fail to write it and still restore (error 3009)", b.device,
			started.Local().Format("15:04:05"))
	}
	set := ""
	if b.set != 0 {
		set = fmt.Sprintf(" (backup set %d", b.set)
		if !b.start.IsZero() {
			set += ", taken " + b.start.Local().Format("15:04")
		}
		set += ")"
	}
	verb := "restored"
	if resumed {
		verb = "restored before the interruption"
	}
	run.SetMessage(fmt.Sprintf("%s %s from %s%s WITH %s; %s%s", a.database, verb, b.device, set, a.options(), st.State, history))
	return nil
}

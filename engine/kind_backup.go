package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// The rollback point of the cutover and the way back to it. Microsoft documents the goal only:
// "restore the database by using the backup that was made when AX 2012 was turned off, and then
// turn AX 2012 back on" (migration-upgrade/upgrade-cutover-testing.md, "Roll back to AX 2012"); the
// checks below are SQL Server's own documents applied to it (sql-docs backupset, backupmediafamily,
// restorehistory, RESTORE, RESTORE VERIFYONLY).

// Refs backup.verify records, which sql.restore (and the report) read.
const (
	refBackupSet        = "backup_set_id"
	refBackupDevice     = "backup_device"
	refBackupDevices    = "backup_devices"
	refBackupPosition   = "backup_position"
	refBackupStart      = "backup_start"
	refBackupFinish     = "backup_finish"
	refBackupSize       = "backup_size"
	refBackupLastLSN    = "backup_last_lsn"
	refBackupCheckpoint = "backup_checkpoint_lsn"
	refBackupDatabase   = "backup_database"
	refBackupChecksums  = "backup_checksums"
	refBackupVerified   = "backup_verified"
	refRestoreStarted   = "restore_started"
	refRestoreDevice    = "restore_device"
	refRestoreSet       = "restore_backup_set_id"
)

// BackupVerifyKind waits for the rollback backup in msdb's history: the newest full database
// backup of the AX database, taken with checksums (unless checksum: false), not damaged, that
// started at or after the end of the step it follows (by default the aos.stop step it depends on),
// and with verify_only: true also checked by RESTORE VERIFYONLY. Until such a backup is there, it
// keeps waiting (the operator takes it) and says why the newest one does not count; a read that
// fails is never taken for the backup. It journals what it found (file, start, finish, size, last
// LSN) so the report and sql.restore name the file.
type BackupVerifyKind struct{}

// Name implements Kind.
func (BackupVerifyKind) Name() string { return "backup.verify" }

// Mode implements Kind.
func (BackupVerifyKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {database, after, journal, checksum, verify_only, poll}`.
func (BackupVerifyKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &backupAction{checksum: true, poll: time.Minute}
	var afterNode *yaml.Node
	d.Fields(with, where, map[string]runbook.Field{
		"database":    func(v *yaml.Node) { a.database = d.NonEmpty(v, where, "database") },
		"after":       func(v *yaml.Node) { a.after, afterNode = d.NonEmpty(v, where, "after"), v },
		"journal":     func(v *yaml.Node) { a.journal = d.NonEmpty(v, where, "journal") },
		"checksum":    func(v *yaml.Node) { a.checksum = d.Bool(v, where, "checksum") },
		"verify_only": func(v *yaml.Node) { a.verifyOnly = d.Bool(v, where, "verify_only") },
		"poll":        func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
	})
	if a.poll <= 0 {
		a.poll = time.Minute
	}
	rb := d.Runbook()
	if rb == nil {
		return a
	}
	if rb.Connections.Source == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind backup.verify reads the source server's backup history (msdb): add connections source")
	} else if a.database == "" {
		a.database = rb.Connections.Source.Database
	}
	switch {
	case a.journal != "":
		if !filepath.IsAbs(a.journal) {
			a.journal = filepath.Join(rb.Dir, a.journal)
		}
		if a.after == "" {
			d.ErrorAt(s.Pos, where, "journal: names another run's journal; after: must name its step whose end the backup must follow (its aos.stop step)")
		}
	case a.after != "":
		if dep, known := dependsOn(rb, s, a.after); known && !dep {
			d.Errorf(afterNode, where, "after: %s must be a step this one follows (add it to the step's after:): its end is read when this step runs", a.after)
		}
	default:
		if ids, known := dependenciesOfKind(rb, s, "aos.stop"); known && len(ids) == 0 {
			d.ErrorAt(s.Pos, where, "backup.verify needs the moment the backup must follow: after: <the aos.stop step> (or depend on an aos.stop step), or journal: and after: for another run's")
		}
	}
	return a
}

// dependsOn reports whether step s depends on id, directly or through other steps; known is false
// while some step on the way has not been read yet (it comes later in the file).
func dependsOn(rb *runbook.Runbook, s *runbook.Step, id string) (dep, known bool) {
	ups, known := rb.Upstream(s)
	if slices.Contains(ups, id) {
		return true, true
	}
	return false, known
}

// dependenciesOfKind lists the steps of a kind that s depends on, nearest first; known is false
// while some step on the way has not been read yet.
func dependenciesOfKind(rb *runbook.Runbook, s *runbook.Step, kind string) (ids []string, known bool) {
	ups, known := rb.Upstream(s)
	for _, id := range ups {
		if st, ok := rb.Step(id); ok && st.Kind == kind {
			ids = append(ids, id)
		}
	}
	return ids, known
}

type backupAction struct {
	database   string
	after      string
	journal    string
	checksum   bool
	verifyOnly bool
	poll       time.Duration
}

func (a *backupAction) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wait for the newest full backup of %s in msdb's history", orDash(a.database))
	if a.checksum {
		b.WriteString(" taken WITH CHECKSUM")
	}
	b.WriteString(", not damaged, started after ")
	switch {
	case a.journal != "":
		fmt.Fprintf(&b, "step %s of the run journaled in %s ended", a.after, a.journal)
	case a.after != "":
		fmt.Fprintf(&b, "step %s ended", a.after)
	default:
		b.WriteString("the AOS were stopped (the aos.stop step it follows)")
	}
	if a.verifyOnly {
		b.WriteString("; then check it with RESTORE VERIFYONLY")
		if a.checksum {
			b.WriteString(" WITH CHECKSUM")
		}
	}
	b.WriteString("; journal its file, times, size and last LSN")
	return b.String()
}

// Rerunnable: it only reads (RESTORE VERIFYONLY reads the backup and changes nothing).
func (a *backupAction) Rerunnable() bool { return true }

// anchor is when the step the backup must follow ended, what that step is and how it ended.
type anchor struct {
	at   time.Time
	step string
	how  string
	kind string
}

func (an anchor) String() string {
	what := "step " + an.step
	if an.kind == "aos.stop" {
		what = "the AOS stop, step " + an.step
	}
	return fmt.Sprintf("%s (%s, %s)", an.at.Local().Format("15:04"), what, an.how)
}

// stepEnd is when a step of this run ended (succeeded, skipped or marked done) and how; ok is
// false while it has not.
func (r *Run) stepEnd(id string) (at time.Time, how string, ok bool) {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	st := r.e.st.steps[id]
	if st == nil || !st.state.Done() {
		return time.Time{}, "", false
	}
	switch {
	case st.state == StateSkipped:
		how = "skipped"
	case st.byHand:
		how = "marked done by hand"
	default:
		how = "ended"
	}
	return st.finished, how, true
}

// stepRefs is what a step of this run recorded with its newest attempt that recorded anything.
func (r *Run) stepRefs(id string) map[string]string {
	r.e.mu.Lock()
	defer r.e.mu.Unlock()
	st := r.e.st.steps[id]
	if st == nil {
		return nil
	}
	if len(st.ext) > 0 {
		return maps.Clone(st.ext)
	}
	return maps.Clone(st.earlier)
}

// runbook is the run's runbook.
func (r *Run) runbook() *runbook.Runbook { return r.e.rb }

// findAnchor resolves the moment the backup must follow.
func (a *backupAction) findAnchor(run *Run) (anchor, error) {
	if a.journal != "" {
		recs, _, err := journal.ReadAll(a.journal)
		if err != nil {
			return anchor{}, Permanent(fmt.Errorf("read the journal %s: %w", a.journal, err))
		}
		t, ok := TimingsOf(recs).Steps[a.after]
		if !ok || t.Ended.IsZero() {
			return anchor{}, Permanent(fmt.Errorf("the journal %s shows step %s not ended: the backup must follow it", a.journal, a.after))
		}
		return anchor{at: t.Ended, step: a.after, how: strings.ReplaceAll(t.Outcome, "-", " ") + " in that run", kind: "aos.stop"}, nil
	}
	id := a.after
	kind := ""
	if id == "" {
		ids, _ := dependenciesOfKind(run.runbook(), run.Step, "aos.stop")
		if len(ids) == 0 {
			return anchor{}, Permanent(errors.New("no step to follow: give after: (the aos.stop step)"))
		}
		id = ids[0]
	}
	if st, ok := run.runbook().Step(id); ok {
		kind = st.Kind
	}
	at, how, ok := run.stepEnd(id)
	if !ok {
		return anchor{}, Permanent(fmt.Errorf("step %s has not ended: the backup must follow it (make this step depend on it)", id))
	}
	return anchor{at: at, step: id, how: how, kind: kind}, nil
}

// judge says why a backup set does not count ("" when it does).
func (a *backupAction) judge(s BackupSet, an anchor) string {
	switch {
	case s.Start.Before(an.at):
		return fmt.Sprintf("it started at %s, before %s", s.Start.Local().Format("15:04"), an)
	case s.Damaged:
		return "damage to the database was detected when it was taken (is_damaged): take another backup"
	case a.checksum && !s.Checksums:
		return "it was taken without checksums: take it WITH CHECKSUM (or set checksum: false)"
	case len(s.Devices) == 0:
		return "msdb names none of its files (no backupmediafamily row)"
	case a.verifyOnly && (len(s.Devices) != 1 || !s.Devices[0].Disk):
		return fmt.Sprintf("it is on %s: RESTORE VERIFYONLY here reads one disk file", deviceList(s.Devices))
	}
	return ""
}

func deviceList(ds []BackupDevice) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%s (%s)", d.Path, d.Type))
	}
	return strings.Join(parts, ", ")
}

func (a *backupAction) Run(ctx context.Context, run *Run) error {
	src := run.Ports().Backups
	if src == nil {
		return Permanent(errors.New("no backup history to read: the runbook's source connection is not configured"))
	}
	an, err := a.findAnchor(run)
	if err != nil {
		return err
	}
	what := "full backup"
	if a.checksum {
		what += " with checksums"
	}
	run.Logf("waiting for a %s of %s started after %s", what, a.database, an)
	rejected := map[int64]string{} // sets RESTORE VERIFYONLY refused
	var lastDetail string
	for {
		detail, done, err := a.check(ctx, run, src, an, what, rejected)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if detail != lastDetail {
			run.Logf("%s", detail)
			lastDetail = detail
		}
		run.Progress(Progress{Percent: -1, Message: "waiting: " + detail})
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("not found: %s (%w)", detail, err)
		}
	}
}

// check looks once: it returns what keeps the step waiting, or done once the backup is found
// (and verified); an error ends the step.
func (a *backupAction) check(ctx context.Context, run *Run, src BackupSource, an anchor, what string, rejected map[int64]string) (string, bool, error) {
	sets, err := src.FullBackups(ctx, a.database)
	if err != nil {
		if IsPermanent(err) {
			return "", false, err
		}
		return "could not read msdb's backup history: " + err.Error(), false, nil
	}
	var newest string
	for _, s := range sets {
		why := a.judge(s, an)
		if why == "" {
			why = rejected[s.ID]
		}
		if why == "" {
			if err := a.found(ctx, run, src, s, an, rejected); err != nil {
				return "", false, err
			}
			if why = rejected[s.ID]; why == "" {
				return "", true, nil
			}
		}
		if newest == "" {
			newest = fmt.Sprintf("%s started %s: %s", firstPath(s), s.Start.Local().Format("15:04"), why)
		}
	}
	detail := fmt.Sprintf("no %s of %s started after %s", what, a.database, an)
	if newest != "" {
		detail += "; newest: " + newest
	} else if len(sets) == 0 {
		detail += "; msdb has no full backup of it"
	}
	return detail, false, nil
}

func firstPath(s BackupSet) string {
	if len(s.Devices) == 0 {
		return fmt.Sprintf("backup set %d", s.ID)
	}
	return s.Devices[0].Path
}

// found journals the backup, verifies it when asked, and sets the message. A set RESTORE
// VERIFYONLY refuses goes into rejected (the step keeps waiting for another).
func (a *backupAction) found(ctx context.Context, run *Run, src BackupSource, s BackupSet, an anchor, rejected map[int64]string) error {
	var paths []string
	for _, d := range s.Devices {
		paths = append(paths, d.Path)
	}
	ref := map[string]string{
		refBackupSet: strconv.FormatInt(s.ID, 10), refBackupDevice: paths[0], refBackupDevices: strings.Join(paths, "\n"),
		refBackupPosition: strconv.Itoa(s.Position), refBackupStart: s.Start.UTC().Format(time.RFC3339Nano),
		refBackupFinish: s.Finish.UTC().Format(time.RFC3339Nano), refBackupSize: strconv.FormatInt(s.Size, 10),
		refBackupLastLSN: s.LastLSN, refBackupCheckpoint: s.CheckpointLSN, refBackupDatabase: a.database,
		refBackupChecksums: strconv.FormatBool(s.Checksums),
	}
	verified := ""
	if a.verifyOnly {
		run.Logf("found %s (backup set %d); checking it with RESTORE VERIFYONLY", paths[0], s.ID)
		err := src.VerifyBackup(ctx, paths[0], s.Position, a.checksum)
		switch {
		case err != nil && IsPermanent(err):
			return fmt.Errorf("RESTORE VERIFYONLY of %s: %w (it needs CREATE DATABASE permission)", paths[0], err)
		case err != nil && ctx.Err() != nil:
			return err
		case err != nil:
			rejected[s.ID] = fmt.Sprintf("RESTORE VERIFYONLY refused %s (backup set %d): %v: take another backup", paths[0], s.ID, err)
			run.Warnf("%s", rejected[s.ID])
			return nil
		}
		verified = "; RESTORE VERIFYONLY"
		if a.checksum {
			verified += " WITH CHECKSUM"
		}
		verified += ": valid"
		ref[refBackupVerified] = "valid"
	}
	if err := run.Record(ref); err != nil {
		return err
	}
	kind := "full backup"
	if s.CopyOnly {
		kind = "copy-only full backup"
	}
	zone := ""
	if !s.ZoneKnown {
		zone = " (its time zone is unknown to msdb: read with the server's UTC offset now)"
	}
	checksums := "without checksums"
	if s.Checksums {
		checksums = "with checksums"
	}
	run.SetMessage(fmt.Sprintf("%s of %s %s: %s (backup set %d, file %d), started %s, finished %s, %s, last LSN %s%s; %s after %s%s",
		kind, a.database, checksums, strings.Join(paths, ", "), s.ID, s.Position, s.Start.Local().Format("15:04:05"),
		s.Finish.Local().Format("15:04:05"), gib(s.Size), orDash(s.LastLSN), zone, runbook.FormatDuration(s.Start.Sub(an.at)), an, verified))
	return nil
}

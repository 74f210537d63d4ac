package report_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine"
	"cutover/engine/report"
	"cutover/engine/runbook"
)

// checkBackupKind stands for backup.verify: a kind that checks the backup it stands for.
type checkBackupKind struct{}

func (checkBackupKind) Name() string                { return "check.backup" }
func (checkBackupKind) Mode() engine.Mode           { return engine.ModeAuto }
func (checkBackupKind) VerifiesRollbackPoint() bool { return true }
func (checkBackupKind) Decode(*runbook.Decoder, *runbook.Step, *yaml.Node) engine.Action {
	return checkBackupAction{}
}

type checkBackupAction struct{}

func (checkBackupAction) Describe() string                       { return "check the backup" }
func (checkBackupAction) Run(context.Context, *engine.Run) error { return nil }

const goLiveGateRunbook = `name: t
downtime: {budget: 8h, begins_with: stop, point_of_no_return: golive, rollback_point: backup}
steps:
  - {id: stop, title: Stop the AOS, kind: manual}
  - {id: backup, title: Verify the rollback backup, kind: check.backup, after: stop}
  - {id: upgrade, title: Watch the data upgrade, kind: manual, after: backup, planned: 1h}
  - {id: rollback-upgrade, title: Roll back the data upgrade, kind: manual, approvals: 2, planned: 3h, when: {failed: upgrade}}
  - {id: golive, title: Let users and integrations in, kind: gate, approvals: 2, after: [upgrade, rollback-upgrade]}
`

// TestReportSaysTheRollbackWasVerifiedAndWhatWasNotNeeded: the report names the point of no
// return (the go-live gate, with its title) and when it passed, says the rollback point's backup
// was verified by its step — or made by hand, not verified — and counts a fallback that was not
// needed, whose withdrawn request (its trigger retried) is listed with who retried it.
func TestReportSaysTheRollbackWasVerifiedAndWhatWasNotNeeded(t *testing.T) {
	kinds := engine.NewRegistry(append(engine.AllKinds(), checkBackupKind{})...)
	rb, err := runbook.Parse(t.TempDir()+"/cutover.yaml", []byte(goLiveGateRunbook), runbook.Options{Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	for _, byHand := range []bool{false, true} {
		w := newWriter(t, t0)
		w.add(0, engine.RecRunOpened, "", engine.RunOpened{Runbook: rb.File, RunbookHash: rb.Hash, Name: rb.Name, Steps: len(rb.Steps)})
		w.add(time.Second, engine.RecEngineStarted, "", engine.EngineStarted{Host: "jump01", PID: 1, RunbookHash: rb.Hash})
		w.add(time.Minute, engine.RecStarted, "stop", engine.Started{Attempt: 1})
		w.add(time.Minute, engine.RecSucceeded, "stop", engine.Succeeded{Attempt: 1, Actor: &ana})
		if byHand {
			w.add(time.Minute, engine.RecDoneByHand, "backup", engine.ByActor{Actor: ana, Reason: "checked in SSMS"})
		} else {
			w.add(time.Minute, engine.RecStarted, "backup", engine.Started{Attempt: 1})
			w.add(time.Minute, engine.RecSucceeded, "backup", engine.Succeeded{Attempt: 1, Message: "full backup with checksums"})
		}
		backupAt := w.now
		w.add(time.Minute, engine.RecStarted, "upgrade", engine.Started{Attempt: 1})
		w.add(time.Minute, engine.RecFailed, "upgrade", engine.Failed{Attempt: 1, Error: "LCS state Failed"})
		req := w.add(time.Second, engine.RecAwaiting, "rollback-upgrade", engine.Awaiting{Action: "roll back", Needed: 2})
		w.add(time.Minute, engine.RecApproved, "rollback-upgrade", engine.Approved{Request: req, Actor: ana, Count: 1, Needed: 2})
		w.add(time.Minute, engine.RecRetry, "upgrade", engine.ByActor{Actor: carl})
		w.add(0, engine.RecConditionLapsed, "rollback-upgrade", engine.ConditionLapsed{Trigger: "upgrade", TriggerState: "ready", Request: req, Actor: &carl})
		w.add(time.Second, engine.RecStarted, "upgrade", engine.Started{Attempt: 2})
		w.add(time.Hour, engine.RecSucceeded, "upgrade", engine.Succeeded{Attempt: 2, Actor: &ana})
		w.add(time.Second, engine.RecNotNeeded, "rollback-upgrade", engine.NotNeeded{Trigger: "upgrade", Outcome: "succeeded"})
		w.confirm("golive", ana, carl)
		w.add(time.Second, engine.RecSucceeded, "golive", engine.Succeeded{Attempt: 1, Message: "go: Ana, Carl"})
		goliveAt := w.now
		w.add(time.Second, engine.RecRunFinished, "", engine.RunFinished{Succeeded: 4, NotNeeded: 1})
		path, _ := w.close()

		r, md, doc := build(t, report.Options{Runbook: rb, Journal: path, Kinds: kinds})
		s := r.Summary
		if s.Outcome != report.OutcomeCompleted || s.NotNeeded != 1 || s.Succeeded != 4 || !strings.Contains(s.OutcomeDetail, "0 skipped, 1 not needed;") {
			t.Errorf("summary: %s — %s (%d not needed)", s.Outcome, s.OutcomeDetail, s.NotNeeded)
		}
		dt := s.Downtime
		if r.Timeline.PlannedCritical != time.Hour || dt == nil || dt.Planned != time.Hour {
			t.Errorf("planned %v (%+v): a fallback is not in the plan", r.Timeline.PlannedCritical, dt)
		}
		want, proof := "— rollback ready, backup verified by the step", engine.ProofVerified
		if byHand {
			want, proof = "step backup: made by hand at "+backupAt.UTC().Format("2006-01-02T15:04:05Z")+" — not verified (nothing checked the backup)", engine.ProofByHand
		}
		if dt == nil || dt.RollbackPointProof != proof || !dt.PointOfNoReturnAt.Equal(goliveAt) || dt.PointOfNoReturnTitle != "Let users and integrations in" {
			t.Fatalf("downtime: %+v", dt)
		}
		mustContain(t, "Markdown", md,
			"| Point of no return | step golive (Let users and integrations in): passed at "+goliveAt.UTC().Format("2006-01-02T15:04:05Z")+" (AX 2012 rollback no longer possible) |",
			want,
			"1 not needed (they run only on a failure)",
			"| rollback-upgrade | Roll back the data upgrade |",
			"not needed (upgrade succeeded)",
			"upgrade is ready again: this step runs only if it fails again",
		)
		if strings.Contains(md, "could not be read") {
			t.Errorf("a record was left out:\n%s", md)
		}
		var withdrawn bool
		for _, q := range r.Confirmations.Requests {
			withdrawn = withdrawn || (q.ID == req && q.Withdrawn)
		}
		if !withdrawn {
			t.Errorf("the fallback's request is not marked withdrawn: %+v", r.Confirmations.Requests)
		}
		parseHTML(t, doc)
	}
}

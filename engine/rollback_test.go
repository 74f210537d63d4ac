package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine"
	"cutover/engine/runbook"
)

// TestRollbackReadiness: the rollback is ready once the backup step succeeded and the point of no
// return is ahead (in how long, by the plan); at risk when the point of no return waits for its
// confirmation with no backup; gone once it started; untracked without a point of no return.
func TestRollbackReadiness(t *testing.T) {
	now := time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)
	snap := func(backup, refresh engine.StepView) engine.Snapshot {
		stop := engine.StepView{ID: "aos-stop", State: engine.StateSucceeded, Finished: now.Add(-time.Hour)}
		drain := engine.StepView{ID: "drain", State: engine.StateRunning, After: []string{"aos-stop"}, Planned: 30 * time.Minute, FirstStarted: now.Add(-10 * time.Minute)}
		backup.ID, backup.After, backup.Planned = "backup", []string{"aos-stop"}, time.Hour
		refresh.ID, refresh.After, refresh.Planned = "refresh", []string{"drain", "backup"}, 2*time.Hour
		return engine.Snapshot{
			Run:   engine.RunView{Downtime: &runbook.Downtime{Budget: 12 * time.Hour, PointOfNoReturn: "refresh", RollbackPoint: "backup"}},
			Steps: []engine.StepView{stop, drain, backup, refresh},
		}
	}
	backupDone := now.Add(-5 * time.Minute)
	for _, c := range []struct {
		name            string
		backup, refresh engine.StepView
		want            engine.RollbackState
		left            time.Duration
	}{
		// The refresh waits for the drain (20m left) and the backup (an hour, not started).
		{"no backup yet", engine.StepView{State: engine.StatePending}, engine.StepView{State: engine.StatePending}, engine.RollbackNoPoint, time.Hour},
		{"backup done", engine.StepView{State: engine.StateSucceeded, Finished: backupDone}, engine.StepView{State: engine.StatePending}, engine.RollbackReady, 20 * time.Minute},
		{"backup skipped, refresh asks", engine.StepView{State: engine.StateSkipped}, engine.StepView{State: engine.StateAwaiting}, engine.RollbackAtRisk, 20 * time.Minute},
		{"refresh started", engine.StepView{State: engine.StateSucceeded, Finished: backupDone}, engine.StepView{State: engine.StateRunning, FirstStarted: now.Add(-time.Minute)}, engine.RollbackGone, 0},
		{"refresh failed after starting", engine.StepView{State: engine.StateSucceeded, Finished: backupDone}, engine.StepView{State: engine.StateFailed, FirstStarted: now.Add(-time.Minute)}, engine.RollbackGone, 0},
		{"refresh marked done by hand", engine.StepView{State: engine.StateSucceeded, Finished: backupDone}, engine.StepView{State: engine.StateSucceeded, ByHand: true, Finished: now}, engine.RollbackGone, 0},
	} {
		rb := snap(c.backup, c.refresh).Rollback(now)
		if rb.State != c.want || rb.Left != c.left || rb.NoReturn != "refresh" || rb.Point != "backup" {
			t.Errorf("%s: %s, %v left (projected %v); want %s, %v", c.name, rb.State, rb.Left, rb.Projected, c.want, c.left)
		}
		if c.want == engine.RollbackReady && !rb.PointAt.Equal(backupDone) {
			t.Errorf("%s: rollback point at %v", c.name, rb.PointAt)
		}
		if c.backup.State != rb.PointState {
			t.Errorf("%s: rollback point %s, want %s", c.name, rb.PointState, c.backup.State)
		}
	}
	if rb := (engine.Snapshot{}).Rollback(now); rb.State != engine.RollbackUntracked {
		t.Errorf("no downtime section: %s", rb.State)
	}
	// No rollback point named: the point of no return is still tracked.
	s := snap(engine.StepView{State: engine.StatePending}, engine.StepView{State: engine.StatePending})
	s.Run.Downtime.RollbackPoint = ""
	if rb := s.Rollback(now); rb.State != engine.RollbackNoPoint || rb.Point != "" {
		t.Errorf("no rollback point named: %+v", rb)
	}
}

// TestProjection: a step starts when its slowest dependency ends; a running step has its elapsed
// time deducted; the finish is the longest chain.
func TestProjection(t *testing.T) {
	now := time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)
	s := engine.Snapshot{Steps: []engine.StepView{
		{ID: "a", State: engine.StateSucceeded},
		{ID: "b", State: engine.StateRunning, After: []string{"a"}, Planned: time.Hour, FirstStarted: now.Add(-15 * time.Minute)},
		{ID: "c", State: engine.StatePending, After: []string{"a"}, Planned: 10 * time.Minute},
		{ID: "d", State: engine.StatePending, After: []string{"b", "c"}, Planned: 30 * time.Minute, Baseline: 20 * time.Minute},
	}}
	p := s.Project(now)
	if start, ok := p.Start("d"); !ok || !start.Equal(now.Add(45*time.Minute)) {
		t.Errorf("d starts %v", start)
	}
	if _, ok := p.Start("a"); ok {
		t.Error("a done step has a start")
	}
	if f := p.Finish(); !f.Equal(now.Add(65*time.Minute)) || !p.Planned {
		t.Errorf("finish %v (planned %v)", f, p.Planned)
	}
}

// TestRollbackPointProof: the rollback point is verified only when its step succeeded by itself
// and its kind checks the backup; done by hand, a manual step or a gate completed by an operator,
// or a kind that does not check, it is made but not verified; before it is made there is no proof.
func TestRollbackPointProof(t *testing.T) {
	now := time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)
	made := now.Add(-30 * time.Minute)
	for _, c := range []struct {
		name  string
		point engine.StepView
		state engine.RollbackState
		proof engine.PointProof
	}{
		{"verified", engine.StepView{State: engine.StateSucceeded, VerifiesBackup: true, Finished: made}, engine.RollbackReady, engine.ProofVerified},
		{"a verifier marked done by hand", engine.StepView{State: engine.StateSucceeded, VerifiesBackup: true, ByHand: true, Finished: made}, engine.RollbackReady, engine.ProofByHand},
		{"a manual step", engine.StepView{State: engine.StateSucceeded, Mode: engine.ModeManual, Finished: made}, engine.RollbackReady, engine.ProofByHand},
		{"a wait", engine.StepView{State: engine.StateSucceeded, Finished: made}, engine.RollbackReady, engine.ProofUnchecked},
		{"a verifier still running", engine.StepView{State: engine.StateRunning, VerifiesBackup: true}, engine.RollbackNoPoint, engine.ProofNone},
		{"a verifier skipped", engine.StepView{State: engine.StateSkipped, VerifiesBackup: true, Finished: made}, engine.RollbackNoPoint, engine.ProofNone},
	} {
		c.point.ID = "backup"
		s := engine.Snapshot{
			Run: engine.RunView{Downtime: &runbook.Downtime{Budget: 12 * time.Hour, PointOfNoReturn: "golive", RollbackPoint: "backup"}},
			Steps: []engine.StepView{c.point,
				{ID: "golive", Title: "Let users and integrations in", Mode: engine.ModeGate, State: engine.StatePending, After: []string{"backup"}}},
		}
		rb := s.Rollback(now)
		if rb.State != c.state || rb.Proof != c.proof || rb.Proof.Verified() != (c.proof == engine.ProofVerified) {
			t.Errorf("%s: %s, proof %s", c.name, rb.State, rb.Proof)
		}
		if rb.NoReturn != "golive" || rb.NoReturnTitle != "Let users and integrations in" {
			t.Errorf("%s: no return %q %q", c.name, rb.NoReturn, rb.NoReturnTitle)
		}
		if c.proof != engine.ProofNone && !rb.PointAt.Equal(made) {
			t.Errorf("%s: made at %v", c.name, rb.PointAt)
		}
	}
}

// backupCheckKind stands for backup.verify in these tests: an automatic kind that implements
// RollbackPointVerifier.
type backupCheckKind struct{ verifies bool }

func (k backupCheckKind) Name() string {
	if k.verifies {
		return "check.backup"
	}
	return "copy.backup"
}
func (backupCheckKind) Mode() engine.Mode { return engine.ModeAuto }
func (backupCheckKind) Decode(*runbook.Decoder, *runbook.Step, *yaml.Node) engine.Action {
	return backupCheckAction{}
}
func (k backupCheckKind) VerifiesRollbackPoint() bool { return k.verifies }

type backupCheckAction struct{}

func (backupCheckAction) Describe() string { return "check the backup" }
func (backupCheckAction) Run(_ context.Context, run *engine.Run) error {
	run.SetMessage("full backup with checksums found")
	return nil
}

// byNameKind has the backup-checking kind's name and does not implement the interface: the name
// alone counts.
type byNameKind struct{}

func (byNameKind) Name() string      { return "backup.verify" }
func (byNameKind) Mode() engine.Mode { return engine.ModeAuto }
func (byNameKind) Decode(*runbook.Decoder, *runbook.Step, *yaml.Node) engine.Action {
	return backupCheckAction{}
}

// TestARunWithAVerifiedRollbackPoint: over a real engine, the rollback point made by a kind that
// verifies (by the interface, or by the kind's name) is verified; the go-live gate, the point of
// no return, asking for its two approvals leaves the rollback ready, and confirming it ends the
// rollback. A kind that says it does not verify makes the point unchecked.
func TestARunWithAVerifiedRollbackPoint(t *testing.T) {
	for _, c := range []struct {
		kind  string
		proof engine.PointProof
	}{{"check.backup", engine.ProofVerified}, {"backup.verify", engine.ProofVerified}, {"copy.backup", engine.ProofUnchecked}} {
		t.Run(c.kind, func(t *testing.T) {
			h := newHarness(t, "name: t\nsteps: [{id: x, title: X, kind: manual}]\n")
			h.src = `name: t
downtime: {budget: 8h, begins_with: stop, point_of_no_return: golive, rollback_point: backup}
steps:
  - {id: stop, title: Stop the AOS, kind: probe}
  - {id: backup, title: Verify the rollback backup, kind: ` + c.kind + `, after: stop}
  - {id: refresh, title: Refresh production, kind: probe, after: backup}
  - {id: golive, title: Let users and integrations in, kind: gate, approvals: 2, after: refresh}
`
			h.reg.Register(backupCheckKind{verifies: true})
			h.reg.Register(backupCheckKind{})
			h.reg.Register(byNameKind{})
			h.load()
			h.start()
			h.waitStep("golive", engine.StateAwaiting)
			snap := h.e.Snapshot()
			if b, _ := snap.Step("backup"); b.VerifiesBackup != (c.proof == engine.ProofVerified) {
				t.Fatalf("backup step verifies: %v", b.VerifiesBackup)
			}
			rb := snap.Rollback(h.clk.Now())
			if rb.State != engine.RollbackReady || rb.Proof != c.proof || rb.NoReturn != "golive" {
				t.Fatalf("while go-live asks: %s, proof %s, no return %s", rb.State, rb.Proof, rb.NoReturn)
			}
			for _, a := range []engine.Actor{ana, ben} {
				if _, err := h.e.Confirm("golive", 0, a, "golive"); err != nil {
					t.Fatal(err)
				}
			}
			h.waitOutcome(engine.OutcomeCompleted)
			if rb := h.e.Snapshot().Rollback(h.clk.Now()); rb.State != engine.RollbackGone || rb.Proof != c.proof {
				t.Fatalf("after go-live: %s, proof %s", rb.State, rb.Proof)
			}
		})
	}
}

// TestRollbackWarnings: `cutover check` warns when the point of no return is the production
// refresh (the documented rollback outlives it) and when the rollback point's step does not check
// the backup; a go-live gate after a verifying step draws no warning.
func TestRollbackWarnings(t *testing.T) {
	reg := engine.NewRegistry(append(engine.AllKinds(), backupCheckKind{verifies: true})...)
	load := func(downtime, steps string) *runbook.Runbook {
		t.Helper()
		src := "name: t\n" + lcsSection + "downtime: {budget: 8h, " + downtime + "}\nsteps:\n" + steps
		rb, err := runbook.Parse("cutover.yaml", []byte(src), runbook.Options{Kinds: reg})
		if err != nil {
			t.Fatal(err)
		}
		return rb
	}
	steps := `  - {id: stop, title: Stop, kind: manual}
  - {id: backup, title: Backup, kind: manual, after: stop}
  - {id: verified, title: Verified backup, kind: check.backup, after: stop}
  - {id: refresh, title: Refresh, kind: lcs.refresh, destructive: true, after: [backup, verified], with: {source: sandbox, target: production}}
  - {id: golive, title: Go live, kind: gate, approvals: 2, after: refresh}
`
	w := engine.RollbackWarnings(load("point_of_no_return: refresh, rollback_point: backup", steps), reg)
	if len(w) != 2 || !strings.Contains(w[0], `downtime.point_of_no_return: "refresh" is the production refresh (lcs.refresh)`) ||
		!strings.Contains(w[0], "name the go-live gate") || !strings.Contains(w[1], `downtime.rollback_point: "backup" (manual) does not check the backup`) ||
		!strings.Contains(w[1], "backup.verify") {
		t.Fatalf("warnings:\n%s", strings.Join(w, "\n"))
	}
	if w := engine.RollbackWarnings(load("point_of_no_return: golive, rollback_point: verified", steps), reg); len(w) != 0 {
		t.Fatalf("a go-live gate after a verified backup: %q", w)
	}
	if w := engine.RollbackWarnings(load("begins_with: stop", steps), reg); len(w) != 0 {
		t.Fatalf("no point of no return: %q", w)
	}
}

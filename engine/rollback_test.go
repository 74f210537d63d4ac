package engine_test

import (
	"testing"
	"time"

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

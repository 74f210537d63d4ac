package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"cutover/adapter"
	"cutover/engine"
	"cutover/engine/clock"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
)

// Operator is the person at the Data Migration Toolkit's console and the LCS portal in the
// demo: when the runbook asks for a toolkit step, a refresh in the portal or a fix, they do it a
// little later, on the simulators. Each failure is fixed once; a second failure of the same step
// blocks the run as it would on the night.
type Operator struct {
	sims *Simulators
	clk  clock.Clock
	// rollback: a failed data upgrade is not resumed (the rollback scenario).
	rollback bool
	// notices carries what the LCS client tells the operator (throttling) into the run's log.
	notices *adapter.EngineNotices

	mu    sync.Mutex
	fixes map[string]fixState // step id → its fix
	did   map[string]bool     // step/attempt/state keys already acted on
}

// NewOperator is the simulated operator for the demo on sims: notices carries what the LCS client
// tells them into the run's log; rollback plays the rollback scenario (a failed data upgrade is
// not resumed and the toolkit's rollback gets a no-go).
func NewOperator(sims *Simulators, clk clock.Clock, notices *adapter.EngineNotices, rollback bool) *Operator {
	return &Operator{sims: sims, clk: clk, notices: notices, rollback: rollback, fixes: map[string]fixState{}}
}

type fixState int

const (
	fixNone fixState = iota
	fixUnderway
	fixDone
)

var Actor = engine.Actor{Name: "toolkit operator (simulated)", Origin: "demo", Role: engine.RoleOperator}

// fix is the simulated fix of a failed step, or nil when the operator has none.
func (o *Operator) fix(ctx context.Context, e *engine.Engine, st engine.StepView) (string, func() error) {
	w := o.sims.World
	switch {
	case st.ID == "watch-upgrade" && w.UpgradeState().Failed && !o.rollback:
		return "fixed the failing script and chose Resume in the toolkit", func() error {
			if err := w.ResumeUpgrade(); err != nil {
				return err
			}
			return e.Retry(st.ID, Actor)
		}
	case st.ID == "users-enabled" && !o.productionUsersEnabled():
		// After the refresh into production only Admin is enabled (database-refresh.md): the
		// administrator enables the users, then the check runs again.
		return "enabled the users in production (System administration > Users > Users)", func() error {
			if err := o.sims.LCS.EnableUsers(lcssim.ProductionID); err != nil {
				return err
			}
			return e.Retry(st.ID, Actor)
		}
	case st.ID == "validate-counts" && w.Config().Scenarios.Has(sqlsim.ScenarioCountMismatch):
		return "published the mismatching table again (the toolkit's catch-up publication) and waited for its snapshot", func() error {
			table := w.Config().MismatchTable
			if w.Count(sqlsim.ActRedeliver) == 0 { // not already before a restart
				if err := w.Redeliver(table); err != nil {
					return err
				}
			}
			for {
				src, err1 := w.SourceRows(table)
				tgt, _, err2 := w.TargetRows(table)
				if err := errors.Join(err1, err2); err != nil {
					return err
				}
				if src == tgt {
					return e.Retry(st.ID, Actor)
				}
				if err := clock.Sleep(ctx, o.clk, 30*time.Second); err != nil {
					return err
				}
			}
		}
	}
	return "", nil
}

// productionUsersEnabled reports whether every user of the simulated production is enabled.
func (o *Operator) productionUsersEnabled() bool {
	enabled, total := o.sims.LCS.EnabledUsers(lcssim.ProductionID)
	return enabled == total
}

// kindTask is what the simulated operator does for a running step of a kind that waits for a
// person (nil do: nothing): take the rollback backup once the AOS are down, start a snapshot that
// was never started.
func (o *Operator) kindTask(st engine.StepView) (what string, do func() error, done func() bool) {
	w := o.sims.World
	switch {
	case st.Kind == "backup.verify":
		since := st.FirstStarted
		taken := func() bool {
			return slices.ContainsFunc(w.Backups(), func(b sqlsim.BackupInfo) bool { return !b.Start.Before(since) })
		}
		return "started the rollback backup (BACKUP DATABASE … TO DISK … WITH CHECKSUM; it takes 25 minutes)", func() error {
			now := o.clk.Now()
			_, err := w.TakeBackup(w.Config().SourceDatabase, true, false, now, now.Add(25*time.Minute))
			return err
		}, taken
	case st.Kind == "replication.healthy" && len(w.UnstartedSnapshots()) > 0:
		pubs := w.UnstartedSnapshots()
		return "started the snapshot agent of " + strings.Join(pubs, ", ") + " in Replication Monitor", func() error {
			for _, p := range pubs {
				if err := w.StartSnapshot(p); err != nil {
					return err
				}
			}
			return nil
		}, func() bool { return len(w.UnstartedSnapshots()) == 0 }
	}
	return "", nil, nil
}

// Fixing implements helper: the run is blocked, and the operator is about to fix a failed step.
func (o *Operator) Fixing(s engine.Snapshot) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, st := range s.Steps {
		if st.State != engine.StateFailed || o.fixes[st.ID] == fixDone {
			continue
		}
		if what, _ := o.fix(context.Background(), nil, st); what != "" {
			return fmt.Sprintf("the simulated toolkit operator is fixing %s (%s)", st.ID, what)
		}
	}
	return ""
}

// Run implements helper: it follows the run's steps and acts on them.
func (o *Operator) Run(ctx context.Context, e *engine.Engine) {
	w := o.sims.World
	o.did = map[string]bool{}
	if o.notices != nil {
		o.notices.Attach(e)
	}
	later := func(step, what string, do func() error, finished func()) {
		go func() {
			if clock.Sleep(ctx, o.clk, 2*time.Minute) != nil {
				return
			}
			err := do()
			if finished != nil {
				finished()
			}
			if err != nil {
				e.Logf(engine.LevelWarn, step, "simulated operator: %s: %v", what, err)
				return
			}
			e.Logf(engine.LevelInfo, step, "simulated operator: %s", what)
		}()
	}
	handle := func(st engine.StepView) {
		key := fmt.Sprintf("%s/%d/%s", st.ID, st.Attempt, st.State)
		if o.did[key] {
			return
		}
		if st.State == engine.StateFailed {
			o.mu.Lock()
			what, do := o.fix(ctx, e, st)
			if do == nil || o.fixes[st.ID] != fixNone {
				o.mu.Unlock()
				return
			}
			o.fixes[st.ID] = fixUnderway
			o.mu.Unlock()
			o.did[key] = true
			later(st.ID, what, do, func() {
				o.mu.Lock()
				o.fixes[st.ID] = fixDone
				o.mu.Unlock()
			})
			return
		}
		if o.rollback && st.ID == "rollback-upgrade" && st.State == engine.StateAwaiting && st.Confirmation != nil {
			// The rollback scenario: rather than the toolkit's rollback of the sandbox (or Resume),
			// the team goes back to AX 2012 — a no-go here, then the rollback runbook.
			o.did[key] = true
			later(st.ID, "said no-go to the toolkit's rollback: the team goes back to AX 2012", func() error {
				return e.Decline(st.ID, st.Confirmation.Request, Actor, "the business decided to go back to AX 2012 (rollback runbook)")
			}, nil)
			return
		}
		if st.State != engine.StateRunning {
			return
		}
		// done says the operator did it already (before the demo was interrupted and resumed):
		// a person at the console does not run a menu step twice.
		what, do, done := o.kindTask(st)
		switch st.ID {
		case "toolkit-nopk":
			what, do = "ran «Cutover: Setup Publication for Non PK Tables» and started the snapshots", w.CreateNoPKPublication
			done = func() bool { return w.Count(sqlsim.ActCreateNoPK) > 0 }
		case "toolkit-remove-replication":
			what, do = "ran «Cutover: Remove replication setup»", w.RemoveReplication
			done = w.ReplicationRemoved
		case "toolkit-replicated":
			what, do = "ran «Post-replication: Update environment state to Replicated»", w.MarkReplicated
			done = w.Replicated
		case "toolkit-env-setup":
			// Nothing here shows its effect (the source validated, its IP allow-listed on the
			// sandbox): the operator marks the step done when the toolkit says it completed.
			what, do = "ran «Environment preparation: Environment setup activity»; the toolkit reports it completed", func() error {
				if cur, _ := e.Snapshot().Step(st.ID); cur.State != engine.StateRunning {
					return nil
				}
				_, err := e.MarkDone(st.ID, Actor, "the toolkit reports «Environment setup activity» completed", "")
				return err
			}
			done = func() bool { cur, _ := e.Snapshot().Step(st.ID); return cur.State.Done() }
		case "trigger-upgrade":
			what, do = "ran «Data Synchronise: Trigger Transformation»", w.TriggerUpgrade
			done = func() bool { return w.UpgradeState().Triggered }
		case "production-refresh":
			what, do = "started the refresh in the LCS portal (production → Maintain → Move database → Refresh database)", func() error {
				_, err := o.sims.LCS.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID)
				return err
			}
			done = func() bool { return o.sims.LCS.Stats().PortalRefreshes[lcssim.ProductionID] > 0 }
		case "upgrade-checklist", "start-snapshots":
			// The simulated world was set up "the prior weekend": the checklist was run and the
			// snapshots delivered; the operator says so.
			what, do = OperatorSteps[st.ID], func() error {
				if cur, _ := e.Snapshot().Step(st.ID); cur.State != engine.StateRunning {
					return nil
				}
				_, err := e.MarkDone(st.ID, Actor, OperatorSteps[st.ID], "")
				return err
			}
			done = func() bool { cur, _ := e.Snapshot().Step(st.ID); return cur.State.Done() }
		case "users-enable":
			// The manual step of enabling production's users after the refresh: the operator does
			// it in the simulated environment and marks the step done.
			what, do = "enabled the users in production (System administration > Users > Users)", func() error {
				if err := o.sims.LCS.EnableUsers(lcssim.ProductionID); err != nil {
					return err
				}
				if cur, _ := e.Snapshot().Step(st.ID); cur.State != engine.StateRunning {
					return nil
				}
				_, err := e.MarkDone(st.ID, Actor, OperatorSteps[st.ID], "")
				return err
			}
			done = o.productionUsersEnabled
		default:
			if do == nil {
				return
			}
		}
		o.did[key] = true
		if done() {
			e.Logf(engine.LevelInfo, st.ID, "simulated operator: already done before the restart: %s", what)
			return
		}
		later(st.ID, what, func() error {
			if done() {
				return nil
			}
			return do()
		}, nil)
	}
	snap, events := e.Subscribe(ctx)
	for _, st := range snap.Steps {
		handle(st)
	}
	for {
		ev, ok := <-events
		if !ok {
			return
		}
		switch ev := ev.(type) {
		case engine.StepChanged:
			handle(ev.Step)
		case engine.Resync:
			snap, events = e.Subscribe(ctx)
			for _, st := range snap.Steps {
				handle(st)
			}
		}
	}
}

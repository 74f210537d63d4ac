// Views: the snapshots front ends render (the run, its steps, the outcome).

package engine

import (
	"context"
	"slices"
	"time"
)

// Snapshot returns the whole run as it is now.
func (e *Engine) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshotLocked()
}

// Subscribe returns the current snapshot and the events that follow it, with no gap and no
// overlap. The channel closes when ctx ends or the engine stops; after a Resync event, subscribe
// again.
func (e *Engine) Subscribe(ctx context.Context) (Snapshot, <-chan Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshotLocked(), e.bus.Subscribe(ctx)
}

func (e *Engine) snapshotLocked() Snapshot {
	snap := Snapshot{At: e.clock.Now(), Run: e.runViewLocked(), Steps: make([]StepView, 0, len(e.rb.Steps))}
	if e.j != nil {
		snap.Seq = e.j.Seq()
	}
	for _, def := range e.rb.Steps {
		snap.Steps = append(snap.Steps, e.viewLocked(e.st.steps[def.ID]))
	}
	return snap
}

func (e *Engine) runViewLocked() RunView {
	rv := RunView{
		Name: e.rb.Name, Environment: e.rb.Environment, Runbook: e.rb.File, RunbookHash: e.rb.Hash,
		StateDir: e.stateDir, Rehearsal: e.rb.Rehearsal, AutoConfirm: e.opts.AutoConfirm,
		Phases: append([]string(nil), e.rb.Phases...), Downtime: e.rb.Downtime,
		Opened: e.st.opened, Finished: e.st.finished, Paused: e.st.paused, PausedBy: e.st.pausedBy,
		PauseReason: e.st.pauseWhy, Outcome: e.outcomeLocked(), Starts: e.st.starts,
	}
	if e.j != nil {
		rv.JournalHead = e.j.Head()
	}
	if e.halted != nil {
		rv.Halted = e.halted.Error()
	}
	rv.Baseline = e.baselineViewLocked()
	return rv
}

// outcomeLocked sums up where the run stands.
func (e *Engine) outcomeLocked() Outcome {
	if e.halted != nil {
		return OutcomeHalted
	}
	if !e.st.finished.IsZero() {
		return OutcomeCompleted
	}
	if e.st.paused {
		return OutcomePaused
	}
	waiting := false
	for _, st := range e.st.order {
		state := e.st.viewState(st)
		switch w := operatorWait(state, st.kind.Mode()); {
		case w == WaitConfirmation || w == WaitCompletion:
			// A failed step waits for a decision too, but leaves the run blocked, not waiting.
			waiting = true
		case state == StateRunning || state == StateRetrying:
			return OutcomeRunning
		case state == StateReady:
			if !st.guarded() || st.approved || st.request == 0 {
				return OutcomeRunning
			}
			waiting = true
		}
	}
	if waiting {
		return OutcomeWaiting
	}
	for _, st := range e.st.order {
		if !st.state.Done() {
			return OutcomeBlocked
		}
	}
	// Every step is done; the run is completed once run.finished is journaled.
	return OutcomeRunning
}

func (e *Engine) viewLocked(st *stepRT) StepView {
	d := st.def
	v := StepView{
		ID: d.ID, Title: d.Title, Phase: d.Phase, Kind: d.Kind, Mode: st.kind.Mode(), Description: d.Description, Doc: d.Doc,
		Owner: d.Owner, After: d.After, Destructive: d.Destructive, Idempotent: d.Idempotent,
		Planned: d.Planned, Timeout: d.Timeout, Action: e.describe(d, st.attempt+1), StopEffect: stopEffect(d.Spec),
		State: e.st.viewState(st), Since: st.since, Attempt: st.attempt, MaxAttempts: d.Retries + 1,
		FirstAsked: st.firstAsked, FirstStarted: st.firstStarted, Started: st.started, Finished: st.finished, RetryAt: st.retryAt,
		LastError: st.lastError, Message: st.message, Output: append([]string(nil), st.output...),
		ByHand: st.byHand, By: st.by, Reason: st.reason, VerifiesBackup: verifiesRollbackPoint(st.kind, d.Spec),
		ConfirmedBy: append([]Approval(nil), st.confirmed...),
		Guard:       guardView(st), Override: overrideView(st),
		OverriddenBy: append([]Approval(nil), st.overriddenBy...),
	}
	if d.When != nil {
		v.WhenFailed = d.When.Failed
	}
	if e.baseline != nil {
		v.Baseline = e.baseline.Steps[d.ID].Duration()
	}
	if st.state == StateAwaiting {
		v.Confirmation = &ConfirmationView{Request: st.request, Phrase: d.Phrase(), Needed: st.needed,
			Approvals: append([]Approval(nil), st.approvals...), Since: st.asked, Action: st.action,
			Lists: slices.Clone(st.lists)}
		if h, ok := e.holds[d.ID]; ok && time.Now().Before(h.until) {
			v.Confirmation.HeldBy = &HoldView{Actor: h.actor, Since: h.since, Until: h.until}
		}
	}
	return v
}

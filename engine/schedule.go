// Scheduling: which steps are ready, conditional steps, confirmation requests, the run's end.

package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cutover/engine/clock"
)

// loop is the scheduler: it starts what can start whenever something changes or a retry is due.
func (e *Engine) loop(ctx context.Context) {
	defer close(e.loopDone)
	for {
		e.mu.Lock()
		next := e.scheduleLocked()
		e.mu.Unlock()
		var timer clock.Timer
		var due <-chan time.Time
		if !next.IsZero() {
			timer = e.clock.NewTimer(next.Sub(e.clock.Now()))
			due = timer.C()
		}
		select {
		case <-e.kick:
		case <-due:
		case <-ctx.Done():
		case <-e.runCtx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil || e.runCtx.Err() != nil {
			return
		}
	}
}

func (e *Engine) kickLocked() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// scheduleLocked starts every step that can start and returns when it next needs to look (a retry
// that is due later), or the zero time.
func (e *Engine) scheduleLocked() time.Time {
	var next time.Time
	if !e.started || e.draining || e.stopping || e.halted != nil {
		return next
	}
	now := e.clock.Now()
	running, exclusive := 0, false
	for _, st := range e.st.order {
		if st.running {
			running++
			exclusive = exclusive || st.def.Exclusive
		}
	}
	canRun := func(st *stepRT) bool {
		if exclusive {
			return false
		}
		if st.def.Exclusive && running > 0 {
			return false
		}
		return e.rb.Parallelism == 0 || running < e.rb.Parallelism
	}
	for _, st := range e.st.order {
		if e.halted != nil {
			return time.Time{}
		}
		if st.def.When != nil && e.settleConditionLocked(st, nil) {
			continue
		}
		switch {
		case e.opts.AutoConfirm && st.state == StateAwaiting && st.def.When == nil && !e.st.paused:
			// A request left open by a crash right after it was made.
			e.autoApproveLocked(st, st.request)
		case e.opts.AutoConfirm && st.state == StateRunning && st.kind.Mode() == ModeManual && !e.st.paused &&
			(e.opts.DoneByOthers == nil || !e.opts.DoneByOthers(st.def.ID)):
			e.autoCompleteLocked(st)
		case st.state == StateRetrying:
			if st.retryAt.After(now) {
				if next.IsZero() || st.retryAt.Before(next) {
					next = st.retryAt
				}
				continue
			}
			if e.st.paused || !canRun(st) {
				continue
			}
			if e.startLocked(st, st.attempt+1) {
				running++
				exclusive = exclusive || st.def.Exclusive
			}
		case st.state == StatePending && e.st.depsDone(st):
			if e.st.paused {
				continue
			}
			if st.guarded() && !st.approved {
				if st.request == 0 && !st.previewing {
					if pv, ok := st.def.Spec.(Previewer); ok {
						e.previewLocked(st, pv)
					} else {
						e.requestLocked(st, Preview{})
					}
				}
				if !st.approved {
					continue
				}
			}
			switch st.kind.Mode() {
			case ModeGate:
				_, _ = e.commitLocked(RecSucceeded, st.def.ID, Succeeded{Attempt: 1, Message: "go: " + approvers(st.confirmed), Actor: lastApprover(st.confirmed)})
			case ModeManual:
				if _, err := e.commitLocked(RecStarted, st.def.ID, Started{Attempt: 1, Action: e.describe(st.def, 1)}); err != nil {
					continue
				}
				if e.opts.AutoConfirm && (e.opts.DoneByOthers == nil || !e.opts.DoneByOthers(st.def.ID)) {
					e.autoCompleteLocked(st)
				}
			default:
				if !canRun(st) {
					if st.def.Exclusive {
						// Hold everything else back so the exclusive step is not starved.
						exclusive = true
					}
					continue
				}
				if e.startLocked(st, st.attempt+1) {
					running++
					exclusive = exclusive || st.def.Exclusive
				}
			}
		}
	}
	e.maybeFinishLocked()
	return next
}

// settleConditionLocked keeps a conditional step (runbook `when: {failed: ID}`) in line with its
// trigger while it has not acted on its condition (conditionOpen): once the trigger is done the
// step is not needed; while the trigger is neither failed nor done (an operator retried it: the
// toolkit's Resume) the step's open confirmation request, its approvals or its no-go are
// withdrawn and it waits again, so the two choices never run at once. by is who retried the
// trigger (nil when the scheduler finds it so). It reports whether it journaled anything.
func (e *Engine) settleConditionLocked(st *stepRT, by *Actor) bool {
	c := st.def.When
	if c == nil || !st.conditionOpen() {
		return false
	}
	trig := e.st.steps[c.Failed]
	if trig == nil {
		return false
	}
	switch {
	case trig.state.Done():
		_, err := e.commitLocked(RecNotNeeded, st.def.ID, NotNeeded{Trigger: c.Failed, Outcome: doneWords(trig)})
		return err == nil
	case trig.state != StateFailed && (st.state != StatePending || st.request != 0 || st.approved):
		_, err := e.commitLocked(RecConditionLapsed, st.def.ID, ConditionLapsed{Trigger: c.Failed,
			TriggerState: e.st.viewState(trig).String(), Request: st.request, Actor: by})
		return err == nil
	}
	return false
}

// fallbacksLocked are the conditional steps that answer step's failure (`when: {failed: step}`).
func (e *Engine) fallbacksLocked(step string) []*stepRT {
	var out []*stepRT
	for _, c := range e.children[step] {
		if c.def.Triggers(step) {
			out = append(out, c)
		}
	}
	return out
}

// previewTimeout bounds how long a preview may take before the request opens without it.
const previewTimeout = 2 * time.Minute

// previewLocked looks at the world for st's confirmation request in the background, then opens
// the request with what it saw.
func (e *Engine) previewLocked(st *stepRT, pv Previewer) {
	st.previewing = true
	run := &Run{Step: st.def, Attempt: st.attempt + 1, e: e}
	run.earlierOf, run.earlier = st.earlierThan(run.Attempt)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.runCtx, previewTimeout)
		pre, err := pv.Preview(ctx, run)
		cancel()
		if err != nil {
			pre = Preview{Text: "could not look before asking: " + err.Error()}
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		st.previewing = false
		if e.stopping || e.halted != nil || st.state != StatePending || st.request != 0 || st.approved || !e.st.depsDone(st) {
			return
		}
		e.requestLocked(st, pre)
		e.kickLocked()
	}()
}

// requestLocked opens a confirmation request for st (and answers it when auto-confirming). preview
// is what the step saw just before asking.
func (e *Engine) requestLocked(st *stepRT, preview Preview) {
	action := actionText(e.describe(st.def, st.attempt+1), preview)
	rec, err := e.commitLocked(RecAwaiting, st.def.ID, Awaiting{Action: action, Needed: st.def.RequiredApprovals(), Lists: preview.Lists})
	if err != nil {
		return
	}
	because := ""
	if c := st.def.When; c != nil {
		because = fmt.Sprintf(" (because %s failed; the other choice is to retry %s)", c.Failed, c.Failed)
		if e.opts.AutoConfirm {
			// Taking the fallback over retrying its trigger is a decision: --yes never makes it.
			because += "; not confirmed automatically (--yes): choosing between them is an operator's decision"
		}
	} else if e.opts.AutoConfirm {
		e.autoApproveLocked(st, rec.Seq)
		return
	}
	e.logs.addLine(LevelWarn, st.def.ID, "", true, fmt.Sprintf("needs confirmation%s: type %q (%d operator(s)) to %s", because, st.def.Phrase(), st.def.RequiredApprovals(), action))
}

// autoApproveLocked answers a confirmation request automatically (rehearsal run with --yes).
func (e *Engine) autoApproveLocked(st *stepRT, request uint64) {
	_, _ = e.commitLocked(RecApproved, st.def.ID, Approved{Request: request, Actor: System("rehearsal --yes"),
		Count: st.def.RequiredApprovals(), Needed: st.def.RequiredApprovals(), Auto: true})
}

// autoCompleteLocked marks a manual step done automatically (rehearsal run with --yes).
func (e *Engine) autoCompleteLocked(st *stepRT) {
	auto := System("rehearsal --yes")
	_, _ = e.commitLocked(RecSucceeded, st.def.ID, Succeeded{Attempt: st.attempt, Message: "marked done automatically (rehearsal run with --yes)", Actor: &auto})
}

// maybeFinishLocked journals the end of the run once every step is done.
func (e *Engine) maybeFinishLocked() {
	if !e.st.finished.IsZero() {
		return
	}
	var ok, skipped, notNeeded int
	for _, st := range e.st.order {
		switch st.state {
		case StateSucceeded:
			ok++
		case StateSkipped:
			skipped++
		case StateNotNeeded:
			notNeeded++
		default:
			return
		}
	}
	if _, err := e.commitLocked(RecRunFinished, "", RunFinished{Succeeded: ok, Skipped: skipped, NotNeeded: notNeeded}); err == nil {
		msg := fmt.Sprintf("run completed: %d steps succeeded, %d skipped", ok, skipped)
		if notNeeded > 0 {
			msg += fmt.Sprintf(", %d not needed", notNeeded)
		}
		e.logs.add(LevelInfo, "", "", msg)
	}
}

func approvers(as []Approval) string {
	names := make([]string, 0, len(as))
	for _, a := range as {
		if a.Actor.Role == RoleSystem {
			names = append(names, a.Actor.Origin)
			continue
		}
		names = append(names, a.Actor.Name)
	}
	if len(names) == 0 {
		return "approved"
	}
	return "approved by " + strings.Join(names, ", ")
}

func lastApprover(as []Approval) *Actor {
	if len(as) == 0 {
		return nil
	}
	a := as[len(as)-1].Actor
	return &a
}

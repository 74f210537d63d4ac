package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by operator actions. They are wrapped with the step and details; test with
// errors.Is.
var (
	ErrNotOperator     = errors.New("only operators may change the run; viewers can watch but not act")
	ErrNoSuchStep      = errors.New("no such step")
	ErrNotAwaiting     = errors.New("the step is not waiting for confirmation")
	ErrStaleRequest    = errors.New("that confirmation request is no longer open; look at the step again")
	ErrWrongPhrase     = errors.New("the typed phrase does not match")
	ErrAlreadyApproved = errors.New("you have already confirmed this step; it needs another operator")
	ErrReasonRequired  = errors.New("a reason is required")
	ErrNotAllowed      = errors.New("not possible in the step's current state")
	ErrClosed          = errors.New("the engine is closed")
)

// ConfirmResult says where a confirmation request, or a guarded override (guard.go), stands after
// an approval: Count of the Needed distinct operators have approved; Satisfied once they all have.
type ConfirmResult struct {
	Count     int
	Needed    int
	Satisfied bool
}

func (e *Engine) actLocked(step string, actor Actor) (*stepRT, error) {
	if e.closed || e.j == nil {
		return nil, ErrClosed
	}
	if e.halted != nil {
		return nil, fmt.Errorf("%w: %v", ErrHalted, e.halted)
	}
	var st *stepRT
	if step != "" {
		st = e.st.steps[step]
		if st == nil {
			return nil, fmt.Errorf("%w: %q", ErrNoSuchStep, step)
		}
	}
	if actor.Role != RoleOperator {
		return st, fmt.Errorf("%w (%s is a %s)", ErrNotOperator, actor.Name, actor.Role)
	}
	return st, nil
}

// Confirm is an operator typing the phrase for a step awaiting confirmation. request is the
// request id shown with the step (0 means whichever request is open). Refused attempts — a viewer,
// a wrong phrase, the same operator twice — are journaled as evidence and return an error. When
// enough distinct operators have confirmed, the step goes ahead.
func (e *Engine) Confirm(step string, request uint64, actor Actor, phrase string) (ConfirmResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if st == nil {
		return ConfirmResult{}, err
	}
	if st.state != StateAwaiting {
		return ConfirmResult{}, fmt.Errorf("step %s: %w (it is %s)", step, ErrNotAwaiting, e.st.viewState(st))
	}
	if request != 0 && request != st.request {
		return ConfirmResult{}, fmt.Errorf("step %s: %w", step, ErrStaleRequest)
	}
	refuse := func(reason string, cause error) (ConfirmResult, error) {
		if _, jerr := e.commitLocked(RecConfirmRefused, step, ConfirmRefused{Request: st.request, Actor: actor, Reason: reason}); jerr != nil {
			return ConfirmResult{}, jerr
		}
		return ConfirmResult{Count: len(st.approvals), Needed: st.needed}, fmt.Errorf("step %s: %w", step, cause)
	}
	if err != nil {
		return refuse(actor.Name+" is a "+string(actor.Role)+", not an operator", ErrNotOperator)
	}
	if h, held := e.heldByOtherLocked(step, actor); held {
		return refuse(h.actor.Name+" is confirming it", fmt.Errorf("%w: %s since %s", ErrHeld, h.actor, h.since.Local().Format("15:04:05")))
	}
	if strings.TrimSpace(phrase) != st.def.Phrase() {
		return refuse("wrong phrase typed", fmt.Errorf("%w: type exactly %q", ErrWrongPhrase, st.def.Phrase()))
	}
	for _, a := range st.approvals {
		if a.Actor.ID() == actor.ID() {
			return refuse(actor.Name+" had already confirmed", ErrAlreadyApproved)
		}
	}
	count := len(st.approvals) + 1
	delete(e.holds, step)
	if _, err := e.commitLocked(RecApproved, step, Approved{Request: st.request, Actor: actor, Count: count, Needed: st.needed}); err != nil {
		return ConfirmResult{}, err
	}
	return ConfirmResult{Count: count, Needed: st.needed, Satisfied: count >= st.needed}, nil
}

// endedWords says how a step ended, for a refusal: "it has already succeeded", "it is not needed
// (…)".
func endedWords(st *stepRT) string {
	if st.state == StateNotNeeded {
		return "it is " + st.message
	}
	return "it has already " + st.state.String()
}

// Decline is a no-go: an operator refuses a step awaiting confirmation. The step fails with the
// reason; Retry asks again later.
func (e *Engine) Decline(step string, request uint64, actor Actor, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if err != nil {
		return err
	}
	if st.state != StateAwaiting {
		return fmt.Errorf("step %s: %w (it is %s)", step, ErrNotAwaiting, e.st.viewState(st))
	}
	if request != 0 && request != st.request {
		return fmt.Errorf("step %s: %w", step, ErrStaleRequest)
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("step %s: %w: say why it is a no-go", step, ErrReasonRequired)
	}
	_, err = e.commitLocked(RecDeclined, step, Declined{Request: st.request, Actor: actor, Reason: reason})
	return err
}

// Skip marks a step skipped, with a reason: its dependents may go ahead as if it had succeeded.
// A running step must be aborted first, unless it is a manual step (no code runs for it). A guarded step (guard.go) is skipped only by an override:
// each call with its skip phrase is one operator's approval (the first opens the override with
// the reason; later ones join it and their reason is a note), and the step is skipped when the
// last needed operator approves. The result says where the override stands; a step that is not
// guarded is skipped at once (Count 1 of 1).
func (e *Engine) Skip(step string, actor Actor, reason, phrase string) (ConfirmResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if st == nil || (err != nil && !st.guarded()) {
		return ConfirmResult{}, err
	}
	switch st.state {
	case StatePending, StateAwaiting, StateFailed, StateRetrying:
	case StateRunning:
		// A manual step in an operator's hands runs no code: it can be skipped as it is.
		if st.kind.Mode() != ModeManual {
			return ConfirmResult{}, fmt.Errorf("step %s: %w: it is running; abort it first", step, ErrNotAllowed)
		}
	default:
		return ConfirmResult{}, fmt.Errorf("step %s: %w: %s", step, ErrNotAllowed, endedWords(st))
	}
	if st.guarded() {
		return e.overrideLocked(st, OverrideSkip, actor, err, reason, phrase, func(o *overrideRT) error {
			_, err := e.commitLocked(RecSkipped, step, overrideRecord(o))
			return err
		})
	}
	if strings.TrimSpace(reason) == "" {
		return ConfirmResult{}, fmt.Errorf("step %s: %w: say why it is skipped", step, ErrReasonRequired)
	}
	if _, err := e.commitLocked(RecSkipped, step, ByActor{Actor: actor, Reason: reason}); err != nil {
		return ConfirmResult{}, err
	}
	return ConfirmResult{Count: 1, Needed: 1, Satisfied: true}, nil
}

// MarkDone records that a step was done. For a running manual step this is its normal completion
// (the reason is optional; it was confirmed before it started, if it is guarded). Otherwise it is
// done by hand: it needs a reason, every dependency done first (the refusal names the ones that
// are not), and, for a guarded step, an override exactly as Skip (with the done phrase). A
// running step whose code is not safe to cut short must be aborted first.
func (e *Engine) MarkDone(step string, actor Actor, reason, phrase string) (ConfirmResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if st == nil {
		return ConfirmResult{}, err
	}
	reason = strings.TrimSpace(reason)
	if st.state == StateRunning && st.kind.Mode() == ModeManual {
		if err != nil {
			return ConfirmResult{}, err
		}
		msg := "done"
		if reason != "" {
			msg = "done: " + reason
		}
		if _, err := e.commitLocked(RecSucceeded, step, Succeeded{Attempt: st.attempt, Message: msg, Actor: &actor}); err != nil {
			return ConfirmResult{}, err
		}
		return ConfirmResult{Count: 1, Needed: 1, Satisfied: true}, nil
	}
	if err != nil && !st.guarded() {
		return ConfirmResult{}, err
	}
	switch st.state {
	case StatePending, StateAwaiting, StateFailed, StateRetrying:
	case StateRunning:
		if rr, ok := st.def.Spec.(Rerunnable); !ok || !rr.Rerunnable() {
			return ConfirmResult{}, fmt.Errorf("step %s: %w: it is running; abort it first, then mark it done", step, ErrNotAllowed)
		}
	default:
		return ConfirmResult{}, fmt.Errorf("step %s: %w: %s", step, ErrNotAllowed, endedWords(st))
	}
	if deps := e.st.pendingDeps(st); len(deps) > 0 {
		return ConfirmResult{}, fmt.Errorf("step %s: cannot be marked done: %w: it waits for %s", step, ErrDependencies, strings.Join(deps, ", "))
	}
	done := func(rec ByActor) error {
		if st.state == StateRunning && st.cancel != nil {
			st.cancel(fmt.Errorf("marked done by %s", actor.Name))
		}
		_, err := e.commitLocked(RecDoneByHand, step, rec)
		return err
	}
	if st.guarded() {
		return e.overrideLocked(st, OverrideDone, actor, err, reason, phrase, func(o *overrideRT) error { return done(overrideRecord(o)) })
	}
	if reason == "" {
		return ConfirmResult{}, fmt.Errorf("step %s: %w: say how it was done", step, ErrReasonRequired)
	}
	if err := done(ByActor{Actor: actor, Reason: reason}); err != nil {
		return ConfirmResult{}, err
	}
	return ConfirmResult{Count: 1, Needed: 1, Satisfied: true}, nil
}

// Retry runs a failed step again, or starts a step waiting for its next automatic attempt right
// away. A guarded step (guard.go) does not run again on this alone: it asks for its confirmation
// again — a new request, with what the step sees now — and runs when that request has its phrase
// from as many distinct operators as the step needs. That holds for a guarded step waiting for its
// next automatic attempt too: an operator's retry replaces the confirmation it had. A step whose
// failure a conditional step answers (`when: {failed}`) cannot be retried while that step runs;
// when it is retried, that step's open confirmation (its approvals, its no-go) is withdrawn and
// it waits again: it runs only if this step fails again.
func (e *Engine) Retry(step string, actor Actor) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if err != nil {
		return err
	}
	if st.state != StateFailed && st.state != StateRetrying {
		return fmt.Errorf("step %s: %w: only a failed or retrying step can be retried (it is %s)", step, ErrNotAllowed, e.st.viewState(st))
	}
	fallbacks := e.fallbacksLocked(step)
	for _, f := range fallbacks {
		if f.state == StateRunning || f.state == StateRetrying {
			return fmt.Errorf("step %s: %w: %s, which runs because it failed (when: failed), is %s; abort it or let it end first", step, ErrNotAllowed, f.def.ID, f.state)
		}
	}
	if _, err := e.commitLocked(RecRetry, step, ByActor{Actor: actor, Reconfirm: st.guarded()}); err != nil {
		return err
	}
	// The other choice is withdrawn while this one runs (settleConditionLocked).
	for _, f := range fallbacks {
		e.settleConditionLocked(f, &actor)
	}
	return nil
}

// Abort stops a running or retrying step; it fails with the reason. A running command's process
// group is killed.
func (e *Engine) Abort(step string, actor Actor, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("step %s: %w: say why it is aborted", step, ErrReasonRequired)
	}
	switch {
	case st.state == StateRunning && st.running && st.cancel != nil:
		st.cancel(abortCause{actor: actor, reason: reason})
		return nil
	case st.state == StateRunning || st.state == StateRetrying:
		a := abortCause{actor: actor, reason: reason}
		_, err = e.commitLocked(RecFailed, step, Failed{Attempt: st.attempt, Error: a.Error(), AbortedBy: &actor})
		return err
	}
	return fmt.Errorf("step %s: %w: only a running or retrying step can be aborted (it is %s)", step, ErrNotAllowed, e.st.viewState(st))
}

// Pause stops new steps from starting (running ones continue).
func (e *Engine) Pause(actor Actor, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.actLocked("", actor); err != nil {
		return err
	}
	if e.st.paused {
		return fmt.Errorf("%w: the run is already paused", ErrNotAllowed)
	}
	_, err := e.commitLocked(RecRunPaused, "", RunPaused{Actor: actor, Reason: reason})
	return err
}

// Resume lets steps start again after Pause.
func (e *Engine) Resume(actor Actor) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.actLocked("", actor); err != nil {
		return err
	}
	if !e.st.paused {
		return fmt.Errorf("%w: the run is not paused", ErrNotAllowed)
	}
	_, err := e.commitLocked(RecRunResumed, "", ByActor{Actor: actor})
	return err
}

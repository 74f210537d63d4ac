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

// ConfirmResult says where a confirmation request stands after an approval.
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
// A running step must be aborted first.
func (e *Engine) Skip(step string, actor Actor, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("step %s: %w: say why it is skipped", step, ErrReasonRequired)
	}
	switch st.state {
	case StatePending, StateAwaiting, StateFailed, StateRetrying:
	case StateRunning:
		return fmt.Errorf("step %s: %w: it is running; abort it first", step, ErrNotAllowed)
	default:
		return fmt.Errorf("step %s: %w: it has already %s", step, ErrNotAllowed, st.state)
	}
	_, err = e.commitLocked(RecSkipped, step, ByActor{Actor: actor, Reason: reason})
	return err
}

// MarkDone records that a step was done. For a running manual step this is its normal completion
// (the reason is optional); otherwise it is done by hand and needs a reason. A running step whose
// code is not safe to cut short must be aborted first.
func (e *Engine) MarkDone(step string, actor Actor, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if st.state == StateRunning && st.kind.Mode() == ModeManual {
		msg := "done"
		if reason != "" {
			msg = "done: " + reason
		}
		_, err = e.commitLocked(RecSucceeded, step, Succeeded{Attempt: st.attempt, Message: msg, Actor: &actor})
		return err
	}
	if reason == "" {
		return fmt.Errorf("step %s: %w: say how it was done", step, ErrReasonRequired)
	}
	switch st.state {
	case StatePending, StateAwaiting, StateFailed, StateRetrying:
	case StateRunning:
		rr, ok := st.def.Spec.(Rerunnable)
		if !ok || !rr.Rerunnable() {
			return fmt.Errorf("step %s: %w: it is running; abort it first, then mark it done", step, ErrNotAllowed)
		}
		if st.cancel != nil {
			st.cancel(fmt.Errorf("marked done by %s", actor.Name))
		}
	default:
		return fmt.Errorf("step %s: %w: it has already %s", step, ErrNotAllowed, st.state)
	}
	_, err = e.commitLocked(RecDoneByHand, step, ByActor{Actor: actor, Reason: reason})
	return err
}

// Retry runs a failed step again (asking for confirmation again if it needs one), or starts a
// step waiting for its next automatic attempt right away.
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
	_, err = e.commitLocked(RecRetry, step, ByActor{Actor: actor})
	return err
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

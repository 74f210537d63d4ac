package engine

import (
	"errors"
	"fmt"
	"time"
)

// ErrHeld is returned when another operator is already confirming the step.
var ErrHeld = errors.New("another operator is confirming this step")

// holdFor bounds a hold: an operator who walks away from an open confirmation does not block the
// step for longer (they can take it again).
const holdFor = 5 * time.Minute

// hold is an operator's claim on a step awaiting confirmation while they type its phrase. Holds
// are not journaled: they only keep two people from driving the same step at once; what each
// confirms is journaled as always.
type hold struct {
	actor Actor
	since time.Time
	until time.Time
}

// HoldView says who is confirming a step.
type HoldView struct {
	Actor Actor
	Since time.Time
	// Until is when the hold lapses if it is not renewed (real time, not the demo's clock).
	Until time.Time
}

// HeldByOther is the hold on the step's open confirmation when someone other than me holds it
// and the hold has not lapsed, else nil: me must wait, the step is being confirmed.
func (v StepView) HeldByOther(me Actor) *HoldView {
	if v.Confirmation == nil || v.Confirmation.HeldBy == nil {
		return nil
	}
	h := v.Confirmation.HeldBy
	if h.Actor.ID() == me.ID() || !time.Now().Before(h.Until) {
		return nil
	}
	return h
}

// Hold claims a step awaiting confirmation for an operator while they confirm it: only one
// operator drives a step at a time, and the others see who. Holding again renews the claim.
func (e *Engine) Hold(step string, actor Actor) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if err != nil {
		return err
	}
	if st.state != StateAwaiting {
		return fmt.Errorf("step %s: %w (it is %s)", step, ErrNotAwaiting, e.st.viewState(st))
	}
	now := time.Now()
	if h, ok := e.holds[step]; ok && h.actor.ID() != actor.ID() && now.Before(h.until) {
		return fmt.Errorf("step %s: %w: %s since %s", step, ErrHeld, h.actor, h.since.Local().Format("15:04:05"))
	}
	since := now
	if h, ok := e.holds[step]; ok && h.actor.ID() == actor.ID() {
		since = h.since
	}
	e.holds[step] = hold{actor: actor, since: since, until: now.Add(holdFor)}
	e.publishHoldLocked(st)
	return nil
}

// Release gives up an operator's hold on a step (closing the dialog, leaving the session).
func (e *Engine) Release(step string, actor Actor) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if h, ok := e.holds[step]; ok && h.actor.ID() == actor.ID() {
		delete(e.holds, step)
		if st := e.st.steps[step]; st != nil {
			e.publishHoldLocked(st)
		}
	}
}

// ReleaseAll gives up every hold of an operator (their session ended).
func (e *Engine) ReleaseAll(actor Actor) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for step, h := range e.holds {
		if h.actor.ID() == actor.ID() {
			delete(e.holds, step)
			if st := e.st.steps[step]; st != nil {
				e.publishHoldLocked(st)
			}
		}
	}
}

// heldByOtherLocked reports the hold of someone other than actor on a step, if any.
func (e *Engine) heldByOtherLocked(step string, actor Actor) (hold, bool) {
	h, ok := e.holds[step]
	if !ok || h.actor.ID() == actor.ID() || !time.Now().Before(h.until) {
		return hold{}, false
	}
	return h, true
}

// publishHoldLocked tells the cockpits the step's hold changed (no journal record: the sequence
// number stays).
func (e *Engine) publishHoldLocked(st *stepRT) {
	if e.j == nil {
		return
	}
	e.bus.Publish(StepChanged{Seq: e.j.Seq(), At: e.clock.Now(), Step: e.viewLocked(st)})
}

package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"cutover/engine/runbook"
)

// The guard rule. A step is guarded when it is destructive, a gate, or has a `confirm:` phrase or
// `approvals:` (stepRT.guarded, the one place that is decided). Nothing lets a guarded step go
// ahead, be passed over or count as done on fewer than what confirming it takes — its phrase
// typed and the same number of distinct operators (Actor.ID), viewers never:
//
//   - running it: its confirmation request (Confirm);
//   - running it again: Retry opens a new confirmation request, also for a step waiting for its
//     next automatic attempt, and the step runs only once that request is satisfied (the request
//     shows what the step sees at that moment, and its moment is the one the step counts from);
//   - skipping it or marking it done by hand: an override request (Skip, MarkDone) with a phrase
//     of its own, OverridePhrase: "SKIP <id>" or "DONE <id>", so that typing the confirmation
//     phrase out of habit never skips or passes a step. The step is skipped or done only when the
//     last needed operator approves.
//
// An open override is withdrawn when the step changes state (it is confirmed, starts, fails, is
// retried, skipped or done — by this route or any other), when an operator withdraws it
// (WithdrawOverride), or never otherwise: it survives a restart, like a confirmation request.
// One override is open per step at a time: while a skip is open a done is refused until the skip
// is withdrawn, so approvals of two different actions never add up. Every request, approval,
// refusal (a viewer, a missing or wrong phrase, the same operator twice) and withdrawal is
// journaled.

// Errors of the guard rule; test with errors.Is.
var (
	// ErrPhraseRequired is returned when a guarded step is skipped or marked done without its
	// phrase.
	ErrPhraseRequired = errors.New("the step is guarded (destructive, a go/no-go gate, or it has confirm:/approvals:)")
	// ErrOverrideOpen is returned when another action's override is open on the step.
	ErrOverrideOpen = errors.New("another override is open on this step")
	// ErrNoOverride is returned when there is no open override to withdraw.
	ErrNoOverride = errors.New("no override is open on this step")
	// ErrDependencies is returned when a step is marked done before its dependencies are done.
	ErrDependencies = errors.New("its dependencies are not done")
)

// OverrideAction is what a guarded override asks for.
type OverrideAction string

// Override actions.
const (
	// OverrideSkip skips the step: its dependents go ahead as if it had succeeded.
	OverrideSkip OverrideAction = "skip"
	// OverrideDone records the step as done by hand instead of by cutover.
	OverrideDone OverrideAction = "done"
)

// valid reports whether a is a known action.
func (a OverrideAction) valid() bool { return a == OverrideSkip || a == OverrideDone }

// Words is the action as words: "skip it", "mark it done".
func (a OverrideAction) Words() string {
	if a == OverrideDone {
		return "mark it done"
	}
	return "skip it"
}

// verb is the action as a past participle: "skipped", "marked done".
func (a OverrideAction) verb() string {
	if a == OverrideDone {
		return "marked done"
	}
	return "skipped"
}

// OverridePhrase is what an operator types to approve action on a guarded step: "SKIP <id>" or
// "DONE <id>". It differs from the step's confirmation phrase on purpose.
func OverridePhrase(step *runbook.Step, action OverrideAction) string {
	if action == OverrideDone {
		return "DONE " + step.ID
	}
	return "SKIP " + step.ID
}

// guarded reports whether the step is guarded: the one place the rule is decided.
func (st *stepRT) guarded() bool {
	return st.def.NeedsConfirmation(st.kind.Mode() == ModeGate)
}

// GuardView says what it takes to act on a guarded step. It is nil on a step that is not guarded.
type GuardView struct {
	// Needed is how many distinct operators must confirm, skip or mark it done.
	Needed int
	// Phrase confirms the step (and a re-run of it, after a retry).
	Phrase string
	// Skip and Done are the phrases that skip it or mark it done by hand.
	Skip, Done string
}

// PhraseFor is the phrase that approves action.
func (g GuardView) PhraseFor(action OverrideAction) string {
	if action == OverrideDone {
		return g.Done
	}
	return g.Skip
}

// OverrideView is an open override request.
type OverrideView struct {
	Request uint64
	Action  OverrideAction
	// By asked for it, with Reason, at Since.
	By     Actor
	Reason string
	Since  time.Time
	// Phrase is what each approver types; Needed how many distinct operators must.
	Phrase    string
	Needed    int
	Approvals []Approval
}

// overrideRT is an open override as rebuilt from the journal.
type overrideRT struct {
	request   uint64
	action    OverrideAction
	by        Actor
	reason    string
	since     time.Time
	needed    int
	approvals []Approval
}

// guardView describes st's guard (nil when it has none).
func guardView(st *stepRT) *GuardView {
	if !st.guarded() {
		return nil
	}
	return &GuardView{Needed: st.def.RequiredApprovals(), Phrase: st.def.Phrase(),
		Skip: OverridePhrase(st.def, OverrideSkip), Done: OverridePhrase(st.def, OverrideDone)}
}

// overrideView describes st's open override (nil when none).
func overrideView(st *stepRT) *OverrideView {
	o := st.override
	if o == nil {
		return nil
	}
	return &OverrideView{Request: o.request, Action: o.action, By: o.by, Reason: o.reason, Since: o.since,
		Phrase: OverridePhrase(st.def, o.action), Needed: o.needed, Approvals: append([]Approval(nil), o.approvals...)}
}

// overrideLocked is one operator's word on a guarded skip or done by hand: it opens the override
// (with reason) or joins the open one, checks the phrase and that the operator has not approved
// already, and, when the last needed operator approves, lets complete record the action. actorErr
// is the actor check's verdict (a viewer is refused here so that the attempt is journaled).
// Refusals are journaled as evidence; the state checks are the caller's.
func (e *Engine) overrideLocked(st *stepRT, action OverrideAction, actor Actor, actorErr error, reason, phrase string,
	complete func(o *overrideRT) error) (ConfirmResult, error) {
	step := st.def.ID
	o := st.override
	if o != nil && o.action != action {
		return ConfirmResult{Count: len(o.approvals), Needed: o.needed}, fmt.Errorf("step %s: %w: %s asked to %s (%d of %d approvals); approve that, or withdraw it first",
			step, ErrOverrideOpen, o.by.Name, o.action.Words(), len(o.approvals), o.needed)
	}
	needed := st.def.RequiredApprovals()
	var request uint64
	count := 0
	if o != nil {
		request, needed, count = o.request, o.needed, len(o.approvals)
	}
	refuse := func(why string, cause error) (ConfirmResult, error) {
		if _, err := e.commitLocked(RecOverrideRefused, step, OverrideRefused{Request: request, Action: action, Actor: actor, Reason: why}); err != nil {
			return ConfirmResult{}, err
		}
		return ConfirmResult{Count: count, Needed: needed}, fmt.Errorf("step %s: %w", step, cause)
	}
	if actorErr != nil {
		return refuse(actor.Name+" is a "+string(actor.Role)+", not an operator", actorErr)
	}
	reason = strings.TrimSpace(reason)
	if o == nil && reason == "" {
		return ConfirmResult{Needed: needed}, fmt.Errorf("step %s: %w: say why it is %s", step, ErrReasonRequired, action.verb())
	}
	want := OverridePhrase(st.def, action)
	switch typed := strings.TrimSpace(phrase); {
	case typed == "":
		return refuse("no phrase typed", fmt.Errorf("%w: to %s, type %q (%d operator(s))", ErrPhraseRequired, action.Words(), want, needed))
	case typed != want:
		return refuse("wrong phrase typed", fmt.Errorf("%w: type exactly %q", ErrWrongPhrase, want))
	}
	note := reason
	if o == nil {
		rec, err := e.commitLocked(RecOverrideRequested, step, OverrideRequested{Action: action, Actor: actor, Reason: reason, Needed: needed})
		if err != nil {
			return ConfirmResult{}, err
		}
		if o, request, note = st.override, rec.Seq, ""; o == nil || o.request != request {
			return ConfirmResult{}, fmt.Errorf("step %s: the override request was not recorded", step)
		}
	}
	for _, a := range o.approvals {
		if a.Actor.ID() == actor.ID() {
			return refuse(actor.Name+" had already approved", ErrAlreadyApproved)
		}
	}
	count = len(o.approvals) + 1
	if _, err := e.commitLocked(RecOverrideApproved, step, OverrideApproved{Request: request, Action: action, Actor: actor,
		Count: count, Needed: needed, Note: note}); err != nil {
		return ConfirmResult{}, err
	}
	res := ConfirmResult{Count: count, Needed: needed, Satisfied: count >= needed}
	if !res.Satisfied {
		return res, nil
	}
	if err := complete(o); err != nil {
		return ConfirmResult{Count: count, Needed: needed}, err
	}
	return res, nil
}

// overrideRecord is the record that ends a satisfied override: the request's asker and reason,
// and every approval.
func overrideRecord(o *overrideRT) ByActor {
	return ByActor{Actor: o.by, Reason: o.reason, Override: o.request, Approvals: append([]Approval(nil), o.approvals...)}
}

// WithdrawOverride closes the override open on a step without acting (any operator may: it is
// a no to the override). request is the override's id (0: whichever is open). It is journaled.
func (e *Engine) WithdrawOverride(step string, request uint64, actor Actor, reason string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.actLocked(step, actor)
	if err != nil {
		return err
	}
	o := st.override
	if o == nil || (request != 0 && request != o.request) {
		return fmt.Errorf("step %s: %w", step, ErrNoOverride)
	}
	_, err = e.commitLocked(RecOverrideWithdrawn, step, OverrideWithdrawn{Request: o.request, Action: o.action, Actor: actor, Reason: strings.TrimSpace(reason)})
	return err
}

// pendingDeps names the dependencies of st that do not let it go ahead yet, with their states (a
// conditional step's trigger must have failed, every other dependency be done).
func (r *runState) pendingDeps(st *stepRT) []string {
	var out []string
	for _, dep := range st.def.After {
		d := r.steps[dep]
		switch {
		case d == nil:
			out = append(out, dep+" (not in the runbook)")
		case st.def.Triggers(dep) && d.state != StateFailed:
			out = append(out, dep+" ("+r.viewState(d).String()+"; this step runs only if it fails)")
		case !st.def.Triggers(dep) && !d.state.Done():
			out = append(out, dep+" ("+r.viewState(d).String()+")")
		}
	}
	return out
}

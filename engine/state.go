package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// StepState is where a step is in its life.
type StepState int

// Step states. Pending steps wait for their dependencies; Ready ones may start; Awaiting ones need
// an operator's typed confirmation; Retrying ones failed and wait for their next attempt.
// NotNeeded is a conditional step (runbook `when: {failed: ID}`) whose trigger was done without
// failing: it never ran, and it counts as done for the steps after it.
const (
	StatePending StepState = iota
	StateReady
	StateAwaiting
	StateRunning
	StateRetrying
	StateSucceeded
	StateFailed
	StateSkipped
	StateNotNeeded
)

var stateWords = [...]string{"pending", "ready", "awaiting", "running", "retrying", "succeeded", "failed", "skipped", "not needed"}

// String is the state as one word.
func (s StepState) String() string {
	if int(s) < len(stateWords) {
		return stateWords[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Done reports whether the state lets dependent steps go ahead (succeeded, skipped, or not
// needed).
func (s StepState) Done() bool {
	return s == StateSucceeded || s == StateSkipped || s == StateNotNeeded
}

// Terminal reports whether nothing more happens to the step without an operator.
func (s StepState) Terminal() bool { return s.Done() || s == StateFailed }

// MarshalText writes the state as its word.
func (s StepState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Approval is one operator's confirmation of a step.
type Approval struct {
	Actor Actor     `json:"actor"`
	At    time.Time `json:"at"`
}

// stepRT is the engine's live record of one step. Everything in it except the runtime fields at the
// end is rebuilt from the journal by apply.
type stepRT struct {
	def  *runbook.Step
	kind Kind

	state   StepState // Pending covers Ready: readiness is derived from the dependencies
	attempt int

	request   uint64 // open confirmation request (the Awaiting record's sequence number)
	asked     time.Time
	action    string
	lists     []ConfirmList // the request's lists in full (Awaiting.Lists)
	needed    int
	approvals []Approval
	approved  bool // the current request is satisfied
	confirmed []Approval

	firstAsked   time.Time // the first confirmation request's time
	firstStarted time.Time
	started      time.Time
	finished     time.Time
	retryAt      time.Time
	// since is the time of the journal record that put the step in its state.
	since time.Time

	lastError string
	message   string
	output    []string
	byHand    bool
	// declined is set while the step's failure is a no-go (a conditional step turned down waits
	// again when its trigger is retried).
	declined bool
	by       *Actor
	reason   string
	// override is the open guarded override (guard.go); overriddenBy who approved the one that
	// skipped the step or marked it done.
	override     *overrideRT
	overriddenBy []Approval
	ext          map[string]string
	extOf        int // the attempt ext was recorded by
	// earlier is what the newest earlier attempt that recorded anything recorded, and which
	// attempt that was: a retry can follow an operation that attempt started.
	earlier   map[string]string
	earlierOf int

	// runtime only
	cancel     context.CancelCauseFunc
	running    bool
	previewing bool
}

// earlierThan is what the newest attempt before attempt that recorded anything recorded, and its
// number (0 and nil when none did).
func (st *stepRT) earlierThan(attempt int) (int, map[string]string) {
	if len(st.ext) > 0 && st.extOf < attempt {
		return st.extOf, st.ext
	}
	if st.earlierOf < attempt {
		return st.earlierOf, st.earlier
	}
	return 0, nil
}

// runState is the whole run as rebuilt from the journal.
type runState struct {
	steps    map[string]*stepRT
	order    []*stepRT
	opened   time.Time
	finished time.Time
	paused   bool
	pausedBy *Actor
	pauseWhy string
	starts   int
	// runbookHash is the runbook the journal last recorded (run.opened or runbook.changed).
	runbookHash string
	// validationFiles are the files of the newest validation; recounts the operators' exact
	// recounts of its tables since, in order (the files hold the validation as it was written).
	validationFiles []string
	recounts        []recounted
	// notified holds the milestone notifications already delivered (or given up), by
	// notifyKey(milestone, target).
	notified map[string]bool
}

// notifyKey is a delivered notification's key in runState.notified.
func notifyKey(milestone, target string) string { return milestone + "\x00" + target }

// apply folds one journal record into the state. It is used both live (after the record is
// durable) and when replaying a journal, so the two can never disagree. An error names the
// record's line in the journal (its sequence number, which the journal verifies is its line).
func (r *runState) apply(rec journal.Record) error {
	if err := r.applyRecord(rec); err != nil {
		return fmt.Errorf("journal line %d (%q): %w", rec.Seq, rec.Type, err)
	}
	return nil
}

// stepRecords are the record types that change one step: they must name it.
var stepRecords = map[RecordType]bool{
	RecAwaiting: true, RecApproved: true, RecDeclined: true, RecStarted: true, RecExternal: true,
	RecSucceeded: true, RecFailed: true, RecInterrupted: true, RecSkipped: true, RecDoneByHand: true,
	RecRetry: true, RecOverrideRequested: true, RecOverrideApproved: true, RecOverrideRefused: true, RecOverrideWithdrawn: true,
	RecNotNeeded: true, RecConditionLapsed: true,
}

func (r *runState) applyRecord(rec journal.Record) error {
	var st *stepRT
	if rec.Step != "" {
		st = r.steps[rec.Step]
		if st == nil {
			return fmt.Errorf("names step %q, which the runbook no longer has; restore the step or start a new run with a fresh --state directory", rec.Step)
		}
		// A step that changes state withdraws its open override (guard.go), and is no longer
		// turned down unless this record is the no-go.
		before := st.state
		defer func() {
			if st.state != before {
				st.since = rec.Time
				st.override = nil
				st.declined = RecordType(rec.Type) == RecDeclined
			}
		}()
	} else if stepRecords[RecordType(rec.Type)] {
		return errors.New("the record names no step")
	}
	decode := func(v any) error {
		if len(rec.Data) == 0 {
			return nil
		}
		if err := json.Unmarshal(rec.Data, v); err != nil {
			return fmt.Errorf("unreadable data: %w", err)
		}
		return nil
	}
	switch RecordType(rec.Type) {
	case RecRunOpened:
		var p RunOpened
		if err := decode(&p); err != nil {
			return err
		}
		r.opened, r.runbookHash = rec.Time, p.RunbookHash
	case RecRunbookChanged:
		var p RunbookChanged
		if err := decode(&p); err != nil {
			return err
		}
		r.runbookHash = p.NewHash
	case RecEngineStarted:
		var p EngineStarted
		if err := decode(&p); err != nil {
			return err
		}
		r.starts++
	case RecEngineStopped:
		var p EngineStopped
		if err := decode(&p); err != nil {
			return err
		}
	case RecRunPaused:
		var p RunPaused
		if err := decode(&p); err != nil {
			return err
		}
		r.paused, r.pausedBy, r.pauseWhy = true, &p.Actor, p.Reason
	case RecRunResumed:
		var p ByActor
		if err := decode(&p); err != nil {
			return err
		}
		r.paused, r.pausedBy, r.pauseWhy = false, nil, ""
	case RecRunFinished:
		var p RunFinished
		if err := decode(&p); err != nil {
			return err
		}
		r.finished = rec.Time
	case RecAwaiting:
		var p Awaiting
		if err := decode(&p); err != nil {
			return err
		}
		st.state, st.asked, st.action, st.lists = StateAwaiting, rec.Time, p.Action, p.Lists
		if st.firstAsked.IsZero() {
			st.firstAsked = rec.Time
		}
		st.request, st.needed, st.approvals, st.approved = rec.Seq, p.Needed, nil, false
	case RecApproved:
		var p Approved
		if err := decode(&p); err != nil {
			return err
		}
		st.approvals = append(st.approvals, Approval{Actor: p.Actor, At: rec.Time})
		if len(st.approvals) >= st.needed || p.Auto {
			st.approved = true
			st.confirmed = append([]Approval(nil), st.approvals...)
			st.state = StatePending
		}
	case RecConfirmRefused, RecSourceHealth, RecReplicationSample, RecRecount, RecAccessChanged:
		// Evidence only: the state does not change, but the record must be readable.
		var p any
		switch RecordType(rec.Type) {
		case RecConfirmRefused:
			p = &ConfirmRefused{}
		case RecAccessChanged:
			p = &AccessChanged{}
		case RecSourceHealth:
			p = &SourceHealthRecord{}
		case RecReplicationSample:
			p = &ReplicationSample{}
		default:
			p = &Recounted{}
		}
		if err := decode(p); err != nil {
			return err
		}
		if rc, ok := p.(*Recounted); ok {
			r.recounts = append(r.recounts, recounted{check: rc.Check, at: rec.Time})
		}
	case RecValidation:
		var p ValidationRecord
		if err := decode(&p); err != nil {
			return err
		}
		r.validationFiles, r.recounts = p.Files, nil
	case RecNotifySent, RecNotifyFailed:
		var p NotifyDelivery
		if err := decode(&p); err != nil {
			return err
		}
		if p.Milestone == "" || p.Target == "" {
			return errors.New("a notification record names no milestone or no target")
		}
		if r.notified == nil {
			r.notified = map[string]bool{}
		}
		r.notified[notifyKey(p.Milestone, p.Target)] = true
	case RecDeclined:
		var p Declined
		if err := decode(&p); err != nil {
			return err
		}
		st.state, st.finished = StateFailed, rec.Time
		st.lastError = fmt.Sprintf("no-go from %s: %s", p.Actor.Name, p.Reason)
		st.request, st.approvals, st.approved = 0, nil, false
		st.by, st.reason = &p.Actor, p.Reason
	case RecStarted:
		var p Started
		if err := decode(&p); err != nil {
			return err
		}
		st.state, st.attempt, st.started = StateRunning, p.Attempt, rec.Time
		if st.firstStarted.IsZero() {
			st.firstStarted = rec.Time
		}
		if len(st.ext) > 0 && st.extOf < p.Attempt {
			st.earlier, st.earlierOf = st.ext, st.extOf
		}
		st.ext, st.retryAt, st.output = nil, time.Time{}, nil
	case RecExternal:
		var p External
		if err := decode(&p); err != nil {
			return err
		}
		if st.ext == nil {
			st.ext = map[string]string{}
		}
		st.extOf = p.Attempt
		for k, v := range p.Ref {
			st.ext[k] = v
		}
	case RecSucceeded:
		var p Succeeded
		if err := decode(&p); err != nil {
			return err
		}
		st.state, st.finished, st.message, st.lastError = StateSucceeded, rec.Time, p.Message, ""
		if p.Actor != nil {
			st.by = p.Actor
		}
	case RecFailed:
		var p Failed
		if err := decode(&p); err != nil {
			return err
		}
		st.lastError, st.output = p.Error, p.Output
		if p.RetryAt != nil {
			st.state, st.retryAt = StateRetrying, *p.RetryAt
		} else {
			st.state, st.finished = StateFailed, rec.Time
		}
		if p.AbortedBy != nil {
			st.by = p.AbortedBy
		}
	case RecInterrupted:
		var p Interrupted
		if err := decode(&p); err != nil {
			return err
		}
		if p.Rerun {
			st.state = StatePending
		} else {
			st.state, st.finished = StateFailed, rec.Time
			st.lastError = p.Reason
		}
	case RecSkipped, RecDoneByHand:
		var p ByActor
		if err := decode(&p); err != nil {
			return err
		}
		st.by, st.reason, st.finished = &p.Actor, p.Reason, rec.Time
		st.request, st.approvals = 0, nil
		st.overriddenBy = p.Approvals
		if RecordType(rec.Type) == RecSkipped {
			st.state = StateSkipped
		} else {
			st.state, st.byHand = StateSucceeded, true
		}
	case RecRetry:
		var p ByActor
		if err := decode(&p); err != nil {
			return err
		}
		keep := st.state == StateRetrying && !p.Reconfirm
		st.state, st.retryAt, st.finished, st.by, st.reason = StatePending, time.Time{}, time.Time{}, &p.Actor, p.Reason
		if !keep {
			st.request, st.approvals, st.approved = 0, nil, false
		}
	case RecNotNeeded:
		var p NotNeeded
		if err := decode(&p); err != nil {
			return err
		}
		st.state, st.finished, st.lastError = StateNotNeeded, rec.Time, ""
		st.message = "not needed: " + p.Trigger + " " + p.Outcome
		st.request, st.approvals, st.approved, st.confirmed = 0, nil, false, nil
		st.by, st.reason = nil, ""
	case RecConditionLapsed:
		var p ConditionLapsed
		if err := decode(&p); err != nil {
			return err
		}
		st.state, st.finished, st.lastError = StatePending, time.Time{}, ""
		st.request, st.approvals, st.approved, st.confirmed = 0, nil, false, nil
		st.by, st.reason = nil, ""
	case RecOverrideRequested:
		var p OverrideRequested
		if err := decode(&p); err != nil {
			return err
		}
		if !p.Action.valid() {
			return fmt.Errorf("unknown override action %q", p.Action)
		}
		st.override = &overrideRT{request: rec.Seq, action: p.Action, by: p.Actor, reason: p.Reason, since: rec.Time, needed: max(p.Needed, 1)}
	case RecOverrideApproved:
		var p OverrideApproved
		if err := decode(&p); err != nil {
			return err
		}
		// An approval of a request that is no longer open is evidence only.
		if o := st.override; o != nil && o.request == p.Request {
			o.approvals = append(o.approvals, Approval{Actor: p.Actor, At: rec.Time})
		}
	case RecOverrideRefused:
		var p OverrideRefused
		if err := decode(&p); err != nil {
			return err
		}
	case RecOverrideWithdrawn:
		var p OverrideWithdrawn
		if err := decode(&p); err != nil {
			return err
		}
		if o := st.override; o != nil && o.request == p.Request {
			st.override = nil
		}
	default:
		return errors.New("a record type this version of cutover does not know (was it written by a newer version?)")
	}
	return nil
}

// depsDone reports whether every dependency of st has succeeded, been skipped or is not needed —
// except a conditional step's trigger (`when: {failed}`), which must have failed.
func (r *runState) depsDone(st *stepRT) bool {
	for _, dep := range st.def.After {
		if !r.depMet(st, dep) {
			return false
		}
	}
	return true
}

// depMet reports whether st's dependency dep lets it go ahead: dep is done, or dep is st's
// trigger and has failed.
func (r *runState) depMet(st *stepRT, dep string) bool {
	d := r.steps[dep]
	if d == nil {
		return false
	}
	if st.def.Triggers(dep) {
		return d.state == StateFailed
	}
	return d.state.Done()
}

// conditionOpen reports whether a conditional step has not acted on its condition: it waits,
// asks for its confirmation, or was turned down (a no-go) without running. Only such a step
// becomes not needed, or waits again, when its trigger moves on.
func (st *stepRT) conditionOpen() bool {
	switch st.state {
	case StatePending, StateAwaiting:
		return true
	case StateFailed:
		return st.declined
	}
	return false
}

// doneWords says how a done step got there: "succeeded", "done by hand", "skipped", "not needed".
func doneWords(st *stepRT) string {
	if st.byHand && st.state == StateSucceeded {
		return "done by hand"
	}
	return st.state.String()
}

// viewState is the state shown to people: a pending step whose dependencies are done is ready.
func (r *runState) viewState(st *stepRT) StepState {
	if st.state == StatePending && r.depsDone(st) {
		return StateReady
	}
	return st.state
}

// Commit: journaling a state change, applying it, logging it and telling subscribers.

package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cutover/engine/journal"
)

// recordHealth journals a data source's change of health; expectedBy names the step whose
// expected effect a failure is.
func (e *Engine) recordHealth(h SourceHealth, expectedBy string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.j == nil {
		return
	}
	rec := SourceHealthRecord{Source: h.Name, State: h.State, ExpectedBy: expectedBy}
	if h.State == HealthFailing {
		rec.Error = h.LastError
	} else {
		rec.Outage = h.LastOutage
	}
	_, _ = e.commitLocked(RecSourceHealth, "", rec)
}

// recordSample journals the replication backlog, at most once per SampleEvery.
func (e *Engine) recordSample(v *ReplicationView) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.j == nil || (!e.lastSample.IsZero() && v.At.Sub(e.lastSample) < e.opts.SampleEvery) {
		return
	}
	e.lastSample = v.At
	_, _ = e.commitLocked(RecReplicationSample, "", ReplicationSample{Pending: v.TotalPending, DrainRate: v.DrainRate, ETA: v.ETA, Tables: len(v.Tables)})
}

// commitLocked makes one state change: journal it durably, fold it into the state, tell the
// subscribers. Nothing changes if the journal write fails; the engine then halts.
func (e *Engine) commitLocked(t RecordType, step string, payload any) (journal.Record, error) {
	if e.halted != nil {
		return journal.Record{}, fmt.Errorf("%w: %v", ErrHalted, e.halted)
	}
	if e.j == nil {
		return journal.Record{}, errors.New("engine: not open")
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return journal.Record{}, fmt.Errorf("encode %s record: %w", t, err)
	}
	rec, err := e.j.Append(journal.Record{Time: e.clock.Now(), Type: string(t), Step: step, Data: data})
	if err != nil {
		e.haltLocked(fmt.Errorf("cannot write the journal (%w); nothing more will happen until cutover is restarted with a writable state directory", err))
		return rec, e.halted
	}
	if err := e.st.apply(rec); err != nil {
		e.haltLocked(fmt.Errorf("internal error applying journal record %d: %w", rec.Seq, err))
		return rec, e.halted
	}
	e.logRecordLocked(rec, payload)
	e.publishLocked(rec)
	if st := e.st.steps[rec.Step]; st != nil {
		e.retireMonitorLocked(st)
	}
	e.kickLocked()
	return rec, nil
}

// ReplicationRetirer is an action whose success means replication no longer exists (the toolkit's
// «Remove replication setup»): the replication monitor stops polling when its step is done.
type ReplicationRetirer interface {
	RetiresReplication() bool
}

// ExpectedOutage names the running step whose expected effect is that the named source stops
// answering ("" when its failure would be an outage): the distributor while replication is being
// removed.
func (e *Engine) ExpectedOutage(source string) string {
	if source != SourceDistributor {
		return ""
	}
	return e.removingReplication()
}

// removingReplication names the running step that removes replication, if any.
func (e *Engine) removingReplication() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.st.order {
		if r, ok := st.def.Spec.(ReplicationRetirer); ok && r.RetiresReplication() && st.state == StateRunning {
			return st.def.ID
		}
	}
	return ""
}

// retireMonitorLocked stops the replication monitor once a step that removes replication is done.
func (e *Engine) retireMonitorLocked(st *stepRT) {
	if e.monitor == nil || st.state != StateSucceeded {
		return
	}
	if r, ok := st.def.Spec.(ReplicationRetirer); ok && r.RetiresReplication() {
		e.monitor.retire(st.finished, st.def.ID)
	}
}

// publishLocked tells subscribers what a record changed: the step, the steps that depend on it
// (their readiness may have changed), and the run when its outcome moved.
func (e *Engine) publishLocked(rec journal.Record) {
	if rec.Step != "" {
		st := e.st.steps[rec.Step]
		e.bus.Publish(StepChanged{Seq: rec.Seq, At: rec.Time, Record: RecordType(rec.Type), Step: e.viewLocked(st)})
		for _, c := range e.children[rec.Step] {
			// A conditional step's readiness follows its trigger's failure, not only its end.
			if st.state.Done() || c.def.Triggers(rec.Step) {
				e.bus.Publish(StepChanged{Seq: rec.Seq, At: rec.Time, Record: RecordType(rec.Type), Step: e.viewLocked(c)})
			}
		}
	}
	out := e.outcomeLocked()
	if rec.Step == "" || out != e.lastOutcome {
		e.lastOutcome = out
		e.bus.Publish(RunChanged{Seq: rec.Seq, At: rec.Time, Run: e.runViewLocked()})
	}
}

// logRecordLocked writes the human line for a state change.
func (e *Engine) logRecordLocked(rec journal.Record, payload any) {
	lvl, msg := LevelInfo, ""
	switch p := payload.(type) {
	case Started:
		msg = fmt.Sprintf("started (attempt %d): %s", p.Attempt, p.Action)
	case Succeeded:
		msg = "succeeded"
		if p.Message != "" {
			msg += ": " + p.Message
		}
		// Who, unless the message says it already (a gate's "go: approved by ana, ben").
		if p.Actor != nil && p.Actor.Role != RoleSystem && !strings.Contains(p.Message, "by "+p.Actor.Name) {
			msg += " (by " + p.Actor.Name + ")"
		}
	case Failed:
		lvl, msg = LevelError, fmt.Sprintf("failed (attempt %d): %s", p.Attempt, p.Error)
		if p.RetryAt != nil {
			lvl = LevelWarn
			msg += fmt.Sprintf("; retrying at %s", p.RetryAt.Local().Format("15:04:05"))
		}
	case Interrupted:
		lvl, msg = LevelWarn, p.Reason
	case Approved:
		msg = fmt.Sprintf("confirmed by %s (%d of %d)", p.Actor, p.Count, p.Needed)
		if p.Auto {
			msg = "confirmed automatically (rehearsal run with --yes)"
		}
	case ConfirmRefused:
		lvl, msg = LevelWarn, fmt.Sprintf("confirmation by %s refused: %s", p.Actor, p.Reason)
	case Declined:
		lvl, msg = LevelWarn, fmt.Sprintf("no-go from %s: %s", p.Actor, p.Reason)
	case ByActor:
		switch RecordType(rec.Type) {
		case RecSkipped:
			lvl, msg = LevelWarn, fmt.Sprintf("skipped by %s: %s", p.Actor, p.Reason)
		case RecDoneByHand:
			msg = fmt.Sprintf("marked done by %s: %s", p.Actor, p.Reason)
		case RecRetry:
			msg = fmt.Sprintf("retry requested by %s", p.Actor)
			if p.Reconfirm {
				msg += "; it asks for its confirmation again"
			}
		}
		if len(p.Approvals) > 0 {
			msg += " (" + approvers(p.Approvals) + ")"
		}
	case OverrideRequested:
		lvl, msg = LevelWarn, fmt.Sprintf("%s asks to %s (%d operator(s) must type %q): %s", p.Actor, p.Action.Words(), p.Needed, OverridePhrase(e.st.steps[rec.Step].def, p.Action), p.Reason)
	case OverrideApproved:
		msg = fmt.Sprintf("%s approved by %s (%d of %d)", p.Action, p.Actor, p.Count, p.Needed)
		if p.Note != "" {
			msg += ": " + p.Note
		}
	case OverrideRefused:
		lvl, msg = LevelWarn, fmt.Sprintf("%s by %s refused: %s", p.Action, p.Actor, p.Reason)
	case OverrideWithdrawn:
		msg = fmt.Sprintf("the request to %s was withdrawn by %s", p.Action.Words(), p.Actor)
		if p.Reason != "" {
			msg += ": " + p.Reason
		}
	case NotNeeded:
		msg = fmt.Sprintf("not needed: %s %s (this step runs only if it fails)", p.Trigger, p.Outcome)
	case ConditionLapsed:
		lvl, msg = LevelWarn, fmt.Sprintf("%s is %s again", p.Trigger, p.TriggerState)
		if p.Actor != nil {
			msg = fmt.Sprintf("%s retried %s", p.Actor, p.Trigger)
		}
		if p.Request != 0 {
			msg += "; this step's confirmation request is withdrawn"
		}
		msg += "; it runs only if " + p.Trigger + " fails again"
	case RunPaused:
		lvl, msg = LevelWarn, fmt.Sprintf("run paused by %s: %s", p.Actor, p.Reason)
	case EngineStarted:
		msg = fmt.Sprintf("engine started on %s (pid %d)", p.Host, p.PID)
	case NotifyDelivery:
		lvl, msg = deliveryLine(RecordType(rec.Type), p)
	case EngineStopped:
		msg = "engine stopped: " + p.Reason
		if len(p.InFlight) > 0 {
			msg += " (in flight: " + strings.Join(p.InFlight, ", ") + ")"
		}
	}
	if RecordType(rec.Type) == RecRunResumed {
		msg = "run resumed"
	}
	if msg != "" {
		e.logs.addLine(lvl, rec.Step, "", true, msg)
	}
}

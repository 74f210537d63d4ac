package report

import (
	"fmt"
	"strings"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// Step classes by the last recorded state, for the summary's counts.
const (
	classNone      = ""
	classAwaiting  = "awaiting"
	classActive    = "active"
	classSucceeded = "succeeded"
	classByHand    = "done-by-hand"
	classSkipped   = "skipped"
	classNotNeeded = "not-needed"
	classFailed    = "failed"
)

// stepInfo is what the walk learned about one step.
type stepInfo struct {
	class     string
	outcome   string
	lastError string
	// result is what the step's end said: its success message (a backup's file and LSNs, what a
	// check saw) or the reason it was skipped or marked done by hand.
	result string
	// firstStarted is the first step.started record's time.
	firstStarted time.Time
	// waivers are skips and done-by-hand records (for unresolved validation tables).
	waivers []waiver
	// lcs collects the step's moments in case it turns out to be an LCS step.
	lcs     LCSStep
	hasOp   bool
	attempt int
}

type waiver struct {
	seq  uint64
	at   time.Time
	what string
}

type openPause struct {
	at     time.Time
	actor  engine.Actor
	reason string
}

type openOutage struct {
	at  time.Time
	err string
}

type rawRecount struct {
	seq  uint64
	step string
	at   time.Time
	p    engine.Recounted
}

type rawValidation struct {
	seq  uint64
	step string
	at   time.Time
	p    engine.ValidationRecord
}

// builder walks the journal once and fills the report.
type builder struct {
	rb    *runbook.Runbook
	kinds *engine.Registry
	recs  []journal.Record
	r     *Report
	now   time.Time

	steps      map[string]*stepInfo
	extraSteps []string
	requests   map[uint64]int // request id → index in r.Confirmations.Requests
	pause      *openPause
	outages    map[string]*openOutage
	outageSeen []string
	// lastEngine is the last engine record ("started" or "stopped"), lastStop the stop.
	lastEngine string
	lastStop   time.Time
	stopReason string
	vals       []rawValidation
	recounts   []rawRecount
}

func newBuilder(rb *runbook.Runbook, recs []journal.Record, r *Report, now time.Time) *builder {
	b := &builder{rb: rb, recs: recs, r: r, now: now, steps: map[string]*stepInfo{},
		requests: map[uint64]int{}, outages: map[string]*openOutage{}}
	for _, s := range rb.Steps {
		b.steps[s.ID] = &stepInfo{lcs: LCSStep{Step: s.ID, Title: s.Title, Kind: s.Kind}}
	}
	return b
}

// step returns the step's info, noting a step the runbook does not have.
func (b *builder) step(id string) *stepInfo {
	st, ok := b.steps[id]
	if !ok {
		st = &stepInfo{lcs: LCSStep{Step: id}}
		b.steps[id] = st
		b.extraSteps = append(b.extraSteps, id)
	}
	return st
}

func (b *builder) note(format string, args ...any) {
	b.r.Notes = append(b.r.Notes, fmt.Sprintf(format, args...))
}

func (b *builder) anomaly(at time.Time, kind, step, actor, detail string) {
	b.r.Anomalies = append(b.r.Anomalies, Anomaly{At: at.UTC(), Kind: kind, Step: step, Actor: actor, Detail: detail})
}

func (b *builder) lcsEvent(st *stepInfo, rec journal.Record, attempt int, what string) {
	st.lcs.Events = append(st.lcs.Events, LCSEvent{At: rec.Time.UTC(), Attempt: attempt, What: what})
}

// walk folds every verified record into the report.
func (b *builder) walk() {
	for _, rec := range b.recs {
		var st *stepInfo
		if rec.Step != "" {
			st = b.step(rec.Step)
		}
		if err := b.apply(rec, st); err != nil {
			b.note("Journal record %d (%s) could not be read and is left out: %v", rec.Seq, rec.Type, err)
		}
	}
}

// needStep reports a step record without a step.
func needStep(rec journal.Record, st *stepInfo) error {
	if st == nil {
		return fmt.Errorf("a %s record names no step", rec.Type)
	}
	return nil
}

func (b *builder) apply(rec journal.Record, st *stepInfo) error {
	r := b.r
	at := rec.Time.UTC()
	switch engine.RecordType(rec.Type) {
	case engine.RecRunOpened:
		var p engine.RunOpened
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Summary.Opened = at
		r.Integrity.OpenedWith, r.Integrity.CurrentHash = p.RunbookHash, p.RunbookHash
		if p.Name != "" && p.Name != b.rb.Name {
			b.note("The journal was opened for the run %q; the runbook given is named %q.", p.Name, b.rb.Name)
		}
	case engine.RecRunbookChanged:
		var p engine.RunbookChanged
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Integrity.CurrentHash = p.NewHash
		b.anomaly(at, AnomalyRunbookChanged, "", "", fmt.Sprintf("the runbook file changed mid-run (sha256 %s → %s); the run continued with the new file", orDash(journal.ShortHash(p.OldHash)), orDash(journal.ShortHash(p.NewHash))))
	case engine.RecEngineStarted:
		var p engine.EngineStarted
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Summary.EngineStarts++
		if p.Resumed {
			r.Summary.Resumes++
			if b.lastEngine == "started" {
				r.Summary.CrashRecoveries++
				b.anomaly(at, AnomalyCrash, "", "", fmt.Sprintf("engine started on %s (pid %d) without a clean stop of the one before: it crashed, was killed or lost its machine; the run was resumed from the journal", orDash(p.Host), p.PID))
			}
		}
		if p.Torn != "" {
			b.anomaly(at, AnomalyCrash, "", "", "an incomplete last journal line left by a crash during a write was dropped: "+p.Torn)
		}
		if p.AutoConfirm {
			r.Summary.AutoConfirm = true
		}
		b.lastEngine = "started"
	case engine.RecEngineStopped:
		var p engine.EngineStopped
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.lastEngine, b.lastStop, b.stopReason = "stopped", at, p.Reason
		if len(p.InFlight) > 0 {
			b.anomaly(at, AnomalyStopped, "", "", fmt.Sprintf("engine stopped (%s) with steps in flight: %s", orDash(p.Reason), strings.Join(p.InFlight, ", ")))
		}
	case engine.RecRunPaused:
		var p engine.RunPaused
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.closePause(at, nil)
		b.pause = &openPause{at: at, actor: p.Actor, reason: p.Reason}
	case engine.RecRunResumed:
		var p engine.ByActor
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.closePause(at, &p.Actor)
	case engine.RecRunFinished:
		r.Summary.Finished = at
	case engine.RecAwaiting:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Awaiting
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.openRequest(Request{ID: rec.Seq, Step: rec.Step, At: at, Needed: p.Needed, Reconfirm: p.Reconfirm})
		st.class, st.outcome = classAwaiting, "awaiting confirmation"
	case engine.RecApproved:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Approved
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Approvals = append(r.Confirmations.Approvals, Approval{Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Count: p.Count, Needed: p.Needed, Auto: p.Auto})
		markSharedOrigin(r.Confirmations.Approvals)
		if q := b.request(p.Request); q != nil {
			q.Approvals++
			if q.State == RequestOpen && (p.Auto || q.Approvals >= q.Needed) {
				b.close(q, RequestConfirmed, at, b.approverNames(p.Request), "")
				st.outcome = "confirmed"
			}
		}
	case engine.RecConfirmRefused:
		var p engine.ConfirmRefused
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Refusals = append(r.Confirmations.Refusals, Refusal{Kind: "refused", Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Reason: p.Reason})
	case engine.RecOverrideRequested:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.OverrideRequested
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.openRequest(Request{ID: rec.Seq, Step: rec.Step, At: at, Needed: p.Needed, Override: string(p.Action)})
	case engine.RecOverrideApproved:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.OverrideApproved
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Approvals = append(r.Confirmations.Approvals, Approval{Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Count: p.Count, Needed: p.Needed, Override: string(p.Action)})
		if q := b.request(p.Request); q != nil {
			q.Approvals++
			if q.State == RequestOpen && q.Approvals >= q.Needed {
				b.close(q, RequestApproved, at, b.approverNames(p.Request), "")
			}
		}
	case engine.RecOverrideRefused:
		var p engine.OverrideRefused
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Refusals = append(r.Confirmations.Refusals, Refusal{Kind: "refused " + string(p.Action), Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Reason: p.Reason})
	case engine.RecOverrideWithdrawn:
		var p engine.OverrideWithdrawn
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Refusals = append(r.Confirmations.Refusals, Refusal{Kind: "withdrawn " + string(p.Action), Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Reason: p.Reason})
		b.close(b.request(p.Request), RequestWithdrawn, at, p.Actor.Name, p.Reason)
	case engine.RecDeclined:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Declined
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Refusals = append(r.Confirmations.Refusals, Refusal{Kind: "no-go", Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Reason: p.Reason})
		b.close(b.request(p.Request), RequestNoGo, at, p.Actor.Name, p.Reason)
		st.class, st.outcome = classFailed, "no-go from "+p.Actor.Name
		st.lastError = fmt.Sprintf("no-go from %s: %s", p.Actor.Name, p.Reason)
		b.anomaly(at, AnomalyNoGo, rec.Step, p.Actor.String(), "declined: "+orDash(p.Reason))
	case engine.RecStarted:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Started
		if err := rec.Decode(&p); err != nil {
			return err
		}
		st.class, st.outcome, st.attempt = classActive, fmt.Sprintf("running (attempt %d)", p.Attempt), p.Attempt
		if st.firstStarted.IsZero() {
			st.firstStarted = at
		}
		b.lcsEvent(st, rec, p.Attempt, fmt.Sprintf("attempt %d started", p.Attempt))
	case engine.RecExternal:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.External
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.external(rec, st, p)
	case engine.RecSucceeded:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Succeeded
		if err := rec.Decode(&p); err != nil {
			return err
		}
		st.class, st.outcome, st.lastError, st.result = classSucceeded, "succeeded", "", p.Message
		if p.Actor != nil && p.Actor.Name != "" {
			st.outcome += " (" + actorName(*p.Actor) + ")"
		}
		if b.isGate(rec.Step) {
			st.outcome = "go"
			if by := b.decidedBy(rec.Step); by != "" {
				st.outcome += " (" + by + ")"
			}
		}
		st.lcs.Message = p.Message
		b.lcsEvent(st, rec, p.Attempt, "succeeded"+prefixed(": ", p.Message))
	case engine.RecFailed:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Failed
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.failed(rec, st, p)
	case engine.RecInterrupted:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Interrupted
		if err := rec.Decode(&p); err != nil {
			return err
		}
		if p.Rerun {
			st.class, st.outcome = classActive, "interrupted, re-run"
		} else {
			st.class, st.outcome, st.lastError = classFailed, "interrupted", p.Reason
		}
		b.anomaly(at, AnomalyInterrupted, rec.Step, "", fmt.Sprintf("attempt %d: %s", p.Attempt, orDash(p.Reason)))
		b.lcsEvent(st, rec, p.Attempt, "interrupted: "+p.Reason)
	case engine.RecSkipped, engine.RecDoneByHand:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.ByActor
		if err := rec.Decode(&p); err != nil {
			return err
		}
		kind, what := AnomalySkipped, "skipped"
		st.class = classSkipped
		if engine.RecordType(rec.Type) == engine.RecDoneByHand {
			kind, what, st.class = AnomalyDoneByHand, "done by hand", classByHand
		}
		detail := what + prefixed(": ", p.Reason)
		if st.lastError != "" {
			detail += " (after: " + st.lastError + ")"
		}
		st.outcome, st.lastError, st.result = what+" ("+p.Actor.Name+")", "", p.Reason
		b.anomaly(at, kind, rec.Step, p.Actor.String(), detail)
		closed := RequestSkipped
		if kind == AnomalyDoneByHand {
			closed = RequestDoneByHand
		}
		b.closeStep(rec.Step, closed, at, p.Actor.Name, p.Reason)
		st.waivers = append(st.waivers, waiver{seq: rec.Seq, at: at, what: fmt.Sprintf("the step was %s by %s at %s%s", what, p.Actor.Name, ts(at), prefixed(": ", p.Reason))})
		b.lcsEvent(st, rec, st.attempt, what+" by "+p.Actor.Name+prefixed(": ", p.Reason))
	case engine.RecNotNeeded:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.NotNeeded
		if err := rec.Decode(&p); err != nil {
			return err
		}
		st.class, st.outcome, st.lastError = classNotNeeded, "not needed ("+p.Trigger+" "+p.Outcome+")", ""
		b.closeStep(rec.Step, RequestNotNeeded, at, "", p.Trigger+" "+p.Outcome)
		b.lcsEvent(st, rec, st.attempt, "not needed: "+p.Trigger+" "+p.Outcome)
	case engine.RecConditionLapsed:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.ConditionLapsed
		if err := rec.Decode(&p); err != nil {
			return err
		}
		actor := engine.System("the engine")
		if p.Actor != nil {
			actor = *p.Actor
		}
		if p.Request != 0 {
			r.Confirmations.Refusals = append(r.Confirmations.Refusals, Refusal{Kind: "withdrawn", Request: p.Request, Step: rec.Step, At: at, Actor: actor,
				Reason: p.Trigger + " is " + p.TriggerState + " again: this step runs only if it fails again"})
			b.close(b.request(p.Request), RequestWithdrawn, at, actor.Name, p.Trigger+" is "+p.TriggerState+" again")
		}
		st.class, st.outcome, st.lastError = classNone, "waits: "+p.Trigger+" retried", ""
	case engine.RecRetry:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.ByActor
		if err := rec.Decode(&p); err != nil {
			return err
		}
		detail := "retry requested"
		if p.Reason != "" {
			detail += ": " + p.Reason
		}
		if st.lastError != "" {
			detail += " (after: " + st.lastError + ")"
		}
		b.anomaly(at, AnomalyRetry, rec.Step, p.Actor.String(), detail)
		st.class, st.outcome = classActive, "retry requested"
		b.lcsEvent(st, rec, st.attempt, "retry requested by "+p.Actor.Name+prefixed(": ", p.Reason))
	case engine.RecSourceHealth:
		var p engine.SourceHealthRecord
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.health(at, p)
	case engine.RecReplicationSample:
		var p engine.ReplicationSample
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Drain.Samples = append(r.Drain.Samples, Sample{At: at, Pending: p.Pending, DrainRate: p.DrainRate, ETA: p.ETA, Tables: p.Tables})
	case engine.RecValidation:
		var p engine.ValidationRecord
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.vals = append(b.vals, rawValidation{seq: rec.Seq, step: rec.Step, at: at, p: p})
	case engine.RecNotifySent, engine.RecNotifyFailed:
		var p engine.NotifyDelivery
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Notifications = append(r.Notifications, Notification{At: at, Target: p.Target, Format: p.Format, Event: p.Event, Title: p.Title,
			Step: p.Step, Sent: engine.RecordType(rec.Type) == engine.RecNotifySent, Tries: p.Tries, Error: p.Error})
	case engine.RecRecount:
		var p engine.Recounted
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.recounts = append(b.recounts, rawRecount{seq: rec.Seq, step: rec.Step, at: at, p: p})
	case engine.RecAccessChanged:
		var p engine.AccessChanged
		if err := rec.Decode(&p); err != nil {
			return err
		}
		b.anomaly(at, AnomalyAccess, "", p.Actor.String(), p.Text())
	default:
		return fmt.Errorf("unknown record type %q (written by a newer version of cutover?)", rec.Type)
	}
	return nil
}

// markSharedOrigin compares the newest approval with the earlier ones of its request and marks both
// when they share an identity or a place (engine.Actor.Place): the rule counts identities, and two
// identities from one place may still be one person. Automatic approvals are the engine's.
func markSharedOrigin(approvals []Approval) {
	n := len(approvals) - 1
	a := &approvals[n]
	if a.Auto || a.Actor.Role == engine.RoleSystem {
		return
	}
	for i := range approvals[:n] {
		o := &approvals[i]
		if o.Request != a.Request || o.Auto || o.Actor.Role == engine.RoleSystem {
			continue
		}
		var why func(name string) string
		switch place := a.Actor.Place(); {
		case o.Actor.ID() == a.Actor.ID():
			why = func(name string) string { return "same identity as " + name + "'s (" + a.Actor.ID() + ")" }
		case place != "" && place == o.Actor.Place():
			why = func(name string) string { return "same origin as " + name + "'s: " + place }
		default:
			continue
		}
		if a.SharedOrigin == "" {
			a.SharedOrigin = why(o.Actor.Name)
		}
		if o.SharedOrigin == "" {
			o.SharedOrigin = why(a.Actor.Name)
		}
	}
}

// failed notes a failed attempt: an automatic retry, an abort or a failure that stops the step.
func (b *builder) failed(rec journal.Record, st *stepInfo, p engine.Failed) {
	at := rec.Time.UTC()
	detail := fmt.Sprintf("attempt %d failed: %s", p.Attempt, orDash(p.Error))
	if n := len(p.Output); n > 0 {
		detail += " — last output: " + strings.Join(p.Output[max(0, n-3):], " / ")
	}
	st.lastError = p.Error
	switch {
	case p.RetryAt != nil:
		st.class, st.outcome = classActive, "retrying"
		b.anomaly(at, AnomalyRetry, rec.Step, "", detail+"; automatic retry at "+ts(*p.RetryAt))
		b.lcsEvent(st, rec, p.Attempt, "failed, retry at "+ts(*p.RetryAt)+": "+p.Error)
	case p.AbortedBy != nil:
		st.class, st.outcome = classFailed, "aborted ("+p.AbortedBy.Name+")"
		b.anomaly(at, AnomalyAborted, rec.Step, p.AbortedBy.String(), detail)
		b.lcsEvent(st, rec, p.Attempt, "aborted by "+p.AbortedBy.Name+": "+p.Error)
	default:
		st.class, st.outcome = classFailed, "failed"
		b.anomaly(at, AnomalyFailure, rec.Step, "", detail)
		b.lcsEvent(st, rec, p.Attempt, "failed: "+p.Error)
	}
}

// health notes a data source's outage: its start, and its end with how long it lasted.
func (b *builder) health(at time.Time, p engine.SourceHealthRecord) {
	if p.State == engine.HealthFailing && p.ExpectedBy != "" {
		return // the distributor going away with «Remove replication setup»: no outage
	}
	if p.State == engine.HealthFailing {
		if _, ok := b.outages[p.Source]; !ok {
			b.outages[p.Source] = &openOutage{at: at, err: p.Error}
			b.outageSeen = append(b.outageSeen, p.Source)
		}
		return
	}
	o := b.outages[p.Source]
	if o == nil && p.Outage <= 0 {
		return
	}
	delete(b.outages, p.Source)
	from := at.Add(-p.Outage)
	length := p.Outage
	var cause string
	if o != nil {
		from, cause = o.at, o.err
		if length <= 0 {
			length = at.Sub(from)
		}
	}
	b.anomaly(from, AnomalyOutage, "", "", fmt.Sprintf("%s failing from %s to %s (%s)%s; then %s",
		sourceName(p.Source), ts(from), ts(at), runbook.FormatDuration(length), prefixed(": ", cause), p.State))
}

// sourceName names a monitored data source for people.
func sourceName(s string) string {
	switch s {
	case engine.SourceAX:
		return "the AX 2012 source database"
	case engine.SourceDistributor:
		return "the replication distributor"
	case engine.SourceTarget:
		return "the target (sandbox) database"
	}
	return "data source " + s
}

// closePause ends an open pause (by is nil when the journal ends paused or a new pause starts).
func (b *builder) closePause(at time.Time, by *engine.Actor) {
	p := b.pause
	if p == nil {
		return
	}
	b.pause = nil
	detail := fmt.Sprintf("run paused for %s%s", runbook.FormatDuration(at.Sub(p.at)), prefixed(": ", p.reason))
	if by != nil {
		detail += fmt.Sprintf("; resumed by %s at %s", by.Name, ts(at))
	}
	b.anomaly(p.at, AnomalyPaused, "", p.actor.String(), detail)
}

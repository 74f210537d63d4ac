package report

import (
	"fmt"
	"sort"
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
		b.requests[rec.Seq] = len(r.Confirmations.Requests)
		r.Confirmations.Requests = append(r.Confirmations.Requests, Request{ID: rec.Seq, Step: rec.Step, At: at, Needed: p.Needed, Reconfirm: p.Reconfirm})
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
		if i, ok := b.requests[p.Request]; ok {
			q := &r.Confirmations.Requests[i]
			q.Approvals++
			if !q.Satisfied && (p.Auto || q.Approvals >= q.Needed) {
				q.Satisfied, q.SatisfiedAt = true, at
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
		b.requests[rec.Seq] = len(r.Confirmations.Requests)
		r.Confirmations.Requests = append(r.Confirmations.Requests, Request{ID: rec.Seq, Step: rec.Step, At: at, Needed: p.Needed, Override: string(p.Action)})
	case engine.RecOverrideApproved:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.OverrideApproved
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Approvals = append(r.Confirmations.Approvals, Approval{Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Count: p.Count, Needed: p.Needed, Override: string(p.Action)})
		if i, ok := b.requests[p.Request]; ok {
			q := &r.Confirmations.Requests[i]
			q.Approvals++
			if !q.Satisfied && q.Approvals >= q.Needed {
				q.Satisfied, q.SatisfiedAt = true, at
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
		if i, ok := b.requests[p.Request]; ok {
			r.Confirmations.Requests[i].Withdrawn = true
		}
	case engine.RecDeclined:
		if err := needStep(rec, st); err != nil {
			return err
		}
		var p engine.Declined
		if err := rec.Decode(&p); err != nil {
			return err
		}
		r.Confirmations.Refusals = append(r.Confirmations.Refusals, Refusal{Kind: "no-go", Request: p.Request, Step: rec.Step, At: at, Actor: p.Actor, Reason: p.Reason})
		if i, ok := b.requests[p.Request]; ok {
			r.Confirmations.Requests[i].Declined = true
		}
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
		st.class, st.outcome, st.lastError = classSucceeded, "succeeded", ""
		if p.Actor != nil && p.Actor.Name != "" {
			st.outcome += " (" + p.Actor.Name + ")"
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
		st.outcome, st.lastError = what+" ("+p.Actor.Name+")", ""
		b.anomaly(at, kind, rec.Step, p.Actor.String(), detail)
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
			if i, ok := b.requests[p.Request]; ok {
				r.Confirmations.Requests[i].Withdrawn = true
			}
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

// external notes an attempt's references: LCS operation ids and states among them.
func (b *builder) external(rec journal.Record, st *stepInfo, p engine.External) {
	keys := make([]string, 0, len(p.Ref))
	for k := range p.Ref {
		keys = append(keys, k)
	}
	// The operation id before its state, then the rest by name.
	rank := map[string]int{"intent": 0, "guided_since": 1, "activity": 2, "status": 3}
	sort.Slice(keys, func(i, j int) bool {
		ri, iok := rank[keys[i]]
		rj, jok := rank[keys[j]]
		switch {
		case iok && jok:
			return ri < rj
		case iok != jok:
			return iok
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		v := p.Ref[k]
		switch k {
		case "activity":
			st.hasOp = true
			st.lcs.Operations = append(st.lcs.Operations, LCSOperation{ID: v, Attempt: p.Attempt, At: rec.Time.UTC()})
			b.lcsEvent(st, rec, p.Attempt, "LCS operation "+v)
		case "status":
			if n := len(st.lcs.Operations); n > 0 {
				op := &st.lcs.Operations[n-1]
				if len(op.States) == 0 || op.States[len(op.States)-1] != v {
					op.States = append(op.States, v)
				}
				op.Final = v
			}
			b.lcsEvent(st, rec, p.Attempt, "operation state "+v)
		case "intent":
			b.lcsEvent(st, rec, p.Attempt, "refresh requested from LCS (intent journaled before the request)")
		case "guided_since":
			b.lcsEvent(st, rec, p.Attempt, "waiting for the refresh started in the LCS portal")
		default:
			b.lcsEvent(st, rec, p.Attempt, k+": "+v)
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

// finish derives everything that needs the whole journal.
func (b *builder) finish(base *engine.Baseline) {
	r := b.r
	if p := b.pause; p != nil {
		b.pause = nil
		b.anomaly(p.at, AnomalyPaused, "", p.actor.String(), fmt.Sprintf("run paused%s; still paused at the end of the journal", prefixed(": ", p.reason)))
		r.Summary.Paused = true
	}
	for _, src := range b.outageSeen {
		if o := b.outages[src]; o != nil {
			b.anomaly(o.at, AnomalyOutage, "", "", fmt.Sprintf("%s failing since %s%s; no recovery recorded", sourceName(src), ts(o.at), prefixed(": ", o.err)))
		}
	}
	sort.SliceStable(r.Anomalies, func(i, j int) bool { return r.Anomalies[i].At.Before(r.Anomalies[j].At) })
	r.Integrity.RunbookMatches = r.Integrity.CurrentHash == "" || r.Integrity.CurrentHash == r.Integrity.RunbookHash
	if !r.Integrity.RunbookMatches {
		b.note("The runbook given (sha256 %s) is not the one the run last used (sha256 %s): titles, phases and plans are the given file's.", orDash(journal.ShortHash(r.Integrity.RunbookHash)), orDash(journal.ShortHash(r.Integrity.CurrentHash)))
	}
	if len(b.extraSteps) > 0 {
		b.note("The journal names step(s) the runbook does not have: %s.", strings.Join(b.extraSteps, ", "))
	}

	t := engine.TimingsOf(b.recs)
	b.timeline(t, base)
	b.summary(t)
	b.validations()
	b.drain()
	b.lcs()
}

// timeline lays out every step with its plan, its actual timing and the baseline's.
func (b *builder) timeline(t engine.Timings, base *engine.Baseline) {
	tl := &b.r.Timeline
	tl.Began, tl.Finished, tl.Elapsed = t.Began.UTC(), t.Finished.UTC(), t.Total()
	if t.Began.IsZero() {
		tl.Began = time.Time{}
	}
	if t.Finished.IsZero() {
		tl.Finished = time.Time{}
	}
	_, tl.PlannedCritical = b.rb.CriticalPath((*runbook.Step).Expected) // a fallback (when:) is not in the plan
	if base != nil {
		tl.Baseline = &BaselineComparison{Path: base.Path, Head: base.Head, Elapsed: base.Total()}
		tl.Baseline.Diff = tl.Elapsed - tl.Baseline.Elapsed
	}
	row := func(id string, s *runbook.Step) StepRow {
		sr := StepRow{ID: id, InRunbook: s != nil, Outcome: "not started"}
		if s != nil {
			sr.Title, sr.Phase, sr.Kind, sr.Planned = s.Title, s.Phase, s.Kind, s.Planned
		}
		if info := b.steps[id]; info != nil && info.outcome != "" {
			sr.Outcome = info.outcome
		}
		if st, ok := t.Steps[id]; ok {
			sr.Began, sr.Ended = utc(st.Began), utc(st.Ended)
			sr.Duration, sr.Attempts, sr.Retries = st.Duration(), st.Attempts, st.Retries
		}
		if base != nil {
			if bs, ok := base.Steps[id]; ok && !bs.Ended.IsZero() {
				sr.HasBaseline, sr.Baseline = true, bs.Duration()
				if !sr.Ended.IsZero() {
					sr.HasDiff, sr.Diff = true, sr.Duration-sr.Baseline
					tl.Baseline.Compared++
					tl.Baseline.Actual += sr.Duration
					tl.Baseline.Baseline += sr.Baseline
				}
			}
		}
		return sr
	}
	for _, s := range b.rb.Steps {
		tl.Steps = append(tl.Steps, row(s.ID, s))
	}
	for _, id := range b.extraSteps {
		tl.Steps = append(tl.Steps, row(id, nil))
	}
}

// summary counts the steps, decides the outcome and lays out the downtime window.
func (b *builder) summary(t engine.Timings) {
	s := &b.r.Summary
	s.Name, s.Environment, s.Rehearsal, s.Steps = b.rb.Name, b.rb.Environment, b.rb.Rehearsal, len(b.rb.Steps)
	var failed []string
	for _, st := range b.rb.Steps {
		info := b.steps[st.ID]
		switch info.class {
		case classSucceeded:
			s.Succeeded++
		case classByHand:
			s.Succeeded++
			s.DoneByHand++
		case classSkipped:
			s.Skipped++
		case classNotNeeded:
			s.NotNeeded++
		case classFailed:
			s.Failed++
			failed = append(failed, st.ID)
		case classNone:
			s.NotStarted++
		default:
			s.Unfinished++
		}
	}
	done := s.Succeeded + s.Skipped + s.NotNeeded
	switch {
	case !s.Finished.IsZero():
		s.Outcome = OutcomeCompleted
		notNeeded := ""
		if s.NotNeeded > 0 {
			notNeeded = fmt.Sprintf(", %d not needed", s.NotNeeded)
		}
		s.OutcomeDetail = fmt.Sprintf("every step is done: %d succeeded (%d by hand), %d skipped%s; the run finished at %s", s.Succeeded, s.DoneByHand, s.Skipped, notNeeded, ts(s.Finished))
	case len(failed) > 0:
		s.Outcome = OutcomeBlocked
		info := b.steps[failed[0]]
		s.OutcomeDetail = fmt.Sprintf("step %s %s: %s", failed[0], info.outcome, orDash(info.lastError))
		if len(failed) > 1 {
			s.OutcomeDetail += fmt.Sprintf(" (and %d more failed step(s): %s)", len(failed)-1, strings.Join(failed[1:], ", "))
		}
	case b.lastEngine == "stopped":
		s.Outcome = OutcomeHalted
		s.OutcomeDetail = fmt.Sprintf("the engine was stopped at %s (%s) with %d of %d steps done", ts(b.lastStop), orDash(b.stopReason), done, s.Steps)
	default:
		s.Outcome = OutcomeInProgress
		s.OutcomeDetail = fmt.Sprintf("%d of %d steps done at the end of the journal", done, s.Steps)
		if s.Paused {
			s.OutcomeDetail += "; the run is paused"
		}
	}

	if !b.r.Integrity.Verified && s.Outcome != OutcomeCompleted {
		s.OutcomeDetail += fmt.Sprintf(" — as far as the journal verifies (up to line %d); what happened after that is unknown", b.r.Integrity.BadLine-1)
	}

	dt := b.rb.Downtime
	if dt == nil {
		return
	}
	d := &Downtime{PlannedStart: utc(dt.Start), Budget: dt.Budget, BeginsWith: dt.BeginsWith, PointOfNoReturn: dt.PointOfNoReturn}
	sum := b.rb.Summarize(func(kind string) bool { return kind == "gate" })
	d.Planned = sum.CriticalDuration
	if dt.BeginsWith != "" {
		d.Planned = sum.DowntimeDuration
		if info := b.steps[dt.BeginsWith]; info != nil && !info.firstStarted.IsZero() {
			d.Began, d.BeganBy = info.firstStarted.UTC(), "the first start of step "+dt.BeginsWith
		} else if st, ok := t.Steps[dt.BeginsWith]; ok && !st.Ended.IsZero() {
			d.Began, d.BeganBy = st.Ended.UTC(), "the end of step "+dt.BeginsWith+" (it was never started)"
		}
	} else if !dt.Start.IsZero() {
		end := s.Finished
		if end.IsZero() {
			end = b.now
		}
		if !end.Before(dt.Start) {
			d.Began, d.BeganBy = dt.Start.UTC(), "the planned start (the runbook names no begins_with step)"
		}
	}
	if dt.PointOfNoReturn != "" {
		if s, ok := b.rb.Step(dt.PointOfNoReturn); ok {
			d.PointOfNoReturnTitle = s.Title
		}
		// The engine's rule: passed once it started, or once it succeeded or was skipped.
		info := b.steps[dt.PointOfNoReturn]
		switch st, ok := t.Steps[dt.PointOfNoReturn]; {
		case info != nil && !info.firstStarted.IsZero():
			d.PointOfNoReturnAt = info.firstStarted.UTC()
		case info != nil && ok && !st.Ended.IsZero() && (info.class == classSucceeded || info.class == classByHand || info.class == classSkipped):
			d.PointOfNoReturnAt = st.Ended.UTC()
		}
	}
	if dt.RollbackPoint != "" {
		d.RollbackPoint, d.RollbackPointOutcome = dt.RollbackPoint, "not started"
		if info := b.steps[dt.RollbackPoint]; info != nil {
			if info.outcome != "" {
				d.RollbackPointOutcome = info.outcome
			}
			if st, ok := t.Steps[dt.RollbackPoint]; ok && (info.class == classSucceeded || info.class == classByHand) && !st.Ended.IsZero() {
				d.RollbackPointAt = st.Ended.UTC()
				if s, ok := b.rb.Step(dt.RollbackPoint); ok {
					d.RollbackPointProof = engine.RollbackPointProof(s, b.kinds, info.class == classByHand)
				}
			}
		}
	}
	if !d.Began.IsZero() {
		d.Ended = s.Finished
		switch {
		case !d.Ended.IsZero():
		case !b.r.Integrity.Verified:
			d.Ended, d.Truncated = utc(b.r.Integrity.Last), true
		default:
			d.Ended, d.Ongoing = b.now, true
		}
		d.Used = d.Ended.Sub(d.Began)
		d.Over = d.Used - d.Budget
		if !d.PlannedStart.IsZero() {
			d.StartDelay = d.Began.Sub(d.PlannedStart)
		}
	}
	s.Downtime = d
}

// tableKey is how tables are matched: case-insensitive, without the dbo. schema.
func tableKey(name string) string {
	return strings.TrimPrefix(strings.ToUpper(name), "DBO.")
}

// validations lays out every validation and resolves each notable table.
func (b *builder) validations() {
	for _, rc := range b.recounts {
		c := rc.p.Check
		b.r.Recounts = append(b.r.Recounts, Recount{Seq: rc.seq, Step: rc.step, At: rc.at, Actor: rc.p.Actor, Table: c.Table,
			Before: rc.p.Before.String(), After: c.Class.String(), Source: c.Source, Target: c.Target, Delta: c.Delta, Error: c.Error})
	}
	for i, v := range b.vals {
		out := Validation{Seq: v.seq, Step: v.step, At: v.at, Attempt: v.p.Attempt, Passed: v.p.Passed, Tables: v.p.Tables, Recounts: v.p.Recounts, Files: v.p.Files}
		classes := make([]engine.CountClass, 0, len(v.p.Classes))
		for c := range v.p.Classes {
			classes = append(classes, c)
		}
		sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
		for _, c := range classes {
			out.Classes = append(out.Classes, ClassCount{Class: c.String(), Count: v.p.Classes[c]})
		}
		var next *rawValidation
		for j := i + 1; j < len(b.vals); j++ {
			if b.vals[j].step == v.step {
				next = &b.vals[j]
				break
			}
		}
		for _, tc := range v.p.Notable {
			n := Notable{Table: tc.Table, Class: tc.Class.String(), Source: tc.Source, Target: tc.Target, Delta: tc.Delta,
				Pending: tc.Pending, Exact: tc.Exact, Reason: tc.Reason, Error: tc.Error}
			n.Status, n.Resolution = b.resolve(v, next, tc)
			out.Notable = append(out.Notable, n)
		}
		b.r.Validations = append(b.r.Validations, out)
	}
}

// resolve says how a notable table of validation v was resolved: expected, by an exact recount
// before the step's next validation, by that next validation, waived by a skip or a step done by
// hand, or not at all.
func (b *builder) resolve(v rawValidation, next *rawValidation, tc engine.TableCheck) (string, string) {
	if tc.Class.Passes() {
		if tc.Class == engine.ClassIgnored {
			return ResolvedExpected, "ignored" + prefixed(": ", tc.Reason)
		}
		return ResolvedExpected, "expected difference" + prefixed(": ", tc.Reason)
	}
	until := ^uint64(0)
	if next != nil {
		until = next.seq
	}
	var last *rawRecount
	for i := range b.recounts {
		rc := &b.recounts[i]
		if rc.seq > v.seq && rc.seq < until && (rc.step == v.step || rc.step == "") && tableKey(rc.p.Check.Table) == tableKey(tc.Table) {
			last = rc
		}
	}
	var prefix string
	if last != nil {
		c := last.p.Check
		what := fmt.Sprintf("recounted exactly by %s at %s: source %d, target %d, Δ %d — %s (was %s)", last.p.Actor.Name, ts(last.at), c.Source, c.Target, c.Delta, c.Class, last.p.Before)
		if c.Error != "" {
			what += "; recount error: " + c.Error
		}
		if c.Class.Passes() {
			return ResolvedRecount, what
		}
		prefix = what + "; "
	}
	if next != nil {
		still := false
		for _, t := range next.p.Notable {
			if tableKey(t.Table) == tableKey(tc.Table) {
				still = !t.Class.Passes()
				break
			}
		}
		switch {
		case next.p.Passed:
			return ResolvedRevalidated, prefix + fmt.Sprintf("validation attempt %d at %s passed", next.p.Attempt, ts(next.at))
		case !still:
			return ResolvedRevalidated, prefix + fmt.Sprintf("no longer a problem in validation attempt %d at %s", next.p.Attempt, ts(next.at))
		}
		return CarriedOver, prefix + fmt.Sprintf("still failing in validation attempt %d at %s", next.p.Attempt, ts(next.at))
	}
	if info := b.steps[v.step]; info != nil && v.step != "" {
		for _, w := range info.waivers {
			if w.seq > v.seq {
				return Waived, prefix + w.what
			}
		}
	}
	return Unresolved, prefix + "nothing later in the journal resolves it"
}

// lcs keeps the steps that ran LCS operations: LCS kinds, and any step that journaled an LCS
// operation id.
func (b *builder) lcs() {
	add := func(id string) {
		info := b.steps[id]
		if info == nil || (!strings.HasPrefix(info.lcs.Kind, "lcs.") && !info.hasOp) {
			return
		}
		s := info.lcs
		s.Outcome = info.outcome
		if s.Outcome == "" {
			s.Outcome = "not started"
		}
		if info.class == classFailed {
			s.Message = info.lastError
		}
		b.r.LCS = append(b.r.LCS, s)
	}
	for _, s := range b.rb.Steps {
		add(s.ID)
	}
	for _, id := range b.extraSteps {
		add(id)
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// prefixed is sep+s, or "" when s is empty.
func prefixed(sep, s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return sep + s
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// ts is a time in UTC ISO 8601 form ("—" when zero).
func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// signed is a difference with its sign: +5m, -1h02m, ±0s.
func signed(d time.Duration) string {
	switch {
	case d > 0:
		return "+" + runbook.FormatDuration(d)
	case d < 0:
		return runbook.FormatDuration(d)
	}
	return "±0s"
}

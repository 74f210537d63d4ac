// Summing up the run: the plan against what happened, the timeline and the summary.

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
	b.gates()
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
		sr := StepRow{ID: id, InRunbook: s != nil, Outcome: "not started", Gate: b.isGate(id)}
		if s != nil {
			sr.Title, sr.Phase, sr.Kind, sr.Planned, sr.Doc = s.Title, s.Phase, s.Kind, s.Planned, s.Doc
		}
		if info := b.steps[id]; info != nil && info.outcome != "" {
			sr.Outcome, sr.Result = info.outcome, info.result
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
			d.Began, d.BeganBy = dt.Start.UTC(), "the planned start (the runbook's downtime names no step that begins it)"
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

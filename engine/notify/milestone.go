// Package notify announces the milestones of a cutover night to the people who are not at the
// jump box: a generic JSON webhook, a Microsoft Teams Workflows webhook (an Adaptive Card) or a
// Slack incoming webhook, as the runbook's notify: section declares.
//
// What a milestone is — the downtime began, a step failed, a confirmation waits too long, the
// drain gate opened, a validation failed or passed, the point of no return was passed, the run
// completed, the cockpit lost or regained a data source — is decided here from the engine's
// snapshot and events, with the engine's own rules (Snapshot.Downtime, Snapshot.Rollback, the
// validation's verdict). Delivery never blocks the engine: each target has its own queue and
// worker, retries with backoff on the engine's clock, and every outcome (sent, or failed after N
// tries) is journaled, so it shows in the Logs pane and the report and a restart does not send it
// again.
package notify

import (
	"fmt"
	"strings"
	"time"

	"cutover/engine"
	"cutover/engine/runbook"
)

// Severity is how much a milestone matters; colour in a card follows it, and the words in the
// title say it too (colour is never the only signal).
type Severity int

// Severities.
const (
	SeverityInfo Severity = iota
	SeverityGood
	SeverityWarning
	SeverityCritical
)

var severityWords = [...]string{"info", "good", "warning", "critical"}

// String names the severity.
func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityWords) {
		return severityWords[s]
	}
	return "info"
}

// MarshalText writes the severity as its word.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the severity from its word.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, w := range severityWords {
		if w == string(b) {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Fact is one labelled figure of a message.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Milestone is one occurrence of a milestone: what every format renders.
type Milestone struct {
	// Key identifies the occurrence: a target never gets the same key twice.
	Key   string
	Event runbook.NotifyEvent
	// At is when it happened, on the engine's clock.
	At       time.Time
	Severity Severity
	// Title is one line; Text a few sentences; Facts the figures around it.
	Title string
	Text  string
	Facts []Fact
	// Step is the step it is about ("" for the run).
	Step string
	// Test marks the message `cutover notify test` sends.
	Test bool
}

// detector turns the engine's snapshot and events into milestones. It holds the snapshot as the
// events left it (the engine's Snapshot() then its events, as every front end does).
type detector struct {
	snap engine.Snapshot
	loc  *time.Location
	// verdicts is the last validation verdict seen per step (recounts that flip it are news).
	verdicts map[string]bool
	// lost holds the sources whose loss was announced (their return is news).
	lost map[string]bool
}

func newDetector(snap engine.Snapshot, loc *time.Location) *detector {
	if loc == nil {
		loc = time.Local
	}
	return &detector{snap: snap, loc: loc, verdicts: map[string]bool{}, lost: map[string]bool{}}
}

// apply folds an event into the snapshot.
func (d *detector) apply(ev engine.Event) {
	switch ev := ev.(type) {
	case engine.StepChanged:
		for i := range d.snap.Steps {
			if d.snap.Steps[i].ID == ev.Step.ID {
				d.snap.Steps[i] = ev.Step
			}
		}
		if ev.Seq > d.snap.Seq {
			d.snap.Seq = ev.Seq
		}
	case engine.RunChanged:
		d.snap.Run = ev.Run
		if ev.Seq > d.snap.Seq {
			d.snap.Seq = ev.Seq
		}
	}
}

// clockText is a moment as people read it in a message.
func (d *detector) clockText(t time.Time) string { return t.In(d.loc).Format("Mon 15:04 MST") }

// runFacts are the figures every message carries: the run, its phase and the downtime clock.
func (d *detector) runFacts(now time.Time) []Fact {
	run := d.snap.Run
	facts := []Fact{{"Run", run.Name}}
	if run.Environment != "" {
		facts = append(facts, Fact{"Environment", run.Environment})
	}
	if run.Rehearsal {
		facts = append(facts, Fact{"Rehearsal", "yes (a drill, not the real cutover)"})
	}
	facts = append(facts, Fact{"Phase", d.snap.Phase()}, Fact{"State", run.Outcome.String()})
	if dt := d.snap.Downtime(now); dt.Budget > 0 {
		switch {
		case dt.Began.IsZero():
			facts = append(facts, Fact{"Downtime", "not started (budget " + runbook.FormatDuration(dt.Budget) + ")"})
		default:
			v := fmt.Sprintf("%s of %s used (%d%%)", runbook.FormatDuration(dt.Elapsed), runbook.FormatDuration(dt.Budget), int(100*dt.Elapsed/dt.Budget))
			if dt.Over() {
				v = "OVER budget: " + v
			}
			facts = append(facts, Fact{"Downtime", v})
		}
	}
	if run.Finished.IsZero() {
		if p := d.snap.Project(now); p.Planned {
			facts = append(facts, Fact{"Forecast finish", d.clockText(p.Finish())})
		}
	}
	return facts
}

// state is every milestone the snapshot shows as having happened: the downtime began, steps
// failed, drain gates opened, the point of no return passed, the run completed. Keys make each
// one occurrence, so detecting it again changes nothing.
func (d *detector) state(now time.Time) []Milestone {
	var out []Milestone
	s := d.snap
	if dt := s.Downtime(now); !dt.Began.IsZero() {
		text := fmt.Sprintf("The downtime began at %s; AX 2012 is closed to users. Budget %s.", d.clockText(dt.Began), runbook.FormatDuration(dt.Budget))
		if bw := s.Run.Downtime.BeginsWith; bw != "" {
			if st, ok := s.Step(bw); ok {
				text = fmt.Sprintf("The downtime began at %s with step %q (%s); AX 2012 is closed to users. Budget %s.",
					d.clockText(dt.Began), st.ID, st.Title, runbook.FormatDuration(dt.Budget))
			}
		}
		out = append(out, Milestone{Key: string(runbook.EventDowntimeBegan), Event: runbook.EventDowntimeBegan, At: dt.Began,
			Severity: SeverityInfo, Title: "Downtime began: " + s.Run.Name, Text: text, Step: s.Run.Downtime.BeginsWith})
	}
	for _, st := range s.Steps {
		switch {
		case st.State == engine.StateFailed:
			text := fmt.Sprintf("Step %q (%s, phase %s) failed", st.ID, st.Title, st.Phase)
			if st.Attempt > 0 {
				text += fmt.Sprintf(" on attempt %d of %d", st.Attempt, st.MaxAttempts)
			}
			text += ". Nothing that depends on it starts until an operator retries, skips or completes it."
			m := Milestone{Key: fmt.Sprintf("%s/%s/%d", runbook.EventStepFailed, st.ID, st.Finished.UnixMilli()), Event: runbook.EventStepFailed,
				At: st.Finished, Severity: SeverityCritical, Title: "FAILED: " + st.Title, Text: text, Step: st.ID}
			if st.LastError != "" {
				m.Facts = append(m.Facts, Fact{"Error", oneLine(st.LastError, 300)})
			}
			out = append(out, m)
		case st.Kind == "replication.drain" && st.State == engine.StateSucceeded:
			text := fmt.Sprintf("The drain gate %q opened at %s: every AOS is stopped, writes have stopped and replication has delivered everything. Replication can now be removed.", st.Title, d.clockText(st.Finished))
			if st.ByHand {
				text = fmt.Sprintf("The drain gate %q was marked done by hand at %s.", st.Title, d.clockText(st.Finished))
			}
			out = append(out, Milestone{Key: fmt.Sprintf("%s/%s", runbook.EventDrainOpened, st.ID), Event: runbook.EventDrainOpened,
				At: st.Finished, Severity: SeverityGood, Title: "✓ Drain gate open: " + st.Title, Text: text, Step: st.ID})
		}
	}
	if rb := s.Rollback(now); rb.State == engine.RollbackGone {
		pnr, _ := s.Step(rb.NoReturn)
		out = append(out, Milestone{Key: string(runbook.EventNoReturnPassed), Event: runbook.EventNoReturnPassed, At: rb.NoReturnAt,
			Severity: SeverityWarning, Title: "Point of no return passed: " + pnr.Title,
			Text: fmt.Sprintf("Step %q (%s) started at %s: going back to AX 2012 is no longer possible.", pnr.ID, pnr.Title, d.clockText(rb.NoReturnAt)),
			Step: pnr.ID})
	}
	if s.Run.Outcome == engine.OutcomeCompleted {
		done, skipped := 0, 0
		for _, st := range s.Steps {
			if st.State == engine.StateSkipped {
				skipped++
			} else if st.State.Done() {
				done++
			}
		}
		text := fmt.Sprintf("The cutover run %q completed at %s: %d steps done, %d skipped.", s.Run.Name, d.clockText(s.Run.Finished), done, skipped)
		if dt := s.Downtime(now); !dt.Began.IsZero() && dt.Budget > 0 {
			text += fmt.Sprintf(" Downtime %s of a %s budget.", runbook.FormatDuration(dt.Elapsed), runbook.FormatDuration(dt.Budget))
		}
		out = append(out, Milestone{Key: string(runbook.EventRunCompleted), Event: runbook.EventRunCompleted, At: s.Run.Finished,
			Severity: SeverityGood, Title: "✓ Cutover completed: " + s.Run.Name, Text: text})
	}
	return out
}

// waiting is every confirmation that has waited at least wait by now, and when the next one
// will have (zero: none).
func (d *detector) waiting(now time.Time, wait time.Duration) ([]Milestone, time.Time) {
	var out []Milestone
	var next time.Time
	for _, st := range d.snap.Steps {
		c := st.Confirmation
		if st.State != engine.StateAwaiting || c == nil || c.Since.IsZero() {
			continue
		}
		due := c.Since.Add(wait)
		if now.Before(due) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		text := fmt.Sprintf("Step %q (%s) has waited %s for its confirmation (since %s): %d operator(s) must type %q in the cockpit.",
			st.ID, st.Title, runbook.FormatDuration(now.Sub(c.Since)), d.clockText(c.Since), c.Needed, c.Phrase)
		if len(c.Approvals) > 0 {
			text += fmt.Sprintf(" %d of %d have.", len(c.Approvals), c.Needed)
		}
		out = append(out, Milestone{Key: fmt.Sprintf("%s/%s/%d", runbook.EventConfirmationWaiting, st.ID, c.Request),
			Event: runbook.EventConfirmationWaiting, At: due, Severity: SeverityWarning,
			Title: "Waiting for a confirmation: " + st.Title, Text: text, Step: st.ID})
	}
	return out, next
}

// validation is the milestone of a validation: each validation a step runs (attempt), and a
// recount that changes the verdict.
func (d *detector) validation(v *engine.Validation, st engine.StepView, at time.Time, recount bool) (Milestone, bool) {
	if v == nil || v.Step != st.ID {
		return Milestone{}, false
	}
	before, seen := d.verdicts[st.ID]
	d.verdicts[st.ID] = v.Passed
	if recount && seen && before == v.Passed {
		return Milestone{}, false
	}
	ev, sev, title := runbook.EventValidationFailed, SeverityCritical, "Validation FAILED: "+st.Title
	if v.Passed {
		ev, sev, title = runbook.EventValidationPassed, SeverityGood, "✓ Validation passed: "+st.Title
	}
	key := fmt.Sprintf("%s/%s/%d", ev, st.ID, st.Attempt)
	if recount {
		key = fmt.Sprintf("%s/%s/recount-%d", ev, st.ID, v.At.UnixMilli())
	}
	var classes []string
	for c := engine.ClassMismatch; c <= engine.ClassMatch; c++ {
		if n := v.Classes[c]; n > 0 {
			classes = append(classes, fmt.Sprintf("%d %s", n, c))
		}
	}
	text := fmt.Sprintf("The record-count validation of step %q compared %d tables: %s.", st.ID, len(v.Tables), strings.Join(classes, ", "))
	m := Milestone{Key: key, Event: ev, At: at, Severity: sev, Title: title, Text: text, Step: st.ID}
	failing := v.Failing()
	for i, t := range failing {
		if i == 5 {
			m.Facts = append(m.Facts, Fact{"…", fmt.Sprintf("%d more tables", len(failing)-5)})
			break
		}
		m.Facts = append(m.Facts, Fact{t.Table, fmt.Sprintf("%s: source %d, target %d", t.Class, t.Source, t.Target)})
	}
	return m, true
}

// health is the milestone of a data source's change of health: lost (failing, unless it is the
// expected effect of a running step) or back (answering again after a loss that was announced).
func (d *detector) health(h engine.SourceHealth, expectedBy string) (Milestone, bool) {
	switch {
	case h.State == engine.HealthFailing && expectedBy == "":
		d.lost[h.Name] = true
		return Milestone{Key: fmt.Sprintf("%s/%s/%d", runbook.EventSourcesLost, h.Name, h.Since.UnixMilli()), Event: runbook.EventSourcesLost,
			At: h.Since, Severity: SeverityCritical, Title: "Cockpit lost a source: " + h.Name,
			Text: fmt.Sprintf("The cockpit cannot read the %s since %s: %s. Its replication figures are not current until it answers again.",
				h.Name, d.clockText(h.Since), oneLine(h.LastError, 300))}, true
	case d.lost[h.Name] && h.State.Up():
		delete(d.lost, h.Name)
		return Milestone{Key: fmt.Sprintf("%s/%s/%d", runbook.EventSourcesBack, h.Name, h.Since.UnixMilli()), Event: runbook.EventSourcesBack,
			At: h.Since, Severity: SeverityGood, Title: "✓ Source reachable again: " + h.Name,
			Text: fmt.Sprintf("The %s answers again since %s, after an outage of %s.", h.Name, d.clockText(h.Since), runbook.FormatDuration(h.LastOutage))}, true
	}
	return Milestone{}, false
}

// oneLine is text on one line, at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		cut := n
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

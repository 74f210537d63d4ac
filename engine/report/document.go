package report

import (
	"fmt"
	"strconv"
	"strings"

	"cutover/engine"
	"cutover/engine/runbook"
)

// The report is laid out once as a document of sections and blocks, which the Markdown and HTML
// writers render; so both formats always carry the same sections, headings and facts.

// Block kinds.
const (
	blockPara  = "p"
	blockSub   = "h3"
	blockKV    = "kv"
	blockTable = "table"
	blockList  = "list"
	blockChart = "chart"
	blockAlert = "alert"
)

// Emphasis classes (bold in Markdown, coloured in HTML).
const (
	emGood = "good"
	emWarn = "warn"
	emBad  = "bad"
)

type document struct {
	Title    string
	Subtitle string
	Banner   string
	Sections []section
}

type section struct {
	ID     string
	Title  string
	Blocks []block
}

type block struct {
	Kind  string
	Text  string
	Class string
	// KV rows for blockKV; Head and Rows for blockTable; Items for blockList.
	KV    []kv
	Head  []string
	Rows  []row
	Items []string
	Chart *Chart
}

type kv struct {
	Key, Value, Class string
}

type row struct {
	Class string
	Cells []string
}

func para(format string, args ...any) block {
	return block{Kind: blockPara, Text: fmt.Sprintf(format, args...)}
}

func sub(text string) block { return block{Kind: blockSub, Text: text} }

func none(what string) block { return block{Kind: blockPara, Text: "None: " + what + "."} }

// anchor is a section's HTML id: its title in lower case with dashes.
func anchor(title string) string {
	return strings.ReplaceAll(strings.ToLower(title), " ", "-")
}

// layout turns the report into a document.
func (r *Report) layout() document {
	name := r.Summary.Name
	if name == "" {
		name = "(unnamed runbook)"
	}
	d := document{
		Title:    "Cutover evidence report: " + name,
		Subtitle: fmt.Sprintf("%s · %s · generated %s from %s", orDash(r.Summary.Environment), runType(r.Summary.Rehearsal), ts(r.Generated), r.Integrity.Path),
		Banner:   r.Integrity.Banner(),
	}
	add := func(title string, blocks []block) {
		d.Sections = append(d.Sections, section{ID: anchor(title), Title: title, Blocks: blocks})
	}
	add(SectionSummary, r.summaryBlocks())
	add(SectionTimeline, r.timelineBlocks())
	add(SectionConfirmations, r.confirmationBlocks())
	add(SectionValidation, r.validationBlocks())
	add(SectionDrain, r.drainBlocks())
	add(SectionLCS, r.lcsBlocks())
	add(SectionAnomalies, r.anomalyBlocks())
	add(SectionNotify, r.notificationBlocks())
	add(SectionIntegrity, r.integrityBlocks())
	return d
}

func runType(rehearsal bool) string {
	if rehearsal {
		return "rehearsal"
	}
	return "go-live (not a rehearsal)"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (r *Report) summaryBlocks() []block {
	s := r.Summary
	var out []block
	if !r.Integrity.Verified {
		out = append(out, block{Kind: blockAlert, Text: r.Integrity.Banner()})
	}
	oc := emWarn
	switch s.Outcome {
	case OutcomeCompleted:
		oc = emGood
	case OutcomeBlocked, OutcomeHalted:
		oc = emBad
	}
	steps := fmt.Sprintf("%d in the runbook: %d succeeded (%d done by hand), %d skipped, %d failed, %d unfinished, %d not started",
		s.Steps, s.Succeeded, s.DoneByHand, s.Skipped, s.Failed, s.Unfinished, s.NotStarted)
	if s.NotNeeded > 0 {
		steps += fmt.Sprintf(", %d not needed (they run only on a failure)", s.NotNeeded)
	}
	starts := fmt.Sprintf("%d (resumed %d time(s), %d of them after a crash)", s.EngineStarts, s.Resumes, s.CrashRecoveries)
	kvs := []kv{
		{Key: "Runbook", Value: orDash(s.Name)},
		{Key: "Environment", Value: orDash(s.Environment)},
		{Key: "Rehearsal", Value: yesNo(s.Rehearsal)},
		{Key: "Outcome", Value: s.Outcome + " — " + s.OutcomeDetail, Class: oc},
		{Key: "Steps", Value: steps},
		{Key: "Journal opened", Value: ts(s.Opened)},
		{Key: "Run finished", Value: ts(s.Finished)},
		{Key: "Engine starts", Value: starts},
	}
	if s.AutoConfirm {
		kvs = append(kvs, kv{Key: "Automatic confirmations", Value: "yes: an engine confirmed steps automatically (rehearsal run with --yes)", Class: emWarn})
	}
	if s.Paused {
		kvs = append(kvs, kv{Key: "Paused", Value: "the run is paused at the end of the journal", Class: emWarn})
	}
	out = append(out, block{Kind: blockKV, KV: kvs})

	out = append(out, sub("Downtime window"))
	dt := s.Downtime
	if dt == nil {
		return append(out, para("The runbook has no downtime window."), r.notesBlock())
	}
	planned := ts(dt.PlannedStart)
	if dt.PlannedStart.IsZero() {
		planned = "not set"
	}
	plannedLen := runbook.FormatDuration(dt.Planned) + " (longest chain of planned step durations"
	if dt.BeginsWith != "" {
		plannedLen += " from " + dt.BeginsWith
	}
	plannedLen += ")"
	dkv := []kv{
		{Key: "Planned start", Value: planned},
		{Key: "Budget", Value: runbook.FormatDuration(dt.Budget)},
		{Key: "Planned length", Value: plannedLen},
	}
	began := "not yet"
	if dt.BeginsWith != "" {
		began += " (begins with step " + dt.BeginsWith + ")"
	}
	if !dt.Began.IsZero() {
		began = ts(dt.Began) + " (" + dt.BeganBy + ")"
		if !dt.PlannedStart.IsZero() {
			switch {
			case dt.StartDelay > 0:
				began += "; " + runbook.FormatDuration(dt.StartDelay) + " after the planned start"
			case dt.StartDelay < 0:
				began += "; " + runbook.FormatDuration(-dt.StartDelay) + " before the planned start"
			default:
				began += "; on the planned start"
			}
		}
	}
	dkv = append(dkv, kv{Key: "Downtime began", Value: began})
	if !dt.Began.IsZero() {
		ended := ts(dt.Ended) + " (the run finished)"
		used := runbook.FormatDuration(dt.Used) + " of the " + runbook.FormatDuration(dt.Budget) + " budget"
		switch {
		case dt.Truncated:
			ended = "unknown: the verified part of the journal ends at " + ts(dt.Ended) + " without the run finishing"
			used = "at least " + used + " (to the end of the verified journal)"
		case dt.Ongoing:
			ended = "not yet: still running at " + ts(dt.Ended) + " (the report's time)"
			used += " so far"
		}
		uc := emGood
		switch {
		case dt.Over > 0:
			used += " — OVER budget by " + runbook.FormatDuration(dt.Over)
			if dt.Truncated {
				used += " or more"
			}
			uc = emBad
		case dt.Truncated:
			uc = emWarn
		case dt.Ongoing:
			used += " — " + runbook.FormatDuration(-dt.Over) + " left"
			uc = emWarn
		default:
			used += " — under budget by " + runbook.FormatDuration(-dt.Over)
		}
		dkv = append(dkv, kv{Key: "Downtime ended", Value: ended}, kv{Key: "Downtime used", Value: used, Class: uc})
	}
	if dt.PointOfNoReturn != "" {
		title := ""
		if dt.PointOfNoReturnTitle != "" {
			title = " (" + dt.PointOfNoReturnTitle + ")"
		}
		pnr := "step " + dt.PointOfNoReturn + title + ": not passed (AX 2012 rollback stays possible until it)"
		if !dt.PointOfNoReturnAt.IsZero() {
			pnr = "step " + dt.PointOfNoReturn + title + ": passed at " + ts(dt.PointOfNoReturnAt) + " (AX 2012 rollback no longer possible)"
		}
		dkv = append(dkv, kv{Key: "Point of no return", Value: pnr})
	}
	if dt.RollbackPoint != "" {
		rp, class := "step "+dt.RollbackPoint+": made at "+ts(dt.RollbackPointAt), emWarn
		switch dt.RollbackPointProof {
		case engine.ProofVerified:
			rp, class = "step "+dt.RollbackPoint+": made at "+ts(dt.RollbackPointAt)+" — rollback ready, backup verified by the step", emGood
		case engine.ProofByHand:
			rp = "step " + dt.RollbackPoint + ": made by hand at " + ts(dt.RollbackPointAt) + " — not verified (nothing checked the backup)"
		default:
			rp += " — not verified (the step does not check the backup)"
		}
		if dt.RollbackPointAt.IsZero() {
			rp, class = "step "+dt.RollbackPoint+": NOT made ("+dt.RollbackPointOutcome+")", emWarn
			if !dt.PointOfNoReturnAt.IsZero() {
				class = emBad
			}
		}
		dkv = append(dkv, kv{Key: "AX 2012 rollback point", Value: rp, Class: class})
	}
	out = append(out, block{Kind: blockKV, KV: dkv})
	return append(out, r.notesBlock())
}

func (r *Report) notesBlock() block {
	if len(r.Notes) == 0 {
		return block{Kind: blockPara, Text: "Notes: none."}
	}
	return block{Kind: blockList, Items: append([]string{"Notes:"}, r.Notes...)}
}

func (r *Report) timelineBlocks() []block {
	tl := r.Timeline
	head := []string{"#", "Step", "Title", "Phase", "Planned", "Start", "End", "Duration", "Attempts", "Outcome"}
	if tl.Baseline != nil {
		head = append(head, "Baseline", "Δ vs baseline")
	}
	t := block{Kind: blockTable, Head: head}
	for i, s := range tl.Steps {
		id := s.ID
		if !s.InRunbook {
			id += " (not in the runbook)"
		}
		planned := "—"
		if s.Planned > 0 {
			planned = runbook.FormatDuration(s.Planned)
		}
		d := "—"
		if !s.Ended.IsZero() {
			d = runbook.FormatDuration(s.Duration)
		}
		attempts := strconv.Itoa(s.Attempts)
		if s.Retries > 0 {
			attempts += fmt.Sprintf(" (%d retried)", s.Retries)
		}
		cells := []string{strconv.Itoa(i + 1), id, orDash(s.Title), orDash(s.Phase), planned, ts(s.Began), ts(s.Ended), d, attempts, s.Outcome}
		if tl.Baseline != nil {
			base, diff := "—", "—"
			if s.HasBaseline {
				base = runbook.FormatDuration(s.Baseline)
			}
			if s.HasDiff {
				diff = signed(s.Diff)
			}
			cells = append(cells, base, diff)
		}
		t.Rows = append(t.Rows, row{Class: outcomeClass(s.Outcome), Cells: cells})
	}
	out := []block{
		para("Start is when the step was first asked for (its confirmation opened) or started; Duration runs from then to its end (success, skip or done by hand)."),
		t,
	}
	totals := []string{
		fmt.Sprintf("Run began %s, finished %s; elapsed %s.", ts(tl.Began), ts(tl.Finished), runbook.FormatDuration(tl.Elapsed)),
		fmt.Sprintf("Planned: the longest chain of planned step durations is %s.", runbook.FormatDuration(tl.PlannedCritical)),
	}
	if b := tl.Baseline; b != nil {
		totals = append(totals,
			fmt.Sprintf("Baseline: %s (head %s), elapsed %s; this run %s (%s).", b.Path, b.Head, runbook.FormatDuration(b.Elapsed), runbook.FormatDuration(tl.Elapsed), signed(b.Diff)),
			fmt.Sprintf("Steps finished in both runs: %d, taking %s here against %s in the baseline (%s).", b.Compared, runbook.FormatDuration(b.Actual), runbook.FormatDuration(b.Baseline), signed(b.Actual-b.Baseline)))
	} else {
		totals = append(totals, "Baseline: none (no baseline journal was given or named by the runbook).")
	}
	return append(out, block{Kind: blockList, Items: totals})
}

func outcomeClass(outcome string) string {
	switch {
	case strings.HasPrefix(outcome, "succeeded"):
		return emGood
	case strings.HasPrefix(outcome, "failed"), strings.HasPrefix(outcome, "aborted"),
		strings.HasPrefix(outcome, "no-go"), outcome == "interrupted":
		return emBad
	case strings.HasPrefix(outcome, "skipped"), strings.HasPrefix(outcome, "done by hand"):
		return emWarn
	}
	return ""
}

func (r *Report) confirmationBlocks() []block {
	c := r.Confirmations
	out := []block{sub("Approvals")}
	if len(c.Approvals) == 0 {
		out = append(out, none("no step was confirmed"))
	} else {
		t := block{Kind: blockTable, Head: []string{"When", "Step", "Request", "Who", "Role", "Origin", "Key fingerprint", "Count", "Note"}}
		for _, a := range c.Approvals {
			note, cl := "", ""
			switch {
			case a.Auto:
				note, cl = "automatic (rehearsal --yes)", emWarn
			case a.Override == "skip":
				note, cl = "approves skipping the step", emWarn
			case a.Override == "done":
				note, cl = "approves marking it done by hand", emWarn
			}
			if a.SharedOrigin != "" {
				note, cl = strings.TrimPrefix(note+"; "+a.SharedOrigin, "; "), emWarn
			}
			t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(a.At), a.Step, "#" + strconv.FormatUint(a.Request, 10), a.Actor.Name,
				orDash(string(a.Actor.Role)), orDash(a.Actor.Origin), orDash(a.Actor.Fingerprint), fmt.Sprintf("%d of %d", a.Count, a.Needed), orDash(note)}})
		}
		out = append(out, t)
	}
	out = append(out, sub("Requests"))
	if len(c.Requests) == 0 {
		out = append(out, none("no confirmation was requested"))
	} else {
		t := block{Kind: blockTable, Head: []string{"Request", "Step", "Opened", "Needed", "Approvals", "Result"}}
		for _, q := range c.Requests {
			res, cl := "still open at the end of the journal (or abandoned)", emWarn
			switch {
			case q.Satisfied:
				res, cl = "confirmed at "+ts(q.SatisfiedAt), ""
			case q.Declined:
				res, cl = "no-go", emBad
			}
			if q.Reconfirm {
				res += " (asked again)"
			}
			if q.Override != "" {
				what := "request to skip it: "
				if q.Override == "done" {
					what = "request to mark it done by hand: "
				}
				switch {
				case q.Satisfied:
					res, cl = what+"approved at "+ts(q.SatisfiedAt), emWarn
				case q.Withdrawn:
					res, cl = what+"withdrawn", ""
				default:
					res, cl = what+"still open at the end of the journal (or abandoned)", emWarn
				}
			}
			t.Rows = append(t.Rows, row{Class: cl, Cells: []string{"#" + strconv.FormatUint(q.ID, 10), q.Step, ts(q.At), strconv.Itoa(q.Needed), strconv.Itoa(q.Approvals), res}})
		}
		out = append(out, t)
	}
	out = append(out, sub("Refused confirmations and overrides, no-gos, withdrawn requests"))
	if len(c.Refusals) == 0 {
		return append(out, none("no confirmation or override was refused, no step declined and no request withdrawn"))
	}
	t := block{Kind: blockTable, Head: []string{"When", "Step", "Request", "Kind", "Who", "Key fingerprint", "Reason"}}
	for _, f := range c.Refusals {
		cl := emWarn
		if f.Kind == "no-go" || strings.HasPrefix(f.Kind, "refused ") {
			cl = emBad
		}
		t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(f.At), orDash(f.Step), "#" + strconv.FormatUint(f.Request, 10), f.Kind,
			f.Actor.Name + prefixed(", ", f.Actor.Origin), orDash(f.Actor.Fingerprint), orDash(f.Reason)}})
	}
	return append(out, t)
}

func (r *Report) validationBlocks() []block {
	if len(r.Validations) == 0 && len(r.Recounts) == 0 {
		return []block{none("the journal has no record-count validation")}
	}
	var out []block
	for _, v := range r.Validations {
		verdict := "FAILED"
		if v.Passed {
			verdict = "passed"
		}
		out = append(out, sub(fmt.Sprintf("%s, attempt %d at %s: %s", orDash(v.Step), v.Attempt, ts(v.At), verdict)))
		var classes []string
		for _, c := range v.Classes {
			classes = append(classes, fmt.Sprintf("%d %s", c.Count, c.Class))
		}
		line := fmt.Sprintf("%d table(s): %s; %d exact recount(s) during the validation.", v.Tables, orDash(strings.Join(classes, ", ")), v.Recounts)
		if len(v.Files) > 0 {
			line += " Every table's counts: " + strings.Join(v.Files, ", ") + "."
		}
		b := para("%s", line)
		if !v.Passed {
			b.Class = emBad
		}
		out = append(out, b)
		if len(v.Notable) == 0 {
			out = append(out, para("Every table matched or was ignored."))
			continue
		}
		t := block{Kind: blockTable, Head: []string{"Table", "Class", "Source", "Target", "Δ", "Pending", "Exact", "Status", "Resolution"}}
		for _, n := range v.Notable {
			cl := emGood
			switch n.Status {
			case Unresolved, Waived:
				cl = emBad
			case CarriedOver:
				cl = emWarn
			}
			res := n.Resolution
			if n.Error != "" {
				res += " (count error: " + n.Error + ")"
			}
			t.Rows = append(t.Rows, row{Class: cl, Cells: []string{n.Table, n.Class, thousands(n.Source), thousands(n.Target),
				strconv.FormatInt(n.Delta, 10), thousands(n.Pending), yesNo(n.Exact), n.Status, res}})
		}
		out = append(out, t)
	}
	out = append(out, sub("Recounts"))
	if len(r.Recounts) == 0 {
		return append(out, none("no table was recounted by an operator"))
	}
	t := block{Kind: blockTable, Head: []string{"When", "Step", "Table", "Who", "Before", "After", "Source", "Target", "Δ"}}
	for _, rc := range r.Recounts {
		after := rc.After
		if rc.Error != "" {
			after += " (error: " + rc.Error + ")"
		}
		t.Rows = append(t.Rows, row{Cells: []string{ts(rc.At), orDash(rc.Step), rc.Table, rc.Actor.Name + prefixed(", ", rc.Actor.Fingerprint),
			rc.Before, after, thousands(rc.Source), thousands(rc.Target), strconv.FormatInt(rc.Delta, 10)}})
	}
	return append(out, t)
}

func (r *Report) drainBlocks() []block {
	d := r.Drain
	if len(d.Samples) == 0 {
		return []block{none("the journal has no replication samples")}
	}
	fig := func(s Sample) string {
		return fmt.Sprintf("%s commands pending at %s (drain %s)", thousands(s.Pending), ts(s.At), rate(s.DrainRate))
	}
	out := []block{
		{Kind: blockKV, KV: []kv{
			{Key: "Samples", Value: fmt.Sprintf("%d, from %s to %s", len(d.Samples), ts(d.First.At), ts(d.Last.At))},
			{Key: "First", Value: fig(d.First)},
			{Key: "Peak", Value: fig(d.Peak)},
			{Key: "Last", Value: fig(d.Last)},
		}},
		{Kind: blockChart, Chart: d.Chart},
	}
	t := block{Kind: blockTable, Head: []string{"Time", "Pending", "Drain rate", "ETA", "Tables"}}
	for _, s := range d.Rows {
		eta := "—"
		if s.ETA > 0 {
			eta = runbook.FormatDuration(s.ETA)
		}
		t.Rows = append(t.Rows, row{Cells: []string{ts(s.At), thousands(s.Pending), rate(s.DrainRate), eta, strconv.Itoa(s.Tables)}})
	}
	if len(d.Rows) < len(d.Samples) {
		out = append(out, para("%d of the %d samples, evenly spaced:", len(d.Rows), len(d.Samples)))
	}
	return append(out, t)
}

func (r *Report) lcsBlocks() []block {
	if len(r.LCS) == 0 {
		return []block{none("no step ran a Lifecycle Services operation")}
	}
	var out []block
	for _, s := range r.LCS {
		title := s.Step
		if s.Title != "" {
			title += ": " + s.Title
		}
		if s.Kind != "" {
			title += " (" + s.Kind + ")"
		}
		out = append(out, sub(title))
		b := para("Outcome: %s%s", s.Outcome, prefixed(" — ", s.Message))
		b.Class = outcomeClass(s.Outcome)
		out = append(out, b)
		if len(s.Operations) > 0 {
			t := block{Kind: blockTable, Head: []string{"Operation (activity id)", "Attempt", "Journaled", "States", "Last state"}}
			for _, op := range s.Operations {
				t.Rows = append(t.Rows, row{Cells: []string{op.ID, strconv.Itoa(op.Attempt), ts(op.At), orDash(strings.Join(op.States, " → ")), orDash(op.Final)}})
			}
			out = append(out, t)
		}
		if len(s.Events) > 0 {
			t := block{Kind: blockTable, Head: []string{"When", "Attempt", "What"}}
			for _, e := range s.Events {
				t.Rows = append(t.Rows, row{Cells: []string{ts(e.At), strconv.Itoa(e.Attempt), e.What}})
			}
			out = append(out, t)
		}
	}
	return out
}

func (r *Report) anomalyBlocks() []block {
	if len(r.Anomalies) == 0 {
		return []block{none("no retries, failures, interruptions, skips, steps done by hand, source outages, runbook changes or pauses")}
	}
	t := block{Kind: blockTable, Head: []string{"When", "Kind", "Step", "Actor", "Detail"}}
	counts := map[string]int{}
	var kinds []string
	for _, a := range r.Anomalies {
		if counts[a.Kind] == 0 {
			kinds = append(kinds, a.Kind)
		}
		counts[a.Kind]++
		cl := emWarn
		switch a.Kind {
		case AnomalyFailure, AnomalyAborted, AnomalyNoGo, AnomalyCrash:
			cl = emBad
		}
		t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(a.At), a.Kind, orDash(a.Step), orDash(a.Actor), a.Detail}})
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return []block{para("%d anomalies: %s.", len(r.Anomalies), strings.Join(parts, ", ")), t}
}

func (r *Report) notificationBlocks() []block {
	if len(r.Notifications) == 0 {
		return []block{none("no milestone was announced (the runbook has no notify: targets, or none was due)")}
	}
	t := block{Kind: blockTable, Head: []string{"When", "Target", "Milestone", "Message", "Outcome"}}
	sent, failed := 0, 0
	for _, n := range r.Notifications {
		tries := "1 try"
		if n.Tries != 1 {
			tries = fmt.Sprintf("%d tries", n.Tries)
		}
		outcome, cl := "sent ("+tries+")", ""
		if n.Sent {
			sent++
		} else {
			failed++
			outcome, cl = "FAILED after "+tries+": "+n.Error, emBad
		}
		t.Rows = append(t.Rows, row{Class: cl, Cells: []string{ts(n.At), n.Target + " (" + n.Format + ")", n.Event, n.Title, outcome}})
	}
	summary := para("%d message(s) delivered, %d failed.", sent, failed)
	if failed > 0 {
		summary.Class = emBad
	}
	return []block{summary, t}
}

func (r *Report) integrityBlocks() []block {
	in := r.Integrity
	var out []block
	result, cl := "verified: every line's own hash and its link to the line before match", emGood
	switch {
	case !in.Verified && in.BadLine == 0 && in.TailReason != "":
		result, cl = fmt.Sprintf("FAILED: %s. Every line it holds chains correctly, but it does not end where its anchor says.", in.TailReason), emBad
		out = append(out, block{Kind: blockAlert, Text: in.Banner()})
	case !in.Verified:
		result, cl = fmt.Sprintf("FAILED at line %d: %s. This report covers only the %d record(s) before it; nothing from line %d on is evidence.", in.BadLine, in.BadReason, in.Records, in.BadLine), emBad
		out = append(out, block{Kind: blockAlert, Text: in.Banner()})
	case in.Anchored:
		result += "; it ends where its anchor says the last acknowledged line is"
	}
	rb := fmt.Sprintf("%s (sha256 %s)", orDash(in.RunbookFile), orDash(in.RunbookHash))
	rbc := ""
	switch {
	case in.CurrentHash == "":
		rb += "; the journal records no runbook"
	case in.RunbookMatches:
		rb += "; the same file the run last used"
	default:
		rb += fmt.Sprintf("; NOT the file the run last used (sha256 %s)", in.CurrentHash)
		rbc = emWarn
	}
	if in.OpenedWith != "" && in.OpenedWith != in.CurrentHash {
		rb += fmt.Sprintf("; the run was opened with sha256 %s", in.OpenedWith)
	}
	kvs := []kv{
		{Key: "Journal", Value: in.Path},
		{Key: "Verification", Value: result, Class: cl},
		{Key: "Records verified", Value: strconv.Itoa(in.Records)},
		{Key: "First record", Value: ts(in.First)},
		{Key: "Last record", Value: ts(in.Last)},
		{Key: "Head hash", Value: in.Head},
	}
	if in.TornLine > 0 {
		kvs = append(kvs, kv{Key: "Incomplete last line", Value: fmt.Sprintf("line %d (%d bytes), left out: a crash during a write, or a write in progress", in.TornLine, in.TornBytes), Class: emWarn})
	}
	kvs = append(kvs, kv{Key: "Runbook", Value: rb, Class: rbc})
	out = append(out, block{Kind: blockKV, KV: kvs})
	return append(out, para("Anyone can check this: cutover journal verify recomputes every hash; the head hash above identifies exactly the journal this report was made from."))
}

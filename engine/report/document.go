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
	// KV rows for blockKV; Head, Cols and Rows for blockTable; Items for blockList.
	KV   []kv
	Head []string
	// Cols are the table's column kinds (colNum, colTime, colID; "" for text), one per column
	// or none: a number, a time or an identifier is never broken over two lines.
	Cols  []string
	Rows  []row
	Items []string
	Chart *Chart
}

// Column kinds of a table.
const (
	// colNum: a number or a duration, right-aligned in figures of one width.
	colNum = "num"
	// colTime: a time.
	colTime = "time"
	// colID: a step id, a table name, a state: a word that must not break.
	colID = "id"
)

// Col is the kind of a table's column i ("" for text).
func (b block) Col(i int) string {
	if i < len(b.Cols) {
		return b.Cols[i]
	}
	return ""
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
	cols := []string{colNum, colID, "", "", colNum, colTime, colTime, colNum, colNum, ""}
	if tl.Baseline != nil {
		head = append(head, "Baseline", "Δ vs baseline")
		cols = append(cols, colNum, colNum)
	}
	t := block{Kind: blockTable, Head: head, Cols: cols}
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
		if s.Attempts == 0 {
			attempts = "—" // nothing ran: a gate waits for its decision, a skip needs none
		}
		if s.Gate {
			// A gate makes no attempts: it waits for its decision (the Go/no-go gates table).
			attempts = "—"
			if !s.Ended.IsZero() {
				d += " wait"
			}
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
		para("Start is when the step was first asked for (its confirmation opened) or started; Duration runs from then to its end (success, skip or done by hand). A gate's duration is its wait for the decision."),
		t,
	}
	out = append(out, stepList(tl.Steps, "What each step's end said (its result, or why it was skipped or marked done by hand):",
		func(s StepRow) string { return s.Result })...)
	out = append(out, stepList(tl.Steps, "The documents the steps follow (the runbook's doc:):", func(s StepRow) string { return s.Doc })...)
	ran := fmt.Sprintf("Run began %s, finished %s; elapsed %s.", ts(tl.Began), ts(tl.Finished), runbook.FormatDuration(tl.Elapsed))
	switch {
	case tl.Began.IsZero():
		ran = "The run has not begun."
	case tl.Finished.IsZero():
		ran = fmt.Sprintf("Run began %s and has not finished; %s from then to the end of its last finished step.", ts(tl.Began), runbook.FormatDuration(tl.Elapsed))
	}
	totals := []string{
		ran,
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
	case strings.HasPrefix(outcome, "succeeded"), outcome == "go", strings.HasPrefix(outcome, "go ("):
		return emGood
	case strings.HasPrefix(outcome, "failed"), strings.HasPrefix(outcome, "aborted"),
		strings.HasPrefix(outcome, "no-go"), outcome == "interrupted":
		return emBad
	case strings.HasPrefix(outcome, "skipped"), strings.HasPrefix(outcome, "done by hand"):
		return emWarn
	}
	return ""
}

// stepList is a list under title of the steps whose field is not empty, each by its number and
// id in the timeline; none when no step has one.
func stepList(steps []StepRow, title string, field func(StepRow) string) []block {
	items := []string{title}
	for i, s := range steps {
		if v := field(s); v != "" {
			items = append(items, fmt.Sprintf("%d %s: %s", i+1, s.ID, v))
		}
	}
	if len(items) == 1 {
		return nil
	}
	return []block{{Kind: blockList, Items: items}}
}

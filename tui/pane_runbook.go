package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

// runbookPane lists the phases and steps with their state, planned against actual time and who
// confirmed them, and details the selected step: what it does, its progress, its last log lines,
// its last error and what an operator can do next.
type runbookPane struct {
	*env
	sel    string // selected step id; follows the step, not the row
	cursor list
}

func newRunbookPane(e *env) *runbookPane { return &runbookPane{env: e} }

// rbRow is a phase heading (step == "") or a step.
type rbRow struct {
	phase string
	step  int
}

func (p *runbookPane) rows() []rbRow {
	var rows []rbRow
	last := "\x00"
	for i, st := range p.d.snap.Steps {
		if st.Phase != last {
			rows = append(rows, rbRow{phase: st.Phase, step: -1})
			last = st.Phase
		}
		rows = append(rows, rbRow{step: i})
	}
	return rows
}

// current is the step an operator most likely wants: the run's current step (the engine's rule:
// one waiting for them, a failure, a running step, then the next to run), else the last step.
func (p *runbookPane) current() string {
	if st, ok := p.d.snap.Current(); ok {
		return st.ID
	}
	if steps := p.d.snap.Steps; len(steps) > 0 {
		return steps[len(steps)-1].ID
	}
	return ""
}

// selected is the selected step. The selection starts on the current step and then moves only
// when the operator moves it (arrows, esc back to the current step): never by itself, so a key
// that acts on the selected step acts on the step the operator last looked at, not on the one the
// run moved on to after their last action.
func (p *runbookPane) selected() (engine.StepView, bool) {
	if _, ok := p.d.step(p.sel); !ok {
		p.sel = p.current()
	}
	return p.d.step(p.sel)
}

func (p *runbookPane) capturing() bool { return false }

func (p *runbookPane) status() string {
	var done, total int
	for _, st := range p.d.snap.Steps {
		total++
		if st.State.Done() {
			done++
		}
	}
	return fmt.Sprintf("%d/%d done · %s", done, total, p.d.snap.Run.Outcome)
}

func (p *runbookPane) bindings() []key.Binding {
	k := p.s.keys
	out := []key.Binding{k.Up, k.Down}
	st, ok := p.selected()
	if !ok {
		return out
	}
	switch st.State {
	case engine.StateAwaiting:
		out = append(out, k.Confirm, k.Decline, k.Skip)
	case engine.StateRunning:
		if st.InOperatorsHands() {
			out = append(out, k.Done, k.Skip)
		} else {
			out = append(out, k.Abort)
		}
	case engine.StateFailed:
		out = append(out, k.Retry, k.Skip, k.Done)
	case engine.StateRetrying:
		out = append(out, k.Retry, k.Abort)
	case engine.StatePending, engine.StateReady:
		out = append(out, k.Skip, k.Done)
	}
	return out
}

func (p *runbookPane) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := p.s.keys
	rows := p.rows()
	// Move the cursor over step rows only.
	idx := p.rowOf(rows)
	l := list{cursor: idx}
	if l.move(k, km, 10) {
		dir := 1
		if l.cursor < idx {
			dir = -1
		}
		c := max(0, min(l.cursor, len(rows)-1))
		for c >= 0 && c < len(rows) && rows[c].step < 0 {
			c += dir
		}
		if c < 0 || c >= len(rows) {
			// Past a heading at either end: the nearest step the other way.
			for c = max(0, min(l.cursor, len(rows)-1)); c >= 0 && c < len(rows) && rows[c].step < 0; c -= dir {
			}
			if c < 0 || c >= len(rows) {
				return nil
			}
		}
		p.sel = p.d.snap.Steps[rows[c].step].ID
		return nil
	}
	st, ok := p.selected()
	if !ok {
		return nil
	}
	open := func(a promptAction) tea.Cmd { return p.dispatch(openActionMsg{action: a, step: st.ID}) }
	switch {
	case key.Matches(km, k.Back):
		p.sel = p.current()
	case key.Matches(km, k.Confirm) && st.State == engine.StateAwaiting:
		return p.dispatch(openConfirmMsg{step: st.ID})
	case key.Matches(km, k.Decline) && st.State == engine.StateAwaiting:
		return open(actionDecline)
	case key.Matches(km, k.Done) && !st.State.Done():
		return open(actionDone)
	case key.Matches(km, k.Skip) && !st.State.Done() && (st.State != engine.StateRunning || st.InOperatorsHands()):
		return open(actionSkip)
	case key.Matches(km, k.Abort) && (st.State == engine.StateRunning || st.State == engine.StateRetrying):
		return open(actionAbort)
	case key.Matches(km, k.Retry) && (st.State == engine.StateFailed || st.State == engine.StateRetrying):
		return open(actionRetry)
	}
	return nil
}

// rowOf is the row index of the selected step.
func (p *runbookPane) rowOf(rows []rbRow) int {
	st, ok := p.selected()
	if !ok {
		return 0
	}
	for i, r := range rows {
		if r.step >= 0 && p.d.snap.Steps[r.step].ID == st.ID {
			return i
		}
	}
	return 0
}

func (p *runbookPane) view(w, h int, focused bool) []string {
	st := p.s.styles
	rows := p.rows()
	sel, hasSel := p.selected()
	// The detail takes the lower part when there is room.
	detailH := 0
	if hasSel && h >= 14 {
		detailH = max(7, h*2/5)
	}
	listH := h - detailH
	idx := p.rowOf(rows)
	p.cursor.cursor = idx
	p.cursor.clamp(len(rows), listH)
	now := p.s.now()
	idW := p.idColumn(w)
	out := make([]string, 0, h)
	for i := p.cursor.offset; i < len(rows) && len(out) < listH; i++ {
		r := rows[i]
		if r.step < 0 {
			name := r.phase
			if name == "" {
				name = "Cutover"
			}
			head := "── " + name + " "
			out = append(out, st.Title.Render(fit(head+strings.Repeat("─", max(w-ansiWidth(head), 0)), w)))
			continue
		}
		s := p.d.snap.Steps[r.step]
		line := p.stepLine(s, now, w, idW)
		if hasSel && s.ID == sel.ID {
			if focused {
				line = st.Selected.Render(ansiStripFit(line, w))
			} else {
				line = st.Bold.Render(ansiStripFit(line, w))
			}
		}
		out = append(out, line)
	}
	for len(out) < listH {
		out = append(out, strings.Repeat(" ", w))
	}
	if detailH > 0 {
		out = append(out, st.Border.Render(strings.Repeat("┄", w)))
		out = append(out, p.detail(sel, now, w, detailH-1)...)
	}
	return out
}

// Widths of a step row's columns: the state (glyph, space, word, space), the time against plan,
// who handled the step, and the least a title keeps before the id column stops aligning.
const (
	rowStateW  = 2 + 9 + 1
	rowTimingW = 17
	rowWhoW    = 18
	rowTitleW  = 16
)

// idColumn is the width of the id column: the longest step id, so the titles line up, unless that
// takes more than two fifths of the row or leaves the titles less than rowTitleW beside the time
// column; a longer id then takes its own row's title room (stepLine). An id is never cut.
func (p *runbookPane) idColumn(w int) int {
	idW := 8
	for _, s := range p.d.snap.Steps {
		idW = max(idW, ansiWidth(s.ID))
	}
	return min(idW, max(min(w*2/5, w-rowStateW-1-rowTimingW-1-rowTitleW), 8))
}

// stepLine is one step's row: glyph and state word, id, title, time against plan, who. The id is
// whole: the title gives way first (down to nothing), then who and the time, then the state's
// word (its glyph stays). Only a pane narrower than the longest id the runbook allows
// (runbook.MaxStepID) with its glyph would cut it, and no terminal from 80 columns up has one.
func (p *runbookPane) stepLine(s engine.StepView, now time.Time, w, idW int) string {
	st := p.s.styles
	ss := st.stateStyle(s.State)
	word := s.State.String()
	if s.InOperatorsHands() {
		word = "manual"
	}
	if s.ByHand {
		word = "done"
	}
	if s.State == engine.StateNotNeeded {
		word = "unneeded" // "not needed" in the detail: the column is 9 cells
	}
	idW = max(idW, ansiWidth(s.ID))
	left := ss.Render(stateGlyph(s.State)+" "+fit(word, 9)) + " "
	if rowStateW+idW > w {
		left = ss.Render(stateGlyph(s.State)) + " "
	}
	rest := w - ansiWidth(left) - idW // the title's and the right columns' room, with their spaces
	switch {
	case rest < 0:
		return left + fit(s.ID, w-ansiWidth(left)) // narrower than any supported terminal
	case rest == 0:
		return left + s.ID
	}
	timing := p.timing(s, now)
	who := whoOf(s)
	right := ""
	if w >= 70 && rest >= 1+rowTimingW {
		right = fitRight(timing, rowTimingW)
		if who != "" && w >= 110 && rest >= 1+rowTitleW+1+rowTimingW+1+rowWhoW {
			right += " " + fit(who, rowWhoW)
		}
	}
	titleW := rest - 1
	if right != "" {
		titleW -= ansiWidth(right) + 1
	}
	title := s.Title
	if s.Destructive {
		title = "⚠ " + title
	}
	if titleW < 4 {
		title = "" // "…" alone says nothing
	}
	line := left + fit(s.ID, idW) + " " + fit(title, max(titleW, 0))
	if right != "" {
		line += " " + st.Muted.Render(right)
	}
	return fit(line, w)
}

// timing is actual time against planned: "3m11s / 15m", or how long it has been waiting.
func (p *runbookPane) timing(s engine.StepView, now time.Time) string {
	plan := ""
	if s.Planned > 0 {
		plan = " / " + dur(s.Planned)
	}
	switch {
	case s.State == engine.StateAwaiting && s.Confirmation != nil:
		return "waits " + dur(now.Sub(s.Confirmation.Since))
	case s.State == engine.StateRunning || s.State == engine.StateRetrying:
		start := s.FirstStarted
		if start.IsZero() {
			start = s.Started
		}
		return dur(now.Sub(start)) + plan
	case s.State.Done() && !s.FirstStarted.IsZero() && !s.Finished.IsZero():
		return dur(s.Finished.Sub(s.FirstStarted)) + plan
	case s.State.Done() && !s.FirstAsked.IsZero() && !s.Finished.IsZero():
		// A gate never runs: its time is the wait from its first question to its answer.
		return "waited " + dur(s.Finished.Sub(s.FirstAsked)) + plan
	case s.Planned > 0:
		return "plan " + dur(s.Planned)
	}
	return ""
}

// whoOf names who confirmed or handled a step.
func whoOf(s engine.StepView) string {
	var names []string
	for _, a := range s.ConfirmedBy {
		names = append(names, a.Actor.Name)
	}
	if len(names) == 0 && s.By != nil {
		names = append(names, s.By.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return "by " + strings.Join(names, ", ")
}

// detail describes the selected step.
func (p *runbookPane) detail(s engine.StepView, now time.Time, w, h int) []string {
	st := p.s.styles
	var lines []string
	add := func(label, text string, style func(...string) string) {
		if text == "" {
			return
		}
		for i, l := range wrapText(text, max(w-9, 10)) {
			lab := "         "
			if i == 0 {
				lab = fit(label, 8) + " "
			}
			if style != nil {
				l = style(l)
			}
			lines = append(lines, st.Muted.Render(lab)+l)
		}
	}
	head := st.Bold.Render(s.ID) + " — " + s.Title
	var tags []string
	if s.Destructive {
		tags = append(tags, "destructive")
	}
	if s.Confirmation != nil && s.Confirmation.Needed > 1 {
		tags = append(tags, fmt.Sprintf("%d approvals", s.Confirmation.Needed))
	}
	if s.WhenFailed != "" {
		tags = append(tags, "if "+s.WhenFailed+" fails")
	}
	tags = append(tags, s.Kind)
	// The id stays whole: the title gives way, then the tags.
	if tag := "[" + strings.Join(tags, " · ") + "]"; ansiWidth(s.ID)+1+ansiWidth(tag) <= w {
		lines = append(lines, fit(head, w-ansiWidth(tag)-1)+" "+st.Muted.Render(tag))
	} else {
		lines = append(lines, fit(head, w))
	}
	state := s.State.String()
	if s.Attempt > 0 {
		state += fmt.Sprintf(" (attempt %d of %d)", s.Attempt, max(s.MaxAttempts, s.Attempt))
	}
	if !s.Started.IsZero() && (s.State == engine.StateRunning || s.State == engine.StateRetrying) {
		state += " since " + s.Started.In(p.s.local).Format("15:04:05")
	}
	if !s.Finished.IsZero() && s.State.Done() {
		state += " at " + s.Finished.In(p.s.local).Format("15:04:05")
	}
	if t := p.timing(s, now); t != "" {
		state += " · " + t
	}
	add("state", stateGlyph(s.State)+" "+state, st.stateStyle(s.State).Render)
	if pr, ok := p.d.progress[s.ID]; ok && s.State == engine.StateRunning {
		txt := pr.Message
		if pr.Percent >= 0 {
			txt = fmt.Sprintf("%.0f%% %s", pr.Percent, txt)
		}
		if pr.ETA > 0 {
			txt += " · ETA " + dur(pr.ETA)
		}
		add("progress", txt, nil)
	}
	if s.Message != "" && s.State.Done() {
		add("result", s.Message, nil)
	}
	add("error", s.LastError, st.Crit.Render)
	if s.Reason != "" && s.By != nil {
		add("note", s.By.Name+": "+s.Reason, nil)
	}
	add("next", p.next(s), st.Accent.Render)
	add("now", p.elsewhere(s), st.Warn.Render)
	if s.Owner != "" {
		add("owner", s.Owner, nil)
	}
	add("doc", s.Doc, st.Muted.Render)
	action := s.Action
	if s.Confirmation != nil && s.Confirmation.Action != "" {
		action = s.Confirmation.Action
	}
	room := h - len(lines)
	var actionLines []string
	if action != "" {
		actionLines = wrapText(action, max(w-9, 10))
	}
	// The step's newest log lines take the room the action's first lines leave (its first two, or
	// one when that makes room for a log line): on a short detail the oldest give way, never the
	// newest — cut at the bottom, the detail showed the step one event behind.
	keep := min(len(actionLines), 2)
	if room-keep < 1 {
		keep = min(len(actionLines), 1)
	}
	logs := p.stepLogs(s.ID, min(4, max(room-keep, 0)))
	if maxAction := max(room-len(logs), 1); len(actionLines) > maxAction {
		last := ansi.Truncate(actionLines[maxAction-1], max(w-9, 10)-2, "")
		actionLines = append(actionLines[:maxAction-1], last+" …")
	}
	add("does", strings.Join(actionLines, "\n"), nil)
	for i, l := range logs {
		lab := "         "
		if i == 0 {
			lab = "log      "
		}
		lines = append(lines, st.Muted.Render(lab)+st.Muted.Render(l.Time.In(p.s.local).Format("15:04:05"))+" "+l.Msg)
	}
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], w)
		} else {
			out[i] = strings.Repeat(" ", w)
		}
	}
	return out
}

// next says what can happen to the step, and which key does it; an open request to skip a
// guarded step or mark it done comes first.
func (p *runbookPane) next(s engine.StepView) string {
	text := p.nextAction(s)
	if o := s.Override; o != nil {
		k := p.s.keys.Skip
		if o.Action == engine.OverrideDone {
			k = p.s.keys.Done
		}
		req := fmt.Sprintf("%s asks to %s (%s), %d of %d approved", o.By.Name, o.Action.Words(), o.Reason, len(o.Approvals), o.Needed)
		if !p.s.readOnly {
			req += fmt.Sprintf(" · %s: approve (type %q) or withdraw", k.Help().Key, o.Phrase)
		}
		if text == "" {
			return req
		}
		return req + " · " + text
	}
	return text
}

// elsewhere points at the step that needs someone when it is not the selected one (the
// selection does not move by itself): what it waits for and the key that goes there.
func (p *runbookPane) elsewhere(s engine.StepView) string {
	cur, ok := p.d.step(p.current())
	if !ok || cur.ID == s.ID {
		return ""
	}
	var what string
	switch cur.WaitsFor() {
	case engine.WaitConfirmation:
		what = "waits for its confirmation"
	case engine.WaitDecision:
		what = "failed"
	case engine.WaitCompletion:
		what = "is in an operator's hands"
	default:
		return ""
	}
	return fmt.Sprintf("%s %s · %s: go there", cur.ID, what, p.s.keys.Back.Help().Key)
}

// nextAction is what the step's state lets happen next.
func (p *runbookPane) nextAction(s engine.StepView) string {
	k := p.s.keys
	ro := p.s.readOnly
	switch s.State {
	case engine.StateAwaiting:
		c := s.Confirmation
		if c == nil {
			return ""
		}
		got := fmt.Sprintf("%d of %d approved", len(c.Approvals), c.Needed)
		if len(c.Approvals) > 0 {
			var names []string
			for _, a := range c.Approvals {
				names = append(names, a.Actor.Name)
			}
			got += " by " + strings.Join(names, ", ")
		}
		if h := s.HeldByOther(p.s.actor); h != nil {
			return fmt.Sprintf("%s is confirming it now (since %s) · %s", h.Actor, h.Since.In(p.s.local).Format("15:04:05"), got)
		}
		other := ""
		if s.WhenFailed != "" {
			other = fmt.Sprintf(" · it runs because %s failed; the other choice: retry %s", s.WhenFailed, s.WhenFailed)
		}
		if ro {
			return fmt.Sprintf("waiting for an operator to type %q · %s%s", c.Phrase, got, other)
		}
		return fmt.Sprintf("%s: confirm (type %q) · %s: no-go · %s%s", k.Confirm.Help().Key, c.Phrase, k.Decline.Help().Key, got, other)
	case engine.StateRunning:
		if s.InOperatorsHands() {
			if ro {
				return "in the operator's hands"
			}
			return fmt.Sprintf("in your hands: %s when it is done, %s to skip", k.Done.Help().Key, k.Skip.Help().Key)
		}
		if ro {
			return "running"
		}
		return fmt.Sprintf("running · %s: abort", k.Abort.Help().Key)
	case engine.StateRetrying:
		return "next attempt at " + s.RetryAt.In(p.s.local).Format("15:04:05")
	case engine.StateFailed:
		if ro {
			return "failed: an operator must retry, skip or mark it done" + p.fallbackChoice(s)
		}
		if g := s.Guard; g != nil {
			return fmt.Sprintf("%s: retry (asks for %q again) · %s: skip (type %q) · %s: mark done by hand (type %q) · %d operator(s)",
				k.Retry.Help().Key, g.Phrase, k.Skip.Help().Key, g.Skip, k.Done.Help().Key, g.Done, g.Needed) + p.fallbackChoice(s)
		}
		return fmt.Sprintf("%s: retry · %s: skip · %s: mark done by hand", k.Retry.Help().Key, k.Skip.Help().Key, k.Done.Help().Key) + p.fallbackChoice(s)
	case engine.StatePending:
		var waiting []string
		for _, dep := range s.After {
			if d, ok := p.d.step(dep); ok && dep != s.WhenFailed && !d.State.Done() {
				waiting = append(waiting, dep)
			}
		}
		if len(waiting) > 0 {
			return "waits for " + strings.Join(waiting, ", ")
		}
		if s.WhenFailed != "" {
			return "runs only if " + s.WhenFailed + " fails; not needed once it is done"
		}
		if p.d.snap.Run.Paused {
			return "the run is paused"
		}
		return "about to start"
	case engine.StateReady:
		return "about to start"
	}
	return ""
}

// fallbackChoice names, on a failed step, the conditional steps that answer its failure (`when:
// {failed}`) and are waiting for a decision: the other choice besides retrying it.
func (p *runbookPane) fallbackChoice(s engine.StepView) string {
	var waiting []string
	for _, f := range p.d.snap.Fallbacks(s.ID) {
		if f.State == engine.StateAwaiting || f.State == engine.StateReady {
			waiting = append(waiting, f.ID)
		}
	}
	if len(waiting) == 0 {
		return ""
	}
	return " · or instead confirm " + strings.Join(waiting, ", ") + " (it runs because this failed)"
}

// stepLogs are the step's newest log lines, oldest first.
func (p *runbookPane) stepLogs(id string, n int) []engine.LogLine {
	var out []engine.LogLine
	r := p.d.logs
	for i := r.len() - 1; i >= 0 && len(out) < n; i-- {
		if l := r.at(i); l.Step == id && !l.State {
			out = append(out, l)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

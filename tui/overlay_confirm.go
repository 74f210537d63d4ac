package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// overlay is a dialog drawn over the panes; it takes every key until it closes.
type overlay interface {
	// update handles a message; close is set when the dialog is done.
	update(msg tea.Msg) (cmd tea.Cmd, close bool)
	// view renders the dialog for a screen of w×h cells.
	view(w, h int) string
}

// openConfirmMsg asks the root to open the confirmation dialog of a step.
type openConfirmMsg struct{ step string }

// confirmDoneMsg is the engine's answer to a typed phrase.
type confirmDoneMsg struct {
	step string
	res  engine.ConfirmResult
	err  error
}

// confirmOverlay is the typed, attributed confirmation of a destructive or gated step. It shows
// the step, the environment, exactly what will be done and to what (the AOS hosts and the users
// still connected, the environments of a refresh), the phrase, and the approvals so far. Cancel
// is the default button; the key that opened the dialog does not confirm it: the operator types
// the phrase, moves to Confirm and presses enter.
type confirmOverlay struct {
	*env
	step    string
	request uint64
	input   textinput.Model
	button  int // 0 Cancel (default), 1 Confirm
	err     string
	waiting bool
	// body is the window over what will be done (the step's text and its lists in full).
	body scroller
	// holdErr says why this session could not take the step's hold (another operator is
	// confirming it); it stays shown while the operator types.
	holdErr string
}

func newConfirmOverlay(e *env, step engine.StepView) *confirmOverlay {
	in := newInput(e.s, "› ", "type the phrase")
	in.Focus()
	o := &confirmOverlay{env: e, step: step.ID, input: in}
	if step.Confirmation != nil {
		o.request = step.Confirmation.Request
	}
	return o
}

func (o *confirmOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case confirmDoneMsg:
		o.waiting = false
		if msg.err != nil {
			o.err = msg.err.Error()
			if errors.Is(msg.err, engine.ErrWrongPhrase) {
				o.input.SetValue("")
			}
			return nil, false
		}
		done := fmt.Sprintf("%s confirmed by %s", o.step, o.s.actor.Name)
		if !msg.res.Satisfied {
			done = fmt.Sprintf("%s: your approval is %d of %d; another operator must confirm from their own session (c shows how they join)", o.step, msg.res.Count, msg.res.Needed)
		}
		return func() tea.Msg { return actionDoneMsg{what: done} }, true
	case tea.KeyPressMsg:
		st, ok := o.d.step(o.step)
		if !ok || st.State != engine.StateAwaiting || st.Confirmation == nil || st.Confirmation.Request != o.request {
			// The request was answered or withdrawn meanwhile: esc or enter closes; anything else
			// was typed for the phrase and is swallowed, never handed to the key bindings.
			switch msg.String() {
			case "esc", "ctrl+c", "enter":
				return nil, true
			}
			return nil, false
		}
		if o.body.key(msg.String()) {
			return nil, false // arrows and pages type nothing: the phrase is untouched
		}
		switch msg.String() {
		case "esc", "ctrl+c":
			return cancelled(o.step), true
		case "tab", "shift+tab", "left", "right":
			o.button = 1 - o.button
			return nil, false
		case "enter":
			if o.waiting {
				return nil, false
			}
			if o.button == 0 {
				if strings.TrimSpace(o.input.Value()) == "" {
					return cancelled(o.step), true
				}
				// The phrase is typed but Cancel is still chosen: say so rather than cancel silently.
				o.err = "[ Cancel ] is chosen: tab to [ Confirm ], then enter (esc cancels)"
				return nil, false
			}
			phrase := o.input.Value()
			if strings.TrimSpace(phrase) == "" {
				o.err = fmt.Sprintf("type %q first", st.Confirmation.Phrase)
				return nil, false
			}
			o.waiting, o.err = true, ""
			e, actor, step, req := o.e, o.s.actor, o.step, o.request
			return func() tea.Msg {
				res, err := e.Confirm(step, req, actor, phrase)
				return confirmDoneMsg{step: step, res: res, err: err}
			}, false
		}
		var cmd tea.Cmd
		o.input, cmd = o.input.Update(msg)
		o.err = ""
		return cmd, false
	}
	var cmd tea.Cmd
	o.input, cmd = o.input.Update(msg)
	return cmd, false
}

func (o *confirmOverlay) view(w, h int) string {
	st := o.s.styles
	step, _ := o.d.step(o.step)
	c := step.Confirmation
	bw := min(w-4, 96)
	inner := bw - 4
	var lines []string
	add := func(s string) { lines = append(lines, fit(s, inner)) }
	title := "Go / no-go"
	tstyle := st.OverlayTitle
	if step.Destructive {
		title = "⚠ DESTRUCTIVE STEP — confirm by typing the phrase"
		tstyle = st.DangerTitle
	}
	add(tstyle.Render(title))
	add("")
	add(st.Bold.Render(step.ID) + " — " + step.Title)
	env := o.d.snap.Run.Environment
	if env == "" {
		env = "(no environment named)"
	}
	if o.d.snap.Run.Rehearsal {
		env += "  [rehearsal]"
	}
	add(st.Muted.Render("environment ") + st.HeaderEnv.Render(env))
	if l := o.rollbackLine(step); l != "" {
		add("")
		for _, w := range wrapText(l, inner) {
			add(w)
		}
	}
	if c == nil || step.State != engine.StateAwaiting || c.Request != o.request {
		add("")
		for _, l := range wrapText("This request is no longer open (answered or withdrawn): nothing you type here is sent. Press esc or enter to close.", inner) {
			add(st.Warn.Render(l))
		}
		return o.frame(lines, bw, step.Destructive)
	}
	add("")
	add(st.Muted.Render("what will be done:"))
	before := lines
	lines = nil
	add("")
	appr := fmt.Sprintf("approvals: %d of %d", len(c.Approvals), c.Needed)
	if len(c.Approvals) > 0 {
		var names []string
		for _, a := range c.Approvals {
			names = append(names, fmt.Sprintf("%s (%s) at %s", a.Actor.Name, a.Actor.Origin, a.At.In(o.s.local).Format("15:04:05")))
		}
		appr += " — " + strings.Join(names, "; ")
	}
	for _, l := range wrapText(appr, inner) {
		add(l)
	}
	if c.Needed > 1 && len(c.Approvals) < c.Needed {
		for _, l := range joinLines(o.s.join) {
			for _, w := range wrapText(l, inner) {
				add(st.Muted.Render(w))
			}
		}
	}
	add(st.Muted.Render("you are ") + o.s.actor.String())
	if o.holdErr != "" {
		for _, l := range wrapText(o.holdErr+" — esc closes", inner) {
			add(st.Warn.Render(l))
		}
	}
	add("")
	add("type " + st.Phrase.Render(c.Phrase) + " to confirm:")
	o.input.SetWidth(inner - 4)
	add(o.input.View())
	if o.err != "" {
		for _, l := range wrapText(o.err, inner) {
			add(st.Crit.Render(l))
		}
	} else if o.waiting {
		add(st.Accent.Render("sending to the engine…"))
	} else {
		add("")
	}
	cancel, confirm := st.Button.Render("[ Cancel ]"), st.Button.Render("[ Confirm ]")
	if o.button == 0 {
		cancel = st.ButtonActive.Render("[ Cancel ]")
	} else {
		confirm = st.ButtonActive.Render("[ Confirm ]")
	}
	add(cancel + "  " + confirm)
	add(st.Muted.Render("tab: choose a button · enter: press it · esc: cancel"))
	body := confirmBody(c, inner)
	// The body takes what the rest of the dialog and its frame leave of the screen, less a line
	// above and below: the header's first line and the footer stay in sight.
	room := h - 4 - len(before) - len(lines)
	if len(body) > room {
		room-- // the line that says where the window is
	}
	after := lines
	lines = before
	start, end := o.body.window(len(body), room)
	for _, l := range body[start:end] {
		add(l.text)
	}
	if end-start < len(body) {
		add(st.Muted.Render("  " + bodyPosition(body, start, end) + " · " + scrollHint))
	}
	lines = append(lines, after...)
	return o.frame(lines, bw, step.Destructive)
}

// bodyLine is a line of the confirmation's body: the request's text, or a list's head or item
// (list and item number from 0; -1 for the text and a head).
type bodyLine struct {
	text       string
	list, item int
	name       string
}

// confirmBody is what will be done, wrapped to w cells: the request's text, then each list in
// full (engine ConfirmationView.Body), an item to a line or more.
func confirmBody(c *engine.ConfirmationView, w int) []bodyLine {
	lead, lists := c.Body()
	var out []bodyLine
	if lead != "" {
		for _, l := range wrapText(lead, w-2) {
			out = append(out, bodyLine{text: "  " + l, list: -1, item: -1})
		}
	}
	for li, l := range lists {
		for _, h := range wrapText(l.Head, w-2) {
			out = append(out, bodyLine{text: "  " + h, list: -1, item: -1})
		}
		for ii, it := range l.Items {
			for _, t := range wrapText(it, w-4) {
				out = append(out, bodyLine{text: "    " + t, list: li, item: ii, name: l.Name})
			}
		}
	}
	return out
}

// bodyPosition says where the window [start, end) is in the body: by item of the list it shows
// ("users still connected 12–20 of 59"), or by line where it shows no list item.
func bodyPosition(body []bodyLine, start, end int) string {
	win := body[start:end]
	list := listOf(win)
	if list < 0 {
		return "lines " + span(start+1, end, len(body))
	}
	first, last, n, name := -1, -1, 0, "items"
	for _, l := range win {
		if l.list == list && l.item >= 0 {
			if first < 0 {
				first = l.item
			}
			last = l.item
		}
	}
	for _, l := range body {
		if l.list == list && l.item >= 0 {
			n = l.item + 1
			if l.name != "" {
				name = l.name
			}
		}
	}
	return name + " " + span(first+1, last+1, n)
}

// listOf is the first list a window shows an item of.
func listOf(lines []bodyLine) int {
	for _, l := range lines {
		if l.item >= 0 {
			return l.list
		}
	}
	return -1
}

// rollbackLine is rollbackNotice styled for the dialog.
func (o *confirmOverlay) rollbackLine(step engine.StepView) string {
	text, critical := rollbackNotice(o.d.snap, step, o.s.now(), o.s.local)
	switch {
	case text == "":
		return ""
	case critical:
		return o.s.styles.Crit.Render(text)
	}
	return o.s.styles.Warn.Render(text)
}

// rollbackNotice is the word on the AX 2012 rollback for the point of no return's confirmation
// and for the go/no-go gate right before it: whether there is a rollback point to go back to
// (critical when there is none). Empty for other steps, and once the rollback is over.
func rollbackNotice(snap engine.Snapshot, step engine.StepView, now time.Time, loc *time.Location) (text string, critical bool) {
	if !snap.GuardsNoReturn(step) {
		return "", false
	}
	rb := snap.Rollback(now)
	if rb.State == engine.RollbackUntracked || rb.State == engine.RollbackGone {
		return "", false
	}
	after := fmt.Sprintf("point of no return: after %s there is no way back to AX 2012.", rb.NoReturn)
	switch at := rb.PointAt.In(loc).Format("15:04"); {
	case rb.State == engine.RollbackReady && rb.Proof == engine.ProofVerified:
		return fmt.Sprintf("%s Rollback ready: %s verified the backup at %s.", after, rb.Point, at), false
	case rb.State == engine.RollbackReady && rb.Proof == engine.ProofByHand:
		return fmt.Sprintf("%s Rollback point: %s, made by hand at %s (not verified: nothing checked the backup).", after, rb.Point, at), false
	case rb.State == engine.RollbackReady:
		return fmt.Sprintf("%s Rollback point: %s, made at %s (not verified: its step does not check the backup).", after, rb.Point, at), false
	case rb.Point == "":
		return fmt.Sprintf("point of no return: after %s there is no way back to AX 2012 (the runbook names no rollback point).", rb.NoReturn), false
	}
	why := "it has not succeeded"
	if pt, ok := snap.Step(rb.Point); ok {
		why = "it is " + pt.State.String()
		if pt.State == engine.StateSkipped && pt.By != nil {
			why = "it was skipped by " + pt.By.Name
			if pt.Reason != "" {
				why += ": " + pt.Reason
			}
		}
	}
	return fmt.Sprintf("⚠ NO AX 2012 ROLLBACK POINT: %s did not make one (%s). Confirming %s leaves nothing to go back to.", rb.Point, why, rb.NoReturn), true
}

// cancelled says the dialog closed without confirming.
func cancelled(step string) tea.Cmd {
	return func() tea.Msg { return actionDoneMsg{what: "confirmation of " + step + " cancelled; nothing was sent"} }
}

func (o *confirmOverlay) frame(lines []string, bw int, danger bool) string {
	style := o.s.styles.Overlay
	if danger {
		style = o.s.styles.OverlayDanger
	}
	return style.Width(bw).Render(strings.Join(lines, "\n"))
}

func (p *confirmOverlay) restyle(dark bool) { restyleInput(&p.input, dark) }

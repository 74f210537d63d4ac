package tui

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// promptAction is an operator action that changes the run, other than confirming a step (which
// has its own dialog, overlay_confirm.go).
type promptAction int

// The actions. Each opens an actionOverlay; none acts at once.
const (
	actionDecline promptAction = iota
	actionDone
	actionSkip
	actionRetry
	actionAbort
	actionPause
	actionResume
)

// verb is the action's button label.
func (a promptAction) verb() string {
	return [...]string{"No-go", "Mark done", "Skip", "Retry", "Abort", "Pause", "Resume"}[a]
}

// title names the action and what it acts on: "Skip aos-stop", "Mark hold-batch done".
func (a promptAction) title(step string) string {
	switch a {
	case actionDecline:
		return "No-go for " + step
	case actionDone:
		return "Mark " + step + " done"
	case actionPause:
		return "Pause the run"
	case actionResume:
		return "Resume the run"
	}
	return a.verb() + " " + step
}

// override is the engine's override action for done and skip.
func (a promptAction) override() (engine.OverrideAction, bool) {
	switch a {
	case actionDone:
		return engine.OverrideDone, true
	case actionSkip:
		return engine.OverrideSkip, true
	}
	return "", false
}

// openActionMsg asks the root to open the dialog of an action on a step (or on the run, for
// pause and resume), with a reason already typed (from the palette).
type openActionMsg struct {
	action promptAction
	step   string
	reason string
}

// actionResultMsg is the engine's answer to an action sent from a dialog: what is said when the
// action was done, partial when it still waits for other operators' approvals.
type actionResultMsg struct {
	id            uint64
	what, partial string
	res           engine.ConfirmResult
	err           error
}

// actionIDs numbers the dialogs, so an answer reaches the dialog that asked.
var actionIDs atomic.Uint64

// Focus positions after the text fields.
const (
	focusCancel = iota
	focusAct
	focusWithdraw
)

// actionOverlay is the dialog of every key that changes the run besides confirming: no-go, mark
// done, skip, retry, abort, pause and resume. It names the step (id and title) and says what the
// action does; it asks for the reason where one is needed and, for a guarded step (engine
// GuardView), for the phrase that skips it or marks it done, with how many operators must type
// it and who has so far (an open override), offering to withdraw an open override. Nothing is
// sent until the operator moves to the action's button and presses enter: Cancel is the default,
// typed text never acts, and enter in a field does not press a button. The dialog takes every key
// until it closes, and it closes only at the operator's word (esc, Cancel) or on the engine's
// answer to what they sent; an error keeps it open and says why.
type actionOverlay struct {
	*env
	id      uint64
	action  promptAction
	step    string
	reason  textinput.Model
	phrase  textinput.Model
	given   string // the reason the dialog opened with
	focus   int    // 0..len(fields)-1 a field, then focusCancel, focusAct, focusWithdraw past them
	err     string
	hint    string
	waiting bool
	// body is the window over the dialog's words (last error, what the action does, an open
	// request) when the terminal is too short for all of them.
	body scroller
}

func newActionOverlay(e *env, action promptAction, step, reason string) *actionOverlay {
	o := &actionOverlay{env: e, id: actionIDs.Add(1), action: action, step: step,
		reason: newInput(e.s, "› ", ""), phrase: newInput(e.s, "› ", "type the phrase")}
	o.reason.SetValue(reason)
	o.reason.CursorEnd()
	o.given = reason
	if len(o.fields()) == 0 {
		o.focus = focusCancel
	}
	o.refocus()
	return o
}

// stepView is the step as the cockpit knows it now (the zero view for pause and resume).
func (o *actionOverlay) stepView() engine.StepView {
	st, _ := o.d.step(o.step)
	return st
}

// completion reports a manual step in the operator's hands: marking it done is its normal end.
func (o *actionOverlay) completion(st engine.StepView) bool {
	return o.action == actionDone && st.InOperatorsHands()
}

// guard is the step's guard when the action is an override of a guarded step.
func (o *actionOverlay) guard(st engine.StepView) (*engine.GuardView, engine.OverrideAction) {
	a, ok := o.action.override()
	if !ok || st.Guard == nil || o.completion(st) {
		return nil, ""
	}
	return st.Guard, a
}

// joining reports an open override of this very action: the reason is the opener's, and this
// operator adds an approval (with an optional note).
func (o *actionOverlay) joining(st engine.StepView) bool {
	g, a := o.guard(st)
	return g != nil && st.Override != nil && st.Override.Action == a
}

type field int

const (
	fieldReason field = iota
	fieldPhrase
)

// fields are the text fields the action takes, in focus order.
func (o *actionOverlay) fields() []field {
	st := o.stepView()
	var out []field
	switch o.action {
	case actionDecline, actionDone, actionSkip, actionAbort, actionPause:
		out = append(out, fieldReason)
	}
	if g, _ := o.guard(st); g != nil {
		out = append(out, fieldPhrase)
	}
	return out
}

// reasonRequired reports whether the action cannot be sent without a reason.
func (o *actionOverlay) reasonRequired(st engine.StepView) bool {
	switch o.action {
	case actionDecline, actionAbort, actionPause:
		return true
	case actionDone, actionSkip:
		return !o.completion(st) && !o.joining(st)
	}
	return false
}

// buttons is how many buttons there are: Cancel and the action, and Withdraw while an override
// is open on the step.
func (o *actionOverlay) buttons() int {
	if _, a := o.guard(o.stepView()); a != "" && o.stepView().Override != nil {
		return 3
	}
	return 2
}

// positions is the length of the focus ring.
func (o *actionOverlay) positions() int { return len(o.fields()) + o.buttons() }

// focused is the field with the focus, if a field has it.
func (o *actionOverlay) focused() (field, bool) {
	fs := o.fields()
	if o.focus < len(fs) {
		return fs[o.focus], true
	}
	return 0, false
}

// button is the focused button (focusCancel, focusAct, focusWithdraw), or -1 on a field.
func (o *actionOverlay) button() int {
	n := len(o.fields())
	if o.focus < n {
		return -1
	}
	return min(o.focus-n, o.buttons()-1)
}

// refocus gives the cursor to the focused field only.
func (o *actionOverlay) refocus() {
	o.reason.Blur()
	o.phrase.Blur()
	if f, ok := o.focused(); ok {
		if f == fieldReason {
			o.reason.Focus()
		} else {
			o.phrase.Focus()
		}
	}
}

// focusField moves the focus to a field.
func (o *actionOverlay) focusField(f field) {
	for i, x := range o.fields() {
		if x == f {
			o.focus = i
		}
	}
	o.refocus()
}

// focusButton moves the focus to a button (focusCancel, focusAct, focusWithdraw).
func (o *actionOverlay) focusButton(b int) {
	o.focus = len(o.fields()) + b
	o.refocus()
}

func (o *actionOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case actionResultMsg:
		if msg.id != o.id {
			return nil, false
		}
		o.waiting = false
		if msg.err != nil {
			o.err = msg.err.Error()
			if errors.Is(msg.err, engine.ErrWrongPhrase) || errors.Is(msg.err, engine.ErrPhraseRequired) {
				o.phrase.SetValue("")
				o.focusField(fieldPhrase)
			}
			return nil, false
		}
		what := msg.what
		if !msg.res.Satisfied {
			what = fmt.Sprintf("%s: your approval is %d of %d; another operator must approve it from their own session", msg.partial, msg.res.Count, msg.res.Needed)
		}
		return func() tea.Msg { return actionDoneMsg{what: what} }, true
	case tea.KeyPressMsg:
		return o.key(msg)
	}
	// Anything else (a cursor blink) goes to the focused field.
	var cmd tea.Cmd
	if f, ok := o.focused(); ok && f == fieldPhrase {
		o.phrase, cmd = o.phrase.Update(msg)
	} else if ok {
		o.reason, cmd = o.reason.Update(msg)
	}
	return cmd, false
}

func (o *actionOverlay) key(km tea.KeyPressMsg) (tea.Cmd, bool) {
	if o.waiting {
		return nil, false // the answer closes or reopens the dialog; keys wait for it
	}
	if o.body.key(km.String()) {
		return nil, false // arrows and pages type nothing: the fields are untouched
	}
	o.focus = min(o.focus, o.positions()-1)
	switch km.String() {
	case "esc", "ctrl+c":
		return o.cancelled(), true
	case "tab":
		o.focus = (o.focus + 1) % o.positions()
		o.refocus()
		o.hint = ""
		return nil, false
	case "shift+tab":
		o.focus = (o.focus + o.positions() - 1) % o.positions()
		o.refocus()
		o.hint = ""
		return nil, false
	case "left", "right":
		if b := o.button(); b >= 0 {
			d := 1
			if km.String() == "left" {
				d = o.buttons() - 1
			}
			o.focusButton((b + d) % o.buttons())
			return nil, false
		}
	case "enter":
		switch o.button() {
		case focusCancel:
			if o.typed() {
				// Text typed here and Cancel chosen: say so rather than throw the text away
				// (esc still cancels), as the confirmation dialog does.
				o.hint = fmt.Sprintf("[ Cancel ] is chosen: tab to [ %s ], then enter (esc cancels)", o.action.verb())
				return nil, false
			}
			return o.cancelled(), true
		case focusAct:
			return o.send(), false
		case focusWithdraw:
			return o.withdraw(), false
		}
		// Enter in a field moves to the next field, never to a button: a button is pressed
		// only after tab chose it.
		if o.focus+1 < len(o.fields()) {
			o.focus++
			o.refocus()
			return nil, false
		}
		o.hint = fmt.Sprintf("tab to [ %s ], then enter (esc cancels)", o.action.verb())
		return nil, false
	}
	f, ok := o.focused()
	if !ok {
		return nil, false // typed on a button: swallowed
	}
	var cmd tea.Cmd
	if f == fieldPhrase {
		o.phrase, cmd = o.phrase.Update(km)
	} else {
		o.reason, cmd = o.reason.Update(km)
	}
	o.err, o.hint = "", ""
	return cmd, false
}

// typed reports whether the operator typed something in the dialog: a phrase, or a reason other
// than the one it opened with.
func (o *actionOverlay) typed() bool {
	return strings.TrimSpace(o.phrase.Value()) != "" || strings.TrimSpace(o.reason.Value()) != strings.TrimSpace(o.given)
}

// cancelled says the dialog closed without sending anything.
func (o *actionOverlay) cancelled() tea.Cmd {
	what := o.action.title(o.step) + ": cancelled; nothing was sent"
	return func() tea.Msg { return actionDoneMsg{what: what} }
}

// send checks what the dialog can check (a reason, a phrase typed) and sends the action; the
// engine checks everything again and its answer comes back as an actionResultMsg.
func (o *actionOverlay) send() tea.Cmd {
	st := o.stepView()
	reason := strings.TrimSpace(o.reason.Value())
	phrase := strings.TrimSpace(o.phrase.Value())
	if o.reasonRequired(st) && reason == "" {
		o.err = "a reason is required"
		o.focusField(fieldReason)
		return nil
	}
	g, oa := o.guard(st)
	if g != nil && phrase == "" {
		o.err = fmt.Sprintf("type %q first", g.PhraseFor(oa))
		o.focusField(fieldPhrase)
		return nil
	}
	o.waiting, o.err, o.hint = true, "", ""
	e, actor, step, id := o.e, o.s.actor, o.step, o.id
	var req uint64
	if st.Confirmation != nil {
		req = st.Confirmation.Request
	}
	var what string
	var do func() (engine.ConfirmResult, error)
	single := func(f func() error) func() (engine.ConfirmResult, error) {
		return func() (engine.ConfirmResult, error) {
			if err := f(); err != nil {
				return engine.ConfirmResult{}, err
			}
			return engine.ConfirmResult{Count: 1, Needed: 1, Satisfied: true}, nil
		}
	}
	switch o.action {
	case actionDecline:
		what, do = "no-go for "+step, single(func() error { return e.Decline(step, req, actor, reason) })
	case actionDone:
		what, do = step+" marked done", func() (engine.ConfirmResult, error) { return e.MarkDone(step, actor, reason, phrase) }
	case actionSkip:
		what, do = step+" skipped", func() (engine.ConfirmResult, error) { return e.Skip(step, actor, reason, phrase) }
	case actionRetry:
		what, do = "retry of "+step+" requested", single(func() error { return e.Retry(step, actor) })
		if st.Guard != nil {
			what += fmt.Sprintf("; it asks for its confirmation again (type %q, %d operator(s))", st.Guard.Phrase, st.Guard.Needed)
		}
	case actionAbort:
		what, do = step+" aborted", single(func() error { return e.Abort(step, actor, reason) })
	case actionPause:
		what, do = "run paused", single(func() error { return e.Pause(actor, reason) })
	case actionResume:
		what, do = "run resumed", single(func() error { return e.Resume(actor) })
	}
	partial := fmt.Sprintf("%s of %s", strings.ToLower(o.action.verb()), step)
	return func() tea.Msg {
		res, err := do()
		return actionResultMsg{id: id, what: what, partial: partial, res: res, err: err}
	}
}

// withdraw withdraws the override open on the step.
func (o *actionOverlay) withdraw() tea.Cmd {
	st := o.stepView()
	if st.Override == nil {
		o.err = "no request is open any more"
		return nil
	}
	o.waiting, o.err, o.hint = true, "", ""
	e, actor, step, id, req := o.e, o.s.actor, o.step, o.id, st.Override.Request
	reason := strings.TrimSpace(o.reason.Value())
	what := fmt.Sprintf("%s: the request to %s was withdrawn", step, st.Override.Action.Words())
	return func() tea.Msg {
		err := e.WithdrawOverride(step, req, actor, reason)
		return actionResultMsg{id: id, what: what, res: engine.ConfirmResult{Satisfied: true}, err: err}
	}
}

// explain is what the action does, for the dialog.
func (o *actionOverlay) explain(st engine.StepView) string {
	switch o.action {
	case actionDecline:
		return "Why is it a no-go? The step fails with your reason; a retry asks for its confirmation again."
	case actionDone:
		if o.completion(st) {
			return "The step is done: it ends, and the steps after it may start. A note for the record is optional."
		}
		return "Mark it done by hand: cutover does not run it and counts it as succeeded. Say what was done instead; it is journaled with your name."
	case actionSkip:
		return "Skip it: cutover does not run it, and the steps after it run as if it had succeeded. Say why; it is journaled with your name."
	case actionRetry:
		if st.Guard != nil {
			return fmt.Sprintf("Run it again. It is guarded: it asks for its confirmation again first, and runs only when %d operator(s) have typed %q.", st.Guard.Needed, st.Guard.Phrase)
		}
		if st.State == engine.StateRetrying {
			return "Start its next attempt now instead of at " + st.RetryAt.In(o.s.local).Format("15:04:05") + "."
		}
		return "Run it again now."
	case actionAbort:
		return "Why stop it? " + cmp.Or(st.StopEffect, "The step fails.")
	case actionPause:
		return "Why pause? Running steps finish; nothing new starts until the run is resumed."
	case actionResume:
		return "Resume the run: steps that are ready start again."
	}
	return ""
}

// line is one line of the dialog. When the terminal is too short for all of them, blank lines
// (drop 1) are left out first, then the words (drop 2: the last error and what the action does)
// scroll in a window, so an open request, the fields and the buttons stay.
type line struct {
	text string
	drop int
}

func (o *actionOverlay) view(w, h int) string {
	sty := o.s.styles
	st := o.stepView()
	g, oa := o.guard(st)
	bw := min(w-4, 88)
	inner := bw - 4
	var lines []line
	add := func(s string) { lines = append(lines, line{text: fit(s, inner)}) }
	blank := func() { lines = append(lines, line{text: fit("", inner), drop: 1}) }
	wrap := func(s string, style func(...string) string, drop int) {
		for _, l := range wrapText(s, inner) {
			if style != nil {
				l = style(l)
			}
			lines = append(lines, line{text: fit(l, inner), drop: drop})
		}
	}
	title, tstyle := o.action.title(o.step), sty.OverlayTitle
	if g != nil {
		title, tstyle = "⚠ "+title+" — a guarded step", sty.DangerTitle
	}
	add(tstyle.Render(title))
	blank()
	if o.step != "" {
		add(sty.Bold.Render(st.ID) + " — " + st.Title)
		state := st.State.String()
		if st.Destructive {
			state += " · destructive"
		}
		if st.Mode == engine.ModeGate {
			state += " · go/no-go gate"
		}
		add(sty.Muted.Render("state ") + sty.stateStyle(st.State).Render(state))
		if st.LastError != "" && (o.action == actionRetry || o.action == actionSkip || o.action == actionDone) {
			wrap("last error: "+st.LastError, sty.Crit.Render, 2)
		}
	}
	blank()
	wrap(o.explain(st), nil, 2)
	if ov := st.Override; ov != nil && g != nil {
		blank()
		names := make([]string, 0, len(ov.Approvals))
		for _, a := range ov.Approvals {
			names = append(names, a.Actor.Name)
		}
		text := fmt.Sprintf("%s asked at %s to %s: %s — approvals %d of %d (%s)", ov.By.Name, ov.Since.In(o.s.local).Format("15:04:05"),
			ov.Action.Words(), ov.Reason, len(ov.Approvals), ov.Needed, strings.Join(names, ", "))
		if ov.Action != oa {
			text += fmt.Sprintf(". Approve that instead, or withdraw it before asking to %s.", oa.Words())
		}
		wrap(text, sty.Warn.Render, 0)
	}
	for _, f := range o.fields() {
		blank()
		switch f {
		case fieldReason:
			label := "reason:"
			switch {
			case o.joining(st):
				label = "note (optional; the reason is theirs):"
			case !o.reasonRequired(st):
				label = "note (optional):"
			}
			add(sty.Muted.Render(label))
			o.reason.SetWidth(inner - 4)
			add(o.reason.View())
		case fieldPhrase:
			who := "to approve:"
			if g.Needed > 1 {
				who = fmt.Sprintf("to approve (%d operators must, each from their own session):", g.Needed)
			}
			wrap("type "+sty.Phrase.Render(g.PhraseFor(oa))+" "+who, nil, 0)
			o.phrase.SetWidth(inner - 4)
			add(o.phrase.View())
		}
	}
	blank()
	add(sty.Muted.Render("you are ") + o.s.actor.String())
	switch {
	case o.err != "":
		wrap(o.err, sty.Crit.Render, 0)
	case o.hint != "":
		wrap(o.hint, sty.Warn.Render, 0)
	case o.waiting:
		add(sty.Accent.Render("sending to the engine…"))
	default:
		blank()
	}
	labels := []string{"[ Cancel ]", "[ " + o.action.verb() + " ]", "[ Withdraw the request ]"}[:o.buttons()]
	var bs []string
	for i, l := range labels {
		if o.button() == i {
			bs = append(bs, sty.ButtonActive.Render(l))
		} else {
			bs = append(bs, sty.Button.Render(l))
		}
	}
	add(strings.Join(bs, "  "))
	add(sty.Muted.Render("tab: next field or button · enter: press the chosen button · esc: cancel"))
	// Keep the fields and buttons on a short terminal: the frame takes two lines, and a line
	// above and below keeps the header and the footer in sight.
	h -= 2
	for i := 0; i < len(lines) && len(lines)+2 > h; {
		if lines[i].drop == 1 {
			lines = append(lines[:i], lines[i+1:]...)
			continue
		}
		i++
	}
	if over := len(lines) + 2 - h; over > 0 {
		first, last := -1, -1
		for i, l := range lines {
			if l.drop == 2 {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first >= 0 {
			words := lines[first : last+1]
			room := max(len(words)-over-1, 1) // less the line that says where the window is
			start, end := o.body.window(len(words), room)
			kept := append([]line(nil), lines[:first]...)
			kept = append(kept, words[start:end]...)
			kept = append(kept, line{text: fit(sty.Muted.Render("lines "+span(start+1, end, len(words))+" · "+scrollHint), inner)})
			lines = append(kept, lines[last+1:]...)
		}
	}
	text := make([]string, len(lines))
	for i, l := range lines {
		text[i] = l.text
	}
	style := sty.Overlay
	if g != nil || o.action == actionAbort {
		style = sty.OverlayDanger
	}
	return style.Width(bw).Render(strings.Join(text, "\n"))
}

func (o *actionOverlay) restyle(dark bool) {
	restyleInput(&o.reason, dark)
	restyleInput(&o.phrase, dark)
}

package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// promptAction is an operator action that needs a reason or a note.
type promptAction int

// Prompted actions.
const (
	actionDecline promptAction = iota
	actionDone
	actionSkip
	actionAbort
	actionPause
)

// openPromptMsg asks the root to open a reason prompt.
type openPromptMsg struct {
	action promptAction
	step   string
}

// promptOverlay asks for the reason of a no-go, a skip, an abort or a pause, or a note when a
// step is marked done, then sends the action to the engine (which journals it with the actor).
type promptOverlay struct {
	*env
	action promptAction
	step   string
	input  textinput.Model
	err    string
}

func newPromptOverlay(e *env, action promptAction, step string) *promptOverlay {
	in := newInput(e.s, "› ", "")
	in.Focus()
	return &promptOverlay{env: e, action: action, step: step, input: in}
}

func (o *promptOverlay) describe() (title, help string, required bool) {
	switch o.action {
	case actionDecline:
		return "No-go for " + o.step, "Why is it a no-go? The step fails with your reason; retry asks again.", true
	case actionDone:
		st, _ := o.d.step(o.step)
		if st.State == engine.StateRunning && st.Mode == engine.ModeManual {
			return "Mark " + o.step + " done", "A note for the record (optional).", false
		}
		return "Mark " + o.step + " done by hand", "Say what was done instead: it is journaled with your name.", true
	case actionSkip:
		return "Skip " + o.step, "Why is it skipped? Steps after it will run as if it succeeded.", true
	case actionAbort:
		return "Abort " + o.step, "Why stop it? A running command is killed; the step fails.", true
	case actionPause:
		return "Pause the run", "Why pause? Running steps finish; nothing new starts until resumed.", true
	}
	return "", "", false
}

func (o *promptOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		var cmd tea.Cmd
		o.input, cmd = o.input.Update(msg)
		return cmd, false
	}
	switch km.String() {
	case "esc", "ctrl+c":
		return nil, true
	case "enter":
		_, _, required := o.describe()
		text := strings.TrimSpace(o.input.Value())
		if required && text == "" {
			o.err = "a reason is required"
			return nil, false
		}
		e, actor, step := o.e, o.s.actor, o.step
		switch o.action {
		case actionDecline:
			st, _ := o.d.step(step)
			var req uint64
			if st.Confirmation != nil {
				req = st.Confirmation.Request
			}
			return act("no-go for "+step, func() error { return e.Decline(step, req, actor, text) }), true
		case actionDone:
			return act("mark "+step+" done", func() error { _, err := e.MarkDone(step, actor, text, ""); return err }), true
		case actionSkip:
			return act("skip "+step, func() error { _, err := e.Skip(step, actor, text, ""); return err }), true
		case actionAbort:
			return act("abort "+step, func() error { return e.Abort(step, actor, text) }), true
		case actionPause:
			return act("pause the run", func() error { return e.Pause(actor, text) }), true
		}
		return nil, true
	}
	var cmd tea.Cmd
	o.input, cmd = o.input.Update(msg)
	o.err = ""
	return cmd, false
}

func (o *promptOverlay) view(w, h int) string {
	st := o.s.styles
	bw := min(w-4, 80)
	inner := bw - 4
	title, help, _ := o.describe()
	lines := []string{fit(st.OverlayTitle.Render(title), inner), ""}
	for _, l := range wrapText(help, inner) {
		lines = append(lines, fit(l, inner))
	}
	o.input.SetWidth(inner - 4)
	lines = append(lines, "", fit(o.input.View(), inner))
	if o.err != "" {
		lines = append(lines, fit(st.Crit.Render(o.err), inner))
	} else {
		lines = append(lines, "")
	}
	lines = append(lines, fit(st.Muted.Render(fmt.Sprintf("enter: send as %s · esc: cancel", o.s.actor.Name)), inner))
	return st.Overlay.Width(bw).Render(strings.Join(lines, "\n"))
}

// quitOverlay asks before a cockpit that owns the engine quits while steps run or wait: quitting
// stops the engine here, and the operator must know what that leaves behind.
type quitOverlay struct {
	*env
	button int // 0 Stay (default), 1 Drain and quit, 2 Quit now
}

// quitMsg tells the root how to leave.
type quitMsg struct{ drain bool }

func (o *quitOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	switch km.String() {
	case "esc", "q":
		return nil, true
	case "tab", "right":
		o.button = (o.button + 1) % 3
	case "shift+tab", "left":
		o.button = (o.button + 2) % 3
	case "enter":
		switch o.button {
		case 1:
			return func() tea.Msg { return quitMsg{drain: true} }, true
		case 2:
			return func() tea.Msg { return quitMsg{} }, true
		}
		return nil, true
	}
	return nil, false
}

// busy lists the steps that running or waiting make worth a question.
func busy(d *data) (running, waiting []string) {
	for _, st := range d.snap.Steps {
		switch st.State {
		case engine.StateRunning, engine.StateRetrying:
			running = append(running, st.ID)
		case engine.StateAwaiting:
			waiting = append(waiting, st.ID)
		}
	}
	return running, waiting
}

func (o *quitOverlay) view(w, h int) string {
	st := o.s.styles
	bw := min(w-4, 84)
	inner := bw - 4
	running, waiting := busy(o.d)
	var text []string
	if len(running) > 0 {
		text = append(text, fmt.Sprintf("Running now: %s.", strings.Join(running, ", ")))
	}
	if len(waiting) > 0 {
		text = append(text, fmt.Sprintf("Waiting for a confirmation: %s.", strings.Join(waiting, ", ")))
	}
	text = append(text,
		"Quitting stops the engine on this machine. Nothing is lost: the journal has every change, and the next start resumes exactly here.",
		"Commands still running are stopped and re-run or resumed on the next start; operations already started elsewhere (an LCS refresh, the data upgrade, a toolkit step) keep going and are followed again when cutover starts.",
		"Drain and quit lets running steps finish first and starts nothing new.")
	lines := []string{fit(st.DangerTitle.Render("Quit the cockpit while the cutover is in flight?"), inner), ""}
	for _, p := range text {
		for _, l := range wrapText(p, inner) {
			lines = append(lines, fit(l, inner))
		}
		lines = append(lines, "")
	}
	labels := []string{"[ Stay ]", "[ Drain and quit ]", "[ Quit now ]"}
	var bs []string
	for i, l := range labels {
		if i == o.button {
			bs = append(bs, st.ButtonActive.Render(l))
		} else {
			bs = append(bs, st.Button.Render(l))
		}
	}
	lines = append(lines, fit(strings.Join(bs, " "), inner), fit(st.Muted.Render("tab: choose · enter: press · esc: stay"), inner))
	return st.OverlayDanger.Width(bw).Render(strings.Join(lines, "\n"))
}

func (p *promptOverlay) restyle(dark bool) { restyleInput(&p.input, dark) }

package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

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

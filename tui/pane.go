package tui

import (
	"context"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// paneID names the four panes, in their number-key order.
type paneID int

// The panes.
const (
	paneRunbook paneID = iota
	paneReplication
	paneValidation
	paneLogs
	paneCount
)

// String is the pane's title.
func (p paneID) String() string {
	switch p {
	case paneRunbook:
		return "Runbook"
	case paneReplication:
		return "Replication"
	case paneValidation:
		return "Validation"
	case paneLogs:
		return "Logs"
	}
	return "?"
}

// env is what every pane reads: the session, the cockpit's copy of the run and the engine to act
// through. Panes never call the engine in update; they return commands that do.
type env struct {
	ctx context.Context
	s   *session
	d   *data
	e   Engine
	// dispatch hands a message to the root at once (opening a dialog must not wait for the
	// next turn of the loop, or the keys typed right after would miss it).
	dispatch func(tea.Msg) tea.Cmd
}

// pane is one of the four views. Keys reach only the focused pane; engine events reach all of
// them through the shared data, which they read when they render.
type pane interface {
	// update handles a key (or a message the pane asked for) and may return a command.
	update(msg tea.Msg) tea.Cmd
	// view renders the pane's inner content: exactly h lines of w cells.
	view(w, h int, focused bool) []string
	// status is the short text shown in the pane's frame after its title (counts, ages).
	status() string
	// bindings are the keys valid in the pane right now, for the footer and the help overlay.
	bindings() []key.Binding
	// capturing is set while the pane takes typed text (a filter or search): global one-letter keys
	// then go to the pane.
	capturing() bool
}

// list is a cursor and a scroll offset over n rows, kept in view.
type list struct {
	cursor, offset int
}

// clamp keeps the cursor inside n rows and visible in a window of h rows.
func (l *list) clamp(n, h int) {
	if n <= 0 {
		l.cursor, l.offset = 0, 0
		return
	}
	l.cursor = max(0, min(l.cursor, n-1))
	if h <= 0 {
		return
	}
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+h {
		l.offset = l.cursor - h + 1
	}
	l.offset = max(0, min(l.offset, max(n-h, 0)))
}

// move handles the movement keys; it reports whether the key was one.
func (l *list) move(k *KeyMap, msg tea.KeyPressMsg, page int) bool {
	page = max(page, 1)
	switch {
	case key.Matches(msg, k.Up):
		l.cursor--
	case key.Matches(msg, k.Down):
		l.cursor++
	case key.Matches(msg, k.Top):
		l.cursor = 0
	case key.Matches(msg, k.Bottom):
		l.cursor = 1 << 30
	case key.Matches(msg, k.PageUp):
		l.cursor -= page
	case key.Matches(msg, k.PageDown):
		l.cursor += page
	default:
		return false
	}
	return true
}

// editFilter handles a message while a pane's filter is being typed (*editing): enter keeps the
// filter, esc clears it, other keys edit it (edited: the rows change, so the cursor goes back to
// the top). took is false when no filter is being typed: the pane handles the message itself.
func editFilter(input *textinput.Model, editing *bool, filter *string, msg tea.Msg) (cmd tea.Cmd, took, edited bool) {
	if !*editing {
		return nil, false, false
	}
	km, isKey := msg.(tea.KeyPressMsg)
	if isKey {
		switch km.String() {
		case "enter":
			*editing = false
			input.Blur()
			return nil, true, false
		case "esc":
			*editing, *filter = false, ""
			input.SetValue("")
			input.Blur()
			return nil, true, false
		}
	}
	*input, cmd = input.Update(msg)
	if isKey {
		*filter = input.Value()
	}
	return cmd, true, isKey
}

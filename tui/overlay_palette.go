package tui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"cutover/engine"
)

// gotoPaneMsg focuses a pane.
type gotoPaneMsg struct{ pane paneID }

// openHelpMsg and askQuitMsg come from the palette.
type (
	openHelpMsg struct{}
	askQuitMsg  struct{}
	openWhoMsg  struct{}
)

// paletteCommand is one `:` command.
type paletteCommand struct {
	name, args, desc string
	// step is set when the first argument is a step id (completed with tab).
	step     bool
	mutating bool
	run      func(o *paletteOverlay, args []string) (tea.Cmd, error)
}

// paletteOverlay is the `:` command line: go to a pane, run, skip, retry (and more) a step by id,
// refresh now, change the poll interval. Tab completes command names and step ids — the first
// suggestion, or the one chosen with ↑/↓ (pgup/pgdn a page) in a list that scrolls and says
// where it is; read-only sessions do not get the commands that change the run.
type paletteOverlay struct {
	*env
	input textinput.Model
	err   string
	cmds  []paletteCommand
	next  tea.Msg
	// sel is the chosen suggestion; list the window over the suggestions.
	sel  int
	list scroller
}

func newPaletteOverlay(e *env) *paletteOverlay {
	in := newInput(e.s, ":", "")
	in.Focus()
	o := &paletteOverlay{env: e, input: in}
	for _, c := range paletteCommands() {
		if c.mutating && e.s.readOnly {
			continue
		}
		o.cmds = append(o.cmds, c)
	}
	return o
}

// usageError asks for the command's usage to be shown.
type usageError struct{}

func (usageError) Error() string { return "usage" }

func paletteCommands() []paletteCommand {
	pane := func(p paneID) func(*paletteOverlay, []string) (tea.Cmd, error) {
		return func(*paletteOverlay, []string) (tea.Cmd, error) {
			return func() tea.Msg { return gotoPaneMsg{p} }, nil
		}
	}
	// The commands that change the run open the same dialog as their key, with the reason typed
	// here already in it: nothing acts from the command line at once.
	stepAct := func(action promptAction, needReason bool) func(*paletteOverlay, []string) (tea.Cmd, error) {
		return func(o *paletteOverlay, args []string) (tea.Cmd, error) {
			if len(args) < 1 || (needReason && len(args) < 2) {
				return nil, usageError{}
			}
			step := args[0]
			if _, ok := o.d.step(step); !ok {
				return nil, fmt.Errorf("no step %q", step)
			}
			o.next = openActionMsg{action: action, step: step, reason: strings.Join(args[1:], " ")}
			return nil, nil
		}
	}
	return []paletteCommand{
		{name: "runbook", desc: "go to the runbook", run: pane(paneRunbook)},
		{name: "replication", desc: "go to replication", run: pane(paneReplication)},
		{name: "validation", desc: "go to validation", run: pane(paneValidation)},
		{name: "logs", desc: "go to the logs", run: pane(paneLogs)},
		{name: "confirm", args: "STEP", desc: "open a step's confirmation", step: true, mutating: true,
			run: func(o *paletteOverlay, args []string) (tea.Cmd, error) {
				if len(args) != 1 {
					return nil, usageError{}
				}
				st, ok := o.d.step(args[0])
				if !ok {
					return nil, fmt.Errorf("no step %q", args[0])
				}
				if st.State != engine.StateAwaiting {
					return nil, fmt.Errorf("%s is %s, not waiting for a confirmation", st.ID, st.State)
				}
				o.next = openConfirmMsg{step: st.ID}
				return nil, nil
			}},
		{name: "run", args: "STEP", desc: "run a step now (confirm, retry or start its next attempt)", step: true, mutating: true,
			run: runStep},
		{name: "retry", args: "STEP", desc: "run a failed step again", step: true, mutating: true,
			run: stepAct(actionRetry, false)},
		{name: "skip", args: "STEP REASON", desc: "skip a step", step: true, mutating: true,
			run: stepAct(actionSkip, true)},
		{name: "done", args: "STEP [NOTE]", desc: "mark a step done by hand", step: true, mutating: true,
			run: stepAct(actionDone, false)},
		{name: "abort", args: "STEP REASON", desc: "stop a running step", step: true, mutating: true,
			run: stepAct(actionAbort, true)},
		{name: "nogo", args: "STEP REASON", desc: "decline a step's confirmation", step: true, mutating: true,
			run: stepAct(actionDecline, true)},
		{name: "pause", args: "REASON", desc: "pause the run (running steps finish)", mutating: true,
			run: func(o *paletteOverlay, args []string) (tea.Cmd, error) {
				if len(args) == 0 {
					return nil, usageError{}
				}
				o.next = openActionMsg{action: actionPause, reason: strings.Join(args, " ")}
				return nil, nil
			}},
		{name: "resume", desc: "resume a paused run", mutating: true,
			run: func(o *paletteOverlay, _ []string) (tea.Cmd, error) {
				o.next = openActionMsg{action: actionResume}
				return nil, nil
			}},
		{name: "refresh", desc: "poll replication now",
			run: func(o *paletteOverlay, _ []string) (tea.Cmd, error) {
				e := o.e
				return act("refresh requested", func() error { e.RefreshNow(); return nil }), nil
			}},
		{name: "interval", args: "DURATION [BACKLOG]", desc: "set the poll intervals (e.g. 30s 2m)", mutating: true,
			run: func(o *paletteOverlay, args []string) (tea.Cmd, error) {
				if len(args) < 1 || len(args) > 2 {
					return nil, usageError{}
				}
				var ds [2]time.Duration
				for i, a := range args {
					d, err := time.ParseDuration(a)
					if err != nil || d < time.Second {
						return nil, fmt.Errorf("%q is not a duration of at least 1s (e.g. 30s, 2m)", a)
					}
					ds[i] = d
				}
				e := o.e
				return act(fmt.Sprintf("poll interval set to %s", strings.Join(args, ", backlog ")), func() error {
					e.SetPollIntervals(ds[0], ds[1])
					return nil
				}), nil
			}},
		{name: "who", desc: "who is watching: name, role, since, idle", run: func(o *paletteOverlay, _ []string) (tea.Cmd, error) {
			o.next = openWhoMsg{}
			return nil, nil
		}},
		{name: "help", desc: "show the keys", run: func(o *paletteOverlay, _ []string) (tea.Cmd, error) {
			o.next = openHelpMsg{}
			return nil, nil
		}},
		{name: "quit", desc: "leave the cockpit", run: func(o *paletteOverlay, _ []string) (tea.Cmd, error) {
			o.next = askQuitMsg{}
			return nil, nil
		}},
	}
}

// runStep is `run STEP`: make the step go now, through the dialog of the engine call that does
// so in its state. A step awaiting its confirmation opens the confirmation dialog (the engine
// runs it once the phrase is typed: Confirm); a failed or retrying step opens the retry dialog
// (Retry: it runs again, or a guarded step asks for its confirmation again). A ready step needs nothing (the engine starts it on its own unless the
// run is paused), and the engine has no call that starts a step ahead of its dependencies, so
// those are refused with the reason.
func runStep(o *paletteOverlay, args []string) (tea.Cmd, error) {
	if len(args) != 1 {
		return nil, usageError{}
	}
	st, ok := o.d.step(args[0])
	if !ok {
		return nil, fmt.Errorf("no step %q", args[0])
	}
	switch st.State {
	case engine.StateAwaiting:
		o.next = openConfirmMsg{step: st.ID}
		return nil, nil
	case engine.StateFailed, engine.StateRetrying:
		o.next = openActionMsg{action: actionRetry, step: st.ID}
		return nil, nil
	case engine.StateRunning:
		return nil, fmt.Errorf("%s is already running", st.ID)
	case engine.StateSucceeded, engine.StateSkipped:
		return nil, fmt.Errorf("%s has %s: there is nothing to run", st.ID, st.State)
	case engine.StateReady:
		if o.d.snap.Run.Paused {
			return nil, fmt.Errorf("%s is ready but the run is paused: resume the run (:resume) and it starts", st.ID)
		}
		return nil, fmt.Errorf("%s is ready: the engine starts it on its own", st.ID)
	}
	var waiting []string
	for _, dep := range st.After {
		if d, ok := o.d.step(dep); !ok || !d.State.Done() {
			waiting = append(waiting, dep)
		}
	}
	if len(waiting) > 0 {
		return nil, fmt.Errorf("%s waits for %s; it starts when they are done (or skipped)", st.ID, strings.Join(waiting, ", "))
	}
	return nil, fmt.Errorf("%s is %s: it cannot be run now", st.ID, st.State)
}

// suggestions are the completions for what is typed.
func (o *paletteOverlay) suggestions() []string {
	text := o.input.Value()
	fields := strings.Fields(text)
	trailing := strings.HasSuffix(text, " ")
	if len(fields) == 0 || (len(fields) == 1 && !trailing) {
		prefix := ""
		if len(fields) == 1 {
			prefix = fields[0]
		}
		var out []string
		for _, c := range o.cmds {
			if strings.HasPrefix(c.name, prefix) {
				out = append(out, c.name)
			}
		}
		// A name typed in full comes first, so tab after "run" keeps run (not runbook).
		if i := slices.Index(out, prefix); i > 0 {
			out = append(append([]string{prefix}, out[:i]...), out[i+1:]...)
		}
		return out
	}
	c, ok := o.command(fields[0])
	if !ok || !c.step || len(fields) > 2 || (len(fields) == 2 && trailing) {
		return nil
	}
	prefix := ""
	if len(fields) == 2 {
		prefix = fields[1]
	}
	var out []string
	for _, st := range o.d.snap.Steps {
		if strings.HasPrefix(st.ID, prefix) {
			out = append(out, fields[0]+" "+st.ID)
		}
	}
	return out
}

func (o *paletteOverlay) command(name string) (paletteCommand, bool) {
	for _, c := range o.cmds {
		if c.name == name {
			return c, true
		}
	}
	return paletteCommand{}, false
}

func (o *paletteOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		var cmd tea.Cmd
		o.input, cmd = o.input.Update(msg)
		return cmd, false
	}
	switch km.String() {
	case "esc", "ctrl+c":
		return nil, true
	case "up", "down", "pgup", "pgdown":
		n := len(o.suggestions())
		page := max(o.list.page-1, 1)
		switch km.String() {
		case "up":
			o.sel--
		case "down":
			o.sel++
		case "pgup":
			o.sel -= page
		case "pgdown":
			o.sel += page
		}
		o.sel = max(0, min(o.sel, n-1))
		o.list.follow(o.sel)
		return nil, false
	case "tab":
		if s := o.suggestions(); len(s) > 0 {
			o.input.SetValue(s[max(0, min(o.sel, len(s)-1))] + " ")
			o.input.CursorEnd()
			o.sel, o.list.top = 0, 0
		}
		return nil, false
	case "enter":
		fields := strings.Fields(o.input.Value())
		if len(fields) == 0 {
			return nil, true
		}
		c, ok := o.command(fields[0])
		if !ok {
			o.err = fmt.Sprintf("unknown command %q", fields[0])
			if o.s.readOnly {
				for _, pc := range paletteCommands() {
					if pc.name == fields[0] && pc.mutating {
						o.err = fmt.Sprintf("%s changes the run: this session is read-only", fields[0])
					}
				}
			}
			return nil, false
		}
		cmd, err := c.run(o, fields[1:])
		if errors.As(err, new(usageError)) {
			o.err = fmt.Sprintf("usage: %s %s", c.name, c.args)
			return nil, false
		}
		if err != nil {
			o.err = err.Error()
			return nil, false
		}
		return cmd, true
	}
	var cmd tea.Cmd
	before := o.input.Value()
	o.input, cmd = o.input.Update(msg)
	o.err = ""
	if o.input.Value() != before {
		o.sel, o.list.top = 0, 0 // new text, new suggestions: the first is chosen again
	}
	return cmd, false
}

// followUp is what the root does right after the palette closes (open a dialog in its place),
// in the same turn, so keys typed next reach that dialog.
func (o *paletteOverlay) followUp() tea.Msg { return o.next }

func (o *paletteOverlay) view(w, h int) string {
	st := o.s.styles
	bw := min(w-2, 80) // at 80 columns a step command and the longest id fit (runbook.MaxStepID)
	inner := bw - 4
	o.input.SetWidth(inner - 2)
	lines := []string{fit(o.input.View(), inner)}
	if o.err != "" {
		lines = append(lines, fit(st.Crit.Render(o.err), inner))
	}
	sugg := o.suggestions()
	room := max(h-10, 3)
	if len(sugg) > room {
		room-- // where the window is
	}
	o.sel = max(0, min(o.sel, len(sugg)-1))
	o.list.page = room
	o.list.follow(o.sel) // chosen before the first frame: the window still shows it
	start, end := o.list.window(len(sugg), room)
	for i, s := range sugg[start:end] {
		name := strings.Fields(s)[0]
		c, _ := o.command(name)
		text := "  " + s
		if len(strings.Fields(s)) == 1 {
			text = "  " + fit(c.name+" "+c.args, 28) + st.Muted.Render(c.desc)
		} else if ansiWidth(text) > inner {
			text = s // a long step id: the indent goes, the id stays whole
		}
		if start+i == o.sel && len(sugg) > 1 {
			text = st.Selected.Render(ansiStripFit(text, inner))
		}
		lines = append(lines, fit(text, inner))
	}
	help := "tab: complete · enter: run · esc: close"
	if end-start < len(sugg) {
		lines = append(lines, fit(st.Muted.Render("  "+span(start+1, end, len(sugg))+" · "+scrollHint), inner))
	}
	if len(sugg) > 1 {
		help = "↑/↓: choose · " + help
	}
	lines = append(lines, fit(st.Muted.Render(help), inner))
	return st.Overlay.Width(bw).Render(strings.Join(lines, "\n"))
}

func (p *paletteOverlay) restyle(dark bool) { restyleInput(&p.input, dark) }

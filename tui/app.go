package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

// Options configure one cockpit session.
type Options struct {
	// Actor is who sits at this cockpit; viewers never act, whatever the keys.
	Actor engine.Actor
	// ReadOnly removes every binding that changes the run (also for operators).
	ReadOnly bool
	// Config is the cockpit's settings file (theme, keys, log toggles).
	Config Config
	// Local formats clock times (time.Local when nil).
	Local *time.Location
	// Watchers lists who is looking at the run (the SSH sessions and this cockpit), when known.
	Watchers func() []Presence
	// OnActivity is told of every key press (the presence list's idle time).
	OnActivity func()
	// OwnsEngine is set when quitting this cockpit stops the engine (the local `cutover run`);
	// then quitting while steps run asks first. An SSH session only leaves.
	OwnsEngine bool
	// Join is how another operator joins this cockpit: the command they run (the demo's ssh
	// command with its second operator's key, or `ssh -p PORT HOST`). "" when the cockpit is not
	// served over SSH. The confirmation dialog shows it while a step waits for more approvals.
	Join string
}

// App is the cockpit's root model: it owns the layout, the focus, the overlays and the routing of
// keys; the four panes render the run from the shared data.
type App struct {
	*env
	panes   [paneCount]pane
	focus   paneID
	overlay overlay
	events  <-chan engine.Event

	flash    string
	flashErr bool
	flashAt  time.Time
	// idleNotice warns an SSH session it is about to be closed for idleness; a key press clears it.
	idleNotice string

	draining bool
	quitting bool

	// held is the step this session holds while its confirmation dialog is open.
	held   string
	heldAt time.Time

	// closedAt is when a dialog last closed on the engine's answer: keys that change the run,
	// typed right after, were typed for the dialog (typeAheadGuard). clock is the wall clock (a
	// test's own).
	closedAt time.Time
	clock    func() time.Time

	onActivity func()
	stats      *sessionStats
}

// sessionStats count what a session took from the engine's stream; read from other goroutines.
type sessionStats struct {
	seq             atomic.Uint64
	events, resyncs atomic.Int64
}

// holdDoneMsg is the engine's answer to taking a step's hold.
type holdDoneMsg struct {
	step string
	err  error
}

// NewApp builds a cockpit over an engine. It subscribes at once, so nothing the engine says from
// now on is missed; the subscription ends with ctx.
func NewApp(ctx context.Context, e Engine, opt Options) *App {
	if opt.Local == nil {
		opt.Local = time.Local
	}
	keys := DefaultKeyMap()
	for name, ks := range opt.Config.Keys {
		_ = keys.Override(name, ks) // validated when the config was loaded
	}
	ro := opt.ReadOnly || !opt.Actor.CanOperate()
	if opt.Watchers == nil {
		me, since := opt.Actor, time.Now()
		opt.Watchers = func() []Presence { return []Presence{{Actor: me, Since: since, Local: true}} }
	}
	keys.SetReadOnly(ro)
	dark := opt.Config.Theme != ThemeLight
	s := &session{
		width: 80, height: 24,
		styles: NewStyles(dark), keys: keys, actor: opt.Actor, readOnly: ro,
		themePinned: opt.Config.Theme != ThemeAuto,
		local:       opt.Local, now: e.Now, watchers: opt.Watchers, ownsEngine: opt.OwnsEngine,
		join: opt.Join,
	}
	snap, events := e.Subscribe(ctx)
	d := newData(snap)
	d.logs.add(e.Logs(2000, ""), 0)
	d.repl, d.val = e.Replication(), e.Validation()
	en := &env{ctx: ctx, s: s, d: d, e: e}
	a := &App{env: en, events: events, onActivity: opt.OnActivity, stats: &sessionStats{}, clock: time.Now}
	a.stats.seq.Store(snap.Seq)
	en.dispatch = func(msg tea.Msg) tea.Cmd {
		_, cmd := a.Update(msg)
		return cmd
	}
	a.panes = [paneCount]pane{
		newRunbookPane(en), newReplicationPane(en), newValidationPane(en),
		newLogsPane(en, opt.Config.LogWrap, opt.Config.LogFollow),
	}
	return a
}

// Init starts listening to the engine, the clock, and asks the terminal for its background.
func (a *App) Init() tea.Cmd {
	cmds := []tea.Cmd{waitEvent(a.events), tick()}
	if !a.s.themePinned {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

func (a *App) setFlash(text string, isErr bool) {
	a.flash, a.flashErr, a.flashAt = text, isErr, time.Now()
}

// Update routes a message: engine news to the data, keys to the open dialog, then to a pane
// that is taking text, then to the global bindings, then to the focused pane.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.s.width, a.s.height = msg.Width, msg.Height
		return a, nil
	case tea.BackgroundColorMsg:
		if !a.s.themePinned && a.s.styles.Dark != msg.IsDark() {
			a.s.styles = NewStyles(msg.IsDark())
			for _, p := range a.panes {
				if r, ok := p.(restyler); ok {
					r.restyle(msg.IsDark())
				}
			}
			if r, ok := a.overlay.(restyler); ok {
				r.restyle(msg.IsDark())
			}
		}
		return a, nil
	case eventMsg:
		if _, ok := msg.ev.(engine.Resync); ok {
			a.stats.resyncs.Add(1)
			return a, resubscribe(a.ctx, a.e)
		}
		a.d.apply(msg.ev)
		a.stats.events.Add(1)
		a.stats.seq.Store(a.d.snap.Seq)
		cmd := waitEvent(a.events)
		if a.draining {
			if running, _ := busy(a.d); len(running) == 0 {
				a.quitting = true
				return a, tea.Quit
			}
		}
		return a, cmd
	case resubscribedMsg:
		a.events = msg.events
		a.d.setSnapshot(msg.snap)
		a.stats.seq.Store(msg.snap.Seq)
		a.d.logs.add(msg.logs, 0)
		return a, waitEvent(a.events)
	case streamEndedMsg:
		a.setFlash("the engine stopped", true)
		return a, nil
	case tickMsg:
		if a.flash != "" && time.Since(a.flashAt) > 8*time.Second {
			a.flash = ""
		}
		// Renew the hold while the dialog stays open.
		if a.held != "" && time.Since(a.heldAt) > time.Minute {
			return a, tea.Batch(tick(), a.hold(a.held))
		}
		return a, tick()
	case actionDoneMsg:
		if msg.err != nil {
			a.setFlash(msg.what+": "+msg.err.Error(), true)
		} else {
			a.setFlash(msg.what, false)
		}
		return a, nil
	case idleWarningMsg:
		if msg.current == nil || msg.current() {
			a.idleNotice = fmt.Sprintf("no key pressed for %s: this session closes in %s — press any key to stay", dur(msg.idle), dur(msg.closesIn))
		}
		return a, nil
	case accessChangedMsg:
		return a, a.withdraw(msg)
	case idleCloseMsg:
		if msg.current != nil && !msg.current() {
			return a, nil // a key was pressed since the watch decided
		}
		a.quitting = true
		return a, tea.Quit
	case recountDoneMsg:
		a.setFlash(recountOutcome(msg))
		return a, a.panes[paneValidation].update(msg)
	case openConfirmMsg:
		if a.s.readOnly {
			a.setFlash("this session is read-only", true)
			return a, nil
		}
		if st, ok := a.d.step(msg.step); ok && st.State == engine.StateAwaiting {
			if h := st.HeldByOther(a.s.actor); h != nil {
				a.setFlash(fmt.Sprintf("%s is confirming %s (since %s); wait for them", h.Actor.Name, st.ID, h.Since.In(a.s.local).Format("15:04:05")), true)
				return a, nil
			}
			o := newConfirmOverlay(a.env, st)
			a.overlay = o
			return a, tea.Batch(o.input.Focus(), a.hold(st.ID))
		}
		return a, nil
	case holdDoneMsg:
		if msg.err != nil {
			// The dialog stays open and says so (closing it under the operator's fingers would
			// hand the rest of the phrase to the key bindings); esc closes it.
			if o, ok := a.overlay.(*confirmOverlay); ok && o.step == msg.step {
				o.holdErr = msg.err.Error()
			} else {
				a.setFlash(msg.err.Error(), true)
			}
			a.held = ""
		}
		return a, nil
	case openActionMsg:
		if a.s.readOnly {
			a.setFlash("this session is read-only", true)
			return a, nil
		}
		if msg.step != "" {
			if _, ok := a.d.step(msg.step); !ok {
				a.setFlash(fmt.Sprintf("no step %q", msg.step), true)
				return a, nil
			}
		}
		a.overlay = newActionOverlay(a.env, msg.action, msg.step, msg.reason)
		return a, nil
	case actionResultMsg:
		if o, ok := a.overlay.(*actionOverlay); ok && o.id == msg.id {
			break // the dialog that asked takes its answer, below
		}
		// The dialog was closed before the answer came.
		if msg.err != nil {
			a.setFlash(msg.err.Error(), true)
		} else {
			a.setFlash(msg.what, false)
		}
		return a, nil
	case gotoPaneMsg:
		a.focus = msg.pane
		return a, nil
	case openHelpMsg:
		a.openHelp()
		return a, nil
	case openWhoMsg:
		a.overlay = &whoOverlay{env: a.env}
		return a, nil
	case askQuitMsg:
		return a, a.askQuit()
	case quitMsg:
		if msg.drain {
			a.draining = true
			if running, _ := busy(a.d); len(running) == 0 {
				a.quitting = true
				return a, tea.Quit
			}
			a.setFlash("draining: nothing new starts; the cockpit quits when the running steps finish", false)
			e := a.e
			return a, func() tea.Msg { e.Drain(); return nil }
		}
		a.quitting = true
		return a, tea.Quit
	case tea.KeyPressMsg:
		a.idleNotice = ""
		if a.onActivity != nil {
			a.onActivity()
		}
		return a, a.key(msg)
	}
	// Anything else (cursor blinks, confirmations' answers) goes to the dialog or the pane.
	if a.overlay != nil {
		cmd, closed := a.overlay.update(msg)
		if closed {
			// Closed by the engine's answer, not by a key: keys typed meanwhile were meant for
			// the dialog.
			cmd = tea.Batch(cmd, a.closeOverlay())
			a.closedAt = a.clock()
		}
		return a, cmd
	}
	return a, a.panes[a.focus].update(msg)
}

// typeAheadGuard is how long after a dialog closed on the engine's answer (not on a key of the
// operator's) the keys that change the run and the palette's key are ignored: typed that soon,
// they were meant for the dialog — typed ahead of the answer that closed it — not for the key
// bindings. A key without text (an arrow, esc, tab, enter) ends the guard at once: the operator
// is steering, not typing.
const typeAheadGuard = 500 * time.Millisecond

// closeOverlay closes the open dialog and gives up its hold.
func (a *App) closeOverlay() tea.Cmd {
	a.overlay = nil
	return a.release()
}

// typedAhead reports a key that changes the run pressed within typeAheadGuard of a dialog closing
// on the engine's answer.
func (a *App) typedAhead(msg tea.KeyPressMsg) bool {
	if a.closedAt.IsZero() || a.clock().Sub(a.closedAt) >= typeAheadGuard || msg.Text == "" {
		a.closedAt = time.Time{}
		return false
	}
	k := a.s.keys
	for _, b := range append(k.mutating(), &k.Palette) {
		if key.Matches(msg, *b) {
			return true
		}
	}
	return false
}

func (a *App) key(msg tea.KeyPressMsg) tea.Cmd {
	if a.overlay != nil {
		o := a.overlay
		cmd, closed := o.update(msg)
		if closed {
			cmd = tea.Batch(cmd, a.closeOverlay())
			if f, ok := o.(interface{ followUp() tea.Msg }); ok && f.followUp() != nil {
				// The palette hands over to a dialog in the same turn: no gap for keys.
				return tea.Batch(cmd, a.dispatch(f.followUp()))
			}
		}
		return cmd
	}
	if a.typedAhead(msg) {
		a.setFlash(fmt.Sprintf("ignored %q: typed as a dialog closed; press it again to use it", msg.String()), true)
		return nil
	}
	p := a.panes[a.focus]
	if p.capturing() {
		return p.update(msg)
	}
	k := a.s.keys
	switch {
	case key.Matches(msg, k.Quit):
		return a.askQuit()
	case key.Matches(msg, k.Help):
		a.openHelp()
		return nil
	case key.Matches(msg, k.Palette):
		o := newPaletteOverlay(a.env)
		a.overlay = o
		return o.input.Focus()
	case key.Matches(msg, k.NextPane):
		a.focus = (a.focus + 1) % paneCount
	case key.Matches(msg, k.PrevPane):
		a.focus = (a.focus + paneCount - 1) % paneCount
	case key.Matches(msg, k.Pane1):
		a.focus = paneRunbook
	case key.Matches(msg, k.Pane2):
		a.focus = paneReplication
	case key.Matches(msg, k.Pane3):
		a.focus = paneValidation
	case key.Matches(msg, k.Pane4):
		a.focus = paneLogs
	case key.Matches(msg, k.Refresh):
		e := a.e
		return act("refresh requested", func() error { e.RefreshNow(); return nil })
	case key.Matches(msg, k.Pause):
		if a.d.snap.Run.Paused {
			return a.dispatch(openActionMsg{action: actionResume})
		}
		return a.dispatch(openActionMsg{action: actionPause})
	default:
		return p.update(msg)
	}
	return nil
}

// hold claims a step for this session's operator while the confirmation is open.
func (a *App) hold(step string) tea.Cmd {
	a.held, a.heldAt = step, time.Now()
	e, actor := a.e, a.s.actor
	return func() tea.Msg { return holdDoneMsg{step: step, err: e.Hold(step, actor)} }
}

// release gives up the hold, if any.
func (a *App) release() tea.Cmd {
	if a.held == "" {
		return nil
	}
	step, e, actor := a.held, a.e, a.s.actor
	a.held = ""
	return func() tea.Msg { e.Release(step, actor); return nil }
}

// askQuit quits at once when nothing is in flight or the session does not own the engine;
// otherwise it asks.
func (a *App) askQuit() tea.Cmd {
	running, waiting := busy(a.d)
	if a.s.ownsEngine && len(running)+len(waiting) > 0 && a.d.snap.Run.Finished.IsZero() {
		a.overlay = &quitOverlay{env: a.env}
		return nil
	}
	a.quitting = true
	return tea.Quit
}

func (a *App) globalBindings() []key.Binding {
	k := a.s.keys
	return []key.Binding{k.Help, k.Palette, k.NextPane, k.PrevPane, k.Pane1, k.Pane2, k.Pane3, k.Pane4, k.Refresh, k.Pause, k.Quit}
}

func (a *App) openHelp() {
	p := a.panes[a.focus]
	keys := p.bindings()
	k := a.s.keys
	switch a.focus {
	case paneReplication, paneValidation, paneLogs:
		keys = append(keys, k.Top, k.Bottom, k.PageUp, k.PageDown, k.Back)
	case paneRunbook:
		keys = append(keys, k.Top, k.Bottom, k.Back)
		// Every step action is learnt from ?, not only the selected step's.
		a.overlay = newHelpOverlay(a.s, a.focus.String(), keys, a.globalBindings(), k.Confirm, k.Decline, k.Done, k.Skip, k.Retry, k.Abort)
		return
	}
	a.overlay = newHelpOverlay(a.s, a.focus.String(), keys, a.globalBindings())
}

// wide reports whether all four panes fit side by side.
func (a *App) wide() bool { return a.s.width >= 160 && a.s.height >= 30 }

// View draws the header, the panes (all four on a wide terminal, the focused one with tabs on a
// narrow one), the footer, and the open dialog on top.
func (a *App) View() tea.View {
	v := tea.NewView(a.render())
	v.AltScreen = true
	v.WindowTitle = "cutover · " + a.d.snap.Run.Name + " · " + a.d.phase()
	// The terminal's own progress bar (where supported): steps done, red when blocked.
	var done, total int
	for _, st := range a.d.snap.Steps {
		total++
		if st.State.Done() {
			done++
		}
	}
	if total > 0 {
		state := tea.ProgressBarDefault
		switch a.d.snap.Run.Outcome {
		case engine.OutcomeBlocked, engine.OutcomeHalted:
			state = tea.ProgressBarError
		case engine.OutcomeWaiting, engine.OutcomePaused:
			state = tea.ProgressBarWarning
		}
		v.ProgressBar = tea.NewProgressBar(state, 100*done/total)
	}
	return v
}

// render is the whole screen as text.
func (a *App) render() string {
	w, h := a.s.width, a.s.height
	if w < 20 || h < 8 {
		return "cutover: the terminal is too small (" + itoa(w) + "×" + itoa(h) + ")"
	}
	lines := a.header(w)
	bodyH := h - len(lines) - 1
	if a.wide() {
		lines = append(lines, a.grid(w, bodyH)...)
	} else {
		lines = append(lines, a.tabs(w))
		lines = append(lines, a.paneBox(a.focus, w, bodyH-1)...)
	}
	lines = append(lines, a.footer(w))
	if a.overlay != nil {
		lines = place(lines, a.overlay.view(w, h), w, h)
	}
	return strings.Join(lines, "\n")
}

// grid lays the four panes out two by two.
func (a *App) grid(w, h int) []string {
	lw, rw := w/2, w-w/2
	th, bh := h/2, h-h/2
	join := func(l, r []string) []string {
		out := make([]string, len(l))
		for i := range l {
			out[i] = l[i] + r[i]
		}
		return out
	}
	top := join(a.paneBox(paneRunbook, lw, th), a.paneBox(paneReplication, rw, th))
	bottom := join(a.paneBox(paneValidation, lw, bh), a.paneBox(paneLogs, rw, bh))
	return append(top, bottom...)
}

// paneBox renders one pane in its frame, as lines.
func (a *App) paneBox(id paneID, w, h int) []string {
	p := a.panes[id]
	focused := id == a.focus
	title := itoa(int(id)+1) + " " + id.String()
	if s := p.status(); s != "" {
		title += " · " + s
	}
	inner := p.view(w-2, h-2, focused)
	return strings.Split(box(a.s.styles, title, inner, w, h, focused), "\n")
}

// tabs is the pane bar of a narrow terminal.
func (a *App) tabs(w int) string {
	st := a.s.styles
	var parts []string
	for id := paneRunbook; id < paneCount; id++ {
		label := " " + itoa(int(id)+1) + " " + id.String() + " "
		if id == a.focus {
			parts = append(parts, st.TabActive.Render(label))
		} else {
			parts = append(parts, st.Tab.Render(label))
		}
	}
	return fit(strings.Join(parts, " "), w)
}

// place draws a dialog centred over the screen's lines.
func place(lines []string, dialog string, w, h int) []string {
	dl := strings.Split(dialog, "\n")
	dw := 0
	for _, l := range dl {
		dw = max(dw, ansi.StringWidth(l))
	}
	x := max((w-dw)/2, 0)
	y := max((h-len(dl))/2, 0)
	for i, l := range dl {
		row := y + i
		if row >= len(lines) {
			break
		}
		base := lines[row]
		lines[row] = ansi.Cut(base, 0, x) + fit(l, min(dw, w-x)) + ansi.Cut(base, x+dw, w)
	}
	return lines
}

func itoa(n int) string { return strconv.Itoa(n) }

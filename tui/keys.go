package tui

import (
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
)

// KeyMap is every key binding of the cockpit. Help is derived from it, a config file can
// override any binding by name, and read-only sessions disable the bindings that change the run or
// write on the cockpit's machine (a disabled binding neither matches nor shows in help).
type KeyMap struct {
	// Global.
	Help, Palette, Quit, NextPane, PrevPane key.Binding
	Pane1, Pane2, Pane3, Pane4              key.Binding
	Refresh, Pause                          key.Binding

	// Moving in lists.
	Up, Down, Top, Bottom, PageUp, PageDown, Back key.Binding

	// Runbook: act on the selected step.
	Confirm, Decline, Done, Skip, Retry, Abort key.Binding

	// Tables.
	Filter                                                       key.Binding
	SortName, SortPending, SortDelta, SortRate, SortETA, SortPub key.Binding

	// Validation.
	Recount key.Binding

	// Logs.
	Follow, Wrap, Level, NextMatch, PrevMatch, Save key.Binding
}

// DefaultKeyMap follows k9s and lazygit habits: j/k and arrows, g/G, / to filter, ? for help,
// : for the palette, shift+letter to sort.
func DefaultKeyMap() *KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return &KeyMap{
		Help:     b("?", "help", "?"),
		Palette:  b(":", "commands", ":"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
		NextPane: b("tab", "next pane", "tab"),
		PrevPane: b("shift+tab", "previous pane", "shift+tab"),
		Pane1:    b("1", "runbook", "1"),
		Pane2:    b("2", "replication", "2"),
		Pane3:    b("3", "validation", "3"),
		Pane4:    b("4", "logs", "4"),
		Refresh:  b("r", "refresh now", "r"),
		Pause:    b("p", "pause/resume run", "p"),

		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		Top:      b("g", "top", "g", "home"),
		Bottom:   b("G", "bottom", "G", "end"),
		PageUp:   b("ctrl+u", "page up", "ctrl+u", "pgup"),
		PageDown: b("ctrl+d", "page down", "ctrl+d", "pgdown"),
		Back:     b("esc", "back", "esc"),

		Confirm: b("c", "confirm step", "c"),
		Decline: b("n", "no-go", "n"),
		Done:    b("d", "mark done", "d"),
		Skip:    b("s", "skip step", "s"),
		Retry:   b("t", "retry step", "t"),
		Abort:   b("x", "abort step", "x"),

		Filter:      b("/", "filter", "/"),
		SortName:    b("N", "sort by name", "N"),
		SortPending: b("P", "sort by pending", "P"),
		SortDelta:   b("D", "sort by delta", "D"),
		SortRate:    b("A", "sort by rate", "A"),
		SortETA:     b("E", "sort by ETA", "E"),
		SortPub:     b("U", "sort by publication", "U"),

		Recount: b("c", "recount exactly", "c"),

		Follow:    b("f", "follow", "f"),
		Wrap:      b("w", "wrap", "w"),
		Level:     b("v", "level filter", "v"),
		NextMatch: b("n", "next match", "n"),
		PrevMatch: b("N", "previous match", "N"),
		Save:      b("ctrl+s", "save log", "ctrl+s"),
	}
}

// named maps the config names of the bindings to them.
func (k *KeyMap) named() map[string]*key.Binding {
	return map[string]*key.Binding{
		"help": &k.Help, "palette": &k.Palette, "quit": &k.Quit, "next_pane": &k.NextPane, "prev_pane": &k.PrevPane,
		"pane_runbook": &k.Pane1, "pane_replication": &k.Pane2, "pane_validation": &k.Pane3, "pane_logs": &k.Pane4,
		"refresh": &k.Refresh, "pause": &k.Pause,
		"up": &k.Up, "down": &k.Down, "top": &k.Top, "bottom": &k.Bottom, "page_up": &k.PageUp, "page_down": &k.PageDown, "back": &k.Back,
		"confirm": &k.Confirm, "decline": &k.Decline, "done": &k.Done, "skip": &k.Skip, "retry": &k.Retry, "abort": &k.Abort,
		"filter": &k.Filter, "sort_name": &k.SortName, "sort_pending": &k.SortPending, "sort_delta": &k.SortDelta,
		"sort_rate": &k.SortRate, "sort_eta": &k.SortETA, "sort_publication": &k.SortPub,
		"recount": &k.Recount,
		"follow":  &k.Follow, "wrap": &k.Wrap, "level": &k.Level, "next_match": &k.NextMatch, "prev_match": &k.PrevMatch, "save_log": &k.Save,
	}
}

// BindingNames lists the names a config file may override, sorted.
func (k *KeyMap) BindingNames() []string {
	names := make([]string, 0, 48)
	for n := range k.named() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Override rebinds one binding by its config name; the help text shows the first key.
func (k *KeyMap) Override(name string, keys []string) error {
	b, ok := k.named()[name]
	if !ok {
		return fmt.Errorf("unknown key binding %q", name)
	}
	if len(keys) == 0 {
		return fmt.Errorf("key binding %q: give at least one key", name)
	}
	for _, s := range keys {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("key binding %q: empty key", name)
		}
	}
	b.SetKeys(keys...)
	b.SetHelp(strings.Join(keys, "/"), b.Help().Desc)
	return nil
}

// mutating are the bindings that change the run.
func (k *KeyMap) mutating() []*key.Binding {
	return []*key.Binding{&k.Pause, &k.Confirm, &k.Decline, &k.Done, &k.Skip, &k.Retry, &k.Abort, &k.Recount}
}

// writing are the bindings that write on the machine the cockpit runs on: saving the log creates
// a file in the state directory. For a viewer over SSH that machine is the jump box, which is not
// theirs to write on.
func (k *KeyMap) writing() []*key.Binding {
	return []*key.Binding{&k.Save}
}

// readOnlyDenied are the bindings a read-only session does not have: the ones that change the
// run and the ones that write on the cockpit's machine.
func (k *KeyMap) readOnlyDenied() []*key.Binding {
	return append(k.mutating(), k.writing()...)
}

// SetReadOnly disables (or re-enables) every binding a read-only session must not have: those
// that change the run or write a file on the cockpit's machine. A disabled binding neither
// matches nor shows in help.
func (k *KeyMap) SetReadOnly(ro bool) {
	for _, b := range k.readOnlyDenied() {
		b.SetEnabled(!ro)
	}
}

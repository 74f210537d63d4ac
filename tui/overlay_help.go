package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// helpOverlay lists the keys valid right now — the focused pane's and the global ones, without
// the ones a read-only session cannot use — then the pane's keys that do something elsewhere (the
// step actions the selected step does not take), and filters them as you type.
type helpOverlay struct {
	s       *session
	groups  []helpGroup
	filter  string
	scroll  scroller
	context string
}

type helpGroup struct {
	name     string
	bindings []key.Binding
}

// newHelpOverlay lists paneKeys, then global, then elsewhere less those already listed (keys of the
// pane that do nothing here).
func newHelpOverlay(s *session, paneName string, paneKeys, global []key.Binding, elsewhere ...key.Binding) *helpOverlay {
	return &helpOverlay{s: s, context: paneName, groups: []helpGroup{{paneName, paneKeys}, {"Everywhere", global},
		{"On other steps (not the selected one)", elsewhere}}}
}

func (o *helpOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	if o.scroll.key(km.String()) {
		return nil, false
	}
	switch km.String() {
	case "esc", "?", "ctrl+c":
		if o.filter != "" && km.String() == "esc" {
			o.filter = ""
			return nil, false
		}
		return nil, true
	case "backspace":
		if o.filter != "" {
			_, size := lastRune(o.filter)
			o.filter = o.filter[:len(o.filter)-size]
		}
	default:
		if km.Text != "" {
			o.filter += km.Text
			o.scroll.top = 0
		}
	}
	return nil, false
}

func lastRune(s string) (rune, int) {
	r := []rune(s)
	if len(r) == 0 {
		return 0, 0
	}
	return r[len(r)-1], len(string(r[len(r)-1]))
}

// rows are the visible lines: group titles and "key  description".
func (o *helpOverlay) rows(inner int) []string {
	st := o.s.styles
	f := strings.ToLower(o.filter)
	var out []string
	seen := map[string]bool{}
	for _, g := range o.groups {
		var lines []string
		for _, b := range g.bindings {
			if !b.Enabled() || len(b.Keys()) == 0 {
				continue
			}
			h := b.Help()
			id := h.Key + "\x00" + h.Desc
			if seen[id] {
				continue
			}
			if f != "" && !strings.Contains(strings.ToLower(h.Key+" "+h.Desc), f) {
				continue
			}
			seen[id] = true
			lines = append(lines, fit("  "+st.FooterKey.Render(fit(h.Key, 12))+" "+h.Desc, inner))
		}
		if len(lines) > 0 {
			out = append(out, fit(st.Title.Render(g.name), inner))
			out = append(out, lines...)
		}
	}
	if len(out) == 0 {
		out = append(out, fit(st.Muted.Render("no key matches "+o.filter), inner))
	}
	return out
}

func (o *helpOverlay) view(w, h int) string {
	st := o.s.styles
	bw := min(w-4, 64)
	inner := bw - 4
	rows := o.rows(inner)
	room := max(h-9, 3) // the frame, the title, the filter, two blank lines, the keys' line; a line above and below
	if len(rows) > room {
		room = max(room-1, 2) // where the window is
	}
	lines := []string{fit(st.OverlayTitle.Render("Keys — "+o.context), inner)}
	filter := "type to filter"
	if o.filter != "" {
		filter = "filter: " + o.filter
	}
	if o.s.readOnly {
		filter += " · read-only session: actions are hidden"
	}
	lines = append(lines, fit(st.Muted.Render(filter), inner), "")
	start, end := o.scroll.window(len(rows), room)
	lines = append(lines, rows[start:end]...)
	if end-start < len(rows) {
		lines = append(lines, fit(st.Muted.Render("lines "+span(start+1, end, len(rows))), inner))
	}
	lines = append(lines, "", fit(st.Muted.Render(scrollHint+" scroll · esc or ? closes"), inner))
	return st.Overlay.Width(bw).Render(strings.Join(lines, "\n"))
}

package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// whoOverlay lists who is looking at the run: name, role, where from, since when, idle for. A
// long list scrolls (↑/↓, pgup/pgdn); any other key closes it.
type whoOverlay struct {
	*env
	scroll scroller
}

func (o *whoOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	km, isKey := msg.(tea.KeyPressMsg)
	if isKey && o.scroll.key(km.String()) {
		return nil, false
	}
	return nil, isKey
}

func (o *whoOverlay) view(w, h int) string {
	st := o.s.styles
	bw := min(w-4, 100)
	inner := bw - 4
	lines := []string{fit(st.OverlayTitle.Render("Watching the run"), inner), ""}
	lines = append(lines, st.ColumnHeader.Render(fit(fmt.Sprintf("%-22s %-9s %-28s %-9s %s", "NAME", "ROLE", "FROM", "SINCE", "IDLE"), inner)))
	var list []Presence
	if o.s.watchers != nil {
		list = o.s.watchers()
	}
	var rows []string
	for _, p := range list {
		from := p.Actor.Origin
		if p.Local {
			from = "this terminal"
		}
		name := p.Actor.Name
		if p.Actor.ID() == o.s.actor.ID() {
			name += " (you)"
		}
		rows = append(rows, fit(fmt.Sprintf("%-22s %-9s %-28s %-9s %s", name, p.Actor.Role, from, p.Since.In(o.s.local).Format("15:04:05"), dur(p.Idle)), inner))
		if p.Actor.Fingerprint != "" {
			rows = append(rows, fit(st.Muted.Render("  key "+p.Actor.Fingerprint), inner))
		}
	}
	room := max(h-9, 2) // the frame, the title and the column heads, the closing lines; a line above and below
	closing := "any key closes"
	if len(rows) > room {
		room = max(room-1, 1)
		closing = scrollHint + " scroll · any other key closes"
	}
	start, end := o.scroll.window(len(rows), room)
	lines = append(lines, rows[start:end]...)
	if end-start < len(rows) {
		lines = append(lines, fit(st.Muted.Render(fmt.Sprintf("%d watching · lines %s", len(list), span(start+1, end, len(rows)))), inner))
	}
	lines = append(lines, "", fit(st.Muted.Render(closing), inner))
	return st.Overlay.Width(bw).Render(strings.Join(lines, "\n"))
}

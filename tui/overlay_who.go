package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// whoOverlay lists who is looking at the run: name, role, where from, since when, idle for.
type whoOverlay struct{ *env }

func (o *whoOverlay) update(msg tea.Msg) (tea.Cmd, bool) {
	_, isKey := msg.(tea.KeyPressMsg)
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
	for _, p := range list {
		from := p.Actor.Origin
		if p.Local {
			from = "this terminal"
		}
		name := p.Actor.Name
		if p.Actor.ID() == o.s.actor.ID() {
			name += " (you)"
		}
		lines = append(lines, fit(fmt.Sprintf("%-22s %-9s %-28s %-9s %s", name, p.Actor.Role, from, p.Since.In(o.s.local).Format("15:04:05"), dur(p.Idle)), inner))
		if p.Actor.Fingerprint != "" {
			lines = append(lines, fit(st.Muted.Render("  key "+p.Actor.Fingerprint), inner))
		}
	}
	lines = append(lines, "", fit(st.Muted.Render("any key closes"), inner))
	return st.Overlay.Width(bw).Render(strings.Join(lines, "\n"))
}

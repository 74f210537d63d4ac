package tui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
)

// footer is one line: the keys of the focused pane and the global ones, or the newest message
// (an idle warning first: it stays until a key is pressed), and at its right end, always, help
// and quit, one cell short of the edge (a terminal writes its last column apart). The other keys
// give way, whole, from the last; a message is shortened instead. While the pane takes typed text
// (a filter), ? and q are text, so the pane's own keys (esc) stand in for them.
func (a *App) footer(w int) string {
	st := a.s.styles
	item := func(b key.Binding) string {
		return st.FooterKey.Render(b.Help().Key) + " " + st.FooterDesc.Render(b.Help().Desc)
	}
	usable := func(b key.Binding) bool { return b.Enabled() && len(b.Keys()) > 0 }
	p := a.panes[a.focus]
	k := a.s.keys
	var fixed []string
	if !p.capturing() {
		for _, b := range []key.Binding{k.Help, k.Quit} {
			if usable(b) {
				fixed = append(fixed, item(b))
			}
		}
	}
	tail := strings.Join(fixed, "  ")
	room := w
	if tail != "" {
		room = max(w-ansiWidth(tail)-3, 0)
	}
	end := func(left string) string {
		if tail == "" {
			return fit(left, w)
		}
		if room == 0 {
			return fit(tail, w) // narrower than help and quit: they come first
		}
		return fit(left, room) + "  " + tail + " "
	}
	switch {
	case a.idleNotice != "":
		return end(st.FlashError.Render(a.idleNotice))
	case a.flash != "" && time.Since(a.flashAt) < 8*time.Second:
		style := st.Flash
		if a.flashErr {
			style = st.FlashError
		}
		return end(style.Render(a.flash))
	}
	// The pane's first six keys, then the way to the other panes and the palette, then the
	// pane's other keys.
	keys := p.bindings()
	if !p.capturing() {
		n := min(len(keys), 6)
		keys = append(append(append([]key.Binding(nil), keys[:n]...), k.NextPane, k.Palette), keys[n:]...)
	}
	var parts []string
	used := 0
	for _, b := range keys {
		if !usable(b) {
			continue
		}
		s := item(b)
		c := ansiWidth(s)
		if len(parts) > 0 {
			c += 2
		}
		if used+c > room {
			break
		}
		parts, used = append(parts, s), used+c
	}
	return end(strings.Join(parts, "  "))
}

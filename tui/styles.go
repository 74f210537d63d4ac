package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Theme names the colours the cockpit uses by meaning, never by hue: a state is always also shown
// by a glyph or a word, so the theme can be swapped (or switched off by NO_COLOR) without losing
// information.
type Theme struct {
	Text, Muted, Accent, OK, Warn, Crit, Border, Focus, Badge color.Color
}

// themeFor is the built-in theme for a dark or a light terminal background.
func themeFor(dark bool) Theme {
	ld := lipgloss.LightDark(dark)
	return Theme{
		Text:   ld(lipgloss.Color("#1f2328"), lipgloss.Color("#d0d7de")),
		Muted:  ld(lipgloss.Color("#6e7781"), lipgloss.Color("#8b949e")),
		Accent: ld(lipgloss.Color("#0550ae"), lipgloss.Color("#79c0ff")),
		OK:     ld(lipgloss.Color("#116329"), lipgloss.Color("#56d364")),
		Warn:   ld(lipgloss.Color("#7d4e00"), lipgloss.Color("#e3b341")),
		Crit:   ld(lipgloss.Color("#a40e26"), lipgloss.Color("#ff7b72")),
		Border: ld(lipgloss.Color("#afb8c1"), lipgloss.Color("#484f58")),
		Focus:  ld(lipgloss.Color("#0969da"), lipgloss.Color("#58a6ff")),
		Badge:  ld(lipgloss.Color("#8250df"), lipgloss.Color("#d2a8ff")),
	}
}

// Styles are every style the cockpit renders with, built from a theme for one session (two SSH
// users with different terminals get different Styles; nothing here is global).
type Styles struct {
	Dark bool

	Text, Muted, Accent, Bold  lipgloss.Style
	OK, Warn, Crit, Badge      lipgloss.Style
	Stale                      lipgloss.Style
	Selected                   lipgloss.Style
	Border, BorderFocused      lipgloss.Style
	Title, TitleFocused        lipgloss.Style
	Tab, TabActive             lipgloss.Style
	HeaderName, HeaderEnv      lipgloss.Style
	FooterKey, FooterDesc      lipgloss.Style
	Flash, FlashError          lipgloss.Style
	Overlay, OverlayDanger     lipgloss.Style
	OverlayTitle, DangerTitle  lipgloss.Style
	Button, ButtonActive       lipgloss.Style
	Input, Phrase              lipgloss.Style
	ColumnHeader, SortedColumn lipgloss.Style
	Match                      lipgloss.Style
}

// NewStyles builds the styles for a dark or light background.
func NewStyles(dark bool) *Styles {
	t := themeFor(dark)
	base := lipgloss.NewStyle()
	fg := func(c color.Color) lipgloss.Style { return base.Foreground(c) }
	box := base.Border(lipgloss.RoundedBorder()).Padding(0, 1)
	return &Styles{
		Dark:          dark,
		Text:          fg(t.Text),
		Muted:         fg(t.Muted),
		Accent:        fg(t.Accent),
		Bold:          base.Bold(true),
		OK:            fg(t.OK),
		Warn:          fg(t.Warn).Bold(true),
		Crit:          fg(t.Crit).Bold(true),
		Badge:         fg(t.Badge),
		Stale:         fg(t.Muted).Faint(true),
		Selected:      base.Reverse(true),
		Border:        fg(t.Border),
		BorderFocused: fg(t.Focus).Bold(true),
		Title:         fg(t.Muted).Bold(true),
		TitleFocused:  fg(t.Focus).Bold(true),
		Tab:           fg(t.Muted),
		TabActive:     base.Reverse(true).Bold(true),
		HeaderName:    fg(t.Accent).Bold(true),
		HeaderEnv:     fg(t.Warn).Bold(true),
		FooterKey:     fg(t.Accent).Bold(true),
		FooterDesc:    fg(t.Muted),
		Flash:         fg(t.OK),
		FlashError:    fg(t.Crit).Bold(true),
		Overlay:       box.BorderForeground(t.Focus),
		OverlayDanger: box.Border(lipgloss.DoubleBorder()).BorderForeground(t.Crit),
		OverlayTitle:  fg(t.Focus).Bold(true),
		DangerTitle:   fg(t.Crit).Bold(true),
		Button:        base.Padding(0, 1).Foreground(t.Muted),
		ButtonActive:  base.Padding(0, 1).Reverse(true).Bold(true),
		Input:         fg(t.Text).Underline(true),
		Phrase:        fg(t.Warn).Bold(true),
		ColumnHeader:  fg(t.Muted).Bold(true),
		SortedColumn:  fg(t.Accent).Bold(true).Underline(true),
		Match:         base.Reverse(true),
	}
}

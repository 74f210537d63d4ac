package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
	"cutover/engine/runbook"
)

// fit truncates s to w cells (with an ellipsis) and pads it to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// fitRight right-aligns s in w cells.
func fitRight(s string, w int) string {
	sw := ansi.StringWidth(s)
	if sw >= w {
		return fit(s, w)
	}
	return strings.Repeat(" ", w-sw) + s
}

// num writes an integer with thousands separators.
func num(n int64) string { return engine.FormatCount(n) }

// signed writes a delta with its sign.
func signed(n int64) string {
	if n > 0 {
		return "+" + num(n)
	}
	return num(n)
}

// perSec writes commands per second.
func perSec(r float64) string {
	switch {
	case r == 0:
		return "0/s"
	case math.Abs(r) >= 100:
		return fmt.Sprintf("%s/s", num(int64(math.Round(r))))
	default:
		return fmt.Sprintf("%.1f/s", r)
	}
}

// dur writes a duration as the cockpit's clocks show it: runbook.FormatDurationAs in the Clock
// form (45s, 3m11s, 2h01m, 1d04h; cut down to the second, without a sign).
func dur(d time.Duration) string { return runbook.FormatDurationAs(d, runbook.Clock) }

// age says how old a figure is; "never" when it was never read.
func age(now, at time.Time) string {
	if at.IsZero() {
		return "never"
	}
	if now.Before(at) {
		return "now"
	}
	return dur(now.Sub(at)) + " ago"
}

// sparkRunes are the eight bar heights of a sparkline.
const sparkRunes = "▁▂▃▄▅▆▇█"

// sparkline draws the newest w values, scaled to their maximum.
func sparkline(vals []int64, w int) string {
	if len(vals) > w {
		vals = vals[len(vals)-w:]
	}
	var hi int64
	for _, v := range vals {
		hi = max(hi, v)
	}
	bars := []rune(sparkRunes)
	var b strings.Builder
	for _, v := range vals {
		i := 0
		if hi > 0 && v > 0 {
			i = int(float64(v) / float64(hi) * float64(len(bars)-1))
			i = max(1, min(i, len(bars)-1))
		}
		b.WriteRune(bars[i])
	}
	return b.String()
}

// stateGlyph pairs each step state with a glyph, so colour is never the only signal.
func stateGlyph(s engine.StepState) string {
	switch s {
	case engine.StatePending:
		return "·"
	case engine.StateReady:
		return "○"
	case engine.StateAwaiting:
		return "◆"
	case engine.StateRunning:
		return "▶"
	case engine.StateRetrying:
		return "↻"
	case engine.StateSucceeded:
		return "✓"
	case engine.StateFailed:
		return "✗"
	case engine.StateSkipped:
		return "⤼"
	case engine.StateNotNeeded:
		return "⊘"
	}
	return "?"
}

// stateStyle colours a step state.
func (s *Styles) stateStyle(st engine.StepState) lipgloss.Style {
	switch st {
	case engine.StateSucceeded:
		return s.OK
	case engine.StateFailed:
		return s.Crit
	case engine.StateAwaiting, engine.StateRetrying:
		return s.Warn
	case engine.StateRunning:
		return s.Accent
	case engine.StateSkipped, engine.StatePending, engine.StateNotNeeded:
		return s.Muted
	}
	return s.Text
}

// healthMark is a source's health as glyph and word.
func healthMark(h engine.Health) string {
	switch h {
	case engine.HealthOK:
		return "● ok"
	case engine.HealthSlow:
		return "▲ slow"
	case engine.HealthFailing:
		return "✖ failing"
	}
	return "○ unknown"
}

func (s *Styles) healthStyle(h engine.Health) lipgloss.Style {
	switch h {
	case engine.HealthOK:
		return s.OK
	case engine.HealthSlow:
		return s.Warn
	case engine.HealthFailing:
		return s.Crit
	}
	return s.Muted
}

// box draws content in a rounded frame of exactly w×h cells with the title in the top edge.
// Content lines must already be fitted to the inner width (w-2).
func box(st *Styles, title string, lines []string, w, h int, focused bool) string {
	if w < 4 || h < 2 {
		return ""
	}
	border, ts := st.Border, st.Title
	if focused {
		border, ts = st.BorderFocused, st.TitleFocused
	}
	inner := w - 2
	var b strings.Builder
	t := ansi.Truncate(" "+title+" ", max(inner-2, 0), "…")
	tw := ansi.StringWidth(t)
	b.WriteString(border.Render("╭─"))
	b.WriteString(ts.Render(t))
	b.WriteString(border.Render(strings.Repeat("─", max(inner-1-tw, 0)) + "╮"))
	side := border.Render("│")
	for i := 0; i < h-2; i++ {
		b.WriteByte('\n')
		b.WriteString(side)
		if i < len(lines) {
			b.WriteString(lines[i])
		} else {
			b.WriteString(strings.Repeat(" ", inner))
		}
		b.WriteString(side)
	}
	b.WriteByte('\n')
	b.WriteString(border.Render("╰" + strings.Repeat("─", inner) + "╯"))
	return b.String()
}

// wrapText breaks text into lines of at most w cells, at spaces only: a hyphen is no place to
// break, since step ids and host names have them (toolkit-remove-replication, AX-BATCH01) and
// must not be split across lines. A word longer than w is still broken.
func wrapText(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		// ansi.Wrap always breaks after a hyphen; a non-breaking hyphen (one cell too) keeps the
		// word whole and is turned back after.
		wrapped := ansi.Wrap(strings.ReplaceAll(para, "-", nbHyphen), w, "")
		out = append(out, strings.Split(strings.ReplaceAll(wrapped, nbHyphen, "-"), "\n")...)
	}
	return out
}

// nbHyphen is U+2011 NON-BREAKING HYPHEN.
const nbHyphen = "\u2011"

// ansiStripFit drops the styling of a line (so a selection style covers it whole) and fits it.
func ansiStripFit(s string, w int) string { return fit(ansi.Strip(s), w) }

// ansiWidth is a string's width in cells.
func ansiWidth(s string) int { return ansi.StringWidth(s) }

// tableName drops the dbo. schema every AX table has.
func tableName(table string) string {
	if len(table) > 4 && (table[:4] == "dbo." || table[:4] == "DBO.") {
		return table[4:]
	}
	return table
}

// newInput is a one-line text input in the session's theme with a steady cursor: a blinking one
// redraws twice a second for every SSH viewer, for nothing.
func newInput(s *session, prompt, placeholder string) textinput.Model {
	in := textinput.New()
	in.Prompt, in.Placeholder = prompt, placeholder
	// Deleting the word after the cursor (Alt+D, Alt+Delete, Ctrl+Delete) is off: bubbles'
	// textinput (v2.1.1 and v2.2.1 alike) reads past the end of the text when the cursor is on its
	// last character, and panics. Found by FuzzKeys; the other editing keys stay.
	in.KeyMap.DeleteWordForward = key.NewBinding(key.WithDisabled())
	restyleInput(&in, s.styles.Dark)
	return in
}

// restyleInput gives an input the styles of a dark or light theme.
func restyleInput(in *textinput.Model, dark bool) { in.SetStyles(inputStyles(dark)) }

// inputStyles are the text input styles of a dark or light theme, with a steady cursor.
func inputStyles(dark bool) textinput.Styles {
	st := textinput.DefaultStyles(dark)
	st.Cursor.Blink = false
	return st
}

// restyler is a pane or overlay holding inputs that follow the theme when it changes.
type restyler interface {
	restyle(dark bool)
}

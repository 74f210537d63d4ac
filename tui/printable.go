package tui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

// printable is text from outside cutover (a command's output, an error from a server, a reason
// typed by someone, a name from the team file) made safe to print on a terminal: escape
// sequences (CSI, OSC, DCS… — colours, cursor moves, window titles, clipboard writes) are removed
// whole, and so is every other control character, C0 and C1, except newline and tab. Bytes that
// are not UTF-8 become U+FFFD (a terminal could read a lone 0x9B as an 8-bit CSI). Every front end
// prints such text through it: the headless printer and `cutover serve`, the SSH status glance,
// the cockpit's copy of log lines and step messages.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8RuneError || (unicode.IsControl(r) && r != '\n' && r != '\t') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = ansi.Strip(strings.ToValidUTF8(s, "\uFFFD"))
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, s)
}

// utf8RuneError is what ranging over a string yields for a byte that is not UTF-8 (and for
// U+FFFD itself, which is harmless: the slow path keeps it).
const utf8RuneError = '\uFFFD'

// printableStep is a step as the cockpit keeps it: the text that comes from outside (its result,
// its error, the output it printed, the reason someone gave) made printable.
func printableStep(st engine.StepView) engine.StepView {
	st.Message, st.LastError, st.Reason = printable(st.Message), printable(st.LastError), printable(st.Reason)
	if len(st.Output) > 0 {
		out := make([]string, len(st.Output))
		for i, l := range st.Output {
			out[i] = printable(l)
		}
		st.Output = out
	}
	return st
}

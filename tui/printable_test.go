package tui

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"unicode"

	"cutover/engine/clock"
)

func TestPrintableStripsTerminalControl(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain text is kept", "rows copied: 1 200 — ok ✓ 日本 é", "rows copied: 1 200 — ok ✓ 日本 é"},
		{"newline and tab stay", "a\tb\nc", "a\tb\nc"},
		{"colour (CSI SGR)", "\x1b[31mred\x1b[0m text", "red text"},
		{"cursor moves and erase", "x\x1b[2J\x1b[H\x1b[10;20Hy\x1b[K", "xy"},
		{"window title (OSC, BEL)", "\x1b]0;pwned\x07after", "after"},
		{"clipboard write (OSC 52, ST)", "\x1b]52;c;ZWNobyBoaQ==\x1b\\after", "after"},
		{"device control string", "\x1bP+q544e\x1b\\after", "after"},
		{"8-bit CSI byte", "a\x9b31mb", "a\uFFFD31mb"},
		{"C1 CSI as UTF-8", "a\u009b31mb", "a31mb"},
		{"bell, backspace, carriage return, DEL", "ding\x07 over\b\bwrite\r\nend\x7f", "ding overwrite\nend"},
		{"a lone escape", "a\x1b", "a"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	} {
		if got := printable(c.in); got != c.want {
			t.Errorf("%s: printable(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

// TestHeadlessPrintsNoTerminalControlFromCommands: a command's output (a clipboard write, a title,
// colours, a bell) and its failure reach the headless printer — what `cutover serve` prints — as
// text only.
func TestHeadlessPrintsNoTerminalControlFromCommands(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the step runs sh")
	}
	e := startEngine(t, `name: t
steps:
  - id: noisy
    title: Noisy
    kind: command
    with: {argv: [sh, -c, "printf '\\033]52;c;aGk=\\007hello \\033[31mred\\033[0m\\a\\n\\033]0;title\\007second\\r\\n'; echo '\\033[2Jbad' >&2; exit 3"]}
`, clock.Real())
	var out strings.Builder
	if c := RunHeadless(context.Background(), e, HeadlessOptions{Out: &out}); c != ExitFailed {
		t.Fatalf("exit %d\n%s", c, out.String())
	}
	got := out.String()
	for _, want := range []string{"hello red", "second", "bad"} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q:\n%q", want, got)
		}
	}
	for _, r := range got {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			t.Fatalf("a control character %U reached the output:\n%q", r, got)
		}
	}
	// The cockpit keeps the same text.
	d := newData(e.Snapshot())
	d.logs.add(e.Logs(100, ""), 0)
	st, _ := d.step("noisy")
	for i := 0; i < d.logs.len(); i++ {
		if m := d.logs.at(i).Msg; m != printable(m) {
			t.Fatalf("the cockpit keeps a log line with control characters: %q", m)
		}
	}
	for _, l := range append(st.Output, st.LastError, st.Message) {
		if l != printable(l) {
			t.Fatalf("the cockpit keeps step text with control characters: %q", l)
		}
	}
}

package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// TestGoldenViews pins the text of every pane and the confirmation dialog at three terminal
// sizes, on dark and light styles (run `go test ./tui -update` after an intended change).
func TestGoldenViews(t *testing.T) {
	sizes := []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}}
	views := []struct {
		name string
		keys []string
	}{
		{"runbook", []string{"1"}},
		{"replication", []string{"2"}},
		{"validation", []string{"3"}},
		{"logs", []string{"4"}},
		{"confirm", []string{"1", "c"}},
	}
	for _, sz := range sizes {
		for _, theme := range []ThemeChoice{ThemeDark, ThemeLight} {
			for _, v := range views {
				name := fmt.Sprintf("%dx%d/%s/%s", sz.w, sz.h, map[ThemeChoice]string{ThemeDark: "dark", ThemeLight: "light"}[theme], v.name)
				t.Run(name, func(t *testing.T) {
					e := newFixtureEngine(600)
					a := newTestApp(e, sz.w, sz.h, Options{Config: Config{Theme: theme, LogFollow: true}})
					press(a, v.keys...)
					out := a.render()
					checkFrame(t, out, sz.w, sz.h)
					golden.RequireEqual(t, ansi.Strip(out))
				})
			}
		}
	}
}

// checkFrame asserts the frame fills the screen exactly: h lines of w cells.
func checkFrame(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Fatalf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got != w {
			t.Fatalf("line %d is %d cells wide, want %d: %q", i+1, got, w, ansi.Strip(l))
		}
	}
}

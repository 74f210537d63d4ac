package tui

import (
	"context"
	"fmt"
	"image/color"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"cutover/engine"
)

func TestForcedColorProfile(t *testing.T) {
	cases := []struct {
		name    string
		env     []string
		noColor bool
		cfg     Config
		forced  bool
	}{
		{name: "nothing asks", env: []string{"TERM=xterm-256color", "COLORTERM=truecolor"}},
		{name: "NO_COLOR=1", env: []string{"NO_COLOR=1"}, forced: true},
		// no-color.org: any non-empty value, even the ones a boolean parser reads as false.
		{name: "NO_COLOR=0", env: []string{"NO_COLOR=0"}, forced: true},
		{name: "NO_COLOR=false", env: []string{"TERM=xterm", "NO_COLOR=false"}, forced: true},
		{name: "NO_COLOR=yes please", env: []string{"NO_COLOR=yes please"}, forced: true},
		{name: "empty NO_COLOR", env: []string{"NO_COLOR="}},
		{name: "NO_COLOR without a value", env: []string{"NO_COLOR"}},
		{name: "a longer name", env: []string{"MY_NO_COLOR=1", "NO_COLORS=1"}},
		{name: "twice, one empty", env: []string{"NO_COLOR=1", "NO_COLOR="}, forced: true},
		{name: "--no-color", noColor: true, forced: true},
		{name: "config no_color", cfg: Config{NoColor: true}, forced: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, forced := forcedProfile(c.env, c.noColor, c.cfg)
			if forced != c.forced {
				t.Fatalf("forced %v, want %v", forced, c.forced)
			}
			if forced && p != colorprofile.ASCII {
				t.Fatalf("profile %s, want Ascii (no colour, attributes kept)", p)
			}
		})
	}
}

// sgrRE matches SGR sequences (CSI … m); private ones such as CSI > 4;2 m do not match.
var sgrRE = regexp.MustCompile("\x1b\\[([0-9;:]*)m")

// sgrCodes lists the attribute codes of every SGR in out. Colour codes come back as "38", "48"
// or "58" (their arguments are skipped) or as the 16-colour code itself.
func sgrCodes(out string) []string {
	var codes []string
	for _, m := range sgrRE.FindAllStringSubmatch(out, -1) {
		params := strings.Split(m[1], ";")
		for i := 0; i < len(params); i++ {
			code, _, _ := strings.Cut(params[i], ":")
			if code == "" {
				code = "0"
			}
			codes = append(codes, code)
			if (code == "38" || code == "48" || code == "58") && !strings.Contains(params[i], ":") && i+1 < len(params) {
				switch params[i+1] {
				case "5":
					i += 2
				case "2":
					i += 4
				}
			}
		}
	}
	return codes
}

// isColourCode reports whether an SGR code sets a colour (foreground, background or underline).
func isColourCode(code string) bool {
	n, err := strconv.Atoi(code)
	if err != nil {
		return false
	}
	return (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || n == 58 || (n >= 90 && n <= 97) || (n >= 100 && n <= 107)
}

func colourCodes(out string) []string {
	var cs []string
	for _, c := range sgrCodes(out) {
		if isColourCode(c) {
			cs = append(cs, c)
		}
	}
	return cs
}

func TestSGRParsing(t *testing.T) {
	// The helpers the colour tests rest on: 38;2;r;g;b is one colour, not five codes.
	out := "\x1b[1;38;2;30;31;32mx\x1b[7m \x1b[m\x1b[38:5:9my\x1b[>4;2m\x1b[39;49m"
	if got := strings.Join(sgrCodes(out), " "); got != "1 38 7 0 38 39 49" {
		t.Fatalf("codes %q", got)
	}
	if got := strings.Join(colourCodes(out), " "); got != "38 38" {
		t.Fatalf("colours %q", got)
	}
}

// renderThrough runs the cockpit in a Bubble Tea program drawing with profile p, and returns its
// output once the first frame (with the selected step) is on screen.
func renderThrough(t *testing.T, p colorprofile.Profile) string {
	t.Helper()
	e := newFixtureEngine(50)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	app := NewApp(ctx, e, Options{Local: time.UTC, Config: Config{Theme: ThemeDark}})
	tm := teatest.NewTestModel(t, app, teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(tea.WithColorProfile(p)))
	var out []byte
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		out = append(out[:0], b...)
		plain := ansi.Strip(string(b))
		return strings.Contains(plain, "Shut down all AX 2012 AOS") && strings.Contains(plain, "quit")
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	return string(out)
}

// TestNoColorDrawsNoColour: with NO_COLOR (any value), --no-color or the config, the program's
// output has no colour at all, yet keeps the reverse-video selection and the states' glyphs and
// words; a colour terminal does get colours.
func TestNoColorDrawsNoColour(t *testing.T) {
	p, forced := forcedProfile([]string{"TERM=xterm-256color", "NO_COLOR=1"}, false, Config{})
	if !forced {
		t.Fatal("NO_COLOR=1 must force the profile")
	}
	out := renderThrough(t, p)
	if cs := colourCodes(out); len(cs) > 0 {
		t.Fatalf("NO_COLOR output sets colours %v:\n%q", cs, out)
	}
	if !slicesContains(sgrCodes(out), "7") {
		t.Fatalf("the selection must stay in reverse video without colour:\n%q", out)
	}
	plain := ansi.Strip(out)
	for _, want := range []string{"◆ awaiting", "✗ failed", "✓", "▶"} {
		if !strings.Contains(plain, want) {
			t.Errorf("without colour the states still show as glyph and word: %q missing", want)
		}
	}

	colour := renderThrough(t, colorprofile.TrueColor)
	if !slicesContains(colourCodes(colour), "38") {
		t.Fatalf("a true-colour terminal gets colours:\n%q", colour)
	}
	if !hasFg(colour, themeFor(true).Warn) {
		t.Fatalf("the awaiting step is drawn in the dark theme's warning colour:\n%q", colour)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// hasFg reports whether out sets c as the true-colour foreground in some SGR (lipgloss and the
// renderer may put other attributes before or after it).
func hasFg(out string, c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return regexp.MustCompile(fmt.Sprintf("\x1b\\[(?:[0-9;]*;)?38;2;%d;%d;%d[;m]", r>>8, g>>8, b>>8)).MatchString(out)
}

// TestLightAndDarkRenderDifferently: the goldens are ANSI-stripped, so dark and light are the same
// text; the styles under it must differ (each theme's own colours, not the other's).
func TestLightAndDarkRenderDifferently(t *testing.T) {
	render := func(theme ThemeChoice) string {
		a := newTestApp(newFixtureEngine(50), 120, 40, Options{Config: Config{Theme: theme}})
		return a.render()
	}
	dark, light := render(ThemeDark), render(ThemeLight)
	if ansi.Strip(dark) != ansi.Strip(light) {
		t.Fatal("the themes must differ in style only, not in text")
	}
	if dark == light {
		t.Fatal("dark and light render the same styles")
	}
	d, l := themeFor(true), themeFor(false)
	for _, c := range []struct {
		name        string
		dark, light color.Color
	}{{"focus", d.Focus, l.Focus}, {"warn", d.Warn, l.Warn}, {"crit", d.Crit, l.Crit}, {"ok", d.OK, l.OK}} {
		if !hasFg(dark, c.dark) || hasFg(dark, c.light) {
			t.Errorf("dark: %s must use the dark colour only", c.name)
		}
		if !hasFg(light, c.light) || hasFg(light, c.dark) {
			t.Errorf("light: %s must use the light colour only", c.name)
		}
	}
}

// TestThemeFollowsTheTerminal: with theme auto the cockpit asks the terminal for its background,
// starts dark, and a light answer switches it to light (and back); a theme pinned in the config
// ignores the answer and does not ask.
func TestThemeFollowsTheTerminal(t *testing.T) {
	newApp := func(theme ThemeChoice) *App {
		a := NewApp(context.Background(), newFixtureEngine(50), Options{Local: time.UTC, Config: Config{Theme: theme}})
		a.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		return a
	}
	white, black := color.RGBA{0xff, 0xff, 0xff, 0xff}, color.RGBA{0, 0, 0, 0xff}
	focus := func(a *App) (dark, light bool) {
		out := a.render()
		return hasFg(out, themeFor(true).Focus), hasFg(out, themeFor(false).Focus)
	}

	a := newApp(ThemeAuto)
	if !asksBackground(a.Init()) {
		t.Fatal("theme auto asks the terminal for its background")
	}
	if d, l := focus(a); !a.s.styles.Dark || !d || l {
		t.Fatal("without an answer the cockpit is dark")
	}
	// The text inputs (filters, search, dialogs) follow the theme too.
	inputDark := func(a *App) bool {
		in := a.panes[paneReplication].(*replicationPane).input
		return reflect.DeepEqual(in.Styles(), inputStyles(true))
	}
	if !inputDark(a) {
		t.Fatal("the filter input starts in the dark theme")
	}
	a.Update(tea.BackgroundColorMsg{Color: white})
	if d, l := focus(a); a.s.styles.Dark || d || !l || inputDark(a) {
		t.Fatal("a light background switches to the light theme, inputs included")
	}
	a.Update(tea.BackgroundColorMsg{Color: black})
	if d, l := focus(a); !a.s.styles.Dark || !d || l || !inputDark(a) {
		t.Fatal("a dark background switches back")
	}

	for _, pinned := range []ThemeChoice{ThemeDark, ThemeLight} {
		a := newApp(pinned)
		if asksBackground(a.Init()) {
			t.Fatalf("theme %d is pinned: no need to ask", pinned)
		}
		wantDark := pinned == ThemeDark
		for _, bg := range []color.Color{white, black} {
			a.Update(tea.BackgroundColorMsg{Color: bg})
			if d, l := focus(a); a.s.styles.Dark != wantDark || d != wantDark || l == wantDark {
				t.Fatalf("theme %d pinned in the config, background %v: dark %v", pinned, bg, a.s.styles.Dark)
			}
		}
	}
}

// asksBackground reports whether Init's commands include the background colour query. The
// other commands (the engine wait, the clock) block, so they are recognised, not run.
func asksBackground(cmd tea.Cmd) bool {
	want := reflect.ValueOf(tea.RequestBackgroundColor).Pointer()
	if cmd == nil {
		return false
	}
	if reflect.ValueOf(cmd).Pointer() == want {
		return true
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		if batch, ok := msg.(tea.BatchMsg); ok {
			for _, c := range batch {
				if c != nil && reflect.ValueOf(c).Pointer() == want {
					return true
				}
			}
		}
	case <-time.After(2 * time.Second):
	}
	return false
}

// TestSSHNoColor: a session whose client sends NO_COLOR (any non-empty value) or a server whose
// config says no_color draws without colour; other sessions get colours.
func TestSSHNoColor(t *testing.T) {
	e := realEngine(t)
	vic := newTestKey(t)
	team := writeTeam(t, t.TempDir(), map[string]member{"Vic": {vic, engine.RoleViewer}})
	_, addr := startServer(t, e, team)
	_, noColorAddr := startServerWith(t, e, team, func(o *ServerOptions) { o.Config.NoColor = true })
	for _, c := range []struct {
		name   string
		addr   string
		env    map[string]string
		colour bool
	}{
		{"NO_COLOR=1", addr, map[string]string{"NO_COLOR": "1"}, false},
		{"NO_COLOR=0", addr, map[string]string{"NO_COLOR": "0", "COLORTERM": "truecolor"}, false},
		{"config no_color", noColorAddr, map[string]string{"COLORTERM": "truecolor"}, false},
		{"a colour terminal", addr, map[string]string{"COLORTERM": "truecolor"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := openPtyEnv(t, c.addr, vic, 120, 40, c.env)
			p.waitOutput(t, "flow test")
			p.waitOutput(t, "quit") // the footer: the whole first frame is out
			out := p.output()
			if cs := colourCodes(out); (len(cs) > 0) != c.colour {
				t.Fatalf("colour codes %v, want colour %v:\n%q", cs, c.colour, out)
			}
			if !slicesContains(sgrCodes(out), "7") {
				t.Fatal("the active tab is in reverse video, with or without colour")
			}
		})
	}
}

package tui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"go.yaml.in/yaml/v3"

	"cutover/engine"
	"cutover/engine/runbook"
)

// TestFooterAlwaysShowsHelpAndQuit: at every width from 80 columns up, with the pane's keys,
// with a message and with an idle warning, the footer ends with ? help and q quit; the other keys
// give way whole, never cut.
func TestFooterAlwaysShowsHelpAndQuit(t *testing.T) {
	for w := 80; w <= 200; w += 10 {
		a := newTestApp(newFixtureEngine(50), w, 24, Options{})
		check := func(what string) {
			t.Helper()
			f := ansi.Strip(a.footer(w))
			if ansi.StringWidth(f) != w || !strings.HasSuffix(strings.TrimRight(f, " "), "? help  q quit") {
				t.Fatalf("%d columns, %s: the footer must end with ? help and q quit:\n%q", w, what, f)
			}
			if strings.Contains(f, "…") {
				t.Fatalf("%d columns, %s: a key was cut:\n%q", w, what, f)
			}
		}
		for _, p := range []string{"1", "2", "3", "4"} {
			press(a, p)
			check("pane " + p)
		}
		press(a, "1")
		a.setFlash(strings.Repeat("a long message that goes on ", 10), false)
		f := ansi.Strip(a.footer(w))
		if !strings.HasPrefix(f, "a long message") || !strings.HasSuffix(strings.TrimRight(f, " "), "? help  q quit") {
			t.Fatalf("%d columns: a message shortens, help and quit stay:\n%q", w, f)
		}
		a.flash = ""
		a.idleNotice = "no key pressed for 14m: this session closes in 1m — press any key to stay"
		if f := ansi.Strip(a.footer(w)); !strings.HasPrefix(f, "no key pressed") || !strings.HasSuffix(strings.TrimRight(f, " "), "? help  q quit") {
			t.Fatalf("%d columns: the idle warning and help and quit:\n%q", w, f)
		}
	}
	// While a filter takes text, ? and q are text: the footer does not offer them.
	a := newTestApp(newFixtureEngine(50), 80, 24, Options{})
	press(a, "2", "/")
	if f := ansi.Strip(a.footer(80)); strings.Contains(f, "q quit") {
		t.Fatalf("q types into the filter, the footer must not offer it:\n%q", f)
	}
}

// demoSteps are the demo runbook's steps (ids, titles, phases) as the cockpit sees them.
func demoSteps(t *testing.T) []engine.StepView {
	t.Helper()
	src, err := runbook.DemoRunbook(runbook.DemoSettings{})
	if err != nil {
		t.Fatal(err)
	}
	var rb struct {
		Steps []struct{ ID, Title, Phase string }
	}
	if err := yaml.Unmarshal(src, &rb); err != nil {
		t.Fatal(err)
	}
	if len(rb.Steps) < 30 {
		t.Fatalf("the demo runbook has %d steps", len(rb.Steps))
	}
	var out []engine.StepView
	for i, s := range rb.Steps {
		st := engine.StepView{ID: s.ID, Title: s.Title, Phase: s.Phase, Kind: "manual", State: engine.StatePending, Planned: 10 * 60e9}
		if i%3 == 0 {
			st.State = engine.StateSucceeded
		}
		out = append(out, st)
	}
	return out
}

// TestStepIDsAreNeverCut: on the runbook pane at 80, 120 and 200 columns every step id of the
// demo runbook is shown whole (scrolling through the list), and so is an id of the longest length
// a runbook allows; the title gives way.
func TestStepIDsAreNeverCut(t *testing.T) {
	steps := demoSteps(t)
	longest := strings.Repeat("x", runbook.MaxStepID-10) + "-remove-it"
	steps = append(steps, engine.StepView{ID: longest, Title: "A step whose id takes the whole row", Phase: "Long", Kind: "manual", State: engine.StatePending})
	fe := newFixtureEngine(50)
	fe.snap.Steps = steps
	fe.snap.Run.Downtime.PointOfNoReturn = ""
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}} {
		a := newTestApp(fe, sz.w, sz.h, Options{})
		press(a, "1", "g")
		seen := map[string]bool{}
		paneW := sz.w
		if a.wide() {
			paneW = sz.w / 2
		}
		for range len(steps) + 5 {
			for _, l := range strings.Split(screenOf(a), "\n") {
				l = ansi.Cut(l, 0, paneW) // the runbook pane's columns
				for _, s := range steps {
					// A row: "│✓ succeeded ID  title"; not the detail's head "│ID — title".
					if regexp.MustCompile(`^│\S (\S+ +)?` + regexp.QuoteMeta(s.ID) + `[ │]`).MatchString(l) {
						seen[s.ID] = true
					}
				}
			}
			press(a, "down")
		}
		for _, s := range steps {
			if !seen[s.ID] {
				t.Errorf("%dx%d: %q never showed whole on the runbook pane", sz.w, sz.h, s.ID)
			}
		}
		// The rows fit the pane, and the demo's ids line up.
		p := a.panes[paneRunbook].(*runbookPane)
		inner := sz.w - 2
		if a.wide() {
			inner = sz.w/2 - 2
		}
		idW := p.idColumn(inner)
		for _, s := range steps {
			line := ansi.Strip(p.stepLine(s, fixedNow, inner, idW))
			if got := ansi.StringWidth(line); got != inner {
				t.Fatalf("%dx%d: the row of %s is %d cells, want %d", sz.w, sz.h, s.ID, got, inner)
			}
			if !strings.Contains(line, " "+s.ID+" ") && !strings.HasSuffix(line, " "+s.ID) {
				t.Fatalf("%dx%d: the id is cut: %q", sz.w, sz.h, line)
			}
		}
	}
}

// TestConfirmDialogScrollsEveryUser: the AOS stop's dialog carries all 59 users still connected;
// at 80x24, 120x40 and 200x60 it fits the screen, scrolls through every one of them with the
// arrows and the page keys, says where it is ("users still connected 56–59 of 59"), and the
// scrolling keys never reach the phrase while letters always do.
func TestConfirmDialogScrollsEveryUser(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}} {
		e := newFixtureEngine(50)
		a := newTestApp(e, sz.w, sz.h, Options{})
		press(a, "1", "c")
		o, ok := a.overlay.(*confirmOverlay)
		if !ok {
			t.Fatalf("no dialog: %T", a.overlay)
		}
		seen := map[string]bool{}
		look := func() string {
			out := screenOf(a)
			checkFrame(t, a.render(), sz.w, sz.h)
			for _, u := range fixtureUsers.Items {
				if strings.Contains(out, u) {
					seen[u] = true
				}
			}
			return out
		}
		look()
		for range 30 {
			press(a, "pgdown")
			look()
		}
		for _, u := range fixtureUsers.Items {
			if !seen[u] {
				t.Fatalf("%dx%d: %q was never shown", sz.w, sz.h, u)
			}
		}
		if out := look(); !strings.Contains(out, "users still connected ") || !strings.Contains(out, "–59 of 59") {
			t.Fatalf("%dx%d: at the end the dialog says where it is:\n%s", sz.w, sz.h, out)
		}
		press(a, "up")
		if out := look(); !strings.Contains(out, "–58 of 59") {
			t.Fatalf("%dx%d: up moves a line:\n%s", sz.w, sz.h, out)
		}
		for range 30 {
			press(a, "pgup")
		}
		if out := look(); !strings.Contains(out, "stop AOS60$01 on AX-AOS01") {
			t.Fatalf("%dx%d: back at the top:\n%s", sz.w, sz.h, out)
		}
		// Letters are the phrase's, whatever a list-minded operator types (j, k, g, G).
		typeText(a, "jkgG")
		if v := o.input.Value(); v != "jkgG" {
			t.Fatalf("%dx%d: the phrase got %q", sz.w, sz.h, v)
		}
		for range 4 {
			press(a, "backspace")
		}
		typeText(a, "STOP AOS")
		press(a, "down", "pgdown", "up", "pgup")
		if v := o.input.Value(); v != "STOP AOS" {
			t.Fatalf("%dx%d: scrolling changed the phrase: %q", sz.w, sz.h, v)
		}
		press(a, "tab", "enter")
		if got := e.called(); len(got) != 1 || got[0] != `confirm aos-stop ana "STOP AOS"` {
			t.Fatalf("%dx%d: engine calls %q", sz.w, sz.h, got)
		}
	}
}

// TestDialogsScrollWithAPosition: help, who, the palette and an action's dialog scroll a body
// longer than an 80x24 screen with ↑/↓ and pgup/pgdn, say where they are, fit the screen, and
// leave letters to what they are for (the help's filter, the palette's line, the reason).
func TestDialogsScrollWithAPosition(t *testing.T) {
	fits := func(a *App) string {
		t.Helper()
		checkFrame(t, a.render(), 80, 24)
		return screenOf(a)
	}
	// Help: the runbook's keys and the global ones are more than fit.
	a := newTestApp(newFixtureEngine(50), 80, 24, Options{})
	press(a, "1", "?")
	if out := fits(a); !regexp.MustCompile(`lines 1–\d+ of \d+`).MatchString(out) {
		t.Fatalf("help says where it is:\n%s", out)
	}
	press(a, "pgdown", "pgdown", "pgdown")
	if out := fits(a); !strings.Contains(out, "quit") || regexp.MustCompile(`lines 1–`).MatchString(out) {
		t.Fatalf("pgdown reaches the end of the keys:\n%s", out)
	}
	typeText(a, "j")
	if o := a.overlay.(*helpOverlay); o.filter != "j" {
		t.Fatalf("a letter filters the help: %q", o.filter)
	}
	press(a, "esc", "esc")

	// Who: thirty people watching.
	var many []Presence
	for i := range 30 {
		many = append(many, Presence{Actor: engine.Actor{Name: fmt.Sprintf("viewer%02d", i+1), Role: engine.RoleViewer, Origin: "ssh"}, Since: fixedNow})
	}
	a = newTestApp(newFixtureEngine(50), 80, 24, Options{Watchers: func() []Presence { return many }})
	a.Update(openWhoMsg{})
	if out := fits(a); !strings.Contains(out, "30 watching · lines 1–") || strings.Contains(out, "viewer30") {
		t.Fatalf("who says where it is:\n%s", out)
	}
	for range 5 {
		press(a, "pgdown")
	}
	if out := fits(a); !strings.Contains(out, "viewer30") || !strings.Contains(out, "of 30") {
		t.Fatalf("who scrolls to the end:\n%s", out)
	}
	press(a, "up")
	if a.overlay == nil {
		t.Fatal("an arrow scrolls, it does not close")
	}
	press(a, "x")
	if a.overlay != nil {
		t.Fatal("any other key closes")
	}

	// The palette: `run ` offers every step of the demo runbook; ↓ chooses, tab completes it.
	fe := newFixtureEngine(50)
	fe.snap.Steps = demoSteps(t)
	a = newTestApp(fe, 80, 24, Options{})
	press(a, ":")
	typeText(a, "run ")
	n := len(fe.snap.Steps)
	if out := fits(a); !strings.Contains(out, fmt.Sprintf("of %d", n)) {
		t.Fatalf("the palette says where it is:\n%s", out)
	}
	for range 20 {
		press(a, "down")
	}
	want := fe.snap.Steps[20].ID
	if out := fits(a); !strings.Contains(out, "run "+want) {
		t.Fatalf("the chosen suggestion is in the window:\n%s", out)
	}
	press(a, "tab")
	if v := a.overlay.(*paletteOverlay).input.Value(); v != "run "+want+" " {
		t.Fatalf("tab completes the chosen suggestion: %q", v)
	}

	// An action's dialog with a last error longer than the screen.
	e := newFixtureEngine(50)
	i := slices.IndexFunc(e.snap.Steps, func(s engine.StepView) bool { return s.ID == "toolkit-nopk" })
	e.snap.Steps[i].LastError = strings.Repeat("DataMigrationTool.exe said something long; ", 30) + "THE END"
	a = newTestApp(e, 80, 24, Options{})
	selectStep(a, "toolkit-nopk")
	press(a, "s")
	if out := fits(a); !regexp.MustCompile(`lines 1–\d+ of \d+`).MatchString(out) || strings.Contains(out, "THE END") || !strings.Contains(out, "[ Skip ]") {
		t.Fatalf("the dialog keeps its buttons and scrolls its words:\n%s", out)
	}
	for range 20 {
		press(a, "pgdown")
	}
	if out := fits(a); !strings.Contains(out, "THE END") {
		t.Fatalf("pgdown reaches the end of the error:\n%s", out)
	}
	typeText(a, "jk")
	if v := a.overlay.(*actionOverlay).reason.Value(); v != "jk" {
		t.Fatalf("letters are the reason's: %q", v)
	}
}

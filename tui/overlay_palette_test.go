package tui

import (
	"slices"
	"strings"
	"testing"

	"cutover/engine"
)

// palette types a command into the palette and runs it with enter.
func palette(a *App, line string) {
	press(a, ":")
	typeText(a, line)
	press(a, "enter")
}

// paletteError is the palette's error line, or "" when the palette closed.
func paletteError(a *App) string {
	if o, ok := a.overlay.(*paletteOverlay); ok {
		return o.err
	}
	return ""
}

func TestPaletteRunStep(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{})
	setState := func(id string, s engine.StepState) {
		i := a.d.index[id]
		a.d.snap.Steps[i].State = s
	}

	// Tab after the full name keeps `run`, then completes the step.
	press(a, ":")
	typeText(a, "run")
	press(a, "tab")
	typeText(a, "tool")
	press(a, "tab")
	if v := a.overlay.(*paletteOverlay).input.Value(); v != "run toolkit-nopk " {
		t.Fatalf("completion %q", v)
	}
	press(a, "enter")
	// A failed step runs again: the retry dialog, then the engine's Retry, by this operator.
	if o, ok := a.overlay.(*actionOverlay); !ok || o.action != actionRetry || o.step != "toolkit-nopk" || len(e.called()) != 0 {
		t.Fatalf("run on a failed step: %T, calls %q", a.overlay, e.called())
	}
	press(a, "tab", "enter")
	if got := e.called(); !slices.Equal(got, []string{"retry toolkit-nopk"}) {
		t.Fatalf("engine calls %q", got)
	}
	if a.overlay != nil || a.flash != "retry of toolkit-nopk requested" {
		t.Fatalf("overlay %T, flash %q", a.overlay, a.flash)
	}
	// A retrying step starts its next attempt now: Retry as well.
	setState("toolkit-nopk", engine.StateRetrying)
	palette(a, "run toolkit-nopk")
	press(a, "tab", "enter")
	if got := e.called(); !slices.Equal(got, []string{"retry toolkit-nopk", "retry toolkit-nopk"}) {
		t.Fatalf("engine calls %q", got)
	}
	// A step awaiting its confirmation opens the dialog (the phrase is still required).
	palette(a, "run aos-stop")
	if o, ok := a.overlay.(*confirmOverlay); !ok || o.step != "aos-stop" {
		t.Fatalf("run on an awaiting step opens its confirmation, got %T", a.overlay)
	}
	press(a, "esc")

	// The states where nothing can be forced say why, and send nothing.
	setState("validate-counts", engine.StateReady)
	for _, c := range []struct{ line, want string }{
		{"run", "usage: run STEP"},
		{"run nosuch", `no step "nosuch"`},
		{"run stop-integrations", "stop-integrations is already running"},
		{"run preflight", "preflight has succeeded: there is nothing to run"},
		{"run replication-drain", "replication-drain waits for aos-stop; it starts when they are done"},
		{"run validate-counts", "validate-counts is ready: the engine starts it on its own"},
	} {
		palette(a, c.line)
		if got := paletteError(a); got != c.want && !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want %q", c.line, got, c.want)
		}
		press(a, "esc")
	}
	a.d.snap.Run.Paused = true
	palette(a, "run validate-counts")
	if got := paletteError(a); !strings.Contains(got, "the run is paused: resume the run") {
		t.Errorf("a ready step in a paused run: %q", got)
	}
	press(a, "esc")
	if got := e.called(); len(got) != 2 {
		t.Fatalf("refused runs reached the engine: %q", got)
	}

	// Read-only: not offered, and refused with the reason.
	ro := newTestApp(e, 120, 40, Options{ReadOnly: true})
	press(ro, ":")
	typeText(ro, "ru")
	if s := ro.overlay.(*paletteOverlay).suggestions(); slices.Contains(s, "run") || !slices.Contains(s, "runbook") {
		t.Fatalf("read-only suggestions %q", s)
	}
	press(ro, "esc")
	palette(ro, "run toolkit-nopk")
	if got := paletteError(ro); got != "run changes the run: this session is read-only" {
		t.Fatalf("read-only run: %q", got)
	}
	if got := e.called(); len(got) != 2 {
		t.Fatalf("a read-only run reached the engine: %q", got)
	}
	// The poll intervals are everyone's: a viewer is refused, not told they were set.
	press(ro, "esc")
	palette(ro, "interval 1h 2h")
	if got := paletteError(ro); got != "interval changes the run: this session is read-only" || strings.Contains(ro.flash, "poll interval set") {
		t.Fatalf("read-only interval: %q, flash %q", got, ro.flash)
	}
}

// TestRefreshAsksTheEngine: `:refresh` and the r key really make the engine poll now; a
// read-only session may too (it changes nothing in the run).
func TestRefreshAsksTheEngine(t *testing.T) {
	for _, opt := range []Options{{}, {ReadOnly: true}} {
		e := newFixtureEngine(50)
		a := newTestApp(e, 120, 40, opt)
		palette(a, "refresh")
		if got := e.called(); !slices.Equal(got, []string{"refresh"}) {
			t.Fatalf("read-only %v: engine calls after :refresh %q", opt.ReadOnly, got)
		}
		if a.overlay != nil || a.flash != "refresh requested" {
			t.Fatalf("overlay %T, flash %q", a.overlay, a.flash)
		}
		press(a, "r")
		if got := e.called(); !slices.Equal(got, []string{"refresh", "refresh"}) {
			t.Fatalf("read-only %v: engine calls after r %q", opt.ReadOnly, got)
		}
	}
}

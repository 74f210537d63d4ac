package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
)

// selectStep puts the runbook pane's selection on a step, as the arrows would.
func selectStep(a *App, id string) { a.panes[paneRunbook].(*runbookPane).sel = id }

// selectedStep is the runbook pane's selected step id.
func selectedStep(a *App) string {
	st, _ := a.panes[paneRunbook].(*runbookPane).selected()
	return st.ID
}

// TestEveryKeyThatChangesTheRunOpensADialog: no-go, done, skip, retry, abort, pause and resume
// each open a dialog that names the step (id and title); nothing reaches the engine until the
// operator tabs to the action's button and presses enter — typed text and enter alone never send.
func TestEveryKeyThatChangesTheRunOpensADialog(t *testing.T) {
	for _, c := range []struct {
		key, step string
		action    promptAction
		paused    bool
		title     string
		phrase    string
	}{
		{"n", "aos-stop", actionDecline, false, "Shut down all AX 2012 AOS instances", ""},
		{"d", "toolkit-nopk", actionDone, false, "Toolkit: Cutover: Setup Publication for Non PK Tables", ""},
		{"s", "toolkit-nopk", actionSkip, false, "Toolkit: Cutover: Setup Publication for Non PK Tables", ""},
		{"s", "aos-stop", actionSkip, false, "Shut down all AX 2012 AOS instances", "SKIP aos-stop"},
		{"d", "aos-stop", actionDone, false, "Shut down all AX 2012 AOS instances", "DONE aos-stop"},
		{"t", "toolkit-nopk", actionRetry, false, "Toolkit: Cutover: Setup Publication for Non PK Tables", ""},
		{"x", "stop-integrations", actionAbort, false, "Stop integrations", ""},
		{"p", "", actionPause, false, "Pause the run", ""},
		{"p", "", actionResume, true, "Resume the run", ""},
	} {
		t.Run(c.key+" "+c.step, func(t *testing.T) {
			e := newFixtureEngine(50)
			e.snap.Run.Paused = c.paused
			a := newTestApp(e, 120, 40, Options{})
			if c.step != "" {
				selectStep(a, c.step)
			}
			press(a, c.key)
			o, ok := a.overlay.(*actionOverlay)
			if !ok || o.action != c.action || o.step != c.step {
				t.Fatalf("%s opened %T (%+v)", c.key, a.overlay, a.overlay)
			}
			out := screenOf(a)
			if !strings.Contains(out, c.title) || (c.step != "" && !strings.Contains(out, c.step)) {
				t.Fatalf("the dialog does not name the step:\n%s", out)
			}
			if c.phrase != "" && (!strings.Contains(out, "type "+c.phrase+" to approve") || !strings.Contains(out, "guarded step")) {
				t.Fatalf("the dialog of a guarded step asks for %q:\n%s", c.phrase, out)
			}
			typeText(a, "all good sir")
			press(a, "enter", "enter")
			if len(e.called()) != 0 {
				t.Fatalf("typed text and enter sent %q", e.called())
			}
			if a.overlay != nil { // a dialog without fields: enter pressed [ Cancel ]
				press(a, "esc")
			}
			if a.overlay != nil || len(e.called()) != 0 {
				t.Fatalf("esc: overlay %T, calls %q", a.overlay, e.called())
			}
		})
	}
	// A read-only session opens none of them.
	e := newFixtureEngine(50)
	ro := newTestApp(e, 120, 40, Options{ReadOnly: true})
	selectStep(ro, "toolkit-nopk")
	for _, k := range []string{"n", "d", "s", "t", "x", "p"} {
		press(ro, k)
		if ro.overlay != nil {
			t.Fatalf("%s opened a dialog in a read-only session", k)
		}
	}
	ro.Update(openActionMsg{action: actionSkip, step: "toolkit-nopk"})
	if ro.overlay != nil || len(e.called()) != 0 {
		t.Fatal("a read-only session opened a dialog")
	}
}

// TestGuardedSkipNeedsThePhraseInTheDialog: the skip of a guarded step sends nothing without the
// phrase; the engine's refusal of a wrong one is shown in the dialog, which stays open.
func TestGuardedSkipNeedsThePhraseInTheDialog(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{})
	selectStep(a, "aos-stop")
	press(a, "s")
	typeText(a, "the AOS is already down")
	press(a, "tab", "tab", "tab", "enter") // the phrase field left empty, [ Cancel ], [ Skip ]
	if a.overlay == nil || len(e.called()) != 0 || !strings.Contains(screenOf(a), `type "SKIP aos-stop" first`) {
		t.Fatalf("sent without the phrase: %q\n%s", e.called(), screenOf(a))
	}
	// The focus went to the phrase: typed, then tab, tab, enter sends it.
	typeText(a, "SKIP aos-stop")
	press(a, "tab", "tab", "enter")
	if got := e.called(); !slices.Equal(got, []string{"skip aos-stop the AOS is already down"}) || a.overlay != nil {
		t.Fatalf("calls %q, overlay %T", got, a.overlay)
	}
}

// guardEngine runs a real engine whose final go/no-go gate an operator declined.
func guardEngine(t *testing.T) (*engine.Engine, engine.Actor) {
	t.Helper()
	e := startEngine(t, `name: t
environment: PROD
steps:
  - {id: business-signoff, title: Business sign-off (final go/no-go), kind: gate}
  - {id: reopen, title: Reopen to users, kind: manual, after: business-signoff}
`, clock.Real())
	ana := engine.Actor{Name: "ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	st := waitEngine(t, e, "business-signoff", func(s engine.StepView) bool { return s.State == engine.StateAwaiting })
	if err := e.Decline("business-signoff", st.Confirmation.Request, ana, "business not signed off yet"); err != nil {
		t.Fatal(err)
	}
	waitEngine(t, e, "business-signoff", func(s engine.StepView) bool { return s.State == engine.StateFailed })
	return e, ana
}

// waitEngine waits for the engine's events until a step satisfies ok.
func waitEngine(t *testing.T, e *engine.Engine, id string, ok func(engine.StepView) bool) engine.StepView {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snap, events := e.Subscribe(ctx)
	if st, _ := snap.Step(id); ok(st) {
		return st
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if sc, isStep := ev.(engine.StepChanged); isStep && sc.Step.ID == id && ok(sc.Step) {
				return sc.Step
			}
		case <-deadline:
			st, _ := e.Snapshot().Step(id)
			t.Fatalf("%s never got there: %s", id, st.State)
		}
	}
}

// counted lists the journal records that make a step count as done or skipped, or open or
// approve an override of one.
func counted(t *testing.T, e *engine.Engine) []string {
	t.Helper()
	recs, _, err := journal.ReadAll(e.StateDir() + "/" + journal.FileName)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		switch engine.RecordType(r.Type) {
		case engine.RecSkipped, engine.RecDoneByHand, engine.RecSucceeded, engine.RecOverrideRequested, engine.RecOverrideApproved, engine.RecRetry:
			out = append(out, r.Type+" "+r.Step)
		}
	}
	return out
}

// TestRetryThenTypingNeverSkipsTheGate is the scenario: t on the failed final go/no-go,
// then "business signed off" typed. The retry dialog takes every key, so no s reaches Skip and
// nothing is skipped; enter presses Cancel. After a real retry the gate asks again, and the same
// text typed fast as the dialog closes opens nothing at first (the type-ahead guard); what the
// later s opens sends nothing on enter, and the engine would refuse a skip without the phrase.
func TestRetryThenTypingNeverSkipsTheGate(t *testing.T) {
	e, ana := guardEngine(t)
	a := newTestApp(e, 120, 40, Options{Actor: ana})
	if got := selectedStep(a); got != "business-signoff" {
		t.Fatalf("selected %s", got)
	}
	press(a, "t")
	typeText(a, "business signed off")
	if o, ok := a.overlay.(*actionOverlay); !ok || o.action != actionRetry {
		t.Fatalf("after t and typing: %T %+v", a.overlay, a.overlay)
	}
	press(a, "enter")
	if a.overlay != nil {
		t.Fatalf("enter on [ Cancel ] must close: %T", a.overlay)
	}
	if st, _ := e.Snapshot().Step("business-signoff"); st.State != engine.StateFailed {
		t.Fatalf("the gate is %s", st.State)
	}
	if got := counted(t, e); len(got) != 0 {
		t.Fatalf("journaled %q", got)
	}

	// Now retry for real: the gate asks for its go again; the operator types on at once.
	press(a, "t", "tab", "enter")
	st := waitEngine(t, e, "business-signoff", func(s engine.StepView) bool { return s.State == engine.StateAwaiting })
	a.d.setSnapshot(e.Snapshot())
	clockOf(a).gap = 30 * time.Millisecond
	typeText(a, "business signed off")
	if !strings.Contains(a.flash, "typed as a dialog closed") {
		t.Fatalf("the keys typed as the dialog closed must be ignored, flash %q", a.flash)
	}
	press(a, "enter")
	if o, ok := a.overlay.(*actionOverlay); ok {
		// What a later key opened holds the rest of the text; tab to its button and enter: refused.
		press(a, "tab", "tab", "tab", "enter")
		if ok && a.overlay == nil {
			t.Fatalf("the %v dialog sent without its phrase", o.action)
		}
	}
	if got := counted(t, e); !slices.Equal(got, []string{"step.retry business-signoff"}) {
		t.Fatalf("journaled %q", got)
	}
	if now, _ := e.Snapshot().Step("business-signoff"); now.State != engine.StateAwaiting || now.Confirmation.Request != st.Confirmation.Request {
		t.Fatalf("the gate is %s", now.State)
	}
}

// TestTypeAheadGuard: a key that changes the run pressed right after a dialog closed on the
// engine's answer was typed ahead for the dialog and is ignored, with a word; moving is not; after
// the guard it works. A dialog the operator closes with a key starts no guard.
func TestTypeAheadGuard(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{})
	selectStep(a, "toolkit-nopk")
	press(a, "s")
	typeText(a, "fixed by hand")
	clockOf(a).gap = 100 * time.Millisecond
	press(a, "tab", "tab", "enter", "d") // the answer closes the dialog; d follows at once
	if a.overlay != nil || !strings.Contains(a.flash, `ignored "d"`) {
		t.Fatalf("d right after the dialog closed: %T, flash %q", a.overlay, a.flash)
	}
	press(a, ":")
	if a.overlay != nil {
		t.Fatal("the palette opened from a key typed as the dialog closed")
	}
	press(a, "k")
	if got := selectedStep(a); got != "replication-drain" {
		t.Fatalf("moving is not guarded: selected %s", got)
	}
	clockOf(a).gap = typeAheadGuard
	press(a, "d")
	if o, ok := a.overlay.(*actionOverlay); !ok || o.action != actionDone || o.step != "replication-drain" {
		t.Fatalf("d after the guard: %T", a.overlay)
	}
	press(a, "esc")
	// A key without text ends the guard at once: the operator is steering, not typing.
	selectStep(a, "toolkit-nopk")
	press(a, "s")
	typeText(a, "again")
	clockOf(a).gap = time.Millisecond
	press(a, "tab", "tab", "enter", "up", "s")
	if o, ok := a.overlay.(*actionOverlay); !ok || o.action != actionSkip || o.step != "replication-drain" {
		t.Fatalf("s after an arrow: %T", a.overlay)
	}
	press(a, "esc")
	// Closed with esc, by the operator: the next key is theirs.
	clockOf(a).gap = time.Millisecond
	press(a, "esc", "s")
	if o, ok := a.overlay.(*actionOverlay); !ok || o.action != actionSkip {
		t.Fatalf("s right after esc: %T, flash %q", a.overlay, a.flash)
	}
	if got := e.called(); !slices.Equal(got, []string{"skip toolkit-nopk fixed by hand", "skip toolkit-nopk again"}) {
		t.Fatalf("calls %q", got)
	}
}

// TestConfirmDialogNeverClosesUnderTypedKeys: when the request is answered by someone else while
// an operator types its phrase, or taking the step's hold fails, the dialog says so and stays
// open; the rest of the phrase goes nowhere, and esc closes it.
func TestConfirmDialogNeverClosesUnderTypedKeys(t *testing.T) {
	e := newFixtureEngine(50)
	a := newTestApp(e, 120, 40, Options{})
	press(a, "c")
	typeText(a, "STOP")
	// Another operator's confirmation satisfies the request: the step runs.
	st, _ := a.d.step("aos-stop")
	st.State, st.Confirmation = engine.StateRunning, nil
	a.Update(eventMsg{engine.StepChanged{Seq: 200, Step: st}})
	typeText(a, " aos stop skip nogo")
	if _, ok := a.overlay.(*confirmOverlay); !ok {
		t.Fatalf("the dialog closed under typed keys: %T", a.overlay)
	}
	if out := screenOf(a); !strings.Contains(out, "no longer open") || !strings.Contains(out, "esc or enter to close") {
		t.Fatalf("the dialog must say the request is gone:\n%s", out)
	}
	press(a, "esc")
	if a.overlay != nil || len(e.called()) != 0 {
		t.Fatalf("overlay %T, calls %q", a.overlay, e.called())
	}

	// Taking the hold fails (another operator took it meanwhile): the dialog stays and says so.
	b := newTestApp(newFixtureEngine(50), 120, 40, Options{})
	press(b, "c")
	b.Update(holdDoneMsg{step: "aos-stop", err: errors.New("step aos-stop: another operator is confirming this step: ben")})
	typeText(b, "STOP AOS s")
	if o, ok := b.overlay.(*confirmOverlay); !ok || !strings.Contains(screenOf(b), "ben") || o.input.Value() != "STOP AOS s" {
		t.Fatalf("after a failed hold: %T\n%s", b.overlay, screenOf(b))
	}
}

// TestTheSelectionNeverMovesByItself: after an action on the selected step (the current one,
// never picked by hand) the run moves on, and the selection stays on that step; the next key
// acts on it (here: d on a done step does nothing), never on the step the run moved to.
func TestTheSelectionNeverMovesByItself(t *testing.T) {
	e := newFixtureEngine(50)
	i := slices.IndexFunc(e.snap.Steps, func(s engine.StepView) bool { return s.ID == "aos-stop" })
	e.snap.Steps[i].State, e.snap.Steps[i].Confirmation = engine.StatePending, nil
	a := newTestApp(e, 120, 40, Options{})
	if got := selectedStep(a); got != "toolkit-nopk" {
		t.Fatalf("the first selection is the current step (the failure): %s", got)
	}
	press(a, "d")
	typeText(a, "ran it in the toolkit")
	press(a, "tab", "tab", "enter")
	// The engine says: done, and the AOS shutdown now waits for its confirmation.
	tk, _ := a.d.step("toolkit-nopk")
	tk.State, tk.ByHand = engine.StateSucceeded, true
	a.Update(eventMsg{engine.StepChanged{Seq: 101, Step: tk}})
	aos := e.snap.Steps[i]
	aos.State, aos.Confirmation = engine.StateAwaiting, &engine.ConfirmationView{Request: 102, Phrase: "STOP AOS", Needed: 1}
	a.Update(eventMsg{engine.StepChanged{Seq: 102, Step: aos}})
	if got := selectedStep(a); got != "toolkit-nopk" {
		t.Fatalf("the selection moved by itself to %s", got)
	}
	press(a, "d")
	if a.overlay != nil {
		t.Fatalf("d opened %T on the step the run moved to", a.overlay)
	}
	if got := e.called(); !slices.Equal(got, []string{"done toolkit-nopk ran it in the toolkit"}) {
		t.Fatalf("calls %q", got)
	}
	// esc goes to the step that needs someone, when the operator asks.
	press(a, "esc")
	if got := selectedStep(a); got != "aos-stop" {
		t.Fatalf("esc selected %s", got)
	}
}

// TestAGuardedStepsDialogShowsTheOpenRequestAndFits: the dialog of a guarded step with a request
// open shows who asked, why and who approved, offers to withdraw it, and keeps its fields and
// buttons on the screen at every size.
func TestAGuardedStepsDialogShowsTheOpenRequestAndFits(t *testing.T) {
	ben := engine.Actor{Name: "ben", Origin: "ssh 10.0.0.7", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 60}, {60, 18}} {
		e := newFixtureEngine(50)
		i := slices.IndexFunc(e.snap.Steps, func(s engine.StepView) bool { return s.ID == "production-refresh" })
		e.snap.Steps[i].LastError = strings.Repeat("the refresh of production ended Failed; ", 6)
		e.snap.Steps[i].Override = &engine.OverrideView{Request: 120, Action: engine.OverrideSkip, By: ben, Reason: "refreshed in the portal by hand",
			Since: fixedNow, Phrase: "SKIP production-refresh", Needed: 2, Approvals: []engine.Approval{{Actor: ben, At: fixedNow}}}
		a := newTestApp(e, sz[0], sz[1], Options{})
		selectStep(a, "production-refresh")
		if sz[1] >= 40 && !strings.Contains(screenOf(a), "ben asks to skip it") {
			t.Fatalf("%v: the detail shows the open request:\n%s", sz, screenOf(a))
		}
		press(a, "s")
		out := a.render()
		checkFrame(t, out, sz[0], sz[1])
		text := ansi.Strip(out)
		for _, want := range []string{"[ Skip ]", "[ Withdraw", "note (optional", "SKIP production-refresh", "ben asked at"} {
			if !strings.Contains(text, want) {
				t.Fatalf("%v: the dialog lacks %q:\n%s", sz, want, text)
			}
		}
		// Approving needs no reason (it is ben's), only the phrase; withdrawing needs neither.
		typeText(a, "checked")
		press(a, "tab")
		typeText(a, "SKIP production-refresh")
		press(a, "tab", "tab", "enter")
		if got := e.called(); !slices.Equal(got, []string{"skip production-refresh checked"}) {
			t.Fatalf("calls %q", got)
		}
		press(a, "s", "tab", "tab", "tab", "tab", "enter")
		if got := e.called(); len(got) != 2 || got[1] != "withdraw production-refresh " {
			t.Fatalf("calls %q", got)
		}
	}
}

// TestTwoOperatorsSkipAGuardedStepFromTheirSessions: a step that needs two operators is skipped
// through the dialog only when a second operator, in their own session, types the phrase too;
// the first one again is refused in the dialog, which stays open.
func TestTwoOperatorsSkipAGuardedStepFromTheirSessions(t *testing.T) {
	e := startEngine(t, `name: t
steps:
  - {id: ponr, title: Point of no return, kind: gate, approvals: 2}
`, clock.Real())
	waitEngine(t, e, "ponr", func(s engine.StepView) bool { return s.State == engine.StateAwaiting })
	ana := newTestApp(e, 120, 40, Options{Actor: engine.Actor{Name: "ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}})
	ben := newTestApp(e, 120, 40, Options{Actor: engine.Actor{Name: "ben", Origin: "ssh 10.0.0.7", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}})
	press(ana, "s")
	typeText(ana, "rolled back to AX: no go-live tonight")
	press(ana, "tab")
	typeText(ana, "SKIP ponr")
	press(ana, "tab", "tab", "enter")
	if ana.overlay != nil || !strings.Contains(ana.flash, "your approval is 1 of 2") {
		t.Fatalf("ana: %T, flash %q", ana.overlay, ana.flash)
	}
	if st, _ := e.Snapshot().Step("ponr"); st.State != engine.StateAwaiting || st.Override == nil {
		t.Fatalf("after one operator: %s %+v", st.State, st.Override)
	}
	// Ana once more: refused, shown in the dialog.
	ana.d.setSnapshot(e.Snapshot())
	press(ana, "s")
	press(ana, "tab")
	typeText(ana, "SKIP ponr")
	press(ana, "tab", "tab", "enter")
	if _, ok := ana.overlay.(*actionOverlay); !ok || !strings.Contains(screenOf(ana), "already") {
		t.Fatalf("ana twice: %T\n%s", ana.overlay, screenOf(ana))
	}
	press(ana, "esc")
	// Ben sees the request and approves it.
	ben.d.setSnapshot(e.Snapshot())
	if !strings.Contains(screenOf(ben), "ana asks to skip it (rolled back to AX: no go-live tonight), 1 of 2 approved") {
		t.Fatalf("ben's detail:\n%s", screenOf(ben))
	}
	press(ben, "s")
	press(ben, "tab")
	typeText(ben, "SKIP ponr")
	press(ben, "tab", "tab", "enter")
	if ben.overlay != nil || !strings.Contains(ben.flash, "ponr skipped") {
		t.Fatalf("ben: %T, flash %q", ben.overlay, ben.flash)
	}
	st := waitEngine(t, e, "ponr", func(s engine.StepView) bool { return s.State == engine.StateSkipped })
	if len(st.OverriddenBy) != 2 || st.OverriddenBy[0].Actor.Name != "ana" || st.OverriddenBy[1].Actor.Name != "ben" || st.By.Name != "ana" {
		t.Fatalf("skipped by %v, approved by %+v", st.By, st.OverriddenBy)
	}
}

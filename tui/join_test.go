package tui

import (
	"context"
	"io"
	"strings"
	"testing"

	"cutover/engine"
	"cutover/engine/clock"
)

// TestConfirmDialogSaysHowASecondOperatorJoins: while a step waits for more approvals than one
// person can give, its dialog shows who has approved so far and how another operator joins: the
// cockpit's join command when it is served over SSH, else how to serve it. A step one operator
// confirms says nothing of the kind.
func TestConfirmDialogSaysHowASecondOperatorJoins(t *testing.T) {
	e := startEngine(t, `name: t
steps:
  - {id: go, title: Go, kind: gate}
  - {id: ponr, title: Point of no return, kind: gate, approvals: 2, after: go}
`, clock.Real())
	const join = "ssh -i /demo/keys/ben -p 40022 127.0.0.1"
	waitEngine(t, e, "go", func(s engine.StepView) bool { return s.State == engine.StateAwaiting })
	ana := newTestApp(e, 120, 40, Options{Actor: engine.Actor{Name: "ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}, Join: join})
	press(ana, "c")
	if s := screenOf(ana); !strings.Contains(s, "approvals: 0 of 1") || strings.Contains(s, "joins this cockpit") || strings.Contains(s, "not served over SSH") {
		t.Fatalf("a one-operator step's dialog:\n%s", s)
	}
	typeText(ana, "go")
	press(ana, "tab", "enter")
	waitEngine(t, e, "ponr", func(s engine.StepView) bool { return s.State == engine.StateAwaiting })
	ana.d.setSnapshot(e.Snapshot())
	selectStep(ana, "ponr")
	press(ana, "c")
	s := screenOf(ana)
	for _, want := range []string{"approvals: 0 of 2", "another operator joins this cockpit from their own terminal with:", join} {
		if !strings.Contains(s, want) {
			t.Fatalf("ana's dialog lacks %q:\n%s", want, s)
		}
	}
	typeText(ana, "ponr")
	press(ana, "tab", "enter")
	if ana.overlay != nil || !strings.Contains(ana.flash, "your approval is 1 of 2; another operator must confirm from their own session") {
		t.Fatalf("after ana's approval: %T, flash %q", ana.overlay, ana.flash)
	}
	// Ben, in a cockpit not served over SSH (a local one), sees Ana's approval and how to serve it.
	ben := newTestApp(e, 120, 40, Options{Actor: engine.Actor{Name: "ben", Origin: "local terminal on jump01", User: "ben", UID: "1002", Host: "jump01", Role: engine.RoleOperator}})
	selectStep(ben, "ponr")
	press(ben, "c")
	s = screenOf(ben)
	for _, want := range []string{"approvals: 1 of 2 — ana (ssh 10.0.0.5) at", "not served over SSH: start `cutover run --listen ADDR` (or `cutover serve`)"} {
		if !strings.Contains(s, want) {
			t.Fatalf("ben's dialog lacks %q:\n%s", want, s)
		}
	}
}

// TestHeadlessSaysHowASecondOperatorJoins: the headless printer, asking for a step that needs two
// operators and after the first approval, says who has approved so far and how another operator
// joins (or how to serve the cockpit so that one can).
func TestHeadlessSaysHowASecondOperatorJoins(t *testing.T) {
	for _, join := range []string{"ssh -p 2222 jump01", ""} {
		e := startEngine(t, "name: t\nsteps:\n  - {id: ponr, title: Point of no return, kind: gate, approvals: 2}\n", clock.Real())
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		ana := engine.LocalActor(engine.Account{User: "ana", UID: "1001", Host: "jump01"}, "Ana", "")
		done := make(chan int, 1)
		go func() {
			done <- RunHeadless(context.Background(), e, HeadlessOptions{Out: outW, In: inR, Interactive: true, Actor: ana, Join: join})
			outW.Close()
		}()
		s := newScreen(t, outR)
		hint := "   another operator joins this cockpit from their own terminal with:\n     " + join + "\n"
		if join == "" {
			hint = "   this cockpit is not served over SSH: start `cutover run --listen ADDR` (or `cutover serve`) so another operator can join from their own terminal\n"
		}
		s.waitFor("approvals: 0 of 2\n" + hint + `   type "ponr" to confirm as Ana`)
		io.WriteString(inW, "ponr\n")
		s.waitFor("   confirmed by Ana (1 of 2); another operator must confirm from their own session\n   approved so far by Ana\n" + hint)
		inW.Close()
		e.Stop("test")
		<-done
	}
}

package tui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"cutover/engine"
	"cutover/engine/runbook"
)

// realEngine starts an engine over a one-step runbook: a destructive command that waits for
// the phrase STOP AOS.
func realEngine(t *testing.T) *engine.Engine {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the step runs the POSIX true command")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	src := "name: flow test\nenvironment: TEST\nsteps:\n" +
		"  - {id: aos-stop, title: Stop the AOS, kind: command, destructive: true, confirm: STOP AOS, with: {argv: [true]}}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry(engine.AllKinds()...)
	rb, err := runbook.Load(path, runbook.Options{Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(dir, "state"), Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop("test") })
	return e
}

func startCockpit(t *testing.T, e *engine.Engine, opt Options) *teatest.TestModel {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	opt.Local, opt.Config.Theme = time.UTC, ThemeDark
	app := NewApp(ctx, e, opt)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return teatest.NewTestModel(t, app, teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
}

func waitStep(t *testing.T, tm *teatest.TestModel, e *engine.Engine, id string, ok func(engine.StepView) bool) engine.StepView {
	t.Helper()
	var st engine.StepView
	teatest.WaitFor(t, tm.Output(), func([]byte) bool {
		st, _ = e.Snapshot().Step(id)
		return ok(st)
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	return st
}

func sendKey(tm *teatest.TestModel, k string) { tm.Send(keyMsg(k)) }

// TestFlowConfirmReachesTheEngine: an operator confirms a destructive step through the dialog;
// the engine runs it and journals who confirmed.
func TestFlowConfirmReachesTheEngine(t *testing.T) {
	e := realEngine(t)
	ana := engine.Actor{Name: "ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	tm := startCockpit(t, e, Options{Actor: ana})
	waitStep(t, tm, e, "aos-stop", func(s engine.StepView) bool { return s.State == engine.StateAwaiting })
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(`c: confirm (type "STOP AOS")`)) },
		teatest.WithDuration(10*time.Second))
	sendKey(tm, "c")
	tm.Type("STOP AOS")
	sendKey(tm, "tab")
	sendKey(tm, "enter")
	st := waitStep(t, tm, e, "aos-stop", func(s engine.StepView) bool { return s.State.Terminal() })
	if st.State != engine.StateSucceeded || len(st.ConfirmedBy) != 1 {
		t.Fatalf("aos-stop %s, confirmed by %v", st.State, st.ConfirmedBy)
	}
	if by := st.ConfirmedBy[0].Actor; by.Name != "ana" || by.Fingerprint != "SHA256:ana" || by.Role != engine.RoleOperator {
		t.Fatalf("the engine recorded %+v, want the cockpit's operator", by)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

// TestFlowReadOnlySessionCannotConfirm: a read-only session has no confirm key, and the palette
// refuses the command; the step keeps waiting and nothing is journaled for it.
func TestFlowReadOnlySessionCannotConfirm(t *testing.T) {
	e := realEngine(t)
	ana := engine.Actor{Name: "ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	tm := startCockpit(t, e, Options{Actor: ana, ReadOnly: true})
	waitStep(t, tm, e, "aos-stop", func(s engine.StepView) bool { return s.State == engine.StateAwaiting })
	sendKey(tm, "c")
	tm.Type("STOP AOS")
	sendKey(tm, "tab")
	sendKey(tm, "enter")
	sendKey(tm, ":")
	tm.Type("confirm aos-stop")
	sendKey(tm, "enter")
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("this session is read-only")) },
		teatest.WithDuration(10*time.Second))
	st, _ := e.Snapshot().Step("aos-stop")
	if st.State != engine.StateAwaiting || len(st.Confirmation.Approvals) != 0 {
		t.Fatalf("a read-only session changed the step: %s %v", st.State, st.Confirmation)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}

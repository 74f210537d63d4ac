package engine_test

import (
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/runbook"
)

func TestWaitsForOperator(t *testing.T) {
	cases := []struct {
		state engine.StepState
		mode  engine.Mode
		want  engine.OperatorWait
	}{
		{engine.StateAwaiting, engine.ModeAuto, engine.WaitConfirmation},
		{engine.StateAwaiting, engine.ModeGate, engine.WaitConfirmation},
		{engine.StateRunning, engine.ModeManual, engine.WaitCompletion},
		{engine.StateRunning, engine.ModeAuto, engine.WaitNone},
		{engine.StateFailed, engine.ModeAuto, engine.WaitDecision},
		{engine.StateRetrying, engine.ModeAuto, engine.WaitNone},
		{engine.StatePending, engine.ModeManual, engine.WaitNone},
		{engine.StateReady, engine.ModeAuto, engine.WaitNone},
		{engine.StateSucceeded, engine.ModeManual, engine.WaitNone},
		{engine.StateSkipped, engine.ModeAuto, engine.WaitNone},
	}
	for _, c := range cases {
		v := engine.StepView{ID: "s", State: c.state, Mode: c.mode}
		if got := v.WaitsFor(); got != c.want {
			t.Errorf("%s %v step waits for %s, want %s", c.state, c.mode, got, c.want)
		}
		if v.WaitsForOperator() != (c.want != engine.WaitNone) {
			t.Errorf("%s %v: WaitsForOperator disagrees with WaitsFor", c.state, c.mode)
		}
		if v.InOperatorsHands() != (c.want == engine.WaitCompletion) {
			t.Errorf("%s %v: InOperatorsHands disagrees with WaitsFor", c.state, c.mode)
		}
	}
	snap := engine.Snapshot{Steps: []engine.StepView{
		{ID: "a", State: engine.StateSucceeded},
		{ID: "b", State: engine.StateRunning, Mode: engine.ModeAuto},
		{ID: "c", State: engine.StateRunning, Mode: engine.ModeManual},
		{ID: "d", State: engine.StateFailed},
		{ID: "e", State: engine.StatePending},
	}}
	var ids []string
	for _, st := range snap.Waiting() {
		ids = append(ids, st.ID)
	}
	if len(ids) != 2 || ids[0] != "c" || ids[1] != "d" {
		t.Fatalf("waiting %v, want [c d]", ids)
	}
}

// TestCurrentStep: the step in focus is the first awaiting a confirmation, else failed, running,
// retrying, ready, pending; the phase follows it.
func TestCurrentStep(t *testing.T) {
	steps := []engine.StepView{
		{ID: "p", Phase: "later", State: engine.StatePending},
		{ID: "rt", Phase: "retry", State: engine.StateRetrying},
		{ID: "r", Phase: "run", State: engine.StateRunning},
		{ID: "f", Phase: "fail", State: engine.StateFailed},
		{ID: "a", Phase: "ask", State: engine.StateAwaiting},
	}
	for len(steps) > 0 {
		snap := engine.Snapshot{Steps: steps}
		cur, ok := snap.Current()
		want := steps[len(steps)-1]
		if !ok || cur.ID != want.ID || snap.Phase() != want.Phase {
			t.Fatalf("current %q (ok %v, phase %q), want %q", cur.ID, ok, snap.Phase(), want.ID)
		}
		steps = steps[:len(steps)-1]
	}
	done := engine.Snapshot{Steps: []engine.StepView{{ID: "x", State: engine.StateSucceeded}}}
	if _, ok := done.Current(); ok || done.Phase() != "done" {
		t.Fatal("a finished run has no current step")
	}
}

func TestGuardsNoReturn(t *testing.T) {
	snap := engine.Snapshot{
		Run: engine.RunView{Downtime: &runbook.Downtime{PointOfNoReturn: "refresh"}},
		Steps: []engine.StepView{
			{ID: "go", Mode: engine.ModeGate},
			{ID: "other-gate", Mode: engine.ModeGate},
			{ID: "backup", Mode: engine.ModeAuto},
			{ID: "refresh", Mode: engine.ModeAuto, After: []string{"go", "backup"}},
		},
	}
	for id, want := range map[string]bool{"refresh": true, "go": true, "other-gate": false, "backup": false} {
		st, _ := snap.Step(id)
		if got := snap.GuardsNoReturn(st); got != want {
			t.Errorf("%s guards the point of no return: %v, want %v", id, got, want)
		}
	}
	snap.Run.Downtime = nil
	if st, _ := snap.Step("refresh"); snap.GuardsNoReturn(st) {
		t.Error("without a point of no return nothing guards it")
	}
}

func TestBaselinePace(t *testing.T) {
	const hour = time.Hour
	cases := []struct {
		b    *engine.BaselineView
		want engine.Pace
	}{
		{nil, engine.PaceOn},
		{&engine.BaselineView{Total: 10 * hour, Lateness: 5 * hour}, engine.PaceOn}, // not known yet
		{&engine.BaselineView{Total: 10 * hour, Lateness: 59 * time.Second, LatenessKnown: true}, engine.PaceOn},
		{&engine.BaselineView{Total: 10 * hour, Lateness: -59 * time.Second, LatenessKnown: true}, engine.PaceOn},
		{&engine.BaselineView{Total: 10 * hour, Lateness: time.Minute, LatenessKnown: true}, engine.PaceBehind},
		{&engine.BaselineView{Total: 10 * hour, Lateness: 59 * time.Minute, LatenessKnown: true}, engine.PaceBehind},
		{&engine.BaselineView{Total: 10 * hour, Lateness: hour, LatenessKnown: true}, engine.PaceFarBehind},
		{&engine.BaselineView{Total: 5 * time.Minute, Lateness: 30 * time.Second, LatenessKnown: true}, engine.PaceOn},
		{&engine.BaselineView{Total: 10 * hour, Lateness: -time.Minute, LatenessKnown: true}, engine.PaceAhead},
	}
	for i, c := range cases {
		if got := c.b.Pace(); got != c.want {
			t.Errorf("case %d: pace %d, want %d", i, got, c.want)
		}
	}
}

func TestFigureLags(t *testing.T) {
	now := t0
	if !engine.FigureLags(now, now, time.Time{}) {
		t.Error("a figure never read lags")
	}
	if engine.FigureLags(now, now, now.Add(-engine.LagAfter)) {
		t.Error("a figure exactly LagAfter behind the newest poll does not lag yet")
	}
	if !engine.FigureLags(now, now, now.Add(-engine.LagAfter-time.Second)) {
		t.Error("a figure more than LagAfter behind the newest poll lags")
	}
	// The monitor stopped polling: its newest figure ages with the clock.
	newest := now.Add(-2*engine.LagAfter - time.Second)
	if !engine.FigureLags(now, newest, newest) {
		t.Error("figures of a monitor that stopped polling lag")
	}
}

func TestDowntimeBudgetRules(t *testing.T) {
	began := t0
	d := engine.DowntimeView{Began: began, Budget: 10 * time.Hour, Elapsed: 7*time.Hour + 59*time.Minute}
	if d.Near() || d.Over() || d.WarnAt() != 8*time.Hour {
		t.Fatalf("at 79.8%%: near %v, over %v, warn at %s", d.Near(), d.Over(), d.WarnAt())
	}
	d.Elapsed = 8 * time.Hour
	if !d.Near() || d.Over() {
		t.Fatal("at 80% the clock warns")
	}
	d.Elapsed = 10*time.Hour + time.Second
	if d.Near() || !d.Over() {
		t.Fatal("past the budget it is over, not near")
	}
	if late, ok := d.Late(began.Add(11 * time.Hour)); !ok || late != time.Hour {
		t.Fatalf("late %s %v", late, ok)
	}
	if late, ok := d.Late(began.Add(9 * time.Hour)); !ok || late != -time.Hour {
		t.Fatalf("spare %s %v", late, ok)
	}
	if _, ok := (engine.DowntimeView{Budget: time.Hour}).Late(began); ok {
		t.Fatal("a downtime that has not begun has no end")
	}
	if (engine.DowntimeView{Began: began, Elapsed: time.Hour}).Near() {
		t.Fatal("without a budget nothing is near it")
	}
}

func TestHealthUp(t *testing.T) {
	for h, want := range map[engine.Health]bool{engine.HealthOK: true, engine.HealthSlow: true, engine.HealthFailing: false, engine.HealthUnknown: false} {
		if h.Up() != want {
			t.Errorf("%s up: %v, want %v", h, h.Up(), want)
		}
	}
}

func TestHeldByOther(t *testing.T) {
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	bo := engine.Actor{Name: "Bo", Origin: "ssh", Fingerprint: "SHA256:bo", Role: engine.RoleOperator}
	hold := &engine.HoldView{Actor: ana, Until: time.Now().Add(time.Hour)}
	st := engine.StepView{State: engine.StateAwaiting, Confirmation: &engine.ConfirmationView{HeldBy: hold}}
	if st.HeldByOther(bo) != hold {
		t.Fatal("Ana's hold keeps Bo waiting")
	}
	if st.HeldByOther(ana) != nil {
		t.Fatal("her own hold does not keep Ana waiting")
	}
	hold.Until = time.Now().Add(-time.Second)
	if st.HeldByOther(bo) != nil {
		t.Fatal("a lapsed hold keeps nobody waiting")
	}
	if (engine.StepView{}).HeldByOther(bo) != nil {
		t.Fatal("no confirmation, no hold")
	}
}

package engine_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
)

// fallbackRunbook is the data upgrade's two documented choices on a failure in small: up is the
// watched upgrade, rollback answers its failure (two operators, like the toolkit's «Rollback data
// upgrade: Trigger rollback»), deployed follows up, and next follows the fallback.
const fallbackRunbook = `name: t
steps:
  - {id: up, title: Upgrade, kind: probe, with: {block: true}}
  - {id: rollback, title: Roll back the upgrade, kind: probe, approvals: 2, destructive: true, confirm: ROLL BACK, when: {failed: up}}
  - {id: deployed, title: Sandbox deployed, kind: probe, after: up}
  - {id: next, title: After the rollback, kind: probe, after: rollback}
`

// failUp makes the blocking probe up fail for good.
func failUp(h *harness) {
	h.t.Helper()
	h.started("up")
	h.release("up", engine.Permanent(errors.New("data upgrade failed: LCS state Failed")))
	h.waitStep("up", engine.StateFailed)
}

// TestConditionalStepRunsWhenItsTriggerFails: the fallback waits while its trigger runs, becomes
// ready when the trigger has failed for good, asks its two operators (one of them twice, and a
// viewer, are turned away), runs, and lets its own dependents go ahead; the trigger's dependents
// stay blocked. The failed trigger shows its fallback.
func TestConditionalStepRunsWhenItsTriggerFails(t *testing.T) {
	h := newHarness(t, fallbackRunbook).start()
	h.started("up")
	snap := h.e.Snapshot()
	rb, _ := snap.Step("rollback")
	if rb.State != engine.StatePending || rb.WhenFailed != "up" {
		t.Fatalf("while up runs the fallback is %s (when failed %q)", rb.State, rb.WhenFailed)
	}
	if f := snap.Fallbacks("up"); len(f) != 1 || f[0].ID != "rollback" || len(snap.Fallbacks("deployed")) != 0 {
		t.Fatalf("fallbacks of up: %+v", f)
	}
	h.release("up", engine.Permanent(errors.New("data upgrade failed")))
	st := h.waitStep("rollback", engine.StateAwaiting)
	if st.Confirmation == nil || st.Confirmation.Needed != 2 || st.Confirmation.Phrase != "ROLL BACK" {
		t.Fatalf("confirmation %+v", st.Confirmation)
	}
	h.waitOutcome(engine.OutcomeWaiting)
	if _, err := h.e.Confirm("rollback", 0, vera, "ROLL BACK"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer confirmed: %v", err)
	}
	if res, err := h.e.Confirm("rollback", 0, ana, "ROLL BACK"); err != nil || res.Satisfied {
		t.Fatalf("first confirmation: %+v, %v", res, err)
	}
	if _, err := h.e.Confirm("rollback", 0, ana, "ROLL BACK"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("the same operator twice: %v", err)
	}
	if h.probe.Attempts("rollback") != 0 {
		t.Fatal("the fallback ran on one approval")
	}
	if res, err := h.e.Confirm("rollback", 0, ben, "ROLL BACK"); err != nil || !res.Satisfied {
		t.Fatalf("second confirmation: %+v, %v", res, err)
	}
	h.waitStep("rollback", engine.StateSucceeded)
	h.waitStep("next", engine.StateSucceeded)
	h.waitOutcome(engine.OutcomeBlocked)
	if d := h.state("deployed"); d != engine.StatePending {
		t.Fatalf("deployed is %s although up failed", d)
	}
	if h.seqOf(engine.RecAwaiting, "rollback") < h.seqOf(engine.RecFailed, "up") {
		t.Fatal("the fallback asked before its trigger failed")
	}
}

// TestConditionalStepWaitsThroughRetries: a trigger waiting for its next automatic attempt has
// not failed; when that attempt succeeds the fallback is not needed (journaled, never run), its
// dependents go ahead and the run completes, counting it.
func TestConditionalStepWaitsThroughRetries(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: up, title: Upgrade, kind: probe, retries: 1, retry_backoff: 10s, with: {fail_times: 1}}
  - {id: rollback, title: Roll back, kind: probe, when: {failed: up}}
  - {id: next, title: Next, kind: probe, after: rollback}
`).start()
	h.waitStep("up", engine.StateRetrying)
	if s := h.state("rollback"); s != engine.StatePending {
		t.Fatalf("the fallback is %s while its trigger retries", s)
	}
	h.advance(1, 10*time.Second)
	st := h.waitStep("rollback", engine.StateNotNeeded)
	if st.Message != "not needed: up succeeded" || !st.State.Done() || !st.State.Terminal() {
		t.Fatalf("fallback %s: %q", st.State, st.Message)
	}
	h.waitOutcome(engine.OutcomeCompleted)
	if h.probe.Attempts("rollback") != 0 || h.probe.Attempts("next") != 1 {
		t.Fatalf("attempts: rollback %d, next %d", h.probe.Attempts("rollback"), h.probe.Attempts("next"))
	}
	var fin engine.RunFinished
	var nn engine.NotNeeded
	for _, r := range h.records() {
		switch engine.RecordType(r.Type) {
		case engine.RecRunFinished:
			if err := json.Unmarshal(r.Data, &fin); err != nil {
				t.Fatal(err)
			}
		case engine.RecNotNeeded:
			if err := json.Unmarshal(r.Data, &nn); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fin != (engine.RunFinished{Succeeded: 2, NotNeeded: 1}) || nn != (engine.NotNeeded{Trigger: "up", Outcome: "succeeded"}) {
		t.Fatalf("run finished %+v, not needed %+v", fin, nn)
	}
	// Replayed after a restart, the step is still not needed and the run still completed.
	h.restart()
	if st, _ := h.e.Snapshot().Step("rollback"); st.State != engine.StateNotNeeded || st.Message != "not needed: up succeeded" {
		t.Fatalf("after a restart the fallback is %s (%q)", st.State, st.Message)
	}
	if o := h.e.Snapshot().Run.Outcome; o != engine.OutcomeCompleted {
		t.Fatalf("after a restart the run is %s", o)
	}
	if n := h.count(engine.RecNotNeeded, "rollback"); n != 1 {
		t.Fatalf("%d not-needed records", n)
	}
	if _, err := h.e.Skip("rollback", ana, "no", ""); !errors.Is(err, engine.ErrNotAllowed) || !strings.Contains(err.Error(), "it is not needed: up succeeded") {
		t.Fatalf("skipping a step not needed: %v", err)
	}
}

// TestConditionalStepNotNeededWhenItsTriggerIsPassedOver: a failed trigger skipped or marked done
// by hand makes its waiting fallback not needed, withdrawing its open request, and says how.
func TestConditionalStepNotNeededWhenItsTriggerIsPassedOver(t *testing.T) {
	for _, c := range []struct {
		how     string
		outcome string
	}{{"skip", "skipped"}, {"done", "done by hand"}} {
		t.Run(c.how, func(t *testing.T) {
			h := newHarness(t, fallbackRunbook).start()
			failUp(h)
			h.waitStep("rollback", engine.StateAwaiting)
			var err error
			if c.how == "skip" {
				_, err = h.e.Skip("up", ana, "checked by hand", "")
			} else {
				_, err = h.e.MarkDone("up", ana, "finished in LCS", "")
			}
			if err != nil {
				t.Fatal(err)
			}
			st := h.waitStep("rollback", engine.StateNotNeeded)
			if st.Message != "not needed: up "+c.outcome || st.Confirmation != nil {
				t.Fatalf("%q, confirmation %+v", st.Message, st.Confirmation)
			}
			if _, err := h.e.Confirm("rollback", 0, ben, "ROLL BACK"); !errors.Is(err, engine.ErrNotAwaiting) {
				t.Fatalf("confirming a fallback not needed: %v", err)
			}
			h.release("deployed", nil)
			h.release("next", nil)
			h.waitOutcome(engine.OutcomeCompleted)
		})
	}
}

// TestRetryingTheTriggerWithdrawsItsFallback: the two documented choices never run at once.
// Retrying the failed trigger (the toolkit's Resume) withdraws the fallback's open request and
// its approvals — it waits again, and runs only if the trigger fails again; the trigger cannot
// be retried while its fallback runs. A fallback turned down (no-go) waits again the same way.
func TestRetryingTheTriggerWithdrawsItsFallback(t *testing.T) {
	h := newHarness(t, fallbackRunbook).start()
	failUp(h)
	h.waitStep("rollback", engine.StateAwaiting)
	if _, err := h.e.Confirm("rollback", 0, ana, "ROLL BACK"); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Retry("up", ben); err != nil {
		t.Fatal(err)
	}
	st, _ := h.e.Snapshot().Step("rollback")
	if st.State != engine.StatePending || st.Confirmation != nil || len(st.ConfirmedBy) != 0 {
		t.Fatalf("after the retry the fallback is %s with %+v, confirmed by %+v", st.State, st.Confirmation, st.ConfirmedBy)
	}
	if _, err := h.e.Confirm("rollback", 0, ben, "ROLL BACK"); !errors.Is(err, engine.ErrNotAwaiting) {
		t.Fatalf("the withdrawn request took a confirmation: %v", err)
	}
	var lapsed engine.ConditionLapsed
	for _, r := range h.records() {
		if engine.RecordType(r.Type) == engine.RecConditionLapsed {
			if err := json.Unmarshal(r.Data, &lapsed); err != nil {
				t.Fatal(err)
			}
		}
	}
	if lapsed.Trigger != "up" || lapsed.Request == 0 || lapsed.Actor == nil || lapsed.Actor.Name != "Ben" || lapsed.TriggerState != "ready" {
		t.Fatalf("lapse record %+v", lapsed)
	}

	// It fails again: the fallback asks afresh, with no approval carried over.
	failUp(h)
	st = h.waitStep("rollback", engine.StateAwaiting)
	if len(st.Confirmation.Approvals) != 0 {
		t.Fatalf("approvals carried over a retry of the trigger: %+v", st.Confirmation.Approvals)
	}
	// A no-go: the fallback fails without running; retrying the trigger puts it back to waiting.
	if err := h.e.Decline("rollback", 0, ben, "we resume instead"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("rollback", engine.StateFailed)
	if err := h.e.Retry("up", ana); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.e.Snapshot().Step("rollback"); st.State != engine.StatePending || st.LastError != "" || st.By != nil {
		t.Fatalf("a turned-down fallback after the trigger's retry: %s %q by %v", st.State, st.LastError, st.By)
	}
	h.started("up")
	h.release("up", nil)
	h.waitStep("rollback", engine.StateNotNeeded)
	h.release("deployed", nil)
	h.release("next", nil)
	h.waitOutcome(engine.OutcomeCompleted)
	if h.probe.Attempts("rollback") != 0 {
		t.Fatal("the fallback ran")
	}
}

// TestACrashBetweenRetryAndWithdrawal: a crash after the trigger's retry was journaled and before
// its fallback's request was withdrawn leaves the request open in the journal; the next engine
// withdraws it before anything runs.
func TestACrashBetweenRetryAndWithdrawal(t *testing.T) {
	h := newHarness(t, fallbackRunbook).start()
	failUp(h)
	h.waitStep("rollback", engine.StateAwaiting)
	if _, err := h.e.Confirm("rollback", 0, ana, "ROLL BACK"); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Retry("up", ben); err != nil {
		t.Fatal(err)
	}
	h.started("up")
	h.stop()
	path := filepath.Join(h.dir, "state", journal.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	keep := 0
	for i, l := range lines {
		if strings.Contains(l, `"type":"step.retry"`) {
			keep = i + 1
		}
	}
	if keep == 0 || !strings.Contains(lines[keep], `"type":"step.condition-lapsed"`) {
		t.Fatalf("the retry is not followed by the withdrawal:\n%s", data)
	}
	crashImage(t, path, []byte(strings.Join(lines[:keep], "")))
	h.start()
	h.started("up")
	h.waitStep("rollback", engine.StatePending)
	var lapsed engine.ConditionLapsed
	for _, r := range h.records() {
		if engine.RecordType(r.Type) == engine.RecConditionLapsed {
			if err := json.Unmarshal(r.Data, &lapsed); err != nil {
				t.Fatal(err)
			}
		}
	}
	if lapsed.Actor != nil || lapsed.Request == 0 {
		t.Fatalf("the engine's own withdrawal: %+v", lapsed)
	}
	h.release("up", nil)
	h.waitStep("rollback", engine.StateNotNeeded)
}

// TestTheTriggerIsNotRetriedWhileItsFallbackRuns: an unguarded fallback starts as soon as its
// trigger fails; retrying the trigger meanwhile is refused, and allowed once the fallback ended.
func TestTheTriggerIsNotRetriedWhileItsFallbackRuns(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: up, title: Upgrade, kind: probe, with: {block: true}}
  - {id: rollback, title: Roll back, kind: probe, when: {failed: up}, with: {block: true}}
`).start()
	h.started("up")
	h.release("up", engine.Permanent(errors.New("failed")))
	h.started("rollback")
	err := h.e.Retry("up", ana)
	if !errors.Is(err, engine.ErrNotAllowed) || !strings.Contains(err.Error(), "rollback, which runs because it failed (when: failed), is running") {
		t.Fatalf("retry while the fallback runs: %v", err)
	}
	h.release("rollback", nil)
	h.waitStep("rollback", engine.StateSucceeded)
	if err := h.e.Retry("up", ana); err != nil {
		t.Fatalf("retry after the fallback: %v", err)
	}
	h.started("up")
	h.release("up", nil)
	h.waitOutcome(engine.OutcomeCompleted)
	if st, _ := h.e.Snapshot().Step("rollback"); st.State != engine.StateSucceeded {
		t.Fatalf("a fallback that ran is %s once its trigger succeeded", st.State)
	}
}

// TestAConditionalRequestSurvivesARestart: a fallback awaiting its second operator after a
// restart still has the first approval, and the second operator's confirmation runs it.
func TestAConditionalRequestSurvivesARestart(t *testing.T) {
	h := newHarness(t, fallbackRunbook).start()
	failUp(h)
	h.waitStep("rollback", engine.StateAwaiting)
	if _, err := h.e.Confirm("rollback", 0, ana, "ROLL BACK"); err != nil {
		t.Fatal(err)
	}
	h.restart()
	st, _ := h.e.Snapshot().Step("rollback")
	if st.State != engine.StateAwaiting || len(st.Confirmation.Approvals) != 1 {
		t.Fatalf("after a restart: %s %+v", st.State, st.Confirmation)
	}
	if _, err := h.e.Confirm("rollback", 0, ana, "ROLL BACK"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("the same operator after a restart: %v", err)
	}
	if _, err := h.e.Confirm("rollback", 0, ben, "ROLL BACK"); err != nil {
		t.Fatal(err)
	}
	h.started("rollback")
	h.release("rollback", nil)
	h.waitStep("rollback", engine.StateSucceeded)
	if n := h.count(engine.RecAwaiting, "rollback"); n != 1 {
		t.Fatalf("%d requests: a restart asked again", n)
	}
}

// TestMarkDoneOfAConditionalStepWaitsForItsTrigger: a fallback whose trigger has not failed
// cannot be marked done; the refusal says it runs only on the failure.
func TestMarkDoneOfAConditionalStepWaitsForItsTrigger(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: up, title: Upgrade, kind: probe, with: {block: true}}
  - {id: rollback, title: Roll back, kind: manual, when: {failed: up}}
`).start()
	h.started("up")
	_, err := h.e.MarkDone("rollback", ana, "done it", "")
	if !errors.Is(err, engine.ErrDependencies) || !strings.Contains(err.Error(), "up (running; this step runs only if it fails)") {
		t.Fatalf("mark done before the trigger failed: %v", err)
	}
	h.release("up", nil)
	h.waitStep("rollback", engine.StateNotNeeded)
}

// TestProjectionLeavesOutAFallbackUntilItsTriggerFails: a conditional step takes no time in the
// plan while its trigger has not failed, and its own plan once it has.
func TestProjectionLeavesOutAFallbackUntilItsTriggerFails(t *testing.T) {
	now := time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)
	snap := func(up engine.StepState) engine.Snapshot {
		return engine.Snapshot{Steps: []engine.StepView{
			{ID: "up", State: up, Planned: time.Hour},
			{ID: "rollback", State: engine.StatePending, After: []string{"up"}, WhenFailed: "up", Planned: 3 * time.Hour},
			{ID: "golive", State: engine.StatePending, After: []string{"rollback"}, Planned: 10 * time.Minute},
		}}
	}
	p := snap(engine.StatePending).Project(now)
	if start, _ := p.Start("golive"); !start.Equal(now.Add(time.Hour)) || !p.Finish().Equal(now.Add(70*time.Minute)) {
		t.Errorf("trigger pending: go-live at %v, finish %v", start, p.Finish())
	}
	p = snap(engine.StateFailed).Project(now)
	if start, _ := p.Start("golive"); !start.Equal(now.Add(4 * time.Hour)) {
		t.Errorf("trigger failed: go-live at %v", start)
	}
}

// TestAutoConfirmLeavesTheChoiceToAnOperator: a rehearsal with --yes confirms every request
// automatically except a conditional step's: taking the fallback over retrying its trigger is an
// operator's decision, so the run waits; retrying the trigger (a simulated operator's Resume)
// withdraws the request, and the fallback is not needed once the trigger succeeds.
func TestAutoConfirmLeavesTheChoiceToAnOperator(t *testing.T) {
	h := newHarness(t, "rehearsal: true\n"+fallbackRunbook)
	h.opts.AutoConfirm = true
	h.start()
	failUp(h)
	h.waitStep("rollback", engine.StateAwaiting)
	h.waitOutcome(engine.OutcomeWaiting)
	if n := h.count(engine.RecApproved, "rollback"); n != 0 {
		t.Fatalf("the fallback was confirmed automatically (%d approvals)", n)
	}
	if lines := h.e.Logs(50, "rollback"); !strings.Contains(lines[len(lines)-1].Msg, "not confirmed automatically (--yes)") {
		t.Fatalf("log: %+v", lines[len(lines)-1])
	}
	// After a restart (the scheduler looks at open requests again) it still waits.
	h.restart()
	h.waitOutcome(engine.OutcomeWaiting)
	if err := h.e.Retry("up", ana); err != nil {
		t.Fatal(err)
	}
	h.started("up")
	h.release("up", nil)
	h.waitStep("rollback", engine.StateNotNeeded)
	h.release("deployed", nil)
	h.release("next", nil)
	h.waitOutcome(engine.OutcomeCompleted)
	if n := h.count(engine.RecApproved, "rollback"); n != 0 {
		t.Fatalf("the fallback was confirmed automatically (%d approvals)", n)
	}
}

package engine_test

import (
	"errors"
	"strings"
	"testing"

	"cutover/engine"
)

// guardedRunbook has one step of each kind of guard, all awaiting their confirmation at once: a
// go/no-go gate, a destructive step with its own phrase, and a step that needs two operators.
const guardedRunbook = `name: t
steps:
  - {id: go, title: Go/no-go, kind: gate}
  - {id: aos-stop, title: Stop the AOS, kind: probe, destructive: true, confirm: STOP AOS}
  - {id: refresh, title: Refresh production, kind: probe, approvals: 2}
`

// TestSkipAndDoneOfAGuardedStepNeedWhatConfirmingNeeds: skipping a guarded step or marking it
// done by hand is refused without its phrase, with a wrong one (the confirmation phrase typed
// out of habit too), by a viewer, and by the same operator twice; every refusal is journaled and
// nothing counts until as many distinct operators as confirming needs have typed the phrase.
func TestSkipAndDoneOfAGuardedStepNeedWhatConfirmingNeeds(t *testing.T) {
	anaElsewhere := ana
	anaElsewhere.Origin = "local terminal"
	for _, action := range []engine.OverrideAction{engine.OverrideSkip, engine.OverrideDone} {
		do := func(h *harness, step string, a engine.Actor, reason, phrase string) (engine.ConfirmResult, error) {
			if action == engine.OverrideDone {
				return h.e.MarkDone(step, a, reason, phrase)
			}
			return h.e.Skip(step, a, reason, phrase)
		}
		want, word := engine.StateSkipped, "SKIP "
		if action == engine.OverrideDone {
			want, word = engine.StateSucceeded, "DONE "
		}
		for _, id := range []string{"go", "aos-stop", "refresh"} {
			t.Run(string(action)+" "+id, func(t *testing.T) {
				h := newHarness(t, guardedRunbook).start()
				st := h.waitStep(id, engine.StateAwaiting)
				if st.Guard == nil || st.Guard.PhraseFor(action) != word+id {
					t.Fatalf("guard %+v", st.Guard)
				}
				needed := st.Guard.Needed
				if (id == "refresh") != (needed == 2) {
					t.Fatalf("%s needs %d approvals", id, needed)
				}
				refusals := 0
				refused := func(what string, err, target error) {
					t.Helper()
					refusals++
					if !errors.Is(err, target) {
						t.Fatalf("%s: %v, want %v", what, err, target)
					}
				}
				_, err := do(h, id, ana, "free text is not enough", "")
				refused("no phrase", err, engine.ErrPhraseRequired)
				if !strings.Contains(err.Error(), word+id) {
					t.Fatalf("the refusal does not say what to type: %v", err)
				}
				_, err = do(h, id, ana, "typed the confirmation phrase", st.Guard.Phrase)
				refused("the confirmation phrase", err, engine.ErrWrongPhrase)
				_, err = do(h, id, vera, "a viewer", word+id)
				refused("a viewer", err, engine.ErrNotOperator)
				// Without a reason nothing opens (and nothing is journaled: it is not an approval).
				if _, err := do(h, id, ana, " ", word+id); !errors.Is(err, engine.ErrReasonRequired) {
					t.Fatalf("no reason: %v", err)
				}
				if st, _ := h.e.Snapshot().Step(id); st.State != engine.StateAwaiting || st.Override != nil {
					t.Fatalf("after refusals: %s, override %+v", st.State, st.Override)
				}

				res, err := do(h, id, ana, "done in the portal", " "+word+id+" ")
				if err != nil || res.Count != 1 || res.Needed != needed || res.Satisfied != (needed == 1) {
					t.Fatalf("first approval: %+v %v", res, err)
				}
				if needed == 2 {
					st := h.waitFor(id, "an open override", func(s engine.StepView) bool { return s.Override != nil })
					if o := st.Override; st.State != engine.StateAwaiting || o.Action != action || o.By.Name != "Ana" || o.Reason != "done in the portal" ||
						o.Phrase != word+id || o.Needed != 2 || len(o.Approvals) != 1 {
						t.Fatalf("one approval of two: %s %+v", st.State, o)
					}
					_, err = do(h, id, anaElsewhere, "again, from the terminal", word+id)
					refused("the same operator twice", err, engine.ErrAlreadyApproved)
					if h.state(id) != engine.StateAwaiting {
						t.Fatal("counted one operator twice")
					}
					res, err = do(h, id, ben, "agreed", word+id)
					if err != nil || res.Count != 2 || !res.Satisfied {
						t.Fatalf("second operator: %+v %v", res, err)
					}
				}
				st = h.waitStep(id, want)
				if st.By == nil || st.By.Name != "Ana" || st.Reason != "done in the portal" || len(st.OverriddenBy) != needed || st.Override != nil {
					t.Fatalf("%s: by %v %q, approvals %v, override %v", st.State, st.By, st.Reason, st.OverriddenBy, st.Override)
				}
				if n := h.count(engine.RecOverrideRefused, id); n != refusals {
					t.Fatalf("%d refusals journaled, want %d", n, refusals)
				}
				if n := h.count(engine.RecOverrideApproved, id); n != needed {
					t.Fatalf("%d approvals journaled, want %d", n, needed)
				}
				rec := engine.RecSkipped
				if action == engine.OverrideDone {
					rec = engine.RecDoneByHand
				}
				if h.seqOf(rec, id) < h.seqOf(engine.RecOverrideApproved, id) || h.count(rec, id) != 1 {
					t.Fatal("the step counted before its approvals")
				}
				if h.probe.Attempts(id) != 0 {
					t.Fatal("the step ran")
				}
			})
		}
	}
}

// TestRetryOfAGuardedStepAsksAgain: a retry of a guarded step — failed, declined, or waiting for
// its next automatic attempt — never runs it on its own: it asks for its confirmation again, and
// the step runs only when that has the phrase from as many operators as it needs.
func TestRetryOfAGuardedStepAsksAgain(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: go, title: Go/no-go, kind: gate}
  - {id: aos-stop, title: Stop the AOS, kind: probe, destructive: true, confirm: STOP AOS, retries: 1, retry_backoff: 10m, with: {fail_times: 2}}
  - {id: refresh, title: Refresh production, kind: probe, approvals: 2, with: {fail_times: 1}}
`).start()
	confirm := func(id string, as engine.Actor, phrase string) (engine.ConfirmResult, error) {
		t.Helper()
		st := h.waitStep(id, engine.StateAwaiting)
		return h.e.Confirm(id, st.Confirmation.Request, as, phrase)
	}

	// The gate: a no-go, then a retry; it waits for the go again, and a free-text skip is refused.
	g := h.waitStep("go", engine.StateAwaiting)
	if err := h.e.Decline("go", g.Confirmation.Request, ana, "business not signed off"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("go", engine.StateFailed)
	if err := h.e.Retry("go", ana); err != nil {
		t.Fatal(err)
	}
	g2 := h.waitStep("go", engine.StateAwaiting)
	if g2.Confirmation.Request == g.Confirmation.Request {
		t.Fatal("the retried gate reuses its old request")
	}
	if _, err := h.e.Skip("go", ana, "iness signed off", ""); !errors.Is(err, engine.ErrPhraseRequired) {
		t.Fatalf("skipping the gate with a free-text reason: %v", err)
	}
	if _, err := confirm("go", ana, ""); !errors.Is(err, engine.ErrWrongPhrase) {
		t.Fatalf("the go without the phrase: %v", err)
	}
	if _, err := confirm("go", ana, "go"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("go", engine.StateSucceeded)

	// The destructive step fails its first attempt and waits for the second: retrying it now asks
	// again instead of running on the old confirmation.
	if _, err := confirm("aos-stop", ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	h.started("aos-stop")
	st := h.waitStep("aos-stop", engine.StateRetrying)
	if err := h.e.Retry("aos-stop", ana); err != nil {
		t.Fatal(err)
	}
	st = h.waitStep("aos-stop", engine.StateAwaiting)
	if len(st.Confirmation.Approvals) != 0 {
		t.Fatalf("the new request starts with approvals: %+v", st.Confirmation)
	}
	for _, phrase := range []string{"", "aos-stop", "retry"} {
		if _, err := confirm("aos-stop", ana, phrase); !errors.Is(err, engine.ErrWrongPhrase) {
			t.Fatalf("the re-run confirmed with %q: %v", phrase, err)
		}
	}
	if h.probe.Attempts("aos-stop") != 1 {
		t.Fatal("a retry ran the destructive step without a confirmation")
	}
	if _, err := confirm("aos-stop", ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	h.started("aos-stop")
	h.waitStep("aos-stop", engine.StateFailed)
	if err := h.e.Retry("aos-stop", ana); err != nil {
		t.Fatal(err)
	}
	h.waitStep("aos-stop", engine.StateAwaiting)
	if _, err := confirm("aos-stop", ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	h.started("aos-stop")
	h.waitStep("aos-stop", engine.StateSucceeded)
	if n := h.count(engine.RecAwaiting, "aos-stop"); n != 3 {
		t.Fatalf("%d confirmation requests for three attempts", n)
	}

	// The two-operator step fails; its retry runs only after both have confirmed again.
	if _, err := confirm("refresh", ana, "refresh"); err != nil {
		t.Fatal(err)
	}
	if _, err := confirm("refresh", ben, "refresh"); err != nil {
		t.Fatal(err)
	}
	h.started("refresh")
	h.waitStep("refresh", engine.StateFailed)
	if err := h.e.Retry("refresh", ana); err != nil {
		t.Fatal(err)
	}
	if _, err := confirm("refresh", ana, ""); !errors.Is(err, engine.ErrWrongPhrase) {
		t.Fatalf("the re-run confirmed without the phrase: %v", err)
	}
	if res, err := confirm("refresh", ana, "refresh"); err != nil || res.Satisfied {
		t.Fatalf("one of two: %+v %v", res, err)
	}
	if h.state("refresh") != engine.StateAwaiting || h.probe.Attempts("refresh") != 1 {
		t.Fatal("the retry ran on one approval of two")
	}
	if _, err := confirm("refresh", anaElsewhere(), "refresh"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("one operator twice: %v", err)
	}
	if res, err := confirm("refresh", ben, "refresh"); err != nil || !res.Satisfied {
		t.Fatalf("two of two: %+v %v", res, err)
	}
	h.started("refresh")
	h.waitOutcome(engine.OutcomeCompleted)
	retries := 0
	for _, r := range h.records() {
		if r.Type == string(engine.RecRetry) {
			var p engine.ByActor
			if err := r.Decode(&p); err != nil || !p.Reconfirm {
				t.Fatalf("a retry of a guarded step is journaled without reconfirm: %s", r.Data)
			}
			retries++
		}
	}
	if retries != 4 {
		t.Fatalf("%d retries journaled", retries)
	}
}

// TestMarkDoneWaitsForTheDependencies: marking a step done by hand before its dependencies are
// done is refused, naming each one that is not and its state, phrase or not; nothing is journaled.
func TestMarkDoneWaitsForTheDependencies(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: hold-batch, title: Hold batch jobs, kind: manual}
  - {id: stop-integrations, title: Stop integrations, kind: probe, with: {block: true}}
  - {id: aos-stop, title: Stop the AOS, kind: probe, destructive: true, confirm: STOP AOS, after: [hold-batch, stop-integrations]}
  - {id: drain, title: Drain, kind: probe, after: aos-stop}
`).start()
	h.waitStep("hold-batch", engine.StateRunning)
	h.started("stop-integrations")
	before := len(h.records())
	for _, c := range []struct{ id, phrase, want string }{
		{"aos-stop", "DONE aos-stop", "it waits for hold-batch (running), stop-integrations (running)"},
		{"aos-stop", "", "it waits for hold-batch (running), stop-integrations (running)"},
		{"drain", "", "it waits for aos-stop (pending)"},
	} {
		_, err := h.e.MarkDone(c.id, ana, "x", c.phrase)
		if !errors.Is(err, engine.ErrDependencies) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("mark %s done: %v, want %q", c.id, err, c.want)
		}
	}
	if n := len(h.records()); n != before {
		t.Fatalf("refused marks journaled %d records", n-before)
	}
	h.release("stop-integrations", nil)
}

// TestAnOpenOverrideIsWithdrawn: the step changing state withdraws an open override (here: the
// gate is confirmed by another route), and so does an operator; while one action's override is
// open, another action is refused rather than counting approvals of the two together.
func TestAnOpenOverrideIsWithdrawn(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: pnr, title: Point of no return, kind: gate, approvals: 2}
  - {id: refresh, title: Refresh production, kind: probe, destructive: true, approvals: 2, after: pnr}
`).start()
	st := h.waitStep("pnr", engine.StateAwaiting)
	if res, err := h.e.Skip("pnr", ana, "decided yesterday", "SKIP pnr"); err != nil || res.Satisfied {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := h.e.MarkDone("pnr", ben, "it was done", "DONE pnr"); !errors.Is(err, engine.ErrOverrideOpen) {
		t.Fatalf("done while a skip is open: %v", err)
	}
	if err := h.e.WithdrawOverride("pnr", 0, vera, "no"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer withdrew: %v", err)
	}
	if err := h.e.WithdrawOverride("pnr", 0, ben, "we do not skip the point of no return"); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.e.Snapshot().Step("pnr"); st.Override != nil {
		t.Fatalf("still open: %+v", st.Override)
	}
	if err := h.e.WithdrawOverride("pnr", 0, ben, ""); !errors.Is(err, engine.ErrNoOverride) {
		t.Fatalf("withdrawing nothing: %v", err)
	}
	// A new skip starts from zero: Ana's earlier approval does not count for it.
	if res, err := h.e.Skip("pnr", ben, "asked again", "SKIP pnr"); err != nil || res.Count != 1 || res.Satisfied {
		t.Fatalf("a new override: %+v %v", res, err)
	}
	// The gate is confirmed by the two operators instead: the skip is withdrawn with it.
	if _, err := h.e.Confirm("pnr", st.Confirmation.Request, ana, "pnr"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Confirm("pnr", st.Confirmation.Request, ben, "pnr"); err != nil {
		t.Fatal(err)
	}
	st = h.waitStep("pnr", engine.StateSucceeded)
	if st.Override != nil || len(st.OverriddenBy) != 0 {
		t.Fatalf("override %+v, overridden by %v", st.Override, st.OverriddenBy)
	}
	if _, err := h.e.Skip("pnr", ana, "late", "SKIP pnr"); !errors.Is(err, engine.ErrNotAllowed) {
		t.Fatalf("skipping a succeeded gate: %v", err)
	}
	// A skip of the next step, half approved, survives a restart with its approval.
	h.waitStep("refresh", engine.StateAwaiting)
	if _, err := h.e.Skip("refresh", ana, "refreshed in the portal", "SKIP refresh"); err != nil {
		t.Fatal(err)
	}
	h.restart()
	st, _ = h.e.Snapshot().Step("refresh")
	if st.Override == nil || len(st.Override.Approvals) != 1 || st.Override.Approvals[0].Actor.Name != "Ana" {
		t.Fatalf("after a restart: %+v", st.Override)
	}
	if _, err := h.e.Skip("refresh", anaElsewhere(), "", "SKIP refresh"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("the same operator after a restart: %v", err)
	}
	if res, err := h.e.Skip("refresh", ben, "", "SKIP refresh"); err != nil || !res.Satisfied {
		t.Fatalf("%+v %v", res, err)
	}
	h.waitOutcome(engine.OutcomeCompleted)
	if n := h.count(engine.RecOverrideWithdrawn, "pnr"); n != 1 {
		t.Fatalf("%d withdrawals journaled", n)
	}
}

func anaElsewhere() engine.Actor {
	a := ana
	a.Origin = "local terminal"
	return a
}

// TestARunningManualStepCanBeSkipped: a manual step in an operator's hands runs no code, so it can
// be skipped where it stands (the cockpit and the headless prompt offer it); guarded, only with
// its skip phrase. A running command must still be aborted first.
func TestARunningManualStepCanBeSkipped(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: hold, title: Hold batch jobs, kind: manual}
  - {id: aos-stop, title: Stop the AOS by hand, kind: manual, destructive: true, confirm: STOP AOS}
  - {id: cmd, title: C, kind: probe, with: {block: true}}
`).start()
	h.waitStep("hold", engine.StateRunning)
	if _, err := h.e.Skip("hold", ana, "nothing to hold tonight", ""); err != nil {
		t.Fatal(err)
	}
	h.waitStep("hold", engine.StateSkipped)
	st := h.waitStep("aos-stop", engine.StateAwaiting)
	if _, err := h.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("aos-stop", engine.StateRunning)
	if _, err := h.e.Skip("aos-stop", ana, "stopped already", ""); !errors.Is(err, engine.ErrPhraseRequired) {
		t.Fatalf("a guarded manual step skipped without its phrase: %v", err)
	}
	if _, err := h.e.Skip("aos-stop", ana, "stopped already", "SKIP aos-stop"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("aos-stop", engine.StateSkipped)
	h.started("cmd")
	if _, err := h.e.Skip("cmd", ana, "x", ""); !errors.Is(err, engine.ErrNotAllowed) {
		t.Fatalf("skipping a running command: %v", err)
	}
	h.release("cmd", nil)
	h.waitOutcome(engine.OutcomeCompleted)
}

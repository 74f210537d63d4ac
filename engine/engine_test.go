package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cutover/engine"
)

func TestOrderingFollowsDependencies(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: c, title: C, kind: probe, after: b}
  - {id: b, title: B, kind: probe, after: a}
  - {id: a, title: A, kind: probe}
`).start()
	h.waitOutcome(engine.OutcomeCompleted)
	a, b, c := h.seqOf(engine.RecStarted, "a"), h.seqOf(engine.RecStarted, "b"), h.seqOf(engine.RecStarted, "c")
	if !(a < b && b < c) {
		t.Fatalf("start order a=%d b=%d c=%d", a, b, c)
	}
	if h.seqOf(engine.RecSucceeded, "a") > b || h.seqOf(engine.RecSucceeded, "b") > c {
		t.Fatal("a step started before its dependency succeeded")
	}
	if h.seqOf(engine.RecRunFinished, "") == 0 {
		t.Fatal("run.finished not journaled")
	}
}

func TestReadyStepsRunConcurrently(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: a, title: A, kind: probe, with: {block: true}}
  - {id: b, title: B, kind: probe, with: {block: true}}
  - {id: c, title: C, kind: probe, after: [a, b]}
`).start()
	// Both independent steps start while neither has finished.
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case id := <-h.probe.started:
			got[id] = true
		case <-time.After(waitLimit):
			t.Fatalf("only %v started", got)
		}
	}
	if st, _ := h.e.Snapshot().Step("c"); st.State != engine.StatePending {
		t.Fatalf("c is %s before its dependencies finished", st.State)
	}
	h.release("a", nil)
	h.release("b", nil)
	h.waitOutcome(engine.OutcomeCompleted)
}

func TestParallelismAndExclusive(t *testing.T) {
	h := newHarness(t, `name: t
parallelism: 1
steps:
  - {id: a, title: A, kind: probe, with: {block: true}}
  - {id: b, title: B, kind: probe, with: {block: true}}
`).start()
	h.started("a")
	h.release("a", nil)
	h.started("b")
	if h.seqOf(engine.RecStarted, "b") < h.seqOf(engine.RecSucceeded, "a") {
		t.Fatal("parallelism 1 let b start while a ran")
	}
	h.release("b", nil)
	h.waitOutcome(engine.OutcomeCompleted)

	h2 := newHarness(t, `name: t
steps:
  - {id: x, title: X, kind: probe, exclusive: true, with: {block: true}}
  - {id: y, title: Y, kind: probe, with: {block: true}}
  - {id: z, title: Z, kind: probe, with: {block: true}}
`).start()
	h2.started("x")
	h2.release("x", nil)
	h2.started("y")
	h2.started("z")
	if h2.seqOf(engine.RecStarted, "y") < h2.seqOf(engine.RecSucceeded, "x") || h2.seqOf(engine.RecStarted, "z") < h2.seqOf(engine.RecSucceeded, "x") {
		t.Fatal("a step started while an exclusive one ran")
	}
	h2.release("y", nil)
	h2.release("z", nil)
	h2.waitOutcome(engine.OutcomeCompleted)
}

func TestTimeoutFailsTheAttempt(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: slow, title: Slow, kind: probe, timeout: 1m, with: {block: true}}
`).start()
	h.started("slow")
	h.advance(1, time.Minute)
	st := h.waitStep("slow", engine.StateFailed)
	if !strings.Contains(st.LastError, "timed out after 1m") {
		t.Fatalf("error %q", st.LastError)
	}
	h.waitOutcome(engine.OutcomeBlocked)
}

func TestRetriesWithBackoff(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: flaky, title: Flaky, kind: probe, retries: 3, retry_backoff: 10s, with: {fail_times: 2}}
`).start()
	st := h.waitStep("flaky", engine.StateRetrying)
	if want := t0.Add(10 * time.Second); !st.RetryAt.Equal(want) || st.Attempt != 1 {
		t.Fatalf("after attempt 1: retry at %v (want %v), attempt %d", st.RetryAt, want, st.Attempt)
	}
	h.advance(1, 10*time.Second)
	st = h.waitFor("flaky", "a second failure", func(s engine.StepView) bool { return s.State == engine.StateRetrying && s.Attempt == 2 })
	if st.Attempt != 2 || !st.RetryAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after attempt 2: attempt %d retry at %v (backoff must double to 20s)", st.Attempt, st.RetryAt)
	}
	h.advance(1, 20*time.Second)
	st = h.waitStep("flaky", engine.StateSucceeded)
	if st.Attempt != 3 || h.probe.Attempts("flaky") != 3 || st.Message != "probe ok on attempt 3" {
		t.Fatalf("final: attempt %d, ran %d times, message %q", st.Attempt, h.probe.Attempts("flaky"), st.Message)
	}
}

func TestRetriesExhaustedAndPermanent(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: broken, title: B, kind: probe, retries: 1, retry_backoff: 1s, with: {fail_times: 5}}
  - {id: fatal, title: F, kind: probe, retries: 5, with: {fail_times: 1, permanent: true}}
  - {id: after, title: After, kind: probe, after: broken}
`).start()
	h.waitStep("fatal", engine.StateFailed)
	h.waitStep("broken", engine.StateRetrying)
	h.advance(1, time.Second)
	st := h.waitStep("broken", engine.StateFailed)
	if st.Attempt != 2 || st.LastError != "probe failure 2" {
		t.Fatalf("broken: attempt %d error %q", st.Attempt, st.LastError)
	}
	if h.probe.Attempts("fatal") != 1 {
		t.Fatalf("a permanent error must not be retried (ran %d times)", h.probe.Attempts("fatal"))
	}
	h.waitOutcome(engine.OutcomeBlocked)
	if st, _ := h.e.Snapshot().Step("after"); st.State != engine.StatePending {
		t.Fatalf("a step after a failed one is %s", st.State)
	}
}

func TestPauseHoldsNewSteps(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: a, title: A, kind: probe, with: {block: true}}
  - {id: b, title: B, kind: probe, after: a}
`).start()
	h.started("a")
	if err := h.e.Pause(vera, "lunch"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer paused the run: %v", err)
	}
	if err := h.e.Pause(ana, "waiting for the business"); err != nil {
		t.Fatal(err)
	}
	h.release("a", nil) // a running step finishes while paused
	h.waitStep("b", engine.StateReady)
	h.waitOutcome(engine.OutcomePaused)
	if err := h.e.Resume(ben); err != nil {
		t.Fatal(err)
	}
	h.waitOutcome(engine.OutcomeCompleted)
	if h.seqOf(engine.RecStarted, "b") < h.seqOf(engine.RecRunResumed, "") {
		t.Fatal("b started while the run was paused")
	}
}

func TestSkipAndMarkDone(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: fails, title: F, kind: probe, with: {fail_times: 9}}
  - {id: next, title: N, kind: probe, after: fails}
  - {id: hold, title: Hold batch jobs, kind: manual, after: next}
  - {id: later, title: L, kind: probe, after: hold}
  - {id: running, title: R, kind: probe, with: {block: true}}
`).start()
	h.started("running")
	h.waitStep("fails", engine.StateFailed)
	if _, err := h.e.Skip("fails", ana, "", ""); !errors.Is(err, engine.ErrReasonRequired) {
		t.Fatalf("skip without a reason: %v", err)
	}
	if _, err := h.e.Skip("fails", vera, "viewer", ""); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("skip by a viewer: %v", err)
	}
	if _, err := h.e.Skip("running", ana, "x", ""); !errors.Is(err, engine.ErrNotAllowed) {
		t.Fatalf("skipping a running step: %v", err)
	}
	if _, err := h.e.MarkDone("running", ana, "did it by hand", ""); !errors.Is(err, engine.ErrNotAllowed) {
		t.Fatalf("marking a running command done: %v", err)
	}
	if _, err := h.e.Skip("fails", ana, "known issue, fixed by hand", ""); err != nil {
		t.Fatal(err)
	}
	h.waitStep("next", engine.StateSucceeded)
	st := h.waitStep("hold", engine.StateRunning)
	if st.Mode != engine.ModeManual {
		t.Fatalf("manual mode: %v", st.Mode)
	}
	h.waitOutcome(engine.OutcomeRunning)
	if _, err := h.e.MarkDone("hold", vera, "", ""); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer completed a manual step: %v", err)
	}
	if _, err := h.e.MarkDone("hold", ana, "", ""); err != nil {
		t.Fatalf("a manual step is completed without a reason: %v", err)
	}
	st = h.waitStep("hold", engine.StateSucceeded)
	if st.By == nil || st.By.Name != "Ana" || st.ByHand {
		t.Fatalf("manual completion: by %v byHand %v", st.By, st.ByHand)
	}
	h.waitStep("later", engine.StateSucceeded)
	h.release("running", nil)
	h.waitOutcome(engine.OutcomeCompleted)
	sk, _ := h.e.Snapshot().Step("fails")
	if sk.State != engine.StateSkipped || sk.Reason != "known issue, fixed by hand" || sk.By.Name != "Ana" {
		t.Fatalf("skip record: %+v", sk)
	}
}

func TestMarkDoneByHandBeforeItRuns(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: prep, title: Prepare, kind: manual}
  - {id: cmd, title: C, kind: probe, after: prep}
`).start()
	h.waitStep("prep", engine.StateRunning)
	// Not before its dependency is done: the refusal names it and its state, nothing is journaled.
	_, err := h.e.MarkDone("cmd", ana, "ran it from SSMS", "")
	if !errors.Is(err, engine.ErrDependencies) || !strings.Contains(err.Error(), "it waits for prep (running)") {
		t.Fatalf("done by hand before its dependency: %v", err)
	}
	if n := h.count(engine.RecDoneByHand, "cmd"); n != 0 {
		t.Fatalf("%d done-by-hand records for a refused step", n)
	}
	// Paused, prep done: cmd is ready but does not start, and can be marked done instead.
	if err := h.e.Pause(ana, "cmd is run from SSMS tonight"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.MarkDone("prep", ana, "", ""); err != nil {
		t.Fatal(err)
	}
	h.waitStep("cmd", engine.StateReady)
	if _, err := h.e.MarkDone("cmd", ana, "", ""); !errors.Is(err, engine.ErrReasonRequired) {
		t.Fatalf("done by hand needs a reason: %v", err)
	}
	if _, err := h.e.MarkDone("cmd", ana, "ran it from SSMS", ""); err != nil {
		t.Fatal(err)
	}
	st, _ := h.e.Snapshot().Step("cmd")
	if st.State != engine.StateSucceeded || !st.ByHand || st.Reason != "ran it from SSMS" {
		t.Fatalf("%+v", st)
	}
	if err := h.e.Resume(ana); err != nil {
		t.Fatal(err)
	}
	h.waitOutcome(engine.OutcomeCompleted)
	if h.probe.Attempts("cmd") != 0 {
		t.Fatal("a step marked done by hand still ran")
	}
}

func TestConfirmationProtocol(t *testing.T) {
	h := newHarness(t, `name: t
environment: PROD
steps:
  - id: refresh
    title: Refresh production
    kind: probe
    destructive: true
    confirm: REFRESH PRODUCTION
    approvals: 2
`).start()
	st := h.waitStep("refresh", engine.StateAwaiting)
	c := st.Confirmation
	if c == nil || c.Phrase != "REFRESH PRODUCTION" || c.Needed != 2 || c.Request == 0 {
		t.Fatalf("confirmation request %+v", c)
	}
	if h.e.Snapshot().Run.Outcome != engine.OutcomeWaiting {
		t.Fatalf("outcome %s", h.e.Snapshot().Run.Outcome)
	}
	// A wrong phrase is refused and journaled.
	if _, err := h.e.Confirm("refresh", c.Request, ana, "refresh production"); !errors.Is(err, engine.ErrWrongPhrase) {
		t.Fatalf("wrong phrase: %v", err)
	}
	// A viewer is refused, even with the right phrase.
	if _, err := h.e.Confirm("refresh", c.Request, vera, "REFRESH PRODUCTION"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("viewer: %v", err)
	}
	// A stale request id is refused.
	if _, err := h.e.Confirm("refresh", c.Request+100, ana, "REFRESH PRODUCTION"); !errors.Is(err, engine.ErrStaleRequest) {
		t.Fatalf("stale request: %v", err)
	}
	res, err := h.e.Confirm("refresh", c.Request, ana, "  REFRESH PRODUCTION ")
	if err != nil || res.Count != 1 || res.Satisfied {
		t.Fatalf("first approval: %+v %v", res, err)
	}
	// The same operator twice does not make two approvals, even from another terminal.
	anaElsewhere := ana
	anaElsewhere.Origin = "local terminal"
	if _, err := h.e.Confirm("refresh", c.Request, anaElsewhere, "REFRESH PRODUCTION"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("same operator twice: %v", err)
	}
	st, _ = h.e.Snapshot().Step("refresh")
	if st.State != engine.StateAwaiting || len(st.Confirmation.Approvals) != 1 || st.Confirmation.Approvals[0].Actor.Name != "Ana" {
		t.Fatalf("after one approval: %+v", st.Confirmation)
	}
	if h.probe.Attempts("refresh") != 0 {
		t.Fatal("ran with one approval of two")
	}
	res, err = h.e.Confirm("refresh", c.Request, ben, "REFRESH PRODUCTION")
	if err != nil || !res.Satisfied || res.Count != 2 {
		t.Fatalf("second operator: %+v %v", res, err)
	}
	h.started("refresh")
	h.release("refresh", nil)
	st = h.waitStep("refresh", engine.StateSucceeded)
	if len(st.ConfirmedBy) != 2 || st.ConfirmedBy[0].Actor.Fingerprint != "SHA256:ana" || st.ConfirmedBy[1].Actor.Fingerprint != "SHA256:ben" {
		t.Fatalf("confirmed by %+v", st.ConfirmedBy)
	}
	if n := h.count(engine.RecConfirmRefused, "refresh"); n != 3 {
		t.Fatalf("%d refused confirmations journaled, want 3 (wrong phrase, viewer, same operator)", n)
	}
	if h.seqOf(engine.RecStarted, "refresh") < h.seqOf(engine.RecApproved, "refresh") {
		t.Fatal("started before it was approved")
	}
}

func TestDeclineAndRetryAskAgain(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: go, title: Go/no-go, kind: gate, with: {question: "Start the downtime?"}}
  - {id: stop, title: Stop AOS, kind: probe, destructive: true, after: go, with: {fail_times: 1}}
`).start()
	st := h.waitStep("go", engine.StateAwaiting)
	firstRequest := st.Confirmation.Request
	if err := h.e.Decline("go", st.Confirmation.Request, ana, ""); !errors.Is(err, engine.ErrReasonRequired) {
		t.Fatalf("decline without reason: %v", err)
	}
	if err := h.e.Decline("go", st.Confirmation.Request, ana, "batch job still running"); err != nil {
		t.Fatal(err)
	}
	st = h.waitStep("go", engine.StateFailed)
	if !strings.Contains(st.LastError, "no-go from Ana: batch job still running") {
		t.Fatalf("error %q", st.LastError)
	}
	if err := h.e.Retry("go", ana); err != nil {
		t.Fatal(err)
	}
	st2 := h.waitStep("go", engine.StateAwaiting)
	if st2.Confirmation.Request == firstRequest || len(st2.Confirmation.Approvals) != 0 {
		t.Fatalf("a retried gate must ask again with a new request: %+v", st2.Confirmation)
	}
	if _, err := h.e.Confirm("go", st2.Confirmation.Request, ben, "go"); err != nil {
		t.Fatal(err)
	}
	gs := h.waitStep("go", engine.StateSucceeded)
	if gs.By == nil || gs.By.Name != "Ben" {
		t.Fatalf("gate completed by %v", gs.By)
	}
	// The destructive step asks, runs, fails; a retry needs a new confirmation.
	s := h.waitStep("stop", engine.StateAwaiting)
	if _, err := h.e.Confirm("stop", s.Confirmation.Request, ana, "stop"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("stop", engine.StateFailed)
	if err := h.e.Retry("stop", ana); err != nil {
		t.Fatal(err)
	}
	s2 := h.waitStep("stop", engine.StateAwaiting)
	if s2.Confirmation.Request == s.Confirmation.Request {
		t.Fatal("retrying a destructive step must ask for a new confirmation")
	}
	if h.probe.Attempts("stop") != 1 {
		t.Fatal("ran again without confirmation")
	}
	if _, err := h.e.Confirm("stop", s2.Confirmation.Request, ana, "stop"); err != nil {
		t.Fatal(err)
	}
	h.waitOutcome(engine.OutcomeCompleted)
}

func TestAutoConfirmOnlyForRehearsals(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: g, title: G, kind: gate, approvals: 2}\n")
	h.opts.AutoConfirm = true
	if _, err := engine.New(h.rb, engine.Options{StateDir: t.TempDir(), AutoConfirm: true, Kinds: h.reg}); !errors.Is(err, engine.ErrAutoConfirmRefused) {
		t.Fatalf("--yes on a real cutover: %v", err)
	}
	h.src = "name: t\nrehearsal: true\nsteps:\n  - {id: g, title: G, kind: gate, approvals: 2}\n  - {id: m, title: M, kind: manual, after: g}\n  - {id: d, title: D, kind: probe, destructive: true, after: m}\n"
	h.load()
	h.start()
	h.waitOutcome(engine.OutcomeCompleted)
	var auto int
	for _, r := range h.records() {
		var p engine.Approved
		if r.Type == string(engine.RecApproved) && r.Decode(&p) == nil && p.Auto && p.Actor.Role == engine.RoleSystem {
			auto++
		}
	}
	if auto != 2 {
		t.Fatalf("%d automatic approvals journaled, want 2 (the gate and the destructive step)", auto)
	}
}

func TestResumeExactlyAfterRestart(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: a, title: A, kind: probe}
  - {id: b, title: B, kind: probe, approvals: 2, after: a}
  - {id: c, title: C, kind: probe, after: a, retries: 1, retry_backoff: 1h, with: {fail_times: 1}}
  - {id: p, title: P, kind: probe, after: [b, c]}
`).start()
	st := h.waitStep("b", engine.StateAwaiting)
	if _, err := h.e.Confirm("b", st.Confirmation.Request, ana, "b"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("c", engine.StateRetrying)
	if err := h.e.Pause(ana, "shift change"); err != nil {
		t.Fatal(err)
	}
	before := h.e.Snapshot()
	h.restart()
	after := h.e.Snapshot()
	for i := range before.Steps {
		b, a := before.Steps[i], after.Steps[i]
		if a.State != b.State || a.Attempt != b.Attempt || !a.RetryAt.Equal(b.RetryAt) || !a.Finished.Equal(b.Finished) {
			t.Errorf("%s: before %s/%d/%v, after restart %s/%d/%v", a.ID, b.State, b.Attempt, b.RetryAt, a.State, a.Attempt, a.RetryAt)
		}
	}
	if !after.Run.Paused || after.Run.PausedBy.Name != "Ana" || after.Run.Starts != 2 {
		t.Fatalf("run after restart: %+v", after.Run)
	}
	bs, _ := after.Step("b")
	if bs.Confirmation == nil || len(bs.Confirmation.Approvals) != 1 || bs.Confirmation.Approvals[0].Actor.Name != "Ana" {
		t.Fatalf("approvals did not survive the restart: %+v", bs.Confirmation)
	}
	if _, err := h.e.Confirm("b", bs.Confirmation.Request, ana, "b"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("the same operator after a restart: %v", err)
	}
	if err := h.e.Resume(ana); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Confirm("b", bs.Confirmation.Request, ben, "b"); err != nil {
		t.Fatal(err)
	}
	h.waitStep("b", engine.StateSucceeded)
	h.advance(1, time.Hour)
	h.waitOutcome(engine.OutcomeCompleted)
	if h.probe.Attempts("a") != 1 || h.probe.Attempts("b") != 1 || h.probe.Attempts("c") != 2 {
		t.Fatalf("attempts a=%d b=%d c=%d", h.probe.Attempts("a"), h.probe.Attempts("b"), h.probe.Attempts("c"))
	}
}

func TestInterruptedStepsAfterRestart(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: once, title: Not idempotent, kind: probe, with: {block: true}}
  - {id: again, title: Idempotent, kind: probe, idempotent: true, with: {block: true}}
  - {id: check, title: Read-only check, kind: probe, with: {block: true, rerunnable: true}}
  - {id: soak, title: Soak, kind: wait, with: {duration: 10m}}
`).start()
	for _, id := range []string{"once", "again", "check"} {
		h.started(id)
	}
	h.waitStep("soak", engine.StateRunning)
	h.advance(1, 4*time.Minute) // only the wait has a timer
	h.restart()
	once := h.waitStep("once", engine.StateFailed)
	if !strings.Contains(once.LastError, "not idempotent") || !strings.Contains(once.LastError, "mark it done or retry") {
		t.Fatalf("interrupted non-idempotent step: %q", once.LastError)
	}
	for _, id := range []string{"again", "check"} {
		h.started(id)
		h.release(id, nil)
		st := h.waitStep(id, engine.StateSucceeded)
		if st.Attempt != 2 {
			t.Fatalf("%s re-ran as attempt %d", id, st.Attempt)
		}
	}
	if h.probe.Attempts("once") != 1 {
		t.Fatal("the non-idempotent step ran twice")
	}
	// The wait keeps its deadline: 6 more minutes, not 10.
	h.advance(1, 6*time.Minute)
	soak := h.waitStep("soak", engine.StateSucceeded)
	if !soak.Finished.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("wait finished at %v, want the original deadline", soak.Finished)
	}
	// The operator checks what the interrupted step did and marks it done.
	if _, err := h.e.MarkDone("once", ana, "checked: it completed", ""); err != nil {
		t.Fatal(err)
	}
	h.waitOutcome(engine.OutcomeCompleted)
}

func TestAbort(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: long, title: L, kind: probe, retries: 3, with: {block: true}}
`).start()
	h.started("long")
	if err := h.e.Abort("long", ana, ""); !errors.Is(err, engine.ErrReasonRequired) {
		t.Fatal(err)
	}
	if err := h.e.Abort("long", ana, "wrong server"); err != nil {
		t.Fatal(err)
	}
	st := h.waitStep("long", engine.StateFailed)
	if st.LastError != "aborted by Ana: wrong server" || st.By == nil || st.By.Name != "Ana" {
		t.Fatalf("%+v", st)
	}
	if h.probe.Attempts("long") != 1 {
		t.Fatal("an aborted step was retried")
	}
}

func TestSubscribeHasNoGap(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: a, title: A, kind: probe, with: {block: true}}
`).start()
	h.started("a")
	snap, events := h.e.Subscribe(t.Context())
	h.release("a", nil)
	for ev := range events {
		if sc, ok := ev.(engine.StepChanged); ok {
			if sc.Seq <= snap.Seq {
				t.Fatalf("event %d is already in the snapshot (seq %d)", sc.Seq, snap.Seq)
			}
			if sc.Step.State == engine.StateSucceeded {
				return
			}
		}
	}
	t.Fatal("stream ended")
}

func TestRunbookChangesAcrossRestarts(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: a, title: A, kind: probe}\n  - {id: b, title: B, kind: gate, after: a}\n").start()
	h.waitStep("b", engine.StateAwaiting)
	h.stop()
	// A fix to a title is fine and journaled.
	h.src = strings.Replace(h.src, "title: B", "title: Bee", 1)
	h.load()
	h.start()
	if h.seqOf(engine.RecRunbookChanged, "") == 0 {
		t.Fatal("runbook change not journaled")
	}
	h.stop()
	// Removing a step the journal knows is refused with an explanation.
	h.src = "name: t\nsteps:\n  - {id: b, title: B, kind: gate}\n"
	h.load()
	e, err := engine.New(h.rb, engine.Options{StateDir: h.dir + "/state", Clock: h.clk, Kinds: h.reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err == nil || !strings.Contains(err.Error(), `names step "a", which the runbook no longer has`) {
		t.Fatalf("open with a removed step: %v", err)
	}
}

func TestActionsOnUnknownSteps(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: a, title: A, kind: manual}\n").start()
	if _, err := h.e.Skip("nope", ana, "x", ""); !errors.Is(err, engine.ErrNoSuchStep) {
		t.Fatal(err)
	}
	if _, err := h.e.Confirm("a", 0, ana, "a"); !errors.Is(err, engine.ErrNotAwaiting) {
		t.Fatal(err)
	}
	if err := h.e.Retry("a", ana); !errors.Is(err, engine.ErrNotAllowed) {
		t.Fatal(err)
	}
}

// TestAutoConfirmAnswersWhatACrashLeftOpen: a rehearsal stopped right after a confirmation was
// requested, or a manual step started, must not wait forever when resumed with --yes.
func TestAutoConfirmAnswersWhatACrashLeftOpen(t *testing.T) {
	h := newHarness(t, `name: t
rehearsal: true
steps:
  - {id: g, title: G, kind: gate, approvals: 2}
  - {id: m, title: M, kind: manual}
`).start()
	h.waitStep("g", engine.StateAwaiting)
	h.waitStep("m", engine.StateRunning)
	h.stop()
	h.opts.AutoConfirm = true
	h.start()
	h.waitOutcome(engine.OutcomeCompleted)
	if n := h.count(engine.RecAwaiting, "g"); n != 1 {
		t.Fatalf("the open request must be answered, not re-asked (%d requests)", n)
	}
}

func TestPreviewIsShownWithTheConfirmation(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: aos-stop, title: Stop the AOS, kind: probe, destructive: true, with: {preview: "still connected: ana on PC-042, ben on PC-007"}}
`).start()
	st := h.waitStep("aos-stop", engine.StateAwaiting)
	if !strings.Contains(st.Confirmation.Action, "probe\nstill connected: ana on PC-042") {
		t.Fatalf("action %q", st.Confirmation.Action)
	}
	for _, r := range h.records() {
		var p engine.Awaiting
		if r.Type == string(engine.RecAwaiting) && r.Decode(&p) == nil && !strings.Contains(p.Action, "PC-007") {
			t.Fatalf("the preview must be journaled with the request: %q", p.Action)
		}
	}
}

// TestHoldsLetOneOperatorDriveAStep: while one operator confirms a two-approval step, another
// cannot hold or confirm it; the hold is published; an approval releases it, and the second
// operator then confirms in turn.
func TestHoldsLetOneOperatorDriveAStep(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: go, title: Go, kind: gate, approvals: 2, confirm: GO LIVE}\n")
	h.start()
	h.waitStep("go", engine.StateAwaiting)
	ana := engine.Actor{Name: "ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	ben := engine.Actor{Name: "ben", Origin: "ssh", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	vic := engine.Actor{Name: "vic", Origin: "ssh", Fingerprint: "SHA256:vic", Role: engine.RoleViewer}
	if err := h.e.Hold("go", vic); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer held a step: %v", err)
	}
	if err := h.e.Hold("go", ana); err != nil {
		t.Fatal(err)
	}
	st := h.waitFor("go", "held by ana", func(s engine.StepView) bool {
		return s.Confirmation != nil && s.Confirmation.HeldBy != nil && s.Confirmation.HeldBy.Actor.Name == "ana"
	})
	if st.State != engine.StateAwaiting {
		t.Fatal(st.State)
	}
	if err := h.e.Hold("go", ben); !errors.Is(err, engine.ErrHeld) || !strings.Contains(err.Error(), "ana") {
		t.Fatalf("ben took ana's hold: %v", err)
	}
	if _, err := h.e.Confirm("go", 0, ben, "GO LIVE"); !errors.Is(err, engine.ErrHeld) {
		t.Fatalf("ben confirmed while ana holds the step: %v", err)
	}
	res, err := h.e.Confirm("go", 0, ana, "GO LIVE")
	if err != nil || res.Count != 1 || res.Satisfied {
		t.Fatalf("ana's approval: %+v %v", res, err)
	}
	if s, _ := h.e.Snapshot().Step("go"); s.Confirmation == nil || s.Confirmation.HeldBy != nil {
		t.Fatal("an approval releases the hold")
	}
	if err := h.e.Hold("go", ben); err != nil {
		t.Fatalf("ben holds it next: %v", err)
	}
	h.e.ReleaseAll(ben)
	if s, _ := h.e.Snapshot().Step("go"); s.Confirmation.HeldBy != nil {
		t.Fatal("ReleaseAll frees ben's hold")
	}
	if res, err := h.e.Confirm("go", 0, ben, "GO LIVE"); err != nil || !res.Satisfied {
		t.Fatalf("ben's approval: %+v %v", res, err)
	}
	h.waitStep("go", engine.StateSucceeded)
	if n := h.count(engine.RecConfirmRefused, "go"); n != 1 {
		t.Fatalf("%d refusals journaled, want ben's attempt while ana held the step", n)
	}
}

package engine_test

import (
	"strings"
	"testing"
	"time"

	"cutover/engine"
)

// TestWaitUntilATime: a wait with `until:` ends when the clock reaches that moment (given in any
// zone), not before and not a duration after the start; a restart keeps the moment; a moment
// already past ends the wait at once.
func TestWaitUntilATime(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: planned, title: Planned start, kind: wait, with: {until: "2026-12-05T20:30:00+01:00"}}
  - {id: next, title: Next, kind: probe, after: planned}
  - {id: late, title: Already past, kind: wait, with: {until: "2026-12-05T17:00:00Z"}}
`).start()
	deadline := time.Date(2026, 12, 5, 19, 30, 0, 0, time.UTC) // t0 + 90 minutes
	late := h.waitStep("late", engine.StateSucceeded)
	if !late.Finished.Equal(t0) {
		t.Fatalf("a wait for a moment already past finished at %v, not at once (%v)", late.Finished, t0)
	}
	st := h.waitStep("planned", engine.StateRunning)
	if st.Action != "wait until 2026-12-05 20:30 +0100" {
		t.Fatalf("action %q", st.Action)
	}
	h.advance(1, 89*time.Minute)
	if got := h.state("planned"); got != engine.StateRunning || h.clk.Pending() != 1 {
		t.Fatalf("a minute before the moment the wait is %s with %d timers", got, h.clk.Pending())
	}
	h.restart()
	h.advance(1, time.Minute)
	st = h.waitStep("planned", engine.StateSucceeded)
	if !st.Finished.Equal(deadline) || st.Attempt != 1 {
		t.Fatalf("finished at %v in attempt %d, want %v in attempt 1", st.Finished, st.Attempt, deadline)
	}
	if want := "waited until " + deadline.Local().Format("15:04:05"); st.Message != want {
		t.Fatalf("message %q, want %q", st.Message, want)
	}
	h.started("next")
	// The moment was journaled (in UTC) before waiting, which is what the restart resumed from.
	var journaled []string
	for _, r := range h.records() {
		var p engine.External
		if r.Type == string(engine.RecExternal) && r.Step == "planned" && r.Decode(&p) == nil {
			journaled = append(journaled, p.Ref["deadline"])
		}
	}
	if len(journaled) != 1 || journaled[0] != "2026-12-05T19:30:00Z" {
		t.Fatalf("journaled deadlines %v", journaled)
	}
	if !hasStepLog(h, "planned", "still waiting until") {
		t.Fatal("the restart did not resume the wait")
	}
}

// TestWaitUntilNeedsAZone: a moment without a zone is ambiguous across a cutover's time zones and
// is refused, as is giving both a duration and a moment.
func TestWaitUntilNeedsAZone(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: a, title: A, kind: wait, with: {duration: 1m}}\n")
	h.src = `name: t
steps:
  - {id: a, title: A, kind: wait, with: {until: "2026-12-05 20:30"}}
  - {id: b, title: B, kind: wait, with: {until: "2026-12-05T20:30:00Z", duration: 10m}}
`
	_, err := loadErr(h)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{`"2026-12-05 20:30" is not a time like`, "give exactly one of duration or until"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q is not reported:\n%s", want, msg)
		}
	}
}

// hasStepLog reports whether the step logged a line containing text.
func hasStepLog(h *harness, step, text string) bool {
	for _, l := range h.e.Logs(engine.DefaultLogRing, step) {
		if strings.Contains(l.Msg, text) {
			return true
		}
	}
	return false
}

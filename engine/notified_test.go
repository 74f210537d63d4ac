package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cutover/engine"
)

const notifyRunbook = `
name: notify
downtime: {budget: 2h, begins_with: stop, point_of_no_return: refresh}
steps:
  - {id: prep, title: Prepare, phase: Before, kind: manual}
  - {id: stop, title: Stop, phase: Shutdown, kind: manual, after: prep}
  - {id: refresh, title: Refresh, phase: Refresh, kind: manual, after: stop}
`

// A delivery's outcome is journaled, shown in the log, and remembered across a restart, so the
// milestone is not sent to that target again; another target still gets it.
func TestNotifyDeliveryIsJournaledAndReplayed(t *testing.T) {
	h := newHarness(t, notifyRunbook).start()
	d := engine.NotifyDelivery{Milestone: "run.completed", Event: "run.completed", Target: "ops", Format: "teams", Title: "cutover completed", Tries: 1}
	if h.e.Notified(d.Milestone, "ops") {
		t.Fatal("notified before anything was sent")
	}
	if err := h.e.RecordDelivery(d, true); err != nil {
		t.Fatal(err)
	}
	f := engine.NotifyDelivery{Milestone: "step.failed/stop/1", Event: "step.failed", Target: "pm", Format: "slack", Title: "step stop failed", Tries: 5, Error: "connection refused"}
	if err := h.e.RecordDelivery(f, false); err != nil {
		t.Fatal(err)
	}
	if err := h.e.RecordDelivery(engine.NotifyDelivery{Event: "x", Target: "ops"}, true); err == nil {
		t.Error("a delivery without a milestone was journaled")
	}
	var sent, failed bool
	for _, l := range h.e.Logs(100, "") {
		sent = sent || (strings.Contains(l.Msg, `notify ops (teams): sent "cutover completed" (1 try)`) && l.Level == engine.LevelInfo)
		failed = failed || (strings.Contains(l.Msg, "notify pm (slack): FAILED after 5 tries: connection refused") && l.Level == engine.LevelWarn)
	}
	if !sent || !failed {
		t.Fatalf("the log does not show both deliveries: %v", h.e.Logs(100, ""))
	}
	h.restart()
	if !h.e.Notified("run.completed", "ops") || !h.e.Notified("step.failed/stop/1", "pm") {
		t.Error("a restarted engine forgot the journaled deliveries")
	}
	if h.e.Notified("run.completed", "pm") {
		t.Error("a delivery to one target counted for another")
	}
	e := h.e
	h.stop()
	if err := e.RecordDelivery(d, true); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("recording on a stopped engine: %v, want ErrClosed", err)
	}
}

// The downtime clock begins when begins_with first starts, not while it waits for its
// confirmation, and stops with the run; the phase is the awaiting, failed, running… step's.
func TestSnapshotDowntimeAndPhase(t *testing.T) {
	h := newHarness(t, notifyRunbook).start()
	h.waitStep("prep", engine.StateRunning)
	snap := h.e.Snapshot()
	if dt := snap.Downtime(t0.Add(time.Hour)); !dt.Began.IsZero() || dt.Budget != 2*time.Hour || dt.Elapsed != 0 {
		t.Errorf("before the stop: %+v", dt)
	}
	if p := snap.Phase(); p != "Before" {
		t.Errorf("phase %q, want Before", p)
	}
	// Ten minutes later prep is done, and stop starts then: the clock moves before the step that
	// begins the downtime can start, never while it may be starting.
	h.clk.Advance(10 * time.Minute)
	if _, err := h.e.MarkDone("prep", engine.LocalOperator("ana", ""), "done", ""); err != nil {
		t.Fatal(err)
	}
	h.waitStep("stop", engine.StateRunning)
	snap = h.e.Snapshot()
	dt := snap.Downtime(t0.Add(3 * time.Hour))
	if !dt.Began.Equal(t0.Add(10*time.Minute)) || dt.Elapsed != 2*time.Hour+50*time.Minute || !dt.Over() {
		t.Errorf("after the stop started: %+v (over %v)", dt, dt.Over())
	}
	if p := snap.Phase(); p != "Shutdown" {
		t.Errorf("phase %q, want Shutdown", p)
	}
	if (engine.Snapshot{}).Downtime(t0) != (engine.DowntimeView{}) {
		t.Error("no downtime block: not the zero view")
	}
}

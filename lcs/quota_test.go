package lcs_test

import (
	"strings"
	"testing"
	"time"

	"cutover/lcs"
	"cutover/lcs/sim"
)

// TestQuotaExhausted: with two database operations earlier today, a third refresh is accepted
// and the fourth is refused by LCS; the error names the next slot, which agrees with the
// client-side quota computed from history.
func TestQuotaExhausted(t *testing.T) {
	r := newRig(t, sim.Options{})
	// Earlier today, in the portal: a refresh 20 h ago and an export 3 h ago.
	for _, h := range []sim.HistoryEntry{
		{Name: "Refresh database", Type: sim.TypeRefreshSandbox, TypeDisplay: "Refresh database", Start: t0.Add(-20 * time.Hour), End: t0.Add(-18 * time.Hour)},
		{Name: "Export database", Type: sim.TypeExportSandbox, TypeDisplay: "Export database", Start: t0.Add(-3 * time.Hour), End: t0.Add(-2 * time.Hour)},
		{Name: "Main_2026.3.1.1", Type: sim.TypeApplicationUpdate, TypeDisplay: "Application deployable package", Start: t0.Add(-time.Hour), End: t0.Add(-30 * time.Minute)},
	} {
		if err := r.sim.AddHistory(sim.UATSandboxID, h); err != nil {
			t.Fatal(err)
		}
	}
	c := r.client(nil)
	cx := ctx(t)
	if _, err := c.Environments(cx); err != nil { // so errors can name environments
		t.Fatal(err)
	}
	q, err := c.DatabaseMovementQuota(cx, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	if q.Used != 2 || q.Remaining != 1 || !q.NextSlot.IsZero() {
		t.Fatalf("quota before = %+v", q)
	}
	op, err := c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatalf("third operation: %v", err)
	}
	if _, err := c.WaitOperation(cx, op, 15*time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	q, err = c.DatabaseMovementQuota(cx, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	wantSlot := t0.Add(-20 * time.Hour).Add(24 * time.Hour)
	if q.Used != 3 || q.Remaining != 0 || !q.NextSlot.Equal(wantSlot) {
		t.Fatalf("quota after = %+v, want next slot %v", q, wantSlot)
	}

	_, err = c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	e := apiErr(t, r.saw(err), lcs.ErrQuotaExhausted)
	if !strings.Contains(e.Message, "Maximum allowed API operations are 3 from") {
		t.Errorf("message = %q", e.Message)
	}
	want := "3 database operations already started in the last 24 h for environment " + sim.UATSandboxName
	if !strings.Contains(e.Hint, want) || !strings.Contains(e.Hint, wantSlot.Format(time.RFC3339)) || !e.RetryAt.Equal(wantSlot) {
		t.Fatalf("hint = %q, RetryAt %v; want %q and %v", e.Hint, e.RetryAt, want, wantSlot)
	}
	if got := r.sim.RefreshesStarted(sim.UATSandboxID); got != 1 {
		t.Fatalf("refreshes started = %d, want 1", got)
	}
	// Once the oldest leaves the window, a slot is free again.
	r.clock.Advance(wantSlot.Sub(r.clock.Now()) + time.Second)
	if q, err = c.DatabaseMovementQuota(cx, sim.UATSandboxID); err != nil || q.Remaining != 1 {
		t.Fatalf("quota after the slot opened = %+v, %v", q, err)
	}
	if _, err := c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID); err != nil {
		t.Fatalf("refresh after the slot opened: %v", err)
	}
}

// TestComputeQuota checks the counting rules without a server.
func TestComputeQuota(t *testing.T) {
	now := t0
	h := []lcs.HistoryEntry{
		{Type: "SFSourceDbToSandbox", Start: now.Add(-time.Hour), ActivityID: "a"},
		{Type: "SFSourceDbToSandbox", Start: now.Add(-time.Hour), ActivityID: "a"}, // duplicate row
		{Type: "SomethingNew", TypeDisplay: "Export database", Start: now.Add(-2 * time.Hour), ActivityID: "b"},
		{Type: "SFApplicationHotfix", Start: now.Add(-3 * time.Hour), ActivityID: "c"},
		{Type: "SFExportSandboxDb", Start: now.Add(-25 * time.Hour), ActivityID: "d"},                     // outside
		{Type: "SFSourceDbToSandbox", Start: now.Add(-23 * time.Hour), ActivityID: "e", Status: "Failed"}, // failed ones count
	}
	q := lcs.ComputeQuota("env", h, now, nil)
	if q.Used != 3 || q.Remaining != 0 || !q.NextSlot.Equal(now.Add(time.Hour)) {
		t.Fatalf("quota = %+v", q)
	}
	if q.Counted[0].ActivityID != "e" {
		t.Errorf("counted not oldest first: %+v", q.Counted)
	}
	q = lcs.ComputeQuota("env", h, now, []string{"SFSourceDbToSandbox"})
	if q.Used != 2 || q.Remaining != 1 {
		t.Fatalf("custom types quota = %+v", q)
	}
	// Five operations (more than the limit, e.g. portal ones): the slot opens when the third
	// newest leaves.
	var five []lcs.HistoryEntry
	for i := 1; i <= 5; i++ {
		five = append(five, lcs.HistoryEntry{Type: "SFExportSandboxDb", Start: now.Add(-time.Duration(i) * time.Hour)})
	}
	q = lcs.ComputeQuota("env", five, now, nil)
	if q.Used != 5 || !q.NextSlot.Equal(now.Add(-3*time.Hour).Add(24*time.Hour)) {
		t.Fatalf("five ops: %+v", q)
	}
}

// TestProductionRefresh: a production target is refused by LCS with the portal steps; once the
// client has seen the metadata it refuses locally; a refresh started in the portal is followed.
func TestProductionRefresh(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(nil)
	cx := ctx(t)
	_, err := c.RefreshDatabase(cx, sim.SandboxID, sim.ProductionID)
	e := apiErr(t, r.saw(err), lcs.ErrProductionRefreshUnsupported)
	if !strings.Contains(e.Hint, "LCS portal (production environment → Maintain → Move database → Refresh database)") {
		t.Fatalf("hint = %q", e.Hint)
	}
	if r.sim.RefreshesStarted(sim.ProductionID) != 0 || r.sim.Requests(sim.EndpointRefresh) != 1 {
		t.Fatal("production refresh reached the simulator wrongly")
	}
	if _, err := c.Environments(cx); err != nil {
		t.Fatal(err)
	}
	_, err = c.RefreshDatabase(cx, sim.SandboxID, sim.ProductionID)
	apiErr(t, r.saw(err), lcs.ErrProductionRefreshUnsupported)
	if got := r.sim.Requests(sim.EndpointRefresh); got != 1 {
		t.Fatalf("refresh requests = %d: the known production target was sent to LCS", got)
	}

	// The operator starts it in the portal; the cockpit follows it.
	id, err := r.sim.StartPortalRefresh(sim.SandboxID, sim.ProductionID)
	if err != nil {
		t.Fatal(err)
	}
	var seen []lcs.OperationStatus
	final, err := c.WaitOperation(cx, lcs.Operation{Kind: lcs.OperationRefresh, ActivityID: id, EnvironmentID: sim.ProductionID}, 10*time.Minute,
		func(res lcs.OperationResult) { seen = append(seen, res.Status) })
	if err != nil || final.Status != lcs.StatusCompleted {
		t.Fatalf("portal refresh = %+v, %v", final, err)
	}
	if seen[0] != lcs.StatusNotStarted || seen[1] != lcs.StatusInProgress {
		t.Errorf("statuses seen = %v", seen)
	}
	q, err := c.DatabaseMovementQuota(cx, sim.ProductionID)
	if err != nil || q.Used != 1 {
		t.Fatalf("production quota = %+v, %v", q, err)
	}
	if err := r.sim.SignOff(id); err != nil {
		t.Fatal(err)
	}
	if st, err := c.OperationStatus(cx, sim.ProductionID, id); err != nil || st.Status != lcs.StatusSignedOff {
		t.Fatalf("after sign-off = %+v, %v", st, err)
	}
}

// TestOutcomes: failed refreshes, rollbacks and statuses the client does not know.
func TestOutcomes(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(nil)
	cx := ctx(t)

	r.sim.SetOutcome(sim.OutcomeRollbackCompleted)
	op, err := c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	var seen []lcs.OperationStatus
	final, err := c.WaitOperation(cx, op, 10*time.Minute, func(res lcs.OperationResult) {
		if len(seen) == 0 || seen[len(seen)-1] != res.Status {
			seen = append(seen, res.Status)
		}
	})
	if err != nil || final.Status != lcs.StatusRollbackCompleted {
		t.Fatalf("rollback outcome = %+v, %v", final, err)
	}
	want := []lcs.OperationStatus{lcs.StatusNotStarted, lcs.StatusInProgress, lcs.StatusRollbackInProgress, lcs.StatusRollbackCompleted}
	if len(seen) != len(want) {
		t.Fatalf("statuses = %v, want %v", seen, want)
	}

	r.sim.SetOutcome(sim.OutcomeFailed)
	op, err = c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	final, err = c.WaitOperation(cx, op, 10*time.Minute, nil)
	if err != nil || final.Status != lcs.StatusFailed || final.Status.Succeeded() {
		t.Fatalf("failed outcome = %+v, %v", final, err)
	}
	if err := r.sim.StartRollback(op.ActivityID); err != nil {
		t.Fatal(err)
	}
	if final, err = c.WaitOperation(cx, op, 10*time.Minute, nil); err != nil || final.Status != lcs.StatusRollbackCompleted {
		t.Fatalf("operator rollback = %+v, %v", final, err)
	}

	// Transient refusals during a long poll are retried, with warnings.
	r.sim.SetOutcome(sim.OutcomeCompleted)
	r.clock.Advance(25 * time.Hour)
	op, err = c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	polls := 0
	final, err = c.WaitOperation(cx, op, 10*time.Minute, func(lcs.OperationResult) {
		polls++
		if polls == 2 {
			r.sim.RejectNext(2, "An error occurred. Try again later.")
		}
	})
	if err != nil || final.Status != lcs.StatusCompleted {
		t.Fatalf("poll across refusals = %+v, %v", final, err)
	}
	if n := len(r.warningsOf(lcs.WarnPollFailed)); n != 2 {
		t.Fatalf("poll-failed warnings = %d, want 2", n)
	}

	// A status LCS may add one day keeps the loop going, with one warning.
	r.clock.Advance(25 * time.Hour) // a fresh quota window
	op, err = c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sim.OverrideStatus(op.ActivityID, "PreServicing"); err != nil {
		t.Fatal(err)
	}
	polls = 0
	final, err = c.WaitOperation(cx, op, 10*time.Minute, func(res lcs.OperationResult) {
		polls++
		if res.Status.Known() != (res.Status != "PreServicing") {
			t.Errorf("Known(%q) wrong", res.Status)
		}
		if polls == 4 {
			_ = r.sim.OverrideStatus(op.ActivityID, "")
		}
	})
	if err != nil || final.Status != lcs.StatusCompleted {
		t.Fatalf("after an unknown status = %+v, %v", final, err)
	}
	if n := len(r.warningsOf(lcs.WarnUnknownStatus)); n != 1 {
		t.Fatalf("unknown-status warnings = %d, want 1", n)
	}
}

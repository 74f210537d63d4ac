package lcs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cutover/lcs"
	"cutover/lcs/sim"
)

// TestEndpoints drives every endpoint against the simulator over HTTPS.
func TestEndpoints(t *testing.T) {
	r := newRig(t, sim.Options{PageSize: 2})
	c := r.client(nil)
	cx := ctx(t)

	envs, err := c.Environments(cx)
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != 3 {
		t.Fatalf("got %d environments, want 3 (two pages)", len(envs))
	}
	if got := r.sim.Requests(sim.EndpointMetadata); got != 2 {
		t.Errorf("metadata requests = %d, want 2 (pages 1 and 2)", got)
	}
	byID := map[string]lcs.Environment{}
	for _, e := range envs {
		byID[lcs.NormalizeID(e.ID)] = e
	}
	prod := byID[sim.ProductionID]
	if prod.ID == sim.ProductionID {
		t.Errorf("production's id is served dashed (%s); the documented example writes it undashed", prod.ID)
	}
	if prod.Name != sim.ProductionName || prod.Type != lcs.EnvironmentProduction || prod.Infrastructure != "SelfService" || prod.ProjectID != sim.DefaultProjectID {
		t.Errorf("production metadata = %+v", prod)
	}
	if sb := byID[sim.SandboxID]; sb.Type != lcs.EnvironmentSandbox || sb.DeploymentStatus != lcs.DeploymentDeployed || sb.DeployedOn.IsZero() {
		t.Errorf("sandbox metadata = %+v", sb)
	}

	one, err := c.Environment(cx, sim.UATSandboxID)
	if err != nil || one.Name != sim.UATSandboxName {
		t.Fatalf("Environment(UAT) = %+v, %v", one, err)
	}
	named, err := c.EnvironmentByName(cx, sim.SandboxName)
	if err != nil || named.ID != sim.SandboxID {
		t.Fatalf("EnvironmentByName = %+v, %v", named, err)
	}
	_, err = c.EnvironmentByName(cx, "NO-SUCH-ENV")
	apiErr(t, r.saw(err), lcs.ErrNotFound)

	// The toolkit-driven sandbox state shows through metadata.
	r.sim.SetSandboxState(sim.StateDataUpgradeInProgress)
	sb, err := c.Environment(cx, sim.SandboxID)
	if err != nil || sb.DeploymentStatus != lcs.DeploymentDataUpgradeInProgress || sb.DeploymentState != "Finished" {
		t.Fatalf("sandbox during data upgrade = %q/%q, %v", sb.DeploymentStatus, sb.DeploymentState, err)
	}
	r.sim.SetSandboxStateSource(stateFunc(func() string { return sim.StateReplicationCompleted }))
	r.clock.Advance(time.Minute) // stay under the metadata quota without waiting
	sb, err = c.Environment(cx, sim.SandboxID)
	if err != nil || sb.DeploymentStatus != lcs.DeploymentReplicationCompleted {
		t.Fatalf("sandbox state from source = %q, %v", sb.DeploymentStatus, err)
	}

	hist, err := c.EnvironmentHistory(cx, sim.SandboxID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].Type != "SFSourceDbToSandbox" || hist[0].Status != lcs.StatusCompleted || hist[0].Start.IsZero() || hist[0].End.IsZero() {
		t.Fatalf("history = %+v", hist)
	}
	if !hist[0].Start.After(hist[1].Start) {
		t.Errorf("history is not newest first: %v then %v", hist[0].Start, hist[1].Start)
	}

	backups, err := c.DatabaseBackups(cx)
	if err != nil || len(backups) != 1 || backups[0].Name != "AX2012-upgrade-baseline" || !strings.Contains(backups[0].FileLocation, "sig=") {
		t.Fatalf("backups = %+v, %v", backups, err)
	}

	// Refresh UPGRADE → UAT and follow it on the TARGET.
	op, err := c.RefreshDatabase(cx, sim.SandboxID, sim.UATSandboxID)
	if err != nil {
		t.Fatal(err)
	}
	if op.Kind != lcs.OperationRefresh || op.EnvironmentID != sim.UATSandboxID || op.ActivityID == "" {
		t.Fatalf("operation = %+v", op)
	}
	st, err := c.Status(cx, op)
	if err != nil || st.Status != lcs.StatusNotStarted || !st.CompletionDate.IsZero() {
		t.Fatalf("status at start = %+v, %v", st, err)
	}
	r.clock.Advance(2 * time.Minute)
	if st, err = c.Status(cx, op); err != nil || st.Status != lcs.StatusInProgress {
		t.Fatalf("status after 2 min = %+v, %v", st, err)
	}
	r.clock.Advance(3 * time.Hour)
	if st, err = c.Status(cx, op); err != nil || st.Status != lcs.StatusCompleted || st.CompletionDate.IsZero() || !st.Status.IsTerminal() {
		t.Fatalf("status after 3 h = %+v, %v", st, err)
	}
	// Asking with the source environment's id is an error: a refresh is followed on its target.
	_, err = c.OperationStatus(cx, sim.SandboxID, op.ActivityID)
	apiErr(t, r.saw(err), lcs.ErrRejected)

	// Export the UAT sandbox; the backup appears once the export completes.
	exp, err := c.ExportDatabase(cx, sim.UATSandboxID, "uat-after-refresh")
	if err != nil || exp.Kind != lcs.OperationExport {
		t.Fatalf("export = %+v, %v", exp, err)
	}
	final, err := c.WaitOperation(cx, exp, 10*time.Minute, nil)
	if err != nil || final.Status != lcs.StatusCompleted {
		t.Fatalf("export final = %+v, %v", final, err)
	}
	backups, err = c.DatabaseBackups(cx)
	if err != nil || len(backups) != 2 {
		t.Fatalf("backups after export = %+v, %v", backups, err)
	}

	// Deployment status.
	dep, err := r.sim.StartDeployment(sim.SandboxID, "Main_2026.3.1.1")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.DeploymentStatus(cx, sim.SandboxID, dep)
	if err != nil || ds.Status != lcs.StatusNotStarted {
		t.Fatalf("deployment status = %+v, %v", ds, err)
	}
	r.clock.Advance(2 * time.Hour)
	ds, err = c.Status(cx, lcs.Operation{Kind: lcs.OperationDeployment, EnvironmentID: sim.SandboxID, ActivityID: dep})
	if err != nil || ds.Status != lcs.StatusCompleted {
		t.Fatalf("deployment status later = %+v, %v", ds, err)
	}

	if s := r.sim.Stats(); s.BadHeaders != 0 || s.Throttled != 0 || s.Unauthorized != 0 {
		t.Errorf("sim saw %d requests with missing headers, %d throttled, %d unauthorized", s.BadHeaders, s.Throttled, s.Unauthorized)
	}
}

type stateFunc func() string

func (f stateFunc) SandboxState() string { return f() }

// TestEnvelopeFailure: HTTP 200 with IsSuccess false is an error carrying LCS's message and
// activity id.
func TestEnvelopeFailure(t *testing.T) {
	r := newRig(t, sim.Options{})
	c := r.client(nil)
	r.sim.RejectNext(1, "The environment is in a state that does not allow this operation.")
	_, err := c.DatabaseBackups(ctx(t))
	e := apiErr(t, r.saw(err), lcs.ErrRejected)
	if e.HTTPStatus != 200 || e.ActivityID == "" || e.RequestID == "" || !strings.Contains(e.Error(), "does not allow this operation") || e.Hint == "" {
		t.Fatalf("APIError = %+v", e)
	}
	// A refused POST says nothing was started.
	r.sim.RejectNext(1, "Source and target are on different application releases.")
	_, err = c.RefreshDatabase(ctx(t), sim.SandboxID, sim.UATSandboxID)
	e = apiErr(t, r.saw(err), lcs.ErrRejected)
	if errors.Is(err, lcs.ErrOutcomeUnknown) || !strings.Contains(e.Hint, "nothing was started") {
		t.Fatalf("refused refresh: %v", err)
	}
	if got := r.sim.RefreshesStarted(sim.UATSandboxID); got != 0 {
		t.Fatalf("refreshes started = %d", got)
	}
}

package adapter_test

import (
	"context"
	"cutover/demo"
	"cutover/engine"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"strings"
	"testing"
	"time"
)

// withDowntime gives the runbook a downtime section starting at start.
func withDowntime(start time.Time) simRunOption {
	return func(_ *simRun, src *string) {
		*src = strings.Replace(*src, "\nsteps:\n", "\ndowntime:\n  start: "+start.Format(time.RFC3339)+"\n  budget: 12h\nsteps:\n", 1)
	}
}

// stepLog is a step's log, one line per entry.
func (r *simRun) stepLog(id string) string {
	var b strings.Builder
	for _, l := range r.e.Logs(1000, id) {
		b.WriteString(l.Msg + "\n")
	}
	return b.String()
}

var operatorAna = engine.Actor{Name: "Ana", Origin: "test", Role: engine.RoleOperator}

// go releases a gate step (a manual step the next check waits for).
func (r *simRun) release(gate string) {
	r.t.Helper()
	r.until(time.Second, gate+" running", func() bool { return r.step(gate).State == engine.StateRunning })
	if _, err := r.e.MarkDone(gate, operatorAna, "", ""); err != nil {
		r.t.Fatal(err)
	}
}

// TestRefreshCheckOnTheSimulator: the refresh conditions compared by the real LCS client over
// HTTPS against lcs/sim, the engine running lcs.refresh-check: they hold; the portal-only ones
// wait for an operator, showing their lines; a different application release and a different
// Azure location each fail the check with the documented words; a Microsoft-managed production
// shows the Sandbox to Production service request due 24 hours before the downtime.
func TestRefreshCheckOnTheSimulator(t *testing.T) {
	check := func(n, with string) string {
		return "  - {id: ready-" + n + ", title: Ready " + n + ", kind: manual}\n" +
			"  - {id: check-" + n + ", title: Refresh conditions " + n + ", kind: lcs.refresh-check, after: [ready-" + n + "], with: {source: sandbox, target: production" + with + "}}\n"
	}
	portal := ", confirm_manual: [financial_reporting, tenant, capacity]"
	downtime := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	r := newSimRun(t, sqlsim.Config{Tables: 200},
		check("pass", portal)+check("manual", "")+check("release", portal)+check("geography", portal)+check("managed", portal),
		withDowntime(downtime))
	sim := r.sims.LCS
	// The data upgrade is over: the sandbox is back to Deployed.
	sim.SetSandboxStateSource(nil)
	sim.SetSandboxState(lcssim.StateDeployed)

	r.release("ready-pass")
	r.until(time.Second, "check-pass ends", func() bool { return r.step("check-pass").State.Terminal() })
	if st := r.step("check-pass"); st.State != engine.StateSucceeded ||
		st.Message != "9 refresh condition(s) met in LCS; 3 confirmed in the runbook, not checked by cutover: financial_reporting, tenant, capacity" {
		t.Fatalf("check-pass: %s %q %q", st.State, st.Message, st.LastError)
	}
	for _, want := range []string{"✓ the same application release: 10.0.41", "✓ the same application build: 10.0.2095.43",
		"✓ later than Platform update 20: sandbox Platform update 65, production Platform update 65", "✓ the same platform: 7.0.7521.60",
		"✓ the same Azure location: West Europe", "✓ sandbox is Deployed", "✓ production is Deployed", "· production is self-service"} {
		if !strings.Contains(r.stepLog("check-pass"), want) {
			t.Errorf("check-pass's log lacks %q:\n%s", want, r.stepLog("check-pass"))
		}
	}

	r.release("ready-manual")
	r.until(time.Second, "check-manual waits", func() bool {
		return strings.Contains(r.stepLog("check-manual"), "3 condition(s) only the LCS portal shows")
	})
	for _, want := range []string{"☐ Financial Reporting", "MRApplicationService", "☐ same tenant", "☐ database capacity"} {
		if !strings.Contains(r.stepLog("check-manual"), want) {
			t.Errorf("check-manual's log lacks %q", want)
		}
	}
	if st := r.step("check-manual"); st.State != engine.StateRunning {
		t.Fatalf("check-manual: %s %q", st.State, st.LastError)
	}
	if _, err := r.e.MarkDone("check-manual", operatorAna, "MRApplicationService equal; admins of contoso.example; 40 of 250 GB", ""); err != nil {
		t.Fatal(err)
	}
	r.until(time.Second, "check-manual done", func() bool { return r.step("check-manual").State == engine.StateSucceeded })

	if err := sim.UpdateEnvironment(lcssim.ProductionID, func(e *lcssim.Environment) { e.ApplicationRelease = "10.0.40" }); err != nil {
		t.Fatal(err)
	}
	r.release("ready-release")
	r.until(time.Second, "check-release ends", func() bool { return r.step("check-release").State.Terminal() })
	if st := r.step("check-release"); st.State != engine.StateFailed ||
		!strings.Contains(st.LastError, "1 refresh condition(s) not met: ✗ application releases differ: sandbox 10.0.41, production 10.0.40") ||
		!strings.Contains(st.LastError, "(database-refresh.md, 01/12/2023)") {
		t.Fatalf("check-release: %s %q", st.State, st.LastError)
	}

	if err := sim.UpdateEnvironment(lcssim.ProductionID, func(e *lcssim.Environment) {
		e.ApplicationRelease, e.CloudStorageLocation = "10.0.41", "North Europe"
	}); err != nil {
		t.Fatal(err)
	}
	r.release("ready-geography")
	r.until(time.Second, "check-geography ends", func() bool { return r.step("check-geography").State.Terminal() })
	if st := r.step("check-geography"); st.State != engine.StateFailed ||
		!strings.Contains(st.LastError, "✗ Azure locations differ: sandbox West Europe, production North Europe (CloudStorageLocation)") ||
		!strings.Contains(st.LastError, "unless the databases are Spartan-managed") {
		t.Fatalf("check-geography: %s %q", st.State, st.LastError)
	}

	if err := sim.UpdateEnvironment(lcssim.ProductionID, func(e *lcssim.Environment) {
		e.CloudStorageLocation, e.Infrastructure = "West Europe", "MicrosoftManaged"
	}); err != nil {
		t.Fatal(err)
	}
	r.release("ready-managed")
	due := downtime.Add(-24 * time.Hour).Local().Format("2006-01-02 15:04 MST")
	r.until(time.Second, "check-managed waits", func() bool {
		return strings.Contains(r.stepLog("check-managed"), "1 condition(s) only the LCS portal shows")
	})
	if log := r.stepLog("check-managed"); !strings.Contains(log, "☐ service request “Sandbox to Production” (LCS project home → Service requests → Add → Sandbox to Production, source sandbox)") ||
		!strings.Contains(log, "— due by "+due+" (downtime start − 24 h)") || !strings.Contains(log, "· production is Microsoft-managed") {
		t.Fatalf("check-managed's log:\n%s", log)
	}
}

// TestProductionSmokeOnTheSimulator: smoke.http reaches production at its EnvironmentEndpointBaseUrl
// in lcs/sim: 401 without a token, 200 with the Entra ID token the runbook's lcs sign-in gets for
// that URL; after the refresh into production only Admin is enabled, so the users-enabled step
// fails until the users are enabled, then passes.
func TestProductionSmokeOnTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200}, `  - {id: anonymous, title: Production without a token, kind: smoke.http, with: {environment: production}}
  - {id: signed-in, title: Production answers, kind: smoke.http, with: {environment: production, entra: true, expect_body: Finance and Operations}}
  - {id: refreshed, title: Production refreshed, kind: manual, after: [anonymous, signed-in]}
  - {id: users-enabled, title: Users enabled in production, kind: smoke.http, after: [refreshed], with: {environment: production, path: "/data/SystemUsers?$filter=Enabled eq true&$count=true&$select=UserID", entra: true, expect_json_count: {min: 2}}}
`)
	sim := r.sims.LCS
	base := sim.EndpointBaseURL(lcssim.ProductionID)
	r.until(time.Second, "both smoke steps end", func() bool {
		return r.step("anonymous").State.Terminal() && r.step("signed-in").State.Terminal()
	})
	if st := r.step("anonymous"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "GET "+base+": HTTP 401 (expected 200)") {
		t.Fatalf("anonymous: %s %q", st.State, st.LastError)
	}
	if st := r.step("signed-in"); st.State != engine.StateSucceeded || !strings.HasPrefix(st.Message, "HTTP 200 from "+base+" in ") {
		t.Fatalf("signed-in: %s %q %q", st.State, st.Message, st.LastError)
	}
	if _, err := r.e.Skip("anonymous", operatorAna, "the 401 was the point", ""); err != nil {
		t.Fatal(err)
	}

	// The refresh into production, started in the portal, runs to its end.
	id, err := sim.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID)
	if err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "the refresh completes", func() bool { return sim.OperationStatus(id) == "Completed" })
	r.release("refreshed")
	r.until(time.Second, "users-enabled ends", func() bool { return r.step("users-enabled").State.Terminal() })
	if st := r.step("users-enabled"); st.State != engine.StateFailed || !strings.Contains(st.LastError, ": 1 entries, expected at least 2") {
		t.Fatalf("users-enabled after the refresh: %s %q", st.State, st.LastError)
	}
	if err := sim.EnableUsers(lcssim.ProductionID); err != nil {
		t.Fatal(err)
	}
	if err := r.e.Retry("users-enabled", operatorAna); err != nil {
		t.Fatal(err)
	}
	r.until(time.Second, "users-enabled ends again", func() bool { return r.step("users-enabled").State.Terminal() })
	if st := r.step("users-enabled"); st.State != engine.StateSucceeded || !strings.HasSuffix(st.Message, "; 13 entries (at least 2)") {
		t.Fatalf("users-enabled after enabling them: %s %q %q", st.State, st.Message, st.LastError)
	}
}

// TestDemoOperatorEnablesProductionsUsers: in the demo, the simulated operator enables
// production's users after the refresh — when the runbook's users-enable step asks for it (and
// marks it done), and as the fix of a users-enabled check that failed for want of them.
func TestDemoOperatorEnablesProductionsUsers(t *testing.T) {
	users := func(id, after string) string {
		return "  - {id: " + id + ", title: Users enabled, kind: smoke.http, after: [" + after + "], with: {environment: production, path: \"/data/SystemUsers?$filter=Enabled eq true&$count=true\", entra: true, expect_json_count: {min: 2}}}\n"
	}
	r := newSimRun(t, sqlsim.Config{Tables: 200}, "  - {id: refreshed, title: Refreshed, kind: manual}\n"+users("users-enabled", "refreshed")+
		"  - {id: refreshed-again, title: Refreshed again, kind: manual, after: [users-enabled]}\n"+
		"  - {id: users-enable, title: Enable the users, kind: manual, after: [refreshed-again]}\n"+users("users-check", "users-enable"))
	sim := r.sims.LCS
	refresh := func() {
		t.Helper()
		id, err := sim.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID)
		if err != nil {
			t.Fatal(err)
		}
		r.until(time.Minute, "the refresh completes", func() bool { return sim.OperationStatus(id) == "Completed" })
		if en, _ := sim.EnabledUsers(lcssim.ProductionID); en != 1 {
			t.Fatalf("after the refresh %d users enabled", en)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	op := demo.NewOperator(r.sims, r.clk, nil, false)
	done := make(chan struct{})
	go func() { defer close(done); op.Run(ctx, r.e) }()
	defer func() { cancel(); <-done }()

	refresh()
	r.release("refreshed")
	r.until(time.Second, "users-enabled passes after the operator's fix", func() bool { return r.step("users-enabled").State == engine.StateSucceeded })
	if st := r.step("users-enabled"); st.Attempt != 2 || !strings.HasSuffix(st.Message, "; 13 entries (at least 2)") {
		t.Fatalf("users-enabled: attempt %d %q", st.Attempt, st.Message)
	}

	refresh()
	r.release("refreshed-again")
	r.until(time.Second, "users-check passes", func() bool { return r.step("users-check").State.Terminal() })
	if st := r.step("users-enable"); st.State != engine.StateSucceeded || st.By == nil || st.By.Name != demo.Actor.Name {
		t.Fatalf("users-enable: %s by %v", st.State, st.By)
	}
	if st := r.step("users-check"); st.State != engine.StateSucceeded || st.Attempt != 1 {
		t.Fatalf("users-check: %s attempt %d %q", st.State, st.Attempt, st.LastError)
	}
}

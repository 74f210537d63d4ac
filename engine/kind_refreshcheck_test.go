package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/engine"
)

// metaLCS is an LCS port that answers environment metadata only (the refresh check reads
// nothing else); tests change an environment between reads.
type metaLCS struct {
	mu    sync.Mutex
	envs  map[string]engine.LCSEnvironment
	errs  []error
	reads int
}

// matchingEnvs are a sandbox and a production that meet every condition LCS shows.
func matchingEnvs() map[string]engine.LCSEnvironment {
	base := engine.LCSEnvironment{State: "Deployed", Infrastructure: "SelfService", ApplicationRelease: "10.0.41",
		ApplicationBuild: "10.0.2095.43", PlatformRelease: "Update65", PlatformVersion: "7.0.7521.60", Location: "West Europe",
		EndpointBaseURL: "https://contoso.operations.dynamics.com/"}
	sbx, prod := base, base
	sbx.ID, sbx.Name, sbx.Type = "SBX", "CONTOSO-UPGRADE", "Sandbox"
	prod.ID, prod.Name, prod.Type = "PROD", "CONTOSO-PROD", "Production"
	return map[string]engine.LCSEnvironment{"SBX": sbx, "PROD": prod}
}

func newMetaLCS() *metaLCS { return &metaLCS{envs: matchingEnvs()} }

func (m *metaLCS) set(id string, f func(*engine.LCSEnvironment)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.envs[id]
	f(&e)
	m.envs[id] = e
}

func (m *metaLCS) Environment(_ context.Context, env string) (engine.LCSEnvironment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if err := pop(&m.errs); err != nil {
		return engine.LCSEnvironment{}, err
	}
	e, ok := m.envs[env]
	if !ok {
		return engine.LCSEnvironment{}, lcsErr{msg: "no environment " + env, permanent: true}
	}
	return e, nil
}

func (m *metaLCS) StartRefresh(context.Context, string, string) (string, error) {
	return "", errors.New("not in this test")
}
func (m *metaLCS) Operation(context.Context, string, string) (engine.LCSOperation, error) {
	return engine.LCSOperation{}, errors.New("not in this test")
}
func (m *metaLCS) History(context.Context, string) ([]engine.LCSOperation, error) {
	return nil, errors.New("not in this test")
}
func (m *metaLCS) Quota(context.Context, string) (engine.LCSQuota, error) {
	return engine.LCSQuota{}, errors.New("not in this test")
}

// refreshCheckRunbook is a runbook with one refresh check; with is its `with:` block's extra keys
// and downtime its downtime section ("" for none).
func refreshCheckRunbook(with, downtime string) string {
	return "name: t\n" + lcsSection + downtime + "steps:\n  - {id: check, title: Refresh conditions, kind: lcs.refresh-check, with: {source: sandbox, target: production, poll: 5m" + with + "}}\n"
}

// logLines are a step's log lines.
func logLines(h *harness, step string) string {
	var b strings.Builder
	for _, l := range h.e.Logs(1000, step) {
		b.WriteString(l.Msg + "\n")
	}
	return b.String()
}

// TestRefreshCheckWaitsForTheOperatorOnPortalOnlyConditions: with everything LCS shows matching,
// the check lists each condition met and the three the portal alone shows (Financial Reporting,
// tenant, capacity), and waits for an operator to mark it done, reading LCS again meanwhile.
func TestRefreshCheckWaitsForTheOperatorOnPortalOnlyConditions(t *testing.T) {
	h := newHarness(t, refreshCheckRunbook("", ""))
	api := newMetaLCS()
	h.opts.Ports.LCS = api
	h.start()
	h.waitProgress("check", "waiting for an operator to check in the LCS portal")
	logs := logLines(h, "check")
	for _, want := range []string{
		"✓ sandbox is a Sandbox environment and production is Production in LCS",
		"✓ production is Deployed", "✓ sandbox is Deployed",
		"✓ the same application release: 10.0.41", "✓ the same application build: 10.0.2095.43",
		"✓ later than Platform update 20: sandbox Platform update 65, production Platform update 65",
		"✓ the same platform: 7.0.7521.60",
		"✓ the same Azure location: West Europe",
		"✓ sandbox is self-service",
		"· production is self-service: the refresh is started in the LCS portal",
		"☐ Financial Reporting: on each environment's Environment details → View detailed version information, MRApplicationService of production must be greater than or equal to sandbox's (database-refresh.md; not in LCS's API)",
		"☐ same tenant: the Environment Administrator of sandbox and of production",
		"☐ database capacity: “The allocated database capacity of the source environment must be less than the maximum database capacity of the target environment”",
		"3 condition(s) only the LCS portal shows",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	// It keeps reading LCS while it waits, and stays waiting.
	reads := api.reads
	h.advance(1, 5*time.Minute)
	h.advanceUntil(time.Second, "LCS read again", func() bool { api.mu.Lock(); defer api.mu.Unlock(); return api.reads >= reads+2 })
	if st := h.state("check"); st != engine.StateRunning {
		t.Fatalf("the check ended by itself (%s) with conditions left to an operator", st)
	}
	if _, err := h.e.MarkDone("check", ana, "MRApplicationService 10.0.1 on both; admins in contoso.com; 80 GB of 250", ""); err != nil {
		t.Fatal(err)
	}
	st := h.waitStep("check", engine.StateSucceeded)
	if !st.ByHand || st.By == nil || st.By.Name != "Ana" {
		t.Fatalf("marked done by Ana: %+v", st)
	}
}

// TestRefreshCheckConfirmManual: portal-only conditions the runbook lists in confirm_manual are
// shown as confirmed there, not as met, and the check passes without waiting; an unknown name is
// a problem at its position.
func TestRefreshCheckConfirmManual(t *testing.T) {
	h := newHarness(t, refreshCheckRunbook(", confirm_manual: [financial_reporting, tenant, capacity]", ""))
	h.opts.Ports.LCS = newMetaLCS()
	h.start()
	st := h.waitStep("check", engine.StateSucceeded)
	if want := "9 refresh condition(s) met in LCS; 3 confirmed in the runbook, not checked by cutover: financial_reporting, tenant, capacity"; st.Message != want {
		t.Fatalf("message %q, want %q", st.Message, want)
	}
	if logs := logLines(h, "check"); !strings.Contains(logs, "☑ Financial Reporting") || !strings.Contains(logs, "— confirmed in the runbook (confirm_manual)") {
		t.Fatalf("confirmed lines must be shown as such:\n%s", logs)
	}

	h.src = refreshCheckRunbook(", confirm_manual: [financial_reporting, tennant]", "")
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), `confirm_manual: "tennant" is not a condition of the refresh check`) {
		t.Fatalf("unknown confirm_manual name: %v", err)
	}
}

// TestRefreshCheckFailsOnAConditionNotMet: each condition LCS shows fails the check with the
// documented words and fix, naming the document; confirm_manual never turns a failure into a pass.
func TestRefreshCheckFailsOnAConditionNotMet(t *testing.T) {
	for _, c := range []struct {
		name string
		env  string
		set  func(*engine.LCSEnvironment)
		want []string
	}{
		{"release", "PROD", func(e *engine.LCSEnvironment) { e.ApplicationRelease, e.ApplicationBuild = "10.0.40", "10.0.2015.16" },
			[]string{"✗ application releases differ: sandbox 10.0.41, production 10.0.40",
				"“The database refresh process … cannot be completed if the Application release of your source and target environment arn't the same … data loss can occur” (database-refresh.md, 01/12/2023)",
				"✗ application builds differ: sandbox 10.0.2095.43, production 10.0.2015.16", "(2012-upgrade-cutover.md § Prerequisites)"}},
		{"build", "PROD", func(e *engine.LCSEnvironment) { e.ApplicationBuild = "10.0.2095.30" },
			[]string{"1 refresh condition(s) not met: ✗ application builds differ: sandbox 10.0.2095.43, production 10.0.2095.30"}},
		{"geography", "PROD", func(e *engine.LCSEnvironment) { e.Location = "North Europe" },
			[]string{"✗ Azure locations differ: sandbox West Europe, production North Europe (CloudStorageLocation)",
				"“The databases must be hosted in the same Azure geographic region, unless the databases are Spartan-managed” (database-refresh.md § Conditions)", "spartan"}},
		{"platform update 20", "SBX", func(e *engine.LCSEnvironment) { e.PlatformRelease = "Update20" },
			[]string{"✗ sandbox runs Platform update 20 (Update20)", "“Refresh is denied for environments that run Platform update 20 or earlier” (database-refresh.md)"}},
		{"sandbox platform newer", "SBX", func(e *engine.LCSEnvironment) { e.PlatformVersion = "7.0.7606.12" },
			[]string{"✗ sandbox runs a newer platform (7.0.7606.12) than production (7.0.7521.60)", "“earlier than or the same as”"}},
		{"production not deployed", "PROD", func(e *engine.LCSEnvironment) { e.State = "Failed" },
			[]string{"✗ production is Failed in LCS, not Deployed"}},
		{"sandbox still upgrading", "SBX", func(e *engine.LCSEnvironment) { e.State = "Data upgrade in progress" },
			[]string{"✗ sandbox is Data upgrade in progress in LCS, not Deployed", "data-upgrade-self-service.md"}},
		{"sandbox Microsoft-managed", "SBX", func(e *engine.LCSEnvironment) { e.Infrastructure = "MicrosoftManaged" },
			[]string{"✗ sandbox is Microsoft-managed", "“It must be a self-service environment”"}},
		{"production id names a sandbox", "PROD", func(e *engine.LCSEnvironment) { e.Type = "Sandbox" },
			[]string{"✗ LCS says production (PROD) is a Sandbox environment, not Production"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, refreshCheckRunbook(", confirm_manual: [financial_reporting, tenant, capacity, release, build, geography, platform, platform_update]", ""))
			api := newMetaLCS()
			api.set(c.env, c.set)
			h.opts.Ports.LCS = api
			h.start()
			st := h.waitStep("check", engine.StateFailed)
			for _, w := range c.want {
				if !strings.Contains(st.LastError, w) {
					t.Errorf("the error lacks %q:\n%s", w, st.LastError)
				}
			}
		})
	}
}

// TestRefreshCheckFailsWhenAConditionBreaksWhileWaiting: a condition that stops holding while the
// check waits for the operator (production updated meanwhile) fails it.
func TestRefreshCheckFailsWhenAConditionBreaksWhileWaiting(t *testing.T) {
	h := newHarness(t, refreshCheckRunbook("", ""))
	api := newMetaLCS()
	h.opts.Ports.LCS = api
	h.start()
	h.waitProgress("check", "waiting for an operator")
	api.set("PROD", func(e *engine.LCSEnvironment) { e.ApplicationBuild = "10.0.2095.52" })
	h.advance(1, 5*time.Minute)
	st := h.waitStep("check", engine.StateFailed)
	if !strings.Contains(st.LastError, "application builds differ: sandbox 10.0.2095.43, production 10.0.2095.52") {
		t.Fatalf("%q", st.LastError)
	}
	if !logged(h, "check", "now: ✗ application builds differ") {
		t.Fatal("the change must be logged")
	}
}

// TestRefreshCheckReadinessStage: before the night the sandbox's replication state is shown, not
// required; a failed sandbox still fails.
func TestRefreshCheckReadinessStage(t *testing.T) {
	h := newHarness(t, refreshCheckRunbook(", stage: readiness, confirm_manual: [financial_reporting, tenant, capacity]", ""))
	api := newMetaLCS()
	api.set("SBX", func(e *engine.LCSEnvironment) { e.State = "Replicating" })
	h.opts.Ports.LCS = api
	h.start()
	h.waitStep("check", engine.StateSucceeded)
	if !logged(h, "check", "· sandbox is Replication in progress (it must be Deployed, the data upgrade finished, by the go/no-go)") {
		t.Fatalf("the sandbox's state must be shown:\n%s", logLines(h, "check"))
	}
	if d := h.rb.Steps[0].Spec.(engine.Action).Describe(); !strings.Contains(d, "before the night") || !strings.Contains(d, "sandbox's state is shown") {
		t.Fatalf("Describe: %s", d)
	}

	h = newHarness(t, refreshCheckRunbook(", stage: readiness", ""))
	api = newMetaLCS()
	api.set("SBX", func(e *engine.LCSEnvironment) { e.State = "Failed" })
	h.opts.Ports.LCS = api
	h.start()
	if st := h.waitStep("check", engine.StateFailed); !strings.Contains(st.LastError, "✗ sandbox is Failed in LCS") {
		t.Fatalf("%q", st.LastError)
	}
}

// TestRefreshCheckMicrosoftManagedServiceRequest: a Microsoft-managed production needs a Sandbox to
// Production service request at least 24 hours before the downtime: the line gives its due time
// from the runbook's downtime start. Before the night it is to be raised; once due and not
// confirmed, the readiness check fails; at the go/no-go it is a line for the operator.
func TestRefreshCheckMicrosoftManagedServiceRequest(t *testing.T) {
	managed := func(e *engine.LCSEnvironment) { e.Infrastructure = "MicrosoftManaged" }
	due := func(start time.Time) string { return start.Add(-24 * time.Hour).Local().Format("2006-01-02 15:04 MST") }
	portal := ", confirm_manual: [financial_reporting, tenant, capacity]"

	// Two days ahead: due tomorrow, still to raise — the check waits on it.
	start := t0.Add(48 * time.Hour)
	h := newHarness(t, refreshCheckRunbook(", stage: readiness"+portal, "downtime:\n  start: "+start.Format(time.RFC3339)+"\n  budget: 3h\n"))
	api := newMetaLCS()
	api.set("PROD", managed)
	h.opts.Ports.LCS = api
	h.start()
	h.waitProgress("check", "☐ service request “Sandbox to Production”")
	want := "☐ service request “Sandbox to Production” (LCS project home → Service requests → Add → Sandbox to Production, source sandbox) at least 24 h before the downtime, its window at least four hours (dbmovement-scenario-goldenconfig.md) — due by " + due(start) + " (downtime start − 24 h), in 1d00h"
	if logs := logLines(h, "check"); !strings.Contains(logs, want) || !strings.Contains(logs, "the runbook's downtime budget (3h00m) is shorter than the four hours") ||
		!strings.Contains(logs, "· production is Microsoft-managed") {
		t.Fatalf("the log lacks %q:\n%s", want, logs)
	}

	// Six hours before the downtime, the request is overdue: the readiness check fails.
	start = t0.Add(6 * time.Hour)
	h = newHarness(t, refreshCheckRunbook(", stage: readiness"+portal, "downtime:\n  start: "+start.Format(time.RFC3339)+"\n  budget: 12h\n"))
	api = newMetaLCS()
	api.set("PROD", managed)
	h.opts.Ports.LCS = api
	h.start()
	st := h.waitStep("check", engine.StateFailed)
	if !strings.Contains(st.LastError, "✗ service request “Sandbox to Production”") || !strings.Contains(st.LastError, "due by "+due(start)+" (downtime start − 24 h), 18h00m ago") ||
		!strings.Contains(st.LastError, "if it was submitted in time, mark this step done saying so") {
		t.Fatalf("%q", st.LastError)
	}

	// Confirmed in the runbook, it passes as confirmed; at the go/no-go it is the operator's line.
	h = newHarness(t, refreshCheckRunbook(", stage: readiness, confirm_manual: [financial_reporting, tenant, capacity, service_request]", "downtime:\n  start: "+start.Format(time.RFC3339)+"\n  budget: 12h\n"))
	api = newMetaLCS()
	api.set("PROD", managed)
	h.opts.Ports.LCS = api
	h.start()
	if st := h.waitStep("check", engine.StateSucceeded); !strings.Contains(st.Message, "service_request") {
		t.Fatalf("%q", st.Message)
	}
	h = newHarness(t, refreshCheckRunbook(portal, "downtime:\n  start: "+start.Format(time.RFC3339)+"\n  budget: 12h\n"))
	api = newMetaLCS()
	api.set("PROD", managed)
	h.opts.Ports.LCS = api
	h.start()
	h.waitProgress("check", "☐ service request “Sandbox to Production”")

	// Without a downtime start the due time is unknown, and said so.
	h = newHarness(t, refreshCheckRunbook(portal, ""))
	api = newMetaLCS()
	api.set("PROD", managed)
	h.opts.Ports.LCS = api
	h.start()
	h.waitProgress("check", "the runbook's downtime has no start, so its due time is unknown")
}

// TestRefreshCheckLeavesWhatLCSDoesNotSayToTheOperator: a value LCS leaves out, or sends in a form
// cutover cannot order, is an operator's line, never a pass; a production on a newer platform
// than the sandbox (allowed by the documents, not what was rehearsed) is one too.
func TestRefreshCheckLeavesWhatLCSDoesNotSayToTheOperator(t *testing.T) {
	h := newHarness(t, refreshCheckRunbook(", confirm_manual: [financial_reporting, tenant, capacity]", ""))
	api := newMetaLCS()
	api.set("PROD", func(e *engine.LCSEnvironment) {
		e.Location, e.PlatformRelease, e.PlatformVersion = "", "", "7.0.7606.12"
		e.Unread = []string{"CloudStorageLocation 12 is not a string"}
	})
	h.opts.Ports.LCS = api
	h.start()
	h.waitProgress("check", "waiting for an operator")
	logs := logLines(h, "check")
	for _, want := range []string{
		`☐ LCS gives no Azure location for sandbox ("West Europe") or production ("") (CloudStorageLocation)`,
		`☐ LCS does not say which platform update sandbox ("Update65") or production ("") runs`,
		"☐ production runs a newer platform (7.0.7606.12) than sandbox (7.0.7521.60): the documents allow it",
		"· LCS's answer for production held values cutover could not read (their conditions are left to an operator): CloudStorageLocation 12 is not a string",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

// TestRefreshCheckReadingLCS: LCS not answering is retried as the runbook says; a refusal waiting
// cannot fix fails at once.
func TestRefreshCheckReadingLCS(t *testing.T) {
	h := newHarness(t, "name: t\n"+lcsSection+"steps:\n  - {id: check, title: Refresh conditions, kind: lcs.refresh-check, retries: 2, retry_backoff: 1m, with: {source: sandbox, target: production, confirm_manual: [financial_reporting, tenant, capacity]}}\n")
	api := newMetaLCS()
	api.errs = []error{errLCSDown}
	h.opts.Ports.LCS = api
	h.start()
	st := h.waitStep("check", engine.StateRetrying)
	if !strings.Contains(st.LastError, "reading sandbox (SBX) from LCS") {
		t.Fatalf("%q", st.LastError)
	}
	h.advance(1, time.Minute)
	h.waitStep("check", engine.StateSucceeded)

	h = newHarness(t, "name: t\n"+lcsSection+"steps:\n  - {id: check, title: Refresh conditions, kind: lcs.refresh-check, retries: 2, with: {source: sandbox, target: production}}\n")
	api = newMetaLCS()
	api.errs = []error{errLCSDenied}
	h.opts.Ports.LCS = api
	h.start()
	if st := h.waitStep("check", engine.StateFailed); st.Attempt != 1 || !strings.Contains(st.LastError, "waiting cannot fix this") {
		t.Fatalf("attempt %d: %q", st.Attempt, st.LastError)
	}
}

// TestRefreshCheckDecoding: the check is of the refresh into production, from a sandbox; its
// problems are positioned; Describe says what it compares.
func TestRefreshCheckDecoding(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	for _, c := range []struct{ with, want string }{
		{"{source: production, target: sandbox}", "target: lcs.refresh-check checks the refresh into production"},
		{"{source: production, target: production}", "source: the refresh into production copies a sandbox"},
		{"{source: sandbox}", `missing required key "target"`},
		{"{source: sandbox, target: production, stage: tonight}", `stage: "tonight" is not allowed`},
	} {
		h.src = "name: t\n" + lcsSection + "steps:\n  - {id: check, title: Check, kind: lcs.refresh-check, with: " + c.with + "}\n"
		if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", c.with, c.want, err)
		}
	}
	h.src = "name: t\nsteps:\n  - {id: check, title: Check, kind: lcs.refresh-check, with: {source: sandbox, target: production}}\n"
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), "the runbook has no lcs: section") {
		t.Errorf("without an lcs section: %v", err)
	}
	h.src = refreshCheckRunbook(", confirm_manual: [tenant]", "")
	rb, err := loadErr(h)
	if err != nil {
		t.Fatal(err)
	}
	d := rb.Steps[0].Spec.(engine.Action).Describe()
	for _, want := range []string{"compare sandbox (SBX) and production (PROD) in LCS's environment metadata", "at the go/no-go", "both Deployed",
		"the same application release and build", "Platform update", "CloudStorageLocation", "Sandbox to Production service request",
		"MRApplicationService", "(confirmed in the runbook: tenant)"} {
		if !strings.Contains(strings.ReplaceAll(d, "platform later than update", "Platform update"), want) {
			t.Errorf("Describe lacks %q:\n%s", want, d)
		}
	}
}

package cmd

import (
	"cutover/demo/demotest"
	"cutover/engine"
	"cutover/engine/journal"
	"cutover/lcs/contract"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRefreshCheckReadsMicrosoftsMetadataExample: Microsoft's documented environment-metadata
// example (lifecycle-services/api/v1/reference-environment-metadata.md, verbatim in lcs/contract)
// served unchanged over HTTPS: its sandbox (10.0.21, Update45, Failed, Microsoft-managed) cannot be
// refreshed into its production (10.0.20, Update44), and the check says why, condition by
// condition; its EnvironmentEndpointBaseUrl "<example>" is no URL for a smoke test.
func TestRefreshCheckReadsMicrosoftsMetadataExample(t *testing.T) {
	ex := serveMetadataExample(t)
	dir, path := ex.dir, filepath.Join(ex.dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(ex.runbookHead+`steps:
  - {id: conditions, title: Refresh conditions, kind: lcs.refresh-check, with: {source: sandbox, target: production}}
  - {id: web, title: Production answers, kind: smoke.http, with: {environment: production}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "run", "--headless", "--yes", "-f", path)
	if code == 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
	j := readJournalOf(t, filepath.Join(dir, ".cutover"))
	for _, want := range []string{
		"5 refresh condition(s) not met",
		"✗ sandbox is Failed in LCS",
		"✗ application releases differ: sandbox 10.0.21, production 10.0.20",
		"✗ application builds differ: sandbox 10.0.960.24, production 10.0.886.48",
		"✗ sandbox runs a newer platform (7.0.6129.19) than production (7.0.6060.45)",
		"✗ sandbox is Microsoft-managed (EnvironmentInfrastructure)",
	} {
		if !strings.Contains(j.lastError["conditions"], want) {
			t.Errorf("the check's error lacks %q:\n%s", want, j.lastError["conditions"])
		}
	}
	if !strings.Contains(j.lastError["web"], `LCS gives production no usable URL (EnvironmentEndpointBaseUrl "<example>"`) {
		t.Errorf("web: %q", j.lastError["web"])
	}
}

// TestLCSReadsMicrosoftsMetadataExample is the acceptance line of issue 12: Microsoft's
// documented environment-metadata example (lifecycle-services/api/v1/reference-environment-
// metadata.md, kept verbatim in lcs/contract), served unchanged over HTTPS with `auth:
// token-env`, is read by lcs.env-state and by `cutover lcs environments`; a runbook naming the
// dashed form of the example's undashed id finds it.
func TestLCSReadsMicrosoftsMetadataExample(t *testing.T) {
	ex := serveMetadataExample(t)
	dir, path := ex.dir, filepath.Join(ex.dir, "cutover.yaml")
	// The example's production id is undashed (d15ed3a8c2c14054840b946c93915da9): the runbook
	// names it dashed, and a step names it dashed in upper case.
	if err := os.WriteFile(path, []byte(ex.runbookHead+`steps:
  - {id: production-deployed, title: Production is deployed, kind: lcs.env-state, with: {environment: production, state: Deployed}}
  - {id: by-id, title: The same by its id, kind: lcs.env-state, after: production-deployed, with: {environment: D15ED3A8-C2C1-4054-840B-946C93915DA9, state: deployed}}
  - {id: sandbox-failed, title: The sandbox's state, kind: lcs.env-state, after: by-id, with: {environment: sandbox, state: Deployed, fail_on: [Failed]}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "run", "--headless", "--yes", "-f", path)
	// The sandbox of the example is Failed: that step fails, the other two succeed.
	if code == 0 || !strings.Contains(out+errs, "sandbox is Failed in LCS") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
	j := readJournalOf(t, filepath.Join(dir, ".cutover"))
	if j.succeeded["production-deployed"] != 1 || j.succeeded["by-id"] != 1 || j.message["production-deployed"] != "production is Deployed" {
		t.Fatalf("lcs.env-state did not read the example: succeeded %v, messages %v, errors %v", j.succeeded, j.message, j.lastError)
	}

	code, out, errs = cli(t, "lcs", "environments", "-f", path)
	if code != 0 {
		t.Fatalf("lcs environments: %d %s", code, errs)
	}
	for _, want := range []string{"ProdEnvironment1 (production)", "Production", "Deployed", "10.0.20", "d15ed3a8c2c14054840b946c93915da9",
		"SandboxEnvironment1 (sandbox)", "Failed", "y ago"} {
		if !strings.Contains(out, want) {
			t.Errorf("lcs environments lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = cli(t, "lcs", "environments", "--json", "-f", path)
	var envs []struct {
		ID, Name, State, Role string
		DeployedOn            time.Time `json:"deployed_on"`
	}
	if err := json.Unmarshal([]byte(out), &envs); code != 0 || err != nil || len(envs) != 2 {
		t.Fatalf("lcs environments --json: %d %v %s %s", code, err, out, errs)
	}
	if !envs[0].DeployedOn.Equal(time.Date(2021, 8, 5, 23, 0, 0, 0, time.UTC)) || envs[0].Role != "production" || envs[1].State != "Failed" {
		t.Errorf("lcs environments --json: %+v", envs)
	}
	code, out, errs = cli(t, "lcs", "env", "{D15ED3A8-C2C1-4054-840B-946C93915DA9}", "-f", path)
	if code != 0 || !strings.Contains(out, "ProdEnvironment1 (d15ed3a8c2c14054840b946c93915da9), the runbook's production") ||
		!strings.Contains(out, "2021-08-05 23:00 UTC") || !strings.Contains(out, "East US (disaster recovery: West US)") {
		t.Fatalf("lcs env: %d\n%s\n%s", code, out, errs)
	}
	if refused := ex.refused(); len(refused) != 0 {
		t.Errorf("requests the example server does not serve: %q", refused)
	}
}

// lcsJournal is what a run journaled, per step.
type lcsJournal struct {
	succeeded map[string]int
	message   map[string]string
	lastError map[string]string
}

func readJournalOf(t *testing.T, state string) lcsJournal {
	t.Helper()
	recs, _, err := journal.ReadAll(filepath.Join(state, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	j := lcsJournal{succeeded: map[string]int{}, message: map[string]string{}, lastError: map[string]string{}}
	for _, r := range recs {
		switch engine.RecordType(r.Type) {
		case engine.RecSucceeded:
			var p engine.Succeeded
			r.Decode(&p)
			j.succeeded[r.Step]++
			j.message[r.Step] = p.Message
		case engine.RecFailed:
			var p engine.Failed
			r.Decode(&p)
			j.lastError[r.Step] = p.Error
		}
	}
	return j
}

// TestLCSCommandsAgainstTheSimulator: `cutover lcs` history, operation and quota read the
// simulated LCS through the runbook's sign-in; --json is JSON; a bad call is a usage error.
func TestLCSCommandsAgainstTheSimulator(t *testing.T) {
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv(lcssim.PasswordEnv, lcssim.DefaultPassword)
	sims, clk := demotest.Quiet(t, sqlsim.Config{Tables: 200})
	path := demotest.Runbook(t, sims, "  - {id: a, title: A, kind: manual}\n")
	activity, err := sims.LCS.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	lcsCmd := func(args ...string) string {
		t.Helper()
		clk.Advance(time.Minute) // keep under the simulator's per-minute quotas
		code, out, errs := cli(t, append([]string{"lcs"}, append(args, "-f", path)...)...)
		if code != 0 {
			t.Fatalf("lcs %v: %d\n%s\n%s", args, code, out, errs)
		}
		return out
	}
	out := lcsCmd("history", "production")
	if !strings.Contains(out, "Refresh database") || !strings.Contains(out, "InProgress") || !strings.Contains(out, strings.ReplaceAll(activity, "-", "")) {
		t.Errorf("lcs history:\n%s", out)
	}
	out = lcsCmd("operation", "production", strings.ToUpper(activity))
	if !strings.Contains(out, "InProgress (running)") {
		t.Errorf("lcs operation:\n%s", out)
	}
	out = lcsCmd("quota", "production", "--json")
	var q struct {
		Used, Remaining int
		Counted         []struct {
			ActivityID string `json:"activity_id"`
		}
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil || q.Used != 1 || q.Remaining != 2 || len(q.Counted) != 1 {
		t.Errorf("lcs quota --json: %v\n%s", err, out)
	}
	out = lcsCmd("quota", "production")
	if !strings.Contains(out, "1 of 3 database operations counted") || !strings.Contains(out, "refuses only those started through the API") {
		t.Errorf("lcs quota:\n%s", out)
	}
	out = lcsCmd("env", "sandbox")
	if !strings.Contains(out, lcssim.SandboxName) || !strings.Contains(out, "the runbook's sandbox") {
		t.Errorf("lcs env sandbox:\n%s", out)
	}
	if code, _, errs := cli(t, "lcs", "history", "-f", path); code != exitUsage || !strings.Contains(errs, "want ENV") {
		t.Errorf("lcs history without ENV: %d %s", code, errs)
	}
	if code, _, errs := cli(t, "lcs", "refresh", "production"); code != exitUsage || !strings.Contains(errs, `nknown command "refresh"`) {
		t.Errorf("lcs refresh: %d %s", code, errs)
	}
}

// metadataExample is Microsoft's documented environment-metadata example
// (lifecycle-services/api/v1/reference-environment-metadata.md, verbatim in lcs/contract) served
// unchanged over HTTPS to a GET of project 112233 with the token doc-token; runbookHead is a
// runbook's head (name, rehearsal, the lcs section) that reads it with auth: token-env.
type metadataExample struct {
	dir, runbookHead string
	mu               sync.Mutex
	refusedReqs      []string
}

func serveMetadataExample(t *testing.T) *metadataExample {
	t.Helper()
	body, err := contract.Bytes("environment-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	ex := &metadataExample{dir: t.TempDir()}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer doc-token" || r.Method != http.MethodGet || r.URL.Path != "/environmentinfo/v1/detail/project/112233/" {
			ex.mu.Lock()
			ex.refusedReqs = append(ex.refusedReqs, r.Method+" "+r.URL.RequestURI())
			ex.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	cert := filepath.Join(ex.dir, "lcs.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CUTOVER_TEST_LCS_TOKEN", "doc-token")
	ex.runbookHead = `name: the documented example
rehearsal: true
lcs:
  project_id: "112233"
  base_url: ` + srv.URL + `
  certificate: ` + cert + `
  auth: token-env
  token_env: CUTOVER_TEST_LCS_TOKEN
  sandbox_environment_id: 60b557b2-fefb-4690-859e-f83caf98c17e
  production_environment_id: d15ed3a8-c2c1-4054-840b-946c93915da9
`
	return ex
}

// refused lists the requests the example's server did not serve.
func (ex *metadataExample) refused() []string {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return append([]string(nil), ex.refusedReqs...)
}

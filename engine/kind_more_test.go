package engine_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"cutover/engine"
)

// fakeUpgrade reports what the test sets.
type fakeUpgrade struct {
	mu sync.Mutex
	p  engine.UpgradeProgress
}

func (f *fakeUpgrade) Upgrade(context.Context) (engine.UpgradeProgress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p, nil
}

func (f *fakeUpgrade) set(p engine.UpgradeProgress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.p = p
}

func TestUpgradeWatch(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: watch, title: Watch the data upgrade, kind: upgrade.watch, with: {stall_after: 30m, poll: 1m}}
`, func(t *testing.T, h *harness) {
		up := &fakeUpgrade{p: engine.UpgradeProgress{Phase: engine.UpgradeNotStarted, Percent: -1}}
		h.opts.Ports.Upgrade = up
		h.start()
		time.Sleep(10 * time.Minute)
		start := time.Now()
		up.set(engine.UpgradeProgress{Phase: engine.UpgradeRunning, Step: "PreSync", SubStep: "ReleaseUpdateScripts", Percent: 20, Started: start, LastActivity: start})
		time.Sleep(45 * time.Minute) // no activity: a stall
		var stall bool
		for _, l := range h.e.Logs(100, "watch") {
			stall = stall || strings.Contains(l.Msg, "no activity from the servicing host for 3")
		}
		if !stall {
			t.Fatalf("no stall warning after 45 quiet minutes: %v", h.e.Logs(10, "watch"))
		}
		up.set(engine.UpgradeProgress{Phase: engine.UpgradeFailed, Step: "PostSync", SubStep: "ReleaseUpdateScripts", Percent: 70, Started: start,
			Errors: []string{"ReleaseUpdateDB72_Invent.updateInventTrans: Cannot insert duplicate key"}})
		st := h.waitStep("watch", engine.StateFailed)
		for _, want := range []string{"failed in PostSync / ReleaseUpdateScripts (70%)", "Cannot insert duplicate key", "offers Resume"} {
			if !strings.Contains(st.LastError, want) {
				t.Errorf("failure lacks %q: %s", want, st.LastError)
			}
		}
		up.set(engine.UpgradeProgress{Phase: engine.UpgradeCompleted, Percent: 100, Started: start})
		h.e.Retry("watch", ana)
		st = h.waitStep("watch", engine.StateSucceeded)
		if !strings.Contains(st.Message, "data upgrade completed in") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

// fakePreflight returns facts the test sets.
type fakePreflight struct{ f engine.PreflightFacts }

func (p fakePreflight) Preflight(context.Context) (engine.PreflightFacts, error) { return p.f, nil }

func goodFacts() engine.PreflightFacts {
	return engine.PreflightFacts{ServerVersion: "13.0.5026.0", MixedMode: true, ReplicationInstalled: true, AgentRunning: true, AgentStatus: "Running",
		DatabaseOwner: "sa", RCSI: true, DatabaseBytes: 400 << 30, MaxTextReplSize: -1, FreeBytes: map[string]int64{"D": 900 << 30, "E": 500 << 30},
		TargetReachable: true, Distributor: "distribution", Login: "cutover", Sysadmin: true, DBOwner: true, RightsKnown: true,
		ServerCollation: "SQL_Latin1_General_CP1_CI_AS", DatabaseCollation: "SQL_Latin1_General_CP1_CI_AS", AOTTables: map[string]bool{"CUSTTABLE": true, "SALESLINE": true}}
}

func TestPreflight(t *testing.T) {
	src := "name: t\n" + replConnections + lcsSection + `steps:
  - {id: preflight, title: Pre-flight, kind: preflight, with: {distribution_path: 'D:\SQLServer\Data', snapshot_path: 'E:\Snapshot', confirmed: [toolkit_version, upgrade_checklist]}}
`
	h := newHarness(t, src)
	bad := goodFacts()
	bad.MaxTextReplSize = 65536
	bad.DatabaseOwner = ""
	bad.TargetReachable, bad.TargetError = false, "login failed: client IP not allowed"
	bad.FreeBytes = map[string]int64{"D": 900 << 30, "E": 100 << 30}
	api := newFakeLCS()
	api.used = 2
	h.opts.Ports = engine.Ports{Preflight: fakePreflight{bad}, LCS: api}
	h.start()
	st := h.waitStep("preflight", engine.StateFailed)
	// Production's refresh is started in the portal, which LCS's limit never blocks: the quota is
	// information there (dbmovement-api-throttling.md: only API operations are throttled). 'max text
	// repl size' is a documented fix, not a prerequisite: a warning.
	if !strings.Contains(st.LastError, "15 checks: 11 passed, 1 warnings, 3 failed: database owner, snapshot disk, sandbox reachable (") {
		t.Fatalf("error %q", st.LastError)
	}
	lines := map[string]string{}
	for _, l := range h.e.Logs(100, "preflight") {
		f := strings.Fields(l.Msg)
		if len(f) > 1 {
			lines[strings.Join(f[1:3], " ")] = l.Msg
		}
	}
	for _, want := range []string{"EXEC sp_changedbowner 'sa'", "WARN max text repl size       65536 bytes: a LOB value longer than that stops replication",
		"sp_configure 'max text repl size', -1; RECONFIGURE; then restart the Log Reader and Distribution agents (troubleshoot-self-service-env.md, scenario 13)",
		"E: has 100.0 GiB free, the database is 400.0 GiB",
		"renew JIT access in LCS", "PASS replication installed", "PASS distribution disk",
		"LCS has counted 2 of 3 database operations for production in its rolling 24 hours; this does not limit the refresh into production"} {
		found := false
		for _, l := range h.e.Logs(100, "preflight") {
			found = found || strings.Contains(l.Msg, want)
		}
		if !found {
			t.Errorf("pre-flight log lacks %q", want)
		}
	}
	h2 := newHarness(t, src)
	h2.opts.Ports = engine.Ports{Preflight: fakePreflight{goodFacts()}, LCS: newFakeLCS()}
	h2.start()
	if st := h2.waitStep("preflight", engine.StateSucceeded); !strings.Contains(st.Message, "0 failed") {
		t.Fatalf("message %q", st.Message)
	}
}

// preflightLines runs a preflight step over facts and returns its final state and its log lines.
func preflightLines(t *testing.T, with string, facts engine.PreflightFacts, want engine.StepState) (engine.StepView, []string) {
	t.Helper()
	h := newHarness(t, "name: t\n"+replConnections+lcsSection+`steps:
  - {id: preflight, title: Pre-flight, kind: preflight, with: {distribution_path: 'D:\SQLServer\Data', snapshot_path: 'E:\Snapshot', confirmed: [toolkit_version, upgrade_checklist]`+with+`}}
`)
	h.opts.Ports = engine.Ports{Preflight: fakePreflight{facts}, LCS: newFakeLCS()}
	h.start()
	st := h.waitStep("preflight", want)
	var lines []string
	for _, l := range h.e.Logs(100, "preflight") {
		lines = append(lines, l.Msg)
	}
	return st, lines
}

// hasLine reports whether lines holds one that starts with prefix and contains every part.
func hasLine(lines []string, prefix string, parts ...string) bool {
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// TestPreflightUnknownFactsWarn: a fact the source could not give (the database size hidden from a
// login without VIEW ANY DEFINITION, the database settings, 'max text repl size') is unknown, not
// zero or empty: its checks warn with the reason instead of passing a disk check against a 0-byte
// database or failing on an owner and a setting nobody read.
func TestPreflightUnknownFactsWarn(t *testing.T) {
	f := goodFacts()
	f.DatabaseBytes, f.DatabaseOwner, f.RCSI, f.MaxTextReplSize = 0, "", false, 0
	f.Unavailable = map[string]string{
		"database size":      "sys.master_files shows none of its files",
		"database settings":  "permission denied",
		"max text repl size": "sys.configurations has no 'max text repl size (B)' row",
	}
	st, lines := preflightLines(t, "", f, engine.StateSucceeded)
	if st.Message != "15 checks: 10 passed, 5 warnings, 0 failed" {
		t.Fatalf("unknown facts: %q\n%s", st.Message, strings.Join(lines, "\n"))
	}
	for _, w := range []struct{ prefix, part string }{
		{"WARN database owner", "could not check: permission denied"},
		{"WARN max text repl size", "could not check: sys.configurations has no 'max text repl size (B)' row"},
		{"WARN read committed snapshot", "could not check: permission denied"},
		{"WARN distribution disk", "D: has 900.0 GiB free; the database size is unknown: sys.master_files shows none of its files"},
		{"WARN snapshot disk", "the database size is unknown"},
	} {
		if !hasLine(lines, w.prefix, w.part) {
			t.Errorf("no line %q … %q:\n%s", w.prefix, w.part, strings.Join(lines, "\n"))
		}
	}
	// SERVERPROPERTY('IsIntegratedSecurityOnly') is NULL on an error: the sign-in mode is unknown.
	f = goodFacts()
	f.Unavailable = map[string]string{"sign-in mode": "SERVERPROPERTY('IsIntegratedSecurityOnly') returned NULL"}
	_, lines = preflightLines(t, "", f, engine.StateSucceeded)
	if !hasLine(lines, "WARN sign-in mode", "could not check: SERVERPROPERTY('IsIntegratedSecurityOnly') returned NULL") {
		t.Errorf("unknown sign-in mode:\n%s", strings.Join(lines, "\n"))
	}
	// Without the settings the size is unknown too.
	f = goodFacts()
	f.DatabaseBytes, f.DatabaseOwner = 0, ""
	f.Unavailable = map[string]string{"database settings": "no database named MicrosoftDynamicsAX"}
	f.MaxTextReplSize = -1
	_, lines = preflightLines(t, "", f, engine.StateSucceeded)
	if !hasLine(lines, "WARN distribution disk", "the database size is unknown: no database named MicrosoftDynamicsAX") {
		t.Errorf("disk check without the settings:\n%s", strings.Join(lines, "\n"))
	}
}

func TestPreflightSQLAgentStopped(t *testing.T) {
	f := goodFacts()
	f.AgentRunning, f.AgentStatus = false, "Stopped"
	st, lines := preflightLines(t, "", f, engine.StateFailed)
	if !strings.Contains(st.LastError, "15 checks: 14 passed, 0 warnings, 1 failed: SQL Server Agent (each line in the log says how to fix it)") {
		t.Fatalf("error %q", st.LastError)
	}
	if !hasLine(lines, "FAIL SQL Server Agent ", "Stopped — fix: start SQL Server Agent and set it to start automatically") {
		t.Fatalf("no FAIL line with the fix for the Agent:\n%s", strings.Join(lines, "\n"))
	}
}

func TestPreflightWarnings(t *testing.T) {
	f := goodFacts()
	f.RCSI = false
	f.DatabaseOwner = `CONTOSO\axadmin`
	f.ServerVersion = "11.0.7001.0"
	f.AgentRunning, f.AgentStatus = false, ""
	f.Unavailable = map[string]string{"SQL Server Agent": "VIEW SERVER STATE permission denied"}
	f.Login, f.Sysadmin = "jit-reader", false
	st, lines := preflightLines(t, "", f, engine.StateSucceeded)
	if st.Message != "15 checks: 10 passed, 5 warnings, 0 failed" {
		t.Fatalf("warnings alone must not fail the step: %q", st.Message)
	}
	for _, w := range []struct{ prefix, part string }{
		{"WARN read committed snapshot", "off — fix: ALTER DATABASE … SET READ_COMMITTED_SNAPSHOT ON"},
		{"WARN database owner", `CONTOSO\axadmin — fix: EXEC sp_changedbowner 'sa'`},
		{"WARN SQL Server build", "11.0.7001.0 — fix: replication to Azure SQL needs SQL Server 2012 SP2 CU8+"},
		{"WARN SQL Server Agent", "could not check: VIEW SERVER STATE permission denied — fix: check that SQL Server Agent runs"},
		{"WARN login rights", "jit-reader is not sysadmin (db_owner of the AX database); some checks here need sysadmin — fix: make sure the toolkit's SQL login is sysadmin"},
	} {
		if !hasLine(lines, w.prefix, w.part) {
			t.Errorf("no line %q … %q:\n%s", w.prefix, w.part, strings.Join(lines, "\n"))
		}
	}
	if hasLine(lines, "PASS database owner") || !hasLine(lines, "PASS max text repl size", "-1 (unlimited)") {
		t.Errorf("verdicts mixed up:\n%s", strings.Join(lines, "\n"))
	}
	// With warnings_fail the same warnings fail the step, naming them.
	st, _ = preflightLines(t, ", warnings_fail: true", f, engine.StateFailed)
	if !strings.Contains(st.LastError, "5 warnings, 0 failed: login rights, SQL Server Agent, database owner, read committed snapshot, SQL Server build") {
		t.Fatalf("error %q", st.LastError)
	}
}

// fakePubs lists publications, or fails like a dropped distribution database.
type fakePubs struct {
	mu   sync.Mutex
	list []engine.PublicationInfo
	gone bool
}

func (f *fakePubs) Publications(context.Context) ([]engine.PublicationInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return nil, errors.New("Cannot open database \"distribution\" (4060)")
	}
	return append([]engine.PublicationInfo(nil), f.list...), nil
}

func TestToolkitStepsWaitForTheirEffect(t *testing.T) {
	menu := filepath.Join(t.TempDir(), "ReplicationMenu.json")
	os.WriteFile(menu, []byte(`{"Menu":[{"Name":"Environment setup activity","Status":1},{"Name":"Remove replication setup","Status":0}]}`), 0o600)
	inBubble(t, "name: t\n"+replConnections+lcsSection+`steps:
  - {id: setup, title: Setup, kind: toolkit, with: {step: "Environment preparation: Environment setup activity", menu_json: `+menu+`}}
  - {id: remove, title: Remove replication, kind: toolkit, destructive: true, after: setup, with: {step: "Cutover: Remove replication setup", menu_json: `+menu+`}}
  - {id: replicated, title: Replicated, kind: toolkit, after: remove, with: {step: "Post-replication: Update environment state to Replicated"}}
`, func(t *testing.T, h *harness) {
		pubs := &fakePubs{list: []engine.PublicationInfo{{Name: "AX_PUB_PkTable_1", Transactional: true}}}
		setup := &fakeSetup{left: engine.SetupLeft{Distributors: []string{"distribution"}, Publications: []string{"AX_PUB_PkTable_1"}}}
		api := newFakeLCS()
		api.states["SBX"] = "Replication in progress"
		h.opts.Ports = engine.Ports{Publications: pubs, LCS: api, Setup: setup}
		h.start()
		// The first step has no observable effect; the toolkit's own menu file says it is done.
		if st := h.waitStep("setup", engine.StateSucceeded); !strings.Contains(st.Message, "the toolkit reports") {
			t.Fatalf("setup: %q", st.Message)
		}
		st := h.waitStep("remove", engine.StateAwaiting)
		if !strings.Contains(st.Confirmation.Action, "deletes the publications, the distribution database and the snapshot folder") {
			t.Fatalf("the confirmation must say what the menu step does: %q", st.Confirmation.Action)
		}
		h.e.Confirm("remove", st.Confirmation.Request, ana, "remove")
		time.Sleep(10 * time.Minute)
		if h.state("remove") != engine.StateRunning {
			t.Fatal("done before the publications were removed")
		}
		// The old publications read failing like a dropped database must not count: only the
		// setup's own answer does.
		pubs.mu.Lock()
		pubs.gone = true
		pubs.mu.Unlock()
		// A read that fails (a timeout, a refused login) is no answer: the step keeps waiting.
		for _, err := range []error{errors.New("read tcp 10.0.0.5:50212->10.0.0.4:1433: i/o timeout"),
			errors.New("mssql: login error: Login failed for user 'cutover'.")} {
			setup.set(func(f *fakeSetup) { f.left, f.leftErr = engine.SetupLeft{}, err })
			time.Sleep(10 * time.Minute)
			synctest.Wait()
			if h.state("remove") != engine.StateRunning {
				t.Fatalf("a read error (%v) was taken for the effect", err)
			}
		}
		if logs := h.e.Logs(50, "remove"); !slices.ContainsFunc(logs, func(l engine.LogLine) bool { return strings.Contains(l.Msg, "could not read: read tcp") }) {
			t.Fatalf("the read error is not reported: %+v", logs)
		}
		setup.set(func(f *fakeSetup) {
			f.left, f.leftErr = engine.SetupLeft{Evidence: "sys.databases lists no distribution database; distribution cannot be opened (4060)"}, nil
		})
		if st := h.waitStep("remove", engine.StateSucceeded); !strings.Contains(st.Message, "no publication and no distribution database left (sys.databases lists no distribution database; distribution cannot be opened (4060))") {
			t.Fatalf("remove: %q", st.Message)
		}
		time.Sleep(5 * time.Minute)
		api.setState("SBX", "Replication completed")
		h.waitStep("replicated", engine.StateSucceeded)
	})
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	h.src = "name: t\nsteps:\n  - {id: x, title: X, kind: toolkit, with: {step: \"Cutover: Remove the replication setup\"}}\n"
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), `(did you mean "Cutover: Remove replication setup"?)`) {
		t.Fatalf("a misspelt menu step: %v", err)
	}
}

func TestSmokeHTTPAndSQL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `<html><title>Finance and Operations</title></html>`)
	}))
	defer srv.Close()
	t.Setenv("SMOKE_TOKEN", "tok")
	h := newHarness(t, "name: t\n"+replConnections+`steps:
  - {id: web, title: F&O answers, kind: smoke.http, with: {url: "`+srv.URL+`", expect_body: Finance and Operations, bearer_env: SMOKE_TOKEN}}
  - {id: noauth, title: Without a token, kind: smoke.http, with: {url: "`+srv.URL+`"}}
  - {id: users, title: Users enabled, kind: smoke.sql, with: {connection: target, query: "SELECT COUNT(*) FROM USERINFO WHERE ENABLE = 1", expect: "42"}}
  - {id: wrong, title: Wrong, kind: smoke.sql, with: {connection: target, query: "SELECT 1", expect_rows: 2}}
`)
	h.opts.Ports.SQL = fakeQuery{}
	h.start()
	if st := h.waitStep("web", engine.StateSucceeded); !strings.HasPrefix(st.Message, "HTTP 200") {
		t.Fatalf("web: %q", st.Message)
	}
	if st := h.waitStep("noauth", engine.StateFailed); !strings.Contains(st.LastError, "HTTP 401 (expected 200)") {
		t.Fatalf("noauth: %q", st.LastError)
	}
	h.waitStep("users", engine.StateSucceeded)
	if st := h.waitStep("wrong", engine.StateFailed); st.LastError != "1 row(s), expected 2" {
		t.Fatalf("wrong: %q", st.LastError)
	}
}

// TestSmokeHTTPEntraDecoding: entra and bearer_env exclude each other, entra_resource is checked
// and needs entra, each problem at its file:line:col; the resource defaults to the URL's scheme and
// host, and the description says the step signs in.
func TestSmokeHTTPEntraDecoding(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	step := func(with string) string {
		return "name: t\n" + lcsSection + "steps:\n  - id: web\n    title: Web\n    kind: smoke.http\n    with:\n      url: https://contoso.operations.dynamics.com:8443/namespaces/AXSF/\n" + with
	}
	for _, c := range []struct{ with, want string }{
		{"      entra: true\n      bearer_env: TOK\n", `cutover.yaml:15:19: step "web" with: bearer_env: give either entra: true`},
		{"      bearer_env: TOK\n      entra: true\n", `cutover.yaml:14:19: step "web" with: bearer_env: give either entra: true`},
		{"      entra_resource: https://contoso.operations.dynamics.com\n", `cutover.yaml:14:23: step "web" with: entra_resource: only used with entra: true`},
		{"      entra: yes please\n", `cutover.yaml:14:14: step "web" with: entra: expected true or false`},
		{"      entra: true\n      entra_resource: http://contoso.operations.dynamics.com\n", `cutover.yaml:15:23: step "web" with: entra_resource: "http://contoso.operations.dynamics.com" is not an Entra ID resource`},
		{"      entra: true\n      entra_resource: contoso\n", `cutover.yaml:15:23: step "web" with: entra_resource: "contoso" is not an Entra ID resource`},
		{"      entra: true\n      entra_resource: https://contoso.example/?x=1\n", `is not an Entra ID resource`},
		{"      entra: true\n      entra_resource: https://contoso.example/.default\n", `cutover.yaml:15:23: step "web" with: entra_resource: give the resource (https://contoso.example), not a scope`},
		{"      entra: true\n      entra_resource: \"\"\n", `entra_resource: must not be empty`},
	} {
		h.src = step(c.with)
		if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %q, got %v", c.with, c.want, err)
		}
	}
	for _, c := range []struct{ with, resource string }{
		{"      entra: true\n", "https://contoso.operations.dynamics.com:8443"},
		{"      entra: true\n      entra_resource: https://contoso.sandbox.operations.dynamics.com/\n", "https://contoso.sandbox.operations.dynamics.com"},
		{"      entra: true\n      entra_resource: https://contoso.example/api\n", "https://contoso.example/api"},
	} {
		h.src = step(c.with)
		rb, err := loadErr(h)
		if err != nil {
			t.Errorf("%s: %v", c.with, err)
			continue
		}
		want := ", signing in with Entra ID for " + c.resource + " (the runbook's lcs sign-in)"
		if d := rb.Steps[0].Spec.(engine.Action).Describe(); !strings.HasSuffix(d, want) {
			t.Errorf("%s: Describe = %q, want it to end with %q", c.with, d, want)
		}
	}
	// No lcs section: nothing to sign in with. Clear text to another machine: refused.
	h.src = "name: t\nsteps:\n  - id: web\n    title: Web\n    kind: smoke.http\n    with: {url: https://contoso.example/, entra: true}\n"
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), `cutover.yaml:6:50: step "web" with: entra: the token comes from the runbook's Entra ID sign-in: add an lcs section`) {
		t.Errorf("entra without an lcs section: %v", err)
	}
	for _, c := range []struct{ url, with string }{{"http://contoso.example/", "entra: true"}, {"http://10.1.2.3:8080/", "bearer_env: TOK"}} {
		h.src = "name: t\n" + lcsSection + "steps:\n  - id: web\n    title: Web\n    kind: smoke.http\n    with: {url: \"" + c.url + "\", " + c.with + "}\n"
		if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), "a bearer token would cross the network in clear text") {
			t.Errorf("%s over %s: %v", c.with, c.url, err)
		}
	}
	h.src = "name: t\n" + lcsSection + "steps:\n  - id: web\n    title: Web\n    kind: smoke.http\n    with: {url: \"http://127.0.0.1:8080/\", entra: true}\n"
	if _, err := loadErr(h); err != nil {
		t.Errorf("a token to this machine over http: %v", err)
	}
	h.src = step("      entra: false\n      bearer_env: TOK\n")
	if rb, err := loadErr(h); err != nil || !strings.HasSuffix(rb.Steps[0].Spec.(engine.Action).Describe(), "with the bearer token in $TOK") {
		t.Errorf("entra: false with bearer_env: %v", err)
	}
}

// fakeTokens hands out a token per resource and records what was asked.
type fakeTokens struct {
	mu    sync.Mutex
	asked []string
	err   error
}

func (f *fakeTokens) Token(_ context.Context, resource string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, resource)
	if f.err != nil {
		return "", f.err
	}
	return "entra-for-" + resource, nil
}

// TestSmokeHTTPEntra: with entra: true the request carries the token the Tokens port gives for the
// URL's scheme and host; a refused token fails naming the status; without the port, or when the
// sign-in fails for good, the step fails at once despite its retries.
func TestSmokeHTTPEntra(t *testing.T) {
	var resource string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" || r.Header.Get("Authorization") != "Bearer entra-for-"+resource {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	resource = srv.URL
	src := "name: t\n" + lcsSection + "steps:\n" +
		"  - {id: web, title: Web, kind: smoke.http, with: {url: \"" + srv.URL + "/data/Companies\", entra: true, expect_body: ok}}\n" +
		"  - {id: deny, title: Deny, kind: smoke.http, after: [web], with: {url: \"" + srv.URL + "/deny\", entra: true}}\n"
	tokens := &fakeTokens{}
	h := newHarness(t, src)
	h.opts.Ports.Tokens = tokens
	h.start()
	h.waitStep("web", engine.StateSucceeded)
	st := h.waitStep("deny", engine.StateFailed)
	if !strings.Contains(st.LastError, "HTTP 401 (expected 200)") || !strings.Contains(st.LastError, "the Entra ID token for "+srv.URL+" was refused") {
		t.Fatalf("deny: %q", st.LastError)
	}
	tokens.mu.Lock()
	if len(tokens.asked) != 2 || tokens.asked[0] != srv.URL || tokens.asked[1] != srv.URL {
		t.Errorf("tokens asked for %q, want the URL's scheme and host twice", tokens.asked)
	}
	tokens.mu.Unlock()

	for _, c := range []struct {
		name   string
		tokens engine.Tokens
		want   string
	}{
		{"no port", nil, "the runbook's lcs section (Entra ID sign-in)"},
		{"sign-in refused", &fakeTokens{err: lcsErr{msg: "sign-in refused", permanent: true}}, "get an Entra ID token for " + srv.URL + ": sign-in refused"},
	} {
		h := newHarness(t, "name: t\n"+lcsSection+"steps:\n  - {id: web, title: Web, kind: smoke.http, retries: 3, with: {url: \""+srv.URL+"\", entra: true}}\n")
		if c.tokens != nil {
			h.opts.Ports.Tokens = c.tokens
		}
		h.start()
		if st := h.waitStep("web", engine.StateFailed); !strings.Contains(st.LastError, c.want) || st.Attempt != 1 {
			t.Errorf("%s: attempt %d: %q", c.name, st.Attempt, st.LastError)
		}
	}
}

type fakeQuery struct{}

func (fakeQuery) Query(_ context.Context, conn, text string) ([]string, [][]string, error) {
	if strings.Contains(text, "USERINFO") {
		return []string{""}, [][]string{{"42"}}, nil
	}
	return []string{""}, [][]string{{"1"}}, nil
}

// TestSmokeHTTPCertificate: a server behind a CA the system does not know fails the check; with
// that CA's certificate (certificate:) it passes; a certificate file that cannot be read or holds
// no certificate is a problem at its file:line:col.
func TestSmokeHTTPCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Finance and Operations")
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, `name: t
steps:
  - {id: pinned, title: Pinned, kind: smoke.http, with: {url: "`+srv.URL+`", certificate: "`+ca+`", expect_body: Finance}}
  - {id: system, title: System CAs, kind: smoke.http, with: {url: "`+srv.URL+`"}}
`).start()
	if st := h.waitStep("pinned", engine.StateSucceeded); !strings.HasPrefix(st.Message, "HTTP 200") {
		t.Fatalf("pinned: %q", st.Message)
	}
	if st := h.waitStep("system", engine.StateFailed); !strings.Contains(st.LastError, "certificate") {
		t.Fatalf("system: %q", st.LastError)
	}

	for _, c := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.pem"), `cutover.yaml:4:25: step "web" with: certificate: ` + filepath.Join(dir, "missing.pem") + ` cannot be read: no such file or directory`},
		{notPEM, `cutover.yaml:4:25: step "web" with: certificate: ` + notPEM + ` holds no PEM certificate`},
	} {
		h.src = "name: t\nsteps:\n  - id: web\n    with: {certificate: \"" + c.file + "\", url: https://contoso.example/}\n    title: Web\n    kind: smoke.http\n"
		if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

// fakeDeliveries reports the snapshot deliveries logged within the window asked for.
type fakeDeliveries struct {
	mu   sync.Mutex
	list []engine.SnapshotDelivery
}

func (f *fakeDeliveries) SnapshotDeliveries(_ context.Context, within time.Duration) ([]engine.SnapshotDelivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var out []engine.SnapshotDelivery
	for _, d := range f.list {
		if !d.At.Before(now.Add(-within)) && !d.At.After(now) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeDeliveries) deliver(pub string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, engine.SnapshotDelivery{Publication: pub, At: time.Now(), Message: `Delivered snapshot from the \\AXSQL01\ReplData\unc\X\`})
}

// TestNonPKStepFindsDeliveriesSinceItFirstStarted: the non-PK toolkit step waits for a delivery of
// each cutover publication's snapshot logged since the step first started, whatever the agents'
// newest messages say by then; a delivery from before the step does not count, and one from before
// a restart still does.
func TestNonPKStepFindsDeliveriesSinceItFirstStarted(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: nopk, title: Non-PK, kind: toolkit, with: {step: "Cutover: Setup Publication for Non PK Tables", poll: 1m}}
`, func(t *testing.T, h *harness) {
		pubs := &fakePubs{list: []engine.PublicationInfo{{Name: "AX_PUB_PkTable_1", Transactional: true},
			{Name: "AX_PUB_NoPKTable"}, {Name: "AX_PUB_TABLE_LockedTable", Transactional: true}}}
		dels := &fakeDeliveries{list: []engine.SnapshotDelivery{{Publication: "AX_PUB_NoPKTable", At: time.Now().Add(-2 * time.Hour)}}}
		h.opts.Ports = engine.Ports{Publications: pubs, Deliveries: dels}
		h.start()
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if st := h.state("nopk"); st != engine.StateRunning {
			t.Fatalf("a delivery from before the step counted: %s", st)
		}
		dels.deliver("AX_PUB_NoPKTable")
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		h.stop()
		h.start()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if st := h.state("nopk"); st != engine.StateRunning {
			t.Fatalf("done before the locked-table publication's snapshot arrived: %s", st)
		}
		var waiting bool
		for _, l := range h.e.Logs(100, "nopk") {
			waiting = waiting || strings.Contains(l.Msg, `waiting for "Delivered snapshot" on AX_PUB_TABLE_LockedTable`)
		}
		if !waiting {
			t.Fatalf("the step must name what it waits for: %v", h.e.Logs(10, "nopk"))
		}
		dels.deliver("AX_PUB_TABLE_LockedTable")
		st := h.waitStep("nopk", engine.StateSucceeded)
		if st.Attempt != 2 || !strings.Contains(st.Message, "AX_PUB_NoPKTable and AX_PUB_TABLE_LockedTable: snapshot delivered") {
			t.Fatalf("attempt %d: %q", st.Attempt, st.Message)
		}
	})
}

// TestUpgradeWatchWeighsTheLCSState: as the toolkit's `ds` report does, the sandbox's LCS state
// decides the end: the tables showing the last step done are not enough while LCS still says
// "Data upgrade in progress"; Deployed completes it, but not before the upgrade was seen under way
// (LCS shows a new environment Deployed too); Failed fails it with the script errors, whatever the
// tables say by then.
func TestUpgradeWatchWeighsTheLCSState(t *testing.T) {
	src := "name: t\n" + replConnections + lcsSection + `steps:
  - {id: watch, title: Watch the data upgrade, kind: upgrade.watch, with: {poll: 1m}}
`
	inBubble(t, src, func(t *testing.T, h *harness) {
		up := &fakeUpgrade{p: engine.UpgradeProgress{Phase: engine.UpgradeNotStarted, Percent: -1}}
		api := newFakeLCS()
		api.setState("SBX", "Deployed") // the environment as created: no upgrade yet
		h.opts.Ports.Upgrade, h.opts.Ports.LCS = up, api
		h.start()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if st := h.state("watch"); st != engine.StateRunning {
			t.Fatalf("a Deployed sandbox before the upgrade completed the watch: %s", st)
		}
		start := time.Now()
		api.setState("SBX", "Data upgrade in progress")
		up.set(engine.UpgradeProgress{Phase: engine.UpgradeCompleted, Step: "FinalDbSync", SubStep: "DisableDataUpgradeFlag", Percent: 100, Started: start, LastActivity: start})
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if st := h.state("watch"); st != engine.StateRunning {
			t.Fatalf("completed on the tables alone while LCS says in progress: %s", st)
		}
		var waiting bool
		for _, l := range h.e.Logs(100, "watch") {
			waiting = waiting || strings.Contains(l.Msg, "waiting for LCS to say Deployed (it says Data upgrade in progress)")
		}
		if !waiting {
			t.Fatalf("the step must say what it waits for: %v", h.e.Logs(10, "watch"))
		}
		api.setState("SBX", "Deployed")
		st := h.waitStep("watch", engine.StateSucceeded)
		if !strings.Contains(st.Message, "data upgrade completed in 11m") || !strings.Contains(st.Message, "(LCS: Deployed)") {
			t.Fatalf("message %q", st.Message)
		}
	})
	inBubble(t, src, func(t *testing.T, h *harness) {
		start := time.Now()
		up := &fakeUpgrade{p: engine.UpgradeProgress{Phase: engine.UpgradeRunning, Step: "PostSync", SubStep: "WaitForBatch", Percent: 70, Started: start,
			LastActivity: start, Errors: []string{"ReleaseUpdateDB10_CaseManagement.updateCaseCategoryTypeMajor (DAT): Cannot edit a record in Case category Security by Role (CaseCategoryRole)."}}}
		api := newFakeLCS()
		h.opts.Ports.Upgrade, h.opts.Ports.LCS = up, api
		h.start()
		time.Sleep(5 * time.Minute)
		api.setState("SBX", "Failed")
		st := h.waitStep("watch", engine.StateFailed)
		for _, want := range []string{"the data upgrade failed (LCS: Failed) in PostSync / WaitForBatch (70%)", "updateCaseCategoryTypeMajor (DAT): Cannot edit a record", "offers Resume"} {
			if !strings.Contains(st.LastError, want) {
				t.Errorf("failure lacks %q: %s", want, st.LastError)
			}
		}
	})
}

// TestUpgradeWatchLogsStepsNotPercents: the log gets a line when the step changes, not at every
// percent, and the percent shown never goes back (between two batch jobs the estimate would).
func TestUpgradeWatchLogsStepsNotPercents(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: watch, title: Watch the data upgrade, kind: upgrade.watch, with: {poll: 1m}}
`, func(t *testing.T, h *harness) {
		start := time.Now()
		up := &fakeUpgrade{p: engine.UpgradeProgress{Phase: engine.UpgradeRunning, Step: "PostSync", SubStep: "WaitForBatch", Percent: 61, Started: start, LastActivity: start}}
		h.opts.Ports.Upgrade = up
		h.start()
		for pct := 62.0; pct <= 80; pct++ {
			time.Sleep(time.Minute)
			synctest.Wait()
			up.set(engine.UpgradeProgress{Phase: engine.UpgradeRunning, Step: "PostSync", SubStep: "WaitForBatch", Percent: pct, Started: start, LastActivity: time.Now()})
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		up.set(engine.UpgradeProgress{Phase: engine.UpgradeRunning, Step: "PostSync", SubStep: "ImportIsvLicenses", Percent: 60, Started: start, LastActivity: time.Now()})
		time.Sleep(time.Minute)
		synctest.Wait()
		var lines []string
		for _, l := range h.e.Logs(100, "watch") {
			if strings.HasPrefix(l.Msg, "data upgrade: ") {
				lines = append(lines, l.Msg)
			}
		}
		want := []string{"data upgrade: PostSync / WaitForBatch (61%)", "data upgrade: PostSync / ImportIsvLicenses (80%)"}
		if strings.Join(lines, "|") != strings.Join(want, "|") {
			t.Fatalf("log lines %q, want %q", lines, want)
		}
	})
}

// TestToolkitEffectAlreadyThereIsSaid: a toolkit step whose effect was there at its first look
// (a sandbox or publications left from an earlier rehearsal look the same) says so in its result
// and warns: true, but not shown to be this run of the step. One whose effect came after its
// first look says nothing of the kind.
func TestToolkitEffectAlreadyThereIsSaid(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+lcsSection+`steps:
  - {id: cleanup, title: Cleanup, kind: toolkit, with: {step: "Replication: Cleanup Target Database", poll: 1m}}
  - {id: replicated, title: Replicated, kind: toolkit, after: cleanup, with: {step: "Post-replication: Update environment state to Replicated", poll: 1m}}
`, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.states["SBX"] = "Replication in progress"
		h.opts.Ports = engine.Ports{LCS: api}
		h.start()
		st := h.waitStep("cleanup", engine.StateSucceeded)
		if !strings.Contains(st.Message, "already so when the step began") {
			t.Fatalf("cleanup: %q", st.Message)
		}
		if logs := h.e.Logs(50, "cleanup"); !slices.ContainsFunc(logs, func(l engine.LogLine) bool {
			return l.Level == engine.LevelWarn && strings.Contains(l.Msg, "does not show that «Replication: Cleanup Target Database» ran")
		}) {
			t.Fatalf("no warning: %+v", logs)
		}
		time.Sleep(5 * time.Minute)
		api.setState("SBX", "Replication completed")
		if st := h.waitStep("replicated", engine.StateSucceeded); strings.Contains(st.Message, "already") {
			t.Fatalf("an effect seen after the first look: %q", st.Message)
		}
	})
}

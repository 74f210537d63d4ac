package runbook_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cutover/engine/runbook"
)

const notifySteps = `
steps:
  - {id: a, title: A, kind: manual}
`

func TestNotifySection(t *testing.T) {
	src := `name: n
notify:
  confirmation_wait: 15m
  tries: 3
  backoff: 10s
  targets:
    - {name: ops-teams, type: teams, url_env: TEAMS_URL, events: [step.failed, run.completed]}
    - {name: pm, type: slack, url_env: SLACK_URL, confirmation_wait: 5m}
    - {name: monitoring, type: generic, url_env: HOOK_URL}
` + notifySteps
	env := map[string]string{"TEAMS_URL": "https://prod-01.westeurope.logic.azure.com/workflows/x", "SLACK_URL": "https://hooks.slack.com/services/T/B/X", "HOOK_URL": "http://127.0.0.1:9000/hook"}
	rb, ps := parse(t, src, env)
	if ps != nil {
		t.Fatal(ps)
	}
	n := rb.Notify
	if n.ConfirmationWait != 15*time.Minute || n.Tries != 3 || n.Backoff != 10*time.Second || len(n.Targets) != 3 {
		t.Fatalf("notify: %+v", n)
	}
	ops, pm := n.Targets[0], n.Targets[1]
	if ops.Type != runbook.FormatTeams || ops.URLEnv != "TEAMS_URL" || ops.ConfirmationWait != 15*time.Minute {
		t.Errorf("ops: %+v", ops)
	}
	if !ops.Wants(runbook.EventStepFailed) || ops.Wants(runbook.EventDowntimeBegan) {
		t.Errorf("ops hears the wrong events: %v", ops.Events)
	}
	if pm.ConfirmationWait != 5*time.Minute || !pm.Wants(runbook.EventSourcesLost) {
		t.Errorf("pm: %+v", pm)
	}
}

func TestNotifyProblems(t *testing.T) {
	src := `name: n
notify:
  targets:
    - {name: ops, type: teams, url: "https://secret.example/hook"}
    - {name: pm, type: slak, url_env: SLACK_URL, events: [step.fialed]}
    - {name: pm, type: generic, url_env: PLAIN}
    - {name: x, type: generic, url_env: UNSET}
` + notifySteps
	env := map[string]string{"SLACK_URL": "https://hooks.slack.com/services/T/B/X", "PLAIN": "http://hooks.example.com/secret-token"}
	_, ps := parse(t, src, env)
	want := []string{
		`cutover.yaml:4:7: notify target "ops": missing required key "url_env"`,
		`cutover.yaml:4:37: notify target "ops": url: inline webhook URLs are refused (the URL is the credential); put it in an environment variable and name it with url_env`,
		`cutover.yaml:5:24: notify target "pm": type: "slak" is not allowed (did you mean "slack"?)`,
		`cutover.yaml:5:59: notify target "pm": events: unknown milestone "step.fialed" (did you mean "step.failed"?)`,
		`cutover.yaml:6:7: notify: target "pm" is defined twice (first at line 5)`,
		`cutover.yaml:6:42: notify target "pm": url_env: the URL in PLAIN must use https (plain http only to this machine: 127.0.0.1, ::1, localhost)`,
		`cutover.yaml:7:41: notify target "x": url_env: environment variable UNSET is not set (export the webhook's URL in the shell that runs cutover)`,
	}
	if got := problemStrings(ps); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range problemStrings(ps) {
		if strings.Contains(p, "secret") {
			t.Errorf("a problem repeats a webhook URL: %s", p)
		}
	}
}

func TestHTTPSectionAndPrivateWords(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"web.crt", "web.key", "lcs.secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("s3cret-from-file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := `name: n
connections:
  source: {server: 'AXSQL01.contoso.local\AX', database: AX, user: u, password_env: SRC_PW}
  target: {server: 'sandbox.database.windows.net,1433', database: T, user: u, password_env: TGT_PW}
aos: {control: scm, instances: [{host: AX-AOS01, service: AOS60$01}]}
lcs: {project_id: "1", auth: client-secret, client_id: c, client_secret_file: lcs.secret, tenant_id: contoso.onmicrosoft.com, username: ana@contoso.com, password_file: lcs.secret}
notify: {targets: [{name: ops, type: generic, url_env: HOOK}]}
http:
  certificate: web.crt
  key: web.key
  private: [Contoso Finance, ab]
  worst_tables: 50
` + notifySteps
	env := map[string]string{"SRC_PW": "source-password", "TGT_PW": "target-password", "HOOK": "https://hooks.example.com/T/secret"}
	path := filepath.Join(dir, "cutover.yaml")
	_, err := runbook.Parse(path, []byte(src), opts(env))
	if err == nil || !strings.Contains(err.Error(), `:11:30: http: private: "ab" is too short to hide`) {
		t.Fatalf("want the short private word refused, got %v", err)
	}
	rb, err := runbook.Parse(path, []byte(strings.Replace(src, ", ab]", "]", 1)), opts(env))
	if err != nil {
		t.Fatal(err)
	}
	if rb.HTTP.Certificate != filepath.Join(dir, "web.crt") || rb.HTTP.Key != filepath.Join(dir, "web.key") || rb.HTTP.WorstTables != 50 {
		t.Errorf("http: %+v", rb.HTTP)
	}
	got := rb.PrivateWords(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	want := []string{"https://hooks.example.com/T/secret", "s3cret-from-file", "source-password", "target-password",
		"sandbox.database.windows.net", "AXSQL01.contoso.local", "Contoso Finance", "AX-AOS01"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("private words:\n%q\nwant\n%q", got, want)
	}
	_, err = runbook.Parse(path, []byte("name: n\nhttp: {certificate: web.crt, key: missing.key}\n"+notifySteps), opts(nil))
	if err == nil || !strings.Contains(err.Error(), "cutover.yaml:2:35: http: key: "+filepath.Join(dir, "missing.key")+" cannot be read: no such file or directory") {
		t.Errorf("missing key file: %v", err)
	}
	_, err = runbook.Parse(path, []byte("name: n\nhttp: {certificate: web.crt}\n"+notifySteps), opts(nil))
	if err == nil || !strings.Contains(err.Error(), "http: certificate needs key") {
		t.Errorf("certificate without key: %v", err)
	}
}

package runbook_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine"
	"cutover/engine/runbook"
)

// testKinds is a minimal kind set: manual and gate accept anything under with:, "strict" knows
// only `size` and requires it.
type testKinds struct{}

type anyKind struct{}

func (anyKind) DecodeWith(*runbook.Decoder, *runbook.Step, *yaml.Node) any { return struct{}{} }

type strictKind struct{}

func (strictKind) DecodeWith(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) any {
	where := "step \"" + s.ID + "\" with"
	present := d.Fields(with, where, map[string]runbook.Field{
		"size": func(v *yaml.Node) { d.Int(v, where, "size", 1, 10) },
	})
	if with != nil {
		d.Require(with, where, present, "size")
	}
	return struct{}{}
}

func (testKinds) Lookup(k string) (runbook.KindDecoder, bool) {
	switch k {
	case "manual", "gate", "command", "wait":
		return anyKind{}, true
	case "strict":
		return strictKind{}, true
	}
	return nil, false
}

func (testKinds) Names() []string { return []string{"command", "gate", "manual", "strict", "wait"} }

func opts(env map[string]string) runbook.Options {
	return runbook.Options{
		Kinds:     testKinds{},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Regions:   []string{"eu", "global", "uae"},
	}
}

func parse(t *testing.T, src string, env map[string]string) (*runbook.Runbook, runbook.Problems) {
	t.Helper()
	rb, err := runbook.Parse("cutover.yaml", []byte(src), opts(env))
	if err == nil {
		return rb, nil
	}
	var ps runbook.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse returned %T %v, want Problems", err, err)
	}
	return nil, ps
}

func problemStrings(ps runbook.Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// TestBadRunbookReportsEveryProblem is the acceptance case: an unknown key, a duplicate id, a
// cycle, a dangling dependency and an inline password, all reported at once with line:col.
func TestBadRunbookReportsEveryProblem(t *testing.T) {
	data, err := os.ReadFile("testdata/bad-runbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = runbook.Parse("bad-runbook.yaml", data, opts(nil))
	var ps runbook.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []string{
		`bad-runbook.yaml:8:15: connections.source: password: inline passwords are refused; put the secret in an environment variable (password_env), a file readable only by you (password_file), or use Entra ID (auth: entra-…)`,
		`bad-runbook.yaml:17:5: step "aos-stop": unknown key "confrim" (did you mean "confirm"?)`,
		`bad-runbook.yaml:19:9: duplicate step id "preflight" (first defined at line 10)`,
		`bad-runbook.yaml:29:13: step "validate": dependency cycle: drain → validate → drain (each waits for the next)`,
		`bad-runbook.yaml:29:20: step "validate": after: no step has id "remove-replication"`,
	}
	if got := problemStrings(ps); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// realKinds are the engine's kinds, for the templates.
func realKinds() runbook.Options {
	return runbook.Options{Kinds: engine.NewRegistry(engine.AllKinds()...), LookupEnv: func(string) (string, bool) { return "", false }}
}

func TestTemplatePassesCheck(t *testing.T) {
	rb, err := runbook.Parse("cutover.yaml", runbook.Template(), realKinds())
	if err != nil {
		t.Fatalf("the init template must pass check:\n%v", err)
	}
	if len(rb.Steps) < 40 {
		t.Fatalf("template has %d steps, want Microsoft's documented process end to end", len(rb.Steps))
	}
	// The documented process, in phases an operator recognises (golive-docs: the seed,
	// data-upgrade-self-service.md, upgrade-cutover-testing.md, database-refresh.md, goldenconfig.md).
	for _, id := range []string{"upgrade-checklist", "preflight", "refresh-readiness",
		"toolkit-env-setup", "toolkit-prepare-target", "toolkit-cleanup-target", "toolkit-distributor",
		"toolkit-pk-publications", "toolkit-other-objects", "start-snapshots", "replication-healthy",
		"downtime-go", "hold-batch", "stop-integrations", "aos-stop", "rollback-backup",
		"replication-drain", "toolkit-nopk", "validate-counts", "toolkit-dv", "toolkit-remove-replication",
		"toolkit-replicated", "trigger-upgrade", "watch-upgrade", "rollback-upgrade", "sandbox-deployed",
		"lcs-quota", "refresh-conditions", "dmf-jobs-stopped", "refresh-go", "production-refresh", "signoff",
		"reconfig-batch-groups", "reconfig-encrypted", "reconfig-services", "reconfig-integrations",
		"reconfig-attachments", "reconfig-batch-jobs", "production-answers", "users-enable", "users-enabled",
		"smoke-tests", "reopen"} {
		s, ok := rb.Step(id)
		if !ok {
			t.Errorf("template lacks step %q", id)
			continue
		}
		if s.Doc == "" && id != "" {
			t.Errorf("step %q names no document (doc:)", id)
		}
	}
	for _, id := range []string{"toolkit-cleanup-target", "aos-stop", "toolkit-remove-replication", "rollback-upgrade", "production-refresh"} {
		if s, _ := rb.Step(id); s == nil || !s.Destructive {
			t.Errorf("%s must be destructive", id)
		}
	}
	for _, id := range []string{"production-refresh", "refresh-go", "rollback-upgrade", "reopen"} {
		if s, _ := rb.Step(id); s.RequiredApprovals() != 2 {
			t.Errorf("%s needs two approvals, got %d", id, s.RequiredApprovals())
		}
	}
	// The point of no return is where the documents put it: letting users and integrations in.
	if rb.Downtime.PointOfNoReturn != "reopen" || rb.Downtime.RollbackPoint != "rollback-backup" {
		t.Errorf("point of no return %q, rollback point %q", rb.Downtime.PointOfNoReturn, rb.Downtime.RollbackPoint)
	}
	if s, _ := rb.Step("rollback-backup"); s.Kind != "backup.verify" {
		t.Errorf("the rollback point is a %s step: it must verify the backup", s.Kind)
	}
	if s, _ := rb.Step("rollback-upgrade"); s.When == nil || s.When.Failed != "watch-upgrade" {
		t.Errorf("the toolkit's rollback must be offered only when the upgrade fails: %+v", s.When)
	}
	// The rollback runbook `cutover init --rollback` writes passes check too.
	rbk, err := runbook.Parse("rollback/cutover.yaml", runbook.RollbackTemplate(), realKinds())
	if err != nil {
		t.Fatalf("the rollback template must pass check:\n%v", err)
	}
	for _, id := range []string{"rb-decide", "rb-aos-stopped", "rb-verify-backup", "rb-restore", "rb-aos-start", "rb-batch", "rb-integrations", "rb-reopen"} {
		if _, ok := rbk.Step(id); !ok {
			t.Errorf("rollback template lacks step %q", id)
		}
	}
	if s, _ := rbk.Step("rb-restore"); !s.Destructive || s.RequiredApprovals() != 2 || s.Kind != "sql.restore" {
		t.Errorf("the restore must be a destructive two-person sql.restore: %+v", s)
	}
	sections := `connections:
  source: {server: 127.0.0.1, port: 1, database: AX, auth: sql, user: sa, password_env: P, encrypt: disable}
  distribution: {server: 127.0.0.1, port: 1, database: distribution, auth: sql, user: sa, password_env: P, encrypt: disable}
  target: {server: 127.0.0.1, port: 2, database: AXDB, auth: sql, user: sa, password_env: P, encrypt: disable}
lcs:
  project_id: "1"
  client_id: c
  tenant_id: contoso.example
  auth: device-code
  sandbox_environment_id: s
  production_environment_id: p
aos:
  control: command
  stop: [sc.exe, '\\{host}', stop, '{service}']
  query: [sc.exe, '\\{host}', query, '{service}']
  stopped_pattern: STOPPED
  instances:
    - {host: AOS1, service: AOS60$01}
`
	ignore := filepath.Join(t.TempDir(), "IgnoreTables.xml")
	if err := os.WriteFile(ignore, []byte("<IgnoreTables><Name><Table>SYSLASTVALUE</Table></Name></IgnoreTables>"), 0o600); err != nil {
		t.Fatal(err)
	}
	demo, err := runbook.DemoRunbook(runbook.DemoSettings{Sections: sections, IgnoreFile: ignore})
	if err != nil {
		t.Fatal(err)
	}
	o := realKinds()
	o.LookupEnv = func(k string) (string, bool) { return "secret", k == "P" }
	if _, err := runbook.Parse("demo.yaml", demo, o); err != nil {
		t.Fatalf("demo runbook: %v", err)
	}
}

func TestProblemsEachAlone(t *testing.T) {
	head := "name: t\nsteps:\n"
	cases := []struct {
		name string
		src  string
		env  map[string]string
		want string
	}{
		{"unknown top key", "name: t\nstep:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:2:1: unknown key "step" (did you mean "steps"?)`},
		{"unknown kind", head + "  - id: a\n    title: A\n    kind: manaul\n", nil,
			`cutover.yaml:5:11: step "a": unknown kind "manaul" (did you mean "manual"?)`},
		{"unknown kind far off", head + "  - {id: a, title: A, kind: teleport}\n", nil,
			`cutover.yaml:3:29: step "a": unknown kind "teleport" (known kinds: command, gate, manual, strict, wait)`},
		{"bad duration", head + "  - {id: a, title: A, kind: manual, planned: 5 minutes}\n", nil,
			`cutover.yaml:3:46: step "a": planned: "5 minutes" is not a duration (use e.g. 15m, 1h30m or 2d)`},
		{"negative duration", head + "  - {id: a, title: A, kind: manual, timeout: -5m}\n", nil,
			`cutover.yaml:3:46: step "a": timeout: "-5m": a duration cannot be negative`},
		{"missing env", "name: t\nconnections:\n  target:\n    server: x.database.windows.net\n    database: db\n    user: u\n    password_env: TARGET_PW\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:7:19: connections.target: password_env: environment variable TARGET_PW is not set (export it in the shell that runs cutover)`},
		{"missing required", head + "  - {id: a, kind: manual}\n", nil,
			`cutover.yaml:3:5: step "a": missing required key "title"`},
		{"self dependency", head + "  - {id: a, title: A, kind: manual, after: a}\n", nil,
			`cutover.yaml:3:44: step "a": after: a step cannot wait for itself`},
		{"dangling near miss", head + "  - {id: aos-stop, title: A, kind: manual}\n  - {id: b, title: B, kind: manual, after: aos-stp}\n", nil,
			`cutover.yaml:4:44: step "b": after: no step has id "aos-stp" (did you mean "aos-stop"?)`},
		{"bad id", head + "  - {id: 'a b', title: A, kind: manual}\n", nil,
			`cutover.yaml:3:10: step "a b": id: "a b" may only use letters, digits, '.', '_' and '-' (and start with a letter or digit)`},
		{"long id", head + "  - {id: " + strings.Repeat("x", runbook.MaxStepID+1) + ", title: A, kind: manual}\n", nil,
			`cutover.yaml:3:10: step "` + strings.Repeat("x", runbook.MaxStepID+1) + `": id: "` + strings.Repeat("x", runbook.MaxStepID+1) + `" is 65 characters; at most 64 (ids are typed in the cockpit and on the command line, and shown whole)`},
		{"encrypt disable remote", "name: t\nconnections:\n  source:\n    server: AXSQL01\n    database: AX\n    auth: windows\n    encrypt: disable\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:7:14: connections.source: encrypt: disable is only allowed for a server on this machine (127.0.0.1, ::1, localhost); "AXSQL01" must be reached with encrypt: true or strict`},
		{"lcs region", "name: t\nlcs:\n  project_id: '1'\n  region: europe\n  client_id: x\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:4:11: lcs: region: unknown LCS region "europe" (use one of eu, global, uae)`},
		{"lcs sign-in without a tenant", "name: t\nlcs:\n  project_id: '1'\n  auth: device-code\n  client_id: x\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:4:9: lcs: auth device-code needs tenant_id: the directory (tenant) id of the app registration (Entra admin center → the app → Overview → Directory (tenant) ID); the app registration for LCS is single-tenant (Accounts in this organizational directory only), and Entra refuses a single-tenant app at the shared organizations/common authority with AADSTS50194`},
		{"lcs default sign-in without a tenant", "name: t\nlcs:\n  project_id: '1'\n  client_id: x\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:3:3: lcs: auth device-code needs tenant_id: the directory (tenant) id of the app registration (Entra admin center → the app → Overview → Directory (tenant) ID); the app registration for LCS is single-tenant (Accounts in this organizational directory only), and Entra refuses a single-tenant app at the shared organizations/common authority with AADSTS50194`},
		{"lcs shared tenant", "name: t\nlcs:\n  project_id: '1'\n  client_id: x\n  tenant_id: organizations\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:5:14: lcs: tenant_id: "organizations" is a shared authority, not a directory: give the directory (tenant) id or a verified domain (the app registration for LCS is single-tenant (Accounts in this organizational directory only), and Entra refuses a single-tenant app at the shared organizations/common authority with AADSTS50194)`},
		{"lcs authority without a tenant", "name: t\nlcs:\n  project_id: '1'\n  client_id: x\n  auth: password\n  username: u\n  password_env: P\n  authority_url: https://login.microsoftonline.com/common\nsteps:\n  - {id: a, title: A, kind: manual}\n", map[string]string{"P": "x"},
			`cutover.yaml:8:18: lcs: authority_url: https://login.microsoftonline.com/common names no directory: end it with the directory (tenant) id, or set tenant_id (the app registration for LCS is single-tenant (Accounts in this organizational directory only), and Entra refuses a single-tenant app at the shared organizations/common authority with AADSTS50194)`},
		{"lcs app-only sign-in", "name: t\nlcs:\n  project_id: '1'\n  auth: client-secret\n  client_id: x\n  tenant_id: contoso.example\n  client_secret_env: S\nsteps:\n  - {id: a, title: A, kind: manual}\n", map[string]string{"S": "s"},
			`cutover.yaml:3:3: lcs: auth client-secret needs username and password_env or password_file: LCS takes only delegated (user) sign-ins, Service Principal authentication isn't supported; the secret is sent with the user's password grant`},
		{"lcs inline secret", "name: t\nlcs:\n  project_id: '1'\n  auth: client-secret\n  client_id: x\n  client_secret: s3cret\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:6:18: lcs: client_secret: inline secrets are refused; use client_secret_env or client_secret_file`},
		{"kind with problems", head + "  - id: a\n    title: A\n    kind: strict\n    with: {size: 99, colour: red}\n", nil,
			`cutover.yaml:6:18: step "a" with: size: 99 is out of range (1 to 10)`},
		{"yaml syntax", "name: t\nsteps:\n  - id: a\n   title: bad indent\n", nil,
			`cutover.yaml:2:1: YAML syntax: did not find expected '-' indicator`},
		{"downtime ref", "name: t\ndowntime: {budget: 8h, begins_with: nope}\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:2:37: downtime: begins_with: no step has id "nope"`},
		{"rollback point ref", "name: t\ndowntime: {budget: 8h, point_of_no_return: a, rollback_point: nope}\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:2:63: downtime: rollback_point: no step has id "nope"`},
		{"rollback point without a point of no return", "name: t\ndowntime: {budget: 8h, rollback_point: a}\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:2:40: downtime: rollback_point: it guards the point of no return: name that step too (point_of_no_return)`},
		{"rollback point is the point of no return", "name: t\ndowntime: {budget: 8h, point_of_no_return: a, rollback_point: a}\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:2:63: downtime: rollback_point: "a" is the point of no return itself: name the backup step that comes before it`},
		{"point of no return does not wait for the rollback point", "name: t\ndowntime: {budget: 8h, point_of_no_return: refresh, rollback_point: backup}\nsteps:\n" +
			"  - {id: stop, title: Stop, kind: manual}\n  - {id: backup, title: Backup, kind: manual, after: stop}\n  - {id: refresh, title: Refresh, kind: manual, after: stop}\n", nil,
			`cutover.yaml:2:69: downtime: rollback_point: the point of no return "refresh" does not wait for "backup": add it to the after: chain of "refresh", or the refresh could start with no rollback point`},
		{"empty", "", nil, `cutover.yaml:1:1: the runbook is empty (start from ` + "`cutover init`" + `)`},
		{"two documents", "name: t\nsteps: [{id: a, title: A, kind: manual}]\n---\nname: u\n", nil,
			`cutover.yaml:3:1: YAML syntax: a runbook is one YAML document; remove the second ` + "`---`" + ` document`},
		{"when names no step", head + "  - {id: watch, title: W, kind: manual}\n  - {id: rb, title: R, kind: manual, when: {failed: wach}}\n", nil,
			`cutover.yaml:4:53: step "rb": when: failed: no step has id "wach" (did you mean "watch"?)`},
		{"when names itself", head + "  - {id: rb, title: R, kind: manual, when: {failed: rb}}\n", nil,
			`cutover.yaml:3:53: step "rb": when: failed: a step cannot be the fallback of its own failure; name the step whose failure it answers`},
		{"when unknown key", head + "  - {id: w, title: W, kind: manual}\n  - {id: rb, title: R, kind: manual, when: {fail: w}}\n", nil,
			`cutover.yaml:4:45: step "rb" when: unknown key "fail" (did you mean "failed"?)`},
		{"when without failed", head + "  - {id: w, title: W, kind: manual}\n  - {id: rb, title: R, kind: manual, when: {}}\n", nil,
			`cutover.yaml:4:44: step "rb" when: missing required key "failed"`},
		{"when not a mapping", head + "  - {id: w, title: W, kind: manual}\n  - {id: rb, title: R, kind: manual, when: w}\n", nil,
			`cutover.yaml:4:44: step "rb": when: expected a mapping such as {failed: STEP-ID} (the step runs only if that step fails), found "w"`},
		{"when closes a cycle", head + "  - {id: a, title: A, kind: manual, after: b}\n  - {id: b, title: B, kind: manual, when: {failed: a}}\n", nil,
			`cutover.yaml:4:52: step "b": dependency cycle: a → b → a (each waits for the next)`},
		{"conditional point of no return", "name: t\ndowntime: {budget: 8h, point_of_no_return: b}\nsteps:\n  - {id: a, title: A, kind: manual}\n  - {id: b, title: B, kind: manual, when: {failed: a}}\n", nil,
			`cutover.yaml:2:44: downtime: point_of_no_return: "b" runs only if "a" fails (when:); name a step every run goes through`},
		{"conditional rollback point", "name: t\ndowntime: {budget: 8h, point_of_no_return: c, rollback_point: b}\nsteps:\n  - {id: a, title: A, kind: manual}\n  - {id: b, title: B, kind: manual, when: {failed: a}}\n  - {id: c, title: C, kind: manual, after: b}\n", nil,
			`cutover.yaml:2:63: downtime: rollback_point: "b" runs only if "a" fails (when:); name a step every run goes through`},
		{"approvals range", head + "  - {id: a, title: A, kind: gate, approvals: 0}\n", nil,
			`cutover.yaml:3:46: step "a": approvals: 0 is out of range (1 to 10)`},
		{"aos template", "name: t\naos:\n  stop: [sc.exe, '\\\\{hots}', stop]\n  query: [sc.exe]\n  stopped_pattern: STOPPED\n  instances: [{host: h, service: AOS60$01}]\nsteps:\n  - {id: a, title: A, kind: manual}\n", nil,
			`cutover.yaml:3:9: aos: stop: "\\\\{hots}": unknown placeholder {hots} (available: {host} {service}; write {{ for a literal brace)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, ps := parse(t, c.src, c.env)
			got := problemStrings(ps)
			for _, g := range got {
				if g == c.want {
					return
				}
			}
			t.Errorf("want problem\n  %s\ngot\n  %s", c.want, strings.Join(got, "\n  "))
		})
	}
}

// TestLCSTenantGiven: a tenant id, a verified domain or an authority naming the directory is
// enough; the token-env mode signs in nowhere and needs none.
func TestLCSTenantGiven(t *testing.T) {
	for _, lcs := range []string{
		"  client_id: x\n  tenant_id: 6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b\n",
		"  client_id: x\n  tenant_id: contoso.onmicrosoft.com\n",
		"  client_id: x\n  authority_url: https://127.0.0.1:8443/6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b\n",
		"  auth: token-env\n  token_env: T\n",
	} {
		src := "name: t\nlcs:\n  project_id: '1'\n" + lcs + "steps:\n  - {id: a, title: A, kind: manual}\n"
		if _, ps := parse(t, src, map[string]string{"T": "tok"}); ps != nil {
			t.Errorf("%s: %v", lcs, ps)
		}
	}
}

func TestSecretsFromEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "name: t\nconnections:\n  source:\n    server: AXSQL01\n    database: AX\n    user: u\n    password_env: SRC_PW\n" +
		"  target:\n    server: t.database.windows.net\n    database: db\n    user: u\n    password_file: " + pwFile + "\n" +
		"steps:\n  - {id: a, title: A, kind: manual}\n"
	rb, ps := parse(t, src, map[string]string{"SRC_PW": "secret"})
	if ps != nil {
		t.Fatalf("unexpected problems: %v", ps)
	}
	if rb.Connections.Source.PasswordEnv != "SRC_PW" || rb.Connections.Target.PasswordFile != pwFile {
		t.Fatalf("connections not decoded: %+v %+v", rb.Connections.Source, rb.Connections.Target)
	}
	if rb.Connections.Source.Encrypt != runbook.EncryptTrue {
		t.Errorf("encryption must default to true, got %q", rb.Connections.Source.Encrypt)
	}
	// The secret never lands in the runbook value.
	if strings.Contains(strings.ToLower(rb.Hash), "secret") {
		t.Fatal("impossible")
	}
}

func TestDefaultsAndMergeKeys(t *testing.T) {
	src := `name: t
defaults: {timeout: 5m, retries: 2, retry_backoff: 3s}
x-common: &common
  kind: command
  phase: Shutdown
  idempotent: true
steps:
  - id: a
    title: A
    <<: *common
    retries: 0
  - {id: b, title: B, kind: manual, after: a, planned: 1h30m}
  - {id: c, title: C, kind: manual, after: [a], planned: 2d}
`
	// x-common is not a known key: anchors must live somewhere valid, so this is reported...
	_, ps := parse(t, src, nil)
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, `unknown key "x-common"`) {
		t.Fatalf("want only the x-common problem, got %v", ps)
	}
	// ...while anchors defined inside a step are fine.
	src = strings.Replace(src, "x-common: &common\n  kind: command\n  phase: Shutdown\n  idempotent: true\n", "", 1)
	src = strings.Replace(src, "  - id: a\n    title: A\n    <<: *common\n", "  - id: z\n    title: Z\n    kind: manual\n    with: &common\n      a: 1\n  - id: a\n    title: A\n    kind: command\n    with: {<<: *common, b: 2}\n", 1)
	rb, ps := parse(t, src, nil)
	if ps != nil {
		t.Fatalf("problems: %v", ps)
	}
	a, _ := rb.Step("a")
	if a.Timeout != 5*time.Minute || a.Retries != 0 || a.RetryBackoff != 3*time.Second {
		t.Errorf("defaults: timeout %v retries %d backoff %v", a.Timeout, a.Retries, a.RetryBackoff)
	}
	b, _ := rb.Step("b")
	if b.Retries != 2 || b.Phase != "Cutover" {
		t.Errorf("b: retries %d phase %q", b.Retries, b.Phase)
	}
	c, _ := rb.Step("c")
	if c.Planned != 48*time.Hour || !reflect.DeepEqual(c.After, []string{"a"}) {
		t.Errorf("c: planned %v after %v", c.Planned, c.After)
	}
}

func TestCriticalPathAndOrder(t *testing.T) {
	src := `name: t
downtime: {budget: 10h, begins_with: stop}
steps:
  - {id: prep, title: P, kind: manual, planned: 5h}
  - {id: stop, title: S, kind: manual, planned: 1h, after: prep}
  - {id: short, title: X, kind: manual, planned: 10m, after: stop}
  - {id: long, title: L, kind: manual, planned: 3h, after: stop}
  - {id: end, title: E, kind: gate, planned: 5m, after: [short, long]}
  - {id: side, title: Side, kind: manual, planned: 1h}
`
	rb, ps := parse(t, src, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	sum := rb.Summarize(func(k string) bool { return k == "gate" })
	if want := []string{"prep", "stop", "long", "end"}; !reflect.DeepEqual(sum.CriticalPath, want) {
		t.Errorf("critical path %v, want %v", sum.CriticalPath, want)
	}
	if sum.CriticalDuration != 9*time.Hour+5*time.Minute {
		t.Errorf("critical duration %v", sum.CriticalDuration)
	}
	if sum.DowntimeDuration != 4*time.Hour+5*time.Minute || sum.DowntimePath[0] != "stop" {
		t.Errorf("downtime path %v %v", sum.DowntimePath, sum.DowntimeDuration)
	}
	if len(sum.Approvals) != 1 || sum.Approvals[0].ID != "end" {
		t.Errorf("approvals %v", sum.Approvals)
	}
	order := rb.TopoOrder()
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	for _, s := range rb.Steps {
		for _, dep := range s.After {
			if pos[dep] > pos[s.ID] {
				t.Errorf("%s ordered before its dependency %s: %v", s.ID, dep, order)
			}
		}
	}
	if order[0] != "prep" {
		t.Errorf("runbook order must be kept among independent steps: %v", order)
	}
}

// TestConditionalStep: `when: {failed: ID}` makes the trigger a dependency (once, even when
// after: names it too), keeps the step out of the plan's critical path and lists it in the
// summary.
func TestConditionalStep(t *testing.T) {
	rb, ps := parse(t, `name: t
downtime: {budget: 8h}
steps:
  - {id: trigger, title: Trigger upgrade, kind: manual, planned: 10m}
  - {id: watch, title: Watch upgrade, kind: manual, after: trigger, planned: 2h}
  - {id: rollback, title: Roll back the upgrade, kind: manual, planned: 3h, when: {failed: watch}}
  - {id: again, title: Named twice, kind: manual, after: [watch], when: {failed: watch}}
  - {id: deployed, title: Sandbox deployed, kind: manual, after: watch, planned: 5m}
`, nil)
	if ps != nil {
		t.Fatal(ps)
	}
	s, _ := rb.Step("rollback")
	if s.When == nil || s.When.Failed != "watch" || !reflect.DeepEqual(s.After, []string{"watch"}) || !s.Conditional() || !s.Triggers("watch") || s.Triggers("trigger") {
		t.Fatalf("rollback: when %+v, after %v", s.When, s.After)
	}
	if s.When.Pos != (runbook.Pos{Line: 6, Col: 92}) {
		t.Errorf("when at %v", s.When.Pos)
	}
	if a, _ := rb.Step("again"); !reflect.DeepEqual(a.After, []string{"watch"}) {
		t.Errorf("again: after %v (the trigger must not be listed twice)", a.After)
	}
	if s.Expected() != 0 || s.Planned != 3*time.Hour {
		t.Errorf("rollback: expected %v, planned %v", s.Expected(), s.Planned)
	}
	order := rb.TopoOrder()
	if idx := func(id string) int { return slices.Index(order, id) }; idx("rollback") < idx("watch") {
		t.Errorf("order %v puts the fallback before its trigger", order)
	}
	sum := rb.Summarize(func(string) bool { return false })
	if sum.CriticalDuration != 2*time.Hour+15*time.Minute || !reflect.DeepEqual(sum.CriticalPath, []string{"trigger", "watch", "deployed"}) {
		t.Errorf("critical path %v %v: a fallback is not in the plan", sum.CriticalPath, sum.CriticalDuration)
	}
	want := []runbook.StepCondition{{ID: "rollback", Failed: "watch"}, {ID: "again", Failed: "watch"}}
	if !reflect.DeepEqual(sum.Conditional, want) || sum.Unplanned != 0 {
		t.Errorf("conditional %+v, unplanned %d", sum.Conditional, sum.Unplanned)
	}
	if !rb.DependsOn("rollback", "trigger") {
		t.Error("the fallback does not wait, through its trigger, for what its trigger waits for")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "15m": 15 * time.Minute,
		"1h30m": 90 * time.Minute, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "0s": 0} {
		got, err := runbook.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "1x", "-1h", "1d-2h", "five"} {
		if _, err := runbook.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	for d, want := range map[time.Duration]string{45 * time.Second: "45s", 12 * time.Minute: "12m",
		65 * time.Minute: "1h05m", 51 * time.Hour: "2d03h", 90 * time.Second: "1m30s"} {
		if got := runbook.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestTemplates(t *testing.T) {
	got, err := runbook.Expand(`\\{host} stop {service} {{literal}}`, map[string]string{"host": "AOS1", "service": "AOS60$01"})
	if err != nil || got != `\\AOS1 stop AOS60$01 {literal}` {
		t.Fatalf("Expand = %q, %v", got, err)
	}
	if err := runbook.CheckTemplate("{nope}", "host"); err == nil {
		t.Error("an unknown placeholder was accepted")
	}
	// Shell syntax in braces is not a placeholder.
	shell := `[ -n "${HOME}" ] || { echo {unclosed; } stray} {Host}`
	if got, err := runbook.Expand(shell, map[string]string{"host": "x"}); err != nil || got != shell {
		t.Errorf("Expand(%q) = %q, %v", shell, got, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := runbook.Load(filepath.Join(t.TempDir(), "cutover.yaml"), opts(nil))
	if err == nil || !strings.Contains(err.Error(), "cutover init") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want a helpful not-found error, got %v", err)
	}
}

// FuzzParse feeds arbitrary bytes to the parser: it must never panic, and whatever it accepts must
// be internally consistent (known dependencies, acyclic order covering every step).
func FuzzParse(f *testing.F) {
	f.Add(runbook.Template())
	if demo, err := runbook.DemoRunbook(runbook.DemoSettings{IgnoreFile: "IgnoreTables.xml"}); err == nil {
		f.Add(demo)
	}
	if b, err := os.ReadFile("testdata/bad-runbook.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("name: t\nsteps: [{id: a, title: A, kind: manual, after: [b]}, {id: b, title: B, kind: gate, after: a}]"))
	f.Add([]byte("name: t\nsteps: [{id: a, title: A, kind: manual}, {id: b, title: B, kind: gate, when: {failed: a}}, {id: c, title: C, kind: manual, after: b, when: {failed: b}}]"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("name: t\nsteps:\n  - <<: [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, err := runbook.Parse("fuzz.yaml", data, opts(nil))
		if err != nil {
			var ps runbook.Problems
			if errors.As(err, &ps) && len(ps) == 0 {
				t.Fatal("empty problem list returned as an error")
			}
			return
		}
		if len(rb.TopoOrder()) != len(rb.Steps) {
			t.Fatalf("accepted a runbook whose order misses steps")
		}
		for _, s := range rb.Steps {
			for _, dep := range s.After {
				if _, ok := rb.Step(dep); !ok {
					t.Fatalf("accepted a dangling dependency %q", dep)
				}
			}
			if s.When != nil && (!slices.Contains(s.After, s.When.Failed) || s.When.Failed == s.ID) {
				t.Fatalf("accepted a condition %q that is not one of the step's dependencies %v", s.When.Failed, s.After)
			}
		}
	})
}

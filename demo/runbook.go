package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"cutover/adapter"
	"cutover/engine/journal"
	"cutover/engine/runbook"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
)

// LoadRunbook is the demo's go-live runbook as written in dir (nil when it cannot be read:
// Inspect then uses the built-in kinds on an empty runbook and fails plainly).
func LoadRunbook(dir string) *runbook.Runbook {
	rb, err := runbook.Load(filepath.Join(dir, "demo.yaml"), adapter.RunbookOptions())
	if err != nil {
		return &runbook.Runbook{}
	}
	return rb
}

// WriteRunbook writes the simulated toolkit's ignore list and the demo runbook pointed at the
// Simulators, and sets the simulators' passwords in this process's environment.
func WriteRunbook(dir string, sims *Simulators) (string, error) {
	os.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	os.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	var ignore strings.Builder
	ignore.WriteString("<IgnoreTables><Name>\n")
	for _, t := range sims.World.Tables() {
		if t.Ignored {
			fmt.Fprintf(&ignore, "  <Table>%s</Table>\n", t.Name)
		}
	}
	ignore.WriteString("</Name></IgnoreTables>\n")
	ignoreFile := filepath.Join(dir, "IgnoreTables.xml")
	if err := os.WriteFile(ignoreFile, []byte(ignore.String()), 0o600); err != nil {
		return "", err
	}
	text, err := runbook.DemoRunbook(runbook.DemoSettings{Sections: sims.SQL.RunbookSnippet() + sims.LCSSnippet() + AOSSection(sims) + NotifySection(), IgnoreFile: ignoreFile})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "demo.yaml")
	return path, os.WriteFile(path, text, 0o600)
}

// OperatorSteps are the demo runbook's manual steps the simulated operator does itself (also
// in a rehearsal run with --yes), with what they say they did.
var OperatorSteps = map[string]string{
	"upgrade-checklist": "ran every item of the AX 2012 pre-upgrade checklist; each shows completed",
	"start-snapshots":   "started each publication's snapshot in Replication Monitor, one at a time; each was delivered",
	"users-enable":      "enabled every user in System administration > Users > Users",
}

// AOSSection is the runbook's aos: section for the simulated AOS instances (the engine's
// service port is the simulator's; the templates are what a real runbook would say).
func AOSSection(sims *Simulators) string {
	aos := "aos:\n  control: command\n  stop: [sc.exe, '\\\\{host}', stop, '{service}']\n  start: [sc.exe, '\\\\{host}', start, '{service}']\n  query: [sc.exe, '\\\\{host}', query, '{service}']\n" +
		"  stopped_pattern: 'STATE\\s+:\\s+1\\s+STOPPED'\n  stop_timeout: 15m\n  instances:\n"
	for _, a := range sims.World.AOS() {
		aos += fmt.Sprintf("    - {host: %s, service: %s}\n", a.Host, a.Service)
	}
	return aos
}

// The demo's notification targets: each variable that is set adds one (its value is the
// webhook's URL), so a newcomer can watch the milestones arrive in Teams, Slack or any receiver.
var NotifyEnv = []struct {
	env    string
	format runbook.NotifyFormat
}{{"CUTOVER_DEMO_NOTIFY_GENERIC", runbook.FormatGeneric}, {"CUTOVER_DEMO_NOTIFY_TEAMS", runbook.FormatTeams}, {"CUTOVER_DEMO_NOTIFY_SLACK", runbook.FormatSlack}}

// NotifySection is the demo runbook's notify: section (empty when no variable is set).
func NotifySection() string {
	var b strings.Builder
	for _, t := range NotifyEnv {
		if os.Getenv(t.env) != "" {
			fmt.Fprintf(&b, "    - {name: demo-%s, type: %s, url_env: %s}\n", t.format, t.format, t.env)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "notify:\n  tries: 5\n  backoff: 30s\n  targets:\n" + b.String()
}

// WriteRollbackRunbook writes the rollback scenario's runbook (the rollback template, pointed at
// the simulators) into dir/rollback and returns its path. It reads the AX 2012 database only:
// its connections are the source's alone (the distributor is gone by then, and the sandbox is not
// AX 2012's). goLive is the go-live run's journal, whose AOS stop the backup must follow.
func WriteRollbackRunbook(dir string, sims *Simulators, goLive string) (string, error) {
	rbDir := filepath.Join(dir, "rollback")
	if err := os.MkdirAll(rbDir, 0o700); err != nil {
		return "", err
	}
	snippet := sims.SQL.RunbookSnippet()
	if i := strings.Index(snippet, "\n  "+sqlsim.EndpointDistribution.String()+":\n"); i >= 0 {
		snippet = snippet[:i+1]
	}
	text, err := runbook.RollbackDemoRunbook(runbook.DemoSettings{Sections: snippet + AOSSection(sims)}, goLive)
	if err != nil {
		return "", err
	}
	path := filepath.Join(rbDir, runbook.DefaultFile)
	return path, journal.WriteFileAtomic(path, text, 0o600)
}

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

// A demo's state directory is the engine's, as any run's (journal, lock, log): every command
// given --state works on it. The demo's own files are in its subdirectory DirName.
const (
	// DirName holds the demo's own files: the runbooks, the saved simulators, their certificates
	// and passwords, the demo team (its keys, the team file, the known_hosts file).
	DirName = "demo"
	// RollbackDir is the rollback scenario's second act's state directory, in the demo's.
	RollbackDir = "rollback"
	// RunbookFile and RollbackFile are the demo's runbooks, in DirName.
	RunbookFile  = "demo.yaml"
	RollbackFile = "rollback.yaml"
	// The simulators' passwords, in DirName (0600), which the runbooks name as password_file:
	// every command given the demo's --state reads its runbook without an environment to set.
	sqlPasswordFile = "sql.password"
	lcsPasswordFile = "lcs.password"
)

// LoadRunbook is the demo's go-live runbook as written in its files' directory (an empty one when
// it cannot be read: Inspect then uses the built-in kinds on it and fails plainly).
func LoadRunbook(demoDir string) *runbook.Runbook {
	rb, err := runbook.Load(filepath.Join(demoDir, RunbookFile), adapter.RunbookOptions())
	if err != nil {
		return &runbook.Runbook{}
	}
	return rb
}

// writePasswords writes the simulators' passwords into the demo's files (0600).
func writePasswords(demoDir string) error {
	for file, pw := range map[string]string{sqlPasswordFile: sqlsim.Password, lcsPasswordFile: lcssim.DefaultPassword} {
		if err := journal.WriteFileAtomic(filepath.Join(demoDir, file), []byte(pw+"\n"), 0o600); err != nil {
			return fmt.Errorf("the simulators' passwords: %w", err)
		}
	}
	return nil
}

// withPasswordFiles makes a runbook section name the password files instead of the environment
// variables `cutover sim` tells people to set.
func withPasswordFiles(section string) (string, error) {
	sqlEnv, lcsEnv := "password_env: "+sqlsim.PasswordEnv, "password_env: "+lcssim.PasswordEnv
	if !strings.Contains(section, sqlEnv) {
		return "", fmt.Errorf("demo runbook: the simulators' connections name no %q", sqlEnv)
	}
	section = strings.ReplaceAll(section, sqlEnv, "password_file: "+sqlPasswordFile)
	return strings.ReplaceAll(section, lcsEnv, "password_file: "+lcsPasswordFile), nil
}

// WriteRunbook writes, into the demo's files' directory, the simulated toolkit's ignore list, the
// simulators' passwords and the demo runbook pointed at the Simulators.
func WriteRunbook(demoDir string, sims *Simulators) (string, error) {
	if err := writePasswords(demoDir); err != nil {
		return "", err
	}
	var ignore strings.Builder
	ignore.WriteString("<IgnoreTables><Name>\n")
	for _, t := range sims.World.Tables() {
		if t.Ignored {
			fmt.Fprintf(&ignore, "  <Table>%s</Table>\n", t.Name)
		}
	}
	ignore.WriteString("</Name></IgnoreTables>\n")
	ignoreFile := filepath.Join(demoDir, "IgnoreTables.xml")
	if err := journal.WriteFileAtomic(ignoreFile, []byte(ignore.String()), 0o600); err != nil {
		return "", err
	}
	sections, err := withPasswordFiles(sims.SQL.RunbookSnippet() + sims.LCSSnippet())
	if err != nil {
		return "", err
	}
	text, err := runbook.DemoRunbook(runbook.DemoSettings{Sections: sections + AOSSection(sims) + NotifySection(), IgnoreFile: ignoreFile})
	if err != nil {
		return "", err
	}
	path := filepath.Join(demoDir, RunbookFile)
	return path, journal.WriteFileAtomic(path, text, 0o600)
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
// the simulators) into the demo's files' directory and returns its path. It reads the AX 2012
// database only: its connections are the source's alone (the distributor is gone by then, and
// the sandbox is not AX 2012's). goLive is the go-live run's journal, whose AOS stop the backup
// must follow.
func WriteRollbackRunbook(demoDir string, sims *Simulators, goLive string) (string, error) {
	if err := writePasswords(demoDir); err != nil {
		return "", err
	}
	snippet := sims.SQL.RunbookSnippet()
	if i := strings.Index(snippet, "\n  "+sqlsim.EndpointDistribution.String()+":\n"); i >= 0 {
		snippet = snippet[:i+1]
	}
	snippet, err := withPasswordFiles(snippet)
	if err != nil {
		return "", err
	}
	text, err := runbook.RollbackDemoRunbook(runbook.DemoSettings{Sections: snippet + AOSSection(sims)}, goLive)
	if err != nil {
		return "", err
	}
	path := filepath.Join(demoDir, RollbackFile)
	return path, journal.WriteFileAtomic(path, text, 0o600)
}

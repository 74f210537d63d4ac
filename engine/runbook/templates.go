package runbook

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

//go:embed templates/init.yaml
var initTemplate []byte

//go:embed templates/demo.yaml
var demoRunbook []byte

//go:embed templates/rollback.yaml
var rollbackTemplate []byte

// Template is the commented runbook `cutover init` writes: Microsoft's go-live sequence for an
// AX 2012 upgrade with the Data Migration Toolkit's step names.
func Template() []byte { return append([]byte(nil), initTemplate...) }

// RollbackTemplate is the commented rollback runbook `cutover init --rollback` writes (as
// rollback/cutover.yaml beside the go-live runbook, so its state directory is its own): going back
// to AX 2012 as Microsoft documents it — the rollback backup verified, restored, the AOS started,
// batch jobs and integrations back on.
func RollbackTemplate() []byte { return append([]byte(nil), rollbackTemplate...) }

// RollbackDemoRunbook is the rollback runbook the demo's rollback scenario runs against the
// simulators: RollbackTemplate's steps, with the demo's name, a rehearsal, the simulators'
// sections in place of the template's (everything from its name: line to its steps: line) and
// the go-live run's journal at goLiveJournal.
func RollbackDemoRunbook(s DemoSettings, goLiveJournal string) ([]byte, error) {
	text := string(rollbackTemplate)
	i, j := strings.Index(text, "\nname: "), strings.Index(text, "\nsteps:\n")
	const journalLine = "      journal: ../.cutover/journal.jsonl"
	k := strings.Index(text, journalLine)
	if i < 0 || j < i || k < j {
		return nil, errors.New("rollback template: its name:, steps: or journal: line moved")
	}
	end := k + strings.IndexByte(text[k:], '\n')
	var b strings.Builder
	b.WriteString(text[:i+1])
	b.WriteString("name: Demo rollback (simulated Contoso)\nenvironment: DEMO (simulated)\nrehearsal: true\n\n")
	b.WriteString("downtime:\n  budget: 8h\n  begins_with: rb-restore\n\n")
	b.WriteString(s.Sections)
	b.WriteString(text[j:k])
	b.WriteString("      journal: " + strconv.Quote(goLiveJournal))
	b.WriteString(text[end:])
	return []byte(b.String()), nil
}

// DemoSettings fill the demo runbook: the simulators' connections, LCS and AOS sections, and the
// simulated toolkit's ignore list.
type DemoSettings struct {
	// Sections is YAML for connections:, lcs: and aos:.
	Sections string
	// IgnoreFile is the path of the simulated IgnoreTables.xml.
	IgnoreFile string
}

// DemoRunbook is the rehearsal runbook `cutover demo` runs against the simulators.
func DemoRunbook(s DemoSettings) ([]byte, error) {
	t, err := template.New("demo").Delims("<<", ">>").Parse(string(demoRunbook))
	if err != nil {
		return nil, fmt.Errorf("demo runbook: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, s); err != nil {
		return nil, fmt.Errorf("demo runbook: %w", err)
	}
	return b.Bytes(), nil
}

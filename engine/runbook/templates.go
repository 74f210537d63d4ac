package runbook

import (
	"bytes"
	_ "embed"
	"fmt"
	"text/template"
)

//go:embed templates/init.yaml
var initTemplate []byte

//go:embed templates/demo.yaml
var demoRunbook []byte

// Template is the commented runbook `cutover init` writes: Microsoft's go-live sequence for an
// AX 2012 upgrade with the Data Migration Toolkit's step names.
func Template() []byte { return append([]byte(nil), initTemplate...) }

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

package runbook

import _ "embed"

//go:embed templates/init.yaml
var initTemplate []byte

//go:embed templates/demo.yaml
var demoRunbook []byte

// Template is the commented runbook `cutover init` writes: Microsoft's go-live sequence for an
// AX 2012 upgrade with the Data Migration Toolkit's step names.
func Template() []byte { return append([]byte(nil), initTemplate...) }

// DemoRunbook is the rehearsal runbook `cutover demo` runs.
func DemoRunbook() []byte { return append([]byte(nil), demoRunbook...) }

// Package adapter builds the engine's ports from sql/ and lcs/ (and the operating system's service
// control): the SQL Server connections, the LCS client and its sign-in, the secrets they need,
// resolved once. Translation only: the meaning of SQL Server's and LCS's answers lives in sql/
// and lcs/.
package adapter

import (
	"fmt"
	"io"

	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/engine/svc"
	"cutover/lcs"
)

// BuildPorts fills the ports the caller left empty from the runbook. The returned function closes
// what was opened.
func BuildPorts(rb *runbook.Runbook, stateDir string, ports *engine.Ports, prompts, notices io.Writer) (func(), error) {
	if ports.Services == nil {
		svc, err := Services(rb)
		if err != nil {
			return nil, err
		}
		ports.Services = svc
	}
	var closers []func()
	if ports.Replication == nil {
		sp, err := OpenSQL(rb, prompts)
		if err != nil {
			return nil, err
		}
		if sp != nil {
			closers = append(closers, sp.Close)
			if sp.Src != nil && sp.Dist != nil && sp.Tgt != nil {
				ports.Replication = sp
			}
			ports.AX, ports.Tracers, ports.Counts, ports.Upgrade, ports.Preflight, ports.SQL, ports.Publications = sp, sp, sp, sp, sp, sp, sp
			ports.Deliveries = sp
			if sp.Src != nil {
				ports.Setup, ports.Backups = sp, sp
			}
		}
	}
	if ports.LCS == nil && rb.LCS != nil {
		c, err := LCSClient(rb, stateDir, nil, nil, notices)
		if err != nil {
			return nil, fmt.Errorf("lcs: %w", err)
		}
		ports.LCS = LCSPort{C: c}
	}
	// The smoke.http steps with entra: true sign in with the lcs section's account and app.
	if p, ok := ports.LCS.(LCSPort); ok && ports.Tokens == nil {
		ports.Tokens = LCSTokens(p)
	}
	return func() {
		for _, c := range closers {
			c()
		}
	}, nil
}

// Services picks the AOS service controller the runbook asks for.
func Services(rb *runbook.Runbook) (engine.ServiceController, error) {
	if rb.AOS == nil {
		return nil, nil
	}
	if !UsesKind(rb, "aos.stop", "aos.start", "replication.drain") {
		return nil, nil
	}
	if rb.AOS.Control == "scm" {
		return svc.NewSCMServices()
	}
	return svc.NewCommandServices(rb.AOS)
}

// UsesKind reports whether any step is of one of the kinds.
func UsesKind(rb *runbook.Runbook, kinds ...string) bool {
	for _, s := range rb.Steps {
		for _, k := range kinds {
			if s.Kind == k {
				return true
			}
		}
	}
	return false
}

// Registry is every step kind this build knows.
func Registry() *engine.Registry { return engine.NewRegistry(engine.AllKinds()...) }

// RunbookOptions are the options a runbook is read with: the step kinds, LCS's region names and
// its rule for comparing environment ids (lcs.SameID: LCS writes ids dashed and undashed).
func RunbookOptions() runbook.Options {
	return runbook.Options{Kinds: Registry(), Regions: lcs.RegionNames(), SameLCSID: lcs.SameID}
}

// Package demo is the simulated cutover: it starts the simulators (sql/sim, lcs/sim), sets up
// scenarios, keeps the saved state that lets an interrupted demo resume, writes the demo runbooks
// and plays the simulated toolkit operator.
package demo

import (
	"context"
	"errors"
	"fmt"

	"cutover/engine"
	"cutover/lcs"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
)

// Simulators are the simulated AX 2012 / distributor / Azure SQL servers and LCS.
type Simulators struct {
	World *sqlsim.World
	SQL   *sqlsim.Servers
	LCS   *lcssim.Server
	// LCSURL is the simulated LCS API's address; LCSCert its certificate's PEM file.
	LCSURL  string
	LCSCert string
}

// Services controls the simulated AOS hosts (the demo's service controller).
type Services struct{ World *sqlsim.World }

func (s Services) Stop(_ context.Context, host, service string) error {
	return s.World.StopAOS(host, service)
}

func (s Services) Start(_ context.Context, host, service string) error {
	if err := s.World.StartAOS(host, service); err != nil && !errors.Is(err, sqlsim.ErrServiceRunning) {
		return err
	}
	return nil
}

func (s Services) State(_ context.Context, host, service string) (engine.ServiceState, string, error) {
	st, err := s.World.AOSState(host, service)
	if err != nil {
		return engine.ServiceUnknown, err.Error(), err
	}
	switch st {
	case sqlsim.ServiceStopped:
		return engine.ServiceStopped, "1 STOPPED", nil
	case sqlsim.ServiceStartPending:
		return engine.ServiceStartPending, "2 START_PENDING", nil
	case sqlsim.ServiceStopPending:
		return engine.ServiceStopPending, "3 STOP_PENDING", nil
	case sqlsim.ServiceRunning:
		return engine.ServiceRunning, "4 RUNNING", nil
	}
	return engine.ServiceUnknown, st.String(), nil
}

// sandboxState maps the simulated toolkit and data upgrade onto the sandbox's LCS state.
type sandboxState struct{ w *sqlsim.World }

func (s sandboxState) SandboxState() string {
	u := s.w.UpgradeState()
	switch {
	case u.Done:
		return string(lcs.DeploymentDeployed)
	case u.Failed:
		return "Failed"
	case u.Triggered:
		return string(lcs.DeploymentDataUpgradeInProgress)
	case s.w.Replicated():
		// The toolkit's step 9 (data-upgrade-self-service.md): Replication in progress →
		// Replication completed; removing replication (step 8) does not change the state.
		return string(lcs.DeploymentReplicationCompleted)
	}
	return string(lcs.DeploymentReplicationInProgress)
}

// StartSimulators starts the SQL and LCS Simulators on the given addresses (any free port when
// one is taken), keeping the LCS certificate in dir (the same one across restarts). restore,
// when set, brings back a saved state before they serve.
func StartSimulators(cfg sqlsim.Config, clk sqlsim.Clock, sourceAddr, targetAddr, lcsAddr, dir string, restore func(*sqlsim.World, *lcssim.Server) error) (*Simulators, error) {
	return StartSimulatorsWith(cfg, clk, sqlsim.ServerConfig{SourceAddr: sourceAddr, TargetAddr: targetAddr}, lcsAddr, dir, restore)
}

// StartSimulatorsWith is StartSimulators with the SQL servers' whole configuration (addresses,
// TLS, diagnostics).
func StartSimulatorsWith(cfg sqlsim.Config, clk sqlsim.Clock, sqlCfg sqlsim.ServerConfig, lcsAddr, dir string, restore func(*sqlsim.World, *lcssim.Server) error) (*Simulators, error) {
	w, err := sqlsim.New(cfg, clk)
	if err != nil {
		return nil, err
	}
	ls := lcssim.New(lcssim.Options{Clock: clk, CertDir: dir})
	ls.SetSandboxStateSource(sandboxState{w})
	if restore != nil {
		if err := restore(w, ls); err != nil {
			return nil, err
		}
	}
	srv, err := sqlsim.Start(w, sqlCfg)
	if err != nil && restore != nil {
		sqlCfg.SourceAddr, sqlCfg.TargetAddr = "", ""
		srv, err = sqlsim.Start(w, sqlCfg)
	}
	if err != nil {
		return nil, err
	}
	url, err := ls.Start(lcsAddr)
	if err != nil && restore != nil {
		url, err = ls.Start("127.0.0.1:0")
	}
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("start the LCS simulator: %w", err)
	}
	return &Simulators{World: w, SQL: srv, LCS: ls, LCSURL: url, LCSCert: ls.CertFile()}, nil
}

func (s *Simulators) Close() {
	s.SQL.Close()
	s.LCS.Close()
}

// LCSSnippet is the runbook lcs section for the simulator, its password in lcssim.PasswordEnv.
func (s *Simulators) LCSSnippet() string {
	return fmt.Sprintf(`lcs:
  project_id: %q
  base_url: %s
  authority_url: %s
  certificate: %s
  auth: password
  client_id: %s
  tenant_id: %s
  username: %s
  password_env: %s
  sandbox_environment_id: %s
  production_environment_id: %s
`, lcssim.DefaultProjectID, s.LCSURL, s.LCS.Authority(lcssim.DefaultTenantID), s.LCSCert, lcssim.DefaultClientID, lcssim.DefaultTenantID, lcssim.DefaultUser,
		lcssim.PasswordEnv, lcssim.SandboxID, lcssim.ProductionID)
}

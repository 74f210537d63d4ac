package sim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Outcome is how simulated database operations end.
type Outcome int

// Outcomes of database operations started from now on (SetOutcome).
const (
	// OutcomeCompleted: NotStarted → InProgress → Completed.
	OutcomeCompleted Outcome = iota
	// OutcomeFailed: … → Failed (an operator may then StartRollback).
	OutcomeFailed
	// OutcomeRollbackCompleted: … → RollbackInProgress → RollbackCompleted (the refresh failed
	// and LCS rolled the target back).
	OutcomeRollbackCompleted
	// OutcomeRollbackFailed: … → RollbackInProgress → RollbackFailed.
	OutcomeRollbackFailed
)

// History types the simulator writes. ApplicationHotfix and InstallAddin are the documented
// example's (lifecycle-services/api/v1/reference-environment-history.md); the documents name no
// type for database operations: SFSourceDbToSandbox and SFExportSandboxDb are the types
// d365fo.tools shows, SFSourceDbToProduction an inferred name for the portal's sandbox →
// production refresh (lcs/contract, enum history-type).
const (
	TypeRefreshSandbox    = "SFSourceDbToSandbox"
	TypeExportSandbox     = "SFExportSandboxDb"
	TypeRefreshProduction = "SFSourceDbToProduction"
	TypeApplicationUpdate = "ApplicationHotfix"
	TypeInstallAddin      = "InstallAddin"
)

// dbMovementTypes are the history types counted toward the 3-per-24-hours limit.
func dbMovementTypes() []string {
	return []string{TypeRefreshSandbox, TypeExportSandbox, TypeRefreshProduction}
}

// Environment is a simulated environment (the fields LCS's metadata endpoint returns).
type Environment struct {
	ID, Name       string
	Type           string // Sandbox, Production
	Infrastructure string // SelfService
	Group          string // Primary
	Product        string
	// EndpointBaseURL is the EnvironmentEndpointBaseUrl served; empty, the simulator serves the
	// environment's finance and operations front itself and gives its URL (see fno.go).
	EndpointBaseURL string
	// DeploymentState is the state of the most recent operation; "Finished", the one value the
	// documents show (their example shows it beside a DeploymentStatusDisplay of Failed too).
	DeploymentState        string
	DeploymentStatus       string // DeploymentStatusDisplay
	TopologyDisplayName    string
	ApplicationBuild       string
	ApplicationRelease     string
	PlatformRelease        string
	PlatformVersion        string
	DeployedOn             time.Time
	CloudStorageLocation   string
	DisasterRecoveryRegion string
	// Undashed writes the id undashed in the metadata answer, as the documented example writes
	// its production environment's ("d15ed3a8c2c14054840b946c93915da9"; its sandbox's is dashed).
	Undashed bool
}

// HistoryEntry is one row of an environment's history.
type HistoryEntry struct {
	Name, Type, TypeDisplay string
	Start, End              time.Time // End zero while running
	Status                  string
	ActivityID              string
}

// operation is a database operation or deployment progressing on the sim clock.
type operation struct {
	id       string
	kind     string // refresh, export, deployment
	env      string // the environment whose status endpoint follows it (target of a refresh)
	source   string
	name     string // backup name of an export
	start    time.Time
	queue    time.Duration
	run      time.Duration
	rollback time.Duration
	outcome  Outcome
	// rollbackAt is when an operator-started rollback began (zero: none).
	rollbackAt time.Time
	signedOff  bool
	override   string // a status reported instead of the real one (OverrideStatus)
	history    *HistoryEntry
	user       string
}

// status is the operation's status at now and its completion time (zero while running).
func (o *operation) status(now time.Time) (string, time.Time) {
	if o.override != "" {
		return o.override, time.Time{}
	}
	runEnd := o.start.Add(o.queue + o.run)
	switch {
	case now.Before(o.start.Add(o.queue)):
		return "NotStarted", time.Time{}
	case now.Before(runEnd):
		return "InProgress", time.Time{}
	}
	switch o.outcome {
	case OutcomeCompleted:
		if o.signedOff {
			return "SignedOff", runEnd
		}
		return "Completed", runEnd
	case OutcomeRollbackCompleted, OutcomeRollbackFailed:
		end := runEnd.Add(o.rollback)
		if now.Before(end) {
			return "RollbackInProgress", time.Time{}
		}
		if o.outcome == OutcomeRollbackFailed {
			return "RollbackFailed", end
		}
		return "RollbackCompleted", end
	}
	// OutcomeFailed
	if !o.rollbackAt.IsZero() {
		end := o.rollbackAt.Add(o.rollback)
		if now.Before(end) {
			return "RollbackInProgress", time.Time{}
		}
		return "RollbackCompleted", end
	}
	return "Failed", runEnd
}

// backup is a database backup in the asset library.
type backup struct {
	id, name, file, description string
	created                     time.Time
	by                          string
	fromExport                  *operation // nil for seeded backups
}

// state is everything the simulator knows; guarded by Server.mu.
type state struct {
	envs         []*Environment
	history      map[string][]*HistoryEntry // by environment id, oldest first
	ops          map[string]*operation
	backups      []*backup
	outcome      Outcome
	sandboxState string
	stateSource  SandboxStateSource
	// users are every environment's users (the same people in each); usersEnabledAt is when an
	// environment's users were last enabled (EnableUsers), by environment id.
	users          []fnoUser
	usersEnabledAt map[string]time.Time

	auth   authState
	faults faults
	stats  counters
	quota  quotaState
	// onChange hears every change that a restarted simulator must keep (OnChange).
	onChange func(Saved)
}

func newState(opts Options, now time.Time) state {
	st := state{
		history:        map[string][]*HistoryEntry{},
		ops:            map[string]*operation{},
		sandboxState:   StateDeployed,
		users:          simUsers(firstUser(opts.Users)),
		usersEnabledAt: map[string]time.Time{},
		auth:           newAuthState(),
		stats:          newCounters(),
		quota:          newQuotaState(),
	}
	mk := func(id, name, typ, topo string) *Environment {
		return &Environment{
			ID: id, Name: name, Type: typ, Infrastructure: "SelfService", Group: "Primary",
			Product:             "Finance and Operations",
			DeploymentState:     "Finished",
			DeploymentStatus:    StateDeployed,
			TopologyDisplayName: topo,
			ApplicationBuild:    "10.0.2095.43", ApplicationRelease: "10.0.41",
			PlatformRelease: "Update65", PlatformVersion: "7.0.7521.60",
			DeployedOn:             now.Add(-40 * 24 * time.Hour).Truncate(time.Second),
			CloudStorageLocation:   "West Europe",
			DisasterRecoveryRegion: "North Europe",
		}
	}
	prod := mk(ProductionID, ProductionName, "Production", "Production")
	prod.Undashed = true
	st.envs = []*Environment{
		mk(SandboxID, SandboxName, "Sandbox", "Standard Acceptance Test (Tier 2)"),
		prod,
		mk(UATSandboxID, UATSandboxName, "Sandbox", "Standard Acceptance Test (Tier 2)"),
	}
	for _, e := range st.envs {
		st.history[e.ID] = []*HistoryEntry{
			{Name: "Finance insights", Type: TypeInstallAddin, TypeDisplay: "Install addin",
				Start: now.Add(-20 * 24 * time.Hour).Truncate(time.Second), End: now.Add(-20*24*time.Hour + 3*time.Hour).Truncate(time.Second),
				Status: "Completed", ActivityID: newID()},
			{Name: "Main_2026.1.1.1", Type: TypeApplicationUpdate, TypeDisplay: "Application deployable package",
				Start: now.Add(-9 * 24 * time.Hour).Truncate(time.Second), End: now.Add(-9*24*time.Hour + 90*time.Minute).Truncate(time.Second),
				Status: "Completed", ActivityID: newID()},
			{Name: "Refresh database", Type: TypeRefreshSandbox, TypeDisplay: "Refresh database",
				Start: now.Add(-4 * 24 * time.Hour).Truncate(time.Second), End: now.Add(-4*24*time.Hour + 2*time.Hour).Truncate(time.Second),
				Status: "Completed", ActivityID: newID()},
		}
	}
	// Production has had no database refresh yet.
	st.history[ProductionID] = st.history[ProductionID][:2]
	st.backups = []*backup{{id: newID(), name: "AX2012-upgrade-baseline", file: "AX2012-upgrade-baseline.bacpac",
		description: "Sandbox export before the mock cutover", created: now.Add(-6 * 24 * time.Hour).Truncate(time.Second), by: DefaultUser}}
	return st
}

// env finds an environment by its id in any spelling LCS reads (see parseGUID).
func (st *state) env(id string) *Environment {
	for _, e := range st.envs {
		if sameID(e.ID, id) {
			return e
		}
	}
	return nil
}

// op finds an operation by its activity id in any spelling.
func (st *state) op(id string) *operation {
	return st.ops[canonID(id)]
}

// dbOpsSince counts database movement operations on env started after from.
func (st *state) dbOpsSince(env string, from, now time.Time) int {
	n := 0
	for _, h := range st.history[env] {
		if h.Start.After(from) && !h.Start.After(now) && isDBMovement(h.Type) {
			n++
		}
	}
	return n
}

func isDBMovement(t string) bool {
	for _, m := range dbMovementTypes() {
		if strings.EqualFold(t, m) {
			return true
		}
	}
	return false
}

// busy reports an operation still running on env.
func (st *state) busy(env string, now time.Time) *operation {
	for _, o := range st.ops {
		if !sameID(o.env, env) || o.kind == "deployment" {
			continue
		}
		if s, _ := o.status(now); s == "NotStarted" || s == "InProgress" || s == "RollbackInProgress" {
			return o
		}
	}
	return nil
}

// startOp records a new operation and its history row on env.
func (st *state) startOp(opts Options, kind, env, source, name, histName, histType, histDisplay, user string, now time.Time) *operation {
	o := &operation{id: newID(), kind: kind, env: env, source: source, name: name, start: now, queue: opts.QueueTime,
		rollback: opts.RollbackDuration, outcome: st.outcome, user: user}
	switch kind {
	case "refresh":
		o.run = opts.RefreshDuration
		st.stats.refreshes[env]++
	case "export":
		o.run = opts.ExportDuration
		st.stats.exports[env]++
	default:
		o.run = opts.DeploymentDuration
		o.outcome = OutcomeCompleted
	}
	o.history = &HistoryEntry{Name: histName, Type: histType, TypeDisplay: histDisplay, Start: now, Status: "NotStarted", ActivityID: o.id}
	st.history[env] = append(st.history[env], o.history)
	st.ops[o.id] = o
	if kind == "export" {
		st.backups = append(st.backups, &backup{id: newID(), name: name, file: name + ".bacpac", description: "Exported from " + env, by: user, fromExport: o})
	}
	st.changed()
	return o
}

// sync brings history rows of operations up to date with the clock.
func (st *state) sync(now time.Time) {
	for _, o := range st.ops {
		s, end := o.status(now)
		o.history.Status = s
		o.history.End = end
	}
}

// sandboxStatus is the upgrade sandbox's DeploymentStatusDisplay now.
func (st *state) sandboxStatus() string {
	if st.stateSource != nil {
		if s := st.stateSource.SandboxState(); s != "" {
			return s
		}
	}
	return st.sandboxState
}

// ---- control methods ----

// SetOutcome decides how database operations started from now on end.
func (s *Server) SetOutcome(o Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.outcome = o
}

// SetSandboxState sets the upgrade sandbox's toolkit-driven DeploymentStatusDisplay (one of the
// State constants, or any label).
func (s *Server) SetSandboxState(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.sandboxState = state
}

// SetSandboxStateSource makes the upgrade sandbox's state come from src (nil to stop).
// src.SandboxState is called on every metadata request with the simulator's lock held, so it
// must not call back into the simulator.
func (s *Server) SetSandboxStateSource(src SandboxStateSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.stateSource = src
}

// SandboxState is the upgrade sandbox's current DeploymentStatusDisplay.
func (s *Server) SandboxState() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.sandboxStatus()
}

// AddHistory appends a row to an environment's history (e.g. database operations started in the
// portal earlier today). An empty ActivityID gets a fresh one, an empty Status "Completed".
func (s *Server) AddHistory(environmentID string, h HistoryEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.env(environmentID)
	if e == nil {
		return fmt.Errorf("sim: no environment %s", environmentID)
	}
	if h.ActivityID == "" {
		h.ActivityID = newID()
	}
	if h.Status == "" {
		h.Status = "Completed"
	}
	s.st.history[e.ID] = append(s.st.history[e.ID], &h)
	sort.SliceStable(s.st.history[e.ID], func(i, j int) bool {
		return s.st.history[e.ID][i].Start.Before(s.st.history[e.ID][j].Start)
	})
	return nil
}

// History is a copy of an environment's history, newest first (as the API returns it).
func (s *Server) History(environmentID string) []HistoryEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.sync(s.clock.Now())
	var h []*HistoryEntry
	if e := s.st.env(environmentID); e != nil {
		h = s.st.history[e.ID]
	}
	out := make([]HistoryEntry, 0, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		out = append(out, *h[i])
	}
	return out
}

// Environments is a copy of the environments, with the base URL of the fronts the simulator
// serves once it has started.
func (s *Server) Environments() []Environment {
	u := s.URL()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Environment, 0, len(s.st.envs))
	for _, e := range s.st.envs {
		c := *e
		if u != "" {
			c.EndpointBaseURL = endpointBaseURL(e, strings.TrimPrefix(u, "https://"))
		}
		out = append(out, c)
	}
	return out
}

// StartPortalRefresh starts a refresh of target from source as an operator would in the LCS
// portal (production environment → Maintain → Move database → Refresh database): no API
// checks except that both environments exist and target is not busy. It counts toward the
// target's database movement limit and returns the activity id.
func (s *Server) StartPortalRefresh(sourceEnvironmentID, targetEnvironmentID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	src, tgt := s.st.env(sourceEnvironmentID), s.st.env(targetEnvironmentID)
	if src == nil || tgt == nil {
		return "", errors.New("sim: portal refresh: unknown source or target environment")
	}
	if o := s.st.busy(tgt.ID, now); o != nil {
		return "", fmt.Errorf("sim: portal refresh: operation %s is still running on %s", o.id, tgt.Name)
	}
	typ := TypeRefreshSandbox
	if tgt.Type == "Production" {
		typ = TypeRefreshProduction
	}
	s.st.stats.portalRefreshes[tgt.ID]++ // counted before startOp saves the change
	o := s.st.startOp(s.opts, "refresh", tgt.ID, src.ID, "", "Refresh database", typ, "Refresh database", firstUser(s.opts.Users), now)
	return o.id, nil
}

// StartDeployment starts a deployment (a deployable package) on an environment and returns its
// activity id, followed with the deployment status endpoint.
func (s *Server) StartDeployment(environmentID, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.env(environmentID)
	if e == nil {
		return "", fmt.Errorf("sim: no environment %s", environmentID)
	}
	o := s.st.startOp(s.opts, "deployment", e.ID, "", "", name, TypeApplicationUpdate, "Application deployable package", firstUser(s.opts.Users), s.clock.Now())
	return o.id, nil
}

// StartRollback rolls back a Failed operation, as an operator does in LCS.
func (s *Server) StartRollback(activityID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.op(activityID)
	if o == nil {
		return fmt.Errorf("sim: no operation %s", activityID)
	}
	if st, _ := o.status(s.clock.Now()); st != "Failed" {
		return fmt.Errorf("sim: operation %s is %s, not Failed", activityID, st)
	}
	o.rollbackAt = s.clock.Now()
	s.st.changed()
	return nil
}

// SignOff signs off a Completed operation (status SignedOff).
func (s *Server) SignOff(activityID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.op(activityID)
	if o == nil {
		return fmt.Errorf("sim: no operation %s", activityID)
	}
	if st, _ := o.status(s.clock.Now()); st != "Completed" {
		return fmt.Errorf("sim: operation %s is %s, not Completed", activityID, st)
	}
	o.signedOff = true
	s.st.changed()
	return nil
}

// OverrideStatus makes an operation report status (any string, e.g. a status LCS may add one
// day such as "PreServicing") until called again with "".
func (s *Server) OverrideStatus(activityID, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.op(activityID)
	if o == nil {
		return fmt.Errorf("sim: no operation %s", activityID)
	}
	o.override = status
	s.st.changed()
	return nil
}

// OperationStatus is an operation's status now ("" for an unknown id).
func (s *Server) OperationStatus(activityID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.op(activityID)
	if o == nil {
		return ""
	}
	st, _ := o.status(s.clock.Now())
	return st
}

func firstUser(users map[string]string) string {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	return names[0]
}

// newID is a random UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

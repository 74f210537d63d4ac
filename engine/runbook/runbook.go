// Package runbook reads and validates cutover runbooks: YAML files naming the connections, the LCS
// project, the AOS instances, the downtime window and the steps of the night. Every problem is
// reported with its FILE:LINE:COL, all at once, and a runbook with problems is never partly used.
package runbook

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultFile is the runbook read when no -f flag is given.
const DefaultFile = "cutover.yaml"

// Runbook is a validated runbook.
type Runbook struct {
	// File is the path the runbook was read from; Dir is its directory.
	File string
	Dir  string
	// Hash is the SHA-256 of the file's bytes (hex), recorded in the journal.
	Hash string

	Name        string
	Environment string
	// Rehearsal marks a drill: only then may confirmations be given automatically (--yes).
	Rehearsal bool
	// Parallelism caps how many steps run at once (0 means no cap).
	Parallelism int

	Connections Connections
	LCS         *LCS
	AOS         *AOS
	Downtime    *Downtime
	// Baseline is the path of an earlier run's journal whose actual durations are the plan.
	Baseline string
	// Notify says where milestones are announced (nil: nowhere); HTTP configures the web status
	// page and /metrics (nil: defaults).
	Notify *Notify
	HTTP   *HTTP

	Steps []*Step
	// Phases lists the phase names in the order they first appear.
	Phases []string

	byID map[string]*Step
}

// Step returns the step with the given id.
func (r *Runbook) Step(id string) (*Step, bool) {
	s, ok := r.byID[id]
	return s, ok
}

// Step is one step of the runbook.
type Step struct {
	ID          string
	Title       string
	Phase       string
	Kind        string
	Description string
	Owner       string
	// Doc names the document (and section) the step implements, e.g.
	// "migration-upgrade/data-upgrade-self-service.md § Complete the data replication and upgrade, step 8".
	Doc string
	// After lists the steps that must be finished (succeeded, skipped or done by hand) first. A
	// conditional step's trigger (When) is in it too, added when the runbook is read: for that
	// one entry, finished means failed.
	After []string
	// When makes the step conditional (`when: {failed: ID}`): it runs only if that step fails,
	// and counts as not needed once that step is done. Nil for a step that always runs.
	When *Condition
	// Planned is the expected duration, Timeout the limit of one attempt (0: none).
	Planned time.Duration
	Timeout time.Duration
	// Retries is how many more attempts follow a failed one; RetryBackoff the first wait (doubling).
	Retries      int
	RetryBackoff time.Duration
	// Destructive steps always need a typed confirmation.
	Destructive bool
	// Confirm is the phrase an operator must type; Approvals how many distinct operators must.
	Confirm   string
	Approvals int
	// Idempotent steps may be re-run after a crash interrupted them.
	Idempotent bool
	// Exclusive steps run alone: nothing else starts while they run.
	Exclusive bool
	// With is the kind-specific settings block as written; Spec is what the kind decoded from it.
	With *yaml.Node
	Spec any

	Pos      Pos
	afterPos []Pos
}

// Condition is a conditional step's `when:`: the step runs only if Failed, the trigger, fails
// (terminally: after its retries, a no-go, an interruption that waits for an operator — the
// failed state, never retrying). Once the trigger is done (succeeded, done by hand, skipped or
// itself not needed) the step is not needed: it counts as done and its dependents go ahead.
// This is how the runbook offers a documented choice on a failure, such as the toolkit's
// «Rollback data upgrade: Trigger rollback» when the data upgrade fails (its other choice,
// Resume, is retrying the failed step).
type Condition struct {
	// Failed is the trigger: the step whose failure makes this one needed.
	Failed string
	Pos    Pos
}

// Expected is the step's planned duration as the plan counts it: zero for a conditional step,
// which a run without failures never runs.
func (s *Step) Expected() time.Duration {
	if s.When != nil {
		return 0
	}
	return s.Planned
}

// Conditional reports whether the step runs only on another step's failure (`when:`).
func (s *Step) Conditional() bool { return s.When != nil }

// Triggers reports whether dep is the step whose failure the step waits for (`when: {failed}`):
// for that dependency, finished means failed rather than succeeded or skipped.
func (s *Step) Triggers(dep string) bool { return s.When != nil && s.When.Failed == dep }

// Connections are the SQL Server databases the cockpit reads.
type Connections struct {
	Source       *Connection
	Distribution *Connection
	Target       *Connection
}

// AuthMode is how a SQL connection signs in.
type AuthMode string

// SQL authentication modes.
const (
	AuthSQL                   AuthMode = "sql"
	AuthWindows               AuthMode = "windows"
	AuthEntraDefault          AuthMode = "entra-default"
	AuthEntraPassword         AuthMode = "entra-password"
	AuthEntraServicePrincipal AuthMode = "entra-service-principal"
	AuthEntraManagedIdentity  AuthMode = "entra-managed-identity"
	AuthEntraInteractive      AuthMode = "entra-interactive"
	AuthEntraDeviceCode       AuthMode = "entra-device-code"
)

// NeedsSecret reports whether the connection needs a password or client secret: SQL logins, Entra
// ID password and service-principal sign-ins, and Windows (NTLM) sign-in with a named user.
func (c *Connection) NeedsSecret() bool {
	switch c.Auth {
	case AuthSQL, AuthEntraPassword, AuthEntraServicePrincipal:
		return true
	case AuthWindows:
		return c.User != ""
	}
	return false
}

// Encryption is how a SQL connection is encrypted.
type Encryption string

// Encryption modes (go-mssqldb's encrypt= values).
const (
	EncryptDisable Encryption = "disable"
	EncryptTrue    Encryption = "true"
	EncryptStrict  Encryption = "strict"
)

// Connection is one SQL Server database.
type Connection struct {
	Role     string // source, distribution or target
	Server   string
	Port     int
	Instance string
	Database string
	Auth     AuthMode
	User     string
	// Secrets are never inline: they come from an environment variable, a file, or a prompt on
	// the terminal when cutover starts (never stored).
	PasswordEnv    string
	PasswordFile   string
	PasswordPrompt bool
	ClientID       string
	TenantID       string
	Encrypt        Encryption
	// TrustServerCertificate accepts any certificate (loudly warned about); Certificate pins a CA file.
	TrustServerCertificate bool
	Certificate            string
	HostNameInCertificate  string
	ConnectTimeout         time.Duration
	QueryTimeout           time.Duration
	Pos                    Pos
}

// LCSAuth is how the cockpit signs in to Lifecycle Services.
type LCSAuth string

// LCS sign-in modes.
const (
	LCSDeviceCode   LCSAuth = "device-code"
	LCSPassword     LCSAuth = "password"
	LCSClientSecret LCSAuth = "client-secret"
	LCSTokenEnv     LCSAuth = "token-env"
)

// LCS is the Lifecycle Services project and environments.
type LCS struct {
	ProjectID               string
	Region                  string
	SandboxEnvironmentID    string
	ProductionEnvironmentID string
	Auth                    LCSAuth
	ClientID                string
	TenantID                string
	Username                string
	PasswordEnv             string
	PasswordFile            string
	ClientSecretEnv         string
	ClientSecretFile        string
	TokenEnv                string
	// BaseURL overrides the region's API address (simulators, proxies).
	BaseURL string
	// AuthorityURL overrides the Entra ID authority (simulators).
	AuthorityURL string
	// Certificate is a CA file to trust for LCS and the authority (a proxy, the simulator).
	Certificate string
	Pos         Pos
}

// AOS describes the AX 2012 AOS instances and how to control them.
type AOS struct {
	// Control is "command" (argv templates) or "scm" (Windows service control manager).
	Control string
	// Stop, Query and Start are argv templates with {host} and {service} placeholders.
	Stop  []string
	Query []string
	Start []string
	// StoppedPattern is a regular expression matched against Query's output.
	StoppedPattern string
	StopTimeout    time.Duration
	Instances      []AOSInstance
	Pos            Pos
}

// AOSInstance is one AOS Windows service on one host.
type AOSInstance struct {
	Host    string
	Service string
	Pos     Pos
}

// Downtime is the planned downtime window.
type Downtime struct {
	Start  time.Time
	Budget time.Duration
	// BeginsWith is the step whose start starts the downtime clock (default: the planned start).
	BeginsWith string
	// PointOfNoReturn is the step after which AX 2012 rollback is no longer possible.
	PointOfNoReturn string
	// RollbackPoint is the step that makes the AX 2012 rollback point (the full backup taken
	// once the AOS instances are down); the point of no return must wait for it.
	RollbackPoint string
	Pos           Pos
	// keyPos is where each reference key's value sits, for problems.
	keyPos map[string]Pos
}

// posOf is where key's value sits in the downtime section (the section itself when absent).
func (dt *Downtime) posOf(key string) Pos {
	if p, ok := dt.keyPos[key]; ok {
		return p
	}
	return dt.Pos
}

// NeedsConfirmation reports whether an operator must confirm the step before it runs. Gates always
// do; so does anything destructive or with an explicit phrase or approval count.
func (s *Step) NeedsConfirmation(isGate bool) bool {
	return isGate || s.Destructive || s.Confirm != "" || s.Approvals > 0
}

// Phrase is the text an operator types to confirm the step: the runbook's confirm value, or the
// step id.
func (s *Step) Phrase() string {
	if s.Confirm != "" {
		return s.Confirm
	}
	return s.ID
}

// RequiredApprovals is how many distinct operators must confirm (at least one).
func (s *Step) RequiredApprovals() int {
	return max(s.Approvals, 1)
}

package lcs

import (
	"strings"
	"time"
)

// OperationStatus is the state of a database movement or deployment operation as LCS reports it.
// The named constants are the values the LCS documentation lists; any other value LCS sends is
// kept verbatim (Known reports false) so a new status never breaks a polling loop.
type OperationStatus string

// The operation statuses of the LCS database movement API.
const (
	StatusNotStarted         OperationStatus = "NotStarted"
	StatusInProgress         OperationStatus = "InProgress"
	StatusCompleted          OperationStatus = "Completed"
	StatusFailed             OperationStatus = "Failed"
	StatusSignedOff          OperationStatus = "SignedOff"
	StatusAborted            OperationStatus = "Aborted"
	StatusRollbackInProgress OperationStatus = "RollbackInProgress"
	StatusRollbackFailed     OperationStatus = "RollbackFailed"
	StatusRollbackCompleted  OperationStatus = "RollbackCompleted"
)

// knownStatuses lists the documented statuses, for Known and for normalising case.
func knownStatuses() []OperationStatus {
	return []OperationStatus{StatusNotStarted, StatusInProgress, StatusCompleted, StatusFailed,
		StatusSignedOff, StatusAborted, StatusRollbackInProgress, StatusRollbackFailed, StatusRollbackCompleted}
}

// ParseOperationStatus maps a raw status to a known constant, ignoring case and surrounding
// spaces; an unknown value is returned trimmed but otherwise unchanged.
func ParseOperationStatus(raw string) OperationStatus {
	raw = strings.TrimSpace(raw)
	for _, s := range knownStatuses() {
		if strings.EqualFold(raw, string(s)) {
			return s
		}
	}
	return OperationStatus(raw)
}

// Known reports whether s is one of the documented statuses.
func (s OperationStatus) Known() bool {
	for _, k := range knownStatuses() {
		if s == k {
			return true
		}
	}
	return false
}

// IsTerminal reports whether the operation has stopped: Completed, SignedOff, Failed, Aborted,
// RollbackFailed or RollbackCompleted. A Failed refresh can still be rolled back by an operator in
// LCS, which starts a new phase (RollbackInProgress) on the same activity id. Unknown statuses are
// not terminal: keep polling, bounded by your own deadline.
func (s OperationStatus) IsTerminal() bool {
	switch s {
	case StatusCompleted, StatusSignedOff, StatusFailed, StatusAborted, StatusRollbackFailed, StatusRollbackCompleted:
		return true
	}
	return false
}

// Succeeded reports whether the operation finished well (Completed or SignedOff).
func (s OperationStatus) Succeeded() bool { return s == StatusCompleted || s == StatusSignedOff }

// String is the status as LCS spells it, or "unknown" when LCS sent none.
func (s OperationStatus) String() string {
	if s == "" {
		return "unknown"
	}
	return string(s)
}

// EnvironmentType is the LCS environment type. Values other than the constants are kept verbatim.
type EnvironmentType string

// The environment types a cutover deals with.
const (
	EnvironmentProduction EnvironmentType = "Production"
	EnvironmentSandbox    EnvironmentType = "Sandbox"
)

// DeploymentStatus is an environment's DeploymentStatusDisplay ("The current status of the
// environment": reference-environment-metadata.md, whose example shows Deployed and Failed).
// During an AX 2012 upgrade the Data Migration Toolkit moves the sandbox through the states below,
// spelled as migration-upgrade/data-upgrade-self-service.md prints them; the same article spells
// some of them differently elsewhere (ReadyForReplication, Replicating), and the engine matches
// states by meaning (engine.CanonicalLCSState). Any other value is an opaque label.
type DeploymentStatus string

// Deployment statuses, including the toolkit-driven states of the upgrade sandbox.
const (
	DeploymentDeployed              DeploymentStatus = "Deployed"
	DeploymentFailed                DeploymentStatus = "Failed"
	DeploymentReadyForReplication   DeploymentStatus = "Ready for replication"
	DeploymentReplicationInProgress DeploymentStatus = "Replication in progress"
	DeploymentReplicationCompleted  DeploymentStatus = "Replication completed"
	DeploymentDataUpgradeInProgress DeploymentStatus = "Data upgrade in progress"
	DeploymentReplicated            DeploymentStatus = "Replicated"
)

// OperationKind says what an Operation is, which decides the environment its status is read from.
type OperationKind string

// Operation kinds the client starts or follows.
const (
	OperationRefresh    OperationKind = "refresh"
	OperationExport     OperationKind = "export"
	OperationDeployment OperationKind = "deployment"
)

// Operation is a handle on an operation LCS has accepted. EnvironmentID is the environment whose
// status endpoint follows it: the TARGET for a refresh. Journal it before waiting on it, so a
// restarted cockpit resumes polling instead of starting the operation again.
type Operation struct {
	Kind          OperationKind
	ActivityID    string
	EnvironmentID string
	// SourceEnvironmentID is set for a refresh.
	SourceEnvironmentID string
	// Accepted is when LCS accepted the request (client clock).
	Accepted time.Time
}

// OperationResult is one status reading of an operation.
type OperationResult struct {
	ProjectID      string
	EnvironmentID  string
	ActivityID     string
	Status         OperationStatus
	CompletionDate time.Time // zero until the operation ends
	ErrorMessage   string    // set by the deployment status endpoint when an operation failed
	// Notes name the values of the answer the client could not read (kept empty above).
	Notes []string
}

// Environment is one environment's metadata (environmentinfo/v1/detail).
type Environment struct {
	ID                       string
	Name                     string
	ProjectID                string
	Infrastructure           string // SelfService, MicrosoftManaged, …
	Type                     EnvironmentType
	Group                    string // Primary, DR
	Product                  string
	EndpointBaseURL          string
	DeploymentState          string // the most recent operation's state, e.g. Finished
	DeploymentStatus         DeploymentStatus
	TopologyDisplayName      string
	ApplicationBuildVersion  string
	ApplicationReleaseName   string
	PlatformReleaseName      string
	PlatformVersion          string
	DeployedOn               time.Time
	CloudStorageLocation     string
	DisasterRecoveryLocation string
	CanStart                 bool
	CanStop                  bool
	// Notes name the values of the answer the client could not read (kept empty above): one odd
	// field never loses the rest of the environment.
	Notes []string
}

// HistoryEntry is one row of an environment's history (environmentinfo/v1/history).
type HistoryEntry struct {
	Name          string
	Type          string // e.g. SFSourceDbToSandbox, SFExportSandboxDb, SFApplicationHotfix
	TypeDisplay   string // e.g. Refresh database
	Start         time.Time
	End           time.Time // zero while running
	Status        OperationStatus
	ActivityID    string
	EnvironmentID string
	ProjectID     string
	// Notes name the values of the row the client could not read (kept empty above).
	Notes []string
}

// DatabaseBackup is a database backup in the project's asset library.
type DatabaseBackup struct {
	ID              string
	ProjectID       string
	OrganizationID  string
	Name            string
	FileName        string
	FileDescription string
	// FileLocation is a SAS download URL: it grants access by itself, so never log it.
	FileLocation string
	Created      time.Time
	Modified     time.Time
	CreatedBy    string
	ModifiedBy   string
	// Notes name the values of the row the client could not read (kept empty above).
	Notes []string
}

package lcs

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// DeploymentStatus is an environment's DeploymentStatusDisplay. During an AX 2012 upgrade the
// Data Migration Toolkit moves the sandbox through the toolkit states below (DOMAIN.md 4.6,
// inferred): treat any other value as an opaque label.
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
}

// ---- wire format ----

// envelope is the part every LCS response carries.
type envelope struct {
	IsSuccess           *bool   `json:"IsSuccess"`
	OperationActivityID string  `json:"OperationActivityId"`
	ErrorMessage        *string `json:"ErrorMessage"`
	VersionEOL          string  `json:"VersionEOL"`
}

// flexString decodes a JSON string or number (LCS sends project ids as numbers) or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("expected a string or number, got %.40s", b)
	}
	*f = flexString(n.String())
	return nil
}

// wireTime decodes the date formats LCS uses: .NET round-trip dates with or without a zone
// ("2021-07-11T00:01:57.423", "9999-12-31T23:59:59.9999999", "…Z", "…+00:00"), null or "".
// A date without a zone is UTC.
type wireTime struct{ time.Time }

func (w *wireTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		w.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date: %w", err)
	}
	t, err := parseLCSTime(s)
	if err != nil {
		return err
	}
	w.Time = t
	return nil
}

// parseLCSTime parses one LCS date string; "" is the zero time.
func parseLCSTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "01/02/2006 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is in no format LCS is known to use", s)
}

type wireStatus struct {
	ProjectID      flexString `json:"ProjectId"`
	EnvironmentID  flexString `json:"EnvironmentId"`
	ActivityID     flexString `json:"ActivityId"`
	CompletionDate wireTime   `json:"CompletionDate"`
	OperationStat  string     `json:"OperationStatus"`
	ErrorMessage   *string    `json:"ErrorMessage"`
}

func (w wireStatus) result() OperationResult {
	r := OperationResult{
		ProjectID:      string(w.ProjectID),
		EnvironmentID:  string(w.EnvironmentID),
		ActivityID:     string(w.ActivityID),
		Status:         ParseOperationStatus(w.OperationStat),
		CompletionDate: w.CompletionDate.Time,
	}
	if w.ErrorMessage != nil {
		r.ErrorMessage = *w.ErrorMessage
	}
	return r
}

type wireEnvironment struct {
	EnvironmentID                  flexString `json:"EnvironmentId"`
	EnvironmentName                string     `json:"EnvironmentName"`
	ProjectID                      flexString `json:"ProjectId"`
	EnvironmentInfrastructure      string     `json:"EnvironmentInfrastructure"`
	EnvironmentType                string     `json:"EnvironmentType"`
	EnvironmentGroup               string     `json:"EnvironmentGroup"`
	EnvironmentProduct             string     `json:"EnvironmentProduct"`
	EnvironmentEndpointBaseURL     string     `json:"EnvironmentEndpointBaseUrl"`
	DeploymentState                string     `json:"DeploymentState"`
	TopologyDisplayName            string     `json:"TopologyDisplayName"`
	CurrentApplicationBuildVersion string     `json:"CurrentApplicationBuildVersion"`
	CurrentApplicationReleaseName  string     `json:"CurrentApplicationReleaseName"`
	CurrentPlatformReleaseName     string     `json:"CurrentPlatformReleaseName"`
	CurrentPlatformVersion         string     `json:"CurrentPlatformVersion"`
	DeployedOnUTC                  wireTime   `json:"DeployedOnUTC"`
	CloudStorageLocation           string     `json:"CloudStorageLocation"`
	DisasterRecoveryLocation       string     `json:"DisasterRecoveryLocation"`
	DeploymentStatusDisplay        string     `json:"DeploymentStatusDisplay"`
	CanStart                       bool       `json:"CanStart"`
	CanStop                        bool       `json:"CanStop"`
}

func (w wireEnvironment) environment() Environment {
	return Environment{
		ID:                       string(w.EnvironmentID),
		Name:                     w.EnvironmentName,
		ProjectID:                string(w.ProjectID),
		Infrastructure:           w.EnvironmentInfrastructure,
		Type:                     EnvironmentType(w.EnvironmentType),
		Group:                    w.EnvironmentGroup,
		Product:                  w.EnvironmentProduct,
		EndpointBaseURL:          w.EnvironmentEndpointBaseURL,
		DeploymentState:          w.DeploymentState,
		DeploymentStatus:         DeploymentStatus(w.DeploymentStatusDisplay),
		TopologyDisplayName:      w.TopologyDisplayName,
		ApplicationBuildVersion:  w.CurrentApplicationBuildVersion,
		ApplicationReleaseName:   w.CurrentApplicationReleaseName,
		PlatformReleaseName:      w.CurrentPlatformReleaseName,
		PlatformVersion:          w.CurrentPlatformVersion,
		DeployedOn:               w.DeployedOnUTC.Time,
		CloudStorageLocation:     w.CloudStorageLocation,
		DisasterRecoveryLocation: w.DisasterRecoveryLocation,
		CanStart:                 w.CanStart,
		CanStop:                  w.CanStop,
	}
}

type wireHistory struct {
	Name             string     `json:"Name"`
	Type             string     `json:"Type"`
	TypeDisplay      string     `json:"TypeDisplay"`
	StartDateTimeUTC wireTime   `json:"StartDateTimeUtc"`
	EndDateTimeUTC   wireTime   `json:"EndDateTimeUtc"`
	Status           string     `json:"Status"`
	ActivityID       flexString `json:"ActivityId"`
	EnvironmentID    flexString `json:"EnvironmentId"`
	ProjectID        flexString `json:"ProjectId"`
}

func (w wireHistory) entry() HistoryEntry {
	return HistoryEntry{
		Name:          w.Name,
		Type:          w.Type,
		TypeDisplay:   w.TypeDisplay,
		Start:         w.StartDateTimeUTC.Time,
		End:           w.EndDateTimeUTC.Time,
		Status:        ParseOperationStatus(w.Status),
		ActivityID:    string(w.ActivityID),
		EnvironmentID: string(w.EnvironmentID),
		ProjectID:     string(w.ProjectID),
	}
}

type wireBackup struct {
	ID               flexString `json:"Id"`
	ProjectID        flexString `json:"ProjectId"`
	OrganizationID   flexString `json:"OrganizationId"`
	Name             string     `json:"Name"`
	FileName         string     `json:"FileName"`
	FileDescription  string     `json:"FileDescription"`
	FileLocation     string     `json:"FileLocation"`
	CreatedDateTime  wireTime   `json:"CreatedDateTime"`
	ModifiedDateTime wireTime   `json:"ModifiedDateTime"`
	CreatedByName    string     `json:"CreatedByName"`
	ModifiedByName   string     `json:"ModifiedByName"`
}

func (w wireBackup) backup() DatabaseBackup {
	return DatabaseBackup{
		ID:              string(w.ID),
		ProjectID:       string(w.ProjectID),
		OrganizationID:  string(w.OrganizationID),
		Name:            w.Name,
		FileName:        w.FileName,
		FileDescription: w.FileDescription,
		FileLocation:    w.FileLocation,
		Created:         w.CreatedDateTime.Time,
		Modified:        w.ModifiedDateTime.Time,
		CreatedBy:       w.CreatedByName,
		ModifiedBy:      w.ModifiedByName,
	}
}

// page is the paging frame of the environment endpoints.
type page[T any] struct {
	ResultPageCurrent  int  `json:"ResultPageCurrent"`
	ResultHasMorePages bool `json:"ResultHasMorePages"`
	Data               []T  `json:"Data"`
}

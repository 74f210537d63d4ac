package engine

import (
	"context"
	"cutover/engine/svc"
	"errors"
	"iter"
	"time"
)

// Ports are the small interfaces the engine needs from the outside world. main.go plugs the SQL
// Server client (sql/), the LCS client (lcs/) and the service controller into them; tests plug
// fakes. The engine never imports those packages.

// ReplicationSource reads replication facts: row counts on both sides, the per-article backlog on
// the distributor and the replication agents.
type ReplicationSource interface {
	// SourceRows and TargetRows are approximate row counts per table (cheap).
	SourceRows(ctx context.Context) ([]TableRows, error)
	TargetRows(ctx context.Context) ([]TableRows, error)
	// Distributor reads the distributor once, in one request: every replication agent's state and
	// newest message (cheap) and, when withBacklog, the undelivered commands per article
	// (expensive: the monitor asks for them more slowly). An error means the agents could not be
	// read; a backlog that could not be read while the agents were is the figures' BacklogErr.
	Distributor(ctx context.Context, withBacklog bool) (DistributorFigures, error)
}

// DistributorFigures are what one read of the distributor returned.
type DistributorFigures struct {
	Agents []Agent
	// Backlog yields every article's undelivered commands, when they were asked for and read (nil
	// otherwise). The monitor folds them in at once, before the next read, and keeps none of them:
	// a source may yield them straight from its own memory, reused by its next read, without a
	// copy in these terms.
	Backlog iter.Seq[ArticleBacklog]
	// BacklogErr is why the backlog was asked for and not read.
	BacklogErr error
}

// TableRows is one table's approximate row count.
type TableRows struct {
	Table string
	Rows  int64
	HasPK bool
}

// ArticleBacklog is one article's undelivered commands.
type ArticleBacklog struct {
	Publication string
	Article     string
	Pending     int64
}

// AgentKind is a replication agent's kind.
type AgentKind int

// Agent kinds.
const (
	AgentSnapshot AgentKind = iota + 1
	AgentLogReader
	AgentDistribution
)

// String names the kind.
func (k AgentKind) String() string {
	switch k {
	case AgentSnapshot:
		return "snapshot"
	case AgentLogReader:
		return "log reader"
	case AgentDistribution:
		return "distribution"
	}
	return "agent"
}

// AgentStatus is a replication agent's run status.
type AgentStatus int

// Agent statuses, as Replication Monitor names them.
const (
	AgentUnknown AgentStatus = iota
	AgentStarted
	AgentSucceeded
	AgentInProgress
	AgentIdle
	AgentRetrying
	AgentFailed
)

var agentStatusWords = [...]string{"unknown", "started", "succeeded", "in progress", "idle", "retrying", "failed"}

// String names the status.
func (s AgentStatus) String() string {
	if s >= 0 && int(s) < len(agentStatusWords) {
		return agentStatusWords[s]
	}
	return "unknown"
}

// Bad reports an agent failing or retrying.
func (s AgentStatus) Bad() bool { return s == AgentFailed || s == AgentRetrying }

// Agent is one replication agent as the monitor sees it.
type Agent struct {
	Publication string
	Name        string
	Kind        AgentKind
	Status      AgentStatus
	Running     bool
	// Latency is the agent's current latency.
	Latency time.Duration
	// LastSync is the last time it delivered or synchronized.
	LastSync time.Time
	// Message is its newest history comment, at MessageAt.
	Message   string
	MessageAt time.Time
	// Error is the text of its newest error, when it is in error.
	Error string
	// CacheAge is how old the agent's state was when it was read: SQL Server keeps it in a cache
	// (Replication Monitor's MSreplication_monitordata) that a SQL Server Agent job refreshes, and
	// a stopped job leaves it as it was. Zero when the source says nothing of its age.
	CacheAge time.Duration
}

// Ports are everything the step kinds may use; any may be nil when the runbook does not configure
// it (the kinds that need one say so at load time or when they run).
type Ports struct {
	Replication ReplicationSource
	AX          AXSource
	Tracers     TracerSource
	Counts      CountSource
	Upgrade     UpgradeSource
	Preflight   PreflightSource
	Services    ServiceController
	LCS         LCS
	// SQL runs the smoke.sql queries against a named connection.
	SQL QueryRunner
	// Publications lists the distributor's publications (the toolkit steps verify with it).
	Publications PublicationSource
	// Deliveries finds the distribution agents' snapshot deliveries (the non-PK toolkit step
	// verifies with it).
	Deliveries DeliverySource
	// Tokens gets Entra ID access tokens for the smoke.http steps that sign in (the runbook's lcs
	// section's sign-in).
	Tokens Tokens
	// Setup reads the replication setup itself: each publication's subscriptions and snapshot
	// (replication.healthy's preconditions) and what «Cutover: Remove replication setup» leaves.
	Setup SetupSource
	// Backups reads the source server's backup and restore history and restores the AX database
	// (backup.verify, sql.restore).
	Backups BackupSource
}

// BackupSource is the source server's backups: msdb's history, RESTORE VERIFYONLY and RESTORE
// DATABASE.
type BackupSource interface {
	// FullBackups lists the newest full database backups of database, newest first.
	FullBackups(ctx context.Context, database string) ([]BackupSet, error)
	// VerifyBackup checks the backup set at position of a backup file without restoring it
	// (RESTORE VERIFYONLY, WITH CHECKSUM when checksum); nil when the server reports it valid.
	VerifyBackup(ctx context.Context, device string, position int, checksum bool) error
	// Restore restores database from the backup set at position of a backup file. An error wraps
	// ErrDatabaseInUse when other connections keep it from the exclusive access it needs, and
	// ErrBackupUnreadable when the file cannot be opened.
	Restore(ctx context.Context, database, device string, position int, replace, checksum bool) error
	// DatabaseState reads the database's state (ONLINE, RESTORING…).
	DatabaseState(ctx context.Context, database string) (DatabaseState, error)
	// Restores lists the newest full restores of database, newest first.
	Restores(ctx context.Context, database string) ([]RestoreRecord, error)
}

// Errors a BackupSource wraps.
var (
	// ErrDatabaseInUse: the database is in use, and RESTORE needs exclusive access.
	ErrDatabaseInUse = errors.New("the database is in use")
	// ErrBackupUnreadable: the backup file cannot be opened.
	ErrBackupUnreadable = errors.New("the backup file cannot be opened")
)

// BackupSet is one full database backup in the server's history.
type BackupSet struct {
	ID       int64
	Position int
	// Start and Finish are instants; ZoneKnown is false when the backup's time zone was unknown and
	// the server's offset now was used to read them.
	Start, Finish time.Time
	ZoneKnown     bool
	CopyOnly      bool
	Checksums     bool
	Damaged       bool
	// Size is in bytes (0: unknown).
	Size                   int64
	LastLSN, CheckpointLSN string
	Devices                []BackupDevice
}

// BackupDevice is one file (media family) of a backup set.
type BackupDevice struct {
	Path string
	// Disk is set for a disk file (the only kind RESTORE … FROM DISK reads); Type names the kind.
	Disk bool
	Type string
}

// DatabaseState is a database's state.
type DatabaseState struct {
	// Exists is false when the server lists no such database.
	Exists     bool
	State      string
	UserAccess string
}

// RestoreRecord is one restore in the server's history.
type RestoreRecord struct {
	ID          int64
	At          time.Time
	BackupSetID int64
	Replace     bool
	Devices     []string
}

// SetupSource reads the replication setup itself.
type SetupSource interface {
	// Setup lists every publication with its subscriptions' states and its agents' newest
	// history.
	Setup(ctx context.Context) ([]PublicationSetup, error)
	// Left reads what is left of the setup. Only an answer counts: a read that fails (a timeout, a
	// refused login, a dropped connection) is an error, never "gone".
	Left(ctx context.Context) (SetupLeft, error)
}

// SubscriptionState is a subscription's state (MSsubscriptions.status, as sp_addsubscription
// explains it).
type SubscriptionState int

// Subscription states.
const (
	// SubscriptionOther is a status the documents do not name.
	SubscriptionOther SubscriptionState = iota
	// SubscriptionInactive is status 0.
	SubscriptionInactive
	// SubscriptionAwaitingSnapshot is status 1, "subscribed": the subscription needs to be
	// initialized (its snapshot has not been applied).
	SubscriptionAwaitingSnapshot
	// SubscriptionActive is status 2: initialized and ready to accept changes.
	SubscriptionActive
)

// String names the state.
func (s SubscriptionState) String() string {
	switch s {
	case SubscriptionInactive:
		return "inactive"
	case SubscriptionAwaitingSnapshot:
		return "subscribed, not initialized"
	case SubscriptionActive:
		return "active"
	}
	return "in a status the documents do not name"
}

// PublicationSetup is one publication's subscriptions and agents.
type PublicationSetup struct {
	Name string
	// Subscriptions are its subscriptions' articles by subscriber database and state (none: the
	// publication has no subscription).
	Subscriptions []SubscriptionArticles
	// Snapshot is its snapshot agent's newest history row (zero At: none, because the agent never
	// ran or its history was cleaned up); Distribution its distribution agent's.
	Snapshot     AgentRun
	Distribution AgentRun
}

// SubscriptionArticles is how many articles of a subscription are in one state.
type SubscriptionArticles struct {
	SubscriberDB string
	State        SubscriptionState
	// Status is the raw status number, for a state the documents do not name.
	Status   int
	Articles int
}

// AgentRun is an agent's newest history row.
type AgentRun struct {
	Status  AgentStatus
	At      time.Time
	Message string
}

// SetupLeft is what is left of the replication setup, as the servers answered.
type SetupLeft struct {
	// Distributors are the distribution databases the source server still lists.
	Distributors []string
	// Publications are the publications still defined, in the published database or listed by
	// the distribution database.
	Publications []string
	// Evidence says what was read ("sys.databases lists no distribution database; …").
	Evidence string
}

// Tokens gets Entra ID access tokens with the sign-in the runbook configures.
type Tokens interface {
	// Token returns an access token for resource, an Entra ID resource such as
	// "https://contoso.operations.dynamics.com" (its scope is resource + "/.default").
	Token(ctx context.Context, resource string) (string, error)
}

// PublicationSource lists the distributor's publications.
type PublicationSource interface {
	Publications(ctx context.Context) ([]PublicationInfo, error)
}

// PublicationInfo is one publication.
type PublicationInfo struct {
	Name          string
	Transactional bool
}

// DeliverySource finds the snapshots the distribution agents delivered.
type DeliverySource interface {
	// SnapshotDeliveries lists the "Delivered snapshot" messages the distribution agents logged
	// within the last within (by the distributor's own clock), newest first. Each is kept in the
	// agent history; the newest message alone soon says something else.
	SnapshotDeliveries(ctx context.Context, within time.Duration) ([]SnapshotDelivery, error)
}

// SnapshotDelivery is one snapshot a distribution agent reported delivered.
type SnapshotDelivery struct {
	Publication string
	Agent       string
	At          time.Time
	Message     string
}

// AXSource reads who is still inside AX 2012 and whether anything still writes.
type AXSource interface {
	// Activity lists AOS instances, client sessions and batch jobs.
	Activity(ctx context.Context) (AXActivity, error)
	// LastWrite is the newest write to the AX database (zero: none since SQL Server started).
	LastWrite(ctx context.Context) (time.Time, error)
	// NewestReplicated is when the log reader last queued a transaction (zero: none).
	NewestReplicated(ctx context.Context) (time.Time, error)
}

// AXActivity is who is in AX 2012. Everything still there counts, whatever its state: an AOS that
// drains its users still runs, a session marked for kill and a cancelling batch task are still
// ending, and a state the documents do not name is taken as still there.
type AXActivity struct {
	// Servers are the AOS instances AX still shows (alive, draining, or in a state not named).
	Servers []AXServer
	// Users are the client sessions still there (running, or ending: Ending set).
	Users []AXUser
	// Jobs are batch jobs not at rest (waiting, ready, executing, cancelling).
	Jobs []AXBatchJob
	// ExecutingTasks counts batch tasks running now: executing, cancelling or in a state not named;
	// CancellingTasks counts those cancelling (still ending).
	ExecutingTasks  int
	CancellingTasks int
}

// EndingUsers counts the client sessions marked for kill that have not ended yet.
func (a AXActivity) EndingUsers() int {
	n := 0
	for _, u := range a.Users {
		if u.Ending {
			n++
		}
	}
	return n
}

// AXServer is an AOS instance AX still shows.
type AXServer struct {
	ServerID string
	// AOSID is how AX names the AOS (SYSSERVERSESSIONS.AOSID, host@port in practice: the form is
	// not documented).
	AOSID    string
	Instance string
	Since    time.Time
	// Status is how AX shows it ("alive", or draining/a state the documents do not name).
	Status string
	// Alive is set for an AOS running and accepting clients; an AOS that drains is still there.
	Alive bool
}

// AXUser is a client session still there.
type AXUser struct {
	User     string
	Computer string
	Server   string
	Since    time.Time
	// Ending is set for a session marked for kill (or in a state not named) that has not ended.
	Ending bool
	// Status is how AX shows the session.
	Status string
}

// AXBatchJob is a batch job that is not at rest.
type AXBatchJob struct {
	Caption string
	Status  string
	// Executing is set for a job running now: executing, cancelling (Cancelling set too: it is still
	// ending), or in a state the documents do not name.
	Executing  bool
	Cancelling bool
	Since      time.Time
}

// TracerSource posts and follows tracer tokens on transactional publications.
type TracerSource interface {
	// TransactionalPublications lists the publications tracer tokens work on.
	TransactionalPublications(ctx context.Context) ([]string, error)
	Post(ctx context.Context, publication string) (int, error)
	// Arrived reports whether the token reached every subscriber, and its overall latency.
	Arrived(ctx context.Context, publication string, id int) (bool, time.Duration, error)
}

// Side names a database in the comparison.
type Side int

// Sides.
const (
	SideSource Side = iota
	SideTarget
)

// String names the side.
func (s Side) String() string {
	if s == SideTarget {
		return "target"
	}
	return "source"
}

// CountSource counts rows for validation.
type CountSource interface {
	// Rows is every table's approximate count on a side.
	Rows(ctx context.Context, side Side) ([]TableRows, error)
	// Exact counts the named tables exactly (COUNT_BIG), at most concurrency at a time, calling
	// progress after each table; cancelling ctx stops it.
	Exact(ctx context.Context, side Side, tables []string, concurrency int, progress func(done, total int)) ([]ExactRows, error)
}

// ExactRows is one exact count.
type ExactRows struct {
	Table string
	Rows  int64
	Err   error
	// Missing says the side has no such table as far as the login can see (Err then holds the
	// server's answer): a fact about the table, not a failure to count it.
	Missing bool
}

// UpgradeSource reads the data upgrade's progress on the sandbox.
type UpgradeSource interface {
	Upgrade(ctx context.Context) (UpgradeProgress, error)
}

// UpgradePhase is where the data upgrade is.
type UpgradePhase int

// Upgrade phases.
const (
	UpgradeNotStarted UpgradePhase = iota
	UpgradeRunning
	UpgradeFailed
	UpgradeCompleted
)

var upgradeWords = [...]string{"not started", "running", "failed", "completed"}

// String names the phase.
func (p UpgradePhase) String() string {
	if p >= 0 && int(p) < len(upgradeWords) {
		return upgradeWords[p]
	}
	return "unknown"
}

// UpgradeProgress is the data upgrade as the sandbox's own tables show it. The upgrade.watch step
// weighs it with the sandbox's state in LCS, as the toolkit's `ds` report does.
type UpgradeProgress struct {
	// Phase is what the tables say on their own: not started (no upgrade row yet), running, failed
	// (a step failed and was not run again), completed (the last servicing step is done).
	Phase UpgradePhase
	// Step and SubStep are the step to show (PreSync, DbSync…): the one in progress, else the
	// failed one, else the newest.
	Step    string
	SubStep string
	// Percent is 0–100, or negative when unknown.
	Percent float64
	Started time.Time
	// LastActivity is the newest sign of work (servicing host requests, step changes).
	LastActivity time.Time
	// Errors are the upgrade scripts' error texts.
	Errors []string
	// SyncActivity is the DBSyncActivityId of the database synchronization running now: what
	// Microsoft support asks for when it stalls.
	SyncActivity string
	// Unread lists the upgrade tables that could not be read this time, with why (a table the
	// upgrade has not created yet is not one).
	Unread []string
}

// PreflightSource runs the source server's pre-flight queries.
type PreflightSource interface {
	Preflight(ctx context.Context) (PreflightFacts, error)
}

// PreflightFacts are the answers to the documented causes of mid-cutover failure.
type PreflightFacts struct {
	ServerVersion        string
	MixedMode            bool
	ReplicationInstalled bool
	AgentRunning         bool
	AgentStatus          string
	DatabaseOwner        string
	// Login is the login cutover connected with; Sysadmin and DBOwner its rights (RightsKnown is
	// false when they could not be read).
	Login             string
	Sysadmin, DBOwner bool
	RightsKnown       bool
	RCSI              bool
	DatabaseBytes     int64
	MaxTextReplSize   int64
	// FreeBytes per drive letter ("C", "D").
	FreeBytes map[string]int64
	// Distributor names the distribution database ("" when there is none).
	Distributor string
	// ServerCollation and DatabaseCollation are the server's default collation and the AX
	// database's ("" when unknown: Unavailable["collation"]).
	ServerCollation, DatabaseCollation string
	// AOTTables holds the AX model's table names, AOT and SQL names alike, in upper case; nil when
	// they could not be read (Unavailable["AOT tables"]).
	AOTTables map[string]bool
	// Unavailable lists checks that could not run, and why.
	Unavailable map[string]string
	// TargetReachable is set when the Azure SQL sandbox answered; TargetError says why not.
	TargetReachable bool
	TargetError     string
}

// LCS is what the LCS steps need from Lifecycle Services.
type LCS interface {
	// Environment reads an environment's deployment state.
	Environment(ctx context.Context, env string) (LCSEnvironment, error)
	// StartRefresh starts a database refresh from source into target and returns the operation
	// activity id (only where the API allows it: not into production).
	StartRefresh(ctx context.Context, source, target string) (string, error)
	// Operation reads a database operation's status (env is the refresh target).
	Operation(ctx context.Context, env, activity string) (LCSOperation, error)
	// History lists the environment's operations, newest first.
	History(ctx context.Context, env string) ([]LCSOperation, error)
	// Quota is the database operations left in the rolling 24 hours.
	Quota(ctx context.Context, env string) (LCSQuota, error)
}

// LCSEnvironment is an environment as LCS's environment metadata describes it
// (lifecycle-services/api/v1/reference-environment-metadata.md: each field below names the
// property it comes from). A property LCS did not send, or sent as null, is empty.
type LCSEnvironment struct {
	ID   string
	Name string
	// Type is EnvironmentType ("Production", "Sandbox").
	Type string
	// State is DeploymentStatusDisplay, "The current status of the environment" (Deployed,
	// Failed, the toolkit's replication states).
	State string
	// Infrastructure is EnvironmentInfrastructure ("SelfService", "MicrosoftManaged").
	Infrastructure string
	// ApplicationRelease and ApplicationBuild are CurrentApplicationReleaseName ("10.0.20") and
	// CurrentApplicationBuildVersion ("10.0.886.48").
	ApplicationRelease string
	ApplicationBuild   string
	// PlatformRelease and PlatformVersion are CurrentPlatformReleaseName ("Update44") and
	// CurrentPlatformVersion ("7.0.6060.45"), spelled as the document's example spells them (its
	// table swaps the two descriptions).
	PlatformRelease string
	PlatformVersion string
	// Topology is TopologyDisplayName ("Finance and Operations - Sandbox (10.0.20 with Platform
	// update 44)").
	Topology string
	// Location is CloudStorageLocation, "The primary Azure location of the environment".
	Location string
	// EndpointBaseURL is EnvironmentEndpointBaseUrl, "The base URL of the environment".
	EndpointBaseURL string
	// Unread names the properties of LCS's answer that could not be read (their fields above
	// are empty), so a check can tell "LCS sent nothing" from "LCS sent something odd".
	Unread []string
}

// LCSOperation is a database operation or history entry.
type LCSOperation struct {
	ActivityID string
	Name       string
	Type       string
	Status     string
	// Terminal and Succeeded interpret Status (Completed and SignedOff succeed; Failed,
	// Aborted, RollbackCompleted and RollbackFailed do not).
	Terminal  bool
	Succeeded bool
	Started   time.Time
	Ended     time.Time
}

// LCSQuota is the database-movement budget of an environment.
type LCSQuota struct {
	Used      int
	Remaining int
	// NextSlot is when another operation becomes possible (zero when one is available now).
	NextSlot time.Time
	// Leaves lists, oldest first, when each operation counted in the window leaves it.
	Leaves []time.Time
}

// FreesAt is when at least n operations can start under LCS's limit of 3: zero when they can
// now, else when enough of the counted operations have left the window (NextSlot when Leaves
// does not tell).
func (q LCSQuota) FreesAt(n int) time.Time {
	if q.Remaining >= n {
		return time.Time{}
	}
	// With Used counted, n fit once the (Used-3+n)-th oldest has left.
	if i := q.Used - 3 + n - 1; i >= 0 && i < len(q.Leaves) {
		return q.Leaves[i]
	}
	return q.NextSlot
}

// QueryRunner runs a read-only query on a named connection (source, distribution or target) and
// returns its first result set as text.
type QueryRunner interface {
	Query(ctx context.Context, connection, text string) (columns []string, rows [][]string, err error)
}

// ServiceController stops, starts and inspects the AX 2012 AOS services (engine/svc implements
// it with command templates or the Windows service control manager).
type ServiceController = svc.Controller

// ServiceState is a Windows service's state as cutover sees it (engine/svc).
type ServiceState = svc.State

// Service states, as engine/svc names them.
const (
	ServiceUnknown      = svc.Unknown
	ServiceStopped      = svc.Stopped
	ServiceStartPending = svc.StartPending
	ServiceStopPending  = svc.StopPending
	ServiceRunning      = svc.Running
	ServicePaused       = svc.Paused
)

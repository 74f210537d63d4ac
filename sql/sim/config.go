package sim

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scenario is a set of scenario flags (combine with |).
type Scenario uint

const (
	// ScenarioLockedTable leaves one PK table (Config.LockedTable) out of
	// the PK publications, as when the AOS held its schema lock while the
	// toolkit created them. CreateNoPKPublication then also creates
	// AX_PUB_TABLE_LockedTable, whose snapshot brings it to the target.
	ScenarioLockedTable Scenario = 1 << iota
	// ScenarioCountMismatch makes one table (Config.MismatchTable) differ
	// on the target although nothing is pending for it, until Redeliver.
	ScenarioCountMismatch
	// ScenarioUpgradeFailure makes the data upgrade fail once, in the phase
	// Config.FailUpgradeAt (PostSync by default); ResumeUpgrade reruns the
	// failed sub-step and the upgrade then completes.
	ScenarioUpgradeFailure
	// ScenarioSnapshotNotStarted leaves the snapshot of the last PK publication never started, as
	// when an operator of toolkit 1.0.12 did not start it in Replication Monitor: its subscription
	// stays "subscribed" (it needs to be initialized) until StartSnapshot.
	ScenarioSnapshotNotStarted
)

// Has reports whether every flag of f is set in s.
func (s Scenario) Has(f Scenario) bool { return s&f == f }

// String lists the flags.
func (s Scenario) String() string {
	var parts []string
	if s.Has(ScenarioLockedTable) {
		parts = append(parts, "locked-table")
	}
	if s.Has(ScenarioCountMismatch) {
		parts = append(parts, "count-mismatch")
	}
	if s.Has(ScenarioUpgradeFailure) {
		parts = append(parts, "upgrade-failure")
	}
	if s.Has(ScenarioSnapshotNotStarted) {
		parts = append(parts, "snapshot-not-started")
	}
	if rest := s &^ (ScenarioLockedTable | ScenarioCountMismatch | ScenarioUpgradeFailure | ScenarioSnapshotNotStarted); rest != 0 {
		parts = append(parts, fmt.Sprintf("Scenario(%#x)", uint(rest)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ",")
}

// ParseScenario parses a comma-separated list of scenario names
// ("locked-table,count-mismatch,upgrade-failure"; "" and "none" are no
// scenario).
func ParseScenario(s string) (Scenario, error) {
	var out Scenario
	for part := range strings.SplitSeq(s, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "", "none":
		case "locked-table":
			out |= ScenarioLockedTable
		case "count-mismatch":
			out |= ScenarioCountMismatch
		case "upgrade-failure":
			out |= ScenarioUpgradeFailure
		case "snapshot-not-started":
			out |= ScenarioSnapshotNotStarted
		default:
			return 0, fmt.Errorf("%w: unknown scenario %q (want locked-table, count-mismatch, upgrade-failure, snapshot-not-started)", ErrInvalidConfig, part)
		}
	}
	return out, nil
}

// AOSInstance is one AX 2012 AOS Windows service.
type AOSInstance struct {
	// Host is the Windows host name (AX-AOS01).
	Host string
	// Service is the service key name (AOS60$01).
	Service string
	// Batch marks the AOS that runs the batch server; stopping it waits for
	// the batch tasks it is executing.
	Batch bool
}

// Drive is one fixed drive reported by xp_fixeddrives.
type Drive struct {
	Letter string
	FreeMB int64
}

// Preflight holds the source server facts the pre-flight queries return.
// Change them with World.SetPreflight to simulate failing checks.
type Preflight struct {
	// ProductVersion, Edition and Version are SERVERPROPERTY('ProductVersion'),
	// SERVERPROPERTY('Edition') and @@VERSION.
	ProductVersion string
	Edition        string
	Version        string
	// IntegratedSecurityOnly is SERVERPROPERTY('IsIntegratedSecurityOnly'):
	// true means Windows authentication only (the toolkit needs mixed mode).
	IntegratedSecurityOnly bool
	// ReplicationInstalled: sp_MS_replication_installed returns 1; when
	// false it raises error 21028, which is what the driver reports.
	ReplicationInstalled bool
	// AgentStatus is sys.dm_server_services.status_desc of SQL Server Agent
	// ("Running", "Stopped", ...); "" means the view has no SQL Server Agent
	// row (an edition without Agent, such as Express).
	AgentStatus string
	// DatabaseOwner, ReadCommittedSnapshot and RecoveryModel describe the AX
	// database (sys.databases); an empty owner is an orphaned owner SID
	// (SUSER_SNAME returns NULL), the cause of error 15517 in the log reader.
	DatabaseOwner         string
	ReadCommittedSnapshot bool
	RecoveryModel         string
	// MaxTextReplSize is 'max text repl size (B)' (-1: unlimited).
	MaxTextReplSize int64
	// HideRoleMembership makes IS_SRVROLEMEMBER and IS_ROLEMEMBER return NULL,
	// as for a login that may not view the roles' membership.
	HideRoleMembership bool
	// Drives are the fixed drives with their free space. Nil means C: with
	// 48 GB free and D: with twice the AX database size free.
	Drives []Drive
	// ServerCollation and DatabaseCollation are SERVERPROPERTY('Collation') and the AX database's
	// sys.databases.collation_name ("" means SQL_Latin1_General_CP1_CI_AS, AX 2012's usual one).
	ServerCollation, DatabaseCollation string
	// NoSQLDictionary makes the AX database lack SQLDICTIONARY (error 208), as a database that is
	// not AX 2012's would.
	NoSQLDictionary bool
}

// DefaultPreflight returns a healthy SQL Server 2016 SP2 source server.
func DefaultPreflight() Preflight {
	return Preflight{
		ProductVersion: "13.0.5026.0",
		Edition:        "Enterprise Edition (64-bit)",
		Version: "Microsoft SQL Server 2016 (SP2) (KB4052908) - 13.0.5026.0 (X64) \n\tMar 18 2018 09:11:49 \n\t" +
			"Copyright (c) Microsoft Corporation\n\tEnterprise Edition (64-bit) on Windows Server 2016 Datacenter 10.0 <X64> (Build 14393: ) (Hypervisor)\n",
		ReplicationInstalled:  true,
		AgentStatus:           "Running",
		DatabaseOwner:         "sa",
		ReadCommittedSnapshot: true,
		RecoveryModel:         "SIMPLE",
		MaxTextReplSize:       -1,
	}
}

// Config configures a World. The zero value gives the defaults documented
// on each field.
type Config struct {
	// Tables is the number of tables in the AX database (default 5000).
	Tables int
	// Seed makes the generated world reproducible.
	Seed uint64
	// Start is the world's simulated second zero (default: the clock's time at New). A world
	// rebuilt from its actions needs the start of the original.
	Start time.Time
	// Publications is the number of PK-table publications AX_PUB_PkTable_N
	// (the toolkit's NumberOfPublishers, default 4).
	Publications int
	// DrainRate is the total delivery rate of the distribution agents in
	// commands per second (default 400), shared by all publications.
	DrainRate float64
	// WriteRate is the rate of replicated commands the AX application
	// writes while every AOS runs (default 120 per second); it scales with
	// the share of AOS still running and is 0 once all are stopped.
	WriteRate float64
	// InitialBacklog is the undelivered commands at the start (default
	// 900,000; negative means none).
	InitialBacklog int64
	// AOS are the AOS instances (default AX-AOS01, AX-AOS02, AX-BATCH01,
	// each service AOS60$01, AX-BATCH01 running batch).
	AOS []AOSInstance
	// AOSStopDelay is how long an AOS takes to stop (default 20 s); the batch
	// AOS also waits for its executing batch tasks, at most MaxStopWait.
	AOSStopDelay time.Duration
	// MaxStopWait caps the wait for batch tasks when stopping (default 10 min).
	MaxStopWait time.Duration
	// AOSStartDelay is how long an AOS takes to start (default 45 s).
	AOSStartDelay time.Duration
	// SourceDatabase, DistributionDatabase and TargetDatabase name the AX
	// database, the distribution database and the sandbox database
	// (defaults MicrosoftDynamicsAX, distribution, AxDB).
	SourceDatabase       string
	DistributionDatabase string
	TargetDatabase       string
	// SourceServerName is the source @@SERVERNAME, also the publisher name
	// (default AXSQL01); TargetServerName the Azure SQL server (default
	// ax-sandbox-7f3a21.database.windows.net), also the subscriber name.
	SourceServerName string
	TargetServerName string
	// SnapshotRate is the bulk-copy speed of snapshots in rows per second
	// (default 50,000); snapshot generation runs at twice that speed.
	SnapshotRate float64
	// UpgradeDuration is the data upgrade's total run time without a
	// failure (default 4 h).
	UpgradeDuration time.Duration
	// Scenarios selects scenario flags.
	Scenarios Scenario
	// FailUpgradeAt is the phase the upgrade fails in under
	// ScenarioUpgradeFailure (default UpgradePostSync).
	FailUpgradeAt UpgradePhase
	// LockedTable is the table of ScenarioLockedTable (default SALESPARMLINE).
	LockedTable string
	// MismatchTable and MismatchRows are the table of ScenarioCountMismatch
	// and how many rows it lacks on the target (defaults CUSTINVOICETRANS, 137).
	MismatchTable string
	MismatchRows  int64
	// NoReplicationSystemTables leaves out the tables replication creates
	// (sysarticles, syspublications, ... on the source;
	// MSreplication_subscriptions, MSsubscription_agents on the target). They
	// are is_ms_shipped, so the row-count queries never list them; exact
	// counts and ad hoc queries still see them.
	NoReplicationSystemTables bool
	// Preflight overrides the pre-flight facts (nil: DefaultPreflight).
	Preflight *Preflight
}

// ErrInvalidConfig reports an unusable Config.
var ErrInvalidConfig = errors.New("sim: invalid config")

func (c Config) withDefaults() (Config, error) {
	if c.Tables == 0 {
		c.Tables = 5000
	}
	if c.Tables < minTables || c.Tables > maxTables {
		return c, fmt.Errorf("%w: Tables %d outside %d..%d", ErrInvalidConfig, c.Tables, minTables, maxTables)
	}
	if c.Publications == 0 {
		c.Publications = 4
	}
	if c.Publications < 1 || c.Publications > 64 {
		return c, fmt.Errorf("%w: Publications %d outside 1..64", ErrInvalidConfig, c.Publications)
	}
	if c.DrainRate == 0 {
		c.DrainRate = 400
	}
	if c.WriteRate == 0 {
		c.WriteRate = 120
	}
	if c.DrainRate < 0 || c.WriteRate < 0 {
		return c, fmt.Errorf("%w: negative DrainRate or WriteRate", ErrInvalidConfig)
	}
	if c.InitialBacklog == 0 {
		c.InitialBacklog = 900_000
	}
	if c.InitialBacklog < 0 {
		c.InitialBacklog = 0
	}
	if len(c.AOS) == 0 {
		c.AOS = []AOSInstance{
			{Host: "AX-AOS01", Service: "AOS60$01"},
			{Host: "AX-AOS02", Service: "AOS60$01"},
			{Host: "AX-BATCH01", Service: "AOS60$01", Batch: true},
		}
	} else {
		c.AOS = append([]AOSInstance(nil), c.AOS...)
	}
	for i, a := range c.AOS {
		if a.Host == "" || a.Service == "" {
			return c, fmt.Errorf("%w: AOS %d needs Host and Service", ErrInvalidConfig, i+1)
		}
		for _, b := range c.AOS[:i] {
			if strings.EqualFold(a.Host, b.Host) && strings.EqualFold(a.Service, b.Service) {
				return c, fmt.Errorf("%w: AOS %s/%s listed twice", ErrInvalidConfig, a.Host, a.Service)
			}
		}
	}
	if c.AOSStopDelay == 0 {
		c.AOSStopDelay = 20 * time.Second
	}
	if c.MaxStopWait == 0 {
		c.MaxStopWait = 10 * time.Minute
	}
	if c.AOSStartDelay == 0 {
		c.AOSStartDelay = 45 * time.Second
	}
	if c.AOSStopDelay < 0 || c.MaxStopWait < 0 || c.AOSStartDelay < 0 {
		return c, fmt.Errorf("%w: negative AOS delay", ErrInvalidConfig)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.SourceDatabase, "MicrosoftDynamicsAX")
	def(&c.DistributionDatabase, "distribution")
	def(&c.TargetDatabase, "AxDB")
	def(&c.SourceServerName, "AXSQL01")
	def(&c.TargetServerName, "ax-sandbox-7f3a21.database.windows.net")
	def(&c.LockedTable, "SALESPARMLINE")
	def(&c.MismatchTable, "CUSTINVOICETRANS")
	c.LockedTable = strings.ToUpper(c.LockedTable)
	c.MismatchTable = strings.ToUpper(c.MismatchTable)
	if c.MismatchRows == 0 {
		c.MismatchRows = 137
	}
	if c.SnapshotRate == 0 {
		c.SnapshotRate = 50_000
	}
	if c.SnapshotRate < 0 {
		return c, fmt.Errorf("%w: negative SnapshotRate", ErrInvalidConfig)
	}
	if c.UpgradeDuration == 0 {
		c.UpgradeDuration = 4 * time.Hour
	}
	if c.UpgradeDuration < time.Minute {
		return c, fmt.Errorf("%w: UpgradeDuration %v shorter than a minute", ErrInvalidConfig, c.UpgradeDuration)
	}
	if c.Scenarios.Has(ScenarioUpgradeFailure) && c.FailUpgradeAt == UpgradeNotStarted {
		c.FailUpgradeAt = UpgradePostSync
	}
	if !c.Scenarios.Has(ScenarioUpgradeFailure) {
		c.FailUpgradeAt = UpgradeNotStarted
	}
	if c.FailUpgradeAt < UpgradeNotStarted || c.FailUpgradeAt > UpgradeFinalDbSync {
		return c, fmt.Errorf("%w: FailUpgradeAt %v is not a failing phase", ErrInvalidConfig, c.FailUpgradeAt)
	}
	names := []string{c.SourceDatabase, c.DistributionDatabase, "master", "tempdb", "model", "msdb"}
	for i, a := range names {
		for _, b := range names[:i] {
			if strings.EqualFold(a, b) {
				return c, fmt.Errorf("%w: database name %q used twice on the source server", ErrInvalidConfig, a)
			}
		}
	}
	if strings.EqualFold(c.TargetDatabase, "master") {
		return c, fmt.Errorf("%w: the target database cannot be master", ErrInvalidConfig)
	}
	if c.Preflight == nil {
		p := DefaultPreflight()
		c.Preflight = &p
	} else {
		p := *c.Preflight
		p.Drives = append([]Drive(nil), p.Drives...)
		c.Preflight = &p
	}
	return c, nil
}

const (
	minTables = 200
	maxTables = 100_000
)

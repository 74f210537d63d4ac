// The replication picture the monitor publishes: table lag, publications, source health.

package engine

import (
	"cutover/engine/runbook"
	"fmt"
	"slices"
	"sort"
	"time"
)

// MonitorConfig tunes the replication monitor.
type MonitorConfig struct {
	// Interval is how often the cheap queries run: row counts on both sides and agent states
	// (default 15s).
	Interval time.Duration
	// BacklogInterval is how often the expensive per-article backlog runs (default 60s).
	BacklogInterval time.Duration
	// QueryTimeout bounds each query (default 2 minutes).
	QueryTimeout time.Duration
	// SlowAfter marks a source slow when a query takes longer (default 10s of real time).
	SlowAfter time.Duration
	// Smoothing is the time constant of the delivery-rate average (default 2 minutes).
	Smoothing time.Duration
	// TrendPoints is how many backlog samples the overall trend keeps (default 120); tables keep
	// TableTrendPoints (default 16).
	TrendPoints      int
	TableTrendPoints int
	// Ignore lists tables not replicated on purpose (the toolkit's IgnoreTables.xml). An engine
	// adds the runbook's own (IgnoredTables).
	Ignore []string
}

func (c MonitorConfig) withDefaults() MonitorConfig {
	if c.Interval <= 0 {
		c.Interval = 15 * time.Second
	}
	if c.BacklogInterval <= 0 {
		c.BacklogInterval = 60 * time.Second
	}
	if c.BacklogInterval < c.Interval {
		c.BacklogInterval = c.Interval
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 2 * time.Minute
	}
	if c.SlowAfter <= 0 {
		c.SlowAfter = 10 * time.Second
	}
	if c.Smoothing <= 0 {
		c.Smoothing = 2 * time.Minute
	}
	if c.TrendPoints <= 0 {
		c.TrendPoints = 120
	}
	if c.TableTrendPoints <= 0 {
		c.TableTrendPoints = 16
	}
	return c
}

// ignoring is a step's action that names tables not replicated on purpose.
type ignoring interface{ ignoredTables() []string }

// IgnoredTables is every table the runbook's steps name as not replicated on purpose (a
// validation's ignore list and ignore file, the toolkit's IgnoreTables.xml). The replication
// monitor shows them as ignored, never as lagging or missing: an engine adds them to its monitor's
// MonitorConfig.Ignore, and a Poller is given them. rb must have been loaded with the engine's
// kinds.
func IgnoredTables(rb *runbook.Runbook) []string {
	var out []string
	for _, s := range rb.Steps {
		if a, ok := s.Spec.(ignoring); ok {
			out = append(out, a.ignoredTables()...)
		}
	}
	return out
}

// Health is how a data source is doing.
type Health int

var healthWords = [...]string{"unknown", "ok", "slow", "failing"}

// String names the state.
func (h Health) String() string {
	if h >= 0 && int(h) < len(healthWords) {
		return healthWords[h]
	}
	return "unknown"
}

// Up reports whether the source answers (OK or slow).
func (h Health) Up() bool { return h == HealthOK || h == HealthSlow }

// MarshalText writes the state as its word.
func (h Health) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads the state from its word.
func (h *Health) UnmarshalText(b []byte) error {
	for i, w := range healthWords {
		if w == string(b) {
			*h = Health(i)
			return nil
		}
	}
	return fmt.Errorf("unknown health %q", b)
}

// SourceHealth is one data source's health and its history.
type SourceHealth struct {
	Name  string
	State Health
	// Since is when the source entered its state.
	Since time.Time
	// LastOK is the last successful query; LastError the newest failure's text.
	LastOK    time.Time
	LastError string
	// LastDuration is how long the newest query took (real time).
	LastDuration time.Duration
	// LastOutage is how long the most recent failing period lasted, once it ended.
	LastOutage time.Duration
	// Failures counts consecutive failures.
	Failures int
}

// TableLag is one table's replication state. Every figure carries the time it was read.
type TableLag struct {
	Table       string
	Publication string
	HasPK       bool
	Ignored     bool
	// Published is false for tables no article covers (no PK yet, locked, or ignored).
	Published bool
	// OnTarget is false while the table does not exist on the target (beside the other flags:
	// a picture holds one of these per table).
	OnTarget  bool
	Pending   int64
	PendingAt time.Time
	Source    int64
	SourceAt  time.Time
	Target    int64
	TargetAt  time.Time
	// Delta is source minus target rows.
	Delta int64
	// Rate is the smoothed net drain of the backlog in commands per second (negative: growing).
	Rate float64
	// ETA is the time to drain the table's backlog at Rate (0 when unknown).
	ETA time.Duration
	// Trend holds the newest backlog samples, oldest first.
	Trend []int64
}

// PublicationLag sums a publication's tables and agents.
type PublicationLag struct {
	Name    string
	Tables  int
	Pending int64
	Rate    float64
	ETA     time.Duration
	// Agents in error, by name.
	Failing []string
	// Latency is the worst agent latency; LastDelivery the newest distribution sync.
	Latency      time.Duration
	LastDelivery time.Time
}

// TrendPoint is one overall backlog sample.
type TrendPoint struct {
	At      time.Time
	Pending int64
}

// ReplicationView is the monitor's picture at one moment. It is immutable once published, so every
// front end shares it.
type ReplicationView struct {
	At           time.Time
	Tables       []TableLag
	Publications []PublicationLag
	Agents       []Agent
	// AgentsAt is the time the agent states are from: when they were read, less the age of the
	// oldest cached state among them (AgentsCacheAge), so a cache that stopped refreshing makes
	// them old however often they are read.
	AgentsAt       time.Time
	AgentsCacheAge time.Duration
	TotalPending   int64
	// PendingAt is when the backlog was last read; DrainRate its smoothed net drain (commands/s).
	PendingAt time.Time
	DrainRate float64
	ETA       time.Duration
	Trend     []TrendPoint
	Health    []SourceHealth
	// Cycles counts this engine's completed polls.
	Cycles int
	// Restored marks the picture an earlier engine saved in the state directory (PictureFileName),
	// shown from the start until this engine's first poll answers. Its figures keep the times they
	// were read, so every age shown is true; its sources' health is unknown (their last good read
	// is kept). It is a cache for the front ends: the step kinds never judge it (Run.Replication).
	Restored bool
	// Retired is when replication was removed (the toolkit's «Remove replication setup» succeeded);
	// the monitor stops polling then and the picture is the last one taken. RetiredBy names the step.
	Retired   time.Time
	RetiredBy string
}

// Table finds a table's lag.
func (v *ReplicationView) Table(name string) (TableLag, bool) {
	key := TableKey(name)
	i := sort.Search(len(v.Tables), func(i int) bool { return TableKey(v.Tables[i].Table) >= key })
	if i < len(v.Tables) && TableKey(v.Tables[i].Table) == key {
		return v.Tables[i], true
	}
	return TableLag{}, false
}

// WorstTables returns the n tables that lag most, worst first: the most pending commands, then the
// largest row-count difference either way, then by name. Ignored tables and tables with nothing
// to deliver and no difference are left out; keep, when not nil, is asked once about each other
// table and may leave it out too. It picks them in one pass, without copying the picture's tables.
func (v *ReplicationView) WorstTables(n int, keep func(*TableLag) bool) []*TableLag {
	if n <= 0 {
		return nil
	}
	abs := func(n int64) int64 { return max(n, -n) }
	worse := func(a, b *TableLag) bool {
		if a.Pending != b.Pending {
			return a.Pending > b.Pending
		}
		if da, db := abs(a.Delta), abs(b.Delta); da != db {
			return da > db
		}
		return a.Table < b.Table
	}
	worst := make([]*TableLag, 0, n+1)
	for i := range v.Tables {
		t := &v.Tables[i]
		if t.Ignored || (t.Pending == 0 && t.Delta == 0) || (keep != nil && !keep(t)) {
			continue
		}
		if len(worst) == n && !worse(t, worst[n-1]) {
			continue
		}
		at := sort.Search(len(worst), func(j int) bool { return worse(t, worst[j]) })
		worst = slices.Insert(worst, at, t)
		if len(worst) > n {
			worst = worst[:n]
		}
	}
	return worst
}

// SourceHealth returns one source's health.
func (v *ReplicationView) SourceHealth(name string) SourceHealth {
	for _, h := range v.Health {
		if h.Name == name {
			return h
		}
	}
	return SourceHealth{Name: name}
}

// ReplicationUpdated carries a new monitor picture (newest wins).
type ReplicationUpdated struct {
	View *ReplicationView
}

func (ReplicationUpdated) isEvent() {}

func (ReplicationUpdated) coalesceKey() string { return "replication" }

func (r ReplicationUpdated) merge(Event) Event { return r }

func (SourceHealthChanged) isEvent() {}

// SourceHealthChanged says a data source changed health (delivered to every subscriber).
type SourceHealthChanged struct {
	Health SourceHealth
	// ExpectedBy names the step whose expected effect a failure is (the distributor going away
	// while replication is removed): not an outage.
	ExpectedBy string
}

// Health states.
const (
	HealthUnknown Health = iota
	HealthOK
	HealthSlow
	HealthFailing
)

// Source names the monitored data sources.
const (
	SourceAX          = "source"
	SourceDistributor = "distributor"
	SourceTarget      = "target"
)

package tui

import (
	"time"

	"cutover/engine"
)

// levelShort is the level in a status line: OK, WARN, CRIT, UNKNOWN.
func levelShort(l engine.Level) string {
	switch l {
	case engine.LevelWarning:
		return "WARN"
	case engine.LevelCritical:
		return "CRIT"
	}
	return l.String()
}

// StatusWorstTables is how many tables a status lists.
const StatusWorstTables = 5

// Status is the glance: a verdict, why, and the figures it rests on with their ages.
type Status struct {
	Level engine.Level
	// Reasons explain the level, the most severe first. An OK status may carry a note (replication
	// removed).
	Reasons []string
	// CheckedAt is when the status was evaluated; every age is measured against it.
	CheckedAt time.Time
	// Thresholds are the ones the verdict used (defaults filled in).
	Thresholds engine.Thresholds
	// Replication holds the figures; nil when there was no replication picture.
	Replication *ReplicationStatus
	// Run is where the run stands; nil when no snapshot was given.
	Run *RunStatus

	// briefs are the reasons in a few words, for OneLine (parallel to Reasons).
	briefs []string
}

// ReplicationStatus is the replication picture's figures, each with when it was read.
type ReplicationStatus struct {
	// At is when the picture was taken; Cycles how many polls it folds in.
	At     time.Time
	Cycles int
	Tables int
	// TotalPending is the undelivered commands, read at PendingAt (zero: the backlog was never read).
	TotalPending int64
	PendingAt    time.Time
	// DrainRate is the smoothed net drain in commands per second (negative: growing); ETA the time to
	// drain at that rate (0 = unknown).
	DrainRate float64
	ETA       time.Duration
	// AgentsAt is when the agents were read (zero: never).
	AgentsAt time.Time
	// FiguresAt is the oldest of PendingAt and AgentsAt, the figures the verdict rests on (zero when
	// the backlog was never read); DataAge is its age at CheckedAt.
	FiguresAt time.Time
	DataAge   time.Duration
	// MaxLatency is the worst agent latency, MaxLatencyAgent that agent.
	MaxLatency      time.Duration
	MaxLatencyAgent string
	// Worst are the StatusWorstTables tables with the most pending commands, then the largest row
	// difference (ignored tables and tables with nothing to deliver are left out).
	Worst []TableStatus
	// AgentsInError are the agents failing or retrying.
	AgentsInError []AgentError
	// Sources are each data source's health.
	Sources []SourceStatus
	// Retired is when replication was removed (zero: it was not), by the step RetiredBy.
	Retired   time.Time
	RetiredBy string
}

// TableStatus is one table in the status.
type TableStatus struct {
	Table       string
	Publication string
	Pending     int64
	PendingAt   time.Time
	// Delta is source minus target rows.
	Delta int64
	// Rate is the smoothed drain (commands/s); ETA the time to drain (0 = unknown).
	Rate float64
	ETA  time.Duration
}

// AgentError is a replication agent in error.
type AgentError struct {
	Publication string
	Agent       string
	Kind        string
	Status      string
	// Error is the agent's newest error (its newest message when it gave none).
	Error string
}

// SourceStatus is one data source's health.
type SourceStatus struct {
	Name   string
	Health engine.Health
	// Since is when it entered its state; LastOK its last good read (zero: never).
	Since     time.Time
	LastOK    time.Time
	LastError string
	Failures  int
}

// RunStatus is where the run stands.
type RunStatus struct {
	Name        string
	Environment string
	Rehearsal   bool
	Outcome     engine.Outcome
	StepsDone   int
	StepsTotal  int
	// StepsNotNeeded counts the done steps that are conditional (`when: {failed}`) and were not
	// needed: their trigger was done without failing.
	StepsNotNeeded int
	// Current is the step that matters now (engine.Snapshot.Current; nil when every step is done):
	// one awaiting an operator, else a failed one, else one running, retrying, ready or pending.
	Current *CurrentStep
	// Downtime is the downtime clock; nil when the runbook has no downtime block.
	Downtime *engine.DowntimeView
	// Rollback is the AX 2012 rollback's readiness; nil when the runbook names no point of no
	// return.
	Rollback *engine.RollbackView
	// Stopped is set when no engine holds the state directory (journal.ReadHolder): the outcome is
	// where the run was when its engine stopped, not what is happening now.
	Stopped bool
}

// outcomeText is the run's outcome in words; a run whose engine stopped before it ended says so.
func (rs *RunStatus) outcomeText() string {
	if rs.Stopped && rs.Outcome != engine.OutcomeCompleted {
		return "STOPPED: no cockpit runs on this state directory (the run was " + rs.Outcome.String() + " when its engine stopped)"
	}
	return rs.Outcome.String()
}

// CurrentStep is the step a run is at.
type CurrentStep struct {
	ID    string
	Title string
	State engine.StepState
	Phase string
}

// EvaluateStatus judges replication health from the monitor's picture (view) with the engine's one
// replication verdict (engine.ReplicationView.Judge: the rule the replication.healthy gate and the
// cockpit's publication rows use too) and, when given, adds where the run stands (snap). Either may
// be nil; without a view the verdict is UNKNOWN ("no replication data"). now is the time ages are
// measured against (the engine's clock).
func EvaluateStatus(view *engine.ReplicationView, snap *engine.Snapshot, th engine.Thresholds, now time.Time) Status {
	if th.MaxAge <= 0 {
		th.MaxAge = engine.DefaultThresholds().MaxAge
	}
	s := Status{CheckedAt: now, Thresholds: th}
	if snap != nil {
		s.Run = runStatus(snap, now)
	}
	if view != nil && view.Cycles > 0 {
		s.Replication = replicationStatus(view, now)
	}
	v := view.Judge(th, now)
	s.Level = v.Level
	for _, f := range v.Findings {
		s.Reasons = append(s.Reasons, f.Text)
		s.briefs = append(s.briefs, f.Brief)
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// replicationStatus takes the figures out of a picture.
func replicationStatus(v *engine.ReplicationView, now time.Time) *ReplicationStatus {
	r := &ReplicationStatus{At: v.At, Cycles: v.Cycles, Tables: len(v.Tables), TotalPending: v.TotalPending,
		PendingAt: v.PendingAt, DrainRate: v.DrainRate, ETA: v.ETA, AgentsAt: v.AgentsAt,
		Retired: v.Retired, RetiredBy: v.RetiredBy,
		Worst: []TableStatus{}, AgentsInError: []AgentError{}, Sources: []SourceStatus{}}
	if !r.PendingAt.IsZero() {
		r.FiguresAt = r.PendingAt
		if !r.AgentsAt.IsZero() && r.AgentsAt.Before(r.FiguresAt) {
			r.FiguresAt = r.AgentsAt
		}
		r.DataAge = max(now.Sub(r.FiguresAt), 0)
	}
	for _, a := range v.Agents {
		if a.Latency > r.MaxLatency {
			r.MaxLatency, r.MaxLatencyAgent = a.Latency, a.Name
		}
		if a.Status.Bad() {
			r.AgentsInError = append(r.AgentsInError, AgentError{Publication: a.Publication, Agent: a.Name,
				Kind: a.Kind.String(), Status: a.Status.String(), Error: firstNonEmpty(a.Error, a.Message)})
		}
	}
	worst := v.WorstTables(StatusWorstTables, nil)
	for _, t := range worst {
		r.Worst = append(r.Worst, TableStatus{Table: tableName(t.Table), Publication: t.Publication, Pending: t.Pending,
			PendingAt: t.PendingAt, Delta: t.Delta, Rate: t.Rate, ETA: t.ETA})
	}
	names := []string{engine.SourceAX, engine.SourceDistributor, engine.SourceTarget}
	for _, h := range v.Health {
		if h.Name != engine.SourceAX && h.Name != engine.SourceDistributor && h.Name != engine.SourceTarget {
			names = append(names, h.Name)
		}
	}
	for _, n := range names {
		h := v.SourceHealth(n)
		r.Sources = append(r.Sources, SourceStatus{Name: n, Health: h.State, Since: h.Since, LastOK: h.LastOK,
			LastError: h.LastError, Failures: h.Failures})
	}
	return r
}

// runStatus sums up a snapshot.
func runStatus(snap *engine.Snapshot, now time.Time) *RunStatus {
	rs := &RunStatus{Name: snap.Run.Name, Environment: snap.Run.Environment, Rehearsal: snap.Run.Rehearsal,
		Outcome: snap.Run.Outcome, StepsTotal: len(snap.Steps)}
	for _, st := range snap.Steps {
		if st.State.Done() {
			rs.StepsDone++
		}
		if st.State == engine.StateNotNeeded {
			rs.StepsNotNeeded++
		}
	}
	if st, ok := snap.Current(); ok {
		rs.Current = &CurrentStep{ID: st.ID, Title: st.Title, State: st.State, Phase: st.Phase}
	}
	if snap.Run.Downtime != nil {
		dt := snap.Downtime(now)
		rs.Downtime = &dt
	}
	if rb := snap.Rollback(now); rb.State != engine.RollbackUntracked {
		rs.Rollback = &rb
	}
	return rs
}

// ExitCode is the monitoring-plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
func (s Status) ExitCode() int {
	switch s.Level {
	case engine.LevelOK, engine.LevelWarning, engine.LevelCritical:
		return int(s.Level)
	}
	return int(engine.LevelUnknown)
}

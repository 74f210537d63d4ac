package tui

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

// StatusLevel is a monitoring-plugin verdict (engine.Level: the engine decides it); its value is
// the exit code.
type StatusLevel = engine.Level

// Status levels, as monitoring plugins (Nagios, Icinga, Sensu, …) read them from the exit code.
const (
	StatusOK       = engine.LevelOK
	StatusWarning  = engine.LevelWarning
	StatusCritical = engine.LevelCritical
	StatusUnknown  = engine.LevelUnknown
)

// levelShort is the level in a status line: OK, WARN, CRIT, UNKNOWN.
func levelShort(l StatusLevel) string {
	switch l {
	case StatusWarning:
		return "WARN"
	case StatusCritical:
		return "CRIT"
	}
	return l.String()
}

// StatusThresholds decide the verdict: engine.Thresholds, the one replication verdict's.
type StatusThresholds = engine.Thresholds

// DefaultThresholds are the engine's (engine.DefaultThresholds).
func DefaultThresholds() StatusThresholds { return engine.DefaultThresholds() }

// StatusWorstTables is how many tables a status lists.
const StatusWorstTables = 5

// Status is the glance: a verdict, why, and the figures it rests on with their ages.
type Status struct {
	Level StatusLevel
	// Reasons explain the level, the most severe first. An OK status may carry a note (replication
	// removed).
	Reasons []string
	// CheckedAt is when the status was evaluated; every age is measured against it.
	CheckedAt time.Time
	// Thresholds are the ones the verdict used (defaults filled in).
	Thresholds StatusThresholds
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
func EvaluateStatus(view *engine.ReplicationView, snap *engine.Snapshot, th StatusThresholds, now time.Time) Status {
	if th.MaxAge <= 0 {
		th.MaxAge = DefaultThresholds().MaxAge
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
	var worst []engine.TableLag
	for _, t := range v.Tables {
		if !t.Ignored && (t.Pending > 0 || t.Delta != 0) {
			worst = append(worst, t)
		}
	}
	abs := func(n int64) int64 {
		if n < 0 {
			return -n
		}
		return n
	}
	sort.Slice(worst, func(i, j int) bool {
		a, b := worst[i], worst[j]
		if a.Pending != b.Pending {
			return a.Pending > b.Pending
		}
		if abs(a.Delta) != abs(b.Delta) {
			return abs(a.Delta) > abs(b.Delta)
		}
		return a.Table < b.Table
	})
	for _, t := range worst[:min(len(worst), StatusWorstTables)] {
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

// rollbackText is the rollback's readiness in words, for the glance: whether the rollback point
// was made and its backup verified, and which step is the point of no return and when.
func rollbackText(rb engine.RollbackView, now time.Time) string {
	in := ""
	if rb.Projected {
		in = " in ≈" + dur(rb.Left)
	}
	ago := dur(max(now.Sub(rb.PointAt), 0)) + " ago"
	switch rb.State {
	case engine.RollbackGone:
		return fmt.Sprintf("rollback over: the point of no return (%s) passed %s ago", rb.NoReturn, dur(max(now.Sub(rb.NoReturnAt), 0)))
	case engine.RollbackReady:
		var point string
		switch rb.Proof {
		case engine.ProofVerified:
			point = fmt.Sprintf("rollback ready · backup verified %s (%s)", ago, rb.Point)
		case engine.ProofByHand:
			point = fmt.Sprintf("rollback point made by hand %s (%s, not verified)", ago, rb.Point)
		default:
			point = fmt.Sprintf("rollback point made %s (%s, not verified: the step does not check the backup)", ago, rb.Point)
		}
		return fmt.Sprintf("%s · no return: %s%s", point, rb.NoReturn, in)
	case engine.RollbackAtRisk:
		return fmt.Sprintf("NO rollback point (%s not done) · no return: %s awaits confirmation", rb.Point, rb.NoReturn)
	case engine.RollbackNoPoint:
		if rb.Point == "" {
			return fmt.Sprintf("no return: %s%s · no rollback point named", rb.NoReturn, in)
		}
		return fmt.Sprintf("no rollback point yet (%s %s) · no return: %s%s", rb.Point, rb.PointState, rb.NoReturn, in)
	}
	return ""
}

// ExitCode is the monitoring-plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
func (s Status) ExitCode() int {
	switch s.Level {
	case StatusOK, StatusWarning, StatusCritical:
		return int(s.Level)
	}
	return int(StatusUnknown)
}

// rateText writes a drain rate in commands per second.
func rateText(r float64) string {
	switch {
	case r == 0:
		return "0/s"
	case math.Abs(r) >= 100:
		return num(int64(math.Round(r))) + "/s"
	}
	return fmt.Sprintf("%.1f/s", r)
}

// drainText says how the backlog moves: "draining 1,500/s", "growing 20/s".
func drainText(r float64) string {
	if r < 0 {
		return "growing " + rateText(-r)
	}
	return "draining " + rateText(r)
}

// etaText is an ETA, or why there is none.
func etaText(pending int64, eta time.Duration) string {
	switch {
	case pending <= 0:
		return "drained"
	case eta <= 0:
		return "ETA unknown"
	}
	return "ETA " + dur(eta)
}

// WriteText writes the glance for people (ssh exec, scripts): the verdict and its reasons first
// (with monitoring-plugin performance data after a "|"), then the figures with their ages, the
// worst tables, agents in error, the sources and where the run stands. Plain text, no colours.
func (s Status) WriteText(w io.Writer) error {
	var b strings.Builder
	now := s.CheckedAt
	b.WriteString("cutover " + s.Level.String())
	if len(s.Reasons) > 0 {
		b.WriteString(" - " + strings.ReplaceAll(strings.Join(s.Reasons, "; "), "|", "/"))
	} else if s.Level == StatusOK {
		b.WriteString(" - replication healthy")
	}
	if r := s.Replication; r != nil {
		pending := "U" // a monitoring plugin's "unknown" value: the backlog was never read
		if !r.PendingAt.IsZero() {
			pending = fmt.Sprint(r.TotalPending)
		}
		fmt.Fprintf(&b, " | pending=%s;%s;%s;0 drain_rate=%.1f", pending, perfThreshold(s.Thresholds.WarnPending),
			perfThreshold(s.Thresholds.CritPending), r.DrainRate)
		if !r.FiguresAt.IsZero() {
			fmt.Fprintf(&b, " age=%.0fs;;%.0f", r.DataAge.Seconds(), s.Thresholds.MaxAge.Seconds())
		}
	}
	b.WriteByte('\n')
	if r := s.Replication; r != nil {
		parts := []string{"pending " + num(r.TotalPending) + " (read " + age(now, r.PendingAt) + ")", drainText(r.DrainRate), etaText(r.TotalPending, r.ETA)}
		if r.PendingAt.IsZero() {
			// Never read is not empty: no "drained", no rate, no ETA.
			parts = []string{"pending unknown (backlog never read)"}
		}
		parts = append(parts, fmt.Sprintf("%s tables", num(int64(r.Tables))), "agents read "+age(now, r.AgentsAt))
		if r.MaxLatency > 0 {
			parts = append(parts, "worst latency "+dur(r.MaxLatency)+" ("+r.MaxLatencyAgent+")")
		}
		if !r.Retired.IsZero() {
			parts = append(parts, "replication removed "+age(now, r.Retired))
		}
		b.WriteString("replication  " + strings.Join(parts, " · ") + "\n")
		if len(r.Worst) > 0 {
			b.WriteString("worst tables\n")
			nameW, pubW := 0, 0
			for _, t := range r.Worst {
				nameW, pubW = max(nameW, len(t.Table)), max(pubW, len(t.Publication))
			}
			for _, t := range r.Worst {
				if t.PendingAt.IsZero() {
					fmt.Fprintf(&b, "  %-*s  %-*s  pending unknown (never read)  delta %s\n", nameW, t.Table, pubW, t.Publication, signed(t.Delta))
					continue
				}
				fmt.Fprintf(&b, "  %-*s  %-*s  pending %s (read %s)  delta %s  %s  %s\n", nameW, t.Table, pubW, t.Publication,
					num(t.Pending), age(now, t.PendingAt), signed(t.Delta), rateText(t.Rate), etaText(t.Pending, t.ETA))
			}
		}
		if len(r.AgentsInError) > 0 {
			b.WriteString("agents in error\n")
			for _, a := range r.AgentsInError {
				fmt.Fprintf(&b, "  %s · %s (%s, %s): %s\n", a.Publication, a.Agent, a.Kind, a.Status, a.Error)
			}
		}
		var srcs []string
		for _, src := range r.Sources {
			srcs = append(srcs, sourceText(src, now))
		}
		b.WriteString("sources      " + strings.Join(srcs, " · ") + "\n")
	}
	if rs := s.Run; rs != nil {
		steps := fmt.Sprintf("%d/%d steps", rs.StepsDone, rs.StepsTotal)
		if rs.StepsNotNeeded > 0 {
			steps += fmt.Sprintf(" (%d not needed)", rs.StepsNotNeeded)
		}
		parts := []string{rs.Name, steps}
		if c := rs.Current; c != nil {
			cur := c.ID + " " + c.State.String()
			if c.Phase != "" {
				cur += " (" + c.Phase + ")"
			}
			parts = append(parts, cur)
		}
		parts = append(parts, rs.outcomeText())
		if d := rs.Downtime; d != nil {
			switch {
			case d.Began.IsZero():
				parts = append(parts, "downtime not started (budget "+dur(d.Budget)+")")
			case d.Over():
				parts = append(parts, fmt.Sprintf("downtime %s / %s: OVER budget by %s", dur(d.Elapsed), dur(d.Budget), dur(d.Elapsed-d.Budget)))
			default:
				parts = append(parts, fmt.Sprintf("downtime %s / %s", dur(d.Elapsed), dur(d.Budget)))
			}
		}
		b.WriteString("run          " + strings.Join(parts, " · ") + "\n")
		if rb := rs.Rollback; rb != nil {
			b.WriteString("rollback     " + rollbackText(*rb, now) + "\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// perfThreshold writes a threshold in performance data (empty when not checked).
func perfThreshold(n int64) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// sourceText is one source's health with the age of its last good read.
func sourceText(src SourceStatus, now time.Time) string {
	switch {
	case src.Health == engine.HealthFailing:
		return fmt.Sprintf("%s FAILING for %s: %s (last good read %s)", src.Name, dur(now.Sub(src.Since)), src.LastError, age(now, src.LastOK))
	case src.LastOK.IsZero():
		return src.Name + " never read"
	}
	return fmt.Sprintf("%s %s (read %s)", src.Name, src.Health, age(now, src.LastOK))
}

// OneLineWidth is the most cells OneLine uses.
const OneLineWidth = 80

// OneLine is the glance in one line that fits a tmux status line (at most OneLineWidth cells):
// "cutover OK 46,162 pending ETA 31s · 7/21 steps", "cutover CRIT agent error AX_PUB_PkTable_2".
func (s Status) OneLine() string {
	head := "cutover " + levelShort(s.Level)
	var what string
	switch {
	case s.Level != StatusOK && len(s.Reasons) > 0:
		what = s.brief(0)
		if n := len(s.Reasons) - 1; n > 0 {
			what += fmt.Sprintf(" (+%d)", n)
		}
	case s.Replication != nil && !s.Replication.Retired.IsZero():
		what = "replication removed"
	case s.Replication != nil:
		what = num(s.Replication.TotalPending) + " pending"
		if s.Replication.TotalPending > 0 && s.Replication.ETA > 0 {
			what += " ETA " + dur(s.Replication.ETA)
		}
	case len(s.Reasons) > 0:
		what = s.brief(0)
	}
	line := head
	if what != "" {
		line += " " + what
	}
	if rs := s.Run; rs != nil {
		tail := fmt.Sprintf(" · %d/%d steps", rs.StepsDone, rs.StepsTotal)
		if ansi.StringWidth(line+tail) <= OneLineWidth {
			line += tail
		}
	}
	return ansi.Truncate(strings.ReplaceAll(line, "\n", " "), OneLineWidth, "…")
}

// brief is reason i in a few words.
func (s Status) brief(i int) string {
	if i < len(s.briefs) && s.briefs[i] != "" {
		return s.briefs[i]
	}
	return s.Reasons[i]
}

// StatusSchema names the JSON document WriteJSON writes. Its members (snake_case; times are
// RFC 3339 strings in UTC or null when never; durations are seconds as numbers, named *_seconds;
// a figure that is unknown is null; lists are never null):
//
//	schema                     "cutover.status/v1"
//	level                      "OK" | "WARNING" | "CRITICAL" | "UNKNOWN"
//	exit_code                  0 | 1 | 2 | 3
//	reasons                    [string], most severe first
//	checked_at                 time
//	thresholds                 {warn_pending, crit_pending (numbers; 0: not checked),
//	                            warn_latency_seconds, crit_latency_seconds, max_age_seconds}
//	replication                null (no picture) | {
//	  at                       time of the picture
//	  cycles, tables           numbers
//	  total_pending            number of undelivered commands | null (the backlog was never read)
//	  pending_read_at          time | null;   pending_age_seconds  number | null
//	  drain_rate_per_second    number (negative: the backlog grows)
//	  eta_seconds              number | null (unknown)
//	  agents_read_at           time | null;   agents_age_seconds   number | null
//	  data_age_seconds         number | null: age of the oldest figure the verdict rests on
//	  max_latency_seconds      number;        max_latency_agent    string
//	  retired_at               time | null;   retired_by           string
//	  worst_tables             [{table, publication, pending, pending_read_at, delta,
//	                             rate_per_second, eta_seconds}]
//	  agents_in_error          [{publication, agent, kind, status, error}]
//	  sources                  [{name, health ("ok"|"slow"|"failing"|"unknown"), since,
//	                             last_ok_at, last_ok_age_seconds, last_error, failures}] }
//	run                        null (no snapshot) | {
//	  name, environment        strings;       rehearsal            bool
//	  outcome                  string ("running", "waiting for an operator", "paused", …): where
//	                           the run is, or was when its engine stopped
//	  engine                   "running" | "stopped" (no engine holds the state directory)
//	  steps_done, steps_total  numbers; steps_not_needed  number (done, conditional, never run)
//	  current_step             null | {id, title, state, phase}
//	  downtime                 null (no downtime block) | {began_at (time | null),
//	                             elapsed_seconds, budget_seconds, over_budget (bool)}
//	  rollback                 null (no point of no return) | {
//	    state                  "no rollback point" | "ready" | "at risk" | "gone"
//	    no_return, no_return_title  the point of no return's step and its title
//	    rollback_point         string ("" when none is named);  rollback_point_at  time | null
//	    rollback_point_verified  bool: its step checked the backup (backup.verify)
//	    rollback_point_proof   "none" | "verified" | "by hand" | "unchecked"
//	    no_return_at           time | null;   no_return_in_seconds  number | null } }
const StatusSchema = "cutover.status/v1"

type statusJSON struct {
	Schema      string                 `json:"schema"`
	Level       StatusLevel            `json:"level"`
	ExitCode    int                    `json:"exit_code"`
	Reasons     []string               `json:"reasons"`
	CheckedAt   *string                `json:"checked_at"`
	Thresholds  thresholdsJSON         `json:"thresholds"`
	Replication *replicationStatusJSON `json:"replication"`
	Run         *runStatusJSON         `json:"run"`
}

type thresholdsJSON struct {
	WarnPending        int64   `json:"warn_pending"`
	CritPending        int64   `json:"crit_pending"`
	WarnLatencySeconds float64 `json:"warn_latency_seconds"`
	CritLatencySeconds float64 `json:"crit_latency_seconds"`
	MaxAgeSeconds      float64 `json:"max_age_seconds"`
}

type replicationStatusJSON struct {
	At                 *string            `json:"at"`
	Cycles             int                `json:"cycles"`
	Tables             int                `json:"tables"`
	TotalPending       *int64             `json:"total_pending"`
	PendingReadAt      *string            `json:"pending_read_at"`
	PendingAgeSeconds  *float64           `json:"pending_age_seconds"`
	DrainRatePerSecond float64            `json:"drain_rate_per_second"`
	ETASeconds         *float64           `json:"eta_seconds"`
	AgentsReadAt       *string            `json:"agents_read_at"`
	AgentsAgeSeconds   *float64           `json:"agents_age_seconds"`
	DataAgeSeconds     *float64           `json:"data_age_seconds"`
	MaxLatencySeconds  float64            `json:"max_latency_seconds"`
	MaxLatencyAgent    string             `json:"max_latency_agent"`
	RetiredAt          *string            `json:"retired_at"`
	RetiredBy          string             `json:"retired_by"`
	WorstTables        []tableJSON        `json:"worst_tables"`
	AgentsInError      []agentErrorJSON   `json:"agents_in_error"`
	Sources            []sourceStatusJSON `json:"sources"`
}

type tableJSON struct {
	Table         string   `json:"table"`
	Publication   string   `json:"publication"`
	Pending       int64    `json:"pending"`
	PendingReadAt *string  `json:"pending_read_at"`
	Delta         int64    `json:"delta"`
	RatePerSecond float64  `json:"rate_per_second"`
	ETASeconds    *float64 `json:"eta_seconds"`
}

type agentErrorJSON struct {
	Publication string `json:"publication"`
	Agent       string `json:"agent"`
	Kind        string `json:"kind"`
	Status      string `json:"status"`
	Error       string `json:"error"`
}

type sourceStatusJSON struct {
	Name             string        `json:"name"`
	Health           engine.Health `json:"health"`
	Since            *string       `json:"since"`
	LastOKAt         *string       `json:"last_ok_at"`
	LastOKAgeSeconds *float64      `json:"last_ok_age_seconds"`
	LastError        string        `json:"last_error"`
	Failures         int           `json:"failures"`
}

type runStatusJSON struct {
	Name        string           `json:"name"`
	Environment string           `json:"environment"`
	Rehearsal   bool             `json:"rehearsal"`
	Outcome     engine.Outcome   `json:"outcome"`
	Engine      string           `json:"engine"`
	StepsDone   int              `json:"steps_done"`
	StepsTotal  int              `json:"steps_total"`
	NotNeeded   int              `json:"steps_not_needed"`
	CurrentStep *currentStepJSON `json:"current_step"`
	Downtime    *downtimeJSON    `json:"downtime"`
	Rollback    *rollbackJSON    `json:"rollback"`
}

type rollbackJSON struct {
	State                 engine.RollbackState `json:"state"`
	NoReturn              string               `json:"no_return"`
	NoReturnTitle         string               `json:"no_return_title"`
	RollbackPoint         string               `json:"rollback_point"`
	RollbackPointAt       *string              `json:"rollback_point_at"`
	RollbackPointVerified bool                 `json:"rollback_point_verified"`
	RollbackPointProof    engine.PointProof    `json:"rollback_point_proof"`
	NoReturnAt            *string              `json:"no_return_at"`
	NoReturnInSeconds     *float64             `json:"no_return_in_seconds"`
}

type currentStepJSON struct {
	ID    string           `json:"id"`
	Title string           `json:"title"`
	State engine.StepState `json:"state"`
	Phase string           `json:"phase"`
}

type downtimeJSON struct {
	BeganAt        *string `json:"began_at"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	BudgetSeconds  float64 `json:"budget_seconds"`
	OverBudget     bool    `json:"over_budget"`
}

// jsonTime is an RFC 3339 time in UTC, or null when zero.
// knownCount is n, or null when it was never read (at is zero).
func knownCount(n int64, at time.Time) *int64 {
	if at.IsZero() {
		return nil
	}
	return &n
}

func jsonTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// jsonAge is the seconds from t to now, or null when t is zero.
func jsonAge(now, t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	return jsonSeconds(max(now.Sub(t), 0))
}

func jsonSeconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// jsonETA is an ETA in seconds, or null when unknown.
func jsonETA(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	return jsonSeconds(d)
}

// WriteJSON writes the glance as one JSON document following StatusSchema (cutover.status/v1).
func (s Status) WriteJSON(w io.Writer) error {
	now := s.CheckedAt
	doc := statusJSON{Schema: StatusSchema, Level: s.Level, ExitCode: s.ExitCode(), Reasons: append([]string{}, s.Reasons...),
		CheckedAt: jsonTime(now),
		Thresholds: thresholdsJSON{WarnPending: s.Thresholds.WarnPending, CritPending: s.Thresholds.CritPending,
			WarnLatencySeconds: s.Thresholds.WarnLatency.Seconds(), CritLatencySeconds: s.Thresholds.CritLatency.Seconds(),
			MaxAgeSeconds: s.Thresholds.MaxAge.Seconds()}}
	if r := s.Replication; r != nil {
		rj := &replicationStatusJSON{At: jsonTime(r.At), Cycles: r.Cycles, Tables: r.Tables, TotalPending: knownCount(r.TotalPending, r.PendingAt),
			PendingReadAt: jsonTime(r.PendingAt), PendingAgeSeconds: jsonAge(now, r.PendingAt), DrainRatePerSecond: r.DrainRate,
			ETASeconds: jsonETA(r.ETA), AgentsReadAt: jsonTime(r.AgentsAt), AgentsAgeSeconds: jsonAge(now, r.AgentsAt),
			MaxLatencySeconds: r.MaxLatency.Seconds(), MaxLatencyAgent: r.MaxLatencyAgent,
			RetiredAt: jsonTime(r.Retired), RetiredBy: r.RetiredBy,
			WorstTables: []tableJSON{}, AgentsInError: []agentErrorJSON{}, Sources: []sourceStatusJSON{}}
		if !r.FiguresAt.IsZero() {
			rj.DataAgeSeconds = jsonSeconds(r.DataAge)
		}
		for _, t := range r.Worst {
			rj.WorstTables = append(rj.WorstTables, tableJSON{Table: t.Table, Publication: t.Publication, Pending: t.Pending,
				PendingReadAt: jsonTime(t.PendingAt), Delta: t.Delta, RatePerSecond: t.Rate, ETASeconds: jsonETA(t.ETA)})
		}
		for _, a := range r.AgentsInError {
			rj.AgentsInError = append(rj.AgentsInError, agentErrorJSON(a))
		}
		for _, src := range r.Sources {
			rj.Sources = append(rj.Sources, sourceStatusJSON{Name: src.Name, Health: src.Health, Since: jsonTime(src.Since),
				LastOKAt: jsonTime(src.LastOK), LastOKAgeSeconds: jsonAge(now, src.LastOK), LastError: src.LastError, Failures: src.Failures})
		}
		doc.Replication = rj
	}
	if rs := s.Run; rs != nil {
		rj := &runStatusJSON{Name: rs.Name, Environment: rs.Environment, Rehearsal: rs.Rehearsal, Outcome: rs.Outcome,
			Engine: "running", StepsDone: rs.StepsDone, StepsTotal: rs.StepsTotal, NotNeeded: rs.StepsNotNeeded}
		if rs.Stopped {
			rj.Engine = "stopped"
		}
		if c := rs.Current; c != nil {
			rj.CurrentStep = &currentStepJSON{ID: c.ID, Title: c.Title, State: c.State, Phase: c.Phase}
		}
		if d := rs.Downtime; d != nil {
			rj.Downtime = &downtimeJSON{BeganAt: jsonTime(d.Began), ElapsedSeconds: d.Elapsed.Seconds(),
				BudgetSeconds: d.Budget.Seconds(), OverBudget: d.Over()}
		}
		if rb := rs.Rollback; rb != nil {
			rj.Rollback = &rollbackJSON{State: rb.State, NoReturn: rb.NoReturn, NoReturnTitle: rb.NoReturnTitle, RollbackPoint: rb.Point,
				RollbackPointAt: jsonTime(rb.PointAt), RollbackPointVerified: rb.Proof.Verified(), RollbackPointProof: rb.Proof,
				NoReturnAt: jsonTime(rb.NoReturnAt)}
			if rb.Projected {
				rj.Rollback.NoReturnInSeconds = jsonSeconds(rb.Left)
			}
		}
		doc.Run = rj
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write status JSON: %w", err)
	}
	return nil
}

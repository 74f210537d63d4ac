// The status glance as JSON (cutover.status/v1): the schema and its encoding.

package tui

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"cutover/engine"
)

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
	Level       engine.Level           `json:"level"`
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

// knownCount is n, or null when it was never read (at is zero).
func knownCount(n int64, at time.Time) *int64 {
	if at.IsZero() {
		return nil
	}
	return &n
}

// jsonTime is an RFC 3339 time in UTC, or null when zero.
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

package web

import (
	"sort"
	"strings"
	"time"

	"cutover/engine"
	"cutover/tui"
)

// View is what the page shows: every figure with the time it was read, every verdict the
// engine's (or the status glance's, which is the engine's monitor judged by the same thresholds
// as `cutover status`). It is built once per change and sent to every viewer.
type View struct {
	// Now is the engine's time when the view was built: ages are measured against it.
	Now        time.Time        `json:"now"`
	Run        RunView          `json:"run"`
	Downtime   *DowntimeView    `json:"downtime,omitempty"`
	Forecast   *ForecastView    `json:"forecast,omitempty"`
	Rollback   *RollbackView    `json:"rollback,omitempty"`
	Steps      []StepView       `json:"steps"`
	Counts     map[string]int   `json:"counts"`
	Repl       *ReplicationView `json:"replication,omitempty"`
	Validation *ValidationView  `json:"validation,omitempty"`
	Watchers   []WatcherView    `json:"watchers"`
	Viewers    int              `json:"viewers"`
}

// RunView is the run as a whole.
type RunView struct {
	Name        string `json:"name"`
	Environment string `json:"environment,omitempty"`
	Rehearsal   bool   `json:"rehearsal"`
	Phase       string `json:"phase"`
	Outcome     string `json:"outcome"`
	// Level is the outcome's weight for the page: ok, warn, crit or info (the words say it too).
	Level    string    `json:"level"`
	Paused   bool      `json:"paused"`
	Halted   string    `json:"halted,omitempty"`
	Opened   time.Time `json:"opened"`
	Finished time.Time `json:"finished,omitzero"`
}

// DowntimeView is the downtime clock.
type DowntimeView struct {
	Began   time.Time `json:"began,omitzero"`
	Planned time.Time `json:"planned,omitzero"`
	// Elapsed and Budget are seconds; Running says the clock still runs (the page advances it).
	Elapsed float64 `json:"elapsed"`
	Budget  float64 `json:"budget"`
	// WarnAt is the seconds of the budget that may be used before the clock warns (the engine's
	// engine.DowntimeView.WarnAt).
	WarnAt  float64 `json:"warn_at"`
	Running bool    `json:"running"`
}

// ForecastView is when the run should finish, by the plan.
type ForecastView struct {
	Finish time.Time `json:"finish"`
	// Late is how far past the downtime budget the finish is (seconds; negative: spare).
	Late     float64 `json:"late"`
	HasLate  bool    `json:"has_late"`
	Finished bool    `json:"finished"`
}

// RollbackView is the point of no return and the AX 2012 rollback's readiness.
type RollbackView struct {
	State      string    `json:"state"`
	NoReturn   string    `json:"no_return"`
	NoReturnID string    `json:"no_return_id"`
	NoReturnAt time.Time `json:"no_return_at,omitzero"`
	Point      string    `json:"point,omitempty"`
	PointState string    `json:"point_state,omitempty"`
	PointAt    time.Time `json:"point_at,omitzero"`
	// Proof is what stands behind the rollback point: "verified" (its step checked the backup),
	// "by hand", "unchecked" or "none".
	Proof string `json:"proof"`
	// Left is the projected time to the point of no return (seconds), when Projected.
	Left      float64 `json:"left"`
	Projected bool    `json:"projected"`
}

// StepView is one step: its state and planned against actual.
type StepView struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Phase   string `json:"phase"`
	State   string `json:"state"`
	Attempt int    `json:"attempt"`
	Max     int    `json:"max_attempts"`
	// Planned is the plan in seconds (the baseline's duration when there is one).
	Planned  float64   `json:"planned"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Actual is seconds from the first start to the end (or to now while it runs).
	Actual     float64   `json:"actual"`
	Error      string    `json:"error,omitempty"`
	ByHand     bool      `json:"by_hand,omitempty"`
	Awaiting   time.Time `json:"awaiting,omitzero"`
	Needed     int       `json:"needed,omitempty"`
	Approvals  int       `json:"approvals,omitempty"`
	RetryAt    time.Time `json:"retry_at,omitzero"`
	Percent    float64   `json:"percent,omitempty"`
	Progress   string    `json:"progress,omitempty"`
	ProgressAt time.Time `json:"progress_at,omitzero"`
}

// ReplicationView is the replication summary.
type ReplicationView struct {
	Level     string         `json:"level"`
	Reasons   []string       `json:"reasons"`
	At        time.Time      `json:"at,omitzero"`
	Pending   int64          `json:"pending"`
	PendingAt time.Time      `json:"pending_at,omitzero"`
	Rate      float64        `json:"rate"`
	ETA       float64        `json:"eta"`
	Tables    int            `json:"tables"`
	AgentsAt  time.Time      `json:"agents_at,omitzero"`
	Latency   float64        `json:"latency"`
	Worst     []TableView    `json:"worst"`
	Trend     []TrendPoint   `json:"trend"`
	Sources   []SourceView   `json:"sources"`
	Retired   time.Time      `json:"retired,omitzero"`
	RetiredBy string         `json:"retired_by,omitempty"`
	Agents    []AgentProblem `json:"agents_in_error"`
}

// TableView is one of the worst tables.
type TableView struct {
	Table       string    `json:"table"`
	Publication string    `json:"publication"`
	Pending     int64     `json:"pending"`
	PendingAt   time.Time `json:"pending_at,omitzero"`
	Delta       int64     `json:"delta"`
	Rate        float64   `json:"rate"`
	ETA         float64   `json:"eta"`
}

// TrendPoint is one point of the drain curve.
type TrendPoint struct {
	At      time.Time `json:"at"`
	Pending int64     `json:"pending"`
}

// SourceView is a data source's health.
type SourceView struct {
	Name   string    `json:"name"`
	Health string    `json:"health"`
	Since  time.Time `json:"since,omitzero"`
	LastOK time.Time `json:"last_ok,omitzero"`
}

// AgentProblem is a replication agent in error.
type AgentProblem struct {
	Agent  string `json:"agent"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// ValidationView is the newest record-count validation.
type ValidationView struct {
	Step    string         `json:"step"`
	At      time.Time      `json:"at"`
	Passed  bool           `json:"passed"`
	Tables  int            `json:"tables"`
	Classes map[string]int `json:"classes"`
	Failing []FailingTable `json:"failing"`
}

// FailingTable is a table that did not pass.
type FailingTable struct {
	Table  string `json:"table"`
	Class  string `json:"class"`
	Source int64  `json:"source"`
	Target int64  `json:"target"`
}

// WatcherView is someone in the cockpit.
type WatcherView struct {
	Name  string    `json:"name"`
	Role  string    `json:"role"`
	Since time.Time `json:"since"`
	Idle  float64   `json:"idle"`
	// Away is whether they are shown idle (engine.Away).
	Away  bool `json:"away"`
	Local bool `json:"local"`
}

// maxTrend bounds the drain curve's points.
const maxTrend = 240

// levelOf is the outcome's weight on the page.
func levelOf(o engine.Outcome) string {
	switch o {
	case engine.OutcomeBlocked, engine.OutcomeHalted:
		return "crit"
	case engine.OutcomeWaiting, engine.OutcomePaused:
		return "warn"
	case engine.OutcomeCompleted:
		return "ok"
	}
	return "info"
}

// buildView makes the page's view from the engine's state. progress holds running steps' newest
// progress (from the bus); hide redacts every text.
func buildView(snap engine.Snapshot, repl *ReplicationView, val *engine.Validation, progress map[string]engine.StepProgress,
	watchers []tui.Presence, viewers int, now time.Time, hide *strings.Replacer) View {
	h := hide.Replace
	v := View{Now: now, Counts: map[string]int{}, Viewers: viewers, Steps: make([]StepView, 0, len(snap.Steps)), Watchers: []WatcherView{}}
	run := snap.Run
	v.Run = RunView{Name: h(run.Name), Environment: h(run.Environment), Rehearsal: run.Rehearsal, Phase: h(snap.Phase()),
		Outcome: run.Outcome.String(), Level: levelOf(run.Outcome), Paused: run.Paused, Halted: h(run.Halted), Opened: run.Opened, Finished: run.Finished}
	proj := snap.Project(now)
	if dt := snap.Downtime(now); run.Downtime != nil {
		v.Downtime = &DowntimeView{Began: dt.Began, Planned: dt.Planned, Elapsed: dt.Elapsed.Seconds(), Budget: dt.Budget.Seconds(),
			WarnAt: dt.WarnAt().Seconds(), Running: !dt.Began.IsZero() && run.Finished.IsZero()}
		if !run.Finished.IsZero() {
			v.Forecast = &ForecastView{Finish: run.Finished, Finished: true}
		} else if proj.Planned {
			f := &ForecastView{Finish: proj.Finish()}
			if late, ok := dt.Late(f.Finish); ok {
				f.Late, f.HasLate = late.Seconds(), true
			}
			v.Forecast = f
		}
	} else if run.Finished.IsZero() && proj.Planned {
		v.Forecast = &ForecastView{Finish: proj.Finish()}
	}
	if rb := snap.RollbackWith(proj); rb.State != engine.RollbackUntracked {
		pnr, _ := snap.Step(rb.NoReturn)
		r := &RollbackView{State: rb.State.String(), NoReturn: h(pnr.Title), NoReturnID: h(rb.NoReturn), NoReturnAt: rb.NoReturnAt,
			PointAt: rb.PointAt, Proof: rb.Proof.String(), Left: rb.Left.Seconds(), Projected: rb.Projected}
		if rb.Point != "" {
			pt, _ := snap.Step(rb.Point)
			r.Point, r.PointState = h(pt.Title), rb.PointState.String()
		}
		v.Rollback = r
	}
	for _, st := range snap.Steps {
		sv := StepView{ID: h(st.ID), Title: h(st.Title), Phase: h(st.Phase), State: st.State.String(), Attempt: st.Attempt, Max: st.MaxAttempts,
			Planned: st.Plan().Seconds(), Started: st.FirstStarted, Finished: st.Finished, ByHand: st.ByHand, RetryAt: st.RetryAt}
		switch {
		case !st.FirstStarted.IsZero() && !st.Finished.IsZero() && st.State.Terminal():
			sv.Actual = st.Finished.Sub(st.FirstStarted).Seconds()
		case !st.FirstStarted.IsZero() && !st.State.Terminal():
			sv.Actual = now.Sub(st.FirstStarted).Seconds()
		}
		if st.State == engine.StateFailed || st.State == engine.StateRetrying {
			sv.Error = clip(h(st.LastError), 240)
		}
		if c := st.Confirmation; st.WaitsFor() == engine.WaitConfirmation && c != nil {
			sv.Awaiting, sv.Needed, sv.Approvals = c.Since, c.Needed, len(c.Approvals)
		}
		if p, ok := progress[st.ID]; ok && st.State == engine.StateRunning {
			sv.Percent, sv.Progress, sv.ProgressAt = p.Progress.Percent, clip(h(p.Progress.Message), 160), p.At
		}
		v.Counts[sv.State]++
		v.Steps = append(v.Steps, sv)
	}
	v.Repl = repl
	if val != nil {
		vv := &ValidationView{Step: h(val.Step), At: val.At, Passed: val.Passed, Tables: len(val.Tables), Classes: map[string]int{}, Failing: []FailingTable{}}
		for c, n := range val.Classes {
			vv.Classes[c.String()] = n
		}
		for _, t := range val.Failing() {
			if len(vv.Failing) == 10 {
				break
			}
			vv.Failing = append(vv.Failing, FailingTable{Table: h(t.Table), Class: t.Class.String(), Source: t.Source, Target: t.Target})
		}
		v.Validation = vv
	}
	sort.SliceStable(watchers, func(i, j int) bool { return watchers[i].Since.Before(watchers[j].Since) })
	for _, w := range watchers {
		v.Watchers = append(v.Watchers, WatcherView{Name: h(w.Actor.Name), Role: string(w.Actor.Role), Since: w.Since, Idle: w.Idle.Seconds(), Away: engine.Away(w.Idle), Local: w.Local})
	}
	return v
}

// replicationView is the replication summary: the status glance's verdict and figures (the same
// thresholds as `cutover status`), the drain curve and the sources.
func replicationView(repl *engine.ReplicationView, now time.Time, h func(string) string) *ReplicationView {
	st := tui.EvaluateStatus(repl, nil, engine.DefaultThresholds(), now)
	r := &ReplicationView{Level: strings.ToLower(st.Level.String()), Reasons: []string{}, Worst: []TableView{}, Trend: []TrendPoint{},
		Sources: []SourceView{}, Agents: []AgentProblem{}, At: repl.At, Retired: repl.Retired, RetiredBy: h(repl.RetiredBy)}
	for _, why := range st.Reasons {
		r.Reasons = append(r.Reasons, clip(h(why), 300))
	}
	if s := st.Replication; s != nil {
		r.Pending, r.PendingAt, r.Rate, r.ETA, r.Tables, r.AgentsAt = s.TotalPending, s.PendingAt, s.DrainRate, s.ETA.Seconds(), s.Tables, s.AgentsAt
		r.Latency = s.MaxLatency.Seconds()
		for _, t := range s.Worst {
			r.Worst = append(r.Worst, TableView{Table: h(t.Table), Publication: h(t.Publication), Pending: t.Pending, PendingAt: t.PendingAt,
				Delta: t.Delta, Rate: t.Rate, ETA: t.ETA.Seconds()})
		}
		for _, a := range s.AgentsInError {
			r.Agents = append(r.Agents, AgentProblem{Agent: h(a.Agent), Status: a.Status, Error: clip(h(a.Error), 240)})
		}
		for _, src := range s.Sources {
			r.Sources = append(r.Sources, SourceView{Name: h(src.Name), Health: src.Health.String(), Since: src.Since, LastOK: src.LastOK})
		}
	} else {
		for _, name := range []string{engine.SourceAX, engine.SourceDistributor, engine.SourceTarget} {
			src := repl.SourceHealth(name)
			r.Sources = append(r.Sources, SourceView{Name: name, Health: src.State.String(), Since: src.Since, LastOK: src.LastOK})
		}
	}
	trend := repl.Trend
	if len(trend) > maxTrend {
		step := float64(len(trend)) / maxTrend
		thin := make([]engine.TrendPoint, 0, maxTrend+1)
		for i := 0; i < maxTrend; i++ {
			thin = append(thin, trend[int(float64(i)*step)])
		}
		trend = append(thin, trend[len(trend)-1])
	}
	for _, p := range trend {
		r.Trend = append(r.Trend, TrendPoint{At: p.At, Pending: p.Pending})
	}
	return r
}

// clip cuts text to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

package web

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"cutover/engine"
)

// The metrics follow Prometheus's naming conventions: the cutover_ prefix, base units (seconds)
// as suffixes, _total only on counters, and states as label values of 0/1 gauges. Label values
// pass through the private words. Per-table series are bounded: only the WorstTables tables with
// the most pending commands are listed, whatever the database's size.
var (
	mInfo = prometheus.NewDesc("cutover_run_info", "The run being served (always 1).", []string{"run", "environment", "rehearsal"}, nil)
	mOut  = prometheus.NewDesc("cutover_run_outcome", "Where the run stands: 1 for the current outcome, 0 for the others.", []string{"outcome"}, nil)
	mStep = prometheus.NewDesc("cutover_step_state", "Each step's state: 1 for its current state, 0 for the others.", []string{"step", "phase", "state"}, nil)
	mStps = prometheus.NewDesc("cutover_steps", "How many steps are in each state.", []string{"state"}, nil)
	mAwt  = prometheus.NewDesc("cutover_confirmations_awaited", "Steps waiting for an operator's typed confirmation.", nil, nil)
	mAwtS = prometheus.NewDesc("cutover_confirmation_wait_seconds", "How long the oldest open confirmation has waited (0: none).", nil, nil)
	mDtU  = prometheus.NewDesc("cutover_downtime_used_seconds", "Downtime used so far (0 before it began).", nil, nil)
	mDtB  = prometheus.NewDesc("cutover_downtime_budget_seconds", "The runbook's downtime budget.", nil, nil)
	mDtS  = prometheus.NewDesc("cutover_downtime_start_timestamp_seconds", "When the downtime began (Unix time; absent before).", nil, nil)
	mFin  = prometheus.NewDesc("cutover_forecast_finish_timestamp_seconds", "When the run should finish by the plan (Unix time).", nil, nil)
	mPNR  = prometheus.NewDesc("cutover_point_of_no_return_passed", "1 once the point of no return has started: no rollback to AX 2012 any more.", nil, nil)
	mRbk  = prometheus.NewDesc("cutover_rollback_state", "The AX 2012 rollback's readiness: 1 for the current state, 0 for the others.", []string{"state"}, nil)
	mPend = prometheus.NewDesc("cutover_replication_pending_commands", "Undelivered replication commands in the distributor, all publications.", nil, nil)
	mPubP = prometheus.NewDesc("cutover_replication_publication_pending_commands", "Undelivered commands per publication.", []string{"publication"}, nil)
	mTblP = prometheus.NewDesc("cutover_replication_table_pending_commands", "Undelivered commands of the tables with the largest backlog (bounded list).", []string{"table", "publication"}, nil)
	mTbls = prometheus.NewDesc("cutover_replication_tables", "Tables the replication monitor follows.", nil, nil)
	mBkT  = prometheus.NewDesc("cutover_replication_tables_with_backlog", "Tables with undelivered commands.", nil, nil)
	mRate = prometheus.NewDesc("cutover_replication_drain_commands_per_second", "Smoothed net drain of the backlog (negative: growing).", nil, nil)
	mETA  = prometheus.NewDesc("cutover_replication_drain_eta_seconds", "Time to drain the backlog at the current rate (0: unknown or drained).", nil, nil)
	mRead = prometheus.NewDesc("cutover_replication_backlog_read_timestamp_seconds", "When the backlog was last read (Unix time).", nil, nil)
	mAgAt = prometheus.NewDesc("cutover_replication_agents_read_timestamp_seconds", "When the agents' states were read, less the age of the distributor's cache of them (Unix time).", nil, nil)
	mLat  = prometheus.NewDesc("cutover_replication_agent_latency_seconds", "Each replication agent's latency.", []string{"publication", "agent", "kind"}, nil)
	mAgSt = prometheus.NewDesc("cutover_replication_agent_state", "Each agent's status: 1 for the current one, 0 for the others.", []string{"publication", "agent", "kind", "status"}, nil)
	mSrc  = prometheus.NewDesc("cutover_source_up", "1 when the data source answers (ok or slow), 0 when failing or not read yet.", []string{"source"}, nil)
	mSrcH = prometheus.NewDesc("cutover_source_health", "Each data source's health: 1 for the current state, 0 for the others.", []string{"source", "health"}, nil)
	mSrcT = prometheus.NewDesc("cutover_source_last_success_timestamp_seconds", "When the source last answered (Unix time).", []string{"source"}, nil)
	mVal  = prometheus.NewDesc("cutover_validation_passed", "1 when the newest record-count validation passed, 0 when it failed.", []string{"step"}, nil)
	mValC = prometheus.NewDesc("cutover_validation_tables", "Tables of the newest validation per class.", []string{"class"}, nil)
	mView = prometheus.NewDesc("cutover_web_viewers", "Status pages open now.", nil, nil)
)

var allDescs = []*prometheus.Desc{mInfo, mOut, mStep, mStps, mAwt, mAwtS, mDtU, mDtB, mDtS, mFin, mPNR, mRbk, mPend, mPubP, mTblP, mTbls,
	mBkT, mRate, mETA, mRead, mAgAt, mLat, mAgSt, mSrc, mSrcH, mSrcT, mVal, mValC, mView}

// outcomeWords are the outcome label values (one word each).
var outcomeWords = map[engine.Outcome]string{engine.OutcomeRunning: "running", engine.OutcomeWaiting: "waiting", engine.OutcomePaused: "paused",
	engine.OutcomeBlocked: "blocked", engine.OutcomeCompleted: "completed", engine.OutcomeHalted: "halted"}

var stepStates = []engine.StepState{engine.StatePending, engine.StateReady, engine.StateAwaiting, engine.StateRunning, engine.StateRetrying,
	engine.StateSucceeded, engine.StateFailed, engine.StateSkipped, engine.StateNotNeeded}

var rollbackStates = []engine.RollbackState{engine.RollbackNoPoint, engine.RollbackReady, engine.RollbackAtRisk, engine.RollbackGone}

var healths = []engine.Health{engine.HealthUnknown, engine.HealthOK, engine.HealthSlow, engine.HealthFailing}

var agentStatuses = []engine.AgentStatus{engine.AgentUnknown, engine.AgentStarted, engine.AgentSucceeded, engine.AgentInProgress, engine.AgentIdle,
	engine.AgentRetrying, engine.AgentFailed}

// collector reads the engine when Prometheus scrapes: every figure is the engine's at that moment.
type collector struct{ s *Server }

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// label is a label value with the private words hidden.
func (c *collector) label(s string) string { return c.s.hide.Replace(s) }

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	e := c.s.e
	snap := e.Snapshot()
	now := e.Now()
	run := snap.Run
	gauge(ch, mInfo, 1, c.label(run.Name), c.label(run.Environment), strings.ToLower(b2s(run.Rehearsal)))
	for _, o := range []engine.Outcome{engine.OutcomeRunning, engine.OutcomeWaiting, engine.OutcomePaused, engine.OutcomeBlocked, engine.OutcomeCompleted, engine.OutcomeHalted} {
		gauge(ch, mOut, b2f(run.Outcome == o), outcomeWords[o])
	}
	counts := map[engine.StepState]int{}
	awaited, oldest := 0, 0.0
	for _, st := range snap.Steps {
		counts[st.State]++
		for _, s := range stepStates {
			gauge(ch, mStep, b2f(st.State == s), c.label(st.ID), c.label(st.Phase), s.String())
		}
		if st.WaitsFor() == engine.WaitConfirmation && st.Confirmation != nil {
			awaited++
			oldest = max(oldest, now.Sub(st.Confirmation.Since).Seconds())
		}
	}
	for _, s := range stepStates {
		gauge(ch, mStps, float64(counts[s]), s.String())
	}
	gauge(ch, mAwt, float64(awaited))
	gauge(ch, mAwtS, oldest)
	if run.Downtime != nil {
		dt := snap.Downtime(now)
		gauge(ch, mDtU, dt.Elapsed.Seconds())
		gauge(ch, mDtB, dt.Budget.Seconds())
		if !dt.Began.IsZero() {
			gauge(ch, mDtS, float64(dt.Began.UnixMilli())/1000)
		}
	}
	proj := snap.Project(now)
	if run.Finished.IsZero() && proj.Planned {
		gauge(ch, mFin, float64(proj.Finish().UnixMilli())/1000)
	}
	if rb := snap.RollbackWith(proj); rb.State != engine.RollbackUntracked {
		gauge(ch, mPNR, b2f(rb.State == engine.RollbackGone))
		for _, s := range rollbackStates {
			gauge(ch, mRbk, b2f(rb.State == s), s.String())
		}
	}
	if v := e.Replication(); v != nil {
		c.replication(ch, v)
	}
	if v := e.Validation(); v != nil {
		gauge(ch, mVal, b2f(v.Passed), c.label(v.Step))
		for cl := engine.ClassMismatch; cl <= engine.ClassMatch; cl++ {
			gauge(ch, mValC, float64(v.Classes[cl]), cl.String())
		}
	}
	gauge(ch, mView, float64(c.s.Viewers()))
}

func b2s(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// replication exports the monitor's picture; the per-table series are the worst WorstTables.
func (c *collector) replication(ch chan<- prometheus.Metric, v *engine.ReplicationView) {
	gauge(ch, mPend, float64(v.TotalPending))
	gauge(ch, mTbls, float64(len(v.Tables)))
	gauge(ch, mRate, v.DrainRate)
	gauge(ch, mETA, v.ETA.Seconds())
	if !v.PendingAt.IsZero() {
		gauge(ch, mRead, float64(v.PendingAt.UnixMilli())/1000)
	}
	// The agents' latency and states carry their age too.
	if !v.AgentsAt.IsZero() {
		gauge(ch, mAgAt, float64(v.AgentsAt.UnixMilli())/1000)
	}
	seenPub := map[string]bool{}
	for _, p := range v.Publications {
		name := c.label(p.Name)
		if seenPub[name] {
			continue // two publications that differ only in a private word
		}
		seenPub[name] = true
		gauge(ch, mPubP, float64(p.Pending), name)
	}
	backlog := 0
	worst := v.WorstTables(c.s.opts.WorstTables, func(t *engine.TableLag) bool {
		if t.Pending <= 0 {
			return false
		}
		backlog++
		return true
	})
	gauge(ch, mBkT, float64(backlog))
	seenTable := map[string]bool{}
	for _, t := range worst {
		name := c.label(t.Table)
		if seenTable[name] {
			continue
		}
		seenTable[name] = true
		gauge(ch, mTblP, float64(t.Pending), name, c.label(t.Publication))
	}
	seenAgent := map[string]bool{}
	for _, a := range v.Agents {
		pub, name, kind := c.label(a.Publication), c.label(a.Name), a.Kind.String()
		if key := pub + "\x00" + name + "\x00" + kind; seenAgent[key] {
			continue
		} else {
			seenAgent[key] = true
		}
		gauge(ch, mLat, a.Latency.Seconds(), pub, name, kind)
		for _, s := range agentStatuses {
			gauge(ch, mAgSt, b2f(a.Status == s), pub, name, kind, s.String())
		}
	}
	for _, name := range []string{engine.SourceAX, engine.SourceDistributor, engine.SourceTarget} {
		h := v.SourceHealth(name)
		gauge(ch, mSrc, b2f(h.State.Up()), name)
		for _, s := range healths {
			gauge(ch, mSrcH, b2f(h.State == s), name, s.String())
		}
		if !h.LastOK.IsZero() {
			gauge(ch, mSrcT, float64(h.LastOK.UnixMilli())/1000, name)
		}
	}
}

package engine

import (
	"context"
	"fmt"
	"iter"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// TableKey is how a table is matched across sources, validations and reports: upper case,
// without the dbo schema.
func TableKey(name string) string {
	return strings.TrimPrefix(strings.ToUpper(name), "DBO.")
}

// appendTableKey appends name's TableKey to dst without allocating when name is ASCII (SQL Server
// names of AX tables are).
func appendTableKey(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return append(dst, TableKey(name)...)
		}
	}
	start := len(dst)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if k := dst[start:]; len(k) >= 4 && string(k[:4]) == "DBO." {
		dst = append(dst[:start], k[4:]...)
	}
	return dst
}

// pushTrend appends v to a trend that keeps the newest keep samples. The published pictures share
// the trend's memory (each gets trend[:n:n]), so the samples a picture holds are never written
// again: new samples go after them, and a full array is replaced by a new one.
func pushTrend[T any](trend []T, v T, keep int) []T {
	if len(trend) == cap(trend) {
		// A new array, twice what it holds (a one-shot glance keeps one sample), at most twice
		// keep: a full one is replaced once every keep samples.
		from := max(0, len(trend)-(keep-1))
		n := len(trend) - from
		fresh := make([]T, n, min(2*max(keep, 1), 2*(n+1)))
		copy(fresh, trend[from:])
		trend = fresh
	}
	trend = append(trend, v)
	if len(trend) > keep {
		trend = trend[len(trend)-keep:]
	}
	return trend
}

// monitorHooks connect a monitor to its owner. The engine logs, journals and publishes what the
// monitor sees and says when replication is being removed; a Poller leaves them all unset.
type monitorHooks struct {
	log      func(level LogLevel, step, msg string)
	publish  func(Event)
	health   func(h SourceHealth, expectedBy string)
	sample   func(*ReplicationView)
	removing func() string
	// polled is told of every picture a poll took (the engine keeps it in the state directory).
	polled func(*ReplicationView)
}

// monitor polls a ReplicationSource and publishes ReplicationUpdated: in the engine on its clock
// (run), or once per call for a Poller.
type monitor struct {
	now     func() time.Time
	hooks   monitorHooks
	src     ReplicationSource
	cfg     MonitorConfig
	ignore  map[string]bool
	refresh chan struct{}
	// always reads every source on every cycle: the backlog whatever its interval, failing sources
	// without backing off (a Poller's one-shot reads).
	always bool

	mu   sync.Mutex
	view *ReplicationView
	// The tables: lags are their figures, the pictures' rows, and states what else the folds keep,
	// index for index; tables finds a table's index by its TableKey. Once a picture holds lags
	// (shared), the next change copies them first (own), so a picture never changes and a
	// one-shot Poller keeps one copy of its tables. sorted is false after a table was added,
	// until the next picture sorts them by key.
	tables      map[string]int32
	lags        []TableLag
	states      []tableState
	shared      bool
	sorted      bool
	health      map[string]*SourceHealth
	lastBacklog time.Time
	// pendingAt is when the newest backlog figures were read: by this monitor (lastBacklog) or,
	// until it reads them, by the engine whose picture was restored.
	pendingAt   time.Time
	prevTotal   int64
	prevTotalAt time.Time
	rate        float64
	haveRate    bool
	trend       []TrendPoint
	agents      []Agent
	agentsAt    time.Time
	agentsCache time.Duration
	cycles      int
	backoff     map[string]time.Time
	// readFails counts each read's consecutive failures ("distributor/backlog"): a source is
	// failing while any of its reads last failed, and each read backs off on its own count.
	readFails map[string]int
	retired   bool
	// folds counts the row-count and backlog folds (tableState.seen); key is the buffer a table's
	// key is built in to look it up.
	folds int
	key   []byte
}

func newMonitor(now func() time.Time, hooks monitorHooks, src ReplicationSource, cfg MonitorConfig) *monitor {
	cfg = cfg.withDefaults()
	m := &monitor{now: now, hooks: hooks, src: src, cfg: cfg, refresh: make(chan struct{}, 1), tables: map[string]int32{},
		health: map[string]*SourceHealth{}, ignore: map[string]bool{}, backoff: map[string]time.Time{}, readFails: map[string]int{}}
	for _, t := range cfg.Ignore {
		m.ignore[TableKey(t)] = true
	}
	for _, s := range []string{SourceAX, SourceDistributor, SourceTarget} {
		m.health[s] = &SourceHealth{Name: s}
	}
	m.view = &ReplicationView{}
	return m
}

// latest is the newest published picture: a restored one (ReplicationView.Restored) until the
// first poll answers.
func (m *monitor) latest() *ReplicationView {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.view
}

// measured is the newest picture this monitor took itself: a restored picture is a cache for the
// front ends, never what a step decides on, so until the first poll answers the steps see no
// figures (as before any poll), only whether replication was removed.
func (m *monitor) measured() *ReplicationView {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.view.Restored {
		return &ReplicationView{Retired: m.view.Retired, RetiredBy: m.view.RetiredBy}
	}
	return m.view
}

// refreshNow asks for a poll at once.
func (m *monitor) refreshNow() {
	select {
	case m.refresh <- struct{}{}:
	default:
	}
}

// retire stops the polling for good: replication was removed on purpose, so the distributor's
// objects are gone and the sandbox's tables are about to be transformed. The last picture stays,
// marked retired.
func (m *monitor) retire(at time.Time, step string) {
	m.mu.Lock()
	if m.retired {
		m.mu.Unlock()
		return
	}
	m.retired = true
	v := *m.view
	v.Retired, v.RetiredBy = at, step
	m.view = &v
	m.mu.Unlock()
	m.log(LevelInfo, step, "replication removed: the replication monitor stops polling; its last picture stays on screen")
	m.publish(ReplicationUpdated{View: &v})
	m.refreshNow()
}

func (m *monitor) isRetired() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.retired
}

// run polls on clk until ctx ends or replication is retired. A poll never overlaps the previous
// one: the next waits for it. After a restart the first poll comes when the previous engine's
// next one would have (firstWait).
func (m *monitor) run(ctx context.Context, clk clock.Clock) {
	if d := m.firstWait(clk.Now()); d > 0 {
		t := clk.NewTimer(d)
		select {
		case <-t.C():
		case <-m.refresh:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	for {
		if m.isRetired() {
			return
		}
		m.cycle(ctx)
		t := clk.NewTimer(m.interval())
		select {
		case <-t.C():
		case <-m.refresh:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (m *monitor) interval() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Interval
}

// setIntervals changes the poll intervals (from the cockpit's palette).
func (m *monitor) setIntervals(interval, backlog time.Duration) {
	m.mu.Lock()
	if interval > 0 {
		m.cfg.Interval = interval
	}
	if backlog > 0 {
		m.cfg.BacklogInterval = backlog
	}
	if m.cfg.BacklogInterval < m.cfg.Interval {
		m.cfg.BacklogInterval = m.cfg.Interval
	}
	m.mu.Unlock()
	m.refreshNow()
}

// backingOff reports whether a read is backing off after failures (a Poller's never does).
func (m *monitor) backingOff(source, what string, now time.Time) bool {
	m.mu.Lock()
	until, backingOff := m.backoff[source+"/"+what]
	m.mu.Unlock()
	return backingOff && now.Before(until) && !m.always
}

// query runs one read against a source, timing it and updating the source's health. It returns
// false when the read failed or is backing off after failures, and how long the read took.
func (m *monitor) query(ctx context.Context, source, what string, now time.Time, read func(context.Context) error) (bool, time.Duration) {
	if m.backingOff(source, what, now) {
		return false, 0
	}
	qctx, cancel := context.WithTimeout(ctx, m.cfg.QueryTimeout)
	start := time.Now()
	err := read(qctx)
	took := time.Since(start)
	cancel()
	if ctx.Err() != nil {
		return false, took
	}
	return m.record(source, what, now, took, err), took
}

// record updates a source's health with the outcome of one read (what) that took took, backing
// the read off after a failure. It returns whether the read answered.
func (m *monitor) record(source, what string, now time.Time, took time.Duration, err error) bool {
	// A distributor failing while replication is being removed is expected. Ask before taking the
	// monitor's lock (the engine's lock comes first); if the step finished meanwhile, retired is
	// already set below.
	removing := ""
	if err != nil && source == SourceDistributor && m.hooks.removing != nil {
		removing = m.hooks.removing()
	}
	m.mu.Lock()
	if m.retired {
		// Replication was removed while this read was out: its answer no longer matters.
		m.mu.Unlock()
		return false
	}
	h := m.health[source]
	before := *h
	h.LastDuration = took
	key := source + "/" + what
	if err != nil {
		m.readFails[key]++
		h.Failures++
		h.LastError = fmt.Sprintf("%s: %v", what, err)
		if h.State != HealthFailing {
			h.State, h.Since = HealthFailing, now
		}
		// Back off this read: double the wait with each of its consecutive failures, up to 5 minutes.
		wait := m.cfg.Interval
		for i := 1; i < m.readFails[key] && wait < 5*time.Minute; i++ {
			wait *= 2
		}
		m.backoff[key] = now.Add(min(wait, 5*time.Minute) - time.Nanosecond)
	} else {
		delete(m.backoff, key)
		delete(m.readFails, key)
		h.LastOK = now
		// The source is back only when none of its reads is failing: the agents answering while
		// the backlog keeps failing in the same batch is no recovery (it flapped every poll).
		if !m.readFailingLocked(source) {
			state := HealthOK
			if took > m.cfg.SlowAfter {
				state = HealthSlow
			}
			if before.State == HealthFailing {
				h.LastOutage = now.Sub(before.Since)
			}
			if h.State != state {
				h.State, h.Since = state, now
			}
			h.Failures = 0
		}
	}
	after := *h
	m.mu.Unlock()
	if after.State != before.State {
		m.healthChanged(after, before, removing)
	}
	return err == nil
}

// readFailingLocked reports whether any read of source last failed. The caller holds m.mu.
func (m *monitor) readFailingLocked(source string) bool {
	for k := range m.readFails {
		if strings.HasPrefix(k, source+"/") {
			return true
		}
	}
	return false
}

// healthChanged logs, journals and publishes a source's change of health. removing names the
// step removing replication when the distributor's failure is its expected effect.
func (m *monitor) healthChanged(h, before SourceHealth, removing string) {
	switch {
	case h.State == HealthFailing && removing != "":
		m.log(LevelInfo, removing, fmt.Sprintf("the distributor stopped answering while %s runs, as expected when replication is removed: %s", removing, h.LastError))
	case h.State == HealthFailing:
		m.log(LevelError, "", fmt.Sprintf("%s is failing: %s (last good read %s)", h.Name, h.LastError, ageText(h.Since, before.LastOK)))
	case before.State == HealthFailing:
		m.log(LevelWarn, "", fmt.Sprintf("%s is reachable again after an outage of %s", h.Name, runbook.FormatDuration(h.LastOutage)))
	case h.State == HealthSlow:
		m.log(LevelWarn, "", fmt.Sprintf("%s is slow: a query took %s", h.Name, runbook.FormatDuration(h.LastDuration)))
	}
	expectedBy := ""
	if h.State == HealthFailing {
		expectedBy = removing
	}
	if m.hooks.health != nil {
		// The journal records an outage's length once, when it ends: LastOutage stays on the
		// source for display, and a later slow spell must not report it again.
		rec := h
		if before.State != HealthFailing {
			rec.LastOutage = 0
		}
		m.hooks.health(rec, expectedBy)
	}
	m.publish(SourceHealthChanged{Health: h, ExpectedBy: expectedBy})
}

// log writes a log line through the owner (nowhere for a Poller).
func (m *monitor) log(level LogLevel, step, msg string) {
	if m.hooks.log != nil {
		m.hooks.log(level, step, msg)
	}
}

// publish tells the owner's subscribers (nobody for a Poller).
func (m *monitor) publish(ev Event) {
	if m.hooks.publish != nil {
		m.hooks.publish(ev)
	}
}

func ageText(now, then time.Time) string {
	if then.IsZero() {
		return "never"
	}
	return runbook.FormatDuration(now.Sub(then)) + " earlier"
}

// cycle runs the queries that are due, folds the results in and publishes a new picture, which it
// returns (nil when ctx ended or replication was retired meanwhile).
func (m *monitor) cycle(ctx context.Context) *ReplicationView {
	now := m.now()
	m.mu.Lock()
	backlogDue := m.always || m.lastBacklog.IsZero() || !now.Before(m.lastBacklog.Add(m.cfg.BacklogInterval))
	m.mu.Unlock()

	var (
		wg                      sync.WaitGroup
		srcRows, tgtRows        []TableRows
		backlog                 iter.Seq[ArticleBacklog]
		agents                  []Agent
		srcOK, tgtOK, bOK, agOK bool
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		srcOK, _ = m.query(ctx, SourceAX, "row counts", now, func(c context.Context) (err error) {
			srcRows, err = m.src.SourceRows(c)
			return err
		})
	}()
	go func() {
		defer wg.Done()
		tgtOK, _ = m.query(ctx, SourceTarget, "row counts", now, func(c context.Context) (err error) {
			tgtRows, err = m.src.TargetRows(c)
			return err
		})
	}()
	go func() {
		defer wg.Done()
		// One read of the distributor: the agents, and the backlog when it is due and not backing
		// off; each keeps its own health record and backoff.
		withBacklog := backlogDue && !m.backingOff(SourceDistributor, "backlog", now)
		var fig DistributorFigures
		var took time.Duration
		agOK, took = m.query(ctx, SourceDistributor, "agents", now, func(c context.Context) (err error) {
			fig, err = m.src.Distributor(c, withBacklog)
			return err
		})
		agents = fig.Agents
		if agOK && withBacklog {
			bOK = m.record(SourceDistributor, "backlog", now, took, fig.BacklogErr)
			backlog = fig.Backlog
		}
	}()
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}

	m.mu.Lock()
	if m.retired {
		m.mu.Unlock()
		return nil
	}
	if srcOK {
		m.foldRows(srcRows, now, true)
	}
	if tgtOK {
		m.foldRows(tgtRows, now, false)
	}
	if bOK {
		m.foldBacklog(backlog, now)
		m.lastBacklog, m.pendingAt = now, now
	}
	if agOK {
		var oldest time.Duration
		for _, a := range agents {
			oldest = max(oldest, a.CacheAge)
		}
		m.agents, m.agentsAt, m.agentsCache = agents, now.Add(-oldest), oldest
	}
	m.cycles++
	view := m.buildView(now)
	m.view = view
	m.mu.Unlock()
	if bOK && m.hooks.sample != nil {
		m.hooks.sample(view)
	}
	m.publish(ReplicationUpdated{View: view})
	if m.hooks.polled != nil {
		m.hooks.polled(view)
	}
	return view
}

// smooth folds a new rate sample into an exponentially weighted average whose weight depends on
// the time since the last sample.
func (m *monitor) smooth(prev, sample float64, dt time.Duration, have bool) float64 {
	if math.IsNaN(sample) || math.IsInf(sample, 0) {
		return prev
	}
	if !have {
		return sample
	}
	alpha := 1 - math.Exp(-dt.Seconds()/m.cfg.Smoothing.Seconds())
	if r := prev + alpha*(sample-prev); math.Abs(r) >= minRate {
		return r
	}
	// An average that only decays never reaches zero by itself: left alone it showed as
	// 1.06e-40 commands a second.
	return 0
}

// minRate is the smallest drain rate the monitor reports (commands a second): one command in
// about eleven days. Below it the rate is 0.
const minRate = 1e-6

// eta is the time to drain pending commands at rate (0 when there is nothing or no progress).
func eta(pending int64, rate float64) time.Duration {
	if pending <= 0 || rate <= 0 {
		return 0
	}
	secs := float64(pending) / rate
	if secs > 365*24*3600 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

func (m *monitor) buildView(now time.Time) *ReplicationView {
	m.share()
	v := &ReplicationView{At: now, Tables: m.lags[:len(m.lags):len(m.lags)], Agents: append([]Agent(nil), m.agents...),
		AgentsAt: m.agentsAt, AgentsCacheAge: m.agentsCache, PendingAt: m.pendingAt, DrainRate: m.rate, Cycles: m.cycles,
		Trend: m.trend[:len(m.trend):len(m.trend)]}
	pubs := map[string]*PublicationLag{}
	for i := range v.Tables {
		lag := &v.Tables[i]
		v.TotalPending += lag.Pending
		if lag.Publication != "" {
			p := pubs[lag.Publication]
			if p == nil {
				p = &PublicationLag{Name: lag.Publication}
				pubs[lag.Publication] = p
			}
			p.Tables++
			p.Pending += lag.Pending
			p.Rate += lag.Rate
		}
	}
	for _, a := range m.agents {
		p := pubs[a.Publication]
		if p == nil {
			if a.Publication == "" {
				continue
			}
			p = &PublicationLag{Name: a.Publication}
			pubs[a.Publication] = p
		}
		if a.Status.Bad() {
			p.Failing = append(p.Failing, a.Name)
		}
		p.Latency = max(p.Latency, a.Latency)
		if a.Kind == AgentDistribution && a.LastSync.After(p.LastDelivery) {
			p.LastDelivery = a.LastSync
		}
	}
	for _, p := range pubs {
		p.ETA = eta(p.Pending, p.Rate)
		v.Publications = append(v.Publications, *p)
	}
	sort.Slice(v.Publications, func(i, j int) bool { return v.Publications[i].Name < v.Publications[j].Name })
	v.ETA = eta(v.TotalPending, v.DrainRate)
	for _, s := range []string{SourceAX, SourceDistributor, SourceTarget} {
		v.Health = append(v.Health, *m.health[s])
	}
	return v
}

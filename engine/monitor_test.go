package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/clock"
)

// fakeReplication is a replication source whose backlog drains at a fixed rate on the fake clock.
type fakeReplication struct {
	mu           sync.Mutex
	now          func() time.Time
	start        time.Time
	pending      map[string]int64 // at start
	rate         float64          // commands per second, shared evenly
	calls        map[string]int
	fail         map[string]error
	delay        map[string]time.Duration
	blockBacklog chan struct{}
	entered      chan struct{}
	agents       []engine.Agent
}

func newFakeReplication(clk *clock.Fake) *fakeReplication {
	return newFakeReplicationAt(clk.Now)
}

// newFakeReplicationAt drains on the given clock (time.Now in a synctest bubble).
func newFakeReplicationAt(now func() time.Time) *fakeReplication {
	return &fakeReplication{now: now, start: now(), rate: 100, calls: map[string]int{}, fail: map[string]error{}, delay: map[string]time.Duration{},
		pending: map[string]int64{"INVENTTRANS": 60000, "SALESLINE": 30000, "CUSTTABLE": 0}}
}

func (f *fakeReplication) note(what string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[what]++
	return f.fail[what]
}

func (f *fakeReplication) count(what string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[what]
}

func (f *fakeReplication) setFail(what string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[what] = err
}

// setDelay makes a read take d. Only a synctest bubble's fake time passes while it waits, so it
// is how long the read takes as the monitor measures it, not a real wait.
func (f *fakeReplication) setDelay(what string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay[what] = d
}

// take waits out a read's delay.
func (f *fakeReplication) take(ctx context.Context, what string) error {
	f.mu.Lock()
	d := f.delay[what]
	f.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return clock.Sleep(ctx, clock.Real(), d) // a bubble's fake time
}

// pendingAt drains the tables in turn at the shared rate.
func (f *fakeReplication) pendingAt() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	drained := int64(f.rate * f.now().Sub(f.start).Seconds())
	out := map[string]int64{}
	for _, t := range []string{"INVENTTRANS", "SALESLINE", "CUSTTABLE"} {
		p := f.pending[t]
		take := min(p, drained)
		out[t] = p - take
		drained -= take
	}
	return out
}

func (f *fakeReplication) SourceRows(context.Context) ([]engine.TableRows, error) {
	if err := f.note("source"); err != nil {
		return nil, err
	}
	return []engine.TableRows{{Table: "dbo.INVENTTRANS", Rows: 1_000_000, HasPK: true}, {Table: "dbo.SALESLINE", Rows: 500_000, HasPK: true},
		{Table: "dbo.CUSTTABLE", Rows: 2_000, HasPK: true}, {Table: "dbo.SYSTEMSEQUENCES", Rows: 50}, {Table: "dbo.AIFMESSAGELOG", Rows: 7}}, nil
}

func (f *fakeReplication) TargetRows(ctx context.Context) ([]engine.TableRows, error) {
	if err := f.note("target"); err != nil {
		return nil, err
	}
	if err := f.take(ctx, "target"); err != nil {
		return nil, err
	}
	p := f.pendingAt()
	return []engine.TableRows{{Table: "dbo.INVENTTRANS", Rows: 1_000_000 - p["INVENTTRANS"], HasPK: true},
		{Table: "dbo.SALESLINE", Rows: 500_000 - p["SALESLINE"], HasPK: true}, {Table: "dbo.CUSTTABLE", Rows: 2_000, HasPK: true}}, nil
}

func (f *fakeReplication) Backlog(ctx context.Context) ([]engine.ArticleBacklog, error) {
	if err := f.note("backlog"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	block := f.blockBacklog
	f.mu.Unlock()
	if block != nil {
		f.entered <- struct{}{}
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p := f.pendingAt()
	return []engine.ArticleBacklog{{Publication: "AX_PUB_PkTable_1", Article: "INVENTTRANS", Pending: p["INVENTTRANS"]},
		{Publication: "AX_PUB_PkTable_2", Article: "SALESLINE", Pending: p["SALESLINE"]},
		{Publication: "AX_PUB_PkTable_2", Article: "CUSTTABLE", Pending: p["CUSTTABLE"]}}, nil
}

// Distributor reads the agents ("agents") and, when asked, the backlog ("backlog") in one call:
// a failing backlog leaves the agents read.
func (f *fakeReplication) Distributor(ctx context.Context, withBacklog bool) (engine.DistributorFigures, error) {
	if err := f.note("agents"); err != nil {
		return engine.DistributorFigures{}, err
	}
	f.mu.Lock()
	out := engine.DistributorFigures{Agents: append([]engine.Agent(nil), f.agents...)}
	f.mu.Unlock()
	if withBacklog {
		var b []engine.ArticleBacklog
		if b, out.BacklogErr = f.Backlog(ctx); out.BacklogErr == nil {
			out.Backlog = slices.Values(b)
		}
	}
	return out, nil
}

// monitorHarness starts an engine with only the monitor doing anything.
func monitorHarness(t *testing.T, cfg engine.MonitorConfig) (*harness, *fakeReplication) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: idle, title: Idle, kind: manual}\n")
	src := newFakeReplication(h.clk)
	h.opts.Ports.Replication, h.opts.Monitor = src, cfg
	h.start()
	return h, src
}

// nextView waits for a published picture with at least n completed cycles.
func (h *harness) nextView(n int) *engine.ReplicationView {
	h.t.Helper()
	if v := h.e.Replication(); v != nil && v.Cycles >= n {
		return v
	}
	deadline := time.After(waitLimit)
	for {
		select {
		case ev := <-h.events:
			if ru, ok := ev.(engine.ReplicationUpdated); ok && ru.View.Cycles >= n {
				return ru.View
			}
		case <-deadline:
			h.t.Fatalf("no replication picture with %d cycles", n)
		}
	}
}

// tick waits for the monitor to arm its timer, then moves the clock one interval.
func (h *harness) tick(d time.Duration) {
	h.t.Helper()
	h.advance(1, d)
}

func TestMonitorDrainRateAndETA(t *testing.T) {
	h, src := monitorHarness(t, engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: 60 * time.Second, Smoothing: time.Minute})
	v := h.nextView(1)
	if v.TotalPending != 90000 || v.ETA != 0 {
		t.Fatalf("first picture: pending %d eta %v (no rate yet)", v.TotalPending, v.ETA)
	}
	for i := 2; i <= 9; i++ {
		h.tick(15 * time.Second)
		v = h.nextView(i)
	}
	// Two minutes in: 12,000 drained at 100/s, backlog read three times.
	if v.TotalPending != 78000 {
		t.Fatalf("pending %d", v.TotalPending)
	}
	if math.Abs(v.DrainRate-100) > 0.5 {
		t.Fatalf("drain rate %.2f, want 100/s", v.DrainRate)
	}
	if want := 780 * time.Second; v.ETA < want*95/100 || v.ETA > want*105/100 {
		t.Fatalf("ETA %v, want about %v", v.ETA, want)
	}
	if n := src.count("backlog"); n != 3 {
		t.Fatalf("the expensive backlog ran %d times in 2 minutes, want 3 (every 60s)", n)
	}
	if n := src.count("agents"); n != 9 {
		t.Fatalf("agents ran %d times, want 9 (every 15s)", n)
	}
	inv, ok := v.Table("INVENTTRANS")
	if !ok || inv.Publication != "AX_PUB_PkTable_1" || !inv.Published || inv.Pending != 48000 || inv.Delta != 48000 {
		t.Fatalf("INVENTTRANS %+v", inv)
	}
	if inv.PendingAt.IsZero() || inv.SourceAt.IsZero() || inv.TargetAt.IsZero() {
		t.Fatal("every figure must carry the time it was read")
	}
	if len(inv.Trend) != 3 || inv.Trend[0] != 60000 || inv.Trend[2] != 48000 {
		t.Fatalf("trend %v", inv.Trend)
	}
	if seq, _ := v.Table("SYSTEMSEQUENCES"); seq.Published || seq.OnTarget || seq.HasPK {
		t.Fatalf("an unpublished table not on the target: %+v", seq)
	}
	if len(v.Publications) != 2 || v.Publications[1].Name != "AX_PUB_PkTable_2" || v.Publications[1].Tables != 2 {
		t.Fatalf("publications %+v", v.Publications)
	}
}

// TestMonitorKnowsTheRunbooksIgnoreList: a table a validation's ignore list names is shown as
// ignored in the engine's pictures and a Poller's (IgnoredTables), never among the worst tables,
// however far its counts differ. Before, the monitor never heard of the runbook's list.
func TestMonitorKnowsTheRunbooksIgnoreList(t *testing.T) {
	// A manual step first: the validation waits, and only the monitor reads replication.
	rb := "name: t\n" + replConnections + `steps:
  - {id: wait, title: Wait, kind: manual}
  - {id: validate, title: Validate, kind: validate.counts, after: [wait], with: {ignore: [dbo.SalesLine]}}
`
	h := newHarness(t, rb)
	if got := engine.IgnoredTables(h.rb); !slices.Equal(got, []string{"dbo.SalesLine"}) {
		t.Fatalf("IgnoredTables: %q", got)
	}
	src := newFakeReplication(h.clk)
	h.opts.Ports.Replication = src
	h.opts.Monitor = engine.MonitorConfig{Interval: 15 * time.Second}
	h.start()
	p := engine.NewPoller(newFakeReplication(h.clk), engine.MonitorConfig{Ignore: engine.IgnoredTables(h.rb)}, h.clk.Now)
	glance, err := p.Poll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]*engine.ReplicationView{"engine": h.nextView(1), "poller": glance} {
		if sl, ok := v.Table("SALESLINE"); !ok || !sl.Ignored || sl.Pending == 0 {
			t.Fatalf("%s: SALESLINE %+v (found %v), want ignored with its backlog", name, sl, ok)
		}
		if inv, _ := v.Table("INVENTTRANS"); inv.Ignored {
			t.Fatalf("%s: INVENTTRANS is not on the list", name)
		}
		for _, w := range v.WorstTables(10, nil) {
			if w.Table == "SALESLINE" || engine.TableKey(w.Table) == "SALESLINE" {
				t.Fatalf("%s: an ignored table among the worst", name)
			}
		}
	}
}

func TestMonitorNeverOverlapsAPoll(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: idle, title: Idle, kind: manual}\n")
	src := newFakeReplication(h.clk)
	src.blockBacklog, src.entered = make(chan struct{}), make(chan struct{}, 1)
	h.opts.Ports.Replication = src
	h.opts.Monitor = engine.MonitorConfig{Interval: 15 * time.Second}
	h.start()
	// The first poll is stuck in the backlog query; time passes; nothing else starts.
	<-src.entered
	h.clk.Advance(5 * time.Minute)
	if n := src.count("agents"); n != 1 {
		t.Fatalf("a second poll started while the first was still running (%d agent reads)", n)
	}
	close(src.blockBacklog)
	h.nextView(1)
}

func TestMonitorHealthOutageAndBackoff(t *testing.T) {
	h, src := monitorHarness(t, engine.MonitorConfig{Interval: 10 * time.Second, BacklogInterval: 10 * time.Second})
	h.nextView(1)
	src.setFail("target", errors.New("connection reset by peer"))
	h.tick(10 * time.Second)
	v := h.nextView(2)
	th := v.SourceHealth(engine.SourceTarget)
	if th.State != engine.HealthFailing || !strings.Contains(th.LastError, "connection reset") || th.Since != t0.Add(10*time.Second) {
		t.Fatalf("target health %+v", th)
	}
	if ax := v.SourceHealth(engine.SourceAX); ax.State != engine.HealthOK {
		t.Fatalf("the source is fine: %+v", ax)
	}
	// The figures already read stay, with their (now older) time.
	if inv, _ := v.Table("INVENTTRANS"); inv.TargetAt != t0 {
		t.Fatalf("stale target figure should keep its time, got %v", inv.TargetAt)
	}
	calls := src.count("target")
	h.tick(10 * time.Second) // backing off: 20s after the second failure… first failure waits 10s
	h.nextView(3)
	h.tick(10 * time.Second)
	h.nextView(4)
	if got := src.count("target") - calls; got > 2 {
		t.Fatalf("a failing source is retried every poll without backoff (%d retries)", got)
	}
	src.setFail("target", nil)
	var th2 engine.SourceHealth
	for i := 5; i < 40; i++ {
		h.tick(10 * time.Second)
		v = h.nextView(i)
		if th2 = v.SourceHealth(engine.SourceTarget); th2.State == engine.HealthOK {
			break
		}
	}
	if th2.State != engine.HealthOK || th2.LastOutage <= 0 {
		t.Fatalf("recovery: %+v", th2)
	}
	var failing, recovered bool
	for _, r := range h.records() {
		if r.Type == string(engine.RecSourceHealth) {
			var p engine.SourceHealthRecord
			r.Decode(&p)
			failing = failing || p.State == engine.HealthFailing
			recovered = recovered || (p.State == engine.HealthOK && p.Outage == th2.LastOutage)
		}
	}
	if !failing || !recovered {
		t.Fatal("the outage and its duration must be journaled")
	}
	var said bool
	for _, l := range h.e.Logs(100, "") {
		said = said || strings.Contains(l.Msg, "target is reachable again after an outage of")
	}
	if !said {
		t.Fatal("the recovery must be logged with the outage's duration")
	}
}

func TestMonitorAgentsInError(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: idle, title: Idle, kind: manual}\n")
	src := newFakeReplication(h.clk)
	// The agents are in place before the first poll, which starts with the engine.
	src.agents = []engine.Agent{
		{Publication: "AX_PUB_PkTable_1", Name: "AXSQL01-MicrosoftDynamicsAX-AX_PUB_PkTable_1-AXSANDBOX-1", Kind: engine.AgentDistribution, Status: engine.AgentFailed, Error: "The process could not connect to Subscriber", Latency: 90 * time.Second},
		{Publication: "AX_PUB_PkTable_2", Name: "dist-2", Kind: engine.AgentDistribution, Status: engine.AgentInProgress, LastSync: t0},
	}
	h.opts.Ports.Replication = src
	h.start()
	v := h.nextView(1)
	if len(v.Agents) != 2 || v.AgentsAt != t0 {
		t.Fatalf("agents %+v", v.Agents)
	}
	p1 := v.Publications[0]
	if len(p1.Failing) != 1 || p1.Latency != 90*time.Second {
		t.Fatalf("publication 1 %+v", p1)
	}
	if v.Publications[1].LastDelivery != t0 {
		t.Fatalf("last delivery %+v", v.Publications[1])
	}
}

func TestMonitorJournalsSamples(t *testing.T) {
	h, _ := monitorHarness(t, engine.MonitorConfig{Interval: 30 * time.Second, BacklogInterval: 30 * time.Second})
	for i := 1; i <= 5; i++ {
		h.nextView(i)
		if i < 5 {
			h.tick(30 * time.Second)
		}
	}
	var samples []engine.ReplicationSample
	for _, r := range h.records() {
		if r.Type == string(engine.RecReplicationSample) {
			var s engine.ReplicationSample
			r.Decode(&s)
			samples = append(samples, s)
		}
	}
	// Five backlog reads over two minutes, journaled at most once a minute.
	if len(samples) != 3 || samples[0].Pending != 90000 || samples[2].Pending != 78000 {
		t.Fatalf("samples %+v", samples)
	}
}

func TestMonitorRetiresWhenReplicationIsRemoved(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: idle, title: Idle, kind: manual}\n"+
		"  - {id: remove, title: Remove replication, kind: toolkit, after: idle, with: {step: \"Cutover: Remove replication setup\"}}\n")
	src := newFakeReplication(h.clk)
	h.opts.Ports.Replication = src
	h.start()
	h.nextView(1)
	if _, err := h.e.MarkDone("idle", engine.LocalOperator("ops", ""), "done", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.MarkDone("remove", engine.LocalOperator("ops", ""), "ran it in the toolkit", ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitLimit)
	for v := h.e.Replication(); v.Retired.IsZero(); v = h.e.Replication() {
		select {
		case <-h.events:
		case <-deadline:
			t.Fatal("the monitor did not retire after «Remove replication setup»")
		}
	}
	if v := h.e.Replication(); v.RetiredBy != "remove" || v.TotalPending != 90000 {
		t.Fatalf("retired picture %+v: it must name the step and keep the last figures", v)
	}
	polls := src.count("agents")
	h.clk.Advance(10 * time.Minute)
	h.e.RefreshNow()
	if n := src.count("agents"); n != polls {
		t.Fatalf("the distributor was polled %d more time(s) after replication was removed", n-polls)
	}
	h.restart()
	if v := h.e.Replication(); v.Retired.IsZero() || src.count("agents") != polls {
		t.Fatalf("after a restart the monitor must start retired: %+v, %d polls", v, src.count("agents")-polls)
	}
}

func TestMonitorExpectsTheDistributorToGoWhileReplicationIsRemoved(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n"+
		"  - {id: remove, title: Remove replication, kind: toolkit, with: {step: \"Cutover: Remove replication setup\"}}\n")
	src := newFakeReplication(h.clk)
	h.opts.Ports.Replication, h.opts.Monitor = src, engine.MonitorConfig{Interval: 10 * time.Second}
	h.start()
	h.waitStep("remove", engine.StateRunning)
	h.nextView(1)
	src.setFail("agents", errors.New("Invalid object name 'dbo.MSreplication_monitordata'"))
	// The toolkit step waits on the clock too, so ask for the poll rather than move the clock.
	h.e.RefreshNow()
	v := h.nextView(2)
	if d := v.SourceHealth(engine.SourceDistributor); d.State != engine.HealthFailing {
		t.Fatalf("distributor %+v", d)
	}
	var expected bool
	for _, l := range h.e.Logs(1000, "") {
		if l.Level == engine.LevelError {
			t.Errorf("an expected effect logged as an error: %s", l.Msg)
		}
		expected = expected || (l.Step == "remove" && strings.Contains(l.Msg, "as expected when replication is removed"))
	}
	if !expected {
		t.Error("the log must say the distributor's failure is the removal's expected effect")
	}
	// The journal says so too (the report counts no outage from it).
	var rec engine.SourceHealthRecord
	for _, r := range h.records() {
		if r.Type == string(engine.RecSourceHealth) && r.Decode(&rec) == nil && rec.Source == engine.SourceDistributor && rec.State == engine.HealthFailing {
			break
		}
	}
	if rec.Source != engine.SourceDistributor || rec.ExpectedBy != "remove" {
		t.Errorf("journaled distributor health %+v, want it expected by remove", rec)
	}
}

func TestMonitorHealthSlowFailingAndBack(t *testing.T) {
	inBubble(t, "name: t\nsteps:\n  - {id: idle, title: Idle, kind: manual}\n", func(t *testing.T, h *harness) {
		src := newFakeReplicationAt(time.Now)
		h.opts.Ports.Replication = src
		h.opts.Monitor = engine.MonitorConfig{Interval: 10 * time.Second, BacklogInterval: 10 * time.Second, SlowAfter: 5 * time.Second}
		h.start()
		at := h.nextView(1).At
		target := func(cycle int, state engine.Health, since time.Duration) engine.SourceHealth {
			t.Helper()
			v := h.nextView(cycle)
			th := v.SourceHealth(engine.SourceTarget)
			if th.State != state || !th.Since.Equal(at.Add(since)) {
				t.Fatalf("cycle %d: target %s since +%s, want %s since +%s (%+v)", cycle, th.State, th.Since.Sub(at), state, since, th)
			}
			if ax := v.SourceHealth(engine.SourceAX); ax.State != engine.HealthOK {
				t.Fatalf("cycle %d: the source is fine: %+v", cycle, ax)
			}
			return th
		}
		// Each poll starts 10s after the previous one ended; a slow read makes its poll last longer.
		src.setDelay("target", 7*time.Second)
		if th := target(2, engine.HealthSlow, 10*time.Second); th.LastDuration != 7*time.Second {
			t.Fatalf("the slow read's duration: %+v", th)
		}
		src.setDelay("target", 0)
		target(3, engine.HealthOK, 27*time.Second)
		src.setFail("target", errors.New("connection reset by peer"))
		if th := target(4, engine.HealthFailing, 37*time.Second); !strings.Contains(th.LastError, "connection reset by peer") || th.LastOK != at.Add(27*time.Second) {
			t.Fatalf("failing: %+v", th)
		}
		src.setFail("target", nil)
		if th := target(5, engine.HealthOK, 47*time.Second); th.LastOutage != 10*time.Second {
			t.Fatalf("the outage lasted 10s: %+v", th)
		}
		// A later slow spell is not another outage.
		src.setDelay("target", 6*time.Second)
		target(6, engine.HealthSlow, 57*time.Second)
		src.setDelay("target", 0)
		target(7, engine.HealthOK, 73*time.Second)

		var got []string
		for _, r := range h.records() {
			var p engine.SourceHealthRecord
			if r.Type == string(engine.RecSourceHealth) && r.Decode(&p) == nil && p.Source == engine.SourceTarget {
				got = append(got, fmt.Sprintf("%s/%s", p.State, p.Outage))
			}
		}
		if want := "ok/0s slow/0s ok/0s failing/0s ok/10s slow/0s ok/0s"; strings.Join(got, " ") != want {
			t.Errorf("journaled target health %q, want %q (only the recovery carries the outage)", strings.Join(got, " "), want)
		}
		for _, want := range []string{"target is slow: a query took 7s", "target is failing: row counts: connection reset by peer (last good read 10s earlier)",
			"target is reachable again after an outage of 10s", "target is slow: a query took 6s"} {
			found := false
			for _, l := range h.e.Logs(1000, "") {
				found = found || l.Msg == want
			}
			if !found {
				t.Errorf("the log lacks %q", want)
			}
		}
	})
}

// TestMonitorBacklogFailingKeepsTheDistributorFailing: the agents answering in the same read
// while the backlog keeps failing is no recovery. The distributor is failing once, until the
// backlog answers again, and its outage is journaled then: never "back" and "failing" again on
// every poll, which journaled two records and announced a loss per poll.
func TestMonitorBacklogFailingKeepsTheDistributorFailing(t *testing.T) {
	inBubble(t, "name: t\nsteps:\n  - {id: idle, title: Idle, kind: manual}\n", func(t *testing.T, h *harness) {
		src := newFakeReplicationAt(time.Now)
		h.opts.Ports.Replication = src
		h.opts.Monitor = engine.MonitorConfig{Interval: 10 * time.Second, BacklogInterval: 10 * time.Second}
		h.start()
		h.nextView(1)
		src.setFail("backlog", errors.New("timeout reading MSdistribution_status"))
		cycle := 2
		for ; cycle < 12; cycle++ {
			v := h.nextView(cycle)
			if d := v.SourceHealth(engine.SourceDistributor); d.State != engine.HealthFailing || !strings.Contains(d.LastError, "backlog: timeout") {
				t.Fatalf("cycle %d: the distributor with its backlog failing: %+v", cycle, d)
			}
		}
		src.setFail("backlog", nil)
		var d engine.SourceHealth
		for ; cycle < 60; cycle++ {
			if d = h.nextView(cycle).SourceHealth(engine.SourceDistributor); d.State == engine.HealthOK {
				break
			}
		}
		if d.State != engine.HealthOK || d.LastOutage <= 0 {
			t.Fatalf("the backlog answering again: %+v", d)
		}
		var got []string
		for _, r := range h.records() {
			var p engine.SourceHealthRecord
			if r.Type == string(engine.RecSourceHealth) && r.Decode(&p) == nil && p.Source == engine.SourceDistributor {
				got = append(got, p.State.String())
			}
		}
		if want := "ok failing ok"; strings.Join(got, " ") != want {
			t.Errorf("journaled distributor health %q, want %q", strings.Join(got, " "), want)
		}
	})
}

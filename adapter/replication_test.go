package adapter_test

import (
	"context"
	"cutover/adapter"
	"cutover/demo"
	"cutover/demo/demotest"
	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/sql"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkValidate10k is a full validation of 10,000 tables against the simulator through the
// driver: counts on both sides, classification, and the exact recount of the one mismatch.
func BenchmarkValidate10k(b *testing.B) {
	sims, _ := demotest.Quiet(b, sqlsim.Config{Tables: 10000, Scenarios: sqlsim.ScenarioCountMismatch})
	sp := &adapter.SQL{}
	for _, e := range []struct {
		ep sqlsim.Endpoint
		db **sql.DB
	}{{sqlsim.EndpointSource, &sp.Src}, {sqlsim.EndpointTarget, &sp.Tgt}} {
		db, err := sql.Open(sql.Config{Server: "127.0.0.1", Port: sims.SQL.Port(e.ep), Database: sims.SQL.Database(e.ep),
			User: sqlsim.User, Password: sqlsim.Password, Encrypt: sql.EncryptDisable})
		if err != nil {
			b.Fatal(err)
		}
		*e.db = db
	}
	defer sp.Close()
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := engine.Validate(ctx, sp, engine.ValidationRules{Recount: true, Concurrency: 4}, nil, time.Now(), nil)
		if err != nil || len(v.Tables) < 9900 || v.Classes[engine.ClassMismatch] != 1 {
			b.Fatal(err, len(v.Tables), v.Summary())
		}
	}
}

// TestEveryArticleHasItsPublication: a published table whose commands have all been delivered and
// cleaned up has no row in MSdistribution_status; the monitor still shows its publication and zero
// pending, never "not published".
func TestEveryArticleHasItsPublication(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 400}, "  - {id: idle, title: Idle, kind: manual}\n")
	r.until(15*time.Second, "a backlog read", func() bool {
		v := r.e.Replication()
		return v != nil && !v.PendingAt.IsZero()
	})
	v := r.e.Replication()
	published, quiet := 0, 0
	for _, ti := range r.sims.World.Tables() {
		if ti.Publication == "" {
			continue
		}
		published++
		lag, ok := v.Table(ti.Name)
		if !ok || !lag.Published || lag.Publication != ti.Publication {
			t.Fatalf("%s is an article of %s; the monitor shows %+v", ti.Name, ti.Publication, lag)
		}
		if lag.Pending == 0 {
			quiet++
		}
	}
	if published == 0 || quiet == 0 {
		t.Fatalf("%d published tables, %d with nothing pending: the test proves nothing", published, quiet)
	}
	// The functions of AX_PUB_OtherObjects are articles too, but no table.
	for _, lag := range v.Tables {
		if strings.HasPrefix(strings.ToLower(lag.Table), "fn_") {
			t.Fatalf("a function is shown as a table: %+v", lag)
		}
	}
}

// TestDrainETAConvergesOnTheSimulator: with the AOS stopped, the monitor's ETA to drain the
// backlog is within 20 % of the time the simulator takes.
func TestDrainETAConvergesOnTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 800, DrainRate: 300}, "  - {id: idle, title: Idle, kind: manual}\n")
	for _, a := range r.sims.World.AOS() {
		r.sims.World.StopAOS(a.Host, a.Service)
	}
	start := r.clk.Now()
	var eta time.Duration
	var at time.Time
	// The batch AOS keeps writing until its running batch tasks end (up to ten minutes); from then on
	// the backlog only drains.
	r.until(15*time.Second, "an ETA after fifteen minutes", func() bool {
		v := r.e.Replication()
		if v == nil || r.clk.Now().Sub(start) < 15*time.Minute || v.ETA == 0 {
			return false
		}
		eta, at = v.ETA, v.PendingAt
		return true
	})
	r.until(15*time.Second, "the backlog drains", func() bool { return r.sims.World.TotalPending() == 0 })
	// The simulator drained between two clock steps; the time it took from the ETA's reading:
	actual := r.clk.Now().Sub(at)
	if diff := float64(eta-actual) / float64(actual); diff > 0.2 || diff < -0.2 {
		t.Fatalf("ETA %v at %v, drained %v later (%.0f%% off)", eta, at.Sub(start), actual, 100*diff)
	}
	t.Logf("ETA %v, actual %v", eta, actual)
}

// stoppingAOS reports one AOS service as still stopping (STOP_PENDING) while stuck is set,
// whatever the simulated host says: a service that hangs in its shutdown.
type stoppingAOS struct {
	engine.ServiceController
	host  string
	stuck *atomic.Bool
}

func (s stoppingAOS) State(ctx context.Context, host, service string) (engine.ServiceState, string, error) {
	if s.stuck.Load() && strings.EqualFold(host, s.host) {
		return engine.ServiceStopPending, "STOP_PENDING", nil
	}
	return s.ServiceController.State(ctx, host, service)
}

// drainBlockers is the set of conditions the drain step's latest "blocked:" log line names.
func drainBlockers(r *simRun, step string) []string {
	lines := r.e.Logs(200, step)
	for i := len(lines) - 1; i >= 0; i-- {
		msg, ok := strings.CutPrefix(lines[i].Msg, "blocked: ")
		if !ok {
			continue
		}
		msg, _, _ = strings.Cut(msg, " (backlog drains in")
		var names []string
		for _, part := range strings.Split(msg, "; ") {
			name, _, _ := strings.Cut(part, ": ")
			names = append(names, name)
		}
		sort.Strings(names)
		return names
	}
	return nil
}

// TestDrainGateAgainstTheSimulator: against the simulated AX database and distributor, the drain
// gate stays closed while any one thing is wrong — each broken alone, with every AOS stopped and
// everything else healthy — names what blocks it, and opens once that is mended. Conditions that
// depend on the broken one wait with it (tracer tokens are posted only once the AOS are down and
// no session is left; they arrive behind the backlog).
func TestDrainGateAgainstTheSimulator(t *testing.T) {
	const pub = "AX_PUB_PkTable_1"
	var stuck atomic.Bool
	tracerFault := tdssim.RuleID(0)
	cases := []struct {
		name          string
		blockers      []string
		breakIt, mend func(r *simRun)
	}{
		{"an AOS service hangs in its shutdown", []string{"AOS stopped", "tracer tokens"},
			func(*simRun) { stuck.Store(true) }, func(*simRun) { stuck.Store(false) }},
		{"client sessions left behind", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftoverActivity(2, 0) }, func(r *simRun) { r.sims.World.SetLeftoverActivity(0, 0) }},
		{"batch tasks left executing", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftoverActivity(0, 2) }, func(r *simRun) { r.sims.World.SetLeftoverActivity(0, 0) }},
		{"client sessions marked for kill, still ending", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{EndingClients: 2}) }, func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{}) }},
		{"batch tasks left cancelling", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{CancellingTasks: 2}) }, func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{}) }},
		{"an AOS row left draining", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{DrainedRows: 1}) }, func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{}) }},
		{"writes that do not go through an AOS", []string{"writes stopped"},
			func(r *simRun) { r.sims.World.SetDirectWriteRate(5) }, func(r *simRun) { r.sims.World.SetDirectWriteRate(0) }},
		{"tracer token history cannot be read", []string{"tracer tokens"},
			func(r *simRun) {
				tracerFault = r.sims.SQL.Source().Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, Proc: "sys.sp_helptracertokenhistory",
					Action: tdssim.FaultError, Err: tdssim.DeadlockError()})
			},
			func(r *simRun) { r.sims.SQL.Source().Faults().Remove(tracerFault) }},
		{"a distribution agent in error", []string{"agents healthy", "backlog empty", "tracer tokens"},
			func(r *simRun) {
				if err := r.sims.World.FailDistributionAgent(pub, ""); err != nil {
					t.Fatal(err)
				}
			},
			func(r *simRun) { r.sims.World.StartDistributionAgent(pub) }},
		{"a backlog that does not drain", []string{"backlog empty", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetDrainRate(0) }, func(r *simRun) { r.sims.World.SetDrainRate(500) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stuck.Store(false)
			r := newSimRun(t, sqlsim.Config{Tables: 300, DrainRate: 500, InitialBacklog: 20000, MaxStopWait: time.Minute},
				"  - {id: drain, title: Replication drained, kind: replication.drain, with: {quiet_for: 2m, check_every: 15s}}\n",
				withServices(func(s engine.ServiceController) engine.ServiceController {
					return stoppingAOS{ServiceController: s, host: "AX-AOS01", stuck: &stuck}
				}))
			c.breakIt(r)
			for _, a := range r.sims.World.AOS() {
				r.sims.World.StopAOS(a.Host, a.Service)
			}
			start := r.clk.Now()
			// The gate's timer and the monitor's: the clock never moves while a poll is out.
			r.untilWaiting(15*time.Second, 2, "half an hour", func() bool { return r.clk.Now().Sub(start) >= 30*time.Minute })
			if st := r.step("drain"); st.State != engine.StateRunning {
				t.Fatalf("the gate opened (or failed) with %s: %s %q %q", c.name, st.State, st.Message, st.LastError)
			}
			want := append([]string(nil), c.blockers...)
			sort.Strings(want)
			if got := drainBlockers(r, "drain"); !reflect.DeepEqual(got, want) {
				t.Fatalf("with %s the gate names %q, want %q", c.name, got, want)
			}
			c.mend(r)
			r.untilWaiting(15*time.Second, 2, "the gate opens", func() bool { return r.step("drain").State.Terminal() })
			if st := r.step("drain"); st.State != engine.StateSucceeded || !strings.HasPrefix(st.Message, "drained: ") {
				t.Fatalf("after mending %s: %s %q %q", c.name, st.State, st.Message, st.LastError)
			}
		})
	}
}

// TestStaleMonitorCacheAgainstTheSimulator: when the SQL Server Agent job that refreshes
// Replication Monitor's cache stops, MSreplication_monitordata keeps its old rows: an agent that
// failed since does not show. cutover reads the cache's age with it, so replication.healthy stops
// trusting those states once they are older than max_age, names the refresher job, and only
// succeeds once fresh states show the agent running again.
func TestStaleMonitorCacheAgainstTheSimulator(t *testing.T) {
	const pub = "AX_PUB_PkTable_1"
	r := newSimRun(t, sqlsim.Config{Tables: 200, InitialBacklog: -1},
		"  - {id: healthy, title: Replication healthy, kind: replication.healthy, with: {stable_for: 10m, max_age: 5m, check_every: 15s}}\n")
	r.sims.World.SetMonitorRefresher(false)
	if err := r.sims.World.FailDistributionAgent(pub, ""); err != nil {
		t.Fatal(err)
	}
	start := r.clk.Now()
	// The monitor's timer and the step's: the clock moves only between polls.
	r.untilWaiting(15*time.Second, 2, "half an hour", func() bool { return r.clk.Now().Sub(start) >= 30*time.Minute })
	if st := r.step("healthy"); st.State != engine.StateRunning {
		t.Fatalf("a stale cache hiding a failed agent was read as healthy: %s %q", st.State, st.Message)
	}
	var said bool
	for _, l := range r.e.Logs(200, "healthy") {
		said = said || (strings.Contains(l.Msg, "agent states are") && strings.Contains(l.Msg, "Replication monitoring refresher for distribution"))
	}
	if !said {
		t.Fatalf("the step does not say the agent states are stale: %v", r.e.Logs(20, "healthy"))
	}
	if v := r.e.Replication(); r.clk.Now().Sub(v.AgentsAt) < 25*time.Minute {
		t.Fatalf("the picture's agent states are dated %v, with the cache refreshed at %v", v.AgentsAt, start)
	}
	r.sims.World.SetMonitorRefresher(true)
	r.untilWaiting(15*time.Second, 2, "the failed agent shows", func() bool {
		v := r.e.Replication()
		for _, a := range v.Agents {
			if a.Publication == pub && a.Kind == engine.AgentDistribution && a.Status == engine.AgentFailed {
				return true
			}
		}
		return false
	})
	if st := r.step("healthy"); st.State != engine.StateRunning {
		t.Fatalf("healthy with a failed agent: %s %q", st.State, st.Message)
	}
	if err := r.sims.World.StartDistributionAgent(pub); err != nil {
		t.Fatal(err)
	}
	r.untilWaiting(15*time.Second, 2, "healthy", func() bool { return r.step("healthy").State.Terminal() })
	if st := r.step("healthy"); st.State != engine.StateSucceeded {
		t.Fatalf("after the agent restarted: %s %q %q", st.State, st.Message, st.LastError)
	}
}

// TestNonPKStepSeesTheDeliveryAfterItWasReplaced: the toolkit's non-PK step succeeds on the
// snapshot's delivery even when, by the time it looks, the distribution agent's newest message no
// longer says "Delivered snapshot…" but "No replicated transactions are available" (the sequence
// migration-upgrade/monitor-replication.md describes): the delivery is found in the agent history
// since the step started.
func TestNonPKStepSeesTheDeliveryAfterItWasReplaced(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200},
		"  - {id: nopk, title: Non-PK publication, kind: toolkit, with: {step: \"Cutover: Setup Publication for Non PK Tables\", poll: 30m}}\n")
	r.until(time.Second, "the step runs", func() bool { return r.step("nopk").State == engine.StateRunning })
	if err := r.sims.World.CreateNoPKPublication(); err != nil {
		t.Fatal(err)
	}
	done := r.sims.World.SnapshotState().Done
	if done.Sub(r.clk.Now()) > 25*time.Minute {
		t.Fatalf("the snapshot takes until %v: the test needs it delivered before the step looks again", done)
	}
	sp, err := adapter.OpenSQL(r.e.Runbook(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	r.until(15*time.Second, "the step ends", func() bool { return r.step("nopk").State.Terminal() })
	st := r.step("nopk")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, "AX_PUB_NoPKTable: snapshot delivered") {
		t.Fatalf("nopk: %s %q %q", st.State, st.Message, st.LastError)
	}
	msgs, err := sp.Dist.AgentMessages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Publication == "AX_PUB_NoPKTable" && m.Type == sql.DistributionAgent && m.Comments != "No replicated transactions are available." {
			t.Fatalf("the newest message when the step looked was %q: the test must look after it was replaced", m.Comments)
		}
	}
	if st.Finished.Sub(done) < time.Minute {
		t.Fatalf("the step finished at %v, the delivery was at %v: it must have looked after the message was replaced", st.Finished, done)
	}
}

// TestFaultsNeverMakeAStepSucceedWrongly: a deadlock on the count query fails the validation
// (it does not pass it), a dropped connection is read again, a slow source is reported slow and an
// outage is reported with its duration once the source is back.
func TestFaultsNeverMakeAStepSucceedWrongly(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300, Scenarios: sqlsim.ScenarioCountMismatch, InitialBacklog: -1}, `  - {id: validate, title: Validate, kind: validate.counts, with: {wait_for_draining: 0s}}
`, withQueryTimeout(time.Second))
	tgt := r.sims.SQL.Target()
	id := tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)dm_db_partition_stats`), Action: tdssim.FaultError, Err: tdssim.DeadlockError()})
	r.until(time.Second, "validate ends", func() bool { return r.step("validate").State.Terminal() })
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "1205") {
		t.Fatalf("validate under a deadlock: %s %q", st.State, st.LastError)
	}
	tgt.Faults().Remove(id)
	// The target is unreachable for a while: the monitor says so and, once it is back, how long.
	refuse := tgt.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	tgt.KillAll()
	r.until(15*time.Second, "the target is failing", func() bool {
		v := r.e.Replication()
		return v != nil && v.SourceHealth(engine.SourceTarget).State == engine.HealthFailing
	})
	failedAt := r.clk.Now()
	r.until(15*time.Second, "three minutes of outage", func() bool { return r.clk.Now().Sub(failedAt) >= 3*time.Minute })
	tgt.Faults().Remove(refuse)
	r.until(15*time.Second, "the target is back", func() bool {
		v := r.e.Replication()
		return v != nil && v.SourceHealth(engine.SourceTarget).State == engine.HealthOK
	})
	if h := r.e.Replication().SourceHealth(engine.SourceTarget); h.LastOutage < 3*time.Minute {
		t.Fatalf("outage reported as %v", h.LastOutage)
	}
	// A dropped connection during the recount is read again; the mismatch is still found.
	tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big`), FirstN: 1, Action: tdssim.FaultDropBeforeResponse})
	r.retry("validate", 2)
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "CUSTINVOICETRANS mismatch") {
		t.Fatalf("validate with a dropped connection: %s %q", st.State, st.LastError)
	}
	// Slow recounts (exact counts have their own, longer timeout) only take longer: the result is
	// the same mismatch.
	slow := tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big`), FirstN: 4, Action: tdssim.FaultDelay, Delay: 1500 * time.Millisecond})
	r.retry("validate", 3)
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "CUSTINVOICETRANS mismatch") {
		t.Fatalf("validate with slow recounts: %s %q", st.State, st.LastError)
	}
	if tgt.Faults().Fired(slow) == 0 {
		t.Fatal("the slow-recount rule never fired")
	}
	// Row counts slower than the connection's query timeout (1s here) fail the attempt: a timeout
	// is never read as "no rows" or as a match.
	stall := tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)dm_db_partition_stats`), Action: tdssim.FaultDelay, Delay: 3 * time.Second})
	r.retry("validate", 4)
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "deadline exceeded") {
		t.Fatalf("validate with a query past its timeout: %s %q", st.State, st.LastError)
	}
	if tgt.Faults().Fired(stall) == 0 {
		t.Fatal("the slow row-count rule never fired")
	}
	tgt.Faults().Remove(stall)
}

// BenchmarkMonitorCycle10k is one replication-monitor cycle of the engine over a 10,000-table AX
// database, through the real driver and the TDS simulator: row counts on both sides, agents and
// the per-article backlog, folded into per-table lag, rates and ETAs and published.
func BenchmarkMonitorCycle10k(b *testing.B) {
	sims := demotest.Start(b, sqlsim.Config{Tables: 10000}, clock.NewFake(demotest.Epoch))
	rb, ok := loadRunbook(demotest.Runbook(b, sims, "  - {id: idle, title: Idle, kind: manual}\n"), io.Discard)
	if !ok {
		b.Fatal("runbook")
	}
	state := b.TempDir()
	ports := engine.Ports{Services: demo.Services{World: sims.World}}
	closePorts, err := adapter.BuildPorts(rb, state, &ports, io.Discard, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer closePorts()
	// Intervals of a nanosecond: the monitor cycles back to back (a poll never overlaps the
	// previous one) and every cycle reads the backlog too.
	e, err := engine.New(rb, engine.Options{StateDir: state, Kinds: adapter.Registry(), Ports: ports,
		Monitor: engine.MonitorConfig{Interval: time.Nanosecond, BacklogInterval: time.Nanosecond}})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Open(); err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	_, events := e.Subscribe(ctx)
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer e.Stop("benchmark")
	waitCycle := func(n int) *engine.ReplicationView {
		for ev := range events {
			if ru, ok := ev.(engine.ReplicationUpdated); ok && ru.View.Cycles >= n {
				return ru.View
			}
		}
		b.Fatal("events ended")
		return nil
	}
	v := waitCycle(1)
	if len(v.Tables) < 9900 {
		b.Fatalf("%d tables in the picture", len(v.Tables))
	}
	if v.TotalPending == 0 || v.PendingAt.IsZero() {
		b.Fatalf("the backlog was not read: %d pending at %v", v.TotalPending, v.PendingAt)
	}
	b.ResetTimer()
	waitCycle(v.Cycles + b.N)
}

// TestRecountATableAgainstTheSimulator: after a failed validation, an operator recounts the
// mismatching table once it was re-delivered; the table becomes a match and the verdict is
// recomputed, the recount is journaled with who did it; a viewer may not recount.
func TestRecountATableAgainstTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300, Scenarios: sqlsim.ScenarioCountMismatch, InitialBacklog: -1}, `  - {id: validate, title: Validate, kind: validate.counts, with: {wait_for_draining: 0s}}
`, withQueryTimeout(time.Second))
	r.until(time.Second, "validate ends", func() bool { return r.step("validate").State.Terminal() })
	table := r.sims.World.Config().MismatchTable
	v := r.e.Validation()
	if v == nil || v.Passed || v.Step != "validate" || v.Tables[0].Table != table || v.Tables[0].Class != engine.ClassMismatch {
		t.Fatalf("validation before: %+v", v)
	}
	viewer := engine.Actor{Name: "Vic", Origin: "ssh", Fingerprint: "SHA256:vic", Role: engine.RoleViewer}
	if _, err := r.e.Recount(context.Background(), table, viewer); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer recounted: %v", err)
	}
	if err := r.sims.World.Redeliver(table); err != nil {
		t.Fatal(err)
	}
	r.until(30*time.Second, "the table is re-delivered", func() bool {
		s, _ := r.sims.World.SourceRows(table)
		tg, _, _ := r.sims.World.TargetRows(table)
		return s == tg
	})
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	tc, err := r.e.Recount(context.Background(), table, ana)
	if err != nil || tc.Class != engine.ClassMatch || !tc.Exact || tc.Delta != 0 {
		t.Fatalf("recount: %+v %v", tc, err)
	}
	nv := r.e.Validation()
	if nv.Classes[engine.ClassMismatch] != 0 || nv.Classes[engine.ClassMatch] != v.Classes[engine.ClassMatch]+1 || nv.Passed != (len(nv.Failing()) == 0) {
		t.Fatalf("validation after: passed %v, %s", nv.Passed, nv.Summary())
	}
	recs, _, err := journal.ReadAll(filepath.Join(r.state, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, rec := range recs {
		var p engine.Recounted
		if rec.Type == string(engine.RecRecount) && rec.Decode(&p) == nil {
			found = p.Actor.Name == "Ana" && p.Check.Table == table && p.Before == engine.ClassMismatch && p.Check.Class == engine.ClassMatch
		}
	}
	if !found {
		t.Fatal("the recount is not journaled with its actor and outcome")
	}
}

// TestRecountOfAbsentAndIgnoredTablesAgainTheSimulator: the locked table is not on the sandbox;
// its recount says so (SQL Server's 208 read as "not there", not as a failure) with the source
// counted exactly; a table on the ignore list is not counted at all.
func TestRecountOfAbsentAndIgnoredTablesAgainstTheSimulator(t *testing.T) {
	cfg := sqlsim.Config{Tables: 300, Scenarios: sqlsim.ScenarioLockedTable, InitialBacklog: -1}
	world, err := sqlsim.New(cfg, clock.NewFake(demotest.Epoch))
	if err != nil {
		t.Fatal(err)
	}
	var ignored string
	for _, ti := range world.Tables() {
		if ti.Ignored {
			ignored = ti.Name
			break
		}
	}
	if ignored == "" {
		t.Fatal("the simulated world has no ignored table")
	}
	r := newSimRun(t, cfg,
		`  - {id: validate, title: Validate, kind: validate.counts, with: {wait_for_draining: 0s, ignore: [`+ignored+`]}}
`, withQueryTimeout(time.Second))
	r.until(time.Second, "validate ends", func() bool { return r.step("validate").State.Terminal() })
	locked := r.sims.World.Config().LockedTable
	classes := map[string]engine.CountClass{}
	for _, tc := range r.e.Validation().Tables {
		classes[tc.Table] = tc.Class
	}
	if classes[ignored] != engine.ClassIgnored || classes[locked] != engine.ClassMissing {
		t.Fatalf("validation: %s is %s, %s is %s", ignored, classes[ignored], locked, classes[locked])
	}
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	tc, err := r.e.Recount(context.Background(), locked, ana)
	want, _ := r.sims.World.SourceRows(locked)
	if err != nil || tc.Class != engine.ClassMissing || tc.Source != want || tc.Error != "" {
		t.Fatalf("recount of the table missing on the sandbox: %+v, %v (source has %d rows)", tc, err, want)
	}
	if _, err := r.e.Recount(context.Background(), ignored, ana); !errors.Is(err, engine.ErrIgnoredTable) {
		t.Fatalf("recount of the ignored table %s: %v, want ErrIgnoredTable", ignored, err)
	}
}

// openSims opens the three pools of a poll on the simulators.
func openSims(tb testing.TB, sims *demo.Simulators) *adapter.SQL {
	tb.Helper()
	sp := &adapter.SQL{}
	for _, e := range []struct {
		ep sqlsim.Endpoint
		db **sql.DB
	}{{sqlsim.EndpointSource, &sp.Src}, {sqlsim.EndpointDistribution, &sp.Dist}, {sqlsim.EndpointTarget, &sp.Tgt}} {
		db, err := sql.Open(sql.Config{Server: "127.0.0.1", Port: sims.SQL.Port(e.ep), Database: sims.SQL.Database(e.ep),
			User: sqlsim.User, Password: sqlsim.Password, Encrypt: sql.EncryptDisable})
		if err != nil {
			tb.Fatal(err)
		}
		*e.db = db
	}
	tb.Cleanup(sp.Close)
	return sp
}

// requestsByDatabase is every simulated database's count of requests answered so far.
func requestsByDatabase(sims *demo.Simulators) map[string]int64 {
	out := map[string]int64{}
	for _, srv := range []*tdssim.Server{sims.SQL.Source(), sims.SQL.Target()} {
		for db, n := range srv.Stats().RequestsByDatabase {
			out[srv.Addr().String()+"/"+db] += n
		}
	}
	return out
}

// TestOnePollIsOneRequestPerDatabase (issue 19): a poll of `cutover status` and of the cockpit's
// monitor, through the real driver against the simulators, sends one request to the AX database,
// one to the distribution database and one to the sandbox, the backlog included; across ten polls
// the article list is read once (counted at the simulator, by the request that carries it).
func TestOnePollIsOneRequestPerDatabase(t *testing.T) {
	sims := demotest.Start(t, sqlsim.Config{Tables: 1000}, clock.NewFake(demotest.Epoch))
	sp := openSims(t, sims)
	articles := sims.SQL.Source().Faults().MustAdd(tdssim.Rule{Name: "count the article list's reads",
		SQL: regexp.MustCompile(`SELECT a\.article_id, p\.publication`), Action: tdssim.FaultDelay, Delay: time.Nanosecond})
	poller := engine.NewPoller(sp, engine.MonitorConfig{}, nil)
	ctx := t.Context()
	for i := range 10 {
		before := requestsByDatabase(sims)
		v, err := poller.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range v.Health {
			if h.State == engine.HealthFailing {
				t.Fatalf("poll %d: %s failing: %s", i, h.Name, h.LastError)
			}
		}
		if len(v.Tables) < 900 || v.PendingAt.IsZero() || len(v.Agents) == 0 {
			t.Fatalf("poll %d read %d tables, the backlog at %v, %d agents", i, len(v.Tables), v.PendingAt, len(v.Agents))
		}
		after := requestsByDatabase(sims)
		if len(after) != 3 {
			t.Fatalf("requests went to %v, want the AX database, the distribution database and the sandbox", after)
		}
		for db, n := range after {
			if d := n - before[db]; d != 1 {
				t.Fatalf("poll %d sent %d requests to %s, want 1", i, d, db)
			}
		}
	}
	if n := sims.SQL.Source().Faults().Fired(articles); n != 1 {
		t.Fatalf("the article list was read %d times in ten polls, want once", n)
	}
	if n := sp.ArticleReads(); n != 1 {
		t.Fatalf("the adapter read the article list %d times, want once", n)
	}
}

// BenchmarkStatusGlance is the memory of one `cutover status` glance at 50,000 tables — fresh
// pools, a Poller, one poll (cmd/status.go) — beside the floor of the job: fresh pools sending the
// same texts (the first glance reads the server's clock and the article list too) and scanning
// them into reused variables. The simulator runs in the process and its allocations are in both.
// alloc-MiB is what the glance allocated, kept-MiB what is still live after it while its picture
// is held. Run: go test -run XXX -bench StatusGlance -benchtime 3x ./adapter/
func BenchmarkStatusGlance(b *testing.B) {
	const tables = 50_000
	sims := demotest.Start(b, sqlsim.Config{Tables: tables}, clock.NewFake(demotest.Epoch))
	measure := func(b *testing.B, glance func() any) {
		var alloc, kept float64
		for b.Loop() {
			var m0, m1, m2 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			keep := glance()
			runtime.ReadMemStats(&m1)
			runtime.GC()
			runtime.ReadMemStats(&m2)
			runtime.KeepAlive(keep)
			alloc += float64(m1.TotalAlloc - m0.TotalAlloc)
			kept += float64(m2.HeapAlloc) - float64(m0.HeapAlloc)
		}
		b.ReportMetric(alloc/float64(b.N)/(1<<20), "alloc-MiB")
		b.ReportMetric(kept/float64(b.N)/(1<<20), "kept-MiB")
	}
	b.Run("status", func(b *testing.B) {
		measure(b, func() any {
			sp := openSims(b, sims)
			defer sp.Close()
			v, err := engine.NewPoller(sp, engine.MonitorConfig{}, nil).Poll(b.Context())
			if err != nil || len(v.Tables) < tables*9/10 {
				b.Fatal(err)
			}
			return v
		})
	})
	b.Run("floor", func(b *testing.B) {
		measure(b, func() any {
			n, err := demotest.Floor(b.Context(), sims.SQL.DSN(sqlsim.EndpointSource), sims.SQL.DSN(sqlsim.EndpointDistribution),
				sims.SQL.DSN(sqlsim.EndpointTarget))
			if err != nil || n < tables {
				b.Fatal(n, err)
			}
			return nil
		})
	})
}

package sql_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/sql"
	"cutover/sql/sim"
	"cutover/sql/tdssim"
)

// testClock is the simulated world's clock, moved by the tests.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type world struct {
	clk  *testClock
	w    *sim.World
	srv  *sim.Servers
	src  *sql.DB
	dist *sql.DB
	tgt  *sql.DB
}

func (w *world) config(e sim.Endpoint) sql.Config {
	return sql.Config{Server: "127.0.0.1", Port: w.srv.Port(e), Database: w.srv.Database(e), User: sim.User, Password: sim.Password,
		Encrypt: sql.EncryptDisable, QueryTimeout: 10 * time.Second}
}

func (w *world) open(t testing.TB, cfg sql.Config) *sql.DB {
	t.Helper()
	db, err := sql.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newWorld(t testing.TB, cfg sim.Config, scfg sim.ServerConfig) *world {
	t.Helper()
	clk := &testClock{now: time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)}
	if cfg.Tables == 0 {
		cfg.Tables = 600
	}
	w, err := sim.New(cfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sim.Start(w, scfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	x := &world{clk: clk, w: w, srv: srv}
	x.src = x.open(t, x.config(sim.EndpointSource))
	x.dist = x.open(t, x.config(sim.EndpointDistribution))
	x.tgt = x.open(t, x.config(sim.EndpointTarget))
	return x
}

func TestRowCountsBothSidesAndFallback(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	src, from, err := w.src.RowCounts(ctx)
	if err != nil || from != sql.FromPartitionStats || len(src) < 500 {
		t.Fatalf("source: %d tables from %s, %v", len(src), from, err)
	}
	byName := map[string]sql.TableCount{}
	for _, c := range src {
		byName[c.Table] = c
	}
	for _, ti := range w.w.Tables() {
		if ti.System {
			if _, ok := byName[ti.Name]; ok {
				t.Errorf("replication's own table %s listed", ti.Name)
			}
			continue
		}
		c, ok := byName[ti.Name]
		n, _ := w.w.SourceRows(ti.Name)
		if !ok || c.Rows != n || c.HasPK != ti.HasPK {
			t.Fatalf("%s: %+v, world says %d rows pk %v", ti.Name, c, n, ti.HasPK)
		}
	}
	// A JIT login without VIEW DATABASE STATE falls back to sys.partitions.
	cfg := w.config(sim.EndpointTarget)
	cfg.User = sim.ReaderUser
	reader := w.open(t, cfg)
	tgt, from, err := reader.RowCounts(ctx)
	if err != nil || from != sql.FromPartitions || len(tgt) < 400 {
		t.Fatalf("reader: %d tables from %s, %v", len(tgt), from, err)
	}
	_, err = reader.LastUserUpdate(ctx)
	if !sql.IsPermission(err) || sql.Number(err) != 297 {
		t.Fatalf("the reader must get a permission error: %v", err)
	}
}

func TestExactCountsProgressAndCancel(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	tables := []string{"CUSTTABLE", "VENDTABLE", "INVENTTRANS", "SALESLINE", "NO_SUCH_TABLE"}
	var seen []int
	res, err := w.src.ExactCounts(ctx, tables, 2, func(done, total int) { seen = append(seen, done) })
	if err != nil {
		t.Fatal(err)
	}
	sort.Ints(seen)
	if len(seen) != 5 || seen[4] != 5 {
		t.Fatalf("progress %v", seen)
	}
	for _, r := range res {
		if r.Table == "NO_SUCH_TABLE" {
			if !sql.IsMissingObject(r.Err) || !r.Missing {
				t.Fatalf("a missing table must carry error 208 and say it is missing: %+v", r)
			}
			continue
		}
		n, _ := w.w.SourceRows(r.Table)
		if r.Err != nil || r.Missing || r.Rows != n {
			t.Fatalf("%s: %d (%v), world %d", r.Table, r.Rows, r.Err, n)
		}
	}
	// A slow count, cancelled after the first table finishes: the rest stop, the running one is
	// cancelled on the server.
	ctx2, cancel := context.WithCancel(ctx)
	var once sync.Once
	w.srv.Source().Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big.*SALESLINE`), Action: tdssim.FaultDelay, Delay: time.Hour})
	before := w.srv.Source().Stats().Attentions
	res, err = w.src.ExactCounts(ctx2, []string{"SALESLINE", "CUSTTABLE", "VENDTABLE", "INVENTTRANS"}, 2, func(done, total int) {
		once.Do(cancel)
	})
	if !errors.Is(err, context.Canceled) || len(res) != 1 || res[0].Table != "CUSTTABLE" {
		t.Fatalf("cancelled recount: %v, finished %+v", err, res)
	}
	if w.srv.Source().Stats().Attentions <= before {
		t.Fatal("the running count was not cancelled on the server")
	}
}

func TestAXActivityAndWritesStop(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	act, err := w.src.AXActivity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if act.ActiveServers() != 3 || len(act.Clients) == 0 || len(act.Jobs) == 0 {
		t.Fatalf("activity: %d servers, %d clients, %d jobs", act.ActiveServers(), len(act.Clients), len(act.Jobs))
	}
	if c := act.Clients[0]; c.User == "" || c.Since.IsZero() {
		t.Fatalf("client %+v", c)
	}
	sessions, err := w.src.UserSessions(ctx)
	if err != nil || len(sessions) == 0 {
		t.Fatalf("sessions %v %v", sessions, err)
	}
	w.clk.Advance(time.Minute)
	first, _ := w.src.LastUserUpdate(ctx)
	for _, a := range w.w.AOS() {
		if err := w.w.StopAOS(a.Host, a.Service); err != nil {
			t.Fatal(err)
		}
	}
	w.clk.Advance(30 * time.Minute)
	stopped, err := w.src.LastUserUpdate(ctx)
	if err != nil || !stopped.After(first) {
		t.Fatalf("writes before the shutdown: %v → %v (%v)", first, stopped, err)
	}
	newest, _ := w.dist.NewestReplicatedTransaction(ctx)
	w.clk.Advance(time.Hour)
	later, _ := w.src.LastUserUpdate(ctx)
	newestLater, err := w.dist.NewestReplicatedTransaction(ctx)
	if !later.Equal(stopped) || err != nil || !newestLater.Equal(newest) || newest.IsZero() {
		t.Fatalf("writes must stop with the AOS: last write %v then %v, newest replicated %v then %v (%v)", stopped, later, newest, newestLater, err)
	}
	act, _ = w.src.AXActivity(ctx)
	if act.ActiveServers() != 0 || len(act.Clients) != 0 {
		t.Fatalf("after the shutdown: %d servers, %d clients", act.ActiveServers(), len(act.Clients))
	}
}

// TestAXStatesAsDocumented: what is still there counts, whatever its state. An AOS that rejects
// new clients (Drain) is still an active AOS; client sessions marked for kill are still there,
// ending; batch tasks and jobs cancelling are still running. Rows at rest (a stopped AOS's 0) do
// not count.
func TestAXStatesAsDocumented(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	if err := w.w.DrainAOS("AX-AOS01", "AOS60$01"); err != nil {
		t.Fatal(err)
	}
	act, err := w.src.AXActivity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var draining []sql.AOSSession
	for _, s := range act.Servers {
		if s.Status != sql.ServerAlive {
			draining = append(draining, s)
		}
	}
	if act.ActiveServers() != 3 || len(draining) != 1 || !draining[0].Active() {
		t.Fatalf("a draining AOS still runs: %d active, not alive: %+v", act.ActiveServers(), draining)
	}
	for _, a := range w.w.AOS() {
		if err := w.w.StopAOS(a.Host, a.Service); err != nil {
			t.Fatal(err)
		}
	}
	w.clk.Advance(30 * time.Minute)
	w.w.SetLeftover(sim.Leftover{EndingClients: 2, Clients: 1, CancellingTasks: 3})
	act, err = w.src.AXActivity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if act.ActiveServers() != 0 || len(act.Servers) != 3 {
		t.Fatalf("stopped AOS rows (STATUS 0) are not active: %d of %d", act.ActiveServers(), len(act.Servers))
	}
	ending := 0
	for _, c := range act.Clients {
		if !c.Status.Present() {
			t.Errorf("session %d listed in state %s", c.SessionID, c.Status)
		}
		if c.Status.Ending() {
			ending++
		}
	}
	if len(act.Clients) != 3 || ending != 2 {
		t.Fatalf("client sessions still there: %d, ending %d; want 3 and 2", len(act.Clients), ending)
	}
	if act.RunningTasks() != 3 || act.Tasks[sql.BatchCancelling] != 3 {
		t.Fatalf("cancelling batch tasks are still running: %v", act.Tasks)
	}
	if jobs := act.RunningJobs(); len(jobs) != 1 || jobs[0].Status != sql.BatchCancelling {
		t.Fatalf("running batch jobs %+v", jobs)
	}
	w.w.SetLeftover(sim.Leftover{DrainedRows: 1})
	if act, _ = w.src.AXActivity(ctx); act.ActiveServers() != 1 {
		t.Fatalf("the row of an AOS killed while it drained: %d active", act.ActiveServers())
	}
}

func TestReplicationReads(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	pubs, err := w.dist.Publications(ctx)
	if err != nil || len(pubs) < 5 {
		t.Fatalf("publications %v %v", pubs, err)
	}
	var transactional []string
	for _, p := range pubs {
		if p.Type == sql.Transactional {
			transactional = append(transactional, p.Name)
		}
	}
	arts, err := w.dist.Articles(ctx)
	if err != nil || len(arts) < 400 {
		t.Fatalf("articles %d %v", len(arts), err)
	}
	pending, err := w.dist.PendingCommands(ctx)
	if err != nil || len(pending) == 0 {
		t.Fatalf("pending %d %v", len(pending), err)
	}
	var total int64
	for _, p := range pending {
		total += p.Pending
	}
	if total != w.w.TotalPending() {
		t.Fatalf("pending %d, world %d", total, w.w.TotalPending())
	}
	states, err := w.dist.AgentStates(ctx)
	if err != nil || len(states) == 0 {
		t.Fatalf("agent states %v %v", states, err)
	}
	msgs, err := w.dist.AgentMessages(ctx)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("agent messages %v %v", msgs, err)
	}
	kinds := map[sql.AgentType]bool{}
	for _, m := range msgs {
		kinds[m.Type] = true
	}
	if !kinds[sql.DistributionAgent] || !kinds[sql.LogReaderAgent] || !kinds[sql.SnapshotAgent] {
		t.Fatalf("agent kinds %v", kinds)
	}
	if _, err := w.dist.ReplicationErrors(ctx); err != nil {
		t.Fatal(err)
	}
	subs, err := w.dist.Subscriptions(ctx)
	if err != nil || len(subs) == 0 {
		t.Fatalf("subscriptions %v %v", subs, err)
	}
	if subs[0].Type != sql.PushSubscription {
		t.Fatalf("the toolkit's subscriptions are push subscriptions: %+v", subs[0])
	}
	sp, err := w.dist.SubscriptionPending(ctx, subs[0])
	if err != nil || sp.Pending < 0 {
		t.Fatalf("subscription pending %+v %v", sp, err)
	}
	anon := subs[0]
	anon.Type = sql.AnonymousSubscription
	if _, err := w.dist.SubscriptionPending(ctx, anon); err == nil {
		t.Fatal("sp_replmonitorsubscriptionpendingcmds takes push and pull subscriptions only")
	}
	// A tracer token posted now arrives once the backlog before it is delivered.
	id, err := w.src.PostTracerToken(ctx, transactional[0])
	if err != nil {
		t.Fatal(err)
	}
	hist, err := w.src.TracerTokenHistory(ctx, transactional[0], id)
	if err != nil || len(hist) != 1 || hist[0].Arrived() {
		t.Fatalf("token right after posting: %+v %v", hist, err)
	}
	w.clk.Advance(24 * time.Hour)
	hist, err = w.src.TracerTokenHistory(ctx, transactional[0], id)
	if err != nil || len(hist) != 1 || !hist[0].Arrived() {
		t.Fatalf("token a day later: %+v %v", hist, err)
	}
	// After "Remove replication setup" the distribution database is gone.
	if err := w.w.RemoveReplication(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.dist.Publications(ctx); err == nil || !(sql.IsMissingObject(err) || sql.Number(err) == 4060) {
		t.Fatalf("publications after removal: %v", err)
	}
}

// TestAgentStatesCarryTheCacheAge: agent states come from Replication Monitor's cache; their age
// (lastrefresh against the server's clock) is read with them, so a cache whose refresher stopped
// reads as old however recently it was queried.
func TestAgentStatesCarryTheCacheAge(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	states, err := w.dist.AgentStates(ctx)
	if err != nil || len(states) == 0 {
		t.Fatalf("agent states %v %v", states, err)
	}
	for _, s := range states {
		if s.CacheAge > 30*time.Second || s.LastRefresh.IsZero() {
			t.Fatalf("%s: a cache refreshed by a running job is %v old (last refresh %v)", s.Name, s.CacheAge, s.LastRefresh)
		}
	}
	w.w.SetMonitorRefresher(false)
	w.clk.Advance(20 * time.Minute)
	states, err = w.dist.AgentStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.CacheAge < 20*time.Minute || w.w.Now().Sub(s.LastRefresh) != s.CacheAge {
			t.Fatalf("%s: a stopped refresher's cache is %v old (last refresh %v, now %v)", s.Name, s.CacheAge, s.LastRefresh, w.w.Now())
		}
	}
}

// TestSnapshotDeliveries: a delivered snapshot is found in the distribution history within the
// window asked for, by the server's clock, after the newest message moved on; outside it, not.
func TestSnapshotDeliveries(t *testing.T) {
	w := newWorld(t, sim.Config{Tables: 300}, sim.ServerConfig{})
	ctx := t.Context()
	if err := w.w.CreateNoPKPublication(); err != nil {
		t.Fatal(err)
	}
	done := w.w.SnapshotState().Done
	w.clk.Advance(done.Sub(w.clk.Now()) + 10*time.Minute)
	got, err := w.dist.SnapshotDeliveries(ctx, 11*time.Minute)
	if err != nil || len(got) != 1 || got[0].Publication != "AX_PUB_NoPKTable" || got[0].Time.Sub(done).Abs() > 5*time.Millisecond ||
		!strings.HasPrefix(got[0].Comments, "Delivered snapshot from the ") {
		t.Fatalf("deliveries in the last 11 minutes: %+v %v", got, err)
	}
	if got, err := w.dist.SnapshotDeliveries(ctx, 9*time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("deliveries in the last 9 minutes: %+v %v", got, err)
	}
	if _, err := w.dist.SnapshotDeliveries(ctx, -time.Second); err == nil {
		t.Fatal("a negative window must be refused")
	}
}

// TestDroppedConnectionIsReadAgain: a connection cut in the middle of a result is read again once,
// on a fresh connection, and the result is exactly a clean read's: the rows the failed attempt had
// already delivered are not kept. Each case cuts a different reader, including the second query of
// a multi-query read and a result accumulated into a map.
func TestDroppedConnectionIsReadAgain(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	cases := []struct {
		name  string
		setup func()
		db    *sql.DB
		srv   *tdssim.Server
		rule  tdssim.Rule
		// read returns the result and how many rows the cut query returns on a clean read.
		read func() (any, int, error)
	}{
		{"pending commands", nil, w.dist, w.srv.Source(), tdssim.Rule{SQL: regexp.MustCompile(`MSdistribution_status`), Rows: 3},
			func() (any, int, error) {
				p, err := w.dist.PendingCommands(ctx)
				var total int64
				for _, a := range p {
					total += a.Pending
				}
				if err == nil && total != w.w.TotalPending() {
					return p, len(p), fmt.Errorf("pending commands total %d, world %d", total, w.w.TotalPending())
				}
				return p, len(p), err
			}},
		{"row counts", nil, w.tgt, w.srv.Target(), tdssim.Rule{SQL: regexp.MustCompile(`dm_db_partition_stats`), Rows: 100},
			func() (any, int, error) {
				c, from, err := w.tgt.RowCounts(ctx)
				return struct {
					C    []sql.TableCount
					From sql.CountSource
				}{c, from}, len(c), err
			}},
		{"AX activity, client sessions", nil, w.src, w.srv.Source(), tdssim.Rule{SQL: regexp.MustCompile(`SYSCLIENTSESSIONS`), Rows: 2},
			func() (any, int, error) {
				a, err := w.src.AXActivity(ctx)
				return a, len(a.Clients), err
			}},
		{"agent messages, snapshot agents", nil, w.dist, w.srv.Source(), tdssim.Rule{SQL: regexp.MustCompile(`MSsnapshot_history`), Rows: 1},
			func() (any, int, error) {
				m, err := w.dist.AgentMessages(ctx)
				n := 0
				for _, x := range m {
					if x.Type == sql.SnapshotAgent {
						n++
					}
				}
				return m, n, err
			}},
		{"upgrade batch task histogram", func() {
			if err := w.w.TriggerUpgrade(); err != nil {
				t.Fatal(err)
			}
			w.clk.Advance(3 * time.Hour) // the batch tasks are spread over several statuses
		}, w.tgt, w.srv.Target(), tdssim.Rule{SQL: regexp.MustCompile(`GROUP BY t1\.STATUS`), Rows: 1},
			func() (any, int, error) {
				u, err := w.tgt.Upgrade(ctx)
				return u, len(u.Tasks), err
			}},
		{"pre-flight, fixed drives", nil, w.src, w.srv.Source(), tdssim.Rule{Proc: "master.sys.xp_fixeddrives", Rows: 1},
			func() (any, int, error) {
				p, err := w.src.Preflight(ctx, w.srv.Database(sim.EndpointSource))
				return p, len(p.Drives), err
			}},
	}
	for _, c := range cases {
		if c.setup != nil {
			c.setup()
		}
		clean, rows, err := c.read()
		if err != nil {
			t.Fatalf("%s: clean read: %v", c.name, err)
		}
		if rows <= c.rule.Rows {
			t.Fatalf("%s: the clean read has %d rows, too few to cut after %d", c.name, rows, c.rule.Rows)
		}
		before := c.db.Retries()
		c.rule.Phase, c.rule.Action, c.rule.FirstN = tdssim.PhaseRequest, tdssim.FaultDropAfterRows, 1
		id := c.srv.Faults().MustAdd(c.rule)
		again, _, err := c.read()
		if err != nil {
			t.Fatalf("%s: after a dropped connection: %v", c.name, err)
		}
		if c.srv.Faults().Fired(id) != 1 || c.db.Retries() != before+1 {
			t.Fatalf("%s: fault fired %d times, %d retries (want 1 and 1)", c.name, c.srv.Faults().Fired(id), c.db.Retries()-before)
		}
		if !reflect.DeepEqual(clean, again) {
			t.Fatalf("%s: the retried read differs from a clean read:\nclean %+v\nretry %+v", c.name, clean, again)
		}
	}
	// A deadlock is reported as transient, not retried blindly.
	before := w.dist.Retries()
	w.srv.Source().Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)MSreplication_monitordata`),
		FirstN: 1, Action: tdssim.FaultError, Err: tdssim.DeadlockError()})
	if _, err := w.dist.AgentStates(ctx); !sql.IsTransient(err) || sql.Number(err) != 1205 || !strings.Contains(err.Error(), "agent states") {
		t.Fatalf("deadlock: %v", err)
	}
	if w.dist.Retries() != before {
		t.Fatalf("a deadlock was retried")
	}
}

func TestUpgradeAndPreflight(t *testing.T) {
	w := newWorld(t, sim.Config{Scenarios: sim.ScenarioUpgradeFailure}, sim.ServerConfig{})
	ctx := t.Context()
	u, err := w.tgt.Upgrade(ctx)
	if err != nil || len(u.Status) != 0 {
		t.Fatalf("before the trigger: %+v %v", u, err)
	}
	if err := w.w.TriggerUpgrade(); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(time.Hour)
	u, err = w.tgt.Upgrade(ctx)
	if err != nil || len(u.Status) == 0 || len(u.Servicing) == 0 || u.LastServicing.IsZero() {
		t.Fatalf("an hour in: %+v %v", u, err)
	}
	w.clk.Advance(10 * time.Hour)
	u, _ = w.tgt.Upgrade(ctx)
	if len(u.Errors) == 0 || !w.w.UpgradeState().Failed {
		t.Fatalf("the upgrade-failure scenario must fail with an error row: %+v", u.Errors)
	}
	pf, err := w.src.Preflight(ctx, w.srv.Database(sim.EndpointSource))
	if err != nil {
		t.Fatal(err)
	}
	if !pf.ReplicationInstalled || pf.AgentStatus != "Running" || pf.Database.Owner != "sa" || pf.MaxTextReplSize != -1 || len(pf.Drives) == 0 || pf.Distributor == "" {
		t.Fatalf("preflight %+v", pf)
	}
	if pf.Rights != (sql.LoginRights{Login: sim.User, Sysadmin: true, DBOwner: true, Known: true}) || len(pf.Unavailable) != 0 {
		t.Fatalf("the full-rights login: %+v, unavailable %v", pf.Rights, pf.Unavailable)
	}
	w.w.SetPreflight(func(p *sim.Preflight) { p.ReplicationInstalled = false; p.MaxTextReplSize = 65536 })
	pf, err = w.src.Preflight(ctx, w.srv.Database(sim.EndpointSource))
	if err != nil || pf.ReplicationInstalled || pf.MaxTextReplSize != 65536 {
		t.Fatalf("preflight with problems: %+v %v", pf, err)
	}
}

// TestUpgradeReadAsDocumented: the upgrade's tables are read as monitor-upgrade.md reads them, each
// on its own. Before the trigger they do not exist (208: missing, not an error); the
// synchronizations get the document's phase names; a failed PostSync shows its step and the
// script error picked by column name from the documented example row; one table that cannot be
// read leaves the others' answers standing; after the resume the last servicing step completes it.
func TestUpgradeReadAsDocumented(t *testing.T) {
	w := newWorld(t, sim.Config{Scenarios: sim.ScenarioUpgradeFailure, UpgradeDuration: 2 * time.Hour}, sim.ServerConfig{})
	ctx := t.Context()
	u, err := w.tgt.Upgrade(ctx)
	if err != nil || u.Started() || !u.Answered() || len(u.Missing) != 4 {
		t.Fatalf("before the trigger: started %v, missing %v, %v", u.Started(), u.Missing, err)
	}
	if err := w.w.TriggerUpgrade(); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(10 * time.Minute)
	u, err = w.tgt.Upgrade(ctx)
	cur, ok := u.Current()
	if err != nil || !u.Started() || !ok || cur.Step != "PreReqs" || u.Finished() {
		t.Fatalf("10 minutes in: current %+v %v, %v", cur, ok, err)
	}
	if s, ok := u.RunningSync(); !ok || s.Phase != "PreReqs-AdditiveSync" || s.ActivityID == "" {
		t.Fatalf("the running synchronization: %+v %v", s, ok)
	}
	var failure sql.UpgradeStep
	for i := 0; i < 100; i++ {
		w.clk.Advance(5 * time.Minute)
		if u, err = w.tgt.Upgrade(ctx); err != nil {
			t.Fatal(err)
		}
		if f, ok := u.Failure(); ok {
			failure = f
			break
		}
	}
	if failure.Step != "PostSync" || u.Finished() || len(u.Errors) != 1 {
		t.Fatalf("the failure: %+v, errors %+v", failure, u.Errors)
	}
	e := u.Errors[0]
	if e.Class != "ReleaseUpdateDB10_CaseManagement" || e.Method != "updateCaseCategoryTypeMajor" || e.Company != "DAT" ||
		!strings.HasPrefix(e.Message, "Cannot edit a record in Case category Security by Role (CaseCategoryRole). Category type: None.") {
		t.Fatalf("the script error: %+v", e)
	}
	if got := e.String(); !strings.HasPrefix(got, "ReleaseUpdateDB10_CaseManagement.updateCaseCategoryTypeMajor (DAT): Cannot edit a record") ||
		strings.Contains(got, "\n") {
		t.Fatalf("the script error as one line: %q", got)
	}
	phases := map[string]bool{}
	for _, s := range u.Sync {
		phases[s.Phase] = true
	}
	if !phases["PreReqs-AdditiveSync"] || !phases["PreReqs-PartialSync"] || !phases["DbSync-SyncSchema"] {
		t.Fatalf("synchronization phases: %v", phases)
	}
	// One table that cannot be read does not take the others with it.
	id := w.srv.Target().Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)servicingstep`),
		Action: tdssim.FaultError, Err: tdssim.DeadlockError()})
	u, err = w.tgt.Upgrade(ctx)
	if err == nil || sql.Number(err) != 1205 || !u.Answered() || u.Unread["servicing steps"] == nil || len(u.Status) == 0 || len(u.Errors) != 1 {
		t.Fatalf("with SERVICINGSTEP failing: %v; unread %v, %d status rows, %d errors", err, u.Unread, len(u.Status), len(u.Errors))
	}
	w.srv.Target().Faults().Remove(id)
	if err := w.w.ResumeUpgrade(); err != nil {
		t.Fatal(err)
	}
	w.clk.Advance(3 * time.Hour)
	u, err = w.tgt.Upgrade(ctx)
	if _, failed := u.Failure(); err != nil || !u.Finished() || failed || u.Percent() != 100 {
		t.Fatalf("after the resume: finished %v, failed %v, %.0f%%, %v", u.Finished(), failed, u.Percent(), err)
	}
	phases = map[string]bool{}
	for _, s := range u.Sync {
		phases[s.Phase] = true
	}
	if !phases["FinalDBSync-SyncSchema"] || len(phases) != 4 {
		t.Fatalf("synchronization phases at the end: %v", phases)
	}
}

// TestPreflightWithTheReaderLogin: a login without sysadmin or VIEW SERVER STATE still gets every
// check it may run; the rights check says it is not sysadmin, the SQL Server Agent check (which
// needs VIEW SERVER STATE) is listed as unavailable with the permission error, and so is the
// database size: sys.master_files shows a login without CREATE DATABASE, ALTER ANY DATABASE or
// VIEW ANY DEFINITION none of the files, and a size of 0 would pass any disk check.
func TestPreflightWithTheReaderLogin(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	cfg := w.config(sim.EndpointSource)
	cfg.User = sim.ReaderUser
	reader := w.open(t, cfg)
	pf, err := reader.Preflight(t.Context(), w.srv.Database(sim.EndpointSource))
	if err != nil {
		t.Fatal(err)
	}
	if pf.Rights != (sql.LoginRights{Login: sim.ReaderUser, Known: true}) {
		t.Fatalf("rights of the reader: %+v", pf.Rights)
	}
	agent, ok := pf.Unavailable["SQL Server Agent"]
	if !ok || !sql.IsPermission(agent) || sql.Number(agent) != 297 || pf.AgentStatus != "" || len(pf.Unavailable) != 2 {
		t.Fatalf("unavailable %v, agent status %q", pf.Unavailable, pf.AgentStatus)
	}
	if size, ok := pf.Unavailable["database size"]; !ok || !strings.Contains(size.Error(), "VIEW ANY DEFINITION") || pf.Database.SizeKnown {
		t.Fatalf("the hidden database size: %v, %+v", size, pf.Database)
	}
	if pf.Server.ProductVersion == "" || !pf.ReplicationInstalled || pf.Database.Owner != "sa" || len(pf.Drives) == 0 || pf.Distributor == "" {
		t.Fatalf("the checks the reader may run: %+v", pf)
	}
}

// TestPreflightWithoutSQLServerAgent: sys.dm_server_services has no SQL Server Agent row on an
// edition without Agent (its page does not give the service's name either): the check is
// unavailable with the reason, not an empty status.
func TestPreflightWithoutSQLServerAgent(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	w.w.SetPreflight(func(p *sim.Preflight) { p.AgentStatus = "" })
	pf, err := w.src.Preflight(t.Context(), w.srv.Database(sim.EndpointSource))
	if err != nil {
		t.Fatal(err)
	}
	if agent, ok := pf.Unavailable["SQL Server Agent"]; !ok || !strings.Contains(agent.Error(), "no SQL Server Agent") || pf.AgentStatus != "" {
		t.Fatalf("unavailable %v, agent status %q", pf.Unavailable, pf.AgentStatus)
	}
	if !pf.Database.SizeKnown || pf.Database.SizeBytes <= 0 || len(pf.Unavailable) != 1 {
		t.Fatalf("the full-rights login sees the size: %+v %v", pf.Database, pf.Unavailable)
	}
}

// TestPreflightRoleMembershipHidden: IS_SRVROLEMEMBER returns NULL, not 0, for a membership the
// login may not view (is-srvrolemember-transact-sql.md): the rights are unknown, not "not sysadmin".
func TestPreflightRoleMembershipHidden(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	w.w.SetPreflight(func(p *sim.Preflight) { p.HideRoleMembership = true })
	pf, err := w.src.Preflight(t.Context(), w.srv.Database(sim.EndpointSource))
	if err != nil {
		t.Fatal(err)
	}
	if pf.Rights.Known || pf.Rights.Login != sim.User {
		t.Fatalf("rights %+v", pf.Rights)
	}
	if why, ok := pf.Unavailable["login rights"]; !ok || !strings.Contains(why.Error(), "returned NULL") || len(pf.Unavailable) != 1 {
		t.Fatalf("unavailable %v", pf.Unavailable)
	}
}

func TestTLSWithAPinnedCertificate(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{TLS: true})
	cfg := w.config(sim.EndpointTarget)
	cfg.Encrypt, cfg.Certificate = sql.EncryptTrue, w.srv.CertFile()
	db := w.open(t, cfg)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatalf("encrypt=true with the pinned certificate: %v", err)
	}
	cfg.Certificate = ""
	if err := w.open(t, cfg).Ping(t.Context()); err == nil {
		t.Fatal("an unknown certificate must be refused")
	}
}

// TestUserSessionsAsDocumented: sys.dm_exec_sessions.program_name is nullable, so a session that
// sent no program name (the simulated warehouse integration) is listed, while cutover's own
// sessions are not; a login without VIEW SERVER STATE sees only its own session, which must fail
// as a permission error instead of reading as "nobody connected"
// (sql-docs: docs/relational-databases/system-dynamic-management-views/sys-dm-exec-sessions-transact-sql.md).
func TestUserSessionsAsDocumented(t *testing.T) {
	w := newWorld(t, sim.Config{}, sim.ServerConfig{})
	ctx := t.Context()
	// A second connection of cutover's pool: another session named cutover on the same database.
	busy, err := w.src.AXActivity(ctx)
	if err != nil || len(busy.Servers) == 0 {
		t.Fatalf("activity %v", err)
	}
	sessions, err := w.src.UserSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var integration bool
	for _, s := range sessions {
		if s.Program == "cutover" {
			t.Errorf("cutover's own session %d is listed", s.ID)
		}
		if s.Login == `CONTOSO\svc-wms` && s.Program == "" && s.Host == "WMS-APP02" {
			integration = true
		}
	}
	if !integration {
		t.Fatalf("the session without a program name is missing: %+v", sessions)
	}
	cfg := w.config(sim.EndpointSource)
	cfg.User = sim.ReaderUser
	reader := w.open(t, cfg)
	got, err := reader.UserSessions(ctx)
	if !errors.Is(err, sql.ErrSessionsHidden) || !sql.IsPermission(err) || got != nil {
		t.Fatalf("the reader login: %v %v", got, err)
	}
}

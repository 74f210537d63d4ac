package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"cutover/engine"
)

const replConnections = `connections:
  source: {server: 127.0.0.1, database: MicrosoftDynamicsAX, auth: windows}
  distribution: {server: 127.0.0.1, database: distribution, auth: windows}
  target: {server: 127.0.0.1, database: AxDB, auth: windows}
`

func TestReplicationHealthyWaitsForAStablePeriod(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: healthy, title: Replication healthy, kind: replication.healthy, with: {max_pending: 50000, stable_for: 2m, check_every: 15s}}
`, func(t *testing.T, h *harness) {
		start := time.Now()
		h.opts.Ports.Replication = newFakeReplicationAt(time.Now)
		h.opts.Ports.Setup = healthySetup()
		h.opts.Monitor = engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: 15 * time.Second}
		h.start()
		st := h.waitStep("healthy", engine.StateSucceeded)
		// 90,000 pending at 100/s is under 50,000 after 400s; then two stable minutes.
		if took := st.Finished.Sub(start); took < 520*time.Second || took > 560*time.Second {
			t.Fatalf("healthy after %v, want about 8m40s", took)
		}
		if !strings.Contains(st.Message, "healthy for 2m") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

func TestReplicationHealthyNamesAFailingAgent(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: healthy, title: Replication healthy, kind: replication.healthy, timeout: 3m, with: {max_pending: 1000000, stable_for: 1m}}
`, func(t *testing.T, h *harness) {
		src := newFakeReplicationAt(time.Now)
		src.agents = []engine.Agent{{Publication: "AX_PUB_PkTable_3", Name: "dist-3", Kind: engine.AgentDistribution, Status: engine.AgentFailed, Error: "The process could not connect to Subscriber"}}
		h.opts.Ports.Replication = src
		h.opts.Ports.Setup = healthySetup()
		h.start()
		st := h.waitStep("healthy", engine.StateFailed)
		if !strings.Contains(st.LastError, "distribution agent dist-3 (AX_PUB_PkTable_3) is failed: The process could not connect to Subscriber") {
			t.Fatalf("error %q", st.LastError)
		}
	})
}

// fakeTracers arrive when told.
type fakeTracers struct {
	mu      sync.Mutex
	posted  map[string]int
	arrived bool
	next    int
}

func (f *fakeTracers) TransactionalPublications(context.Context) ([]string, error) {
	return []string{"AX_PUB_PkTable_1", "AX_PUB_PkTable_2"}, nil
}
func (f *fakeTracers) Post(_ context.Context, pub string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.posted[pub] = f.next
	return f.next, nil
}
func (f *fakeTracers) Arrived(_ context.Context, pub string, id int) (bool, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.posted[pub] != id {
		return false, 0, errors.New("unknown token")
	}
	return f.arrived, 3 * time.Second, nil
}

// drainWorld is every drain condition, each switchable.
type drainWorld struct {
	h         *harness
	svc       *fakeServices
	ax        *fakeAX
	tracers   *fakeTracers
	repl      *fakeReplication
	lastWrite time.Time
	mu        sync.Mutex
}

func (w *drainWorld) Activity(ctx context.Context) (engine.AXActivity, error) {
	return w.ax.Activity(ctx)
}
func (w *drainWorld) LastWrite(context.Context) (time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastWrite, nil
}
func (w *drainWorld) NewestReplicated(context.Context) (time.Time, error) { return time.Time{}, nil }

func newDrainWorld(h *harness) *drainWorld {
	w := &drainWorld{h: h, svc: newFakeServices(), tracers: &fakeTracers{posted: map[string]int{}, arrived: true}}
	w.svc.state["AX-AOS01/AOS60$01"] = engine.ServiceStopped
	w.ax = &fakeAX{svc: w.svc}
	w.repl = newFakeReplicationAt(time.Now)
	w.repl.pending = map[string]int64{}
	h.opts.Ports = engine.Ports{Replication: w.repl, AX: w, Services: w.svc, Tracers: w.tracers}
	h.opts.Monitor = engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: 15 * time.Second}
	return w
}

const drainRunbook = "name: t\n" + replConnections + `aos:
  control: command
  stop: [sc.exe, '\\{host}', stop, '{service}']
  query: [sc.exe, '\\{host}', query, '{service}']
  stopped_pattern: STOPPED
  instances: [{host: AX-AOS01, service: AOS60$01}]
steps:
  - {id: drain, title: Replication drained, kind: replication.drain, with: {quiet_for: 2m, check_every: 15s}}
`

func TestDrainGateOpensOnlyWhenEveryConditionHolds(t *testing.T) {
	cases := []struct {
		name    string
		block   func(w *drainWorld)
		unblock func(w *drainWorld)
		want    string
	}{
		{"an AOS still running", func(w *drainWorld) { w.svc.state["AX-AOS01/AOS60$01"] = engine.ServiceRunning },
			func(w *drainWorld) {
				w.svc.mu.Lock()
				w.svc.state["AX-AOS01/AOS60$01"] = engine.ServiceStopped
				w.svc.mu.Unlock()
			}, "AOS60$01 on AX-AOS01 (running) not stopped"},
		{"an AOS session left in AX", func(w *drainWorld) { w.ax.stale = 1 << 30 },
			func(w *drainWorld) { w.svc.mu.Lock(); w.ax.stale = 0; w.svc.mu.Unlock() }, "1 AOS server session(s) active: 01@AX-AOS01 (draining)"},
		{"a session marked for kill, still ending", func(w *drainWorld) {
			w.ax.left.Users = []engine.AXUser{{User: "bob", Ending: true, Status: "marked for kill"}}
		}, func(w *drainWorld) { w.svc.mu.Lock(); w.ax.left.Users = nil; w.svc.mu.Unlock() }, "1 client session(s) active (1 marked for kill, still ending)"},
		{"batch tasks cancelling", func(w *drainWorld) { w.ax.left.ExecutingTasks, w.ax.left.CancellingTasks = 3, 2 },
			func(w *drainWorld) { w.svc.mu.Lock(); w.ax.left = engine.AXActivity{}; w.svc.mu.Unlock() }, "3 batch task(s) executing (2 cancelling, still ending)"},
		{"writes still happening", func(w *drainWorld) { w.lastWrite = time.Now().Add(time.Hour) },
			func(w *drainWorld) { w.mu.Lock(); w.lastWrite = time.Now().Add(-time.Hour); w.mu.Unlock() }, "last write"},
		{"tracer token not arrived", func(w *drainWorld) { w.tracers.arrived = false },
			func(w *drainWorld) { w.tracers.mu.Lock(); w.tracers.arrived = true; w.tracers.mu.Unlock() }, "not arrived on AX_PUB_PkTable_1, AX_PUB_PkTable_2"},
		{"commands pending", func(w *drainWorld) { w.repl.pending, w.repl.rate = map[string]int64{"INVENTTRANS": 6000}, 0 },
			func(w *drainWorld) { w.repl.mu.Lock(); w.repl.pending = map[string]int64{}; w.repl.mu.Unlock() }, "6000 commands pending"},
		{"an agent in error", func(w *drainWorld) {
			w.repl.agents = []engine.Agent{{Publication: "AX_PUB_PkTable_1", Name: "dist-1", Kind: engine.AgentDistribution, Status: engine.AgentRetrying, Message: "retrying"}}
		}, func(w *drainWorld) { w.repl.mu.Lock(); w.repl.agents = nil; w.repl.mu.Unlock() }, "dist-1 (AX_PUB_PkTable_1) is retrying"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inBubble(t, drainRunbook, func(t *testing.T, h *harness) {
				w := newDrainWorld(h)
				w.lastWrite = time.Now().Add(-time.Hour)
				c.block(w)
				h.start()
				// Ten minutes of checks: the gate stays closed and says why.
				time.Sleep(10 * time.Minute)
				synctest.Wait()
				if st := h.state("drain"); st != engine.StateRunning {
					t.Fatalf("the gate opened (%s) while %s", st, c.name)
				}
				var said bool
				for _, l := range h.e.Logs(1000, "drain") {
					said = said || strings.Contains(l.Msg, c.want)
				}
				if !said {
					t.Fatalf("the gate does not say %q:\n%v", c.want, h.e.Logs(20, "drain"))
				}
				if c.unblock != nil {
					c.unblock(w)
				}
				h.waitStep("drain", engine.StateSucceeded)
			})
		})
	}
}

func TestDrainPostsTracersOnlyAfterShutdown(t *testing.T) {
	inBubble(t, drainRunbook, func(t *testing.T, h *harness) {
		w := newDrainWorld(h)
		w.svc.state["AX-AOS01/AOS60$01"] = engine.ServiceRunning
		h.start()
		time.Sleep(time.Minute)
		synctest.Wait()
		w.tracers.mu.Lock()
		posted := len(w.tracers.posted)
		w.tracers.mu.Unlock()
		if posted != 0 {
			t.Fatal("tracer tokens posted while an AOS still runs")
		}
		w.svc.mu.Lock()
		w.svc.state["AX-AOS01/AOS60$01"] = engine.ServiceStopped
		w.svc.mu.Unlock()
		st := h.waitStep("drain", engine.StateSucceeded)
		if !strings.Contains(st.Message, "2 tracer token(s) arrived") || !strings.Contains(st.Message, "0 commands pending") {
			t.Fatalf("message %q", st.Message)
		}
		var recorded bool
		for _, r := range h.records() {
			var p engine.External
			if r.Type == string(engine.RecExternal) && r.Decode(&p) == nil && p.Ref["tracer:AX_PUB_PkTable_1"] != "" {
				recorded = true
			}
		}
		if !recorded {
			t.Fatal("tracer token ids must be journaled before they are awaited")
		}
	})
}

// TestReplicationHealthyDoesNotTrustAStaleMonitorCache: agent states read every cycle but from
// Replication Monitor's cache refreshed long ago are old figures: the step holds back, saying so
// and naming the refresher job, and the picture's agent time is the cache's, not the read's.
func TestReplicationHealthyDoesNotTrustAStaleMonitorCache(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: healthy, title: Replication healthy, kind: replication.healthy, with: {max_pending: 1000000, stable_for: 1m, max_age: 5m}}
`, func(t *testing.T, h *harness) {
		src := newFakeReplicationAt(time.Now)
		src.agents = []engine.Agent{{Publication: "AX_PUB_PkTable_1", Name: "dist-1", Kind: engine.AgentDistribution, Status: engine.AgentIdle,
			CacheAge: 20 * time.Minute}}
		h.opts.Ports.Replication = src
		h.opts.Ports.Setup = healthySetup()
		h.start()
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if st := h.state("healthy"); st != engine.StateRunning {
			t.Fatalf("a cache 20 minutes old was trusted: %s", st)
		}
		v := h.e.Replication()
		if age := time.Since(v.AgentsAt); age < 20*time.Minute || v.AgentsCacheAge != 20*time.Minute {
			t.Fatalf("the picture's agents are %v old (cache %v): the cache's age must carry through", age, v.AgentsCacheAge)
		}
		src.mu.Lock()
		src.agents[0].CacheAge = 10 * time.Second
		src.mu.Unlock()
		st := h.waitStep("healthy", engine.StateSucceeded)
		if !strings.Contains(st.Message, "healthy for 1m") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

// TestMonitorBlockersNameTheRefresher: when the cache's age is what makes the agent states old,
// the blocker says so.
func TestMonitorBlockersNameTheRefresher(t *testing.T) {
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: healthy, title: Replication healthy, kind: replication.healthy, timeout: 10m, with: {max_pending: 1000000, stable_for: 1m, max_age: 5m}}
`, func(t *testing.T, h *harness) {
		src := newFakeReplicationAt(time.Now)
		src.agents = []engine.Agent{{Publication: "AX_PUB_PkTable_1", Name: "dist-1", Kind: engine.AgentDistribution, Status: engine.AgentIdle,
			CacheAge: time.Hour}}
		h.opts.Ports.Replication = src
		h.opts.Ports.Setup = healthySetup()
		h.start()
		st := h.waitStep("healthy", engine.StateFailed)
		for _, want := range []string{"agent states are 1h", "Replication Monitor cache was 1h00m old when read", "Replication monitoring refresher for distribution"} {
			if !strings.Contains(st.LastError, want) {
				t.Errorf("error lacks %q: %s", want, st.LastError)
			}
		}
	})
}

// fakeSetup is the replication setup as the servers would answer: publications with their
// subscriptions and agents, what is left after its removal, and read errors.
type fakeSetup struct {
	mu      sync.Mutex
	pubs    []engine.PublicationSetup
	err     error
	left    engine.SetupLeft
	leftErr error
	reads   int
}

// healthySetup has two primary-key publications, each with its active subscription.
func healthySetup() *fakeSetup {
	f := &fakeSetup{}
	for _, n := range []string{"AX_PUB_PkTable_1", "AX_PUB_PkTable_2"} {
		f.pubs = append(f.pubs, activePublication(n))
	}
	return f
}

func activePublication(name string) engine.PublicationSetup {
	return engine.PublicationSetup{Name: name,
		Subscriptions: []engine.SubscriptionArticles{{SubscriberDB: "AxDB", State: engine.SubscriptionActive, Status: 2, Articles: 120}},
		Snapshot:      engine.AgentRun{Status: engine.AgentSucceeded, At: t0.Add(-72 * time.Hour), Message: "[100%] A snapshot of 120 article(s) was generated."}}
}

func (f *fakeSetup) Setup(context.Context) ([]engine.PublicationSetup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	return append([]engine.PublicationSetup(nil), f.pubs...), nil
}

func (f *fakeSetup) Left(context.Context) (engine.SetupLeft, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.left, f.leftErr
}

func (f *fakeSetup) set(change func(f *fakeSetup)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

// TestReplicationHealthyNeedsPublicationsAndInitializedSubscriptions: with nothing pending and
// every agent fine, replication.healthy still holds back while no publication exists, while a
// publication's snapshot was never started (its subscription "needs to be initialized"), and while
// the setup cannot be read; each time it says why and how to fix it. Only then do the figures count.
func TestReplicationHealthyNeedsPublicationsAndInitializedSubscriptions(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fakeSetup)
		want  []string
	}{
		{"no publication", func(f *fakeSetup) { f.pubs = nil },
			[]string{"no publication exists", "«Replication: Setup Publication for Primary Key (PK) Tables»"}},
		{"only other publications", func(f *fakeSetup) { f.pubs = []engine.PublicationSetup{activePublication("AX_PUB_OtherObjects")} },
			[]string{"no publication named AX_PUB_PkTable_* (there are: AX_PUB_OtherObjects)"}},
		{"a snapshot never started", func(f *fakeSetup) {
			f.pubs[1].Subscriptions[0].State, f.pubs[1].Subscriptions[0].Status = engine.SubscriptionAwaitingSnapshot, 1
			f.pubs[1].Snapshot = engine.AgentRun{}
		}, []string{"AX_PUB_PkTable_2: its snapshot was never started", "on the Agents tab", "snapshot agent of AX_PUB_PkTable_2 and select Start",
			"start one snapshot at a time", "Delivered snapshot"}},
		{"a failed snapshot", func(f *fakeSetup) {
			f.pubs[0].Subscriptions[0].State = engine.SubscriptionAwaitingSnapshot
			f.pubs[0].Snapshot = engine.AgentRun{Status: engine.AgentFailed, At: t0, Message: "The process could not bulk copy out of table"}
		}, []string{"AX_PUB_PkTable_1: its snapshot failed", "select Start agent (troubleshoot-self-service-env.md, scenario 3)"}},
		{"prefetch objects failed", func(f *fakeSetup) {
			f.pubs[0].Subscriptions[0].State = engine.SubscriptionAwaitingSnapshot
			f.pubs[0].Snapshot = engine.AgentRun{Status: engine.AgentFailed, At: t0, Message: "Message: Prefetch objects failed for Database 'MicrosoftDynamicsAX'."}
		}, []string{"select Generate Snapshot (troubleshoot-self-service-env.md, scenario 11)"}},
		{"waiting for the snapshot for hours", func(f *fakeSetup) {
			f.pubs[0].Subscriptions[0].State = engine.SubscriptionAwaitingSnapshot
			f.pubs[0].Snapshot.At = time.Now().Add(-3 * time.Hour)
			f.pubs[0].Distribution = engine.AgentRun{Status: engine.AgentIdle, At: time.Now(), Message: "Waiting for snapshot to complete"}
		}, []string{"still not applied after", "Reinitialize Subscription (troubleshoot-self-service-env.md, scenario 9)"}},
		{"an inactive subscription", func(f *fakeSetup) {
			f.pubs[0].Subscriptions[0].State, f.pubs[0].Subscriptions[0].Status = engine.SubscriptionInactive, 0
		},
			[]string{"AX_PUB_PkTable_1: the subscription of AxDB is inactive", "Reinitialize Subscription"}},
		{"no subscription", func(f *fakeSetup) { f.pubs[0].Subscriptions = nil }, []string{"AX_PUB_PkTable_1 has no subscription"}},
		{"a read error", func(f *fakeSetup) { f.err = errors.New("distribution: i/o timeout") },
			[]string{"could not read the publications and their subscriptions: distribution: i/o timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: healthy, title: Replication healthy, kind: replication.healthy, timeout: 30m, with: {max_pending: 1000, stable_for: 5m}}
`, func(t *testing.T, h *harness) {
				src := newFakeReplicationAt(time.Now)
				src.pending = map[string]int64{} // 0 pending: the figures alone read healthy
				setup := healthySetup()
				setup.set(c.setup)
				h.opts.Ports.Replication, h.opts.Ports.Setup = src, setup
				h.opts.Monitor = engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: 15 * time.Second}
				h.start()
				st := h.waitStep("healthy", engine.StateFailed)
				for _, w := range c.want {
					if !strings.Contains(st.LastError, w) {
						t.Errorf("the error lacks %q:\n%s", w, st.LastError)
					}
				}
			})
		})
	}
	// Fixed while the step waits: it passes once the subscription is active and stays so.
	inBubble(t, "name: t\n"+replConnections+`steps:
  - {id: healthy, title: Replication healthy, kind: replication.healthy, with: {max_pending: 1000, stable_for: 5m, publications: [AX_PUB_PkTable_*, AX_PUB_OtherObjects]}}
`, func(t *testing.T, h *harness) {
		src := newFakeReplicationAt(time.Now)
		src.pending = map[string]int64{}
		setup := healthySetup()
		setup.pubs = append(setup.pubs, activePublication("AX_PUB_OtherObjects"))
		setup.pubs[1].Subscriptions[0].State = engine.SubscriptionAwaitingSnapshot
		setup.pubs[1].Snapshot = engine.AgentRun{}
		h.opts.Ports.Replication, h.opts.Ports.Setup = src, setup
		h.opts.Monitor = engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: 15 * time.Second}
		h.start()
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := h.state("healthy"); st != engine.StateRunning {
			t.Fatalf("healthy with a snapshot never started: %s", st)
		}
		start := time.Now()
		setup.set(func(f *fakeSetup) { f.pubs[1] = activePublication("AX_PUB_PkTable_2") })
		st := h.waitStep("healthy", engine.StateSucceeded)
		if took := st.Finished.Sub(start); took < 5*time.Minute || took > 6*time.Minute {
			t.Fatalf("healthy %v after the fix, want the 5m stable period", took)
		}
		if !strings.Contains(st.Action, "publications AX_PUB_PkTable_*, AX_PUB_OtherObjects exist, every subscription is active") {
			t.Fatalf("the action must say what it requires: %q", st.Action)
		}
	})
}

// TestPublicationPatterns: '*' matches any run of characters, case aside; an empty or all-star
// pattern is refused at load time.
func TestPublicationPatterns(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: x, title: X, kind: manual}\n")
	h.src = "name: t\n" + replConnections + "steps:\n  - {id: h, title: H, kind: replication.healthy, with: {publications: ['*']}}\n"
	if _, err := loadErr(h); err == nil || !strings.Contains(err.Error(), `publications: "*" matches any name`) {
		t.Fatalf("an all-star pattern: %v", err)
	}
}

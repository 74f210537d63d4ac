package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"cutover/engine"
	"cutover/engine/runbook"
)

// fixedNow is the fixture's clock: 21:10 on cutover night.
var fixedNow = time.Date(2026, 12, 5, 21, 10, 0, 0, time.UTC)

// fakeEngine is a cutover in flight with fixed figures, for layout tests and benchmarks of the
// cockpit alone. Flows that must reach a real engine use engine.Engine instead.
type fakeEngine struct {
	mu    sync.Mutex
	snap  engine.Snapshot
	repl  *engine.ReplicationView
	val   *engine.Validation
	logs  []engine.LogLine
	calls []string
	ch    chan engine.Event
	// stateDir is where the cockpit may write (the saved log); tests that save set a temporary one.
	stateDir string
}

func (f *fakeEngine) Snapshot() engine.Snapshot { return f.snap }
func (f *fakeEngine) Subscribe(ctx context.Context) (engine.Snapshot, <-chan engine.Event) {
	return f.snap, f.ch
}
func (f *fakeEngine) Now() time.Time                       { return fixedNow }
func (f *fakeEngine) Replication() *engine.ReplicationView { return f.repl }
func (f *fakeEngine) Validation() *engine.Validation       { return f.val }
func (f *fakeEngine) Logs(n int, step string) []engine.LogLine {
	if len(f.logs) > n {
		return f.logs[len(f.logs)-n:]
	}
	return f.logs
}
func (f *fakeEngine) Running() []string { return nil }
func (f *fakeEngine) Drain()            { f.call("drain") }
func (f *fakeEngine) StateDir() string {
	if f.stateDir == "" {
		return "/nonexistent/cutover-test-state" // a test that writes must give a directory
	}
	return f.stateDir
}
func (f *fakeEngine) call(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}
func (f *fakeEngine) Confirm(step string, request uint64, a engine.Actor, phrase string) (engine.ConfirmResult, error) {
	f.call(fmt.Sprintf("confirm %s %s %q", step, a.Name, phrase))
	if st, ok := f.snap.Step(step); ok && st.Confirmation != nil && st.Confirmation.Phrase != phrase {
		return engine.ConfirmResult{Needed: 1}, fmt.Errorf("step %s: %w: type exactly %q", step, engine.ErrWrongPhrase, st.Confirmation.Phrase)
	}
	return engine.ConfirmResult{Count: 1, Needed: 1, Satisfied: true}, nil
}

func (f *fakeEngine) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}
func (f *fakeEngine) Decline(step string, request uint64, a engine.Actor, reason string) error {
	f.call("decline " + step + " " + reason)
	return nil
}
func (f *fakeEngine) Skip(step string, a engine.Actor, reason, phrase string) (engine.ConfirmResult, error) {
	f.call("skip " + step + " " + reason)
	return engine.ConfirmResult{Count: 1, Needed: 1, Satisfied: true}, nil
}
func (f *fakeEngine) MarkDone(step string, a engine.Actor, reason, phrase string) (engine.ConfirmResult, error) {
	f.call("done " + step + " " + reason)
	return engine.ConfirmResult{Count: 1, Needed: 1, Satisfied: true}, nil
}
func (f *fakeEngine) WithdrawOverride(step string, request uint64, a engine.Actor, reason string) error {
	f.call("withdraw " + step + " " + reason)
	return nil
}
func (f *fakeEngine) Retry(step string, a engine.Actor) error { f.call("retry " + step); return nil }
func (f *fakeEngine) Abort(step string, a engine.Actor, reason string) error {
	f.call("abort " + step + " " + reason)
	return nil
}
func (f *fakeEngine) Pause(a engine.Actor, reason string) error {
	f.call("pause " + reason)
	return nil
}
func (f *fakeEngine) Resume(a engine.Actor) error { f.call("resume"); return nil }
func (f *fakeEngine) Recount(ctx context.Context, table string, a engine.Actor) (engine.TableCheck, error) {
	f.call("recount " + table)
	return engine.TableCheck{Table: table, Class: engine.ClassMatch, Exact: true}, nil
}
func (f *fakeEngine) Hold(step string, a engine.Actor) error {
	if st, ok := f.snap.Step(step); ok && st.Confirmation != nil && st.Confirmation.HeldBy != nil && st.Confirmation.HeldBy.Actor.ID() != a.ID() && time.Now().Before(st.Confirmation.HeldBy.Until) {
		return fmt.Errorf("step %s: %w: %s", step, engine.ErrHeld, st.Confirmation.HeldBy.Actor)
	}
	return nil
}
func (f *fakeEngine) Release(step string, a engine.Actor) {}
func (f *fakeEngine) ReleaseAll(a engine.Actor)           {}
func (f *fakeEngine) RefreshNow()                         { f.call("refresh") }
func (f *fakeEngine) RecordAccess(c engine.AccessChanged) error {
	f.call("access " + c.Text())
	return nil
}
func (f *fakeEngine) SetPollIntervals(interval, backlog time.Duration) {
	f.call(fmt.Sprintf("interval %s %s", interval, backlog))
}

// fixtureSteps is Microsoft's sequence mid-cutover: the AOS stop waits for its confirmation,
// batch jobs were held by hand, a toolkit step failed once.
// fixtureUsers are the 59 users still connected to AX before the AOS stop, as the engine gives
// them with the confirmation request (longest connected first).
var fixtureUsers = func() engine.ConfirmList {
	l := engine.ConfirmList{Name: "users still connected", Head: "users still connected: 59"}
	for i := range 59 {
		l.Items = append(l.Items, fmt.Sprintf("user%02d on WKS-%04d since %02d:%02d", i+1, 7000+13*i, 14+i/60, i%60))
	}
	return l
}()

func fixtureSteps() []engine.StepView {
	t := func(min int) time.Time { return fixedNow.Add(time.Duration(min) * time.Minute) }
	ana := engine.Actor{Name: "ana", Origin: "ssh 10.0.0.5", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	done := func(id, title, phase string, started, finished int, planned time.Duration) engine.StepView {
		return engine.StepView{ID: id, Title: title, Phase: phase, Kind: "manual", State: engine.StateSucceeded, Attempt: 1, MaxAttempts: 1,
			FirstStarted: t(started), Started: t(started), Finished: t(finished), Planned: planned, Message: "done"}
	}
	steps := []engine.StepView{
		done("preflight", "Pre-flight checks", "Before downtime", -130, -128, 10*time.Minute),
		done("replication-healthy", "Replication healthy and caught up", "Before downtime", -128, -120, 15*time.Minute),
		{ID: "downtime-go", Title: "Downtime go/no-go", Phase: "Before downtime", Kind: "gate", Mode: engine.ModeGate, State: engine.StateSucceeded,
			Finished: t(-60), Planned: 5 * time.Minute, ConfirmedBy: []engine.Approval{{Actor: ana, At: t(-60)}}},
		{ID: "hold-batch", Title: "Hold batch jobs", Phase: "Shutdown", Kind: "manual", Mode: engine.ModeManual, State: engine.StateSucceeded,
			FirstStarted: t(-60), Started: t(-60), Finished: t(-45), Planned: 10 * time.Minute, By: &ana, Reason: "47 jobs withheld"},
		{ID: "stop-integrations", Title: "Stop integrations", Phase: "Shutdown", Kind: "manual", Mode: engine.ModeManual, State: engine.StateRunning,
			FirstStarted: t(-60), Started: t(-60), Planned: 10 * time.Minute, Action: "Deactivate the AIF ports."},
		{ID: "aos-stop", Title: "Shut down all AX 2012 AOS instances", Phase: "Shutdown", Kind: "aos.stop", Destructive: true, State: engine.StateAwaiting,
			After: []string{"hold-batch", "stop-integrations"}, Planned: 15 * time.Minute,
			Confirmation: &engine.ConfirmationView{Request: 41, Phrase: "STOP AOS", Needed: 1, Since: t(-3),
				Action: "stop AOS60$01 on AX-AOS01, AOS60$01 on AX-AOS02, AOS60$01 on AX-BATCH01; wait up to 15m for each to report stopped\n" +
					"AOS60$01 on AX-AOS01: running\nAOS60$01 on AX-AOS02: running\nAOS60$01 on AX-BATCH01: running\n" +
					"batch jobs executing: 1 (Master planning - net requirements)\n" + fixtureUsers.Text(engine.ConfirmListShown),
				Lists: []engine.ConfirmList{fixtureUsers}}},
		{ID: "replication-drain", Title: "Replication drained", Phase: "Drain and validate", Kind: "replication.drain", State: engine.StatePending,
			After: []string{"aos-stop"}, Planned: 20 * time.Minute},
		{ID: "toolkit-nopk", Title: "Toolkit: Cutover: Setup Publication for Non PK Tables", Phase: "Drain and validate", Kind: "toolkit",
			State: engine.StateFailed, Attempt: 1, MaxAttempts: 1, FirstStarted: t(-20), Started: t(-20), Finished: t(-5), Planned: 30 * time.Minute,
			LastError: "AX_PUB_NoPKTable does not exist after 15m: run «Cutover: Setup Publication for Non PK Tables» in DataMigrationTool.exe"},
		{ID: "validate-counts", Title: "Validate record counts", Phase: "Drain and validate", Kind: "validate.counts", State: engine.StatePending,
			After: []string{"toolkit-nopk"}, Planned: 15 * time.Minute},
		{ID: "production-refresh", Title: "LCS: refresh production from the upgraded sandbox", Phase: "Production", Kind: "lcs.refresh",
			Destructive: true, State: engine.StatePending, After: []string{"validate-counts"}, Planned: time.Hour},
		{ID: "reopen", Title: "Reopen to users", Phase: "Go live", Kind: "gate", Mode: engine.ModeGate, State: engine.StatePending,
			After: []string{"production-refresh"}, Planned: 5 * time.Minute},
	}
	// The engine's guard: gates, destructive steps and those with confirm:/approvals:.
	guard := func(id, phrase string, needed int) *engine.GuardView {
		return &engine.GuardView{Needed: needed, Phrase: phrase, Skip: "SKIP " + id, Done: "DONE " + id}
	}
	for i := range steps {
		switch st := &steps[i]; st.ID {
		case "downtime-go", "reopen":
			st.Guard = guard(st.ID, st.ID, 1)
		case "aos-stop":
			st.Guard = guard(st.ID, "STOP AOS", 1)
		case "production-refresh":
			st.Guard = guard(st.ID, "REFRESH PRODUCTION", 2)
		}
	}
	return steps
}

// fixtureReplication is a picture of n tables: most drained, some still pending, one failing
// agent, a few figures stale because the target stopped answering.
func fixtureReplication(n int) *engine.ReplicationView {
	v := &engine.ReplicationView{At: fixedNow.Add(-10 * time.Second), PendingAt: fixedNow.Add(-40 * time.Second), AgentsAt: fixedNow.Add(-10 * time.Second),
		DrainRate: 1480, ETA: 2*time.Minute + 5*time.Second, Cycles: 40}
	pubs := []string{"AX_PUB_PkTable_1", "AX_PUB_PkTable_2", "AX_PUB_PkTable_3", "AX_PUB_OtherObjects"}
	prefixes := []string{"INVENT", "SALES", "CUST", "VEND", "LEDGER", "PROJ", "HCM", "WHS", "PURCH", "BANK"}
	suffixes := []string{"TRANS", "TABLE", "LINE", "JOUR", "SETTLEMENT", "POSTING", "SUM", "ITEM"}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("dbo.%s%s%d", prefixes[i%len(prefixes)], suffixes[(i/len(prefixes))%len(suffixes)], i/(len(prefixes)*len(suffixes)))
		t := engine.TableLag{Table: name, Publication: pubs[i%3], HasPK: true, Published: true, OnTarget: true,
			Source: int64(1000 + (i*7919)%5000000), PendingAt: v.PendingAt, SourceAt: v.At, TargetAt: v.At}
		switch {
		case i%97 == 0:
			t.Pending = int64(3000 + i%5000)
			t.Rate = 12.5
			t.ETA = time.Duration(t.Pending/12) * time.Second
			t.Trend = []int64{9000, 8200, 7000, 6100, 5000, 4200, 3500, t.Pending}
		case i%211 == 0:
			t.Publication, t.Published, t.HasPK = "", false, false
		case i%53 == 0:
			t.TargetAt = fixedNow.Add(-6 * time.Minute)
		}
		t.Source += t.Pending
		t.Target = t.Source - t.Pending
		if i%389 == 0 {
			t.Target -= 137
		}
		t.Delta = t.Source - t.Target
		v.TotalPending += t.Pending
		v.Tables = append(v.Tables, t)
	}
	for i, p := range pubs {
		pl := engine.PublicationLag{Name: p, Tables: n / 3, Pending: v.TotalPending / 3, Rate: 490, ETA: 2 * time.Minute, Latency: 3 * time.Second,
			LastDelivery: fixedNow.Add(-5 * time.Second)}
		if i == 1 {
			pl.Failing = []string{"AXDB-AX_PUB_PkTable_2-SANDBOX-4"}
		}
		v.Publications = append(v.Publications, pl)
	}
	v.Health = []engine.SourceHealth{
		{Name: engine.SourceAX, State: engine.HealthOK, LastOK: v.At},
		{Name: engine.SourceDistributor, State: engine.HealthOK, LastOK: v.At},
		{Name: engine.SourceTarget, State: engine.HealthFailing, Since: fixedNow.Add(-6 * time.Minute), LastError: "target: connection reset"},
	}
	return v
}

// fixtureValidation has one mismatch, one missing table, an expected difference and matches.
func fixtureValidation(n int) *engine.Validation {
	v := &engine.Validation{At: fixedNow.Add(-3 * time.Minute), Classes: map[engine.CountClass]int{}, Recounts: 2, Step: "validate-counts"}
	add := func(t engine.TableCheck) {
		v.Tables = append(v.Tables, t)
		v.Classes[t.Class]++
	}
	add(engine.TableCheck{Table: "CUSTINVOICETRANS", Class: engine.ClassMismatch, Source: 27900000, Target: 27899863, Delta: 137, Exact: true})
	add(engine.TableCheck{Table: "SALESPARMLINE", Class: engine.ClassMissing, Source: 120334, Delta: 120334})
	add(engine.TableCheck{Table: "INVENTSUMLOGTTS", Class: engine.ClassExpected, Source: 5000, Target: 0, Delta: 5000, Reason: "temporary table emptied by the upgrade"})
	add(engine.TableCheck{Table: "SYSLASTVALUE", Class: engine.ClassIgnored, Source: 12, Target: 0, Delta: 12, Reason: "on the ignore list"})
	for i := 0; i < n-4; i++ {
		c := int64(1000 + i*31)
		add(engine.TableCheck{Table: fmt.Sprintf("TABLE%04d", i), Class: engine.ClassMatch, Source: c, Target: c})
	}
	v.Passed = false
	return v
}

func fixtureLogs() []engine.LogLine {
	var out []engine.LogLine
	add := func(min int, level engine.LogLevel, step, msg string) {
		out = append(out, engine.LogLine{Seq: uint64(len(out) + 1), Time: fixedNow.Add(time.Duration(min) * time.Minute), Level: level, Step: step, Msg: msg})
	}
	add(-130, engine.LevelInfo, "", "engine started on jump01 (pid 4242)")
	add(-130, engine.LevelInfo, "preflight", "PASS replication installed    sys.sp_MS_replication_installed = 1")
	add(-129, engine.LevelInfo, "preflight", "PASS SQL Server Agent         running")
	add(-120, engine.LevelInfo, "replication-healthy", "healthy for 5m: 0 commands pending, 15 agents")
	add(-60, engine.LevelInfo, "downtime-go", "confirmed by ana (ssh 10.0.0.5, SHA256:ana)")
	add(-20, engine.LevelInfo, "toolkit-nopk", "run «Cutover: Setup Publication for Non PK Tables» in DataMigrationTool.exe now")
	add(-6, engine.LevelError, "", "target is failing: row counts: connection reset (last good read 10s earlier)")
	add(-5, engine.LevelError, "toolkit-nopk", "failed: AX_PUB_NoPKTable does not exist after 15m")
	add(-3, engine.LevelWarn, "aos-stop", "needs confirmation: type \"STOP AOS\" (1 operator(s))")
	for i := 0; i < 30; i++ {
		add(-3+i/10, engine.LevelInfo, "replication-healthy", fmt.Sprintf("backlog %d commands, draining 1,480/s", 90000-i*3000))
	}
	return out
}

func newFixtureEngine(tables int) *fakeEngine {
	dt := &runbook.Downtime{Budget: 12 * time.Hour, BeginsWith: "hold-batch", PointOfNoReturn: "reopen"}
	snap := engine.Snapshot{Seq: 100, At: fixedNow, Steps: fixtureSteps(), Run: engine.RunView{Name: "Contoso AX 2012 go-live",
		Environment: "PROD (Contoso Dynamics 365)", Downtime: dt, Outcome: engine.OutcomeWaiting, Phases: []string{"Before downtime", "Shutdown"}}}
	return &fakeEngine{snap: snap, repl: fixtureReplication(tables), val: fixtureValidation(40), logs: fixtureLogs(), ch: make(chan engine.Event, 16)}
}

// newTestApp is a cockpit at w×h over e, as an operator named ana, in UTC.
func newTestApp(e Engine, w, h int, opt Options) *App {
	if opt.Actor.Name == "" {
		opt.Actor = engine.Actor{Name: "ana", Origin: "test", Role: engine.RoleOperator}
	}
	if opt.Local == nil {
		opt.Local = time.UTC
	}
	if opt.Config.Theme == ThemeAuto {
		opt.Config.Theme = ThemeDark
	}
	a := NewApp(context.Background(), e, opt)
	tc := &testClock{now: fixedNow, gap: keyGap}
	a.clock = func() time.Time { return tc.now }
	testClocks.Store(a, tc)
	a.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return a
}

// keyGap is how far apart a test app's key presses are by default: an operator's pace, slower
// than typeAheadGuard. A test sets the gap of its app's clock to type faster.
const keyGap = time.Second

// testClock is a test app's wall clock: it moves only by the gap before each key press.
type testClock struct {
	now time.Time
	gap time.Duration
}

// testClocks maps each test app to its clock.
var testClocks sync.Map

// clockOf is a test app's clock.
func clockOf(a *App) *testClock {
	tc, _ := testClocks.Load(a)
	return tc.(*testClock)
}

// beforeKey moves a test app's clock on to the moment of the next key press.
func beforeKey(a *App) {
	if tc, ok := testClocks.Load(a); ok {
		tc.(*testClock).now = tc.(*testClock).now.Add(tc.(*testClock).gap)
	}
}

// press sends keys to the app, one message per key, running the commands they return that
// produce messages for the app (not the engine's event wait).
func press(a *App, keys ...string) {
	for _, k := range keys {
		beforeKey(a)
		_, cmd := a.Update(keyMsg(k))
		runCmd(a, cmd)
	}
}

// typeText sends each rune as a key press.
func typeText(a *App, s string) {
	for _, r := range s {
		beforeKey(a)
		_, cmd := a.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
		runCmd(a, cmd)
	}
}

// runCmd runs a command and feeds its message back, following batches, a few levels deep.
// Ticks, blinks and the engine wait are skipped: they never return in a test.
func runCmd(a *App, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(2 * time.Second):
		return // a blocking command (the engine wait, a tick): not part of the flow
	}
	switch m := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range m {
			runCmd(a, c)
		}
	default:
		if fmt.Sprintf("%T", m) == "textinput.blinkMsg" || strings.Contains(fmt.Sprintf("%T", m), "Blink") {
			return
		}
		_, next := a.Update(m)
		runCmd(a, next)
	}
}

// keyMsg builds a key press from its name.
func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+s":
		return tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

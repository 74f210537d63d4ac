package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/notify"
	"cutover/engine/runbook"
)

var t0 = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

// drainKind stands in for replication.drain: the milestone is the drain gate's success, whatever
// it took to get there.
type drainKind struct{}

func (drainKind) Name() string      { return "replication.drain" }
func (drainKind) Mode() engine.Mode { return engine.ModeAuto }
func (drainKind) Decode(*runbook.Decoder, *runbook.Step, *yaml.Node) engine.Action {
	return drainAction{}
}

type drainAction struct{}

func (drainAction) Describe() string                       { return "wait for the drain (test)" }
func (drainAction) Run(context.Context, *engine.Run) error { return nil }

// counts is the two databases' row counts, set by the test.
type counts struct {
	mu     sync.Mutex
	target int64
}

func (c *counts) Rows(_ context.Context, side engine.Side) ([]engine.TableRows, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int64(1000)
	if side == engine.SideTarget {
		n = c.target
	}
	return []engine.TableRows{{Table: "dbo.CUSTTABLE", Rows: n, HasPK: true}, {Table: "dbo.VENDTABLE", Rows: 50, HasPK: true}}, nil
}

func (c *counts) Exact(_ context.Context, side engine.Side, tables []string, _ int, _ func(int, int)) ([]engine.ExactRows, error) {
	rows, _ := c.Rows(context.Background(), side)
	var out []engine.ExactRows
	for _, t := range tables {
		for _, r := range rows {
			if strings.EqualFold(r.Table, t) {
				out = append(out, engine.ExactRows{Table: t, Rows: r.Rows})
			}
		}
	}
	return out, nil
}

func (c *counts) set(target int64) {
	c.mu.Lock()
	c.target = target
	c.mu.Unlock()
}

const night = `name: Contoso go-live
environment: PROD
connections:
  source: {server: AXSQL01.contoso.local, database: AX, user: u, password_env: PW}
  target: {server: sandbox-secret-host.database.windows.net, database: T, user: u, password_env: PW}
downtime: {budget: 4h, begins_with: stop, point_of_no_return: refresh}
notify:
  confirmation_wait: 10m
  tries: 3
  backoff: 1ms
  targets:
    - {name: hook, type: generic, url_env: HOOK_URL}
    - {name: teams, type: teams, url_env: TEAMS_URL}
    - {name: slack, type: slack, url_env: SLACK_URL}
http: {private: [Contoso]}
steps:
  - {id: go, title: Downtime go/no-go, phase: Before, kind: gate}
  - {id: stop, title: Stop the AOS on AXSQL01.contoso.local, phase: Shutdown, kind: manual, after: go}
  - {id: drain, title: Replication drained, phase: Shutdown, kind: replication.drain, after: stop}
  - {id: validate, title: Record counts, phase: Validate, kind: validate.counts, after: drain}
  - {id: approve, title: Approve the refresh, phase: Refresh, kind: gate, after: validate}
  - {id: refresh, title: Refresh production, phase: Refresh, kind: manual, after: approve}
`

// receiver is a local webhook endpoint that keeps what it is sent, per path.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  map[string][][]byte
	news chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string][][]byte{}, news: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], b)
		r.mu.Unlock()
		r.news <- struct{}{}
		if strings.HasPrefix(req.URL.Path, "/slack") {
			io.WriteString(w, "ok") // Slack's answer
			return
		}
		w.WriteHeader(http.StatusAccepted) // Power Automate's
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) bodies(path string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got[path]...)
}

// events is the milestone events one path received (generic documents).
func (r *receiver) events(t *testing.T, path string) []string {
	var out []string
	for _, b := range r.bodies(path) {
		var g notify.Generic
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s: %v in %s", path, err, b)
		}
		out = append(out, g.Event)
	}
	return out
}

// waitFor waits until cond holds, re-checking whenever the receiver is sent something.
func (r *receiver) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-r.news:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; received %v", what, r.paths())
		}
	}
}

func (r *receiver) paths() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for p, b := range r.got {
		out[p] = len(b)
	}
	return out
}

type world struct {
	t      *testing.T
	clk    *clock.Fake
	rb     *runbook.Runbook
	e      *engine.Engine
	n      *notify.Notifier
	counts *counts
	env    map[string]string
	dir    string
	// notifyClock is the notifier's clock (the engine's fake clock unless a test sets one).
	notifyClock clock.Clock
	cancel      context.CancelFunc
	done        chan struct{}
}

func newWorld(t *testing.T, src string, env map[string]string) *world {
	return newWorldClock(t, src, env, nil)
}

func newWorldClock(t *testing.T, src string, env map[string]string, notifyClock clock.Clock) *world {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	env["PW"] = "the-sql-password"
	reg := engine.NewRegistry(append(engine.AllKinds(), drainKind{})...)
	rb, err := runbook.Load(path, runbook.Options{Kinds: reg, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, clk: clock.NewFake(t0), rb: rb, counts: &counts{target: 1000}, env: env, dir: dir, notifyClock: notifyClock}
	if w.notifyClock == nil {
		w.notifyClock = w.clk
	}
	w.start(reg)
	return w
}

func (w *world) lookup(k string) (string, bool) { v, ok := w.env[k]; return v, ok }

func (w *world) start(reg *engine.Registry) {
	t := w.t
	e, err := engine.New(w.rb, engine.Options{StateDir: filepath.Join(w.dir, "state"), Clock: w.clk, Kinds: reg, NoSync: true,
		Ports: engine.Ports{Counts: w.counts}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(e, w.rb.Notify, notify.Options{Clock: w.notifyClock, LookupEnv: w.lookup, Location: time.UTC, Private: w.rb.PrivateWords(w.lookup)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.e, w.n, w.cancel, w.done = e, n, cancel, make(chan struct{})
	go func() { defer close(w.done); n.Run(ctx) }()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.stop)
}

func (w *world) stop() {
	if w.e == nil {
		return
	}
	w.cancel()
	<-w.done
	if err := w.e.Stop("test"); err != nil {
		w.t.Error(err)
	}
	w.e = nil
}

var ana = engine.Actor{Name: "ana", Origin: "test", Role: engine.RoleOperator}

// confirm confirms a gate once its request is open.
func (w *world) confirm(step string) {
	w.t.Helper()
	st := w.waitState(step, engine.StateAwaiting)
	if _, err := w.e.Confirm(step, st.Confirmation.Request, ana, st.Confirmation.Phrase); err != nil {
		w.t.Fatal(err)
	}
}

// waitState waits for a step's state through the engine's events.
func (w *world) waitState(step string, want engine.StepState) engine.StepView {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	snap, events := w.e.Subscribe(ctx)
	if st, _ := snap.Step(step); st.State == want {
		return st
	}
	for ev := range events {
		if sc, ok := ev.(engine.StepChanged); ok && sc.Step.ID == step && sc.Step.State == want {
			return sc.Step
		}
	}
	w.t.Fatalf("step %s never became %s", step, want)
	return engine.StepView{}
}

// The night's milestones reach a generic webhook, a Teams workflow and a Slack webhook, each in
// its format, once each; nothing private is in any of them; every delivery is journaled.
func TestEveryMilestoneInEveryFormat(t *testing.T) {
	r := newReceiver(t)
	w := newWorld(t, night, map[string]string{"HOOK_URL": r.srv.URL + "/hook", "TEAMS_URL": r.srv.URL + "/teams", "SLACK_URL": r.srv.URL + "/slack"})
	has := func(want ...string) func() bool {
		return func() bool {
			got := strings.Join(r.events(t, "/hook"), " ")
			for _, ev := range want {
				if !strings.Contains(got, ev) {
					return false
				}
			}
			return true
		}
	}
	// The go/no-go waits: after ten minutes the targets hear of it.
	w.waitState("go", engine.StateAwaiting)
	w.clk.Advance(10 * time.Minute)
	r.waitFor(t, "confirmation.waiting", has("confirmation.waiting"))
	w.confirm("go")
	w.waitState("stop", engine.StateRunning)
	r.waitFor(t, "downtime.began", has("downtime.began"))
	// The counts differ: the validation fails, and with it the step.
	w.counts.set(990)
	if _, err := w.e.MarkDone("stop", ana, "all AOS stopped", ""); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "drain.opened, validation.failed, step.failed", has("drain.opened", "validation.failed", "step.failed"))
	w.waitState("validate", engine.StateFailed)
	w.counts.set(1000)
	if err := w.e.Retry("validate", ana); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "validation.passed", has("validation.passed"))
	w.confirm("approve")
	w.waitState("refresh", engine.StateRunning)
	r.waitFor(t, "no-return.passed", has("no-return.passed"))
	if _, err := w.e.MarkDone("refresh", ana, "refreshed in LCS", ""); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "run.completed", has("run.completed"))
	all := []string{"confirmation.waiting", "downtime.began", "drain.opened", "validation.failed", "step.failed", "validation.passed", "no-return.passed", "run.completed"}
	r.waitFor(t, "every message in every format", func() bool {
		return len(r.bodies("/teams")) == len(all) && len(r.bodies("/slack")) == len(all) && len(r.bodies("/hook")) == len(all)
	})
	if !w.n.Flush(context.Background()) {
		t.Fatal("deliveries left over")
	}
	if got := r.events(t, "/hook"); len(got) != len(all) {
		t.Errorf("generic events %v, want each of %v once", got, all)
	}
	for _, path := range []string{"/hook", "/teams", "/slack"} {
		for _, b := range r.bodies(path) {
			for _, secret := range []string{"the-sql-password", "AXSQL01", "sandbox-secret-host", "Contoso", r.srv.URL} {
				if strings.Contains(string(b), secret) {
					t.Errorf("%s received %q: %s", path, secret, b)
				}
			}
		}
	}
	checkTeams(t, r.bodies("/teams"))
	checkSlack(t, r.bodies("/slack"))
	var generic notify.Generic
	for _, b := range r.bodies("/hook") {
		var g notify.Generic
		_ = json.Unmarshal(b, &g)
		if g.Event == "step.failed" {
			generic = g
		}
	}
	if generic.Schema != notify.GenericSchema || generic.Severity != notify.SeverityCritical || generic.Step != "validate" ||
		generic.Run.Name != "••• go-live" || generic.Run.Environment != "PROD" || !strings.HasPrefix(generic.Title, "FAILED: ") {
		t.Errorf("generic step.failed: %+v", generic)
	}
	// Every delivery is in the journal; a restart sends nothing again.
	w.stop()
	c, err := journal.Read(filepath.Join(w.dir, "state", journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, rec := range c.Records {
		if rec.Type == string(engine.RecNotifySent) {
			sent++
		}
	}
	if sent != 3*len(all) {
		t.Errorf("%d notify.sent records, want %d", sent, 3*len(all))
	}
	before := r.paths()
	w.start(engine.NewRegistry(append(engine.AllKinds(), drainKind{})...))
	w.waitState("refresh", engine.StateSucceeded)
	if !w.n.Flush(context.Background()) {
		t.Fatal("deliveries left over after the restart")
	}
	if after := r.paths(); after["/hook"] != before["/hook"] || after["/teams"] != before["/teams"] {
		t.Errorf("a restart sent again: %v, then %v", before, after)
	}
}

func checkTeams(t *testing.T, bodies [][]byte) {
	t.Helper()
	for _, b := range bodies {
		// The shape of "Send Adaptive Cards using an Incoming Webhook" (connectors-using.md).
		var msg struct {
			Type        string `json:"type"`
			Attachments []struct {
				ContentType string          `json:"contentType"`
				ContentURL  json.RawMessage `json:"contentUrl"`
				Content     struct {
					Schema  string            `json:"$schema"`
					Type    string            `json:"type"`
					Version string            `json:"version"`
					Body    []json.RawMessage `json:"body"`
				} `json:"content"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatalf("teams: %v", err)
		}
		if msg.Type != "message" || len(msg.Attachments) != 1 {
			t.Fatalf("teams message: %s", b)
		}
		a := msg.Attachments[0]
		if a.ContentType != "application/vnd.microsoft.card.adaptive" || string(a.ContentURL) != "null" || a.Content.Type != "AdaptiveCard" ||
			a.Content.Version != "1.4" || a.Content.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || len(a.Content.Body) < 3 {
			t.Errorf("teams attachment: %s", b)
		}
		for _, el := range a.Content.Body {
			var e struct {
				Type  string `json:"type"`
				Text  string `json:"text"`
				Color string `json:"color"`
			}
			_ = json.Unmarshal(el, &e)
			switch e.Type {
			case "TextBlock":
				if e.Text == "" {
					t.Errorf("an empty TextBlock: %s", el)
				}
				if e.Color != "" && !strings.Contains(" default dark light accent good warning attention ", " "+e.Color+" ") {
					t.Errorf("colour %q is not one of the schema's Colors", e.Color)
				}
			case "FactSet":
			default:
				t.Errorf("a card element outside TextBlock and FactSet: %s", el)
			}
		}
	}
	if !strings.Contains(string(bodies[len(bodies)-1]), "Cutover completed") {
		t.Errorf("the last card is not the completion: %s", bodies[len(bodies)-1])
	}
}

func checkSlack(t *testing.T, bodies [][]byte) {
	t.Helper()
	for _, b := range bodies {
		var msg struct {
			Text   string `json:"text"`
			Blocks []struct {
				Type   string `json:"type"`
				Text   *struct{ Type, Text string }
				Fields []struct{ Type, Text string }
			} `json:"blocks"`
		}
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatalf("slack: %v", err)
		}
		if msg.Text == "" || len(msg.Blocks) < 3 || msg.Blocks[0].Type != "header" || msg.Blocks[0].Text.Type != "plain_text" || len([]rune(msg.Blocks[0].Text.Text)) > 150 {
			t.Errorf("slack message: %s", b)
		}
		for _, bl := range msg.Blocks {
			if len(bl.Fields) > 10 {
				t.Errorf("a section with %d fields", len(bl.Fields))
			}
		}
	}
}

// A receiver that is down is tried the runbook's number of times and journaled as failed; one that
// hangs does not hold the run back.
func TestDownAndHangingReceivers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/hook"
	l.Close()
	release, arrived := make(chan struct{}), make(chan struct{}, 100)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	src := strings.Replace(night, `    - {name: teams, type: teams, url_env: TEAMS_URL}
    - {name: slack, type: slack, url_env: SLACK_URL}
`, `    - {name: slow, type: teams, url_env: HANG_URL}
`, 1)
	// The retries' backoff (1ms) on the real clock: the engine's fake clock stands still here.
	w := newWorldClock(t, src, map[string]string{"HOOK_URL": down, "HANG_URL": hang.URL}, clock.Real())
	logs, stopLogs := context.WithCancel(context.Background())
	defer stopLogs()
	_, logEvents := w.e.Subscribe(logs)
	w.confirm("go")
	select {
	case <-arrived: // "downtime began" is out to the hanging receiver, and stays out
	case <-time.After(20 * time.Second):
		t.Fatal("the hanging receiver was never called")
	}
	w.waitState("stop", engine.StateRunning)
	if _, err := w.e.MarkDone("stop", ana, "stopped", ""); err != nil {
		t.Fatal(err)
	}
	w.confirm("approve")
	w.waitState("refresh", engine.StateRunning)
	if _, err := w.e.MarkDone("refresh", ana, "done", ""); err != nil {
		t.Fatal(err)
	}
	// The run completed while deliveries to the hanging receiver are still out.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	snap, events := w.e.Subscribe(ctx)
	for snap.Run.Outcome != engine.OutcomeCompleted {
		ev, ok := <-events
		if !ok {
			t.Fatal("the run never completed")
		}
		if rc, isRun := ev.(engine.RunChanged); isRun {
			snap.Run = rc.Run
		}
	}
	if w.n.Pending() == 0 {
		t.Error("nothing pending: the hanging receiver was not being waited for")
	}
	// The down receiver: three tries, then journaled failed, for each milestone it was due
	// (downtime began, no return passed, run completed): the log says so.
	failed := 0
	deadline := time.After(20 * time.Second)
	for failed < 3 {
		select {
		case ev, ok := <-logEvents:
			if !ok {
				t.Fatal("the engine's events ended")
			}
			if b, isLog := ev.(engine.LogBatch); isLog {
				for _, l := range b.Lines {
					if strings.Contains(l.Msg, "notify hook (generic): FAILED after 3 tries: no answer:") && l.Level == engine.LevelWarn {
						failed++
					}
				}
			}
		case <-deadline:
			t.Fatalf("%d of the down receiver's 3 failures were journaled: %v", failed, w.e.Logs(50, ""))
		}
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer fcancel()
	if w.n.Flush(fctx) {
		t.Error("Flush returned true while a delivery hangs")
	}
}

// A target whose variable is unset or holds a plain-http URL to another machine is refused,
// naming the variable and never the URL.
func TestResolveTargets(t *testing.T) {
	n := &runbook.Notify{Targets: []runbook.NotifyTarget{{Name: "a", Type: runbook.FormatGeneric, URLEnv: "A"}, {Name: "b", Type: runbook.FormatSlack, URLEnv: "B"}}}
	_, err := notify.ResolveTargets(n, func(k string) (string, bool) {
		if k == "B" {
			return "http://hooks.example.com/T/very-secret", true
		}
		return "", false
	})
	if err == nil || !strings.Contains(err.Error(), "environment variable A is not set") || !strings.Contains(err.Error(), "the URL in B must use https") || strings.Contains(err.Error(), "very-secret") {
		t.Errorf("ResolveTargets: %v", err)
	}
	if _, err := notify.New(nil, &runbook.Notify{}, notify.Options{}); err == nil {
		t.Error("a notifier without targets")
	}
}

// replication is a replication source whose AX side can be made to fail.
type replication struct {
	mu   sync.Mutex
	down bool
}

func (r *replication) setDown(down bool) {
	r.mu.Lock()
	r.down = down
	r.mu.Unlock()
}

func (r *replication) SourceRows(context.Context) ([]engine.TableRows, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, errors.New("dial tcp AXSQL01.contoso.local:1433: connection refused")
	}
	return []engine.TableRows{{Table: "dbo.CUSTTABLE", Rows: 10, HasPK: true}}, nil
}
func (r *replication) TargetRows(context.Context) ([]engine.TableRows, error) {
	return []engine.TableRows{{Table: "dbo.CUSTTABLE", Rows: 10, HasPK: true}}, nil
}
func (r *replication) Distributor(context.Context, bool) (engine.DistributorFigures, error) {
	return engine.DistributorFigures{}, nil
}

// The cockpit losing a data source is announced (with the host hidden), and so is its return;
// also when the source was lost before the notifier began to watch (it subscribes late, or again).
func TestSourcesLostAndBack(t *testing.T) {
	t.Run("watching", func(t *testing.T) { sourcesLostAndBack(t, false) })
	t.Run("lost before the watch", func(t *testing.T) { sourcesLostAndBack(t, true) })
}

func sourcesLostAndBack(t *testing.T, late bool) {
	rcv := newReceiver(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	src := "name: sources\nconnections:\n  source: {server: AXSQL01.contoso.local, database: AX, user: u, password_env: PW}\n" +
		"notify: {targets: [{name: hook, type: generic, url_env: HOOK_URL}]}\nsteps:\n  - {id: a, title: A, kind: manual}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PW": "pw-123", "HOOK_URL": rcv.srv.URL + "/hook"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	reg := engine.NewRegistry(engine.AllKinds()...)
	rb, err := runbook.Load(path, runbook.Options{Kinds: reg, LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	repl := &replication{down: true}
	e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(dir, "state"), Clock: clk, Kinds: reg, NoSync: true,
		Ports: engine.Ports{Replication: repl}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(e, rb.Notify, notify.Options{Clock: clk, LookupEnv: lookup, Location: time.UTC, Private: rb.PrivateWords(lookup)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	run := func() { go func() { defer close(done); n.Run(ctx) }() }
	_, seen := e.Subscribe(ctx)
	if !late {
		run()
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		<-done
		e.Stop("test")
	}()
	if late {
		// The notifier begins only once the engine has told of the loss.
		for ev := range seen {
			if h, ok := ev.(engine.SourceHealthChanged); ok && h.Health.State == engine.HealthFailing {
				break
			}
		}
		run()
	}
	events := func() []string { return rcv.events(t, "/hook") }
	rcv.waitFor(t, "sources.lost", func() bool { return slices.Contains(events(), "sources.lost") })
	repl.setDown(false)
	// Past the failed query's backoff, then a poll now.
	clk.Advance(5 * time.Minute)
	e.RefreshNow()
	rcv.waitFor(t, "sources.back", func() bool { return slices.Contains(events(), "sources.back") })
	for _, b := range rcv.bodies("/hook") {
		if strings.Contains(string(b), "AXSQL01") {
			t.Errorf("a host name in a notification: %s", b)
		}
	}
	var lost notify.Generic
	_ = json.Unmarshal(rcv.bodies("/hook")[0], &lost)
	if lost.Event != "sources.lost" || lost.Severity != notify.SeverityCritical || !strings.Contains(lost.Text, "connection refused") {
		t.Errorf("sources.lost: %+v", lost)
	}
}

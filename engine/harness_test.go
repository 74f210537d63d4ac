package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// probeKind is a step kind the tests steer: each attempt announces itself on started and, when the
// step says `block: true`, waits for the test to release it with a result.
type probeKind struct {
	mu       sync.Mutex
	started  chan string
	release  map[string]chan error
	attempts map[string]int
}

func newProbe() *probeKind {
	return &probeKind{started: make(chan string, 1000), release: map[string]chan error{}, attempts: map[string]int{}}
}

func (p *probeKind) Name() string      { return "probe" }
func (p *probeKind) Mode() engine.Mode { return engine.ModeAuto }

func (p *probeKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) engine.Action {
	a := &probeAction{p: p}
	d.Fields(with, "probe", map[string]runbook.Field{
		"block":      func(v *yaml.Node) { a.block = d.Bool(v, "probe", "block") },
		"fail_times": func(v *yaml.Node) { a.failTimes = d.Int(v, "probe", "fail_times", 0, 100) },
		"permanent":  func(v *yaml.Node) { a.permanent = d.Bool(v, "probe", "permanent") },
		"rerunnable": func(v *yaml.Node) { a.rerunnable = d.Bool(v, "probe", "rerunnable") },
		"preview":    func(v *yaml.Node) { a.preview = d.String(v, "probe", "preview") },
	})
	if a.preview != "" {
		return &previewProbe{a}
	}
	return a
}

// previewProbe is a probe that looks before its confirmation is requested.
type previewProbe struct{ *probeAction }

func (p *previewProbe) Preview(context.Context, *engine.Run) (engine.Preview, error) {
	return engine.Preview{Text: p.preview}, nil
}

func (p *probeKind) ch(step string) chan error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.release[step]
	if !ok {
		c = make(chan error, 10)
		p.release[step] = c
	}
	return c
}

// Attempts is how many times a step's code ran.
func (p *probeKind) Attempts(step string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts[step]
}

type probeAction struct {
	p          *probeKind
	block      bool
	failTimes  int
	permanent  bool
	rerunnable bool
	preview    string
}

func (a *probeAction) Describe() string { return "probe" }

func (a *probeAction) Run(ctx context.Context, run *engine.Run) error {
	a.p.mu.Lock()
	a.p.attempts[run.Step.ID]++
	n := a.p.attempts[run.Step.ID]
	a.p.mu.Unlock()
	a.p.started <- run.Step.ID
	if a.block {
		select {
		case err := <-a.p.ch(run.Step.ID):
			return err
		case <-ctx.Done():
			return fmt.Errorf("probe cancelled: %w", context.Cause(ctx))
		}
	}
	if n <= a.failTimes {
		err := fmt.Errorf("probe failure %d", n)
		if a.permanent {
			return engine.Permanent(err)
		}
		return err
	}
	run.SetMessage(fmt.Sprintf("probe ok on attempt %d", run.Attempt))
	return nil
}

// Rerunnable lets a probe declare itself safe to re-run.
func (a *probeAction) Rerunnable() bool { return a.rerunnable }

var t0 = time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)

// harness runs one engine over a runbook with a fake clock.
type harness struct {
	t      *testing.T
	clk    *clock.Fake
	probe  *probeKind
	reg    *engine.Registry
	dir    string
	src    string
	rb     *runbook.Runbook
	e      *engine.Engine
	events <-chan engine.Event
	cancel context.CancelFunc
	opts   engine.Options
	seen   map[string]int
	// limit bounds every wait: real seconds normally, simulated hours in a synctest bubble.
	limit time.Duration
	// bubble is set when the test runs in a synctest bubble on the real clock API: time moves on
	// its own whenever every goroutine is blocked.
	bubble bool
}

func newHarness(t *testing.T, src string, extra ...engine.Kind) *harness {
	t.Helper()
	h := &harness{t: t, clk: clock.NewFake(t0), probe: newProbe(), dir: t.TempDir(), src: src, seen: map[string]int{}, limit: waitLimit}
	h.reg = engine.NewRegistry(append(append(engine.AllKinds(), h.probe), extra...)...)
	h.load()
	return h
}

func (h *harness) load() {
	h.t.Helper()
	path := filepath.Join(h.dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(h.src), 0o600); err != nil {
		h.t.Fatal(err)
	}
	rb, err := runbook.Load(path, runbook.Options{Kinds: h.reg})
	if err != nil {
		h.t.Fatalf("runbook: %v", err)
	}
	h.rb = rb
}

// inBubble runs f in a synctest bubble with a harness on the real clock API, whose time starts at
// t0-equivalent bubble time and moves whenever everything waits.
func inBubble(t *testing.T, src string, f func(t *testing.T, h *harness)) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, src)
		h.bubble, h.limit = true, 1000*time.Hour
		f(t, h)
	})
}

// loadErr parses h.src and returns the error.
func loadErr(h *harness) (*runbook.Runbook, error) {
	path := filepath.Join(h.dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(h.src), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return runbook.Load(path, runbook.Options{Kinds: h.reg})
}

// start opens and starts a fresh engine on the state directory.
func (h *harness) start() *harness {
	h.t.Helper()
	opts := h.opts
	opts.StateDir, opts.Clock, opts.Kinds = filepath.Join(h.dir, "state"), h.clk, h.reg
	if h.bubble {
		opts.Clock = clock.Real()
	}
	e, err := engine.New(h.rb, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	_, h.events = e.Subscribe(ctx)
	if err := e.Start(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.e = e
	h.t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) stop() {
	if h.e == nil {
		return
	}
	if err := h.e.Stop("test"); err != nil {
		h.t.Errorf("stop: %v", err)
	}
	h.cancel()
	h.e = nil
}

// restart stops the engine (running steps stay in flight, as after a crash) and starts a new one.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

const waitLimit = 20 * time.Second

// waitStep consumes events until the step reaches state.
func (h *harness) waitStep(id string, state engine.StepState) engine.StepView {
	h.t.Helper()
	return h.waitFor(id, "state "+state.String(), func(s engine.StepView) bool { return s.State == state })
}

// waitOutcome consumes events until the run reaches an outcome.
func (h *harness) waitOutcome(o engine.Outcome) {
	h.t.Helper()
	snap := h.e.Snapshot()
	if snap.Run.Outcome == o {
		return
	}
	deadline := time.After(h.limit)
	for {
		select {
		case ev, ok := <-h.events:
			if !ok {
				h.t.Fatalf("event stream closed waiting for outcome %s", o)
			}
			if rc, ok := ev.(engine.RunChanged); ok && rc.Seq > snap.Seq && rc.Run.Outcome == o {
				return
			}
		case <-deadline:
			h.t.Fatalf("outcome never became %s (it is %s)", o, h.e.Snapshot().Run.Outcome)
		}
	}
}

// started waits for the probe to start a step (other steps starting meanwhile are remembered).
func (h *harness) started(id string) {
	h.t.Helper()
	if h.seen[id] > 0 {
		h.seen[id]--
		return
	}
	deadline := time.After(waitLimit)
	for {
		select {
		case got := <-h.probe.started:
			if got == id {
				return
			}
			h.seen[got]++
		case <-deadline:
			h.t.Fatalf("probe %s never started", id)
		}
	}
}

// waitFor consumes events until the step satisfies ok.
func (h *harness) waitFor(id, what string, ok func(engine.StepView) bool) engine.StepView {
	h.t.Helper()
	// Events already folded into the snapshot are stale: only later ones count.
	snap := h.e.Snapshot()
	if st, _ := snap.Step(id); ok(st) {
		return st
	}
	deadline := time.After(h.limit)
	for {
		select {
		case ev, open := <-h.events:
			if !open {
				h.t.Fatalf("event stream closed waiting for %s: %s", id, what)
			}
			if sc, isStep := ev.(engine.StepChanged); isStep && sc.Seq > snap.Seq && sc.Step.ID == id && ok(sc.Step) {
				return sc.Step
			}
		case <-deadline:
			st, _ := h.e.Snapshot().Step(id)
			h.t.Fatalf("%s never got %s (it is %s, attempt %d)", id, what, st.State, st.Attempt)
		}
	}
}

func (h *harness) release(id string, err error) { h.probe.ch(id) <- err }

// advance waits until n timers are armed, then moves the fake clock.
func (h *harness) advance(n int, d time.Duration) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := h.clk.WaitForTimers(ctx, n); err != nil {
		var states []string
		for _, st := range h.e.Snapshot().Steps {
			states = append(states, st.ID+"="+st.State.String()+" "+st.LastError)
		}
		h.t.Fatalf("waiting for %d timers (have %d): %v; steps: %s", n, h.clk.Pending(), err, strings.Join(states, "; "))
	}
	h.clk.Advance(d)
}

// advanceUntil moves the clock by step whenever something waits on it, until ok holds. Every
// engine event re-checks ok, so it never waits for a timer that will not come.
func (h *harness) advanceUntil(step time.Duration, what string, ok func() bool) {
	h.t.Helper()
	deadline := time.After(waitLimit)
	for !ok() {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan error, 1)
		go func() { ready <- h.clk.WaitForTimers(ctx, 1) }()
		select {
		case err := <-ready:
			if err == nil {
				h.clk.Advance(step)
			}
		case <-h.events:
		case <-deadline:
			cancel()
			h.t.Fatalf("never: %s", what)
		}
		cancel()
	}
}

// state is a step's current state.
func (h *harness) state(id string) engine.StepState {
	st, _ := h.e.Snapshot().Step(id)
	return st.State
}

// records reads the journal (the engine may still hold it: reading needs no lock).
func (h *harness) records() []journal.Record {
	h.t.Helper()
	recs, _, err := journal.ReadAll(filepath.Join(h.dir, "state", journal.FileName))
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// seqOf returns the sequence number of the first record of type t for step (0 if none).
func (h *harness) seqOf(t engine.RecordType, step string) uint64 {
	for _, r := range h.records() {
		if r.Type == string(t) && r.Step == step {
			return r.Seq
		}
	}
	return 0
}

func (h *harness) count(t engine.RecordType, step string) int {
	n := 0
	for _, r := range h.records() {
		if r.Type == string(t) && r.Step == step {
			n++
		}
	}
	return n
}

var (
	ana  = engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	ben  = engine.Actor{Name: "Ben", Origin: "ssh", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	vera = engine.Actor{Name: "Vera", Origin: "ssh", Fingerprint: "SHA256:vera", Role: engine.RoleViewer}
)

// crashImage leaves the journal at path as a crash right after its lines in crashed (a prefix of
// it) would have: cut there, and anchored there.
func crashImage(t *testing.T, path string, crashed []byte) {
	t.Helper()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(full, crashed) {
		t.Fatal("a crash image must be a prefix of the journal")
	}
	if err := journal.Rewind(filepath.Dir(path), uint64(bytes.Count(crashed, []byte("\n")))); err != nil {
		t.Fatal(err)
	}
}

package adapter_test

import (
	"context"
	"cutover/adapter"
	"cutover/demo"
	"cutover/demo/demotest"
	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/runbook"
	sqlsim "cutover/sql/sim"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// simRun is an engine over the simulators, sharing one fake clock with the simulated world.
type simRun struct {
	t      *testing.T
	clk    *clock.Fake
	sims   *demo.Simulators
	e      *engine.Engine
	events <-chan engine.Event
	path   string
	state  string
	// services, when set, wraps the simulated AOS service controller.
	services func(engine.ServiceController) engine.ServiceController
}

// simRunOption changes a simRun before its engine starts.
type simRunOption func(r *simRun, runbookText *string)

// withQueryTimeout gives the target connection a short query timeout.
func withQueryTimeout(d time.Duration) simRunOption {
	return func(_ *simRun, src *string) {
		i := strings.Index(*src, "  target:\n")
		j := strings.Index((*src)[i:], "    encrypt:")
		*src = (*src)[:i+j] + "    query_timeout: " + runbook.FormatDuration(d) + "\n" + (*src)[i+j:]
	}
}

// withServices wraps the simulated AOS service controller.
func withServices(wrap func(engine.ServiceController) engine.ServiceController) simRunOption {
	return func(r *simRun, _ *string) { r.services = wrap }
}

func newSimRun(t *testing.T, cfg sqlsim.Config, steps string, opts ...simRunOption) *simRun {
	t.Helper()
	clk := clock.NewFake(demotest.Epoch)
	sims := demotest.Start(t, cfg, clk)
	aos := "aos:\n  control: command\n  stop: [sc.exe, '\\\\{host}', stop, '{service}']\n  query: [sc.exe, '\\\\{host}', query, '{service}']\n  stopped_pattern: STOPPED\n  stop_timeout: 30m\n  instances:\n"
	for _, a := range sims.World.AOS() {
		aos += fmt.Sprintf("    - {host: %s, service: %s}\n", a.Host, a.Service)
	}
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	src := "name: against the simulators\nrehearsal: true\n" + sims.SQL.RunbookSnippet() + sims.LCSSnippet() + aos + "steps:\n" + steps
	r := &simRun{t: t, clk: clk, sims: sims, path: path, state: filepath.Join(filepath.Dir(path), ".cutover")}
	for _, o := range opts {
		o(r, &src)
	}
	os.WriteFile(path, []byte(src), 0o600)
	r.start()
	return r
}

func (r *simRun) start() {
	r.t.Helper()
	rb, ok := loadRunbook(r.path, os.Stderr)
	if !ok {
		r.t.Fatal("runbook")
	}
	ports := engine.Ports{Services: demo.Services{World: r.sims.World}}
	if r.services != nil {
		ports.Services = r.services(ports.Services)
	}
	c, err := adapter.LCSClient(rb, r.state, r.sims.LCS.HTTPClient(), adapter.LCSClock{C: r.clk}, io.Discard)
	if err != nil {
		r.t.Fatal(err)
	}
	ports.LCS = adapter.LCSPort{C: c}
	closePorts, err := adapter.BuildPorts(rb, r.state, &ports, io.Discard, io.Discard)
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := engine.New(rb, engine.Options{StateDir: r.state, Clock: r.clk, Kinds: adapter.Registry(), Ports: ports,
		Monitor: engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: time.Minute}})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, r.events = e.Subscribe(ctx)
	if err := e.Start(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.e = e
	r.t.Cleanup(func() { r.stop(); cancel(); closePorts() })
}

func (r *simRun) stop() {
	if r.e != nil {
		r.e.Stop("test")
		r.e = nil
	}
}

// until moves the clock a step at a time whenever something waits on it, until ok holds.
func (r *simRun) until(step time.Duration, what string, ok func() bool) {
	r.t.Helper()
	r.untilWaiting(step, 1, what, ok)
}

// untilWaiting is until, moving the clock only once that many timers wait on it: with the
// replication monitor's timer and a step's both waiting, the clock never moves while a poll is
// out, so the figures a step judges are never older than the poll interval.
func (r *simRun) untilWaiting(step time.Duration, timers int, what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("never: %s (steps: %s)", what, r.states())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if r.clk.WaitForTimers(ctx, timers) == nil {
			r.clk.Advance(step)
		}
		cancel()
		for drained := false; !drained; {
			select {
			case <-r.events:
			default:
				drained = true
			}
		}
	}
}

// retry asks for another attempt of a step (as Ana) and waits until that attempt, number
// attempt, has ended.
func (r *simRun) retry(id string, attempt int) {
	r.t.Helper()
	if err := r.e.Retry(id, engine.Actor{Name: "Ana", Role: engine.RoleOperator}); err != nil {
		r.t.Fatal(err)
	}
	r.until(time.Second, fmt.Sprintf("attempt %d of %s ends", attempt, id), func() bool {
		st := r.step(id)
		return st.Attempt == attempt && st.State.Terminal()
	})
}

func (r *simRun) states() string {
	var parts []string
	for _, st := range r.e.Snapshot().Steps {
		parts = append(parts, st.ID+"="+st.State.String()+" "+st.LastError)
	}
	return strings.Join(parts, "; ")
}

func (r *simRun) step(id string) engine.StepView {
	st, _ := r.e.Snapshot().Step(id)
	return st
}

// loadRunbook reads a runbook as the command line does.
func loadRunbook(path string, _ io.Writer) (*runbook.Runbook, bool) {
	rb, err := runbook.Load(path, adapter.RunbookOptions())
	return rb, err == nil
}

package engine_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine"
	"cutover/engine/runbook"
)

// leftoverKind is a step kind whose attempts record a reference (as a command records its process
// group) and whose cleanup after a crash blocks until the test answers.
type leftoverKind struct {
	running chan struct{}
	entered chan struct{}
	answer  chan bool
}

func (k *leftoverKind) Name() string      { return "leftover" }
func (k *leftoverKind) Mode() engine.Mode { return engine.ModeAuto }
func (k *leftoverKind) Decode(*runbook.Decoder, *runbook.Step, *yaml.Node) engine.Action {
	return &leftoverAction{k}
}

type leftoverAction struct{ k *leftoverKind }

func (a *leftoverAction) Describe() string { return "leave something running" }

func (a *leftoverAction) Run(ctx context.Context, run *engine.Run) error {
	if err := run.Record(map[string]string{"pgid": "4242"}); err != nil {
		return err
	}
	a.k.running <- struct{}{}
	<-ctx.Done()
	return context.Cause(ctx)
}

func (a *leftoverAction) Cleanup(map[string]string) (string, bool) {
	a.k.entered <- struct{}{}
	clean := <-a.k.answer
	if !clean {
		return "process group 4242 survived", false
	}
	return "killed process group 4242", true
}

// TestCleanupRunsOutsideTheLock: the cleanup of what an interrupted attempt left running (which
// can wait seconds per process group) runs without the engine lock, so the cockpit can read a
// snapshot meanwhile; its result then settles the step.
func TestCleanupRunsOutsideTheLock(t *testing.T) {
	for _, clean := range []bool{true, false} {
		k := &leftoverKind{running: make(chan struct{}, 1), entered: make(chan struct{}), answer: make(chan bool)}
		h := newHarness(t, `name: t
steps:
  - {id: cmd, title: Command, kind: leftover, idempotent: true}
  - {id: next, title: Next, kind: probe, after: [cmd]}
`, k)
		h.start()
		<-k.running
		h.stop()

		opts := h.opts
		opts.StateDir, opts.Clock, opts.Kinds = filepath.Join(h.dir, "state"), h.clk, h.reg
		e, err := engine.New(h.rb, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		started := make(chan error, 1)
		go func() { started <- e.Start(context.Background()) }()
		select {
		case <-k.entered:
		case <-time.After(waitLimit):
			t.Fatal("the cleanup never ran")
		}
		// The cleanup is blocked on the test: the lock must be free.
		snapped := make(chan engine.Snapshot, 1)
		go func() { snapped <- e.Snapshot() }()
		select {
		case snap := <-snapped:
			if st, _ := snap.Step("cmd"); st.State != engine.StateRunning {
				t.Fatalf("during the cleanup the step is %s, want still running (in flight)", st.State)
			}
		case <-time.After(waitLimit):
			k.answer <- clean
			t.Fatal("Snapshot blocked while a cleanup ran: the engine lock is held during I/O")
		}
		k.answer <- clean
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		h.e = e
		if clean {
			// Cleaned up and idempotent: it runs again.
			<-k.running
			if st, _ := e.Snapshot().Step("cmd"); st.Attempt != 2 {
				t.Fatalf("after a clean cleanup the step runs attempt %d, want 2", st.Attempt)
			}
		} else {
			st := h.waitStep("cmd", engine.StateFailed)
			if st.Attempt != 1 {
				t.Fatalf("attempt %d", st.Attempt)
			}
			found := false
			for _, l := range e.Logs(100, "cmd") {
				found = found || l.Msg == "process group 4242 survived"
			}
			if !found {
				t.Fatal("the cleanup's note was not logged")
			}
		}
		h.stop()
	}
}

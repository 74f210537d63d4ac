package tui

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// TestHeadlessResumePrintsEachStepAtItsJournaledTime: a resumed run's printer first says where
// each step stands, stamped with the time the journal recorded it there — not the time of
// printing, which made a step finished hours ago look as if it had just finished.
func TestHeadlessResumePrintsEachStepAtItsJournaledTime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(`name: t
steps:
  - {id: soak, title: Soak, kind: wait, with: {duration: 1m}}
  - {id: go, title: "Go?", kind: gate, after: soak}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry(engine.AllKinds()...)
	rb, err := runbook.Load(path, runbook.Options{Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC))
	open := func() *engine.Engine {
		e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(dir, "state"), Kinds: reg, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Open(); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// The first engine: the soak runs a minute, the gate then waits for its confirmation.
	e := open()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, events := e.Subscribe(ctx)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	for st, _ := e.Snapshot().Step("go"); st.State != engine.StateAwaiting; st, _ = e.Snapshot().Step("go") {
		select {
		case <-events:
		case <-time.After(20 * time.Second):
			t.Fatalf("the gate never asked: %s", st.State)
		}
	}
	if err := e.Stop("test"); err != nil {
		t.Fatal(err)
	}

	// Two hours later the run is resumed headless.
	clk.Advance(2 * time.Hour)
	e = open()
	defer e.Stop("test")
	outR, outW := io.Pipe()
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- RunHeadless(runCtx, e, HeadlessOptions{Out: outW, Local: time.UTC, Start: func() error { return e.Start(runCtx) }})
		outW.Close()
	}()
	s := newScreen(t, outR)
	s.waitFor("18:01:00  soak       succeeded")
	s.waitFor("18:01:00  go         awaiting")
	stop()
	<-done
	if out := s.seen.String(); strings.Contains(out, "20:01:00  soak") || strings.Contains(out, "20:01:00  go ") {
		t.Fatalf("a replayed step printed at the time of printing:\n%s", out)
	}
}

package engine_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
)

const baselineRunbook = `name: t
steps:
  - {id: a, title: A, kind: probe, planned: 10m, with: {block: true}}
  - {id: b, title: B, kind: probe, planned: 10m, after: [a], with: {block: true}}
`

// rehearse runs a then b, taking da and db of (fake) time, and returns the journal's path.
func rehearse(t *testing.T, src string, da, db time.Duration) string {
	h := newHarness(t, src)
	h.start()
	h.started("a")
	h.clk.Advance(da)
	h.release("a", nil)
	h.started("b")
	h.clk.Advance(db)
	h.release("b", nil)
	h.waitOutcome(engine.OutcomeCompleted)
	h.stop()
	return filepath.Join(h.dir, "state", journal.FileName)
}

func TestBaselineDrivesThePlanAndTheLateness(t *testing.T) {
	path := rehearse(t, baselineRunbook, 30*time.Minute, 20*time.Minute)
	b, err := engine.LoadBaseline(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Steps["a"].Duration(); got != 30*time.Minute {
		t.Fatalf("a took %v in the rehearsal", got)
	}
	if got := b.Total(); got != 50*time.Minute {
		t.Fatalf("rehearsal total %v", got)
	}

	h := newHarness(t, "baseline: "+path+"\n"+baselineRunbook)
	h.start()
	snap := h.e.Snapshot()
	a, _ := snap.Step("a")
	if a.Baseline != 30*time.Minute || a.Plan() != 30*time.Minute || a.Planned != 10*time.Minute {
		t.Fatalf("step a: baseline %v, plan %v, planned %v", a.Baseline, a.Plan(), a.Planned)
	}
	if rb := snap.Run.Baseline; rb == nil || rb.Total != 50*time.Minute || rb.LatenessKnown {
		t.Fatalf("run baseline before any step ended: %+v", rb)
	}
	// a takes 40 minutes this time: the run is ten minutes behind the rehearsal.
	h.started("a")
	h.clk.Advance(40 * time.Minute)
	h.release("a", nil)
	h.waitStep("a", engine.StateSucceeded)
	rb := h.e.Snapshot().Run.Baseline
	if rb == nil || !rb.LatenessKnown || rb.Lateness != 10*time.Minute || rb.Against != "a" {
		t.Fatalf("lateness after a: %+v", rb)
	}
	// b makes up fifteen minutes: five ahead.
	h.started("b")
	h.clk.Advance(5 * time.Minute)
	h.release("b", nil)
	h.waitOutcome(engine.OutcomeCompleted)
	rb = h.e.Snapshot().Run.Baseline
	if rb.Lateness != -5*time.Minute || rb.Against != "b" {
		t.Fatalf("lateness after b: %+v", rb)
	}
}

func TestBaselineRefusesATamperedOrEmptyJournal(t *testing.T) {
	path := rehearse(t, baselineRunbook, time.Minute, time.Minute)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), journal.FileName)
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(data), `"attempt":1`, `"attempt":2`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var ce *journal.CorruptError
	if _, err := engine.LoadBaseline(tampered); !errors.As(err, &ce) {
		t.Fatalf("a tampered baseline was accepted: %v", err)
	}
	h := newHarness(t, "baseline: "+tampered+"\n"+baselineRunbook)
	e, err := engine.New(h.rb, engine.Options{StateDir: filepath.Join(h.dir, "state"), Clock: h.clk, Kinds: h.reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Fatalf("an engine opened with a tampered baseline: %v", err)
	}

	// A run that never finished a step has nothing to plan with.
	h2 := newHarness(t, baselineRunbook)
	h2.start()
	h2.started("a")
	h2.stop()
	if _, err := engine.LoadBaseline(filepath.Join(h2.dir, "state")); err == nil || !strings.Contains(err.Error(), "no step finished") {
		t.Fatalf("an empty baseline: %v", err)
	}
}

package engine_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
)

func TestPollerFirstPollHasFiguresButNoRates(t *testing.T) {
	clk := clock.NewFake(t0)
	src := newFakeReplication(clk)
	p := engine.NewPoller(src, engine.MonitorConfig{}, clk.Now)
	v, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.Cycles != 1 || v.TotalPending != 90000 || v.PendingAt != t0 || v.AgentsAt != t0 {
		t.Fatalf("first picture: cycles %d pending %d at %v, agents at %v", v.Cycles, v.TotalPending, v.PendingAt, v.AgentsAt)
	}
	if v.DrainRate != 0 || v.ETA != 0 {
		t.Fatalf("one reading gives no rate: rate %v ETA %v", v.DrainRate, v.ETA)
	}
	inv, ok := v.Table("INVENTTRANS")
	if !ok || inv.Pending != 60000 || inv.Source != 1_000_000 || inv.Target != 940_000 || inv.Delta != 60000 ||
		inv.Publication != "AX_PUB_PkTable_1" || inv.Rate != 0 || inv.ETA != 0 {
		t.Fatalf("INVENTTRANS %+v", inv)
	}
	for _, h := range v.Health {
		if h.State != engine.HealthOK || h.LastOK != t0 {
			t.Fatalf("health %+v", h)
		}
	}
	if len(v.Health) != 3 {
		t.Fatalf("every source's health: %+v", v.Health)
	}
}

func TestPollerSecondPollHasRatesAndETA(t *testing.T) {
	clk := clock.NewFake(t0)
	src := newFakeReplication(clk)
	p := engine.NewPoller(src, engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: time.Hour}, clk.Now)
	if _, err := p.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Well within both intervals: a Poller still reads everything, the backlog included.
	clk.Advance(10 * time.Second)
	v, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := src.count("backlog"); n != 2 {
		t.Fatalf("backlog read %d times in two polls", n)
	}
	if v.Cycles != 2 || v.TotalPending != 89000 || v.PendingAt != t0.Add(10*time.Second) {
		t.Fatalf("second picture: cycles %d pending %d at %v", v.Cycles, v.TotalPending, v.PendingAt)
	}
	if math.Abs(v.DrainRate-100) > 0.01 {
		t.Fatalf("drain rate %.2f, want 100/s", v.DrainRate)
	}
	if want := 890 * time.Second; v.ETA < want-time.Second || v.ETA > want+time.Second {
		t.Fatalf("ETA %v, want %v", v.ETA, want)
	}
	inv, _ := v.Table("INVENTTRANS")
	if math.Abs(inv.Rate-100) > 0.01 || inv.ETA < 589*time.Second || inv.ETA > 591*time.Second {
		t.Fatalf("INVENTTRANS rate %.2f ETA %v", inv.Rate, inv.ETA)
	}
	if len(inv.Trend) != 2 {
		t.Fatalf("trend %v", inv.Trend)
	}
}

func TestPollerMarksAFailingSourceWithoutAnError(t *testing.T) {
	clk := clock.NewFake(t0)
	src := newFakeReplication(clk)
	p := engine.NewPoller(src, engine.MonitorConfig{}, clk.Now)
	src.setFail("target", errors.New("login failed for user 'axdbadmin'"))
	v, err := p.Poll(context.Background())
	if err != nil {
		t.Fatalf("a failing source is part of the picture, not an error: %v", err)
	}
	th := v.SourceHealth(engine.SourceTarget)
	if th.State != engine.HealthFailing || !strings.Contains(th.LastError, "login failed") || th.Since != t0 || !th.LastOK.IsZero() {
		t.Fatalf("target health %+v", th)
	}
	if ax := v.SourceHealth(engine.SourceAX); ax.State != engine.HealthOK {
		t.Fatalf("source health %+v", ax)
	}
	if v.TotalPending != 90000 {
		t.Fatalf("the other sources' figures are there: pending %d", v.TotalPending)
	}
	// The next poll asks the failing source again (no back-off for a one-shot read) and sees it
	// recover.
	src.setFail("target", nil)
	clk.Advance(time.Second)
	v, err = p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := src.count("target"); n != 2 {
		t.Fatalf("the target was read %d times in two polls", n)
	}
	if th := v.SourceHealth(engine.SourceTarget); th.State != engine.HealthOK || th.LastOutage != time.Second {
		t.Fatalf("recovered target %+v", th)
	}
}

func TestPollerReturnsAnErrorWhenCtxEnds(t *testing.T) {
	clk := clock.NewFake(t0)
	src := newFakeReplication(clk)
	src.blockBacklog, src.entered = make(chan struct{}), make(chan struct{}, 1)
	p := engine.NewPoller(src, engine.MonitorConfig{}, clk.Now)
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		v   *engine.ReplicationView
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := p.Poll(ctx)
		done <- result{v, err}
	}()
	<-src.entered
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) || r.v != nil {
		t.Fatalf("cancelled poll: %v, %v", r.v, r.err)
	}
	// An ended context reads nothing at all.
	before := src.count("agents")
	if _, err := p.Poll(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("poll with an ended context: %v", err)
	}
	if src.count("agents") != before {
		t.Fatal("a poll with an ended context still read the distributor")
	}
}

const inspectRunbook = "name: inspected\nsteps:\n" +
	"  - {id: a, title: A, kind: probe}\n" +
	"  - {id: b, title: B, kind: probe, after: a, with: {block: true}}\n" +
	"  - {id: g, title: Go, kind: gate, after: a}\n" +
	"  - {id: c, title: C, kind: probe, after: [b, g]}\n"

func TestInspectMatchesTheLiveEngineWhileItHoldsTheLock(t *testing.T) {
	h := newHarness(t, inspectRunbook).start()
	stateDir := filepath.Join(h.dir, "state")
	h.started("b")
	h.waitStep("b", engine.StateRunning)
	h.waitStep("g", engine.StateAwaiting)
	if _, held, err := journal.ReadHolder(stateDir); err != nil || !held {
		t.Fatalf("the engine must still hold the lock: held %v, %v", held, err)
	}
	live := h.e.Snapshot()
	ins, err := engine.Inspect(h.rb, stateDir, h.reg)
	if err != nil {
		t.Fatal(err)
	}
	got := ins.Snapshot
	if got.Seq != live.Seq || got.Run.Outcome != engine.OutcomeRunning || ins.Torn {
		t.Fatalf("inspection at seq %d outcome %s torn %v; live seq %d outcome %s", got.Seq, got.Run.Outcome, ins.Torn, live.Seq, live.Run.Outcome)
	}
	if !reflect.DeepEqual(got.Run, live.Run) {
		t.Fatalf("run differs:\ninspected %+v\nlive      %+v", got.Run, live.Run)
	}
	if !reflect.DeepEqual(got.Steps, live.Steps) {
		for i := range live.Steps {
			if !reflect.DeepEqual(got.Steps[i], live.Steps[i]) {
				t.Errorf("step %s differs:\ninspected %+v\nlive      %+v", live.Steps[i].ID, got.Steps[i], live.Steps[i])
			}
		}
		t.FailNow()
	}
	if ins.Sample != nil || len(ins.Health) != 0 {
		t.Fatalf("no monitor, no replication facts: %+v %+v", ins.Sample, ins.Health)
	}
	// Inspecting changed nothing: the engine goes on and its journal still verifies.
	if _, err := h.e.Confirm("g", 0, ana, "g"); err != nil {
		t.Fatal(err)
	}
	h.release("b", nil)
	h.waitOutcome(engine.OutcomeCompleted)
	final := h.e.Snapshot()
	h.stop()
	ins, err = engine.Inspect(h.rb, stateDir, h.reg)
	if err != nil {
		t.Fatal(err)
	}
	if ins.Snapshot.Run.Outcome != engine.OutcomeCompleted || ins.Snapshot.Seq != final.Seq+1 {
		t.Fatalf("after the run: outcome %s seq %d (live ended at %d, then engine.stopped)", ins.Snapshot.Run.Outcome, ins.Snapshot.Seq, final.Seq)
	}
	for i, st := range final.Steps {
		if got := ins.Snapshot.Steps[i]; got.State != st.State || got.Attempt != st.Attempt || !got.Finished.Equal(st.Finished) {
			t.Errorf("step %s: inspected %s attempt %d, live %s attempt %d", st.ID, got.State, got.Attempt, st.State, st.Attempt)
		}
	}
	if rep, err := journal.Verify(filepath.Join(stateDir, journal.FileName)); err != nil || !rep.OK() || rep.Head != ins.Snapshot.Run.JournalHead {
		t.Fatalf("journal after inspection: %+v, %v", rep, err)
	}
}

func TestInspectReplicationFactsAndATornLine(t *testing.T) {
	h, src := monitorHarness(t, engine.MonitorConfig{Interval: 10 * time.Second, BacklogInterval: 10 * time.Second})
	h.nextView(1)
	src.setFail("target", errors.New("connection reset by peer"))
	h.tick(10 * time.Second)
	h.nextView(2)
	live := h.e.Snapshot()
	h.stop()
	stateDir := filepath.Join(h.dir, "state")
	path := filepath.Join(stateDir, journal.FileName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"seq":99,"time":"2026-12-`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ins, err := engine.Inspect(h.rb, stateDir, h.reg)
	if err != nil {
		t.Fatal(err)
	}
	if !ins.Torn {
		t.Fatal("the incomplete last line must be reported")
	}
	if ins.Snapshot.Seq != live.Seq+1 {
		t.Fatalf("seq %d, want %d (the torn line left out)", ins.Snapshot.Seq, live.Seq+1)
	}
	if ins.Sample == nil || ins.Sample.Pending != 90000 || ins.Sample.Tables != 5 || !ins.SampleAt.Equal(t0) {
		t.Fatalf("sample %+v at %v", ins.Sample, ins.SampleAt)
	}
	if len(ins.Health) != 3 || ins.Health[0].Source != engine.SourceAX || ins.Health[2].Source != engine.SourceTarget {
		t.Fatalf("health %+v", ins.Health)
	}
	if th := ins.Health[2]; th.State != engine.HealthFailing || !strings.Contains(th.Error, "connection reset") {
		t.Fatalf("newest target record %+v", th)
	}
}

func TestInspectWithoutAJournal(t *testing.T) {
	h := newHarness(t, inspectRunbook)
	for _, dir := range []string{h.dir, filepath.Join(h.dir, "no-such-dir")} {
		_, err := engine.Inspect(h.rb, dir, h.reg)
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: %v, want an error wrapping os.ErrNotExist", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(h.dir, journal.LockFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("inspecting must not create a lock file")
	}
}

func TestInspectNamesATamperedLine(t *testing.T) {
	h := newHarness(t, inspectRunbook).start()
	h.waitStep("g", engine.StateAwaiting)
	h.stop()
	path := filepath.Join(h.dir, "state", journal.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) < 4 {
		t.Fatalf("journal too short: %d lines", len(lines))
	}
	lines[2] = bytes.Replace(lines[2], []byte(`"type":"`), []byte(`"type":"x`), 1)
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = engine.Inspect(h.rb, filepath.Join(h.dir, "state"), h.reg)
	var ce *journal.CorruptError
	if !errors.As(err, &ce) || ce.Line != 3 || !strings.Contains(err.Error(), journal.FileName+":3:") {
		t.Fatalf("tampered line 3: %v", err)
	}
}

// A picture never changes once returned: the next polls (new figures, a table the target adds)
// write the monitor's own copy of the tables, never the one a picture holds.
func TestPollerPicturesNeverChange(t *testing.T) {
	clk := clock.NewFake(t0)
	src := newFakeReplication(clk)
	p := engine.NewPoller(src, engine.MonitorConfig{}, clk.Now)
	first, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := append([]engine.TableLag(nil), first.Tables...)
	for i := range want {
		want[i].Trend = append([]int64(nil), want[i].Trend...)
	}
	for range 3 {
		clk.Advance(30 * time.Second)
		v, err := p.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if inv, _ := v.Table("INVENTTRANS"); inv.Pending >= 60000 {
			t.Fatalf("the backlog drained: %+v", inv)
		}
	}
	if !reflect.DeepEqual(first.Tables, want) {
		t.Fatalf("the first picture changed:\n%+v\nwas\n%+v", first.Tables, want)
	}
}

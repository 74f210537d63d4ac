package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cutover/engine"
)

// openOnly builds and opens an engine on the harness's state directory without starting it: what
// a new engine shows before its first poll.
func (h *harness) openOnly() *engine.Engine {
	h.t.Helper()
	opts := h.opts
	opts.StateDir, opts.Clock, opts.Kinds = filepath.Join(h.dir, "state"), h.clk, h.reg
	e, err := engine.New(h.rb, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		h.t.Fatal(err)
	}
	return e
}

// ringLine finds a line of the engine's log ring containing text.
func ringLine(e *engine.Engine, text string) (engine.LogLine, bool) {
	for _, l := range e.Logs(engine.DefaultLogRing, "") {
		if strings.Contains(l.Msg, text) {
			return l, true
		}
	}
	return engine.LogLine{}, false
}

// TestPictureSurvivesARestart: a new engine on the same state directory shows, before its first
// poll, the previous engine's picture with every figure's true read time, the trends and rates,
// and its log; the first poll carries the history on.
func TestPictureSurvivesARestart(t *testing.T) {
	h, src := monitorHarness(t, engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: 15 * time.Second, Smoothing: time.Minute})
	h.nextView(1)
	for i := 2; i <= 4; i++ {
		h.tick(15 * time.Second)
		h.nextView(i)
	}
	before := h.e.Replication()
	h.e.Logf(engine.LevelWarn, "idle", "a line from before the restart")
	h.stop()
	// Two hours pass with no engine (the jump box rebooted).
	h.clk.Advance(2 * time.Hour)

	e := h.openOnly()
	v := e.Replication()
	if v == nil || !v.Restored || v.Cycles != 0 {
		t.Fatalf("the new engine shows no restored picture before its first poll: %+v", v)
	}
	if !v.At.Equal(before.At) || !v.PendingAt.Equal(before.PendingAt) || v.TotalPending != before.TotalPending || v.DrainRate != before.DrainRate || v.ETA != before.ETA {
		t.Fatalf("restored picture at %v (backlog %v: %d, %.1f/s, ETA %v), saved at %v (%v: %d, %.1f/s, %v)",
			v.At, v.PendingAt, v.TotalPending, v.DrainRate, v.ETA, before.At, before.PendingAt, before.TotalPending, before.DrainRate, before.ETA)
	}
	if len(v.Trend) != 4 || !slices.Equal(v.Trend, before.Trend) {
		t.Fatalf("trend %v, saved %v", v.Trend, before.Trend)
	}
	inv, _ := v.Table("INVENTTRANS")
	was, _ := before.Table("INVENTTRANS")
	if !inv.SourceAt.Equal(was.SourceAt) || !inv.TargetAt.Equal(was.TargetAt) || !inv.PendingAt.Equal(was.PendingAt) ||
		inv.Pending != was.Pending || inv.Publication != was.Publication || !slices.Equal(inv.Trend, was.Trend) || len(inv.Trend) != 4 {
		t.Fatalf("INVENTTRANS restored as %+v, saved %+v", inv, was)
	}
	if len(v.Publications) != len(before.Publications) {
		t.Fatalf("publications %+v, saved %+v", v.Publications, before.Publications)
	}
	// Its age is honest: two hours, and the sources' state is unknown until read.
	if age := e.Now().Sub(v.At); age < 2*time.Hour {
		t.Fatalf("the restored picture is %v old", age)
	}
	if !engine.FigureLags(e.Now(), v.At, inv.PendingAt) {
		t.Fatal("a two-hour-old figure must show as lagging")
	}
	for _, hs := range v.Health {
		if hs.State != engine.HealthUnknown || hs.LastOK.IsZero() {
			t.Fatalf("restored health %+v: unknown until read, with its last good read", hs)
		}
	}
	// It is figures, not a verdict.
	verdict := v.Judge(engine.DefaultThresholds(), e.Now())
	if verdict.Level != engine.LevelUnknown || !strings.Contains(verdict.Findings[0].Text, "before the restart") {
		t.Fatalf("verdict on a restored picture: %+v", verdict)
	}
	if pv := verdict.Publication("AX_PUB_PkTable_1"); pv.Level != engine.LevelUnknown || pv.Reason != "waiting for the first poll" {
		t.Fatalf("publication verdict %+v", pv)
	}
	// The log comes back with its own times.
	l, ok := ringLine(e, "a line from before the restart")
	if !ok || l.Level != engine.LevelWarn || l.Step != "idle" || !l.Time.Equal(before.At) {
		t.Fatalf("restored log line %+v (found %v), want it at %v", l, ok, before.At)
	}
	if _, ok := ringLine(e, "showing the replication picture the previous engine read 2h00m ago"); !ok {
		t.Fatal("the log does not say the picture was restored")
	}
	lines := e.Logs(engine.DefaultLogRing, "")
	for i := 1; i < len(lines); i++ {
		if lines[i].Seq <= lines[i-1].Seq {
			t.Fatalf("log sequence not increasing: %d then %d", lines[i-1].Seq, lines[i].Seq)
		}
	}

	// The first poll: the backlog cannot be read, the rest can. The history goes on.
	src.setFail("backlog", errors.New("timeout"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, h.events = e.Subscribe(ctx)
	h.e, h.cancel = e, cancel
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := h.nextView(1)
	if fresh.Restored {
		t.Fatal("a polled picture is not restored")
	}
	inv, _ = fresh.Table("INVENTTRANS")
	if !inv.SourceAt.Equal(e.Now()) || !inv.PendingAt.Equal(was.PendingAt) || inv.Pending != was.Pending || len(inv.Trend) != 4 {
		t.Fatalf("after the first poll INVENTTRANS is %+v: fresh counts, the backlog as it was read before", inv)
	}
	if !fresh.PendingAt.Equal(before.PendingAt) || len(fresh.Trend) != 4 {
		t.Fatalf("the backlog's time %v (was %v), trend %d points", fresh.PendingAt, before.PendingAt, len(fresh.Trend))
	}
}

// TestRestoredPictureIsNeverJudgedByASteps: until its first poll a new engine's steps see no
// figures, whatever picture the cockpit shows.
func TestRestoredPictureIsNeverJudgedByASteps(t *testing.T) {
	h, _ := monitorHarness(t, engine.MonitorConfig{Interval: 15 * time.Second})
	h.nextView(1)
	h.stop()
	e := h.openOnly()
	defer e.Stop("test")
	if v := e.Replication(); v == nil || !v.Restored {
		t.Fatalf("no restored picture: %+v", v)
	}
	if v := engine.StepReplication(e); v == nil || v.Restored || len(v.Tables) != 0 || v.Cycles != 0 {
		t.Fatalf("a step sees %+v before the first poll", v)
	}
}

// TestPictureFileUnreadableStartsBlank: a damaged, foreign or missing picture is no error: the
// engine opens, the pane starts blank, the log says why.
func TestPictureFileUnreadableStartsBlank(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":   "not json at all",
		"truncated": `{"version":1,"saved":"2026-12-05T18:00:00Z","replication":{"At":"2026-12-05T18:00:00Z","Cyc`,
		"version":   `{"version":99,"replication":{"At":"2026-12-05T18:00:00Z","Cycles":1}}`,
		"negative":  `{"version":1,"replication":{"At":"2026-12-05T18:00:00Z","Cycles":1,"Tables":[{"Table":"X","Pending":-5}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			h, _ := monitorHarness(t, engine.MonitorConfig{Interval: 15 * time.Second})
			h.nextView(1)
			h.stop()
			if err := os.WriteFile(filepath.Join(h.dir, "state", engine.PictureFileName), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			e := h.openOnly()
			defer e.Stop("test")
			if v := e.Replication(); v == nil || v.Restored || len(v.Tables) != 0 {
				t.Fatalf("an unreadable picture was shown: %+v", v)
			}
			if l, ok := ringLine(e, "could not be read"); !ok || l.Level != engine.LevelWarn {
				t.Fatalf("no warning about the picture file (%+v)", l)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		h := newHarness(t, "name: t\nsteps:\n  - {id: idle, title: Idle, kind: manual}\n")
		h.opts.Ports.Replication = newFakeReplication(h.clk)
		e := h.openOnly()
		defer e.Stop("test")
		if v := e.Replication(); v == nil || v.Restored {
			t.Fatalf("%+v", v)
		}
		if _, ok := ringLine(e, "picture"); ok {
			t.Fatal("a first start has nothing to say about a picture")
		}
	})
}

// TestStopWithoutAPollKeepsThePicture: an engine that never polled (a `cutover step` command
// opens one without starting it) leaves the previous picture as it was.
func TestStopWithoutAPollKeepsThePicture(t *testing.T) {
	h, _ := monitorHarness(t, engine.MonitorConfig{Interval: 15 * time.Second})
	h.nextView(1)
	h.stop()
	path := filepath.Join(h.dir, "state", engine.PictureFileName)
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := h.openOnly()
	if err := e.Stop("step command"); err != nil {
		t.Fatal(err)
	}
	if now, err := os.ReadFile(path); err != nil || string(now) != string(saved) {
		t.Fatalf("the picture changed (%v)", err)
	}
}

// TestRestoredPictureDefersTheFirstPollToItsInterval: a picture younger than one poll interval
// is as fresh as polling keeps it; the new engine polls when the old one's next poll was due.
func TestRestoredPictureDefersTheFirstPollToItsInterval(t *testing.T) {
	h, src := monitorHarness(t, engine.MonitorConfig{Interval: 15 * time.Second})
	h.nextView(1)
	h.stop()
	h.clk.Advance(5 * time.Second)
	reads := src.count("agents")
	h.start()
	if v := h.e.Replication(); !v.Restored {
		t.Fatalf("not the restored picture: %+v", v)
	}
	// The monitor waits for the rest of the interval: 10 seconds, not a poll at once.
	if err := h.clk.WaitForTimers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(10*time.Second - time.Millisecond)
	if n := src.count("agents"); n != reads {
		t.Fatalf("polled %d times within the restored picture's interval", n-reads)
	}
	h.clk.Advance(time.Millisecond)
	if v := h.nextView(1); v.Restored || !v.At.Equal(h.clk.Now()) {
		t.Fatalf("the first poll after the interval: %+v", v)
	}
}

package sim

import (
	"reflect"
	"sync"
	"testing"
	"time"
)

// worldFacts is what a client can observe of a world at one moment.
func worldFacts(t *testing.T, w *World) map[string]any {
	t.Helper()
	facts := map[string]any{
		"now": w.Now(), "pending": w.TotalPending(), "removed": w.ReplicationRemoved(),
		"upgrade": w.UpgradeState(), "pubs": w.Publications(), "aos": w.AOS(), "writes": w.WritesActive(),
		"unstarted": w.UnstartedSnapshots(), "backups": w.Backups(), "restores": w.Restores(),
	}
	for _, tb := range w.Tables()[:40] {
		src, err := w.SourceRows(tb.Name)
		if err != nil {
			continue
		}
		tgt, ok, _ := w.TargetRows(tb.Name)
		facts["rows "+tb.Name] = [3]any{src, tgt, ok}
	}
	for id := int32(1); id < 5; id++ {
		tk, err := w.TracerToken(id)
		facts["token"+string(rune('0'+id))] = [2]any{tk, err == nil}
	}
	return facts
}

func TestReplayRebuildsTheWorld(t *testing.T) {
	cfg := Config{Tables: 300, Seed: 7, Scenarios: ScenarioCountMismatch | ScenarioUpgradeFailure | ScenarioSnapshotNotStarted, InitialBacklog: 50000, DrainRate: 200,
		MaxStopWait: 3 * time.Minute, UpgradeDuration: time.Hour}
	clk := newFakeClock()
	a, err := New(cfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log []Action
	a.OnAction(func(act Action) {
		mu.Lock()
		log = append(log, act)
		mu.Unlock()
	})
	step := func(d time.Duration, f func() error) {
		t.Helper()
		clk.Advance(d)
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	aos := a.AOS()
	step(time.Minute, func() error { _, err := a.PostTracerToken(a.Publications()[0]); return err })
	step(time.Minute, func() error { return a.StartSnapshot(a.UnstartedSnapshots()[0]) })
	for _, x := range aos {
		step(10*time.Second, func() error { return a.StopAOS(x.Host, x.Service) })
	}
	clk.Advance(time.Hour) // every AOS has stopped
	var device string
	step(time.Minute, func() error {
		if err := a.SetBackupTimeZone(-20); err != nil {
			return err
		}
		var err error
		device, err = a.TakeBackup(a.Config().SourceDatabase, true, false, a.Now().Add(-30*time.Second), a.Now().Add(4*time.Minute))
		return err
	})
	step(10*time.Minute, func() error {
		_, err := a.restoreDatabase(view{}, a.Config().SourceDatabase, device, 1, true, true)
		return err
	})
	step(20*time.Minute, a.CreateNoPKPublication)
	step(time.Minute, func() error { a.SetDrainRate(900); return nil })
	step(5*time.Minute, func() error { return a.Redeliver(a.Config().MismatchTable) })
	step(30*time.Minute, a.RemoveReplication)
	step(time.Minute, a.TriggerUpgrade)
	clk.Advance(3 * time.Hour)
	if !a.UpgradeState().Failed {
		t.Fatal("the upgrade-failure scenario did not fail the upgrade")
	}
	step(time.Minute, a.ResumeUpgrade)
	if a.StopAOS(aos[0].Host, aos[0].Service) == nil {
		t.Fatal("a stopped AOS stopped again")
	}
	if got := a.Count(ActStopAOS); got != len(aos) {
		t.Fatalf("stop-aos counted %d times, want %d (failed calls do not count)", got, len(aos))
	}

	b, err := New(Config{Tables: 300, Seed: 7, Scenarios: cfg.Scenarios, InitialBacklog: 50000, DrainRate: 200,
		MaxStopWait: 3 * time.Minute, UpgradeDuration: time.Hour, Start: a.StartedAt()}, clk)
	if err != nil {
		t.Fatal(err)
	}
	heard := 0
	b.OnAction(func(Action) { heard++ })
	if err := b.Replay(log); err != nil {
		t.Fatal(err)
	}
	if heard != 0 {
		t.Fatalf("replayed actions were reported again (%d)", heard)
	}
	for _, d := range []time.Duration{0, 10 * time.Minute, 2 * time.Hour} {
		clk.Advance(d)
		fa, fb := worldFacts(t, a), worldFacts(t, b)
		for k, v := range fa {
			if !reflect.DeepEqual(v, fb[k]) {
				t.Errorf("+%v %s: original %v, rebuilt %v", d, k, v, fb[k])
			}
		}
	}
	for _, op := range []ActionOp{ActStopAOS, ActRemoveReplication, ActTriggerUpgrade, ActResumeUpgrade, ActCreateNoPK, ActStartSnapshot, ActTakeBackup, ActRestore} {
		if a.Count(op) != b.Count(op) {
			t.Errorf("%s: original %d, rebuilt %d", op, a.Count(op), b.Count(op))
		}
	}
	if b.Count(ActRemoveReplication) != 1 {
		t.Errorf("remove-replication counted %d times", b.Count(ActRemoveReplication))
	}
}

func TestReplayRefusesActionsOutOfOrder(t *testing.T) {
	clk := newFakeClock()
	w, err := New(Config{Tables: 200}, clk)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	w.Now()
	err = w.Replay([]Action{{At: w.StartedAt().Add(time.Minute), Op: ActRemoveReplication}})
	if err == nil {
		t.Fatal("an action before the world's time was replayed")
	}
	if err := w.Replay([]Action{{At: w.StartedAt().Add(2 * time.Hour), Op: "dance"}}); err == nil {
		t.Fatal("an unknown action was replayed")
	}
}

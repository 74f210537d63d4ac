package sim_test

import (
	"encoding/json"
	"testing"
	"time"

	"cutover/lcs/sim"
)

func TestSavedStateSurvivesARestart(t *testing.T) {
	f := start(t, sim.Options{QueueTime: time.Minute, RefreshDuration: time.Hour, TokenTTL: 48 * time.Hour})
	var saved []sim.Saved
	f.s.OnChange(func(s sim.Saved) { saved = append(saved, s) })
	f.signIn()
	c, _, m := f.call("POST", p+"/refresh/project/"+sim.DefaultProjectID+"/source/"+sim.SandboxID+"/target/"+sim.UATSandboxID)
	if c != 200 || m["IsSuccess"] != true {
		t.Fatalf("refresh: %v", m)
	}
	apiOp := m["OperationActivityId"].(string)
	f.clock.Advance(2 * time.Hour)
	portalOp, err := f.s.StartPortalRefresh(sim.SandboxID, sim.ProductionID)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	if len(saved) < 2 {
		t.Fatalf("the saver heard %d changes", len(saved))
	}
	// What the saver heard last goes through JSON (a file) into a new simulator.
	raw, err := json.Marshal(saved[len(saved)-1])
	if err != nil {
		t.Fatal(err)
	}
	var sv sim.Saved
	if err := json.Unmarshal(raw, &sv); err != nil {
		t.Fatal(err)
	}
	g := start(t, sim.Options{QueueTime: time.Minute, RefreshDuration: time.Hour, TokenTTL: 48 * time.Hour})
	g.clock.Advance(f.clock.Now().Sub(g.clock.Now()))
	if err := g.s.Restore(sv); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{apiOp, portalOp} {
		if a, b := f.s.OperationStatus(id), g.s.OperationStatus(id); a == "" || a != b {
			t.Fatalf("operation %s: %q before the restart, %q after", id, a, b)
		}
	}
	if g.s.RefreshesStarted(sim.ProductionID) != 1 || g.s.RefreshesStarted(sim.UATSandboxID) != 1 || g.s.Stats().PortalRefreshes[sim.ProductionID] != 1 {
		t.Fatalf("counters after the restart: %+v", g.s.Stats())
	}
	// The restored refresh still occupies production: a second one is refused.
	if _, err := g.s.StartPortalRefresh(sim.SandboxID, sim.ProductionID); err == nil {
		t.Fatal("a second refresh started over the restored one")
	}
	g.clock.Advance(2 * time.Hour)
	if st := g.s.OperationStatus(portalOp); st != "Completed" {
		t.Fatalf("the restored refresh is %s two hours on", st)
	}
	if err := g.s.Restore(sv); err == nil {
		t.Fatal("the same operations were restored twice")
	}
}

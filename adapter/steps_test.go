package adapter_test

import (
	"bytes"
	"context"
	"cutover/adapter"
	"cutover/engine"
	"cutover/engine/journal"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpgradeWatchAgainstTheSimulator: upgrade.watch follows the data upgrade on the simulated
// sandbox, whose tables are shaped as migration-upgrade/monitor-upgrade.md documents them and exist
// only once the upgrade creates them, with the sandbox's state from the simulated LCS. A failed
// PostSync fails the step with the step and the script error RELEASEUPDATESCRIPTSERRORLOG holds
// (the documented example row); resumed, the upgrade reaches completion and so does the step.
func TestUpgradeWatchAgainstTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200, Scenarios: sqlsim.ScenarioUpgradeFailure, UpgradeDuration: 2 * time.Hour},
		"  - {id: watch, title: Watch the data upgrade, kind: upgrade.watch, with: {poll: 1m}}\n")
	r.until(time.Minute, "ten minutes before the trigger", func() bool { return r.clk.Now().Sub(r.sims.World.StartedAt()) >= 10*time.Minute })
	if st := r.step("watch"); st.State != engine.StateRunning {
		t.Fatalf("before the trigger: %s %q", st.State, st.LastError)
	}
	if err := r.sims.World.TriggerUpgrade(); err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "the watch ends", func() bool { return r.step("watch").State.Terminal() })
	st := r.step("watch")
	for _, want := range []string{"the data upgrade failed (LCS: Failed) in PostSync / ",
		"ReleaseUpdateDB10_CaseManagement.updateCaseCategoryTypeMajor (DAT): Cannot edit a record in Case category Security by Role (CaseCategoryRole). Category type: None. The record already exists.",
		"offers Resume"} {
		if st.State != engine.StateFailed || !strings.Contains(st.LastError, want) {
			t.Fatalf("the failure: %s, want %q in %q", st.State, want, st.LastError)
		}
	}
	for _, l := range r.e.Logs(200, "watch") {
		if l.Level >= engine.LevelWarn && !strings.HasPrefix(l.Msg, "failed (attempt 1)") {
			t.Errorf("a warning while the tables were read: %s", l.Msg)
		}
	}
	if err := r.sims.World.ResumeUpgrade(); err != nil {
		t.Fatal(err)
	}
	if err := r.e.Retry("watch", engine.Actor{Name: "Ana", Role: engine.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "the second watch ends", func() bool {
		st := r.step("watch")
		return st.Attempt == 2 && st.State.Terminal()
	})
	st = r.step("watch")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, "data upgrade completed in ") || !strings.Contains(st.Message, "(LCS: Deployed)") {
		t.Fatalf("after the resume: %s %q %q", st.State, st.Message, st.LastError)
	}
	if !r.sims.World.UpgradeState().Done {
		t.Fatal("the step succeeded before the simulated upgrade was done")
	}
}

// TestAFailedDataUpgradeOffersResumeAndRollback: against the simulators, a data upgrade that fails
// (LCS Failed) makes the conditional «Rollback data upgrade: Trigger rollback» step ask its two
// operators (data-upgrade-self-service.md step 11, from Failed to Replicated); the documented
// Resume instead — the toolkit's step 10 again, then a retry of the watch — withdraws that request,
// and once the upgrade completes the rollback is not needed and the run completes. Choosing the
// rollback, it runs on the second operator's phrase and succeeds once LCS says Replicated.
func TestAFailedDataUpgradeOffersResumeAndRollback(t *testing.T) {
	steps := "  - {id: watch, title: Watch the data upgrade, kind: upgrade.watch, with: {poll: 1m}}\n" +
		"  - {id: rollback-upgrade, title: \"Toolkit: Rollback data upgrade: Trigger rollback\", kind: toolkit, destructive: true, approvals: 2, " +
		"confirm: ROLL BACK UPGRADE, when: {failed: watch}, with: {step: \"Rollback data upgrade: Trigger rollback\", poll: 1m}}\n"
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	ben := engine.Actor{Name: "Ben", Origin: "ssh", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	failed := func(t *testing.T) *simRun {
		r := newSimRun(t, sqlsim.Config{Tables: 200, Scenarios: sqlsim.ScenarioUpgradeFailure, UpgradeDuration: 2 * time.Hour}, steps)
		if err := r.sims.World.TriggerUpgrade(); err != nil {
			t.Fatal(err)
		}
		r.until(time.Minute, "the rollback asks", func() bool { return r.step("rollback-upgrade").State == engine.StateAwaiting })
		if w := r.step("watch"); w.State != engine.StateFailed || !strings.Contains(w.LastError, "offers Resume") {
			t.Fatalf("watch: %s %q", w.State, w.LastError)
		}
		if c := r.step("rollback-upgrade").Confirmation; c == nil || c.Needed != 2 || c.Phrase != "ROLL BACK UPGRADE" {
			t.Fatalf("the rollback's request: %+v", c)
		}
		return r
	}
	t.Run("resume", func(t *testing.T) {
		r := failed(t)
		if _, err := r.e.Confirm("rollback-upgrade", 0, ana, "ROLL BACK UPGRADE"); err != nil {
			t.Fatal(err)
		}
		if err := r.sims.World.ResumeUpgrade(); err != nil {
			t.Fatal(err)
		}
		if err := r.e.Retry("watch", ben); err != nil {
			t.Fatal(err)
		}
		if st := r.step("rollback-upgrade"); st.State != engine.StatePending {
			t.Fatalf("the rollback while the upgrade resumes: %s", st.State)
		}
		r.until(time.Minute, "the run completes", func() bool { return r.e.Snapshot().Run.Outcome == engine.OutcomeCompleted })
		if st := r.step("rollback-upgrade"); st.State != engine.StateNotNeeded || st.Message != "not needed: watch succeeded" {
			t.Fatalf("the rollback after the upgrade completed: %s %q", st.State, st.Message)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		r := failed(t)
		if _, err := r.e.Confirm("rollback-upgrade", 0, ana, "ROLL BACK UPGRADE"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.e.Confirm("rollback-upgrade", 0, ana, "ROLL BACK UPGRADE"); !errors.Is(err, engine.ErrAlreadyApproved) {
			t.Fatalf("the same operator twice: %v", err)
		}
		if _, err := r.e.Confirm("rollback-upgrade", 0, ben, "ROLL BACK UPGRADE"); err != nil {
			t.Fatal(err)
		}
		r.until(time.Minute, "the rollback runs", func() bool { return r.step("rollback-upgrade").State == engine.StateRunning })
		if err := r.e.Retry("watch", ana); !errors.Is(err, engine.ErrNotAllowed) {
			t.Fatalf("retrying the watch while the rollback runs: %v", err)
		}
		// The operator ran step 11 in the toolkit; LCS goes from Failed to Replicated.
		r.sims.LCS.SetSandboxStateSource(nil)
		r.sims.LCS.SetSandboxState(lcssim.StateReplicated)
		r.until(time.Minute, "the rollback ends", func() bool { return r.step("rollback-upgrade").State.Terminal() })
		if st := r.step("rollback-upgrade"); st.State != engine.StateSucceeded {
			t.Fatalf("the rollback: %s %q", st.State, st.LastError)
		}
		if o := r.e.Snapshot().Run.Outcome; o != engine.OutcomeBlocked {
			t.Fatalf("after the rollback the run is %s (the watch stays failed: what follows is the operators' call)", o)
		}
	})
}

// TestSmokeHTTPEntraOnTheSimulator: a smoke.http step with entra: true, wired by adapter.BuildPorts to
// the runbook's lcs section, sends a token the simulated Entra ID issued for the URL's host
// (asked silently for that scope after the LCS password sign-in); a 401 fails the step, naming the
// status.
func TestSmokeHTTPEntraOnTheSimulator(t *testing.T) {
	ready := make(chan struct{})
	var sim *lcssim.Server // set before ready is closed
	var (
		mu      sync.Mutex
		refused []string // why the server refused a request
	)
	var resource string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-ready:
		case <-req.Context().Done():
			return
		}
		why := ""
		tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		access, _ := sim.IssuedTokens()
		switch {
		case req.URL.Path == "/deny":
			why = "denied"
		case !ok || !slices.Contains(access, tok):
			why = "not a token the simulator issued"
		case !strings.Contains(sim.Stats().LastScope, resource+"/.default"):
			why = "issued for " + sim.Stats().LastScope
		}
		if why != "" {
			mu.Lock()
			refused = append(refused, req.URL.Path+": "+why)
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "<title>Finance and Operations</title>")
	}))
	defer srv.Close()
	resource = srv.URL
	r := newSimRun(t, sqlsim.Config{Tables: 200}, `  - {id: web, title: F&O answers, kind: smoke.http, with: {url: "`+srv.URL+`/data/Companies", entra: true, expect_body: Finance and Operations}}
  - {id: deny, title: Refused, kind: smoke.http, after: [web], with: {url: "`+srv.URL+`/deny", entra: true}}
`)
	sim = r.sims.LCS
	close(ready)
	r.until(time.Second, "both steps finished", func() bool { return r.step("deny").State.Terminal() || r.step("web").State == engine.StateFailed })
	mu.Lock()
	defer mu.Unlock()
	if st := r.step("web"); st.State != engine.StateSucceeded || !strings.HasPrefix(st.Message, "HTTP 200") {
		t.Fatalf("web: %s %q %q (server refused: %q)", st.State, st.Message, st.LastError, refused)
	}
	if st := r.step("deny"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "/deny: HTTP 401 (expected 200)") {
		t.Fatalf("deny: %s %q", st.State, st.LastError)
	}
	if len(refused) != 1 || refused[0] != "/deny: denied" {
		t.Fatalf("server refused %q", refused)
	}
	if s := sim.Stats(); s.TokensIssued["password"] != 1 || s.TokensIssued["refresh_token"] != 1 {
		t.Fatalf("grants %v: want one password sign-in and one silent token for the other resource, reused", s.TokensIssued)
	}
}

// TestAOSStopOnTheSimulator: the confirmation lists the users still connected, every AOS stops,
// SYSSERVERSESSIONS clears, and running it again after a crash does not fail on stopped hosts.
func TestAOSStopOnTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300}, "  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, destructive: true, confirm: STOP AOS}\n")
	r.until(time.Second, "the confirmation request", func() bool { return r.step("aos-stop").State == engine.StateAwaiting })
	st := r.step("aos-stop")
	act := r.sims.World.Activity()
	if act.ClientSessions == 0 {
		t.Fatal("the simulator has no users connected")
	}
	for _, want := range []string{fmt.Sprintf("users still connected: %d", act.ClientSessions), " on ", "AOS60$01 on AX-AOS01: running"} {
		if !strings.Contains(st.Confirmation.Action, want) {
			t.Fatalf("confirmation lacks %q:\n%s", want, st.Confirmation.Action)
		}
	}
	ana := engine.Actor{Name: "Ana", Origin: "test", Role: engine.RoleOperator}
	if _, err := r.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	// Crash while stopping: the restart runs it again; the stopped hosts are counted as done.
	r.until(5*time.Second, "one AOS stopped", func() bool {
		s, _ := r.sims.World.AOSState("AX-AOS01", "AOS60$01")
		return s == sqlsim.ServiceStopped && r.step("aos-stop").State == engine.StateRunning
	})
	r.stop()
	r.start()
	r.until(5*time.Second, "every AOS stopped", func() bool { return r.step("aos-stop").State.Terminal() })
	st = r.step("aos-stop")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, "3 AOS stopped; AX shows no active server session") {
		t.Fatalf("aos-stop: %s %q %q", st.State, st.Message, st.LastError)
	}
	sp, _ := adapter.OpenSQL(r.e.Runbook(), io.Discard)
	defer sp.Close()
	a, err := sp.Src.AXActivity(context.Background())
	if err != nil || a.ActiveServers() != 0 {
		t.Fatalf("SYSSERVERSESSIONS still shows %d running AOS (%v)", a.ActiveServers(), err)
	}
}

// TestAOSStopNamesTheHostThatRefusesOnTheSimulator: a simulated AOS host whose service will not
// stop fails the step, which names it; the other hosts are stopped all the same, and once the host
// obeys a retry finishes the job without failing on the hosts already stopped.
func TestAOSStopNamesTheHostThatRefusesOnTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300, MaxStopWait: time.Minute},
		"  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, destructive: true, confirm: STOP AOS}\n")
	if err := r.sims.World.RefuseStop("AX-AOS02", true); err != nil {
		t.Fatal(err)
	}
	r.until(time.Second, "the confirmation request", func() bool { return r.step("aos-stop").State == engine.StateAwaiting })
	ana := engine.Actor{Name: "Ana", Origin: "test", Role: engine.RoleOperator}
	if _, err := r.e.Confirm("aos-stop", r.step("aos-stop").Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	r.until(5*time.Second, "aos-stop ends", func() bool { return r.step("aos-stop").State.Terminal() })
	st := r.step("aos-stop")
	if st.State != engine.StateFailed || !strings.Contains(st.LastError, "AX-AOS02") || strings.Contains(st.LastError, "AX-AOS01") {
		t.Fatalf("a host that refuses to stop must fail the step, named alone: %s %q", st.State, st.LastError)
	}
	for _, a := range r.sims.World.AOS() {
		if want := a.Host != "AX-AOS02"; (a.State == sqlsim.ServiceStopped) != want {
			t.Errorf("%s %s is %s", a.Host, a.Service, a.State)
		}
	}
	r.sims.World.RefuseStop("AX-AOS02", false)
	if err := r.e.Retry("aos-stop", ana); err != nil {
		t.Fatal(err)
	}
	// A destructive step asks again before another attempt.
	r.until(time.Second, "the confirmation of the retry", func() bool { return r.step("aos-stop").State == engine.StateAwaiting })
	if _, err := r.e.Confirm("aos-stop", r.step("aos-stop").Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	r.until(5*time.Second, "the retry ends", func() bool {
		st := r.step("aos-stop")
		return st.Attempt == 2 && st.State.Terminal()
	})
	if st := r.step("aos-stop"); st.State != engine.StateSucceeded {
		t.Fatalf("the retry: %s %q", st.State, st.LastError)
	}
	for _, a := range r.sims.World.AOS() {
		if n := r.sims.World.Count(sqlsim.ActStopAOS, a.Host, a.Service); n != 1 {
			t.Errorf("%s was told to stop %d times", a.Host, n)
		}
	}
}

// TestProductionRefreshAgainstTheLCSSimulator: the guided production refresh waits for two
// distinct operators (the same one twice and a viewer are refused), does not complete while LCS
// shows nothing, and completes when the simulated environment history shows the refresh done.
func TestProductionRefreshAgainstTheLCSSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200}, `  - {id: refresh, title: Refresh production, kind: lcs.refresh, destructive: true, confirm: REFRESH PRODUCTION, approvals: 2, with: {source: sandbox, target: production, poll: 1m}}
`)
	r.until(time.Second, "the confirmation request", func() bool { return r.step("refresh").State == engine.StateAwaiting })
	st := r.step("refresh")
	for _, want := range []string{"Refresh database", "production"} {
		if !strings.Contains(st.Confirmation.Action, want) {
			t.Fatalf("the guided step must show the portal path; lacks %q:\n%s", want, st.Confirmation.Action)
		}
	}
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	ben := engine.Actor{Name: "Ben", Origin: "ssh", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	cid := engine.Actor{Name: "Cid", Origin: "ssh", Fingerprint: "SHA256:cid", Role: engine.RoleViewer}
	req := st.Confirmation.Request
	if res, err := r.e.Confirm("refresh", req, ana, "REFRESH PRODUCTION"); err != nil || res.Satisfied {
		t.Fatalf("first approval: %+v %v", res, err)
	}
	if _, err := r.e.Confirm("refresh", req, ana, "REFRESH PRODUCTION"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("the same operator twice: %v", err)
	}
	if _, err := r.e.Confirm("refresh", req, cid, "REFRESH PRODUCTION"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer: %v", err)
	}
	// An hour on, still one approval: the step has not started and LCS saw nothing.
	asked := r.clk.Now()
	r.until(time.Minute, "an hour", func() bool { return r.clk.Now().Sub(asked) >= time.Hour })
	if s := r.step("refresh"); s.State != engine.StateAwaiting || r.sims.LCS.RefreshesStarted(lcssim.ProductionID) != 0 {
		t.Fatalf("with one approval: %s, %d refreshes", s.State, r.sims.LCS.RefreshesStarted(lcssim.ProductionID))
	}
	if res, err := r.e.Confirm("refresh", req, ben, "REFRESH PRODUCTION"); err != nil || !res.Satisfied {
		t.Fatalf("second approval: %+v %v", res, err)
	}
	r.until(time.Minute, "the step runs", func() bool { return r.step("refresh").State == engine.StateRunning })
	// Nothing started in the portal yet: the step keeps waiting.
	r.until(time.Minute, "30 minutes of waiting", func() bool { return r.clk.Now().Sub(r.step("refresh").Started) >= 30*time.Minute })
	if s := r.step("refresh"); s.State != engine.StateRunning {
		t.Fatalf("without a refresh in LCS the step must wait: %s %q", s.State, s.LastError)
	}
	if _, err := r.sims.LCS.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID); err != nil {
		t.Fatal(err)
	}
	// LCS throttles every other request and fails a few with 503 while the refresh is followed:
	// the step waits through it and succeeds only once LCS shows the refresh completed.
	r.sims.LCS.ThrottleEvery(2, time.Minute)
	r.sims.LCS.FailNext(3, http.StatusServiceUnavailable)
	completed := func() bool {
		for _, h := range r.sims.LCS.History(lcssim.ProductionID) {
			if strings.Contains(strings.ToLower(h.Type+h.Name), "refresh") && h.Status == "Completed" {
				return true
			}
		}
		return false
	}
	r.until(10*time.Minute, "the refresh completes", func() bool {
		s := r.step("refresh")
		if s.State == engine.StateSucceeded && !completed() {
			t.Fatalf("the step succeeded before LCS showed the refresh completed: %q", s.Message)
		}
		return s.State.Terminal()
	})
	if s := r.step("refresh"); s.State != engine.StateSucceeded || !strings.Contains(s.Message, "Completed") {
		t.Fatalf("refresh: %s %q %q", s.State, s.Message, s.LastError)
	}
	if n := r.sims.LCS.RefreshesStarted(lcssim.ProductionID); n != 1 {
		t.Fatalf("%d refreshes of production", n)
	}
	if st := r.sims.LCS.Stats(); st.Throttled == 0 {
		t.Fatalf("the simulator never throttled: %+v", st)
	}
	// No token, refresh token or password reaches the journal or the log.
	access, refresh := r.sims.LCS.IssuedTokens()
	if len(access) == 0 {
		t.Fatal("the simulator issued no token: the sign-in was not exercised")
	}
	secrets := append(append([]string{lcssim.DefaultPassword, sqlsim.Password}, access...), refresh...)
	for _, name := range []string{journal.FileName, engine.LogFileName} {
		data, err := os.ReadFile(filepath.Join(r.state, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if s != "" && bytes.Contains(data, []byte(s)) {
				t.Fatalf("%s holds a secret (%.12s…)", name, s)
			}
		}
	}
}

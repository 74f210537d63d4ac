package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// fakeLCS keeps environments, operations and history; operations complete after a number of polls.
type fakeLCS struct {
	mu        sync.Mutex
	states    map[string]string
	ops       map[string]*engine.LCSOperation
	history   map[string][]engine.LCSOperation
	polls     map[string]int
	refreshes int
	loseNext  bool
	outcome   string
	used      int
	next      time.Time
	// opErrs, histErrs and envErrs are answered, one per call, before any real answer.
	opErrs, histErrs, envErrs []error
	// opCalls counts the status reads per operation.
	opCalls map[string]int
	// types are the environments' types, as LCS's metadata gives them.
	types map[string]string
	// quotaErr is answered by Quota when set.
	quotaErr error
}

// lcsErr is an LCS port error that says whether waiting can fix it, as main.go's adapter does.
type lcsErr struct {
	msg       string
	permanent bool
}

func (e lcsErr) Error() string   { return e.msg }
func (e lcsErr) Permanent() bool { return e.permanent }

var (
	errLCSDown   = fmt.Errorf("lcs: operation status: %w", lcsErr{msg: "LCS answered 503 Service Unavailable 3 times"})
	errLCSDenied = fmt.Errorf("lcs: operation status: %w", lcsErr{msg: "LCS refused a freshly issued token (HTTP 401)", permanent: true})
)

// pop takes the first of a list of errors.
func pop(errs *[]error) error {
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

func newFakeLCS() *fakeLCS {
	return &fakeLCS{states: map[string]string{"SBX": "Data upgrade in progress", "PROD": "Deployed"}, ops: map[string]*engine.LCSOperation{},
		history: map[string][]engine.LCSOperation{}, polls: map[string]int{}, outcome: "Completed", opCalls: map[string]int{},
		types: map[string]string{}}
}

func (f *fakeLCS) Environment(_ context.Context, env string) (engine.LCSEnvironment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := pop(&f.envErrs); err != nil {
		return engine.LCSEnvironment{}, err
	}
	return engine.LCSEnvironment{ID: env, State: f.states[env], Type: f.types[env]}, nil
}

func (f *fakeLCS) setState(env, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[env] = state
}

func (f *fakeLCS) StartRefresh(_ context.Context, source, target string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if target == "PROD" {
		return "", errors.New("production refresh is not available through the API")
	}
	f.refreshes++
	id := fmt.Sprintf("op-%d", f.refreshes)
	op := &engine.LCSOperation{ActivityID: id, Type: "SFSourceDbToSandbox", Status: "NotStarted", Started: time.Now()}
	f.ops[id] = op
	f.history[target] = append([]engine.LCSOperation{{ActivityID: id}}, f.history[target]...)
	f.polls[id] = 3
	if f.loseNext {
		f.loseNext = false
		return "", fmt.Errorf("lcs: 502: %w", engine.ErrOutcomeUnknown)
	}
	return id, nil
}

// startPortal is an operator starting the production refresh in the LCS portal.
func (f *fakeLCS) startPortal(target string, started time.Time) {
	f.addRefresh(target, engine.LCSOperation{ActivityID: "portal-1", Status: "InProgress", Started: started})
}

// addRefresh puts a refresh into target's history (newest first); one that has not ended
// completes after two status reads.
func (f *fakeLCS) addRefresh(target string, op engine.LCSOperation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op.Type, op.Name = "SFSourceDbToProduction", "Refresh database"
	f.ops[op.ActivityID] = &op
	f.history[target] = append([]engine.LCSOperation{{ActivityID: op.ActivityID}}, f.history[target]...)
	f.polls[op.ActivityID] = 2
}

func (f *fakeLCS) Operation(_ context.Context, env, activity string) (engine.LCSOperation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opCalls[activity]++
	if err := pop(&f.opErrs); err != nil {
		return engine.LCSOperation{}, err
	}
	op, ok := f.ops[activity]
	if !ok {
		return engine.LCSOperation{}, errors.New("no such operation")
	}
	if op.Terminal {
		return *op, nil
	}
	if f.polls[activity]--; f.polls[activity] <= 0 {
		op.Status, op.Terminal, op.Succeeded, op.Ended = f.outcome, true, f.outcome == "Completed", time.Now()
	} else {
		op.Status = "InProgress"
	}
	return *op, nil
}

func (f *fakeLCS) History(_ context.Context, env string) ([]engine.LCSOperation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := pop(&f.histErrs); err != nil {
		return nil, err
	}
	// The history shows each operation as it is now.
	out := make([]engine.LCSOperation, 0, len(f.history[env]))
	for _, e := range f.history[env] {
		if op, ok := f.ops[e.ActivityID]; ok {
			e = *op
		}
		out = append(out, e)
	}
	return out, nil
}

func (f *fakeLCS) Quota(context.Context, string) (engine.LCSQuota, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.quotaErr != nil {
		return engine.LCSQuota{}, f.quotaErr
	}
	return engine.LCSQuota{Used: f.used, Remaining: max(3-f.used, 0), NextSlot: f.next}, nil
}

const lcsSection = `lcs:
  project_id: "1"
  sandbox_environment_id: SBX
  production_environment_id: PROD
  auth: token-env
  token_env: HOME
`

func TestLCSEnvStateWaitsAndShowsTheState(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+`steps:
  - {id: deployed, title: Sandbox deployed, kind: lcs.env-state, with: {environment: sandbox, state: Deployed, poll: 1m}}
`, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		h.opts.Ports.LCS = api
		h.start()
		time.Sleep(10 * time.Minute)
		if h.state("deployed") != engine.StateRunning {
			t.Fatal("done before the sandbox was deployed")
		}
		api.setState("SBX", "Deployed")
		st := h.waitStep("deployed", engine.StateSucceeded)
		if st.Message != "sandbox is Deployed" {
			t.Fatalf("message %q", st.Message)
		}
		var saw bool
		for _, l := range h.e.Logs(100, "deployed") {
			saw = saw || strings.Contains(l.Msg, "sandbox: Data upgrade in progress → Deployed after 1")
		}
		if !saw {
			t.Fatalf("the state change and its age must be logged: %v", h.e.Logs(10, "deployed"))
		}
	})
}

// TestLCSQuota: for a refresh through the API (into a sandbox) the quota is a gate.
func TestLCSQuota(t *testing.T) {
	h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: quota, title: Enough LCS operations, kind: lcs.quota, with: {environment: sandbox, need: 2}}
`)
	api := newFakeLCS()
	api.used = 2
	h.opts.Ports.LCS = api
	h.start()
	st := h.waitStep("quota", engine.StateFailed)
	if !strings.Contains(st.LastError, "only 1 database operation(s) left for sandbox") {
		t.Fatalf("%q", st.LastError)
	}
}

// TestLCSQuotaNeverBlocksThePortalRefresh: only API operations are throttled
// (dbmovement-api-throttling.md) and the refresh into production is not available through the API
// (dbmovement-operations.md): for production the count is information, never a failure — not when
// all 3 are used, not when it cannot be read, and not for an environment the runbook names by id
// that LCS says is production.
func TestLCSQuotaNeverBlocksThePortalRefresh(t *testing.T) {
	for _, c := range []struct {
		name, env string
		set       func(*fakeLCS)
		want      string
	}{
		{"all used", "production", func(f *fakeLCS) { f.used, f.next = 3, t0.Add(5*time.Hour) }, "LCS has counted 3 of 3 database operations for production"},
		{"unreadable", "production", func(f *fakeLCS) { f.quotaErr = errLCSDown }, "could not be read; it does not limit the refresh into production"},
		{"production by its LCS type", "PROD-2", func(f *fakeLCS) { f.used, f.types["PROD-2"] = 3, "Production" }, "LCS has counted 3 of 3 database operations for PROD-2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: quota, title: LCS operations, kind: lcs.quota, with: {environment: `+c.env+`, need: 2}}
`)
			api := newFakeLCS()
			api.types = map[string]string{}
			c.set(api)
			h.opts.Ports.LCS = api
			h.start()
			st := h.waitStep("quota", engine.StateSucceeded)
			if !strings.Contains(st.Message, c.want) {
				t.Fatalf("message %q lacks %q", st.Message, c.want)
			}
		})
	}
}

func TestLCSQuotaWaitsForTheNextSlot(t *testing.T) {
	h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: quota, title: Enough LCS operations, kind: lcs.quota, retries: 2, with: {environment: sandbox, need: 2}}
`)
	api := newFakeLCS()
	api.used, api.next = 3, t0.Add(3*time.Hour)
	h.opts.Ports.LCS = api
	h.start()
	st := h.waitStep("quota", engine.StateRetrying)
	if !st.RetryAt.Equal(api.next) || !strings.Contains(st.LastError, "are free from") {
		t.Fatalf("the retry must wait for the quota (at %v): %v %q", api.next, st.RetryAt, st.LastError)
	}
	api.mu.Lock()
	api.used, api.next = 1, time.Time{}
	api.mu.Unlock()
	h.advance(1, 3*time.Hour)
	h.waitStep("quota", engine.StateSucceeded)
}

func TestLCSRefreshSandboxNeverStartsTwice(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+`steps:
  - {id: refresh, title: Refresh the UAT sandbox, kind: lcs.refresh, destructive: true, with: {source: production, target: sandbox, poll: 1m}}
`, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.polls = map[string]int{}
		h.opts.Ports.LCS = api
		h.start()
		st := h.waitStep("refresh", engine.StateAwaiting)
		if !strings.Contains(st.Confirmation.Action, "database operations left for sandbox in the rolling 24 hours: 3 of 3") {
			t.Fatalf("the quota must be shown with the confirmation: %q", st.Confirmation.Action)
		}
		h.e.Confirm("refresh", st.Confirmation.Request, ana, "refresh")
		h.waitFor("refresh", "an operation id", func(s engine.StepView) bool { return s.State == engine.StateRunning && h.hasRef("refresh", "activity") })
		// cutover dies while polling; the restart follows the same operation.
		h.restart()
		st = h.waitStep("refresh", engine.StateSucceeded)
		if api.refreshes != 1 {
			t.Fatalf("%d refreshes started", api.refreshes)
		}
		if !strings.Contains(st.Message, "refresh op-1 Completed") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

func TestLCSRefreshLostAnswerIsAdoptedFromHistory(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+`steps:
  - {id: refresh, title: Refresh the sandbox, kind: lcs.refresh, destructive: true, with: {source: production, target: sandbox}}
`, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.loseNext = true
		h.opts.Ports.LCS = api
		h.start()
		st := h.waitStep("refresh", engine.StateAwaiting)
		h.e.Confirm("refresh", st.Confirmation.Request, ana, "refresh")
		st = h.waitStep("refresh", engine.StateSucceeded)
		if api.refreshes != 1 || !strings.Contains(st.Message, "op-1") {
			t.Fatalf("refreshes %d, message %q", api.refreshes, st.Message)
		}
	})
}

func TestLCSProductionRefreshIsGuidedAndNeedsTwoOperators(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+`steps:
  - {id: prod-refresh, title: Refresh production, kind: lcs.refresh, destructive: true, confirm: REFRESH PRODUCTION, with: {source: sandbox, target: production, poll: 1m}}
`, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		h.opts.Ports.LCS = api
		h.start()
		st := h.waitStep("prod-refresh", engine.StateAwaiting)
		c := st.Confirmation
		for _, want := range []string{"Maintain → Move database → Refresh database, source = SBX", "all users except Admin are disabled", "batch jobs are set to Withhold"} {
			if !strings.Contains(c.Action, want) {
				t.Errorf("the guided step must say %q:\n%s", want, c.Action)
			}
		}
		if c.Needed != 2 {
			t.Fatalf("a production refresh needs two operators by default, got %d", c.Needed)
		}
		if _, err := h.e.Confirm("prod-refresh", c.Request, ana, "REFRESH PRODUCTION"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		if h.state("prod-refresh") != engine.StateAwaiting {
			t.Fatal("one operator was enough")
		}
		if _, err := h.e.Confirm("prod-refresh", c.Request, ben, "REFRESH PRODUCTION"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		if h.state("prod-refresh") != engine.StateRunning {
			t.Fatal("it must wait until the refresh shows up in the history")
		}
		api.startPortal("PROD", time.Now().Add(-2*time.Minute))
		st = h.waitStep("prod-refresh", engine.StateSucceeded)
		if !strings.Contains(st.Message, "portal-1 Completed") || api.refreshes != 0 {
			t.Fatalf("message %q, API refreshes %d", st.Message, api.refreshes)
		}
	})
}

// hasRef reports whether a step's journaled references include key.
func (h *harness) hasRef(step, key string) bool {
	for _, r := range h.records() {
		var p engine.External
		if r.Type == string(engine.RecExternal) && r.Step == step && r.Decode(&p) == nil && p.Ref[key] != "" {
			return true
		}
	}
	return false
}

const prodRefreshStep = `steps:
  - {id: prod-refresh, title: Refresh production, kind: lcs.refresh, destructive: true, confirm: REFRESH PRODUCTION, with: {source: sandbox, target: production, poll: 1m}}
`

const sandboxRefreshStep = `steps:
  - {id: refresh, title: Refresh the sandbox, kind: lcs.refresh, destructive: true, retries: 3, with: {source: production, target: sandbox, poll: 1m}}
`

// confirmStep waits for a step's confirmation request, checks that it shows want, and gives it
// the typed confirmations it needs.
func confirmStep(t *testing.T, h *harness, step, phrase string, want ...string) {
	t.Helper()
	st := h.waitStep(step, engine.StateAwaiting)
	for _, w := range want {
		if !strings.Contains(st.Confirmation.Action, w) {
			t.Errorf("the confirmation must say %q:\n%s", w, st.Confirmation.Action)
		}
	}
	for _, who := range []engine.Actor{ana, ben}[:st.Confirmation.Needed] {
		if _, err := h.e.Confirm(step, st.Confirmation.Request, who, phrase); err != nil {
			t.Fatal(err)
		}
	}
}

// logged reports whether a step's log has a line containing s.
func logged(h *harness, step, s string) bool {
	for _, l := range h.e.Logs(1000, step) {
		if strings.Contains(l.Msg, s) {
			return true
		}
	}
	return false
}

// waitProgress consumes events until the step reports progress containing s.
func (h *harness) waitProgress(step, s string) {
	h.t.Helper()
	deadline := time.After(h.limit)
	for {
		select {
		case ev := <-h.events:
			if p, ok := ev.(engine.StepProgress); ok && p.Step == step && strings.Contains(p.Progress.Message, s) {
				return
			}
		case <-deadline:
			h.t.Fatalf("%s never reported progress %q", step, s)
		}
	}
}

func TestLCSProductionRefreshIgnoresRefreshesThatHadEnded(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+prodRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		// Tonight's failed first try and the rehearsal's refresh, both within find_within (6h).
		api.addRefresh("PROD", engine.LCSOperation{ActivityID: "rehearsal", Status: "Completed", Terminal: true, Succeeded: true,
			Started: time.Now().Add(-3 * time.Hour), Ended: time.Now().Add(-time.Hour)})
		api.addRefresh("PROD", engine.LCSOperation{ActivityID: "first-try", Status: "Failed", Terminal: true,
			Started: time.Now().Add(-time.Hour), Ended: time.Now().Add(-30 * time.Minute)})
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		time.Sleep(30 * time.Minute)
		if st := h.state("prod-refresh"); st != engine.StateRunning {
			t.Fatalf("a refresh that had ended before the confirmation was adopted: the step is %s", st)
		}
		if !logged(h, "prod-refresh", "ignoring refresh first-try of production (Failed") || !logged(h, "prod-refresh", "ignoring refresh rehearsal of production (Completed") {
			t.Errorf("the ignored refreshes must be logged: %v", h.e.Logs(20, "prod-refresh"))
		}
		api.startPortal("PROD", time.Now().Add(-time.Minute))
		st := h.waitStep("prod-refresh", engine.StateSucceeded)
		if !strings.Contains(st.Message, "portal-1 Completed") {
			t.Fatalf("message %q", st.Message)
		}
		if api.opCalls["first-try"]+api.opCalls["rehearsal"] != 0 {
			t.Fatalf("ended refreshes were followed: %v", api.opCalls)
		}
	})
}

func TestLCSProductionRefreshAdoptsOneStartedBeforeTheConfirmation(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+prodRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.addRefresh("PROD", engine.LCSOperation{ActivityID: "old", Status: "Failed", Terminal: true, Started: time.Now().Add(-2 * time.Hour), Ended: time.Now().Add(-time.Hour)})
		h.opts.Ports.LCS = api
		h.start()
		h.waitStep("prod-refresh", engine.StateAwaiting)
		// The operators start it in the portal first, then confirm: it still runs, so it counts.
		api.startPortal("PROD", time.Now())
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		if st := h.waitStep("prod-refresh", engine.StateSucceeded); !strings.Contains(st.Message, "portal-1 Completed") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

func TestLCSProductionRefreshRetryWaitsForANewRefresh(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+prodRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.outcome = "Failed"
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		api.startPortal("PROD", time.Now())
		st := h.waitStep("prod-refresh", engine.StateFailed)
		if !strings.Contains(st.LastError, "ended Failed") {
			t.Fatalf("error %q", st.LastError)
		}
		// The operators roll back and want to try again.
		api.mu.Lock()
		api.outcome = "Completed"
		api.mu.Unlock()
		if err := h.e.Retry("prod-refresh", ana); err != nil {
			t.Fatal(err)
		}
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION", "attempt 1's refresh, operation portal-1, ended Failed: start a new refresh in the portal")
		time.Sleep(30 * time.Minute)
		if st := h.state("prod-refresh"); st != engine.StateRunning {
			t.Fatalf("the retry adopted the failed refresh again: the step is %s", st)
		}
		api.addRefresh("PROD", engine.LCSOperation{ActivityID: "portal-2", Status: "InProgress", Started: time.Now()})
		if st := h.waitStep("prod-refresh", engine.StateSucceeded); !strings.Contains(st.Message, "portal-2 Completed") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

func TestLCSProductionRefreshResumeKeepsWhatHadEnded(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+prodRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.addRefresh("PROD", engine.LCSOperation{ActivityID: "rehearsal", Status: "Completed", Terminal: true, Succeeded: true,
			Started: time.Now().Add(-3 * time.Hour), Ended: time.Now().Add(-time.Hour)})
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		h.waitFor("prod-refresh", "the ended refreshes journaled", func(engine.StepView) bool { return h.hasRef("prod-refresh", "ended_before") })
		// cutover is down while the refresh runs and completes.
		h.stop()
		time.Sleep(time.Hour)
		api.addRefresh("PROD", engine.LCSOperation{ActivityID: "portal-2", Status: "Completed", Terminal: true, Succeeded: true,
			Started: time.Now().Add(-50 * time.Minute), Ended: time.Now().Add(-5 * time.Minute)})
		h.start()
		// Read again now, portal-2 had ended too; the journaled list says it had not at the confirmation.
		st := h.waitStep("prod-refresh", engine.StateSucceeded)
		if !strings.Contains(st.Message, "portal-2 Completed") || api.opCalls["rehearsal"] != 0 {
			t.Fatalf("message %q, status reads %v", st.Message, api.opCalls)
		}
	})
}

func TestLCSRefreshWaitsOutLCSNotAnswering(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+sandboxRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.opErrs = []error{errLCSDown, errLCSDown, errLCSDown}
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "refresh", "refresh")
		h.waitProgress("refresh", "refresh op-1: last known -; LCS not answering for 2m (3 failed read(s)")
		st := h.waitStep("refresh", engine.StateSucceeded)
		if !strings.Contains(st.Message, "refresh op-1 Completed") || api.refreshes != 1 {
			t.Fatalf("message %q, %d refreshes", st.Message, api.refreshes)
		}
		var warns int
		for _, l := range h.e.Logs(1000, "refresh") {
			if l.Level == engine.LevelWarn && strings.Contains(l.Msg, "503") {
				warns++
			}
		}
		if warns != 1 {
			t.Errorf("an outage of 3 minutes must be warned about once, not at every poll: %d warnings", warns)
		}
		if !logged(h, "refresh", "LCS answers again after 3m (3 failed read(s))") {
			t.Errorf("the end of the outage and its length must be logged: %v", h.e.Logs(20, "refresh"))
		}
	})
}

func TestLCSRefreshFailsWhenLCSRefusesAndARetryResumes(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+sandboxRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.opErrs = []error{errLCSDown, errLCSDenied}
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "refresh", "refresh")
		// Retries are left, but waiting cannot fix a refused sign-in: it fails at once.
		st := h.waitStep("refresh", engine.StateFailed)
		for _, want := range []string{"reading refresh op-1 in LCS", "refused a freshly issued token", "waiting cannot fix this", "sign in to LCS again",
			"retry this step: it looks at operation op-1 again first and starts no other refresh"} {
			if !strings.Contains(st.LastError, want) {
				t.Errorf("error lacks %q: %s", want, st.LastError)
			}
		}
		if !h.hasRef("refresh", "activity") {
			t.Fatal("the operation id must stay journaled")
		}
		if err := h.e.Retry("refresh", ana); err != nil {
			t.Fatal(err)
		}
		confirmStep(t, h, "refresh", "refresh", "attempt 1's refresh, operation op-1, is InProgress: confirming follows it; no new refresh is started")
		st = h.waitStep("refresh", engine.StateSucceeded)
		if api.refreshes != 1 || !strings.Contains(st.Message, "refresh op-1 Completed") {
			t.Fatalf("%d refreshes started, message %q", api.refreshes, st.Message)
		}
	})
}

func TestLCSRefreshRetryAfterTheAnswerWasLostLooksInTheHistory(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+sandboxRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.loseNext = true
		api.histErrs = []error{errLCSDown}
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "refresh", "refresh")
		st := h.waitStep("refresh", engine.StateFailed)
		if !strings.Contains(st.LastError, "LCS's answer was lost") {
			t.Fatalf("error %q", st.LastError)
		}
		if err := h.e.Retry("refresh", ana); err != nil {
			t.Fatal(err)
		}
		confirmStep(t, h, "refresh", "refresh")
		st = h.waitStep("refresh", engine.StateSucceeded)
		if api.refreshes != 1 || !strings.Contains(st.Message, "refresh op-1 Completed") {
			t.Fatalf("%d refreshes started, message %q", api.refreshes, st.Message)
		}
	})
}

func TestLCSRefreshReportsHowItEnded(t *testing.T) {
	for _, tc := range []struct {
		name, outcome string
		production    bool
		want          []string
	}{
		{"sandbox failed", "Failed", false, []string{"the refresh of sandbox (operation op-1) ended Failed", "sandbox's database may be unusable",
			"download the refresh's runbook logs", "Rollback restores the previous database", "retry this step to start a new refresh", "another of the 3 database operations"}},
		{"sandbox rolled back", "RollbackCompleted", false, []string{"ended RollbackCompleted", "rolled back, so sandbox has its previous database again",
			"retry this step to start a new refresh"}},
		{"sandbox rollback failed", "RollbackFailed", false, []string{"ended RollbackFailed", "sandbox's database is in an unknown state",
			"open a support request in LCS quoting operation op-1"}},
		{"production failed", "Failed", true, []string{"the refresh of production (operation portal-1) ended Failed", "production's database may be unusable",
			"In LCS open production → History", "start a new refresh in the LCS portal and retry this step"}},
		{"production rolled back", "RollbackCompleted", true, []string{"ended RollbackCompleted", "production has its previous database again",
			"start a new refresh in the LCS portal and retry this step"}},
		{"production rollback failed", "RollbackFailed", true, []string{"ended RollbackFailed", "Do not go on with the cutover", "quoting operation portal-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, id, phrase := sandboxRefreshStep, "refresh", "refresh"
			if tc.production {
				step, id, phrase = prodRefreshStep, "prod-refresh", "REFRESH PRODUCTION"
			}
			inBubble(t, "name: t\n"+lcsSection+step, func(t *testing.T, h *harness) {
				api := newFakeLCS()
				api.outcome = tc.outcome
				h.opts.Ports.LCS = api
				h.start()
				confirmStep(t, h, id, phrase)
				if tc.production {
					api.startPortal("PROD", time.Now())
				}
				// The sandbox step has retries left: an ended refresh still fails at once.
				st := h.waitStep(id, engine.StateFailed)
				for _, want := range tc.want {
					if !strings.Contains(st.LastError, want) {
						t.Errorf("error lacks %q:\n%s", want, st.LastError)
					}
				}
			})
		})
	}
}

func TestLCSRefreshRetryAfterAFailedRefreshStartsANewOne(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+sandboxRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.outcome = "Failed"
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "refresh", "refresh")
		h.waitStep("refresh", engine.StateFailed)
		api.mu.Lock()
		api.outcome = "Completed"
		api.mu.Unlock()
		if err := h.e.Retry("refresh", ana); err != nil {
			t.Fatal(err)
		}
		confirmStep(t, h, "refresh", "refresh", "attempt 1's refresh, operation op-1, ended Failed: confirming starts a new refresh")
		st := h.waitStep("refresh", engine.StateSucceeded)
		if api.refreshes != 2 || !strings.Contains(st.Message, "refresh op-2 Completed") {
			t.Fatalf("%d refreshes started, message %q", api.refreshes, st.Message)
		}
	})
}

func TestLCSEnvStateFailsWhenLCSRefuses(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+`steps:
  - {id: deployed, title: Sandbox deployed, kind: lcs.env-state, retries: 2, with: {environment: sandbox, state: Deployed, poll: 1m}}
`, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.envErrs = []error{errLCSDown, errLCSDown, errLCSDenied}
		h.opts.Ports.LCS = api
		h.start()
		st := h.waitStep("deployed", engine.StateFailed)
		if !strings.Contains(st.LastError, "reading sandbox from LCS") || !strings.Contains(st.LastError, "waiting cannot fix this") {
			t.Fatalf("error %q", st.LastError)
		}
		if !logged(h, "deployed", "LCS answered 503") {
			t.Error("the transient failures must be logged")
		}
	})
}

// TestLCSProductionRefreshRetryKeepsALongRunningRefresh: attempt 1 follows a production refresh
// and fails (LCS refuses the token); attempt 2 cannot read that refresh's state (LCS down) and
// fails too; attempt 3 still follows the same refresh, although it started longer ago than
// find_within, instead of waiting for a second one.
func TestLCSProductionRefreshRetryKeepsALongRunningRefresh(t *testing.T) {
	step := strings.Replace(prodRefreshStep, "poll: 1m}", "poll: 1m, find_within: 1h}", 1)
	inBubble(t, "name: t\n"+lcsSection+step, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		api.startPortal("PROD", time.Now())
		api.mu.Lock()
		api.polls["portal-1"] = 1000
		api.opErrs = []error{errLCSDenied}
		api.mu.Unlock()
		h.waitStep("prod-refresh", engine.StateFailed)
		time.Sleep(2 * time.Hour)

		api.mu.Lock()
		api.opErrs = []error{errLCSDown, errLCSDown} // the confirmation's look, then the attempt's
		api.mu.Unlock()
		if err := h.e.Retry("prod-refresh", ana); err != nil {
			t.Fatal(err)
		}
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		if st := h.waitStep("prod-refresh", engine.StateFailed); st.Attempt != 2 {
			t.Fatalf("attempt %d: %q", st.Attempt, st.LastError)
		}

		api.mu.Lock()
		api.polls["portal-1"] = 2
		api.mu.Unlock()
		if err := h.e.Retry("prod-refresh", ana); err != nil {
			t.Fatal(err)
		}
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION", "attempt 1's refresh, operation portal-1")
		if st := h.waitStep("prod-refresh", engine.StateSucceeded); !strings.Contains(st.Message, "portal-1 Completed") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

// TestLCSProductionRefreshThatEndedWhileLCSWasUnreadable: LCS cannot be read for a while after
// the confirmation, and the operators' refresh starts and completes in that gap; the first good
// read of the history adopts it (it ended after the confirmation) instead of ignoring it.
func TestLCSProductionRefreshThatEndedWhileLCSWasUnreadable(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+prodRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.histErrs = make([]error, 30)
		for i := range api.histErrs {
			api.histErrs[i] = errLCSDown
		}
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		time.Sleep(10 * time.Minute)
		api.addRefresh("PROD", engine.LCSOperation{ActivityID: "portal-7", Status: "Completed", Terminal: true, Succeeded: true,
			Started: time.Now().Add(-9 * time.Minute), Ended: time.Now()})
		if st := h.waitStep("prod-refresh", engine.StateSucceeded); !strings.Contains(st.Message, "portal-7 Completed") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

// TestLCSProductionRefreshCutOffBeforeItRecordedAnything: cutover dies right after the guided
// step started, before it recorded anything; the restart runs it again (it had sent nothing to
// LCS) from the moment the operators confirmed, and it finds and follows their refresh.
func TestLCSProductionRefreshCutOffBeforeItRecordedAnything(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+prodRefreshStep, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		h.opts.Ports.LCS = api
		h.start()
		confirmStep(t, h, "prod-refresh", "REFRESH PRODUCTION")
		h.waitFor("prod-refresh", "its first record", func(engine.StepView) bool { return h.hasRef("prod-refresh", "guided_since") })
		h.stop()
		// The crash image: the journal up to the step's start.
		path := filepath.Join(h.dir, "state", journal.FileName)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		keep := 0
		for i, l := range lines {
			if strings.Contains(l, `"type":"step.started"`) && strings.Contains(l, `"step":"prod-refresh"`) {
				keep = i + 1
			}
		}
		if keep == 0 || keep == len(lines) {
			t.Fatalf("no start to cut after in %d lines", len(lines))
		}
		crashImage(t, path, []byte(strings.Join(lines[:keep], "")))
		time.Sleep(10 * time.Minute) // cutover is down; the operators start the refresh meanwhile
		api.startPortal("PROD", time.Now())
		h.start()
		if st := h.waitStep("prod-refresh", engine.StateSucceeded); !strings.Contains(st.Message, "portal-1 Completed") {
			t.Fatalf("message %q", st.Message)
		}
	})
}

// TestIsPermanentAsksThePortsError: an error a port marks permanent (wrapped or not) fails a step
// at once without the step wrapping it; a transient one and a plain one do not.
func TestIsPermanentAsksThePortsError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errLCSDenied, true},
		{errLCSDown, false},
		{errors.New("plain"), false},
		{engine.Permanent(errors.New("wrapped")), true},
		{nil, false},
	} {
		if got := engine.IsPermanent(c.err); got != c.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestLCSProductionRefreshShowsTheCountAsInformation: the confirmation of the portal refresh shows
// what LCS has counted, and says it does not limit the refresh; even with all 3 used the refresh
// is offered.
func TestLCSProductionRefreshShowsTheCountAsInformation(t *testing.T) {
	inBubble(t, "name: t\n"+lcsSection+`steps:
  - {id: prod-refresh, title: Refresh production, kind: lcs.refresh, destructive: true, confirm: REFRESH PRODUCTION, with: {source: sandbox, target: production, poll: 1m}}
`, func(t *testing.T, h *harness) {
		api := newFakeLCS()
		api.used, api.next = 3, t0.Add(5*time.Hour)
		h.opts.Ports.LCS = api
		h.start()
		st := h.waitStep("prod-refresh", engine.StateAwaiting)
		if !strings.Contains(st.Confirmation.Action, "LCS has counted 3 of 3 database operations for production") ||
			!strings.Contains(st.Confirmation.Action, "does not limit the refresh into production") || strings.Contains(st.Confirmation.Action, "could not be retried") {
			t.Fatalf("confirmation:\n%s", st.Confirmation.Action)
		}
	})
}

// TestLCSEnvStateMatchesByMeaning: the documents spell one state several ways ("Replication
// completed" and "Replicated", "Ready for replication" and ReadyForReplication, "Replication in
// progress" and "Replicating"); a runbook naming one spelling is satisfied by any, case and spaces
// aside, and fail_on likewise. A state with no known meaning is matched as written.
func TestLCSEnvStateMatchesByMeaning(t *testing.T) {
	for _, c := range []struct {
		want, lcs string
		ok        bool
	}{
		{"Replication completed", "Replicated", true},
		{"replicated", "Replication completed", true},
		{"ReplicationCompleted", "Replicated", true},
		{"Ready for replication", "ReadyForReplication", true},
		{"readyforreplication", "Ready for replication", true},
		{"Replication in progress", "Replicating", true},
		{"Data upgrade in progress", "DataUpgradeInProgress", true},
		{"PreServicing", "preservicing", true},
		{"Replication completed", "Replication in progress", false},
		{"Deployed", "Data upgrade in progress", false},
	} {
		t.Run(c.want+"="+c.lcs, func(t *testing.T) {
			h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: st, title: State, kind: lcs.env-state, with: {environment: sandbox, state: "`+c.want+`", fail_on: [replicating], poll: 1m}}
`)
			api := newFakeLCS()
			api.setState("SBX", c.lcs)
			h.opts.Ports.LCS = api
			h.start()
			switch {
			case c.ok:
				h.waitStep("st", engine.StateSucceeded)
			case engine.CanonicalLCSState(c.lcs) == "Replication in progress":
				h.waitStep("st", engine.StateFailed) // fail_on: replicating
			default:
				h.waitStep("st", engine.StateRunning)
				for range 3 {
					h.advance(1, time.Minute)
				}
				if st := h.state("st"); st != engine.StateRunning {
					t.Fatalf("%s is not %s, yet the step is %s", c.lcs, c.want, st)
				}
			}
		})
	}
	for in, want := range map[string]string{"Replicated": "Replication completed", "ReadyForReplication": "Ready for replication",
		"REPLICATING": "Replication in progress", " deployed ": "Deployed", "PreServicing": "PreServicing"} {
		if got := engine.CanonicalLCSState(in); got != want {
			t.Errorf("CanonicalLCSState(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLCSProductionByIdInAnotherSpelling: a step naming the production environment by its id in
// another spelling than lcs.production_environment_id (LCS writes ids dashed and undashed) is
// the production refresh: guided, two operators, the portal path.
func TestLCSProductionByIdInAnotherSpelling(t *testing.T) {
	src := `name: t
lcs:
  project_id: "1"
  sandbox_environment_id: 60b557b2-fefb-4690-859e-f83caf98c17e
  production_environment_id: d15ed3a8-c2c1-4054-840b-946c93915da9
  auth: token-env
  token_env: HOME
steps:
  - {id: refresh, title: Refresh, kind: lcs.refresh, destructive: true, with: {source: sandbox, target: D15ED3A8C2C14054840B946C93915DA9}}
`
	undash := func(a, b string) bool {
		n := func(s string) string { return strings.ToLower(strings.ReplaceAll(strings.Trim(s, "{} "), "-", "")) }
		return n(a) == n(b)
	}
	rb, err := runbook.Parse("cutover.yaml", []byte(src), runbook.Options{Kinds: engine.NewRegistry(engine.AllKinds()...), SameLCSID: undash,
		LookupEnv: func(string) (string, bool) { return "x", true }})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := rb.Step("refresh")
	if st.RequiredApprovals() != 2 || !strings.Contains(st.Spec.(engine.Action).Describe(), "start it yourself in the LCS portal") {
		t.Fatalf("approvals %d, %q", st.RequiredApprovals(), st.Spec.(engine.Action).Describe())
	}
}

// TestPreflightQuotaGatesOnlyAPIOperations: the pre-flight's quota check fails for an environment
// whose refresh goes through the API (a sandbox) and informs for production.
func TestPreflightQuotaGatesOnlyAPIOperations(t *testing.T) {
	for _, c := range []struct {
		env   string
		state engine.StepState
		line  string
	}{
		{"sandbox", engine.StateFailed, "1 database operation(s) left for sandbox"},
		{"production", engine.StateSucceeded, "this does not limit the refresh into production"},
	} {
		h := newHarness(t, "name: t\n"+replConnections+lcsSection+`steps:
  - {id: preflight, title: Pre-flight, kind: preflight, with: {distribution_path: 'D:\SQLServer\Data', snapshot_path: 'E:\Snapshot', quota_environment: `+c.env+`}}
`)
		api := newFakeLCS()
		api.used = 2
		h.opts.Ports = engine.Ports{Preflight: fakePreflight{goodFacts()}, LCS: api}
		h.start()
		h.waitStep("preflight", c.state)
		found := false
		for _, l := range h.e.Logs(100, "preflight") {
			found = found || strings.Contains(l.Msg, "LCS quota") && strings.Contains(l.Msg, c.line)
		}
		if !found {
			t.Errorf("%s: no LCS quota line with %q", c.env, c.line)
		}
	}
}

// TestStoppingTellsWhatGoesOn: the production refresh's view says that stopping it leaves the
// refresh running in LCS (it cannot be cancelled); a command's says the command is killed.
func TestStoppingTellsWhatGoesOn(t *testing.T) {
	h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: prod-refresh, title: Refresh production, kind: lcs.refresh, destructive: true, confirm: REFRESH PRODUCTION, with: {source: sandbox, target: production, poll: 1m}}
  - {id: cmd, title: A command, kind: command, with: {argv: ["true"]}}
`).start()
	snap := h.e.Snapshot()
	refresh, _ := snap.Step("prod-refresh")
	if !strings.Contains(refresh.StopEffect, "goes on in LCS") || !strings.Contains(refresh.StopEffect, "cannot be cancelled") {
		t.Fatalf("the refresh's stop effect: %q", refresh.StopEffect)
	}
	cmd, _ := snap.Step("cmd")
	if !strings.Contains(cmd.StopEffect, "command it runs is killed") {
		t.Fatalf("the command's stop effect: %q", cmd.StopEffect)
	}
}

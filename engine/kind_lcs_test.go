package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/engine"
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
}

func newFakeLCS() *fakeLCS {
	return &fakeLCS{states: map[string]string{"SBX": "Data upgrade in progress", "PROD": "Deployed"}, ops: map[string]*engine.LCSOperation{},
		history: map[string][]engine.LCSOperation{}, polls: map[string]int{}, outcome: "Completed"}
}

func (f *fakeLCS) Environment(_ context.Context, env string) (engine.LCSEnvironment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return engine.LCSEnvironment{ID: env, State: f.states[env]}, nil
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
	f.history[target] = append([]engine.LCSOperation{*op}, f.history[target]...)
	f.polls[id] = 3
	if f.loseNext {
		f.loseNext = false
		return "", fmt.Errorf("lcs: 502: %w", engine.ErrOutcomeUnknown)
	}
	return id, nil
}

// startPortal is an operator starting the production refresh in the LCS portal.
func (f *fakeLCS) startPortal(target string, started time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := "portal-1"
	op := &engine.LCSOperation{ActivityID: id, Type: "SFSourceDbToProduction", Name: "Refresh database", Status: "InProgress", Started: started}
	f.ops[id] = op
	f.history[target] = append([]engine.LCSOperation{*op}, f.history[target]...)
	f.polls[id] = 2
}

func (f *fakeLCS) Operation(_ context.Context, env, activity string) (engine.LCSOperation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op, ok := f.ops[activity]
	if !ok {
		return engine.LCSOperation{}, errors.New("no such operation")
	}
	if f.polls[activity]--; f.polls[activity] <= 0 {
		op.Status, op.Terminal, op.Succeeded = f.outcome, true, f.outcome == "Completed"
	} else {
		op.Status = "InProgress"
	}
	return *op, nil
}

func (f *fakeLCS) History(_ context.Context, env string) ([]engine.LCSOperation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.LCSOperation(nil), f.history[env]...), nil
}

func (f *fakeLCS) Quota(context.Context, string) (engine.LCSQuota, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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

func TestLCSQuota(t *testing.T) {
	h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: quota, title: Enough LCS operations, kind: lcs.quota, with: {environment: production, need: 2}}
`)
	api := newFakeLCS()
	api.used = 2
	h.opts.Ports.LCS = api
	h.start()
	st := h.waitStep("quota", engine.StateFailed)
	if !strings.Contains(st.LastError, "only 1 database operation(s) left for production") {
		t.Fatalf("%q", st.LastError)
	}
}

func TestLCSQuotaWaitsForTheNextSlot(t *testing.T) {
	h := newHarness(t, "name: t\n"+lcsSection+`steps:
  - {id: quota, title: Enough LCS operations, kind: lcs.quota, retries: 2, with: {environment: production, need: 2}}
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

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

// fakeServices is a service controller whose services take some polls to stop.
type fakeServices struct {
	mu     sync.Mutex
	state  map[string]engine.ServiceState
	polls  map[string]int // polls left while stopping
	refuse map[string]bool
	stops  map[string]int
	starts map[string]int
	onStop func()
}

func newFakeServices() *fakeServices {
	return &fakeServices{state: map[string]engine.ServiceState{}, polls: map[string]int{}, refuse: map[string]bool{}, stops: map[string]int{}}
}

func (f *fakeServices) Stop(_ context.Context, host, service string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := host + "/" + service
	f.stops[k]++
	if f.state[k] == engine.ServiceStopped {
		return nil
	}
	f.state[k] = engine.ServiceStopPending
	if f.onStop != nil {
		f.onStop()
	}
	return nil
}

func (f *fakeServices) State(_ context.Context, host, service string) (engine.ServiceState, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := host + "/" + service
	st, ok := f.state[k]
	if !ok {
		return engine.ServiceUnknown, "", errors.New("no such service")
	}
	if st == engine.ServiceStopPending && !f.refuse[host] {
		if f.polls[k]--; f.polls[k] < 0 {
			f.state[k] = engine.ServiceStopped
		}
	}
	if st == engine.ServiceStartPending {
		if f.polls[k]--; f.polls[k] < 0 {
			f.state[k] = engine.ServiceRunning
		}
	}
	return f.state[k], f.state[k].String(), nil
}

// Start starts a service: it is starting for polls[k] more reads, then running; a service that
// refuses (refuse[host]) fails to start, as one whose start times out does (Windows error 1053).
func (f *fakeServices) Start(_ context.Context, host, service string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := host + "/" + service
	if f.starts == nil {
		f.starts = map[string]int{}
	}
	f.starts[k]++
	switch f.state[k] {
	case engine.ServiceRunning, engine.ServiceStartPending:
		return nil
	case engine.ServiceStopPending:
		return errors.New("The service cannot accept control messages at this time. (1061)")
	}
	if f.refuse[host] {
		return errors.New("The service did not respond to the start or control request in a timely fashion. (1053)")
	}
	f.state[k] = engine.ServiceStartPending
	return nil
}

// fakeAX reports the AOS server sessions of the services still running.
type fakeAX struct {
	svc   *fakeServices
	users []engine.AXUser
	jobs  []engine.AXBatchJob
	stale int // server rows that linger after the services stopped (draining)
	// left is activity no service owns (sessions ending, tasks cancelling), guarded by svc.mu.
	left engine.AXActivity
}

func (a *fakeAX) Activity(context.Context) (engine.AXActivity, error) {
	a.svc.mu.Lock()
	defer a.svc.mu.Unlock()
	var act engine.AXActivity
	for k, st := range a.svc.state {
		if st != engine.ServiceStopped {
			act.Servers = append(act.Servers, engine.AXServer{ServerID: k})
			act.Users = append(act.Users, a.users...)
			act.Jobs = append(act.Jobs, a.jobs...)
		}
	}
	if len(act.Servers) == 0 && a.stale > 0 {
		a.stale--
		act.Servers = []engine.AXServer{{ServerID: "01@AX-AOS01", Status: "draining"}}
	}
	act.Users = append(act.Users, a.left.Users...)
	act.Jobs = append(act.Jobs, a.left.Jobs...)
	act.ExecutingTasks += a.left.ExecutingTasks
	act.CancellingTasks += a.left.CancellingTasks
	return act, nil
}
func (a *fakeAX) LastWrite(context.Context) (time.Time, error)        { return time.Time{}, nil }
func (a *fakeAX) NewestReplicated(context.Context) (time.Time, error) { return time.Time{}, nil }

const aosRunbook = `name: t
aos:
  control: command
  stop: [sc.exe, '\\{host}', stop, '{service}']
  query: [sc.exe, '\\{host}', query, '{service}']
  stopped_pattern: STOPPED
  stop_timeout: 2m
  instances:
    - {host: AX-AOS01, service: AOS60$01}
    - {host: AX-AOS02, service: AOS60$01}
    - {host: AX-BATCH01, service: AOS60$01}
steps:
  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, destructive: true, confirm: STOP AOS, with: {poll: 5s}}
`

func aosHarness(t *testing.T) (*harness, *fakeServices, *fakeAX) {
	h := newHarness(t, aosRunbook)
	svc := newFakeServices()
	svc.state["AX-AOS01/AOS60$01"] = engine.ServiceRunning
	svc.state["AX-AOS02/AOS60$01"] = engine.ServiceRunning
	svc.state["AX-BATCH01/AOS60$01"] = engine.ServiceStopped
	svc.polls["AX-AOS02/AOS60$01"] = 2
	ax := &fakeAX{svc: svc,
		users: []engine.AXUser{{User: "ana", Computer: "PC-042", Since: t0.Add(-time.Hour)}},
		jobs:  []engine.AXBatchJob{{Caption: "Inventory closing", Executing: true}}}
	h.opts.Ports = engine.Ports{Services: svc, AX: ax}
	return h, svc, ax
}

func TestAOSStopShowsSessionsAndStopsEverything(t *testing.T) {
	h, svc, _ := aosHarness(t)
	h.start()
	st := h.waitStep("aos-stop", engine.StateAwaiting)
	action := st.Confirmation.Action
	for _, want := range []string{"AOS60$01 on AX-AOS01, AOS60$01 on AX-AOS02, AOS60$01 on AX-BATCH01", "AOS60$01 on AX-BATCH01: stopped",
		"AOS60$01 on AX-AOS01: running", "users still connected: 2", "ana on PC-042", "batch jobs executing: 2 (Inventory closing, Inventory closing)"} {
		if !strings.Contains(action, want) {
			t.Errorf("confirmation lacks %q:\n%s", want, action)
		}
	}
	if _, err := h.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	// Both running AOS stop: AX-AOS01 at the first poll, AX-AOS02 after two more.
	h.advanceUntil(5*time.Second, "aos-stop succeeds", func() bool { return h.state("aos-stop") == engine.StateSucceeded })
	st = h.waitStep("aos-stop", engine.StateSucceeded)
	if st.Finished.Before(t0.Add(15 * time.Second)) {
		t.Fatalf("finished at %v: the slow AOS needs three polls", st.Finished)
	}
	if !strings.Contains(st.Message, "3 AOS stopped; AX shows no active server session") {
		t.Fatalf("message %q", st.Message)
	}
	if svc.stops["AX-BATCH01/AOS60$01"] != 0 {
		t.Fatal("an already stopped AOS was asked to stop")
	}
	var already bool
	for _, l := range h.e.Logs(100, "aos-stop") {
		already = already || strings.Contains(l.Msg, "AOS60$01 on AX-BATCH01: already stopped")
	}
	if !already {
		t.Fatal("the already stopped AOS must be reported")
	}
}

func TestAOSStopNamesTheHostThatRefuses(t *testing.T) {
	h, svc, _ := aosHarness(t)
	svc.refuse["AX-AOS02"] = true
	h.start()
	st := h.waitStep("aos-stop", engine.StateAwaiting)
	h.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS")
	h.advanceUntil(5*time.Second, "aos-stop fails", func() bool { return h.state("aos-stop") == engine.StateFailed })
	st = h.waitStep("aos-stop", engine.StateFailed)
	if !strings.Contains(st.LastError, "still running: AOS60$01 on AX-AOS02 (stopping)") || strings.Contains(st.LastError, "AX-AOS01 (") {
		t.Fatalf("error %q", st.LastError)
	}
}

func TestAOSStopAgainAfterACrashIsSafe(t *testing.T) {
	h, svc, _ := aosHarness(t)
	// AX-AOS02 keeps stopping until the crash, however many polls a loaded machine lets happen
	// before AX-AOS01 is seen stopped: the crash must come mid-step.
	svc.mu.Lock()
	svc.refuse["AX-AOS02"] = true
	svc.mu.Unlock()
	h.start()
	st := h.waitStep("aos-stop", engine.StateAwaiting)
	h.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS")
	h.waitStep("aos-stop", engine.StateRunning)
	h.advanceUntil(5*time.Second, "AX-AOS01 stops", func() bool {
		st, _, _ := svc.State(context.Background(), "AX-AOS01", "AOS60$01")
		return st == engine.ServiceStopped
	})
	h.stop()
	svc.mu.Lock()
	svc.refuse["AX-AOS02"] = false
	svc.mu.Unlock()
	h.start()
	// Re-run (aos.stop is safe to re-run): stopped hosts are done, the other is waited for.
	h.advanceUntil(5*time.Second, "aos-stop succeeds", func() bool { return h.state("aos-stop") == engine.StateSucceeded })
	st = h.waitStep("aos-stop", engine.StateSucceeded)
	if st.Attempt != 2 {
		t.Fatalf("attempt %d", st.Attempt)
	}
	if n := svc.stops["AX-AOS01/AOS60$01"]; n != 1 {
		t.Fatalf("a stopped AOS was asked to stop %d times", n)
	}
}

func TestAOSStopLoadTimeChecks(t *testing.T) {
	h := newHarness(t, "name: t\nsteps:\n  - {id: s, title: S, kind: manual}\n")
	for _, c := range []struct{ src, want string }{
		{"name: t\nsteps:\n  - {id: s, title: S, kind: aos.stop, destructive: true}\n", "needs an aos: section"},
		{strings.Replace(aosRunbook, "destructive: true, ", "", 1), "mark the step destructive: true"},
		{strings.Replace(aosRunbook, "with: {poll: 5s}", "with: {hosts: [AX-AOS09]}", 1), "hosts: AX-AOS09 is not one of the aos instances"},
	} {
		h.src = c.src
		_, err := loadErr(h)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
}

// TestAOSStopWaitsForADrainingAOSRow: with every service stopped, AX still showing an AOS in a state
// other than alive (draining, or a status the documents do not name) is an AOS still there: the
// step waits, naming the row and its state, and succeeds once AX clears it.
func TestAOSStopWaitsForADrainingAOSRow(t *testing.T) {
	h, _, ax := aosHarness(t)
	ax.stale = 4
	h.start()
	st := h.waitStep("aos-stop", engine.StateAwaiting)
	if _, err := h.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	h.advanceUntil(5*time.Second, "aos-stop succeeds", func() bool { return h.state("aos-stop") == engine.StateSucceeded })
	var named bool
	for _, l := range h.e.Logs(100, "aos-stop") {
		named = named || strings.Contains(l.Msg, "01@AX-AOS01 (draining)")
	}
	if !named {
		t.Fatalf("the wait does not name the draining row: %v", h.e.Logs(20, "aos-stop"))
	}
	if ax.stale != 0 {
		t.Fatalf("succeeded while AX still showed the draining AOS (%d reads left)", ax.stale)
	}
}

// TestAOSStopPreviewNamesEndingSessionsAndCancellingJobs: the confirmation counts sessions marked
// for kill and cancelling batch jobs as still there.
func TestAOSStopPreviewNamesEndingSessionsAndCancellingJobs(t *testing.T) {
	h, _, ax := aosHarness(t)
	ax.left = engine.AXActivity{Users: []engine.AXUser{{User: "bob", Computer: "PC-007", Since: t0.Add(-2 * time.Hour), Ending: true, Status: "marked for kill"}},
		Jobs: []engine.AXBatchJob{{Caption: "Post ledger journals", Executing: true, Cancelling: true}}}
	h.start()
	action := h.waitStep("aos-stop", engine.StateAwaiting).Confirmation.Action
	for _, want := range []string{"users still connected: 3 (1 marked for kill, still ending)", "bob on PC-007 since", "(marked for kill, still ending)",
		"batch jobs executing: 2 (Inventory closing, Inventory closing)", "batch jobs cancelling: 1 (Post ledger journals) — still ending"} {
		if !strings.Contains(action, want) {
			t.Errorf("confirmation lacks %q:\n%s", want, action)
		}
	}
}

// TestAOSStopRequestCarriesEveryConnectedUser: with 59 users still in AX, the request's text names
// the eight connected longest and how many more (the log, the journal's text and the headless
// prompt stay short), while the request carries all 59 as a list, in the journal too, so a
// dialog can scroll through them; a restarted engine still has them.
func TestAOSStopRequestCarriesEveryConnectedUser(t *testing.T) {
	h, _, ax := aosHarness(t)
	ax.users = nil
	for i := range 59 {
		ax.left.Users = append(ax.left.Users, engine.AXUser{User: fmt.Sprintf("user%02d", i), Computer: fmt.Sprintf("PC-%03d", i), Since: t0.Add(-time.Duration(100-i) * time.Minute)})
	}
	h.start()
	c := h.waitStep("aos-stop", engine.StateAwaiting).Confirmation
	for _, want := range []string{"users still connected: 59", "\n  user00 on PC-000 since ", "\n  user07 on PC-007", "\n  … and 51 more"} {
		if !strings.Contains(c.Action, want) {
			t.Errorf("the request's text lacks %q:\n%s", want, c.Action)
		}
	}
	if strings.Contains(c.Action, "user08") {
		t.Errorf("the text names more than eight users:\n%s", c.Action)
	}
	check := func(c *engine.ConfirmationView) {
		t.Helper()
		lead, lists := c.Body()
		if len(lists) != 1 || lists[0].Name != "users still connected" || lists[0].Head != "users still connected: 59" || len(lists[0].Items) != 59 {
			t.Fatalf("lists: %+v", lists)
		}
		for i, it := range lists[0].Items {
			if !strings.HasPrefix(it, fmt.Sprintf("user%02d on PC-%03d since ", i, i)) {
				t.Fatalf("item %d is %q: the list goes longest connected first", i, it)
			}
		}
		if strings.Contains(lead, "users still connected") || !strings.Contains(lead, "AOS60$01 on AX-AOS01: running") || !strings.HasSuffix(lead, "a running batch job can keep an AOS from stopping") {
			t.Fatalf("the lead is the text before the list:\n%s", lead)
		}
	}
	check(c)
	var journaled int
	for _, r := range h.records() {
		var p engine.Awaiting
		if r.Type == string(engine.RecAwaiting) && r.Decode(&p) == nil && len(p.Lists) == 1 {
			journaled = len(p.Lists[0].Items)
		}
	}
	if journaled != 59 {
		t.Fatalf("the journal holds %d of the 59 users", journaled)
	}
	h.restart()
	st, _ := h.e.Snapshot().Step("aos-stop")
	if st.Confirmation == nil {
		t.Fatal("the request is open again after the restart")
	}
	check(st.Confirmation)
}

// TestConfirmationBodyWithoutItsListText: a request whose text does not end with its lists'
// text (written before requests carried lists) shows its text whole and no list, never twice.
func TestConfirmationBodyWithoutItsListText(t *testing.T) {
	users := engine.ConfirmList{Head: "users still connected: 2", Items: []string{"ana on PC-042 since 20:00", "ben on PC-007 since 20:05"}}
	c := engine.ConfirmationView{Action: "stop the AOS\nusers still connected: 2\n  ana on PC-042 since 20:00", Lists: []engine.ConfirmList{users}}
	if lead, lists := c.Body(); lead != c.Action || lists != nil {
		t.Fatalf("lead %q, lists %v", lead, lists)
	}
	c.Action = "stop the AOS\n" + users.Text(engine.ConfirmListShown)
	if lead, lists := c.Body(); lead != "stop the AOS" || len(lists) != 1 {
		t.Fatalf("lead %q, lists %v", lead, lists)
	}
	c.Action = users.Text(engine.ConfirmListShown)
	if lead, lists := c.Body(); lead != "" || len(lists) != 1 {
		t.Fatalf("a text that is only the list: lead %q, lists %v", lead, lists)
	}
	if got := (engine.ConfirmList{Head: "users still connected: none"}).Text(8); got != "users still connected: none" {
		t.Fatalf("an empty list is its head: %q", got)
	}
}

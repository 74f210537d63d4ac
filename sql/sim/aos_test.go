package sim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cutover/sql/query"
)

// TestRefuseStop: an AOS host told to refuse fails every stop with an error naming the host and
// service, keeps running (SYSSERVERSESSIONS, writes), is not recorded as stopped, and obeys again
// once the refusal is lifted; the other hosts stop as usual.
func TestRefuseStop(t *testing.T) {
	f := newFixture(t, Config{Tables: 600, Seed: 5})
	src := f.src()
	const host, service = "AX-AOS02", "AOS60$01"
	if err := f.w.RefuseStop("ax-aos02", true); err != nil {
		t.Fatal(err)
	}
	if err := f.w.RefuseStop("AX-NOSUCH", true); !errors.Is(err, ErrUnknownAOS) || !strings.Contains(err.Error(), "AX-NOSUCH") {
		t.Fatalf("unknown host: %v", err)
	}
	for _, a := range f.w.AOS() {
		if a.RefusesStop != strings.EqualFold(a.Host, host) {
			t.Fatalf("AOS %s refuses to stop: %v", a.Host, a.RefusesStop)
		}
	}

	err := f.w.StopAOS(host, service)
	if !errors.Is(err, ErrStopRefused) || !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), service) {
		t.Fatalf("stop of a refusing AOS: %v", err)
	}
	for _, a := range f.w.AOS() {
		if !strings.EqualFold(a.Host, host) {
			if err := f.w.StopAOS(a.Host, a.Service); err != nil {
				t.Fatalf("stop %s: %v", a.Host, err)
			}
		}
	}
	f.clk.Advance(15 * time.Minute) // past every stop, the batch AOS's wait included
	if st, _ := f.w.AOSState(host, service); st != ServiceRunning {
		t.Fatalf("the refusing AOS is %v", st)
	}
	if n := f.w.Count(ActStopAOS, host, service); n != 0 {
		t.Fatalf("a refused stop was recorded %d times", n)
	}
	var running []string
	for _, r := range f.rows(src, query.AXServerSessions) {
		if r[3].(int64) == 1 {
			running = append(running, r[1].(string)) // AOSID: host@port
		}
	}
	if len(running) != 1 || !strings.HasPrefix(running[0], host+"@") || !f.w.WritesActive() || f.w.Activity().RunningAOS != 1 {
		t.Fatalf("with one AOS refusing: running server sessions %v, writes %v, activity %+v", running, f.w.WritesActive(), f.w.Activity())
	}
	first := asTime(t, f.scalar(src, query.LastUserUpdate))
	f.clk.Advance(time.Minute)
	if last := asTime(t, f.scalar(src, query.LastUserUpdate)); !last.After(first) {
		t.Fatalf("writes stopped with the refusing AOS still running: %v → %v", first, last)
	}

	if err := f.w.RefuseStop(host, false); err != nil {
		t.Fatal(err)
	}
	if err := f.w.StopAOS(host, service); err != nil {
		t.Fatalf("stop once the refusal is lifted: %v", err)
	}
	if st, _ := f.w.AOSState(host, service); st != ServiceStopPending {
		t.Fatalf("right after the stop: %v", st)
	}
	f.clk.Advance(time.Minute)
	if st, _ := f.w.AOSState(host, service); st != ServiceStopped || f.w.WritesActive() || f.w.Count(ActStopAOS, host, service) != 1 {
		t.Fatalf("after the stop: %v, writes %v, recorded %d", st, f.w.WritesActive(), f.w.Count(ActStopAOS, host, service))
	}
}

// TestLeftoverActivityAndDirectWrites: with every AOS stopped, sessions and batch tasks an AOS left
// behind still show as active over TDS, and writes that do not go through an AOS go on; both end
// when they are cleared.
func TestLeftoverActivityAndDirectWrites(t *testing.T) {
	f := newFixture(t, Config{Tables: 300, Seed: 9})
	src := f.src()
	for _, a := range f.w.AOS() {
		if err := f.w.StopAOS(a.Host, a.Service); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.Advance(30 * time.Minute)
	if a := f.w.Activity(); a.RunningAOS != 0 || a.ClientSessions != 0 || a.ExecutingTasks != 0 || f.w.WritesActive() {
		t.Fatalf("every AOS stopped: %+v, writes %v", a, f.w.WritesActive())
	}
	f.w.SetLeftoverActivity(2, 3)
	if got := f.rows(src, query.AXClientSessions); len(got) != 2 || got[0][2] != "ghost01" {
		t.Fatalf("leftover client sessions over TDS: %v", got)
	}
	if got := f.rows(src, query.AXRunningBatchTasks); len(got) != 1 || got[0][0] != int64(BatchExecuting) || got[0][1] != int64(3) {
		t.Fatalf("leftover batch tasks over TDS: %v", got)
	}
	if a := f.w.Activity(); a.ClientSessions != 2 || a.ExecutingTasks != 3 || a.RunningAOS != 0 {
		t.Fatalf("activity with leftovers: %+v", a)
	}
	f.w.SetLeftoverActivity(0, 0)
	if got := f.rows(src, query.AXClientSessions); len(got) != 0 {
		t.Fatalf("cleared leftovers still listed: %v", got)
	}

	before := asTime(t, f.scalar(src, query.LastUserUpdate))
	f.w.SetDirectWriteRate(10)
	f.clk.Advance(time.Minute)
	if last := asTime(t, f.scalar(src, query.LastUserUpdate)); !last.After(before) || !f.w.WritesActive() {
		t.Fatalf("direct writes with every AOS stopped: last write %v (was %v), active %v", last, before, f.w.WritesActive())
	}
	f.w.SetDirectWriteRate(0)
	stopped := asTime(t, f.scalar(src, query.LastUserUpdate))
	f.clk.Advance(time.Minute)
	if last := asTime(t, f.scalar(src, query.LastUserUpdate)); !last.Equal(stopped) || f.w.WritesActive() {
		t.Fatalf("writes go on after the direct writer stopped: %v then %v", stopped, last)
	}
}

// TestDrainingAndEndingStatesOverTDS: an AOS told to reject new clients runs on with its
// SYSSERVERSESSIONS row in Drain (not 1, not 0) until it stops; rows left behind marked for kill
// and batch tasks left cancelling are listed with those statuses by the documented queries, and
// an AOS killed while it drained keeps its row in Drain.
func TestDrainingAndEndingStatesOverTDS(t *testing.T) {
	f := newFixture(t, Config{Tables: 300, Seed: 11})
	src := f.src()
	const host, service = "AX-AOS01", "AOS60$01"
	statusOf := func(h string) int64 {
		for _, r := range f.rows(src, query.AXServerSessions) {
			if strings.HasPrefix(r[1].(string), h+"@") {
				return r[3].(int64)
			}
		}
		t.Fatalf("no SYSSERVERSESSIONS row for %s", h)
		return -1
	}
	if err := f.w.DrainAOS(host, service); err != nil {
		t.Fatal(err)
	}
	if st := statusOf(host); st != serverDrain {
		t.Fatalf("a draining AOS shows STATUS %d", st)
	}
	if a := f.w.Activity(); a.RunningAOS != 3 || a.DrainingAOS != 1 || !f.w.WritesActive() {
		t.Fatalf("a draining AOS still runs: %+v", a)
	}
	if err := f.w.StopAOS(host, service); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(10 * time.Minute)
	if st := statusOf(host); st != serverDead {
		t.Fatalf("a stopped AOS shows STATUS %d", st)
	}
	if err := f.w.DrainAOS(host, service); !errors.Is(err, ErrServiceNotRunning) {
		t.Fatalf("drain a stopped AOS: %v", err)
	}
	if err := f.w.StartAOS(host, service); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(10 * time.Minute)
	if st := statusOf(host); st != serverAlive || f.w.Count(ActDrainAOS, host, service) != 1 {
		t.Fatalf("a restarted AOS accepts clients again: STATUS %d, drains recorded %d", st, f.w.Count(ActDrainAOS, host, service))
	}

	f.stopAll()
	f.w.SetLeftover(Leftover{Clients: 1, EndingClients: 2, Tasks: 1, CancellingTasks: 4, DrainedRows: 1})
	statuses := map[int64]int{}
	for _, r := range f.rows(src, query.AXClientSessions) {
		statuses[r[6].(int64)]++
	}
	if statuses[sessionRunning] != 1 || statuses[sessionMarkedAsKill] != 2 || len(statuses) != 2 {
		t.Fatalf("leftover client sessions by STATUS: %v", statuses)
	}
	tasks := map[int64]int64{}
	for _, r := range f.rows(src, query.AXRunningBatchTasks) {
		tasks[r[0].(int64)] = r[1].(int64)
	}
	if tasks[int64(BatchExecuting)] != 1 || tasks[int64(BatchCancelling)] != 4 || len(tasks) != 2 {
		t.Fatalf("leftover batch tasks by STATUS: %v", tasks)
	}
	var cancelling int
	for _, r := range f.rows(src, query.AXBatchJobs) {
		if r[2].(int64) == int64(BatchCancelling) {
			cancelling++
		}
	}
	if cancelling != 1 {
		t.Fatalf("%d cancelling batch jobs listed", cancelling)
	}
	if st := statusOf(host); st != serverDrain {
		t.Fatalf("the row an AOS killed while draining left: STATUS %d", st)
	}
	if a := f.w.Activity(); a.RunningAOS != 1 || a.DrainingAOS != 1 || a.ClientSessions != 3 || a.EndingSessions != 2 ||
		a.ExecutingTasks != 5 || a.CancellingTasks != 4 {
		t.Fatalf("activity with leftovers: %+v", a)
	}
	f.w.SetLeftover(Leftover{})
	if a := f.w.Activity(); a.RunningAOS != 0 || a.ClientSessions != 0 || a.ExecutingTasks != 0 {
		t.Fatalf("cleared leftovers: %+v", a)
	}
}

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
	if n := f.scalar(src, query.AXExecutingBatchTasks); n != int64(3) {
		t.Fatalf("leftover batch tasks over TDS: %v", n)
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

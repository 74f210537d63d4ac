package tui

import (
	"cutover/engine"
	"testing"
	"time"
)

// TestClockAtSaysTheDay: a time on another day than now carries the days between them.
func TestClockAtSaysTheDay(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	now := time.Date(2026, 12, 6, 11, 31, 0, 0, oslo)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 12, 6, 12, 17, 0, 0, oslo), "12:17"},
		{time.Date(2026, 12, 7, 12, 17, 0, 0, oslo), "12:17 +1d"},
		{time.Date(2026, 12, 9, 0, 5, 0, 0, oslo), "00:05 +3d"},
		{time.Date(2026, 12, 5, 23, 10, 0, 0, oslo), "23:10 -1d"},
		// Shown in the cockpit's zone whatever the time's own: 23:30 UTC is 00:30 in Oslo.
		{time.Date(2026, 12, 6, 23, 30, 0, 0, time.UTC), "00:30 +1d"},
	} {
		if got := clockAt(c.at, now, oslo); got != c.want {
			t.Errorf("clockAt(%v) = %q, want %q", c.at, got, c.want)
		}
	}
}

// TestGateTimingIsTheWait: a gate never runs; once answered its time is the wait from its first
// question to its answer, against the plan, as the report counts it.
func TestGateTimingIsTheWait(t *testing.T) {
	asked := time.Date(2026, 12, 6, 11, 37, 0, 0, time.UTC)
	gate := engine.StepView{State: engine.StateSucceeded, Planned: 15 * time.Minute, FirstAsked: asked, Finished: asked.Add(31 * time.Minute)}
	if got := (&runbookPane{}).timing(gate, asked.Add(time.Hour)); got != "waited 31m / 15m" {
		t.Fatalf("gate timing %q", got)
	}
}

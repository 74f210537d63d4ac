package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"cutover/engine"
)

// restoredFixture is the cockpit just after a restart: the engine shows the picture the previous
// one kept, read two hours ago, and the log read back from the log file; no poll has answered.
func restoredFixture() *fakeEngine {
	e := newFixtureEngine(600)
	v := fixtureReplication(600)
	shift := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(-2 * time.Hour)
	}
	v.At, v.PendingAt, v.AgentsAt = shift(v.At), shift(v.PendingAt), shift(v.AgentsAt)
	for i := range v.Tables {
		t := &v.Tables[i]
		t.PendingAt, t.SourceAt, t.TargetAt = shift(t.PendingAt), shift(t.SourceAt), shift(t.TargetAt)
	}
	for i := range v.Publications {
		v.Publications[i].LastDelivery = shift(v.Publications[i].LastDelivery)
	}
	for i := range v.Health {
		v.Health[i] = engine.SourceHealth{Name: v.Health[i].Name, LastOK: shift(v.Health[i].LastOK)}
	}
	v.Cycles, v.Restored = 0, true
	e.repl = v
	for i := range e.logs {
		e.logs[i].Time = e.logs[i].Time.Add(-2 * time.Hour)
	}
	return e
}

// TestRestoredPictureShownAtOnce: at first paint after a restart, the replication pane shows the
// kept picture — tables, figures dimmed with their age, trends — and the Logs pane the kept log,
// never a blank pane; the publication rows wait for the first poll.
func TestRestoredPictureShownAtOnce(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{200, 60}, {120, 40}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			e := restoredFixture()
			a := newTestApp(e, sz.w, sz.h, Options{Config: Config{Theme: ThemeDark, LogFollow: true}})
			press(a, "2")
			raw := a.render()
			out := ansi.Strip(raw)
			checkFrame(t, raw, sz.w, sz.h)
			for _, want := range []string{"Replication · restored · read 2h00m ago", "600 tables", "▲ STALE", "? u", "CUSTLINE7", "SOURCE", "4,609,858"} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q on the first screen:\n%s", want, out)
				}
			}
			// The figures are dimmed (the second row: the first is the cursor's): the engine's rule
			// finds them lagging.
			if cell := a.s.styles.Stale.Render(fitRight("3,841,715", 13)); !strings.Contains(raw, cell) {
				t.Errorf("the restored target count is not dimmed")
			}
			if sz.w >= 120 && (!strings.Contains(out, "backlog read 2h00m ago") || !strings.Contains(out, "? unknown: waiting for")) {
				t.Errorf("the backlog's age or the publications' verdict is not shown:\n%s", out)
			}
			if sz.w >= 120 && !strings.Contains(out, "█▇▆▅▄▄▃▃") {
				t.Errorf("no restored trend:\n%s", out)
			}
			golden.RequireEqual(t, out)
			press(a, "4")
			if out := ansi.Strip(a.render()); !strings.Contains(out, "19:09:00 INFO  [replication-healthy] backlog 3000 commands") {
				t.Errorf("the Logs pane does not show the kept log:\n%s", out)
			}
		})
	}
}

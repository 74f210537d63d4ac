package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

// TestDetailShowsTheStepsNewestLogLine: the selected step's detail ends with its newest log line
// whatever room it has. The production refresh, with its progress line, its two approvals and
// the portal path to follow, left the detail too short for the four lines it asked for, and the
// rows cut at the bottom were the newest: "NotStarted" stayed on screen while the progress line
// said "InProgress for 1h11m" (the log file had the newer line).
func TestDetailShowsTheStepsNewestLogLine(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{200, 60}, {120, 40}, {80, 24}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			e := newFixtureEngine(50)
			// The refresh runs: the operator started it in the LCS portal, cutover follows it.
			for i := range e.snap.Steps {
				st := &e.snap.Steps[i]
				switch st.ID {
				case "stop-integrations", "aos-stop", "replication-drain", "toolkit-nopk", "validate-counts":
					st.State, st.Confirmation, st.LastError = engine.StateSucceeded, nil, ""
				case "production-refresh":
					st.State, st.Attempt, st.MaxAttempts = engine.StateRunning, 1, 1
					st.FirstStarted, st.Started = fixedNow.Add(-72*time.Minute), fixedNow.Add(-72*time.Minute)
					st.Doc = "articles/fin-ops-core/dev-itpro/database/database-refresh.md"
					st.Action = "In LCS open the production environment → Maintain → Move database → Refresh database, choose the upgraded sandbox as the source, and start it; cutover then finds the refresh in production's history and follows it to the end"
				}
			}
			e.snap.Run.Outcome = engine.OutcomeRunning
			seq := uint64(len(e.logs))
			add := func(min int, msg string) {
				seq++
				e.logs = append(e.logs, engine.LogLine{Seq: seq, Time: fixedNow.Add(time.Duration(min) * time.Minute), Level: engine.LevelInfo, Step: "production-refresh", Msg: msg})
			}
			add(-72, "waiting for the refresh to be started in the LCS portal")
			add(-71, "found the refresh in production's history: operation 7f3c (NotStarted)")
			add(-71, "operation 7f3c: NotStarted")
			add(-70, "operation 7f3c: InProgress")
			a := newTestApp(e, sz.w, sz.h, Options{Config: Config{Theme: ThemeDark, LogFollow: true}})
			a.Update(eventMsg{engine.StepProgress{Step: "production-refresh", At: fixedNow,
				Progress: engine.Progress{Percent: -1, Message: "refresh 7f3c: InProgress for 1h11m"}}})
			press(a, "1")
			out := a.render()
			// The runbook pane: the left half of a wide terminal, the whole of a narrow one.
			var pane strings.Builder
			for _, l := range strings.Split(out, "\n") {
				if a.wide() {
					l = ansi.Cut(l, 0, sz.w/2)
				}
				pane.WriteString(ansi.Strip(l) + "\n")
			}
			detail := pane.String()
			if !strings.Contains(detail, "InProgress for 1h11m") {
				t.Fatalf("the detail does not show the step's progress:\n%s", detail)
			}
			shows := strings.Contains(detail, "operation 7f3c: InProgress")
			if sz.h >= 40 && !shows {
				t.Fatalf("the detail does not show the step's newest log line (operation 7f3c: InProgress):\n%s", detail)
			}
			if strings.Contains(detail, "7f3c: NotStarted") && !shows {
				t.Fatalf("the detail shows an older log line of the step without the newest:\n%s", detail)
			}
		})
	}
}

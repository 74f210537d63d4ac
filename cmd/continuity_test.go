package cmd

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestCockpitKeepsItsPictureAcrossARestart is the continuity acceptance: a demo quit while the
// replication drain runs and started again on the same --state shows, on its first screen, the
// replication picture with its age, the tables' trends and the log — before any fresh figure
// could arrive (the restart runs in real time with hour-long poll intervals, and the first poll
// after a restart waits for the interval).
func TestCockpitKeepsItsPictureAcrossARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a demo run to the drain and a restart: skipped with -short")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it): the end-to-end cockpit test needs it")
	}
	bin, dir := buildCutover(t), t.TempDir()
	demoCmd := func(flags string) string {
		return fmt.Sprintf("env NO_COLOR=1 %q demo --yes --tables 200 --state %q --as ana %s; echo EXIT=$?; sleep 600", bin, dir, flags)
	}
	// The first run, fast, up to the drain; then quit through the cockpit's question.
	tm := newTmux(t, 200, 60, demoCmd("--speed 20"))
	tm.waitFor("[replication-drain] started", "2 Replication · read")
	tm.keys("q")
	tm.waitFor("Quit the cockpit while the cutover is in flight?")
	tm.keys("Tab", "Tab", "Enter")
	if s := tm.waitFor("EXIT="); !strings.Contains(s, "EXIT=3") {
		t.Fatalf("the first run did not close cleanly:\n%s", s)
	}
	if j := readDemoJournal(t, dir); j.succeeded["replication-drain"] > 0 {
		t.Logf("the drain finished before the quit landed (a loaded machine): the restart is checked all the same")
	}

	// The restart: real time, polls an hour apart. Its first screen has the picture at once.
	tm2 := tm.newSession("again", 200, 60, demoCmd("--speed 1 --poll 1h --backlog-poll 1h"))
	s := tm2.waitFor("2 Replication")
	if !regexp.MustCompile(`2 Replication · restored · read \S+ ago`).MatchString(s) {
		t.Fatalf("the replication pane does not show the kept picture with its age:\n%s", s)
	}
	if !strings.Contains(s, "200 tables") || !strings.Contains(s, "SOURCE") {
		t.Fatalf("the kept picture has no tables:\n%s", s)
	}
	// Each table's trend came back: eight samples, where one fresh poll would have drawn one.
	if !regexp.MustCompile(`[▁▂▃▄▅▆▇█]{8}│`).MatchString(s) {
		t.Fatalf("no table shows its trend:\n%s", s)
	}
	// The Logs pane (bottom right) has the earlier run's lines.
	logLine := regexp.MustCompile(`│\d\d:\d\d:\d\d (INFO|WARN|ERROR) `)
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Count(l, "│") >= 4 && logLine.MatchString(l[strings.LastIndex(l, "││"):]) {
			n++
		}
	}
	if n < 10 {
		t.Fatalf("the Logs pane shows %d lines at first:\n%s", n, s)
	}
	tm2.keys("4", "/")
	tm2.text("engine stopped: cockpit closed")
	tm2.keys("Enter")
	tm2.waitFor("search: engine stopped: cockpit closed")
	if s := tm2.screen(); !strings.Contains(s, "INFO  engine stopped: cockpit closed") {
		t.Fatalf("the earlier run's last line is not in the Logs pane:\n%s", s)
	}
	// Still the kept picture: no poll could have answered.
	if s := tm2.screen(); !strings.Contains(s, "2 Replication · restored · read") {
		t.Fatalf("a poll answered within the hour-long interval:\n%s", s)
	}
	tm2.keys("Escape")
	tm2.waitGone("search: engine stopped")
	tm2.keys("q")
	tm2.waitFor("Quit the cockpit while the cutover is in flight?")
	tm2.keys("Tab", "Tab", "Enter")
	tm2.waitFor("EXIT=")
}

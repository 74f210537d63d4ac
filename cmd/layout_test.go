package cmd

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"cutover/engine/runbook"
)

// demoStepIDs are the demo runbook's step ids, in order.
func demoStepIDs(t *testing.T) []string {
	t.Helper()
	src, err := runbook.DemoRunbook(runbook.DemoSettings{})
	if err != nil {
		t.Fatal(err)
	}
	var rb struct{ Steps []struct{ ID string } }
	if err := yaml.Unmarshal(src, &rb); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range rb.Steps {
		ids = append(ids, s.ID)
	}
	if len(ids) < 30 {
		t.Fatalf("the demo runbook has %d steps", len(ids))
	}
	return ids
}

// TestLayoutUnderTmux drives the real binary's demo cockpit at the sizes the issue was tried at:
// at 80x24 the header shows the point of no return and the footer q; at 120x40 every step id of
// the demo runbook shows whole on the runbook pane, going down the list step by step.
func TestLayoutUnderTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it): the end-to-end layout test needs it")
	}
	bin := buildCutover(t)
	demo := func(t *testing.T, w, h int) *tmuxTerm {
		cmd := fmt.Sprintf("env NO_COLOR=1 %q demo --speed 1000 --tables 300 --state %q --as ana; echo EXIT=$?; sleep 600", bin, t.TempDir())
		return newTmux(t, w, h, cmd)
	}

	t.Run("80x24", func(t *testing.T) {
		tm := demo(t, 80, 24)
		s := tm.waitFor("no return", "q quit")
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		if len(lines) != 24 {
			t.Fatalf("%d lines on a 24-line terminal:\n%s", len(lines), s)
		}
		if head := lines[0] + "\n" + lines[1]; !strings.Contains(head, "no return") || !strings.Contains(head, "rollback") || !strings.Contains(head, "downtime") {
			t.Fatalf("the header lacks the downtime clock, the point of no return or the rollback:\n%s", s)
		}
		if foot := lines[23]; !strings.Contains(foot, "? help") || !strings.Contains(foot, "q quit") {
			t.Fatalf("the footer lacks ? help or q quit:\n%s", s)
		}
	})

	t.Run("120x40", func(t *testing.T) {
		tm := demo(t, 120, 40)
		ids := demoStepIDs(t)
		tm.waitFor("1 Runbook", "q quit")
		tm.keys("1", "g")
		for i, id := range ids {
			// The detail names the selected step; its row is in the list's window.
			s := tm.waitFor(id + " — ")
			row := regexp.MustCompile(`(?m)^│\S (\S+ +)?` + regexp.QuoteMeta(id) + `[ │]`) // glyph, state word, id
			if !row.MatchString(s) {
				t.Fatalf("the row of %s is not whole:\n%s", id, s)
			}
			if i+1 < len(ids) {
				tm.keys("j")
			}
		}
	})
}

package cmd

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/team"
	sqlsim "cutover/sql/sim"
)

// teamLines writes a team file of name → (key, role) lines with the mode given.
func writeTeamFile(t *testing.T, path string, mode os.FileMode, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("# team\n"+strings.Join(lines, "\n")+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func teamLine(t *testing.T, k sshKey, name string, role engine.Role) string {
	t.Helper()
	l, err := team.Line(k.pub, name, role)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAsTwiceOnOneTerminalCannotSatisfyTwoApprovals: the local cockpit restarted with --as ana,
// then --as bob, on the same terminal, is one person (this account): the second approval is
// refused and the gate keeps waiting.
func TestAsTwiceOnOneTerminalCannotSatisfyTwoApprovals(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it): the end-to-end cockpit test needs it")
	}
	path := writeRunbook(t, "name: t\nsteps:\n  - {id: go-live, title: Go live, kind: gate, confirm: GO LIVE, approvals: 2}\n")
	state := t.TempDir()
	bin := buildCutover(t)
	open := func(tm *tmuxTerm) {
		tm.waitFor(`c: confirm (type "GO LIVE")`)
		tm.keys("c")
		tm.waitFor("to confirm:")
		tm.text("GO LIVE")
		tm.keys("Tab", "Enter")
	}
	quit := func(tm *tmuxTerm) {
		if strings.Contains(tm.screen(), "to confirm:") {
			tm.keys("Escape") // the dialog stays open after a refusal
			tm.waitGone("to confirm:")
		}
		tm.keys("q")
		tm.waitFor("Quit the cockpit while the cutover is in flight?")
		tm.keys("Tab", "Tab", "Enter")
		tm.waitFor("EXIT=")
	}
	cmd := func(as string) string {
		return fmt.Sprintf("env NO_COLOR=1 %q run -f %q --state %q --as %s; echo EXIT=$?; sleep 600", bin, path, state, as)
	}
	ana := newTmux(t, 120, 40, cmd("ana"))
	open(ana)
	ana.waitFor("your approval is 1 of 2")
	quit(ana)
	bob := ana.newSession("bob", 120, 40, cmd("bob"))
	bob.waitFor("1 of 2 approved by ana")
	open(bob)
	bob.waitFor("already confirmed")
	quit(bob)

	recs, _, err := journal.ReadAll(filepath.Join(state, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var approved, refused []engine.Actor
	for _, r := range recs {
		switch engine.RecordType(r.Type) {
		case engine.RecApproved:
			var p engine.Approved
			r.Decode(&p)
			approved = append(approved, p.Actor)
		case engine.RecConfirmRefused:
			var p engine.ConfirmRefused
			r.Decode(&p)
			refused = append(refused, p.Actor)
		case engine.RecStarted, engine.RecSucceeded:
			t.Fatalf("the gate went ahead: %s", r.Type)
		}
	}
	if len(approved) != 1 || approved[0].Name != "ana" || len(refused) != 1 || refused[0].Name != "bob" || refused[0].ID() != approved[0].ID() {
		t.Fatalf("approved %+v, refused %+v", approved, refused)
	}
}

// teamFileOf is the team file serveOnSims wrote (beside its runbook).
func teamFileOf(s *served) string {
	return filepath.Join(filepath.Dir(filepath.Dir(s.journal)), defaultTeamFile)
}

// TestTeamFileIsLivePolicyOverOpenSSH: through the real OpenSSH client, an operator whose key is
// removed from the team file while her confirmation dialog is open can no longer confirm and is
// disconnected; an operator demoted to viewer becomes read-only at once; both are journaled.
func TestTeamFileIsLivePolicyOverOpenSSH(t *testing.T) {
	s := serveOnSims(t, `  - {id: prepare, title: Prepare the night, kind: gate, confirm: PREPARE}
  - {id: go-live, title: Go live, kind: gate, approvals: 2, confirm: GO LIVE, after: prepare}
`, sqlsim.Config{Tables: 200})
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it)")
	}
	ana := newTmux(t, 120, 40, s.sshCommand(s.ana))
	ben := ana.newSession("ben", 120, 40, s.sshCommand(s.ben))
	ana.waitFor(`c: confirm (type "PREPARE")`)
	ben.waitFor(`c: confirm (type "PREPARE")`)
	ana.keys("c")
	ana.waitFor("to confirm:")
	ana.text("PREPARE")
	ana.keys("Tab")

	// Ana is removed, Ben made a viewer; Vic stays.
	writeTeamFile(t, teamFileOf(s), 0o600, teamLine(t, s.ben, "Ben", engine.RoleViewer), teamLine(t, s.vic, "Vic", engine.RoleViewer))
	ana.keys("Enter")
	ana.waitFor("cutover: your key was removed from the team file")
	ben.waitFor("the team file now makes you a viewer", "READ-ONLY")
	ben.keys("c")
	ben.keys("?")
	if scr := ben.waitFor("read-only session: actions are hidden"); strings.Contains(scr, "confirm step") {
		t.Fatalf("the demoted session still offers confirm:\n%s", scr)
	}
	if out, code := s.sshExec(t, s.ana, nil, "status"); code != 255 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("the removed key connects again: exit %d\n%s", code, out)
	}

	recs, _, err := journal.ReadAll(s.journal)
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]engine.AccessChanged{}
	for _, r := range recs {
		switch engine.RecordType(r.Type) {
		case engine.RecApproved:
			t.Fatalf("an approval was journaled: %s", r.Data)
		case engine.RecAccessChanged:
			var p engine.AccessChanged
			r.Decode(&p)
			changes[p.Actor.Name] = p
		}
	}
	if a, b := changes["Ana"], changes["Ben"]; !a.Removed || !a.Closed || a.Actor.Fingerprint != s.ana.fp || b.Removed || b.Role != engine.RoleViewer || b.Actor.Fingerprint != s.ben.fp {
		t.Fatalf("access changes journaled: %+v", changes)
	}
}

// TestRandomKeysOverOpenSSHNeverPanic: an operator's session through the real OpenSSH client
// opens every pane and dialog and types random keys in each — Alt+D among them — and the server,
// the engine and the session go on; nothing was logged as an internal error.
func TestRandomKeysOverOpenSSHNeverPanic(t *testing.T) {
	s := serveOnSims(t, `  - {id: prepare, title: Prepare the night, kind: gate, confirm: PREPARE}
  - {id: hold, title: Hold the batch jobs, kind: manual, after: prepare}
`, sqlsim.Config{Tables: 200})
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it)")
	}
	ana := newTmux(t, 120, 40, s.sshCommand(s.ana))
	ana.waitFor(`c: confirm (type "PREPARE")`)
	rng := rand.New(rand.NewSource(14))
	// Keys that may end the session (q, Ctrl-C) or act (Enter) are left out: the point is the
	// editing and navigation keys in every dialog (the unit fuzz test covers the rest).
	random := []string{"M-d", "M-d", "M-D", "M-b", "M-f", "M-BSpace", "M-Delete", "C-w", "C-k", "C-u", "C-a", "C-e", "C-d", "C-h",
		"Left", "Right", "Home", "End", "BSpace", "DC", "Up", "Down", "PPage", "NPage", "Tab", "BTab", "F1", "M-x", "M-1"}
	texts := []string{"a", "Z", "9", " ", "é", "日本", "STOP", "/", ":", "-", "x y"}
	// A dialog is drawn over the pane: a frame's corner not at the start of a line (on this
	// narrow terminal the pane's own frame starts at the left edge).
	dialog := regexp.MustCompile(`(?m)^.+[╭╔]`)
	// home is the cockpit with no dialog open and no pane taking text (its footer offers help).
	home := func(scr string) bool {
		lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
		return !dialog.MatchString(scr) && strings.Contains(lines[len(lines)-1], "? help")
	}
	closeDialogs := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			scr := ana.screen()
			if strings.Contains(scr, "internal error") {
				t.Fatalf("the session panicked:\n%s", scr)
			}
			if home(scr) {
				return // no escape to send: one sent now could join the next key
			}
			ana.keys("Escape")
			// The escape must be seen before the next key, or the two read as Alt+key.
			wait := time.Now().Add(time.Second)
			for !home(ana.screen()) && time.Now().Before(wait) {
				time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
			}
			if time.Now().After(deadline) {
				t.Fatalf("a dialog does not close:\n%s", ana.screen())
			}
		}
	}
	starts, keys := [][]string{{"?"}, {":"}, {"c"}, {"n"}, {"d"}, {"s"}, {"t"}, {"x"}, {"p"}, {"2"}, {"2", "/"}, {"3"}, {"4"}, {"4", "/"}, {"1"}}, 25
	if testing.Short() {
		// A taste: the confirmation, the filter and the help (CI runs every dialog, longer).
		starts, keys = [][]string{{"c"}, {"2", "/"}, {"?"}}, 6
	}
	for _, start := range starts {
		ana.keys(start...)
		// First the sequence that panicked bubbles' text input: Alt+D on the last character.
		ana.text("ab")
		ana.keys("Left", "M-d")
		for range keys {
			if rng.Intn(3) == 0 {
				ana.text(texts[rng.Intn(len(texts))])
			} else {
				ana.keys(random[rng.Intn(len(random))])
			}
		}
		closeDialogs()
		ana.waitFor("1 Runbook")
	}
	ana.keys("1")
	ana.waitFor("Prepare the night")
	if out, code := s.sshExec(t, s.vic, nil, "status"); code == 255 {
		t.Fatalf("the server no longer answers: %s", out)
	}
	log, err := os.ReadFile(filepath.Join(filepath.Dir(s.journal), engine.LogFileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), "internal error") {
		t.Fatalf("a session panicked:\n%s", log)
	}
}

package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"cutover/demo"
	"cutover/engine"
	"cutover/engine/journal"
)

// TestTwoPersonRuleInTheDemo is the acceptance: the demo prints the ssh command a second
// operator joins with; the demo is driven in its cockpit (under tmux) to the go/no-go before the
// production refresh, which needs two operators; Ana approves in the local cockpit, whose dialog
// says how the second operator joins; the printed command, run as it is with the real OpenSSH
// client in another terminal, joins as Ben, who gives the second approval. The journal names both,
// Ben with his key's fingerprint.
func TestTwoPersonRuleInTheDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the whole demo up to the production refresh's go/no-go")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the end-to-end SSH tests use the OpenSSH client on a POSIX system")
	}
	for _, tool := range []string{"ssh", "tmux"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (CI installs it): the two-person acceptance test needs it", tool)
		}
	}
	dir := t.TempDir()
	cmd := fmt.Sprintf("env NO_COLOR=1 %q demo --speed 1000 --tables 300 --state %q --as Ana; echo EXIT=$?; sleep 600", buildCutover(t), dir)
	ana := newTmux(t, 160, 60, cmd)
	ana.waitFor("1 Runbook", "q quit")

	// What the demo printed before the cockpit started is on the terminal's main screen, under the
	// cockpit's (tmux keeps it while the cockpit draws on the alternate screen).
	printed := ana.run("capture-pane", "-p", "-J", "-a", "-t", ana.target)
	m := regexp.MustCompile(`(?m)^ssh: another operator joins from their own terminal with:\n  (ssh .+?)\s*$`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("the demo printed no join command:\n%s", printed)
	}
	join := m[1]
	team := demo.TeamIn(filepath.Join(dir, demo.DirName))
	if !strings.Contains(join, "-i "+team.SecondKey+" ") || !strings.Contains(join, "UserKnownHostsFile="+team.KnownHosts) {
		t.Fatalf("the join command does not use the demo team's key and known_hosts: %s", join)
	}

	// The demo up to the refresh's go/no-go, Ana alone.
	for _, c := range []struct{ step, phrase string }{
		{"toolkit-cleanup-target", "CLEAN SANDBOX"}, {"downtime-go", "downtime-go"}, {"hold-batch", ""}, {"stop-integrations", ""},
		{"aos-stop", "STOP AOS"}, {"toolkit-dv", ""}, {"toolkit-remove-replication", "REMOVE REPLICATION"}, {"dmf-jobs-stopped", ""},
	} {
		if c.phrase == "" {
			ana.goToCurrent(c.step, c.step+" — ", "in your hands: d when it is done")
			ana.keys("d")
			ana.waitFor("Mark " + c.step + " done")
			ana.keys("Tab", "Tab", "Enter") // past the optional note and [ Cancel ] to [ Mark done ]
			ana.waitGone("Mark " + c.step + " done")
			continue
		}
		ana.goToCurrent(c.step, fmt.Sprintf("c: confirm (type %q)", c.phrase))
		ana.keys("c")
		ana.waitFor("type " + c.phrase + " to confirm")
		ana.text(c.phrase)
		ana.keys("Tab", "Enter")
		ana.waitFor(c.step + " confirmed by Ana")
	}

	// The first approval, in the local cockpit: its dialog says who joins how.
	ana.goToCurrent("refresh-go", `c: confirm (type "refresh-go")`)
	ana.keys("c")
	ana.waitFor("type refresh-go to confirm", "approvals: 0 of 2", "another operator joins this cockpit from their own terminal with:", "ssh -i "+team.SecondKey)
	ana.text("refresh-go")
	ana.keys("Tab", "Enter")
	ana.waitFor("your approval is 1 of 2")

	// The second, from another terminal with the printed command, as it is.
	ben := ana.newSession("ben", 160, 60, join+"; sleep 600")
	ben.goToCurrent("refresh-go", "1 of 2 approved by Ana")
	ben.keys("c")
	ben.waitFor("type refresh-go to confirm", "approvals: 1 of 2 — Ana")
	ben.text("refresh-go")
	ben.keys("Tab", "Enter")
	ben.waitFor("refresh-go confirmed by Ben")
	ana.goToCurrent("refresh-go", "✓ succeeded refresh-go")

	// Ana quits; the demo ends, and Ben's session with it.
	ana.keys("q")
	ana.waitFor("Quit the cockpit while the cutover is in flight?")
	ana.keys("Tab", "Tab", "Enter")
	ana.waitFor("EXIT=")

	pub, err := os.ReadFile(team.SecondKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	key, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := journal.ReadAll(filepath.Join(dir, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var approvers []string
	for _, r := range recs {
		var p engine.Approved
		if r.Step == "refresh-go" && r.Type == string(engine.RecApproved) && r.Decode(&p) == nil {
			approvers = append(approvers, p.Actor.Name+" "+p.Actor.Fingerprint)
		}
	}
	if want := []string{"Ana ", "Ben " + gossh.FingerprintSHA256(key)}; !reflect.DeepEqual(approvers, want) {
		t.Fatalf("refresh-go approved by %q, want %q", approvers, want)
	}
}

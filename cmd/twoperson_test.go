package cmd

import (
	"fmt"
	"net"
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
	engineteam "cutover/engine/team"
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

// TestDemoTeamIsMadeOnceAndKept: the demo makes its team once (two operators in a team file as
// `cutover team add` writes it, their private keys 0600) and prints the join command before it
// runs; resumed, it keeps the keys, the host key and its known_hosts file, and serves on the same
// port when that is free, printing the command again.
func TestDemoTeamIsMadeOnceAndKept(t *testing.T) {
	t.Setenv("CUTOVER_OPERATOR", "Ana") // the local operator's name (the demo runs as a child)
	dir := t.TempDir()
	team := demo.TeamIn(filepath.Join(dir, demo.DirName))
	joinOf := func(ls *lineStream) string {
		t.Helper()
		for i, l := range ls.seen {
			if strings.HasPrefix(l, "ssh: another operator joins from their own terminal with:") && i+1 < len(ls.seen) {
				return strings.TrimSpace(ls.seen[i+1])
			}
		}
		t.Fatalf("no join command printed:\n%s", strings.Join(ls.seen, ""))
		return ""
	}
	first, ls := waitingDemo(t, dir)
	join := joinOf(ls)
	stopDemo(t, first, ls)
	if !strings.HasPrefix(join, "ssh -i "+team.SecondKey+" -p ") || !strings.Contains(join, "StrictHostKeyChecking=yes") ||
		!strings.Contains(join, "UserKnownHostsFile="+team.KnownHosts) || !strings.HasSuffix(join, " 127.0.0.1") {
		t.Fatalf("join command: %s", join)
	}
	tf, err := teamFile(team.File)
	if err != nil {
		t.Fatal(err)
	}
	if got := tf; !strings.Contains(got, `cutover-role="operator",cutover-name="Ana"`) || !strings.Contains(got, `cutover-role="operator",cutover-name="Ben"`) {
		t.Fatalf("the demo's team file:\n%s", got)
	}
	for _, f := range []string{team.File, team.SecondKey, filepath.Join(filepath.Dir(team.SecondKey), "local"), team.HostKey, team.KnownHosts} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v (want 0600)", f, fi.Mode(), err)
		}
	}
	if kh := string(mustRead(t, team.KnownHosts)); !strings.HasPrefix(kh, demo.HostKeyAlias+" ssh-ed25519 ") {
		t.Fatalf("known_hosts: %s", kh)
	}
	before := snapshotFiles(t, filepath.Join(dir, demo.DirName))

	again, ls := waitingDemoUntil(t, dir, "toolkit-cleanup-target     waiting for its confirmation")
	rejoin := joinOf(ls)
	stopDemo(t, again, ls)
	if strings.Contains(strings.Join(ls.seen, ""), "demo: a demo team in") {
		t.Fatalf("the resumed demo made its team again:\n%s", strings.Join(ls.seen, ""))
	}
	after := snapshotFiles(t, filepath.Join(dir, demo.DirName))
	for _, f := range []string{team.File, team.SecondKey, team.HostKey, team.KnownHosts} {
		if before[f] == "" || before[f] != after[f] {
			t.Errorf("%s changed when the demo resumed", f)
		}
	}
	if rejoin != join {
		// Another port only when the first is taken now.
		port := regexp.MustCompile(` -p (\d+) `).FindStringSubmatch(join)[1]
		if portFree("127.0.0.1:" + port) {
			t.Fatalf("resumed, the demo serves elsewhere though its port is free:\n%s\n%s", join, rejoin)
		}
	}
}

// teamFile reads a team file as text, checking it parses as one.
func teamFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if _, err := engineteam.Parse(path, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// TestDefaultJoin: the command run --listen and serve print for another operator names the port
// and the address listened on, or this machine's name when it listens on every address.
func TestDefaultJoin(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skip("no host name")
	}
	for addr, want := range map[string]string{
		"127.0.0.1:2222": "ssh -p 2222 127.0.0.1",
		"10.0.0.5:22":    "ssh -p 22 10.0.0.5",
		"[::1]:2222":     "ssh -p 2222 ::1",
		"0.0.0.0:2222":   "ssh -p 2222 " + host,
		"[::]:2222":      "ssh -p 2222 " + host,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := defaultJoin(a); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

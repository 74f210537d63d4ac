package cmd

import (
	"bytes"
	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"
	"cutover/tui/web"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tmuxTerm is the real binary running in a private tmux server, driven by keys and read back
// from the screen.
type tmuxTerm struct {
	t      *testing.T
	socket string
	target string
}

func newTmux(t *testing.T, w, h int, command string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it): the end-to-end cockpit test needs it")
	}
	tm := &tmuxTerm{t: t, socket: fmt.Sprintf("cutover-test-%d-%d", os.Getpid(), time.Now().UnixNano()), target: "t"}
	tm.run("new-session", "-d", "-s", "t", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command)
	t.Cleanup(func() {
		// The programs in the panes end on the hang-up the server's end sends them, some after
		// saving their state: wait for them, so the test's directories are removed after them.
		out, _ := exec.Command("tmux", "-L", tm.socket, "list-panes", "-a", "-F", "#{pane_pid}").Output()
		var pids []int
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, processTree(pid)...)
			}
		}
		exec.Command("tmux", "-L", tm.socket, "kill-server").Run()
		waitExited(t, pids, 30*time.Second)
	})
	return tm
}

// processTree is pid and its descendants, as /proc shows them (only pid where there is no /proc).
func processTree(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ')'.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		if f := strings.Fields(rest); len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				children[ppid] = append(children[ppid], p)
			}
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// alive is whether pid runs (a zombie, ended but not yet reaped, does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !os.IsNotExist(err) || runtime.GOOS != "linux"
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(f) == 0 || f[0] != "Z"
}

// waitExited waits until none of pids is alive (a failure bound, not a synchronisation delay).
func waitExited(t *testing.T, pids []int, bound time.Duration) {
	deadline := time.Now().Add(bound)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d still runs %s after its terminal closed", pid, bound)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (tm *tmuxTerm) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (tm *tmuxTerm) screen() string { return tm.run("capture-pane", "-p", "-t", tm.target) }

// newSession opens another terminal on the same tmux server.
func (tm *tmuxTerm) newSession(name string, w, h int, command string) *tmuxTerm {
	tm.t.Helper()
	tm.run("new-session", "-d", "-s", name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command)
	return &tmuxTerm{t: tm.t, socket: tm.socket, target: name}
}

// keys sends tmux key names (Enter, Tab, Escape); text sends literal text.
func (tm *tmuxTerm) keys(keys ...string) {
	tm.run(append([]string{"send-keys", "-t", tm.target}, keys...)...)
}

func (tm *tmuxTerm) text(s string) { tm.run("send-keys", "-t", tm.target, "-l", s) }

// waitFor polls the screen until every text is on it.
func (tm *tmuxTerm) waitFor(what ...string) string {
	tm.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := tm.screen()
		ok := true
		for _, w := range what {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %q:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

// goToCurrent waits until the cockpit's detail shows want for step, pressing esc once if the
// selection is elsewhere and the detail points at step ("now  STEP … esc: go there"): the
// selection never moves by itself, so an operator goes to the step that needs them.
func (tm *tmuxTerm) goToCurrent(step string, want ...string) string {
	tm.t.Helper()
	hint := regexp.MustCompile(`now\s+` + regexp.QuoteMeta(step) + ` .*esc: go there`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := tm.screen()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		switch {
		case ok:
			return s
		case hint.MatchString(s):
			tm.keys("Escape")
			// The escape must be seen before the caller's next key, or the terminal reads the two
			// as alt+key (a "q" right after it was lost so, under load): the hint goes when it is.
			for hint.MatchString(tm.screen()) {
				if time.Now().After(deadline) {
					tm.t.Fatalf("esc never took the cockpit to the current step:\n%s", tm.screen())
				}
				time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
			}
			return tm.waitFor(want...)
		case time.Now().After(deadline):
			tm.t.Fatalf("the screen never showed %q:\n%s", want, s)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

// waitGone polls the screen until the text is gone (an escape must be seen before the next key,
// or the terminal reads the two as alt+key).
func (tm *tmuxTerm) waitGone(what string) {
	tm.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Contains(tm.screen(), what) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen still shows %q", what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestCockpitUnderTmux drives the real binary's cockpit through the demo: panes, the replication
// filter, help, a gate, two manual steps and the destructive AOS stop confirmed by typing its
// phrase, then quits through the question the cockpit asks while steps run.
func TestCockpitUnderTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it): the end-to-end cockpit test needs it")
	}
	dir := t.TempDir()
	cmd := fmt.Sprintf("env NO_COLOR=1 %q demo --speed 1000 --tables 300 --state %q --as ana; echo EXIT=$?; sleep 600",
		buildCutover(t), dir)
	tm := newTmux(t, 120, 40, cmd)
	// The replication setup's destructive step first: the sandbox's AX objects are dropped.
	tm.goToCurrent("toolkit-cleanup-target", `c: confirm (type "CLEAN SANDBOX")`)
	tm.keys("c")
	tm.waitFor("DESTRUCTIVE STEP", "type CLEAN SANDBOX to confirm")
	tm.text("CLEAN SANDBOX")
	tm.keys("Tab", "Enter")
	tm.waitFor("toolkit-cleanup-target confirmed by ana")
	tm.goToCurrent("downtime-go", `c: confirm (type "downtime-go")`)

	// Panes, the filter, help.
	tm.keys("2")
	tm.waitFor("2 Replication", "PENDING", "TABLE")
	tm.keys("/")
	tm.text("CUST")
	tm.keys("Enter")
	s := tm.waitFor("/ CUST", " of 300")
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "│") && strings.Contains(line, "  ") && !strings.Contains(line, "CUST") &&
			(strings.Contains(line, "—") || strings.Contains(line, ",")) && !strings.Contains(line, "AX_PUB") && !strings.Contains(line, "tables") {
			t.Fatalf("the filter let through: %q", line)
		}
	}
	tm.keys("Escape")
	tm.waitGone("/ CUST")
	tm.keys("?")
	tm.waitFor("Keys — Replication", "sort by pending")
	tm.keys("Escape")
	tm.waitGone("Keys — Replication")
	tm.keys("4")
	tm.waitFor("4 Logs", "following")

	// The go/no-go gate and the two manual steps.
	tm.keys("1")
	tm.keys("c")
	tm.waitFor("type downtime-go to confirm")
	tm.text("downtime-go")
	tm.keys("Tab", "Enter")
	tm.waitFor("downtime-go confirmed by ana")
	for _, id := range []string{"hold-batch", "stop-integrations"} {
		tm.goToCurrent(id, id+" — ", "in your hands: d when it is done")
		tm.keys("d")
		tm.waitFor("Mark " + id + " done")
		tm.keys("Tab", "Tab", "Enter") // past the optional note and [ Cancel ] to [ Mark done ]
		tm.waitGone("Mark " + id + " done")
	}

	// The destructive step: its dialog lists the AOS and the users still connected.
	tm.goToCurrent("aos-stop", `c: confirm (type "STOP AOS")`)
	tm.keys("c")
	tm.waitFor("DESTRUCTIVE STEP", "AX-BATCH01", "users still connected")
	tm.text("STOP AOS")
	tm.keys("Enter") // Cancel is still chosen: nothing is sent
	tm.waitFor("[ Cancel ] is chosen")
	tm.keys("Tab", "Enter")
	tm.waitFor("aos-stop confirmed by ana")
	tm.waitFor("✓ succeeded aos-stop")

	// Quit while steps run: the cockpit asks; Quit now leaves cleanly.
	tm.keys("q")
	tm.waitFor("Quit the cockpit while the cutover is in flight?")
	tm.keys("Tab", "Tab", "Enter")
	s = tm.waitFor("EXIT=")
	if !strings.Contains(s, "cockpit closed: the run is") || !strings.Contains(s, "EXIT=3") {
		t.Fatalf("the cockpit did not close cleanly:\n%s", s)
	}

	// The journal has the operator's confirmations, and the AOS were stopped once.
	recs, _, err := journal.ReadAll(filepath.Join(dir, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var approvals, starts int
	for _, r := range recs {
		if r.Step != "aos-stop" {
			continue
		}
		switch engine.RecordType(r.Type) {
		case engine.RecApproved:
			var p engine.Approved
			r.Decode(&p)
			if p.Actor.Name != "ana" {
				t.Fatalf("aos-stop approved by %+v", p.Actor)
			}
			approvals++
		case engine.RecStarted:
			starts++
		}
	}
	if approvals != 1 || starts != 1 {
		t.Fatalf("aos-stop: %d approvals, %d starts", approvals, starts)
	}
}

// TestOwnTerminalKeepsLibraryLogsOffTheCockpit: while the cockpit draws on the terminal, what the
// standard library's loggers print (net/http's server errors, a library's slog.Info) goes into
// the engine's log, not across the screen; afterwards they print where they did before.
func TestOwnTerminalKeepsLibraryLogsOffTheCockpit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte("name: t\nsteps:\n  - {id: a, title: A, kind: manual}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(path, parseOptions())
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(dir, "state"), Kinds: registry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop("test")
	var terminal bytes.Buffer
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(&terminal)
	defer func() { log.SetOutput(out); log.SetFlags(flags) }()

	restore := ownTerminal(e)
	log.Print("http: TLS handshake error from 10.0.0.7:51234: EOF")
	slog.Info("pool grew", "conns", 9)
	restore()
	// (Only these lines: a goroutine another test left behind may log meanwhile.)
	if strings.Contains(terminal.String(), "TLS handshake") || strings.Contains(terminal.String(), "pool grew") {
		t.Fatalf("reached the terminal while the cockpit owned it: %q", terminal.String())
	}
	var logged []string
	for _, l := range e.Logs(engine.DefaultLogRing, "") {
		logged = append(logged, l.Msg)
	}
	all := strings.Join(logged, "\n")
	for _, want := range []string{"http: TLS handshake error from 10.0.0.7:51234: EOF", "pool grew conns=9"} {
		if !strings.Contains(all, want) {
			t.Errorf("the engine's log lacks %q:\n%s", want, all)
		}
	}
	log.Print("after")
	if !strings.Contains(terminal.String(), "after") {
		t.Fatal("the logger was not given back")
	}
}

// TestWebPageListsTheLocalCockpit: with no SSH server, the web page's "who is in the cockpit"
// still names the operator at the local cockpit.
func TestWebPageListsTheLocalCockpit(t *testing.T) {
	if testing.Short() {
		t.Skip("the cockpit under tmux: skipped with -short")
	}
	dir := t.TempDir()
	rb := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(rb, []byte("name: local\nsteps:\n  - {id: a, title: Wait for the business, kind: manual}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	state := filepath.Join(dir, "state")
	tm := newTmux(t, 120, 40, fmt.Sprintf("env NO_COLOR=1 %q run -f %q --state %q --http %s --as ana; echo EXIT=$?; sleep 600",
		buildCutover(t), rb, state, addr))
	tm.waitFor("1 Runbook", "Wait for the business")
	tok, err := os.ReadFile(filepath.Join(state, web.TokenFileName))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/state", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var view struct {
		Watchers []struct {
			Name  string `json:"name"`
			Local bool   `json:"local"`
		} `json:"watchers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&view); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /state: %d, %v", resp.StatusCode, err)
	}
	if len(view.Watchers) != 1 || view.Watchers[0].Name != "ana" || !view.Watchers[0].Local {
		t.Fatalf("who is in the cockpit, on the page: %+v", view.Watchers)
	}
	tm.keys("q")
	tm.waitFor("Quit the cockpit while the cutover is in flight?")
	tm.keys("Tab", "Tab", "Enter")
	tm.waitFor("EXIT=")
}

package cmd

import (
	"bufio"
	"bytes"
	"context"
	"cutover/adapter"
	"cutover/demo"
	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/runbook"
	"cutover/engine/team"
	lcssim "cutover/lcs/sim"
	"cutover/tui"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// demoJournal is what a finished demo's journal says, step by step.
type demoJournal struct {
	started, failed, retried, succeeded map[string]int
	retriedBy                           map[string]string
	message, lastError                  map[string]string
	// outages counts sources going to failing, recoveries their return (to OK or slow) with the
	// outage's length; outagesOf and recoveriesOf count them per source.
	outages, recoveries     int
	outagesOf, recoveriesOf map[string]int
	// outageErrors are the errors the failing sources reported.
	outageErrors []string
}

func readDemoJournal(t *testing.T, dir string) demoJournal {
	t.Helper()
	path := filepath.Join(dir, journal.FileName)
	if rep, err := journal.Verify(path); err != nil || !rep.OK() {
		t.Fatalf("demo journal: %+v %v", rep, err)
	}
	recs, _, err := journal.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	j := demoJournal{started: map[string]int{}, failed: map[string]int{}, retried: map[string]int{}, succeeded: map[string]int{},
		retriedBy: map[string]string{}, message: map[string]string{}, lastError: map[string]string{},
		outagesOf: map[string]int{}, recoveriesOf: map[string]int{}}
	failing := map[string]bool{}
	for _, r := range recs {
		switch engine.RecordType(r.Type) {
		case engine.RecStarted:
			j.started[r.Step]++
		case engine.RecDeclined:
			// A no-go fails the step as surely as an error.
			j.failed[r.Step]++
		case engine.RecFailed:
			var p engine.Failed
			r.Decode(&p)
			j.failed[r.Step]++
			j.lastError[r.Step] = p.Error
		case engine.RecSourceHealth:
			var p engine.SourceHealthRecord
			r.Decode(&p)
			was := failing[p.Source]
			failing[p.Source] = p.State == engine.HealthFailing
			switch {
			case p.State == engine.HealthFailing && p.ExpectedBy == "":
				j.outages++
				j.outagesOf[p.Source]++
				j.outageErrors = append(j.outageErrors, p.Error)
			case p.State != engine.HealthFailing && was:
				// Back (OK or slow). Reads of one poll share its time, so an outage that began
				// and ended within one poll is journaled 0 long.
				j.recoveries++
				j.recoveriesOf[p.Source]++
			}
		case engine.RecRetry:
			var p engine.ByActor
			r.Decode(&p)
			j.retried[r.Step]++
			j.retriedBy[r.Step] = p.Actor.Name
		case engine.RecSucceeded:
			var p engine.Succeeded
			r.Decode(&p)
			j.succeeded[r.Step]++
			j.message[r.Step] = p.Message
		}
	}
	return j
}

// TestDemoScenariosHeadless plays every scenario of the demo unattended, against the simulators,
// and checks from the journal how each played out.
// demoSucceeds is how many steps of the demo runbook succeed in a run where nothing fails: all but
// the fallback that is not needed (rollback-upgrade) and toolkit-env-setup, whose effect nothing
// shows: the simulated operator marks it done when the toolkit says so.
const demoSucceeds = 41

func TestDemoScenariosHeadless(t *testing.T) {
	if testing.Short() {
		t.Skip("plays seven whole demos (-short; CI runs it)")
	}
	cases := []struct {
		scenario string
		check    func(t *testing.T, j demoJournal)
	}{
		{"happy", func(t *testing.T, j demoJournal) {
			if len(j.failed) != 0 || len(j.retried) != 0 || j.outages != 0 {
				t.Errorf("a happy cutover has no failure: failed %v, retried %v, %d outages", j.failed, j.retried, j.outages)
			}
			for id, n := range j.succeeded {
				if n != 1 || j.started[id] > 1 {
					t.Errorf("%s started %d times, succeeded %d", id, j.started[id], n)
				}
			}
			if len(j.succeeded) != demoSucceeds {
				t.Errorf("%d steps succeeded, want all %d", len(j.succeeded), demoSucceeds)
			}
		}},
		{"locked-table", func(t *testing.T, j demoJournal) {
			if !strings.Contains(j.message["toolkit-nopk"], "AX_PUB_TABLE_LockedTable") {
				t.Errorf("toolkit-nopk must wait for the locked-table publication's snapshot: %q", j.message["toolkit-nopk"])
			}
			if j.failed["validate-counts"] != 0 {
				t.Error("with the locked-table snapshot delivered, the counts match the first time")
			}
		}},
		{"count-mismatch", func(t *testing.T, j demoJournal) {
			if j.failed["validate-counts"] != 1 || j.retried["validate-counts"] != 1 || j.started["validate-counts"] != 2 {
				t.Errorf("validate-counts: failed %d, retried %d, started %d; want a mismatch, a redelivery and a pass",
					j.failed["validate-counts"], j.retried["validate-counts"], j.started["validate-counts"])
			}
			if !strings.Contains(j.retriedBy["validate-counts"], "simulated") {
				t.Errorf("retried by %q", j.retriedBy["validate-counts"])
			}
		}},
		{"lcs-throttle", func(t *testing.T, j demoJournal) {
			// Two of production's three operations were used yesterday, but LCS throttles only API
			// operations and the refresh into production is started in the portal: the count is
			// shown, and nothing waits for it.
			if j.failed["lcs-quota"] != 0 || j.started["lcs-quota"] != 1 || j.succeeded["lcs-quota"] != 1 {
				t.Errorf("lcs-quota: failed %d, started %d, succeeded %d; the quota must never hold up the portal refresh",
					j.failed["lcs-quota"], j.started["lcs-quota"], j.succeeded["lcs-quota"])
			}
			if m := j.message["lcs-quota"]; !strings.Contains(m, "counted 2 of 3") || !strings.Contains(m, "does not limit the refresh into production") {
				t.Errorf("lcs-quota must show LCS's count as information: %q", m)
			}
		}},
		{"flaky-network", func(t *testing.T, j demoJournal) {
			if j.outages == 0 {
				t.Error("dropped connections must show as a data source failing (journaled)")
			}
			// Each outage ends with the source back (OK, or slow when the machine is loaded) and
			// the outage's length journaled; each source's last outage may still be open when the
			// run ends.
			for src, n := range j.outagesOf {
				if j.recoveriesOf[src] < n-1 {
					t.Errorf("%s: %d outages but %d recoveries journaled", src, n, j.recoveriesOf[src])
				}
			}
			for _, e := range j.outageErrors {
				if !strings.Contains(e, "EOF") && !strings.Contains(e, "connection") && !strings.Contains(e, "deadline") && !strings.Contains(e, "timeout") {
					t.Errorf("an outage for another reason than the network: %q", e)
				}
			}
			// Every step got there in the end; a step that failed did so for the network and was
			// tried again.
			if len(j.succeeded) != demoSucceeds {
				t.Errorf("%d steps succeeded, want all %d", len(j.succeeded), demoSucceeds)
			}
			for id, n := range j.failed {
				if j.succeeded[id] != 1 || j.started[id] != n+1 {
					t.Errorf("%s failed %d times, started %d, succeeded %d", id, n, j.started[id], j.succeeded[id])
				}
			}
		}},
		{"upgrade-failure", func(t *testing.T, j demoJournal) {
			if j.failed["watch-upgrade"] != 1 || j.retried["watch-upgrade"] != 1 || j.succeeded["watch-upgrade"] != 1 {
				t.Errorf("watch-upgrade: failed %d, retried %d, succeeded %d; want one failure resumed",
					j.failed["watch-upgrade"], j.retried["watch-upgrade"], j.succeeded["watch-upgrade"])
			}
		}},
		// The data upgrade fails; the team says no-go to the toolkit's rollback of the sandbox and
		// goes back to AX 2012 with the rollback runbook, against the same simulators.
		{"rollback", func(t *testing.T, j demoJournal) {
			if j.failed["watch-upgrade"] != 1 || j.started["production-refresh"] != 0 || j.failed["rollback-upgrade"] != 1 {
				t.Errorf("go-live: watch-upgrade failed %d, rollback-upgrade failed %d, production-refresh started %d; want the upgrade failed, the toolkit's rollback declined, production untouched",
					j.failed["watch-upgrade"], j.failed["rollback-upgrade"], j.started["production-refresh"])
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cmd := child(t, "demo", "--headless", "--yes", "--speed", "1000", "--tables", "300", "--scenario", c.scenario, "--state", dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "run completed") {
				t.Fatalf("demo: %v\n%s", err, out)
			}
			j := readDemoJournal(t, dir)
			destructive := []string{"toolkit-cleanup-target", "aos-stop", "toolkit-remove-replication", "production-refresh"}
			if c.scenario == "rollback" {
				destructive = destructive[:3]
				// The second act: the rollback runbook ran to its end, each destructive step once.
				rb := readDemoJournal(t, filepath.Join(dir, "rollback"))
				for _, id := range []string{"rb-decide", "rb-aos-stopped", "rb-verify-backup", "rb-restore", "rb-aos-start", "rb-batch", "rb-integrations", "rb-reopen"} {
					if rb.started[id] > 1 || rb.succeeded[id] != 1 {
						t.Errorf("rollback step %s started %d time(s), succeeded %d", id, rb.started[id], rb.succeeded[id])
					}
				}
				if !strings.Contains(rb.message["rb-verify-backup"], "RESTORE VERIFYONLY WITH CHECKSUM: valid") || !strings.Contains(rb.message["rb-restore"], "ONLINE") {
					t.Errorf("the rollback did not verify and restore the backup: %q / %q", rb.message["rb-verify-backup"], rb.message["rb-restore"])
				}
			}
			for _, id := range destructive {
				if j.started[id] != 1 || j.succeeded[id] != 1 {
					t.Errorf("destructive step %s started %d time(s), succeeded %d", id, j.started[id], j.succeeded[id])
				}
			}
			if strings.Contains(string(out), "is failing") && c.scenario != "flaky-network" {
				t.Errorf("no data source may fail in the %s scenario:\n%s", c.scenario, out)
			}
			if c.scenario == "lcs-throttle" && !strings.Contains(string(out), "throttled (429)") {
				t.Errorf("LCS's 429s must show in the log:\n%s", out)
			}
			c.check(t, j)
		})
	}
}

// stepOfLine is the step a headless event line ("15:04:05  STEP  STATE  message") is about; ""
// for other lines (the header, continuation lines, which may name other steps).
func stepOfLine(l string) string {
	f := strings.Fields(l)
	if len(f) < 2 || len(f[0]) != 8 || f[0][2] != ':' || f[0][5] != ':' {
		return ""
	}
	return f[1]
}

// TestDemoSurvivesSIGKILL kills the demo with SIGKILL at random moments and resumes it with the
// same --state each time; it must finish, and neither the journal nor the simulators' own
// counters may show a destructive action taken twice. Some kills are random; others are aimed at
// each destructive step (a random number of its own lines into it), and the test checks from the
// journal that a kill really landed while each destructive step was in flight.
func TestDemoSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes a whole demo many times (-short; CI runs it)")
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("CUTOVER_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (rerun with CUTOVER_KILL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	args := []string{"demo", "--headless", "--yes", "--speed", "1000", "--tables", "300", "--state", dir}
	destructive := []string{"aos-stop", "toolkit-remove-replication", "production-refresh"}
	// The plan: random kills between kills aimed at the destructive steps (the production
	// refresh twice: once around its confirmation, once while it is polled).
	type aim struct {
		step string // "" for a random kill
		from int    // kill after this many of the step's own lines, at least …
		span int    // … plus a random number below span
	}
	// The random kills come between the aimed ones, few events each, so that none can carry the
	// run past the next destructive step; the last kill lands while the refresh is followed.
	plan := []aim{{"", 1, 5}, {"", 1, 5}, {"aos-stop", 2, 7}, {"", 1, 5}, {"", 1, 5}, {"toolkit-remove-replication", 2, 5},
		{"", 1, 5}, {"", 1, 5}, {"production-refresh", 2, 3}, {"production-refresh", 1, 1}}
	inFlight := map[string]int{} // kills that landed between a destructive step's start and its success
	kills, resumed := 0, 0
	for trial := 1; kills < len(plan); trial++ {
		a := plan[kills]
		if a.step != "" && readDemoJournal(t, dir).succeeded[a.step] > 0 {
			a = aim{"", 1, 3} // earlier kills went past it: kill at random instead
		}
		cmd := child(t, args...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ls := streamLines(out)
		// Count live events (each is a line) from the engine's start, past the lines a resumed
		// run prints to show where it stands; an aimed kill counts only the step's own lines.
		n, live, finished := a.from+rng.Intn(a.span), -1, false
		for live < n && !finished {
			l, ok := <-ls.lines
			if !ok {
				t.Fatalf("trial %d: the demo ended on its own:\n%s", trial, strings.Join(ls.seen, ""))
			}
			ls.seen = append(ls.seen, l)
			switch {
			case strings.Contains(l, "demo: resuming in"):
				resumed++
			case strings.Contains(l, "engine started on"):
				live = 0
			case strings.Contains(l, "run completed"):
				finished = true
			case live >= 0 && (a.step == "" || stepOfLine(l) == a.step):
				live++
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		ls.drain()
		_ = cmd.Wait()
		if finished {
			t.Fatalf("the demo completed after %d kills: the test must kill it %d times", kills, len(plan))
		}
		kills++
		j := readDemoJournal(t, dir)
		for _, id := range destructive {
			if j.started[id] > 0 && j.succeeded[id] == 0 {
				inFlight[id]++
			}
		}
	}
	for _, id := range destructive {
		if inFlight[id] == 0 {
			t.Errorf("no kill landed while %s was in flight (kills in flight: %v)", id, inFlight)
		}
	}
	if resumed != kills-1 {
		t.Errorf("%d kills but %d resumptions announced (want one per restart)", kills, resumed)
	}
	t.Logf("%d kills; in flight: %v", kills, inFlight)
	cmd := child(t, args...)
	got, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "run completed") {
		t.Fatalf("the resumed demo did not finish: %v\n%s", err, got)
	}
	j := readDemoJournal(t, dir)
	for _, id := range []string{"aos-stop", "toolkit-remove-replication", "production-refresh"} {
		if j.succeeded[id] != 1 {
			t.Errorf("destructive step %s succeeded %d times", id, j.succeeded[id])
		}
	}
	sv, err := demo.LoadSaved(filepath.Join(dir, demo.DirName))
	if err != nil || sv == nil {
		t.Fatalf("saved simulators: %v", err)
	}
	counts := map[string]int{}
	for _, a := range sv.Actions {
		counts[string(a.Op)+" "+strings.Join(a.Args, " ")]++
	}
	want := map[string]int{"create-nopk-publication ": 1, "remove-replication ": 1, "trigger-upgrade ": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("the simulated SQL Server saw %q %d times, want %d", k, counts[k], n)
		}
	}
	stops := 0
	for k, n := range counts {
		if strings.HasPrefix(k, "stop-aos ") {
			stops++
			if n != 1 {
				t.Errorf("%s: %d times", k, n)
			}
		}
	}
	if stops != 3 {
		t.Errorf("%d AOS stopped, want 3", stops)
	}
	if got := sv.LCSState.RefreshesStarted[lcssim.ProductionID]; got != 1 {
		t.Errorf("LCS started %d refreshes of production", got)
	}
}

// killRunbook writes a rehearsal runbook of n steps: commands (some idempotent, some not), waits,
// gates and manual steps, wired into a random DAG. Every command appends "start ID" and "end ID"
// to marks.
func killRunbook(t *testing.T, rng *rand.Rand, n int, marks string) (string, map[string]bool) {
	var b strings.Builder
	b.WriteString("name: kill test\nrehearsal: true\nparallelism: 4\nsteps:\n")
	commands := map[string]bool{} // id → idempotent
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("s%03d", i)
		var after []string
		for k := 0; k < 2 && i > 0; k++ {
			dep := fmt.Sprintf("s%03d", max(0, i-1-rng.Intn(min(i, 8))))
			if !contains(after, dep) {
				after = append(after, dep)
			}
		}
		fmt.Fprintf(&b, "  - id: %s\n    title: Step %d\n", id, i)
		if len(after) > 0 {
			fmt.Fprintf(&b, "    after: [%s]\n", strings.Join(after, ", "))
		}
		switch r := rng.Intn(10); {
		case r < 7:
			idem := rng.Intn(2) == 0
			commands[id] = idem
			fmt.Fprintf(&b, "    kind: command\n    idempotent: %v\n", idem)
			fmt.Fprintf(&b, "    with: {shell: 'echo \"start {step}\" >> %s; echo working; sleep 0.0%d; echo \"end {step}\" >> %s'}\n", marks, rng.Intn(5), marks)
		case r < 8:
			b.WriteString("    kind: wait\n    with: {duration: 5ms}\n")
		case r < 9:
			b.WriteString("    kind: gate\n    destructive: true\n")
		default:
			b.WriteString("    kind: manual\n")
		}
	}
	path := filepath.Join(t.TempDir(), "kill.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, commands
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestKillNineResumes kills a cutover running a 200-step runbook with SIGKILL at random moments.
// After each restart the run goes on; in the end it completes, no succeeded step ran again, no
// non-idempotent command ran twice, and the journal verifies.
func TestKillNineResumes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL and /bin/sh")
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("CUTOVER_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	trials := 20
	if testing.Short() {
		trials = 1
	}
	t.Logf("seed %d (rerun with CUTOVER_KILL_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	kills := 0
	for trial := 0; trial < trials; trial++ {
		marks := filepath.Join(t.TempDir(), "marks")
		path, commands := killRunbook(t, rng, 200, marks)
		state := filepath.Join(filepath.Dir(path), "state")
		completed, killsBefore := false, kills
		for attempt := 0; attempt < 40 && !completed; attempt++ {
			cmd := child(t, "run", "--headless", "--yes", "-f", path, "--state", state)
			stdout, _ := cmd.StdoutPipe()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Kill after a random number of output lines: a moment chosen by what the run does,
			// not by the wall clock.
			killAfter := 1 + rng.Intn(500)
			if attempt >= 4 {
				killAfter = 1 << 30 // let it finish eventually
			}
			// A run that stops making progress is a bug: dump its goroutines instead of waiting.
			watchdog := time.AfterFunc(90*time.Second, func() { cmd.Process.Signal(syscall.SIGQUIT) })
			r := bufio.NewReader(stdout)
			killed := false
			for n := 0; ; n++ {
				if _, err := r.ReadString('\n'); err != nil {
					break
				}
				if n == killAfter {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
					kills++
					break
				}
			}
			io.Copy(io.Discard, r)
			err := cmd.Wait()
			if !watchdog.Stop() {
				t.Fatalf("trial %d attempt %d hung:\n%s", trial, attempt, stderr.String())
			}
			switch {
			case killed:
			case err == nil:
				completed = true
			default:
				// Blocked: an interrupted non-idempotent command needs an operator. The operator
				// checks what it did and records it done by hand.
				resolveInterrupted(t, state, path, stderr.String())
			}
		}
		if !completed {
			t.Fatalf("trial %d never completed", trial)
		}
		if kills == killsBefore {
			t.Fatalf("trial %d completed without being killed: the run printed fewer lines than the kill points", trial)
		}
		checkKillTrial(t, trial, state, marks, commands)
	}
	t.Logf("%d trials, %d kills", trials, kills)
}

// resolveInterrupted marks done every step that failed because a crash interrupted it.
func resolveInterrupted(t *testing.T, state, path, stderr string) {
	t.Helper()
	recs, _, err := journal.ReadAll(filepath.Join(state, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]journal.Record{}
	for _, r := range recs {
		if r.Step != "" && r.Type != string(engine.RecExternal) {
			last[r.Step] = r
		}
	}
	resolved := 0
	for id, r := range last {
		switch r.Type {
		case string(engine.RecInterrupted):
			if code, _, errs := cli(t, "step", "done", id, "-f", path, "--state", state, "--reason", "checked by hand after the crash", "--as", "test operator"); code != 0 {
				t.Fatalf("step done %s: %s", id, errs)
			}
			resolved++
		case string(engine.RecFailed):
			t.Fatalf("step %s failed for a reason other than an interruption: %s\n%s", id, r.Data, stderr)
		}
	}
	if resolved == 0 {
		t.Fatalf("run ended without completing and nothing to resolve:\n%s", stderr)
	}
}

func checkKillTrial(t *testing.T, trial int, state, marks string, commands map[string]bool) {
	t.Helper()
	rep, err := journal.Verify(filepath.Join(state, journal.FileName))
	if err != nil || !rep.OK() {
		t.Fatalf("trial %d: journal does not verify: %+v %v", trial, rep.Bad, err)
	}
	recs, _, _ := journal.ReadAll(filepath.Join(state, journal.FileName))
	done := map[string]bool{}
	starts := map[string]int{}
	for _, r := range recs {
		switch engine.RecordType(r.Type) {
		case engine.RecSucceeded, engine.RecDoneByHand:
			done[r.Step] = true
		case engine.RecStarted:
			if done[r.Step] {
				t.Fatalf("trial %d: %s started again after it succeeded (record %d)", trial, r.Step, r.Seq)
			}
			starts[r.Step]++
		}
	}
	if len(done) != 200 {
		t.Fatalf("trial %d: %d steps done, want 200", trial, len(done))
	}
	data, _ := os.ReadFile(marks)
	ran := map[string]int{}
	for _, l := range strings.Split(string(data), "\n") {
		if id, ok := strings.CutPrefix(l, "start "); ok {
			ran[id]++
		}
	}
	for id, idem := range commands {
		if !idem && ran[id] > 1 {
			t.Fatalf("trial %d: non-idempotent %s ran %d times", trial, id, ran[id])
		}
		if ran[id] > starts[id] {
			t.Fatalf("trial %d: %s ran %d times but only %d starts were journaled", trial, id, ran[id], starts[id])
		}
	}
}

// TestKilledWhileAnLCSRefreshIsPolled: cutover is killed with SIGKILL while it polls a sandbox
// refresh it started; the restart polls the same operation and the simulator saw one refresh.
func TestKilledWhileAnLCSRefreshIsPolled(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	clk := clock.NewFake(time.Now())
	sim := lcssim.New(lcssim.Options{Clock: clk, QueueTime: time.Minute, RefreshDuration: time.Hour, DisableQuotas: true})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	certFile := filepath.Join(dir, "lcs-sim.pem")
	os.WriteFile(certFile, sim.CertPEM(), 0o600)
	path := filepath.Join(dir, "cutover.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`name: LCS kill test
rehearsal: true
lcs:
  project_id: %q
  base_url: %s
  authority_url: %s
  auth: password
  client_id: %s
  username: %s
  password_env: CUTOVER_TEST_LCS_PASSWORD
  sandbox_environment_id: %s
  production_environment_id: %s
steps:
  - {id: refresh-uat, title: Refresh the UAT sandbox, kind: lcs.refresh, destructive: true, with: {source: production, target: %s, poll: 1s}}
`, lcssim.DefaultProjectID, url, sim.Authority(""), lcssim.DefaultClientID, lcssim.DefaultUser, lcssim.SandboxID, lcssim.ProductionID, lcssim.UATSandboxID)), 0o600)
	start := func() (*exec.Cmd, *lineStream) {
		cmd := child(t, "run", "--headless", "--yes", "-f", path)
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+certFile, "CUTOVER_TEST_LCS_PASSWORD="+lcssim.DefaultPassword)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, streamLines(out)
	}
	first, out := start()
	out.expect(t, "LCS accepted the refresh: operation")
	// Killed while polling: after LCS has answered a few status polls of the operation.
	for deadline := time.Now().Add(30 * time.Second); sim.Requests(lcssim.EndpointStatus) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the refresh was never polled (%d status requests)", sim.Requests(lcssim.EndpointStatus))
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	first.Process.Signal(syscall.SIGKILL)
	out.drain()
	first.Wait()
	recs, _, err := journal.ReadAll(filepath.Join(dir, ".cutover", journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	activity := ""
	for _, r := range recs {
		var p engine.External
		if r.Type == string(engine.RecExternal) && r.Decode(&p) == nil && p.Ref["activity"] != "" {
			activity = p.Ref["activity"]
		}
	}
	if activity == "" {
		t.Fatal("the operation id was not journaled before polling")
	}
	second, out := start()
	out.expect(t, "resuming: following LCS operation "+activity)
	clk.Advance(3 * time.Hour)
	out.expect(t, "run completed")
	out.drain()
	if err := second.Wait(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if n := sim.RefreshesStarted(lcssim.UATSandboxID); n != 1 {
		t.Fatalf("the simulator saw %d refreshes", n)
	}
}

// TestTwentyViewersWhileTheDemoRuns is the load check: 20 viewer sessions over SSH watch the
// demo for 60 seconds. No session loses a must-deliver event (each ends at the engine's journal
// sequence and never had to resync), the engine never waits for them (publishing is per-session
// queues), and each session's memory stays bounded. The figures are logged for the README.
func TestTwentyViewersWhileTheDemoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("the load check runs for a minute")
	}
	const viewers, watch, speed = 20, 60 * time.Second, 20.0
	dir := t.TempDir()
	t.Setenv(demo.SpeedEnv, fmt.Sprint(speed))
	clk := clock.NewScaled(speed)
	sims, err := demo.StartSimulators(demo.WorldConfig(300, 0), clk, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sims.Close()
	path, err := demo.WriteRunbook(dir, sims)
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := loadRunbook(path, os.Stderr)
	if !ok {
		t.Fatal("demo runbook")
	}
	c, err := adapter.LCSClient(rb, filepath.Join(dir, "state"), sims.LCS.HTTPClient(), adapter.LCSClock{C: clk}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	opts := engine.Options{StateDir: filepath.Join(dir, "state"), Clock: clk, Kinds: registry(), AutoConfirm: true,
		Ports: engine.Ports{Services: demo.Services{World: sims.World}, LCS: adapter.LCSPort{C: c}}}
	closePorts, err := adapter.BuildPorts(rb, opts.StateDir, &opts.Ports, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closePorts()
	e, err := engine.New(rb, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop("test")

	keys := t.TempDir()
	vic := newSSHKey(t, keys, "vic")
	line, _ := team.Line(vic.pub, "Viewer", engine.RoleViewer)
	teamFile := filepath.Join(keys, "team.keys")
	os.WriteFile(teamFile, []byte(line+"\n"), 0o600)
	tf, err := team.Load(teamFile, team.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tui.NewServer(e, tui.ServerOptions{Addr: "127.0.0.1:0", HostKeyPath: filepath.Join(keys, "host"), Team: tf,
		RatePerSecond: 100, Burst: 100, Config: tui.Config{Theme: tui.ThemeDark}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go demo.NewOperator(sims, clk, nil, false).Run(ctx, e)

	signer, err := gossh.ParsePrivateKey(mustRead(t, vic.path))
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	var read atomic.Int64
	for i := 0; i < viewers; i++ {
		client, err := gossh.Dial("tcp", addr.String(), &gossh.ClientConfig{User: "vic", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		out, _ := sess.StdoutPipe()
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := out.Read(buf)
				read.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
		if err := sess.Shell(); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); len(srv.Sessions()) < viewers; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions joined", len(srv.Sessions()), viewers)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	perSession := (int64(heap()) - int64(before)) / viewers
	<-time.After(watch) // the load runs for its duration; this is the test's subject, not a synchronisation

	// Every session catches up with the engine's journal, and none ever had to resync.
	final := e.Snapshot().Seq
	var infos []tui.SessionInfo
	for deadline := time.Now().Add(30 * time.Second); ; {
		infos = srv.Sessions()
		behind := 0
		for _, in := range infos {
			if in.Seq < final {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d session(s) never caught up with journal sequence %d: %+v", behind, final, infos)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	var events int64
	for _, in := range infos {
		if in.Resyncs != 0 {
			t.Fatalf("session %+v fell behind and resynced: events were lost", in)
		}
		events += in.Events
	}
	// The engine's own timing: how long after its last dependency a step started (sim time).
	snap := e.Snapshot()
	var worst time.Duration
	for _, st := range snap.Steps {
		if st.FirstStarted.IsZero() {
			continue
		}
		var ready time.Time
		for _, dep := range st.After {
			if d, ok := snap.Step(dep); ok && d.Finished.After(ready) {
				ready = d.Finished
			}
		}
		if !ready.IsZero() && st.Confirmation == nil && len(st.ConfirmedBy) == 0 {
			worst = max(worst, st.FirstStarted.Sub(ready))
		}
	}
	// Memory per session after the minute of load, not only at joining: it must not grow with
	// the events a session has seen.
	perSessionEnd := (int64(heap()) - int64(before)) / viewers
	t.Logf("load: %d viewers for %s at %gx: journal at %d, %d events delivered, 0 resyncs, %d KiB sent, heap per session %d KiB at join and %d KiB after the load, worst ready→start %s simulated (%s real)",
		viewers, watch, speed, final, events, read.Load()>>10, perSession>>10, perSessionEnd>>10, worst, time.Duration(float64(worst)/speed))
	if perSession > 16<<20 || perSessionEnd > 16<<20 {
		t.Fatalf("a session holds %d MiB at join, %d MiB after the load", perSession>>20, perSessionEnd>>20)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReportAndBaselineFromTheDemo plays one demo, then a second with the first as its baseline,
// and writes the second's evidence report in both formats; a tampered journal makes it say so.
func TestReportAndBaselineFromTheDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("plays two whole demos (-short; CI runs it)")
	}
	t.Parallel()
	first, second := t.TempDir(), t.TempDir()
	play := func(dir string, extra ...string) string {
		args := append([]string{"demo", "--headless", "--yes", "--speed", "1000", "--tables", "300", "--state", dir}, extra...)
		out, err := child(t, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "run completed") {
			t.Fatalf("demo %v: %v\n%s", extra, err, out)
		}
		return string(out)
	}
	play(first)
	out := play(second, "--baseline", first)
	if !strings.Contains(out, "baseline: the rehearsal in "+filepath.Join(first, journal.FileName)) ||
		!regexp.MustCompile(`run completed: .*; (.* (behind|ahead of) rehearsal|on rehearsal pace)`).MatchString(out) {
		t.Fatalf("the second demo must plan with the first and say how it compares:\n%s", out)
	}

	// The plan the forecast is made of: each step's duration in the first demo.
	firstRecs, _, err := journal.ReadAll(filepath.Join(first, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.TimingsOf(firstRecs)
	opts := parseOptions()
	opts.SkipSecretChecks = true // only inspected: nothing connects
	rb, err := runbook.Load(filepath.Join(second, demo.DirName, demo.RunbookFile), opts)
	if err != nil {
		t.Fatal(err)
	}
	rb.Baseline = first
	e, err := engine.New(rb, engine.Options{StateDir: second, Kinds: registry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	differs := 0
	for _, st := range e.Snapshot().Steps {
		if st.WhenFailed != "" {
			continue // a fallback the first demo did not need has no duration to plan with
		}
		d := want.Steps[st.ID].Duration()
		if d == 0 || st.Baseline != d || st.Plan() != d {
			t.Errorf("step %s plans %s (baseline %s), want the first demo's %s", st.ID, st.Plan(), st.Baseline, d)
		}
		if d != st.Planned {
			differs++
		}
	}
	e.Stop("test")
	if differs == 0 {
		t.Error("the baseline changed no step's plan: the test proves nothing")
	}
	for _, f := range []string{first, second} {
		tmp, _ := filepath.Glob(filepath.Join(f, "*.tmp"))
		if files, _ := filepath.Glob(filepath.Join(f, demo.DirName, "*.tmp")); len(tmp)+len(files) > 0 {
			t.Errorf("the demo left temporary files: %v %v", tmp, files)
		}
	}

	code, md, errOut := cli(t, "report", "--state", second)
	if code != exitOK {
		t.Fatalf("report: %d %s", code, errOut)
	}
	for _, h := range []string{"## Summary", "## Timeline", "## Confirmations", "## Validation", "## Replication drain curve",
		"## LCS operations", "## Anomalies", "## Journal integrity", "Δ vs baseline", "production-refresh", "rehearsal --yes"} {
		if !strings.Contains(md, h) {
			t.Errorf("the Markdown report has no %q", h)
		}
	}
	html := filepath.Join(t.TempDir(), "evidence.html")
	if code, _, errOut := cli(t, "report", "--state", second, "-o", html); code != exitOK {
		t.Fatalf("html report: %d %s", code, errOut)
	}
	page := string(mustRead(t, html))
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	svg := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the HTML report does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
			svg = true
		}
	}
	if !svg {
		t.Error("the HTML report embeds no SVG drain curve")
	}
	// Nothing to fetch: no element or style may point outside the page (a step's message may
	// name a URL it checked, as text).
	for _, ext := range []string{`src=`, `href="http`, `<link`, `<script`, `url(`, `@import`} {
		if strings.Contains(page, ext) {
			t.Errorf("the HTML report references something external (%q)", ext)
		}
	}

	// Tamper with one record in the middle of the journal.
	path := filepath.Join(second, journal.FileName)
	lines := strings.Split(string(mustRead(t, path)), "\n")
	mid := len(lines) / 2
	lines[mid] = strings.Replace(lines[mid], `"time":"2`, `"time":"1`, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, md, errOut = cli(t, "report", "--state", second)
	if code == exitOK || !strings.Contains(md, "JOURNAL FAILED VERIFICATION") || !strings.Contains(errOut, "FAILED VERIFICATION") {
		t.Fatalf("a tampered journal must be reported (exit %d):\n%s\n%s", code, errOut, md[:min(len(md), 600)])
	}
}

// waitingDemo starts a demo in dir with no terminal and no --yes: it runs until the first step
// that needs a person (the sandbox cleanup's confirmation) and waits there.
func waitingDemo(t *testing.T, dir string) (*exec.Cmd, *lineStream) {
	return waitingDemoUntil(t, dir, "toolkit-cleanup-target     waiting for its confirmation")
}

// waitingDemoUntil starts a demo in dir with no terminal and no --yes, and reads its output up to
// a line containing until.
func waitingDemoUntil(t *testing.T, dir, until string) (*exec.Cmd, *lineStream) {
	t.Helper()
	cmd := child(t, "demo", "--headless", "--speed", "1000", "--tables", "200", "--state", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ls := streamLines(out)
	ls.expect(t, until)
	return cmd, ls
}

// stopDemo interrupts a waiting demo (nothing runs, so it stops at once) and waits for it.
func stopDemo(t *testing.T, cmd *exec.Cmd, ls *lineStream) {
	t.Helper()
	cmd.Process.Signal(os.Interrupt)
	ls.expect(t, "stopped: nothing is running")
	ls.drain()
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() != tui.ExitInterrupted {
		t.Fatalf("the interrupted demo: %v", err)
	}
}

// snapshotFiles is every file under dir with its bytes and mode.
func snapshotFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			files[path] = info.Mode().String()
			return nil
		}
		b, err := os.ReadFile(path)
		files[path] = info.Mode().String() + " " + string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSecondDemoIsRefusedChangingNothing: a second demo on the state directory a demo runs in is
// refused, naming the first, before it writes anything: the first one's runbook, saved
// simulators, certificates, keys and journal stay byte for byte as they were. (The first is
// paused meanwhile, so that nothing it writes itself can hide a change.)
func TestSecondDemoIsRefusedChangingNothing(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("pauses the first demo with SIGSTOP")
	}
	dir := filepath.Join(t.TempDir(), "demo-state")
	first, ls := waitingDemo(t, dir)
	if err := first.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Signal(syscall.SIGCONT)
	before := snapshotFiles(t, dir)
	for _, f := range []string{journal.FileName, filepath.Join(demo.DirName, demo.RunbookFile), filepath.Join(demo.DirName, demo.SimsFile),
		filepath.Join(demo.DirName, lcssim.CertFileName), filepath.Join(demo.DirName, demo.TeamFile), filepath.Join(demo.DirName, demo.KeysDir, "ben"),
		filepath.Join(demo.DirName, demo.HostKeyFile), filepath.Join(demo.DirName, demo.KnownHostsFile)} {
		if _, ok := before[filepath.Join(dir, f)]; !ok {
			t.Fatalf("the first demo has no %s: the test proves nothing", f)
		}
	}
	second := child(t, "demo", "--headless", "--yes", "--speed", "1000", "--tables", "300", "--scenario", "rollback", "--state", dir)
	out, err := second.CombinedOutput()
	if second.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "in use by cutover demo (pid "+strconv.Itoa(first.Process.Pid)) {
		t.Fatalf("the second demo must be refused naming the first (exit 1): %v\n%s", err, out)
	}
	after := snapshotFiles(t, dir)
	for path, was := range before {
		if now, ok := after[path]; !ok {
			t.Errorf("the refused demo removed %s", path)
		} else if now != was {
			t.Errorf("the refused demo changed %s", path)
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			t.Errorf("the refused demo wrote %s", path)
		}
	}
	first.Process.Signal(syscall.SIGCONT)
	stopDemo(t, first, ls)
}

// TestDemoStateServesEveryCommand: the directory given to `cutover demo --state` is the engine's
// state directory: journal verify, report, status, step and http revoke work on it with --state
// alone (the runbook is the one its journal names).
func TestDemoStateServesEveryCommand(t *testing.T) {
	dir := t.TempDir()
	first, ls := waitingDemo(t, dir)
	stopDemo(t, first, ls)
	if code, out, errs := cli(t, "journal", "verify", "--state", dir); code != 0 || !strings.Contains(out, "OK,") {
		t.Errorf("journal verify --state: %d %s %s", code, out, errs)
	}
	if code, out, errs := cli(t, "report", "--state", dir); code != 0 || !strings.Contains(out, "# Cutover evidence report: Demo cutover") {
		t.Errorf("report --state: %d %.300s %s", code, out, errs)
	}
	// The simulators are gone with the demo: status says so, with the run's progress from the journal.
	if code, out, errs := cli(t, "status", "--state", dir, "--oneline"); code != 3 || !strings.Contains(out, "/43 steps") {
		t.Errorf("status --state: %d %s %s", code, out, errs)
	}
	if code, out, errs := cli(t, "step", "skip", "toolkit-cleanup-target", "--state", dir, "--phrase", "SKIP toolkit-cleanup-target",
		"--reason", "the sandbox was cleaned by hand", "--as", "Ana"); code != 0 || !strings.Contains(out, "skipped") {
		t.Errorf("step skip --state: %d %s %s", code, out, errs)
	}
	token := mustRead(t, filepath.Join(dir, "http.token"))
	if code, out, errs := cli(t, "http", "revoke", "--state", dir); code != 0 || bytes.Equal(token, mustRead(t, filepath.Join(dir, "http.token"))) {
		t.Errorf("http revoke --state: %d %s %s", code, out, errs)
	}
	// The demo resumes on it, the skip in its journal.
	again, ls := waitingDemoUntil(t, dir, "toolkit-cleanup-target     skipped")
	stopDemo(t, again, ls)
}

// TestResumedDemoFindsItsPage: the address a demo's status page was served on is read back from
// the state directory (a resumed demo serves there again when the port is free).
func TestResumedDemoFindsItsPage(t *testing.T) {
	dir := t.TempDir()
	if got := previousWebAddr(dir); got != "" {
		t.Fatalf("a new state directory has no page: %q", got)
	}
	if err := os.WriteFile(filepath.Join(dir, webURLFile), []byte("https://127.0.0.1:45037/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := previousWebAddr(dir); got != "127.0.0.1:45037" {
		t.Fatalf("the page's address: %q", got)
	}
}

package tui

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/runbook"
)

func startEngine(t *testing.T, src string, clk clock.Clock) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry(engine.AllKinds()...)
	rb, err := runbook.Load(path, runbook.Options{Kinds: reg})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(dir, "state"), Kinds: reg, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop("test") })
	return e
}

// screen reads the headless output and waits for text to appear.
type screen struct {
	t     *testing.T
	lines chan string
	seen  strings.Builder
}

func newScreen(t *testing.T, r io.Reader) *screen {
	s := &screen{t: t, lines: make(chan string, 1000)}
	go func() {
		defer close(s.lines)
		br := bufio.NewReader(r)
		for {
			chunk, err := br.ReadString('\n')
			if chunk != "" {
				s.lines <- chunk
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *screen) waitFor(text string) {
	s.t.Helper()
	if strings.Contains(s.seen.String(), text) {
		return
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("output ended before %q:\n%s", text, s.seen.String())
			}
			s.seen.WriteString(l)
			if strings.Contains(s.seen.String(), text) {
				return
			}
		case <-deadline:
			s.t.Fatalf("no %q in:\n%s", text, s.seen.String())
		}
	}
}

func TestHeadlessPromptsOnATerminal(t *testing.T) {
	e := startEngine(t, `name: Prompt test
environment: PROD
steps:
  - id: aos-stop
    title: Shut down the AOS
    kind: wait
    destructive: true
    confirm: STOP AOS
    with: {duration: 1ms}
  - id: hold
    title: Hold batch jobs
    kind: manual
    after: aos-stop
    with: {instructions: Set the batch jobs to Withhold.}
`, clock.Real())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ana := engine.Actor{Name: "Ana", Origin: "local terminal", Role: engine.RoleOperator}
	code := make(chan int, 1)
	go func() {
		code <- RunHeadless(context.Background(), e, HeadlessOptions{Out: outW, In: inR, Interactive: true, Actor: ana})
		outW.Close()
	}()
	s := newScreen(t, outR)
	s.waitFor("confirmation needed (DESTRUCTIVE): aos-stop")
	s.waitFor("environment: PROD")
	s.waitFor(`type "STOP AOS" to confirm as Ana`)
	io.WriteString(inW, "stop aos\n")
	s.waitFor("the typed phrase does not match")
	io.WriteString(inW, "STOP AOS\n")
	s.waitFor("confirmed  by Ana")
	s.waitFor("── manual step hold: Hold batch jobs")
	s.waitFor("Set the batch jobs to Withhold.")
	io.WriteString(inW, "maybe\n")
	s.waitFor("type done, done: note, or skip: reason")
	io.WriteString(inW, "done: all on Withhold\n")
	s.waitFor("run completed")
	if c := <-code; c != ExitCompleted {
		t.Fatalf("exit %d", c)
	}
	st, _ := e.Snapshot().Step("hold")
	if st.By == nil || st.By.Name != "Ana" || st.Message != "done: all on Withhold" {
		t.Fatalf("manual step: %+v", st)
	}
}

func TestHeadlessWithoutATerminalWaits(t *testing.T) {
	e := startEngine(t, `name: t
steps:
  - {id: go, title: "Go?", kind: gate}
  - {id: next, title: N, kind: wait, after: go, with: {duration: 1ms}}
`, clock.Real())
	outR, outW := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- RunHeadless(context.Background(), e, HeadlessOptions{Out: outW})
		outW.Close()
	}()
	s := newScreen(t, outR)
	s.waitFor("waiting for its confirmation (no terminal here")
	// Someone confirms from elsewhere (another cockpit session).
	ben := engine.Actor{Name: "Ben", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	if _, err := e.Confirm("go", 0, ben, "go"); err != nil {
		t.Fatal(err)
	}
	s.waitFor("run completed")
	if c := <-code; c != ExitCompleted {
		t.Fatalf("exit %d", c)
	}
}

func TestHeadlessCtrlCDrainsThenStops(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC))
	e := startEngine(t, `name: t
steps:
  - {id: soak, title: Soak, kind: wait, with: {duration: 10m}}
  - {id: next, title: N, kind: wait, after: soak, with: {duration: 1m}}
`, clk)
	outR, outW := io.Pipe()
	sigs := make(chan os.Signal, 2)
	code := make(chan int, 1)
	go func() {
		code <- RunHeadless(context.Background(), e, HeadlessOptions{Out: outW, Interrupts: sigs})
		outW.Close()
	}()
	s := newScreen(t, outR)
	s.waitFor("soak")
	sigs <- os.Interrupt
	s.waitFor("no new steps will start; waiting for soak to finish")
	if err := clk.WaitForTimers(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	s.waitFor("stopped: nothing is running")
	if c := <-code; c != ExitInterrupted {
		t.Fatalf("exit %d", c)
	}
	if st, _ := e.Snapshot().Step("next"); st.State == engine.StateRunning || st.State == engine.StateSucceeded {
		t.Fatalf("a new step started after Ctrl-C: %s", st.State)
	}
}

func TestHeadlessReportsABlockedRun(t *testing.T) {
	e := startEngine(t, `name: t
steps:
  - {id: a, title: A, kind: command, with: {argv: [/nonexistent/program]}}
  - {id: b, title: B, kind: gate, after: a}
`, clock.Real())
	var out strings.Builder
	if c := RunHeadless(context.Background(), e, HeadlessOptions{Out: &out}); c != ExitFailed {
		t.Fatalf("exit %d", c)
	}
	if !strings.Contains(out.String(), "run blocked: a failed") || !strings.Contains(out.String(), "cannot start /nonexistent/program") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestHeadlessSecondApproverStandInOnlyInRehearsals(t *testing.T) {
	for _, rehearsal := range []bool{true, false} {
		src := "name: t\nrehearsal: " + map[bool]string{true: "true", false: "false"}[rehearsal] +
			"\nsteps:\n  - {id: ponr, title: Point of no return, kind: gate, approvals: 2}\n"
		e := startEngine(t, src, clock.Real())
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		// Ana's account: the stand-in is the same account, told apart only as a rehearsal stand-in.
		ana := engine.LocalActor(engine.Account{User: "ana", UID: "1001", Host: "jump01"}, "Ana", "")
		done := make(chan int, 1)
		go func() {
			done <- RunHeadless(context.Background(), e, HeadlessOptions{Out: outW, In: inR, Interactive: true, Actor: ana})
			outW.Close()
		}()
		s := newScreen(t, outR)
		s.waitFor(`type "ponr" to confirm as Ana`)
		io.WriteString(inW, "ponr\n")
		s.waitFor("confirmed by Ana (1 of 2)")
		io.WriteString(inW, "as Ben: ponr\n")
		if !rehearsal {
			s.waitFor("the typed phrase does not match")
			inW.Close()
			e.Stop("test")
			continue
		}
		s.waitFor("run completed")
		<-done
		st, _ := e.Snapshot().Step("ponr")
		if len(st.ConfirmedBy) != 2 || st.ConfirmedBy[1].Actor.Name != "Ben" || !strings.Contains(st.ConfirmedBy[1].Actor.Origin, "stand-in") || !st.ConfirmedBy[1].Actor.StandIn {
			t.Fatalf("approvals %+v", st.ConfirmedBy)
		}
	}
}

// TestHeadlessWarnsAtThePointOfNoReturnWithoutARollbackPoint: when the point of no return asks
// for its confirmation and the backup step was skipped, the printed request says that confirming
// leaves nothing to go back to.
func TestHeadlessWarnsAtThePointOfNoReturnWithoutARollbackPoint(t *testing.T) {
	e := startEngine(t, `name: t
downtime: {budget: 8h, point_of_no_return: refresh, rollback_point: backup}
steps:
  - {id: hold, title: Hold, kind: gate}
  - {id: backup, title: Backup, kind: manual, after: hold}
  - {id: refresh, title: Refresh, kind: gate, after: backup}
`, clock.Real())
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- RunHeadless(context.Background(), e, HeadlessOptions{Out: outW})
		outW.Close()
	}()
	s := newScreen(t, outR)
	ana := engine.Actor{Name: "Ana", Origin: "local terminal", Role: engine.RoleOperator}
	s.waitFor(`type "hold"`)
	if _, err := e.Skip("backup", ana, "no time", ""); err != nil {
		t.Fatal(err)
	}
	snap := e.Snapshot()
	hold, _ := snap.Step("hold")
	if _, err := e.Confirm("hold", hold.Confirmation.Request, ana, "hold"); err != nil {
		t.Fatal(err)
	}
	s.waitFor("⚠ NO AX 2012 ROLLBACK POINT: backup did not make one (it was skipped by Ana: no time). Confirming refresh leaves nothing to go back to.")
	e.Stop("test")
	<-done
}

// TestHeadlessSkipOfAGuardedStepNeedsItsPhrase: at a confirmation prompt, "skip: reason" is
// refused with what to type; "SKIP id: reason" skips a one-operator step, and a two-operator
// step counts one approval and keeps asking.
func TestHeadlessSkipOfAGuardedStepNeedsItsPhrase(t *testing.T) {
	e := startEngine(t, `name: t
steps:
  - {id: go, title: Go/no-go, kind: gate}
  - {id: ponr, title: Point of no return, kind: gate, approvals: 2, after: go}
`, clock.Real())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ana := engine.Actor{Name: "Ana", Origin: "local terminal", Role: engine.RoleOperator}
	go func() {
		RunHeadless(context.Background(), e, HeadlessOptions{Out: outW, In: inR, Interactive: true, Actor: ana})
		outW.Close()
	}()
	s := newScreen(t, outR)
	s.waitFor("to skip it instead: SKIP go: reason (1 operator(s))")
	io.WriteString(inW, "skip: business not ready\n")
	s.waitFor(`to skip it, type "SKIP go"`)
	if st, _ := e.Snapshot().Step("go"); st.State != engine.StateAwaiting {
		t.Fatalf("a free-text skip passed the gate: %s", st.State)
	}
	io.WriteString(inW, "SKIP go: decided at the 17:00 call\n")
	s.waitFor("to skip it instead: SKIP ponr: reason (2 operator(s))")
	if st, _ := e.Snapshot().Step("go"); st.State != engine.StateSkipped || st.Reason != "decided at the 17:00 call" {
		t.Fatalf("go %s %q", st.State, st.Reason)
	}
	io.WriteString(inW, "SKIP ponr: no time\n")
	s.waitFor("skip approved by Ana (1 of 2); another operator must approve it from their own session")
	s.waitFor(`skip?      Ana asks to skip it: no time — 1 of 2 approved (Ana); each approver types "SKIP ponr"`)
	if st, _ := e.Snapshot().Step("ponr"); st.State != engine.StateAwaiting || st.Override == nil {
		t.Fatalf("ponr %s %+v", st.State, st.Override)
	}
	inW.Close()
	e.Stop("test")
}

// TestHeadlessOffersBothChoicesOnAFailure: when a step fails (here a gate's no-go) and a
// conditional step answers it, the prompt for the conditional step says why it asks and what the
// other choice is; the line of a conditional step not needed says so.
func TestHeadlessOffersBothChoicesOnAFailure(t *testing.T) {
	e := startEngine(t, `name: t
steps:
  - {id: upgrade, title: Upgrade went well, kind: gate}
  - {id: rollback, title: Roll back the upgrade, kind: gate, when: {failed: upgrade}}
  - {id: spare, title: Spare, kind: manual, when: {failed: rollback}}
`, clock.Real())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ana := engine.Actor{Name: "Ana", Origin: "local terminal", Role: engine.RoleOperator}
	go func() {
		RunHeadless(context.Background(), e, HeadlessOptions{Out: outW, In: inR, Interactive: true, Actor: ana})
		outW.Close()
	}()
	s := newScreen(t, outR)
	s.waitFor(`type "upgrade" to confirm as Ana`)
	io.WriteString(inW, "no: LCS says Failed\n")
	s.waitFor("it runs because upgrade failed; the other choice is to retry upgrade (no: reason here, then cutover step retry upgrade)")
	io.WriteString(inW, "rollback\n")
	s.waitFor("not needed not needed: rollback succeeded")
	inW.Close()
	e.Stop("test")
}

// TestHeadlessPrintsEveryLineOfAMessage: a step whose instructions run over several lines (as
// lcs.refresh's "start it yourself in the LCS portal:" and the path after it) prints every line,
// indented under the event's message; a message of one line stays one line.
func TestHeadlessPrintsEveryLineOfAMessage(t *testing.T) {
	e := startEngine(t, `name: t
steps:
  - id: refresh
    title: Refresh production
    kind: manual
    with:
      instructions: |
        refresh production — start it yourself in the LCS portal:
          Production environment → Maintain → Move database → Refresh database, source = sandbox
        then mark it done here.
`, clock.Real())
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- RunHeadless(context.Background(), e, HeadlessOptions{Out: outW})
		outW.Close()
	}()
	s := newScreen(t, outR)
	s.waitFor("then mark it done here.\n")
	ana := engine.Actor{Name: "Ana", Origin: "local terminal", Role: engine.RoleOperator}
	if _, err := e.MarkDone("refresh", ana, "", ""); err != nil {
		t.Fatal(err)
	}
	s.waitFor("run completed")
	if c := <-done; c != ExitCompleted {
		t.Fatalf("exit %d", c)
	}
	lines := strings.Split(s.seen.String(), "\n")
	at := -1
	for i, l := range lines {
		if strings.Contains(l, "start it yourself in the LCS portal:") {
			at = i
			break
		}
	}
	if at < 0 || at+2 >= len(lines) {
		t.Fatalf("no instructions:\n%s", s.seen.String())
	}
	col := strings.Index(lines[at], "in the operator's hands: ")
	want := []string{
		"  Production environment → Maintain → Move database → Refresh database, source = sandbox",
		"then mark it done here.",
	}
	for i, w := range want {
		if got := lines[at+1+i]; got != strings.Repeat(" ", col)+w {
			t.Errorf("line %d under the event:\n%q\nwant it under the message (column %d):\n%q", i+1, got, col, strings.Repeat(" ", col)+w)
		}
	}
}

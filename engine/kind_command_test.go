//go:build unix

package engine_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/engine"
	"cutover/engine/journal"
)

func needShell(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("these command tests use /bin/sh")
	}
}

func TestCommandStreamsOutputAndChecksExitCodes(t *testing.T) {
	needShell(t)
	h := newHarness(t, `name: t
steps:
  - id: hello
    title: Hello
    kind: command
    with:
      shell: 'echo "hello from $CUTOVER_STEP attempt $CUTOVER_ATTEMPT in $(pwd)"; echo "on stderr" >&2; printf "no newline"'
      dir: '{state_dir}'
  - id: warn
    title: Exit 3 is fine
    kind: command
    with: {argv: [/bin/sh, -c, 'exit 3'], expect_exit: [0, 3]}
  - id: env
    title: Env
    kind: command
    with:
      argv: [/bin/sh, -c, 'test "$GREETING" = "hi {step}" && echo ok']
      env: {GREETING: 'hi {step}'}
  - id: bad
    title: Bad exit
    kind: command
    after: [hello, warn, env]
    with: {shell: 'echo one; echo two; exit 7'}
`).start()
	st := h.waitStep("bad", engine.StateFailed)
	if st.LastError != "sh exited with code 7" {
		t.Fatalf("error %q", st.LastError)
	}
	if strings.Join(st.Output, "|") != "one|two" {
		t.Fatalf("output tail %q", st.Output)
	}
	for _, id := range []string{"hello", "warn", "env"} {
		if s, _ := h.e.Snapshot().Step(id); s.State != engine.StateSucceeded {
			t.Fatalf("%s is %s: %s", id, s.State, s.LastError)
		}
	}
	if s, _ := h.e.Snapshot().Step("warn"); s.Message != "exit 3" {
		t.Fatalf("warn message %q", s.Message)
	}
	logs := h.e.Logs(100, "hello")
	var out, errs, tail bool
	stateDir, _ := filepath.EvalSymlinks(filepath.Join(h.dir, "state"))
	for _, l := range logs {
		switch {
		case l.Stream == "stdout" && l.Msg == "hello from hello attempt 1 in "+stateDir:
			out = true
		case l.Stream == "stderr" && l.Msg == "on stderr":
			errs = true
		case l.Stream == "stdout" && l.Msg == "no newline":
			tail = true
		}
	}
	if !out || !errs || !tail {
		t.Fatalf("log lines for hello (stdout %v stderr %v unterminated %v):\n%v", out, errs, tail, logs)
	}
	// The log file in the state directory has them too, tagged with the step.
	b, err := os.ReadFile(filepath.Join(h.dir, "state", engine.LogFileName))
	if err != nil || !strings.Contains(string(b), "[hello stderr] on stderr") {
		t.Fatalf("log file: %v\n%s", err, b)
	}
}

func TestCommandNotFoundIsPermanent(t *testing.T) {
	h := newHarness(t, `name: t
steps:
  - {id: missing, title: M, kind: command, retries: 5, with: {argv: [/definitely/not/here]}}
`).start()
	st := h.waitStep("missing", engine.StateFailed)
	if st.Attempt != 1 || !strings.Contains(st.LastError, "cannot start /definitely/not/here") {
		t.Fatalf("attempt %d error %q", st.Attempt, st.LastError)
	}
}

// groupGone reports whether no process of the group is left (zombies waiting to be reaped by
// init count as gone).
func groupGone(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err != nil {
		return true
	}
	if runtime.GOOS != "linux" {
		return false
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && pid > 0 {
			return false
		}
	}
	return true
}

// eventually polls a condition the operating system settles on its own (process reaping).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCommandTimeoutKillsTheProcessGroup(t *testing.T) {
	needShell(t)
	h := newHarness(t, `name: t
steps:
  - id: hang
    title: Hangs with a child
    kind: command
    timeout: 30s
    with: {shell: 'sleep 300 & echo child $!; sleep 300'}
`).start()
	line := waitLog(t, h, "hang", "child ")
	child, _ := strconv.Atoi(strings.TrimPrefix(line, "child "))
	h.advance(1, 30*time.Second)
	st := h.waitStep("hang", engine.StateFailed)
	if !strings.Contains(st.LastError, "timed out after 30s") {
		t.Fatalf("error %q", st.LastError)
	}
	pgid := pgidOf(t, h, "hang")
	eventually(t, "the process group to be gone", func() bool { return groupGone(pgid) })
	if err := syscall.Kill(child, 0); err == nil && !groupGone(pgid) {
		t.Fatalf("child %d survived the timeout", child)
	}
}

func TestAbortKillsTheCommand(t *testing.T) {
	needShell(t)
	h := newHarness(t, `name: t
steps:
  - {id: long, title: L, kind: command, with: {shell: 'echo started; sleep 300'}}
`).start()
	waitLog(t, h, "long", "started")
	if err := h.e.Abort("long", ana, "wrong host"); err != nil {
		t.Fatal(err)
	}
	st := h.waitStep("long", engine.StateFailed)
	if st.LastError != "aborted by Ana: wrong host" {
		t.Fatalf("%q", st.LastError)
	}
	pgid := pgidOf(t, h, "long")
	eventually(t, "the process group to be gone", func() bool { return groupGone(pgid) })
}

// TestInterruptedCommands: stopping cutover mid-command kills it; on the next start a
// non-idempotent command is not run again, an idempotent one is.
func TestInterruptedCommands(t *testing.T) {
	needShell(t)
	marks := t.TempDir()
	h := newHarness(t, `name: t
steps:
  - {id: once, title: Once, kind: command, with: {shell: 'echo run >> `+marks+`/once; echo started; sleep 300'}}
  - {id: again, title: Again, kind: command, idempotent: true, with: {shell: 'echo run >> `+marks+`/again; [ $CUTOVER_ATTEMPT -gt 1 ] || { echo started; sleep 300; }'}}
`).start()
	waitLog(t, h, "once", "started")
	waitLog(t, h, "again", "started")
	h.restart()
	h.waitStep("again", engine.StateSucceeded)
	once := h.waitStep("once", engine.StateFailed)
	if !strings.Contains(once.LastError, "not idempotent") {
		t.Fatalf("once: %q", once.LastError)
	}
	count := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(marks, name))
		return strings.Count(string(b), "run")
	}
	if count("once") != 1 || count("again") != 2 {
		t.Fatalf("once ran %d times, again %d", count("once"), count("again"))
	}
}

// TestCrashLeftoversAreKilledBeforeARerun: cutover dies while two commands run, each a shell
// that started processes of its own. The shells die with cutover and are reaped; what they
// started lives on in their process groups. The next start kills those remains — for both steps —
// and only then re-runs the idempotent one; the other is marked interrupted.
func TestCrashLeftoversAreKilledBeforeARerun(t *testing.T) {
	needShell(t)
	if runtime.GOOS != "linux" {
		t.Skip("the remains of a crashed attempt are found through /proc")
	}
	marks := t.TempDir()
	script := func(name string) string {
		return `echo run >> ` + marks + `/` + name + `; [ $CUTOVER_ATTEMPT -gt 1 ] && exit 0; ` +
			`sleep 300 >/dev/null 2>&1 & a=$!; sleep 300 >/dev/null 2>&1 & echo child $a $!; wait`
	}
	h := newHarness(t, `name: t
steps:
  - {id: once, title: Once, kind: command, with: {shell: '`+script("once")+`'}}
  - {id: again, title: Again, kind: command, idempotent: true, with: {shell: '`+script("again")+`'}}
`).start()
	steps := []string{"once", "again"}
	// cutover crashes now: the journal as it is is what the next start finds.
	pgids, children := crashWithChildren(t, h, steps, func(j []byte) []byte { return j })

	h.start()
	// Start returns once the remains are killed and have ended: nothing to wait for here.
	for id, pgid := range pgids {
		if !groupGone(pgid) {
			t.Fatalf("the remains of %s (process group %d) are still running", id, pgid)
		}
	}
	again := h.waitStep("again", engine.StateSucceeded)
	once := h.waitStep("once", engine.StateFailed)
	if again.Attempt != 2 || !strings.Contains(once.LastError, "not idempotent") {
		t.Fatalf("again: attempt %d; once: %q", again.Attempt, once.LastError)
	}
	count := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(marks, name))
		return strings.Count(string(b), "run")
	}
	if count("once") != 1 || count("again") != 2 {
		t.Fatalf("once ran %d times, again %d", count("once"), count("again"))
	}
	for _, id := range steps {
		pids := slices.Sorted(slices.Values(children[id]))
		want := fmt.Sprintf("killed processes %d, %d left running in process group %d", pids[0], pids[1], pgids[id])
		if !hasStepLog(h, id, want) {
			t.Errorf("%s: no log line %q", id, want)
		}
	}
}

// inGroup reports whether pid is a live (not zombie) process in group pgid.
func inGroup(pid, pgid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid)
}

// waitExternal waits until each step has journaled what it started (its process group).
func waitExternal(t *testing.T, h *harness, steps ...string) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		missing := ""
		for _, id := range steps {
			if !h.hasRef(id, "pid") {
				missing = id
				break
			}
		}
		if missing == "" {
			return
		}
		// Every record is followed by an event: look again after each.
		select {
		case _, ok := <-h.events:
			if !ok {
				t.Fatal("event stream closed")
			}
		case <-deadline:
			t.Fatalf("%s never journaled its process", missing)
		}
	}
}

// waitLog waits for a step to print a line starting with prefix, from the log events.
func waitLog(t *testing.T, h *harness, step, prefix string) string {
	t.Helper()
	match := func(l engine.LogLine) bool {
		return l.Step == step && l.Stream == "stdout" && strings.HasPrefix(l.Msg, prefix)
	}
	for _, l := range h.e.Logs(engine.DefaultLogRing, step) {
		if match(l) {
			return l.Msg
		}
	}
	deadline := time.After(waitLimit)
	for {
		select {
		case ev, ok := <-h.events:
			if !ok {
				t.Fatal("event stream closed")
			}
			if b, isLog := ev.(engine.LogBatch); isLog {
				for _, l := range b.Lines {
					if match(l) {
						return l.Msg
					}
				}
			}
		case <-deadline:
			t.Fatalf("%s never printed %q", step, prefix)
		}
	}
}

func pgidOf(t *testing.T, h *harness, step string) int {
	t.Helper()
	for _, r := range h.records() {
		var p engine.External
		if r.Type == string(engine.RecExternal) && r.Step == step && r.Decode(&p) == nil {
			n, err := strconv.Atoi(p.Ref["pgid"])
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no process group journaled for %s", step)
	return 0
}

// crashWithChildren runs each step's shell (which prints "child PID…" for the processes it leaves
// behind) until those run, then plays a crash of cutover: the journal as cut(journal) keeps it,
// each step's shell killed and reaped, the engine stopped, the children still running. It returns
// each step's process group and children; the children are killed when the test ends.
func crashWithChildren(t *testing.T, h *harness, steps []string, cut func(journal []byte) []byte) (pgids map[string]int, children map[string][]int) {
	t.Helper()
	waitExternal(t, h, steps...)
	pgids, children = map[string]int{}, map[string][]int{}
	for _, id := range steps {
		pgid := pgidOf(t, h, id)
		pgids[id] = pgid
		for _, f := range strings.Fields(strings.TrimPrefix(waitLog(t, h, id, "child "), "child ")) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			children[id] = append(children[id], pid)
			t.Cleanup(func() {
				if inGroup(pid, pgid) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			})
		}
	}
	path := filepath.Join(h.dir, "state", journal.FileName)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crashed := cut(full)
	// Its death takes the shells with it (the parent-death signal), and they are reaped.
	for _, id := range steps {
		if err := syscall.Kill(pgids[id], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		h.waitFor(id, "the end of its shell", func(s engine.StepView) bool { return s.State != engine.StateRunning })
	}
	h.stop()
	for id, pids := range children {
		for _, pid := range pids {
			if !inGroup(pid, pgids[id]) {
				t.Fatalf("%s: process %d did not outlive its shell; the test proves nothing", id, pid)
			}
		}
	}
	crashImage(t, path, crashed)
	return pgids, children
}

// crashWithChild is crashWithChildren for one step with one child.
func crashWithChild(t *testing.T, h *harness, step string, cut func(journal []byte) []byte) (pgid, child int) {
	t.Helper()
	pgids, children := crashWithChildren(t, h, []string{step}, cut)
	if len(children[step]) != 1 {
		t.Fatalf("%s left %d children, want 1", step, len(children[step]))
	}
	return pgids[step], children[step][0]
}

// idempotentShell starts a harness (Linux only: the remains of a crashed attempt are found through
// /proc) with one idempotent command step, "again", running shell after it has marked each run
// in MARKS/again; it returns the harness and a function counting those runs.
func idempotentShell(t *testing.T, shell string) (*harness, func() int) {
	t.Helper()
	needShell(t)
	if runtime.GOOS != "linux" {
		t.Skip("the remains of a crashed attempt are found through /proc")
	}
	marks := filepath.Join(t.TempDir(), "again")
	h := newHarness(t, `name: t
steps:
  - {id: again, title: Again, kind: command, idempotent: true, with: {shell: 'echo run >> `+marks+`; `+shell+`'}}
`).start()
	return h, func() int {
		b, _ := os.ReadFile(marks)
		return strings.Count(string(b), "run")
	}
}

// TestCrashLeftoversThatCannotBeVerifiedBlockTheRerun: an idempotent step's interrupted attempt
// left a process that cleared its environment (so it cannot be proven the attempt's); it is left
// alone, and the step is not re-run next to it but waits for an operator. The child names itself
// only once its environment is gone: a child still between fork and exec carries the token and
// is rightly killed as the attempt's.
func TestCrashLeftoversThatCannotBeVerifiedBlockTheRerun(t *testing.T) {
	h, runs := idempotentShell(t, `env -i sh -c "echo child \$\$; exec sleep 300 >/dev/null 2>&1" & wait`)
	pgid, child := crashWithChild(t, h, "again", func(j []byte) []byte { return j })

	h.start()
	st := h.waitStep("again", engine.StateFailed)
	if !strings.Contains(st.LastError, "could not all be stopped") || !inGroup(child, pgid) {
		t.Fatalf("again: %s %q (child alive %v)", st.State, st.LastError, inGroup(child, pgid))
	}
	if n := runs(); n != 1 {
		t.Fatalf("the step ran %d times", n)
	}
}

// TestCrashBeforeTheProcessIDsAreJournaled: cutover died after journaling the attempt's token
// but before journaling the process ids it started. The children are found by the token alone
// and killed before the idempotent step runs again.
func TestCrashBeforeTheProcessIDsAreJournaled(t *testing.T) {
	h, runs := idempotentShell(t, `[ $CUTOVER_ATTEMPT -gt 1 ] && exit 0; sleep 300 >/dev/null 2>&1 & echo child $!; wait`)
	// The journal as it was between the two records: the token, and no process ids yet.
	pgid, child := crashWithChild(t, h, "again", func(full []byte) []byte {
		for i, r := range h.records() {
			var p engine.External
			if r.Type == string(engine.RecExternal) && r.Step == "again" && r.Decode(&p) == nil {
				if p.Ref["token"] == "" || p.Ref["pid"] != "" {
					t.Fatalf("the first reference journaled is %v, not the token alone", p.Ref)
				}
				return bytes.Join(bytes.SplitAfter(full, []byte("\n"))[:i+1], nil)
			}
		}
		t.Fatal("no reference journaled")
		return nil
	})

	h.start()
	if inGroup(child, pgid) {
		t.Fatalf("process %d of the interrupted attempt is still running", child)
	}
	if st := h.waitStep("again", engine.StateSucceeded); st.Attempt != 2 || runs() != 2 {
		t.Fatalf("again: attempt %d, %d runs", st.Attempt, runs())
	}
	if want := fmt.Sprintf("killed process %d left running by the interrupted attempt (found by the attempt's token)", child); !hasStepLog(h, "again", want) {
		t.Errorf("no log line %q", want)
	}
}

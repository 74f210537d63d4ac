package cmd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/sha256"
	stdsql "database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	gossh "golang.org/x/crypto/ssh"

	"cutover/adapter"
	"cutover/demo"
	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/runbook"
	"cutover/engine/team"
	"cutover/lcs/contract"
	lcssim "cutover/lcs/sim"
	"cutover/sql"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
	"cutover/tui"
)

// TestMain lets the test binary be the cutover binary: with CUTOVER_TEST_MAIN=1 it runs the CLI
// on its arguments. Child processes (and the commands they run through {self}) use this.
func TestMain(m *testing.M) {
	if os.Getenv("CUTOVER_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binDir holds the binary buildCutover builds once for the whole test run.
var binDir string

// built is the one build of the binary: its path, or why there is none (skip) or it failed.
var built = sync.OnceValues(func() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", errSkipBuild
	}
	if binDir, err = os.MkdirTemp("", "cutover-bin-"); err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, "cutover")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if out, err := exec.Command(goTool, "build", "-o", bin, "..").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

var errSkipBuild = errors.New("the go command is not on PATH: cannot build the binary")

// buildCutover builds the real cutover binary (go build, as a user would; once per test run)
// and returns its path.
func buildCutover(t *testing.T) string {
	t.Helper()
	bin, err := built()
	switch {
	case errors.Is(err, errSkipBuild):
		t.Skip(err)
	case err != nil:
		t.Fatal(err)
	}
	return bin
}

// cli runs the CLI in-process.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// child starts the CLI as a separate process.
func child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CUTOVER_TEST_MAIN=1")
	return cmd
}

func TestInitThenCheck(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := cli(t, "init", dir)
	if code != 0 || !strings.Contains(out, "wrote") {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	path := filepath.Join(dir, "cutover.yaml")
	before, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(before, []byte("# my edits\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "init", dir)
	if code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("second init: %d %s", code, errs)
	}
	if after, _ := os.ReadFile(path); !bytes.HasSuffix(after, []byte("# my edits\n")) {
		t.Fatal("init overwrote an existing runbook")
	}
	code, out, errs = cli(t, "check", "-f", path)
	if code != 0 {
		t.Fatalf("check of the template: %d\n%s", code, errs)
	}
	for _, want := range []string{"is valid", "steps:        43", "destructive:  toolkit-cleanup-target, aos-stop, toolkit-remove-replication, rollback-upgrade, production-refresh",
		"production-refresh (2)", "reopen (2)", "critical path:", "budget", "no return:    reopen, which waits for the rollback point rollback-backup",
		"conditional:  rollback-upgrade runs only if watch-upgrade fails"} {
		if !strings.Contains(out, want) {
			t.Errorf("check summary lacks %q:\n%s", want, out)
		}
	}
	// Steps per phase, in the runbook's order.
	if !regexp.MustCompile(`(?s)Readiness +3\n +Replication setup +8\n +Before downtime +1\n +Shutdown +4\n +Drain and validate +6\n +Data upgrade +4\n +Production copy +6\n +Configuration +6\n +Smoke tests +4\n +Go live +1\n`).MatchString(out) {
		t.Errorf("check summary lacks the steps per phase:\n%s", out)
	}
	// Without a rollback point the summary says so.
	noPoint := bytes.Replace(before, []byte("  rollback_point: rollback-backup"), []byte("  # rollback_point: rollback-backup"), 1)
	if bytes.Equal(noPoint, before) {
		t.Fatal("the template names no rollback point")
	}
	if err := os.WriteFile(path, noPoint, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli(t, "check", "-f", path); code != 0 || !strings.Contains(out, "no return:    reopen, which has no rollback point to wait for (name its backup step: downtime.rollback_point)") {
		t.Errorf("check without a rollback point: %d\n%s%s", code, out, errs)
	}
}

// TestCheckSaysWhereTheRollbackEnds: check lists the conditional steps and warns when the point
// of no return is the production refresh (the documented rollback outlives it) and when the
// rollback point does not check its backup; it still exits 0 (warnings, not problems).
func TestCheckSaysWhereTheRollbackEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	src := `name: t
lcs: {project_id: "1", sandbox_environment_id: SBX, production_environment_id: PROD, auth: token-env, token_env: HOME}
downtime: {budget: 8h, point_of_no_return: refresh, rollback_point: backup}
steps:
  - {id: stop, title: Stop, kind: manual}
  - {id: backup, title: Backup, kind: manual, after: stop}
  - {id: upgrade, title: Upgrade, kind: manual, after: stop}
  - {id: rollback-upgrade, title: Roll back the upgrade, kind: manual, approvals: 2, when: {failed: upgrade}}
  - {id: refresh, title: Refresh production, kind: lcs.refresh, destructive: true, after: [backup, upgrade], with: {source: sandbox, target: production}}
  - {id: go-live, title: Let users and integrations in, kind: gate, approvals: 2, after: refresh}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "check", "-f", path)
	if code != 0 {
		t.Fatalf("check: %d\n%s", code, errs)
	}
	for _, want := range []string{
		"  conditional:  rollback-upgrade runs only if upgrade fails (not in the plan)\n",
		`  warning:      downtime.point_of_no_return: "refresh" is the production refresh (lcs.refresh), but the documented rollback`,
		"name the go-live gate that lets them in",
		`  warning:      downtime.rollback_point: "backup" (manual) does not check the backup`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check lacks %q:\n%s", want, out)
		}
	}
	fixed := strings.Replace(src, "point_of_no_return: refresh", "point_of_no_return: go-live", 1)
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := cli(t, "check", "-f", path); strings.Contains(out, "production refresh") || !strings.Contains(out, "no return:    go-live, which waits for the rollback point backup") {
		t.Errorf("check with the go-live gate as the point of no return:\n%s", out)
	}
}

// TestInitThenCheckInTheCurrentDirectory: with no arguments, init writes ./cutover.yaml and check
// reads it.
func TestInitThenCheckInTheCurrentDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, out, errs := cli(t, "init"); code != 0 || !strings.Contains(out, "wrote cutover.yaml") {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	if code, out, errs := cli(t, "check"); code != 0 || !strings.Contains(out, "cutover.yaml: runbook") {
		t.Fatalf("check: %d %s %s", code, out, errs)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	code, _, errs := cli(t, "check", "-f", "testdata/bad-runbook.yaml")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"testdata/bad-runbook.yaml:8:15: connections.source: password: inline passwords are refused",
		`testdata/bad-runbook.yaml:17:5: step "aos-stop": unknown key "confrim" (did you mean "confirm"?)`,
		`testdata/bad-runbook.yaml:19:9: duplicate step id "preflight"`,
		`testdata/bad-runbook.yaml:29:13: step "validate": dependency cycle: drain → validate → drain`,
		`testdata/bad-runbook.yaml:29:20: step "validate": after: no step has id "remove-replication"`,
		"5 problem(s); nothing was run",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
	if code, _, errs := cli(t, "check", "-f", filepath.Join(t.TempDir(), "none.yaml")); code != 1 || !strings.Contains(errs, "cutover init") {
		t.Errorf("missing runbook: %d %s", code, errs)
	}
}

func TestUsage(t *testing.T) {
	if code, out, _ := cli(t); code != 0 || !strings.Contains(out, "cutover demo") {
		t.Fatalf("usage: %d %s", code, out)
	}
	if code, _, errs := cli(t, "launch"); code != 2 || !strings.Contains(errs, `nknown command "launch"`) {
		t.Fatalf("unknown command: %d %s", code, errs)
	}
	// Asked for, the usage goes to stdout with exit 0; after a mistake, the error to stderr, exit 2.
	for _, arg := range []string{"-h", "--help"} {
		if code, out, errs := cli(t, "check", arg); code != 0 || !strings.Contains(out, "cutover check") || !strings.Contains(out, "--file") || errs != "" {
			t.Fatalf("check %s: exit %d, stdout %q, stderr %q", arg, code, out, errs)
		}
	}
	if code, out, errs := cli(t, "check", "--bogus"); code != 2 || out != "" || !strings.Contains(strings.ToLower(errs), "unknown flag: --bogus") {
		t.Fatalf("check --bogus: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestCommandLine: the command line as cobra and fang build it: --version, shell completions
// (step ids from the runbook), flags after positional arguments, help on every command with its
// --flags, declared exclusive flags, and the exit codes kept (a usage mistake is 2).
func TestCommandLine(t *testing.T) {
	if code, out, _ := cli(t, "--version"); code != 0 || !strings.Contains(out, version) {
		t.Fatalf("--version: %d %q", code, out)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if code, out, errs := cli(t, "completion", sh); code != 0 || len(out) < 500 || errs != "" {
			t.Fatalf("completion %s: %d (%d bytes) %s", sh, code, len(out), errs)
		}
	}
	// Flags after a positional argument.
	dir := t.TempDir()
	path := filepath.Join(dir, "cutover.yaml")
	os.WriteFile(path, []byte("name: t\nsteps:\n  - {id: hold-batch, title: Hold batch jobs, kind: manual}\n  - {id: aos-stop, title: Stop AOS, kind: manual}\n"), 0o644)
	pub, _, err := ed25519.GenerateKey(cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "k.pub")
	os.WriteFile(key, gossh.MarshalAuthorizedKey(sshPub), 0o644)
	if code, out, errs := cli(t, "team", "add", key, "--name", "Ana", "--role", "viewer", "-f", path); code != 0 || !strings.Contains(out, "added Ana as viewer") {
		t.Fatalf("team add with flags after the key: %d %s %s", code, out, errs)
	}
	if code, _, errs := cli(t, "team", "add", key, "--name", "Ben", "-f", path); code != 2 || !strings.Contains(errs, "role") {
		t.Fatalf("team add without --role: %d %s", code, errs)
	}
	// Completion of step ids from the runbook.
	if code, out, _ := cli(t, "__complete", "step", "done", "-f", path, "ho"); code != 0 || !strings.Contains(out, "hold-batch\tHold batch jobs") || strings.Contains(out, "aos-stop") {
		t.Fatalf("step id completion: %d %q", code, out)
	}
	// Every command's help: exit 0, and its flags with two dashes.
	var walk func(path []string, c *cobra.Command)
	walk = func(path []string, c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			p := append(append([]string(nil), path...), sub.Name())
			code, out, errs := cli(t, append(p, "--help")...)
			if code != 0 || errs != "" || !strings.Contains(out, "--help") {
				t.Errorf("%s --help: exit %d, stderr %q", strings.Join(p, " "), code, errs)
			}
			if sub.HasAvailableLocalFlags() && !strings.Contains(out, "--"+firstFlag(sub)) {
				t.Errorf("%s --help does not show --%s:\n%s", strings.Join(p, " "), firstFlag(sub), out)
			}
			walk(p, sub)
		}
	}
	walk(nil, newRoot(&streams{in: strings.NewReader(""), out: io.Discard, err: io.Discard}))
	// Exclusive flags are declared: cobra refuses the pair, exit 2.
	if code, _, errs := cli(t, "status", "--json", "--oneline", "-f", path); code != 2 || !strings.Contains(errs, "json") {
		t.Fatalf("status --json --oneline: %d %s", code, errs)
	}
	if code, _, _ := cli(t, "step", "done"); code != 2 {
		t.Fatalf("step done without an id: %d", code)
	}
}

// firstFlag names a command's first local flag.
func firstFlag(c *cobra.Command) string {
	name := ""
	c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if name == "" && !f.Hidden {
			name = f.Name
		}
	})
	return name
}

func writeRunbook(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestYesIsRefusedOutsideRehearsal(t *testing.T) {
	path := writeRunbook(t, "name: real\nsteps:\n  - {id: g, title: G, kind: gate}\n")
	code, _, errs := cli(t, "run", "--headless", "--yes", "-f", path)
	if code != 1 || !strings.Contains(errs, "only allowed for a rehearsal runbook") {
		t.Fatalf("%d %s", code, errs)
	}
}

func TestRunTamperAndVerify(t *testing.T) {
	path := writeRunbook(t, `name: small
rehearsal: true
steps:
  - {id: a, title: A, kind: wait, with: {duration: 1ms}}
  - {id: b, title: B, kind: gate, after: a}
  - {id: c, title: C, kind: manual, after: b}
`)
	code, out, errs := cli(t, "run", "--headless", "--yes", "-f", path)
	if code != 0 || !strings.Contains(out, "run completed") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
	state := filepath.Join(filepath.Dir(path), ".cutover")
	if code, out, _ := cli(t, "journal", "verify", "--state", state); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("verify: %d %s", code, out)
	}
	jpath := filepath.Join(state, journal.FileName)
	data, _ := os.ReadFile(jpath)
	lines := bytes.SplitAfter(data, []byte("\n"))
	mid := len(lines) / 2
	off := len(bytes.Join(lines[:mid], nil)) + 20
	data[off] ^= 0x20
	os.WriteFile(jpath, data, 0o600)
	code, out, _ = cli(t, "journal", "verify", "--state", state)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("FAILED at line %d", mid+1)) {
		t.Fatalf("tampered verify: %d %s", code, out)
	}
	code, _, errs = cli(t, "run", "--headless", "--yes", "-f", path)
	if code != 1 || !strings.Contains(errs, fmt.Sprintf("journal.jsonl:%d:", mid+1)) || !strings.Contains(errs, "will not resume") {
		t.Fatalf("resume from a tampered journal: %d %s", code, errs)
	}
}

// TestJournalVerifyChecksTheTail: a journal whose last lines were cut, or that gained a line chained
// correctly to the last one, verifies line by line; its anchor catches both, and the engine will
// not resume from either.
func TestJournalVerifyChecksTheTail(t *testing.T) {
	path := writeRunbook(t, `name: small
rehearsal: true
steps:
  - {id: a, title: A, kind: wait, with: {duration: 1ms}}
  - {id: b, title: B, kind: gate, after: a}
`)
	if code, out, errs := cli(t, "run", "--headless", "--yes", "-f", path); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
	state := filepath.Join(filepath.Dir(path), ".cutover")
	jpath := filepath.Join(state, journal.FileName)
	good, _ := os.ReadFile(jpath)
	if code, out, _ := cli(t, "journal", "verify", "--state", state); code != 0 || !strings.Contains(out, "ends at its anchor") {
		t.Fatalf("verify: %d %s", code, out)
	}

	lines := bytes.SplitAfter(good, []byte("\n"))
	os.WriteFile(jpath, bytes.Join(lines[:len(lines)-3], nil), 0o600) // the last two lines cut
	code, out, _ := cli(t, "journal", "verify", "--state", state)
	if code != 1 || !strings.Contains(out, "FAILED: truncated") {
		t.Fatalf("cut journal: %d %s", code, out)
	}
	if code, _, errs := cli(t, "run", "--headless", "--yes", "-f", path); code != 1 || !strings.Contains(errs, "truncated") {
		t.Fatalf("resume from a cut journal: %d %s", code, errs)
	}

	// One more line, chained to the last as the engine would have written it.
	c, err := journal.Read(jpath)
	if err == nil {
		os.WriteFile(jpath, good, 0o600)
		c, err = journal.Read(jpath)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(struct {
		Seq  uint64    `json:"seq"`
		Time time.Time `json:"time"`
		Type string    `json:"type"`
		Step string    `json:"step"`
		Prev string    `json:"prev"`
	}{c.Seq + 1, time.Now().UTC(), "step.skipped", "b", c.Head})
	sum := sha256.Sum256(body)
	line := fmt.Sprintf(`%s,"hash":"%s"}`+"\n", body[:len(body)-1], hex.EncodeToString(sum[:]))
	os.WriteFile(jpath, append(good, line...), 0o600)
	if _, err := journal.Read(jpath); err != nil {
		t.Fatalf("the added line does not chain (the test is wrong): %v", err)
	}
	code, out, _ = cli(t, "journal", "verify", "--state", state)
	if code != 1 || !strings.Contains(out, "FAILED: extended") {
		t.Fatalf("extended journal: %d %s", code, out)
	}
}

// TestStepCommandObeysTheGuard: `cutover step` lets no guarded step (destructive, a gate,
// confirm:/approvals:) be skipped or marked done without its phrase, marks nothing done before
// its dependencies, and gives no approval that needs two people: each refusal exits non-zero and
// journals nothing that counts (a refused attempt at the phrase is kept as evidence).
func TestStepCommandObeysTheGuard(t *testing.T) {
	path := writeRunbook(t, `name: t
steps:
  - {id: hold-batch, title: Hold batch jobs, kind: manual}
  - {id: downtime-go, title: Downtime go/no-go, kind: gate, after: hold-batch}
  - {id: aos-stop, title: Shut down the AOS, kind: manual, destructive: true, confirm: STOP AOS, after: downtime-go}
  - {id: production-refresh, title: Refresh production, kind: manual, destructive: true, approvals: 2, after: aos-stop}
`)
	records := func() []journal.Record {
		t.Helper()
		recs, _, err := journal.ReadAll(filepath.Join(filepath.Dir(path), ".cutover", journal.FileName))
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	counts := map[engine.RecordType]bool{engine.RecSkipped: true, engine.RecDoneByHand: true, engine.RecSucceeded: true,
		engine.RecOverrideRequested: true, engine.RecOverrideApproved: true}
	counted := func() []string {
		var out []string
		for _, r := range records() {
			if counts[engine.RecordType(r.Type)] {
				out = append(out, r.Type+" "+r.Step)
			}
		}
		return out
	}
	refused := func(wantCode int, want string, args ...string) {
		t.Helper()
		code, out, errs := cli(t, append(append([]string{"step"}, args...), "-f", path)...)
		if code != wantCode || !strings.Contains(errs, want) || strings.Contains(out, "journaled as") {
			t.Fatalf("step %v: exit %d, %q, %q; want exit %d and %q", args, code, out, errs, wantCode, want)
		}
	}
	// On a fresh run the AOS shutdown cannot be marked done, whatever is typed.
	refused(exitFail, "it waits for downtime-go (pending)", "done", "aos-stop")
	refused(exitFail, "it waits for downtime-go (pending)", "done", "aos-stop", "--reason", "x")
	refused(exitFail, "it waits for downtime-go (pending)", "done", "aos-stop", "--reason", "x", "--phrase", "DONE aos-stop")
	// Skipping it needs its skip phrase, not a free-text reason nor its confirmation phrase.
	refused(exitFail, `type "SKIP aos-stop"`, "skip", "aos-stop", "--reason", "x")
	refused(exitFail, "does not match", "skip", "aos-stop", "--reason", "x", "--phrase", "STOP AOS")
	// A step that needs two operators is refused outright, whatever is typed.
	before := len(records())
	refused(exitFail, "needs 2 operators", "skip", "production-refresh", "--reason", "x", "--phrase", "SKIP production-refresh")
	if n := len(records()); n != before {
		t.Fatalf("a refused two-operator skip journaled %d records", n-before)
	}
	refused(exitUsage, "takes no --phrase", "retry", "aos-stop", "--phrase", "STOP AOS")
	if got := counted(); len(got) != 0 {
		t.Fatalf("refused commands journaled what counts: %q", got)
	}
	if n := 0; true {
		for _, r := range records() {
			if r.Type == string(engine.RecOverrideRefused) && r.Step == "aos-stop" {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d refused attempts at the phrase kept as evidence, want 2", n)
		}
	}
	// With its phrase, one operator skips the one-operator gate; the step before it is done by hand.
	if code, out, errs := cli(t, "step", "done", "hold-batch", "-f", path, "--reason", "47 jobs withheld"); code != 0 || !strings.Contains(out, "hold-batch: succeeded") {
		t.Fatalf("done: %d %s %s", code, out, errs)
	}
	if code, out, errs := cli(t, "step", "skip", "downtime-go", "-f", path, "--reason", "decided at 17:00", "--phrase", "SKIP downtime-go"); code != 0 || !strings.Contains(out, "downtime-go: skipped") {
		t.Fatalf("skip with the phrase: %d %s %s", code, out, errs)
	}
	want := []string{"step.done-by-hand hold-batch", "step.override-requested downtime-go", "step.override-approved downtime-go", "step.skipped downtime-go"}
	if got := counted(); !slices.Equal(got, want) {
		t.Fatalf("journaled %q, want %q", got, want)
	}
}

// TestSecondEngineIsRefused: a cockpit holds the state directory; a second one is refused and
// told who holds it.
func TestSecondEngineIsRefused(t *testing.T) {
	path := writeRunbook(t, "name: t\nsteps:\n  - {id: hold, title: Hold batch jobs, kind: manual}\n")
	first := child(t, "run", "--headless", "-f", path)
	stdout, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { first.Process.Kill(); first.Wait() }()
	waitForLine(t, stdout, "waiting for an operator")
	code, _, errs := cli(t, "run", "--headless", "-f", path)
	host, _ := os.Hostname()
	if code != 1 || !strings.Contains(errs, "pid "+strconv.Itoa(first.Process.Pid)) || !strings.Contains(errs, host) {
		t.Fatalf("second engine: %d %s", code, errs)
	}
	// Offline step actions are refused too while the cockpit runs.
	if code, _, errs := cli(t, "step", "done", "hold", "-f", path); code != 1 || !strings.Contains(errs, "in use by") {
		t.Fatalf("step while a cockpit runs: %d %s", code, errs)
	}
	first.Process.Kill()
	first.Wait()
	// Now the manual step can be recorded done offline, and a run completes.
	if code, out, errs := cli(t, "step", "done", "hold", "-f", path, "--as", "Ana"); code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("offline done: %d %s %s", code, out, errs)
	}
	if code, out, _ := cli(t, "run", "--headless", "-f", path); code != 0 || !strings.Contains(out, "run completed") {
		t.Fatalf("final run: %d %s", code, out)
	}
}

// lineStream is a process's output, line by line.
type lineStream struct {
	lines chan string
	seen  []string
}

func streamLines(r io.Reader) *lineStream {
	ls := &lineStream{lines: make(chan string, 4096)}
	go func() {
		defer close(ls.lines)
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				ls.lines <- l
			}
			if err != nil {
				return
			}
		}
	}()
	return ls
}

// expect reads lines until one contains substr.
func (ls *lineStream) expect(t *testing.T, substr string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-ls.lines:
			if !ok {
				t.Fatalf("output ended without %q:\n%s", substr, strings.Join(ls.seen, ""))
			}
			ls.seen = append(ls.seen, l)
			if strings.Contains(l, substr) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q in:\n%s", substr, strings.Join(ls.seen, ""))
		}
	}
}

// drain discards the rest of the output (so the process never blocks writing).
func (ls *lineStream) drain() {
	go func() {
		for range ls.lines {
		}
	}()
}

// waitForLine waits for a line containing substr, then discards the rest.
func waitForLine(t *testing.T, r io.Reader, substr string) {
	t.Helper()
	ls := streamLines(r)
	ls.expect(t, substr)
	ls.drain()
}

// demoJournal is what a finished demo's journal says, step by step.
type demoJournal struct {
	started, failed, retried, succeeded map[string]int
	retriedBy                           map[string]string
	message, lastError                  map[string]string
	// outages counts sources going to failing, recoveries their return with the outage's length.
	outages, recoveries int
	// outageErrors are the errors the failing sources reported.
	outageErrors []string
}

func readDemoJournal(t *testing.T, dir string) demoJournal {
	t.Helper()
	path := filepath.Join(dir, "state", journal.FileName)
	if rep, err := journal.Verify(path); err != nil || !rep.OK() {
		t.Fatalf("demo journal: %+v %v", rep, err)
	}
	recs, _, err := journal.ReadAll(path)
	if err != nil {
		t.Fatal(err)
	}
	j := demoJournal{started: map[string]int{}, failed: map[string]int{}, retried: map[string]int{}, succeeded: map[string]int{},
		retriedBy: map[string]string{}, message: map[string]string{}, lastError: map[string]string{}}
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
			switch {
			case p.State == engine.HealthFailing && p.ExpectedBy == "":
				j.outages++
				j.outageErrors = append(j.outageErrors, p.Error)
			case p.State == engine.HealthOK && p.Outage > 0:
				j.recoveries++
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
			// Each outage ends with the source back and the outage's length journaled (the last
			// may still be open when the run ends).
			if j.recoveries < j.outages-1 {
				t.Errorf("%d outages but %d recoveries journaled", j.outages, j.recoveries)
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
	sv, err := demo.LoadSaved(dir)
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
		trials = 3
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

// simClock is a settable clock for the LCS simulator.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestKilledWhileAnLCSRefreshIsPolled: cutover is killed with SIGKILL while it polls a sandbox
// refresh it started; the restart polls the same operation and the simulator saw one refresh.
func TestKilledWhileAnLCSRefreshIsPolled(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	clk := &simClock{now: time.Now()}
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

// TestSimServesAndStops: `cutover sim` prints connection strings that work with a standard SQL
// Server client, and stops cleanly on SIGINT and on SIGTERM.
func TestSimServesAndStops(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := child(t, "sim", "--source-addr", "127.0.0.1:0", "--target-addr", "127.0.0.1:0", "--lcs-addr", "127.0.0.1:0",
			"--tables", "300", "--dir", t.TempDir())
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ls := streamLines(out)
		ls.expect(t, "Serving until Ctrl-C")
		var dsn, targetDSN, lcsURL string
		for _, l := range ls.seen {
			f := strings.Fields(l)
			if len(f) == 2 && f[0] == "MicrosoftDynamicsAX" {
				dsn = f[1]
			}
			if len(f) == 2 && f[0] == "AxDB" {
				targetDSN = f[1]
			}
			if strings.HasPrefix(l, "Simulated LCS at ") {
				lcsURL = strings.Fields(l)[3]
			}
		}
		db, err := stdsql.Open("sqlserver", dsn)
		if err != nil {
			t.Fatal(err)
		}
		var version string
		if err := db.QueryRow("SELECT @@VERSION").Scan(&version); err != nil || !strings.Contains(version, "Microsoft SQL Server") {
			t.Fatalf("the printed DSN %q does not work: %v %q", dsn, err, version)
		}
		var n int64
		if err := db.QueryRow("SELECT COUNT_BIG(*) FROM dbo.CUSTTABLE").Scan(&n); err != nil || n <= 0 {
			t.Fatalf("ad hoc count: %d %v", n, err)
		}
		var names []string
		rows, err := db.Query("SELECT name FROM sys.databases")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			rows.Scan(&name)
			names = append(names, name)
		}
		rows.Close()
		if !slices.Contains(names, "MicrosoftDynamicsAX") || !slices.Contains(names, "distribution") {
			t.Fatalf("sys.databases: %v", names)
		}
		db.Close()
		// The printed sandbox DSN works too.
		tdb, err := stdsql.Open("sqlserver", targetDSN)
		if err != nil {
			t.Fatal(err)
		}
		if err := tdb.QueryRow("SELECT COUNT_BIG(*) FROM dbo.CUSTTABLE").Scan(&n); err != nil || n <= 0 {
			t.Fatalf("the printed sandbox DSN %q: %d %v", targetDSN, n, err)
		}
		tdb.Close()
		if !strings.HasPrefix(lcsURL, "https://127.0.0.1:") {
			t.Fatalf("LCS address %q", lcsURL)
		}
		cmd.Process.Signal(sig)
		ls.expect(t, "stopped")
		ls.drain()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after %v: %v", sig, err)
		}
	}
}

// quietSimulators starts simulators whose AX writes have stopped and whose backlog is empty.
func quietSimulators(t testing.TB, cfg sqlsim.Config) (*demo.Simulators, *simClock) {
	t.Helper()
	clk := &simClock{now: time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)}
	cfg.InitialBacklog = -1
	sims, err := demo.StartSimulators(cfg, clk, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.Close)
	for _, a := range sims.World.AOS() {
		sims.World.StopAOS(a.Host, a.Service)
	}
	clk.Advance(2 * time.Hour)
	return sims, clk
}

func simRunbook(t testing.TB, sims *demo.Simulators, steps string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	src := "name: against the simulators\nrehearsal: true\n" + sims.SQL.RunbookSnippet() + sims.LCSSnippet() + "steps:\n" + steps
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateCommandAgainstTheSimulator(t *testing.T) {
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	sims, clk := quietSimulators(t, sqlsim.Config{Tables: 1000, Scenarios: sqlsim.ScenarioCountMismatch | sqlsim.ScenarioLockedTable})
	// The toolkit's cutover step delivers the tables without a primary key.
	if err := sims.World.CreateNoPKPublication(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(6 * time.Hour)
	ignore := filepath.Join(t.TempDir(), "IgnoreTables.xml")
	var xml strings.Builder
	xml.WriteString("<IgnoreTables><Name>")
	for _, ti := range sims.World.Tables() {
		if ti.Ignored {
			xml.WriteString("<Table>" + ti.Name + "</Table>")
		}
	}
	xml.WriteString("</Name></IgnoreTables>")
	os.WriteFile(ignore, []byte(xml.String()), 0o600)
	path := simRunbook(t, sims, `  - id: validate
    title: Validate record counts
    kind: validate.counts
    with:
      ignore_file: `+ignore+`
      expect: [{table: SALESPARMLINE, difference: any, reason: locked table published at cutover}]
`)
	code, out, errs := cli(t, "validate", "-f", path)
	if code != 1 || !strings.Contains(out, "CUSTINVOICETRANS") || !strings.Contains(out, "mismatch") || !strings.Contains(out, "Δ        137") ||
		!strings.Contains(out, "SALESPARMLINE") || !strings.Contains(out, "locked table published at cutover") || !strings.Contains(out, "FAILED: 1 table(s)") {
		t.Fatalf("validate: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = cli(t, "validate", "-f", path, "--json")
	var v engine.Validation
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 || len(v.Tables) < 900 || v.Passed {
		t.Fatalf("--json: %d %v", code, err)
	}
	if err := sims.World.Redeliver("CUSTINVOICETRANS"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	code, out, errs = cli(t, "validate", "-f", path, "--csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != len(v.Tables)+1 {
		t.Fatalf("--csv after re-delivery: %d %v (%d rows)\n%s", code, err, len(recs), errs)
	}
}

// BenchmarkValidate10k is a full validation of 10,000 tables against the simulator through the
// driver: counts on both sides, classification, and the exact recount of the one mismatch.
func BenchmarkValidate10k(b *testing.B) {
	sims, _ := quietSimulators(b, sqlsim.Config{Tables: 10000, Scenarios: sqlsim.ScenarioCountMismatch})
	sp := &adapter.SQL{}
	for _, e := range []struct {
		ep sqlsim.Endpoint
		db **sql.DB
	}{{sqlsim.EndpointSource, &sp.Src}, {sqlsim.EndpointTarget, &sp.Tgt}} {
		db, err := sql.Open(sql.Config{Server: "127.0.0.1", Port: sims.SQL.Port(e.ep), Database: sims.SQL.Database(e.ep),
			User: sqlsim.User, Password: sqlsim.Password, Encrypt: sql.EncryptDisable})
		if err != nil {
			b.Fatal(err)
		}
		*e.db = db
	}
	defer sp.Close()
	ctx := b.Context()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := engine.Validate(ctx, sp, engine.ValidationRules{Recount: true, Concurrency: 4}, nil, time.Now(), nil)
		if err != nil || len(v.Tables) < 9900 || v.Classes[engine.ClassMismatch] != 1 {
			b.Fatal(err, len(v.Tables), v.Summary())
		}
	}
}

// simRun is an engine over the simulators, sharing one fake clock with the simulated world.
type simRun struct {
	t      *testing.T
	clk    *clock.Fake
	sims   *demo.Simulators
	e      *engine.Engine
	events <-chan engine.Event
	path   string
	state  string
	// services, when set, wraps the simulated AOS service controller.
	services func(engine.ServiceController) engine.ServiceController
}

// simRunOption changes a simRun before its engine starts.
type simRunOption func(r *simRun, runbookText *string)

// withQueryTimeout gives the target connection a short query timeout.
func withQueryTimeout(d time.Duration) simRunOption {
	return func(_ *simRun, src *string) {
		i := strings.Index(*src, "  target:\n")
		j := strings.Index((*src)[i:], "    encrypt:")
		*src = (*src)[:i+j] + "    query_timeout: " + runbook.FormatDuration(d) + "\n" + (*src)[i+j:]
	}
}

// withServices wraps the simulated AOS service controller.
func withServices(wrap func(engine.ServiceController) engine.ServiceController) simRunOption {
	return func(r *simRun, _ *string) { r.services = wrap }
}

func newSimRun(t *testing.T, cfg sqlsim.Config, steps string, opts ...simRunOption) *simRun {
	t.Helper()
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	clk := clock.NewFake(time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC))
	sims, err := demo.StartSimulators(cfg, clk, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.Close)
	aos := "aos:\n  control: command\n  stop: [sc.exe, '\\\\{host}', stop, '{service}']\n  query: [sc.exe, '\\\\{host}', query, '{service}']\n  stopped_pattern: STOPPED\n  stop_timeout: 30m\n  instances:\n"
	for _, a := range sims.World.AOS() {
		aos += fmt.Sprintf("    - {host: %s, service: %s}\n", a.Host, a.Service)
	}
	path := filepath.Join(t.TempDir(), "cutover.yaml")
	src := "name: against the simulators\nrehearsal: true\n" + sims.SQL.RunbookSnippet() + sims.LCSSnippet() + aos + "steps:\n" + steps
	r := &simRun{t: t, clk: clk, sims: sims, path: path, state: filepath.Join(filepath.Dir(path), ".cutover")}
	for _, o := range opts {
		o(r, &src)
	}
	os.WriteFile(path, []byte(src), 0o600)
	r.start()
	return r
}

func (r *simRun) start() {
	r.t.Helper()
	rb, ok := loadRunbook(r.path, os.Stderr)
	if !ok {
		r.t.Fatal("runbook")
	}
	ports := engine.Ports{Services: demo.Services{World: r.sims.World}}
	if r.services != nil {
		ports.Services = r.services(ports.Services)
	}
	c, err := adapter.LCSClient(rb, r.state, r.sims.LCS.HTTPClient(), adapter.LCSClock{C: r.clk}, io.Discard)
	if err != nil {
		r.t.Fatal(err)
	}
	ports.LCS = adapter.LCSPort{C: c}
	closePorts, err := adapter.BuildPorts(rb, r.state, &ports, io.Discard, io.Discard)
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := engine.New(rb, engine.Options{StateDir: r.state, Clock: r.clk, Kinds: registry(), Ports: ports,
		Monitor: engine.MonitorConfig{Interval: 15 * time.Second, BacklogInterval: time.Minute}})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := e.Open(); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, r.events = e.Subscribe(ctx)
	if err := e.Start(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.e = e
	r.t.Cleanup(func() { r.stop(); cancel(); closePorts() })
}

func (r *simRun) stop() {
	if r.e != nil {
		r.e.Stop("test")
		r.e = nil
	}
}

// until moves the clock a step at a time whenever something waits on it, until ok holds.
func (r *simRun) until(step time.Duration, what string, ok func() bool) {
	r.t.Helper()
	r.untilWaiting(step, 1, what, ok)
}

// untilWaiting is until, moving the clock only once that many timers wait on it: with the
// replication monitor's timer and a step's both waiting, the clock never moves while a poll is
// out, so the figures a step judges are never older than the poll interval.
func (r *simRun) untilWaiting(step time.Duration, timers int, what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("never: %s (steps: %s)", what, r.states())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if r.clk.WaitForTimers(ctx, timers) == nil {
			r.clk.Advance(step)
		}
		cancel()
		for drained := false; !drained; {
			select {
			case <-r.events:
			default:
				drained = true
			}
		}
	}
}

// retry asks for another attempt of a step (as Ana) and waits until that attempt, number
// attempt, has ended.
func (r *simRun) retry(id string, attempt int) {
	r.t.Helper()
	if err := r.e.Retry(id, engine.Actor{Name: "Ana", Role: engine.RoleOperator}); err != nil {
		r.t.Fatal(err)
	}
	r.until(time.Second, fmt.Sprintf("attempt %d of %s ends", attempt, id), func() bool {
		st := r.step(id)
		return st.Attempt == attempt && st.State.Terminal()
	})
}

func (r *simRun) states() string {
	var parts []string
	for _, st := range r.e.Snapshot().Steps {
		parts = append(parts, st.ID+"="+st.State.String()+" "+st.LastError)
	}
	return strings.Join(parts, "; ")
}

func (r *simRun) step(id string) engine.StepView {
	st, _ := r.e.Snapshot().Step(id)
	return st
}

// TestEveryArticleHasItsPublication: a published table whose commands have all been delivered and
// cleaned up has no row in MSdistribution_status; the monitor still shows its publication and zero
// pending, never "not published".
func TestEveryArticleHasItsPublication(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 400}, "  - {id: idle, title: Idle, kind: manual}\n")
	r.until(15*time.Second, "a backlog read", func() bool {
		v := r.e.Replication()
		return v != nil && !v.PendingAt.IsZero()
	})
	v := r.e.Replication()
	published, quiet := 0, 0
	for _, ti := range r.sims.World.Tables() {
		if ti.Publication == "" {
			continue
		}
		published++
		lag, ok := v.Table(ti.Name)
		if !ok || !lag.Published || lag.Publication != ti.Publication {
			t.Fatalf("%s is an article of %s; the monitor shows %+v", ti.Name, ti.Publication, lag)
		}
		if lag.Pending == 0 {
			quiet++
		}
	}
	if published == 0 || quiet == 0 {
		t.Fatalf("%d published tables, %d with nothing pending: the test proves nothing", published, quiet)
	}
	// The functions of AX_PUB_OtherObjects are articles too, but no table.
	for _, lag := range v.Tables {
		if strings.HasPrefix(strings.ToLower(lag.Table), "fn_") {
			t.Fatalf("a function is shown as a table: %+v", lag)
		}
	}
}

// TestDrainETAConvergesOnTheSimulator: with the AOS stopped, the monitor's ETA to drain the
// backlog is within 20 % of the time the simulator takes.
func TestDrainETAConvergesOnTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 800, DrainRate: 300}, "  - {id: idle, title: Idle, kind: manual}\n")
	for _, a := range r.sims.World.AOS() {
		r.sims.World.StopAOS(a.Host, a.Service)
	}
	start := r.clk.Now()
	var eta time.Duration
	var at time.Time
	// The batch AOS keeps writing until its running batch tasks end (up to ten minutes); from then on
	// the backlog only drains.
	r.until(15*time.Second, "an ETA after fifteen minutes", func() bool {
		v := r.e.Replication()
		if v == nil || r.clk.Now().Sub(start) < 15*time.Minute || v.ETA == 0 {
			return false
		}
		eta, at = v.ETA, v.PendingAt
		return true
	})
	r.until(15*time.Second, "the backlog drains", func() bool { return r.sims.World.TotalPending() == 0 })
	// The simulator drained between two clock steps; the time it took from the ETA's reading:
	actual := r.clk.Now().Sub(at)
	if diff := float64(eta-actual) / float64(actual); diff > 0.2 || diff < -0.2 {
		t.Fatalf("ETA %v at %v, drained %v later (%.0f%% off)", eta, at.Sub(start), actual, 100*diff)
	}
	t.Logf("ETA %v, actual %v", eta, actual)
}

// stoppingAOS reports one AOS service as still stopping (STOP_PENDING) while stuck is set,
// whatever the simulated host says: a service that hangs in its shutdown.
type stoppingAOS struct {
	engine.ServiceController
	host  string
	stuck *atomic.Bool
}

func (s stoppingAOS) State(ctx context.Context, host, service string) (engine.ServiceState, string, error) {
	if s.stuck.Load() && strings.EqualFold(host, s.host) {
		return engine.ServiceStopPending, "STOP_PENDING", nil
	}
	return s.ServiceController.State(ctx, host, service)
}

// drainBlockers is the set of conditions the drain step's latest "blocked:" log line names.
func drainBlockers(r *simRun, step string) []string {
	lines := r.e.Logs(200, step)
	for i := len(lines) - 1; i >= 0; i-- {
		msg, ok := strings.CutPrefix(lines[i].Msg, "blocked: ")
		if !ok {
			continue
		}
		msg, _, _ = strings.Cut(msg, " (backlog drains in")
		var names []string
		for _, part := range strings.Split(msg, "; ") {
			name, _, _ := strings.Cut(part, ": ")
			names = append(names, name)
		}
		sort.Strings(names)
		return names
	}
	return nil
}

// TestDrainGateAgainstTheSimulator: against the simulated AX database and distributor, the drain
// gate stays closed while any one thing is wrong — each broken alone, with every AOS stopped and
// everything else healthy — names what blocks it, and opens once that is mended. Conditions that
// depend on the broken one wait with it (tracer tokens are posted only once the AOS are down and
// no session is left; they arrive behind the backlog).
func TestDrainGateAgainstTheSimulator(t *testing.T) {
	const pub = "AX_PUB_PkTable_1"
	var stuck atomic.Bool
	tracerFault := tdssim.RuleID(0)
	cases := []struct {
		name          string
		blockers      []string
		breakIt, mend func(r *simRun)
	}{
		{"an AOS service hangs in its shutdown", []string{"AOS stopped", "tracer tokens"},
			func(*simRun) { stuck.Store(true) }, func(*simRun) { stuck.Store(false) }},
		{"client sessions left behind", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftoverActivity(2, 0) }, func(r *simRun) { r.sims.World.SetLeftoverActivity(0, 0) }},
		{"batch tasks left executing", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftoverActivity(0, 2) }, func(r *simRun) { r.sims.World.SetLeftoverActivity(0, 0) }},
		{"client sessions marked for kill, still ending", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{EndingClients: 2}) }, func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{}) }},
		{"batch tasks left cancelling", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{CancellingTasks: 2}) }, func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{}) }},
		{"an AOS row left draining", []string{"no AX sessions", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{DrainedRows: 1}) }, func(r *simRun) { r.sims.World.SetLeftover(sqlsim.Leftover{}) }},
		{"writes that do not go through an AOS", []string{"writes stopped"},
			func(r *simRun) { r.sims.World.SetDirectWriteRate(5) }, func(r *simRun) { r.sims.World.SetDirectWriteRate(0) }},
		{"tracer token history cannot be read", []string{"tracer tokens"},
			func(r *simRun) {
				tracerFault = r.sims.SQL.Source().Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, Proc: "sys.sp_helptracertokenhistory",
					Action: tdssim.FaultError, Err: tdssim.DeadlockError()})
			},
			func(r *simRun) { r.sims.SQL.Source().Faults().Remove(tracerFault) }},
		{"a distribution agent in error", []string{"agents healthy", "backlog empty", "tracer tokens"},
			func(r *simRun) {
				if err := r.sims.World.FailDistributionAgent(pub, ""); err != nil {
					t.Fatal(err)
				}
			},
			func(r *simRun) { r.sims.World.StartDistributionAgent(pub) }},
		{"a backlog that does not drain", []string{"backlog empty", "tracer tokens"},
			func(r *simRun) { r.sims.World.SetDrainRate(0) }, func(r *simRun) { r.sims.World.SetDrainRate(500) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stuck.Store(false)
			r := newSimRun(t, sqlsim.Config{Tables: 300, DrainRate: 500, InitialBacklog: 20000, MaxStopWait: time.Minute},
				"  - {id: drain, title: Replication drained, kind: replication.drain, with: {quiet_for: 2m, check_every: 15s}}\n",
				withServices(func(s engine.ServiceController) engine.ServiceController {
					return stoppingAOS{ServiceController: s, host: "AX-AOS01", stuck: &stuck}
				}))
			c.breakIt(r)
			for _, a := range r.sims.World.AOS() {
				r.sims.World.StopAOS(a.Host, a.Service)
			}
			start := r.clk.Now()
			// The gate's timer and the monitor's: the clock never moves while a poll is out.
			r.untilWaiting(15*time.Second, 2, "half an hour", func() bool { return r.clk.Now().Sub(start) >= 30*time.Minute })
			if st := r.step("drain"); st.State != engine.StateRunning {
				t.Fatalf("the gate opened (or failed) with %s: %s %q %q", c.name, st.State, st.Message, st.LastError)
			}
			want := append([]string(nil), c.blockers...)
			sort.Strings(want)
			if got := drainBlockers(r, "drain"); !reflect.DeepEqual(got, want) {
				t.Fatalf("with %s the gate names %q, want %q", c.name, got, want)
			}
			c.mend(r)
			r.untilWaiting(15*time.Second, 2, "the gate opens", func() bool { return r.step("drain").State.Terminal() })
			if st := r.step("drain"); st.State != engine.StateSucceeded || !strings.HasPrefix(st.Message, "drained: ") {
				t.Fatalf("after mending %s: %s %q %q", c.name, st.State, st.Message, st.LastError)
			}
		})
	}
}

// TestStaleMonitorCacheAgainstTheSimulator: when the SQL Server Agent job that refreshes
// Replication Monitor's cache stops, MSreplication_monitordata keeps its old rows: an agent that
// failed since does not show. cutover reads the cache's age with it, so replication.healthy stops
// trusting those states once they are older than max_age, names the refresher job, and only
// succeeds once fresh states show the agent running again.
func TestStaleMonitorCacheAgainstTheSimulator(t *testing.T) {
	const pub = "AX_PUB_PkTable_1"
	r := newSimRun(t, sqlsim.Config{Tables: 200, InitialBacklog: -1},
		"  - {id: healthy, title: Replication healthy, kind: replication.healthy, with: {stable_for: 10m, max_age: 5m, check_every: 15s}}\n")
	r.sims.World.SetMonitorRefresher(false)
	if err := r.sims.World.FailDistributionAgent(pub, ""); err != nil {
		t.Fatal(err)
	}
	start := r.clk.Now()
	// The monitor's timer and the step's: the clock moves only between polls.
	r.untilWaiting(15*time.Second, 2, "half an hour", func() bool { return r.clk.Now().Sub(start) >= 30*time.Minute })
	if st := r.step("healthy"); st.State != engine.StateRunning {
		t.Fatalf("a stale cache hiding a failed agent was read as healthy: %s %q", st.State, st.Message)
	}
	var said bool
	for _, l := range r.e.Logs(200, "healthy") {
		said = said || (strings.Contains(l.Msg, "agent states are") && strings.Contains(l.Msg, "Replication monitoring refresher for distribution"))
	}
	if !said {
		t.Fatalf("the step does not say the agent states are stale: %v", r.e.Logs(20, "healthy"))
	}
	if v := r.e.Replication(); r.clk.Now().Sub(v.AgentsAt) < 25*time.Minute {
		t.Fatalf("the picture's agent states are dated %v, with the cache refreshed at %v", v.AgentsAt, start)
	}
	r.sims.World.SetMonitorRefresher(true)
	r.untilWaiting(15*time.Second, 2, "the failed agent shows", func() bool {
		v := r.e.Replication()
		for _, a := range v.Agents {
			if a.Publication == pub && a.Kind == engine.AgentDistribution && a.Status == engine.AgentFailed {
				return true
			}
		}
		return false
	})
	if st := r.step("healthy"); st.State != engine.StateRunning {
		t.Fatalf("healthy with a failed agent: %s %q", st.State, st.Message)
	}
	if err := r.sims.World.StartDistributionAgent(pub); err != nil {
		t.Fatal(err)
	}
	r.untilWaiting(15*time.Second, 2, "healthy", func() bool { return r.step("healthy").State.Terminal() })
	if st := r.step("healthy"); st.State != engine.StateSucceeded {
		t.Fatalf("after the agent restarted: %s %q %q", st.State, st.Message, st.LastError)
	}
}

// TestNonPKStepSeesTheDeliveryAfterItWasReplaced: the toolkit's non-PK step succeeds on the
// snapshot's delivery even when, by the time it looks, the distribution agent's newest message no
// longer says "Delivered snapshot…" but "No replicated transactions are available" (the sequence
// migration-upgrade/monitor-replication.md describes): the delivery is found in the agent history
// since the step started.
func TestNonPKStepSeesTheDeliveryAfterItWasReplaced(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200},
		"  - {id: nopk, title: Non-PK publication, kind: toolkit, with: {step: \"Cutover: Setup Publication for Non PK Tables\", poll: 30m}}\n")
	r.until(time.Second, "the step runs", func() bool { return r.step("nopk").State == engine.StateRunning })
	if err := r.sims.World.CreateNoPKPublication(); err != nil {
		t.Fatal(err)
	}
	done := r.sims.World.SnapshotState().Done
	if done.Sub(r.clk.Now()) > 25*time.Minute {
		t.Fatalf("the snapshot takes until %v: the test needs it delivered before the step looks again", done)
	}
	sp, err := adapter.OpenSQL(r.e.Runbook(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	r.until(15*time.Second, "the step ends", func() bool { return r.step("nopk").State.Terminal() })
	st := r.step("nopk")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, "AX_PUB_NoPKTable: snapshot delivered") {
		t.Fatalf("nopk: %s %q %q", st.State, st.Message, st.LastError)
	}
	msgs, err := sp.Dist.AgentMessages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Publication == "AX_PUB_NoPKTable" && m.Type == sql.DistributionAgent && m.Comments != "No replicated transactions are available." {
			t.Fatalf("the newest message when the step looked was %q: the test must look after it was replaced", m.Comments)
		}
	}
	if st.Finished.Sub(done) < time.Minute {
		t.Fatalf("the step finished at %v, the delivery was at %v: it must have looked after the message was replaced", st.Finished, done)
	}
}

// TestUpgradeWatchAgainstTheSimulator: upgrade.watch follows the data upgrade on the simulated
// sandbox, whose tables are shaped as migration-upgrade/monitor-upgrade.md documents them and exist
// only once the upgrade creates them, with the sandbox's state from the simulated LCS. A failed
// PostSync fails the step with the step and the script error RELEASEUPDATESCRIPTSERRORLOG holds
// (the documented example row); resumed, the upgrade reaches completion and so does the step.
func TestUpgradeWatchAgainstTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200, Scenarios: sqlsim.ScenarioUpgradeFailure, UpgradeDuration: 2 * time.Hour},
		"  - {id: watch, title: Watch the data upgrade, kind: upgrade.watch, with: {poll: 1m}}\n")
	r.until(time.Minute, "ten minutes before the trigger", func() bool { return r.clk.Now().Sub(r.sims.World.StartedAt()) >= 10*time.Minute })
	if st := r.step("watch"); st.State != engine.StateRunning {
		t.Fatalf("before the trigger: %s %q", st.State, st.LastError)
	}
	if err := r.sims.World.TriggerUpgrade(); err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "the watch ends", func() bool { return r.step("watch").State.Terminal() })
	st := r.step("watch")
	for _, want := range []string{"the data upgrade failed (LCS: Failed) in PostSync / ",
		"ReleaseUpdateDB10_CaseManagement.updateCaseCategoryTypeMajor (DAT): Cannot edit a record in Case category Security by Role (CaseCategoryRole). Category type: None. The record already exists.",
		"offers Resume"} {
		if st.State != engine.StateFailed || !strings.Contains(st.LastError, want) {
			t.Fatalf("the failure: %s, want %q in %q", st.State, want, st.LastError)
		}
	}
	for _, l := range r.e.Logs(200, "watch") {
		if l.Level >= engine.LevelWarn && !strings.HasPrefix(l.Msg, "failed (attempt 1)") {
			t.Errorf("a warning while the tables were read: %s", l.Msg)
		}
	}
	if err := r.sims.World.ResumeUpgrade(); err != nil {
		t.Fatal(err)
	}
	if err := r.e.Retry("watch", engine.Actor{Name: "Ana", Role: engine.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	r.until(time.Minute, "the second watch ends", func() bool {
		st := r.step("watch")
		return st.Attempt == 2 && st.State.Terminal()
	})
	st = r.step("watch")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, "data upgrade completed in ") || !strings.Contains(st.Message, "(LCS: Deployed)") {
		t.Fatalf("after the resume: %s %q %q", st.State, st.Message, st.LastError)
	}
	if !r.sims.World.UpgradeState().Done {
		t.Fatal("the step succeeded before the simulated upgrade was done")
	}
}

// TestAFailedDataUpgradeOffersResumeAndRollback: against the simulators, a data upgrade that fails
// (LCS Failed) makes the conditional «Rollback data upgrade: Trigger rollback» step ask its two
// operators (data-upgrade-self-service.md step 11, from Failed to Replicated); the documented
// Resume instead — the toolkit's step 10 again, then a retry of the watch — withdraws that request,
// and once the upgrade completes the rollback is not needed and the run completes. Choosing the
// rollback, it runs on the second operator's phrase and succeeds once LCS says Replicated.
func TestAFailedDataUpgradeOffersResumeAndRollback(t *testing.T) {
	steps := "  - {id: watch, title: Watch the data upgrade, kind: upgrade.watch, with: {poll: 1m}}\n" +
		"  - {id: rollback-upgrade, title: \"Toolkit: Rollback data upgrade: Trigger rollback\", kind: toolkit, destructive: true, approvals: 2, " +
		"confirm: ROLL BACK UPGRADE, when: {failed: watch}, with: {step: \"Rollback data upgrade: Trigger rollback\", poll: 1m}}\n"
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	ben := engine.Actor{Name: "Ben", Origin: "ssh", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	failed := func(t *testing.T) *simRun {
		r := newSimRun(t, sqlsim.Config{Tables: 200, Scenarios: sqlsim.ScenarioUpgradeFailure, UpgradeDuration: 2 * time.Hour}, steps)
		if err := r.sims.World.TriggerUpgrade(); err != nil {
			t.Fatal(err)
		}
		r.until(time.Minute, "the rollback asks", func() bool { return r.step("rollback-upgrade").State == engine.StateAwaiting })
		if w := r.step("watch"); w.State != engine.StateFailed || !strings.Contains(w.LastError, "offers Resume") {
			t.Fatalf("watch: %s %q", w.State, w.LastError)
		}
		if c := r.step("rollback-upgrade").Confirmation; c == nil || c.Needed != 2 || c.Phrase != "ROLL BACK UPGRADE" {
			t.Fatalf("the rollback's request: %+v", c)
		}
		return r
	}
	t.Run("resume", func(t *testing.T) {
		r := failed(t)
		if _, err := r.e.Confirm("rollback-upgrade", 0, ana, "ROLL BACK UPGRADE"); err != nil {
			t.Fatal(err)
		}
		if err := r.sims.World.ResumeUpgrade(); err != nil {
			t.Fatal(err)
		}
		if err := r.e.Retry("watch", ben); err != nil {
			t.Fatal(err)
		}
		if st := r.step("rollback-upgrade"); st.State != engine.StatePending {
			t.Fatalf("the rollback while the upgrade resumes: %s", st.State)
		}
		r.until(time.Minute, "the run completes", func() bool { return r.e.Snapshot().Run.Outcome == engine.OutcomeCompleted })
		if st := r.step("rollback-upgrade"); st.State != engine.StateNotNeeded || st.Message != "not needed: watch succeeded" {
			t.Fatalf("the rollback after the upgrade completed: %s %q", st.State, st.Message)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		r := failed(t)
		if _, err := r.e.Confirm("rollback-upgrade", 0, ana, "ROLL BACK UPGRADE"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.e.Confirm("rollback-upgrade", 0, ana, "ROLL BACK UPGRADE"); !errors.Is(err, engine.ErrAlreadyApproved) {
			t.Fatalf("the same operator twice: %v", err)
		}
		if _, err := r.e.Confirm("rollback-upgrade", 0, ben, "ROLL BACK UPGRADE"); err != nil {
			t.Fatal(err)
		}
		r.until(time.Minute, "the rollback runs", func() bool { return r.step("rollback-upgrade").State == engine.StateRunning })
		if err := r.e.Retry("watch", ana); !errors.Is(err, engine.ErrNotAllowed) {
			t.Fatalf("retrying the watch while the rollback runs: %v", err)
		}
		// The operator ran step 11 in the toolkit; LCS goes from Failed to Replicated.
		r.sims.LCS.SetSandboxStateSource(nil)
		r.sims.LCS.SetSandboxState(lcssim.StateReplicated)
		r.until(time.Minute, "the rollback ends", func() bool { return r.step("rollback-upgrade").State.Terminal() })
		if st := r.step("rollback-upgrade"); st.State != engine.StateSucceeded {
			t.Fatalf("the rollback: %s %q", st.State, st.LastError)
		}
		if o := r.e.Snapshot().Run.Outcome; o != engine.OutcomeBlocked {
			t.Fatalf("after the rollback the run is %s (the watch stays failed: what follows is the operators' call)", o)
		}
	})
}

// TestSmokeHTTPEntraOnTheSimulator: a smoke.http step with entra: true, wired by adapter.BuildPorts to
// the runbook's lcs section, sends a token the simulated Entra ID issued for the URL's host
// (asked silently for that scope after the LCS password sign-in); a 401 fails the step, naming the
// status.
func TestSmokeHTTPEntraOnTheSimulator(t *testing.T) {
	ready := make(chan struct{})
	var sim *lcssim.Server // set before ready is closed
	var (
		mu      sync.Mutex
		refused []string // why the server refused a request
	)
	var resource string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-ready:
		case <-req.Context().Done():
			return
		}
		why := ""
		tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		access, _ := sim.IssuedTokens()
		switch {
		case req.URL.Path == "/deny":
			why = "denied"
		case !ok || !slices.Contains(access, tok):
			why = "not a token the simulator issued"
		case !strings.Contains(sim.Stats().LastScope, resource+"/.default"):
			why = "issued for " + sim.Stats().LastScope
		}
		if why != "" {
			mu.Lock()
			refused = append(refused, req.URL.Path+": "+why)
			mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "<title>Finance and Operations</title>")
	}))
	defer srv.Close()
	resource = srv.URL
	r := newSimRun(t, sqlsim.Config{Tables: 200}, `  - {id: web, title: F&O answers, kind: smoke.http, with: {url: "`+srv.URL+`/data/Companies", entra: true, expect_body: Finance and Operations}}
  - {id: deny, title: Refused, kind: smoke.http, after: [web], with: {url: "`+srv.URL+`/deny", entra: true}}
`)
	sim = r.sims.LCS
	close(ready)
	r.until(time.Second, "both steps finished", func() bool { return r.step("deny").State.Terminal() || r.step("web").State == engine.StateFailed })
	mu.Lock()
	defer mu.Unlock()
	if st := r.step("web"); st.State != engine.StateSucceeded || !strings.HasPrefix(st.Message, "HTTP 200") {
		t.Fatalf("web: %s %q %q (server refused: %q)", st.State, st.Message, st.LastError, refused)
	}
	if st := r.step("deny"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "/deny: HTTP 401 (expected 200)") {
		t.Fatalf("deny: %s %q", st.State, st.LastError)
	}
	if len(refused) != 1 || refused[0] != "/deny: denied" {
		t.Fatalf("server refused %q", refused)
	}
	if s := sim.Stats(); s.TokensIssued["password"] != 1 || s.TokensIssued["refresh_token"] != 1 {
		t.Fatalf("grants %v: want one password sign-in and one silent token for the other resource, reused", s.TokensIssued)
	}
}

// TestAOSStopOnTheSimulator: the confirmation lists the users still connected, every AOS stops,
// SYSSERVERSESSIONS clears, and running it again after a crash does not fail on stopped hosts.
func TestAOSStopOnTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300}, "  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, destructive: true, confirm: STOP AOS}\n")
	r.until(time.Second, "the confirmation request", func() bool { return r.step("aos-stop").State == engine.StateAwaiting })
	st := r.step("aos-stop")
	act := r.sims.World.Activity()
	if act.ClientSessions == 0 {
		t.Fatal("the simulator has no users connected")
	}
	for _, want := range []string{fmt.Sprintf("users still connected: %d", act.ClientSessions), " on ", "AOS60$01 on AX-AOS01: running"} {
		if !strings.Contains(st.Confirmation.Action, want) {
			t.Fatalf("confirmation lacks %q:\n%s", want, st.Confirmation.Action)
		}
	}
	ana := engine.Actor{Name: "Ana", Origin: "test", Role: engine.RoleOperator}
	if _, err := r.e.Confirm("aos-stop", st.Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	// Crash while stopping: the restart runs it again; the stopped hosts are counted as done.
	r.until(5*time.Second, "one AOS stopped", func() bool {
		s, _ := r.sims.World.AOSState("AX-AOS01", "AOS60$01")
		return s == sqlsim.ServiceStopped && r.step("aos-stop").State == engine.StateRunning
	})
	r.stop()
	r.start()
	r.until(5*time.Second, "every AOS stopped", func() bool { return r.step("aos-stop").State.Terminal() })
	st = r.step("aos-stop")
	if st.State != engine.StateSucceeded || !strings.Contains(st.Message, "3 AOS stopped; AX shows no active server session") {
		t.Fatalf("aos-stop: %s %q %q", st.State, st.Message, st.LastError)
	}
	sp, _ := adapter.OpenSQL(r.e.Runbook(), io.Discard)
	defer sp.Close()
	a, err := sp.Src.AXActivity(context.Background())
	if err != nil || a.ActiveServers() != 0 {
		t.Fatalf("SYSSERVERSESSIONS still shows %d running AOS (%v)", a.ActiveServers(), err)
	}
}

// TestAOSStopNamesTheHostThatRefusesOnTheSimulator: a simulated AOS host whose service will not
// stop fails the step, which names it; the other hosts are stopped all the same, and once the host
// obeys a retry finishes the job without failing on the hosts already stopped.
func TestAOSStopNamesTheHostThatRefusesOnTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300, MaxStopWait: time.Minute},
		"  - {id: aos-stop, title: Stop the AOS, kind: aos.stop, destructive: true, confirm: STOP AOS}\n")
	if err := r.sims.World.RefuseStop("AX-AOS02", true); err != nil {
		t.Fatal(err)
	}
	r.until(time.Second, "the confirmation request", func() bool { return r.step("aos-stop").State == engine.StateAwaiting })
	ana := engine.Actor{Name: "Ana", Origin: "test", Role: engine.RoleOperator}
	if _, err := r.e.Confirm("aos-stop", r.step("aos-stop").Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	r.until(5*time.Second, "aos-stop ends", func() bool { return r.step("aos-stop").State.Terminal() })
	st := r.step("aos-stop")
	if st.State != engine.StateFailed || !strings.Contains(st.LastError, "AX-AOS02") || strings.Contains(st.LastError, "AX-AOS01") {
		t.Fatalf("a host that refuses to stop must fail the step, named alone: %s %q", st.State, st.LastError)
	}
	for _, a := range r.sims.World.AOS() {
		if want := a.Host != "AX-AOS02"; (a.State == sqlsim.ServiceStopped) != want {
			t.Errorf("%s %s is %s", a.Host, a.Service, a.State)
		}
	}
	r.sims.World.RefuseStop("AX-AOS02", false)
	if err := r.e.Retry("aos-stop", ana); err != nil {
		t.Fatal(err)
	}
	// A destructive step asks again before another attempt.
	r.until(time.Second, "the confirmation of the retry", func() bool { return r.step("aos-stop").State == engine.StateAwaiting })
	if _, err := r.e.Confirm("aos-stop", r.step("aos-stop").Confirmation.Request, ana, "STOP AOS"); err != nil {
		t.Fatal(err)
	}
	r.until(5*time.Second, "the retry ends", func() bool {
		st := r.step("aos-stop")
		return st.Attempt == 2 && st.State.Terminal()
	})
	if st := r.step("aos-stop"); st.State != engine.StateSucceeded {
		t.Fatalf("the retry: %s %q", st.State, st.LastError)
	}
	for _, a := range r.sims.World.AOS() {
		if n := r.sims.World.Count(sqlsim.ActStopAOS, a.Host, a.Service); n != 1 {
			t.Errorf("%s was told to stop %d times", a.Host, n)
		}
	}
}

// TestProductionRefreshAgainstTheLCSSimulator: the guided production refresh waits for two
// distinct operators (the same one twice and a viewer are refused), does not complete while LCS
// shows nothing, and completes when the simulated environment history shows the refresh done.
func TestProductionRefreshAgainstTheLCSSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 200}, `  - {id: refresh, title: Refresh production, kind: lcs.refresh, destructive: true, confirm: REFRESH PRODUCTION, approvals: 2, with: {source: sandbox, target: production, poll: 1m}}
`)
	r.until(time.Second, "the confirmation request", func() bool { return r.step("refresh").State == engine.StateAwaiting })
	st := r.step("refresh")
	for _, want := range []string{"Refresh database", "production"} {
		if !strings.Contains(st.Confirmation.Action, want) {
			t.Fatalf("the guided step must show the portal path; lacks %q:\n%s", want, st.Confirmation.Action)
		}
	}
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	ben := engine.Actor{Name: "Ben", Origin: "ssh", Fingerprint: "SHA256:ben", Role: engine.RoleOperator}
	cid := engine.Actor{Name: "Cid", Origin: "ssh", Fingerprint: "SHA256:cid", Role: engine.RoleViewer}
	req := st.Confirmation.Request
	if res, err := r.e.Confirm("refresh", req, ana, "REFRESH PRODUCTION"); err != nil || res.Satisfied {
		t.Fatalf("first approval: %+v %v", res, err)
	}
	if _, err := r.e.Confirm("refresh", req, ana, "REFRESH PRODUCTION"); !errors.Is(err, engine.ErrAlreadyApproved) {
		t.Fatalf("the same operator twice: %v", err)
	}
	if _, err := r.e.Confirm("refresh", req, cid, "REFRESH PRODUCTION"); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer: %v", err)
	}
	// An hour on, still one approval: the step has not started and LCS saw nothing.
	asked := r.clk.Now()
	r.until(time.Minute, "an hour", func() bool { return r.clk.Now().Sub(asked) >= time.Hour })
	if s := r.step("refresh"); s.State != engine.StateAwaiting || r.sims.LCS.RefreshesStarted(lcssim.ProductionID) != 0 {
		t.Fatalf("with one approval: %s, %d refreshes", s.State, r.sims.LCS.RefreshesStarted(lcssim.ProductionID))
	}
	if res, err := r.e.Confirm("refresh", req, ben, "REFRESH PRODUCTION"); err != nil || !res.Satisfied {
		t.Fatalf("second approval: %+v %v", res, err)
	}
	r.until(time.Minute, "the step runs", func() bool { return r.step("refresh").State == engine.StateRunning })
	// Nothing started in the portal yet: the step keeps waiting.
	r.until(time.Minute, "30 minutes of waiting", func() bool { return r.clk.Now().Sub(r.step("refresh").Started) >= 30*time.Minute })
	if s := r.step("refresh"); s.State != engine.StateRunning {
		t.Fatalf("without a refresh in LCS the step must wait: %s %q", s.State, s.LastError)
	}
	if _, err := r.sims.LCS.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID); err != nil {
		t.Fatal(err)
	}
	// LCS throttles every other request and fails a few with 503 while the refresh is followed:
	// the step waits through it and succeeds only once LCS shows the refresh completed.
	r.sims.LCS.ThrottleEvery(2, time.Minute)
	r.sims.LCS.FailNext(3, http.StatusServiceUnavailable)
	completed := func() bool {
		for _, h := range r.sims.LCS.History(lcssim.ProductionID) {
			if strings.Contains(strings.ToLower(h.Type+h.Name), "refresh") && h.Status == "Completed" {
				return true
			}
		}
		return false
	}
	r.until(10*time.Minute, "the refresh completes", func() bool {
		s := r.step("refresh")
		if s.State == engine.StateSucceeded && !completed() {
			t.Fatalf("the step succeeded before LCS showed the refresh completed: %q", s.Message)
		}
		return s.State.Terminal()
	})
	if s := r.step("refresh"); s.State != engine.StateSucceeded || !strings.Contains(s.Message, "Completed") {
		t.Fatalf("refresh: %s %q %q", s.State, s.Message, s.LastError)
	}
	if n := r.sims.LCS.RefreshesStarted(lcssim.ProductionID); n != 1 {
		t.Fatalf("%d refreshes of production", n)
	}
	if st := r.sims.LCS.Stats(); st.Throttled == 0 {
		t.Fatalf("the simulator never throttled: %+v", st)
	}
	// No token, refresh token or password reaches the journal or the log.
	access, refresh := r.sims.LCS.IssuedTokens()
	if len(access) == 0 {
		t.Fatal("the simulator issued no token: the sign-in was not exercised")
	}
	secrets := append(append([]string{lcssim.DefaultPassword, sqlsim.Password}, access...), refresh...)
	for _, name := range []string{journal.FileName, engine.LogFileName} {
		data := mustRead(t, filepath.Join(r.state, name))
		for _, s := range secrets {
			if s != "" && bytes.Contains(data, []byte(s)) {
				t.Fatalf("%s holds a secret (%.12s…)", name, s)
			}
		}
	}
}

// TestFaultsNeverMakeAStepSucceedWrongly: a deadlock on the count query fails the validation
// (it does not pass it), a dropped connection is read again, a slow source is reported slow and an
// outage is reported with its duration once the source is back.
func TestFaultsNeverMakeAStepSucceedWrongly(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300, Scenarios: sqlsim.ScenarioCountMismatch, InitialBacklog: -1}, `  - {id: validate, title: Validate, kind: validate.counts, with: {wait_for_draining: 0s}}
`, withQueryTimeout(time.Second))
	tgt := r.sims.SQL.Target()
	id := tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)dm_db_partition_stats`), Action: tdssim.FaultError, Err: tdssim.DeadlockError()})
	r.until(time.Second, "validate ends", func() bool { return r.step("validate").State.Terminal() })
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "1205") {
		t.Fatalf("validate under a deadlock: %s %q", st.State, st.LastError)
	}
	tgt.Faults().Remove(id)
	// The target is unreachable for a while: the monitor says so and, once it is back, how long.
	refuse := tgt.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	tgt.KillAll()
	r.until(15*time.Second, "the target is failing", func() bool {
		v := r.e.Replication()
		return v != nil && v.SourceHealth(engine.SourceTarget).State == engine.HealthFailing
	})
	failedAt := r.clk.Now()
	r.until(15*time.Second, "three minutes of outage", func() bool { return r.clk.Now().Sub(failedAt) >= 3*time.Minute })
	tgt.Faults().Remove(refuse)
	r.until(15*time.Second, "the target is back", func() bool {
		v := r.e.Replication()
		return v != nil && v.SourceHealth(engine.SourceTarget).State == engine.HealthOK
	})
	if h := r.e.Replication().SourceHealth(engine.SourceTarget); h.LastOutage < 3*time.Minute {
		t.Fatalf("outage reported as %v", h.LastOutage)
	}
	// A dropped connection during the recount is read again; the mismatch is still found.
	tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big`), FirstN: 1, Action: tdssim.FaultDropBeforeResponse})
	r.retry("validate", 2)
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "CUSTINVOICETRANS mismatch") {
		t.Fatalf("validate with a dropped connection: %s %q", st.State, st.LastError)
	}
	// Slow recounts (exact counts have their own, longer timeout) only take longer: the result is
	// the same mismatch.
	slow := tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)count_big`), FirstN: 4, Action: tdssim.FaultDelay, Delay: 1500 * time.Millisecond})
	r.retry("validate", 3)
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "CUSTINVOICETRANS mismatch") {
		t.Fatalf("validate with slow recounts: %s %q", st.State, st.LastError)
	}
	if tgt.Faults().Fired(slow) == 0 {
		t.Fatal("the slow-recount rule never fired")
	}
	// Row counts slower than the connection's query timeout (1s here) fail the attempt: a timeout
	// is never read as "no rows" or as a match.
	stall := tgt.Faults().MustAdd(tdssim.Rule{Phase: tdssim.PhaseRequest, SQL: regexp.MustCompile(`(?i)dm_db_partition_stats`), Action: tdssim.FaultDelay, Delay: 3 * time.Second})
	r.retry("validate", 4)
	if st := r.step("validate"); st.State != engine.StateFailed || !strings.Contains(st.LastError, "deadline exceeded") {
		t.Fatalf("validate with a query past its timeout: %s %q", st.State, st.LastError)
	}
	if tgt.Faults().Fired(stall) == 0 {
		t.Fatal("the slow row-count rule never fired")
	}
	tgt.Faults().Remove(stall)
}

// BenchmarkMonitorCycle10k is one replication-monitor cycle of the engine over a 10,000-table AX
// database, through the real driver and the TDS simulator: row counts on both sides, agents and
// the per-article backlog, folded into per-table lag, rates and ETAs and published.
func BenchmarkMonitorCycle10k(b *testing.B) {
	b.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	b.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	clk := &simClock{now: time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)}
	sims, err := demo.StartSimulators(sqlsim.Config{Tables: 10000}, clk, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sims.Close)
	rb, ok := loadRunbook(simRunbook(b, sims, "  - {id: idle, title: Idle, kind: manual}\n"), io.Discard)
	if !ok {
		b.Fatal("runbook")
	}
	state := b.TempDir()
	ports := engine.Ports{Services: demo.Services{World: sims.World}}
	closePorts, err := adapter.BuildPorts(rb, state, &ports, io.Discard, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer closePorts()
	// Intervals of a nanosecond: the monitor cycles back to back (a poll never overlaps the
	// previous one) and every cycle reads the backlog too.
	e, err := engine.New(rb, engine.Options{StateDir: state, Kinds: registry(), Ports: ports,
		Monitor: engine.MonitorConfig{Interval: time.Nanosecond, BacklogInterval: time.Nanosecond}})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Open(); err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	_, events := e.Subscribe(ctx)
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer e.Stop("benchmark")
	waitCycle := func(n int) *engine.ReplicationView {
		for ev := range events {
			if ru, ok := ev.(engine.ReplicationUpdated); ok && ru.View.Cycles >= n {
				return ru.View
			}
		}
		b.Fatal("events ended")
		return nil
	}
	v := waitCycle(1)
	if len(v.Tables) < 9900 {
		b.Fatalf("%d tables in the picture", len(v.Tables))
	}
	if v.TotalPending == 0 || v.PendingAt.IsZero() {
		b.Fatalf("the backlog was not read: %d pending at %v", v.TotalPending, v.PendingAt)
	}
	b.ResetTimer()
	waitCycle(v.Cycles + b.N)
}

// TestRecountATableAgainstTheSimulator: after a failed validation, an operator recounts the
// mismatching table once it was re-delivered; the table becomes a match and the verdict is
// recomputed, the recount is journaled with who did it; a viewer may not recount.
func TestRecountATableAgainstTheSimulator(t *testing.T) {
	r := newSimRun(t, sqlsim.Config{Tables: 300, Scenarios: sqlsim.ScenarioCountMismatch, InitialBacklog: -1}, `  - {id: validate, title: Validate, kind: validate.counts, with: {wait_for_draining: 0s}}
`, withQueryTimeout(time.Second))
	r.until(time.Second, "validate ends", func() bool { return r.step("validate").State.Terminal() })
	table := r.sims.World.Config().MismatchTable
	v := r.e.Validation()
	if v == nil || v.Passed || v.Step != "validate" || v.Tables[0].Table != table || v.Tables[0].Class != engine.ClassMismatch {
		t.Fatalf("validation before: %+v", v)
	}
	viewer := engine.Actor{Name: "Vic", Origin: "ssh", Fingerprint: "SHA256:vic", Role: engine.RoleViewer}
	if _, err := r.e.Recount(context.Background(), table, viewer); !errors.Is(err, engine.ErrNotOperator) {
		t.Fatalf("a viewer recounted: %v", err)
	}
	if err := r.sims.World.Redeliver(table); err != nil {
		t.Fatal(err)
	}
	r.until(30*time.Second, "the table is re-delivered", func() bool {
		s, _ := r.sims.World.SourceRows(table)
		tg, _, _ := r.sims.World.TargetRows(table)
		return s == tg
	})
	ana := engine.Actor{Name: "Ana", Origin: "ssh", Fingerprint: "SHA256:ana", Role: engine.RoleOperator}
	tc, err := r.e.Recount(context.Background(), table, ana)
	if err != nil || tc.Class != engine.ClassMatch || !tc.Exact || tc.Delta != 0 {
		t.Fatalf("recount: %+v %v", tc, err)
	}
	nv := r.e.Validation()
	if nv.Classes[engine.ClassMismatch] != 0 || nv.Classes[engine.ClassMatch] != v.Classes[engine.ClassMatch]+1 || nv.Passed != (len(nv.Failing()) == 0) {
		t.Fatalf("validation after: passed %v, %s", nv.Passed, nv.Summary())
	}
	recs, _, err := journal.ReadAll(filepath.Join(r.state, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, rec := range recs {
		var p engine.Recounted
		if rec.Type == string(engine.RecRecount) && rec.Decode(&p) == nil {
			found = p.Actor.Name == "Ana" && p.Check.Table == table && p.Before == engine.ClassMismatch && p.Check.Class == engine.ClassMatch
		}
	}
	if !found {
		t.Fatal("the recount is not journaled with its actor and outcome")
	}
}

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
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	return tm
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
	recs, _, err := journal.ReadAll(filepath.Join(dir, "state", journal.FileName))
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

// sshKey is a teammate's key pair written as OpenSSH files.
type sshKey struct {
	path string // private key file (0600)
	pub  []byte // authorized_keys line
	fp   string
}

func newSSHKey(t *testing.T, dir, name string) sshKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{path: path, pub: gossh.MarshalAuthorizedKey(signer.PublicKey()), fp: gossh.FingerprintSHA256(signer.PublicKey())}
}

// serveOnSims starts simulators and `cutover serve` on them (polling every second) with a team
// of Ana and Ben (operators) and Vic (viewer). It returns the server's port, the keys and the
// journal's path.
type served struct {
	port          string
	ana, ben, vic sshKey
	stranger      sshKey
	journal       string
	sims          *demo.Simulators
	clk           *simClock
}

func serveOnSims(t *testing.T, steps string, cfg sqlsim.Config) *served {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the end-to-end SSH tests use the OpenSSH client on a POSIX system")
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("the OpenSSH client is not installed (CI installs it): the end-to-end SSH tests need it")
	}
	sims, clk := quietSimulators(t, cfg)
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	path := simRunbook(t, sims, steps)
	dir := filepath.Dir(path)
	s := &served{sims: sims, clk: clk, journal: filepath.Join(dir, ".cutover", journal.FileName)}
	keys := t.TempDir()
	s.ana, s.ben, s.vic, s.stranger = newSSHKey(t, keys, "ana"), newSSHKey(t, keys, "ben"), newSSHKey(t, keys, "vic"), newSSHKey(t, keys, "stranger")
	for _, m := range []struct {
		k          sshKey
		name, role string
	}{{s.ana, "Ana", "operator"}, {s.ben, "Ben", "operator"}, {s.vic, "Vic", "viewer"}} {
		os.WriteFile(filepath.Join(keys, m.name+".pub"), m.k.pub, 0o600)
		if code, out, errs := cli(t, "team", "add", "-f", path, "--name", m.name, "--role", m.role, filepath.Join(keys, m.name+".pub")); code != 0 {
			t.Fatalf("team add: %s %s", out, errs)
		}
	}
	cmd := exec.Command(buildCutover(t), "serve", "-f", path, "--listen", "127.0.0.1:0", "--poll", "1s", "--backlog-poll", "1s")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	lines := streamLines(out)
	lines.expect(t, "ssh: the cockpit is served on ")
	line := lines.seen[len(lines.seen)-1]
	addr := strings.Fields(strings.SplitN(line, "served on ", 2)[1])[0]
	_, s.port, _ = net.SplitHostPort(addr)
	go lines.drain()
	return s
}

// sshArgs are the OpenSSH client's options for a key.
func (s *served) sshArgs(k sshKey, extra ...string) []string {
	return append([]string{"-p", s.port, "-i", k.path, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"}, extra...)
}

func (s *served) sshCommand(k sshKey) string {
	return "ssh -tt " + strings.Join(s.sshArgs(k, "-o", "SetEnv=NO_COLOR=1"), " ") + " cutover@127.0.0.1; sleep 600"
}

// sshExec runs a command over ssh and returns its output and exit code.
func (s *served) sshExec(t *testing.T, k sshKey, extra []string, command ...string) (string, int) {
	t.Helper()
	args := append(s.sshArgs(k, extra...), "cutover@127.0.0.1")
	out, err := exec.Command("ssh", append(args, command...)...).CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestSharedCockpitOverOpenSSH: an operator and a viewer see the same step change; the viewer
// cannot confirm and has no confirm key in its help; a two-approval step completes only after two
// distinct operators confirm in their own sessions; the journal names both with fingerprints.
func TestSharedCockpitOverOpenSSH(t *testing.T) {
	s := serveOnSims(t, `  - {id: prepare, title: Prepare the night, kind: gate, confirm: PREPARE}
  - {id: go-live, title: Go live, kind: gate, approvals: 2, confirm: GO LIVE, after: prepare}
`, sqlsim.Config{Tables: 200})
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it)")
	}
	ana := newTmux(t, 120, 40, s.sshCommand(s.ana))
	vic := ana.newSession("vic", 120, 40, s.sshCommand(s.vic))
	ana.waitFor(`c: confirm (type "PREPARE")`, "Ana(o")
	vic.waitFor("READ-ONLY", `waiting for an operator to type "PREPARE"`)

	// The viewer's confirm key does nothing, and its help has no confirm key.
	vic.keys("c")
	vic.keys("?")
	s2 := vic.waitFor("Keys — Runbook", "read-only session: actions are hidden")
	if strings.Contains(s2, "confirm step") {
		t.Fatalf("the viewer's help offers a confirm key:\n%s", s2)
	}
	vic.keys("Escape")
	vic.waitGone("Keys — Runbook")

	// The operator confirms; both sessions see the step change.
	ana.keys("c")
	ana.waitFor("type PREPARE to confirm")
	ana.text("PREPARE")
	ana.keys("Tab", "Enter")
	ana.waitFor("prepare confirmed by Ana")
	vic.waitFor("✓ succeeded prepare")

	// Two distinct operators for go-live: Ana's selection stays on prepare until she moves it.
	ana.goToCurrent("go-live", `c: confirm (type "GO LIVE")`)
	ana.keys("c")
	ana.waitFor("type GO LIVE to confirm")
	ana.text("GO LIVE")
	ana.keys("Tab", "Enter")
	ana.waitFor("your approval is 1 of 2")
	ben := ana.newSession("ben", 120, 40, s.sshCommand(s.ben))
	ben.waitFor("1 of 2 approved by Ana")
	// Ana again does not count. (A key without text first: it ends the type-ahead guard that
	// follows a dialog closed by the engine's answer, should Ben's session have joined that fast.)
	ana.keys("Right")
	ana.keys("c")
	ana.waitFor("type GO LIVE to confirm")
	// While Ana's dialog is open, Ben sees who holds the step.
	ben.waitFor("Ana (ssh 127.0.0.1, " + s.ana.fp + ") is confirming it now")
	ana.text("GO LIVE")
	ana.keys("Tab", "Enter")
	ana.waitFor("already confirmed")
	ana.keys("Escape")
	ben.waitGone("is confirming it now")
	ben.keys("c")
	ben.waitFor("type GO LIVE to confirm")
	ben.text("GO LIVE")
	ben.keys("Tab", "Enter")
	vic.waitFor("✓ succeeded go-live")

	recs, _, err := journal.ReadAll(s.journal)
	if err != nil {
		t.Fatal(err)
	}
	var approvers []string
	for _, r := range recs {
		var p engine.Approved
		if r.Step == "go-live" && r.Type == string(engine.RecApproved) && r.Decode(&p) == nil {
			approvers = append(approvers, p.Actor.Name+" "+p.Actor.Fingerprint)
		}
	}
	want := []string{"Ana " + s.ana.fp, "Ben " + s.ben.fp}
	if !reflect.DeepEqual(approvers, want) {
		t.Fatalf("go-live approved by %q, want %q", approvers, want)
	}
}

// TestSSHRefusesAndAnswersStatus: unknown keys and passwords are refused; `ssh … status` exits
// 0 for healthy replication, 1 or 2 when it lags, 3 when a source cannot be reached.
func TestSSHRefusesAndAnswersStatus(t *testing.T) {
	s := serveOnSims(t, "  - {id: wait, title: Wait, kind: manual}\n", sqlsim.Config{Tables: 200})
	out, code := s.sshExec(t, s.stranger, nil, "status")
	if code != 255 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("an unknown key: exit %d\n%s", code, out)
	}
	// Password and keyboard-interactive sign-in: BatchMode would keep OpenSSH from trying them at
	// all, so this client may ask (SSH_ASKPASS answers with a password), and its debug output
	// shows what the server offers.
	askpass := filepath.Join(t.TempDir(), "askpass")
	if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho cutover-sim\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	pw := exec.Command("ssh", "-v", "-p", s.port, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
		"-o", "NumberOfPasswordPrompts=1", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "cutover@127.0.0.1", "status")
	pw.Env = append(os.Environ(), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	pwOut, err := pw.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 255 || !strings.Contains(string(pwOut), "Permission denied (publickey)") ||
		!regexp.MustCompile(`Authentications that can continue: publickey\r?\n`).Match(pwOut) {
		t.Fatalf("password sign-in must be refused, the server offering public keys only: %v\n%s", err, pwOut)
	}
	out, code = s.sshExec(t, s.vic, nil, "uptime")
	if code != 127 {
		t.Fatalf("other commands are refused: exit %d\n%s", code, out)
	}
	waitStatus := func(want int, what string) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, code := s.sshExec(t, s.vic, nil, "status")
			if code == want {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status exits %d, want %d:\n%s", what, code, want, out)
			}
			// The server admits one new session a second per address (after a burst of ten).
			time.Sleep(1100 * time.Millisecond) // polling interval, not synchronisation
		}
	}
	out = waitStatus(0, "healthy")
	if !strings.Contains(out, "cutover OK") {
		t.Fatalf("healthy:\n%s", out)
	}
	// Writes pile up and nothing is delivered: the backlog crosses the warning threshold.
	s.sims.World.SetDrainRate(0)
	s.sims.World.SetWriteRate(5000)
	for _, a := range s.sims.World.AOS() {
		s.sims.World.StartAOS(a.Host, a.Service)
	}
	s.clk.Advance(2 * time.Minute)
	out = waitStatus(1, "lagging")
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, "pending") {
		t.Fatalf("lagging:\n%s", out)
	}
	s.clk.Advance(10 * time.Minute)
	waitStatus(2, "far behind")
	// The source server stops answering: the figures cannot be trusted.
	src := s.sims.SQL.Source()
	src.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	src.KillAll()
	out = waitStatus(3, "unreachable")
	if !strings.Contains(out, "UNKNOWN") {
		t.Fatalf("unreachable:\n%s", out)
	}
	time.Sleep(1100 * time.Millisecond) // the per-address session rate, not synchronisation
	jsonOut, code := s.sshExec(t, s.vic, nil, "status", "--json")
	var doc map[string]any
	if code != 3 || json.Unmarshal([]byte(jsonOut), &doc) != nil || doc["level"] != "UNKNOWN" || doc["schema"] != tui.StatusSchema {
		t.Fatalf("status --json: exit %d\n%s", code, jsonOut)
	}
}

// TestStatusCommandAgainstTheSimulator: `cutover status` reads the databases directly: OK when
// replication is caught up, WARNING when the backlog grows past the threshold, UNKNOWN when a
// source cannot be reached; --json follows the schema; --oneline fits a status bar; the run's
// progress comes from the journal when there is one.
// TestStatusWatchCarriesOnThroughAnOutage: `status --watch` prints a glance per interval; when
// the source cannot be read it says UNKNOWN and keeps watching, and it recovers with the source.
// Ctrl-C ends it with the last glance's exit code.
func TestStatusWatchCarriesOnThroughAnOutage(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGINT")
	}
	sims, _ := quietSimulators(t, sqlsim.Config{Tables: 200})
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	path := simRunbook(t, sims, "  - {id: hold-batch, title: Hold batch jobs, kind: manual}\n")
	cmd := child(t, "status", "-f", path, "--oneline", "--watch", "1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	ls := streamLines(out)
	ls.expect(t, "cutover OK")
	src := sims.SQL.Source()
	refuse := src.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	src.KillAll()
	ls.expect(t, "cutover UNKNOWN")
	src.Faults().Remove(refuse)
	ls.expect(t, "cutover OK")
	ls.drain()
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("after an OK glance, Ctrl-C ends status --watch with exit 0: %v", err)
	}
}

func TestStatusCommandAgainstTheSimulator(t *testing.T) {
	sims, clk := quietSimulators(t, sqlsim.Config{Tables: 200})
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	path := simRunbook(t, sims, "  - {id: hold-batch, title: Hold batch jobs, kind: manual}\n"+
		"  - {id: stop-integrations, title: Stop integrations, kind: manual, after: hold-batch}\n")
	// The glance reads the SQL connections only: the LCS password it does not use may be missing.
	os.Unsetenv("CUTOVER_SIM_LCS_PASSWORD")
	code, out, errs := cli(t, "status", "-f", path)
	if code != 0 || !strings.Contains(out, "cutover OK") {
		t.Fatalf("healthy: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	code, out, _ = cli(t, "status", "-f", path, "--oneline")
	if code != 0 || len([]rune(strings.TrimSpace(out))) > tui.OneLineWidth || !strings.HasPrefix(out, "cutover OK") {
		t.Fatalf("oneline: exit %d %q", code, out)
	}
	// A run on this runbook: status adds its progress from the journal.
	if code, _, errs := cli(t, "step", "done", "hold-batch", "-f", path, "--reason", "47 jobs withheld"); code != 0 {
		t.Fatalf("step done: %s", errs)
	}
	code, out, _ = cli(t, "status", "-f", path, "--json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || doc["schema"] != tui.StatusSchema || doc["level"] != "OK" {
		t.Fatalf("json: exit %d %v\n%s", code, err, out)
	}
	if run, _ := doc["run"].(map[string]any); run == nil || run["steps_done"] != float64(1) || run["engine"] != "stopped" {
		t.Fatalf("the run's progress from the journal: %v", doc["run"])
	}
	// No cockpit runs on the state directory: the run is not "running" but stopped where it was.
	if _, out, _ := cli(t, "status", "-f", path); !strings.Contains(out, "STOPPED: no cockpit runs on this state directory (the run was ") {
		t.Fatalf("a run without its engine:\n%s", out)
	}
	// With its engine on the state directory, the same run is live.
	first := child(t, "run", "--headless", "-f", path)
	stdout, _ := first.StdoutPipe()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	waitForLine(t, stdout, "waiting for an operator")
	if _, out, _ := cli(t, "status", "-f", path); strings.Contains(out, "STOPPED") || !strings.Contains(out, "waiting for an operator") {
		t.Fatalf("a run with its engine:\n%s", out)
	}
	first.Process.Kill()
	first.Wait()
	// The backlog grows: WARNING (the threshold is a flag).
	sims.World.SetDrainRate(0)
	sims.World.SetWriteRate(2000)
	for _, a := range sims.World.AOS() {
		sims.World.StartAOS(a.Host, a.Service)
	}
	clk.Advance(time.Minute)
	code, out, _ = cli(t, "status", "-f", path, "--warn-pending", "10000", "--crit-pending", "0", "--warn-latency", "0", "--crit-latency", "0")
	if code != 1 || !strings.Contains(out, "WARNING") {
		t.Fatalf("lagging: exit %d\n%s", code, out)
	}
	// The distributor cannot be reached: UNKNOWN, whatever the old figures said.
	src := sims.SQL.Source()
	src.Faults().MustAdd(tdssim.Rule{Action: tdssim.FaultRefuseConnections})
	src.KillAll()
	code, out, _ = cli(t, "status", "-f", path)
	if code != 3 || !strings.Contains(out, "UNKNOWN") {
		t.Fatalf("unreachable: exit %d\n%s", code, out)
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
	t.Parallel()
	first, second := t.TempDir(), t.TempDir()
	demo := func(dir string, extra ...string) string {
		args := append([]string{"demo", "--headless", "--yes", "--speed", "1000", "--tables", "300", "--state", dir}, extra...)
		out, err := child(t, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "run completed") {
			t.Fatalf("demo %v: %v\n%s", extra, err, out)
		}
		return string(out)
	}
	demo(first)
	out := demo(second, "--baseline", filepath.Join(first, "state"))
	if !strings.Contains(out, "baseline: the rehearsal in "+filepath.Join(first, "state", journal.FileName)) ||
		!regexp.MustCompile(`run completed: .*; (.* (behind|ahead of) rehearsal|on rehearsal pace)`).MatchString(out) {
		t.Fatalf("the second demo must plan with the first and say how it compares:\n%s", out)
	}

	// The plan the forecast is made of: each step's duration in the first demo.
	firstRecs, _, err := journal.ReadAll(filepath.Join(first, "state", journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.TimingsOf(firstRecs)
	opts := parseOptions()
	opts.SkipSecretChecks = true // only inspected: nothing connects
	rb, err := runbook.Load(filepath.Join(second, "demo.yaml"), opts)
	if err != nil {
		t.Fatal(err)
	}
	rb.Baseline = filepath.Join(first, "state")
	e, err := engine.New(rb, engine.Options{StateDir: filepath.Join(second, "state"), Kinds: registry()})
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
		if tmp, _ := filepath.Glob(filepath.Join(f, "*.tmp")); len(tmp) > 0 {
			t.Errorf("the demo left temporary files: %v", tmp)
		}
	}

	code, md, errOut := cli(t, "report", "--state", filepath.Join(second, "state"))
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
	if code, _, errOut := cli(t, "report", "--state", filepath.Join(second, "state"), "-o", html); code != exitOK {
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
	path := filepath.Join(second, "state", journal.FileName)
	lines := strings.Split(string(mustRead(t, path)), "\n")
	mid := len(lines) / 2
	lines[mid] = strings.Replace(lines[mid], `"time":"2`, `"time":"1`, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, md, errOut = cli(t, "report", "--state", filepath.Join(second, "state"))
	if code == exitOK || !strings.Contains(md, "JOURNAL FAILED VERIFICATION") || !strings.Contains(errOut, "FAILED VERIFICATION") {
		t.Fatalf("a tampered journal must be reported (exit %d):\n%s\n%s", code, errOut, md[:min(len(md), 600)])
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

// TestSignedReport: the report of a finished run is signed with an operator's SSH key (one
// ssh-keygen made) into PATH.sig; --verify names the signer from the team file, and refuses a
// report changed after signing and a key outside the team.
func TestSignedReport(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen (OpenSSH) is not installed; CI installs openssh-client")
	}
	path := writeRunbook(t, "name: small\nrehearsal: true\nsteps:\n  - {id: a, title: A, kind: wait, with: {duration: 1ms}}\n")
	if code, out, errs := cli(t, "run", "--headless", "--yes", "-f", path); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
	dir := filepath.Dir(path)
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ana@jumpbox", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	line, err := team.Line(pub, "Ana", engine.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cutover-team.keys"), []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "evidence.html")

	if code, _, errs := cli(t, "report", "-f", path, "--sign", key); code != exitUsage || !strings.Contains(errs, "--sign needs -o PATH") {
		t.Fatalf("--sign without -o: %d %s", code, errs)
	}
	code, out, errs := cli(t, "report", "-f", path, "-o", doc, "--sign", key)
	if code != exitOK || !strings.Contains(out, "signed with ED25519 SHA256:") || !strings.Contains(out, "cutover report --verify "+doc) {
		t.Fatalf("sign: %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := cli(t, "report", "-f", path, "--verify", doc); code != exitOK || !strings.Contains(out, "good signature on "+doc+" by Ana (operator, ED25519 SHA256:") {
		t.Fatalf("verify: %d\n%s\n%s", code, out, errs)
	}
	// OpenSSH alone checks it too, as the output says.
	allowed := filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, append([]byte("ana@jumpbox "), pub...), 0o600); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "ana@jumpbox", "-n", "cutover-report", "-s", doc+".sig")
	cmd.Stdin = bytes.NewReader(html)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
	}

	// No team file: a valid signature by a key nobody vouches for is no proof.
	if code, out, errs := cli(t, "report", "--verify", doc, "--team", filepath.Join(dir, "missing.keys")); code != exitFail || out != "" || !strings.Contains(errs, "nothing says whose key") {
		t.Fatalf("no team file: %d %q %s", code, out, errs)
	}
	// Someone outside the team.
	if err := os.WriteFile(filepath.Join(dir, "other.keys"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "report", "--verify", doc, "--team", filepath.Join(dir, "other.keys")); code != exitFail || !strings.Contains(errs, "is not in") {
		t.Fatalf("a stranger's key: %d %s", code, errs)
	}
	// One character changed after signing.
	if err := os.WriteFile(doc, bytes.Replace(html, []byte("small"), []byte("smalL"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := cli(t, "report", "-f", path, "--verify", doc); code != exitFail || !strings.Contains(errs, "BAD SIGNATURE on "+doc) {
		t.Fatalf("a changed report: %d %s", code, errs)
	}
}

// TestLCSReadsMicrosoftsMetadataExample is the acceptance line of issue 12: Microsoft's
// documented environment-metadata example (lifecycle-services/api/v1/reference-environment-
// metadata.md, kept verbatim in lcs/contract), served unchanged over HTTPS with `auth:
// token-env`, is read by lcs.env-state and by `cutover lcs environments`; a runbook naming the
// dashed form of the example's undashed id finds it.
func TestLCSReadsMicrosoftsMetadataExample(t *testing.T) {
	body, err := contract.Bytes("environment-metadata.json")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var refused []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer doc-token" || r.Method != http.MethodGet || r.URL.Path != "/environmentinfo/v1/detail/project/112233/" {
			mu.Lock()
			refused = append(refused, r.Method+" "+r.URL.RequestURI())
			mu.Unlock()
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cert := filepath.Join(dir, "lcs.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CUTOVER_TEST_LCS_TOKEN", "doc-token")
	path := filepath.Join(dir, "cutover.yaml")
	// The example's production id is undashed (d15ed3a8c2c14054840b946c93915da9): the runbook
	// names it dashed, and a step names it dashed in upper case.
	if err := os.WriteFile(path, []byte(`name: the documented example
rehearsal: true
lcs:
  project_id: "112233"
  base_url: `+srv.URL+`
  certificate: `+cert+`
  auth: token-env
  token_env: CUTOVER_TEST_LCS_TOKEN
  sandbox_environment_id: 60b557b2-fefb-4690-859e-f83caf98c17e
  production_environment_id: d15ed3a8-c2c1-4054-840b-946c93915da9
steps:
  - {id: production-deployed, title: Production is deployed, kind: lcs.env-state, with: {environment: production, state: Deployed}}
  - {id: by-id, title: The same by its id, kind: lcs.env-state, after: production-deployed, with: {environment: D15ED3A8-C2C1-4054-840B-946C93915DA9, state: deployed}}
  - {id: sandbox-failed, title: The sandbox's state, kind: lcs.env-state, after: by-id, with: {environment: sandbox, state: Deployed, fail_on: [Failed]}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "run", "--headless", "--yes", "-f", path)
	// The sandbox of the example is Failed: that step fails, the other two succeed.
	if code == 0 || !strings.Contains(out+errs, "sandbox is Failed in LCS") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
	j := readJournalOf(t, filepath.Join(dir, ".cutover"))
	if j.succeeded["production-deployed"] != 1 || j.succeeded["by-id"] != 1 || j.message["production-deployed"] != "production is Deployed" {
		t.Fatalf("lcs.env-state did not read the example: succeeded %v, messages %v, errors %v", j.succeeded, j.message, j.lastError)
	}

	code, out, errs = cli(t, "lcs", "environments", "-f", path)
	if code != 0 {
		t.Fatalf("lcs environments: %d %s", code, errs)
	}
	for _, want := range []string{"ProdEnvironment1 (production)", "Production", "Deployed", "10.0.20", "d15ed3a8c2c14054840b946c93915da9",
		"SandboxEnvironment1 (sandbox)", "Failed", "y ago"} {
		if !strings.Contains(out, want) {
			t.Errorf("lcs environments lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = cli(t, "lcs", "environments", "--json", "-f", path)
	var envs []struct {
		ID, Name, State, Role string
		DeployedOn            time.Time `json:"deployed_on"`
	}
	if err := json.Unmarshal([]byte(out), &envs); code != 0 || err != nil || len(envs) != 2 {
		t.Fatalf("lcs environments --json: %d %v %s %s", code, err, out, errs)
	}
	if !envs[0].DeployedOn.Equal(time.Date(2021, 8, 5, 23, 0, 0, 0, time.UTC)) || envs[0].Role != "production" || envs[1].State != "Failed" {
		t.Errorf("lcs environments --json: %+v", envs)
	}
	code, out, errs = cli(t, "lcs", "env", "{D15ED3A8-C2C1-4054-840B-946C93915DA9}", "-f", path)
	if code != 0 || !strings.Contains(out, "ProdEnvironment1 (d15ed3a8c2c14054840b946c93915da9), the runbook's production") ||
		!strings.Contains(out, "2021-08-05 23:00 UTC") || !strings.Contains(out, "East US (disaster recovery: West US)") {
		t.Fatalf("lcs env: %d\n%s\n%s", code, out, errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 0 {
		t.Errorf("requests the example server does not serve: %q", refused)
	}
}

// lcsJournal is what a run journaled, per step.
type lcsJournal struct {
	succeeded map[string]int
	message   map[string]string
	lastError map[string]string
}

func readJournalOf(t *testing.T, state string) lcsJournal {
	t.Helper()
	recs, _, err := journal.ReadAll(filepath.Join(state, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	j := lcsJournal{succeeded: map[string]int{}, message: map[string]string{}, lastError: map[string]string{}}
	for _, r := range recs {
		switch engine.RecordType(r.Type) {
		case engine.RecSucceeded:
			var p engine.Succeeded
			r.Decode(&p)
			j.succeeded[r.Step]++
			j.message[r.Step] = p.Message
		case engine.RecFailed:
			var p engine.Failed
			r.Decode(&p)
			j.lastError[r.Step] = p.Error
		}
	}
	return j
}

// TestLCSCommandsAgainstTheSimulator: `cutover lcs` history, operation and quota read the
// simulated LCS through the runbook's sign-in; --json is JSON; a bad call is a usage error.
func TestLCSCommandsAgainstTheSimulator(t *testing.T) {
	t.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	t.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	sims, clk := quietSimulators(t, sqlsim.Config{Tables: 200})
	path := simRunbook(t, sims, "  - {id: a, title: A, kind: manual}\n")
	activity, err := sims.LCS.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	lcsCmd := func(args ...string) string {
		t.Helper()
		clk.Advance(time.Minute) // keep under the simulator's per-minute quotas
		code, out, errs := cli(t, append([]string{"lcs"}, append(args, "-f", path)...)...)
		if code != 0 {
			t.Fatalf("lcs %v: %d\n%s\n%s", args, code, out, errs)
		}
		return out
	}
	out := lcsCmd("history", "production")
	if !strings.Contains(out, "Refresh database") || !strings.Contains(out, "InProgress") || !strings.Contains(out, strings.ReplaceAll(activity, "-", "")) {
		t.Errorf("lcs history:\n%s", out)
	}
	out = lcsCmd("operation", "production", strings.ToUpper(activity))
	if !strings.Contains(out, "InProgress (running)") {
		t.Errorf("lcs operation:\n%s", out)
	}
	out = lcsCmd("quota", "production", "--json")
	var q struct {
		Used, Remaining int
		Counted         []struct {
			ActivityID string `json:"activity_id"`
		}
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil || q.Used != 1 || q.Remaining != 2 || len(q.Counted) != 1 {
		t.Errorf("lcs quota --json: %v\n%s", err, out)
	}
	out = lcsCmd("quota", "production")
	if !strings.Contains(out, "1 of 3 database operations counted") || !strings.Contains(out, "refuses only those started through the API") {
		t.Errorf("lcs quota:\n%s", out)
	}
	out = lcsCmd("env", "sandbox")
	if !strings.Contains(out, lcssim.SandboxName) || !strings.Contains(out, "the runbook's sandbox") {
		t.Errorf("lcs env sandbox:\n%s", out)
	}
	if code, _, errs := cli(t, "lcs", "history", "-f", path); code != exitUsage || !strings.Contains(errs, "want ENV") {
		t.Errorf("lcs history without ENV: %d %s", code, errs)
	}
	if code, _, errs := cli(t, "lcs", "refresh", "production"); code != exitUsage || !strings.Contains(errs, `nknown command "refresh"`) {
		t.Errorf("lcs refresh: %d %s", code, errs)
	}
}

// Command cutover is a terminal cockpit for the go-live cutover of a Dynamics AX 2012 → Dynamics 365
// Finance & Operations upgrade: a background engine runs the cutover runbook, front ends show it,
// and destructive steps wait for typed, attributed confirmations.
//
// This file is the composition root: it parses flags, wires the engine to its front ends, and
// picks one. The logic lives in engine/, sql/, lcs/ and tui/.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	charmlog "charm.land/log/v2"
	"golang.org/x/term"

	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	"cutover/engine/report"
	"cutover/engine/runbook"
	"cutover/engine/svc"
	"cutover/engine/team"
	"cutover/lcs"
	lcssim "cutover/lcs/sim"
	"cutover/sql"
	sqlsim "cutover/sql/sim"
	"cutover/sql/tdssim"
	"cutover/tui"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes shared by the commands.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
	hidden  bool
}

func commands() []command {
	return []command{
		{name: "init", summary: "write a commented cutover.yaml following Microsoft's go-live sequence", run: cmdInit},
		{name: "check", summary: "validate a runbook and summarize it", run: cmdCheck},
		{name: "run", summary: "run the cutover in the cockpit (--headless: one line per event)", run: cmdRun},
		{name: "demo", summary: "run a whole simulated cutover on this machine", run: cmdDemo},
		{name: "serve", summary: "run the cutover for the team over SSH (no local cockpit)", run: cmdServe},
		{name: "team", summary: "add a teammate's SSH key to the team file, or list it", run: cmdTeam},
		{name: "status", summary: "is replication healthy? one glance, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", run: cmdStatus},
		{name: "step", summary: "done|skip|retry a step while no cockpit is running", run: cmdStep},
		{name: "journal", summary: "verify or show the journal", run: cmdJournal},
		{name: "notify", summary: "send a test message to each notification target of the runbook", run: cmdNotify},
		{name: "http", summary: "revoke the status page's access token (every link stops working; a new one is printed)", run: cmdHTTP},
		{name: "report", summary: "write the go-live evidence report from the journal (Markdown or one HTML file)", run: cmdReport},
		{name: "validate", summary: "compare source and target record counts once (exit 0 when they match)", run: cmdValidate},
		{name: "lcs", summary: "read-only looks at LCS: environments, env, history, operation, quota", run: cmdLCS},
		{name: "sim", summary: "serve the simulated SQL Servers and LCS on this machine", run: cmdSim},
		{name: "version", summary: "print the version", run: cmdVersion},
		{name: "demo-task", summary: "a simulated task used by the demo runbook", run: cmdDemoTask, hidden: true},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cutover: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "cutover — the cockpit for an AX 2012 → Dynamics 365 go-live cutover")
	fmt.Fprintln(w, "\nUsage: cutover COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintln(w, "\nStart with:  cutover demo          (a simulated cutover, nothing to install)")
	fmt.Fprintln(w, "             cutover init && cutover check")
	fmt.Fprintln(w, "Run `cutover COMMAND -h` for a command's flags.")
}

// newFlags returns a flag set that prints its usage to stderr and does not exit.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cutover %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns false (with the exit code) when the command should stop. Asked
// for (-h, --help), the usage goes to stdout (to page or grep it); after a mistake, to stderr
// below the error.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) (int, bool) {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		errOut := fs.Output()
		fs.SetOutput(stdout)
		usage()
		fs.SetOutput(errOut)
		return exitOK, false
	case err != nil:
		usage()
		return exitUsage, false
	}
	return 0, true
}

// registry is every step kind this build knows.
func registry() *engine.Registry {
	return engine.NewRegistry(engine.AllKinds()...)
}

func parseOptions() runbook.Options {
	return runbook.Options{Kinds: registry(), Regions: lcs.RegionNames(), SameLCSID: lcs.SameID}
}

// loadRunbook reads a runbook and prints its problems.
func loadRunbook(path string, stderr io.Writer) (*runbook.Runbook, bool) {
	rb, err := runbook.Load(path, parseOptions())
	if err != nil {
		var ps runbook.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
			fmt.Fprintf(stderr, "%s: %d problem(s); nothing was run\n", path, len(ps))
		} else {
			fmt.Fprintf(stderr, "cutover: %v\n", err)
		}
		return nil, false
	}
	return rb, true
}

// stateDirFor is the default state directory: .cutover beside the runbook.
func stateDirFor(runbookPath, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return filepath.Join(filepath.Dir(runbookPath), ".cutover")
}

func cmdVersion(_ []string, _ io.Reader, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "cutover", version)
	return exitOK
}

func cmdInit(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("init", "[--rollback] [DIR]", stderr)
	rollback := fs.Bool("rollback", false, "write the AX 2012 rollback runbook (rollback/cutover.yaml) instead of the go-live one")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	dir := "."
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	text := runbook.Template()
	if *rollback {
		// Its own directory: its own state directory (rollback/.cutover), and its backup step finds
		// the go-live run's journal at ../.cutover.
		dir, text = filepath.Join(dir, "rollback"), runbook.RollbackTemplate()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "cutover init: %v\n", err)
		return exitFail
	}
	path := filepath.Join(dir, runbook.DefaultFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			fmt.Fprintf(stderr, "cutover init: %s already exists; it was left untouched (remove or rename it to start over)\n", path)
		} else {
			fmt.Fprintf(stderr, "cutover init: %v\n", err)
		}
		return exitFail
	}
	_, werr := f.Write(text)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		fmt.Fprintf(stderr, "cutover init: write %s: %v\n", path, werr)
		return exitFail
	}
	if *rollback {
		fmt.Fprintf(stdout, "wrote %s: going back to AX 2012 as Microsoft documents it (upgrade-cutover-testing.md § Roll back to AX 2012).\n", path)
	} else {
		fmt.Fprintf(stdout, "wrote %s: Microsoft's documented go-live process, each step naming its document.\n", path)
	}
	fmt.Fprintln(stdout, "Edit the servers, AOS hosts, LCS ids and downtime window, then: cutover check -f "+path)
	return exitOK
}

func cmdCheck(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("check", "[-f FILE] [--team FILE]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE`")
	teamFile := fs.String("team", "", "team `FILE` to check too; default cutover-team.keys beside the runbook, when there is one")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	rb, ok := loadRunbook(*file, stderr)
	if !ok {
		return exitFail
	}
	printSummary(stdout, rb)
	if !checkTeam(teamPath(*file, *teamFile), *teamFile != "", stdout, stderr) {
		return exitFail
	}
	// What serve would refuse, said now (a local run reads these files as they are).
	if err := checkSecretFiles(rb); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stdout, "  warning:      %s (cutover serve and run --listen refuse it)\n", line)
		}
	}
	return exitOK
}

// checkTeam checks the team file as serve reads it: parsed, display names unique, private to
// this user. A missing file is fine unless it was named (given reports that).
func checkTeam(path string, given bool, stdout, stderr io.Writer) bool {
	if _, err := os.Stat(path); errors.Is(err, iofs.ErrNotExist) && !given {
		fmt.Fprintf(stdout, "  team:         none (%s): only the local cockpit can act; `cutover team add` lets teammates join over SSH\n", path)
		return true
	}
	t, err := team.Load(path, team.Options{Strict: true})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return false
	}
	var ops, viewers int
	for _, m := range t.Members() {
		if m.Role == engine.RoleOperator {
			ops++
		} else {
			viewers++
		}
	}
	fmt.Fprintf(stdout, "  team:         %s: %d operator(s), %d viewer(s), one key each\n", path, ops, viewers)
	return true
}

func printSummary(w io.Writer, rb *runbook.Runbook) {
	defer printOutreach(w, rb)
	reg := registry()
	sum := rb.Summarize(reg.IsGate)
	kind := "runbook"
	if rb.Rehearsal {
		kind = "rehearsal runbook"
	}
	fmt.Fprintf(w, "%s: %s %q is valid\n", rb.File, kind, rb.Name)
	if rb.Environment != "" {
		fmt.Fprintf(w, "  environment:  %s\n", rb.Environment)
	}
	fmt.Fprintf(w, "  steps:        %d\n", sum.Steps)
	for _, p := range sum.PerPhase {
		fmt.Fprintf(w, "    %-28s %d\n", p.Phase, p.Steps)
	}
	if len(sum.Destructive) > 0 {
		fmt.Fprintf(w, "  destructive:  %s\n", strings.Join(sum.Destructive, ", "))
	} else {
		fmt.Fprintln(w, "  destructive:  none")
	}
	if len(sum.Approvals) > 0 {
		parts := make([]string, len(sum.Approvals))
		for i, a := range sum.Approvals {
			parts[i] = fmt.Sprintf("%s (%d)", a.ID, a.Approvals)
		}
		fmt.Fprintf(w, "  confirmations: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "  critical path: %s planned (%s)\n", runbook.FormatDuration(sum.CriticalDuration), strings.Join(sum.CriticalPath, " → "))
	if sum.Unplanned > 0 {
		fmt.Fprintf(w, "  note: %d step(s) have no planned duration and count as zero\n", sum.Unplanned)
	}
	if dt := rb.Downtime; dt != nil && dt.Budget > 0 {
		need, from := sum.CriticalDuration, "the whole runbook"
		if dt.BeginsWith != "" {
			need, from = sum.DowntimeDuration, "from "+dt.BeginsWith
		}
		verdict := "fits in"
		if need > dt.Budget {
			verdict = "EXCEEDS"
		}
		fmt.Fprintf(w, "  downtime:     %s planned %s, which %s the %s budget\n", runbook.FormatDuration(need), from, verdict, runbook.FormatDuration(dt.Budget))
	}
	if dt := rb.Downtime; dt != nil && dt.PointOfNoReturn != "" {
		rollback := "has no rollback point to wait for (name its backup step: downtime.rollback_point)"
		if dt.RollbackPoint != "" {
			rollback = "waits for the rollback point " + dt.RollbackPoint
		}
		fmt.Fprintf(w, "  no return:    %s, which %s\n", dt.PointOfNoReturn, rollback)
	}
	for _, c := range sum.Conditional {
		fmt.Fprintf(w, "  conditional:  %s runs only if %s fails (not in the plan)\n", c.ID, c.Failed)
	}
	for _, line := range engine.RollbackWarnings(rb, reg) {
		fmt.Fprintf(w, "  warning:      %s\n", line)
	}
}

// runFlags are the flags shared by run and demo.
type runFlags struct {
	state    *string
	headless *bool
	yes      *bool
	as       *string
	readonly *bool
	noColor  *bool
	config   *string
	listen   *string
	team     *string
	idle     *time.Duration
	poll     *time.Duration
	backlog  *time.Duration
	baseline *string
	http     *string
}

func addRunFlags(fs *flag.FlagSet) runFlags {
	return runFlags{
		state:    fs.String("state", "", "state `DIR` (journal, lock, log); default .cutover beside the runbook"),
		headless: fs.Bool("headless", false, "print one line per event instead of the cockpit"),
		yes:      fs.Bool("yes", false, "confirm steps automatically (only for rehearsal runbooks)"),
		as:       fs.String("as", "", "operator `NAME` to record (default: your login name)"),
		readonly: fs.Bool("readonly", false, "watch only: the cockpit offers no action that changes the run"),
		noColor:  fs.Bool("no-color", false, "no colour in the cockpit (as NO_COLOR does)"),
		config:   fs.String("config", "", "cockpit settings `FILE` (theme, keys); default "+tui.DefaultConfigPath()),
		listen:   fs.String("listen", "", "also serve the cockpit over SSH on `ADDR` (e.g. :2222) to the team file's keys"),
		team:     fs.String("team", "", "team `FILE` of SSH keys with roles; default cutover-team.keys beside the runbook"),
		idle:     fs.Duration("idle-timeout", time.Hour, "close an SSH cockpit session after this long without a key press (it is warned a minute before)"),
		poll:     fs.Duration("poll", 15*time.Second, "read row counts and agents this often"),
		backlog:  fs.Duration("backlog-poll", time.Minute, "read the per-article backlog (the expensive query) this often"),
		baseline: fs.String("baseline", "", "plan with the actual durations of an earlier run: its `JOURNAL` or state directory (overrides the runbook's baseline:)"),
		http:     fs.String("http", "", "serve the read-only status page and /metrics on `ADDR` (a port alone means 127.0.0.1; \"off\": none)"),
	}
}

func cmdRun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("run", "[-f FILE] [--state DIR] [--headless] [--yes]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE`")
	rf := addRunFlags(fs)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	rb, ok := loadRunbook(*file, stderr)
	if !ok {
		return exitFail
	}
	return runEngine(rb, engine.Options{StateDir: stateDirFor(*file, *rf.state)}, rf, stdin, stdout, stderr, nil)
}

// runEngine opens the engine on a state directory and drives it with a front end. Ports the
// caller did not set are built from the runbook. started, when set, runs once the engine runs.
// helper is someone besides the operator who acts on the run: the demo's simulated toolkit
// operator. It starts once the engine has; Fixing says whether it is about to fix a blocked run.
type helper interface {
	Run(ctx context.Context, e *engine.Engine)
	Fixing(engine.Snapshot) string
}

func runEngine(rb *runbook.Runbook, opts engine.Options, rf runFlags, stdin io.Reader, stdout, stderr io.Writer, help helper) int {
	return runEngineMode(rb, opts, rf, false, stdin, stdout, stderr, help)
}

// runEngineMode runs the engine with a front end: the local cockpit on a terminal, the
// headless printer otherwise; serve (cutover serve) never opens a local cockpit and keeps serving
// SSH after the run ends.
func runEngineMode(rb *runbook.Runbook, opts engine.Options, rf runFlags, serve bool, stdin io.Reader, stdout, stderr io.Writer, help helper) int {
	opts.Kinds, opts.AutoConfirm, opts.Version, opts.Command = registry(), *rf.yes, version, "cutover run"
	if *rf.baseline != "" {
		abs, err := filepath.Abs(*rf.baseline)
		if err != nil {
			fmt.Fprintf(stderr, "cutover: --baseline: %v\n", err)
			return exitUsage
		}
		rb.Baseline = abs
	}
	if opts.Monitor.Interval == 0 {
		opts.Monitor.Interval, opts.Monitor.BacklogInterval = *rf.poll, *rf.backlog
	}
	if serve {
		opts.Command = "cutover serve"
	}
	interactive := isTerminal(stdin) && isTerminal(stdout)
	cockpit := interactive && !*rf.headless && !serve
	var cfg tui.Config
	if cockpit || *rf.listen != "" {
		path, optional := *rf.config, false
		if path == "" {
			path, optional = tui.DefaultConfigPath(), true
		}
		var err error
		if cfg, err = tui.LoadConfig(path, optional); err != nil {
			fmt.Fprintf(stderr, "cutover: %v\n", err)
			return exitFail
		}
	}
	// Serving the team over SSH, the machine's secrets and its access policy must be the
	// operator's alone (as OpenSSH's StrictModes): a password file others can read, or a team file
	// others can change, is refused.
	if serve || *rf.listen != "" {
		if err := checkSecretFiles(rb); err != nil {
			fmt.Fprintf(stderr, "cutover: %v\n", err)
			return exitFail
		}
	}
	// While the cockpit owns the terminal, notices (an LCS sign-in code) go to the engine's log.
	notices := &engineNotices{}
	var noticeOut io.Writer = stderr
	if cockpit {
		noticeOut = notices
	}
	closePorts, err := buildPorts(rb, opts.StateDir, &opts.Ports, stderr, noticeOut)
	if err != nil {
		fmt.Fprintf(stderr, "cutover: %v\n", err)
		return exitFail
	}
	defer closePorts()
	e, err := engine.New(rb, opts)
	if err != nil {
		fmt.Fprintf(stderr, "cutover: %v\n", err)
		return exitFail
	}
	notices.attach(e)
	if err := e.Open(); err != nil {
		fmt.Fprintf(stderr, "cutover: %s\n", journal.Describe(err))
		return exitFail
	}
	if rep := e.OpenReport(); rep.StaleLock != nil || rep.Torn != nil {
		if rep.StaleLock != nil {
			fmt.Fprintf(stdout, "took over the state directory from %s, which is no longer running\n", rep.StaleLock)
		}
		if rep.Torn != nil {
			fmt.Fprintf(stdout, "the journal's last line was incomplete (a crash during a write) and was dropped; nothing acknowledged was lost\n")
		}
	}
	var srv *tui.Server
	if *rf.listen != "" {
		srv, err = startSSH(rb, e, rf, cfg, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "cutover: %v\n", err)
			e.Stop("ssh failed to start")
			return exitFail
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
		}()
	}
	out, err := startOutreach(rb, e, rf, opts.Clock, srv, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "cutover: %v\n", err)
		e.Stop("the web page or the notifications failed to start")
		return exitFail
	}
	defer out.close()
	start := func(ctx context.Context) func() error {
		return func() error {
			if err := e.Start(ctx); err != nil {
				return err
			}
			out.start()
			if help != nil {
				go help.Run(ctx, e)
			}
			if srv != nil {
				go func() {
					if err := srv.Serve(); err != nil {
						e.Logf(engine.LevelError, "", "ssh: %v", err)
					}
				}()
			}
			return nil
		}
	}
	if cockpit {
		return runCockpit(e, rf, cfg, srv, stdin, stdout, stderr, start, func() { out.flush(stdout) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	hopts := tui.HeadlessOptions{
		Out: stdout, In: stdin, Interactive: interactive && !serve, Interrupts: sigs,
		Actor: engine.LocalOperator(*rf.as, ttyName(stdin)),
		Start: start(ctx), Stay: serve,
	}
	if help != nil {
		hopts.Helper = help.Fixing
	}
	code := tui.RunHeadless(ctx, e, hopts)
	out.flush(stdout)
	reason := "run ended"
	if code == tui.ExitInterrupted {
		reason = "interrupted by the operator"
	}
	if err := e.Stop(reason); err != nil {
		fmt.Fprintf(stderr, "cutover: stopping: %v\n", err)
		if code == exitOK {
			code = exitFail
		}
	}
	return code
}

// runCockpit shows the TUI over the engine until the operator quits (or SIGTERM), then stops the
// engine and says where the run stands.
func runCockpit(e *engine.Engine, rf runFlags, cfg tui.Config, srv *tui.Server, stdin io.Reader, stdout, stderr io.Writer, start func(context.Context) func() error, beforeStop func()) int {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	actor := engine.LocalOperator(*rf.as, ttyName(stdin))
	opts := tui.Options{Actor: actor, ReadOnly: *rf.readonly, Config: cfg, OwnsEngine: true}
	defer ownTerminal(e)()
	if srv != nil {
		touch, leave := srv.JoinLocal(actor)
		defer leave()
		opts.Watchers, opts.OnActivity = srv.Presence, touch
	}
	ro := tui.RunOptions{
		Options: opts,
		In:      stdin, Out: stdout, NoColor: *rf.noColor, // NO_COLOR: Run reads the environment
		Start: start(ctx),
		Logf:  func(format string, args ...any) { e.Logf(engine.LevelError, "", format, args...) },
	}
	err := tui.Run(ctx, e, ro)
	// A bug that crashed the cockpit leaves the engine running (and the SSH sessions with it):
	// the operator reopens the cockpit on the same state, or stops the run.
	for errors.Is(err, tui.ErrSessionCrashed) && ctx.Err() == nil {
		if !reopenCockpit(stdin, stdout, e) {
			err = nil
			break
		}
		ro.Start = nil // the engine runs already
		err = tui.Run(ctx, e, ro)
	}
	snap := e.Snapshot()
	code := exitOK
	switch snap.Run.Outcome {
	case engine.OutcomeCompleted:
	case engine.OutcomeBlocked, engine.OutcomeHalted:
		code = exitFail
	default:
		code = tui.ExitInterrupted
	}
	beforeStop()
	if stopErr := e.Stop("cockpit closed"); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "cockpit closed: the run is %s (journal in %s); start again to continue where it stopped\n", snap.Run.Outcome, e.StateDir())
	return code
}

// reopenCockpit asks, after the cockpit crashed, whether to open it again (Enter) or stop the run
// (stop, or the end of the input). It reads the terminal line by line: Bubble Tea has given it
// back in its ordinary mode.
func reopenCockpit(stdin io.Reader, stdout io.Writer, e *engine.Engine) bool {
	fmt.Fprintf(stdout, "\ncutover: the cockpit hit an internal error; its details are in %s. The engine keeps running (and the SSH sessions with it).\n",
		filepath.Join(e.StateDir(), engine.LogFileName))
	for {
		fmt.Fprint(stdout, "Press Enter to reopen the cockpit, or type stop and Enter to stop the run here: ")
		line, err := readLine(stdin)
		switch answer := strings.ToLower(strings.TrimSpace(line)); {
		case err != nil || answer == "stop":
			return false
		case answer == "":
			return true
		}
	}
}

// readLine reads one line byte by byte, so nothing after it is taken from the terminal.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
}

// startSSH prepares the SSH cockpit server over the engine (listening; serving starts with the
// engine). Its host key lives in the state directory; its team file beside the runbook.
func startSSH(rb *runbook.Runbook, e *engine.Engine, rf runFlags, cfg tui.Config, stdout io.Writer) (*tui.Server, error) {
	path := teamPath(rb.File, *rf.team)
	tf, err := team.Load(path, team.Options{Strict: true})
	if err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) { e.Logf(engine.LevelInfo, "", format, args...) }
	// The SSH libraries log through charm's logger: into the engine's log, not onto a terminal a
	// cockpit may be drawing on.
	charmlog.SetOutput(libLog{e: e, level: engine.LevelWarn, prefix: "ssh: ",
		skip: func(line string) bool { return strings.Contains(line, "context canceled") }})
	srv, err := tui.NewServer(e, tui.ServerOptions{Addr: *rf.listen, HostKeyPath: filepath.Join(e.StateDir(), "ssh_host_ed25519_key"),
		Team: tf, IdleTimeout: *rf.idle, Config: cfg, Logf: logf})
	if err != nil {
		return nil, err
	}
	addr, err := srv.Listen()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "ssh: the cockpit is served on %s to the %d key(s) of %s\nssh: host key %s — teammates check it on first connection\n", addr, tf.Size(), path, srv.Fingerprint())
	e.Logf(engine.LevelInfo, "", "ssh: serving on %s (host key %s) to %d key(s) of %s", addr, srv.Fingerprint(), tf.Size(), path)
	return srv, nil
}

// libLog takes what a library logs into the engine's log at a level, each line prefixed;
// skip, when set, drops lines nobody needs (the one every ordinary SSH disconnect produces).
type libLog struct {
	e      *engine.Engine
	level  engine.LogLevel
	prefix string
	skip   func(line string) bool
}

func (l libLog) Write(b []byte) (int, error) {
	for _, line := range strings.Split(string(b), "\n") {
		if text := strings.TrimSpace(line); text != "" && (l.skip == nil || !l.skip(text)) {
			l.e.Logf(l.level, "", "%s%s", l.prefix, text)
		}
	}
	return len(b), nil
}

// ownTerminal sends what the standard library's loggers (log, and slog's default, which writes
// through it) would print onto the terminal into the engine's log instead, while the cockpit
// draws there; the returned function puts them back.
func ownTerminal(e *engine.Engine) (restore func()) {
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(libLog{e: e, level: engine.LevelInfo})
	log.SetFlags(0)
	return func() {
		log.SetOutput(out)
		log.SetFlags(flags)
	}
}

// secretFiles are the runbook's files of secrets (password_file, client_secret_file), each with
// where it is named, as absolute or runbook-relative paths resolved.
func secretFiles(rb *runbook.Runbook) [][2]string {
	var out [][2]string
	add := func(where, file string) {
		if file == "" {
			return
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(rb.Dir, file)
		}
		out = append(out, [2]string{where, file})
	}
	for _, c := range []*runbook.Connection{rb.Connections.Source, rb.Connections.Distribution, rb.Connections.Target} {
		if c != nil {
			add("connections."+c.Role+" password_file", c.PasswordFile)
		}
	}
	if l := rb.LCS; l != nil {
		add("lcs password_file", l.PasswordFile)
		add("lcs client_secret_file", l.ClientSecretFile)
	}
	return out
}

// checkSecretFiles refuses secret files others can read or change (team.CheckPrivate).
func checkSecretFiles(rb *runbook.Runbook) error {
	var errs []error
	for _, f := range secretFiles(rb) {
		if err := team.CheckPrivate(f[1], f[0]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// defaultTeamFile is the team file's name beside the runbook.
const defaultTeamFile = "cutover-team.keys"

// teamPath is the team file: the flag, or cutover-team.keys beside the runbook file.
func teamPath(runbookFile, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return filepath.Join(filepath.Dir(runbookFile), defaultTeamFile)
}

// cmdServe runs the engine for the team over SSH, printing one line per event here.
func cmdServe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "[-f FILE] [--listen ADDR] [--team FILE] [--state DIR] [--yes]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE`")
	rf := addRunFlags(fs)
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *rf.listen == "" {
		*rf.listen = ":2222"
	}
	rb, ok := loadRunbook(*file, stderr)
	if !ok {
		return exitFail
	}
	return runEngineMode(rb, engine.Options{StateDir: stateDirFor(*file, *rf.state)}, rf, true, stdin, stdout, stderr, nil)
}

// cmdTeam adds a key to the team file or lists it.
func cmdTeam(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		fmt.Fprintln(stderr, "Usage: cutover team add --name NAME --role operator|viewer [--team FILE] PUBKEY_FILE|-\n       cutover team list [--team FILE]")
		return exitUsage
	}
	verb := args[0]
	fs := newFlags("team "+verb, "[--team FILE]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE` (the team file defaults to its folder)")
	teamFile := fs.String("team", "", "team `FILE` (default cutover-team.keys beside the runbook)")
	name := fs.String("name", "", "display `NAME` shown in the cockpit and the journal")
	role := fs.String("role", "", "operator (may act and confirm) or viewer (watches)")
	if code, ok := parse(fs, args[1:], stdout); !ok {
		return code
	}
	path := teamPath(*file, *teamFile)
	if verb == "list" {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "cutover team list: %v\n", err)
			return exitFail
		}
		members, err := team.Parse(path, data)
		if err != nil {
			fmt.Fprintf(stderr, "cutover team list: %v\n", err)
			return exitFail
		}
		for _, m := range members.Sorted() {
			fmt.Fprintf(stdout, "%-24s %-8s %s\n", m.Name, m.Role, m.Fingerprint)
		}
		return exitOK
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "cutover team add: give the public key file (or - for stdin)")
		return exitUsage
	}
	var pub []byte
	var err error
	if fs.Arg(0) == "-" {
		pub, err = io.ReadAll(stdin)
	} else {
		pub, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover team add: %v\n", err)
		return exitFail
	}
	line, err := team.Line(pub, *name, engine.Role(*role))
	if err != nil {
		fmt.Fprintf(stderr, "cutover team add: %v\n", err)
		return exitUsage
	}
	existing, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		fmt.Fprintf(stderr, "cutover team add: %v\n", err)
		return exitFail
	}
	text := string(existing)
	if len(existing) == 0 {
		text = "# cutover team: who may join the cockpit over SSH, as what. One public key per line (authorized_keys\n" +
			"# format) with cutover-role=\"operator\" or \"viewer\" and cutover-name=\"Display Name\".\n"
	} else if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += line + "\n"
	if _, err := team.Parse(path, []byte(text)); err != nil {
		fmt.Fprintf(stderr, "cutover team add: %v\n", err)
		return exitFail
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		fmt.Fprintf(stderr, "cutover team add: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "added %s as %s to %s\n", *name, *role, path)
	return exitOK
}

// cmdStatus answers "is replication healthy?" straight from the databases, with the run's
// progress from the journal when there is one. Exit codes are those of monitoring plugins.
func cmdStatus(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("status", "[-f FILE] [--state DIR] [--json | --oneline] [--watch SECONDS] [thresholds]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE` (its connections; its state directory's journal for the run's progress)")
	state := fs.String("state", "", "state `DIR`; default .cutover beside the runbook")
	asJSON := fs.Bool("json", false, "print the glance as JSON (schema "+tui.StatusSchema+")")
	oneLine := fs.Bool("oneline", false, "print one short line (for a tmux status bar)")
	watch := fs.Int("watch", 0, "check again every `SECONDS` until Ctrl-C (rates and ETAs appear from the second check)")
	th := tui.DefaultThresholds()
	fs.Int64Var(&th.WarnPending, "warn-pending", th.WarnPending, "WARNING at this many undelivered commands (0: off)")
	fs.Int64Var(&th.CritPending, "crit-pending", th.CritPending, "CRITICAL at this many undelivered commands (0: off)")
	fs.DurationVar(&th.WarnLatency, "warn-latency", th.WarnLatency, "WARNING at this agent latency (0: off)")
	fs.DurationVar(&th.CritLatency, "crit-latency", th.CritLatency, "CRITICAL at this agent latency (0: off)")
	fs.DurationVar(&th.MaxAge, "max-age", th.MaxAge, "figures older than this are stale: UNKNOWN")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *asJSON && *oneLine {
		fmt.Fprintln(stderr, "cutover status: choose --json or --oneline")
		return exitUsage
	}
	unknown := func(err error) int {
		st := tui.EvaluateStatus(nil, nil, th, time.Now())
		st.Reasons = append([]string{err.Error()}, st.Reasons...)
		writeStatus(st, *asJSON, *oneLine, stdout)
		return st.ExitCode()
	}
	// The glance reads the SQL connections only: it needs none of the other secrets (the LCS
	// sign-in, the team's), and a missing database password surfaces when its connection opens.
	opts := parseOptions()
	opts.SkipSecretChecks = true
	rb, err := runbook.Load(*file, opts)
	if err != nil {
		return unknown(fmt.Errorf("runbook: %w", err))
	}
	live := false
	var snap *engine.Snapshot
	var sample *engine.ReplicationSample
	var sampleAt time.Time
	if ins, err := engine.Inspect(rb, stateDirFor(*file, *state), registry()); err == nil {
		snap, sample, sampleAt, live = &ins.Snapshot, ins.Sample, ins.SampleAt, ins.Live
	} else if !errors.Is(err, iofs.ErrNotExist) {
		fmt.Fprintf(stderr, "cutover status: the journal cannot be read (%v); showing replication only\n", err)
	}
	sp, err := openSQL(rb, stderr)
	if err != nil {
		return unknown(fmt.Errorf("connections: %w", err))
	}
	if sp == nil || sp.src == nil || sp.dist == nil || sp.tgt == nil {
		return unknown(errors.New("the runbook needs connections source, distribution and target to read replication"))
	}
	defer sp.Close()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	poller := engine.NewPoller(sp, engine.MonitorConfig{}, time.Now)
	code := exitOK
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
		view, err := poller.Poll(pctx)
		pcancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return code
		case err != nil:
			// A failed check is UNKNOWN; watching goes on, so the glance recovers with the source.
			code = unknown(err)
		default:
			// One reading has no rate yet: a cockpit's recent journaled sample has one.
			if view.DrainRate == 0 && sample != nil && time.Since(sampleAt) < th.MaxAge {
				view.DrainRate, view.ETA = sample.DrainRate, sample.ETA
			}
			st := tui.EvaluateStatus(view, snap, th, time.Now())
			if st.Run != nil {
				st.Run.Stopped = !live
			}
			writeStatus(st, *asJSON, *oneLine, stdout)
			code = st.ExitCode()
		}
		if *watch <= 0 {
			return code
		}
		select {
		case <-ctx.Done():
			return code
		case <-time.After(time.Duration(*watch) * time.Second):
		}
		if ins, err := engine.Inspect(rb, stateDirFor(*file, *state), registry()); err == nil {
			snap, live = &ins.Snapshot, ins.Live
		}
	}
}

func writeStatus(st tui.Status, asJSON, oneLine bool, w io.Writer) {
	switch {
	case asJSON:
		st.WriteJSON(w)
	case oneLine:
		fmt.Fprintln(w, st.OneLine())
	default:
		st.WriteText(w)
	}
}

// engineNotices writes notices (an LCS device-code sign-in) into the engine's log, where the
// cockpit shows them, instead of onto the terminal the cockpit draws on.
type engineNotices struct {
	mu      sync.Mutex
	e       *engine.Engine
	pending []string
}

func (n *engineNotices) attach(e *engine.Engine) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.e = e
	for _, p := range n.pending {
		e.Logf(engine.LevelWarn, "", "%s", p)
	}
	n.pending = nil
}

func (n *engineNotices) Write(b []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if n.e != nil {
			n.e.Logf(engine.LevelWarn, "", "%s", line)
		} else {
			n.pending = append(n.pending, line)
		}
	}
	return len(b), nil
}

func isTerminal(f any) bool {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		return term.IsTerminal(int(fd.Fd()))
	}
	return false
}

// ttyName names the terminal on stdin where the system can tell (Linux), for the operator's origin.
func ttyName(f any) string {
	if !isTerminal(f) {
		return ""
	}
	if name, err := os.Readlink("/proc/self/fd/0"); err == nil && strings.HasPrefix(name, "/dev/") {
		return name
	}
	return ""
}

func cmdDemo(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "[--headless] [--yes] [--speed N] [--tables N] [--scenario NAME] [--state DIR] [--baseline JOURNAL]", stderr)
	rf := addRunFlags(fs)
	speed := fs.Float64("speed", 60, "run the simulated cutover `N` times faster than real time")
	tables := fs.Int("tables", 2000, "tables in the simulated AX database")
	scenario := fs.String("scenario", "happy", "`NAME`s, comma-separated: happy, locked-table, count-mismatch, lcs-throttle, flaky-network, upgrade-failure, rollback")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *speed < 1 {
		fmt.Fprintln(stderr, "cutover demo: --speed must be at least 1")
		return exitUsage
	}
	if *rf.http == "" {
		// The demo shows a newcomer the status page and /metrics: on, on a free loopback port.
		*rf.http = "127.0.0.1:0"
	}
	sc, err := parseDemoScenario(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitUsage
	}
	// The simulated tasks are child processes: they learn the speed from the environment.
	if err := os.Setenv(demoSpeedEnv, strconv.FormatFloat(*speed, 'f', -1, 64)); err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	dir := *rf.state
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cutover-demo-")
		if err != nil {
			fmt.Fprintf(stderr, "cutover demo: %v\n", err)
			return exitFail
		}
		dir = tmp
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	saved, err := loadDemoSaved(dir)
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	var from time.Time
	addrs := [3]string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}
	if saved != nil {
		if saved.Scenario != sc.name || saved.Tables != *tables {
			fmt.Fprintf(stdout, "demo: resuming the %s demo with %d tables (the flags asked for %s, %d)\n", saved.Scenario, saved.Tables, sc.name, *tables)
		}
		if sc, err = parseDemoScenario(saved.Scenario); err != nil {
			fmt.Fprintf(stderr, "cutover demo: %s: %v\n", filepath.Join(dir, demoSimsFile), err)
			return exitFail
		}
		*tables = saved.Tables
		from = saved.resumeAt(filepath.Join(dir, "state", journal.FileName))
		addrs = [3]string{saved.Source, saved.Target, saved.LCS}
		fmt.Fprintf(stdout, "demo: resuming in %s: the simulators carry on from %s (simulated time) after replaying %d actions\n",
			dir, from.Local().Format("15:04:05"), len(saved.Actions))
	} else {
		saved = &demoSaved{Scenario: sc.name, Tables: *tables}
	}
	clk := clock.NewScaledFrom(*speed, from)
	cfg := demoWorld(*tables, sc.world)
	cfg.Start = saved.WorldStart
	sims, err := startSimulators(cfg, clk, addrs[0], addrs[1], addrs[2], dir, func(w *sqlsim.World, l *lcssim.Server) error {
		if err := w.Replay(saved.Actions); err != nil {
			return fmt.Errorf("resume the simulated SQL servers: %w", err)
		}
		return l.Restore(saved.LCSState)
	})
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	defer sims.Close()
	if err := sc.apply(sims); err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	saver := newDemoSaver(filepath.Join(dir, demoSimsFile), saved, sims, clk)
	if err := saver.write(); err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	// The last save finishes before the demo returns: an exit in the middle of one would leave its
	// temporary file behind.
	saveCtx, stopSaving := context.WithCancel(context.Background())
	saving := make(chan struct{})
	go func() { defer close(saving); saver.run(saveCtx) }()
	defer func() { stopSaving(); <-saving }()
	path, err := writeDemoRunbook(dir, sims)
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	rb, ok := loadRunbook(path, stderr)
	if !ok {
		return exitFail
	}
	fmt.Fprintf(stdout, "demo: simulated AX 2012 SQL Server %s, Azure SQL sandbox %s, LCS %s (%d tables, %gx speed, scenario %s)\n",
		sims.sql.Addr(sqlsim.EndpointSource), sims.sql.Addr(sqlsim.EndpointTarget), sims.lcsURL, *tables, *speed, sc.name)
	fmt.Fprintf(stdout, "demo: runbook and state in %s (resume with --state %s)\n", dir, dir)
	if !*rf.yes && !(isTerminal(stdin) && isTerminal(stdout)) {
		fmt.Fprintln(stdout, "demo: no terminal to type confirmations on; add --yes to play the rehearsal unattended")
	}
	notices := &engineNotices{}
	c, err := lcsClient(rb, filepath.Join(dir, "state"), sims.lcs.HTTPClient(), lcsClock{clk}, notices)
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	opts := engine.Options{StateDir: filepath.Join(dir, "state"), Clock: clk,
		Ports: engine.Ports{Services: simServices{sims.world}, LCS: lcsPort{c}},
		// Enabling production's users is work on the simulators: the simulated operator does it,
		// then marks the step done, also in a rehearsal run with --yes.
		DoneByOthers: func(step string) bool { return demoOperatorSteps[step] != "" }}
	op := &demoOperator{sims: sims, clk: clk, fixes: map[string]fixState{}, notices: notices, rollback: sc.rollback}
	code := runEngine(rb, opts, rf, stdin, stdout, stderr, op)
	if !sc.rollback {
		return code
	}
	return demoRollback(dir, sims, clk, rf, stdin, stdout, stderr, op)
}

// demoRollback is the rollback scenario's second act: the go-live run stopped at the failed data
// upgrade, and the team goes back to AX 2012 with the rollback runbook, against the same
// simulators (its own state directory; its backup step reads the go-live run's journal).
func demoRollback(dir string, sims *simulators, clk clock.Clock, rf runFlags, stdin io.Reader, stdout, stderr io.Writer, op *demoOperator) int {
	goLive := filepath.Join(dir, "state", journal.FileName)
	ins, err := engine.Inspect(mustLoadDemo(dir), filepath.Join(dir, "state"), registry())
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	if st, _ := ins.Snapshot.Step("watch-upgrade"); st.State != engine.StateFailed {
		fmt.Fprintf(stdout, "demo: the go-live run stopped with watch-upgrade %s: not rolling back\n", st.State)
		return exitFail
	}
	fmt.Fprintln(stdout, "demo: the data upgrade failed and the team decides to go back to AX 2012: the rollback runbook (cutover init --rollback) runs now")
	rbDir := filepath.Join(dir, "rollback")
	if err := os.MkdirAll(rbDir, 0o700); err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	// The rollback reads the AX 2012 database only: its connections are the source's alone (the
	// distributor is gone by now, and the sandbox is not AX 2012's).
	snippet := sims.sql.RunbookSnippet()
	if i := strings.Index(snippet, "\n  "+sqlsim.EndpointDistribution.String()+":\n"); i >= 0 {
		snippet = snippet[:i+1]
	}
	text, err := runbook.RollbackDemoRunbook(runbook.DemoSettings{Sections: snippet + demoAOSSection(sims)}, goLive)
	if err == nil {
		err = journal.WriteFileAtomic(filepath.Join(rbDir, runbook.DefaultFile), text, 0o600)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	rb, ok := loadRunbook(filepath.Join(rbDir, runbook.DefaultFile), stderr)
	if !ok {
		return exitFail
	}
	opts := engine.Options{StateDir: filepath.Join(rbDir, "state"), Clock: clk, Ports: engine.Ports{Services: simServices{sims.world}}}
	return runEngine(rb, opts, rf, stdin, stdout, stderr, op)
}

// mustLoadDemo is the demo's go-live runbook as written in dir (nil when it cannot be read:
// Inspect then uses the built-in kinds on an empty runbook and fails plainly).
func mustLoadDemo(dir string) *runbook.Runbook {
	rb, err := runbook.Load(filepath.Join(dir, "demo.yaml"), parseOptions())
	if err != nil {
		return &runbook.Runbook{}
	}
	return rb
}

// demoScenario is what --scenario chose: scenarios of the simulated world and the demo's own
// (LCS throttling with an exhausted quota, a flaky network).
type demoScenario struct {
	name        string
	world       sqlsim.Scenario
	lcsThrottle bool
	flaky       bool
	// rollback: the data upgrade fails, nobody resumes it, and the team goes back to AX 2012 with
	// the rollback runbook (`cutover init --rollback`), run against the same simulators.
	rollback bool
}

func parseDemoScenario(s string) (demoScenario, error) {
	out := demoScenario{}
	var names, world []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		switch part {
		case "", "happy":
			continue
		case "lcs-throttle":
			out.lcsThrottle = true
		case "flaky-network":
			out.flaky = true
		case "rollback":
			out.rollback = true
			world = append(world, "upgrade-failure")
		case "locked-table", "count-mismatch", "upgrade-failure":
			world = append(world, part)
		default:
			return demoScenario{}, fmt.Errorf("unknown scenario %q (want happy, locked-table, count-mismatch, lcs-throttle, flaky-network, upgrade-failure or rollback)", part)
		}
		names = append(names, part)
	}
	w, err := sqlsim.ParseScenario(strings.Join(world, ","))
	if err != nil {
		return demoScenario{}, err
	}
	out.world, out.name = w, strings.Join(names, ",")
	if out.name == "" {
		out.name = "happy"
	}
	return out, nil
}

// apply sets up the demo's own scenarios on freshly started simulators. Everything it does is
// derived from the world's start, so a resumed demo sets up exactly the same.
func (sc demoScenario) apply(sims *simulators) error {
	if sc.lcsThrottle {
		// LCS answers every fourth call with 429, and yesterday's mock cutover used two of
		// production's three database operations. Only API operations are throttled and the
		// refresh into production is started in the portal, so the count is shown and nothing
		// waits for it (dbmovement-api-throttling.md, dbmovement-operations.md).
		sims.lcs.ThrottleEvery(4, 20*time.Second)
		base := sims.world.StartedAt().Add(-24*time.Hour + 4*time.Hour + 30*time.Minute)
		for i := range 2 {
			start := base.Add(time.Duration(i) * 10 * time.Minute)
			if err := sims.lcs.AddHistory(lcssim.ProductionID, lcssim.HistoryEntry{Name: "Refresh database (mock cutover)",
				Type: lcssim.TypeRefreshProduction, TypeDisplay: "Refresh database", Start: start, End: start.Add(time.Hour)}); err != nil {
				return fmt.Errorf("lcs-throttle scenario: %w", err)
			}
		}
	}
	if sc.flaky {
		// Both SQL servers drop a few connections and answer some queries slowly, all night.
		for _, srv := range []*tdssim.Server{sims.sql.Source(), sims.sql.Target()} {
			for _, r := range []tdssim.Rule{
				{Name: "flaky network: connection dropped", Action: tdssim.FaultDropBeforeResponse, Probability: 0.02},
				{Name: "flaky network: login dropped", Action: tdssim.FaultDropDuringLogin, Probability: 0.05},
				{Name: "flaky network: slow query", Action: tdssim.FaultDelay, Delay: 1500 * time.Millisecond, Probability: 0.05},
			} {
				if _, err := srv.Faults().Add(r); err != nil {
					return fmt.Errorf("flaky-network scenario: %w", err)
				}
			}
		}
	}
	return nil
}

// demoSimsFile, in the demo's directory, holds what resuming an interrupted demo needs to bring
// the simulators back as they were.
const demoSimsFile = "simulators.json"

// demoSaved is the simulators' saved state: the world's configuration and start, every action
// taken on it, LCS's operations and counters, the simulated time reached and the addresses.
type demoSaved struct {
	Scenario   string          `json:"scenario"`
	Tables     int             `json:"tables"`
	WorldStart time.Time       `json:"world_start"`
	SimNow     time.Time       `json:"sim_now"`
	Source     string          `json:"source"`
	Target     string          `json:"target"`
	LCS        string          `json:"lcs"`
	Actions    []sqlsim.Action `json:"actions,omitempty"`
	LCSState   lcssim.Saved    `json:"lcs_state"`
}

// loadDemoSaved reads a demo directory's saved simulators (nil when there are none).
func loadDemoSaved(dir string) (*demoSaved, error) {
	path := filepath.Join(dir, demoSimsFile)
	// A crash during a save leaves its temporary file behind; the saved file itself is whole.
	if stale, _ := filepath.Glob(path + ".*.tmp"); len(stale) > 0 {
		for _, f := range stale {
			_ = os.Remove(f)
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the saved simulators: %w", err)
	}
	var sv demoSaved
	if err := json.Unmarshal(data, &sv); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if sv.WorldStart.IsZero() || sv.Tables == 0 {
		return nil, fmt.Errorf("%s: no world_start or tables: not a demo's saved simulators", path)
	}
	return &sv, nil
}

// resumeAt is the simulated time a resumed demo carries on from: just after the latest of the
// saved time, the last action and the journal's last record, so time never runs backwards.
func (sv *demoSaved) resumeAt(journalPath string) time.Time {
	t := sv.SimNow
	if n := len(sv.Actions); n > 0 && sv.Actions[n-1].At.After(t) {
		t = sv.Actions[n-1].At
	}
	for _, op := range sv.LCSState.Operations {
		if op.Start.After(t) {
			t = op.Start
		}
	}
	if c, err := journal.Read(journalPath); err == nil && len(c.Records) > 0 {
		if last := c.Records[len(c.Records)-1].Time; last.After(t) {
			t = last
		}
	}
	return t.Add(time.Second)
}

// demoSaver keeps the demo directory's saved simulators current: every action and LCS change
// is written (and synced) before the simulator answers, and the simulated time every half second.
type demoSaver struct {
	mu   sync.Mutex
	path string
	sv   demoSaved
	clk  clock.Clock
	err  error
}

func newDemoSaver(path string, sv *demoSaved, sims *simulators, clk clock.Clock) *demoSaver {
	s := &demoSaver{path: path, sv: *sv, clk: clk}
	s.sv.WorldStart = sims.world.StartedAt()
	s.sv.Source, s.sv.Target = sims.sql.Addr(sqlsim.EndpointSource), sims.sql.Addr(sqlsim.EndpointTarget)
	s.sv.LCS = strings.TrimPrefix(sims.lcsURL, "https://")
	s.sv.LCSState = sims.lcs.Save()
	sims.world.OnAction(func(a sqlsim.Action) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sv.Actions = append(s.sv.Actions, a)
		s.writeLocked()
	})
	sims.lcs.OnChange(func(st lcssim.Saved) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sv.LCSState = st
		s.writeLocked()
	})
	return s
}

func (s *demoSaver) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	return s.err
}

// writeLocked replaces the file atomically: a crash leaves the old or the new one, never half.
func (s *demoSaver) writeLocked() {
	if now := s.clk.Now(); now.After(s.sv.SimNow) {
		s.sv.SimNow = now
	}
	data, err := json.Marshal(s.sv)
	if err == nil {
		err = journal.WriteFileAtomic(s.path, data, 0o600)
	}
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("save the simulators: %w", err)
	}
}

func (s *demoSaver) run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = s.write()
			return
		case <-t.C:
			_ = s.write()
		}
	}
}

// demoWorld is the simulated world of the demo: a backlog that drains in minutes, a data upgrade of
// two hours, batch jobs that end within three minutes of the AOS stop.
func demoWorld(tables int, sc sqlsim.Scenario) sqlsim.Config {
	return sqlsim.Config{Tables: tables, Scenarios: sc, InitialBacklog: 300000, DrainRate: 1500, MaxStopWait: 3 * time.Minute,
		UpgradeDuration: 2 * time.Hour}
}

// writeDemoRunbook writes the simulated toolkit's ignore list and the demo runbook pointed at the
// simulators, and sets the simulators' passwords in this process's environment.
func writeDemoRunbook(dir string, sims *simulators) (string, error) {
	os.Setenv(sqlsim.PasswordEnv, sqlsim.Password)
	os.Setenv("CUTOVER_SIM_LCS_PASSWORD", lcssim.DefaultPassword)
	var ignore strings.Builder
	ignore.WriteString("<IgnoreTables><Name>\n")
	for _, t := range sims.world.Tables() {
		if t.Ignored {
			fmt.Fprintf(&ignore, "  <Table>%s</Table>\n", t.Name)
		}
	}
	ignore.WriteString("</Name></IgnoreTables>\n")
	ignoreFile := filepath.Join(dir, "IgnoreTables.xml")
	if err := os.WriteFile(ignoreFile, []byte(ignore.String()), 0o600); err != nil {
		return "", err
	}
	text, err := runbook.DemoRunbook(runbook.DemoSettings{Sections: sims.sql.RunbookSnippet() + sims.lcsSnippet() + demoAOSSection(sims) + demoNotify(), IgnoreFile: ignoreFile})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "demo.yaml")
	return path, os.WriteFile(path, text, 0o600)
}

// demoOperatorSteps are the demo runbook's manual steps the simulated operator does itself (also
// in a rehearsal run with --yes), with what they say they did.
var demoOperatorSteps = map[string]string{
	"upgrade-checklist": "ran every item of the AX 2012 pre-upgrade checklist; each shows completed",
	"start-snapshots":   "started each publication's snapshot in Replication Monitor, one at a time; each was delivered",
	"users-enable":      "enabled every user in System administration > Users > Users",
}

// demoAOSSection is the runbook's aos: section for the simulated AOS instances (the engine's
// service port is the simulator's; the templates are what a real runbook would say).
func demoAOSSection(sims *simulators) string {
	aos := "aos:\n  control: command\n  stop: [sc.exe, '\\\\{host}', stop, '{service}']\n  start: [sc.exe, '\\\\{host}', start, '{service}']\n  query: [sc.exe, '\\\\{host}', query, '{service}']\n" +
		"  stopped_pattern: 'STATE\\s+:\\s+1\\s+STOPPED'\n  stop_timeout: 15m\n  instances:\n"
	for _, a := range sims.world.AOS() {
		aos += fmt.Sprintf("    - {host: %s, service: %s}\n", a.Host, a.Service)
	}
	return aos
}

// demoOperator is the person at the Data Migration Toolkit's console and the LCS portal in the
// demo: when the runbook asks for a toolkit step, a refresh in the portal or a fix, they do it a
// little later, on the simulators. Each failure is fixed once; a second failure of the same step
// blocks the run as it would on the night.
type demoOperator struct {
	sims *simulators
	clk  clock.Clock
	// rollback: a failed data upgrade is not resumed (the rollback scenario).
	rollback bool
	// notices carries what the LCS client tells the operator (throttling) into the run's log.
	notices *engineNotices

	mu    sync.Mutex
	fixes map[string]fixState // step id → its fix
	did   map[string]bool     // step/attempt/state keys already acted on
}

type fixState int

const (
	fixNone fixState = iota
	fixUnderway
	fixDone
)

var demoActor = engine.Actor{Name: "toolkit operator (simulated)", Origin: "demo", Role: engine.RoleOperator}

// fix is the simulated fix of a failed step, or nil when the operator has none.
func (o *demoOperator) fix(ctx context.Context, e *engine.Engine, st engine.StepView) (string, func() error) {
	w := o.sims.world
	switch {
	case st.ID == "watch-upgrade" && w.UpgradeState().Failed && !o.rollback:
		return "fixed the failing script and chose Resume in the toolkit", func() error {
			if err := w.ResumeUpgrade(); err != nil {
				return err
			}
			return e.Retry(st.ID, demoActor)
		}
	case st.ID == "users-enabled" && !o.productionUsersEnabled():
		// After the refresh into production only Admin is enabled (database-refresh.md): the
		// administrator enables the users, then the check runs again.
		return "enabled the users in production (System administration > Users > Users)", func() error {
			if err := o.sims.lcs.EnableUsers(lcssim.ProductionID); err != nil {
				return err
			}
			return e.Retry(st.ID, demoActor)
		}
	case st.ID == "validate-counts" && w.Config().Scenarios.Has(sqlsim.ScenarioCountMismatch):
		return "published the mismatching table again (the toolkit's catch-up publication) and waited for its snapshot", func() error {
			table := w.Config().MismatchTable
			if w.Count(sqlsim.ActRedeliver) == 0 { // not already before a restart
				if err := w.Redeliver(table); err != nil {
					return err
				}
			}
			for {
				src, err1 := w.SourceRows(table)
				tgt, _, err2 := w.TargetRows(table)
				if err := errors.Join(err1, err2); err != nil {
					return err
				}
				if src == tgt {
					return e.Retry(st.ID, demoActor)
				}
				if err := clock.Sleep(ctx, o.clk, 30*time.Second); err != nil {
					return err
				}
			}
		}
	}
	return "", nil
}

// productionUsersEnabled reports whether every user of the simulated production is enabled.
func (o *demoOperator) productionUsersEnabled() bool {
	enabled, total := o.sims.lcs.EnabledUsers(lcssim.ProductionID)
	return enabled == total
}

// kindTask is what the simulated operator does for a running step of a kind that waits for a
// person (nil do: nothing): take the rollback backup once the AOS are down, start a snapshot that
// was never started.
func (o *demoOperator) kindTask(st engine.StepView) (what string, do func() error, done func() bool) {
	w := o.sims.world
	switch {
	case st.Kind == "backup.verify":
		since := st.FirstStarted
		taken := func() bool {
			return slices.ContainsFunc(w.Backups(), func(b sqlsim.BackupInfo) bool { return !b.Start.Before(since) })
		}
		return "started the rollback backup (BACKUP DATABASE … TO DISK … WITH CHECKSUM; it takes 25 minutes)", func() error {
			now := o.clk.Now()
			_, err := w.TakeBackup(w.Config().SourceDatabase, true, false, now, now.Add(25*time.Minute))
			return err
		}, taken
	case st.Kind == "replication.healthy" && len(w.UnstartedSnapshots()) > 0:
		pubs := w.UnstartedSnapshots()
		return "started the snapshot agent of " + strings.Join(pubs, ", ") + " in Replication Monitor", func() error {
			for _, p := range pubs {
				if err := w.StartSnapshot(p); err != nil {
					return err
				}
			}
			return nil
		}, func() bool { return len(w.UnstartedSnapshots()) == 0 }
	}
	return "", nil, nil
}

// Fixing implements helper: the run is blocked, and the operator is about to fix a failed step.
func (o *demoOperator) Fixing(s engine.Snapshot) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, st := range s.Steps {
		if st.State != engine.StateFailed || o.fixes[st.ID] == fixDone {
			continue
		}
		if what, _ := o.fix(context.Background(), nil, st); what != "" {
			return fmt.Sprintf("the simulated toolkit operator is fixing %s (%s)", st.ID, what)
		}
	}
	return ""
}

// Run implements helper: it follows the run's steps and acts on them.
func (o *demoOperator) Run(ctx context.Context, e *engine.Engine) {
	w := o.sims.world
	o.did = map[string]bool{}
	if o.notices != nil {
		o.notices.attach(e)
	}
	later := func(step, what string, do func() error, finished func()) {
		go func() {
			if clock.Sleep(ctx, o.clk, 2*time.Minute) != nil {
				return
			}
			err := do()
			if finished != nil {
				finished()
			}
			if err != nil {
				e.Logf(engine.LevelWarn, step, "simulated operator: %s: %v", what, err)
				return
			}
			e.Logf(engine.LevelInfo, step, "simulated operator: %s", what)
		}()
	}
	handle := func(st engine.StepView) {
		key := fmt.Sprintf("%s/%d/%s", st.ID, st.Attempt, st.State)
		if o.did[key] {
			return
		}
		if st.State == engine.StateFailed {
			o.mu.Lock()
			what, do := o.fix(ctx, e, st)
			if do == nil || o.fixes[st.ID] != fixNone {
				o.mu.Unlock()
				return
			}
			o.fixes[st.ID] = fixUnderway
			o.mu.Unlock()
			o.did[key] = true
			later(st.ID, what, do, func() {
				o.mu.Lock()
				o.fixes[st.ID] = fixDone
				o.mu.Unlock()
			})
			return
		}
		if o.rollback && st.ID == "rollback-upgrade" && st.State == engine.StateAwaiting && st.Confirmation != nil {
			// The rollback scenario: rather than the toolkit's rollback of the sandbox (or Resume),
			// the team goes back to AX 2012 — a no-go here, then the rollback runbook.
			o.did[key] = true
			later(st.ID, "said no-go to the toolkit's rollback: the team goes back to AX 2012", func() error {
				return e.Decline(st.ID, st.Confirmation.Request, demoActor, "the business decided to go back to AX 2012 (rollback runbook)")
			}, nil)
			return
		}
		if st.State != engine.StateRunning {
			return
		}
		// done says the operator did it already (before the demo was interrupted and resumed):
		// a person at the console does not run a menu step twice.
		what, do, done := o.kindTask(st)
		switch st.ID {
		case "toolkit-nopk":
			what, do = "ran «Cutover: Setup Publication for Non PK Tables» and started the snapshots", w.CreateNoPKPublication
			done = func() bool { return w.Count(sqlsim.ActCreateNoPK) > 0 }
		case "toolkit-remove-replication":
			what, do = "ran «Cutover: Remove replication setup»", w.RemoveReplication
			done = w.ReplicationRemoved
		case "toolkit-replicated":
			what, do = "ran «Post-replication: Update environment state to Replicated»", w.MarkReplicated
			done = w.Replicated
		case "toolkit-env-setup":
			// Nothing here shows its effect (the source validated, its IP allow-listed on the
			// sandbox): the operator marks the step done when the toolkit says it completed.
			what, do = "ran «Environment preparation: Environment setup activity»; the toolkit reports it completed", func() error {
				if cur, _ := e.Snapshot().Step(st.ID); cur.State != engine.StateRunning {
					return nil
				}
				_, err := e.MarkDone(st.ID, demoActor, "the toolkit reports «Environment setup activity» completed", "")
				return err
			}
			done = func() bool { cur, _ := e.Snapshot().Step(st.ID); return cur.State.Done() }
		case "trigger-upgrade":
			what, do = "ran «Data Synchronise: Trigger Transformation»", w.TriggerUpgrade
			done = func() bool { return w.UpgradeState().Triggered }
		case "production-refresh":
			what, do = "started the refresh in the LCS portal (production → Maintain → Move database → Refresh database)", func() error {
				_, err := o.sims.lcs.StartPortalRefresh(lcssim.SandboxID, lcssim.ProductionID)
				return err
			}
			done = func() bool { return o.sims.lcs.Stats().PortalRefreshes[lcssim.ProductionID] > 0 }
		case "upgrade-checklist", "start-snapshots":
			// The simulated world was set up "the prior weekend": the checklist was run and the
			// snapshots delivered; the operator says so.
			what, do = demoOperatorSteps[st.ID], func() error {
				if cur, _ := e.Snapshot().Step(st.ID); cur.State != engine.StateRunning {
					return nil
				}
				_, err := e.MarkDone(st.ID, demoActor, demoOperatorSteps[st.ID], "")
				return err
			}
			done = func() bool { cur, _ := e.Snapshot().Step(st.ID); return cur.State.Done() }
		case "users-enable":
			// The manual step of enabling production's users after the refresh: the operator does
			// it in the simulated environment and marks the step done.
			what, do = "enabled the users in production (System administration > Users > Users)", func() error {
				if err := o.sims.lcs.EnableUsers(lcssim.ProductionID); err != nil {
					return err
				}
				if cur, _ := e.Snapshot().Step(st.ID); cur.State != engine.StateRunning {
					return nil
				}
				_, err := e.MarkDone(st.ID, demoActor, demoOperatorSteps[st.ID], "")
				return err
			}
			done = o.productionUsersEnabled
		default:
			if do == nil {
				return
			}
		}
		o.did[key] = true
		if done() {
			e.Logf(engine.LevelInfo, st.ID, "simulated operator: already done before the restart: %s", what)
			return
		}
		later(st.ID, what, func() error {
			if done() {
				return nil
			}
			return do()
		}, nil)
	}
	snap, events := e.Subscribe(ctx)
	for _, st := range snap.Steps {
		handle(st)
	}
	for {
		ev, ok := <-events
		if !ok {
			return
		}
		switch ev := ev.(type) {
		case engine.StepChanged:
			handle(ev.Step)
		case engine.Resync:
			snap, events = e.Subscribe(ctx)
			for _, st := range snap.Steps {
				handle(st)
			}
		}
	}
}

func cmdReport(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("report", "[-f FILE] [--state DIR] [--format md|html] [-o PATH [--sign KEY]] [--baseline JOURNAL] | --verify PATH [--team FILE]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE` (default: the one the journal in --state was run with)")
	state := fs.String("state", "", "state `DIR` holding the journal; default .cutover beside the runbook")
	format := fs.String("format", "", "md or html (default: from -o's extension, else md)")
	out := fs.String("o", "", "write to `PATH` instead of standard output")
	baseline := fs.String("baseline", "", "compare with an earlier run: its `JOURNAL` or state directory (default: the runbook's baseline:)")
	sign := fs.String("sign", "", "sign the report with the SSH `KEY` (a private key file, or a .pub whose key ssh-agent holds) into PATH.sig, as ssh-keygen -Y sign does")
	verify := fs.String("verify", "", "check the signature PATH.sig of the report `PATH` and name the signer from the team file")
	team := fs.String("team", "", "team `FILE` naming the signers' keys (with --verify); default cutover-team.keys beside the runbook")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *verify != "" {
		return verifyReport(*verify, *team, *file, stdout, stderr)
	}
	if *sign != "" && *out == "" {
		fmt.Fprintln(stderr, "cutover report: --sign needs -o PATH: the signature is written beside the report, to PATH.sig")
		return exitUsage
	}
	explicitFile := false
	fs.Visit(func(f *flag.Flag) { explicitFile = explicitFile || f.Name == "f" })
	path := *file
	if !explicitFile && *state != "" {
		// The journal remembers its runbook (a demo's lives beside its state directory).
		if c, _, err := journal.ReadEvidence(filepath.Join(*state, journal.FileName)); err == nil && len(c.Records) > 0 {
			var ro engine.RunOpened
			if c.Records[0].Decode(&ro) == nil && ro.Runbook != "" {
				path = ro.Runbook
			}
		}
	}
	opts := parseOptions()
	opts.SkipSecretChecks = true // a report reads the journal; it signs in nowhere
	rb, err := runbook.Load(path, opts)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: %v\n", err)
		return exitFail
	}
	switch *format {
	case "":
		*format = "md"
		if ext := strings.ToLower(filepath.Ext(*out)); ext == ".html" || ext == ".htm" {
			*format = "html"
		}
	case "md", "markdown":
		*format = "md"
	case "html":
	default:
		fmt.Fprintf(stderr, "cutover report: --format %q: want md or html\n", *format)
		return exitUsage
	}
	r, err := report.Build(report.Options{Runbook: rb, Journal: filepath.Join(stateDirFor(path, *state), journal.FileName), Baseline: *baseline})
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: %v\n", err)
		return exitFail
	}
	var buf bytes.Buffer
	if *format == "html" {
		err = r.HTML(&buf)
	} else {
		err = r.Markdown(&buf)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: %v\n", err)
		return exitFail
	}
	if *out == "" {
		_, _ = stdout.Write(buf.Bytes())
	} else if err := journal.WriteFileAtomic(*out, buf.Bytes(), 0o600); err != nil {
		fmt.Fprintf(stderr, "cutover report: %v\n", err)
		return exitFail
	} else {
		fmt.Fprintf(stdout, "report written to %s\n", *out)
	}
	if !r.Integrity.Verified {
		fmt.Fprintf(stderr, "cutover report: %s\n", r.Integrity.Banner())
		if *sign != "" {
			fmt.Fprintln(stderr, "cutover report: not signed: the journal fails verification")
		}
		return exitFail
	}
	if *sign != "" {
		return signReport(*out, buf.Bytes(), *sign, stdout, stderr)
	}
	return exitOK
}

// signReport signs the report written to path with the SSH key named by key, into path.sig.
func signReport(path string, data []byte, key string, stdout, stderr io.Writer) int {
	var ask func(string) ([]byte, error)
	if term.IsTerminal(int(os.Stdin.Fd())) {
		ask = readHidden
	}
	signer, err := report.LoadSigner(key, os.Getenv("SSH_AUTH_SOCK"), ask)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: not signed: %v\n", err)
		return exitFail
	}
	sig, err := report.Sign(data, signer)
	if err == nil {
		err = journal.WriteFileAtomic(path+report.SignatureExt, sig, 0o600)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: not signed: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "signed with %s into %s%s\ncheck it: cutover report --verify %s  (or: ssh-keygen -Y verify -f ALLOWED_SIGNERS -I NAME -n %s -s %s%s < %s)\n",
		report.KeyName(signer.PublicKey()), path, report.SignatureExt, path, report.SignatureNamespace, path, report.SignatureExt, path)
	return exitOK
}

// verifyReport checks a signed report and names its signer from the team file.
func verifyReport(path, teamFile, runbookFile string, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: %v\n", err)
		return exitFail
	}
	armored, err := os.ReadFile(path + report.SignatureExt)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: no signature beside the report: %v\n", err)
		return exitFail
	}
	pub, err := report.VerifySignature(data, armored)
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: BAD SIGNATURE on %s: %v\n", path, err)
		return exitFail
	}
	// Anyone can sign with a key of their own: the signature counts only from a team member.
	teamFile = teamPath(runbookFile, teamFile)
	t, err := team.Load(teamFile, team.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "cutover report: the signature matches the report, but nothing says whose key %s is: %v (give the team file with --team FILE)\n", report.KeyName(pub), err)
		return exitFail
	}
	m, ok := t.Lookup(pub)
	if !ok {
		fmt.Fprintf(stderr, "cutover report: the signature is good, but its key %s is not in %s: someone outside the team signed it\n", report.KeyName(pub), teamFile)
		return exitFail
	}
	fmt.Fprintf(stdout, "good signature on %s by %s (%s, %s; %s line %d)\n", path, m.Name, m.Role, report.KeyName(pub), teamFile, m.Line)
	return exitOK
}

// cmdStep records an operator's action on one step while no cockpit runs. It obeys the engine's
// guard rule: a guarded step (destructive, a gate, confirm: or approvals:) is skipped or marked
// done only with its phrase (--phrase "SKIP ID" / "DONE ID"), as one approval of the person at
// this terminal. A step that needs more than one operator is refused outright and nothing is
// journaled: a one-shot command is one person, and cannot show a second operator what the first
// asked for; such a step is skipped or marked done in the cockpit, where each operator approves
// from their own session. A retry of a guarded step asks for its confirmation again when the
// cockpit runs; it takes no phrase here.
func cmdStep(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("step", "done|skip|retry ID [--reason TEXT] [--phrase PHRASE] [-f FILE] [--state DIR]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE`")
	state := fs.String("state", "", "state `DIR`; default .cutover beside the runbook")
	reason := fs.String("reason", "", "why (required for done and skip)")
	phrase := fs.String("phrase", "", "for done or skip of a guarded step (destructive, a gate, confirm: or approvals:): type `PHRASE` exactly, \"DONE ID\" or \"SKIP ID\"")
	as := fs.String("as", "", "operator `NAME` to record (default: your login name)")
	if len(args) < 2 {
		fs.Usage()
		return exitUsage
	}
	verb, id := args[0], args[1]
	if verb != "done" && verb != "skip" && verb != "retry" {
		fmt.Fprintf(stderr, "cutover step: unknown action %q (use done, skip or retry)\n", verb)
		return exitUsage
	}
	if code, ok := parse(fs, args[2:], stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cutover step: unexpected argument %q (a reason with spaces goes in quotes: --reason \"...\")\n", fs.Arg(0))
		return exitUsage
	}
	if verb == "retry" && *phrase != "" {
		fmt.Fprintln(stderr, "cutover step retry: takes no --phrase: a guarded step asks for its confirmation again when the cockpit runs, and is confirmed there")
		return exitUsage
	}
	rb, ok := loadRunbook(*file, stderr)
	if !ok {
		return exitFail
	}
	e, err := engine.New(rb, engine.Options{StateDir: stateDirFor(*file, *state), Kinds: registry(), Version: version, Command: "cutover step " + verb})
	if err != nil {
		fmt.Fprintf(stderr, "cutover: %v\n", err)
		return exitFail
	}
	if err := e.Open(); err != nil {
		fmt.Fprintf(stderr, "cutover: %s\n", journal.Describe(err))
		return exitFail
	}
	defer e.Stop("step " + verb)
	actor := engine.LocalOperator(*as, "")
	if st, ok := e.Snapshot().Step(id); ok && st.Guard != nil && st.Guard.Needed > 1 && verb != "retry" {
		fmt.Fprintf(stderr, "cutover step %s %s: refused, nothing recorded: %s is guarded and needs %d operators to approve; cutover step acts for one person. "+
			"Start the cockpit (cutover run, with --listen for the team) and approve it there, each operator from their own session, typing %q\n",
			verb, id, id, st.Guard.Needed, st.Guard.PhraseFor(engine.OverrideAction(verb)))
		return exitFail
	}
	var res engine.ConfirmResult
	switch verb {
	case "done":
		res, err = e.MarkDone(id, actor, *reason, *phrase)
	case "skip":
		res, err = e.Skip(id, actor, *reason, *phrase)
	default:
		err = e.Retry(id, actor)
		res.Satisfied = true
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover step %s %s: %v\n", verb, id, err)
		return exitFail
	}
	if !res.Satisfied {
		// Not reached while more than one approval is refused above; said plainly if it ever is.
		fmt.Fprintf(stderr, "cutover step %s %s: your approval is %d of %d; it is not %s until another operator approves\n", verb, id, res.Count, res.Needed, verb)
		return exitFail
	}
	st, _ := e.Snapshot().Step(id)
	fmt.Fprintf(stdout, "%s: %s (journaled as %s)\n", id, st.State, actor)
	if verb == "retry" && st.Guard != nil {
		fmt.Fprintf(stdout, "%s asks for its confirmation again when the cockpit runs: type %q (%d operator(s))\n", id, st.Guard.Phrase, st.Guard.Needed)
	}
	return exitOK
}

func cmdJournal(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "show") {
		fmt.Fprintln(stderr, "Usage: cutover journal verify|show [-f FILE | --state DIR | JOURNAL]")
		return exitUsage
	}
	verb := args[0]
	fs := newFlags("journal "+verb, "[-f FILE | --state DIR | JOURNAL]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE` (its state directory holds the journal)")
	state := fs.String("state", "", "state `DIR`")
	if code, ok := parse(fs, args[1:], stdout); !ok {
		return code
	}
	path := filepath.Join(stateDirFor(*file, *state), journal.FileName)
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if verb == "show" {
		return showJournal(path, stdout, stderr)
	}
	rep, err := journal.Verify(path)
	if err != nil {
		fmt.Fprintf(stderr, "cutover journal verify: %v\n", err)
		return exitFail
	}
	if rep.Torn != nil {
		fmt.Fprintf(stdout, "%s: line %d is incomplete (%d bytes, a crash during a write); it is ignored and dropped on the next start\n", path, rep.Torn.Line, rep.Torn.Bytes)
	}
	if rep.Bad != nil {
		fmt.Fprintf(stdout, "%s: FAILED at line %d: %s\n", path, rep.Bad.Line, rep.Bad.Reason)
		fmt.Fprintf(stdout, "  %d line(s) before it verify; everything from line %d on cannot be trusted\n", rep.Bad.Line-1, rep.Bad.Line)
		return exitFail
	}
	anchorPath := filepath.Join(filepath.Dir(path), journal.AnchorFileName)
	switch rep.AnchorStatus {
	case journal.AnchorMismatch:
		fmt.Fprintf(stdout, "%s: FAILED: %s\n", path, rep.Tail.Reason)
		fmt.Fprintf(stdout, "  its %d line(s) chain correctly, but it does not end where %s says\n", rep.Records, anchorPath)
		return exitFail
	case journal.AnchorUnreadable:
		fmt.Fprintf(stdout, "%s: FAILED: %s has no readable slot, so where the journal should end is unknown\n", path, anchorPath)
		return exitFail
	case journal.AnchorMissing:
		if fs.NArg() == 0 && rep.Records > 0 {
			// A state directory's journal is always anchored: a missing anchor hides a cut or added tail.
			fmt.Fprintf(stdout, "%s: FAILED: there is no %s beside it, so lines cut from its end or added to it cannot be detected\n", path, anchorPath)
			fmt.Fprintln(stdout, "  (a journal written before anchoring is anchored on the engine's next start)")
			return exitFail
		}
	}
	fmt.Fprintf(stdout, "%s: OK, %d records hash-chained", path, rep.Records)
	if rep.Records > 0 {
		fmt.Fprintf(stdout, " from %s to %s", rep.First.Local().Format(time.DateTime), rep.Last.Local().Format(time.DateTime))
	}
	fmt.Fprintf(stdout, "\n  head sha256 %s\n", rep.Head)
	switch {
	case rep.AnchorStatus == journal.AnchorMissing:
		fmt.Fprintf(stdout, "  no %s beside it: whether lines were cut from its end or added cannot be checked\n", journal.AnchorFileName)
	case rep.CrashLine != 0:
		fmt.Fprintf(stdout, "  ends one line after its anchor: line %d was written as the engine stopped, before its anchor (kept on the next start)\n", rep.CrashLine)
	case rep.Anchor.Closed:
		fmt.Fprintf(stdout, "  ends at its anchor (line %d, closed cleanly)\n", rep.Anchor.Seq)
	default:
		fmt.Fprintf(stdout, "  ends at its anchor (line %d; the engine is running, or stopped without closing it)\n", rep.Anchor.Seq)
	}
	return exitOK
}

func showJournal(path string, stdout, stderr io.Writer) int {
	recs, torn, err := journal.ReadAll(path)
	if err != nil {
		fmt.Fprintf(stderr, "cutover journal show: %s\n", journal.Describe(err))
		return exitFail
	}
	for _, r := range recs {
		data := string(r.Data)
		if len(data) > 160 {
			data = data[:157] + "..."
		}
		fmt.Fprintf(stdout, "%5d %s %-22s %-24s %s\n", r.Seq, r.Time.Local().Format("2006-01-02 15:04:05"), r.Type, r.Step, data)
	}
	if torn != nil {
		fmt.Fprintf(stdout, "(line %d incomplete: %d bytes)\n", torn.Line, torn.Bytes)
	}
	return exitOK
}

// demoSpeedEnv passes the demo's --speed to its simulated tasks.
const demoSpeedEnv = "CUTOVER_DEMO_SPEED"

// cmdValidate runs a record-count validation once, with the rules of the runbook's first
// validate.counts step.
func cmdValidate(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[-f FILE] [--csv | --json]", stderr)
	file := fs.String("f", runbook.DefaultFile, "runbook `FILE` (its connections, and its validate.counts step's rules)")
	asCSV := fs.Bool("csv", false, "write every table as CSV")
	asJSON := fs.Bool("json", false, "write the whole result as JSON")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if *asCSV && *asJSON {
		fmt.Fprintln(stderr, "cutover validate: choose --csv or --json")
		return exitUsage
	}
	rb, ok := loadRunbook(*file, stderr)
	if !ok {
		return exitFail
	}
	rules := engine.ValidationRules{Recount: true, Concurrency: 4}
	for _, s := range rb.Steps {
		if r, ok := s.Spec.(interface{ Rules() engine.ValidationRules }); ok && s.Kind == "validate.counts" {
			rules = r.Rules()
			break
		}
	}
	sp, err := openSQL(rb, stderr)
	if err != nil || sp == nil || sp.src == nil || sp.tgt == nil {
		if err == nil {
			err = errors.New("the runbook needs connections source and target")
		}
		fmt.Fprintf(stderr, "cutover validate: %v\n", err)
		return exitFail
	}
	defer sp.Close()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	pending := map[string]int64{}
	if sp.dist != nil {
		if backlog, err := sp.Backlog(ctx); err == nil {
			for _, b := range backlog {
				pending[strings.ToUpper(b.Article)] += b.Pending
			}
		} else {
			fmt.Fprintf(stderr, "cutover validate: backlog unknown (%v); differences count as mismatches\n", err)
		}
	}
	v, err := engine.Validate(ctx, sp, rules, pending, time.Now(), func(done, total int) {
		fmt.Fprintf(stderr, "\rrecounting exactly: %d of %d", done, total)
		if done == total {
			fmt.Fprintln(stderr)
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "cutover validate: %v\n", err)
		return exitFail
	}
	switch {
	case *asCSV:
		err = v.WriteCSV(stdout)
	case *asJSON:
		err = v.WriteJSON(stdout)
	default:
		fmt.Fprintf(stdout, "%d tables: %s\n", len(v.Tables), v.Summary())
		for _, t := range v.Tables {
			if t.Class == engine.ClassMatch || t.Class == engine.ClassIgnored {
				continue
			}
			exact := ""
			if t.Exact {
				exact = " (exact)"
			}
			fmt.Fprintf(stdout, "  %-32s %-20s source %12d  target %12d  Δ %10d  pending %8d%s %s\n",
				t.Table, t.Class, t.Source, t.Target, t.Delta, t.Pending, exact, t.Reason)
		}
		if v.Passed {
			fmt.Fprintln(stdout, "OK: every table matches, is ignored, or differs as expected")
		} else {
			fmt.Fprintf(stdout, "FAILED: %d table(s) do not match\n", len(v.Failing()))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "cutover validate: %v\n", err)
		return exitFail
	}
	if !v.Passed {
		return exitFail
	}
	return exitOK
}

// cmdDemoTask is a stand-in for real work in the demo runbook: it prints progress lines, can fail
// its first attempts, and works the same on every operating system.
func cmdDemoTask(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("demo-task", "--name TEXT [--steps N] [--interval D] [--fail-attempts N]", stderr)
	name := fs.String("name", "task", "what the task pretends to do")
	steps := fs.Int("steps", 3, "progress lines to print")
	interval := fs.Duration("interval", 200*time.Millisecond, "time between lines")
	failAttempts := fs.Int("fail-attempts", 0, "fail this many first attempts (reads CUTOVER_ATTEMPT)")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	attempt := 1
	fmt.Sscan(os.Getenv("CUTOVER_ATTEMPT"), &attempt)
	pause := *interval
	if speed, err := strconv.ParseFloat(os.Getenv(demoSpeedEnv), 64); err == nil && speed >= 1 {
		pause = time.Duration(float64(pause) / speed)
	}
	for i := 1; i <= *steps; i++ {
		fmt.Fprintf(stdout, "%s: %d/%d\n", *name, i, *steps)
		time.Sleep(pause)
	}
	if attempt <= *failAttempts {
		fmt.Fprintf(stderr, "%s: simulated failure on attempt %d\n", *name, attempt)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: done\n", *name)
	return exitOK
}

// ---------------------------------------------------------------------------------------------
// Wiring: the engine's ports from the runbook's connections, LCS and AOS sections.

// secret reads a password from an environment variable or a file (relative to dir).
func secret(dir, env, file string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return v, nil
	case file != "":
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

// lcsClient builds the LCS client for the runbook's lcs section; prompts (device code) go to out.
func lcsClient(rb *runbook.Runbook, stateDir string, httpClient *http.Client, clk lcs.Clock, out io.Writer) (*lcs.Client, error) {
	l := rb.LCS
	mode, err := lcs.ParseAuthMode(strings.TrimSuffix(string(l.Auth), "-env"))
	if err != nil {
		return nil, err
	}
	auth := lcs.Auth{Mode: mode, TenantID: l.TenantID, ClientID: l.ClientID, Username: l.Username, CacheDir: stateDir,
		TokenEnv: l.TokenEnv, Authority: l.AuthorityURL, DisableInstanceDiscovery: l.AuthorityURL != "",
		OnDeviceCode: func(p lcs.DeviceCodePrompt) { fmt.Fprintf(out, "LCS sign-in: %s\n", p.Message) }}
	if auth.Password, err = secret(rb.Dir, l.PasswordEnv, l.PasswordFile); err != nil {
		return nil, fmt.Errorf("lcs password: %w", err)
	}
	if auth.ClientSecret, err = secret(rb.Dir, l.ClientSecretEnv, l.ClientSecretFile); err != nil {
		return nil, fmt.Errorf("lcs client secret: %w", err)
	}
	if httpClient == nil && l.Certificate != "" {
		if httpClient, err = trusting(rb.Dir, l.Certificate); err != nil {
			return nil, err
		}
	}
	// What the operator should see (throttling waits, warnings) goes to out as one plain line.
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		}}))
	return lcs.NewClient(lcs.Config{Region: l.Region, BaseURL: l.BaseURL, ProjectID: l.ProjectID, Auth: auth, HTTPClient: httpClient, Clock: clk, Logger: logger})
}

// lcsClock runs the LCS client on the engine's clock (the demo's scaled time).
type lcsClock struct{ c clock.Clock }

func (l lcsClock) Now() time.Time                                   { return l.c.Now() }
func (l lcsClock) Sleep(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, l.c, d) }

// trusting is an HTTP client that trusts the system's CAs plus the certificate in file.
func trusting(dir, file string) (*http.Client, error) {
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("lcs certificate: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("lcs certificate: %s holds no PEM certificate", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

// lcsPort adapts the LCS client to the engine's LCS port.
type lcsPort struct{ c *lcs.Client }

func (p lcsPort) Environment(ctx context.Context, env string) (engine.LCSEnvironment, error) {
	e, err := p.c.Environment(ctx, env)
	if err != nil {
		return engine.LCSEnvironment{}, err
	}
	return engine.LCSEnvironment{ID: e.ID, Name: e.Name, Type: string(e.Type), State: string(e.DeploymentStatus),
		Infrastructure: e.Infrastructure, ApplicationRelease: e.ApplicationReleaseName, ApplicationBuild: e.ApplicationBuildVersion,
		PlatformRelease: e.PlatformReleaseName, PlatformVersion: e.PlatformVersion, Topology: e.TopologyDisplayName,
		Location: e.CloudStorageLocation, EndpointBaseURL: e.EndpointBaseURL, Unread: append([]string(nil), e.Notes...)}, nil
}

func (p lcsPort) StartRefresh(ctx context.Context, source, target string) (string, error) {
	op, err := p.c.RefreshDatabase(ctx, source, target)
	if errors.Is(err, lcs.ErrOutcomeUnknown) {
		return "", fmt.Errorf("%w: %w", engine.ErrOutcomeUnknown, err)
	}
	return lcs.NormalizeID(op.ActivityID), err
}

// lcsOperation is an operation for the engine. Its activity id is written one way
// (lcs.NormalizeID: the history shows ids undashed where the refresh's answer and the status
// endpoint show them dashed), so the engine finds an operation it journaled in the history, and
// asks for its status with the dashed id the get-status document shows.
func lcsOperation(id, name, typ string, status lcs.OperationStatus, start, end time.Time) engine.LCSOperation {
	return engine.LCSOperation{ActivityID: lcs.NormalizeID(id), Name: name, Type: typ, Status: string(status), Terminal: status.IsTerminal(),
		Succeeded: status.Succeeded(), Started: start, Ended: end}
}

func (p lcsPort) Operation(ctx context.Context, env, activity string) (engine.LCSOperation, error) {
	r, err := p.c.OperationStatus(ctx, env, activity)
	if err != nil {
		return engine.LCSOperation{}, err
	}
	return lcsOperation(r.ActivityID, "", "", r.Status, time.Time{}, r.CompletionDate), nil
}

func (p lcsPort) History(ctx context.Context, env string) ([]engine.LCSOperation, error) {
	h, err := p.c.EnvironmentHistory(ctx, env)
	out := make([]engine.LCSOperation, 0, len(h))
	for _, e := range h {
		out = append(out, lcsOperation(e.ActivityID, e.Name, e.Type+" "+e.TypeDisplay, e.Status, e.Start, e.End))
	}
	return out, err
}

func (p lcsPort) Quota(ctx context.Context, env string) (engine.LCSQuota, error) {
	q, err := p.c.DatabaseMovementQuota(ctx, env)
	out := engine.LCSQuota{Used: q.Used, Remaining: q.Remaining, NextSlot: q.NextSlot}
	for _, h := range q.Counted {
		out.Leaves = append(out.Leaves, h.Start.Add(q.Window))
	}
	return out, err
}

// lcsTokens adapts the LCS client's Entra ID sign-in to the engine's Tokens port.
type lcsTokens struct{ c *lcs.Client }

// Token asks for the resource's default scope.
func (p lcsTokens) Token(ctx context.Context, resource string) (string, error) {
	return p.c.Token(ctx, strings.TrimRight(resource, "/")+"/.default")
}

// buildPorts fills the ports the caller left empty from the runbook. The returned function closes
// what was opened.
func buildPorts(rb *runbook.Runbook, stateDir string, ports *engine.Ports, prompts, notices io.Writer) (func(), error) {
	if ports.Services == nil {
		svc, err := services(rb)
		if err != nil {
			return nil, err
		}
		ports.Services = svc
	}
	var closers []func()
	if ports.Replication == nil {
		sp, err := openSQL(rb, prompts)
		if err != nil {
			return nil, err
		}
		if sp != nil {
			closers = append(closers, sp.Close)
			if sp.src != nil && sp.dist != nil && sp.tgt != nil {
				ports.Replication = sp
			}
			ports.AX, ports.Tracers, ports.Counts, ports.Upgrade, ports.Preflight, ports.SQL, ports.Publications = sp, sp, sp, sp, sp, sp, sp
			ports.Deliveries = sp
			if sp.src != nil {
				ports.Setup, ports.Backups = sp, sp
			}
		}
	}
	if ports.LCS == nil && rb.LCS != nil {
		c, err := lcsClient(rb, stateDir, nil, nil, notices)
		if err != nil {
			return nil, fmt.Errorf("lcs: %w", err)
		}
		ports.LCS = lcsPort{c}
	}
	// The smoke.http steps with entra: true sign in with the lcs section's account and app.
	if p, ok := ports.LCS.(lcsPort); ok && ports.Tokens == nil {
		ports.Tokens = lcsTokens(p)
	}
	return func() {
		for _, c := range closers {
			c()
		}
	}, nil
}

// sqlPorts adapts the SQL Server connections to the engine's ports.
type sqlPorts struct {
	src, dist, tgt *sql.DB
	axDB           string
	// master is a pool on the source server's master database, opened when first needed: backups
	// and restores go through it, so cutover holds no connection to the AX database a RESTORE
	// would have to wait for.
	masterMu sync.Mutex
	master   *sql.DB
}

// masterDB is the pool on the source server's master database.
func (p *sqlPorts) masterDB() (*sql.DB, error) {
	if err := need(p.src, "source"); err != nil {
		return nil, err
	}
	p.masterMu.Lock()
	defer p.masterMu.Unlock()
	if p.master == nil {
		m, err := p.src.OnDatabase("master")
		if err != nil {
			return nil, err
		}
		p.master = m
	}
	return p.master, nil
}

// backupErr translates the meaning sql gives a RESTORE error into the engine's terms.
func backupErr(err error) error {
	switch {
	case err == nil:
		return nil
	case sql.IsDatabaseInUse(err):
		return fmt.Errorf("%w: %w", engine.ErrDatabaseInUse, err)
	case sql.IsBackupUnreadable(err):
		return fmt.Errorf("%w: %w", engine.ErrBackupUnreadable, err)
	case sql.IsPermission(err):
		return engine.Permanent(err)
	}
	return err
}

// FullBackups lists the newest full backups of database in msdb.
func (p *sqlPorts) FullBackups(ctx context.Context, database string) ([]engine.BackupSet, error) {
	m, err := p.masterDB()
	if err != nil {
		return nil, err
	}
	sets, err := m.FullBackups(ctx, database)
	if err != nil {
		return nil, backupErr(err)
	}
	out := make([]engine.BackupSet, len(sets))
	for i, s := range sets {
		out[i] = engine.BackupSet{ID: s.ID, Position: s.Position, Start: s.Start, Finish: s.Finish, ZoneKnown: s.ZoneKnown, CopyOnly: s.CopyOnly,
			Checksums: s.Checksums, Damaged: s.Damaged, Size: s.Size, LastLSN: s.LastLSN, CheckpointLSN: s.CheckpointLSN}
		for _, d := range s.Devices {
			out[i].Devices = append(out[i].Devices, engine.BackupDevice{Path: d.Path, Disk: d.Type == sql.DeviceDisk, Type: d.Type.String()})
		}
	}
	return out, nil
}

// VerifyBackup runs RESTORE VERIFYONLY on master.
func (p *sqlPorts) VerifyBackup(ctx context.Context, device string, position int, checksum bool) error {
	m, err := p.masterDB()
	if err != nil {
		return err
	}
	return backupErr(m.VerifyBackup(ctx, device, position, checksum))
}

// Restore runs RESTORE DATABASE on master, after closing cutover's own idle connections to the
// database.
func (p *sqlPorts) Restore(ctx context.Context, database, device string, position int, replace, checksum bool) error {
	m, err := p.masterDB()
	if err != nil {
		return err
	}
	if strings.EqualFold(database, p.src.Config().Database) {
		p.src.CloseIdle()
	}
	return backupErr(m.RestoreDatabase(ctx, database, device, position, replace, checksum))
}

// DatabaseState reads a database's state in sys.databases.
func (p *sqlPorts) DatabaseState(ctx context.Context, database string) (engine.DatabaseState, error) {
	m, err := p.masterDB()
	if err != nil {
		return engine.DatabaseState{}, err
	}
	st, err := m.DatabaseState(ctx, database)
	return engine.DatabaseState{Exists: st.Exists, State: st.State, UserAccess: st.UserAccess}, err
}

// Restores lists the newest restores of database in msdb.
func (p *sqlPorts) Restores(ctx context.Context, database string) ([]engine.RestoreRecord, error) {
	m, err := p.masterDB()
	if err != nil {
		return nil, err
	}
	rs, err := m.Restores(ctx, database)
	out := make([]engine.RestoreRecord, len(rs))
	for i, r := range rs {
		out[i] = engine.RestoreRecord{ID: r.ID, At: r.At, BackupSetID: r.BackupSetID, Replace: r.Replace, Devices: r.Devices}
	}
	return out, err
}

// promptPassword asks for a connection's password on the terminal (without echo).
func promptPassword(c *runbook.Connection) (string, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", fmt.Errorf("connections.%s asks for its password on the terminal (password_prompt), but there is none; use password_env or password_file", c.Role)
	}
	b, err := readHidden(fmt.Sprintf("password for %s@%s/%s (connections.%s): ", c.User, c.Server, c.Database, c.Role))
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), nil
}

// readHidden asks on the terminal (prompt on stderr, the answer from stdin, not echoed).
func readHidden(prompt string) ([]byte, error) {
	fmt.Fprint(os.Stderr, prompt)
	defer fmt.Fprintln(os.Stderr)
	return term.ReadPassword(int(os.Stdin.Fd()))
}

// sqlConfig turns a runbook connection into a client configuration, reading its secret.
func sqlConfig(dir string, c *runbook.Connection) (sql.Config, error) {
	pw, err := secret(dir, c.PasswordEnv, c.PasswordFile)
	if err == nil && c.PasswordPrompt {
		pw, err = promptPassword(c)
	}
	if err != nil {
		return sql.Config{}, fmt.Errorf("connections.%s: %w", c.Role, err)
	}
	cert := c.Certificate
	if cert != "" && !filepath.IsAbs(cert) {
		cert = filepath.Join(dir, cert)
	}
	return sql.Config{Server: c.Server, Port: c.Port, Instance: c.Instance, Database: c.Database, Auth: sql.Auth(c.Auth),
		User: c.User, Password: pw, ClientID: c.ClientID, TenantID: c.TenantID, Encrypt: sql.Encryption(c.Encrypt),
		TrustServerCertificate: c.TrustServerCertificate, Certificate: cert, HostNameInCertificate: c.HostNameInCertificate,
		ConnectTimeout: c.ConnectTimeout, QueryTimeout: c.QueryTimeout}, nil
}

// openSQL opens the runbook's connections (nil when it names none). Warnings go to warn.
func openSQL(rb *runbook.Runbook, warn io.Writer) (*sqlPorts, error) {
	conns := rb.Connections
	if conns.Source == nil && conns.Distribution == nil && conns.Target == nil {
		return nil, nil
	}
	p := &sqlPorts{}
	for _, c := range []struct {
		conn *runbook.Connection
		db   **sql.DB
	}{{conns.Source, &p.src}, {conns.Distribution, &p.dist}, {conns.Target, &p.tgt}} {
		if c.conn == nil {
			continue
		}
		cfg, err := sqlConfig(rb.Dir, c.conn)
		if err != nil {
			p.Close()
			return nil, err
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(warn, "WARNING:", w)
		}
		if *c.db, err = sql.Open(cfg); err != nil {
			p.Close()
			return nil, fmt.Errorf("connections.%s: %w", c.conn.Role, err)
		}
	}
	if conns.Source != nil {
		p.axDB = conns.Source.Database
	}
	return p, nil
}

func (p *sqlPorts) Close() {
	p.masterMu.Lock()
	defer p.masterMu.Unlock()
	for _, db := range []*sql.DB{p.src, p.dist, p.tgt, p.master} {
		if db != nil {
			db.Close()
		}
	}
}

// need names a missing connection.
func need(db *sql.DB, role string) error {
	if db == nil {
		return fmt.Errorf("the runbook has no connections.%s", role)
	}
	return nil
}

func tableRows(db *sql.DB, role string, ctx context.Context) ([]engine.TableRows, error) {
	if err := need(db, role); err != nil {
		return nil, err
	}
	counts, _, err := db.RowCounts(ctx)
	out := make([]engine.TableRows, len(counts))
	for i, c := range counts {
		out[i] = engine.TableRows{Table: c.Schema + "." + c.Table, Rows: c.Rows, HasPK: c.HasPK}
	}
	return out, err
}

func (p *sqlPorts) SourceRows(ctx context.Context) ([]engine.TableRows, error) {
	return tableRows(p.src, "source", ctx)
}

func (p *sqlPorts) TargetRows(ctx context.Context) ([]engine.TableRows, error) {
	return tableRows(p.tgt, "target", ctx)
}

func (p *sqlPorts) Backlog(ctx context.Context) ([]engine.ArticleBacklog, error) {
	if err := need(p.dist, "distribution"); err != nil {
		return nil, err
	}
	// MSdistribution_status only lists articles with commands still in the distribution database:
	// every other published article is caught up (0 pending), not unpublished.
	articles, err := p.dist.Articles(ctx)
	if err != nil {
		return nil, err
	}
	pending, err := p.dist.PendingCommands(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.ArticleBacklog, 0, len(articles))
	at := make(map[[2]string]int, len(articles))
	add := func(pub, article string) int {
		k := [2]string{pub, strings.ToUpper(article)}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, engine.ArticleBacklog{Publication: pub, Article: article})
		}
		return i
	}
	for _, a := range articles {
		add(a.Publication, a.Name)
	}
	for _, a := range pending {
		out[add(a.Publication, a.Article)].Pending += a.Pending
	}
	return out, nil
}

func (p *sqlPorts) Agents(ctx context.Context) ([]engine.Agent, error) {
	if err := need(p.dist, "distribution"); err != nil {
		return nil, err
	}
	states, err := p.dist.AgentStates(ctx)
	if err != nil {
		return nil, err
	}
	msgs, err := p.dist.AgentMessages(ctx)
	if err != nil {
		return nil, err
	}
	errs, _ := p.dist.ReplicationErrors(ctx)
	errText := map[int]string{}
	for _, e := range errs {
		errText[e.ID] = e.Text
	}
	byName := map[string]sql.AgentMessage{}
	for _, m := range msgs {
		byName[m.Agent] = m
	}
	out := make([]engine.Agent, 0, len(states))
	for _, s := range states {
		a := engine.Agent{Publication: s.Publication, Name: s.Name, Kind: engine.AgentKind(s.Type), Status: agentStatus(s.Status),
			Running: s.Running, Latency: s.CurLatency, LastSync: s.LastSync, CacheAge: s.CacheAge}
		if m, ok := byName[s.Name]; ok {
			a.Message, a.MessageAt = m.Comments, m.Time
			if m.ErrorID != 0 {
				a.Error = errText[m.ErrorID]
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// Setup lists every publication with its subscriptions' states (MSsubscriptions) and its snapshot
// and distribution agents' newest history rows.
func (p *sqlPorts) Setup(ctx context.Context) ([]engine.PublicationSetup, error) {
	if err := need(p.dist, "distribution"); err != nil {
		return nil, err
	}
	states, err := p.dist.SubscriptionStates(ctx)
	if err != nil {
		return nil, err
	}
	msgs, err := p.dist.AgentMessages(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.PublicationSetup
	index := map[string]int{}
	for _, s := range states {
		i, ok := index[s.Publication]
		if !ok {
			i = len(out)
			index[s.Publication] = i
			out = append(out, engine.PublicationSetup{Name: s.Publication})
		}
		if !s.Known {
			continue // a publication without a subscription
		}
		state := engine.SubscriptionOther
		switch s.Status {
		case sql.SubscriptionInactive:
			state = engine.SubscriptionInactive
		case sql.SubscriptionSubscribed:
			state = engine.SubscriptionAwaitingSnapshot
		case sql.SubscriptionActive:
			state = engine.SubscriptionActive
		}
		out[i].Subscriptions = append(out[i].Subscriptions, engine.SubscriptionArticles{SubscriberDB: s.SubscriberDB, State: state,
			Status: int(s.Status), Articles: s.Articles})
	}
	for _, m := range msgs {
		i, ok := index[m.Publication]
		if !ok {
			continue
		}
		run := engine.AgentRun{Status: agentStatus(m.Status), At: m.Time, Message: m.Comments}
		switch m.Type {
		case sql.SnapshotAgent:
			out[i].Snapshot = run
		case sql.DistributionAgent:
			out[i].Distribution = run
		}
	}
	return out, nil
}

// Left reads what is left of the replication setup on the source server and in the distribution
// database; a read that fails is an error, never "gone" (sql.ReplicationLeft).
func (p *sqlPorts) Left(ctx context.Context) (engine.SetupLeft, error) {
	l, err := sql.ReplicationLeft(ctx, p.src, p.dist)
	if err != nil {
		return engine.SetupLeft{}, err
	}
	out := engine.SetupLeft{Distributors: l.Distributors, Evidence: strings.Join(l.Checked, "; ")}
	seen := map[string]bool{}
	for _, n := range append(append([]string(nil), l.Published...), l.Publications...) {
		if !seen[strings.ToUpper(n)] {
			seen[strings.ToUpper(n)] = true
			out.Publications = append(out.Publications, n)
		}
	}
	return out, nil
}

// agentStatus carries a documented run status (1 Started … 6 Failed) across; any other number is
// unknown.
func agentStatus(s sql.RunStatus) engine.AgentStatus {
	if s < sql.RunStarted || s > sql.RunFailed {
		return engine.AgentUnknown
	}
	return engine.AgentStatus(s)
}

func (p *sqlPorts) Activity(ctx context.Context) (engine.AXActivity, error) {
	if err := need(p.src, "source"); err != nil {
		return engine.AXActivity{}, err
	}
	a, err := p.src.AXActivity(ctx)
	if err != nil {
		return engine.AXActivity{}, err
	}
	var out engine.AXActivity
	for _, s := range a.Servers {
		if s.Active() {
			out.Servers = append(out.Servers, engine.AXServer{ServerID: s.ServerID, AOSID: s.AOSID, Instance: s.Instance, Since: s.Login,
				Status: s.Status.String(), Alive: s.Status == sql.ServerAlive})
		}
	}
	for _, c := range a.Clients {
		if c.Status.Present() {
			out.Users = append(out.Users, engine.AXUser{User: c.User, Computer: c.Computer, Server: c.ServerID, Since: c.Since,
				Ending: c.Status.Ending(), Status: c.Status.String()})
		}
	}
	for _, j := range a.Jobs {
		out.Jobs = append(out.Jobs, engine.AXBatchJob{Caption: j.Caption, Status: j.Status.String(), Executing: j.Status.Running(),
			Cancelling: j.Status == sql.BatchCancelling, Since: j.Start})
	}
	out.ExecutingTasks, out.CancellingTasks = a.RunningTasks(), a.Tasks[sql.BatchCancelling]
	return out, nil
}

func (p *sqlPorts) LastWrite(ctx context.Context) (time.Time, error) {
	if err := need(p.src, "source"); err != nil {
		return time.Time{}, err
	}
	return p.src.LastUserUpdate(ctx)
}

func (p *sqlPorts) NewestReplicated(ctx context.Context) (time.Time, error) {
	if err := need(p.dist, "distribution"); err != nil {
		return time.Time{}, err
	}
	return p.dist.NewestReplicatedTransaction(ctx)
}

func (p *sqlPorts) TransactionalPublications(ctx context.Context) ([]string, error) {
	if err := need(p.dist, "distribution"); err != nil {
		return nil, err
	}
	pubs, err := p.dist.Publications(ctx)
	var out []string
	for _, pub := range pubs {
		if pub.Type == sql.Transactional {
			out = append(out, pub.Name)
		}
	}
	return out, err
}

func (p *sqlPorts) Post(ctx context.Context, publication string) (int, error) {
	if err := need(p.src, "source"); err != nil {
		return 0, err
	}
	return p.src.PostTracerToken(ctx, publication)
}

func (p *sqlPorts) Arrived(ctx context.Context, publication string, id int) (bool, time.Duration, error) {
	if err := need(p.src, "source"); err != nil {
		return false, 0, err
	}
	hist, err := p.src.TracerTokenHistory(ctx, publication, id)
	if err != nil || len(hist) == 0 {
		return false, 0, err
	}
	var worst time.Duration
	for _, h := range hist {
		if !h.Arrived() {
			return false, 0, nil
		}
		worst = max(worst, *h.Overall)
	}
	return true, worst, nil
}

func (p *sqlPorts) side(s engine.Side) (*sql.DB, error) {
	if s == engine.SideTarget {
		return p.tgt, need(p.tgt, "target")
	}
	return p.src, need(p.src, "source")
}

func (p *sqlPorts) Rows(ctx context.Context, s engine.Side) ([]engine.TableRows, error) {
	db, err := p.side(s)
	if err != nil {
		return nil, err
	}
	return tableRows(db, s.String(), ctx)
}

func (p *sqlPorts) Exact(ctx context.Context, s engine.Side, tables []string, concurrency int, progress func(done, total int)) ([]engine.ExactRows, error) {
	db, err := p.side(s)
	if err != nil {
		return nil, err
	}
	res, err := db.ExactCounts(ctx, tables, concurrency, progress)
	out := make([]engine.ExactRows, len(res))
	for i, r := range res {
		out[i] = engine.ExactRows{Table: r.Table, Rows: r.Rows, Err: r.Err}
	}
	return out, err
}

func (p *sqlPorts) Upgrade(ctx context.Context) (engine.UpgradeProgress, error) {
	if err := need(p.tgt, "target"); err != nil {
		return engine.UpgradeProgress{}, err
	}
	u, err := p.tgt.Upgrade(ctx)
	if err != nil && !u.Answered() {
		// Nothing could be read at all (the sandbox is unreachable): no picture.
		return engine.UpgradeProgress{}, err
	}
	return upgradeProgress(u), nil
}

// upgradeProgress carries what the sandbox's upgrade tables say (their meaning is sql's) across to
// the engine.
func upgradeProgress(u sql.Upgrade) engine.UpgradeProgress {
	out := engine.UpgradeProgress{Percent: u.Percent(), Started: u.StartedAt(), LastActivity: u.LastActivity()}
	if r, ok := u.Newest(); ok {
		out.Step, out.SubStep = r.Step, r.SubStep
	}
	_, failed := u.Failure()
	switch {
	case !u.Started():
		out.Phase = engine.UpgradeNotStarted
	case failed:
		out.Phase = engine.UpgradeFailed
	case u.Finished():
		out.Phase = engine.UpgradeCompleted
	default:
		out.Phase = engine.UpgradeRunning
	}
	if s, ok := u.RunningSync(); ok {
		out.SyncActivity = s.ActivityID
	}
	for _, e := range u.Errors {
		out.Errors = append(out.Errors, e.String())
	}
	for _, name := range slices.Sorted(maps.Keys(u.Unread)) {
		out.Unread = append(out.Unread, fmt.Sprintf("%s: %v", name, u.Unread[name]))
	}
	return out
}

func (p *sqlPorts) Preflight(ctx context.Context) (engine.PreflightFacts, error) {
	if err := need(p.src, "source"); err != nil {
		return engine.PreflightFacts{}, err
	}
	pf, err := p.src.Preflight(ctx, p.axDB)
	if err != nil {
		return engine.PreflightFacts{}, err
	}
	out := engine.PreflightFacts{ServerVersion: pf.Server.ProductVersion, MixedMode: !pf.Server.IntegratedOnly,
		ReplicationInstalled: pf.ReplicationInstalled, AgentStatus: pf.AgentStatus,
		AgentRunning: strings.EqualFold(pf.AgentStatus, "Running"), DatabaseOwner: pf.Database.Owner, RCSI: pf.Database.RCSI,
		Login: pf.Rights.Login, Sysadmin: pf.Rights.Sysadmin, DBOwner: pf.Rights.DBOwner, RightsKnown: pf.Rights.Known,
		DatabaseBytes: pf.Database.SizeBytes, MaxTextReplSize: pf.MaxTextReplSize, FreeBytes: map[string]int64{},
		Unavailable: map[string]string{}, Distributor: pf.Distributor}
	for _, d := range pf.Drives {
		out.FreeBytes[strings.ToUpper(d.Letter)] = d.FreeMB << 20
	}
	out.ServerCollation, out.DatabaseCollation = pf.ServerCollation, pf.DatabaseCollation
	if pf.AOTTables != nil {
		out.AOTTables = make(map[string]bool, 2*len(pf.AOTTables))
		for _, t := range pf.AOTTables {
			out.AOTTables[strings.ToUpper(t.Name)], out.AOTTables[strings.ToUpper(t.SQLName)] = true, true
		}
	}
	for k, v := range pf.Unavailable {
		out.Unavailable[k] = v.Error()
	}
	if p.tgt != nil {
		if err := p.tgt.Ping(ctx); err != nil {
			out.TargetError = err.Error()
		} else {
			out.TargetReachable = true
		}
	}
	return out, nil
}

// Publications lists the distributor's publications.
func (p *sqlPorts) Publications(ctx context.Context) ([]engine.PublicationInfo, error) {
	if err := need(p.dist, "distribution"); err != nil {
		return nil, err
	}
	pubs, err := p.dist.Publications(ctx)
	out := make([]engine.PublicationInfo, len(pubs))
	for i, pub := range pubs {
		out[i] = engine.PublicationInfo{Name: pub.Name, Transactional: pub.Type == sql.Transactional}
	}
	return out, err
}

// SnapshotDeliveries lists the distribution agents' snapshot deliveries logged within the last
// within.
func (p *sqlPorts) SnapshotDeliveries(ctx context.Context, within time.Duration) ([]engine.SnapshotDelivery, error) {
	if err := need(p.dist, "distribution"); err != nil {
		return nil, err
	}
	found, err := p.dist.SnapshotDeliveries(ctx, within)
	out := make([]engine.SnapshotDelivery, len(found))
	for i, d := range found {
		out[i] = engine.SnapshotDelivery{Publication: d.Publication, Agent: d.Agent, At: d.Time, Message: d.Comments}
	}
	return out, err
}

// Query runs a smoke-test query on a named connection.
func (p *sqlPorts) Query(ctx context.Context, connection, text string) ([]string, [][]string, error) {
	var db *sql.DB
	switch connection {
	case "source":
		db = p.src
	case "distribution":
		db = p.dist
	case "target":
		db = p.tgt
	}
	if err := need(db, connection); err != nil {
		return nil, nil, err
	}
	return db.QueryText(ctx, text)
}

// services picks the AOS service controller the runbook asks for.
func services(rb *runbook.Runbook) (engine.ServiceController, error) {
	if rb.AOS == nil {
		return nil, nil
	}
	if !usesKind(rb, "aos.stop", "aos.start", "replication.drain") {
		return nil, nil
	}
	if rb.AOS.Control == "scm" {
		return svc.NewSCMServices()
	}
	return svc.NewCommandServices(rb.AOS)
}

// usesKind reports whether any step is of one of the kinds.
func usesKind(rb *runbook.Runbook, kinds ...string) bool {
	for _, s := range rb.Steps {
		for _, k := range kinds {
			if s.Kind == k {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------------------------------------
// The simulators.

// simulators are the simulated AX 2012 / distributor / Azure SQL servers and LCS.
type simulators struct {
	world   *sqlsim.World
	sql     *sqlsim.Servers
	lcs     *lcssim.Server
	lcsURL  string
	lcsCert string
}

// simServices controls the simulated AOS hosts (the demo's service controller).
type simServices struct{ w *sqlsim.World }

func (s simServices) Stop(_ context.Context, host, service string) error {
	return s.w.StopAOS(host, service)
}

func (s simServices) Start(_ context.Context, host, service string) error {
	if err := s.w.StartAOS(host, service); err != nil && !errors.Is(err, sqlsim.ErrServiceRunning) {
		return err
	}
	return nil
}

func (s simServices) State(_ context.Context, host, service string) (engine.ServiceState, string, error) {
	st, err := s.w.AOSState(host, service)
	if err != nil {
		return engine.ServiceUnknown, err.Error(), err
	}
	switch st {
	case sqlsim.ServiceStopped:
		return engine.ServiceStopped, "1 STOPPED", nil
	case sqlsim.ServiceStartPending:
		return engine.ServiceStartPending, "2 START_PENDING", nil
	case sqlsim.ServiceStopPending:
		return engine.ServiceStopPending, "3 STOP_PENDING", nil
	case sqlsim.ServiceRunning:
		return engine.ServiceRunning, "4 RUNNING", nil
	}
	return engine.ServiceUnknown, st.String(), nil
}

// sandboxState maps the simulated toolkit and data upgrade onto the sandbox's LCS state.
type sandboxState struct{ w *sqlsim.World }

func (s sandboxState) SandboxState() string {
	u := s.w.UpgradeState()
	switch {
	case u.Done:
		return string(lcs.DeploymentDeployed)
	case u.Failed:
		return "Failed"
	case u.Triggered:
		return string(lcs.DeploymentDataUpgradeInProgress)
	case s.w.Replicated():
		// The toolkit's step 9 (data-upgrade-self-service.md): Replication in progress →
		// Replication completed; removing replication (step 8) does not change the state.
		return string(lcs.DeploymentReplicationCompleted)
	}
	return string(lcs.DeploymentReplicationInProgress)
}

// startSimulators starts the SQL and LCS simulators on the given addresses (any free port when
// one is taken), writing the LCS certificate into dir. restore, when set, brings back a saved
// state before they serve.
func startSimulators(cfg sqlsim.Config, clk sqlsim.Clock, sourceAddr, targetAddr, lcsAddr, dir string, restore func(*sqlsim.World, *lcssim.Server) error) (*simulators, error) {
	return startSimulatorsWith(cfg, clk, sqlsim.ServerConfig{SourceAddr: sourceAddr, TargetAddr: targetAddr}, lcsAddr, dir, restore)
}

// startSimulatorsWith is startSimulators with the SQL servers' whole configuration (addresses,
// TLS, diagnostics).
func startSimulatorsWith(cfg sqlsim.Config, clk sqlsim.Clock, sqlCfg sqlsim.ServerConfig, lcsAddr, dir string, restore func(*sqlsim.World, *lcssim.Server) error) (*simulators, error) {
	w, err := sqlsim.New(cfg, clk)
	if err != nil {
		return nil, err
	}
	ls := lcssim.New(lcssim.Options{Clock: clk})
	ls.SetSandboxStateSource(sandboxState{w})
	if restore != nil {
		if err := restore(w, ls); err != nil {
			return nil, err
		}
	}
	srv, err := sqlsim.Start(w, sqlCfg)
	if err != nil && restore != nil {
		sqlCfg.SourceAddr, sqlCfg.TargetAddr = "", ""
		srv, err = sqlsim.Start(w, sqlCfg)
	}
	if err != nil {
		return nil, err
	}
	url, err := ls.Start(lcsAddr)
	if err != nil && restore != nil {
		url, err = ls.Start("127.0.0.1:0")
	}
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("start the LCS simulator: %w", err)
	}
	cert := filepath.Join(dir, "lcs-sim.pem")
	if err := os.WriteFile(cert, ls.CertPEM(), 0o600); err != nil {
		srv.Close()
		ls.Close()
		return nil, err
	}
	return &simulators{world: w, sql: srv, lcs: ls, lcsURL: url, lcsCert: cert}, nil
}

func (s *simulators) Close() {
	s.sql.Close()
	s.lcs.Close()
}

// lcsSnippet is the runbook lcs section for the simulator.
func (s *simulators) lcsSnippet() string {
	return fmt.Sprintf(`lcs:
  project_id: %q
  base_url: %s
  authority_url: %s
  certificate: %s
  auth: password
  client_id: %s
  tenant_id: %s
  username: %s
  password_env: CUTOVER_SIM_LCS_PASSWORD
  sandbox_environment_id: %s
  production_environment_id: %s
`, lcssim.DefaultProjectID, s.lcsURL, s.lcs.Authority(lcssim.DefaultTenantID), s.lcsCert, lcssim.DefaultClientID, lcssim.DefaultTenantID, lcssim.DefaultUser,
		lcssim.SandboxID, lcssim.ProductionID)
}

// cmdSim serves the simulators on fixed loopback ports for any SQL Server client. Like a real SQL
// Server, both servers offer encryption (with a self-signed certificate kept in --dir, so a client
// trusts it once); the Azure SQL sandbox also takes TDS 8.0 (encrypt=strict). -v logs what a
// trainee's client did wrong: rejected logins, malformed requests, statements the simulator does
// not support.
func cmdSim(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags("sim", "[--source-addr A] [--target-addr A] [--lcs-addr A] [--tables N] [--scenario NAMES] [--dir DIR] [--tls=false] [-v]", stderr)
	sourceAddr := fs.String("source-addr", "127.0.0.1:11433", "`ADDR` of the simulated AX 2012 SQL Server (source and distributor)")
	targetAddr := fs.String("target-addr", "127.0.0.1:11434", "`ADDR` of the simulated Azure SQL sandbox")
	lcsAddr := fs.String("lcs-addr", "127.0.0.1:18080", "`ADDR` of the simulated LCS API (HTTPS)")
	tables := fs.Int("tables", 5000, "tables in the simulated AX database")
	scenario := fs.String("scenario", "", "scenarios: locked-table, count-mismatch, upgrade-failure (comma-separated)")
	dir := fs.String("dir", filepath.Join(os.TempDir(), "cutover-sim"), "`DIR` for the simulators' certificates, kept across restarts")
	useTLS := fs.Bool("tls", true, "offer encryption on the SQL servers, as SQL Server does (false: plaintext only)")
	verbose := fs.Bool("v", false, "log rejected logins, malformed requests and unsupported statements to stderr")
	if code, ok := parse(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cutover sim: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	sc, err := sqlsim.ParseScenario(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "cutover sim: %v\n", err)
		return exitUsage
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(stderr, "cutover sim: %v\n", err)
		return exitFail
	}
	sqlCfg := sqlsim.ServerConfig{SourceAddr: *sourceAddr, TargetAddr: *targetAddr}
	if *verbose {
		sqlCfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if *useTLS {
		tlsCfg, certPath, err := tdssim.LoadOrCreateTLS(*dir)
		if err != nil {
			fmt.Fprintf(stderr, "cutover sim: %v\n", err)
			return exitFail
		}
		sqlCfg.TLS, sqlCfg.TLSConfig, sqlCfg.CertFile = true, tlsCfg, certPath
	}
	sims, err := startSimulatorsWith(sqlsim.Config{Tables: *tables, Scenarios: sc}, sqlsim.WallClock(), sqlCfg, *lcsAddr, *dir, nil)
	if err != nil {
		fmt.Fprintf(stderr, "cutover sim: %v\n", err)
		return exitFail
	}
	defer sims.Close()
	fmt.Fprint(stdout, sims.sql.Describe())
	if cert := sims.sql.CertFile(); cert != "" {
		fmt.Fprint(stdout, trustHowTo(cert, sims.sql.Addr(sqlsim.EndpointSource)))
	}
	fmt.Fprintf(stdout, "Simulated LCS at %s (project %s; sign in as %s / %s; certificate %s)\n\n",
		sims.lcsURL, lcssim.DefaultProjectID, lcssim.DefaultUser, lcssim.DefaultPassword, sims.lcsCert)
	fmt.Fprintf(stdout, "Runbook snippet (export %s=%s and CUTOVER_SIM_LCS_PASSWORD=%s):\n\n%s%s\n",
		sqlsim.PasswordEnv, sqlsim.Password, lcssim.DefaultPassword, sims.sql.RunbookSnippet(), sims.lcsSnippet())
	fmt.Fprintln(stdout, "Serving until Ctrl-C.")
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	sig := <-sigs
	fmt.Fprintf(stdout, "cutover sim: %v: stopped\n", sig)
	return exitOK
}

// trustHowTo tells how to trust the simulated servers' certificate with the clients people point
// at them.
func trustHowTo(cert, sourceAddr string) string {
	host, port, _ := net.SplitHostPort(sourceAddr)
	return fmt.Sprintf(`  Encryption: offered as SQL Server offers it (TLS 1.2 inside PRELOGIN; the sandbox also takes
  TDS 8.0, encrypt=strict), with the self-signed certificate %[1]s
  (kept in its directory: trust it once). To trust it:
    go-mssqldb, cutover runbooks:  encrypt=true&certificate=%[1]s
    FreeTDS (freetds.conf):        encryption = require
                                   ca file = %[1]s
    ODBC Driver 18, sqlcmd, SSMS:  add it to the system's trusted certificates, e.g. on Debian/Ubuntu
                                   sudo cp %[1]s /usr/local/share/ca-certificates/cutover-sim.crt
                                   sudo update-ca-certificates
                                   then connect to %[2]s,%[3]s with encryption on; or, unverified,
                                   TrustServerCertificate=yes (sqlcmd -C)
`, cert, host, port)
}

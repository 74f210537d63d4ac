package cmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"cutover/adapter"
	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"
	"cutover/tui"
)

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

	// Set by the demo, not flags: sshHostKey is the SSH host key's file when it is not the state
	// directory's; joinCommand makes the command that joins the cockpit served on addr (default
	// `ssh -p PORT HOST`), once the server listens.
	sshHostKey  string
	joinCommand func(srv *tui.Server, addr net.Addr) (string, error)
}

func addRunFlags(fs *pflag.FlagSet) runFlags {
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

func cmdRun(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "run", Annotations: map[string]string{needsRunbook: "yes"}, Short: "run the cutover in the cockpit (--headless: one line per event)", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE`")
	rf := addRunFlags(fs)
	c.RunE = func(c *cobra.Command, args []string) error {
		stdin, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			rb := s.rb
			return runEngine(rb, engine.Options{StateDir: s.stateDir}, rf, stdin, stdout, stderr, nil)
		}())
	}
	return c
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
		if err := adapter.CheckSecretFiles(rb); err != nil {
			fmt.Fprintf(stderr, "cutover: %v\n", err)
			return exitFail
		}
	}
	// The state directory's lock first: a second engine on it is refused before anything is
	// written there (the LCS token cache, the SSH host key) or anyone is asked for a password.
	if opts.Lock == nil {
		lock, err := journal.LockDir(opts.StateDir, opts.Command)
		if err != nil {
			fmt.Fprintf(stderr, "cutover: %s\n", journal.Describe(err))
			return exitFail
		}
		defer lock.Release()
		opts.Lock = lock
	}
	// While the cockpit owns the terminal, notices (an LCS sign-in code) go to the engine's log.
	notices := &adapter.EngineNotices{}
	var noticeOut io.Writer = stderr
	if cockpit {
		noticeOut = notices
	}
	closePorts, err := adapter.BuildPorts(rb, opts.StateDir, &opts.Ports, stderr, noticeOut)
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
	notices.Attach(e)
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
	// Who is in the cockpit, for the web page: the SSH server's presence (the local cockpit joins
	// it), else the local cockpit's operator alone.
	var watchers func() []tui.Presence
	switch {
	case srv != nil:
		watchers = srv.Presence
	case cockpit:
		local := tui.Presence{Actor: engine.LocalOperator(*rf.as, ttyName(stdin)), Since: time.Now(), Local: true}
		watchers = func() []tui.Presence { return []tui.Presence{local} }
	}
	out, err := startOutreach(rb, e, rf, opts.Clock, watchers, stdout)
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
	if srv != nil {
		hopts.Join = srv.Join()
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

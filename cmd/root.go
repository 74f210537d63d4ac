// Package cmd is cutover's command line: one file per command on cobra and fang, a shared
// pre-run that loads the runbook and state directory, and the wiring of the engine to its front
// ends. No domain rule lives here.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"charm.land/fang/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"golang.org/x/term"

	"cutover/adapter"
	"cutover/demo"
	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"
)

// version is set at build time with -ldflags "-X cutover/cmd.version=…".
var version = "dev"

// Exit codes shared by the commands.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// streams are the process's standard streams as the commands see them (tests pass buffers), and
// what the shared pre-run loaded for a command that works on a runbook.
type streams struct {
	in       io.Reader
	out, err io.Writer

	// rb and stateDir are the runbook --file names and its state directory (--state, or
	// .cutover beside it), for a command annotated needsRunbook.
	rb       *runbook.Runbook
	stateDir string
}

// needsRunbook annotates a command whose runbook (--file) and state directory (--state) the shared
// pre-run loads before it runs: a runbook with problems stops it there (exit 1), every problem
// printed.
const needsRunbook = "cutover/needs-runbook"

// loadFor is the shared pre-run.
func (s *streams) loadFor(c *cobra.Command, _ []string) error {
	if c.Annotations[needsRunbook] == "" {
		return nil
	}
	file, _ := c.Flags().GetString("file")
	state, _ := c.Flags().GetString("state")
	file = runbookOf(c.Flags(), file, state)
	rb, ok := loadRunbook(file, s.err)
	if !ok {
		return exitError{exitFail}
	}
	s.rb, s.stateDir = rb, stateDirFor(file, state)
	return nil
}

// exitError carries a command's exit code through cobra. The command has said why already: the
// error itself prints nothing.
type exitError struct{ code int }

func (e exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }

// exitWith is a command's result: nil for exit 0, an exitError otherwise.
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return exitError{code}
}

// usageError is a mistake in how a command was called: exit 2, with the usage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageArgs makes an argument check's complaint a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// exitCode is the process exit code for a command's error: a command's own code, 2 for a usage
// mistake (a flag, an argument, an unknown command), 1 otherwise.
func exitCode(err error) int {
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return exitUsage
	}
	// cobra's and pflag's own complaints about how a command was called are plain errors.
	msg := err.Error()
	for _, usage := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "required flag(s)", "if any flags in the group"} {
		if strings.HasPrefix(msg, usage) {
			return exitUsage
		}
	}
	return exitFail
}

// newRoot is the cutover command with every subcommand, reading and writing s.
func newRoot(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "cutover",
		Short: "the cockpit for an AX 2012 → Dynamics 365 go-live cutover",
		Long: "cutover runs the go-live cutover of a Dynamics AX 2012 → Dynamics 365 Finance & Operations upgrade:\n" +
			"a background engine runs the runbook, the cockpit shows it, destructive steps wait for typed,\n" +
			"attributed confirmations, and a crash or a dropped session resumes where it stopped.\n\n" +
			"Start with:  cutover demo          (a simulated cutover, nothing to install)\n" +
			"             cutover init && cutover check",
		Args:          usageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without a command: the help. An unknown one is refused by Args (exit 2).
		RunE:              func(c *cobra.Command, _ []string) error { return c.Help() },
		PersistentPreRunE: s.loadFor,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(cmdInit(s), cmdCheck(s), cmdRun(s), cmdDemo(s), cmdServe(s), cmdTeam(s), cmdStatus(s), cmdStep(s),
		cmdJournal(s), cmdNotify(s), cmdHTTP(s), cmdReport(s), cmdValidate(s), cmdLCS(s), cmdSim(s), cmdVersion(s), cmdDemoTask(s))
	completeFlags(root)
	return root
}

// completeFlags tells the shell completions what the common flags take: a runbook file for
// --file, a directory for --state and --dir, a demo scenario for --scenario.
func completeFlags(c *cobra.Command) {
	for _, sub := range c.Commands() {
		completeFlags(sub)
	}
	fs := c.Flags()
	if fs.Lookup("file") != nil {
		_ = c.MarkFlagFilename("file", "yaml", "yml")
	}
	for _, dir := range []string{"state", "dir"} {
		if fs.Lookup(dir) != nil {
			_ = c.MarkFlagDirname(dir)
		}
	}
	if fs.Lookup("scenario") != nil && c.Name() == "demo" {
		_ = c.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(demo.ScenarioNames(), cobra.ShellCompDirectiveNoFileComp))
	}
}

// Main runs the command line: args without the program's name, and the process's standard
// streams. It returns the exit code: a command's own (the monitoring codes 0–3 of status), 2 for
// a usage mistake, 1 for any other failure.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(&streams{in: stdin, out: stdout, err: stderr})
	root.SetArgs(args)
	err := fang.Execute(context.Background(), root, fang.WithVersion(version), fang.WithErrorHandler(
		func(w io.Writer, styles fang.Styles, err error) {
			var ee exitError
			if errors.As(err, &ee) {
				return // the command said why
			}
			fang.DefaultErrorHandler(w, styles, err)
		}))
	return exitCode(err)
}

// registry is every step kind this build knows.
func registry() *engine.Registry { return adapter.Registry() }

func parseOptions() runbook.Options { return adapter.RunbookOptions() }

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

// runbookOf is the runbook a command given a state directory works on: --file when it is given,
// else the one the directory's journal was opened with (a demo's lives in its state directory),
// else --file's default. One state directory, one run: `cutover step … --state DIR` needs no
// --file for the runbook DIR's run was started with.
func runbookOf(fs *pflag.FlagSet, file, state string) string {
	if state == "" || fs.Changed("file") {
		return file
	}
	c, _, err := journal.ReadEvidence(filepath.Join(state, journal.FileName))
	if err != nil || len(c.Records) == 0 {
		return file
	}
	var ro engine.RunOpened
	if c.Records[0].Type != string(engine.RecRunOpened) || c.Records[0].Decode(&ro) != nil || ro.Runbook == "" {
		return file
	}
	return ro.Runbook
}

// stateDirFor is the default state directory: .cutover beside the runbook.
func stateDirFor(runbookPath, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return filepath.Join(filepath.Dir(runbookPath), ".cutover")
}

// cmdVersion prints the version (as --version does).
func cmdVersion(s *streams) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "print the version", Args: usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(s.out, "cutover", version)
			return nil
		}}
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

// completeStepIDs completes a step id from the runbook the command's --file names (its titles as
// descriptions).
func completeStepIDs(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	file, _ := c.Flags().GetString("file")
	opts := parseOptions()
	opts.SkipSecretChecks = true
	rb, err := runbook.Load(file, opts)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var ids []string
	for _, st := range rb.Steps {
		if strings.HasPrefix(st.ID, toComplete) {
			ids = append(ids, st.ID+"\t"+st.Title)
		}
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

// needsCommand is the run of a command that only groups others (cutover step, team, lcs…): called
// alone, it is a usage mistake that names the commands it has.
func needsCommand(c *cobra.Command, _ []string) error {
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return usageError{fmt.Errorf("%s needs a command: %s (%s --help)", c.CommandPath(), strings.Join(names, ", "), c.CommandPath())}
}

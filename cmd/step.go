package cmd

import (
	"fmt"

	"cutover/engine"
	"cutover/engine/journal"
	"cutover/engine/runbook"

	"github.com/spf13/cobra"
)

// cmdStep records an operator's action on one step while no cockpit runs. It obeys the engine's
// guard rule: a guarded step (destructive, a gate, confirm: or approvals:) is skipped or marked
// done only with its phrase (--phrase "SKIP ID" / "DONE ID"), as one approval of the person at
// this terminal. A step that needs more than one operator is refused outright and nothing is
// journaled: a one-shot command is one person, and cannot show a second operator what the first
// asked for; such a step is skipped or marked done in the cockpit, where each operator approves
// from their own session. A retry of a guarded step asks for its confirmation again when the
// cockpit runs; it takes no phrase here.
func cmdStep(s *streams) *cobra.Command {
	parent := &cobra.Command{Use: "step", Short: "mark a step done, skip it or retry it while no cockpit runs", Args: usageArgs(cobra.NoArgs), RunE: needsCommand}
	for _, v := range []struct{ verb, short string }{
		{"done", "mark a step done by hand (a guarded one with --phrase \"DONE ID\")"},
		{"skip", "skip a step (a guarded one with --phrase \"SKIP ID\")"},
		{"retry", "run a failed step again (a guarded one asks for its confirmation again)"},
	} {
		verb := v.verb
		c := &cobra.Command{Use: verb + " ID", Annotations: map[string]string{needsRunbook: "yes"}, Short: v.short, ValidArgsFunction: completeStepIDs,
			Args: func(_ *cobra.Command, args []string) error {
				switch {
				case len(args) == 0:
					return usageError{fmt.Errorf("cutover step %s: name the step (its id)", verb)}
				case len(args) > 1:
					return usageError{fmt.Errorf("cutover step %s: unexpected argument %q (a reason with spaces goes in quotes: --reason \"...\")", verb, args[1])}
				}
				return nil
			}}
		fs := c.Flags()
		fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE`")
		fs.String("state", "", "state `DIR`; default .cutover beside the runbook")
		reason := fs.String("reason", "", "why (required for done and skip)")
		phrase := fs.String("phrase", "", "for done or skip of a guarded step (destructive, a gate, confirm: or approvals:): type `PHRASE` exactly, \"DONE ID\" or \"SKIP ID\"")
		as := fs.String("as", "", "operator `NAME` to record (default: your login name)")
		c.RunE = func(c *cobra.Command, args []string) error {
			stdout, stderr := s.out, s.err
			id := args[0]
			return exitWith(func() int {
				if verb == "retry" && *phrase != "" {
					fmt.Fprintln(stderr, "cutover step retry: takes no --phrase: a guarded step asks for its confirmation again when the cockpit runs, and is confirmed there")
					return exitUsage
				}
				rb := s.rb
				e, err := engine.New(rb, engine.Options{StateDir: s.stateDir, Kinds: registry(), Version: version, Command: "cutover step " + verb})
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
			}())
		}
		parent.AddCommand(c)
	}
	return parent
}

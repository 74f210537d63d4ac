package cmd

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"cutover/adapter"
	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/engine/team"
)

func cmdCheck(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "check", Short: "validate a runbook and summarize it", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	file := fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE`")
	teamFile := fs.String("team", "", "team `FILE` to check too; default cutover-team.keys beside the runbook, when there is one")
	c.RunE = func(c *cobra.Command, args []string) error {
		_, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			rb, ok := loadRunbook(*file, stderr)
			if !ok {
				return exitFail
			}
			printSummary(stdout, rb)
			if !checkTeam(teamPath(*file, *teamFile), *teamFile != "", stdout, stderr) {
				return exitFail
			}
			// What serve would refuse, said now (a local run reads these files as they are).
			if err := adapter.CheckSecretFiles(rb); err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					fmt.Fprintf(stdout, "  warning:      %s (cutover serve and run --listen refuse it)\n", line)
				}
			}
			return exitOK
		}())
	}
	return c
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

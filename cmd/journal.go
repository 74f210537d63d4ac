package cmd

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"cutover/engine/journal"
	"cutover/engine/runbook"

	"github.com/spf13/cobra"
)

// cmdJournal verifies or shows a state directory's journal (or a journal file).
func cmdJournal(s *streams) *cobra.Command {
	parent := &cobra.Command{Use: "journal", Short: "verify or show the journal", Args: usageArgs(cobra.NoArgs), RunE: needsCommand}
	for _, v := range []struct{ verb, short string }{
		{"verify", "check every line's hash and link, and that the journal ends at its anchor"},
		{"show", "list the journal's records"},
	} {
		verb := v.verb
		c := &cobra.Command{Use: verb + " [JOURNAL]", Short: v.short, Args: usageArgs(cobra.MaximumNArgs(1))}
		fs := c.Flags()
		file := fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (its state directory holds the journal)")
		state := fs.String("state", "", "state `DIR`")
		c.MarkFlagsMutuallyExclusive("file", "state")
		c.RunE = func(c *cobra.Command, args []string) error {
			stdout, stderr := s.out, s.err
			return exitWith(func() int {
				path := filepath.Join(stateDirFor(*file, *state), journal.FileName)
				if len(args) == 1 {
					path = args[0]
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
					if len(args) == 0 && rep.Records > 0 {
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
			}())
		}
		parent.AddCommand(c)
	}
	return parent
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

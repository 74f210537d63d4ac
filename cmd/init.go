package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"cutover/engine/runbook"
)

func cmdInit(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "init [DIR]", Short: "write a commented cutover.yaml: Microsoft's documented go-live process (--rollback: the AX 2012 rollback runbook)", Args: usageArgs(cobra.MaximumNArgs(1))}
	fs := c.Flags()
	rollback := fs.Bool("rollback", false, "write the AX 2012 rollback runbook (rollback/cutover.yaml) instead of the go-live one")
	c.RunE = func(c *cobra.Command, args []string) error {
		_, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			dir := "."
			if len(args) > 1 {
				c.Usage()
				return exitUsage
			}
			if len(args) == 1 {
				dir = args[0]
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
		}())
	}
	return c
}

package cmd

import (
	"context"
	"fmt"
	"os"
	"time"

	"cutover/engine/notify"
	"cutover/engine/runbook"

	"github.com/spf13/cobra"
)

// cmdNotify sends a test message to each notification target.
func cmdNotify(s *streams) *cobra.Command {
	parent := &cobra.Command{Use: "notify", Short: "send a test message to each notification target of the runbook", Args: usageArgs(cobra.NoArgs), RunE: needsCommand}
	for _, verb := range []string{"test"} {
		c := &cobra.Command{Use: verb, Annotations: map[string]string{needsRunbook: "yes"}, Short: "send a test message to each notify: target and say how each answered", Args: usageArgs(cobra.NoArgs)}
		fs := c.Flags()
		fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (its notify: targets; their URLs from the environment)")
		c.RunE = func(c *cobra.Command, args []string) error {
			_, stdout, stderr := s.in, s.out, s.err
			return exitWith(func() int {
				rb := s.rb
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				results, err := notify.SendTest(ctx, rb, notify.Options{Private: rb.PrivateWords(os.LookupEnv)})
				code := exitOK
				for _, r := range results {
					if r.Err != nil {
						fmt.Fprintf(stdout, "%-20s %-8s FAILED: %v\n", r.Target, r.Format, r.Err)
						code = exitFail
						continue
					}
					fmt.Fprintf(stdout, "%-20s %-8s sent\n", r.Target, r.Format)
				}
				if err != nil {
					fmt.Fprintf(stderr, "cutover notify test: %v\n", err)
					code = exitFail
				}
				return code
			}())
		}
		parent.AddCommand(c)
	}
	return parent
}

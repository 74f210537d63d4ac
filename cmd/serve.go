package cmd

import (
	"github.com/spf13/cobra"

	"cutover/engine"
	"cutover/engine/runbook"
)

// cmdServe runs the engine for the team over SSH, printing one line per event here.
func cmdServe(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "serve", Annotations: map[string]string{needsRunbook: "yes"}, Short: "run the cutover for the team over SSH (no local cockpit)", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE`")
	rf := addRunFlags(fs)
	c.RunE = func(c *cobra.Command, args []string) error {
		stdin, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			if *rf.listen == "" {
				*rf.listen = ":2222"
			}
			rb := s.rb
			return runEngineMode(rb, engine.Options{StateDir: s.stateDir}, rf, true, stdin, stdout, stderr, nil)
		}())
	}
	return c
}

package cmd

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"cutover/demo"
)

// cmdDemoTask is a stand-in for real work in the demo runbook: it prints progress lines, can fail
// its first attempts, and works the same on every operating system.
func cmdDemoTask(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "demo-task", Hidden: true, Short: "a simulated task used by the demo runbook", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	name := fs.String("name", "task", "what the task pretends to do")
	steps := fs.Int("steps", 3, "progress lines to print")
	interval := fs.Duration("interval", 200*time.Millisecond, "time between lines")
	failAttempts := fs.Int("fail-attempts", 0, "fail this many first attempts (reads CUTOVER_ATTEMPT)")
	c.RunE = func(c *cobra.Command, args []string) error {
		_, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			attempt := 1
			fmt.Sscan(os.Getenv("CUTOVER_ATTEMPT"), &attempt)
			pause := *interval
			if speed, err := strconv.ParseFloat(os.Getenv(demo.SpeedEnv), 64); err == nil && speed >= 1 {
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
		}())
	}
	return c
}

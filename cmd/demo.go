package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"cutover/adapter"
	"cutover/demo"
	"cutover/engine"
	"cutover/engine/clock"
	"cutover/engine/journal"
	lcssim "cutover/lcs/sim"
	sqlsim "cutover/sql/sim"
)

func cmdDemo(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "demo", Short: "run a whole simulated cutover on this machine", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	rf := addRunFlags(fs)
	speed := fs.Float64("speed", 60, "run the simulated cutover `N` times faster than real time")
	tables := fs.Int("tables", 2000, "tables in the simulated AX database")
	scenario := fs.String("scenario", "happy", "`NAME`s, comma-separated: happy, locked-table, count-mismatch, lcs-throttle, flaky-network, upgrade-failure, rollback")
	c.RunE = func(c *cobra.Command, args []string) error {
		stdin, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			if *speed < 1 {
				fmt.Fprintln(stderr, "cutover demo: --speed must be at least 1")
				return exitUsage
			}
			if *rf.http == "" {
				// The demo shows a newcomer the status page and /metrics: on, on a free loopback port.
				*rf.http = "127.0.0.1:0"
			}
			sc, err := demo.ParseScenario(*scenario)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitUsage
			}
			// The simulated tasks are child processes: they learn the speed from the environment.
			if err := os.Setenv(demo.SpeedEnv, strconv.FormatFloat(*speed, 'f', -1, 64)); err != nil {
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
			saved, err := demo.LoadSaved(dir)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			var from time.Time
			addrs := [3]string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}
			if saved != nil {
				if saved.Scenario != sc.Name || saved.Tables != *tables {
					fmt.Fprintf(stdout, "demo: resuming the %s demo with %d tables (the flags asked for %s, %d)\n", saved.Scenario, saved.Tables, sc.Name, *tables)
				}
				if sc, err = demo.ParseScenario(saved.Scenario); err != nil {
					fmt.Fprintf(stderr, "cutover demo: %s: %v\n", filepath.Join(dir, demo.SimsFile), err)
					return exitFail
				}
				*tables = saved.Tables
				from = saved.ResumeAt(filepath.Join(dir, "state", journal.FileName))
				addrs = [3]string{saved.Source, saved.Target, saved.LCS}
				fmt.Fprintf(stdout, "demo: resuming in %s: the simulators carry on from %s (simulated time) after replaying %d actions\n",
					dir, from.Local().Format("15:04:05"), len(saved.Actions))
			} else {
				saved = &demo.Saved{Scenario: sc.Name, Tables: *tables}
			}
			clk := clock.NewScaledFrom(*speed, from)
			cfg := demo.WorldConfig(*tables, sc.World)
			cfg.Start = saved.WorldStart
			sims, err := demo.StartSimulators(cfg, clk, addrs[0], addrs[1], addrs[2], dir, func(w *sqlsim.World, l *lcssim.Server) error {
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
			if err := sc.Apply(sims); err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			saver := demo.NewSaver(filepath.Join(dir, demo.SimsFile), saved, sims, clk)
			if err := saver.Write(); err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			// The last save finishes before the demo returns: an exit in the middle of one would leave its
			// temporary file behind.
			saveCtx, stopSaving := context.WithCancel(context.Background())
			saving := make(chan struct{})
			go func() { defer close(saving); saver.Run(saveCtx) }()
			defer func() { stopSaving(); <-saving }()
			path, err := demo.WriteRunbook(dir, sims)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			rb, ok := loadRunbook(path, stderr)
			if !ok {
				return exitFail
			}
			fmt.Fprintf(stdout, "demo: simulated AX 2012 SQL Server %s, Azure SQL sandbox %s, LCS %s (%d tables, %gx speed, scenario %s)\n",
				sims.SQL.Addr(sqlsim.EndpointSource), sims.SQL.Addr(sqlsim.EndpointTarget), sims.LCSURL, *tables, *speed, sc.Name)
			fmt.Fprintf(stdout, "demo: runbook and state in %s (resume with --state %s)\n", dir, dir)
			if !*rf.yes && !(isTerminal(stdin) && isTerminal(stdout)) {
				fmt.Fprintln(stdout, "demo: no terminal to type confirmations on; add --yes to play the rehearsal unattended")
			}
			notices := &adapter.EngineNotices{}
			c, err := adapter.LCSClient(rb, filepath.Join(dir, "state"), sims.LCS.HTTPClient(), adapter.LCSClock{C: clk}, notices)
			if err != nil {
				fmt.Fprintf(stderr, "cutover demo: %v\n", err)
				return exitFail
			}
			opts := engine.Options{StateDir: filepath.Join(dir, "state"), Clock: clk,
				Ports: engine.Ports{Services: demo.Services{World: sims.World}, LCS: adapter.LCSPort{C: c}},
				// The steps the simulated operator does on the simulators, then marks done, also in a
				// rehearsal run with --yes (enabling production's users, …).
				DoneByOthers: func(step string) bool { return demo.OperatorSteps[step] != "" }}
			op := demo.NewOperator(sims, clk, notices, sc.Rollback)
			code := runEngine(rb, opts, rf, stdin, stdout, stderr, op)
			if !sc.Rollback {
				return code
			}
			return demoRollback(dir, sims, clk, rf, stdin, stdout, stderr, op)
		}())
	}
	return c
}

// demoRollback is the rollback scenario's second act: the go-live run stopped at the failed data
// upgrade, and the team goes back to AX 2012 with the rollback runbook, against the same
// simulators (its own state directory; its backup step reads the go-live run's journal).
func demoRollback(dir string, sims *demo.Simulators, clk clock.Clock, rf runFlags, stdin io.Reader, stdout, stderr io.Writer, op *demo.Operator) int {
	goLive := filepath.Join(dir, "state", journal.FileName)
	ins, err := engine.Inspect(demo.LoadRunbook(dir), filepath.Join(dir, "state"), registry())
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	if st, _ := ins.Snapshot.Step("watch-upgrade"); st.State != engine.StateFailed {
		fmt.Fprintf(stdout, "demo: the go-live run stopped with watch-upgrade %s: not rolling back\n", st.State)
		return exitFail
	}
	fmt.Fprintln(stdout, "demo: the data upgrade failed and the team decides to go back to AX 2012: the rollback runbook (cutover init --rollback) runs now")
	path, err := demo.WriteRollbackRunbook(dir, sims, goLive)
	if err != nil {
		fmt.Fprintf(stderr, "cutover demo: %v\n", err)
		return exitFail
	}
	rb, ok := loadRunbook(path, stderr)
	if !ok {
		return exitFail
	}
	rbDir := filepath.Dir(path)
	opts := engine.Options{StateDir: filepath.Join(rbDir, "state"), Clock: clk, Ports: engine.Ports{Services: demo.Services{World: sims.World}}}
	return runEngine(rb, opts, rf, stdin, stdout, stderr, op)
}

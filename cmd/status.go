package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cutover/adapter"
	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/tui"
)

// cmdStatus answers "is replication healthy?" straight from the databases, with the run's
// progress from the journal when there is one. Exit codes are those of monitoring plugins.
func cmdStatus(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "status", Short: "is replication healthy? One glance; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	file := fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (its connections; its state directory's journal for the run's progress)")
	state := fs.String("state", "", "state `DIR`; default .cutover beside the runbook")
	asJSON := fs.Bool("json", false, "print the glance as JSON (schema "+tui.StatusSchema+")")
	oneLine := fs.Bool("oneline", false, "print one short line (for a tmux status bar)")
	watch := fs.Int("watch", 0, "check again every `SECONDS` until Ctrl-C (rates and ETAs appear from the second check)")
	th := engine.DefaultThresholds()
	fs.Int64Var(&th.WarnPending, "warn-pending", th.WarnPending, "WARNING at this many undelivered commands (0: off)")
	fs.Int64Var(&th.CritPending, "crit-pending", th.CritPending, "CRITICAL at this many undelivered commands (0: off)")
	fs.DurationVar(&th.WarnLatency, "warn-latency", th.WarnLatency, "WARNING at this agent latency (0: off)")
	fs.DurationVar(&th.CritLatency, "crit-latency", th.CritLatency, "CRITICAL at this agent latency (0: off)")
	fs.DurationVar(&th.MaxAge, "max-age", th.MaxAge, "figures older than this are stale: UNKNOWN")
	c.MarkFlagsMutuallyExclusive("json", "oneline")
	c.RunE = func(c *cobra.Command, args []string) error {
		stdout, stderr := s.out, s.err
		return exitWith(func() int {
			unknown := func(err error) int {
				st := tui.EvaluateStatus(nil, nil, th, time.Now())
				st.Reasons = append([]string{err.Error()}, st.Reasons...)
				writeStatus(st, *asJSON, *oneLine, stdout)
				return st.ExitCode()
			}
			// The glance reads the SQL connections only: it needs none of the other secrets (the LCS
			// sign-in, the team's), and a missing database password surfaces when its connection opens.
			opts := parseOptions()
			opts.SkipSecretChecks = true
			rb, err := runbook.Load(runbookOf(c.Flags(), *file, *state), opts)
			if err != nil {
				return unknown(fmt.Errorf("runbook: %w", err))
			}
			live := false
			var snap *engine.Snapshot
			var sample *engine.ReplicationSample
			var sampleAt time.Time
			if ins, err := engine.Inspect(rb, stateDirFor(*file, *state), registry()); err == nil {
				snap, sample, sampleAt, live = &ins.Snapshot, ins.Sample, ins.SampleAt, ins.Live
			} else if !errors.Is(err, iofs.ErrNotExist) {
				fmt.Fprintf(stderr, "cutover status: the journal cannot be read (%v); showing replication only\n", err)
			}
			sp, err := adapter.OpenSQL(rb, stderr)
			if err != nil {
				return unknown(fmt.Errorf("connections: %w", err))
			}
			if sp == nil || sp.Src == nil || sp.Dist == nil || sp.Tgt == nil {
				return unknown(errors.New("the runbook needs connections source, distribution and target to read replication"))
			}
			defer sp.Close()
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			if *watch <= 0 && os.Getenv("GOGC") == "" {
				// One glance is one burst of reading (at 50,000 tables ~25 MB live at its end): a
				// tighter collector keeps the peak near what is live for a fraction of a second's
				// extra CPU (issue 19: ~62 -> ~56 MB peak RSS at 50,000 tables). Watching keeps the
				// default, as the cockpit does; a GOGC the operator set wins.
				defer debug.SetGCPercent(debug.SetGCPercent(25))
			}
			poller := engine.NewPoller(sp, engine.MonitorConfig{Ignore: engine.IgnoredTables(rb)}, time.Now)
			code := exitOK
			for {
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
				view, err := poller.Poll(pctx)
				pcancel()
				switch {
				case err != nil && ctx.Err() != nil:
					return code
				case err != nil:
					// A failed check is UNKNOWN; watching goes on, so the glance recovers with the source.
					code = unknown(err)
				default:
					// One reading has no rate yet: a cockpit's recent journaled sample has one.
					if view.DrainRate == 0 && sample != nil && time.Since(sampleAt) < th.MaxAge {
						view.DrainRate, view.ETA = sample.DrainRate, sample.ETA
					}
					st := tui.EvaluateStatus(view, snap, th, time.Now())
					if st.Run != nil {
						st.Run.Stopped = !live
					}
					writeStatus(st, *asJSON, *oneLine, stdout)
					code = st.ExitCode()
				}
				if *watch <= 0 {
					return code
				}
				select {
				case <-ctx.Done():
					return code
				case <-time.After(time.Duration(*watch) * time.Second):
				}
				if ins, err := engine.Inspect(rb, stateDirFor(*file, *state), registry()); err == nil {
					snap, live = &ins.Snapshot, ins.Live
				}
			}
		}())
	}
	return c
}

func writeStatus(st tui.Status, asJSON, oneLine bool, w io.Writer) {
	switch {
	case asJSON:
		st.WriteJSON(w)
	case oneLine:
		fmt.Fprintln(w, st.OneLine())
	default:
		st.WriteText(w)
	}
}

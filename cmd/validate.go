package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cutover/adapter"
	"cutover/engine"
	"cutover/engine/runbook"
)

// cmdValidate runs a record-count validation once, with the rules of the runbook's first
// validate.counts step.
func cmdValidate(s *streams) *cobra.Command {
	c := &cobra.Command{Use: "validate", Annotations: map[string]string{needsRunbook: "yes"}, Short: "compare source and target record counts once (exit 0 when they match)", Args: usageArgs(cobra.NoArgs)}
	fs := c.Flags()
	fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (its connections, and its validate.counts step's rules)")
	asCSV := fs.Bool("csv", false, "write every table as CSV")
	asJSON := fs.Bool("json", false, "write the whole result as JSON")
	c.MarkFlagsMutuallyExclusive("csv", "json")
	c.RunE = func(c *cobra.Command, args []string) error {
		_, stdout, stderr := s.in, s.out, s.err
		return exitWith(func() int {
			rb := s.rb
			rules := engine.ValidationRules{Recount: true, Concurrency: 4}
			for _, s := range rb.Steps {
				if r, ok := s.Spec.(interface{ Rules() engine.ValidationRules }); ok && s.Kind == "validate.counts" {
					rules = r.Rules()
					break
				}
			}
			sp, err := adapter.OpenSQL(rb, stderr)
			if err != nil || sp == nil || sp.Src == nil || sp.Tgt == nil {
				if err == nil {
					err = errors.New("the runbook needs connections source and target")
				}
				fmt.Fprintf(stderr, "cutover validate: %v\n", err)
				return exitFail
			}
			defer sp.Close()
			ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			pending := map[string]int64{}
			if sp.Dist != nil {
				if backlog, err := sp.Backlog(ctx); err == nil {
					for _, b := range backlog {
						pending[strings.ToUpper(b.Article)] += b.Pending
					}
				} else {
					fmt.Fprintf(stderr, "cutover validate: backlog unknown (%v); differences count as mismatches\n", err)
				}
			}
			v, err := engine.Validate(ctx, sp, rules, pending, time.Now(), recountProgress(stderr, isTerminal(stderr)))
			if err != nil {
				fmt.Fprintf(stderr, "cutover validate: %v\n", err)
				return exitFail
			}
			switch {
			case *asCSV:
				err = v.WriteCSV(stdout)
			case *asJSON:
				err = v.WriteJSON(stdout)
			default:
				fmt.Fprintf(stdout, "%d tables: %s\n", len(v.Tables), v.Summary())
				for _, t := range v.Tables {
					if t.Class == engine.ClassMatch || t.Class == engine.ClassIgnored {
						continue
					}
					exact := ""
					if t.Exact {
						exact = " (exact)"
					}
					fmt.Fprintf(stdout, "  %-32s %-20s source %12d  target %12d  Δ %10d  pending %8d%s %s\n",
						t.Table, t.Class, t.Source, t.Target, t.Delta, t.Pending, exact, t.Reason)
				}
				if v.Passed {
					fmt.Fprintln(stdout, "OK: every table matches, is ignored, or differs as expected")
				} else {
					fmt.Fprintf(stdout, "FAILED: %d table(s) do not match\n", len(v.Failing()))
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "cutover validate: %v\n", err)
				return exitFail
			}
			if !v.Passed {
				return exitFail
			}
			return exitOK
		}())
	}
	return c
}

// recountProgress reports the exact recount on w. On a terminal one line is rewritten in place
// (\r) for every table counted; into a file or a pipe, where a \r is garbage, whole lines are
// written only when another tenth of the tables is done, and at the end.
func recountProgress(w io.Writer, terminal bool) func(done, total int) {
	var mu sync.Mutex
	tenths := -1
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if total <= 0 {
			return
		}
		if terminal {
			fmt.Fprintf(w, "\rrecounting exactly: %d of %d", done, total)
			if done == total {
				fmt.Fprintln(w)
			}
			return
		}
		if t := done * 10 / total; t > tenths || done == total {
			tenths = t
			fmt.Fprintf(w, "recounting exactly: %d of %d\n", done, total)
		}
	}
}

// The status glance in words: the full text, the one line and the plugin performance data.

package tui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"cutover/engine"
)

// rollbackText is the rollback's readiness in words, for the glance: whether the rollback point
// was made and its backup verified, and which step is the point of no return and when.
func rollbackText(rb engine.RollbackView, now time.Time) string {
	in := ""
	if rb.Projected {
		in = " in ≈" + dur(rb.Left)
	}
	ago := dur(max(now.Sub(rb.PointAt), 0)) + " ago"
	switch rb.State {
	case engine.RollbackGone:
		return fmt.Sprintf("rollback over: the point of no return (%s) passed %s ago", rb.NoReturn, dur(max(now.Sub(rb.NoReturnAt), 0)))
	case engine.RollbackReady:
		var point string
		switch rb.Proof {
		case engine.ProofVerified:
			point = fmt.Sprintf("rollback ready · backup verified %s (%s)", ago, rb.Point)
		case engine.ProofByHand:
			point = fmt.Sprintf("rollback point made by hand %s (%s, not verified)", ago, rb.Point)
		default:
			point = fmt.Sprintf("rollback point made %s (%s, not verified: the step does not check the backup)", ago, rb.Point)
		}
		return fmt.Sprintf("%s · no return: %s%s", point, rb.NoReturn, in)
	case engine.RollbackAtRisk:
		return fmt.Sprintf("NO rollback point (%s not done) · no return: %s awaits confirmation", rb.Point, rb.NoReturn)
	case engine.RollbackNoPoint:
		if rb.Point == "" {
			return fmt.Sprintf("no return: %s%s · no rollback point named", rb.NoReturn, in)
		}
		return fmt.Sprintf("no rollback point yet (%s %s) · no return: %s%s", rb.Point, rb.PointState, rb.NoReturn, in)
	}
	return ""
}

// drainText says how the backlog moves: "draining 1,500/s", "growing 20/s".
func drainText(r float64) string {
	if r < 0 {
		return "growing " + perSec(-r)
	}
	return "draining " + perSec(r)
}

// etaText is an ETA, or why there is none.
func etaText(pending int64, eta time.Duration) string {
	switch {
	case pending <= 0:
		return "drained"
	case eta <= 0:
		return "ETA unknown"
	}
	return "ETA " + dur(eta)
}

// WriteText writes the glance for people (ssh exec, scripts): the verdict and its reasons first
// (with monitoring-plugin performance data after a "|"), then the figures with their ages, the
// worst tables, agents in error, the sources and where the run stands. Plain text, no colours.
func (s Status) WriteText(w io.Writer) error {
	var b strings.Builder
	now := s.CheckedAt
	b.WriteString("cutover " + s.Level.String())
	if len(s.Reasons) > 0 {
		b.WriteString(" - " + strings.ReplaceAll(strings.Join(s.Reasons, "; "), "|", "/"))
	} else if s.Level == engine.LevelOK {
		b.WriteString(" - replication healthy")
	}
	if r := s.Replication; r != nil {
		pending := "U" // a monitoring plugin's "unknown" value: the backlog was never read
		if !r.PendingAt.IsZero() {
			pending = fmt.Sprint(r.TotalPending)
		}
		fmt.Fprintf(&b, " | pending=%s;%s;%s;0 drain_rate=%.1f", pending, perfThreshold(s.Thresholds.WarnPending),
			perfThreshold(s.Thresholds.CritPending), r.DrainRate)
		if !r.FiguresAt.IsZero() {
			fmt.Fprintf(&b, " age=%.0fs;;%.0f", r.DataAge.Seconds(), s.Thresholds.MaxAge.Seconds())
		}
	}
	b.WriteByte('\n')
	if r := s.Replication; r != nil {
		parts := []string{"pending " + num(r.TotalPending) + " (read " + age(now, r.PendingAt) + ")", drainText(r.DrainRate), etaText(r.TotalPending, r.ETA)}
		if r.PendingAt.IsZero() {
			// Never read is not empty: no "drained", no rate, no ETA.
			parts = []string{"pending unknown (backlog never read)"}
		}
		parts = append(parts, fmt.Sprintf("%s tables", num(int64(r.Tables))), "agents read "+age(now, r.AgentsAt))
		if r.MaxLatency > 0 {
			parts = append(parts, "worst latency "+dur(r.MaxLatency)+" ("+r.MaxLatencyAgent+")")
		}
		if !r.Retired.IsZero() {
			parts = append(parts, "replication removed "+age(now, r.Retired))
		}
		b.WriteString("replication  " + strings.Join(parts, " · ") + "\n")
		if len(r.Worst) > 0 {
			b.WriteString("worst tables\n")
			nameW, pubW := 0, 0
			for _, t := range r.Worst {
				nameW, pubW = max(nameW, len(t.Table)), max(pubW, len(t.Publication))
			}
			for _, t := range r.Worst {
				if t.PendingAt.IsZero() {
					fmt.Fprintf(&b, "  %-*s  %-*s  pending unknown (never read)  delta %s\n", nameW, t.Table, pubW, t.Publication, signed(t.Delta))
					continue
				}
				fmt.Fprintf(&b, "  %-*s  %-*s  pending %s (read %s)  delta %s  %s  %s\n", nameW, t.Table, pubW, t.Publication,
					num(t.Pending), age(now, t.PendingAt), signed(t.Delta), perSec(t.Rate), etaText(t.Pending, t.ETA))
			}
		}
		if len(r.AgentsInError) > 0 {
			b.WriteString("agents in error\n")
			for _, a := range r.AgentsInError {
				fmt.Fprintf(&b, "  %s · %s (%s, %s): %s\n", a.Publication, a.Agent, a.Kind, a.Status, a.Error)
			}
		}
		var srcs []string
		for _, src := range r.Sources {
			srcs = append(srcs, sourceText(src, now))
		}
		b.WriteString("sources      " + strings.Join(srcs, " · ") + "\n")
	}
	if rs := s.Run; rs != nil {
		steps := fmt.Sprintf("%d/%d steps", rs.StepsDone, rs.StepsTotal)
		if rs.StepsNotNeeded > 0 {
			steps += fmt.Sprintf(" (%d not needed)", rs.StepsNotNeeded)
		}
		parts := []string{rs.Name, steps}
		if c := rs.Current; c != nil {
			cur := c.ID + " " + c.State.String()
			if c.Phase != "" {
				cur += " (" + c.Phase + ")"
			}
			parts = append(parts, cur)
		}
		parts = append(parts, rs.outcomeText())
		if d := rs.Downtime; d != nil {
			switch {
			case d.Began.IsZero():
				parts = append(parts, "downtime not started (budget "+dur(d.Budget)+")")
			case d.Over():
				parts = append(parts, fmt.Sprintf("downtime %s / %s: OVER budget by %s", dur(d.Elapsed), dur(d.Budget), dur(d.Elapsed-d.Budget)))
			default:
				parts = append(parts, fmt.Sprintf("downtime %s / %s", dur(d.Elapsed), dur(d.Budget)))
			}
		}
		b.WriteString("run          " + strings.Join(parts, " · ") + "\n")
		if rb := rs.Rollback; rb != nil {
			b.WriteString("rollback     " + rollbackText(*rb, now) + "\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// perfThreshold writes a threshold in performance data (empty when not checked).
func perfThreshold(n int64) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// sourceText is one source's health with the age of its last good read.
func sourceText(src SourceStatus, now time.Time) string {
	switch {
	case src.Health == engine.HealthFailing:
		return fmt.Sprintf("%s FAILING for %s: %s (last good read %s)", src.Name, dur(now.Sub(src.Since)), src.LastError, age(now, src.LastOK))
	case src.LastOK.IsZero():
		return src.Name + " never read"
	}
	return fmt.Sprintf("%s %s (read %s)", src.Name, src.Health, age(now, src.LastOK))
}

// OneLineWidth is the most cells OneLine uses.
const OneLineWidth = 80

// OneLine is the glance in one line that fits a tmux status line (at most OneLineWidth cells):
// "cutover OK 46,162 pending ETA 31s · 7/21 steps", "cutover CRIT agent error AX_PUB_PkTable_2".
func (s Status) OneLine() string {
	head := "cutover " + levelShort(s.Level)
	var what string
	switch {
	case s.Level != engine.LevelOK && len(s.Reasons) > 0:
		what = s.brief(0)
		if n := len(s.Reasons) - 1; n > 0 {
			what += fmt.Sprintf(" (+%d)", n)
		}
	case s.Replication != nil && !s.Replication.Retired.IsZero():
		what = "replication removed"
	case s.Replication != nil:
		what = num(s.Replication.TotalPending) + " pending"
		if s.Replication.TotalPending > 0 && s.Replication.ETA > 0 {
			what += " ETA " + dur(s.Replication.ETA)
		}
	case len(s.Reasons) > 0:
		what = s.brief(0)
	}
	line := head
	if what != "" {
		line += " " + what
	}
	if rs := s.Run; rs != nil {
		tail := fmt.Sprintf(" · %d/%d steps", rs.StepsDone, rs.StepsTotal)
		if ansi.StringWidth(line+tail) <= OneLineWidth {
			line += tail
		}
	}
	return ansi.Truncate(strings.ReplaceAll(line, "\n", " "), OneLineWidth, "…")
}

// brief is reason i in a few words.
func (s Status) brief(i int) string {
	if i < len(s.briefs) && s.briefs[i] != "" {
		return s.briefs[i]
	}
	return s.Reasons[i]
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// UpgradeWatchKind follows the data upgrade on the sandbox: phase and step, percent, elapsed,
// failures with their error text, and a stall warning after a quiet period. It succeeds when the
// upgrade completes and fails with the toolkit's Resume advice when it fails.
type UpgradeWatchKind struct{}

// Name implements Kind.
func (UpgradeWatchKind) Name() string { return "upgrade.watch" }

// Mode implements Kind.
func (UpgradeWatchKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {stall_after, poll}`.
func (UpgradeWatchKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &upgradeWatchAction{stallAfter: 30 * time.Minute, poll: time.Minute}
	d.Fields(with, where, map[string]runbook.Field{
		"stall_after": func(v *yaml.Node) { a.stallAfter = d.Duration(v, where, "stall_after") },
		"poll":        func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
	})
	if rb := d.Runbook(); rb != nil && rb.Connections.Target == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind upgrade.watch reads the sandbox's upgrade tables: add connections target")
	}
	if a.poll <= 0 {
		a.poll = time.Minute
	}
	return a
}

type upgradeWatchAction struct {
	stallAfter time.Duration
	poll       time.Duration
}

func (a *upgradeWatchAction) Describe() string {
	return fmt.Sprintf("follow the data upgrade on the sandbox ([DBUPGRADE].[DATAUPGRADESTATUS], servicing steps, the Data upgrade batch job) until it completes; warn when nothing happens for %s", runbook.FormatDuration(a.stallAfter))
}

// Rerunnable: it only reads.
func (a *upgradeWatchAction) Rerunnable() bool { return true }

func (a *upgradeWatchAction) Run(ctx context.Context, run *Run) error {
	src := run.Ports().Upgrade
	if src == nil {
		return Permanent(errors.New("no sandbox connection: add connections target"))
	}
	var lastStep string
	var stallWarned bool
	for {
		p, err := src.Upgrade(ctx)
		now := run.Clock().Now()
		switch {
		case err != nil:
			run.Warnf("reading the upgrade tables: %v", err)
		case p.Phase == UpgradeNotStarted:
			run.Progress(Progress{Percent: 0, Message: "waiting for the data upgrade to start (toolkit: Data Synchronise: Trigger Transformation)"})
		case p.Phase == UpgradeCompleted:
			took := ""
			if !p.Started.IsZero() {
				took = " in " + runbook.FormatDuration(now.Sub(p.Started))
			}
			run.SetMessage("data upgrade completed" + took)
			return nil
		case p.Phase == UpgradeFailed:
			msg := fmt.Sprintf("the data upgrade failed in %s", describeUpgradeStep(p))
			if len(p.Errors) > 0 {
				msg += ": " + strings.Join(p.Errors[:min(3, len(p.Errors))], "; ")
			}
			return Permanent(errors.New(msg + ". Fix the cause, then run the toolkit's Data Synchronise step again — it offers Resume — and retry this step"))
		default:
			step := describeUpgradeStep(p)
			if step != lastStep {
				run.Logf("data upgrade: %s", step)
				lastStep, stallWarned = step, false
			}
			msg := fmt.Sprintf("%s, running for %s", step, runbook.FormatDuration(now.Sub(p.Started)))
			if !p.LastActivity.IsZero() && now.Sub(p.LastActivity) >= a.stallAfter {
				quiet := runbook.FormatDuration(now.Sub(p.LastActivity))
				msg += fmt.Sprintf(" — no activity for %s: the database sync may have stalled", quiet)
				if !stallWarned {
					run.Warnf("no activity from the servicing host for %s: the sync may have stalled; open a support case with the DBSyncActivityId", quiet)
					stallWarned = true
				}
			}
			run.Progress(Progress{Percent: p.Percent, Message: msg})
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("data upgrade still running (%s): %w", lastStep, err)
		}
	}
}

func describeUpgradeStep(p UpgradeProgress) string {
	s := p.Step
	if p.SubStep != "" {
		s += " / " + p.SubStep
	}
	if s == "" {
		s = "the data upgrade"
	}
	if p.Percent >= 0 {
		s += fmt.Sprintf(" (%.0f%%)", p.Percent)
	}
	return s
}

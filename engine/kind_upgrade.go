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
// failures with their error text, and a stall warning after a quiet period. Like the toolkit's
// `ds` report (migration-upgrade/data-upgrade-self-service.md) it weighs the sandbox's own upgrade
// tables with the sandbox's state in LCS: the upgrade has succeeded when LCS says Deployed and
// failed when LCS says Failed; the tables give the step, the progress and the script errors, and
// decide alone when LCS cannot be asked. It succeeds when the upgrade completes and fails with the
// toolkit's Resume advice when it fails.
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
	if rb := d.Runbook(); rb != nil {
		if rb.Connections.Target == nil {
			d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind upgrade.watch reads the sandbox's upgrade tables: add connections target")
		}
		if rb.LCS != nil {
			a.sandbox = rb.LCS.SandboxEnvironmentID
		}
	}
	if a.poll <= 0 {
		a.poll = time.Minute
	}
	return a
}

type upgradeWatchAction struct {
	stallAfter time.Duration
	poll       time.Duration
	// sandbox is the sandbox's LCS environment id ("" without an lcs section).
	sandbox string
}

func (a *upgradeWatchAction) Describe() string {
	lcs := ""
	if a.sandbox != "" {
		lcs = " and the sandbox's state in LCS (Deployed when it succeeded, Failed when it failed)"
	}
	return fmt.Sprintf("follow the data upgrade on the sandbox ([DBUPGRADE].[DATAUPGRADESTATUS], servicing steps, the Data upgrade batch job)%s until it completes; warn when nothing happens for %s",
		lcs, runbook.FormatDuration(a.stallAfter))
}

// Rerunnable: it only reads.
func (a *upgradeWatchAction) Rerunnable() bool { return true }

// stopEffect implements stopNoter: the step only watches.
func (a *upgradeWatchAction) stopEffect() string {
	return "The data upgrade goes on in the sandbox: cutover only stops watching it, and the step fails. Run the step again to follow it."
}

// The sandbox's LCS states the `ds` report names for the end of the data upgrade
// (migration-upgrade/data-upgrade-self-service.md): "AX 2012 upgrade topology (LCS) status:
// Deployed" when it succeeded, "… Failed" when it failed, and "Data upgrade in progress" meanwhile.
var (
	lcsUpgradeSucceeded  = []string{"Deployed"}
	lcsUpgradeFailed     = []string{"Failed"}
	lcsUpgradeInProgress = []string{"Data upgrade in progress"}
)

// upgradeVerdict is where the data upgrade is, from the sandbox's tables (p) and its LCS state
// (known false when there is none to ask or it could not be read). seen says the upgrade was seen
// under way during this watch: LCS shows an environment Deployed before the upgrade too. note
// explains a disagreement between the two.
func upgradeVerdict(p UpgradeProgress, state string, known, seen bool) (phase UpgradePhase, note string) {
	if !known {
		return p.Phase, ""
	}
	switch {
	case matchState(state, lcsUpgradeFailed):
		return UpgradeFailed, ""
	case matchState(state, lcsUpgradeSucceeded) && (seen || p.Phase != UpgradeNotStarted):
		return UpgradeCompleted, ""
	case p.Phase == UpgradeCompleted:
		return UpgradeRunning, "the sandbox's tables show the last step done; waiting for LCS to say Deployed (it says " + orDash(state) + ")"
	case p.Phase == UpgradeFailed:
		return UpgradeRunning, "a step shows Failed on the sandbox, but LCS says " + orDash(state) + ", not Failed"
	case p.Phase == UpgradeNotStarted && matchState(state, lcsUpgradeInProgress):
		return UpgradeRunning, "LCS says " + state + "; the sandbox shows no upgrade step yet"
	}
	return p.Phase, ""
}

func (a *upgradeWatchAction) Run(ctx context.Context, run *Run) error {
	src := run.Ports().Upgrade
	if src == nil {
		return Permanent(errors.New("no sandbox connection: add connections target"))
	}
	api := run.Ports().LCS
	if a.sandbox == "" {
		api = nil
	}
	var lastStep, lastNote, lastUnread, lastLCS, lastErr string
	var stallWarned, seen bool
	// best is the furthest the upgrade was seen to get: the estimate is by phase and by the running
	// batch job's tasks, so between two jobs it would go back; the step shows it never does.
	best := -1.0
	for {
		// LCS first, then the tables: the sandbox writes its script errors and step states before
		// LCS reports the outcome, so tables read after the state hold what led to it (read the
		// other way round, a failure that lands between the two reads shows without its cause).
		state, known := "", false
		if api != nil {
			env, lerr := api.Environment(ctx, a.sandbox)
			switch {
			case lerr != nil:
				if msg := lerr.Error(); msg != lastLCS {
					run.Warnf("reading the sandbox's state in LCS: %v (the upgrade tables decide meanwhile)", lerr)
					lastLCS = msg
				}
			default:
				state, known, lastLCS = env.State, true, ""
			}
		}
		p, err := src.Upgrade(ctx)
		now := run.Clock().Now()
		if err != nil {
			if msg := err.Error(); msg != lastErr {
				run.Warnf("reading the upgrade tables: %v", err)
				lastErr = msg
			}
			p = UpgradeProgress{Phase: UpgradeNotStarted, Percent: -1}
			if !known {
				if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
					return fmt.Errorf("data upgrade not seen: %w", err)
				}
				continue
			}
		}
		if err == nil {
			lastErr = ""
		}
		if unread := strings.Join(p.Unread, "; "); unread != lastUnread {
			if unread != "" {
				run.Warnf("could not read part of the upgrade tables: %s", unread)
			}
			lastUnread = unread
		}
		if p.Phase != UpgradeNotStarted || (known && matchState(state, lcsUpgradeInProgress)) {
			seen = true
		}
		phase, note := upgradeVerdict(p, state, known, seen)
		if note != lastNote {
			if note != "" {
				run.Logf("%s", note)
			}
			lastNote = note
		}
		switch phase {
		case UpgradeNotStarted:
			msg := "waiting for the data upgrade to start (toolkit: Data Synchronise: Trigger Transformation)"
			if known {
				msg += "; LCS says " + orDash(state)
			}
			run.Progress(Progress{Percent: 0, Message: msg})
		case UpgradeCompleted:
			took := ""
			if !p.Started.IsZero() {
				took = " in " + runbook.FormatDuration(now.Sub(p.Started))
			}
			msg := "data upgrade completed" + took
			if known {
				msg += " (LCS: " + state + ")"
			}
			run.SetMessage(msg)
			return nil
		case UpgradeFailed:
			msg := "the data upgrade failed"
			if known {
				msg += " (LCS: " + state + ")"
			}
			if p.Step != "" {
				msg += " in " + describeUpgradeStep(p)
			}
			if len(p.Errors) > 0 {
				msg += ": " + strings.Join(p.Errors[:min(3, len(p.Errors))], "; ")
			}
			return Permanent(errors.New(strings.TrimRight(msg, ". ") + ". Fix the cause, then run the toolkit's Data Synchronise step again — it offers Resume — and retry this step"))
		default:
			if p.Percent >= 0 {
				best = max(best, p.Percent)
				p.Percent = best
			}
			step := describeUpgradeStep(p)
			if key := p.Step + " / " + p.SubStep; key != lastStep {
				run.Logf("data upgrade: %s", step)
				lastStep, stallWarned = key, false
			}
			msg := step
			if !p.Started.IsZero() {
				msg += ", running for " + runbook.FormatDuration(now.Sub(p.Started))
			}
			if note != "" {
				msg += " — " + note
			}
			if !p.LastActivity.IsZero() && now.Sub(p.LastActivity) >= a.stallAfter {
				quiet := runbook.FormatDuration(now.Sub(p.LastActivity))
				msg += fmt.Sprintf(" — no activity for %s: the database sync may have stalled", quiet)
				if !stallWarned {
					id := ""
					if p.SyncActivity != "" {
						id = " " + p.SyncActivity
					}
					run.Warnf("no activity from the servicing host for %s: the sync may have stalled; open a support case with the DBSyncActivityId%s", quiet, id)
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

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

// ErrOutcomeUnknown is what an LCS port returns when a request that starts an operation may or
// may not have reached LCS (a lost answer): the caller must look at the history, not retry.
var ErrOutcomeUnknown = errors.New("the outcome of the request is unknown")

// lcsEnv resolves an environment reference: "sandbox", "production" or an environment id.
func lcsEnv(d *runbook.Decoder, s *runbook.Step, v *yaml.Node, key string) (id string, production bool) {
	where := fmt.Sprintf("step %q with", s.ID)
	ref := d.NonEmpty(v, where, key)
	rb := d.Runbook()
	if rb == nil || rb.LCS == nil {
		d.Errorf(v, where, "%s: the runbook has no lcs: section (project, region, environment ids)", key)
		return ref, false
	}
	switch strings.ToLower(ref) {
	case "sandbox":
		if rb.LCS.SandboxEnvironmentID == "" {
			d.Errorf(v, where, "%s: lcs.sandbox_environment_id is not set", key)
		}
		return rb.LCS.SandboxEnvironmentID, false
	case "production":
		if rb.LCS.ProductionEnvironmentID == "" {
			d.Errorf(v, where, "%s: lcs.production_environment_id is not set", key)
		}
		return rb.LCS.ProductionEnvironmentID, true
	}
	return ref, strings.EqualFold(ref, rb.LCS.ProductionEnvironmentID)
}

func needLCS(run *Run) (LCS, error) {
	if run.Ports().LCS == nil {
		return nil, Permanent(errors.New("no LCS connection: configure the runbook's lcs section and sign in"))
	}
	return run.Ports().LCS, nil
}

// LCSEnvStateKind waits until an LCS environment reaches a state (the sandbox back to Deployed
// after the data upgrade), showing the current state and how long it has been in it.
type LCSEnvStateKind struct{}

// Name implements Kind.
func (LCSEnvStateKind) Name() string { return "lcs.env-state" }

// Mode implements Kind.
func (LCSEnvStateKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {environment, state, fail_on, poll}`.
func (LCSEnvStateKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &envStateAction{poll: time.Minute, failOn: []string{"Failed"}}
	present := d.Fields(with, where, map[string]runbook.Field{
		"environment": func(v *yaml.Node) { a.env, _ = lcsEnv(d, s, v, "environment"); a.label = v.Value },
		"state":       func(v *yaml.Node) { a.want = d.Strings(v, where, "state") },
		"fail_on":     func(v *yaml.Node) { a.failOn = d.Strings(v, where, "fail_on") },
		"poll":        func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind lcs.env-state needs `with: {environment: sandbox, state: Deployed}`")
		return a
	}
	d.Require(with, where, present, "environment", "state")
	if a.poll < time.Second {
		a.poll = time.Second
	}
	return a
}

type envStateAction struct {
	env, label string
	want       []string
	failOn     []string
	poll       time.Duration
}

func (a *envStateAction) Describe() string {
	return fmt.Sprintf("wait until the %s environment (%s) is %s in LCS", a.label, a.env, strings.Join(a.want, " or "))
}

// Rerunnable: it only reads.
func (a *envStateAction) Rerunnable() bool { return true }

func matchState(state string, list []string) bool {
	for _, s := range list {
		if strings.EqualFold(strings.TrimSpace(state), s) {
			return true
		}
	}
	return false
}

func (a *envStateAction) Run(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	var state string
	var since time.Time
	for {
		env, err := api.Environment(ctx, a.env)
		now := run.Clock().Now()
		switch {
		case err != nil:
			run.Warnf("reading %s from LCS: %v", a.label, err)
		case env.State != state:
			if state != "" {
				run.Logf("%s: %s → %s after %s", a.label, state, env.State, runbook.FormatDuration(now.Sub(since)))
			} else {
				run.Logf("%s is %s", a.label, env.State)
			}
			state, since = env.State, now
		}
		if matchState(state, a.want) {
			run.SetMessage(fmt.Sprintf("%s is %s", a.label, state))
			return nil
		}
		if matchState(state, a.failOn) {
			return Permanent(fmt.Errorf("%s is %s in LCS (waiting for %s): look at the environment's history in LCS; after a failed data upgrade, fix the cause and Resume it with the toolkit", a.label, state, strings.Join(a.want, " or ")))
		}
		if state != "" {
			run.Progress(Progress{Percent: -1, Message: fmt.Sprintf("%s is %s (for %s), waiting for %s", a.label, state, runbook.FormatDuration(now.Sub(since)), strings.Join(a.want, " or "))})
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("%s still %s: %w", a.label, orDash(state), err)
		}
	}
}

// LCSQuotaKind checks that enough database operations remain for the plan (a refresh and a retry).
type LCSQuotaKind struct{}

// Name implements Kind.
func (LCSQuotaKind) Name() string { return "lcs.quota" }

// Mode implements Kind.
func (LCSQuotaKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {environment, need}`.
func (LCSQuotaKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &quotaAction{need: 2, label: "production"}
	d.Fields(with, where, map[string]runbook.Field{
		"environment": func(v *yaml.Node) { a.env, _ = lcsEnv(d, s, v, "environment"); a.label = v.Value },
		"need":        func(v *yaml.Node) { a.need = d.Int(v, where, "need", 1, 3) },
	})
	if a.env == "" {
		if rb := d.Runbook(); rb != nil && rb.LCS != nil {
			a.env = rb.LCS.ProductionEnvironmentID
		} else {
			d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind lcs.quota needs the runbook's lcs section")
		}
	}
	return a
}

type quotaAction struct {
	env, label string
	need       int
}

func (a *quotaAction) Describe() string {
	return fmt.Sprintf("check that %d database operation(s) remain for the %s environment in LCS's rolling 24 hours (3 allowed)", a.need, a.label)
}

// Rerunnable: it only reads.
func (a *quotaAction) Rerunnable() bool { return true }

func (a *quotaAction) Run(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	q, err := api.Quota(ctx, a.env)
	if err != nil {
		return fmt.Errorf("read the database operation quota: %w", err)
	}
	if q.Remaining < a.need {
		msg := fmt.Sprintf("only %d database operation(s) left for %s in the rolling 24 hours (%d used); the plan needs %d", q.Remaining, a.label, q.Used, a.need)
		if at := q.FreesAt(a.need); !at.IsZero() {
			msg += fmt.Sprintf("; %d are free from %s", a.need, at.Local().Format("2006-01-02 15:04"))
			// Nothing changes before then: the retry waits for it.
			return RetryAt(errors.New(msg), at)
		}
		return errors.New(msg)
	}
	run.SetMessage(fmt.Sprintf("%d of 3 database operations left for %s (needs %d)", q.Remaining, a.label, a.need))
	return nil
}

// LCSRefreshKind copies one environment's database into another. Into a sandbox it starts the
// refresh through the API, journals the operation id before polling it, and after a restart keeps
// polling that operation — it never starts a second one. Into production (which the API does not
// offer) it is a guided step: it shows the portal path and what a refresh resets, waits for the
// operators' typed confirmations that they started it, then follows it in the environment's
// history until it completes.
type LCSRefreshKind struct{}

// Name implements Kind.
func (LCSRefreshKind) Name() string { return "lcs.refresh" }

// Mode implements Kind.
func (LCSRefreshKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {source, target, poll, find_within}`.
func (LCSRefreshKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &refreshAction{poll: time.Minute, findWithin: 6 * time.Hour}
	present := d.Fields(with, where, map[string]runbook.Field{
		"source":      func(v *yaml.Node) { a.source, _ = lcsEnv(d, s, v, "source"); a.sourceLabel = v.Value },
		"target":      func(v *yaml.Node) { a.target, a.production = lcsEnv(d, s, v, "target"); a.targetLabel = v.Value },
		"poll":        func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
		"find_within": func(v *yaml.Node) { a.findWithin = d.Duration(v, where, "find_within") },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind lcs.refresh needs `with: {source: sandbox, target: production}`")
		return a
	}
	d.Require(with, where, present, "source", "target")
	if !s.Destructive {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "lcs.refresh overwrites the target's database: mark the step destructive: true")
	}
	if a.production && s.Approvals == 0 {
		s.Approvals = 2 // the point of no return needs two people unless the runbook says otherwise
	}
	if a.poll < time.Second {
		a.poll = time.Second
	}
	return a
}

type refreshAction struct {
	source, target           string
	sourceLabel, targetLabel string
	production               bool
	poll                     time.Duration
	findWithin               time.Duration
}

// refreshResets is what a refresh into production does besides copying (database-refresh.md).
const refreshResets = `a refresh cannot be cancelled; afterwards all users except Admin are disabled, all batch jobs are set to Withhold, batch history and server configuration are cleared, attachments stored in blobs are not copied, and the point-in-time-restore chain restarts`

func (a *refreshAction) Describe() string {
	if a.production {
		return fmt.Sprintf("refresh %s (%s) from %s (%s) — the API does not offer this refresh: start it yourself in the LCS portal:\n  %s environment → Maintain → Move database → Refresh database, source = %s\nthen confirm here that it started; cutover follows it in the environment's history.\n%s",
			a.targetLabel, a.target, a.sourceLabel, a.source, a.targetLabel, a.source, refreshResets)
	}
	return fmt.Sprintf("refresh %s (%s) from %s (%s) through the LCS API and follow the operation until it completes; %s",
		a.targetLabel, a.target, a.sourceLabel, a.source, "the target environment goes offline while its database is replaced")
}

// Preview shows the database operation budget with the confirmation.
func (a *refreshAction) Preview(ctx context.Context, run *Run) (string, error) {
	api, err := needLCS(run)
	if err != nil {
		return "", err
	}
	q, err := api.Quota(ctx, a.target)
	if err != nil {
		return "", fmt.Errorf("database operations left: %w", err)
	}
	s := fmt.Sprintf("database operations left for %s in the rolling 24 hours: %d of 3", a.targetLabel, q.Remaining)
	if q.Remaining == 0 && !q.NextSlot.IsZero() {
		s += " (next at " + q.NextSlot.Local().Format("15:04") + ")"
	}
	if q.Remaining < 2 {
		s += " — a failed refresh could not be retried tonight"
	}
	return s, nil
}

func (a *refreshAction) Run(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	if a.production {
		if err := run.Record(map[string]string{"guided_since": run.Clock().Now().UTC().Format(time.RFC3339Nano)}); err != nil {
			return err
		}
		return a.followPortal(ctx, run, api, run.Clock().Now())
	}
	// Journal the intent before the request: if cutover dies before the answer is journaled, the
	// restart looks in the history instead of starting a second refresh.
	intent := run.Clock().Now()
	if err := run.Record(map[string]string{"intent": intent.UTC().Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	activity, err := api.StartRefresh(ctx, a.source, a.target)
	if err != nil {
		if errors.Is(err, ErrOutcomeUnknown) {
			return a.adopt(ctx, run, api, intent)
		}
		return err
	}
	if err := run.Record(map[string]string{"activity": activity}); err != nil {
		return err
	}
	run.Logf("LCS accepted the refresh: operation %s", activity)
	return a.follow(ctx, run, api, activity)
}

// Resume keeps following the operation a previous run started; it never starts another.
func (a *refreshAction) Resume(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	ref := run.Ref()
	if id := ref["activity"]; id != "" {
		run.Logf("resuming: following LCS operation %s (started before the restart)", id)
		return a.follow(ctx, run, api, id)
	}
	if since, err := time.Parse(time.RFC3339Nano, ref["guided_since"]); err == nil {
		return a.followPortal(ctx, run, api, since)
	}
	if intent, err := time.Parse(time.RFC3339Nano, ref["intent"]); err == nil {
		return a.adopt(ctx, run, api, intent)
	}
	return Permanent(errors.New("interrupted before anything was sent to LCS; retry the step"))
}

// isRefresh recognizes a refresh in the environment history.
func isRefresh(op LCSOperation) bool {
	t := strings.ToLower(op.Type + " " + op.Name)
	return strings.Contains(t, "refresh") || strings.Contains(t, "sourcedbto")
}

// adopt finds the refresh a lost answer may have started, in the target's history.
func (a *refreshAction) adopt(ctx context.Context, run *Run, api LCS, intent time.Time) error {
	hist, err := api.History(ctx, a.target)
	if err != nil {
		return Permanent(fmt.Errorf("a refresh may have been started at %s but LCS's answer was lost, and the history cannot be read (%v): look at %s's history in LCS before retrying this step", intent.Local().Format("15:04:05"), err, a.targetLabel))
	}
	for _, op := range hist {
		if isRefresh(op) && !op.Started.Before(intent.Add(-time.Minute)) {
			if err := run.Record(map[string]string{"activity": op.ActivityID}); err != nil {
				return err
			}
			run.Logf("found the refresh in %s's history: operation %s (%s)", a.targetLabel, op.ActivityID, op.Status)
			return a.follow(ctx, run, api, op.ActivityID)
		}
	}
	return Permanent(fmt.Errorf("a refresh may have been started at %s, but %s's history shows none: check the environment in LCS; if no refresh is running, retry this step", intent.Local().Format("15:04:05"), a.targetLabel))
}

// follow polls an operation until it ends.
func (a *refreshAction) follow(ctx context.Context, run *Run, api LCS, activity string) error {
	start := run.Clock().Now()
	last := ""
	for {
		op, err := api.Operation(ctx, a.target, activity)
		switch {
		case err != nil:
			run.Warnf("reading operation %s: %v", activity, err)
		case op.Status != last:
			run.Logf("operation %s: %s", activity, op.Status)
			last = op.Status
			_ = run.Record(map[string]string{"status": op.Status})
		}
		if err == nil && op.Terminal {
			if op.Succeeded {
				run.SetMessage(fmt.Sprintf("refresh %s %s after %s", activity, op.Status, runbook.FormatDuration(run.Clock().Now().Sub(start))))
				return nil
			}
			return Permanent(fmt.Errorf("the refresh (operation %s) ended %s: download the runbook logs in LCS; a failed refresh can be rolled back there", activity, op.Status))
		}
		if last != "" {
			run.Progress(Progress{Percent: -1, Message: fmt.Sprintf("refresh %s: %s for %s", activity, last, runbook.FormatDuration(run.Clock().Now().Sub(start)))})
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("refresh %s still %s: %w", activity, orDash(last), err)
		}
	}
}

// followPortal finds the refresh the operators started in the portal and follows it.
func (a *refreshAction) followPortal(ctx context.Context, run *Run, api LCS, since time.Time) error {
	for {
		hist, err := api.History(ctx, a.target)
		if err != nil {
			run.Warnf("reading %s's history: %v", a.targetLabel, err)
		}
		for _, op := range hist {
			if isRefresh(op) && !op.Started.Before(since.Add(-a.findWithin)) && op.ActivityID != "" {
				if err := run.Record(map[string]string{"activity": op.ActivityID}); err != nil {
					return err
				}
				run.Logf("found the refresh started in the portal: operation %s (%s), started %s", op.ActivityID, op.Status, op.Started.Local().Format("15:04"))
				return a.follow(ctx, run, api, op.ActivityID)
			}
		}
		run.Progress(Progress{Percent: -1, Message: fmt.Sprintf("no refresh in %s's history yet: start it in the LCS portal (Maintain → Move database → Refresh database, source %s)", a.targetLabel, a.source)})
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("no refresh of %s found in LCS: %w", a.targetLabel, err)
		}
	}
}

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
	// The production id in any spelling (dashed, undashed, another case: LCS writes both) is
	// production, and guarded as such.
	return ref, d.SameLCSID(ref, rb.LCS.ProductionEnvironmentID)
}

// lcsStates are the LCS environment states (DeploymentStatusDisplay) grouped by meaning, each
// group's first spelling the one cutover shows. The documents spell one state several ways:
//   - data-upgrade-self-service.md, its steps: Deployed, Ready for replication, Replication in
//     progress, Replication completed, Data upgrade in progress, Failed, Replicated — and its step
//     9, "Update environment state to Replicated", moves the environment to "Replication
//     completed";
//   - the same article's Set-failed tooling: PreparingForReplication, ReadyForReplication,
//     Replicating, Replicated;
//   - troubleshoot-self-service-env.md and the metadata example: Deployed, Failed.
//
// Matching is by meaning: a state matches every spelling of its group, case and spaces ignored.
// A state in no group is matched as written (case and spaces ignored), never refused.
var lcsStates = [][]string{
	{"Deployed"},
	{"Failed"},
	{"Preparing for replication", "PreparingForReplication"},
	{"Ready for replication", "ReadyForReplication"},
	{"Replication in progress", "Replicating", "ReplicationInProgress"},
	{"Replication completed", "Replicated", "ReplicationCompleted"},
	{"Data upgrade in progress", "DataUpgradeInProgress"},
}

// stateKey is a state's spelling with case, spaces, hyphens and underscores taken out.
func stateKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '\t', '-', '_':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stateGroup is the meaning of a state: the key of its group's first spelling, or its own key.
func stateGroup(s string) string {
	k := stateKey(s)
	for _, g := range lcsStates {
		for _, sp := range g {
			if stateKey(sp) == k {
				return stateKey(g[0])
			}
		}
	}
	return k
}

// CanonicalLCSState is the spelling cutover shows for an LCS environment state: the documents'
// first spelling of its meaning ("Replicated" and "ReplicationCompleted" are shown as
// "Replication completed"), or the state as written (trimmed) when it has no known meaning.
func CanonicalLCSState(s string) string {
	k := stateKey(s)
	for _, g := range lcsStates {
		for _, sp := range g {
			if stateKey(sp) == k {
				return g[0]
			}
		}
	}
	return strings.TrimSpace(s)
}

// canonicalStates writes runbook-given states as CanonicalLCSState does; unknown names stay as
// written.
func canonicalStates(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, CanonicalLCSState(s))
	}
	return out
}

// outage follows a run of failed LCS reads: the step warns when it starts, again every
// outageRewarn while it lasts, and once when LCS answers again, and shows its age meanwhile.
type outage struct {
	since, warned time.Time
	failures      int
	last          string
}

// outageRewarn is how often a continuing outage is logged again.
const outageRewarn = 10 * time.Minute

// fail notes a failed read of what.
func (o *outage) fail(run *Run, now time.Time, what string, err error) {
	if o.failures == 0 {
		o.since = now
	}
	o.failures++
	o.last = err.Error()
	if o.warned.IsZero() || now.Sub(o.warned) >= outageRewarn {
		o.warned = now
		run.Warnf("%s: %v (no answer for %s; cutover keeps waiting)", what, err, runbook.FormatDuration(now.Sub(o.since)))
	}
}

// ok notes a good read, logging the end of an outage.
func (o *outage) ok(run *Run, now time.Time, what string) {
	if o.failures == 0 {
		return
	}
	run.Logf("%s: LCS answers again after %s (%d failed read(s))", what, runbook.FormatDuration(now.Sub(o.since)), o.failures)
	*o = outage{}
}

// status describes a continuing outage ("" when there is none).
func (o *outage) status(now time.Time) string {
	if o.failures == 0 {
		return ""
	}
	return fmt.Sprintf("LCS not answering for %s (%d failed read(s): %s)", runbook.FormatDuration(now.Sub(o.since)), o.failures, o.last)
}

// permanentRead is how a step fails when LCS refuses a read for a reason waiting cannot fix.
func permanentRead(what string, err error, then string) error {
	return Permanent(fmt.Errorf("%s: %w; waiting cannot fix this: sign in to LCS again, check the environment ids and that the signed-in user is Project Owner or Environment Admin, then %s", what, err, then))
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
		"state":       func(v *yaml.Node) { a.want = canonicalStates(d.Strings(v, where, "state")) },
		"fail_on":     func(v *yaml.Node) { a.failOn = canonicalStates(d.Strings(v, where, "fail_on")) },
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

// matchState reports whether an LCS environment state is one of list, by meaning: any
// documented spelling of the same state matches (see lcsStates), case and spaces ignored. An
// empty state matches nothing.
func matchState(state string, list []string) bool {
	if strings.TrimSpace(state) == "" {
		return false
	}
	g := stateGroup(state)
	for _, s := range list {
		if stateGroup(s) == g {
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
	var out outage
	what := "reading " + a.label + " from LCS"
	for {
		env, err := api.Environment(ctx, a.env)
		now := run.Clock().Now()
		if err == nil {
			out.ok(run, now, what)
		}
		switch {
		case IsPermanent(err):
			return permanentRead(what, err, "retry this step")
		case err != nil:
			out.fail(run, now, what, err)
		case stateGroup(env.State) != stateGroup(state):
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
		switch {
		case out.failures > 0:
			run.Progress(Progress{Percent: -1, Message: fmt.Sprintf("%s was %s when last read; %s", a.label, orDash(state), out.status(now))})
		case state != "":
			run.Progress(Progress{Percent: -1, Message: fmt.Sprintf("%s is %s (for %s), waiting for %s", a.label, state, runbook.FormatDuration(now.Sub(since)), strings.Join(a.want, " or "))})
		}
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("%s still %s: %w", a.label, orDash(state), err)
		}
	}
}

// LCSQuotaKind checks that enough database operations remain for the plan (a refresh and a
// retry) where LCS's limit applies: to operations started through the API. Only API operations
// are throttled (dbmovement-api-throttling.md), and the refresh into production cannot be
// started through the API ("Sandbox → Production, available via API: Not supported":
// dbmovement-operations.md) — it is started in the LCS portal, which the limit never blocks. For
// production the step reports what LCS has counted, as information, and never fails.
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
		"environment": func(v *yaml.Node) { a.env, a.production = lcsEnv(d, s, v, "environment"); a.label = v.Value },
		"need":        func(v *yaml.Node) { a.need = d.Int(v, where, "need", 1, 3) },
	})
	if a.env == "" {
		if rb := d.Runbook(); rb != nil && rb.LCS != nil {
			a.env, a.production = rb.LCS.ProductionEnvironmentID, true
		} else {
			d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind lcs.quota needs the runbook's lcs section")
		}
	}
	return a
}

type quotaAction struct {
	env, label string
	// production: the runbook names the production environment, whose refresh is started in the
	// portal (the step also asks LCS for the environment's type).
	production bool
	need       int
}

func (a *quotaAction) Describe() string {
	if a.production {
		return fmt.Sprintf("show the database operations LCS has counted for the %s environment in its rolling 24 hours (information: the refresh into production is started in the LCS portal, and LCS throttles only API operations)", a.label)
	}
	return fmt.Sprintf("check that %d database operation(s) remain for the %s environment in LCS's rolling 24 hours (3 allowed through the API)", a.need, a.label)
}

// Rerunnable: it only reads.
func (a *quotaAction) Rerunnable() bool { return true }

func (a *quotaAction) Run(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	portal := a.production || isProductionInLCS(ctx, api, a.env)
	q, err := api.Quota(ctx, a.env)
	if portal {
		// Information only: whatever LCS has counted, the portal refresh can start.
		if err != nil {
			run.Warnf("could not read the database operations LCS has counted for %s: %v", a.label, err)
			run.SetMessage(fmt.Sprintf("LCS's count for %s could not be read; it does not limit the refresh into production, which is started in the LCS portal", a.label))
			return nil
		}
		run.SetMessage(portalQuotaNote(q, a.label))
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the database operation quota: %w", err)
	}
	if gate := apiQuotaShort(q, a.need, a.label); gate != nil {
		return gate
	}
	run.SetMessage(fmt.Sprintf("%d of 3 database operations left for %s (needs %d)", q.Remaining, a.label, a.need))
	return nil
}

// isProductionInLCS reports whether LCS says env is a production environment (false when it
// cannot be read: the runbook's naming decides then).
func isProductionInLCS(ctx context.Context, api LCS, env string) bool {
	e, err := api.Environment(ctx, env)
	return err == nil && strings.EqualFold(strings.TrimSpace(e.Type), "Production")
}

// portalQuotaNote says what LCS has counted for an environment whose refresh is started in the
// portal: information, never a gate.
func portalQuotaNote(q LCSQuota, label string) string {
	return fmt.Sprintf("LCS has counted %d of 3 database operations for %s in its rolling 24 hours; this does not limit the refresh into production, which is started in the LCS portal (LCS throttles only operations started through the API)", q.Used, label)
}

// apiQuotaShort is the gate for operations started through the API: nil when need of them can
// start now, else the error (retried when LCS frees a slot).
func apiQuotaShort(q LCSQuota, need int, label string) error {
	if q.Remaining >= need {
		return nil
	}
	msg := fmt.Sprintf("only %d database operation(s) left for %s in the rolling 24 hours (%d used); the plan needs %d", q.Remaining, label, q.Used, need)
	if at := q.FreesAt(need); !at.IsZero() {
		msg += fmt.Sprintf("; %d are free from %s", need, at.Local().Format("2006-01-02 15:04"))
		// Nothing changes before then: the retry waits for it.
		return RetryAt(errors.New(msg), at)
	}
	return errors.New(msg)
}

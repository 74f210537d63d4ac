package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// The documents the refresh check follows, under articles/fin-ops-core/dev-itpro/ in
// MicrosoftDocs/dynamics-365-unified-operations-public.
const (
	docRefresh = "database-refresh.md"                 // database/database-refresh.md
	docGolden  = "dbmovement-scenario-goldenconfig.md" // database/dbmovement-scenario-goldenconfig.md
	docUpgrade = "data-upgrade-self-service.md"        // migration-upgrade/data-upgrade-self-service.md
	docCutover = "2012-upgrade-cutover.md"             // migration-upgrade/2012-upgrade-cutover.md
	docDBOps   = "dbmovement-operations.md"            // database/dbmovement-operations.md
)

// checkMark is how one condition of the refresh check stands.
type checkMark int

// Marks of a condition.
const (
	// markPass: the condition holds, as LCS shows it.
	markPass checkMark = iota + 1
	// markFail: it does not hold; the line carries the documented fix.
	markFail
	// markManual: only the LCS portal (or a person) can tell: an operator must look.
	markManual
	// markConfirmed: a manual condition the runbook declares checked (confirm_manual).
	markConfirmed
	// markInfo: information, neither a condition met nor one missed.
	markInfo
)

// String is the mark's symbol.
func (m checkMark) String() string {
	switch m {
	case markPass:
		return "✓"
	case markFail:
		return "✗"
	case markManual:
		return "☐"
	case markConfirmed:
		return "☑"
	case markInfo:
		return "·"
	}
	return "?"
}

// refreshStage is when the check runs: the readiness check before the night, or the go/no-go
// before the refresh itself.
type refreshStage int

// Stages.
const (
	// stageGo: at the go/no-go, both environments must be Deployed.
	stageGo refreshStage = iota
	// stageReadiness: before the night, the sandbox is still in the toolkit's replication states;
	// its state is shown, not required, and a Microsoft-managed production's service request is
	// still to be raised.
	stageReadiness
)

// String names the stage as the runbook spells it.
func (s refreshStage) String() string {
	if s == stageReadiness {
		return "readiness"
	}
	return "go-no-go"
}

// The conditions of a refresh into production, each a key confirm_manual may name.
const (
	condEnvironments        = "environments"
	condProductionState     = "production_state"
	condSandboxState        = "sandbox_state"
	condRelease             = "release"
	condBuild               = "build"
	condPlatformUpdate      = "platform_update"
	condPlatform            = "platform"
	condGeography           = "geography"
	condSandboxInfra        = "sandbox_infrastructure"
	condProductionInfra     = "production_infrastructure"
	condServiceRequest      = "service_request"
	condFinancialReporting  = "financial_reporting"
	condTenant              = "tenant"
	condCapacity            = "capacity"
	condUnread              = "unread"
	serviceRequestLead      = 24 * time.Hour
	serviceRequestMinWindow = 4 * time.Hour
)

// confirmableConditions are the keys confirm_manual accepts: every condition that can be left to
// an operator. Declaring one confirmed never overrides a condition LCS shows unmet.
func confirmableConditions() []string {
	return []string{condFinancialReporting, condTenant, condCapacity, condServiceRequest, condRelease, condBuild,
		condPlatformUpdate, condPlatform, condGeography, condSandboxInfra, condProductionInfra, condEnvironments,
		condProductionState, condSandboxState}
}

// RefreshCheckKind compares the upgraded sandbox and production in LCS against the documented
// conditions of the refresh into production, before the night (stage: readiness) and again at the
// go/no-go (stage: go-no-go). It reads both environments' metadata through the LCS port and
// reports each condition as a line: ✓ met, ✗ not met (with the documented fix, naming the
// document), ☐ for what only the LCS portal shows (Financial Reporting's version, the tenant, the
// database capacity; a Microsoft-managed production's service request) and · for information.
//
// The step fails on any ✗. When every condition LCS shows is met and ☐ lines remain, it waits
// like a manual step, showing them, until an operator marks it done (saying what they saw), and
// keeps reading LCS meanwhile: a condition that stops holding fails it. confirm_manual names ☐
// lines the runbook declares checked; they are shown as ☑, never as met.
type RefreshCheckKind struct{}

// Name implements Kind.
func (RefreshCheckKind) Name() string { return "lcs.refresh-check" }

// Mode implements Kind.
func (RefreshCheckKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {source, target, stage, confirm_manual, poll}`.
func (RefreshCheckKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &refreshCheckAction{poll: 5 * time.Minute, stage: stageGo, confirmed: map[string]bool{}}
	var srcNode, tgtNode *yaml.Node
	var srcProd bool
	present := d.Fields(with, where, map[string]runbook.Field{
		"source": func(v *yaml.Node) {
			a.source, srcProd = lcsEnv(d, s, v, "source")
			a.sourceLabel, srcNode = v.Value, v
		},
		"target": func(v *yaml.Node) {
			a.target, a.production = lcsEnv(d, s, v, "target")
			a.targetLabel, tgtNode = v.Value, v
		},
		"stage": func(v *yaml.Node) {
			if d.Enum(v, where, "stage", "readiness", "go-no-go") == "readiness" {
				a.stage = stageReadiness
			}
		},
		"confirm_manual": func(v *yaml.Node) {
			keys, pos := d.StringsPos(v, where, "confirm_manual")
			allowed := confirmableConditions()
			for i, k := range keys {
				k = strings.TrimSpace(k)
				if !slices.Contains(allowed, k) {
					d.ErrorAt(pos[i], where, "confirm_manual: %q is not a condition of the refresh check (use %s)", k, strings.Join(allowed, ", "))
					continue
				}
				a.confirmed[k] = true
			}
		},
		"poll": func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind lcs.refresh-check needs `with: {source: sandbox, target: production}`")
		return a
	}
	d.Require(with, where, present, "source", "target")
	switch {
	case tgtNode != nil && a.target != "" && !a.production:
		d.Errorf(tgtNode, where, "target: lcs.refresh-check checks the refresh into production: name production (or lcs.production_environment_id)")
	case srcNode != nil && srcProd:
		d.Errorf(srcNode, where, "source: the refresh into production copies a sandbox: name the sandbox")
	case srcNode != nil && tgtNode != nil && a.source != "" && d.SameLCSID(a.source, a.target):
		d.Errorf(srcNode, where, "source: the same environment as target")
	}
	if rb := d.Runbook(); rb != nil && rb.Downtime != nil {
		a.downtimeStart, a.downtimeBudget = rb.Downtime.Start, rb.Downtime.Budget
	}
	if a.poll < 10*time.Second {
		a.poll = 10 * time.Second
	}
	return a
}

type refreshCheckAction struct {
	source, target           string
	sourceLabel, targetLabel string
	production               bool
	stage                    refreshStage
	confirmed                map[string]bool
	poll                     time.Duration
	downtimeStart            time.Time
	downtimeBudget           time.Duration
}

// Describe says what the step compares.
func (a *refreshCheckAction) Describe() string {
	var b strings.Builder
	when := "at the go/no-go"
	if a.stage == stageReadiness {
		when = "before the night"
	}
	fmt.Fprintf(&b, "compare %s (%s) and %s (%s) in LCS's environment metadata against the documented conditions of the refresh into production (%s, %s), %s:\n",
		a.sourceLabel, a.source, a.targetLabel, a.target, docRefresh, docGolden, when)
	if a.stage == stageReadiness {
		fmt.Fprintf(&b, "  %s Deployed (%s's state is shown; it must be Deployed by the go/no-go)\n", a.targetLabel, a.sourceLabel)
	} else {
		b.WriteString("  both Deployed\n")
	}
	b.WriteString("  the same application release and build; a platform later than update 20, the sandbox's not newer than production's\n")
	b.WriteString("  the same Azure location (CloudStorageLocation); the sandbox self-service\n")
	b.WriteString("  production self-service (refreshed in the LCS portal) or Microsoft-managed (a Sandbox to Production service request at least 24 h before the downtime)\n")
	b.WriteString("  and, for an operator to confirm in the LCS portal: Financial Reporting (MRApplicationService), the admins' tenant, database capacity\n")
	b.WriteString("it fails on a condition not met; when only portal checks remain it waits until an operator marks it done")
	if len(a.confirmed) > 0 {
		fmt.Fprintf(&b, " (confirmed in the runbook: %s)", strings.Join(a.confirmedKeys(), ", "))
	}
	return b.String()
}

func (a *refreshCheckAction) confirmedKeys() []string {
	var out []string
	for _, k := range confirmableConditions() {
		if a.confirmed[k] {
			out = append(out, k)
		}
	}
	return out
}

// Rerunnable: it only reads.
func (a *refreshCheckAction) Rerunnable() bool { return true }

// refreshLine is one condition as the check saw it.
type refreshLine struct {
	key  string
	mark checkMark
	text string
	// fix is the documented remedy of a condition not met (quoted short, naming the document).
	fix string
}

func (l refreshLine) String() string {
	s := l.mark.String() + " " + l.text
	if l.fix != "" {
		s += " — " + l.fix
	}
	if l.mark == markConfirmed {
		s += " — confirmed in the runbook (confirm_manual)"
	}
	return s
}

// refreshEnvs are the two environments as LCS describes them, with their runbook labels.
type refreshEnvs struct {
	src, tgt           LCSEnvironment
	srcLabel, tgtLabel string
}

func (a *refreshCheckAction) read(ctx context.Context, api LCS) (refreshEnvs, error) {
	src, err := api.Environment(ctx, a.source)
	if err != nil {
		return refreshEnvs{}, fmt.Errorf("reading %s (%s) from LCS: %w", a.sourceLabel, a.source, err)
	}
	tgt, err := api.Environment(ctx, a.target)
	if err != nil {
		return refreshEnvs{}, fmt.Errorf("reading %s (%s) from LCS: %w", a.targetLabel, a.target, err)
	}
	return refreshEnvs{src: src, tgt: tgt, srcLabel: a.sourceLabel, tgtLabel: a.targetLabel}, nil
}

// Run reads both environments and reports the conditions; with only manual ones left it waits
// for an operator, reading LCS again every poll.
func (a *refreshCheckAction) Run(ctx context.Context, run *Run) error {
	api, err := needLCS(run)
	if err != nil {
		return err
	}
	envs, err := a.read(ctx, api)
	if err != nil {
		if IsPermanent(err) {
			return permanentRead("reading the environments to compare", err, "retry this step")
		}
		return err
	}
	lines := a.evaluate(envs, run.Clock().Now())
	for _, l := range lines {
		run.Logf("%s", l)
	}
	if err := refreshFailure(lines); err != nil {
		return err
	}
	open := openLines(lines)
	if len(open) == 0 {
		run.SetMessage(a.passMessage(lines))
		return nil
	}
	run.Warnf("%d condition(s) only the LCS portal shows: check them, then mark this step done saying what you saw", len(open))
	var out outage
	what := "reading the environments to compare"
	for {
		now := run.Clock().Now()
		msg := "waiting for an operator to check in the LCS portal and mark this step done: " + joinLines(open, "; ")
		if s := out.status(now); s != "" {
			msg = s + "; " + msg
		}
		run.Progress(Progress{Percent: -1, Message: msg})
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("not marked done: %d condition(s) left to an operator (%w)", len(open), err)
		}
		envs, err := a.read(ctx, api)
		now = run.Clock().Now()
		switch {
		case IsPermanent(err):
			return permanentRead(what, err, "retry this step")
		case err != nil:
			out.fail(run, now, what, err)
			continue
		}
		out.ok(run, now, what)
		next := a.evaluate(envs, now)
		for _, l := range changedLines(lines, next) {
			run.Logf("now: %s", l)
		}
		lines = next
		if err := refreshFailure(lines); err != nil {
			return err
		}
		if open = openLines(lines); len(open) == 0 {
			run.SetMessage(a.passMessage(lines))
			return nil
		}
	}
}

// passMessage sums up a check whose conditions all hold.
func (a *refreshCheckAction) passMessage(lines []refreshLine) string {
	var met int
	var confirmed []string
	for _, l := range lines {
		switch l.mark {
		case markPass:
			met++
		case markConfirmed:
			confirmed = append(confirmed, l.key)
		}
	}
	msg := fmt.Sprintf("%d refresh condition(s) met in LCS", met)
	if len(confirmed) > 0 {
		msg += fmt.Sprintf("; %d confirmed in the runbook, not checked by cutover: %s", len(confirmed), strings.Join(confirmed, ", "))
	}
	return msg
}

// refreshFailure is the step's error when any condition is not met (nil when none).
func refreshFailure(lines []refreshLine) error {
	var failed []refreshLine
	for _, l := range lines {
		if l.mark == markFail {
			failed = append(failed, l)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d refresh condition(s) not met: %s", len(failed), joinLines(failed, "; "))
}

func openLines(lines []refreshLine) []refreshLine {
	var out []refreshLine
	for _, l := range lines {
		if l.mark == markManual {
			out = append(out, l)
		}
	}
	return out
}

func joinLines(lines []refreshLine, sep string) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = l.String()
	}
	return strings.Join(parts, sep)
}

// changedLines are the lines of next that differ from prev.
func changedLines(prev, next []refreshLine) []refreshLine {
	old := map[string]string{}
	for _, l := range prev {
		old[l.key+"\x00"+l.text] = l.String()
	}
	var out []refreshLine
	for _, l := range next {
		if old[l.key+"\x00"+l.text] != l.String() {
			out = append(out, l)
		}
	}
	return out
}

// evaluate compares the two environments at now. It is a pure function of what LCS said, the
// runbook and the time.
func (a *refreshCheckAction) evaluate(e refreshEnvs, now time.Time) []refreshLine {
	var lines []refreshLine
	add := func(l refreshLine) {
		if l.mark == markManual && a.confirmed[l.key] {
			l.mark = markConfirmed
		}
		lines = append(lines, l)
	}
	add(checkTypes(e))
	add(checkProductionState(e))
	add(a.checkSandboxState(e))
	add(checkRelease(e))
	add(checkBuild(e))
	add(checkPlatformUpdate(e))
	add(checkPlatform(e))
	add(checkGeography(e))
	add(checkSandboxInfrastructure(e))
	for _, l := range a.checkProductionInfrastructure(e, now) {
		add(l)
	}
	// What the metadata API does not give: the portal's Environment details pages only.
	add(refreshLine{key: condFinancialReporting, mark: markManual, text: fmt.Sprintf(
		"Financial Reporting: on each environment's Environment details → View detailed version information, MRApplicationService of %s must be greater than or equal to %s's (%s; not in LCS's API)",
		e.tgtLabel, e.srcLabel, docRefresh)})
	add(refreshLine{key: condTenant, mark: markManual, text: fmt.Sprintf(
		"same tenant: the Environment Administrator of %s and of %s (Environment details) must be of the same tenant domain — “You can't refresh an environment from one tenant to another” (%s; not in LCS's API)",
		e.srcLabel, e.tgtLabel, docRefresh)})
	add(refreshLine{key: condCapacity, mark: markManual, text: fmt.Sprintf(
		"database capacity: “The allocated database capacity of the source environment must be less than the maximum database capacity of the target environment” (%s; not in LCS's API)",
		docRefresh)})
	for _, side := range []struct {
		label  string
		unread []string
	}{{e.srcLabel, e.src.Unread}, {e.tgtLabel, e.tgt.Unread}} {
		if len(side.unread) > 0 {
			add(refreshLine{key: condUnread, mark: markInfo, text: fmt.Sprintf("LCS's answer for %s held values cutover could not read (their conditions are left to an operator): %s",
				side.label, strings.Join(side.unread, "; "))})
		}
	}
	return lines
}

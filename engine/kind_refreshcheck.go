package engine

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
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
				if !containsString(allowed, k) {
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

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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

func isType(env LCSEnvironment, t string) bool {
	return strings.EqualFold(strings.TrimSpace(env.Type), t)
}

// checkTypes: the runbook's production is a production environment in LCS, its sandbox is not.
func checkTypes(e refreshEnvs) refreshLine {
	l := refreshLine{key: condEnvironments}
	switch {
	case strings.TrimSpace(e.tgt.Type) == "" || strings.TrimSpace(e.src.Type) == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no EnvironmentType for %s (%q) or %s (%q): check in LCS that the ids name the sandbox and production",
			e.srcLabel, e.src.Type, e.tgtLabel, e.tgt.Type)
	case !isType(e.tgt, "Production"):
		l.mark = markFail
		l.text = fmt.Sprintf("LCS says %s (%s) is a %s environment, not Production", e.tgtLabel, e.tgt.ID, e.tgt.Type)
		l.fix = "check lcs.production_environment_id against the environment's page in LCS"
	case isType(e.src, "Production"):
		l.mark = markFail
		l.text = fmt.Sprintf("LCS says %s (%s) is a Production environment", e.srcLabel, e.src.ID)
		l.fix = "the refresh into production copies the upgraded sandbox: check lcs.sandbox_environment_id"
	default:
		l.mark = markPass
		l.text = fmt.Sprintf("%s is a %s environment and %s is Production in LCS (EnvironmentType)", e.srcLabel, strings.TrimSpace(e.src.Type), e.tgtLabel)
	}
	return l
}

// checkProductionState: production must be deployed (2012-upgrade-cutover.md § Prerequisites).
func checkProductionState(e refreshEnvs) refreshLine {
	l := refreshLine{key: condProductionState}
	switch {
	case strings.TrimSpace(e.tgt.State) == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no state for %s (DeploymentStatusDisplay): check in LCS that it is Deployed", e.tgtLabel)
	case matchState(e.tgt.State, []string{"Deployed"}):
		l.mark = markPass
		l.text = fmt.Sprintf("%s is Deployed", e.tgtLabel)
	default:
		l.mark = markFail
		l.text = fmt.Sprintf("%s is %s in LCS, not Deployed", e.tgtLabel, CanonicalLCSState(e.tgt.State))
		l.fix = fmt.Sprintf("production must be deployed before the cutover (“it takes roughly 24 hours to deploy”, %s § Prerequisites); look at its history in LCS", docCutover)
	}
	return l
}

// checkSandboxState: at the go/no-go the upgraded sandbox is back to Deployed (the toolkit's
// last step returns it there: data-upgrade-self-service.md); before the night it is in the
// toolkit's replication states, which are shown.
func (a *refreshCheckAction) checkSandboxState(e refreshEnvs) refreshLine {
	l := refreshLine{key: condSandboxState}
	state := CanonicalLCSState(e.src.State)
	switch {
	case strings.TrimSpace(e.src.State) == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no state for %s (DeploymentStatusDisplay): check it in LCS", e.srcLabel)
	case matchState(e.src.State, []string{"Deployed"}):
		l.mark = markPass
		l.text = fmt.Sprintf("%s is Deployed", e.srcLabel)
	case matchState(e.src.State, []string{"Failed"}):
		l.mark = markFail
		l.text = fmt.Sprintf("%s is Failed in LCS", e.srcLabel)
		l.fix = fmt.Sprintf("find the failed step in %s's history in LCS; after a failed data upgrade fix the cause and Resume it with the toolkit (%s)", e.srcLabel, docUpgrade)
	case a.stage == stageReadiness:
		l.mark = markInfo
		l.text = fmt.Sprintf("%s is %s (it must be Deployed, the data upgrade finished, by the go/no-go)", e.srcLabel, state)
	default:
		l.mark = markFail
		l.text = fmt.Sprintf("%s is %s in LCS, not Deployed", e.srcLabel, state)
		l.fix = fmt.Sprintf("the refresh copies the upgraded sandbox once the data upgrade has finished and LCS shows it Deployed (%s)", docUpgrade)
	}
	return l
}

// checkRelease enforces the same application release on both sides. The documents differ by
// version: database-refresh.md of 01/12/2023 says the refresh "cannot be completed if the
// Application release of your source and target environment arn't the same. This is because
// the data upgrade process is not executed by database movement operations such as refresh, and
// data loss can occur", and that an older database cannot be restored into a newer application;
// the version of 04/03/2026 keeps only "If your production environment is newer than your target
// sandbox, you need to either upgrade the target sandbox before the refresh or …", written for
// refreshing a sandbox from production. cutover enforces equality: it is the only state both
// versions allow in both directions, and the data upgrade ran on the sandbox's release, which
// production must therefore run too.
func checkRelease(e refreshEnvs) refreshLine {
	l := refreshLine{key: condRelease}
	s, t := strings.TrimSpace(e.src.ApplicationRelease), strings.TrimSpace(e.tgt.ApplicationRelease)
	switch {
	case s == "" || t == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no application release for %s (%q) or %s (%q) (CurrentApplicationReleaseName): compare them on the Environment details pages",
			e.srcLabel, s, e.tgtLabel, t)
	case strings.EqualFold(s, t):
		l.mark = markPass
		l.text = fmt.Sprintf("the same application release: %s", s)
	default:
		l.mark = markFail
		l.text = fmt.Sprintf("application releases differ: %s %s, %s %s", e.srcLabel, s, e.tgtLabel, t)
		l.fix = fmt.Sprintf("“The database refresh process … cannot be completed if the Application release of your source and target environment arn't the same … data loss can occur” (%s, 01/12/2023): bring %s to %s's release", docRefresh, e.tgtLabel, e.srcLabel)
	}
	return l
}

// checkBuild enforces the same application build: production must run the code the upgrade ran
// on ("Apply all necessary updates and customizations (AOT deployable packages) to the production
// environment. Don't make any code changes after signing off on a mock cutover": 2012-upgrade-
// cutover.md § Prerequisites).
func checkBuild(e refreshEnvs) refreshLine {
	l := refreshLine{key: condBuild}
	s, t := strings.TrimSpace(e.src.ApplicationBuild), strings.TrimSpace(e.tgt.ApplicationBuild)
	switch {
	case s == "" || t == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no application build for %s (%q) or %s (%q) (CurrentApplicationBuildVersion): compare them on the Environment details pages",
			e.srcLabel, s, e.tgtLabel, t)
	case strings.EqualFold(s, t):
		l.mark = markPass
		l.text = fmt.Sprintf("the same application build: %s", s)
	default:
		l.mark = markFail
		l.text = fmt.Sprintf("application builds differ: %s %s, %s %s", e.srcLabel, s, e.tgtLabel, t)
		l.fix = fmt.Sprintf("“Apply all necessary updates and customizations (AOT deployable packages) to the production environment” (%s § Prerequisites): deploy to %s what %s runs", docCutover, e.tgtLabel, e.srcLabel)
	}
	return l
}

// platformUpdateRe finds a platform update's number: "Update44" (the metadata example's
// CurrentPlatformReleaseName), "Platform update 44" (its TopologyDisplayName), "PU44".
var platformUpdateRe = regexp.MustCompile(`(?i)(?:platform\s*update|update|\bpu)\s*([0-9]+)`)

// platformUpdate is an environment's platform update number, from CurrentPlatformReleaseName or
// else TopologyDisplayName; false when neither names one. The documents give no table from
// CurrentPlatformVersion ("7.0.6060.45") to update numbers, so the version is not used for this.
func platformUpdate(env LCSEnvironment) (int, string, bool) {
	for _, s := range []string{env.PlatformRelease, env.Topology} {
		if m := platformUpdateRe.FindStringSubmatch(s); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil {
				return n, strings.TrimSpace(s), true
			}
		}
	}
	return 0, "", false
}

// checkPlatformUpdate: "Refresh is denied for environments that run Platform update 20 or
// earlier" (database-refresh.md § Known issues).
func checkPlatformUpdate(e refreshEnvs) refreshLine {
	l := refreshLine{key: condPlatformUpdate}
	sn, ss, sok := platformUpdate(e.src)
	tn, ts, tok := platformUpdate(e.tgt)
	var old []string
	if sok && sn <= 20 {
		old = append(old, fmt.Sprintf("%s runs Platform update %d (%s)", e.srcLabel, sn, ss))
	}
	if tok && tn <= 20 {
		old = append(old, fmt.Sprintf("%s runs Platform update %d (%s)", e.tgtLabel, tn, ts))
	}
	switch {
	case len(old) > 0:
		l.mark = markFail
		l.text = strings.Join(old, "; ")
		l.fix = fmt.Sprintf("“Refresh is denied for environments that run Platform update 20 or earlier” (%s): update the platform first", docRefresh)
	case !sok || !tok:
		l.mark = markManual
		l.text = fmt.Sprintf("LCS does not say which platform update %s (%q) or %s (%q) runs: check on Environment details that both are later than Platform update 20 (%s)",
			e.srcLabel, e.src.PlatformRelease, e.tgtLabel, e.tgt.PlatformRelease, docRefresh)
	default:
		l.mark = markPass
		l.text = fmt.Sprintf("later than Platform update 20: %s Platform update %d, %s Platform update %d", e.srcLabel, sn, e.tgtLabel, tn)
	}
	return l
}

// compareVersions compares dotted version numbers ("7.0.6060.45"); false when either is not one.
func compareVersions(a, b string) (int, bool) {
	pa, pb := strings.Split(strings.TrimSpace(a), "."), strings.Split(strings.TrimSpace(b), ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		var err error
		if i < len(pa) {
			if x, err = strconv.Atoi(pa[i]); err != nil || x < 0 {
				return 0, false
			}
		}
		if i < len(pb) {
			if y, err = strconv.Atoi(pb[i]); err != nil || y < 0 {
				return 0, false
			}
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
	}
	return 0, true
}

// checkPlatform compares the platform versions. The refresh documents set no platform rule for
// sandbox → production; the only documented comparison is the golden configuration's "the
// platform version of the developer environment must be earlier than or the same as the platform
// version in the target UAT environment" (dbmovement-scenario-goldenconfig.md § Prerequisites,
// for an import), and 2012-upgrade-cutover.md § Prerequisites asks for all updates on production.
// So a sandbox newer than production fails (by that rule), the same platform passes, and a
// production newer than the sandbox — allowed by that rule, but not what the upgrade was
// rehearsed on — is left to an operator to confirm.
func checkPlatform(e refreshEnvs) refreshLine {
	l := refreshLine{key: condPlatform}
	s, t := strings.TrimSpace(e.src.PlatformVersion), strings.TrimSpace(e.tgt.PlatformVersion)
	c, ok := compareVersions(s, t)
	switch {
	case s == "" || t == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no platform version for %s (%q) or %s (%q) (CurrentPlatformVersion): compare them on the Environment details pages", e.srcLabel, s, e.tgtLabel, t)
	case strings.EqualFold(s, t) || (ok && c == 0):
		l.mark = markPass
		l.text = fmt.Sprintf("the same platform: %s", s)
	case !ok:
		l.mark = markManual
		l.text = fmt.Sprintf("platform versions differ and cannot be ordered: %s %q, %s %q: check that %s's is not newer than %s's", e.srcLabel, s, e.tgtLabel, t, e.srcLabel, e.tgtLabel)
	case c > 0:
		l.mark = markFail
		l.text = fmt.Sprintf("%s runs a newer platform (%s) than %s (%s)", e.srcLabel, s, e.tgtLabel, t)
		l.fix = fmt.Sprintf("a refresh's source must run a platform “earlier than or the same as” its target (%s § Prerequisites) and production gets “all necessary updates” (%s): update %s's platform", docGolden, docCutover, e.tgtLabel)
	default:
		l.mark = markManual
		l.text = fmt.Sprintf("%s runs a newer platform (%s) than %s (%s): the documents allow it (%s), but the upgrade ran on %s's — confirm it is intended", e.tgtLabel, t, e.srcLabel, s, docGolden, e.srcLabel)
	}
	return l
}

// locationKey is a location compared without case and spaces ("West Europe" = "westeurope").
func locationKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }

// checkGeography: "The databases must be hosted in the same Azure geographic region, unless the
// databases are Spartan-managed" (database-refresh.md § Conditions). The metadata API gives
// CloudStorageLocation, "The primary Azure location of the environment"; that it is where the
// databases are hosted is an inference, and whether "geographic region" means a region (West
// Europe) or a geography (Europe) the document does not say: cutover compares the locations as
// LCS names them, the stricter reading. Whether the databases are Spartan-managed ("'spartan' as
// part of the fully qualified SQL server address") the API does not show; the fix says how to
// proceed when they are.
func checkGeography(e refreshEnvs) refreshLine {
	l := refreshLine{key: condGeography}
	s, t := strings.TrimSpace(e.src.Location), strings.TrimSpace(e.tgt.Location)
	switch {
	case s == "" || t == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no Azure location for %s (%q) or %s (%q) (CloudStorageLocation): check that the databases are in the same Azure region", e.srcLabel, s, e.tgtLabel, t)
	case locationKey(s) == locationKey(t):
		l.mark = markPass
		l.text = fmt.Sprintf("the same Azure location: %s (CloudStorageLocation, “The primary Azure location of the environment”; that the databases are there is an inference)", s)
	default:
		l.mark = markFail
		l.text = fmt.Sprintf("Azure locations differ: %s %s, %s %s (CloudStorageLocation)", e.srcLabel, s, e.tgtLabel, t)
		l.fix = fmt.Sprintf("“The databases must be hosted in the same Azure geographic region, unless the databases are Spartan-managed” (%s § Conditions); if the SQL server's address shows “spartan”, the rule does not apply: mark this step done saying so", docRefresh)
	}
	return l
}

// checkSandboxInfrastructure: the AX 2012 data upgrade runs in a self-service sandbox ("It must
// be a self-service environment": data-upgrade-self-service.md § Prerequisites).
func checkSandboxInfrastructure(e refreshEnvs) refreshLine {
	l := refreshLine{key: condSandboxInfra}
	switch infra := strings.TrimSpace(e.src.Infrastructure); {
	case strings.EqualFold(infra, "SelfService"):
		l.mark = markPass
		l.text = fmt.Sprintf("%s is self-service (“It must be a self-service environment”, %s)", e.srcLabel, docUpgrade)
	case strings.EqualFold(infra, "MicrosoftManaged"):
		l.mark = markFail
		l.text = fmt.Sprintf("%s is Microsoft-managed (EnvironmentInfrastructure)", e.srcLabel)
		l.fix = fmt.Sprintf("the data upgrade runs in a self-service sandbox (“It must be a self-service environment”, %s § Prerequisites): check lcs.sandbox_environment_id", docUpgrade)
	default:
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives %s's infrastructure as %q (EnvironmentInfrastructure): check in LCS that it is self-service (%s)", e.srcLabel, infra, docUpgrade)
	}
	return l
}

// checkProductionInfrastructure: "Determine the Environment type of your production environment
// and follow the relevant steps accordingly" (dbmovement-scenario-goldenconfig.md § Copy the
// sandbox database to production). Self-service: the refresh is started in the portal (the API
// does not offer it: dbmovement-operations.md). Microsoft-managed: a Sandbox to Production service
// request, "submit your request at least 24 hours before your preferred downtime window", with
// an end date "at least four hours after the start date". No API shows whether it was raised.
func (a *refreshCheckAction) checkProductionInfrastructure(e refreshEnvs, now time.Time) []refreshLine {
	switch infra := strings.TrimSpace(e.tgt.Infrastructure); {
	case strings.EqualFold(infra, "SelfService"):
		return []refreshLine{{key: condProductionInfra, mark: markInfo, text: fmt.Sprintf(
			"%s is self-service: the refresh is started in the LCS portal (%s → Maintain → Move database → Refresh database); the API does not offer it (%s)",
			e.tgtLabel, e.tgtLabel, docDBOps)}}
	case strings.EqualFold(infra, "MicrosoftManaged"):
		return []refreshLine{
			{key: condProductionInfra, mark: markInfo, text: fmt.Sprintf("%s is Microsoft-managed: Microsoft runs the copy on a service request (%s)", e.tgtLabel, docGolden)},
			a.serviceRequestLine(e, now),
		}
	default:
		return []refreshLine{{key: condProductionInfra, mark: markManual, text: fmt.Sprintf(
			"LCS gives %s's infrastructure as %q (EnvironmentInfrastructure): find its Environment type in LCS — a Microsoft-managed production needs a Sandbox to Production service request at least 24 h before the downtime (%s)",
			e.tgtLabel, infra, docGolden)}}
	}
}

// serviceRequestLine is the Microsoft-managed production's service request, with its due time
// from the runbook's planned downtime start. Before the night it is still to be raised; once its
// due time has passed unconfirmed, the readiness check fails (an operator who raised it in time
// says so by marking the step done, or the runbook by confirm_manual: [service_request]); at the
// go/no-go it is a line to confirm.
func (a *refreshCheckAction) serviceRequestLine(e refreshEnvs, now time.Time) refreshLine {
	l := refreshLine{key: condServiceRequest, mark: markManual}
	text := fmt.Sprintf("service request “Sandbox to Production” (LCS project home → Service requests → Add → Sandbox to Production, source %s) at least 24 h before the downtime, its window at least four hours (%s)",
		e.srcLabel, docGolden)
	if a.downtimeStart.IsZero() {
		text += "; the runbook's downtime has no start, so its due time is unknown"
	} else {
		due := a.downtimeStart.Add(-serviceRequestLead)
		text += fmt.Sprintf(" — due by %s (downtime start − 24 h)", due.Local().Format("2006-01-02 15:04 MST"))
		if now.Before(due) {
			text += fmt.Sprintf(", in %s", runbook.FormatDuration(due.Sub(now)))
		} else {
			text += fmt.Sprintf(", %s ago", runbook.FormatDuration(now.Sub(due)))
			if a.stage == stageReadiness && !a.confirmed[condServiceRequest] {
				l.mark = markFail
				l.fix = "if it was submitted in time, mark this step done saying so (or list service_request in confirm_manual); if not, agree a later downtime: Microsoft needs the 24 hours “to help ensure that resources are available to run the request”"
			}
		}
	}
	if a.downtimeBudget > 0 && a.downtimeBudget < serviceRequestMinWindow {
		text += fmt.Sprintf("; the runbook's downtime budget (%s) is shorter than the four hours the request's window needs", runbook.FormatDuration(a.downtimeBudget))
	}
	l.text = text
	return l
}

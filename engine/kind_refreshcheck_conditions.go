// The prerequisites lcs.refresh-check checks: types, states, release, platform, region, infrastructure.

package engine

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cutover/engine/runbook"
)

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
	return sameOnBoth(e, condRelease, "application release", "CurrentApplicationReleaseName",
		e.src.ApplicationRelease, e.tgt.ApplicationRelease,
		fmt.Sprintf("“The database refresh process … cannot be completed if the Application release of your source and target environment arn't the same … data loss can occur” (%s, 01/12/2023): bring %s to %s's release", docRefresh, e.tgtLabel, e.srcLabel))
}

// checkBuild enforces the same application build: production must run the code the upgrade ran
// on ("Apply all necessary updates and customizations (AOT deployable packages) to the production
// environment. Don't make any code changes after signing off on a mock cutover": 2012-upgrade-
// cutover.md § Prerequisites).
func checkBuild(e refreshEnvs) refreshLine {
	return sameOnBoth(e, condBuild, "application build", "CurrentApplicationBuildVersion",
		e.src.ApplicationBuild, e.tgt.ApplicationBuild,
		fmt.Sprintf("“Apply all necessary updates and customizations (AOT deployable packages) to the production environment” (%s § Prerequisites): deploy to %s what %s runs", docCutover, e.tgtLabel, e.srcLabel))
}

// sameOnBoth checks that LCS gives the same figure (what, read from its field) for the source
// (s) and the target (t); fix says how to make them the same. Without a figure on either side
// the operator compares them on the Environment details pages.
func sameOnBoth(e refreshEnvs, key, what, field, s, t, fix string) refreshLine {
	l := refreshLine{key: key}
	s, t = strings.TrimSpace(s), strings.TrimSpace(t)
	switch {
	case s == "" || t == "":
		l.mark = markManual
		l.text = fmt.Sprintf("LCS gives no %s for %s (%q) or %s (%q) (%s): compare them on the Environment details pages",
			what, e.srcLabel, s, e.tgtLabel, t, field)
	case strings.EqualFold(s, t):
		l.mark = markPass
		l.text = fmt.Sprintf("the same %s: %s", what, s)
	default:
		l.mark = markFail
		l.text = fmt.Sprintf("%ss differ: %s %s, %s %s", what, e.srcLabel, s, e.tgtLabel, t)
		l.fix = fix
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

package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/runbook"
)

// PreflightKind checks the documented causes of mid-cutover failure days before T-0: replication
// installed, mixed-mode sign-in, SQL Server Agent running, a valid database owner, 'max text repl
// size', disk space for the distribution and snapshot paths, the SQL Server build, the sandbox
// reachable, and the LCS quota. Each check is one pass/warn/fail line with the fix.
type PreflightKind struct{}

// Name implements Kind.
func (PreflightKind) Name() string { return "preflight" }

// Mode implements Kind.
func (PreflightKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {distribution_path, snapshot_path, quota_environment, quota_need, warnings_fail}`.
func (PreflightKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &preflightAction{quotaNeed: 2}
	d.Fields(with, where, map[string]runbook.Field{
		"distribution_path": func(v *yaml.Node) { a.distPath = d.NonEmpty(v, where, "distribution_path") },
		"snapshot_path":     func(v *yaml.Node) { a.snapPath = d.NonEmpty(v, where, "snapshot_path") },
		"quota_environment": func(v *yaml.Node) {
			a.quotaEnv, a.quotaPortal = lcsEnv(d, s, v, "quota_environment")
			a.quotaLabel = v.Value
		},
		"quota_need":    func(v *yaml.Node) { a.quotaNeed = d.Int(v, where, "quota_need", 1, 3) },
		"warnings_fail": func(v *yaml.Node) { a.warningsFail = d.Bool(v, where, "warnings_fail") },
	})
	if rb := d.Runbook(); rb != nil {
		if rb.Connections.Source == nil {
			d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind preflight checks the source SQL Server: add connections source")
		}
		if a.quotaEnv == "" && rb.LCS != nil {
			a.quotaEnv, a.quotaLabel, a.quotaPortal = rb.LCS.ProductionEnvironmentID, "production", true
		}
	}
	return a
}

type preflightAction struct {
	distPath, snapPath   string
	quotaEnv, quotaLabel string
	// quotaPortal: the quota environment is production, whose refresh is started in the portal,
	// which LCS's limit never blocks (see LCSQuotaKind): its count is information.
	quotaPortal  bool
	quotaNeed    int
	warningsFail bool
}

func (a *preflightAction) Describe() string {
	return "check the source SQL Server (replication, sign-in mode, Agent, database owner, max text repl size, disk space, build), the sandbox and the LCS quota"
}

// Rerunnable: it only reads.
func (a *preflightAction) Rerunnable() bool { return true }

// Verdict is a pre-flight check's outcome.
type Verdict int

// Verdicts.
const (
	Pass Verdict = iota
	Warn
	Fail
)

// String is the verdict in capitals.
func (v Verdict) String() string {
	return [...]string{"PASS", "WARN", "FAIL"}[v]
}

// Check is one pre-flight line.
type Check struct {
	Name    string
	Verdict Verdict
	Detail  string
	Fix     string
}

// Checks turns pre-flight facts into verdicts.
func (a *preflightAction) Checks(f PreflightFacts) []Check {
	var out []Check
	add := func(name string, v Verdict, detail, fix string) {
		out = append(out, Check{Name: name, Verdict: v, Detail: detail, Fix: fix})
	}
	unavailable := func(key string) (string, bool) {
		msg, ok := f.Unavailable[key]
		return msg, ok
	}
	if msg, ok := unavailable("replication installed"); ok {
		add("replication installed", Warn, "could not check: "+msg, "run the check as a sysadmin login")
	} else if f.ReplicationInstalled {
		add("replication installed", Pass, "sys.sp_MS_replication_installed = 1", "")
	} else {
		add("replication installed", Fail, "SQL Server replication is not installed", "install the SQL Server Replication feature on the source server")
	}
	if msg, ok := unavailable("sign-in mode"); ok {
		add("sign-in mode", Warn, "could not check: "+msg, "check that the server uses SQL Server and Windows Authentication mode (the toolkit uses a SQL login)")
	} else if f.MixedMode {
		add("sign-in mode", Pass, "SQL Server and Windows authentication", "")
	} else {
		add("sign-in mode", Fail, "Windows authentication only; the toolkit uses a SQL login", "switch to SQL Server and Windows Authentication mode and restart SQL Server")
	}
	switch login := f.Login; {
	case !f.RightsKnown:
		msg, _ := unavailable("login rights")
		add("login rights", Warn, "could not check: "+msg, "the toolkit's SQL login must be sysadmin on the source server (toolkit 1.0.12)")
	case f.Sysadmin:
		add("login rights", Pass, login+" is sysadmin", "")
	default:
		owner := "not db_owner of the AX database either"
		if f.DBOwner {
			owner = "db_owner of the AX database"
		}
		add("login rights", Warn, login+" is not sysadmin ("+owner+"); some checks here need sysadmin",
			"make sure the toolkit's SQL login is sysadmin on the source server (toolkit 1.0.12; older builds: db_owner and access to master)")
	}
	switch {
	case f.AgentRunning:
		add("SQL Server Agent", Pass, "running", "")
	case f.AgentStatus == "":
		msg, _ := unavailable("SQL Server Agent")
		add("SQL Server Agent", Warn, "could not check: "+msg, "check that SQL Server Agent runs (replication agents are Agent jobs)")
	default:
		add("SQL Server Agent", Fail, f.AgentStatus, "start SQL Server Agent and set it to start automatically")
	}
	// Facts that could not be read are unknown, not zero: a check on them warns and says why.
	settings, settingsUnknown := unavailable("database settings")
	switch owner := f.DatabaseOwner; {
	case settingsUnknown:
		add("database owner", Warn, "could not check: "+settings, "check that the AX database's owner is a valid login (sa)")
	case strings.EqualFold(owner, "sa"):
		add("database owner", Pass, "sa", "")
	case owner == "":
		add("database owner", Fail, "the owner login does not exist (log reader error 15517)", "EXEC sp_changedbowner 'sa' on the AX database")
	default:
		add("database owner", Warn, owner, "EXEC sp_changedbowner 'sa' avoids log reader failures when the owner's login changes")
	}
	switch msg, unknown := unavailable("max text repl size"); {
	case unknown:
		add("max text repl size", Warn, "could not check: "+msg, "check sp_configure 'max text repl size' on the source: -1 (unlimited) is needed for large LOB columns")
	case f.MaxTextReplSize == -1:
		add("max text repl size", Pass, "-1 (unlimited)", "")
	default:
		add("max text repl size", Fail, fmt.Sprintf("%d bytes: larger LOB columns stop the log reader", f.MaxTextReplSize),
			"EXEC sp_configure 'show advanced options', 1; RECONFIGURE; EXEC sp_configure 'max text repl size', -1; RECONFIGURE")
	}
	switch {
	case settingsUnknown:
		add("read committed snapshot", Warn, "could not check: "+settings, "ALTER DATABASE … SET READ_COMMITTED_SNAPSHOT ON reduces blocking while replication runs")
	case f.RCSI:
		add("read committed snapshot", Pass, "on", "")
	default:
		add("read committed snapshot", Warn, "off", "ALTER DATABASE … SET READ_COMMITTED_SNAPSHOT ON reduces blocking while replication runs")
	}
	size, sizeUnknown := unavailable("database size")
	if !sizeUnknown && settingsUnknown {
		size, sizeUnknown = settings, true
	}
	for _, p := range []struct{ name, path string }{{"distribution disk", a.distPath}, {"snapshot disk", a.snapPath}} {
		if p.path == "" {
			continue
		}
		drive := strings.ToUpper(strings.TrimSuffix(strings.SplitN(p.path, ":", 2)[0], ":"))
		free, ok := f.FreeBytes[drive]
		switch {
		case !ok:
			add(p.name, Warn, fmt.Sprintf("free space of drive %s: unknown", drive), "check that "+p.path+" is on a local disk")
		case sizeUnknown:
			add(p.name, Warn, fmt.Sprintf("%s has %s free; the database size is unknown: %s", drive+":", gib(free), size),
				"check that "+p.path+" has at least the AX database's size free (more when tables are compressed)")
		case free < f.DatabaseBytes:
			add(p.name, Fail, fmt.Sprintf("%s has %s free, the database is %s", drive+":", gib(free), gib(f.DatabaseBytes)),
				"free space or move "+p.path+" to a local disk with at least the database's size (more when tables are compressed)")
		default:
			add(p.name, Pass, fmt.Sprintf("%s has %s free for a %s database", drive+":", gib(free), gib(f.DatabaseBytes)), "")
		}
	}
	add(buildCheck(f.ServerVersion))
	switch {
	case f.TargetReachable:
		add("sandbox reachable", Pass, "the Azure SQL sandbox answered", "")
	case f.TargetError != "":
		add("sandbox reachable", Fail, f.TargetError, "renew JIT access in LCS (sandbox → Maintain → Enable access); the firewall entry expires after 8 hours and after every database movement")
	}
	return out
}

// buildCheck checks the SQL Server build replication to Azure SQL needs.
func buildCheck(version string) (string, Verdict, string, string) {
	major, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	switch {
	case version == "":
		return "SQL Server build", Warn, "unknown", "check the build: 2012 SP2 CU8+, 2014 RTM CU10+ / SP1 CU3+, 2016 or later"
	case major >= 13:
		return "SQL Server build", Pass, version, ""
	case major >= 11:
		return "SQL Server build", Warn, version, "replication to Azure SQL needs SQL Server 2012 SP2 CU8+ or 2014 RTM CU10+ / SP1 CU3+; check the cumulative update"
	}
	return "SQL Server build", Fail, version, "replication to Azure SQL needs SQL Server 2012 SP2 CU8 or later"
}

func gib(b int64) string {
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}

func (a *preflightAction) Run(ctx context.Context, run *Run) error {
	ports := run.Ports()
	if ports.Preflight == nil {
		return Permanent(errors.New("no source connection: add connections source"))
	}
	facts, err := ports.Preflight.Preflight(ctx)
	if err != nil {
		return fmt.Errorf("pre-flight queries: %w", err)
	}
	checks := a.Checks(facts)
	if ports.LCS != nil && a.quotaEnv != "" {
		q, err := ports.LCS.Quota(ctx, a.quotaEnv)
		var frees time.Time
		if err == nil {
			frees = q.FreesAt(a.quotaNeed)
		}
		switch {
		case err != nil:
			checks = append(checks, Check{Name: "LCS quota", Verdict: Warn, Detail: "could not read: " + err.Error(), Fix: "sign in to LCS before the night"})
		case a.quotaPortal:
			checks = append(checks, Check{Name: "LCS quota", Verdict: Pass, Detail: portalQuotaNote(q, a.quotaLabel)})
		case q.Remaining < a.quotaNeed && !frees.IsZero():
			// Short now, but the refresh comes hours later: lcs.quota waits for the slot.
			checks = append(checks, Check{Name: "LCS quota", Verdict: Warn,
				Detail: fmt.Sprintf("%d database operation(s) left for %s now; %d are free from %s", q.Remaining, a.quotaLabel, a.quotaNeed, frees.Local().Format("2006-01-02 15:04")),
				Fix:    "a refresh through the API cannot start before then: keep an lcs.quota step (with retries) before it"})
		case q.Remaining < a.quotaNeed:
			checks = append(checks, Check{Name: "LCS quota", Verdict: Fail, Detail: fmt.Sprintf("%d database operation(s) left for %s", q.Remaining, a.quotaLabel),
				Fix: "wait until the rolling 24 hours free a slot before starting the cutover"})
		default:
			checks = append(checks, Check{Name: "LCS quota", Verdict: Pass, Detail: fmt.Sprintf("%d of 3 database operations left for %s", q.Remaining, a.quotaLabel)})
		}
	}
	var fails, warns []string
	for _, c := range checks {
		line := fmt.Sprintf("%s %-24s %s", c.Verdict, c.Name, c.Detail)
		if c.Fix != "" && c.Verdict != Pass {
			line += " — fix: " + c.Fix
		}
		switch c.Verdict {
		case Fail:
			run.Warnf("%s", line)
			fails = append(fails, c.Name)
		case Warn:
			run.Warnf("%s", line)
			warns = append(warns, c.Name)
		default:
			run.Logf("%s", line)
		}
	}
	summary := fmt.Sprintf("%d checks: %d passed, %d warnings, %d failed", len(checks), len(checks)-len(fails)-len(warns), len(warns), len(fails))
	if len(fails) > 0 || (a.warningsFail && len(warns) > 0) {
		bad := append(fails, warns...)
		if !a.warningsFail {
			bad = fails
		}
		return fmt.Errorf("%s: %s (each line in the log says how to fix it)", summary, strings.Join(bad, ", "))
	}
	run.SetMessage(summary)
	return nil
}

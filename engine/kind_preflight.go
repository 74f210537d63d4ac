package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/runbook"
)

// PreflightKind checks the documented causes of mid-cutover failure days before T-0: replication
// installed, mixed-mode sign-in, SQL Server Agent running, a valid database owner, 'max text repl
// size' (a warning: the documents give it as a troubleshooting fix), disk space for the
// distribution and snapshot paths, the SQL Server build, the AX database's collation, the ignore
// list holding only non-AOT tables, the toolkit's version, the pre-upgrade checklist, the sandbox
// reachable, and the LCS quota. Each check is one pass/warn/fail line with the fix.
type PreflightKind struct{}

// Name implements Kind.
func (PreflightKind) Name() string { return "preflight" }

// Mode implements Kind.
func (PreflightKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {distribution_path, snapshot_path, ignore_file, toolkit_exe, confirmed,
// quota_environment, quota_need, warnings_fail}`.
func (PreflightKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &preflightAction{quotaNeed: 2}
	d.Fields(with, where, map[string]runbook.Field{
		"ignore_file": func(v *yaml.Node) { a.ignoreFile = d.NonEmpty(v, where, "ignore_file") },
		"toolkit_exe": func(v *yaml.Node) { a.toolkitExe = d.NonEmpty(v, where, "toolkit_exe") },
		"confirmed": func(v *yaml.Node) {
			for _, c := range d.Strings(v, where, "confirmed") {
				if c != confirmToolkitVersion && c != confirmUpgradeChecklist {
					d.Errorf(v, where, "confirmed: %q is not a checklist item (%s, %s)", c, confirmToolkitVersion, confirmUpgradeChecklist)
				}
				a.confirmed = append(a.confirmed, c)
			}
		},
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
		for _, f := range []*string{&a.ignoreFile, &a.toolkitExe} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(rb.Dir, *f)
			}
		}
	}
	return a
}

// The checklist items an operator can confirm in the runbook (`confirmed:`), for what cutover
// cannot read.
const (
	confirmToolkitVersion   = "toolkit_version"
	confirmUpgradeChecklist = "upgrade_checklist"
)

type preflightAction struct {
	distPath, snapPath   string
	quotaEnv, quotaLabel string
	// quotaPortal: the quota environment is production, whose refresh is started in the portal,
	// which LCS's limit never blocks (see LCSQuotaKind): its count is information.
	quotaPortal  bool
	quotaNeed    int
	warningsFail bool
	// ignoreFile is the toolkit's Data\IgnoreTables.xml; toolkitExe its DataMigrationTool.exe;
	// confirmed the checklist items the runbook states were confirmed by hand.
	ignoreFile, toolkitExe string
	confirmed              []string
}

func (a *preflightAction) Describe() string {
	return "check the source SQL Server (replication, sign-in mode, Agent, database owner, max text repl size, disk space, build, collation), " +
		"the ignore list against the AX model, the toolkit's version and the pre-upgrade checklist, the sandbox and the LCS quota"
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

// Checks turns pre-flight facts, and the toolkit's files the runbook names, into verdicts.
func (a *preflightAction) Checks(f PreflightFacts) []Check {
	out := a.serverChecks(f)
	out = append(out, a.collationCheck(f))
	if a.ignoreFile != "" {
		out = append(out, a.ignoreListCheck(f))
	}
	return append(out, a.toolkitCheck(), a.checklistCheck())
}

// serverChecks are the source server's checks.
func (a *preflightAction) serverChecks(f PreflightFacts) []Check {
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
	// Not a prerequisite anywhere: the documents give it as the fix of a known failure
	// (troubleshoot-self-service-env.md, scenario 13: "After the snapshot is pushed, replication
	// fails with Length of LOB data to be replicated exceeds configured maximum 65536"), so a limit
	// is a warning with that fix.
	const maxTextFix = "EXEC sp_configure 'show advanced options', 1; RECONFIGURE; EXEC sp_configure 'max text repl size', -1; RECONFIGURE; " +
		"then restart the Log Reader and Distribution agents (troubleshoot-self-service-env.md, scenario 13)"
	switch msg, unknown := unavailable("max text repl size"); {
	case unknown:
		add("max text repl size", Warn, "could not check: "+msg, "check sp_configure 'max text repl size' on the source: "+maxTextFix)
	case f.MaxTextReplSize == -1:
		add("max text repl size", Pass, "-1 (unlimited)", "")
	default:
		add("max text repl size", Warn, fmt.Sprintf("%d bytes: a LOB value longer than that stops replication (\"Length of LOB data (…) to be replicated exceeds configured maximum %d\")",
			f.MaxTextReplSize, f.MaxTextReplSize), maxTextFix)
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

// cloudCollation is "the only supported collation for databases in the cloud"
// (database/dbmovement-scenario-goldenconfig.md, "Supported SQL Server collation").
const cloudCollation = "SQL_Latin1_General_CP1_CI_AS"

// collationCheck checks the AX database's collation. The self-service toolkit's page says nothing
// of it; the cloud supports SQL_Latin1_General_CP1_CI_AS only (dbmovement-scenario-goldenconfig.md),
// a development environment's upgrade needs the AX 2012 database in it (data-upgrade-2012.md), and
// FastTrack's upgrade analysis script (rule 3000, linked from upgrade-analyzer-tool.md) notes that
// "The change in collation is handled automatically by the Data Migration Toolkit for Tier 2
// Self-Service Environments": another collation is a warning, not a failure.
func (a *preflightAction) collationCheck(f PreflightFacts) Check {
	c := Check{Name: "collation"}
	server := ""
	if f.ServerCollation != "" && !strings.EqualFold(f.ServerCollation, f.DatabaseCollation) {
		server = " (the server's: " + f.ServerCollation + ")"
	}
	switch msg, unknown := f.Unavailable["collation"]; {
	case unknown || f.DatabaseCollation == "":
		if msg == "" {
			msg = "not reported"
		}
		c.Verdict, c.Detail = Warn, "could not check: "+msg
		c.Fix = "check the AX database's collation: the cloud supports " + cloudCollation + " only (dbmovement-scenario-goldenconfig.md)"
	case strings.EqualFold(f.DatabaseCollation, cloudCollation):
		c.Verdict, c.Detail = Pass, f.DatabaseCollation+server
	default:
		c.Verdict = Warn
		c.Detail = fmt.Sprintf("the AX database uses %s%s; the cloud supports %s only (dbmovement-scenario-goldenconfig.md)", f.DatabaseCollation, server, cloudCollation)
		c.Fix = "for a self-service sandbox the Data Migration Toolkit changes the collation (FastTrack's upgrade analysis, rule 3000); " +
			"a development-environment upgrade needs the database in " + cloudCollation + " (data-upgrade-2012.md: otherwise contact Microsoft Support)"
	}
	return c
}

// ignoreListWarning is the documents' rule for IgnoreTables.xml
// (migration-upgrade/data-upgrade-self-service.md, Prerequisites 8).
const ignoreListWarning = "The tables added to the ignore list should only be tables that do not exist in the Microsoft Dynamics AX 2012 " +
	"Application Object Tree (AOT). Including tables that exist in the AOT will result in an error during the data upgrade."

// ignoreListCheck checks that the toolkit's ignore list names no table of the AX model.
func (a *preflightAction) ignoreListCheck(f PreflightFacts) Check {
	c := Check{Name: "ignore list"}
	tables, err := ReadIgnoreTables(a.ignoreFile)
	switch {
	case err != nil:
		c.Verdict, c.Detail = Fail, err.Error()
		c.Fix = "write it in the toolkit's format: <IgnoreTables><Name><Table>NON_AOT_TABLE1</Table></Name></IgnoreTables>"
		return c
	case len(tables) == 0:
		c.Verdict, c.Detail = Pass, filepath.Base(a.ignoreFile)+" lists no table"
		return c
	case f.AOTTables == nil:
		msg := f.Unavailable["AOT tables"]
		if msg == "" {
			msg = "the AX model's tables were not read"
		}
		c.Verdict, c.Detail = Warn, fmt.Sprintf("could not check the %d table(s) of %s against the AX model: %s", len(tables), filepath.Base(a.ignoreFile), msg)
		c.Fix = "check that none of them is an AOT table: " + ignoreListWarning
		return c
	}
	var inAOT []string
	for _, t := range tables {
		if f.AOTTables[strings.ToUpper(t)] {
			inAOT = append(inAOT, t)
		}
	}
	if len(inAOT) > 0 {
		c.Verdict = Fail
		c.Detail = fmt.Sprintf("%d of the %d table(s) in %s exist in the AOT: %s", len(inAOT), len(tables), filepath.Base(a.ignoreFile), strings.Join(inAOT, ", "))
		c.Fix = "take them off the ignore list (data-upgrade-self-service.md, Prerequisites 8: \"" + ignoreListWarning + "\")"
		return c
	}
	c.Verdict, c.Detail = Pass, fmt.Sprintf("%d table(s) in %s, none in the AOT (SQLDICTIONARY)", len(tables), filepath.Base(a.ignoreFile))
	return c
}

// toolkitVersion is the version the documents ask for: "Data Migration Toolkit for Dynamics365
// Version 1.0.12 (or higher)" (migration-upgrade/data-upgrade-self-service.md, Prerequisites 2).
var toolkitVersion = [3]uint16{1, 0, 12}

// toolkitCheck checks the toolkit's version: from DataMigrationTool.exe's file version when the
// runbook names it (that the file version is the toolkit's version is not documented: a lower one is
// a warning), else a checklist line.
func (a *preflightAction) toolkitCheck() Check {
	c := Check{Name: "toolkit version"}
	const fix = "download the Data Migration Toolkit 1.0.12 or higher from LCS (Shared asset library, Model) and unblock the ZIP before extracting; " +
		"copy paramsdata.txt and Data/ReplicationMenu.json from the old one (troubleshoot-self-service-env.md, scenario 8)"
	if a.toolkitExe == "" {
		if slices.Contains(a.confirmed, confirmToolkitVersion) {
			c.Verdict, c.Detail = Pass, "1.0.12 or higher, confirmed in the runbook (cutover cannot read the installed toolkit's version)"
			return c
		}
		c.Verdict, c.Detail = Warn, "not checked: confirm the Data Migration Toolkit is version 1.0.12 or higher (data-upgrade-self-service.md, Prerequisites 2)"
		c.Fix = "name DataMigrationTool.exe with toolkit_exe:, or confirm it and list " + confirmToolkitVersion + " under confirmed:"
		return c
	}
	v, err := FileVersion(a.toolkitExe)
	switch {
	case err != nil:
		c.Verdict, c.Detail = Warn, fmt.Sprintf("could not read the file version of %s: %v", a.toolkitExe, err)
		c.Fix = "confirm by hand that the toolkit is 1.0.12 or higher"
	case slices.Compare(v[:3], toolkitVersion[:]) >= 0:
		c.Verdict, c.Detail = Pass, fmt.Sprintf("%s file version %d.%d.%d.%d (read as the toolkit's version: the documents name only the toolkit's)",
			filepath.Base(a.toolkitExe), v[0], v[1], v[2], v[3])
	default:
		c.Verdict, c.Detail = Warn, fmt.Sprintf("%s file version %d.%d.%d.%d: the documents ask for toolkit 1.0.12 or higher", filepath.Base(a.toolkitExe), v[0], v[1], v[2], v[3])
		c.Fix = fix
	}
	return c
}

// checklistCheck is the pre-upgrade checklist (migration-upgrade/prepare-data-upgrade.md), which
// AX 2012 keeps in no documented place: a line the operator confirms.
func (a *preflightAction) checklistCheck() Check {
	c := Check{Name: "pre-upgrade checklist"}
	if slices.Contains(a.confirmed, confirmUpgradeChecklist) {
		c.Verdict, c.Detail = Pass, "confirmed in the runbook"
		return c
	}
	c.Verdict = Warn
	c.Detail = "not checked: in AX 2012, System administration > Setup > Checklists > Dynamics 365 for Unified Operations data upgrade checklist: " +
		"Validate baseline version, Prepare model metadata, Prepare security role metadata, Set up user mapping, Archive retail salt data, each marked completed (prepare-data-upgrade.md)"
	c.Fix = "run the checklist, then list " + confirmUpgradeChecklist + " under confirmed:"
	return c
}

// maxExeSize bounds the file FileVersion reads.
const maxExeSize = 256 << 20

// FileVersion reads a Windows executable's file version: the VS_FIXEDFILEINFO structure of its
// version resource, which begins with the signature 0xFEEF04BD, "used … when searching a file for
// the VS_FIXEDFILEINFO structure" (Win32 reference, verrsrc.h VS_FIXEDFILEINFO), followed by
// dwStrucVersion and the file version's most and least significant 32 bits (major, minor, build,
// revision in 16-bit words). The structure version must be 1.0 (0x00010000), so a stray signature
// is not taken for it.
func FileVersion(path string) ([4]uint16, error) {
	var v [4]uint16
	fi, err := os.Stat(path)
	if err != nil {
		return v, err
	}
	if fi.Size() > maxExeSize {
		return v, fmt.Errorf("%s is %d bytes: larger than an executable this check reads", path, fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return v, err
	}
	sig := []byte{0xBD, 0x04, 0xEF, 0xFE}
	for i := 0; ; {
		j := bytes.Index(b[i:], sig)
		if j < 0 {
			return v, errors.New("no version resource (VS_FIXEDFILEINFO) found")
		}
		at := i + j
		if at+16 <= len(b) && binary.LittleEndian.Uint32(b[at+4:]) == 0x00010000 {
			ms, ls := binary.LittleEndian.Uint32(b[at+8:]), binary.LittleEndian.Uint32(b[at+12:])
			return [4]uint16{uint16(ms >> 16), uint16(ms), uint16(ls >> 16), uint16(ls)}, nil
		}
		i = at + 1
	}
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

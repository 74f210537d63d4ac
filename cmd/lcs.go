package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"cutover/adapter"
	"cutover/engine"
	"cutover/engine/runbook"
	"cutover/lcs"

	"github.com/spf13/cobra"
)

// lcsSubcommands are the `cutover lcs` commands: name, arguments, summary.
var lcsSubcommands = []struct{ name, args, summary string }{
	{"environments", "", "the project's environments: type, state, release, when deployed"},
	{"env", "ENV", "one environment's metadata (ENV: an id in any spelling, sandbox or production)"},
	{"history", "ENV", "an environment's history, newest first"},
	{"operation", "ENV ACTIVITY", "a database operation's status (--deployment: a deployment's)"},
	{"quota", "ENV", "the database operations LCS counts for an environment in its rolling 24 hours"},
}

// cmdLCS is `cutover lcs`: read-only looks at Lifecycle Services, signed in as the runbook's lcs
// section says.
func cmdLCS(s *streams) *cobra.Command {
	parent := &cobra.Command{Use: "lcs", Short: "LCS, read only: environments, env, history, operation, quota",
		Long: "Read-only looks at Lifecycle Services, signed in as the runbook's lcs section says. ENV is sandbox,\nproduction or an environment id in any spelling.", Args: usageArgs(cobra.NoArgs), RunE: needsCommand}
	for _, sc := range lcsSubcommands {
		sub := sc.name
		nargs := len(strings.Fields(sc.args))
		want := sc.args
		if want == "" {
			want = "no arguments"
		}
		c := &cobra.Command{Use: strings.TrimSpace(sub + " " + sc.args), Short: sc.summary,
			Args: func(_ *cobra.Command, args []string) error {
				if len(args) != nargs {
					return usageError{fmt.Errorf("cutover lcs %s: want %s", sub, want)}
				}
				return nil
			}}
		fs := c.Flags()
		file := fs.StringP("file", "f", runbook.DefaultFile, "runbook `FILE` (its lcs section: project, region, sign-in)")
		state := fs.String("state", "", "state `DIR` (the sign-in's token cache); default .cutover beside the runbook")
		asJSON := fs.Bool("json", false, "write JSON")
		deployment := new(bool)
		if sub == "operation" {
			fs.BoolVar(deployment, "deployment", false, "read a deployment's status (environment/v2/fetchstatus, which no Microsoft document describes), not a database operation's")
		}
		c.RunE = func(c *cobra.Command, pos []string) error {
			stdout, stderr := s.out, s.err
			return exitWith(func() int {
				rb, ok := loadRunbookInspect(*file, stderr)
				if !ok {
					return exitFail
				}
				if rb.LCS == nil {
					fmt.Fprintf(stderr, "cutover lcs %s: %s has no lcs: section (project_id, region, sign-in)\n", sub, *file)
					return exitFail
				}
				stateDir := stateDirFor(*file, *state)
				if err := os.MkdirAll(stateDir, 0o700); err != nil {
					fmt.Fprintf(stderr, "cutover lcs %s: %v\n", sub, err)
					return exitFail
				}
				c, err := adapter.LCSClient(rb, stateDir, nil, nil, stderr)
				if err != nil {
					fmt.Fprintf(stderr, "cutover lcs %s: %v\n", sub, err)
					return exitFail
				}
				ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
				defer stop()
				l := lcsLook{c: c, rb: rb, out: stdout, json: *asJSON, now: time.Now()}
				switch sub {
				case "environments":
					err = l.environments(ctx)
				case "env":
					err = l.env(ctx, l.envID(pos[0]))
				case "history":
					err = l.history(ctx, l.envID(pos[0]))
				case "operation":
					err = l.operation(ctx, l.envID(pos[0]), pos[1], *deployment)
				case "quota":
					err = l.quota(ctx, l.envID(pos[0]))
				}
				if err != nil {
					fmt.Fprintf(stderr, "cutover lcs %s: %v\n", sub, err)
					return exitFail
				}
				return exitOK
			}())
		}
		parent.AddCommand(c)
	}
	return parent
}

// loadRunbookInspect loads a runbook for a read-only look: secrets other than the LCS sign-in's
// are not needed, so their checks are skipped (the sign-in reports its own).
func loadRunbookInspect(path string, stderr io.Writer) (*runbook.Runbook, bool) {
	opts := parseOptions()
	opts.SkipSecretChecks = true
	rb, err := runbook.Load(path, opts)
	if err != nil {
		var ps runbook.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
			fmt.Fprintf(stderr, "%s: %d problem(s)\n", path, len(ps))
		} else {
			fmt.Fprintf(stderr, "cutover: %v\n", err)
		}
		return nil, false
	}
	return rb, true
}

// lcsLook runs one read-only look and prints it.
type lcsLook struct {
	c    *lcs.Client
	rb   *runbook.Runbook
	out  io.Writer
	json bool
	now  time.Time
}

// envID resolves "sandbox" and "production" to the runbook's ids; anything else is an id.
func (l lcsLook) envID(ref string) string {
	switch strings.ToLower(strings.TrimSpace(ref)) {
	case "sandbox":
		if l.rb.LCS.SandboxEnvironmentID != "" {
			return l.rb.LCS.SandboxEnvironmentID
		}
	case "production":
		if l.rb.LCS.ProductionEnvironmentID != "" {
			return l.rb.LCS.ProductionEnvironmentID
		}
	}
	return strings.TrimSpace(ref)
}

// role names the runbook's role of an environment ("sandbox", "production") or "".
func (l lcsLook) role(id string) string {
	switch {
	case lcs.SameID(id, l.rb.LCS.SandboxEnvironmentID):
		return "sandbox"
	case lcs.SameID(id, l.rb.LCS.ProductionEnvironmentID):
		return "production"
	}
	return ""
}

func (l lcsLook) writeJSON(v any) error {
	enc := json.NewEncoder(l.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// lcsEnvironmentJSON is an environment in `cutover lcs … --json`.
type lcsEnvironmentJSON struct {
	ID                       string    `json:"id"`
	Name                     string    `json:"name"`
	Role                     string    `json:"role,omitempty"`
	ProjectID                string    `json:"project_id"`
	Type                     string    `json:"type"`
	Infrastructure           string    `json:"infrastructure,omitempty"`
	Group                    string    `json:"group,omitempty"`
	State                    string    `json:"state"`
	LCSState                 string    `json:"lcs_state"`
	DeploymentState          string    `json:"deployment_state,omitempty"`
	Product                  string    `json:"product,omitempty"`
	Topology                 string    `json:"topology,omitempty"`
	ApplicationRelease       string    `json:"application_release,omitempty"`
	ApplicationBuild         string    `json:"application_build,omitempty"`
	PlatformRelease          string    `json:"platform_release,omitempty"`
	PlatformVersion          string    `json:"platform_version,omitempty"`
	DeployedOn               time.Time `json:"deployed_on,omitzero"`
	EndpointBaseURL          string    `json:"endpoint_base_url,omitempty"`
	CloudStorageLocation     string    `json:"cloud_storage_location,omitempty"`
	DisasterRecoveryLocation string    `json:"disaster_recovery_location,omitempty"`
	CanStart                 bool      `json:"can_start"`
	CanStop                  bool      `json:"can_stop"`
	Unreadable               []string  `json:"unreadable,omitempty"`
}

func (l lcsLook) envJSON(e lcs.Environment) lcsEnvironmentJSON {
	return lcsEnvironmentJSON{ID: e.ID, Name: e.Name, Role: l.role(e.ID), ProjectID: e.ProjectID, Type: string(e.Type), Infrastructure: e.Infrastructure,
		Group: e.Group, State: engine.CanonicalLCSState(string(e.DeploymentStatus)), LCSState: string(e.DeploymentStatus),
		DeploymentState: e.DeploymentState, Product: e.Product, Topology: e.TopologyDisplayName,
		ApplicationRelease: e.ApplicationReleaseName, ApplicationBuild: e.ApplicationBuildVersion,
		PlatformRelease: e.PlatformReleaseName, PlatformVersion: e.PlatformVersion, DeployedOn: e.DeployedOn,
		EndpointBaseURL: e.EndpointBaseURL, CloudStorageLocation: e.CloudStorageLocation, DisasterRecoveryLocation: e.DisasterRecoveryLocation,
		CanStart: e.CanStart, CanStop: e.CanStop, Unreadable: e.Notes}
}

func (l lcsLook) environments(ctx context.Context) error {
	envs, err := l.c.Environments(ctx)
	if err != nil {
		return err
	}
	if l.json {
		out := make([]lcsEnvironmentJSON, 0, len(envs))
		for _, e := range envs {
			out = append(out, l.envJSON(e))
		}
		return l.writeJSON(out)
	}
	if len(envs) == 0 {
		fmt.Fprintf(l.out, "project %s has no environments you can see\n", l.c.ProjectID())
		return nil
	}
	tw := tabwriter.NewWriter(l.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tRELEASE\tDEPLOYED\tID")
	for _, e := range envs {
		name := orDash(e.Name)
		if r := l.role(e.ID); r != "" {
			name += " (" + r + ")"
		}
		st := orDash(engine.CanonicalLCSState(string(e.DeploymentStatus)))
		if len(e.Notes) > 0 {
			st += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, orDash(string(e.Type)), st, orDash(e.ApplicationReleaseName), ago(l.now, e.DeployedOn), orDash(e.ID))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range envs {
		for _, n := range e.Notes {
			fmt.Fprintf(l.out, "* %s: unreadable: %s\n", orDash(e.Name), n)
		}
	}
	return nil
}

func (l lcsLook) env(ctx context.Context, id string) error {
	e, err := l.c.Environment(ctx, id)
	if err != nil {
		return err
	}
	if l.json {
		return l.writeJSON(l.envJSON(e))
	}
	title := orDash(e.Name) + " (" + e.ID + ")"
	if r := l.role(e.ID); r != "" {
		title += ", the runbook's " + r
	}
	fmt.Fprintln(l.out, title)
	tw := tabwriter.NewWriter(l.out, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	kind := orDash(string(e.Type))
	if extra := joinNonEmpty(", ", e.Infrastructure, e.Group); extra != "" {
		kind += " (" + extra + ")"
	}
	row("type", kind)
	st := orDash(engine.CanonicalLCSState(string(e.DeploymentStatus)))
	if string(e.DeploymentStatus) != st && e.DeploymentStatus != "" {
		st += " (LCS: " + string(e.DeploymentStatus) + ")"
	}
	if e.DeploymentState != "" {
		st += "; last operation " + e.DeploymentState
	}
	row("state", st)
	if !e.DeployedOn.IsZero() {
		row("deployed", e.DeployedOn.UTC().Format("2006-01-02 15:04 UTC")+" ("+ago(l.now, e.DeployedOn)+")")
	} else {
		row("deployed", "-")
	}
	row("application", orDash(joinNonEmpty(" ", e.ApplicationReleaseName, paren(e.ApplicationBuildVersion))))
	row("platform", orDash(joinNonEmpty(" ", e.PlatformReleaseName, paren(e.PlatformVersion))))
	row("topology", orDash(e.TopologyDisplayName))
	row("url", orDash(e.EndpointBaseURL))
	loc := orDash(e.CloudStorageLocation)
	if e.DisasterRecoveryLocation != "" {
		loc += " (disaster recovery: " + e.DisasterRecoveryLocation + ")"
	}
	row("location", loc)
	row("start/stop", fmt.Sprintf("can start: %s, can stop: %s", yesNo(e.CanStart), yesNo(e.CanStop)))
	for _, n := range e.Notes {
		row("unreadable", n)
	}
	return tw.Flush()
}

// lcsHistoryJSON is a history row in `cutover lcs history --json`.
type lcsHistoryJSON struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	TypeDisplay string    `json:"type_display,omitempty"`
	Status      string    `json:"status"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	ActivityID  string    `json:"activity_id"`
	Unreadable  []string  `json:"unreadable,omitempty"`
}

func (l lcsLook) history(ctx context.Context, id string) error {
	h, err := l.c.EnvironmentHistory(ctx, id)
	if err != nil {
		return err
	}
	if l.json {
		out := make([]lcsHistoryJSON, 0, len(h))
		for _, e := range h {
			out = append(out, lcsHistoryJSON{Name: e.Name, Type: e.Type, TypeDisplay: e.TypeDisplay, Status: string(e.Status),
				Start: e.Start, End: e.End, ActivityID: e.ActivityID, Unreadable: e.Notes})
		}
		return l.writeJSON(out)
	}
	if len(h) == 0 {
		fmt.Fprintf(l.out, "no history for environment %s\n", id)
		return nil
	}
	tw := tabwriter.NewWriter(l.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tTOOK\tSTATUS\tOPERATION\tNAME\tACTIVITY")
	for _, e := range h {
		took := "-"
		switch {
		case !e.Start.IsZero() && !e.End.IsZero():
			took = runbook.FormatDuration(e.End.Sub(e.Start))
		case !e.Start.IsZero():
			took = "running " + runbook.FormatDuration(l.now.Sub(e.Start))
		}
		op := e.TypeDisplay
		if op == "" {
			op = e.Type
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ago(l.now, e.Start), took, e.Status, orDash(op), orDash(e.Name), orDash(e.ActivityID))
	}
	return tw.Flush()
}

// lcsOperationJSON is `cutover lcs operation --json`.
type lcsOperationJSON struct {
	EnvironmentID  string    `json:"environment_id"`
	ActivityID     string    `json:"activity_id"`
	Status         string    `json:"status"`
	Known          bool      `json:"known"`
	Terminal       bool      `json:"terminal"`
	Succeeded      bool      `json:"succeeded"`
	CompletionDate time.Time `json:"completion_date,omitzero"`
	ErrorMessage   string    `json:"error_message,omitempty"`
	Unreadable     []string  `json:"unreadable,omitempty"`
}

func (l lcsLook) operation(ctx context.Context, env, activity string, deployment bool) error {
	read := l.c.OperationStatus
	if deployment {
		read = l.c.DeploymentStatus
	}
	r, err := read(ctx, env, activity)
	if err != nil {
		return err
	}
	if l.json {
		return l.writeJSON(lcsOperationJSON{EnvironmentID: r.EnvironmentID, ActivityID: r.ActivityID, Status: string(r.Status),
			Known: r.Status.Known(), Terminal: r.Status.IsTerminal(), Succeeded: r.Status.Succeeded(), CompletionDate: r.CompletionDate,
			ErrorMessage: r.ErrorMessage, Unreadable: r.Notes})
	}
	line := fmt.Sprintf("operation %s on %s: %s", r.ActivityID, r.EnvironmentID, r.Status)
	switch {
	case !r.Status.Known():
		line += " (a status the documents do not list)"
	case r.Status.Succeeded():
		line += " (succeeded)"
	case r.Status.IsTerminal():
		line += " (ended without success)"
	default:
		line += " (running)"
	}
	if !r.CompletionDate.IsZero() {
		line += ", ended " + r.CompletionDate.UTC().Format("2006-01-02 15:04 UTC") + " (" + ago(l.now, r.CompletionDate) + ")"
	}
	fmt.Fprintln(l.out, line)
	if r.ErrorMessage != "" {
		fmt.Fprintln(l.out, "  LCS says: "+r.ErrorMessage)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(l.out, "  unreadable: "+n)
	}
	return nil
}

// lcsQuotaJSON is `cutover lcs quota --json`.
type lcsQuotaJSON struct {
	EnvironmentID string           `json:"environment_id"`
	Limit         int              `json:"limit"`
	Window        string           `json:"window"`
	Used          int              `json:"used"`
	Remaining     int              `json:"remaining"`
	NextSlot      time.Time        `json:"next_slot,omitzero"`
	Counted       []lcsHistoryJSON `json:"counted"`
}

func (l lcsLook) quota(ctx context.Context, id string) error {
	q, err := l.c.DatabaseMovementQuota(ctx, id)
	if err != nil {
		return err
	}
	if l.json {
		out := lcsQuotaJSON{EnvironmentID: id, Limit: q.Limit, Window: q.Window.String(), Used: q.Used, Remaining: q.Remaining, NextSlot: q.NextSlot,
			Counted: []lcsHistoryJSON{}}
		for _, e := range q.Counted {
			out.Counted = append(out.Counted, lcsHistoryJSON{Name: e.Name, Type: e.Type, TypeDisplay: e.TypeDisplay, Status: string(e.Status),
				Start: e.Start, End: e.End, ActivityID: e.ActivityID})
		}
		return l.writeJSON(out)
	}
	name := id
	if r := l.role(id); r != "" {
		name = r + " (" + id + ")"
	}
	fmt.Fprintf(l.out, "%s: %d of %d database operations counted in the rolling %d hours; %d left through the API\n", name, q.Used, q.Limit, int(q.Window/time.Hour), q.Remaining)
	if !q.NextSlot.IsZero() {
		fmt.Fprintf(l.out, "  next through the API: %s (%s)\n", q.NextSlot.Local().Format("2006-01-02 15:04"), ago(l.now, q.NextSlot))
	}
	for _, e := range q.Counted {
		fmt.Fprintf(l.out, "  counted: %s %s, started %s (%s)\n", orDash(e.TypeDisplay), e.Status, e.Start.Local().Format("2006-01-02 15:04"), ago(l.now, e.Start))
	}
	// dbmovement-api-throttling.md: manual operations count, but only API operations are refused.
	fmt.Fprintln(l.out, "  LCS counts operations started in the portal too, but refuses only those started through the API")
	return nil
}

// ago is how long ago (or how far ahead) t is from now, shortly: "45s ago", "12m ago", "5h ago",
// "3d ago", "4mo ago", "2y ago", "in 3h"; "-" for the zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 60*24*time.Hour:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d < 730*24*time.Hour:
		s = fmt.Sprintf("%dmo", int(d/(30*24*time.Hour)))
	default:
		s = fmt.Sprintf("%dy", int(d/(365*24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

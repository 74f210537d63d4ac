package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// toolkitStep is one menu step of the Data Migration Toolkit (DataMigrationTool.exe).
type toolkitStep struct {
	name   string
	does   string
	expect string
	// verify looks for the step's effect; nil when nothing observable changes.
	verify func(ctx context.Context, run *Run, a *toolkitAction) (bool, string, error)
	// retires is set on the step that removes replication: the monitor stops when it is done.
	retires bool
}

// toolkitSteps are the menu steps of toolkit 1.0.8/1.0.12, by their menu text (the numbering
// changed between builds; the names did not).
func toolkitSteps() []toolkitStep {
	lcsState := func(states ...string) func(context.Context, *Run, *toolkitAction) (bool, string, error) {
		return func(ctx context.Context, run *Run, a *toolkitAction) (bool, string, error) {
			if run.Ports().LCS == nil || a.sandbox == "" {
				return false, "", errNotObservable
			}
			env, err := run.Ports().LCS.Environment(ctx, a.sandbox)
			if err != nil {
				return false, "", err
			}
			return matchState(env.State, states), "sandbox is " + orDash(env.State) + " in LCS", nil
		}
	}
	pubs := func(want func([]PublicationInfo) (bool, string)) func(context.Context, *Run, *toolkitAction) (bool, string, error) {
		return func(ctx context.Context, run *Run, _ *toolkitAction) (bool, string, error) {
			if run.Ports().Publications == nil {
				return false, "", errNotObservable
			}
			list, err := run.Ports().Publications.Publications(ctx)
			if err != nil {
				return false, "", err
			}
			ok, detail := want(list)
			return ok, detail, nil
		}
	}
	has := func(prefix string) func([]PublicationInfo) (bool, string) {
		return func(list []PublicationInfo) (bool, string) {
			n := 0
			for _, p := range list {
				if strings.HasPrefix(p.Name, prefix) {
					n++
				}
			}
			return n > 0, fmt.Sprintf("%d publication(s) named %s*", n, prefix)
		}
	}
	return []toolkitStep{
		{name: "Environment preparation: Environment setup activity",
			does: "validates the source connection and AX 2012 version, allow-lists the source IP on the sandbox and validates the target", expect: "the toolkit reports the step completed"},
		{name: "Environment preparation: Prepare the target environment for the data upgrade",
			does: "prepares the sandbox", expect: "the sandbox goes to Ready for replication in LCS",
			verify: lcsState("Ready for replication", "Replication in progress", "Replication completed")},
		{name: "Replication: Cleanup Target Database",
			does: "drops every AX table, view, procedure and function in the sandbox database", expect: "the sandbox goes to Replication in progress in LCS",
			verify: lcsState("Replication in progress", "Replication completed")},
		{name: "Replication: Setup Distributor",
			does: "creates the distribution database on the source server", expect: "a distribution database exists",
			verify: func(ctx context.Context, run *Run, _ *toolkitAction) (bool, string, error) {
				if run.Ports().Preflight == nil {
					return false, "", errNotObservable
				}
				f, err := run.Ports().Preflight.Preflight(ctx)
				if err != nil {
					return false, "", err
				}
				return f.Distributor != "", "distribution database: " + orDash(f.Distributor), nil
			}},
		{name: "Replication: Setup Publication for Primary Key (PK) Tables",
			does:   "creates the AX_PUB_PkTable_* publications and their push subscriptions (start each snapshot in Replication Monitor, one at a time)",
			expect: "AX_PUB_PkTable_* publications exist", verify: pubs(has("AX_PUB_PkTable_"))},
		{name: "Replication: Setup Publication for Other Objects (functions)",
			does: "creates AX_PUB_OtherObjects for the functions", expect: "AX_PUB_OtherObjects exists", verify: pubs(has("AX_PUB_OtherObjects"))},
		{name: "Cutover: Setup Publication for Non PK Tables",
			does:   "creates AX_PUB_NoPKTable (and AX_PUB_TABLE_LockedTable for tables a schema lock kept out); start their snapshots in Replication Monitor",
			expect: "AX_PUB_NoPKTable exists and its snapshot was delivered",
			verify: func(ctx context.Context, run *Run, a *toolkitAction) (bool, string, error) {
				if run.Ports().Publications == nil {
					return false, "", errNotObservable
				}
				list, err := run.Ports().Publications.Publications(ctx)
				if err != nil {
					return false, "", err
				}
				// The step creates AX_PUB_NoPKTable and, when a schema lock kept tables out of the PK
				// publications, AX_PUB_TABLE_LockedTable: every one of their snapshots must arrive.
				var cutoverPubs []string
				for _, p := range list {
					if strings.HasPrefix(p.Name, "AX_PUB_NoPKTable") || strings.HasPrefix(p.Name, "AX_PUB_TABLE_LockedTable") {
						cutoverPubs = append(cutoverPubs, p.Name)
					}
				}
				if !slices.ContainsFunc(cutoverPubs, func(n string) bool { return strings.HasPrefix(n, "AX_PUB_NoPKTable") }) {
					return false, "AX_PUB_NoPKTable does not exist yet", nil
				}
				// The delivery is looked for in the agents' history since the step first started:
				// "Delivered snapshot…" is soon followed by other messages, so the newest one is not
				// enough (migration-upgrade/monitor-replication.md).
				if run.Ports().Deliveries == nil {
					return false, "", errNotObservable
				}
				since, err := deliveriesSince(run)
				if err != nil {
					return false, "", err
				}
				// A minute more than the step has run: the two clocks tick alike, but a datetime
				// and a rounding may put the delivery a moment before the start.
				within := max(run.Clock().Now().Sub(since), 0) + time.Minute
				found, err := run.Ports().Deliveries.SnapshotDeliveries(ctx, within)
				if err != nil {
					return false, "", err
				}
				delivered := map[string]bool{}
				for _, d := range found {
					delivered[strings.ToUpper(d.Publication)] = true
				}
				var waiting []string
				for _, n := range cutoverPubs {
					if !delivered[strings.ToUpper(n)] {
						waiting = append(waiting, n)
					}
				}
				if len(waiting) > 0 {
					return false, fmt.Sprintf("%s created; waiting for \"Delivered snapshot\" on %s", strings.Join(cutoverPubs, " and "), strings.Join(waiting, ", ")), nil
				}
				return true, strings.Join(cutoverPubs, " and ") + ": snapshot delivered", nil
			}},
		{name: "Cutover: Remove replication setup", retires: true,
			does: "deletes the publications, the distribution database and the snapshot folder", expect: "no publication and no distribution database is left",
			verify: verifyReplicationRemoved},
		{name: "Post-replication: Update environment state to Replicated",
			does: "tells LCS replication is complete", expect: "the sandbox goes to Replication completed in LCS",
			verify: lcsState("Replication completed", "Data upgrade in progress")},
		{name: "Data Synchronise: Trigger Transformation",
			does: "triggers the data upgrade inside the sandbox (after a failure the menu shows Resume)", expect: "the data upgrade starts",
			verify: func(ctx context.Context, run *Run, a *toolkitAction) (bool, string, error) {
				if u := run.Ports().Upgrade; u != nil {
					p, err := u.Upgrade(ctx)
					if err == nil && p.Phase != UpgradeNotStarted {
						return true, "the data upgrade is " + p.Phase.String(), nil
					}
				}
				return lcsState("Data upgrade in progress", "Deployed")(ctx, run, a)
			}},
		{name: "Rollback data upgrade: Trigger rollback",
			does: "rolls the sandbox back to the pre-upgrade point", expect: "the sandbox goes to Replicated in LCS", verify: lcsState("Replicated")},
	}
}

var errNotObservable = errors.New("nothing to observe it with")

// verifyReplicationRemoved looks for the effect of «Cutover: Remove replication setup»: the step
// "deletes all the publications that were created in the source database, the distribution
// database, and the replication snapshot" (migration-upgrade/data-upgrade-self-service.md). Only
// an answer that shows them gone counts; a read that fails is an error (the step keeps waiting and
// says it could not read), never the effect. The snapshot folder is not observable from SQL.
func verifyReplicationRemoved(ctx context.Context, run *Run, _ *toolkitAction) (bool, string, error) {
	src := run.Ports().Setup
	if src == nil {
		return false, "", errNotObservable
	}
	left, err := src.Left(ctx)
	if err != nil {
		return false, "", err
	}
	var still []string
	if len(left.Distributors) > 0 {
		still = append(still, "distribution database "+strings.Join(left.Distributors, ", "))
	}
	if len(left.Publications) > 0 {
		still = append(still, fmt.Sprintf("%d publication(s): %s", len(left.Publications), strings.Join(left.Publications, ", ")))
	}
	if len(still) > 0 {
		return false, "still there: " + strings.Join(still, "; "), nil
	}
	return true, "no publication and no distribution database left (" + left.Evidence + ")", nil
}

// deliveriesSince is when the step first started, journaled with its first attempt and carried by
// every later one: deliveries are looked for from then on.
func deliveriesSince(run *Run) (time.Time, error) {
	const key = "deliveries_since"
	if v, ok := run.Ref()[key]; ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t, nil
		}
	}
	since := run.Started
	if _, earlier := run.Earlier(); earlier != nil {
		if t, err := time.Parse(time.RFC3339Nano, earlier[key]); err == nil && t.Before(since) {
			since = t
		}
	}
	if since.IsZero() {
		since = run.Clock().Now()
	}
	return since, run.Record(map[string]string{key: since.UTC().Format(time.RFC3339Nano)})
}

// effectBefore reports whether a toolkit step's effect was already there when the step first
// looked: the first definite look of its first attempt that made one is journaled (seen, from
// this look), so a retry or a restart after the toolkit did its work does not count as before.
func effectBefore(run *Run, seen bool) (bool, error) {
	const key = "effect_at_first_look"
	if v, ok := run.Ref()[key]; ok {
		return v == "present", nil
	}
	if _, earlier := run.Earlier(); earlier != nil {
		if v, ok := earlier[key]; ok {
			return v == "present", nil
		}
	}
	if run.Attempt > 1 {
		// Only the first attempt's first look can tell what was there before the step.
		return false, nil
	}
	v := "absent"
	if seen {
		v = "present"
	}
	return seen, run.Record(map[string]string{key: v})
}

// ToolkitKind is a Data Migration Toolkit step: it shows which menu step to run in
// DataMigrationTool.exe and what to expect, then waits until the effect can be seen (publications
// created or removed, the distribution database, the sandbox's LCS state, the data upgrade
// started). With `menu_json`, it also reads — never writes — the toolkit's own ReplicationMenu.json.
type ToolkitKind struct{}

// Name implements Kind.
func (ToolkitKind) Name() string { return "toolkit" }

// Mode implements Kind.
func (ToolkitKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {step, menu_json, poll}`.
func (ToolkitKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &toolkitAction{poll: 30 * time.Second}
	var stepNode *yaml.Node
	present := d.Fields(with, where, map[string]runbook.Field{
		"step":      func(v *yaml.Node) { a.stepName, stepNode = d.NonEmpty(v, where, "step"), v },
		"menu_json": func(v *yaml.Node) { a.menuJSON = d.NonEmpty(v, where, "menu_json") },
		"poll":      func(v *yaml.Node) { a.poll = d.Duration(v, where, "poll") },
	})
	if with == nil {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind toolkit needs `with: {step: \"Cutover: Remove replication setup\"}` (a menu step of DataMigrationTool.exe)")
		return a
	}
	d.Require(with, where, present, "step")
	names := make([]string, 0, 11)
	for _, ts := range toolkitSteps() {
		names = append(names, ts.name)
		if strings.EqualFold(ts.name, a.stepName) {
			a.step = ts
		}
	}
	if a.stepName != "" && a.step.name == "" {
		msg := fmt.Sprintf("step: %q is not a toolkit menu step", a.stepName)
		if hint := closest(a.stepName, names); hint != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", hint)
		} else {
			msg += " (" + strings.Join(names, "; ") + ")"
		}
		d.Errorf(stepNode, where, "%s", msg)
	}
	if rb := d.Runbook(); rb != nil {
		if rb.LCS != nil {
			a.sandbox = rb.LCS.SandboxEnvironmentID
		}
		if a.menuJSON != "" && !filepath.IsAbs(a.menuJSON) {
			a.menuJSON = filepath.Join(rb.Dir, a.menuJSON)
		}
	}
	if a.poll <= 0 {
		a.poll = 30 * time.Second
	}
	return a
}

// closest is the candidate most like s by shared words (a near miss of a long menu name).
func closest(s string, candidates []string) string {
	words := strings.Fields(strings.ToLower(s))
	best, bestScore := "", 0
	for _, c := range candidates {
		score := 0
		lc := strings.ToLower(c)
		for _, w := range words {
			if len(w) > 3 && strings.Contains(lc, w) {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	if bestScore < 2 {
		return ""
	}
	return best
}

type toolkitAction struct {
	stepName string
	step     toolkitStep
	menuJSON string
	sandbox  string
	poll     time.Duration
}

func (a *toolkitAction) Describe() string {
	return fmt.Sprintf("in DataMigrationTool.exe run «%s»: it %s. cutover waits until %s.", a.step.name, a.step.does, a.step.expect)
}

// Rerunnable: it only observes.
func (a *toolkitAction) Rerunnable() bool { return true }

// RetiresReplication implements ReplicationRetirer: «Remove replication setup» ends replication.
func (a *toolkitAction) RetiresReplication() bool { return a.step.retires }

func (a *toolkitAction) Run(ctx context.Context, run *Run) error {
	run.Logf("run «%s» in DataMigrationTool.exe now; expecting: %s", a.step.name, a.step.expect)
	var lastDetail string
	for {
		menu := ""
		if a.menuJSON != "" {
			status, err := MenuStatus(a.menuJSON, a.step.name)
			switch {
			case err != nil:
				menu = "ReplicationMenu.json: " + err.Error()
			default:
				menu = "toolkit menu status " + status
				if a.step.verify == nil && status == "1" {
					run.SetMessage("the toolkit reports «" + a.step.name + "» completed")
					return nil
				}
			}
		}
		detail := "mark this step done when the toolkit shows it completed"
		if a.step.verify != nil {
			ok, d, err := a.step.verify(ctx, run, a)
			switch {
			case errors.Is(err, errNotObservable):
				detail = "cannot observe the effect here (" + err.Error() + "); mark the step done when the toolkit shows it completed"
			case err != nil:
				// A read that failed says nothing about the effect: the step keeps waiting.
				detail = "could not read: " + err.Error()
			case ok:
				before, err := effectBefore(run, true)
				if err != nil {
					return err
				}
				if before {
					// Seen before the step began (a sandbox or publications left from an earlier
					// rehearsal look the same): true, but not shown to be this run of the step.
					run.Warnf("%s already when the step began: that does not show that «%s» ran; check the toolkit's log before going on", d, a.step.name)
					d += " (already so when the step began: not shown to be this step's effect)"
				}
				run.SetMessage(d)
				return nil
			default:
				if _, err := effectBefore(run, false); err != nil {
					return err
				}
				detail = d
			}
		}
		if menu != "" {
			detail += "; " + menu
		}
		if detail != lastDetail {
			run.Logf("%s", detail)
			lastDetail = detail
		}
		run.Progress(Progress{Percent: -1, Message: "waiting: " + detail})
		if err := clock.Sleep(ctx, run.Clock(), a.poll); err != nil {
			return fmt.Errorf("not seen yet: %s (%w)", detail, err)
		}
	}
}

// MenuStatus reads a menu step's Status from the toolkit's Data\ReplicationMenu.json (read only:
// editing it is the operator's call). The file's layout is not documented, so any object with a
// numeric Status and a text field naming the step is accepted.
func MenuStatus(path, step string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", fmt.Errorf("not JSON: %w", err)
	}
	want := strings.ToLower(step)
	short := want
	if i := strings.Index(want, ": "); i >= 0 {
		short = want[i+2:]
	}
	var found string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			status, hasStatus := x["Status"]
			if hasStatus {
				for _, f := range x {
					if s, ok := f.(string); ok {
						ls := strings.ToLower(s)
						if ls == want || ls == short || strings.Contains(ls, short) {
							found = fmt.Sprint(status)
						}
					}
				}
			}
			for _, f := range x {
				walk(f)
			}
		case []any:
			for _, f := range x {
				walk(f)
			}
		}
	}
	walk(doc)
	if found == "" {
		return "", fmt.Errorf("no entry for %q", step)
	}
	return found, nil
}

package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"cutover/engine/clock"
	"cutover/engine/runbook"
)

// ValidateCountsKind compares the table sets and row counts of the AX database and the sandbox —
// what the toolkit's `dv` does — then more: it classifies every table, recounts the ones that
// differ exactly, applies the runbook's ignore list and expected differences (with their reasons),
// journals the result and writes it as CSV and JSON in the state directory. It succeeds only when
// every table that is not ignored matches.
type ValidateCountsKind struct{}

// Name implements Kind.
func (ValidateCountsKind) Name() string { return "validate.counts" }

// Mode implements Kind.
func (ValidateCountsKind) Mode() Mode { return ModeAuto }

// Decode reads `with: {ignore, ignore_file, expect, tolerance, recount, concurrency, wait_for_draining, check_every}`.
func (ValidateCountsKind) Decode(d *runbook.Decoder, s *runbook.Step, with *yaml.Node) Action {
	where := fmt.Sprintf("step %q with", s.ID)
	a := &validateAction{rules: ValidationRules{Recount: true, Concurrency: 4}, waitDraining: 30 * time.Minute, every: time.Minute}
	d.Fields(with, where, map[string]runbook.Field{
		"ignore": func(v *yaml.Node) { a.rules.Ignore = append(a.rules.Ignore, d.Strings(v, where, "ignore")...) },
		"ignore_file": func(v *yaml.Node) {
			path := d.NonEmpty(v, where, "ignore_file")
			if rb := d.Runbook(); rb != nil && path != "" && !filepath.IsAbs(path) {
				path = filepath.Join(rb.Dir, path)
			}
			tables, err := ReadIgnoreTables(path)
			if err != nil {
				d.Errorf(v, where, "ignore_file: %v", err)
				return
			}
			a.rules.Ignore = append(a.rules.Ignore, tables...)
		},
		"expect": func(v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				d.Errorf(v, where, "expect: expected a list of {table, difference, reason}")
				return
			}
			for _, item := range v.Content {
				var e ExpectedDifference
				present := d.Fields(item, where+" expect", map[string]runbook.Field{
					"table":  func(v *yaml.Node) { e.Table = d.NonEmpty(v, where+" expect", "table") },
					"reason": func(v *yaml.Node) { e.Reason = d.NonEmpty(v, where+" expect", "reason") },
					"difference": func(v *yaml.Node) {
						if v.Kind == yaml.ScalarNode && v.Value == "any" {
							e.Any = true
							return
						}
						e.Delta = int64(d.Int(v, where+" expect", "difference", -1<<31, 1<<31-1))
					},
				})
				d.Require(item, where+" expect", present, "table", "difference", "reason")
				a.rules.Expect = append(a.rules.Expect, e)
			}
		},
		"tolerance":         func(v *yaml.Node) { a.rules.Tolerance = int64(d.Int(v, where, "tolerance", 0, 1<<31-1)) },
		"recount":           func(v *yaml.Node) { a.rules.Recount = d.Bool(v, where, "recount") },
		"concurrency":       func(v *yaml.Node) { a.rules.Concurrency = d.Int(v, where, "concurrency", 1, 32) },
		"wait_for_draining": func(v *yaml.Node) { a.waitDraining = d.Duration(v, where, "wait_for_draining") },
		"check_every":       func(v *yaml.Node) { a.every = d.Duration(v, where, "check_every") },
	})
	if rb := d.Runbook(); rb != nil && (rb.Connections.Source == nil || rb.Connections.Target == nil) {
		d.ErrorAt(s.Pos, fmt.Sprintf("step %q", s.ID), "kind validate.counts counts rows on both sides: add connections source and target")
	}
	if a.every <= 0 {
		a.every = time.Minute
	}
	return a
}

type validateAction struct {
	rules        ValidationRules
	waitDraining time.Duration
	every        time.Duration
}

// ignoredTables implements ignoring: the step's ignore list and ignore file.
func (a *validateAction) ignoredTables() []string { return a.rules.Ignore }

func (a *validateAction) Describe() string {
	desc := "compare the tables and row counts of the AX database and the sandbox"
	if a.rules.Recount {
		desc += ", recount the ones that differ exactly (COUNT_BIG)"
	}
	if n := len(a.rules.Ignore); n > 0 {
		desc += fmt.Sprintf(", %d table(s) ignored", n)
	}
	if n := len(a.rules.Expect); n > 0 {
		desc += fmt.Sprintf(", %d expected difference(s)", n)
	}
	return desc + "; every other table must match"
}

// Rerunnable: it only reads (and rewrites its own result files).
func (a *validateAction) Rerunnable() bool { return true }

// Rules are the step's validation rules (the CLI uses them).
func (a *validateAction) Rules() ValidationRules { return a.rules }

// pendingByTable is each table's backlog from the monitor's newest picture.
func pendingByTable(v *ReplicationView) map[string]int64 {
	out := map[string]int64{}
	if v == nil {
		return out
	}
	for _, t := range v.Tables {
		out[TableKey(t.Table)] = t.Pending
	}
	return out
}

func (a *validateAction) Run(ctx context.Context, run *Run) error {
	counts := run.Ports().Counts
	if counts == nil {
		return Permanent(fmt.Errorf("no SQL connections to count rows with"))
	}
	deadline := run.Clock().Now().Add(a.waitDraining)
	for {
		v, err := Validate(ctx, counts, a.rules, pendingByTable(run.Replication()), run.Clock().Now(), func(done, total int) {
			run.Progress(Progress{Percent: 100 * float64(done) / float64(total), Message: fmt.Sprintf("recounting exactly: %d of %d", done, total)})
		})
		if err != nil {
			return err
		}
		files, err := v.save(run.StateDir(), fmt.Sprintf("validation-%s-%d", run.Step.ID, run.Attempt), run.e.opts.EvidenceWriter)
		run.e.recordValidation(run.Step.ID, run.Attempt, v, files)
		if err != nil {
			// The evidence is whole or the step fails: a validation nobody can show is no proof.
			// None of its files was kept (the journal's record names none); the previous
			// validation's files are as they were.
			return fmt.Errorf("the validation ran (%s) but its evidence could not be kept, so the step fails: %w", v.Summary(), err)
		}
		failing := v.Failing()
		if len(failing) == 0 {
			run.SetMessage(fmt.Sprintf("%d tables: %s", len(v.Tables), v.Summary()))
			return nil
		}
		onlyDraining := true
		for _, t := range failing {
			onlyDraining = onlyDraining && t.Class == ClassDraining
		}
		if !onlyDraining || !run.Clock().Now().Before(deadline) {
			// Counting again changes nothing: a mismatch needs a person (re-deliver the
			// table, recount it, or accept it), then a retry. Read errors above are retried.
			return Permanent(fmt.Errorf("%d of %d tables do not match (%s): %s; details in %s", len(failing), len(v.Tables), v.Summary(),
				describeChecks(failing, 5), strings.Join(files, ", ")))
		}
		run.Logf("%d table(s) still draining; comparing again in %s", len(failing), runbook.FormatDuration(a.every))
		if err := clock.Sleep(ctx, run.Clock(), a.every); err != nil {
			return err
		}
	}
}

// describeChecks names up to limit tables and how they differ.
func describeChecks(ts []TableCheck, limit int) string {
	var parts []string
	for i, t := range ts {
		if i == limit {
			parts = append(parts, fmt.Sprintf("and %d more", len(ts)-limit))
			break
		}
		s := fmt.Sprintf("%s %s", t.Table, t.Class)
		if t.Class == ClassMismatch || t.Class == ClassDraining {
			s += fmt.Sprintf(" (source %d, target %d, Δ %d", t.Source, t.Target, t.Delta)
			if t.Exact {
				s += ", exact"
			}
			if t.Pending > 0 {
				s += fmt.Sprintf(", %d pending", t.Pending)
			}
			s += ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

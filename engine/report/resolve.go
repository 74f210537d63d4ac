// Validations and LCS operations: how each notable table was resolved.

package report

import (
	"fmt"
	"sort"
	"strings"

	"cutover/engine"
)

// validations lays out every validation and resolves each notable table.
func (b *builder) validations() {
	for _, rc := range b.recounts {
		c := rc.p.Check
		b.r.Recounts = append(b.r.Recounts, Recount{Seq: rc.seq, Step: rc.step, At: rc.at, Actor: rc.p.Actor, Table: c.Table,
			Before: rc.p.Before.String(), After: c.Class.String(), Source: c.Source, Target: c.Target, Delta: c.Delta, Error: c.Error})
	}
	for i, v := range b.vals {
		out := Validation{Seq: v.seq, Step: v.step, At: v.at, Attempt: v.p.Attempt, Passed: v.p.Passed, Tables: v.p.Tables, Recounts: v.p.Recounts, Files: v.p.Files}
		classes := make([]engine.CountClass, 0, len(v.p.Classes))
		for c := range v.p.Classes {
			classes = append(classes, c)
		}
		sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
		for _, c := range classes {
			out.Classes = append(out.Classes, ClassCount{Class: c.String(), Count: v.p.Classes[c]})
		}
		var next *rawValidation
		for j := i + 1; j < len(b.vals); j++ {
			if b.vals[j].step == v.step {
				next = &b.vals[j]
				break
			}
		}
		for _, tc := range v.p.Notable {
			n := Notable{Table: tc.Table, Class: tc.Class.String(), Source: tc.Source, Target: tc.Target, Delta: tc.Delta,
				Pending: tc.Pending, Exact: tc.Exact, Reason: tc.Reason, Error: tc.Error}
			n.Status, n.Resolution = b.resolve(v, next, tc)
			out.Notable = append(out.Notable, n)
		}
		b.r.Validations = append(b.r.Validations, out)
	}
}

// resolve says how a notable table of validation v was resolved: expected, by an exact recount
// before the step's next validation, by that next validation, waived by a skip or a step done by
// hand, or not at all.
func (b *builder) resolve(v rawValidation, next *rawValidation, tc engine.TableCheck) (string, string) {
	if tc.Class.Passes() {
		if tc.Class == engine.ClassIgnored {
			return ResolvedExpected, "ignored" + prefixed(": ", tc.Reason)
		}
		return ResolvedExpected, "expected difference" + prefixed(": ", tc.Reason)
	}
	until := ^uint64(0)
	if next != nil {
		until = next.seq
	}
	var last *rawRecount
	for i := range b.recounts {
		rc := &b.recounts[i]
		if rc.seq > v.seq && rc.seq < until && (rc.step == v.step || rc.step == "") && engine.TableKey(rc.p.Check.Table) == engine.TableKey(tc.Table) {
			last = rc
		}
	}
	var prefix string
	if last != nil {
		c := last.p.Check
		what := fmt.Sprintf("recounted exactly by %s at %s: source %s, target %s, Δ %s — %s (was %s)", last.p.Actor.Name, ts(last.at), engine.FormatCount(c.Source), engine.FormatCount(c.Target), engine.FormatCount(c.Delta), c.Class, last.p.Before)
		if c.Error != "" {
			what += "; recount error: " + c.Error
		}
		if c.Class.Passes() {
			return ResolvedRecount, what
		}
		prefix = what + "; "
	}
	if next != nil {
		still := false
		for _, t := range next.p.Notable {
			if engine.TableKey(t.Table) == engine.TableKey(tc.Table) {
				still = !t.Class.Passes()
				break
			}
		}
		switch {
		case next.p.Passed:
			return ResolvedRevalidated, prefix + fmt.Sprintf("validation attempt %d at %s passed", next.p.Attempt, ts(next.at))
		case !still:
			return ResolvedRevalidated, prefix + fmt.Sprintf("no longer a problem in validation attempt %d at %s", next.p.Attempt, ts(next.at))
		}
		return CarriedOver, prefix + fmt.Sprintf("still failing in validation attempt %d at %s", next.p.Attempt, ts(next.at))
	}
	if info := b.steps[v.step]; info != nil && v.step != "" {
		for _, w := range info.waivers {
			if w.seq > v.seq {
				return Waived, prefix + w.what
			}
		}
	}
	return Unresolved, prefix + "nothing later in the journal resolves it"
}

// lcs keeps the steps that ran LCS operations: LCS kinds, and any step that journaled an LCS
// operation id.
func (b *builder) lcs() {
	add := func(id string) {
		info := b.steps[id]
		if info == nil || (!strings.HasPrefix(info.lcs.Kind, "lcs.") && !info.hasOp) {
			return
		}
		s := info.lcs
		s.Outcome = info.outcome
		if s.Outcome == "" {
			s.Outcome = "not started"
		}
		if info.class == classFailed {
			s.Message = info.lastError
		}
		b.r.LCS = append(b.r.LCS, s)
	}
	for _, s := range b.rb.Steps {
		add(s.ID)
	}
	for _, id := range b.extraSteps {
		add(id)
	}
}

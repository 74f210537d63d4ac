// Validation results: publishing a validation and an operator's exact recount of one table.

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// maxNotable bounds how many tables a validation record lists (the files hold every table).
const maxNotable = 500

// recordValidation journals a validation's result, keeps it for the cockpit and tells subscribers.
func (e *Engine) recordValidation(step string, attempt int, v *Validation, files []string) {
	rec := ValidationRecord{Attempt: attempt, Passed: v.Passed, Tables: len(v.Tables), Classes: v.Classes, Recounts: v.Recounts, Files: files}
	for _, t := range v.Tables {
		if t.Class != ClassMatch && t.Class != ClassIgnored && len(rec.Notable) < maxNotable {
			rec.Notable = append(rec.Notable, t)
		}
	}
	v.Step = step
	e.mu.Lock()
	e.validation = v
	if !e.closed && e.j != nil {
		_, _ = e.commitLocked(RecValidation, step, rec)
	}
	e.mu.Unlock()
	e.bus.Publish(ValidationUpdated{Validation: v})
}

// Validation is the newest record-count validation (reloaded from its file after a restart), or nil.
func (e *Engine) Validation() *Validation {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.validation == nil {
		for _, f := range e.st.validationFiles {
			if strings.HasSuffix(f, ".json") {
				if b, err := os.ReadFile(f); err == nil {
					var v Validation
					if json.Unmarshal(b, &v) == nil {
						e.validation = &v
					}
				}
			}
		}
	}
	return e.validation
}

// ErrNoValidation is returned by Recount before any validation ran.
var ErrNoValidation = errors.New("no validation has run yet")

// Recount counts one table of the newest validation exactly (COUNT_BIG) on both sides, classifies
// it again with the rules of the step that validated, journals the recount as evidence and
// publishes the updated validation. Only operators may: it loads the production source.
func (e *Engine) Recount(ctx context.Context, table string, actor Actor) (TableCheck, error) {
	if actor.Role != RoleOperator {
		return TableCheck{}, fmt.Errorf("recount %s: %w (%s is a %s)", table, ErrNotOperator, actor.Name, actor.Role)
	}
	v := e.Validation()
	if v == nil {
		return TableCheck{}, fmt.Errorf("recount %s: %w", table, ErrNoValidation)
	}
	var old *TableCheck
	for i := range v.Tables {
		if tableKey(v.Tables[i].Table) == tableKey(table) {
			old = &v.Tables[i]
		}
	}
	if old == nil {
		return TableCheck{}, fmt.Errorf("recount %s: the validation has no such table", table)
	}
	if e.opts.Ports.Counts == nil {
		return TableCheck{}, fmt.Errorf("recount %s: no SQL connections to count with", table)
	}
	rules := ValidationRules{}
	if s, ok := e.rb.Step(v.Step); ok {
		if r, ok := s.Spec.(interface{ Rules() ValidationRules }); ok {
			rules = r.Rules()
		}
	}
	count := func(side Side) (int64, bool, error) {
		res, err := e.opts.Ports.Counts.Exact(ctx, side, []string{old.Table}, 1, nil)
		if err != nil {
			return 0, false, err
		}
		if len(res) != 1 {
			return 0, false, fmt.Errorf("no count returned")
		}
		if res[0].Err != nil {
			return 0, false, res[0].Err
		}
		return res[0].Rows, true, nil
	}
	src, onSrc, err1 := count(SideSource)
	tgt, onTgt, err2 := count(SideTarget)
	if err1 != nil && err2 != nil {
		return TableCheck{}, fmt.Errorf("recount %s: source: %v; target: %w", table, err1, err2)
	}
	if err1 != nil {
		src, onSrc = old.Source, old.Class != ClassExtra
	}
	if err2 != nil {
		tgt, onTgt = old.Target, old.Class != ClassMissing
	}
	tc := newClassifier(rules).classify(old.Table, src, tgt, onSrc, onTgt, old.Pending, err1 == nil && err2 == nil)
	if err := errors.Join(err1, err2); err != nil {
		tc.Error = err.Error()
	}
	now := e.clock.Now()
	nv := v.withTable(tc, now)
	e.mu.Lock()
	if e.validation == v {
		e.validation = nv
	}
	var jerr error
	if e.closed || e.j == nil {
		jerr = ErrClosed
	} else {
		_, jerr = e.commitLocked(RecRecount, v.Step, Recounted{Actor: actor, Check: tc, Before: old.Class})
	}
	e.mu.Unlock()
	if jerr != nil {
		return tc, fmt.Errorf("recount %s: %w", table, jerr)
	}
	e.logs.add(LevelInfo, v.Step, "", fmt.Sprintf("%s recounted %s exactly: source %d, target %d, Δ %d — %s (was %s)", actor.Name, tc.Table, tc.Source, tc.Target, tc.Delta, tc.Class, old.Class))
	e.bus.Publish(ValidationUpdated{Validation: nv})
	return tc, nil
}

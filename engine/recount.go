// Validation results: publishing a validation and an operator's exact recount of one table.

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// maxNotable bounds how many tables a validation record lists (the files hold every table).
const maxNotable = 500

// recordValidation journals a validation's result, keeps it for the cockpit and tells subscribers.
// It starts a new generation: recounts begun on an earlier validation are discarded (Recount).
func (e *Engine) recordValidation(step string, attempt int, v *Validation, files []string) {
	rec := ValidationRecord{Attempt: attempt, Passed: v.Passed, Tables: len(v.Tables), Classes: v.Classes, Recounts: v.Recounts, Files: files}
	for _, t := range v.Tables {
		if t.Class != ClassMatch && t.Class != ClassIgnored && len(rec.Notable) < maxNotable {
			rec.Notable = append(rec.Notable, t)
		}
	}
	v.Step = step
	e.mu.Lock()
	defer e.mu.Unlock()
	e.validation = v
	e.validationGen++
	if !e.closed && e.j != nil {
		_, _ = e.commitLocked(RecValidation, step, rec)
	}
	// Published under the lock, so subscribers see validations and recounts in the order they
	// were adopted (the event is coalescable: publishing never waits).
	e.bus.Publish(ValidationUpdated{Validation: v})
}

// Validation is the newest record-count validation (reloaded from its file after a restart), or nil.
func (e *Engine) Validation() *Validation {
	v, _ := e.currentValidation()
	return v
}

// currentValidation is the newest validation and its generation. After a restart the validation
// is read back from its file, outside the engine lock.
func (e *Engine) currentValidation() (*Validation, uint64) {
	e.mu.Lock()
	v, gen, files, recounts := e.validation, e.validationGen, append([]string(nil), e.st.validationFiles...), slices.Clone(e.st.recounts)
	e.mu.Unlock()
	if v != nil {
		return v, gen
	}
	loaded := loadValidation(files)
	// The file holds the validation as it was written; the operators' recounts since are in the
	// journal.
	for _, rc := range recounts {
		if loaded == nil {
			break
		}
		loaded = loaded.withTable(rc.check, rc.at)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.validation == nil {
		e.validation = loaded
	}
	return e.validation, e.validationGen
}

// recounted is an operator's exact recount of one table, as the journal holds it.
type recounted struct {
	check TableCheck
	at    time.Time
}

// loadValidation reads the newest validation from the files the journal names (nil when none
// can be read).
func loadValidation(files []string) *Validation {
	var out *Validation
	for _, f := range files {
		if !strings.HasSuffix(f, ".json") {
			continue
		}
		if b, err := os.ReadFile(f); err == nil {
			var v Validation
			if json.Unmarshal(b, &v) == nil {
				out = &v
			}
		}
	}
	return out
}

// ErrNoValidation is returned by Recount before any validation ran.
var ErrNoValidation = errors.New("no validation has run yet")

// ErrValidationReplaced is returned by Recount when a newer validation was recorded while it
// counted: its result belongs to the validation it replaced and is discarded.
var ErrValidationReplaced = errors.New("a newer validation was recorded while counting; recount against it")

// ErrIgnoredTable is returned by Recount for a table on the step's ignore list: its counts decide
// nothing, and counting it exactly would load the production source for nothing.
var ErrIgnoredTable = errors.New("the table is on the ignore list: its counts decide nothing, so it is not counted")

// ErrRecountFailed is returned by Recount when a side could not be counted (the error says which
// and why): nothing is journaled and the validation is unchanged.
var ErrRecountFailed = errors.New("the recount failed; the validation is unchanged")

// Recount counts one table of the newest validation exactly (COUNT_BIG) on both sides, classifies
// it again with the rules of the step that validated, journals the recount as evidence and
// publishes the updated validation. Only operators may: it loads the production source. A side
// that has no such table (CountSource answers Missing) counts as the table being absent there —
// a missing table is still missing, or is there now. A side that could not be counted fails the
// recount (ErrRecountFailed, with the side and the reason) and changes nothing: a count made of
// one fresh side and one stale one proves nothing. A table on the ignore list is not counted
// (ErrIgnoredTable). A recount never publishes a result older than the validation it would
// replace: when a newer validation was recorded while it counted, nothing is journaled or
// published (ErrValidationReplaced).
func (e *Engine) Recount(ctx context.Context, table string, actor Actor) (TableCheck, error) {
	if actor.Role != RoleOperator {
		return TableCheck{}, fmt.Errorf("recount %s: %w (%s is a %s)", table, ErrNotOperator, actor.Name, actor.Role)
	}
	v, gen := e.currentValidation()
	if v == nil {
		return TableCheck{}, fmt.Errorf("recount %s: %w", table, ErrNoValidation)
	}
	var old *TableCheck
	for i := range v.Tables {
		if TableKey(v.Tables[i].Table) == TableKey(table) {
			old = &v.Tables[i]
		}
	}
	if old == nil {
		return TableCheck{}, fmt.Errorf("recount %s: the validation has no such table", table)
	}
	rules := ValidationRules{}
	if s, ok := e.rb.Step(v.Step); ok {
		if r, ok := s.Spec.(interface{ Rules() ValidationRules }); ok {
			rules = r.Rules()
		}
	}
	cl := newClassifier(rules)
	if old.Class == ClassIgnored || cl.ignore[TableKey(old.Table)] {
		return TableCheck{}, fmt.Errorf("recount %s: %w", table, ErrIgnoredTable)
	}
	if e.opts.Ports.Counts == nil {
		return TableCheck{}, fmt.Errorf("recount %s: no SQL connections to count with", table)
	}
	count := func(side Side) (rows int64, present bool, err error) {
		res, err := e.opts.Ports.Counts.Exact(ctx, side, []string{old.Table}, 1, nil)
		switch {
		case err != nil:
			return 0, false, err
		case len(res) != 1:
			return 0, false, fmt.Errorf("no count returned")
		case res[0].Missing:
			return 0, false, nil
		case res[0].Err != nil:
			return 0, false, res[0].Err
		}
		return res[0].Rows, true, nil
	}
	src, onSrc, err1 := count(SideSource)
	tgt, onTgt, err2 := count(SideTarget)
	if err1 != nil || err2 != nil {
		var why []error
		if err1 != nil {
			why = append(why, fmt.Errorf("source: %w", err1))
		}
		if err2 != nil {
			why = append(why, fmt.Errorf("target: %w", err2))
		}
		cause := why[0]
		if len(why) == 2 {
			cause = fmt.Errorf("%w; %w", why[0], why[1])
		}
		e.logs.add(LevelWarn, v.Step, "", fmt.Sprintf("%s's recount of %s failed: %v", actor.Name, old.Table, cause))
		return TableCheck{}, fmt.Errorf("recount %s: %w: %w", table, ErrRecountFailed, cause)
	}
	if !onSrc && !onTgt {
		err := fmt.Errorf("recount %s: %w (neither the source nor the target has the table now)", table, ErrRecountFailed)
		e.logs.add(LevelWarn, v.Step, "", fmt.Sprintf("%s's recount of %s found the table on neither side", actor.Name, old.Table))
		return TableCheck{}, err
	}
	tc := cl.classify(old.Table, src, tgt, onSrc, onTgt, old.Pending, true)
	e.mu.Lock()
	if e.validationGen != gen || e.validation == nil {
		e.mu.Unlock()
		e.logs.add(LevelWarn, v.Step, "", fmt.Sprintf("%s's recount of %s was discarded: a newer validation was recorded while it counted", actor.Name, tc.Table))
		return tc, fmt.Errorf("recount %s: %w", table, ErrValidationReplaced)
	}
	// Other recounts of this validation may have finished meanwhile: apply this one to the
	// validation as it is now.
	before := old.Class
	for _, t := range e.validation.Tables {
		if TableKey(t.Table) == TableKey(tc.Table) {
			before = t.Class
		}
	}
	if e.closed || e.j == nil {
		e.mu.Unlock()
		return tc, fmt.Errorf("recount %s: %w", table, ErrClosed)
	}
	if _, err := e.commitLocked(RecRecount, v.Step, Recounted{Actor: actor, Check: tc, Before: before}); err != nil {
		e.mu.Unlock()
		return tc, fmt.Errorf("recount %s: %w", table, err)
	}
	nv := e.validation.withTable(tc, e.clock.Now())
	e.validation = nv
	e.bus.Publish(ValidationUpdated{Validation: nv})
	e.mu.Unlock()
	e.logs.add(LevelInfo, v.Step, "", fmt.Sprintf("%s recounted %s exactly: source %d, target %d, Δ %d — %s (was %s)", actor.Name, tc.Table, tc.Source, tc.Target, tc.Delta, tc.Class, before))
	return tc, nil
}
